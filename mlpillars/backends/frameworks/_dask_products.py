"""Dask's dense layer, ``x @ weight + bias``, reading each chunk of x once.

Dask's matmul is one blockwise product per block (row chunk i, input chunk j, output
chunk k) of x and the weight, and its graph optimisation fuses the task that makes x's
chunk (i, j) (a Zarr read, a map over the chunk, the previous layer) into each of those
products: a weight in k chunks along its outputs made each chunk of x k times (read k
times from a store), as ``scripts/probe_dask.py`` found. :func:`layer_operands` lays the
operands out so that this cannot happen, without touching x's own chunks (x is the large
operand: rechunking it would cost a pass and the memory of its chunks):

- the weight's input axis takes x's chunks of its last axis, so that Dask never rechunks
  x to meet the weight;
- a weight whose output block goes with one chunk of x within Dask's chunk size (or x's
  largest chunk, where that is larger) becomes one chunk along its outputs, the bias with
  it: each chunk of x then meets one block of the weight, in one product task, still
  fused with its read (no extra task, no transfer between workers). This is the usual
  case: a layer's weight is small beside its data;
- a weight too large for that keeps its output chunks (one chunk along them would give
  tasks holding a row chunk times all outputs), and x's chunks become tasks of their own
  that Dask cannot fuse into the products: each is computed once and shared by the k
  products of its row chunk, held until they have run.

Each function imports Dask itself.
"""

from __future__ import annotations

import math
from typing import Any


def layer_operands(x: Any, weight: Any, bias: Any) -> tuple[Any, Any, Any]:
    """``(x, weight, bias)`` laid out so that ``x @ weight + bias`` computes each chunk of
    x once (see the module docstring); the same values.

    Parameters
    ----------
    x : dask.array.Array, shape (..., in)
    weight : dask.array.Array, shape (in, out)
    bias : dask.array.Array or None, shape (out,) or ()

    Returns
    -------
    x, weight, bias
        x with its own chunks; the weight chunked along ``in`` as x's last axis, and along
        ``out`` in one chunk or its own; a 1-D bias chunked as the weight's outputs.
    """
    inputs = x.chunks[-1]
    if any(math.isnan(size) for size in inputs):  # sizes unknown: Dask matches them itself
        return x, weight, bias
    weight = weight.rechunk({0: inputs})
    if len(weight.chunks[1]) > 1:
        if _output_block_fits(x, weight):
            weight = weight.rechunk({1: -1})
        else:
            x = computed_once(x)
    if bias is not None and bias.ndim == 1:
        bias = bias.rechunk(weight.chunks[1])
    return x, weight, bias


def _output_block_fits(x: Any, weight: Any) -> bool:
    """Whether the weight's block for one chunk of x, all outputs in it, and the product's
    block it makes, each fit in Dask's chunk size (``array.chunk-size``) or x's largest
    chunk. Unknown row sizes count as one row."""
    import dask
    from dask.utils import parse_bytes

    itemsize = max(x.dtype.itemsize, weight.dtype.itemsize)
    outputs = weight.shape[1]
    rows = math.prod(max(_known(axis)) for axis in x.chunks[:-1])
    inputs = max(x.chunks[-1], default=0)
    largest_chunk = rows * inputs * itemsize
    budget = max(parse_bytes(dask.config.get("array.chunk-size")), largest_chunk)
    return max(rows, inputs) * outputs * itemsize <= budget


def _known(sizes: tuple[float, ...]) -> tuple[int, ...]:
    """Chunk sizes with an unknown one (NaN) counted as 1; (1,) for an axis of none."""
    return tuple(1 if math.isnan(size) else int(size) for size in sizes) or (1,)


def computed_once(x: Any) -> Any:
    """``x`` whose chunks are each a task of their own, which Dask's blockwise fusion
    cannot copy into the tasks that use it: each chunk is computed once however many
    tasks read it (its making, a read from a store, stays fused with it).

    Parameters
    ----------
    x : dask.array.Array

    Returns
    -------
    dask.array.Array
        The same values, chunks and meta.
    """
    import dask.array as da
    from dask.base import tokenize
    from dask.core import flatten
    from dask.highlevelgraph import HighLevelGraph

    name = f"computed-once-{tokenize(x)}"
    layer = {(name, *key[1:]): (_same, key) for key in flatten(x.__dask_keys__())}
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[x])
    return da.Array(graph, name, chunks=x.chunks, meta=x._meta)


def _same(block: Any) -> Any:
    """The block itself (the task of :func:`computed_once`)."""
    return block
