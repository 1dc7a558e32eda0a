"""How numbers are written in the report and in the runner's summary table, and how the
command line reads a percentage: one place, so every table reads the same. Outside the
report package, whose statistics and plots take about 1.5 s to import: a run that makes
no report does not import them."""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .report.stats import Estimate

NONE = "–"
"""A cell with nothing to say."""
_SECONDS_UNITS = (("s", 1.0), ("ms", 1e-3), ("µs", 1e-6), ("ns", 1e-9))
"""Units of a duration, largest first; the last one takes everything below the others."""


def format_seconds(seconds: float) -> str:
    """``1.23 ms``-style text: three significant digits, in the largest unit it reaches."""
    unit, scale = _seconds_unit(seconds)
    return f"{seconds / scale:.3g} {unit}"


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
    """``value`` in the unit that :func:`format_seconds` picks for ``reference``, without it."""
    if value is None:
        return NONE
    _, scale = _seconds_unit(reference)
    return number(value / scale)


def _seconds_unit(seconds: float) -> tuple[str, float]:
    """The largest unit that ``seconds`` reaches (nanoseconds below a microsecond)."""
    return next(
        ((unit, scale) for unit, scale in _SECONDS_UNITS if seconds >= scale), _SECONDS_UNITS[-1]
    )


def parse_threshold(text: str) -> float:
    """``"10%"`` or ``"10"`` -> 0.10: a regression threshold given in percent.

    Raises
    ------
    argparse.ArgumentTypeError
        Not a number, or negative (so that argparse prints the message).
    """
    digits = text.strip().removesuffix("%").strip()
    try:
        percentage = float(digits)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a percentage: {text!r} (write e.g. 10% or 10)"
        ) from None
    if not 0 <= percentage < float("inf"):
        raise argparse.ArgumentTypeError(f"a regression threshold must be >= 0%, got {text!r}")
    return percentage / 100
