"""Dask's own gradient descent: each chunk of problems (along B) fitted whole by one task,
the public kernel on NumPy on its worker (see ``FusedGradientDescent`` in
``mlpillars.kernels._descent_fused`` for the call it answers).

The graph is as shallow as the fields allow, since on a cluster every step from one
task to the next is a round trip through the scheduler (its messages are batched every
2-5 ms, and on the project's 2-core machine a hop measured 3-10 ms): the fits, then
one task per field and chunk taking its part of a fit's answer; for small answers a task
joining the fits between them (:data:`JOINED_BYTES`). Learning rates held in
this process (a Python number, a NumPy array made into a Dask one) go into the tasks as
values, not as tasks of their own; nothing is computed on the cluster before the
caller's own compute (the tasks check the values: :func:`_descend_in_memory`).
"""

from __future__ import annotations

import functools
import math
import operator
import sys
from collections.abc import Mapping
from typing import Any

import numpy as np

from ._dask_fused import aligned
from ._descent_fields import FIELD_DTYPES, FIELDS, fitted_fields, joined
from ._worker_heap import heap_kept

HOST_RATE_TASKS = 64
"""A learning rate whose graph has at most this many tasks and no data on a cluster is
computed here, on the synchronous scheduler, and its values put into the fits' tasks."""

JOINED_BYTES = 16 * 2**20
"""Fields of at most this many bytes in all come back as one chunk each, cut from one task
that joins the chunks' fits: the caller's compute then moves each fit's answer once, where
six fields of several chunks are concatenated by six tasks, each fetching the chunks held
by other workers (about 3 ms a fetch on the project's 2-core machine). Larger ones stay
chunked as the problems are."""


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
        converged (B,), steps_run (B,); lazy: one chunk each where they hold at most
        :data:`JOINED_BYTES` in all, else chunked along B as the first batched input among
        features, targets and lr is. Each chunk's fit is one task: the NumPy kernel on
        its problems, its history padded to steps + 1 rows with its last row. The values
        are NumPy's for the whole batch, but for rounding where the kernel decides once
        per call (a chunk whose problems' features are all near zero may skip the centred
        copy of X that one far from zero needs elsewhere), and a bad lr or label raises
        when the chunk's task computes, naming its values. The six share the fits:
        compute them together (``dask.compute(*fields)``), as each separate compute runs
        the fits again.
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
    blocks = [
        (_blocked(array, batch_chunks, batch_size), array.shape[0] != batch_size)
        for array in (features, targets)
    ]
    rows = int(options["steps"]) + 1
    descend = functools.partial(_descend_in_memory, options=dict(options), rows=rows)
    fits = _fit_tasks(descend, blocks, _rates(lr, batch_chunks), batch_chunks)
    n_features = features.shape[-1]
    if len(batch_chunks) > 1 and _result_bytes(features, batch_size, rows) <= JOINED_BYTES:
        fits, batch_chunks = _joined(fits, len(batch_chunks)), (batch_size,)
    return tuple(
        _field(fits, index, features.dtype, batch_chunks, n_features, rows)
        for index in range(len(FIELDS))
    )


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


def _rates(lr: Any, batch_chunks: tuple[int, ...]) -> Any:
    """The learning rates as the fits take them: a NumPy array (B,) where its graph is
    small and holds no data on a cluster (computed here, no round trip), else ``lr``
    chunked as ``batch_chunks``."""
    graph = lr.__dask_graph__()
    if len(graph) <= HOST_RATE_TASKS and not _futures_in(lr):
        return _computed_here(lr, graph)
    return lr.rechunk((batch_chunks,))


def _computed_here(array: Any, graph: Any) -> np.ndarray:
    """``array``'s values from its graph, run in this thread as it is: ``compute`` first
    optimizes the graph, which took most of the 3 ms a call spent on a learning rate's
    few tasks (0.7 against 0.1 ms for a rate broadcast to (256,))."""
    from dask.array.core import concatenate3
    from dask.local import get_sync

    return np.asarray(concatenate3(get_sync(dict(graph), array.__dask_keys__())))


def _futures_in(array: Any) -> bool:
    """Whether ``array`` is built on data held by a ``dask.distributed`` cluster (none
    can be without that package imported)."""
    if "distributed" not in sys.modules:
        return False
    from distributed import futures_of

    return bool(futures_of(array))


def _fit_tasks(
    descend: Any, blocks: list[tuple[Any, bool]], rates: Any, batch_chunks: tuple[int, ...]
) -> Any:
    """The fits' graph, tasks ``(name, i)`` for the chunks along B: ``descend`` on chunk
    i's features, targets and rates; ``blocks`` are (array, shared): a shared one's one
    chunk goes to every task."""
    from dask.base import tokenize
    from dask.highlevelgraph import HighLevelGraph

    name = "descend_in_memory-" + tokenize(descend, *blocks, rates)
    host_rates = isinstance(rates, np.ndarray)
    starts = np.cumsum((0, *batch_chunks))
    tasks = {}
    for index in range(len(batch_chunks)):
        inputs = [
            (block.name, *([0] if shared else [index]), *[0] * (block.ndim - 1))
            for block, shared in blocks
        ]
        rate = rates[starts[index] : starts[index + 1]] if host_rates else (rates.name, index)
        tasks[(name, index)] = (descend, *inputs, rate)
    lazy_inputs = [block for block, _ in blocks] + ([] if host_rates else [rates])
    return name, HighLevelGraph.from_collections(name, tasks, dependencies=lazy_inputs)


def _result_bytes(features: Any, batch_size: int, rows: int) -> int:
    """The six fields' bytes: weights, bias and history in features' dtype, the rest less."""
    return batch_size * (features.shape[-1] + 1 + rows + 3) * features.dtype.itemsize


def _joined(fits: tuple[str, Any], count: int) -> tuple[str, Any]:
    """The fits (name, graph) of ``count`` chunks as one task's: their fields joined."""
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    fits_name, fits_graph = fits
    name = "joined-" + fits_name.removeprefix("descend_in_memory-")
    tasks = {(name, 0): (joined, [(fits_name, index) for index in range(count)])}
    graph = HighLevelGraph(
        {**fits_graph.layers, name: MaterializedLayer(tasks)},
        {**fits_graph.dependencies, name: {fits_name}},
    )
    return name, graph


def _field(
    fits: tuple[str, Any],
    index: int,
    float_dtype: Any,
    batch_chunks: tuple[int, ...],
    n_features: int,
    rows: int,
) -> Any:
    """Field ``FIELDS[index]`` of the fits (name, graph) as a Dask array: one task per
    chunk, taking its part of the chunk's fit."""
    import dask.array as da
    from dask.highlevelgraph import HighLevelGraph, MaterializedLayer

    fits_name, fits_graph = fits
    field = FIELDS[index]
    name = f"{field.replace('_', '-')}-{fits_name.split('-', 1)[1]}"
    chunks: tuple[tuple[int, ...], ...] = (batch_chunks,)
    if field == "weights":
        chunks = (batch_chunks, (n_features,))
    elif field == "loss_history":
        chunks = ((rows,), batch_chunks)
    batch_axis = 1 if field == "loss_history" else 0
    tasks = {
        (name, *(position if axis == batch_axis else 0 for axis in range(len(chunks)))): (
            operator.getitem,
            (fits_name, position),
            index,
        )
        for position in range(len(batch_chunks))
    }
    graph = HighLevelGraph(
        {**fits_graph.layers, name: MaterializedLayer(tasks)},
        {**fits_graph.dependencies, name: {fits_name}},
    )
    kind = FIELD_DTYPES[index]
    dtype = float_dtype if kind == "float" else np.dtype(kind)
    return da.Array(graph, name, chunks, meta=np.empty((0,) * len(chunks), dtype=dtype))


def _descend_in_memory(
    features: np.ndarray,
    targets: np.ndarray,
    lr: np.ndarray,
    *,
    options: dict[str, Any],
    rows: int,
) -> tuple[np.ndarray, ...]:
    """One chunk's fits: the public kernel on NumPy (which checks lr and the labels),
    features (b, n, d) or shared (n, d), targets (b, n) or (n,), lr (b,). Returns the
    fields in ``FIELDS`` order, the history (rows, b) padded with its last row."""
    features, targets, lr = aligned(features, targets, lr)
    with heap_kept():  # a worker's heap, trimmed at every free by Dask's default
        return fitted_fields(features, targets, lr, options, rows=rows)
