"""The targets table: each goal of :data:`~mlpillars.bench.targets.TARGETS` with
what the run measured and whether it is met.

A target against a native call reads the pair as the native table does; a target against
our kernel on NumPy (JAX's and torch's gradient descent) is the ratio of the two cases'
medians; both from their alternating rounds where they were timed so
(:mod:`mlpillars.bench.interleaved`). Met means the
measured ratio (or overhead) is within the bound; where the ratio's 95 % interval reaches
past the bound, the verdict says so. The section appears where the run measured some
target (a ``targets`` run), with a row for each target, run or not.
"""

from __future__ import annotations

from typing import Any

from ..run_folder import BACKEND, OK
from ..targets import TARGETS, Target
from ..text import NONE, format_seconds, ratio_interval
from .analysis import RunAnalysis, case_key, size_label
from .document import Block, Heading, Paragraph, Table
from .natives import pair_rounds
from .pairs import pair_figures
from .stats import Estimate


def targets_section(analysis: RunAnalysis) -> list[Block]:
    """The targets table, or nothing where the run measured no target (a GPU run has the
    targets' shapes on other devices)."""
    if not any(None not in _rows(analysis, target) for target in TARGETS):
        return []
    header = ("case", "ours", "against", "target", "measured [95% CI]", "rounds", "verdict")
    rows = tuple(_row(analysis, target) for target in TARGETS)
    met = sum(row[-1].startswith("met") for row in rows)
    return [
        Heading("Targets: our kernels against the native calls and NumPy", 2),
        Paragraph(
            "Each goal of the `targets` suite (issue 9's table): our kernel on a backend "
            "against a native call or against our NumPy kernel, median(ours) / "
            "median(against), or where rounds says *alternating* the median of the ratios of "
            "rounds timed side by side; for the small softmax, the overhead per call. Met: "
            "the measured figure is within the target; where its 95% interval reaches past "
            "the target, the verdict says so."
        ),
        Table(header, rows, "llllrll"),
        Paragraph(f"{met} of {len(rows)} targets met in this run."),
    ]


def _row(analysis: RunAnalysis, target: Target) -> tuple[str, ...]:
    case = f"{target.kernel} {_case_label(analysis, target)}"
    ours, against = _rows(analysis, target)
    if ours is None or against is None:
        missing = target.ours if ours is None else target.against
        return (
            case,
            target.ours,
            target.against,
            _bound(target),
            NONE,
            NONE,
            f"not run: {missing}",
        )
    figures = pair_figures(ours, against)
    ratio, overhead, rounds = figures.ratio, figures.overhead_seconds, pair_rounds(figures)
    if target.overhead_at_most is not None:
        measured = (
            "+" + format_seconds(overhead) if overhead >= 0 else "-" + format_seconds(-overhead)
        )
        verdict = "met" if target.met_by(overhead) else "not met"
    else:
        measured = ratio_interval(ratio)
        verdict = _verdict(target, ratio)
    return (
        case,
        ours["implementation"],
        against["implementation"],
        _bound(target),
        measured,
        rounds,
        verdict,
    )


def _verdict(target: Target, ratio: Estimate) -> str:
    if not target.met_by(ratio.value):
        return "not met"
    if ratio.has_interval and not target.met_by(ratio.high):
        return "met (its interval reaches past the target)"
    return "met"


def _rows(
    analysis: RunAnalysis, target: Target
) -> tuple[dict[str, Any] | None, dict[str, Any] | None]:
    """The timed rows of our kernel on the target's backend and of what it is held to."""
    ours = against = None
    for row in _variant_rows(analysis, target):
        if row["status"] != OK:
            continue
        if row.get("kind") == BACKEND and target.is_ours(row["implementation"]):
            ours = row
        elif row["implementation"] == target.against:
            against = row
    return ours, against


def _variant_rows(analysis: RunAnalysis, target: Target) -> list[dict[str, Any]]:
    rows = analysis.kernels.get(target.kernel, [])
    return [row for row in rows if (row.get("variant") or "") == target.variant]


def _case_label(analysis: RunAnalysis, target: Target) -> str:
    """``4096 float32 (temperature 1)`` from a row of the case, else the variant's name."""
    rows = _variant_rows(analysis, target)
    return size_label(case_key(rows[0])) if rows else f"({target.variant})"


def _bound(target: Target) -> str:
    """``≤ 1.05×``, ``≤ 0.05× (20× faster)``, ``< 1× (faster)`` or ``≤ +3 µs``."""
    if target.overhead_at_most is not None:
        return f"≤ +{format_seconds(target.overhead_at_most)}"
    at_most = target.at_most
    if at_most == 1:
        return "< 1× (faster)"
    if at_most is not None and at_most < 0.2:
        return f"≤ {at_most:g}× ({1 / at_most:g}× faster)"
    return f"≤ {at_most:g}×"
