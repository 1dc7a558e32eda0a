"""``mlpillars bench --processes N``: each case measured in N fresh processes, rounds pooled.

One process carries its own state into every case it times: where its heap and arrays
happen to lie, its hash seed, the threads its libraries started, what an earlier case left
in the caches. Two processes on the same machine can differ by more than the rounds of one
do. As pyperf does, the run is repeated in fresh processes and their rounds are pooled, so
the intervals and tests of the report reflect the spread between processes too.

The parent runs ``python -m mlpillars.cli bench`` N times, one after another, each into a run
folder of its own, ``RUN/processes/1/`` ... (:data:`~.run_folder.PROCESSES_FOLDER`), each a
complete run (``--resume`` and ``--rerun-disturbed`` work on it). After each process the
parent pools the rows of every process into ``RUN/cases.jsonl`` (:func:`pool_rows`), so the
run folder reads as one run. ``--resume`` and ``--rerun-disturbed`` on the parent do the
same in every process folder, then pool again. The machine's peaks are measured once, by
the parent, and copied into each process folder.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import numpy as np
from rich.console import Console

from .results import read_rows
from .run_folder import (
    CASES_FILE,
    OK,
    PEAKS_FILE,
    PLAN_FILE,
    PROCESSES_FOLDER,
    WRONG,
    latest_rows,
)

RESUME, RERUN_DISTURBED = "resume", "rerun-disturbed"
"""How a run folder is taken up again (``None``: a new run)."""
PEAKS_GIVEN = "MLPILLARS_BENCH_PEAKS_GIVEN"
"""Set in each process's environment: its folder's peaks are the parent's, copied there (a
new run measures its own otherwise)."""


def run_in_processes(
    console: Console,
    out: Path,
    plan: Any,
    *,
    again: str | None = None,
    scheduler: str | None = None,
) -> tuple[bool, bool]:
    """Run ``plan`` in ``plan.processes`` fresh processes, then pool their rows.

    Parameters
    ----------
    console : rich.console.Console
        Where each process is announced (the processes print their own progress).
    out : Path
        The run folder; the processes' folders go under ``out / PROCESSES_FOLDER``.
    plan : RunPlan
        Suite, backends, kernels and the number of processes.
    again : {None, "resume", "rerun-disturbed"}
        A new run, or what to do again in each process's folder.
    scheduler : str, optional
        ``--scheduler`` for each process.

    Returns
    -------
    (bool, bool)
        Whether every process exited 0, and whether the run was interrupted.
    """
    folders = process_folders(out, plan.processes)
    completed, interrupted = True, False
    for number, folder in enumerate(folders, start=1):
        console.print(f"[bold]process {number} of {len(folders)}[/bold] -> {folder}")
        _copy_peaks(out, folder, again)
        try:
            status = subprocess.run(
                _command(folder, plan, again, scheduler), env=_environment(), check=False
            ).returncode
        except KeyboardInterrupt:
            completed, interrupted = False, True
        else:
            completed &= status == 0
        write_pooled(out, folders)
        if interrupted:
            break
    return completed, interrupted


def process_folders(out: Path, processes: int) -> list[Path]:
    """``out/processes/1`` ... ``out/processes/N``."""
    return [out / PROCESSES_FOLDER / str(number) for number in range(1, processes + 1)]


def write_pooled(out: Path, folders: list[Path]) -> list[dict[str, Any]]:
    """Pool the rows of the processes' folders into ``out``'s results log (replaced at once,
    never half-written); return the pooled rows."""
    runs = [read_rows(folder / CASES_FILE) for folder in folders if (folder / CASES_FILE).exists()]
    rows = pool_rows(runs)
    if not rows:
        return rows
    path = out / CASES_FILE
    partial = path.with_name(path.name + ".partial")
    partial.write_text("".join(json.dumps(row, allow_nan=True) + "\n" for row in rows))
    os.replace(partial, path)
    return rows


def pool_rows(runs: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One row per case from the rows of several processes.

    Per case id (each process's latest row of it): a wrong result in any process makes the
    case wrong (that row is kept, never hidden by the others); otherwise the timed rows are
    pooled: their ``rounds`` joined in process order, the ``median`` of all of them,
    ``processes`` (how many were pooled) and ``process_medians``, ``disturbed`` when any one
    was, the ``load`` of the process whose other processes' load was highest, and the
    ``alternated`` rounds joined per earlier case. A case no process timed keeps the
    first process's row.

    Parameters
    ----------
    runs : list of list of dict
        The rows of each process's results log, in process order.
    """
    latest = [{row["id"]: row for row in latest_rows(rows)} for rows in runs]
    ids = list(dict.fromkeys(case for rows in latest for case in rows))
    return [_pool([rows[case] for rows in latest if case in rows]) for case in ids]


def _pool(rows: list[dict[str, Any]]) -> dict[str, Any]:
    wrong = [row for row in rows if row.get("status") == WRONG]
    timed = [row for row in rows if row.get("status") == OK]
    if wrong or not timed:
        return {**(wrong or rows)[0], "processes": len(rows)}
    rounds = [seconds for row in timed for seconds in row["rounds"]]
    loads = [row for row in timed if isinstance(row.get("load"), dict)]
    pooled = {
        **timed[0],
        "rounds": rounds,
        "median": float(np.median(rounds)),
        "processes": len(timed),
        "process_medians": [float(row["median"]) for row in timed],
        "disturbed": any(row.get("disturbed") is True for row in timed),
        "started": min(str(row.get("started", "")) for row in timed),
        "finished": max(str(row.get("finished", "")) for row in timed),
    }
    if loads:
        pooled["load"] = max(loads, key=lambda row: row["load"].get("other_cores") or 0.0)["load"]
    alternated = _pooled_alternated(timed)
    if alternated:
        pooled["alternated"] = alternated
    return pooled


def _pooled_alternated(timed: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rounds a case was timed in alternately with an earlier one (:mod:`.interleaved`),
    per earlier case: each process's rounds joined in process order."""
    pooled: dict[str, dict[str, Any]] = {}
    for row in timed:
        for pair in row.get("alternated", ()):
            joined = pooled.setdefault(
                pair["with"], {"with": pair["with"], "with_rounds": [], "rounds": []}
            )
            joined["with_rounds"] += pair["with_rounds"]
            joined["rounds"] += pair["rounds"]
    return list(pooled.values())


def _command(folder: Path, plan: Any, again: str | None, scheduler: str | None) -> list[str]:
    """The ``mlpillars bench`` command line of one process."""
    command = [sys.executable, "-m", "mlpillars.cli", "bench", "--out", str(folder)]
    if again is not None and (folder / PLAN_FILE).exists():
        command.append("--resume" if again == RESUME else "--rerun-disturbed")
    else:
        command += ["--suite", plan.suite]
        if plan.backends:
            command += ["--backends", ",".join(plan.backends)]
        if plan.kernels:
            command += ["--kernels", ",".join(plan.kernels)]
    if scheduler:
        command += ["--scheduler", scheduler]
    return command


def _environment() -> dict[str, str]:
    """This environment, with this mlpillars first on the path, so that each process runs the
    same code as the parent, wherever it was started from."""
    source = str(Path(__file__).resolve().parents[2])
    path = os.environ.get("PYTHONPATH")
    return {
        **os.environ,
        "PYTHONPATH": source + (os.pathsep + path if path else ""),
        PEAKS_GIVEN: "1",
    }


def _copy_peaks(out: Path, folder: Path, again: str | None) -> None:
    """The parent's peaks into a process's folder: measured once, not once per process (a
    new run replaces any peaks left there; a run taken up again keeps the folder's)."""
    folder.mkdir(parents=True, exist_ok=True)
    if (out / PEAKS_FILE).exists() and (again is None or not (folder / PEAKS_FILE).exists()):
        shutil.copyfile(out / PEAKS_FILE, folder / PEAKS_FILE)
