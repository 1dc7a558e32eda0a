"""Dask's own attention: one task per block, each block computed on its worker by the
public kernel on NumPy (the in-memory implementation); gradient descent, built the same
way, is in :mod:`._dask_descent`.

The kernel hands it its checked, prepared arguments (see ``FusedAttention`` in
``mlpillars.kernels._attention_fused``). The graph is one layer of work deep, whatever
the work inside a block (a long sequence). A block calls the kernel with
``backend="numpy"``, so that a ``MLPILLARS_BACKEND`` a worker inherited cannot send its
NumPy block back to Dask. Each function imports Dask itself.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._worker_heap import heap_kept


def attention(
    q: Any, k: Any, v: Any, mask: Any, *, scale: float, is_causal: bool, enable_gqa: bool
) -> Any:
    """Attention blockwise over the batch and head axes, one task per block.

    Parameters
    ----------
    q : dask.array.Array, shape (..., Hq, Lq, E)
    k : dask.array.Array, shape (..., Hk, Lk, E)
    v : dask.array.Array, shape (..., Hk, Lk, Ev)
    mask : dask.array.Array or None, shape (..., Hq or 1, Lq or 1, Lk or 1)
        q's number of axes, the causal triangle folded in.
    scale, is_causal, enable_gqa
        As ``FusedAttention``.

    Returns
    -------
    dask.array.Array, shape (..., Hq, Lq, Ev)
        Lazy. The batch and head axes keep q's chunks (one chunk across the heads with
        grouped heads, so each block holds its key/value heads); L and E become one chunk.
        Each block is computed on its worker by the in-memory kernel on NumPy, which
        works through long sequences in tiles: memory per task is bounded by the block,
        not by the whole score tensor.
    """
    import dask.array as da

    leading = q.ndim - 2
    whole_rows = {leading: -1, leading + 1: -1}
    q = q.rechunk({**whole_rows, **({leading - 1: -1} if enable_gqa else {})})
    batch_chunks = q.chunks[:leading]
    kv_chunks = (*batch_chunks[:-1], (k.shape[-3],)) if enable_gqa else batch_chunks
    k, v = (array.rechunk((*kv_chunks, -1, -1)) for array in (k, v))
    blocks = [q, k, v]
    if mask is not None:
        full_mask = da.broadcast_to(mask, (*q.shape[:-1], k.shape[-2]))
        blocks.append(full_mask.rechunk((*batch_chunks, -1, -1)))
    attend = functools.partial(
        _attend_in_memory, scale=scale, is_causal=is_causal, enable_gqa=enable_gqa
    )
    return da.map_blocks(
        attend,
        *blocks,
        dtype=q.dtype,
        chunks=(*batch_chunks, (q.shape[-2],), (v.shape[-1],)),
        meta=np.empty((0,) * q.ndim, dtype=q.dtype),
    )


def _attend_in_memory(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    scale: float,
    is_causal: bool,
    enable_gqa: bool,
) -> np.ndarray:
    """One block of :func:`attention`: the public kernel on NumPy."""
    from .._registry import KERNELS  # filled by the dispatch; no kernel module imported

    attention_kernel = KERNELS["scaled_dot_product_attention"]
    q, k, v, mask = aligned(q, k, v, mask)
    options = {"scale": scale, "is_causal": is_causal, "enable_gqa": enable_gqa}
    with heap_kept():  # a worker's heap, trimmed at every free by Dask's default
        output = attention_kernel(q, k, v, mask=mask, backend="numpy", **options)
    return output.astype(q.dtype, copy=False)


def aligned(*blocks: np.ndarray | None) -> tuple[np.ndarray | None, ...]:
    """Each block, copied where its data do not start at a multiple of its item size.

    A chunk deserialized on a worker may start at any byte of the message it came in
    (its frame), and NumPy runs unaligned arrays without BLAS: a batched ``X^T X`` of
    128 x 512 x 32 float64 took 25 ms against 5 ms, a chunk's whole fit 67 against 38 ms,
    and the copy 3 ms (also dask/distributed#8985). None stays None.
    """
    return tuple(
        block if block is None or block.flags.aligned else np.require(block, requirements="A")
        for block in blocks
    )
