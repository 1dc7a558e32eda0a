"""Buffers a thread keeps from one NumPy kernel call to the next.

Each new NumPy array of a MiB or so is a fresh mapping whose pages fault in one by one
when first written (about 2 us a fault on this project's VM: 0.58 ms to fill a fresh
1.1 MiB array, 0.02 ms to fill it again), whether glibc unmaps it when freed or trims it
from the top of the heap. A kernel's scratch arrays that come back at every call (the
blocks of gradient descent: ``_numpy_blocks``) are taken here instead: each thread keeps
one flat buffer a name, viewed at the shape a call asks, :data:`KEPT_BYTES` in all at
most; one that would pass that is made for its call only.

A thread runs one call at a time, and a name belongs to one module's use within a call,
so no two users share a buffer; nothing a kernel returns is a view of one.
"""

from __future__ import annotations

import math
import threading

import numpy as np

KEPT_BYTES = 2**24
"""The most a thread keeps, all its buffers together (16 MiB): the blocks of 256 problems
of 32 features hold 4 MiB of rows (2^19 values), 4 MiB of their products and 6.7 MiB of
powers."""

_kept = threading.local()
"""This thread's buffers, by name: flat bytes."""


def buffer(name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """An array of ``shape`` and ``dtype`` (its values undefined): this thread's buffer
    ``name`` where it is large enough, else a new one, kept in its place where the
    thread's buffers then hold at most :data:`KEPT_BYTES`."""
    nbytes = math.prod(shape) * np.dtype(dtype).itemsize
    kept = kept_arrays()
    flat = kept.get(name)
    if flat is None or flat.nbytes < nbytes:
        flat = np.empty(nbytes, dtype=np.uint8)
        others = sum(array.nbytes for other, array in kept.items() if other != name)
        if others + nbytes <= KEPT_BYTES:
            kept[name] = flat
    return flat[:nbytes].view(dtype).reshape(shape)


def kept_arrays() -> dict[str, np.ndarray]:
    """This thread's kept buffers, by name (made at its first call)."""
    arrays = getattr(_kept, "arrays", None)
    if arrays is None:
        arrays = _kept.arrays = {}
    return arrays
