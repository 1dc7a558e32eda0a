"""The answer first: which implementation is fastest for each kernel and size, by how much,
and whether the difference is real.

Per case (kernel x size x dtype, and variant where a run has them) the timed rows are ranked
by median. The table gives the fastest, its median with a 95 % interval, its ratio over the
runner-up and over NumPy with the significance verdict of :mod:`.stats`, and the best of our
backends beside the best peer library. The heatmap (:mod:`.heatmap`) and the crossovers
(:mod:`.crossover`) follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..run_folder import BACKEND, PEER
from ..text import NONE, format_seconds, number, seconds_interval
from .analysis import NUMPY, RunAnalysis
from .conditions import BUSY, busy_mark
from .document import Block, Heading, Paragraph, Table
from .ranking import (
    best,
    case_label,
    compare,
    compare_alternated,
    median,
    timed_cases,
    verdict_word,
)
from .stats import ALPHA, FACTOR, Verdict, median_estimate


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


def answer_section(analysis: RunAnalysis) -> list[Block]:
    """The answer table (the heatmap and the crossovers follow it)."""
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
    return blocks


# -- the table -----------------------------------------------------------------------------
_LEGEND = (
    "Each row is one case; the timed implementations are ranked by median time (each "
    "case's own rounds, the medians of the kernel's table). "
    "**vs runner-up** and **vs NumPy**: how many times faster the fastest is (median of the "
    "other / median of the fastest, as the speed-ups of the kernel's table and chart, which "
    "give the 95% intervals over NumPy), and whether the difference is significant "
    f"(Mann-Whitney U p < {ALPHA} and at least {FACTOR}x, the policy below). Where the two "
    "were also timed in alternating rounds, the cell adds *alternating*: the median of the "
    "per-round ratios, with its own verdict (Wilcoxon signed-rank), as the kernel's table "
    "does; it can differ from the first, even in direction. "
    "**best mlpillars backend** is the fastest of this library's backends, **best peer** the "
    "fastest other library's own function (see `mlpillars bench --help`); the last column "
    "says which of the two is faster and by how much. "
    f"{BUSY} marks a time measured on a busy machine (see the warning at the top, if any)."
)


def _answer(ranked: list[dict[str, Any]]) -> Answer:
    fastest = ranked[0]
    numpy_row = next((row for row in ranked if row["implementation"] == NUMPY), None)
    backend = best(ranked, BACKEND)
    peer = best(ranked, PEER)
    return Answer(
        label=case_label(fastest),
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
    runner_up = answer.ranked[1] if len(answer.ranked) > 1 else None
    numpy_row = next((row for row in answer.ranked if row["implementation"] == NUMPY), None)
    if answer.vs_numpy is not None and numpy_row is not None:
        vs_numpy = _times_faster(answer.vs_numpy, _alternating(numpy_row, fastest))
    else:
        vs_numpy = "is NumPy" if fastest["implementation"] == NUMPY else NONE
    runner_up_name = f"`{runner_up['implementation']}`" if runner_up else ""
    return (
        kernel,
        answer.label,
        f"`{fastest['implementation']}`",
        seconds_interval(time) + busy_mark(fastest),
        _times_faster(answer.vs_next, _alternating(runner_up, fastest), runner_up_name)
        + busy_mark(runner_up),
        vs_numpy + (busy_mark(numpy_row) if answer.vs_numpy is not None else ""),
        _named_time(answer.backend),
        _named_time(answer.peer),
        _backend_vs_peer(answer),
    )


def _times_faster(verdict: Verdict | None, alternating: Verdict | None, than: str = "") -> str:
    """``2.1× vs X, significant``, then ``; alternating 1.9×, significant`` where the two
    were also timed in alternating rounds."""
    if verdict is None:
        return NONE
    against = f" vs {than}" if than else ""
    text = f"{number(verdict.ratio.value)}×{against}, {verdict_word(verdict)}"
    if alternating is not None:
        text += f"; alternating {number(alternating.ratio.value)}×, {verdict_word(alternating)}"
    return text


def _alternating(slower: dict[str, Any] | None, faster: dict[str, Any]) -> Verdict | None:
    """median of the per-round ratios ``slower / faster`` where the two alternated."""
    return None if slower is None else compare_alternated(slower, faster)


def _named_time(row: dict[str, Any] | None) -> str:
    if row is None:
        return NONE
    return f"`{row['implementation']}` {format_seconds(median(row))}{busy_mark(row)}"


def _backend_vs_peer(answer: Answer) -> str:
    verdict = answer.backend_vs_peer
    if verdict is None or answer.backend is None or answer.peer is None:
        return NONE
    faster, slower = sorted((answer.backend, answer.peer), key=median)
    ahead = "mlpillars" if faster is answer.backend else "peer"
    # the one ahead, significant or not
    return f"{ahead} {_times_faster(verdict, _alternating(slower, faster))}"


def _slower_over_faster(first: dict[str, Any] | None, second: dict[str, Any] | None):
    if first is None or second is None:
        return None
    faster, slower = sorted((first, second), key=median)
    return compare(slower, faster)
