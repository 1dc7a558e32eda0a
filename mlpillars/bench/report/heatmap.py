"""The speed-up heatmap: kernels (rows) x implementations (columns), coloured by speed-up
over NumPy at each kernel's largest case that every one of its implementations ran.

A cell is median(NumPy) / median(implementation) of each case's own rounds: the figure the
kernel's table leads with and its speed-up chart draws, so that one pair reads the same in
every place. A pair also timed in alternating rounds is marked: the kernel's table gives that
ratio beside this one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..run_folder import BACKEND, OK, PEER, PLOTS_FOLDER
from .analysis import NUMPY, RunAnalysis
from .document import Block, Heading, Image, Paragraph
from .families import LOOPS, kind_of
from .pairs import alternated_rounds
from .plots import heatmap_plot
from .ranking import best, case_label, median, timed_cases

BEST_PEER = "best peer"
"""The column of the fastest peer library of each kernel."""
ALTERNATED_MARK = "*"
"""After the number of a cell whose pair was also timed in alternating rounds."""


@dataclass(frozen=True)
class SpeedupGrid:
    """The heatmap's content: a row label per kernel, the implementation columns, the
    speed-ups over NumPy (NaN where none) and whether each pair was also alternated."""

    labels: list[str]
    columns: list[str]
    values: list[list[float]]
    alternated: list[list[bool]]


def heatmap_section(analysis: RunAnalysis, folder: Path) -> list[Block]:
    """The heatmap, drawn into ``folder/plots``, under its heading and with its caption."""
    grid = speedup_grid(analysis)
    if not grid.labels:
        return [Paragraph(f"No heatmap: no kernel has a timed `{NUMPY}` case to compare with.")]
    image = f"{PLOTS_FOLDER}/speedup-heatmap.png"
    heatmap_plot(
        grid.labels, grid.columns, grid.values, folder / image, grid.alternated, ALTERNATED_MARK
    )
    return [
        Heading("Speed-up over NumPy at a glance", 3),
        Image(image, "heatmap: speed-up over NumPy, kernels x implementations", _CAPTION),
    ]


def speedup_grid(analysis: RunAnalysis) -> SpeedupGrid:
    """Kernel labels, implementation columns and speed-ups over NumPy.

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
        cells.append(_cells(numpy_row, case))
    columns = _columns(analysis)
    empty = (math.nan, False)
    return SpeedupGrid(
        labels,
        columns,
        [[row_cells.get(column, empty)[0] for column in columns] for row_cells in cells],
        [[row_cells.get(column, empty)[1] for column in columns] for row_cells in cells],
    )


_CAPTION = (
    "Speed-up over NumPy of each implementation (columns) for each kernel (rows), at the "
    "case named in the row label: the largest that every implementation of the kernel ran. "
    "The number in a cell is median(NumPy) / median(implementation) of each case's own "
    "rounds, as the kernel's table and speed-up chart give it; "
    f"{ALTERNATED_MARK} marks a pair also timed in alternating rounds, whose median "
    "per-round ratio (the kernel's table gives it beside this one) can differ. "
    "Blue is faster than "
    "NumPy, red slower, on a log scale; grey: not timed at that case. Look along a row for "
    "the bluest cell (the backend to use for that kernel at that size), down a column for a "
    "backend that is consistently fast or slow, and at the last column for kernels where "
    "another library's own function beats every array-API implementation. The answer table "
    "above gives the significance of each comparison."
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


def _cells(numpy_row: dict[str, Any], case: list[dict[str, Any]]) -> dict[str, tuple[float, bool]]:
    """Column -> (speed-up over NumPy, whether the pair was also alternated)."""
    cells = {row["implementation"]: _cell(numpy_row, row) for row in case if kind_of(row) != PEER}
    peer = best(case, PEER)
    if peer is not None:
        cells[BEST_PEER] = _cell(numpy_row, peer)
    return cells


def _cell(numpy_row: dict[str, Any], row: dict[str, Any]) -> tuple[float, bool]:
    """median(NumPy) / median(row) of their own rounds, and whether the two were also timed
    in alternating rounds."""
    alternated = row is not numpy_row and alternated_rounds(numpy_row, row) is not None
    return median(numpy_row) / median(row), alternated


def _columns(analysis: RunAnalysis) -> list[str]:
    timed = [row for row in analysis.rows if row["status"] == OK]
    backends = sorted({row["implementation"] for row in timed if kind_of(row) == BACKEND})
    backends.sort(key=lambda name: name != NUMPY)
    loops = [name for name in LOOPS if any(row["implementation"] == name for row in timed)]
    peers = [BEST_PEER] if any(kind_of(row) == PEER for row in timed) else []
    return backends + loops + peers
