"""The sessions of a run folder: a new run's, then each ``--resume`` or ``--rerun-disturbed``:
which of the plan's cases a session taking the run up again measures (and what it says when
there are none), its number, and its own environment record, compared with the first's."""

from __future__ import annotations

import json
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any, TypeVar

from rich.console import Console
from rich.text import Text

from .environment import write_environment
from .processes import RESUME
from .results import ResultsLog
from .run_folder import BENCHMARK_FILES, ENVIRONMENT_FILE, ENVIRONMENT_FILES, environment_file

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


def session_number(out: Path) -> int:
    """The number of the session starting in run folder ``out``: 1 for a new run, then one
    more than the sessions its files record (``benchmark-<n>.json``, or, in a ``--processes``
    parent, which has none, its environment records)."""
    benchmarks = len(list(out.glob(BENCHMARK_FILES)))
    records = len(list(out.glob(ENVIRONMENT_FILES))) + (out / ENVIRONMENT_FILE).exists()
    return 1 + max(benchmarks, records)


def record_environment(
    console: Console, out: Path, session: int, frameworks: Collection[str]
) -> Path:
    """Write this session's environment record; return its path.

    The first session's is :data:`~.run_folder.ENVIRONMENT_FILE`, which the report reads and a
    later session never replaces: a session taking the run up again writes its own
    (:func:`~.run_folder.environment_file`) and, where it differs from the first in what bears
    on timings (:func:`environment_differences`), says so in one line.
    """
    first = out / ENVIRONMENT_FILE
    path = out / (environment_file(session) if first.exists() and session > 1 else ENVIRONMENT_FILE)
    record = write_environment(path, frameworks=frameworks)
    if path == first:
        return path
    try:
        differences = environment_differences(json.loads(first.read_text()), record)
    except (OSError, ValueError):
        differences = [f"{ENVIRONMENT_FILE} cannot be read"]
    if differences:
        console.print(
            Text(
                f"this session's environment ({path.name}) differs from the first session's "
                f"({ENVIRONMENT_FILE}) in what bears on timings: {'; '.join(differences)}",
                style="yellow",
            )
        )
    return path


def environment_differences(first: dict[str, Any], later: dict[str, Any]) -> list[str]:
    """``"field first -> later"`` for each field of :func:`timing_fields` that differs."""
    before, after = timing_fields(first), timing_fields(later)
    keys = dict.fromkeys([*before, *after])
    return [
        f"{key} {before.get(key)} -> {after.get(key)}"
        for key in keys
        if before.get(key) != after.get(key)
    ]


def timing_fields(record: dict[str, Any]) -> dict[str, Any]:
    """The fields of an environment record that bear on timings, flattened (``"cpu.model"``,
    ``"thread_env.OMP_NUM_THREADS"``, ``"blas.<library>.num_threads"``): the CPU, the
    library versions, the frameworks' settings (threads...), the BLAS pools and the thread
    variables."""
    fields: dict[str, Any] = {}
    for section in ("cpu", "versions", "frameworks", "thread_env"):
        _flatten(fields, section, record.get(section))
    pools = record.get("blas")
    for pool in pools if isinstance(pools, list) else []:
        if isinstance(pool, dict):
            settings = {key: value for key, value in pool.items() if key != "filename"}
            _flatten(fields, f"blas.{pool.get('filename')}", settings)
    return fields


def _flatten(fields: dict[str, Any], prefix: str, value: Any) -> None:
    if not isinstance(value, dict):
        fields[prefix] = value
        return
    for key, item in value.items():
        if key not in _NOT_TIMINGS:
            _flatten(fields, f"{prefix}.{key}", item)


_NOT_TIMINGS = ("reasons", "model_source")
"""Keys of the record's sections that say where a value came from, not what it is."""
