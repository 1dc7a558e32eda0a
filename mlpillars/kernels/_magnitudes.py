"""Values near the largest float, brought into range by an exact power of two before a
kernel divides by their largest magnitude or takes their differences.

Two things go wrong there. Some compilers (XLA on CPU) divide by multiplying with the
reciprocal and flush subnormals to zero: ``1 / 9e37`` is subnormal in float32, so a
vector scaled by its largest entry became zeros. And differences of values of either
sign overflow: ``1e308 - (-1e308)``. A slice whose largest magnitude passes
:data:`HUGE` is first multiplied by :data:`SHRINK`, exactly (only values below
``2**-900`` or so lose bits, and beside one past ``2**100`` they do not count).
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
