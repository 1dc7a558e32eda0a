"""How numbers are written in the report: one place, so every table reads the same."""

from __future__ import annotations

from ..runner import format_seconds
from .stats import Estimate

NONE = "–"
"""A cell with nothing to say."""


def seconds_interval(estimate: Estimate) -> str:
    """``1.23 ms [1.20, 1.31]``; without an interval, the median and why."""
    text = format_seconds(estimate.value)
    if not estimate.has_interval:
        return f"{text} (no CI)"
    low = _plain_seconds(estimate.low, estimate.value)
    high = _plain_seconds(estimate.high, estimate.value)
    return f"{text} [{low}, {high}]"


def ratio_interval(estimate: Estimate | None) -> str:
    """``3.21× [2.90, 3.55]``, or ``–`` when there is no ratio."""
    if estimate is None:
        return NONE
    if not estimate.has_interval:
        return f"{number(estimate.value)}× (no CI)"
    return f"{number(estimate.value)}× [{number(estimate.low)}, {number(estimate.high)}]"


def number(value: float | None) -> str:
    """Three significant digits; ``–`` for nothing."""
    if value is None:
        return NONE
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.3g}"


def percent(fraction: float | None) -> str:
    """``42%`` (two significant digits under 10 %)."""
    if fraction is None:
        return NONE
    return f"{fraction:.0%}" if fraction >= 0.1 else f"{fraction * 100:.2g}%"


def mebibytes(count: float | None) -> str:
    """Bytes as ``12.3 MiB`` (KiB under one MiB)."""
    if count is None:
        return NONE
    if abs(count) < 2**20:
        return f"{count / 2**10:.3g} KiB"
    return f"{count / 2**20:.3g} MiB"


def rounds(estimate: Estimate | None) -> str:
    """``12`` for one sample, ``12/9`` for a ratio."""
    if estimate is None:
        return NONE
    return "/".join(str(count) for count in estimate.rounds)


def _plain_seconds(value: float | None, reference: float) -> str:
    """``value`` in the unit that ``format_seconds`` picks for ``reference``, without it."""
    if value is None:
        return NONE
    for scale in (1.0, 1e-3, 1e-6):
        if reference >= scale:
            return number(value / scale)
    return number(value / 1e-9)
