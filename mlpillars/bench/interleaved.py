"""Two cases timed in alternating rounds: ratios the host's drift cannot bias.

Each case's rounds are timed in one block, so a machine that speeds up or slows down
during a run enters every ratio between two cases: in a ``targets`` run the rounds of
torch's linear + ReLU fell from 3.3-3.6 to 3.1 ms over its case and ``F.linear``'s rose
from 2.8 to 3.5 ms over its own, and the report said ours / native 1.12x where the same
calls timed alternately said 0.98x (which of the torch rows paid 5-15 % moved with the
order of the run). Where a ratio is near 1, that drift decides a target's verdict.

So a case is timed a second time in rounds that alternate with an earlier case of its
group (:func:`remember`), its *partners* (:func:`partners`):

- a native call (a peer or a loop, ``report.analysis.native_pairs``): each of our kernel's
  cases on its backend and thread pool;
- our kernel on another backend than NumPy: our NumPy case, where a goal of the targets
  table holds it to that (:data:`..targets.TARGETS`: JAX's and torch's gradient descent).

Round ``i`` times a block of each one's calls, one after the other (which goes first
alternates; the last round ends with the later case), and the ratio of the two is taken
seconds apart. The report's ratio for the pair is the median of those per-round ratios
(``report.stats.paired_ratio_estimate``). Where the two run on different thread pools, each
block starts ``measure.SETTLE_SECONDS`` after the other's (that constant says why), the
wait filled with warm calls of its own. Pairs whose ratio from their own rounds lies
within :data:`WITHIN_FACTOR` either way are alternated, and the pairs a goal of the targets
table compares whatever their ratio (:func:`_compared_by_a_target`): far from 1 the drift
cannot change a verdict of "faster" or "slower", and a slow loop would double its case's
time, but a target far from 1 is a verdict too (NumPy's MSE fit read 17.3x faster than the
per-problem loop from their own rounds in one run, where its own rounds fell in a slow
stretch of the host: 29 ms against 22 in its rounds beside torch's, and the target is 20x).

Our cases are remembered for the current group only (their prepared inputs stay alive
until a case of another group starts).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .run_folder import BACKEND
from .targets import NUMPY, TARGETS

if TYPE_CHECKING:
    from .cases import Case, Suite
    from .compiled import Prepared

WITHIN_FACTOR = 2.0
"""A pair is alternated when the ratio of their medians from their own rounds lies within
this factor either way."""

PAIRED_MIN_ROUNDS = 11
"""Alternating rounds a pair gets at least: the fewest with which the report's test of
paired rounds (Wilcoxon signed-rank, two-sided) can reach p < 0.002 (every round on one
side: p = 2 / 2**11 = 0.001; with 10, 0.002), whatever the suite's ``min_rounds``."""


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
    """Keep our kernel's timed case for the later cases of its group (a case of another
    kind is not kept, but still ends the previous group)."""
    _start_group(timed.case.group)
    if timed.case.kind == BACKEND:
        _OURS["timed"].append(timed)


def partners(case: Case) -> list[Timed]:
    """The earlier cases of its group that ``case`` is alternated with (see the module's
    docstring)."""
    _start_group(case.group)
    implementation = case.implementation
    backend = _device_backend(implementation.backend)
    if case.kind != BACKEND:
        return [
            ours
            for ours in _OURS["timed"]
            if _device_backend(ours.case.implementation.backend) == backend
            and ours.case.implementation.thread_pool == implementation.thread_pool
        ]
    held_to_numpy = any(
        (target.kernel, target.variant, target.against) == (case.kernel, case.variant, NUMPY)
        and target.is_ours(implementation.name)
        for target in TARGETS
    )
    if not held_to_numpy:
        return []
    return [ours for ours in _OURS["timed"] if ours.case.implementation.name == NUMPY]


def alternate(later: Timed, suite: Suite, settle_seconds: float) -> list[dict[str, Any]]:
    """The alternating rounds of ``later`` with each of its partners near its speed.

    Parameters
    ----------
    settle_seconds : float
        How long after a block on another thread pool a block starts.

    Returns
    -------
    list of dict
        Per partner: ``{"with": its case id, "with_rounds": [...], "rounds": [...]}``
        (``rounds``: ``later``'s), seconds per call, round ``i`` of each timed side by side.
    """
    alternated = []
    for earlier in partners(later.case):
        if _near(earlier.median, later.median) or _compared_by_a_target(earlier, later):
            pools = {timed.case.implementation.thread_pool for timed in (earlier, later)}
            settle = settle_seconds if len(pools) > 1 else 0.0
            with_rounds, rounds = alternating_rounds(earlier, later, suite, settle)
            alternated.append(
                {"with": earlier.case.id, "with_rounds": with_rounds, "rounds": rounds}
            )
    return alternated


def alternating_rounds(
    first: Timed, second: Timed, suite: Suite, settle_seconds: float = 0.0
) -> tuple[list[float], list[float]]:
    """Seconds per call of ``first`` and ``second`` in rounds side by side: as many as
    ``suite.round_seconds`` allows for the pair (within the suite's bounds, and at least
    :data:`PAIRED_MIN_ROUNDS`), each a block of
    each one's own ``iterations``, the order swapped every round, the last one ending with
    ``second``; each block preceded by warm calls until ``settle_seconds`` have passed
    since the other's."""
    pair_seconds = first.median * first.iterations + second.median * second.iterations
    rounds = int(suite.round_seconds / max(pair_seconds + 2 * settle_seconds, 1e-7))
    rounds = min(max(rounds, suite.min_rounds, PAIRED_MIN_ROUNDS), suite.max_rounds)
    times: tuple[list[float], list[float]] = ([], [])
    both = (first, second)
    previous, ended = None, time.perf_counter()
    for index in range(rounds):
        order = (0, 1) if (rounds - 1 - index) % 2 == 0 else (1, 0)
        for which in order:
            if previous != which:
                _settle(both[which], since=ended, seconds=settle_seconds)
            seconds, ended = _block_seconds(both[which])
            times[which].append(seconds)
            previous = which
    return times


def _compared_by_a_target(earlier: Timed, later: Timed) -> bool:
    """Whether a goal of the targets table is the ratio of these two cases of a group: our
    kernel on its backend against the other (:data:`..targets.TARGETS`)."""
    case = later.case
    names = {earlier.case.implementation.name, case.implementation.name}
    return any(
        (target.kernel, target.variant) == (case.kernel, case.variant)
        and target.against in names
        and any(target.is_ours(name) for name in names - {target.against})
        for target in TARGETS
    )


def _near(first: float, second: float) -> bool:
    """Whether two medians lie within :data:`WITHIN_FACTOR` of each other (no division:
    a call too short for the clock has a median of 0)."""
    return first <= WITHIN_FACTOR * second and second <= WITHIN_FACTOR * first


def _settle(timed: Timed, *, since: float, seconds: float) -> None:
    """Warm calls of ``timed`` until ``seconds`` have passed since ``since``."""
    while time.perf_counter() - since < seconds:
        timed.prepared.run()


def _block_seconds(timed: Timed) -> tuple[float, float]:
    """Seconds per call of one block of ``timed.iterations`` calls, and when it ended."""
    run = timed.prepared.run
    started = time.perf_counter()
    for _ in range(timed.iterations):
        run()
    ended = time.perf_counter()
    return (ended - started) / timed.iterations, ended


def _start_group(group: str) -> None:
    if _OURS["group"] != group:
        _OURS.update(group=group, timed=[])


def _device_backend(spec: str) -> str:
    """``"jax:cpu"`` of ``"jax:cpu:0"``: a native call computes where our kernel's device
    does (as the report pairs them)."""
    return ":".join(spec.split(":")[:2])
