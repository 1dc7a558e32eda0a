"""Dask's own attention and gradient descent: one task per block, each block computed on
its worker by the public kernel on NumPy (the in-memory implementation).

The kernels hand these their checked, prepared arguments (see ``FusedAttention`` in
``mlpillars.kernels._attention_fused`` and ``FusedGradientDescent`` in
``mlpillars.kernels._descent_fused``). The graphs they build are one layer of work deep,
whatever the work inside a block (a long sequence, many descent steps). A block calls the
kernel with ``backend="numpy"``, so that a ``MLPILLARS_BACKEND`` a worker inherited
cannot send its NumPy block back to Dask. Each function imports Dask itself.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from typing import Any

import numpy as np

GD_OUTPUT_DTYPES = ("float", "float", "float", "bool", "bool", "int64")
"""Gradient descent's fields (weights, bias, loss_history, diverged, converged, steps_run):
"float" is the data's dtype; the counts are NumPy's default integer, as its kernel gives."""


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
    output = attention_kernel(
        q, k, v, mask=mask, scale=scale, is_causal=is_causal, enable_gqa=enable_gqa, backend="numpy"
    )
    return output.astype(q.dtype, copy=False)


def gradient_descent(
    features: Any, targets: Any, lr: Any, options: Mapping[str, Any]
) -> tuple[Any, ...] | Any:
    """B problems' whole fits, one task per chunk along B, or ``NotImplemented``.

    Parameters
    ----------
    features : dask.array.Array, shape (B or 1, n, d)
        One leading entry (with B != 1) is shared by every problem (a learning-rate sweep):
        each task gets all of it, not a chunk of it.
    targets : dask.array.Array, shape (B or 1, n)
        Shared as features.
    lr : array, shape (B,)
    options : mapping
        ``gradient_descent``'s keyword options, checked.

    Returns
    -------
    tuple of dask.array.Array, or NotImplemented
        weights (B, d), bias (B,), loss_history (steps + 1, B), diverged (B,),
        converged (B,), steps_run (B,); lazy, chunked along B as the first batched input
        among features, targets and lr is (n and d one chunk). Each chunk's fit is one
        task: the NumPy kernel on its problems, its history padded to steps + 1 rows with
        its last row. The values are NumPy's for the whole batch, but for rounding where
        the kernel decides once per call (a chunk whose problems' features are all near
        zero may skip the centred copy of X that one far from zero needs elsewhere).
        The six share that task: compute them together (``dask.compute(*fields)``), as
        each separate compute runs the fits again.
        NotImplemented where a chunk's sizes are unknown (NaN), or where a task would
        hold more features than both Dask's ``array.chunk-size`` and the inputs' largest
        chunk (one problem too large for memory, chunked along n): the per-step path,
        which streams the chunks, then runs.
    """
    import dask.array as da

    features, targets, lr = (da.asarray(array) for array in (features, targets, lr))
    batch_size = lr.shape[0]
    if not _sizes_known(features, targets, lr):
        return NotImplemented
    batched = [array for array in (features, targets, lr) if array.shape[0] == batch_size]
    batch_chunks = batched[0].chunks[0]
    if _task_holds_too_much(features, batch_chunks, batch_size):
        return NotImplemented
    blocks = [_blocked(array, batch_chunks, batch_size) for array in (features, targets)]
    rows = int(options["steps"]) + 1
    descend = functools.partial(_descend_in_memory, options=dict(options), rows=rows)
    dtypes = [features.dtype if kind == "float" else np.dtype(kind) for kind in GD_OUTPUT_DTYPES]
    weights, bias, history, diverged, converged, steps_run = da.apply_gufunc(
        descend,
        "(n,d),(n),()->(d),(),(r),(),(),()",
        *blocks,
        lr.rechunk((batch_chunks,)),
        output_dtypes=dtypes,
        output_sizes={"r": rows},
        vectorize=False,
        allow_rechunk=False,
    )
    return weights, bias, history.T, diverged, converged, steps_run


def _sizes_known(*arrays: Any) -> bool:
    """Whether every chunk of every array has a known size (not NaN)."""
    return all(not math.isnan(size) for a in arrays for sizes in a.chunks for size in sizes)


def _blocked(array: Any, batch_chunks: tuple[int, ...], batch_size: int) -> Any:
    """``array`` (B or 1, ...) as the tasks read it: chunked as ``batch_chunks`` along B
    and whole along the rest, or, when shared (leading 1, B != 1), without its leading
    axis and in one chunk (each task reads all of it)."""
    if array.shape[0] != batch_size:
        return array[0].rechunk(-1)
    return array.rechunk((batch_chunks, *(-1,) * (array.ndim - 1)))


def _task_holds_too_much(features: Any, batch_chunks: tuple[int, ...], batch_size: int) -> bool:
    """Whether one task's features (its chunk's problems, whole along n and d) would be
    larger than both Dask's ``array.chunk-size`` and the largest chunk given."""
    import dask
    from dask.utils import parse_bytes

    problems = max(batch_chunks, default=0) if features.shape[0] == batch_size else 1
    held = problems * math.prod(features.shape[1:]) * features.dtype.itemsize
    largest_given = math.prod(max(sizes, default=0) for sizes in features.chunks)
    limit = parse_bytes(dask.config.get("array.chunk-size"))
    return held > max(limit, largest_given * features.dtype.itemsize)


def _descend_in_memory(
    features: np.ndarray,
    targets: np.ndarray,
    lr: np.ndarray,
    *,
    options: dict[str, Any],
    rows: int,
) -> tuple[np.ndarray, ...]:
    """One chunk's fits: the public kernel on NumPy, features (b, n, d) or shared (n, d),
    targets (b, n) or (n,), lr (b,). Returns the fields with the problems first (the
    history (b, rows), padded with its last row)."""
    from .._registry import KERNELS  # filled by the dispatch; no kernel module imported

    features, targets, lr = aligned(features, targets, lr)
    result = KERNELS["gradient_descent"](features, targets, lr=lr, backend="numpy", **options)
    history = result.loss_history
    missing = rows - history.shape[0]
    if missing:
        history = np.concatenate([history, np.repeat(history[-1:], missing, axis=0)])
    counts = result.steps_run.astype(GD_OUTPUT_DTYPES[-1], copy=False)
    return result.weights, result.bias, history.T, result.diverged, result.converged, counts


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
