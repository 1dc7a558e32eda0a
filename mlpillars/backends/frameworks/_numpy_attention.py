"""NumPy's own scaled dot-product attention: the kernel's plain path in one buffer.

The kernel's plain formula (``mlpillars.kernels._attention_paths.plain_attention``) makes
four arrays the size of the scores (the scores, less their row maxima, their exponentials,
the weights); for 8 heads of 256 queries and keys in float32 each is a fresh 2 MiB
mapping, and its page faults cost as much as the arithmetic. Here the scores are
computed into one buffer and turned into weights there (mask, maximum, exponential, sum,
division in place), a tile of (batch, head) slices or of query rows at a time so that a
buffer stays in cache, and each tile's output is written into one result array. 8 heads
of 256 queries and keys, float32, thread time: 2.6-2.9x -> 1.1-1.25x a plain NumPy
formula's (scores, then max, exp, sum and division in place, then ``@ v``).

Offered only where the kernel knows that no score overflows (see ``FusedAttention``):
float32 and float64 (float16 declines: its scores are computed in float32 by the kernel's
formula), the output alone, below the plain path's limit.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

BUFFER_ELEMENTS = 2**18
"""Scores held at a time: about 1 MiB of float32, a core's L2 and a share of L3 (whole
(Lq, Lk) slices, or blocks of one slice's query rows). 8 heads of 1024 x 1024 float32:
one head at a time 82 ms, blocks of 256 query rows 45 ms (torch's fused attention 21)."""


def attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None,
    scale: float,
    is_causal: bool,
    enable_gqa: bool,
) -> Any:
    """The output (..., Hq, Lq, Ev) of prepared arguments, or NotImplemented.

    q (..., Hq, Lq, E), k (..., Hk, Lk, E), v (..., Hk, Lk, Ev), with q's batch axes; a
    mask of q's rank (bool, or q's dtype to be added), the causal triangle folded in.
    """
    if q.dtype.char not in "fd" or k.dtype != q.dtype or v.dtype != q.dtype:
        return NotImplemented
    if mask is not None and mask.dtype != np.bool_ and mask.dtype != q.dtype:
        return NotImplemented
    heads, query_length, key_length = q.shape[-3], q.shape[-2], k.shape[-2]
    slices = math.prod(q.shape[:-2])
    # sizes named, not -1: an axis of length 0 (E = 0 or Ev = 0) leaves -1 undetermined
    queries = np.reshape(q * np.asarray(scale, dtype=q.dtype), (slices, query_length, q.shape[-1]))
    keys, values = _per_query_head(k, heads, enable_gqa), _per_query_head(v, heads, enable_gqa)
    masks = None if mask is None else _per_slice(mask, q.shape[:-2], query_length, key_length)
    causal = _causal(query_length, key_length) if is_causal else None
    output = np.empty((slices, query_length, v.shape[-1]), dtype=q.dtype)
    for chosen, rows in _tiles(slices, query_length, key_length):
        weights = np.matmul(queries[chosen, rows], np.swapaxes(keys[chosen], -1, -2))
        mask_tile = None if masks is None else masks[chosen, rows]
        _masked(weights, mask_tile, None if causal is None else causal[rows])
        _softmax_rows_in_place(weights, may_lack_keys=masks is not None)
        np.matmul(weights, values[chosen], out=output[chosen, rows])
    return np.reshape(output, (*q.shape[:-1], v.shape[-1]))


def _tiles(slices: int, query_length: int, key_length: int) -> Any:
    """(slices, query rows) index pairs whose scores hold about ``BUFFER_ELEMENTS``: several
    whole (Lq, Lk) slices, or blocks of one slice's query rows."""
    per_slice = query_length * key_length
    if per_slice <= BUFFER_ELEMENTS:
        step = max(1, BUFFER_ELEMENTS // max(per_slice, 1))
        for start in range(0, slices, step):
            yield slice(start, min(start + step, slices)), slice(None)
        return
    rows = max(1, BUFFER_ELEMENTS // key_length)
    for index in range(slices):
        for start in range(0, query_length, rows):
            yield slice(index, index + 1), slice(start, min(start + rows, query_length))


def _per_query_head(array: np.ndarray, heads: int, enable_gqa: bool) -> np.ndarray:
    """k or v (..., Hk, L, E) as (slices, L, E), one entry per query head: each key/value
    head repeated for its group of Hq / Hk query heads (a view where no group is)."""
    if enable_gqa:
        array = np.repeat(array, heads // array.shape[-3], axis=-3)
    return np.reshape(array, (math.prod(array.shape[:-2]), *array.shape[-2:]))


def _per_slice(mask: np.ndarray, batch_shape: tuple[int, ...], rows: int, columns: int) -> Any:
    """The mask (..., Hq or 1, Lq or 1, Lk or 1) broadcast to (slices, Lq, Lk) (a view)."""
    full = np.broadcast_to(mask, (*batch_shape, rows, columns))
    return np.reshape(full, (math.prod(batch_shape), rows, columns)) if full.ndim > 3 else full


def _causal(query_length: int, key_length: int) -> np.ndarray:
    """True where key j comes after query i (j > i): the keys causal attention forbids."""
    return ~np.tri(query_length, key_length, dtype=np.bool_)


def _masked(scores: np.ndarray, mask: np.ndarray | None, causal: np.ndarray | None) -> None:
    """Forbidden keys' scores set to -inf, a float mask added, in place."""
    if mask is not None:
        if mask.dtype == np.bool_:
            np.copyto(scores, -np.inf, where=~mask)
        else:
            scores += mask
    if causal is not None:
        np.copyto(scores, -np.inf, where=causal)


def _softmax_rows_in_place(scores: np.ndarray, may_lack_keys: bool) -> None:
    """The max-shifted softmax along the last axis, in place. Where a mask may leave a
    row no key (all -inf), that row becomes zeros, not NaN (the kernel zeroes its output);
    causal attention alone leaves every query its first key."""
    row_max = np.maximum.reduce(scores, axis=-1, keepdims=True)
    if may_lack_keys:
        row_max[row_max == -np.inf] = 0  # all forbidden: exp(-inf - 0) = 0
    scores -= row_max
    np.exp(scores, out=scores)
    row_sum = np.add.reduce(scores, axis=-1, keepdims=True)
    if may_lack_keys:
        row_sum[row_sum == 0] = 1
    scores /= row_sum
