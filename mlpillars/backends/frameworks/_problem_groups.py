"""How many groups a loop over independent problems runs in, so that each group's data stay
in the cache from one step to the next (NumPy: :mod:`._grouped_loops`; JAX: the groups of
:mod:`._jax_loops`, one ``lax.map`` over them).

Measured on this project's 2-core EPYC (512 KiB L2 a core, 32 MiB L3 shared by every
guest of the host): B = 256 logistic problems of 512 x 32 float64 samples are 32 MiB,
read from memory twice a step; groups of 2 MiB are read from the cache.
"""

from __future__ import annotations

import math

CACHE_BYTES = 2 * 2**20
"""The data a group of problems may hold: about what one core can keep in its share of
the last-level cache (tuned on the machine above; larger groups fall out of cache)."""

GROUPING_THRESHOLD = 4 * CACHE_BYTES
"""Problems' data up to this size run as one group: the step is then bound by the per-call
cost, not by memory."""

MIN_GROUP = 16
"""Fewest problems in a group: below it, the per-call cost outweighs the cache."""


def group_count(batch_size: int, bytes_per_problem: int) -> int:
    """Groups of about CACHE_BYTES each, of at least MIN_GROUP problems; 1 when the data do
    not exceed GROUPING_THRESHOLD."""
    if batch_size * bytes_per_problem <= GROUPING_THRESHOLD:
        return 1
    by_cache = math.ceil(batch_size * bytes_per_problem / CACHE_BYTES)
    return max(1, min(by_cache, batch_size // MIN_GROUP))
