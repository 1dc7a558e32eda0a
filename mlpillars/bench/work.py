"""The work model: floating-point operations and bytes moved by one kernel call.

One home for these counts, used by the harness (GFLOP/s, GB/s) and the report (roofline);
the benchmark catalogue (:mod:`mlpillars.bench.catalogue`) says which model belongs to which
kernel. Each model takes the call (float64 NumPy arrays of the example) and the benchmark
dtype's item size in bytes.
FLOPs count a multiply-add as two operations and an ``exp``/``log``/``tanh`` as one; bytes
are the minimum traffic: every input read once and every output written once, in the
benchmark's dtype. Both are models, not measurements: they say what the kernel must do, so
that implementations are compared on the same yardstick.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..examples import KernelCall


@dataclass(frozen=True)
class Work:
    """What one call must do.

    Attributes
    ----------
    flops : float
        Floating-point operations.
    bytes : float
        Bytes read and written at least once.
    """

    flops: float
    bytes: float

    @property
    def intensity(self) -> float:
        """Arithmetic intensity, FLOPs per byte (the roofline's x axis)."""
        return self.flops / self.bytes if self.bytes else math.inf


def _size(array: Any) -> int:
    return math.prod(array.shape)


def linear(call: KernelCall, itemsize: int) -> Work:
    """x (..., in) @ weight (in, out) + bias, then the activation: 2 FLOPs per output for
    bias and activation; reads x, weight and bias, writes (..., out)."""
    x, weight, *rest = call.arrays
    rows = _size(x) // x.shape[-1]
    fan_in, fan_out = weight.shape
    flops = 2 * rows * fan_in * fan_out + 2 * rows * fan_out  # matmul, bias, activation
    elements = _size(x) + _size(weight) + sum(_size(b) for b in rest if b is not None)
    return Work(flops, itemsize * (elements + rows * fan_out))


def mlp(call: KernelCall, itemsize: int) -> Work:
    """Every layer as :func:`linear`; the hidden activations are not counted as traffic
    (a fused implementation could keep them in cache)."""
    x, weights, biases = call.arrays
    rows = _size(x) // x.shape[-1]
    flops = sum(
        2 * rows * fan_in * fan_out + 2 * rows * fan_out
        for fan_in, fan_out in (weight.shape for weight in weights)
    )
    parameters = sum(_size(weight) for weight in weights) + sum(
        _size(bias) for bias in biases if bias is not None
    )
    outputs = rows * weights[-1].shape[1]
    return Work(flops, itemsize * (_size(x) + parameters + outputs))


def elementwise(flops_per_element: float, outputs_per_input: float) -> Callable[..., Work]:
    """A model for kernels that touch each element of the first array a fixed number of
    times: ``flops_per_element`` per element, ``outputs_per_input`` output elements written
    per input element (1 for softmax, 0 for a reduction such as logsumexp)."""

    def model(call: KernelCall, itemsize: int) -> Work:
        elements = _size(call.arrays[0])
        return Work(flops_per_element * elements, itemsize * elements * (1 + outputs_per_input))

    return model


def cross_entropy(call: KernelCall, itemsize: int) -> Work:
    """log_softmax over the classes (about 6 FLOPs per logit); int64 labels read."""
    logits, target = call.arrays
    return Work(6.0 * _size(logits), itemsize * _size(logits) + 8 * _size(target))


def cosine_similarity(call: KernelCall, itemsize: int) -> Work:
    """a (n, d) against b (m, d): the (n, m) products plus 5 FLOPs per input element for
    the norms and the division."""
    a, b = call.arrays
    rows_a, rows_b, features = a.shape[0], b.shape[0], a.shape[-1]
    flops = 2 * rows_a * rows_b * features + 5 * (rows_a + rows_b) * features
    return Work(flops, itemsize * ((rows_a + rows_b) * features + rows_a * rows_b))


def attention(call: KernelCall, itemsize: int) -> Work:
    """q k^T and weights @ v (2 FLOPs per multiply-add), 5 per score for the scaling and
    softmax; reads q, k, v and writes the output, never the (L, S) scores."""
    q, k, v = call.arrays[:3]
    batch_heads = _size(q) // (q.shape[-2] * q.shape[-1])
    queries, keys, depth, value_depth = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    scores = batch_heads * queries * keys
    flops = 2 * scores * depth + 2 * scores * value_depth + 5 * scores
    elements = _size(q) + _size(k) + _size(v) + batch_heads * queries * value_depth
    return Work(flops, itemsize * elements)


def gradient_descent(call: KernelCall, itemsize: int) -> Work:
    """``steps`` full-batch steps, each reading X and y once."""
    features, targets = call.arrays[:2]
    steps = call.options.get("steps", 100)
    # each step: predictions X w (2nd), residuals, gradient X^T r (2nd), update
    flops_per_step = 4 * _size(features) + 4 * _size(targets)
    bytes_per_step = itemsize * (_size(features) + _size(targets))
    return Work(steps * flops_per_step, steps * bytes_per_step)


def least_squares(call: KernelCall, itemsize: int) -> Work:
    r"""Householder QR of each centred X, then per right-hand side y the solve.

    X (..., n, d) (a 1-D X is one feature), y (..., n). Per factorisation: centring X
    (2nd: means and subtraction) and the QR, :math:`2nd^2 - \tfrac{2}{3}d^3` (LAPACK's
    ``geqrf`` count); per right-hand side: centring y (2n), :math:`Q^\top y` by the d
    reflectors (4nd), back substitution (d^2) and the intercept (2d). Reads X and y once,
    writes the weights and intercepts.
    """
    features, targets = call.arrays[:2]
    samples = targets.shape[-1]
    width = features.shape[-1] if features.ndim > 1 else 1
    factorisations = _size(features) // (samples * width)
    right_hand_sides = _size(targets) // samples
    factor_flops = 2 * samples * width + 2 * samples * width**2 - 2 * width**3 / 3
    solve_flops = 2 * samples + 4 * samples * width + width**2 + 2 * width
    outputs = right_hand_sides * (width + 1)
    return Work(
        factorisations * factor_flops + right_hand_sides * solve_flops,
        itemsize * (_size(features) + _size(targets) + outputs),
    )


def r_squared(call: KernelCall, itemsize: int) -> Work:
    """7 FLOPs per element pair along the last axis: the squared residuals summed (3), the
    mean of y_true (1), the squared deviations from it summed (3). Reads both inputs,
    writes one value per row."""
    truth = call.arrays[0]
    elements = _size(truth)
    rows = elements // truth.shape[-1]
    return Work(7 * elements, itemsize * (2 * elements + rows))


def _pca_fit_flops(samples: int, features: int) -> float:
    """X^T X (2nd^2) and the symmetric eigen-solver (about 9 d^3); the O(nd) mean is
    negligible next to X^T X and left out."""
    return 2 * samples * features**2 + 9 * features**3


def pca(call: KernelCall, itemsize: int) -> Work:
    """The fit (:func:`pca_fit`) and the projection onto k components (2ndk); reads X,
    writes the (n, k) projection."""
    (data,) = call.arrays[:1]
    samples, features = data.shape
    components = call.options.get("n_components", features)
    flops = _pca_fit_flops(samples, features) + 2 * samples * features * components
    return Work(flops, itemsize * (samples * features + samples * components))


def pca_fit(call: KernelCall, itemsize: int) -> Work:
    """The covariance and its eigen-decomposition; reads X (n, d), writes the components
    (k, d), three values per component (variance, ratio, singular value) and the mean (d,)."""
    (data,) = call.arrays[:1]
    samples, features = data.shape
    components = call.options.get("n_components", features)
    outputs = components * features + 3 * components + features
    return Work(_pca_fit_flops(samples, features), itemsize * (samples * features + outputs))
