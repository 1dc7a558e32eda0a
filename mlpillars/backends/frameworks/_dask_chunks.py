"""Dask arrays whose chunks Dask's own operations get wrong: empty chunks, and chunks whose
sizes are not known until computed.

Dask goes wrong on empty chunks, which slicing or ``from_array(chunks=...)`` can leave in a
non-empty array: its max fails on them (NumPy's "zero-size array to reduction operation
maximum"), its QR and concatenation raise, its matmul over an axis chunked (0, 1, 0) fails,
and an elementwise operation on an axis of length 1 chunked so gives a wrong shape
(``x * 2`` of shape (1, 4) computed to (3, 4), dask 2026.8). The dispatch gives every Dask
input to a kernel through :func:`tidied`; sizes not known yet (NaN, after boolean indexing)
cannot be rechunked, and a chunk of them may turn out empty when computed:
:func:`reduce_max` takes that.
"""

from __future__ import annotations

import functools
from types import ModuleType
from typing import Any

import numpy as np


def tidied(array: Any) -> Any:
    """``array`` with its empty chunks merged away (an empty axis keeps one chunk); as it
    is where it has none, or where some sizes are unknown (NaN).

    Parameters
    ----------
    array : dask.array.Array

    Returns
    -------
    dask.array.Array
        The same values.
    """
    chunks = array.chunks
    if not any(0 in axis_chunks for axis_chunks in chunks):
        return array
    if unknown_sizes(array):
        return array
    kept = tuple(tuple(size for size in sizes if size) or (0,) for sizes in chunks)
    return array.rechunk(kept)


def reduce_max(array: Any, *, axis: int, keepdims: bool, xp: ModuleType) -> Any:
    """``xp.max(array, axis=axis, keepdims=keepdims)`` along an axis of nonzero length.

    Dask's max where every chunk has a known size and none is empty (empty ones merged
    away: a kernel's own slices may make some). Where sizes are unknown (after boolean
    indexing) a chunk may turn out empty when computed, on which Dask's max fails (a
    concatenate ValueError), and Dask's max of an array with another axis of length 0
    fails too ((0, 3) along axis 1: "zero-size array to reduction operation maximum",
    where NumPy gives (0,)): each chunk's max then starts from the dtype's lowest value,
    which an empty chunk gives and every other chunk's values exceed or equal.
    """
    import dask.array as da

    array = tidied(array)
    empty_elsewhere = 0 in array.shape and array.shape[axis] != 0
    if not unknown_sizes(array) and not empty_elsewhere:
        return xp.max(array, axis=axis, keepdims=keepdims)
    lowest = -np.inf if array.dtype.kind == "f" else np.iinfo(array.dtype).min
    each_chunk = functools.partial(np.max, initial=lowest)
    return da.reduction(array, each_chunk, np.max, axis=axis, keepdims=keepdims, dtype=array.dtype)


def unknown_sizes(array: Any) -> bool:
    """Whether some of ``array``'s chunk sizes are not known yet (NaN)."""
    return any(size != size for axis_chunks in array.chunks for size in axis_chunks)
