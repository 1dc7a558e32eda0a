"""One run against another: per case (matched by id) the ratio of medians, its interval and
the verdict of the same test as everywhere else in the report (:mod:`.stats`).

A regression, for ``fail_on_regression``, is a case called significantly slower whose ratio
of medians (this run / the other) also exceeds ``1 + threshold``. With a threshold under 10 %
the test's own 1.1x gate still applies: a smaller slowdown is never called significant.

A time measured on a busy machine (the row's ``disturbed``) is marked as in every table of the
report, in either run, and the regression check says which regressions rest on one.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

from ..run_folder import OK, is_disturbed
from ..text import NONE, format_seconds, ratio_interval, rounds
from .conditions import BUSY, busy_mark
from .document import Block, Bullets, Heading, Paragraph, Table
from .load import RunData
from .stats import FASTER, SAME, SLOWER, Verdict, compare_rounds

NOT_COMPARED = "not compared"
_IGNORED_ENVIRONMENT = ("timestamp", "memory.available_bytes")


@dataclass(frozen=True)
class CaseComparison:
    """One case id of either run."""

    case_id: str
    current: dict[str, Any] | None
    baseline: dict[str, Any] | None
    verdict: Verdict | None
    note: str = ""

    @property
    def label(self) -> str:
        """faster, slower, no significant difference, or not compared."""
        return self.verdict.label if self.verdict else NOT_COMPARED

    @property
    def disturbed_in(self) -> str:
        """Which run measured this case on a busy machine: ``"this run"``, ``"the other
        run"``, ``"both runs"``, or ``""``."""
        here = self.current is not None and is_disturbed(self.current)
        there = self.baseline is not None and is_disturbed(self.baseline)
        return {(True, True): "both runs", (True, False): "this run"}.get(
            (here, there), "the other run" if there else ""
        )

    def regressed(self, threshold: float) -> bool:
        """Significantly slower, by more than ``threshold`` (0.10 = 10 %)."""
        return self.label == SLOWER and self.verdict.ratio.value > 1 + threshold


@dataclass(frozen=True)
class Comparison:
    """This run against a baseline run."""

    current: RunData
    baseline: RunData
    cases: list[CaseComparison]

    def counts(self) -> Counter:
        """How many cases got each label."""
        return Counter(case.label for case in self.cases)

    @property
    def compared_nothing(self) -> bool:
        """No case had timed rounds in both runs: a regression gate would pass unseen."""
        return all(case.verdict is None for case in self.cases)

    def regressions(self, threshold: float) -> list[CaseComparison]:
        """The cases slower by more than ``threshold``, significantly."""
        return [case for case in self.cases if case.regressed(threshold)]


def compare_runs(current: RunData, baseline: RunData) -> Comparison:
    """Compare every case id of ``current`` with the same id in ``baseline``."""
    now = {row["id"]: row for row in current.rows}
    before = {row["id"]: row for row in baseline.rows}
    cases = [
        _compare_case(case_id, now.get(case_id), before.get(case_id))
        for case_id in [*now, *(case_id for case_id in before if case_id not in now)]
    ]
    return Comparison(current, baseline, cases)


SELF_COMPARISON = (
    "the run is compared with itself (both folders are the same): every case ties, and a "
    "regression gate passes whatever the code did"
)


def compared_with_itself(comparison: Comparison) -> bool:
    """Whether both sides are one folder (a mistyped --compare)."""
    return comparison.current.path.resolve() == comparison.baseline.path.resolve()


def comparison_section(comparison: Comparison, threshold: float | None) -> list[Block]:
    """Summary, environment differences and the per-case table."""
    counts = comparison.counts()
    summary = (
        f"This run (`{comparison.current.name}`) against `{comparison.baseline.name}`: "
        f"**{counts[SLOWER]} slower**, **{counts[FASTER]} faster**, {counts[SAME]} with no "
        f"significant difference, {counts[NOT_COMPARED]} not compared. Ratio = median time in "
        f"this run / median time in the other: above 1 this run is slower. {BUSY} marks a "
        "time measured on a busy machine (in either run): a verdict resting on it may be the "
        "load's doing."
    )
    blocks: list[Block] = [Heading("Comparison with another run", 2), Paragraph(summary)]
    if compared_with_itself(comparison):
        blocks.append(Paragraph(f"**Note:** {SELF_COMPARISON}."))
    if threshold is not None:
        blocks.append(Paragraph(_gate_verdict(comparison, threshold)))
    blocks += _environment_differences(comparison)
    ordered = sorted(comparison.cases, key=_order)
    blocks.append(
        Table(
            ("case", "this run", "other run", "ratio [95% CI]", "rounds", "p", "verdict"),
            tuple(_case_row(case) for case in ordered),
            "lrrrrrl",
        )
    )
    return blocks


def _gate_verdict(comparison: Comparison, threshold: float) -> str:
    gate = f"Regression check at {threshold:.0%}: "
    if comparison.compared_nothing:
        return gate + "**FAIL**: no case could be compared (none has timed rounds in both runs)."
    regressions = comparison.regressions(threshold)
    verdict = f"**FAIL**: {len(regressions)} case(s)" if regressions else "**pass**: no case"
    return (
        gate
        + f"{verdict} significantly slower by more than {threshold:.0%}."
        + (_disturbed_regressions(comparison, regressions))
    )


def _disturbed_regressions(comparison: Comparison, regressions: list[CaseComparison]) -> str:
    """Which regressions rest on a time measured on a busy machine, and how to measure them
    again; ``""`` when none does."""
    disturbed = [case for case in regressions if case.disturbed_in]
    if not disturbed:
        return ""
    cases = ", ".join(f"`{case.case_id}` ({case.disturbed_in})" for case in disturbed)
    folders = {comparison.current.path: "this run", comparison.baseline.path: "the other run"}
    commands = " or ".join(
        f"`mlpillars bench --rerun-disturbed --out {folder}`"
        for folder, name in folders.items()
        if any(case.disturbed_in in (name, "both runs") for case in disturbed)
    )
    return (
        f" {len(disturbed)} of them rest on a time measured on a busy machine {BUSY}: "
        f"{cases}; measure again on a quiet machine ({commands}) before trusting them."
    )


def _compare_case(
    case_id: str, current: dict[str, Any] | None, baseline: dict[str, Any] | None
) -> CaseComparison:
    if current is None or baseline is None:
        where = "this run" if baseline is None else "the other run"
        return CaseComparison(case_id, current, baseline, None, f"only in {where}")
    if current["status"] != OK or baseline["status"] != OK:
        note = f"status {current['status']} here, {baseline['status']} there"
        return CaseComparison(case_id, current, baseline, None, note)
    verdict = compare_rounds(current["rounds"], baseline["rounds"])
    return CaseComparison(case_id, current, baseline, verdict, verdict.note)


def _order(case: CaseComparison) -> tuple:
    rank = {SLOWER: 0, FASTER: 1, SAME: 2, NOT_COMPARED: 3}[case.label]
    ratio = case.verdict.ratio.value if case.verdict else 0.0
    return rank, -ratio if case.label == SLOWER else ratio, case.case_id


def _case_row(case: CaseComparison) -> tuple[str, ...]:
    verdict = case.verdict
    label = case.label + (f" ({case.note})" if case.note else "")
    return (
        case.case_id,
        _median(case.current) + busy_mark(case.current),
        _median(case.baseline) + busy_mark(case.baseline),
        ratio_interval(verdict.ratio) if verdict else NONE,
        rounds(verdict.ratio) if verdict else NONE,
        f"{verdict.p_value:.2g}" if verdict and verdict.p_value is not None else NONE,
        label,
    )


def _median(row: dict[str, Any] | None) -> str:
    if row is None or row.get("median") is None:
        return NONE if row is None else row["status"]
    return format_seconds(row["median"])


def _environment_differences(comparison: Comparison) -> list[Block]:
    now, before = comparison.current.environment, comparison.baseline.environment
    if now is None or before is None:
        return [Paragraph("One of the runs has no environment record: the machines are unknown.")]
    flat_now, flat_before = _flatten(now), _flatten(before)
    keys = sorted(
        key
        for key in flat_now.keys() | flat_before.keys()
        if flat_now.get(key) != flat_before.get(key)
        and not key.startswith(_IGNORED_ENVIRONMENT)
        and ".reasons." not in key
    )
    if not keys:
        return [Paragraph("Both runs recorded the same environment (apart from the time).")]
    rows = tuple(
        (key, str(flat_now.get(key, NONE)), str(flat_before.get(key, NONE))) for key in keys
    )
    return (
        [
            Paragraph("The environments differ; weigh the verdicts with that in mind:"),
            Table(("environment", "this run", "other run"), rows),
        ]
        if len(keys) <= 40
        else [
            Paragraph(f"The environments differ in {len(keys)} fields, e.g.:"),
            Bullets(tuple(f"`{key}`" for key in keys[:20])),
        ]
    )


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(value, dict):
        flat: dict[str, Any] = {}
        for key, item in value.items():
            flat |= _flatten(item, f"{prefix}{key}.")
        return flat
    if isinstance(value, list):
        flat = {}
        for index, item in enumerate(value):
            flat |= _flatten(item, f"{prefix}{index}.")
        return flat
    return {prefix.rstrip("."): value}
