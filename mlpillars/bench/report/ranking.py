"""The timed rows of each case, ranked, and the comparisons the answer, the heatmap and the
crossovers share.

A comparison of two rows is the ratio of their medians, each from the case's own rounds: the
medians the tables print and rank by, so that the fastest is never "0.8x faster" than the
runner-up. Where the two were also timed in alternating rounds, that figure is given beside
it, and said to be the alternating one (:func:`compare_alternated`); it can differ, even in
direction.
"""

from __future__ import annotations

from collections import defaultdict
from functools import lru_cache
from typing import Any

from ..run_folder import OK
from .analysis import RunAnalysis, case_key
from .families import kind_of
from .pairs import alternated_rounds
from .stats import Verdict, compare_paired, compare_rounds, median_estimate


def timed_cases(analysis: RunAnalysis, kernel: str) -> list[list[dict[str, Any]]]:
    """The timed rows of each case of ``kernel``, fastest first; cases by size, dtype,
    variant."""
    cases: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in analysis.kernels[kernel]:
        if row["status"] == OK:
            cases[case_key(row)].append(row)
    ordered = sorted(cases.values(), key=lambda rows: _case_order(rows[0]))
    return [sorted(rows, key=median) for rows in ordered]


def median(row: dict[str, Any]) -> float:
    """The row's median time (from its rounds when the field is missing)."""
    value = row.get("median")
    return float(value) if value else median_estimate(row["rounds"]).value


@lru_cache(maxsize=4096)
def _compare(candidate: tuple[float, ...], reference: tuple[float, ...]) -> Verdict:
    return compare_rounds(candidate, reference)


@lru_cache(maxsize=4096)
def _compare_paired(candidate: tuple[float, ...], reference: tuple[float, ...]) -> Verdict:
    return compare_paired(candidate, reference)


def compare(candidate: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """:func:`.stats.compare_rounds` of two rows' own rounds: the ratio of the medians the
    tables print and rank by (cached: the tables ask twice)."""
    return _compare(tuple(candidate["rounds"]), tuple(reference["rounds"]))


def compare_alternated(candidate: dict[str, Any], reference: dict[str, Any]) -> Verdict | None:
    """:func:`.stats.compare_paired` of the rounds the two rows were timed in alternately,
    or None where they were not (a figure beside :func:`compare`'s, which can differ)."""
    alternated = alternated_rounds(candidate, reference)
    if alternated is None:
        return None
    return _compare_paired(*(tuple(rounds.tolist()) for rounds in alternated))


def verdict_word(verdict: Verdict) -> str:
    """``significant``, ``not significant``, or why it could not be tested."""
    if verdict.significant:
        return "significant"
    if verdict.p_value is None:
        return "too few rounds to test"
    return "not significant"


def best(ranked: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    """The first (fastest) row of ``kind`` in ``ranked``."""
    return next((row for row in ranked if kind_of(row) == kind), None)


def case_label(row: dict[str, Any]) -> str:
    """``"1024 float32"``, with the variant in parentheses when the row has one."""
    text = f"{row['size']} {row.get('dtype') or ''}".strip()
    return text + (f" ({row['variant']})" if row.get("variant") else "")


def _case_order(row: dict[str, Any]) -> tuple:
    return str(row.get("variant") or ""), str(row.get("dtype") or ""), row["size"]
