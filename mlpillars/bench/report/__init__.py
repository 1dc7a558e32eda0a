"""``mlpillars report``: Markdown and HTML performance reports of a benchmark results folder.

::

    make_report("reports/RUN")                                   # RUN/report.md, report.html
    make_report("reports/RUN", compare="reports/OLD", fail_on_regression=0.10)

The report, top to bottom: the run, a warning when cases were measured on a busy machine
(:mod:`.conditions`), and a table of contents; the answer (:mod:`.answer`: the fastest
implementation per kernel and size; in a ``targets`` run, :mod:`.targets`: each goal of the
targets table, measured and met or not; a speed-up heatmap, :mod:`.crossover` sizes); the
agreement with the float64 reference (:mod:`.agreement`); the machine's load while the cases
were measured (:mod:`.conditions`); the environment record, the
comparison with another run (when asked), the statistics policy (:mod:`.stats`), the
machine's measured peaks (``peaks.json``), the tutorial's "NumPy is 50-100x faster than
Python loops" claim beside the measurements, one section per kernel (table, folded; time
against size; speed-up chart) and the roofline. Charts are PNG files in ``RUN/plots/``, each
with a caption; the Markdown links them by relative path, the HTML embeds them, so
``report.html`` is one file that opens from disk.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path

from rich.console import Console
from rich.text import Text

from ..run_folder import REPORT_FILES
from ..text import parse_threshold
from .agreement import agreement_section
from .analysis import RunAnalysis
from .answer import answer_section
from .compare import (
    SELF_COMPARISON,
    Comparison,
    compare_runs,
    compared_with_itself,
    comparison_section,
)
from .conditions import disturbance_alert, load_section, processes_note
from .crossover import crossover_section
from .document import Block, Contents, collapse_tables
from .heatmap import heatmap_section
from .html import render_html
from .kernels import kernel_sections, roofline_section
from .limits import peaks_section
from .load import ReportError, RunData, load_run, unfinished_warning
from .markdown import render_markdown
from .plots import colour_map
from .sections import claim_section, environment_section, overview_section, policy_section
from .stats import FASTER, SAME, SLOWER
from .targets import targets_section

__all__ = ["FORMATS", "ReportError", "build_report", "make_report", "parse_threshold"]

FORMATS = REPORT_FILES
"""Output format -> file written into the run folder."""
LONG_TABLE = 8
"""A kernel's table of more rows than this is folded away until the reader opens it."""


def make_report(
    run_dir: str | Path,
    *,
    compare: str | Path | None = None,
    formats: str | Sequence[str] = ("md", "html"),
    fail_on_regression: float | str | None = None,
    console: Console | None = None,
) -> int:
    """Write the report of the results folder ``run_dir`` into that folder.

    Parameters
    ----------
    run_dir : str or Path
        A folder written by ``mlpillars bench``.
    compare : str or Path, optional
        Another results folder to compare with, case by case.
    formats : str or sequence of str
        ``"md"`` and/or ``"html"`` (a comma-separated string is accepted).
    fail_on_regression : float or str, optional
        A fraction (0.10 = 10 %), or a percentage as text (``"10%"``, see
        :func:`parse_threshold`): return 1 when any case is significantly slower than in
        ``compare`` by more than it. Needs ``compare``.
    console : rich.console.Console, optional
        Where to say what was written (default: standard error).

    Returns
    -------
    int
        0, or 1 when ``fail_on_regression`` found a regression.

    Raises
    ------
    ReportError
        A folder that is not a run, a corrupted, truncated or foreign file, an unknown format,
        ``fail_on_regression`` without ``compare``, or a report file or chart that cannot
        be written. The message names the file and the fault.
    """
    console = console or Console(stderr=True)
    chosen = _formats(formats)
    threshold = _threshold(fail_on_regression, compare)
    run = load_run(run_dir)
    if run.missing:
        console.print(Text(unfinished_warning(run), style="yellow"))
    comparison = compare_runs(run, load_run(compare)) if compare is not None else None
    if comparison is not None and compared_with_itself(comparison):
        console.print(Text(f"mlpillars report: {SELF_COMPARISON}", style="yellow"))
    for path in _write(run, build_report(run, comparison, threshold), chosen):
        console.print(f"report: {path}")
    return _exit_status(comparison, threshold, console)


def build_report(
    run: RunData, comparison: Comparison | None = None, threshold: float | None = None
) -> list[Block]:
    """The report's blocks, top to bottom; charts are drawn into ``run.path / "plots"``."""
    analysis = RunAnalysis(run.rows, run.peaks)
    colours = colour_map(analysis.implementations + sorted(analysis.roofs))
    blocks = [
        *overview_section(run),
        *processes_note(analysis.rows),
        *disturbance_alert(analysis.rows, run.path),
        Contents(),
        *answer_section(analysis),
        *targets_section(analysis),
        *heatmap_section(analysis, run.path),
        *crossover_section(analysis),
        *agreement_section(analysis.rows, run.environment),
        *load_section(analysis.rows),
        *environment_section(run.environment),
    ]
    if comparison is not None:
        blocks += comparison_section(comparison, threshold)
    kernels = kernel_sections(analysis, run.path, colours)
    blocks += [
        *policy_section(),
        *peaks_section(run, analysis),
        *claim_section(analysis),
        *collapse_tables(kernels, longer_than=LONG_TABLE),
        *roofline_section(analysis, run.path, colours),
    ]
    return blocks


def _threshold(value: float | str | None, compare: str | Path | None) -> float | None:
    if isinstance(value, str):
        try:
            value = parse_threshold(value)
        except argparse.ArgumentTypeError as exc:
            raise ReportError(f"fail_on_regression: {exc}") from None
    if value is not None and compare is None:
        raise ReportError("fail_on_regression needs a run to compare with (--compare)")
    return value


def _formats(formats: str | Sequence[str]) -> list[str]:
    names = formats.split(",") if isinstance(formats, str) else list(formats)
    chosen = [name.strip().lower() for name in names if name.strip()]
    unknown = sorted(set(chosen) - FORMATS.keys())
    if unknown or not chosen:
        raise ReportError(
            f"unknown report format(s) {', '.join(unknown) or '(none)'}; choose from "
            f"{', '.join(FORMATS)}"
        )
    return list(dict.fromkeys(chosen))  # md,md: one report.md


def _write(run: RunData, blocks: list[Block], formats: list[str]) -> list[Path]:
    written = []
    for name in formats:
        path = run.path / FORMATS[name]
        if name == "md":
            text = render_markdown(blocks)
        else:
            text = render_html(blocks, run.path, f"mlpillars report: {run.name}")
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise ReportError(f"{path}: cannot write the report ({exc.strerror})") from exc
        written.append(path)
    return written


def _exit_status(comparison: Comparison | None, threshold: float | None, console: Console) -> int:
    if comparison is None:
        return 0
    counts = comparison.counts()
    console.print(
        f"compared with {comparison.baseline.name}: {counts[SLOWER]} slower, "
        f"{counts[FASTER]} faster, {counts[SAME]} {SAME}"
    )
    if threshold is None:
        return 0
    if comparison.compared_nothing:
        console.print(
            f"[red]no case could be compared[/red] with {comparison.baseline.name} (no case "
            "id of one run has timed rounds in both): the regression gate fails"
        )
        return 1
    regressions = comparison.regressions(threshold)
    for case in regressions:
        busy = f" (measured on a busy machine in {case.disturbed_in})" if case.disturbed_in else ""
        console.print(
            f"[red]regression[/red] {case.case_id}: {case.verdict.ratio.value:.2f}x slower{busy}"
        )
    return 1 if regressions else 0
