"""How many groups a loop over independent problems runs in, so that each group's data stay
in the cache from one step to the next (NumPy: :mod:`._grouped_loops`; JAX: the groups of
:mod:`._jax_loops`, one ``lax.map`` over them).

Measured on this project's 2-core EPYC (512 KiB L2 a core, 32 MiB L3 shared by every
guest of the host): B = 256 logistic problems of 512 x 32 float64 samples are 32 MiB,
read from memory twice a step; groups of a few MiB are read from the cache.
"""

from __future__ import annotations

import math
from typing import Any

from ._trees import leaves

CACHE_BYTES = 4 * 2**20
"""The data a group of problems may hold: about what one core can keep in its share of
the last-level cache. Tuned on the machine above with X held transposed (the logistic
loss, 200 steps, interleaved runs): NumPy groups of 4 MiB 949-1016 ms against 1117-1176
for 2 MiB (more calls a step) and 1034-1219 for 8 MiB; JAX's the same at 2 and 4 MiB."""

GROUPING_THRESHOLD = 2 * CACHE_BYTES
"""Problems' data up to this size run as one group: the step is then bound by the per-call
cost, not by memory."""

MIN_GROUP = 16
"""Fewest problems in a group: below it, the per-call cost outweighs the cache."""


def group_count(batch_size: int, bytes_per_problem: int, group_bytes: int | None = None) -> int:
    """Groups of about ``group_bytes`` each (default :data:`CACHE_BYTES`), of at least
    :data:`MIN_GROUP` problems; 1 when the data do not exceed :data:`GROUPING_THRESHOLD`
    (with ``group_bytes`` given: when they fit in one group)."""
    threshold = GROUPING_THRESHOLD if group_bytes is None else group_bytes
    group_bytes = CACHE_BYTES if group_bytes is None else group_bytes
    total_bytes = batch_size * bytes_per_problem
    if total_bytes <= threshold:
        return 1
    by_size = math.ceil(total_bytes / group_bytes)
    return max(1, min(by_size, batch_size // MIN_GROUP))


def even_group_count(batch_size: int, count: int) -> int:
    """The fewest groups, at least ``count``, that split ``batch_size`` problems into equal
    groups of at least :data:`MIN_GROUP` each; ``count`` itself where no such count exists.

    JAX's groups (:mod:`._jax_loops`): a group count that leaves a remainder pads the
    problems, and on problems sharded over several devices XLA then gathers every
    problem's data onto every device (B = 256 logistic problems over 2 CPU devices: 330 ms
    in 9 padded groups, 157 ms in 16 equal ones; one device: 282 and 281 ms).
    """
    for candidate in range(count, batch_size // MIN_GROUP + 1):
        if batch_size % candidate == 0:
            return candidate
    return count


def problems_and_bytes(state: Any, constants: Any) -> tuple[int, int]:
    """(B, bytes per problem) of a step loop of independent problems: B from the state's
    leading axis, the bytes of the arrays one problem owns (shared ones, of leading axis
    1, not counted).

    ``state`` and ``constants`` are (nested) tuples of arrays or None; any array with
    ``shape`` and ``dtype`` (a tracer too: only shapes are read).
    """
    batch_size = next(int(a.shape[0]) for a in leaves(state) if len(a.shape) > 0)
    owned = [a for a in leaves((state, constants)) if owned_by_problems(a, batch_size)]
    owned_bytes = sum(math.prod(a.shape) * a.dtype.itemsize for a in owned)
    return batch_size, owned_bytes // max(batch_size, 1)


def owned_by_problems(array: Any, batch_size: int) -> bool:
    """A problem-owned array: axis 0 is the problem axis (shared data have length 1)."""
    shape = getattr(array, "shape", ())
    return len(shape) > 0 and shape[0] == batch_size
