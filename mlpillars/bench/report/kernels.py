"""One section per kernel (table, time plot, speed-up chart) and the roofline section."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..run_folder import OK, PLOTS_FOLDER, PYTHON
from ..text import (
    NONE,
    mebibytes,
    number,
    percent,
    ratio_interval,
    rounds,
    seconds_interval,
)
from .analysis import GFLOPS, NUMPY, CaseFigures, RunAnalysis, size_label
from .captions import ROOFLINE_CAPTION, SPEEDUP_CAPTION, TIME_CAPTION
from .conditions import BUSY, busy_mark
from .document import Block, Heading, Image, Paragraph, Table
from .natives import native_table
from .plots import RooflinePoint, roofline_plot, speedup_plot, time_plot
from .stats import NOISE_LIMIT, Estimate, relative_iqr


def kernel_sections(analysis: RunAnalysis, folder: Path, colours: dict) -> list[Block]:
    """A section for every kernel of the run, its charts drawn into ``folder/plots``.

    Parameters
    ----------
    analysis : RunAnalysis
        The run's figures.
    folder : Path
        The run folder; the charts go into its
        :data:`~mlpillars.bench.run_folder.PLOTS_FOLDER`.
    colours : dict
        Implementation (or roof) name -> the colour it has in every chart.
    """
    blocks: list[Block] = [Heading("Kernels", 2)]
    for kernel in analysis.kernels:
        blocks += _kernel_section(analysis, kernel, folder, colours)
    return blocks


def roofline_section(analysis: RunAnalysis, folder: Path, colours: dict) -> list[Block]:
    """Achieved GFLOP/s of each kernel against its intensity, under the measured roofs."""
    blocks: list[Block] = [Heading("Roofline: achieved fraction of the machine's peaks", 2)]
    if not analysis.roofs:
        return [*blocks, Paragraph("No peaks were measured for this run: no roofline.")]
    points, rows = [], []
    for kernel in analysis.kernels:
        best = _best_at_largest(analysis, kernel)
        if best is None:
            continue
        points += _points(analysis, kernel)
        rows.append(_roofline_row(kernel, best))
    image = f"{PLOTS_FOLDER}/roofline.png"
    machine = [roof for roof in (analysis.machine_roof, analysis.gpu_roof) if roof is not None]
    roofline_plot(points, analysis.roofs, machine, colours, folder / image)
    blocks += [
        Paragraph(
            "Each point is one implementation of one kernel at its largest size: achieved "
            "GFLOP/s (work model FLOPs / median time) against arithmetic intensity (work model "
            "FLOPs / bytes). Dashed lines are each backend's measured roof, min(peak GFLOP/s, "
            "intensity × peak GB/s); the solid black line is the machine's roof (best GEMM and "
            "best copy of any backend), which the percentages below refer to. Above 100 %: the "
            "working set fits in a cache, faster than the large copy that set the roof."
        ),
        Image(image, "roofline: achieved GFLOP/s against arithmetic intensity", ROOFLINE_CAPTION),
        Table(
            (
                "kernel",
                "size",
                "intensity FLOP/B",
                "bound",
                "fastest",
                "GFLOP/s",
                "GB/s",
                "% of peak GFLOP/s",
                "% of peak GB/s",
                "% of roof",
            ),
            tuple(rows),
            "lrrllrrrrr",
        ),
    ]
    return blocks


def _kernel_section(analysis: RunAnalysis, kernel: str, folder: Path, colours: dict) -> list[Block]:
    metric, intensity, ridge = analysis.metric(kernel)
    bound = "compute-bound" if metric == GFLOPS else "memory-bound"
    rows = sorted(analysis.kernels[kernel], key=_table_order)
    blocks: list[Block] = [
        Heading(f"Kernel: {kernel}", 3),
        Paragraph(
            f"Rates in **{metric}**: arithmetic intensity {number(intensity)} FLOP/byte at the "
            f"largest size, against {_ridge_text(analysis, kernel, ridge)} ({bound}). "
            f"Speed-ups are median({NUMPY} or {PYTHON}) / median(this row), of the medians "
            "in this table (each case's own rounds): above 1 is faster. Where the two were "
            "also timed in alternating rounds, the cell adds *alternating*: the median of the "
            "per-round ratios of those rounds (their medians are in the table of native calls "
            "below), which the host's drift between the two cases cannot tilt; it can differ "
            "from the ratio of the medians timed apart, even in direction. "
            f"~ marks a noisy case (IQR above {NOISE_LIMIT:.0%} of the median), {BUSY} one "
            "measured on a busy machine (see Machine load)."
        ),
        Table(
            (
                "implementation",
                "size",
                "dtype",
                "status",
                "rounds",
                "median [95% CI]",
                metric,
                "% of roof",
                "IQR/median",
                f"vs {NUMPY}",
                f"vs {PYTHON}",
                "peak memory",
                "compile",
            ),
            tuple(_table_row(analysis, analysis.figures(row), metric) for row in rows),
            "lrllrrrrrrrrr",
        ),
        *native_table(analysis, kernel),
    ]
    if not any(row["status"] == OK for row in rows):
        return [*blocks, Paragraph("No case of this kernel was timed: no charts.")]
    time_image = f"{PLOTS_FOLDER}/time-{kernel}.png"
    time_plot(analysis, kernel, colours, folder / time_image)
    blocks.append(Image(time_image, f"{kernel}: median time against size, log-log", TIME_CAPTION))
    blocks += _speedup_chart(analysis, kernel, folder, colours)
    return blocks


def _ridge_text(analysis: RunAnalysis, kernel: str, ridge: float) -> str:
    """``a ridge point of 3.02 FLOP/byte``, or, where no peaks measured it, says that it is
    assumed."""
    if analysis.measured_ridge(kernel) is not None:
        return f"a ridge point of {number(ridge)} FLOP/byte"
    return (
        f"an assumed ridge point of {number(ridge)} FLOP/byte, a typical CPU's, as no peaks "
        "of this kernel's device were measured (see Machine limits)"
    )


def _speedup_chart(analysis: RunAnalysis, kernel: str, folder: Path, colours: dict) -> list[Block]:
    ran = sorted({r["implementation"] for r in analysis.kernels[kernel] if r["status"] == OK})
    key = analysis.largest_common_size(kernel, ran)
    if key is None or NUMPY not in ran or len(ran) < 2:
        return [Paragraph(f"No speed-up chart: no size at which {NUMPY} and the others all ran.")]
    speedups = []
    for name in ran:
        estimate = analysis.figures(analysis.row_for(key, name)).vs_numpy
        if estimate is not None:
            speedups.append((name, estimate))
    image = f"{PLOTS_FOLDER}/speedup-{kernel}.png"
    label = f"size {size_label(key)}"
    speedup_plot(kernel, label, speedups, colours, folder / image)
    alt = f"{kernel}: speed-up over NumPy at {label}, the largest size all ran"
    return [Image(image, alt, SPEEDUP_CAPTION)]


def _table_order(row: dict[str, Any]) -> tuple:
    timed = row["status"] == OK
    variant = str(row.get("variant") or "")
    return variant, row["size"], str(row.get("dtype")), not timed, row.get("median") or math.inf


def _table_row(analysis: RunAnalysis, figures: CaseFigures, metric: str) -> tuple[str, ...]:
    row = figures.row
    variant = f" ({row['variant']})" if row.get("variant") else ""
    head = (row["implementation"], f"{row['size']}{variant}", str(row.get("dtype", NONE)))
    if figures.time is None:
        return (*head, _status(row), *[NONE] * 9)
    rate = figures.gflops if metric == GFLOPS else figures.gbps
    noise = relative_iqr(row["rounds"])
    return (
        *head,
        OK,
        rounds(figures.time) + _processes(row),
        seconds_interval(figures.time) + (" ~" if figures.noisy else "") + busy_mark(row),
        number(rate),
        percent(figures.roof_fraction),
        percent(noise) + (" noisy" if figures.noisy else ""),
        _speedup_cell(analysis, figures.vs_numpy, row, NUMPY),
        _speedup_cell(analysis, figures.vs_python, row, PYTHON),
        _memory(row),
        _compile(row),
    )


def _speedup_cell(
    analysis: RunAnalysis, speedup: Estimate | None, row: dict[str, Any], reference: str
) -> str:
    """The speed-up over ``reference`` from the two medians of the table, then, where the
    two were timed in alternating rounds, ``; alternating 1.25× [0.77, 1.6]`` from those."""
    alternated = analysis.alternated_speedup(row, reference)
    if alternated is None:
        return ratio_interval(speedup)
    return f"{ratio_interval(speedup)}; alternating {ratio_interval(alternated)}"


def _processes(row: dict[str, Any]) -> str:
    """`` in 3 processes`` after the rounds of a case pooled from fresh processes."""
    count = row.get("processes")
    return f" in {count} processes" if isinstance(count, int) and count > 1 else ""


def _status(row: dict[str, Any]) -> str:
    reason = str(row.get("reason") or "")
    if len(reason) > 160:
        reason = reason[:157] + "..."
    text = f"{row['status']}: {reason}" if reason else row["status"]
    if row.get("estimate_seconds"):
        text += f" (pure-Python estimate {number(row['estimate_seconds'])} s per call)"
    return text


def _memory(row: dict[str, Any]) -> str:
    host = row.get("peak_host_increase_bytes")
    text = f"host +{mebibytes(host)}" if host is not None else NONE
    device = row.get("device_peak_bytes") or {}
    if isinstance(device, dict) and device:
        text += "; device " + ", ".join(f"{mebibytes(b)} ({name})" for name, b in device.items())
    return text


def _compile(row: dict[str, Any]) -> str:
    """Compile time (first call less a steady call), the first call, and the compiler."""
    seconds = row.get("compile_seconds")
    if not seconds:
        return NONE
    details = [row["notes"]] if row.get("notes") else []
    if row.get("first_call_seconds"):
        details.append(f"first call {number(row['first_call_seconds'])} s")
    return f"{number(seconds)} s" + (f" ({'; '.join(details)})" if details else "")


def _best_at_largest(analysis: RunAnalysis, kernel: str) -> CaseFigures | None:
    timed = [analysis.figures(r) for r in analysis.kernels[kernel] if r["status"] == OK]
    timed = [figures for figures in timed if figures.gflops is not None]
    if not timed:
        return None
    largest = max(figures.row["size"] for figures in timed)
    at_largest = [figures for figures in timed if figures.row["size"] == largest]
    return max(at_largest, key=lambda figures: figures.gflops)


def _points(analysis: RunAnalysis, kernel: str) -> list[RooflinePoint]:
    """Every implementation of ``kernel`` at the largest size it ran."""
    largest: dict[str, CaseFigures] = {}
    for row in analysis.kernels[kernel]:
        figures = analysis.figures(row)
        if figures.gflops is None or figures.intensity is None:
            continue
        held = largest.get(row["implementation"])
        if held is None or row["size"] > held.row["size"]:
            largest[row["implementation"]] = figures
    return [
        RooflinePoint(kernel, name, figures.intensity, figures.gflops)
        for name, figures in largest.items()
    ]


def _roofline_row(kernel: str, best: CaseFigures) -> tuple[str, ...]:
    roof = best.roof
    bound = NONE
    if roof is not None and best.intensity is not None:
        bound = "compute" if best.intensity >= roof.ridge else "memory"
    return (
        kernel,
        f"{best.row['size']} {best.row.get('dtype', '')}",
        number(best.intensity),
        bound,
        best.row["implementation"],
        number(best.gflops),
        number(best.gbps),
        percent(best.gflops / roof.gflops) if roof and best.gflops else NONE,
        percent(best.gbps / roof.gbps) if roof and best.gbps else NONE,
        percent(best.roof_fraction),
    )
