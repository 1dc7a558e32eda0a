"""Reading a results folder for the report, and refusing what is not one, clearly.

A run folder (layout in :mod:`mlpillars.bench.run_folder`) holds ``cases.jsonl`` (required),
``environment.json``, ``peaks.json``, ``plan.json`` and ``planned.json`` (optional: the report
says what is missing). Where ``planned.json`` names cases with no finished row, the run was
interrupted or killed: the report says how many and how to finish it. Anything unreadable
(a file that cannot be opened too) raises :class:`ReportError` with the file and what is
wrong, never a traceback. A last line of ``cases.jsonl`` cut short is what a killed run
leaves: it is skipped, as ``mlpillars bench --resume`` does, and the report says so.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..results import read_rows
from ..run_folder import (
    CASES_FILE,
    ENVIRONMENT_FILE,
    NUMERIC_FIELDS,
    OK,
    PEAKS_FILE,
    PLAN_FILE,
    PLANNED_FILE,
    REQUIRED_FIELDS,
    STATUSES,
    latest_rows,
    missing_cases,
    validate_peaks,
)

WORK_FIELDS = ("flops", "bytes")
"""The work model's counts in a row, which the rates divide by the median time."""


class ReportError(Exception):
    """A run folder, or one of its files, that the report cannot read."""


@dataclass
class RunData:
    """One results folder, read and checked.

    Attributes
    ----------
    path : Path
    rows : list of dict
        The case rows of ``cases.jsonl``: the latest row of each case (a case measured again
        by ``--resume`` or ``--rerun-disturbed`` has several), in the order cases first
        appear.
    environment : dict or None
        ``environment.json``; ``None`` when the folder has none.
    peaks : dict or None
        ``peaks.json`` (layout in :mod:`mlpillars.bench.peaks`); ``None`` when absent.
    plan : dict or None
        ``plan.json``; ``None`` when absent.
    warnings : list of str
        What was missing or skipped, for the report.
    missing : list of str or None
        The planned cases with no finished row (``run_folder.missing_cases``): the run is
        unfinished where this is not empty; ``None`` where the folder has no ``planned.json``
        (a run of an older mlpillars).
    """

    path: Path
    rows: list[dict[str, Any]]
    environment: dict[str, Any] | None
    peaks: dict[str, Any] | None
    plan: dict[str, Any] | None
    warnings: list[str] = field(default_factory=list)
    missing: list[str] | None = None

    @property
    def name(self) -> str:
        """The folder's name, which is the run id."""
        return self.path.resolve().name


def load_run(path: str | Path) -> RunData:
    """Read and check the results folder at ``path``.

    Raises
    ------
    ReportError
        The folder is missing, is not a run, or holds a corrupted, truncated or foreign file.
    """
    folder = Path(path)
    if not folder.is_dir():
        raise ReportError(f"{folder}: not a folder")
    cases = folder / CASES_FILE
    if not cases.exists():
        raise ReportError(
            f"{folder} is not a benchmark run: it has no {CASES_FILE} "
            "(make one with: mlpillars bench --out FOLDER)"
        )
    every_row = _read_cases(cases)
    run = RunData(folder, latest_rows(every_row), None, None, None)
    if _last_line_cut(cases):
        run.warnings.append(f"{cases}: the last line was cut short (a killed run) and is skipped")
    if len(run.rows) < len(every_row):
        run.warnings.append(
            f"{len(every_row) - len(run.rows)} row(s) of {CASES_FILE} were measured again "
            "(--resume, --rerun-disturbed): the latest row of each case is the one reported"
        )
    run.environment = _read_object(folder / ENVIRONMENT_FILE, run.warnings, _check_environment)
    run.peaks = _read_object(folder / PEAKS_FILE, run.warnings, validate_peaks)
    run.plan = _read_object(folder / PLAN_FILE, run.warnings, _check_plan)
    planned = _read_object(folder / PLANNED_FILE, run.warnings, _check_planned)
    if planned is not None:
        run.missing = missing_cases(planned["cases"], every_row)
    if run.missing:
        run.warnings.insert(0, unfinished_warning(run))
    return run


def unfinished_warning(run: RunData) -> str:
    """What the report and ``mlpillars report`` say of a run with planned cases missing."""
    missing = run.missing or []
    shown = ", ".join(missing[:3]) + (", ..." if len(missing) > 3 else "")
    return (
        f"unfinished run: {len(missing)} planned case(s) have no result ({shown}); "
        f"finish it with: mlpillars bench --resume --out {run.path}"
    )


def _read_cases(path: Path) -> list[dict[str, Any]]:
    try:
        rows = read_rows(path)
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not a text file ({exc.reason})") from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    except ValueError as exc:  # read_rows names the file and line
        raise ReportError(f"{exc}; is this a results log of mlpillars bench?") from exc
    if not rows:
        raise ReportError(f"{path}: holds no case rows")
    for number, row in enumerate(rows, start=1):
        problem = _row_problem(row)
        if problem:
            raise ReportError(f"{path}: row {number} ({row.get('id')!r}) {problem}")
    return rows


def _row_problem(row: dict[str, Any]) -> str | None:
    """What makes ``row`` unusable, or None: a required field missing, null or of the wrong
    type (``dtype`` too, which the report groups cases by), an unknown status, work figures
    (``flops``, ``bytes``) that are not finite and at least 0, or a timed row without
    positive, finite ``rounds`` and ``median``."""
    for key, kind in {**REQUIRED_FIELDS, "dtype": str}.items():
        if not isinstance(row.get(key), kind) or isinstance(row.get(key), bool):
            return f"has no {kind.__name__} {key!r}"
    if row["status"] not in STATUSES:
        return f"has an unknown status {row['status']!r} (expected one of {', '.join(STATUSES)})"
    for key in NUMERIC_FIELDS:
        if row.get(key) is not None and not _is_number(row[key]):
            return f"has a non-numeric {key!r}: {row[key]!r}"
    for key in WORK_FIELDS:
        if row.get(key) is not None and not 0 <= row[key] < math.inf:
            return (
                f"has a {key!r} that is not a finite number of at least 0 (the work model's "
                f"count of one call, which the GFLOP/s and GB/s divide): {row[key]!r}"
            )
    if row["status"] != OK:
        return None
    rounds = row.get("rounds")
    if not isinstance(rounds, list) or not rounds:
        return "is 'ok' but has no list of timed 'rounds'"
    if not all(_is_seconds(seconds) for seconds in rounds):
        return "has a round that is not a positive number of seconds"
    median = row.get("median")
    if not _is_seconds(median):
        return f"is 'ok' but its 'median' is not a positive number of seconds: {median!r}"
    return None


def _unreadable(path: Path, exc: OSError) -> ReportError:
    """A file the report cannot open (a folder in its place, no permission to read)."""
    return ReportError(
        f"{path}: cannot be read ({exc.strerror or exc}); the report needs it readable"
    )


def _is_seconds(value: Any) -> bool:
    """A positive, finite number (NaN is neither)."""
    return _is_number(value) and 0 < value < math.inf


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _last_line_cut(path: Path) -> bool:
    lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    try:
        json.loads(lines[-1])
    except json.JSONDecodeError:
        return True
    return False


def _read_object(path: Path, warnings: list[str], check) -> dict[str, Any] | None:
    """A JSON object file: ``None`` (and a warning) when absent; ReportError when bad."""
    if not path.exists():
        warnings.append(f"{path.name} not found: that part of the report is left out")
        return None
    try:
        content = json.loads(path.read_text(encoding="utf-8"))
    except UnicodeDecodeError as exc:
        raise ReportError(f"{path}: not a text file ({exc.reason})") from exc
    except OSError as exc:
        raise _unreadable(path, exc) from exc
    except json.JSONDecodeError as exc:
        raise ReportError(
            f"{path}: not valid JSON, corrupted or truncated "
            f"(line {exc.lineno}, column {exc.colno}: {exc.msg})"
        ) from exc
    if not isinstance(content, dict):
        raise ReportError(f"{path}: expected a JSON object, found {type(content).__name__}")
    problem = check(content)
    if problem:
        raise ReportError(f"{path}: {problem}")
    return content


def _check_environment(record: dict[str, Any]) -> str | None:
    expected = {"platform", "cpu", "versions"}
    if not expected & record.keys():
        return (
            "not an environment record of mlpillars bench "
            f"(none of the keys {', '.join(sorted(expected))})"
        )
    return None


def _check_plan(plan: dict[str, Any]) -> str | None:
    return None if "suite" in plan else "not a run plan of mlpillars bench (no 'suite')"


def _check_planned(planned: dict[str, Any]) -> str | None:
    cases = planned.get("cases")
    if isinstance(cases, list) and all(isinstance(case, str) for case in cases):
        return None
    return "not a list of planned cases of mlpillars bench (no 'cases' list of case ids)"
