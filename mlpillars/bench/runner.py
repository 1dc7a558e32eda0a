"""``mlpillars bench``: run a suite through pytest-benchmark into a results folder.

The folder (default ``reports/<run-id>/``; layout in :mod:`mlpillars.bench.run_folder`) gets
the run's plan, environment record, case rows (each on disk as soon as its case finishes),
peaks and pytest-benchmark's JSON of each session. The report is made apart from the run
(``mlpillars report``, or ``mlpillars bench --report``, which runs both).
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from ..backends import ENV_VARIABLE
from .cases import SUITES, backend_specs, plan_cases
from .environment import write_environment
from .peaks import write_peaks
from .report.text import format_seconds
from .results import read_rows
from .run_folder import (
    BENCHMARK_FILES,
    CASES_FILE,
    ENVIRONMENT_FILE,
    ERROR,
    OK,
    PEAKS_FILE,
    PLAN_FILE,
    SKIPPED,
    UNTRACEABLE,
    WRONG,
    benchmark_file,
    needs_rerun,
)

DEFAULT_REPORTS = Path("reports")
STATUS_MARKS = {WRONG: "✗", SKIPPED: "-", ERROR: "!", UNTRACEABLE: "untraceable"}
"""How the summary table marks a case that was not timed."""


@dataclass(frozen=True)
class RunPlan:
    """What a run was asked to do; saved so that ``--resume`` can finish it."""

    suite: str
    backends: list[str] | None
    kernels: list[str] | None


def run_bench(
    console: Console,
    *,
    suite: str = "quick",
    backends: Sequence[str] | None = None,
    kernels: Sequence[str] | None = None,
    out: Path | None = None,
    resume: bool = False,
) -> int:
    """Run (or finish) a benchmark into a run folder.

    Parameters
    ----------
    console : rich.console.Console
        Where the progress bar and the summary table go.
    suite : str
        A suite of :data:`mlpillars.bench.cases.SUITES`.
    backends, kernels : sequence of str, optional
        Backend and kernel names to run (default: every available backend, the suite's
        kernels).
    out : Path, optional
        The run folder (default: see :func:`choose_run_folder`).
    resume : bool
        Finish the interrupted run in ``out`` with the plan saved there.

    Returns
    -------
    int
        0 when no case was wrong or failed and the run was not interrupted (skipped cases
        are fine), else 1.
    """
    out = choose_run_folder(out, resume=resume, suite=suite)
    plan = effective_plan(
        _load_or_save_plan(out, RunPlan(suite, _list(backends), _list(kernels)), resume)
    )
    total = len(plan_cases(SUITES[plan.suite], plan.backends, plan.kernels))
    write_environment(out / ENVIRONMENT_FILE)
    console.print(f"[bold]mlpillars bench[/bold] suite={plan.suite}: {total} cases -> {out}")
    session = 1 + len(list(out.glob(BENCHMARK_FILES)))
    with _without_selection(), _progress(console) as progress:
        exit_code = pytest.main(
            _pytest_arguments(plan, out, session, resume), plugins=[_ProgressPlugin(progress)]
        )
    rows = read_rows(out / CASES_FILE) if (out / CASES_FILE).exists() else []
    if not (out / PEAKS_FILE).exists():
        console.print("measuring the machine's peaks (matrix product, copy) ...")
        write_peaks(out / PEAKS_FILE, backend_specs(SUITES[plan.suite], plan.backends))
    console.print(summary_table(rows))
    finished = {row["id"] for row in rows if not needs_rerun(row)}
    if exit_code == pytest.ExitCode.INTERRUPTED or len(finished) < total:
        console.print(f"[yellow]unfinished: resume with  mlpillars bench --resume --out {out}")
    console.print(f"results: {out}")
    return 0 if exit_code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED) else 1


def effective_plan(plan: RunPlan) -> RunPlan:
    """With ``MLPILLARS_BACKEND`` set and no ``--backends``: that backend plus the baselines
    and peers."""
    selected = os.environ.get(ENV_VARIABLE, "").strip()
    if not selected or plan.backends is not None:
        return plan
    return RunPlan(plan.suite, [selected.partition(":")[0]], plan.kernels)


def summary_table(rows: list[dict[str, Any]]) -> Table:
    """One line per kernel, size and dtype: the fastest implementation and each one's time."""
    table = Table(title="median time per call (fastest first); ✗ wrong, - skipped, ! error")
    for column in ("kernel", "size", "dtype", "fastest", "implementations"):
        table.add_column(column)
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rows:
        kernel = row["kernel"] + (f" ({row['variant']})" if row.get("variant") else "")
        groups.setdefault((kernel, row["size"], row["dtype"]), []).append(row)
    for (kernel, size, dtype), group in groups.items():
        timed = sorted((r for r in group if r.get("status") == OK), key=lambda r: r["median"])
        others = [r for r in group if r.get("status") != OK]
        cells = [f"{r['implementation']} {format_seconds(r['median'])}" for r in timed]
        cells += [f"{r['implementation']} {STATUS_MARKS.get(r.get('status'), '?')}" for r in others]
        fastest = timed[0]["implementation"] if timed else "-"
        table.add_row(kernel, str(size), dtype, fastest, ", ".join(cells))
    return table


def _list(names: Sequence[str] | None) -> list[str] | None:
    return list(names) if names else None


def choose_run_folder(out: Path | None, *, resume: bool, suite: str) -> Path:
    """The run folder, created if missing.

    ``out`` when given; else, with ``resume``, the latest run under ``reports/``; else a new
    ``reports/<UTC time>-<suite>/``.

    Raises
    ------
    SystemExit
        ``resume`` without ``out`` and no earlier run under ``reports/``.
    """
    if out is None and resume:
        candidates = sorted(DEFAULT_REPORTS.glob(f"*/{PLAN_FILE}"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            raise SystemExit("mlpillars bench --resume: no earlier run under reports/; use --out")
        return candidates[-1].parent
    if out is None:
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{suite}"
        out = DEFAULT_REPORTS / run_id
    out.mkdir(parents=True, exist_ok=True)
    return out


def _load_or_save_plan(out: Path, requested: RunPlan, resume: bool) -> RunPlan:
    plan_path = out / PLAN_FILE
    if resume:
        if not plan_path.exists():
            raise SystemExit(f"mlpillars bench --resume: {plan_path} not found")
        return RunPlan(**json.loads(plan_path.read_text()))
    if (out / CASES_FILE).exists():
        raise SystemExit(f"{out} already holds results: use --resume, or another --out")
    plan_path.write_text(json.dumps(asdict(requested), indent=2))
    return requested


def _pytest_arguments(plan: RunPlan, out: Path, session: int, resume: bool) -> list[str]:
    suites = Path(__file__).parent / "suites"
    arguments = [
        str(suites),
        "-p",
        "no:terminal",
        "-p",
        "no:cacheprovider",
        "-o",
        "addopts=",
        f"--rootdir={suites}",
        f"--benchmark-json={out / benchmark_file(session)}",
        f"--mlpillars-suite={plan.suite}",
        f"--mlpillars-results={out / CASES_FILE}",
    ]
    if plan.backends:
        arguments.append(f"--mlpillars-backends={','.join(plan.backends)}")
    if plan.kernels:
        arguments.append(f"--mlpillars-kernels={','.join(plan.kernels)}")
    if resume:
        arguments.append("--mlpillars-skip-done")
    return arguments


@contextmanager
def _without_selection():
    """The cases choose their own backends; a selected one would move every input. A run
    started inside a pytest-xdist worker (the tests) is itself one serial session:
    pytest-benchmark would disable every benchmark on seeing ``PYTEST_XDIST_WORKER``."""
    hidden = (ENV_VARIABLE, "PYTEST_XDIST_WORKER")
    saved = {name: os.environ.pop(name) for name in hidden if name in os.environ}
    try:
        yield
    finally:
        os.environ.update(saved)


@contextmanager
def _progress(console: Console):
    progress = Progress(
        TextColumn("case"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    with progress:
        yield progress


class _ProgressPlugin:
    """Feeds pytest's progress into the rich progress bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("collecting", total=None)
        self.started = time.perf_counter()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.progress.update(self.task, total=len(session.items), description="")

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.progress.update(self.task, description=nodeid.rpartition("[")[2].rstrip("]"))

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.progress.advance(self.task)
