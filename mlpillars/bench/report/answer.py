"""The answer first: which implementation is fastest for each kernel and size, by how much,
and whether the difference is real.

Per case (kernel x size x dtype, and variant where a run has them) the timed rows are ranked
by median. The table gives the fastest, its median with a 95 % interval, its ratio over the
runner-up and over NumPy with the significance verdict of :mod:`.stats`, and the best of our
backends beside the best peer library. The heatmap (:func:`speedup_grid`) and the crossovers
(:mod:`.crossover`) follow.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..run_folder import BACKEND, OK, PEER, PLOTS_FOLDER
from .analysis import NUMPY, RunAnalysis, case_key
from .document import Block, Heading, Image, Paragraph, Table
from .families import LOOPS, kind_of
from .plots import heatmap_plot
from .stats import ALPHA, FACTOR, Verdict, compare_rounds, median_estimate
from .text import NONE, format_seconds, number, seconds_interval

BEST_PEER = "best peer"
"""The heatmap's column of the fastest peer library of each kernel."""


@dataclass(frozen=True)
class Answer:
    """The fastest implementation of one case, and how it compares.

    Attributes
    ----------
    label : str
        The case: ``"1024 float32"`` (with the variant, if any).
    ranked : tuple of dict
        The timed rows, fastest first.
    vs_next, vs_numpy : Verdict or None
        median(runner-up or NumPy) / median(fastest), with the test; ``None`` when there is
        no runner-up, no NumPy row, or NumPy is the fastest.
    backend, peer : dict or None
        The fastest of our backends and the fastest peer library's row.
    backend_vs_peer : Verdict or None
        median(slower of the two) / median(faster of the two).
    """

    label: str
    ranked: tuple[dict[str, Any], ...]
    vs_next: Verdict | None
    vs_numpy: Verdict | None
    backend: dict[str, Any] | None
    peer: dict[str, Any] | None
    backend_vs_peer: Verdict | None

    @property
    def fastest(self) -> dict[str, Any]:
        """The fastest row."""
        return self.ranked[0]


def answers(analysis: RunAnalysis, kernel: str) -> list[Answer]:
    """One :class:`Answer` per case of ``kernel`` with a timed row, smallest size first."""
    return [_answer(rows) for rows in timed_cases(analysis, kernel)]


def timed_cases(analysis: RunAnalysis, kernel: str) -> list[list[dict[str, Any]]]:
    """The timed rows of each case of ``kernel``, fastest first; cases by size, dtype,
    variant."""
    cases: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in analysis.kernels[kernel]:
        if row["status"] == OK:
            cases[case_key(row)].append(row)
    ordered = sorted(cases.values(), key=lambda rows: _case_order(rows[0]))
    return [sorted(rows, key=median) for rows in ordered]


def answer_section(analysis: RunAnalysis, folder: Path) -> list[Block]:
    """The answer table and the speed-up heatmap (the crossovers follow, apart)."""
    rows = []
    for kernel in analysis.kernels:
        for index, answer in enumerate(answers(analysis, kernel)):
            rows.append(_answer_cells(kernel if index == 0 else "", answer))
    blocks: list[Block] = [
        Heading("Answer: the fastest implementation per kernel and size", 2),
        Paragraph(_LEGEND),
    ]
    if not rows:
        return [*blocks, Paragraph("No case of this run was timed: there is nothing to rank.")]
    header = (
        "kernel",
        "size",
        "fastest",
        "median [95% CI]",
        "vs runner-up",
        f"vs {NUMPY}",
        "best mlpillars backend",
        "best peer",
        "mlpillars vs peer",
    )
    blocks.append(Table(header, tuple(rows), "lrlrlllll"))
    return blocks + _heatmap(analysis, folder)


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
        labels.append(f"{kernel} ({_label(numpy_row)})")
        cells.append(_speedups(numpy_row, case))
    columns = _columns(analysis)
    values = [[row_cells.get(column, math.nan) for column in columns] for row_cells in cells]
    return labels, columns, values


def median(row: dict[str, Any]) -> float:
    """The row's median time (from its rounds when the field is missing)."""
    value = row.get("median")
    return float(value) if value else median_estimate(row["rounds"]).value


@lru_cache(maxsize=4096)
def _compare(candidate: tuple[float, ...], reference: tuple[float, ...]) -> Verdict:
    return compare_rounds(candidate, reference)


def compare(candidate: dict[str, Any], reference: dict[str, Any]) -> Verdict:
    """:func:`.stats.compare_rounds` of two rows (cached: the tables ask twice)."""
    return _compare(tuple(candidate["rounds"]), tuple(reference["rounds"]))


def verdict_word(verdict: Verdict) -> str:
    """``significant``, ``not significant``, or why it could not be tested."""
    if verdict.significant:
        return "significant"
    if verdict.p_value is None:
        return "too few rounds to test"
    return "not significant"


# -- the table -----------------------------------------------------------------------------
_LEGEND = (
    "Each row is one case; the timed implementations are ranked by median time. "
    "**vs runner-up** and **vs NumPy**: how many times faster the fastest is (median of the "
    "other / median of the fastest; the 95% intervals are in each kernel's table), and "
    f"whether the difference is significant (Mann-Whitney U p < {ALPHA} and at least "
    f"{FACTOR}x, the policy below). "
    "**best mlpillars backend** is the fastest of this library's backends, **best peer** the "
    "fastest other library's own function (see `mlpillars bench --help`); the last column "
    "says which of the two is faster and by how much."
)


def _answer(ranked: list[dict[str, Any]]) -> Answer:
    fastest = ranked[0]
    numpy_row = next((row for row in ranked if row["implementation"] == NUMPY), None)
    backend = _best(ranked, BACKEND)
    peer = _best(ranked, PEER)
    return Answer(
        label=_label(fastest),
        ranked=tuple(ranked),
        vs_next=compare(ranked[1], fastest) if len(ranked) > 1 else None,
        vs_numpy=None if numpy_row is None or numpy_row is fastest else compare(numpy_row, fastest),
        backend=backend,
        peer=peer,
        backend_vs_peer=_slower_over_faster(backend, peer),
    )


def _answer_cells(kernel: str, answer: Answer) -> tuple[str, ...]:
    fastest = answer.fastest
    time = median_estimate(fastest["rounds"])
    if answer.vs_numpy is not None:
        vs_numpy = _times_faster(answer.vs_numpy)
    else:
        vs_numpy = "is NumPy" if fastest["implementation"] == NUMPY else NONE
    runner_up = answer.ranked[1]["implementation"] if len(answer.ranked) > 1 else ""
    return (
        kernel,
        answer.label,
        f"`{fastest['implementation']}`",
        seconds_interval(time),
        _times_faster(answer.vs_next, f"`{runner_up}`"),
        vs_numpy,
        _named_time(answer.backend),
        _named_time(answer.peer),
        _backend_vs_peer(answer),
    )


def _times_faster(verdict: Verdict | None, than: str = "") -> str:
    """``2.1× vs X, significant`` (the interval is in the kernel's own table)."""
    if verdict is None:
        return NONE
    against = f" vs {than}" if than else ""
    return f"{number(verdict.ratio.value)}×{against}, {verdict_word(verdict)}"


def _named_time(row: dict[str, Any] | None) -> str:
    return NONE if row is None else f"`{row['implementation']}` {format_seconds(median(row))}"


def _backend_vs_peer(answer: Answer) -> str:
    verdict = answer.backend_vs_peer
    if verdict is None or answer.backend is None or answer.peer is None:
        return NONE
    winner = "mlpillars" if median(answer.backend) <= median(answer.peer) else "peer"
    return f"{winner} {_times_faster(verdict)}"


def _slower_over_faster(first: dict[str, Any] | None, second: dict[str, Any] | None):
    if first is None or second is None:
        return None
    faster, slower = sorted((first, second), key=median)
    return compare(slower, faster)


def _best(ranked: list[dict[str, Any]], kind: str) -> dict[str, Any] | None:
    return next((row for row in ranked if kind_of(row) == kind), None)


def _case_order(row: dict[str, Any]) -> tuple:
    return str(row.get("variant") or ""), str(row.get("dtype") or ""), row["size"]


def _label(row: dict[str, Any]) -> str:
    text = f"{row['size']} {row.get('dtype') or ''}".strip()
    return text + (f" ({row['variant']})" if row.get("variant") else "")


# -- the heatmap ---------------------------------------------------------------------------
_HEATMAP_CAPTION = (
    "Speed-up over NumPy of each implementation (columns) for each kernel (rows), at the "
    "case named in the row label: the largest that every implementation of the kernel ran. "
    "The number in a cell is median(NumPy) / median(implementation); blue is faster than "
    "NumPy, red slower, on a log scale; grey: not timed at that case. Look along a row for "
    "the bluest cell (the backend to use for that kernel at that size), down a column for a "
    "backend that is consistently fast or slow, and at the last column for kernels where "
    "another library's own function beats every array-API implementation. The answer table "
    "above gives the intervals and the significance of each comparison."
)


def _heatmap(analysis: RunAnalysis, folder: Path) -> list[Block]:
    labels, columns, values = speedup_grid(analysis)
    if not labels:
        return [Paragraph(f"No heatmap: no kernel has a timed `{NUMPY}` case to compare with.")]
    image = f"{PLOTS_FOLDER}/speedup-heatmap.png"
    heatmap_plot(labels, columns, values, folder / image)
    return [
        Heading("Speed-up over NumPy at a glance", 3),
        Image(image, "heatmap: speed-up over NumPy, kernels x implementations", _HEATMAP_CAPTION),
    ]


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
    reference = median(numpy_row)
    cells = {row["implementation"]: reference / median(row) for row in case if kind_of(row) != PEER}
    peer = _best(case, PEER)
    if peer is not None:
        cells[BEST_PEER] = reference / median(peer)
    return cells


def _columns(analysis: RunAnalysis) -> list[str]:
    timed = [row for row in analysis.rows if row["status"] == OK]
    backends = sorted({row["implementation"] for row in timed if kind_of(row) == BACKEND})
    backends.sort(key=lambda name: name != NUMPY)
    loops = [name for name in LOOPS if any(row["implementation"] == name for row in timed)]
    peers = [BEST_PEER] if any(kind_of(row) == PEER for row in timed) else []
    return backends + loops + peers
