"""Values of awkward magnitude: near the largest float, or far from zero against their
spread.

Near the largest float two things go wrong. Some compilers (XLA on CPU) divide by
multiplying with the reciprocal and flush subnormals to zero: ``1 / 9e37`` is subnormal in
float32, so a vector scaled by its largest entry became zeros. And differences of values of
either sign overflow: ``1e308 - (-1e308)``. A slice whose largest magnitude passes
:data:`HUGE` is first multiplied by :data:`SHRINK`, exactly (only values below ``2**-900``
or so lose bits, and beside one past ``2**100`` they do not count): :func:`shrink_factors`.

Far from zero, a mean rounds by an ulp of its own size, which stays in every centred
value as a constant: :func:`centred_twice` takes it out with a second pass.
"""

from __future__ import annotations

from typing import Any

HUGE = 2.0**100
"""The largest magnitude a slice keeps as it is."""

SHRINK = 2.0**-64
"""The power of two a slice past :data:`HUGE` is multiplied by."""


def shrink_factors(largest: Any, *, xp: Any) -> Any | None:
    """:data:`SHRINK` where ``largest`` (a slice's largest magnitude, any shape) passes
    :data:`HUGE`, else 1; None for a dtype that holds neither (float16: the caller
    computes half precision in float32)."""
    if float(xp.finfo(largest.dtype).max) <= HUGE:
        return None
    return xp.where(largest > HUGE, xp.full_like(largest, SHRINK), xp.ones_like(largest))


def centred_twice(values: Any, means: Any, *, axis: int, xp: Any) -> tuple[Any, Any]:
    """``values`` less their ``means`` along ``axis`` (keepdims shape), centred again by the
    mean of that, and the means with its correction.

    The first mean's rounding (an ulp of a large mean, float32 data of 1e4 +- 1: 1e-3)
    would otherwise stay in every centred value as a constant: a constant column is then
    exactly zero, and ``X^T (y - ȳ)`` no longer multiplies that rounding by X's sums."""
    centred, correction = centred_and_correction(values, means, axis=axis, xp=xp)
    return centred, means + correction


def centred_and_correction(values: Any, means: Any, *, axis: int, xp: Any) -> tuple[Any, Any]:
    """As :func:`centred_twice`, but the correction (keepdims shape) apart from the means:
    their sum rounds to an ulp of the means (float32 means of 1e6: 0.06), the pair holds
    the exact means to the centred values' own precision."""
    centred = values - means
    correction = xp.mean(centred, axis=axis, keepdims=True)
    centred -= correction  # a new array: in place where the framework allows it
    return centred, correction
