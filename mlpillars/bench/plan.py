"""A run's plan: what ``mlpillars bench`` was asked to run, saved in the run folder's
:data:`~mlpillars.bench.run_folder.PLAN_FILE` so that ``--resume`` finishes it and
``--rerun-disturbed`` measures its disturbed cases again, whatever the options and
``MLPILLARS_BACKEND`` say then (``mlpillars bench`` refuses ``--suite``, ``--kernels`` or
``--backends`` beside them only where they differ from the plan).
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

from ..backends import ENV_VARIABLE
from .run_folder import CASES_FILE, PLAN_FILE


class RunFolderError(ValueError):
    """A run folder that cannot be started or taken up; the message says why and what to do
    (``mlpillars bench`` prints it in one line and exits 2)."""


@dataclass(frozen=True)
class RunPlan:
    """What a run was asked to do; saved so that ``--resume`` can finish it (and
    ``--rerun-disturbed`` measure its disturbed cases again)."""

    suite: str
    backends: list[str] | None
    kernels: list[str] | None
    processes: int = 1


def effective_plan(plan: RunPlan) -> RunPlan:
    """With ``MLPILLARS_BACKEND`` set and no ``--backends``: that backend plus the baselines
    and peers. A new run saves the plan so chosen: ``--resume`` finishes it whatever the
    variable then holds."""
    selected = os.environ.get(ENV_VARIABLE, "").strip()
    if not selected or plan.backends is not None:
        return plan
    return RunPlan(plan.suite, [selected.partition(":")[0]], plan.kernels, plan.processes)


def read_plan(out: Path, again: str) -> RunPlan:
    """The plan saved in the run folder ``out``, which ``--resume`` or ``--rerun-disturbed``
    (``again``) runs.

    Raises
    ------
    RunFolderError
        The folder has no plan, or one that is not a plan of mlpillars bench.
    """
    plan_path = out / PLAN_FILE
    if not plan_path.exists():
        raise RunFolderError(f"mlpillars bench --{again}: {plan_path} not found")
    try:
        content = json.loads(plan_path.read_text(encoding="utf-8"))
    except ValueError as exc:  # not JSON, or not text
        content, problem = None, str(exc)
    else:
        problem = _plan_problem(content)
    if problem:
        raise RunFolderError(
            f"mlpillars bench --{again}: {plan_path} is not a run plan of mlpillars bench "
            f"(an object with suite, backends, kernels, processes): {problem}"
        )
    return RunPlan(**{"backends": None, "kernels": None, **content})


def load_or_save_plan(out: Path, requested: RunPlan, again: str | None) -> RunPlan:
    """The plan of the run in ``out``: the saved one where the run is taken up again
    (``again``), else ``requested``, saved there.

    Raises
    ------
    RunFolderError
        A plan to take up is missing or unreadable, or a new run's ``out`` holds results.
    """
    if again is not None:
        return read_plan(out, again)
    if (out / CASES_FILE).exists():
        raise RunFolderError(
            f"mlpillars bench: {out} already holds results: use --resume, or another --out"
        )
    (out / PLAN_FILE).write_text(json.dumps(asdict(requested), indent=2))
    return requested


def _plan_problem(content: Any) -> str | None:
    """What keeps ``content`` from being a :class:`RunPlan`'s JSON, or None."""
    from .cases import SUITES

    if not isinstance(content, dict):
        return f"found {type(content).__name__}"
    unknown = sorted(set(content) - {field.name for field in fields(RunPlan)})
    if unknown:
        return f"unknown field(s) {', '.join(unknown)}"
    if content.get("suite") not in SUITES:
        return f"suite {content.get('suite')!r} is none of {', '.join(SUITES)}"
    for name in ("backends", "kernels"):
        names = content.get(name)
        if names is not None and not (
            isinstance(names, list) and all(isinstance(item, str) for item in names)
        ):
            return f"{name} is {names!r}, not a list of names"
    processes = content.get("processes", 1)
    if not isinstance(processes, int) or isinstance(processes, bool) or processes < 1:
        return f"processes is {processes!r}, not a positive integer"
    return None
