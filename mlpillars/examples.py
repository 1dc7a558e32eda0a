"""Example arguments for every public kernel, at a chosen size.

One place that knows how to call each kernel with realistic inputs: each builder takes a
random generator and a size n and returns a :class:`KernelCall`. The benchmark catalogue
(:mod:`mlpillars.bench.catalogue`) says which builder belongs to which kernel; the demo
(``mlpillars demo``) and the harness both read it from there. Arrays are float64 NumPy;
callers cast (:func:`cast_call`) and move (:func:`call_on_backend`) them.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

SMALLEST_SIZE = 17
"""The smallest size n every example can be solved at: the regression examples fit 16
features and an intercept, so they need n >= 17 samples."""


@dataclass(frozen=True)
class KernelCall:
    """Positional arrays and keyword options for one kernel call."""

    arrays: tuple[Any, ...]
    options: dict[str, Any] = field(default_factory=dict)


def cast_call(call: KernelCall, dtype: str) -> KernelCall:
    """The call with every floating array in ``dtype`` (integer arrays, e.g. labels, kept)."""
    return replace(call, arrays=tuple(_cast(value, dtype) for value in call.arrays))


def call_on_backend(call: KernelCall, spec: str) -> KernelCall:
    """The call with every array moved onto ``spec`` (e.g. ``"torch:cpu"``)."""
    return replace(call, arrays=tuple(_moved(value, spec) for value in call.arrays))


def _cast(value: Any, dtype: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [_cast(item, dtype) for item in value]
    return value.astype(dtype) if np.asarray(value).dtype.kind == "f" else value


def _moved(value: Any, spec: str) -> Any:
    from .backends import to_backend

    if isinstance(value, (list, tuple)):
        return [_moved(item, spec) for item in value]
    return to_backend(value, spec)


def linear(rng: np.random.Generator, n: int) -> KernelCall:
    """x (n, n), weight (n, n) scaled by 1/sqrt(n), bias (n,); GELU."""
    x, weight, bias = (
        rng.normal(size=(n, n)),
        rng.normal(size=(n, n)) / np.sqrt(n),
        rng.normal(size=n),
    )
    return KernelCall((x, weight, bias), {"activation": "gelu"})


def mlp(rng: np.random.Generator, n: int) -> KernelCall:
    """x (n, n) through layers of widths n -> 2n -> n -> 10, ReLU between them."""
    sizes = [n, 2 * n, n, 10]
    weights = [rng.normal(size=pair) / np.sqrt(pair[0]) for pair in itertools.pairwise(sizes)]
    biases = [rng.normal(size=size) for size in sizes[1:]]
    return KernelCall((rng.normal(size=(n, n)), weights, biases), {"activation": "relu"})


def logits(rng: np.random.Generator, n: int) -> KernelCall:
    """Logits (n, n) of spread 3, temperature 0.7 (softmax, log_softmax)."""
    return KernelCall((rng.normal(scale=3.0, size=(n, n)),), {"temperature": 0.7})


def logsumexp(rng: np.random.Generator, n: int) -> KernelCall:
    """Logits (n, n) of spread 3."""
    return KernelCall((rng.normal(scale=3.0, size=(n, n)),))


def sigmoid(rng: np.random.Generator, n: int) -> KernelCall:
    """x (n, n) of spread 10: both tails of the sigmoid."""
    return KernelCall((rng.normal(scale=10.0, size=(n, n)),))


def cross_entropy(rng: np.random.Generator, n: int) -> KernelCall:
    """Logits (n, 10) and integer labels (n,) in [0, 10)."""
    logits, labels = rng.normal(size=(n, 10)), rng.integers(0, 10, size=n)
    return KernelCall((logits, labels))


def cosine_similarity(rng: np.random.Generator, n: int) -> KernelCall:
    """a (n, 64) against b (n // 2 + 1, 64)."""
    return KernelCall((rng.normal(size=(n, 64)), rng.normal(size=(n // 2 + 1, 64))))


def normalize(rng: np.random.Generator, n: int) -> KernelCall:
    """x (n, 64)."""
    return KernelCall((rng.normal(size=(n, 64)),))


def attention(rng: np.random.Generator, n: int) -> KernelCall:
    """One sequence of length n, 8 heads of depth 64 (torch layout): q, k, v (1, 8, n, 64)."""
    q, k, v = (rng.normal(size=(1, 8, n, 64)) for _ in range(3))
    return KernelCall((q, k, v))


def gradient_descent(rng: np.random.Generator, n: int) -> KernelCall:
    """8 independent regressions of n samples and 16 features, 50 steps.

    X (8, n, 16), y (8, n): linear targets plus noise of 0.1.
    """
    features = rng.normal(size=(8, n, 16))
    true_weights = rng.normal(size=(8, 16, 1))
    targets = (features @ true_weights)[..., 0] + 0.1 * rng.normal(size=(8, n))
    return KernelCall((features, targets), {"lr": 0.05, "steps": 50, "fit_intercept": True})


def pca(rng: np.random.Generator, n: int) -> KernelCall:
    """X (n, 32) of mean 1, 8 components: the 8 kept features of scales 10 * 1.5^-i, each
    1.5 times the next, the other 24 of 0.01 to 0.001, so that their sample spectrum stays
    separated at every size from ``SMALLEST_SIZE`` and the smallest kept feature (0.59) is
    not far from zero against its spread.

    A float32 solver (LAPACK's, as torch and JAX run; NumPy's computes float32 in float64)
    gets an axis to about eps ||X|| / gap (its backward error over the singular-value gap),
    which moves a projection by s_j / (s_i - s_j) of that. Scales of 10 to 0.1 spaced by
    14% drew, at n = 20, singular values 31.5 and 30.1 (4% apart): JAX's float32 SVD
    (bit for bit SciPy's sgesdd, backward error 8.7 eps ||X||, as torch's MKL 7.6) projected
    2.5e-4 off, 2x the table, while the data themselves fix them to 3e-6. Scales of
    10 * 2^-i (the smallest kept 0.078, 13 times less than the mean) made
    ``X^T X / n - mu mu^T``, scikit-learn's float32 ``covariance_eigh``, cancel: its 8th
    axis 7.5e-5 off at n = 250 (the peers' correctness gate), 2.2e-6 with 1.5^-i.
    """
    scales = np.concatenate([10.0 * 1.5 ** -np.arange(8.0), np.geomspace(0.01, 0.001, 24)])
    return KernelCall((rng.normal(size=(n, 32)) * scales + 1.0,), {"n_components": 8})


def least_squares(rng: np.random.Generator, n: int) -> KernelCall:
    """The closed form of the gradient-descent example's first problem: X (n, 16), y (n,)."""
    features, targets = gradient_descent(rng, n).arrays
    return KernelCall((features[0], targets[0]))


def r_squared(rng: np.random.Generator, n: int) -> KernelCall:
    """y_true (8, n) and y_pred (8, n) = y_true plus noise of 0.3: R^2 near 0.9 per row."""
    truth = rng.normal(size=(8, n))
    return KernelCall((truth, truth + 0.3 * rng.normal(size=(8, n))))
