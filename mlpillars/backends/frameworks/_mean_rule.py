"""The mean of per-sample losses: one rule for the kernels and every framework's own loss.

A mean overflows only where the mean itself is beyond the range. The sum of three float32
losses of 3e38 is inf, and so was their mean; where the plain mean is not finite, the mean
of the losses each divided by their count first is taken instead (3e38). Only there:
dividing first costs tiny losses their digits.

Written against the array API (``xp``) and importing nothing of mlpillars, so that the
kernels (through :mod:`mlpillars.backends`) and the frameworks' own losses share it.
"""

from __future__ import annotations

import math
from typing import Any


def mean_of_losses(losses: Any, *, xp: Any, read: bool, plain: Any = None) -> Any:
    """The mean of ``losses``, not finite only where the mean itself is past the range.

    Parameters
    ----------
    losses : array, shape (...)
        Per-sample losses, at least one, in a real floating dtype.
    xp : namespace
        Their array-API namespace (NumPy's own module for NumPy arrays).
    read : bool
        Whether their values can be read now for free (eager, on a CPU): then the plain
        mean, where finite, is the answer with no second sum. Where False (traced, lazy,
        on a GPU) both means are computed and one is chosen by ``xp.where``.
    plain : 0-d array, optional
        The plain mean, where the caller computed it (NumPy: without the warning of a sum
        past the range); ``xp.mean(losses)`` by default.

    Returns
    -------
    0-d array, losses' dtype
    """
    plain = xp.mean(losses) if plain is None else plain
    if read and bool(xp.isfinite(plain)):
        return plain
    divided_first = xp.sum(losses / math.prod(losses.shape))
    return divided_first if read else xp.where(xp.isfinite(plain), plain, divided_first)
