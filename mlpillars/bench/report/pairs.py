"""How two timed rows of one case compare: from the rounds they were timed in alternately
(:mod:`mlpillars.bench.interleaved`) where they were, else from each case's own rounds.

The native table, the targets, the heatmap's marks and the alternating figures of the kernel's
and the answer tables read these; :mod:`.analysis` pairs our kernels with the native calls.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .stats import Estimate, paired_ratio_estimate, ratio_estimate


@dataclass(frozen=True)
class PairFigures:
    """How one row compares with another of the same case: ``first`` against ``second``.

    Attributes
    ----------
    first_median, second_median : float
        Median seconds per call of each: of their alternating rounds where the two were
        timed so (:mod:`mlpillars.bench.interleaved`), else of each case's own rounds.
    ratio : Estimate
        median(first) / median(second); where alternated, the median of the per-round
        ratios.
    overhead_seconds : float
        median(first) - median(second) per call (the median of the per-round differences
        where alternated).
    alternated : bool
        Whether the figures come from alternating rounds, not from each case's own rounds.
    """

    first_median: float
    second_median: float
    ratio: Estimate
    overhead_seconds: float
    alternated: bool


def pair_figures(first: dict[str, Any], second: dict[str, Any]) -> PairFigures:
    """``first`` against ``second``: from their alternating rounds where they were timed
    so, else from each case's own rounds."""
    alternated = alternated_rounds(first, second)
    if alternated is not None:
        first_rounds, second_rounds = alternated
        return PairFigures(
            float(np.median(first_rounds)),
            float(np.median(second_rounds)),
            paired_ratio_estimate(first_rounds, second_rounds),
            float(np.median(first_rounds - second_rounds)),
            alternated=True,
        )
    first_median, second_median = float(first["median"]), float(second["median"])
    ratio = ratio_estimate(first["rounds"], second["rounds"])
    return PairFigures(first_median, second_median, ratio, first_median - second_median, False)


@dataclass(frozen=True)
class NativePair:
    """Our kernel's row and a native call's row of one case, and how they compare
    (``figures``: ours first; its ratio is the one the targets are stated in, above 1 when
    ours is slower)."""

    ours: dict[str, Any]
    native: dict[str, Any]
    figures: PairFigures


def alternated_rounds(
    row: dict[str, Any], other: dict[str, Any]
) -> tuple[np.ndarray, np.ndarray] | None:
    """``row``'s and ``other``'s rounds timed side by side (``alternated``, held by the
    later of the two: :mod:`mlpillars.bench.interleaved`), or None where they were not."""
    for holder, partner in ((row, other), (other, row)):
        for pair in holder.get("alternated", ()):
            if pair.get("with") == partner["id"]:
                own = np.asarray(pair["rounds"], dtype=float)
                theirs = np.asarray(pair["with_rounds"], dtype=float)
                return (own, theirs) if holder is row else (theirs, own)
    return None
