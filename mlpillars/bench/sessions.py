"""A session that takes a run folder up again (``--resume``, ``--rerun-disturbed``): which
of the plan's cases it measures, and what it says when there are none."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

from .processes import RESUME
from .results import ResultsLog

CaseT = TypeVar("CaseT")


def cases_again(cases: Sequence[CaseT], log: ResultsLog, again: str) -> list[CaseT]:
    """The cases (each with an ``id``) a session taking the run up again measures.

    Parameters
    ----------
    cases : sequence of Case
        The plan's cases, in order.
    log : ResultsLog
        The run's results log.
    again : {"resume", "rerun-disturbed"}
        ``resume``: the cases without a finished row; ``rerun-disturbed``: those whose latest
        row was measured on a busy machine.
    """
    if again == RESUME:
        done = log.finished_ids()
        return [case for case in cases if case.id not in done]  # type: ignore[attr-defined]
    disturbed = log.disturbed_ids()
    return [case for case in cases if case.id in disturbed]  # type: ignore[attr-defined]


def nothing_again(again: str, total: int) -> str:
    """The line a session says when it has no case to measure (and starts no pytest)."""
    if again == RESUME:
        return f"nothing to resume: all {total} cases finished"
    return f"nothing to measure again: none of the {total} cases was measured on a busy machine"
