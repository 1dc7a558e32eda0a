"""``mlpillars bench``: run a suite through pytest-benchmark into a results folder.

The folder (default ``reports/<run-id>/``; layout in :mod:`mlpillars.bench.run_folder`) gets
the run's plan, environment record, case rows (each on disk as soon as its case finishes),
peaks and pytest-benchmark's JSON of each session. The report is made apart from the run
(``mlpillars report``, or ``mlpillars bench --report``, which runs both).

A run is taken up again with ``--resume`` (the cases not finished) or ``--rerun-disturbed``
(the cases measured on a busy machine, :mod:`mlpillars.bench.disturbance`), and measured in
several fresh processes with ``--processes N`` (:mod:`mlpillars.bench.processes`).
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from ..backends import ENV_VARIABLE, full_float32_products, one_device_per_cpu
from .cases import SUITES, backend_specs, plan_cases
from .peaks import write_peaks
from .plan import RunFolderError, RunPlan, effective_plan, load_or_save_plan
from .processes import PEAKS_GIVEN, RERUN_DISTURBED, RESUME, run_in_processes
from .progress import ProgressPlugin, progress_bar
from .results import ResultsLog, read_rows
from .run_folder import (
    CASES_FILE,
    PEAKS_FILE,
    PLAN_FILE,
    PLANNED_FILE,
    benchmark_file,
    finished_ids,
    is_disturbed,
    latest_rows,
)
from .sessions import cases_again, nothing_again, record_environment, session_number
from .summary import say_disturbed, summary_table, wrong_peers_alone

DEFAULT_REPORTS = Path("reports")


def run_bench(
    console: Console,
    *,
    suite: str = "quick",
    backends: Sequence[str] | None = None,
    kernels: Sequence[str] | None = None,
    out: Path | None = None,
    resume: bool = False,
    rerun_disturbed: bool = False,
    processes: int = 1,
    scheduler: str | None = None,
) -> int:
    """Run (or finish, or measure again) a benchmark into a run folder.

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
    rerun_disturbed : bool
        Measure again the cases of the run in ``out`` that were measured on a busy machine
        (with the plan saved there); their new rows replace the old ones in the report.
    processes : int
        Measure every case in this many fresh processes and pool their rounds (a new run
        only: a resumed run keeps its plan's).
    scheduler : str, optional
        The ``--scheduler`` the processes of a ``processes > 1`` run are given.

    Returns
    -------
    int
        0 when no case was wrong or failed and the run was not interrupted (skipped cases
        are fine; a case measured on a busy machine is a warning, not a failure; so is a
        peer's result beyond the tolerance, where it is the only thing wrong), else 1.
    """
    full_float32_products()  # one precision for every backend (JAX's GPU default is TF32)
    one_device_per_cpu()  # JAX's jitted programs run on one core of a CPU device
    again = RESUME if resume else RERUN_DISTURBED if rerun_disturbed else None
    out = choose_run_folder(out, resume=again is not None, suite=suite)
    requested = effective_plan(RunPlan(suite, _list(backends), _list(kernels), processes))
    plan = effective_plan(load_or_save_plan(out, requested, again))  # an old plan: no backends
    if again is not None and (out / CASES_FILE).exists():
        _check_results_log(out / CASES_FILE, again)
    if again is None:
        _drop_left_peaks(console, out)
    cases = plan_cases(SUITES[plan.suite], plan.backends, plan.kernels)
    total = len(cases)
    _save_planned(out, cases)
    used = {case.implementation.backend.partition(":")[0] for case in cases}
    what = _what(out, plan, again, total)
    console.print(f"[bold]mlpillars bench[/bold] suite={plan.suite}: {what}")
    left = again is None or bool(cases_again(cases, ResultsLog(out / CASES_FILE), again))
    session = session_number(out)
    if left or plan.processes > 1:  # a session that measures nothing records nothing
        record_environment(console, out, session, used | set(plan.backends or ()))
    if plan.processes > 1:
        _ensure_peaks(console, out, plan)  # once, copied into each process's folder
        completed, interrupted = run_in_processes(
            console, out, plan, again=again, scheduler=scheduler
        )
    else:
        if left:
            completed, interrupted = _run_session(console, out, plan, again, session)
        else:  # pytest-benchmark would leave an empty JSON file
            console.print(nothing_again(again, total))
            completed, interrupted = True, False
        _ensure_peaks(console, out, plan)
    rows = latest_rows(read_rows(out / CASES_FILE)) if (out / CASES_FILE).exists() else []
    console.print(summary_table(rows))
    finished = finished_ids(rows)
    if interrupted or len(finished) < total:
        console.print(f"[yellow]unfinished: resume with  mlpillars bench --resume --out {out}")
    say_disturbed(console, rows, out)
    wrong_peers = [] if completed or interrupted else wrong_peers_alone(rows, finished, total)
    if wrong_peers:
        console.print(
            f"[yellow]{len(wrong_peers)} peer case(s) beyond the tolerance, in the peer's own "
            f"computation (the report's agreement table): {', '.join(wrong_peers)}"
        )
    console.print(f"results: {out}")
    return 0 if completed or wrong_peers else 1


def _run_session(
    console: Console, out: Path, plan: RunPlan, again: str | None, session: int
) -> tuple[bool, bool]:
    """Session ``session``: one pytest session of the plan's cases (those left, taken up
    ``again``); whether it completed, and whether it was interrupted."""
    with _without_selection(), progress_bar(console) as progress:
        exit_code = pytest.main(
            _pytest_arguments(plan, out, session, again), plugins=[ProgressPlugin(progress)]
        )
    completed = exit_code in (pytest.ExitCode.OK, pytest.ExitCode.NO_TESTS_COLLECTED)
    return completed, exit_code == pytest.ExitCode.INTERRUPTED


def _save_planned(out: Path, cases: Sequence[Any]) -> None:
    """The ids of the plan's cases on this machine, for the report to tell an unfinished run
    (it reads them without the catalogue: see ``run_folder.missing_cases``)."""
    planned = {"cases": [case.id for case in cases]}
    (out / PLANNED_FILE).write_text(json.dumps(planned, indent=1))


def _what(out: Path, plan: RunPlan, again: str | None, total: int) -> str:
    """The run's first line: how many cases, how many processes, where to."""
    if again == RERUN_DISTURBED:
        rows = latest_rows(read_rows(out / CASES_FILE)) if (out / CASES_FILE).exists() else []
        what = f"{sum(map(is_disturbed, rows))} of {total} cases measured on a busy machine, again"
    else:
        what = f"{total} cases"
    if plan.processes > 1:
        what += f", each in {plan.processes} fresh processes"
    return f"{what} -> {out}"


def _drop_left_peaks(console: Console, out: Path) -> None:
    """A new run measures its own peaks: peaks left in its folder (from another run, another
    machine) would be the report's roofs. Those a ``--processes`` parent copied stay."""
    if (out / PEAKS_FILE).exists() and not os.environ.get(PEAKS_GIVEN):
        console.print(f"[yellow]{out / PEAKS_FILE} is not this run's: it measures its own")
        (out / PEAKS_FILE).unlink()


def _ensure_peaks(console: Console, out: Path, plan: RunPlan) -> None:
    if not (out / PEAKS_FILE).exists():
        console.print("measuring the machine's peaks (matrix product, copy) ...")
        write_peaks(out / PEAKS_FILE, backend_specs(SUITES[plan.suite], plan.backends))


def _list(names: Sequence[str] | None) -> list[str] | None:
    return list(names) if names else None


def choose_run_folder(out: Path | None, *, resume: bool, suite: str) -> Path:
    """The run folder, created if missing.

    ``out`` when given; else, with ``resume`` (``--resume`` or ``--rerun-disturbed``), the
    latest run under ``reports/``; else a new ``reports/<UTC time>-<suite>/``.

    Raises
    ------
    RunFolderError
        ``resume`` without ``out`` and no earlier run under ``reports/``.
    """
    if out is None and resume:
        candidates = sorted(DEFAULT_REPORTS.glob(f"*/{PLAN_FILE}"), key=lambda p: p.stat().st_mtime)
        if not candidates:
            raise RunFolderError(
                "mlpillars bench: no earlier run under reports/ to take up; use --out"
            )
        return candidates[-1].parent
    if out is None:
        run_id = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ") + f"-{suite}"
        out = DEFAULT_REPORTS / run_id
    out.mkdir(parents=True, exist_ok=True)
    return out


def _check_results_log(path: Path, again: str) -> None:
    """Read the results log before a run takes it up: a line that is not a case row (not
    a torn last line, which is run again) stops the run with its file and line."""
    try:
        read_rows(path)
    except ValueError as exc:
        raise RunFolderError(
            f"mlpillars bench --{again}: {exc}; repair or remove that line, then run again"
        ) from exc


def _pytest_arguments(plan: RunPlan, out: Path, session: int, again: str | None) -> list[str]:
    suites = Path(__file__).parent / "suites"
    arguments = [
        str(suites),
        "-p",
        "no:terminal",
        "-p",
        "no:cacheprovider",
        # Only the two plugins the run needs: the others an environment installs are no
        # part of a measurement (zarr's and hypothesis' here: a bare pytest started in
        # 4.3-5.0 s with them, 0.6 s without).
        # Ours by its module, not by the entry point an install registers: a checkout on
        # PYTHONPATH (as on a lent GPU machine) has no entry point.
        "--disable-plugin-autoload",
        "-p",
        "pytest_benchmark.plugin",
        "-p",
        "no:unraisableexception",  # its gc.collect() at the end: 1.8 s with torch and JAX
        "-p",
        "mlpillars.bench.plugin",
        "-o",
        "addopts=",
        f"--rootdir={suites}",
        f"--benchmark-json={out / benchmark_file(session)}",
        "--benchmark-quiet",  # not its "Wrote benchmark data in: <_io.BufferedWriter ...>"
        f"--mlpillars-suite={plan.suite}",
        f"--mlpillars-results={out / CASES_FILE}",
    ]
    if plan.backends:
        arguments.append(f"--mlpillars-backends={','.join(plan.backends)}")
    if plan.kernels:
        arguments.append(f"--mlpillars-kernels={','.join(plan.kernels)}")
    if again == RESUME:
        arguments.append("--mlpillars-skip-done")
    if again == RERUN_DISTURBED:
        arguments.append("--mlpillars-rerun-disturbed")
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
