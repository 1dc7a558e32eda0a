"""Our kernel and a native call timed in alternating rounds: ratios the host's drift cannot
bias.

Each case's rounds are timed in one block, so a machine that speeds up or slows down
during a run enters every ratio between two cases: in a ``targets`` run the rounds of
torch's linear + ReLU fell from 3.3-3.6 to 3.1 ms over its case and ``F.linear``'s rose
from 2.8 to 3.5 ms over its own, and the report said ours / native 1.12x where the same
calls timed alternately said 0.98x (which of the torch rows paid 5-15 % moved with the
order of the run). Where a ratio is near 1, that drift decides a target's verdict.

So a native call's case (a peer or a loop, :func:`~.report.analysis.native_pairs`) is timed
a second time in rounds that alternate with each of our kernel's cases of the same group,
backend and thread pool, timed just before it (:func:`remember`): round ``i`` times a
block of our calls and a block of the native's, one after the other (which goes first
alternates), and ``ours_i / native_i`` is a ratio taken seconds apart. The report's
ratio for the pair is then the median of those per-round ratios
(``report.stats.paired_ratio_estimate``). Only pairs whose ratio from their own rounds
lies within :data:`WITHIN_FACTOR` either way are alternated: far from 1 the drift cannot
change a verdict, and a slow loop would double its case's time.

Our cases are remembered for the current group only (their prepared inputs stay alive
until a case of another group starts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .run_folder import BACKEND

if TYPE_CHECKING:
    from .cases import Case, Suite
    from .compiled import Prepared

WITHIN_FACTOR = 2.0
"""A native pair is alternated when median(ours) / median(native) from their own rounds lies
within this factor either way."""


@dataclass(frozen=True)
class Timed:
    """One case's prepared call, as timed in its own rounds.

    Attributes
    ----------
    case : Case
        The case.
    prepared : Prepared
        Its call, ready to run (inputs held).
    iterations : int
        Calls per round in its own rounds (a block of the alternating rounds).
    median : float
        Median seconds per call of its own rounds.
    """

    case: Case
    prepared: Prepared
    iterations: int
    median: float


_OURS: dict[str, Any] = {"group": None, "timed": []}
"""Our kernel's timed cases of the current group."""


def remember(timed: Timed) -> None:
    """Keep our kernel's timed case for the native calls of its group that follow it (a
    case of another kind is not kept, but still ends the previous group)."""
    _start_group(timed.case.group)
    if timed.case.kind == BACKEND:
        _OURS["timed"].append(timed)


def partners(case: Case) -> list[Timed]:
    """Our cases that a native call's ``case`` is alternated with: same group, backend
    and thread pool (none when ``case`` is one of ours)."""
    _start_group(case.group)
    if case.kind == BACKEND:
        return []
    native = case.implementation
    return [
        ours
        for ours in _OURS["timed"]
        if _device_backend(ours.case.implementation.backend) == _device_backend(native.backend)
        and ours.case.implementation.thread_pool == native.thread_pool
    ]


def alternate(native: Timed, suite: Suite) -> list[dict[str, Any]]:
    """The alternating rounds of ``native`` with each of its partners near its speed.

    Returns
    -------
    list of dict
        Per partner: ``{"ours": case id, "ours_rounds": [...], "native_rounds": [...]}``,
        seconds per call, round ``i`` of each list timed side by side.
    """
    alternated = []
    for ours in partners(native.case):
        if _near(ours.median, native.median):
            ours_rounds, native_rounds = alternating_rounds(ours, native, suite)
            alternated.append(
                {"ours": ours.case.id, "ours_rounds": ours_rounds, "native_rounds": native_rounds}
            )
    return alternated


def alternating_rounds(
    first: Timed, second: Timed, suite: Suite
) -> tuple[list[float], list[float]]:
    """Seconds per call of ``first`` and ``second`` in rounds side by side: as many as
    ``suite.round_seconds`` allows for the pair (within the suite's bounds), each a block of
    each one's own ``iterations``, the order swapped every round."""
    pair_seconds = first.median * first.iterations + second.median * second.iterations
    rounds = int(suite.round_seconds / max(pair_seconds, 1e-7))
    rounds = min(max(rounds, suite.min_rounds), suite.max_rounds)
    times: tuple[list[float], list[float]] = ([], [])
    both = (first, second)
    for index in range(rounds):
        order = (0, 1) if index % 2 == 0 else (1, 0)
        for which in order:
            times[which].append(_block_seconds(both[which]))
    return times


def _near(first: float, second: float) -> bool:
    """Whether two medians lie within :data:`WITHIN_FACTOR` of each other (no division:
    a call too short for the clock has a median of 0)."""
    return first <= WITHIN_FACTOR * second and second <= WITHIN_FACTOR * first


def _block_seconds(timed: Timed) -> float:
    """Seconds per call of one block of ``timed.iterations`` calls."""
    run = timed.prepared.run
    started = time.perf_counter()
    for _ in range(timed.iterations):
        run()
    return (time.perf_counter() - started) / timed.iterations


def _start_group(group: str) -> None:
    if _OURS["group"] != group:
        _OURS.update(group=group, timed=[])


def _device_backend(spec: str) -> str:
    """``"jax:cpu"`` of ``"jax:cpu:0"``: a native call computes where our kernel's device
    does (as the report pairs them)."""
    return ":".join(spec.split(":")[:2])
