"""The ``mlpillars`` command: ``capabilities``, ``demo``, ``bench`` and ``report`` (the first
two in ``_cli_demo``)."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.text import Text

from ._cli_demo import capabilities_table, run_demo
from ._cli_options import (
    demo_size_option,
    devices_in_backends,
    empty_option,
    kernels_problem,
    option_names,
    options_beside_again,
    out_problem,
    processes_option,
)
from .backends import (
    ENV_VARIABLE,
    FRAMEWORKS,
    BackendNotInstalledError,
    NoGPUError,
    UnknownBackendError,
    selected_target,
)
from .examples import SMALLEST_SIZE

DEFAULT_SUITE = "quick"
DESCRIPTION = (
    "ML math kernels on NumPy, JAX, PyTorch, CuPy, Dask and array-api-strict: what this "
    "machine's backends can do, a check of every kernel on each, and benchmarks with reports."
)
"""What ``mlpillars --help`` says the command is (the module docstring is for developers)."""


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line; return the exit status."""
    parser = argparse.ArgumentParser(prog="mlpillars", description=DESCRIPTION)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("capabilities", help="list backends, devices and what each can do")
    demo = commands.add_parser("demo", help="run every kernel on every backend; compare results")
    demo.add_argument(
        "--size",
        type=demo_size_option,
        default=64,
        help=f"problem size, at least {SMALLEST_SIZE} (default 64)",
    )
    _add_bench_parser(commands)
    _add_report_parser(commands)
    arguments = parser.parse_args(argv)
    # wide enough for the tables when the output is a log rather than a terminal
    console = Console() if sys.stdout.isatty() else Console(width=160)
    try:
        return _run_command(console, arguments)
    except (UnknownBackendError, BackendNotInstalledError, NoGPUError) as exc:
        # e.g. a bad MLPILLARS_BACKEND: the message names the variable it came from
        console.print(Text(f"mlpillars {arguments.command}: {exc}", style="red"))
        return 2


def _run_command(console: Console, arguments: argparse.Namespace) -> int:
    if arguments.command == "capabilities":
        console.print(capabilities_table())
        _say_selection(console)  # a bad MLPILLARS_BACKEND raises: said in one line, rc 2
        return 0
    if arguments.command == "bench":
        return _bench(console, arguments)
    if arguments.command == "report":
        return _report(
            console,
            arguments.run_dir,
            compare=arguments.compare,
            formats=arguments.format,
            fail_on_regression=arguments.fail_on_regression,
        )
    return run_demo(console, size=arguments.size)


def _bench(console: Console, arguments: argparse.Namespace) -> int:
    """Run the benchmark; with ``--report``, then the report of its folder (whose paths are
    the last lines printed). The worse of the two exit statuses is returned."""
    from .bench.runner import RunFolderError, choose_run_folder, run_bench

    again = arguments.resume or arguments.rerun_disturbed
    suite = arguments.suite or DEFAULT_SUITE
    problem = empty_option(arguments)
    problem = problem or devices_in_backends(arguments.backends)
    problem = problem or kernels_problem(option_names(arguments.kernels), None if again else suite)
    if problem:
        console.print(Text(f"mlpillars bench: {problem}", style="red"))
        return 2
    requested, source = option_names(arguments.backends), ""
    if requested is None and not again:
        requested, source = _backend_from_variable(console), f" (from {ENV_VARIABLE})"
    if requested and not again:
        try:
            unusable = _unusable_backends(console, suite, requested)
        except UnknownBackendError as exc:
            console.print(Text(f"mlpillars bench: {exc}{source}", style="red"))
            return 2
        if unusable == len(requested):
            message = f"mlpillars bench: none of the requested backends can run{source}"
            console.print(Text(message, "red"))
            return 2
    problem = out_problem(arguments.out)  # last: it makes the folder
    if problem:
        console.print(Text(f"mlpillars bench: {problem}", style="red"))
        return 2
    try:
        out = choose_run_folder(arguments.out, resume=again, suite=suite)
        problem = _plan_problem(arguments, out) if again else None
    except RunFolderError as exc:
        console.print(Text(str(exc), style="red"))
        return 2
    if problem:
        console.print(Text(f"mlpillars bench: {problem}", style="red"))
        return 2
    with contextlib.ExitStack() as stack:
        try:  # with --processes, each process connects (or starts its cluster) itself
            if arguments.processes == 1:
                stack.enter_context(_dask_scheduler(arguments.scheduler))
        except (OSError, TimeoutError, ValueError) as exc:
            console.print(Text(f"mlpillars bench: --scheduler {arguments.scheduler}: {exc}", "red"))
            return 2
        try:
            status = run_bench(
                console,
                suite=suite,
                backends=option_names(arguments.backends),
                kernels=option_names(arguments.kernels),
                out=out,
                resume=arguments.resume,
                rerun_disturbed=arguments.rerun_disturbed,
                processes=arguments.processes,
                scheduler=arguments.scheduler,
            )
        except RunFolderError as exc:  # e.g. --out already holds results
            console.print(Text(str(exc), style="red"))
            return 2
        except KeyboardInterrupt:  # the cases' own Ctrl-C is the runner's; this is the rest
            console.print(f"[yellow]interrupted: resume with  mlpillars bench --resume --out {out}")
            return 130
    if not arguments.report:
        return status
    return max(status, _report(console, out))


def _plan_problem(arguments: argparse.Namespace, out: Path) -> str | None:
    """What ``--suite``, ``--kernels`` or ``--backends`` beside ``--resume`` or
    ``--rerun-disturbed`` asks that the plan saved in ``out`` does not (raises
    :class:`~mlpillars.bench.plan.RunFolderError` where ``out`` has no readable plan)."""
    from .bench.plan import read_plan

    if all(getattr(arguments, name) is None for name in ("suite", "kernels", "backends")):
        return None
    again = "resume" if arguments.resume else "rerun-disturbed"
    return options_beside_again(arguments, read_plan(out, again))


def _say_selection(console: Console) -> None:
    """Where ``MLPILLARS_BACKEND`` sends kernel calls, when it is set (raises as a kernel
    call would, for a value that names no backend or device here)."""
    target = selected_target(None)
    if target is not None:
        console.print(f"{ENV_VARIABLE}={os.environ[ENV_VARIABLE]}: kernels run on {target.spec}")


def _backend_from_variable(console: Console) -> list[str] | None:
    """The backend ``MLPILLARS_BACKEND`` names, as a run takes it (the suite's devices:
    a device in the variable is said to be left unused), or None where it is not set."""
    selected = os.environ.get(ENV_VARIABLE, "").strip()
    if not selected:
        return None
    name, _, device = selected.partition(":")
    if device:
        console.print(
            Text(
                f"{ENV_VARIABLE}={selected}: the run measures {name} on the suite's devices, "
                f"not on {device} alone",
                style="yellow",
            )
        )
    return [name]


def _dask_scheduler(spec: str | None) -> contextlib.AbstractContextManager[Any]:
    """The cluster Dask computes on during the run (``--scheduler``), or nothing."""
    if spec is None:
        return contextlib.nullcontext()
    return FRAMEWORKS["dask"].scheduler(spec)


def _unusable_backends(console: Console, suite_name: str, backends: list[str]) -> int:
    """Say which requested backends cannot run here and why; return how many."""
    from .bench.cases import SUITES, missing_backends

    missing = missing_backends(SUITES[suite_name], backends)
    for name, reason in missing.items():
        console.print(Text(f"backend {name} cannot run here: {reason}", style="yellow"))
    return len(missing)


def _report(console: Console, run_dir: Path, **options: Any) -> int:
    """The report of ``run_dir`` (``options`` as :func:`mlpillars.bench.report.make_report`
    takes them); 2 when a folder or file cannot be read."""
    from .bench.report import ReportError, make_report

    try:
        return make_report(run_dir, console=console, **options)
    except ReportError as exc:
        console.print(Text(f"mlpillars report: {exc}", style="red"))
        return 2


def _add_report_parser(commands: argparse._SubParsersAction) -> None:
    from .bench.text import parse_threshold

    report = commands.add_parser("report", help="Markdown and HTML report of a bench run")
    report.add_argument("run_dir", type=Path, help="a folder written by mlpillars bench")
    report.add_argument("--compare", type=Path, help="another run to compare against")
    report.add_argument("--format", default="md,html", help="md, html or md,html")
    report.add_argument(
        "--fail-on-regression",
        type=parse_threshold,
        metavar="PCT",
        help="exit 1 when a case is significantly slower by more than PCT (e.g. 10%%)",
    )


def _add_bench_parser(commands: argparse._SubParsersAction) -> None:
    from .bench.cases import SUITES

    bench = commands.add_parser("bench", help="run a benchmark suite into a results folder")
    bench.add_argument(
        "--suite", choices=sorted(SUITES), help=f"the cases' sizes (default {DEFAULT_SUITE})"
    )
    bench.add_argument("--backends", help="comma-separated backends (default: all available)")
    bench.add_argument("--kernels", help="comma-separated kernels (default: the suite's)")
    bench.add_argument("--out", type=Path, help="results folder (default reports/<run-id>/)")
    again = bench.add_mutually_exclusive_group()
    again.add_argument("--resume", action="store_true", help="finish an interrupted run")
    again.add_argument(
        "--rerun-disturbed",
        action="store_true",
        help="measure again the cases of the run in --out (default: the latest) that were "
        "measured on a busy machine; their new rows replace the old ones",
    )
    bench.add_argument(
        "--processes",
        type=processes_option,
        default=1,
        metavar="N",
        help="measure every case in N fresh processes, one after another, and pool their "
        "rounds (as pyperf does; default 1; --resume and --rerun-disturbed keep the run's)",
    )
    bench.add_argument("--report", action="store_true", help="make the report at the end")
    bench.add_argument(
        "--scheduler",
        help="run Dask on a dask.distributed cluster: local:N (N worker processes) or a "
        "scheduler address such as tcp://host:8786",
    )


if __name__ == "__main__":
    sys.exit(main())
