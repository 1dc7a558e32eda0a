"""The work model: floating-point operations and bytes moved by one kernel call.

One home for these counts, used by the harness (GFLOP/s, GB/s) and the report (roofline).
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


def work_of(kernel: str, call: KernelCall, itemsize: int) -> Work:
    """The work of ``kernel`` called with ``call``'s arrays in a dtype of ``itemsize`` bytes."""
    if kernel not in WORK_MODELS:
        raise KeyError(f"no work model for kernel {kernel!r}; known: {', '.join(WORK_MODELS)}")
    return WORK_MODELS[kernel](call, itemsize)


def _size(array: Any) -> int:
    return math.prod(array.shape)


def _linear(call: KernelCall, itemsize: int) -> Work:
    x, weight, *rest = call.arrays
    rows = _size(x) // x.shape[-1]
    fan_in, fan_out = weight.shape
    flops = 2 * rows * fan_in * fan_out + 2 * rows * fan_out  # matmul, bias, activation
    elements = _size(x) + _size(weight) + sum(_size(b) for b in rest if b is not None)
    return Work(flops, itemsize * (elements + rows * fan_out))


def _mlp(call: KernelCall, itemsize: int) -> Work:
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


def _elementwise(flops_per_element: float, outputs_per_input: float) -> Callable[..., Work]:
    def model(call: KernelCall, itemsize: int) -> Work:
        elements = _size(call.arrays[0])
        return Work(flops_per_element * elements, itemsize * elements * (1 + outputs_per_input))

    return model


def _cross_entropy(call: KernelCall, itemsize: int) -> Work:
    logits, target = call.arrays
    return Work(6.0 * _size(logits), itemsize * _size(logits) + 8 * _size(target))


def _cosine_similarity(call: KernelCall, itemsize: int) -> Work:
    a, b = call.arrays
    rows_a, rows_b, features = a.shape[0], b.shape[0], a.shape[-1]
    flops = 2 * rows_a * rows_b * features + 5 * (rows_a + rows_b) * features
    return Work(flops, itemsize * ((rows_a + rows_b) * features + rows_a * rows_b))


def _attention(call: KernelCall, itemsize: int) -> Work:
    q, k, v = call.arrays[:3]
    batch_heads = _size(q) // (q.shape[-2] * q.shape[-1])
    queries, keys, depth, value_depth = q.shape[-2], k.shape[-2], q.shape[-1], v.shape[-1]
    scores = batch_heads * queries * keys
    flops = 2 * scores * depth + 2 * scores * value_depth + 5 * scores
    elements = _size(q) + _size(k) + _size(v) + batch_heads * queries * value_depth
    return Work(flops, itemsize * elements)


def _gradient_descent(call: KernelCall, itemsize: int) -> Work:
    features, targets = call.arrays[:2]
    steps = call.options.get("steps", 100)
    # each step: predictions X w (2nd), residuals, gradient X^T r (2nd), update
    flops_per_step = 4 * _size(features) + 4 * _size(targets)
    bytes_per_step = itemsize * (_size(features) + _size(targets))
    return Work(steps * flops_per_step, steps * bytes_per_step)


def _pca(call: KernelCall, itemsize: int) -> Work:
    (data,) = call.arrays[:1]
    samples, features = data.shape
    components = call.options.get("n_components", features)
    flops = 2 * samples * features**2 + 9 * features**3 + 2 * samples * features * components
    return Work(flops, itemsize * (samples * features + samples * components))


WORK_MODELS: dict[str, Callable[[KernelCall, int], Work]] = {
    "linear": _linear,
    "mlp": _mlp,
    "softmax": _elementwise(5.0, 1.0),
    "log_softmax": _elementwise(5.0, 1.0),
    "logsumexp": _elementwise(4.0, 0.0),
    "sigmoid": _elementwise(4.0, 1.0),
    "normalize": _elementwise(5.0, 1.0),
    "cross_entropy": _cross_entropy,
    "cosine_similarity": _cosine_similarity,
    "scaled_dot_product_attention": _attention,
    "gradient_descent": _gradient_descent,
    "pca": _pca,
}
"""Work model by kernel name."""
