"""NumPy's step loops in groups of problems, each group's data in cache.

A loop whose problems are independent (``StepLoop.rows_independent``: axis 0 of every
state and constant array is the problem axis, of length B, or 1 for data all problems
share) runs here as G loops over groups of rows instead of one loop over all B.

A step reads each problem's data once (twice for the logistic loss). B = 256 logistic
problems of 512 x 32 float64 samples are 32 MiB, read from memory at every step, and every
temporary of a step is a fresh 1 MiB array; a group of 32 problems (4 MiB) stays in the
cache from one step to the next, and its temporaries are small enough for the allocator to
reuse. Measured on this project's 2-core EPYC (512 KiB L2 a core, 32 MiB L3 shared), one
loop over all 256 problems took 1.4x to 3x the time of 16 groups of 16.

Data that fit in the cache already (the MSE's sufficient statistics of 256 problems of 32
features: 2.6 MiB) are not split: that loop is bound by the per-call cost, which more
groups only multiply (two groups measured 1.2x slower than one). Only data of more than
:data:`._problem_groups.GROUPING_THRESHOLD` are.

A group too small pays NumPy's per-call cost (about 1 us a call, some 40 calls a step) on
too little data: groups hold at least :data:`._problem_groups.MIN_GROUP` problems. Threads
do not pay here: the groups' steps are many short NumPy calls, and two threads passing
the GIL back and forth at every call measured slower than one (MSE and logistic alike).

torch on CPU does not group: its elementwise work on all 256 problems runs on both cores
(intra-op threads, above some 32k elements), a group's does not, and sixteen times the
calls cost it more than the cache saves (logistic: 3.7 s in groups against 2.3 s whole).
The code holds nothing of NumPy's own (any array with ``shape`` and ``dtype``, joined
with the loop's ``xp``), so a framework that gains from it can use it.

Each group is the same step on a slice of the rows, so the results equal one loop over all
of them: a group that stops early (every problem in it converged or diverged) repeats its
last history row, as the frozen problems would have in the longer loop.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from typing import Any

from ._problem_groups import group_count, owned_by_problems, problems_and_bytes
from ._trees import map_leaves

Loop = Callable[[Any, Any, Any], tuple[Any, Any, Any]]


def run_in_groups(
    run: Loop, loop: Any, state: Any, constants: Any, group_bytes: int | None = None
) -> tuple[Any, Any, Any] | None:
    """``run`` (the plain loop) over groups of the problems, or None when one group is all.

    ``group_bytes``: the data a group holds (see :func:`._problem_groups.group_count`;
    default NumPy's, a share of the cache).

    Returns
    -------
    tuple or None
        (state, history (steps_run + 1, B, ...), steps_run), as :meth:`run_loop` returns.
    """
    if not getattr(loop, "rows_independent", False):
        return None
    batch_size, bytes_per_problem = problems_and_bytes(state, constants)
    groups = _groups(batch_size, bytes_per_problem, group_bytes)
    if len(groups) < 2:
        return None
    results = [
        run(loop, _rows(state, rows, batch_size), _rows(constants, rows, batch_size))
        for rows in groups
    ]
    return _joined(state, results, batch_size, loop.xp)


def _groups(batch_size: int, bytes_per_problem: int, group_bytes: int | None = None) -> list[slice]:
    """Consecutive row ranges, as many as :func:`group_count` says."""
    count = group_count(batch_size, bytes_per_problem, group_bytes)
    bounds = [round(index * batch_size / count) for index in range(count + 1)]
    return [slice(start, stop) for start, stop in itertools.pairwise(bounds)]


def _rows(tree: Any, rows: slice, batch_size: int) -> Any:
    """The tree with every problem-owned array cut to ``rows``; shared ones as they are."""
    return map_leaves(
        lambda leaf: leaf[rows] if owned_by_problems(leaf, batch_size) else leaf, tree
    )


def _joined(
    template: Any, results: list[tuple[Any, Any, Any]], batch_size: int, xp: Any
) -> tuple[Any, Any, Any]:
    """The groups' states joined along the problems, their histories padded to one length."""
    states, histories, steps_run = zip(*results, strict=True)
    rows = max(history.shape[0] for history in histories)
    padded = [_padded(history, rows, xp) for history in histories]
    state = _joined_state(template, list(states), batch_size, xp)
    return state, xp.concat(padded, axis=1), max(steps_run)


def _padded(history: Any, rows: int, xp: Any) -> Any:
    """The history with its last row repeated up to ``rows`` rows."""
    missing = rows - history.shape[0]
    if missing == 0:
        return history
    repeated = xp.broadcast_to(history[-1:, ...], (missing, *history.shape[1:]))
    return xp.concat([history, repeated], axis=0)


def _joined_state(template: Any, states: list[Any], batch_size: int, xp: Any) -> Any:
    """The groups' states as one: problem-owned arrays joined, shared ones taken once."""

    def joined(leaf: Any, *parts: Any) -> Any:
        return xp.concat(parts, axis=0) if owned_by_problems(leaf, batch_size) else parts[0]

    return map_leaves(joined, template, *states)
