"""The softmax family's formulas behind :mod:`.probability`'s kernels: the shift by the
maximum, the (log-)normalisation, log-sum-exp keeping the digits of a sum near 1, and
the 0-d case. Each takes a checked floating array."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ..backends import device_of, reduce_max
from ._checks import check_axis, check_positive_number, is_empty
from ._floating import narrowed, widened

TEMPERATURE_HINT = " (temperature -> 0 approaches argmax; use e.g. 1e-6 for near-greedy)"
SMALLEST_NORMAL = 2.0**-126
"""float32's smallest normal number: a temperature below it is divided by with care
(:func:`_shifted`), and offered to no framework's own softmax."""


def stable_sigmoid(x: Any, *, xp: Any) -> Any:
    """The sigmoid of a floating array, evaluating only ``exp(-|x|)``.

    ``-|x|`` is taken as ``where(x >= 0, -x, x)``, not through ``abs``: torch's ``abs``
    has derivative 0 at 0, which made the gradient at x = 0 zero, not 1/4."""
    exp_neg_abs = xp.exp(xp.where(x >= 0, -x, x))
    return xp.where(x >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs))


def softmax_options(kernel_name: str, x: Any, axis: int, temperature: float) -> tuple[int, float]:
    """The axis as an index in ``[0, x.ndim)`` and T as a float, checked."""
    ndim = x.ndim  # the common call first, in one test (an 8 x 16 softmax is mostly calls)
    if (
        type(temperature) is float
        and 0 < temperature < math.inf
        and type(axis) is int
        and -ndim <= axis < ndim
    ):
        return axis % ndim, temperature
    temperature = check_positive_number(kernel_name, "temperature", temperature, TEMPERATURE_HINT)
    return check_axis(kernel_name, "x", x, axis), temperature


def softmax_formula(x: Any, axis: int, temperature: float, *, xp: Any) -> Any:
    """The softmax formula, for floating ``x`` with at least one axis (empty: empty)."""
    if is_empty(x):
        return xp.zeros_like(x)
    exp_shifted = xp.exp(_shifted(widened(x, xp=xp), axis, temperature, xp=xp))
    return narrowed(exp_shifted / xp.sum(exp_shifted, axis=axis, keepdims=True), x, xp=xp)


def log_softmax_formula(x: Any, axis: int, temperature: float, *, xp: Any) -> Any:
    """The log-softmax formula, for floating ``x`` with at least one axis (empty: empty)."""
    if is_empty(x):
        return xp.zeros_like(x)
    shifted = _shifted(widened(x, xp=xp), axis, temperature, xp=xp)
    return narrowed(_log_normalised(shifted, axis, xp=xp), x, xp=xp)


def logsumexp_formula(x: Any, axis: int, *, xp: Any) -> Any:
    """The log-sum-exp formula with the reduced axis kept, for floating ``x`` with at least
    one axis; an empty sum is ``-inf`` (SciPy), an empty result empty."""
    if is_empty(x):
        kept = tuple(1 if i == axis else size for i, size in enumerate(x.shape))
        fill = -math.inf if x.shape[axis] == 0 else 0.0
        return xp.full(kept, fill, dtype=x.dtype, device=device_of(x))
    values = widened(x, xp=xp)
    row_max = reduce_max(values, axis=axis, keepdims=True, xp=xp)
    safe_max = xp.where(xp.isfinite(row_max), row_max, xp.zeros_like(row_max))
    is_max = values == row_max
    below_max = xp.where(is_max, xp.zeros_like(values), xp.exp(values - safe_max))
    extra_ties = xp.sum(xp.astype(is_max, values.dtype), axis=axis, keepdims=True) - 1
    summed_rest = xp.sum(below_max, axis=axis, keepdims=True) + extra_ties
    finite = xp.log1p(summed_rest) + safe_max
    return narrowed(xp.where(xp.isfinite(row_max), finite, row_max), x, xp=xp)


def on_one_axis(
    formula: Callable[..., Any], x: Any, axis: int, temperature: float, *, xp: Any
) -> Any:
    """``formula(x, axis, temperature)``; a 0-d x as a vector of one entry (SciPy and torch:
    ``softmax(1000.0)`` is 1.0, ``log_softmax`` 0.0), reshaped back."""
    if x.ndim:
        return formula(x, axis, temperature, xp=xp)
    return xp.reshape(formula(xp.reshape(x, (1,)), 0, temperature, xp=xp), ())


def _shifted(x: Any, axis: int, temperature: float, *, xp: Any) -> Any:
    """``(x - max(x)) / T``: shifting first keeps even float16 logits / 1e-6 finite."""
    shifted = x - reduce_max(x, axis=axis, keepdims=True, xp=xp)
    if temperature == 1.0:
        return shifted
    if temperature >= SMALLEST_NORMAL:
        return shifted / temperature
    return _over_tiny(shifted, temperature, xp=xp)


def _over_tiny(shifted: Any, temperature: float, *, xp: Any) -> Any:
    """``shifted / T`` for a T below the float32 normal numbers, where the dtype would
    round it to 0 (float32 logits at T = 1e-46: every slice 0 / 0 = NaN) or hold it as a
    subnormal that JAX's CPU flushes to 0 (T = 1e-40; float64 at 1e-310): numerator and
    T are scaled by the same power of 2 first, so that T is a normal number of the dtype
    (a numerator that overflows so has a quotient past the range too). Where no power of
    2 the dtype holds can do it (float32 at T < 2**-253), every nonzero entry's quotient
    is taken as -inf (it is below -2**127, or comes of logits within 2e-38 of each other)."""
    info = xp.finfo(shifted.dtype)
    smallest, largest_exponent = float(info.smallest_normal), math.frexp(float(info.max))[1] - 1
    if temperature >= smallest:  # float64 holds it
        return shifted / temperature
    exponent = min(math.ceil(math.log2(smallest / temperature)), largest_exponent)
    factor = 2.0**exponent
    if temperature * factor >= smallest:
        return (shifted * factor) / (temperature * factor)
    return xp.where(shifted == 0, shifted, xp.full_like(shifted, -math.inf))


def _log_normalised(shifted: Any, axis: int, *, xp: Any) -> Any:
    """``s - log(sum(exp(s)))`` of max-shifted logits ``s``."""
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
