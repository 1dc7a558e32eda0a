"""Parts of a large NumPy array computed on several threads at once.

NumPy's ufuncs and reductions release the GIL, so a pass that is bound by ``exp`` and
memory (the softmax family's) runs on several cores when the array is cut into parts
that threads compute side by side. Softmax of 4096 x 4096 float32 on the project's 2-core
machine: 31-46 ms on one thread, 17-26 ms on two (``scipy.special.softmax`` 47-66 ms).

How many threads: one per ``PARALLEL_ELEMENTS`` elements, at most the CPUs this process
may run on, ``OMP_NUM_THREADS`` where it was set at import (what Dask's workers, joblib's
and scikit-learn's set to keep nested parallelism from oversubscribing the cores) and
``MAX_THREADS``; one where the call comes from another thread than the main one (a Dask
worker's task, the caller's own pool), whose parallelism is the caller's, or from within
a part (a kernel called on a part of a larger call: gradient descent's problems). Each
part runs in a copy of the caller's context, so NumPy's ``errstate`` (a context variable)
holds in every thread as in the caller's.

Gradient descent's parts (``_numpy_descent``) run their matrix products with BLAS held to
one thread (:func:`one_blas_thread`): OpenBLAS's own threads, called from two threads at
once, made two parts slower than one call.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import itertools
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np

PARALLEL_ELEMENTS = 2**18
"""The fewest elements that make one thread's part (1 MiB of float32): below, the
threads' handing over and joining cost about what they share. On 2 cores, one thread
against two: softmax of 512 x 512 float32 354 -> 307 us, of 1024 x 1024 1457 -> 880 us;
sigmoid 940 -> 578 and 3970 -> 2117 us."""

MAX_THREADS = 8
"""Threads at most: a memory-bound pass gains nothing from more."""

_pool: list[ThreadPoolExecutor] = []
"""The executor, made at the first parallel call (and forgotten in a forked child, where
its threads do not exist)."""

_within_a_part: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "mlpillars_within_a_part", default=False
)
"""True while a call of :func:`side_by_side` runs (on any thread, the caller's included)."""

_blas_controller: list[Any] = []
"""threadpoolctl's controller of the BLAS libraries loaded, made at the first use."""


def thread_count(size: int) -> int:
    """How many threads compute an array of ``size`` elements (see the module's rules)."""
    if size < 2 * PARALLEL_ELEMENTS:
        return 1
    return max(1, min(size // PARALLEL_ELEMENTS, threads_at_hand()))


def threads_at_hand() -> int:
    """:func:`thread_limit` for a call from the main thread outside any part, else 1."""
    if _within_a_part.get() or threading.current_thread() is not threading.main_thread():
        return 1
    return thread_limit()


def in_parts_where_large(
    work: Callable[..., None], arrays: tuple[np.ndarray, ...], *, cut_axis: int | None
) -> None:
    """``work(*arrays)``, or where they are large (:func:`thread_count` of the first's
    size), :func:`in_parts` on that many threads; ``cut_axis`` None: no axis may be cut
    (a 1-D array reduced along its one axis), one thread."""
    parts = 1 if cut_axis is None else thread_count(arrays[0].size)
    if parts == 1:
        work(*arrays)
    else:
        in_parts(work, arrays, cut_axis=cut_axis, parts=parts)


def in_parts(
    work: Callable[..., None], arrays: tuple[np.ndarray, ...], *, cut_axis: int, parts: int
) -> None:
    """``work(*slices)`` for ``parts`` matching slices of ``arrays`` cut along
    ``cut_axis``, on as many threads (:func:`side_by_side`). ``work`` must write only into
    its slices."""
    length = arrays[0].shape[cut_axis]
    leading = (slice(None),) * cut_axis
    pieces = [
        tuple(array[(*leading, slice(start, stop))] for array in arrays)
        for start, stop in part_bounds(length, parts)
    ]
    side_by_side([functools.partial(work, *piece) for piece in pieces])


def part_bounds(length: int, parts: int) -> list[tuple[int, int]]:
    """(start, stop) of ``parts`` parts of ``length`` (fewer where it is shorter), their
    lengths within one of each other."""
    bounds = np.linspace(0, length, min(parts, length) + 1).astype(int)
    return [(int(start), int(stop)) for start, stop in itertools.pairwise(bounds)]


def side_by_side(calls: list[Callable[[], Any]]) -> list[Any]:
    """Each call's result, the first computed on the calling thread, the others on as many
    threads of the pool; each runs as a part (:func:`threads_at_hand` is 1 within it) in a
    copy of the caller's context. Returns when all are done, then raises the error of the
    first call that raised, if any."""
    futures: list[Future[Any]] = [  # each in a copy of the caller's context: np.errstate
        _executor().submit(contextvars.copy_context().run, _as_part, call) for call in calls[1:]
    ]
    results: list[Any] = [None] * len(calls)
    error: BaseException | None = None
    try:
        results[0] = contextvars.copy_context().run(_as_part, calls[0])
    except BaseException as raised:  # re-raised below, once every part has finished
        error = raised
    for index, future in enumerate(futures, start=1):
        raised_there = future.exception()  # waits for it
        error = error or raised_there
        if raised_there is None:
            results[index] = future.result()
    if error is not None:
        raise error
    return results


def _as_part(call: Callable[[], Any]) -> Any:
    _within_a_part.set(True)  # in this part's own copy of the caller's context
    return call()


@contextlib.contextmanager
def one_blas_thread() -> Iterator[None]:
    """The BLAS libraries loaded in this process (NumPy's OpenBLAS, SciPy's, MKL) held to
    one thread each, their settings restored after (threadpoolctl). The setting is the
    process's: another thread's BLAS call meanwhile runs on one thread too."""
    if not _blas_controller:
        from threadpoolctl import ThreadpoolController

        _blas_controller.append(ThreadpoolController())
    with _blas_controller[0].limit(limits=1, user_api="blas"):
        yield


def thread_limit() -> int:
    """The most threads a call from the main thread may use here (the usable CPUs,
    :data:`REQUESTED_THREADS` and ``MAX_THREADS``)."""
    limit = min(len(_usable_cpus()), MAX_THREADS)
    return limit if REQUESTED_THREADS is None else min(limit, REQUESTED_THREADS)


def requested_threads(value: str) -> int | None:
    """The threads an ``OMP_NUM_THREADS`` value asks for: a positive integer, else None."""
    value = value.strip()
    return int(value) if value.isdigit() and int(value) > 0 else None


REQUESTED_THREADS = requested_threads(os.environ.get("OMP_NUM_THREADS", ""))
"""``OMP_NUM_THREADS`` as it was when this module was imported, read once, as OpenMP
runtimes read it: ``dask.distributed`` sets it to 1 in its own process's environment
when a ``LocalCluster`` spawns its workers (``distributed.nanny.pre-spawn-environ``),
which turned the parts off in a client's process (a fit 22 -> 37 ms)."""


def _usable_cpus() -> Any:
    if hasattr(os, "sched_getaffinity"):
        return os.sched_getaffinity(0)
    return range(os.cpu_count() or 1)


def _executor() -> ThreadPoolExecutor:
    if not _pool:
        _pool.append(
            ThreadPoolExecutor(max_workers=MAX_THREADS - 1, thread_name_prefix="mlpillars-numpy")
        )
    return _pool[0]


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_pool.clear)
