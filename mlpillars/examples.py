"""Example arguments for every public kernel, at a chosen size.

One place that knows how to call each kernel with realistic inputs: used by the demo
(``mlpillars demo``) and available to the benchmark harness. Arrays are float64 NumPy;
callers cast and move them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np


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


def _linear(rng: np.random.Generator, n: int) -> KernelCall:
    x, weight, bias = (
        rng.normal(size=(n, n)),
        rng.normal(size=(n, n)) / np.sqrt(n),
        rng.normal(size=n),
    )
    return KernelCall((x, weight, bias), {"activation": "gelu"})


def _mlp(rng: np.random.Generator, n: int) -> KernelCall:
    sizes = [n, 2 * n, n, 10]
    weights = [rng.normal(size=pair) / np.sqrt(pair[0]) for pair in itertools.pairwise(sizes)]
    biases = [rng.normal(size=size) for size in sizes[1:]]
    return KernelCall((rng.normal(size=(n, n)), weights, biases), {"activation": "relu"})


def _logits(rng: np.random.Generator, n: int) -> KernelCall:
    return KernelCall((rng.normal(scale=3.0, size=(n, n)),), {"temperature": 0.7})


def _logsumexp(rng: np.random.Generator, n: int) -> KernelCall:
    return KernelCall((rng.normal(scale=3.0, size=(n, n)),))


def _sigmoid(rng: np.random.Generator, n: int) -> KernelCall:
    return KernelCall((rng.normal(scale=10.0, size=(n, n)),))


def _cross_entropy(rng: np.random.Generator, n: int) -> KernelCall:
    logits, labels = rng.normal(size=(n, 10)), rng.integers(0, 10, size=n)
    return KernelCall((logits, labels))


def _cosine_similarity(rng: np.random.Generator, n: int) -> KernelCall:
    return KernelCall((rng.normal(size=(n, 64)), rng.normal(size=(n // 2 + 1, 64))))


def _normalize(rng: np.random.Generator, n: int) -> KernelCall:
    return KernelCall((rng.normal(size=(n, 64)),))


def _attention(rng: np.random.Generator, n: int) -> KernelCall:
    """One sequence of length n, 8 heads of depth 64 (torch layout)."""
    q, k, v = (rng.normal(size=(1, 8, n, 64)) for _ in range(3))
    return KernelCall((q, k, v))


def _gradient_descent(rng: np.random.Generator, n: int) -> KernelCall:
    """8 independent regressions of n samples and 16 features, 50 steps."""
    features = rng.normal(size=(8, n, 16))
    true_weights = rng.normal(size=(8, 16, 1))
    targets = (features @ true_weights)[..., 0] + 0.1 * rng.normal(size=(8, n))
    return KernelCall((features, targets), {"lr": 0.05, "steps": 50, "fit_intercept": True})


def _pca(rng: np.random.Generator, n: int) -> KernelCall:
    """n samples of 32 features with a well-separated spectrum; 8 components."""
    scales = np.geomspace(10.0, 0.1, 32)
    return KernelCall((rng.normal(size=(n, 32)) * scales + 1.0,), {"n_components": 8})


def _least_squares(rng: np.random.Generator, n: int) -> KernelCall:
    """The closed form of the gradient-descent example's first problem."""
    features, targets = _gradient_descent(rng, n).arrays
    return KernelCall((features[0], targets[0]))


def _r_squared(rng: np.random.Generator, n: int) -> KernelCall:
    truth = rng.normal(size=(8, n))
    return KernelCall((truth, truth + 0.3 * rng.normal(size=(8, n))))


EXAMPLES: dict[str, Callable[[np.random.Generator, int], KernelCall]] = {
    "linear": _linear,
    "mlp": _mlp,
    "softmax": _logits,
    "log_softmax": _logits,
    "logsumexp": _logsumexp,
    "sigmoid": _sigmoid,
    "cross_entropy": _cross_entropy,
    "cosine_similarity": _cosine_similarity,
    "normalize": _normalize,
    "scaled_dot_product_attention": _attention,
    "gradient_descent": _gradient_descent,
    "pca": _pca,
    "pca_fit": _pca,
    "least_squares": _least_squares,
    "r_squared": _r_squared,
}
"""Example-argument builders by kernel name: ``EXAMPLES[name](rng, size)``."""
