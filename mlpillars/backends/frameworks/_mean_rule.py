"""The mean of per-sample losses: one rule for the kernels and every framework's own loss.

A mean is past the range only where the mean itself is. The plain mean is the answer
where it is finite. Where it is not, twice the mean of the losses' halves, each divided
by their count first, is taken instead:

- the sum of three float32 losses of 3e38 is inf, and so was their mean: 3e38. Only
  there: dividing first costs tiny losses their digits;
- a loss itself can be past the range where the mean is not: float32 logits
  [3.4e38, -3.4e38] with the label 1 have the loss 6.8e38 (inf), its half 3.4e38 (the
  caller computes the halves without forming the losses), and beside three small losses
  the mean 1.7e38.

Written against the array API (``xp``) and importing nothing of mlpillars, so that the
kernels (through :mod:`mlpillars.backends`) and the frameworks' own losses share it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any


def mean_of_losses(
    losses: Any, *, xp: Any, read: bool, halves: Callable[[], Any], plain: Any = None
) -> Any:
    """The mean of ``losses``, not finite only where the mean itself is past the range.

    Parameters
    ----------
    losses : array, shape (...)
        Per-sample losses, at least one, in a real floating dtype.
    xp : namespace
        Their array-API namespace, or their framework's own module where it has
        ``mean``, ``sum``, ``isfinite`` and ``where`` (NumPy, torch: no wrapper's cost).
    read : bool
        Whether their values can be read now for free (eager, on a CPU): then the plain
        mean, where finite, is the answer and ``halves`` is not called. Where False
        (traced, lazy, on a GPU) both means are computed and one is chosen by
        ``xp.where``.
    halves : callable
        ``halves()``: the losses' shape and dtype, each loss halved, computed without
        forming it (finite where the loss is past the range; NaN wherever it is NaN).
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
    doubled = 2 * xp.sum(halves() / math.prod(losses.shape))
    return doubled if read else xp.where(xp.isfinite(plain), plain, doubled)


def halved_label_losses(losses: Any, half_gaps: Any, *, xp: Any) -> Any:
    """Class-label losses halved, for :func:`mean_of_losses`: ``losses / 2``, and where a
    loss is inf, half its gap ``max z - z_label``, taken as ``max z / 2 - z_label / 2``
    (``half_gaps``; inf where the label's logit is -inf).

    The loss is that gap plus ``log sum exp(z - max z)``, which lies in ``[0, log C]``: for
    a gap past the range, far below half a unit in the last place of its half (float32
    logits [3.4e38, -3.4e38], label 1: the half is 3.4e38, its unit 2e31), so the half
    gap is the half loss as the dtype rounds it.

    Parameters
    ----------
    losses : array, shape (...)
        ``-log softmax(z)_label`` per sample (NaN stays NaN).
    half_gaps : array, shape (...)
        ``max z / 2 - z_label / 2`` per sample.
    xp : namespace
        As :func:`mean_of_losses` takes it.
    """
    return xp.where(xp.isinf(losses), half_gaps, losses / 2)
