"""The speed-up heatmap: kernels (rows) x implementations (columns), coloured by speed-up
over NumPy at each kernel's largest case that every one of its implementations ran."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from ..run_folder import BACKEND, OK, PEER, PLOTS_FOLDER
from .analysis import NUMPY, RunAnalysis, pair_figures
from .document import Block, Heading, Image, Paragraph
from .families import LOOPS, kind_of
from .plots import heatmap_plot
from .ranking import best, case_label, timed_cases

BEST_PEER = "best peer"
"""The column of the fastest peer library of each kernel."""


def heatmap_section(analysis: RunAnalysis, folder: Path) -> list[Block]:
    """The heatmap, drawn into ``folder/plots``, under its heading and with its caption."""
    labels, columns, values = speedup_grid(analysis)
    if not labels:
        return [Paragraph(f"No heatmap: no kernel has a timed `{NUMPY}` case to compare with.")]
    image = f"{PLOTS_FOLDER}/speedup-heatmap.png"
    heatmap_plot(labels, columns, values, folder / image)
    return [
        Heading("Speed-up over NumPy at a glance", 3),
        Image(image, "heatmap: speed-up over NumPy, kernels x implementations", _CAPTION),
    ]


def speedup_grid(analysis: RunAnalysis) -> tuple[list[str], list[str], list[list[float]]]:
    """Kernel labels, implementation columns and speed-ups over NumPy (NaN where none).

    Each kernel is taken at the largest case every one of its implementations ran (else the
    largest NumPy ran); a kernel's fastest peer library fills the :data:`BEST_PEER` column.
    """
    labels, cells = [], []
    for kernel in analysis.kernels:
        case = _heatmap_case(analysis, kernel)
        if case is None:
            continue
        numpy_row = next(row for row in case if row["implementation"] == NUMPY)
        labels.append(f"{kernel} ({case_label(numpy_row)})")
        cells.append(_speedups(numpy_row, case))
    columns = _columns(analysis)
    values = [[row_cells.get(column, math.nan) for column in columns] for row_cells in cells]
    return labels, columns, values


_CAPTION = (
    "Speed-up over NumPy of each implementation (columns) for each kernel (rows), at the "
    "case named in the row label: the largest that every implementation of the kernel ran. "
    "The number in a cell is median(NumPy) / median(implementation) (the median of the "
    "per-round ratios where the two were timed in alternating rounds); blue is faster than "
    "NumPy, red slower, on a log scale; grey: not timed at that case. Look along a row for "
    "the bluest cell (the backend to use for that kernel at that size), down a column for a "
    "backend that is consistently fast or slow, and at the last column for kernels where "
    "another library's own function beats every array-API implementation. The answer table "
    "above gives the intervals and the significance of each comparison."
)


def _heatmap_case(analysis: RunAnalysis, kernel: str) -> list[dict[str, Any]] | None:
    cases = [rows for rows in timed_cases(analysis, kernel) if _has_numpy(rows)]
    if not cases:
        return None
    everyone = {row["implementation"] for rows in timed_cases(analysis, kernel) for row in rows}
    complete = [rows for rows in cases if {row["implementation"] for row in rows} == everyone]
    return max(complete or cases, key=lambda rows: _largest_first(rows[0]))


def _largest_first(row: dict[str, Any]) -> tuple:
    """The main example before variants, then the largest size."""
    return not row.get("variant"), row["size"], str(row.get("dtype") or "")


def _has_numpy(rows: list[dict[str, Any]]) -> bool:
    return any(row["implementation"] == NUMPY for row in rows)


def _speedups(numpy_row: dict[str, Any], case: list[dict[str, Any]]) -> dict[str, float]:
    cells = {
        row["implementation"]: _speedup(numpy_row, row) for row in case if kind_of(row) != PEER
    }
    peer = best(case, PEER)
    if peer is not None:
        cells[BEST_PEER] = _speedup(numpy_row, peer)
    return cells


def _speedup(numpy_row: dict[str, Any], row: dict[str, Any]) -> float:
    """median(NumPy) / median(row), or the median of the per-round ratios where the two
    were timed in alternating rounds (as the answer table reads them)."""
    return pair_figures(numpy_row, row).ratio.value


def _columns(analysis: RunAnalysis) -> list[str]:
    timed = [row for row in analysis.rows if row["status"] == OK]
    backends = sorted({row["implementation"] for row in timed if kind_of(row) == BACKEND})
    backends.sort(key=lambda name: name != NUMPY)
    loops = [name for name in LOOPS if any(row["implementation"] == name for row in timed)]
    peers = [BEST_PEER] if any(kind_of(row) == PEER for row in timed) else []
    return backends + loops + peers
