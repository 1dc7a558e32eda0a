"""The report's charts: matplotlib figures drawn off-screen (Agg) and saved as PNG.

``matplotlib.figure.Figure`` is used directly, never pyplot, so that no global backend is
set and no window can open. One colour per implementation, from :func:`colour_map`, is kept
in every chart of a report.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib import colormaps
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import NullLocator

from ..run_folder import OK
from .analysis import NUMPY, Roof, RunAnalysis
from .load import ReportError
from .stats import Estimate

_LINESTYLES = ("-", "--", ":", "-.")
_MARKERS = "osD^vP*Xh<>p"
_DPI = 110


def colour_map(implementations: Sequence[str]) -> dict[str, tuple[float, ...]]:
    """One colour per implementation (sorted names; tab10, or tab20 beyond ten)."""
    names = sorted(set(implementations))
    palette = colormaps["tab10" if len(names) <= 10 else "tab20"]
    return {name: palette(index % palette.N) for index, name in enumerate(names)}


@dataclass(frozen=True)
class RooflinePoint:
    """One kernel's best achieved rate at its largest size, for the roofline chart."""

    kernel: str
    implementation: str
    intensity: float
    gflops: float


def time_plot(analysis: RunAnalysis, kernel: str, colours: dict, path: Path) -> None:
    """Median time against size, log-log, one line per implementation (and dtype)."""
    figure, axes = _figure((8.5, 5))
    rows = [row for row in analysis.kernels[kernel] if row["status"] == OK]
    dtypes = sorted({_series(row) for row in rows})
    styles = dict(zip(dtypes, _LINESTYLES * len(dtypes), strict=False))
    for (implementation, dtype), line in sorted(_lines(analysis, rows).items()):
        estimates = [figures.time for figures in line]
        axes.errorbar(
            [figures.row["size"] for figures in line],
            [estimate.value for estimate in estimates],
            yerr=_error_bars(estimates),
            color=colours[implementation],
            linestyle=styles[dtype],
            marker="o",
            markersize=4,
            capsize=2,
            label=implementation if len(dtypes) == 1 else f"{implementation} ({dtype})",
        )
    axes.set_xscale("log")
    axes.set_yscale("log")
    sizes = sorted({row["size"] for row in rows})
    axes.set_xticks(sizes, [str(size) for size in sizes])
    axes.xaxis.set_minor_locator(NullLocator())
    axes.set_xlabel("size (the kernel's size argument; see mlpillars.examples)")
    axes.set_ylabel("median time per call (s)")
    axes.set_title(f"{kernel}: time per call against size (95% CI bars)")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    _save(figure, path)


def speedup_plot(
    kernel: str, label: str, speedups: list[tuple[str, Estimate]], colours: dict, path: Path
) -> None:
    """Horizontal bars: speed-up over NumPy of each implementation, with its 95 % CI."""
    ordered = sorted(speedups, key=lambda item: item[1].value)
    figure, axes = _figure((8.5, 0.9 + 0.38 * len(ordered)))
    names = [name for name, _ in ordered]
    values = [estimate.value for _, estimate in ordered]
    axes.barh(
        names,
        values,
        xerr=_error_bars([estimate for _, estimate in ordered]),
        color=[colours[name] for name in names],
        capsize=3,
    )
    axes.axvline(1.0, color="black", linewidth=1)
    axes.set_xscale("log")
    axes.set_xlabel(f"speed-up over {NUMPY} (median time of {NUMPY} / median time; log scale)")
    axes.set_title(f"{kernel} at {label}: above 1 is faster than NumPy")
    axes.grid(True, axis="x", which="both", alpha=0.3)
    _save(figure, path)


def roofline_plot(
    points: list[RooflinePoint],
    roofs: dict[str, Roof],
    machine: list[Roof],
    colours: dict,
    path: Path,
) -> None:
    """Achieved GFLOP/s against arithmetic intensity, under the measured roofs."""
    figure, axes = _figure((10, 6.5))
    intensities = [point.intensity for point in points] or [1.0]
    span = np.geomspace(min(intensities) / 4, max(intensities) * 4, 200)
    for spec, roof in sorted(roofs.items()):
        axes.plot(
            span,
            np.minimum(roof.gflops, span * roof.gbps),
            linestyle="--",
            linewidth=1,
            color=colours.get(spec, "grey"),
            label=f"roof {spec}",
        )
    for roof, style in zip(machine, ("-", ":"), strict=False):
        axes.plot(
            span,
            np.minimum(roof.gflops, span * roof.gbps),
            color="black",
            linestyle=style,
            linewidth=2,
            label=f"machine roof ({'GPU' if roof.gpu else 'CPU'})",
        )
    markers = dict(zip(sorted({point.kernel for point in points}), _MARKERS, strict=False))
    for point in points:
        axes.scatter(
            point.intensity,
            point.gflops,
            color=colours[point.implementation],
            marker=markers.get(point.kernel, "o"),
            s=45,
            zorder=3,
        )
    # legend: a colour patch per implementation, a grey marker per kernel
    for name in sorted({point.implementation for point in points}):
        axes.plot([], [], color=colours[name], linewidth=6, label=name)
    for kernel, marker in markers.items():
        axes.scatter([], [], color="grey", marker=marker, label=f"kernel {kernel}")
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("arithmetic intensity (FLOP per byte, work model)")
    axes.set_ylabel("achieved GFLOP/s")
    axes.set_title("Roofline: each kernel's implementations at its largest size")
    axes.grid(True, which="both", alpha=0.3)
    axes.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    _save(figure, path)


def heatmap_plot(
    labels: list[str],
    columns: list[str],
    values: list[list[float]],
    path: Path,
    marked: list[list[bool]] | None = None,
    mark: str = "",
) -> None:
    """Rows x columns of speed-ups, coloured on a log scale centred on 1, value in each cell
    (NaN cells grey, marked with a dash), ``mark`` after the value of a ``marked`` cell."""
    grid = np.array(values, dtype=float)
    logs = np.log10(grid)
    limit = max(1.0, float(np.nanmax(np.abs(logs), initial=0.0)))
    width = max(5.4, 2.2 + 1.05 * len(columns))  # the title's width: two columns cut it
    figure, axes = _figure((width, max(3.4, 1.3 + 0.42 * len(labels))))
    palette = colormaps["RdBu"].with_extremes(bad="#d9d9d9")
    image = axes.imshow(
        np.ma.masked_invalid(logs), cmap=palette, vmin=-limit, vmax=limit, aspect="auto"
    )
    for (row, column), value in np.ndenumerate(grid):
        strong = np.isfinite(value) and abs(np.log10(value)) > 0.6 * limit
        axes.text(
            column,
            row,
            "–"
            if not np.isfinite(value)
            else f"{_short_number(value)}×" + (mark if marked and marked[row][column] else ""),
            ha="center",
            va="center",
            fontsize=8,
            color="white" if strong else "black",
        )
    axes.set_xticks(range(len(columns)), columns, rotation=30, ha="right", fontsize=8)
    axes.set_yticks(range(len(labels)), labels, fontsize=8)
    axes.tick_params(length=0)
    bar = figure.colorbar(image, ax=axes, shrink=0.8, pad=0.02)
    ticks = np.arange(-math.floor(limit), math.floor(limit) + 1)
    bar.set_ticks(ticks, labels=[f"{10.0**tick:g}×" for tick in ticks])
    bar.set_label("speed-up over NumPy (log scale)")
    axes.set_title(f"Speed-up over {NUMPY}: above 1× (blue) is faster")
    _save(figure, path)


def _short_number(value: float) -> str:
    return f"{value:.0f}" if value >= 10 else f"{value:.2g}"


def _lines(analysis: RunAnalysis, rows: list[dict]) -> dict[tuple[str, str], list]:
    """The timed rows' figures by (implementation, dtype and variant), in order of size."""
    lines: dict[tuple[str, str], list] = {}
    for row in sorted(rows, key=lambda row: row["size"]):
        lines.setdefault((row["implementation"], _series(row)), []).append(analysis.figures(row))
    return lines


def _series(row: dict) -> str:
    """``"float32"``, or ``"float32, relu, 256 rows"`` for a variant: one line each."""
    return row["dtype"] + (f", {row['variant']}" if row.get("variant") else "")


def _figure(size: tuple[float, float]):
    figure = Figure(figsize=size, dpi=_DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure, figure.add_subplot()


def _error_bars(estimates: list[Estimate]) -> np.ndarray:
    """Distances below and above each value; zero where there is no interval."""
    below = [e.value - e.low if e.has_interval else 0.0 for e in estimates]
    above = [e.high - e.value if e.has_interval else 0.0 for e in estimates]
    return np.clip(np.array([below, above]), 0.0, None)


def _save(figure: Figure, path: Path) -> None:
    """Write ``figure`` to ``path`` as a PNG, making its folder if needed.

    Raises
    ------
    ReportError
        The folder or the file cannot be written; the message names the path that failed.
    """
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        figure.savefig(path, format="png")
    except OSError as exc:
        failed = exc.filename or path
        raise ReportError(f"{failed}: cannot write the chart ({exc.strerror or exc})") from exc
