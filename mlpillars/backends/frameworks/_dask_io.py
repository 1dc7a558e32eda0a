"""Dask's data and schedulers: ``.npy`` files read row block by row block, Zarr stores
(generated data written, a store opened), a ``dask.distributed`` cluster for a block of
code, and the client kernels compute on.

Each function imports Dask (or ``distributed``) itself, when first called.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from typing import Any

import numpy as np

from .._errors import BackendNotInstalledError


def from_npy(path: str | os.PathLike[str], *, chunk_rows: int | None = None) -> Any:
    """A ``.npy`` file as a Dask array whose tasks each read their own rows from disk.

    ``dask.array.from_array(np.load(path, mmap_mode="r"))`` copies the whole memmap into
    memory (dask/dask#11850); here each task maps the file, copies its rows and lets the
    map go, so memory holds only the chunks being worked on, on any scheduler (the path
    must be readable by the workers).

    Parameters
    ----------
    path : str or path-like
        A ``.npy`` file of any shape with at least one axis.
    chunk_rows : int, optional
        Rows (first-axis entries) per chunk; default: Dask's ``"auto"`` chunk size.

    Returns
    -------
    dask.array.Array
        The file's shape and dtype, chunked along the first axis only.
    """
    import dask
    import dask.array as da

    header = np.load(path, mmap_mode="r")  # reads the header, maps the data lazily
    shape, dtype = header.shape, header.dtype
    del header
    row_chunks = da.core.normalize_chunks((chunk_rows or "auto", *shape[1:]), shape, dtype=dtype)[0]
    read = dask.delayed(_read_rows, pure=True)
    starts = np.cumsum((0, *row_chunks))
    blocks = [
        da.from_delayed(read(os.fspath(path), start, stop), (stop - start, *shape[1:]), dtype)
        for start, stop in zip(starts[:-1].tolist(), starts[1:].tolist(), strict=True)
    ]
    return da.concatenate(blocks, axis=0)


def _read_rows(path: str, start: int, stop: int) -> np.ndarray:
    """Rows ``start:stop`` of a ``.npy`` file, copied out of a map that is then closed."""
    return np.array(np.load(path, mmap_mode="r")[start:stop])


def write_normal_zarr(
    path: str | os.PathLike[str],
    *,
    rows: int,
    scales: np.ndarray,
    offset: float,
    chunk_rows: int,
    seed: int = 0,
) -> None:
    """Write generated float64 data to a Zarr store, chunk by chunk, never all of it in
    memory (Dask's threads hold a few chunks each).

    Parameters
    ----------
    path : str or path-like
        The store (overwritten).
    rows : int
        Rows of the data, shape (rows, d).
    scales : array, shape (d,)
        Column j is normal with mean ``offset`` and standard deviation ``scales[j]``.
    offset : float
    chunk_rows : int
        Rows per chunk (the last may be shorter).
    seed : int
        Of ``dask.array.random.default_rng``: the same data each time.
    """
    import dask.array as da

    columns = len(scales)
    chunks = (min(chunk_rows, rows), columns)
    generated = da.random.default_rng(seed).standard_normal((rows, columns), chunks=chunks)
    (generated * np.asarray(scales, dtype=np.float64) + offset).to_zarr(
        os.fspath(path), overwrite=True
    )


def from_zarr(path: str | os.PathLike[str]) -> Any:
    """A Zarr store as a Dask array, chunked as the store is (nothing read yet)."""
    import dask.array as da

    return da.from_zarr(os.fspath(path))


@contextlib.contextmanager
def scheduler(spec: str) -> Iterator[Any]:
    """Compute on a ``dask.distributed`` cluster while the block runs.

    Parameters
    ----------
    spec : str
        ``"local:N"``: start a ``LocalCluster`` of N worker processes, one thread each;
        anything else is a scheduler address (``"tcp://host:8786"``).

    Yields
    ------
    distributed.Client
        The client, Dask's default scheduler until the block ends. A local cluster's
        workers get Dask's worker environment; this process keeps its own (the
        variables the nannies set in it to spawn them are set back once they have: a
        worker restarted later sets them again until the block ends).

    Raises
    ------
    BackendNotInstalledError
        ``distributed`` is not installed (the ``distributed`` extra).
    ValueError
        ``local:N`` with N not a positive integer.
    """
    try:
        import distributed
    except ImportError:
        raise BackendNotInstalledError(
            "a Dask scheduler needs dask.distributed: pip install 'mlpillars[distributed]'"
        ) from None
    kind, _, count = spec.partition(":")
    if kind != "local":
        with distributed.Client(spec) as client:
            yield client
        return
    if not count.isdigit() or int(count) < 1:
        raise ValueError(f"scheduler {spec!r}: expected local:N with N >= 1, e.g. local:4")
    own_values = _worker_variables()
    try:
        with distributed.LocalCluster(
            n_workers=int(count), threads_per_worker=1, dashboard_address=None
        ) as cluster:
            _restore(own_values)
            with distributed.Client(cluster) as client:
                yield client
    finally:
        _restore(own_values)


def _worker_variables() -> dict[str, str | None]:
    """This process's values of the variables that ``dask.distributed``'s nannies set in
    it before they spawn workers (``distributed.nanny.pre-spawn-environ``:
    ``OMP_NUM_THREADS=1``, ``MKL_NUM_THREADS=1``, ``MALLOC_TRIM_THRESHOLD_``...), which
    they leave set: a framework imported afterwards would run this process on one thread
    (torch: ``torch.get_num_threads()`` 1 of 2 on the project's machine)."""
    import dask

    names = dask.config.get("distributed.nanny.pre-spawn-environ", default={}) or {}
    return {name: os.environ.get(name) for name in names}


def _restore(values: dict[str, str | None]) -> None:
    for name, value in values.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def active_client() -> Any:
    """The ``dask.distributed`` client kernels compute on, or None (not installed, or none
    active)."""
    try:
        from distributed import default_client
    except ImportError:
        return None
    try:
        return default_client()
    except ValueError:  # "No clients found"
        return None


def cluster_threads(client: Any) -> int:
    """The threads of the client's cluster's workers, all together."""
    workers = client.scheduler_info().get("workers", {})
    return sum(worker.get("nthreads", 0) for worker in workers.values())
