"""The full suite's out-of-core case: ``pca_fit`` of a Zarr store of 4x the free RAM.

Issue 12: peak memory must be bounded by the chunk size, not by the data's. The case
writes generated data of ``multiple`` times the machine's available memory to a Zarr store
(chunk by chunk, Dask's threads), then fits PCA on it from disk under the memory meter
(:func:`~mlpillars.bench.memory.measure_peak_memory`: the process's peak RSS, ``VmHWM``)
and deletes the store. Its row has the usual fields (one timed round, the peak, the
machine's load over the fit) plus the data's size, the chunk size and how long the store
took to write.

The data is known: columns of spread ``4 ... 0.5`` about ``1e4``, so the float64 NumPy
reference (which could not hold the data) is replaced by the generating variances: the
fitted ones must match them within the sampling error.

It runs only where the disk has room: ``multiple`` x free RAM, plus ``DISK_MARGIN`` of
that and ``DISK_RESERVE`` bytes, in ``MLPILLARS_OUT_OF_CORE_DIR`` (default: the system's
temporary folder). Otherwise the row is ``skipped`` with the figures and the reason, never
a pass.
"""

from __future__ import annotations

import math
import os
import shutil
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .disturbance import process_meter
from .implementations import Implementation, Prepared, Skip
from .memory import available_host_bytes, measure_peak_memory
from .run_folder import BACKEND, ERROR, OK, SKIPPED, WRONG

if TYPE_CHECKING:
    from ..examples import KernelCall
    from .cases import Case, Suite
    from .catalogue import KernelEntry
    from .results import ResultsLog

KERNEL = "pca_fit"
VARIANT = "Zarr store, size x free RAM"
FEATURES, CHUNK_ROWS, COMPONENTS = 128, 100_000, 8
"""Float64 rows of 128 features in chunks of 100k rows (100 MiB), as the README's run."""
DISK_MARGIN, DISK_RESERVE = 0.1, 2**30
"""The disk must hold the data plus 10% of it (Zarr's metadata and partial chunks; the
data barely compresses) plus 1 GiB left for everything else."""
FOLDER_VARIABLE = "MLPILLARS_OUT_OF_CORE_DIR"
"""Where the store is written (removed after); default the system's temporary folder."""
SCALES = np.geomspace(4.0, 0.5, FEATURES)
"""Each column's standard deviation; the leading PCA variances are the first squared."""
OFFSET = 1e4
"""Each column's mean: far from zero, as covariance by ``X^T X - n mu mu^T`` would fail."""


@dataclass(frozen=True)
class OutOfCorePCA(Implementation):
    """``pca_fit`` on Dask of a Zarr store of ``multiple`` x the free RAM; the case's size
    is ``multiple``. Run whole by :func:`run_out_of_core`, not through ``prepare``."""

    multiple: int = 4
    kind: ClassVar[str] = BACKEND

    @property
    def name(self) -> str:
        return "dask:cpu"

    @property
    def backend(self) -> str:
        return "dask:cpu"

    def prepare(self, entry: KernelEntry, call: KernelCall) -> Prepared:
        raise TypeError("the out-of-core case runs whole: see run_out_of_core")


@dataclass(frozen=True)
class Sizing:
    """The data a run writes and the room it has, in bytes; ``rows`` of ``FEATURES``."""

    data_bytes: int
    rows: int
    free_ram_bytes: float
    free_disk_bytes: int
    folder: Path

    @property
    def needed_disk_bytes(self) -> int:
        return math.ceil(self.data_bytes * (1 + DISK_MARGIN)) + DISK_RESERVE

    def details(self) -> dict[str, Any]:
        """The row's fields describing the data and the room."""
        return {
            "data_bytes": self.data_bytes,
            "rows": self.rows,
            "features": FEATURES,
            "free_ram_bytes": self.free_ram_bytes,
            "free_disk_bytes": self.free_disk_bytes,
            "needed_disk_bytes": self.needed_disk_bytes,
            "store_folder": str(self.folder),
        }


def sizing(multiple: int, *, data_bytes: int | None = None, folder: Path | None = None) -> Sizing:
    """The data for ``multiple`` x the available memory (or exactly ``data_bytes``), in
    ``folder`` (default: ``MLPILLARS_OUT_OF_CORE_DIR``, else the temporary folder)."""
    folder = Path(folder or os.environ.get(FOLDER_VARIABLE) or tempfile.gettempdir())
    free_ram = available_host_bytes()
    if data_bytes is None:
        data_bytes = int(multiple * free_ram) if math.isfinite(free_ram) else 0
    rows = max(data_bytes // (FEATURES * 8), 1)
    free_disk = shutil.disk_usage(folder).free
    return Sizing(rows * FEATURES * 8, rows, free_ram, free_disk, folder)


def skip_reason(multiple: int, size: Sizing) -> Skip | None:
    """Why the case cannot run here (a library missing, unknown RAM, no room on disk)."""
    missing = [name for name in ("dask.array", "zarr") if not _installed(name)]
    if missing:
        return Skip(f"needs {' and '.join(missing)} (pip install 'mlpillars[distributed]')")
    if not math.isfinite(size.free_ram_bytes):
        return Skip("the free RAM is unknown here (no /proc/meminfo): no size to aim at")
    if size.free_disk_bytes < size.needed_disk_bytes:
        return Skip(
            f"not run: {multiple}x the {_gib(size.free_ram_bytes)} of free RAM is "
            f"{_gib(size.data_bytes)}; with its margin it needs {_gib(size.needed_disk_bytes)} "
            f"on disk, but {size.folder} has {_gib(size.free_disk_bytes)} free (set "
            f"{FOLDER_VARIABLE} to a folder on a larger disk)",
            size.details(),
        )
    return None


def run_out_of_core(
    case: Case,
    suite: Suite,
    log: ResultsLog,
    benchmark: Any = None,
    *,
    data_bytes: int | None = None,
    chunk_rows: int = CHUNK_ROWS,
    folder: Path | None = None,
) -> dict[str, Any]:
    """Write the store, fit PCA on it under the memory meter, record the row, delete it.

    Parameters
    ----------
    case : Case
        The out-of-core case (its implementation an :class:`OutOfCorePCA`).
    suite : Suite
    log : ResultsLog
        Where the row is appended, whatever its status.
    benchmark : pytest-benchmark fixture, optional
        Times the one fit as its one round; without it, ``time.perf_counter``.
    data_bytes : int, optional
        The data's size instead of ``multiple`` x the free RAM (tests: a tiny store).
    chunk_rows : int
        Rows per chunk (of 128 float64 features).
    folder : Path, optional
        Where to write the store (default: ``MLPILLARS_OUT_OF_CORE_DIR``, else the
        temporary folder).

    Returns
    -------
    dict
        The row: status ``ok``, ``wrong`` (variances off), ``skipped`` (no room: the
        reason and the figures) or ``error`` (the exception, the store removed).
    """
    multiple = getattr(case.implementation, "multiple", case.size)
    size = sizing(multiple, data_bytes=data_bytes, folder=folder)
    row = _row(case, suite, size, chunk_rows)
    skip = skip_reason(multiple, size)
    if skip is not None:
        return _finish(log, row, status=SKIPPED, reason=skip.reason, **skip.details)
    store = Path(tempfile.mkdtemp(prefix="mlpillars-out-of-core-", dir=size.folder)) / "x.zarr"
    try:
        write_seconds = _write_store(store, size.rows, chunk_rows)
        meter = process_meter()
        load_start = meter.start()  # the machine's load over the fit (the timed part)
        variances, seconds, peak = _fit_from_disk(store, benchmark)
        row.update(meter.finish(load_start))
    except Exception as exc:  # recorded as the harness records any failing case
        reason = f"{type(exc).__name__}: {exc}"
        return _finish(log, row, status=ERROR, reason=reason, traceback=traceback.format_exc())
    finally:
        shutil.rmtree(store.parent, ignore_errors=True)
    expected = SCALES[:COMPONENTS] ** 2
    relative = float(np.max(np.abs(variances - expected) / expected))
    allowed = max(0.01, 6 * math.sqrt(2 / size.rows))  # six standard errors of a variance
    row.update(
        store_write_seconds=write_seconds,
        rounds=[seconds],
        median=seconds,
        peak_host_bytes=peak.peak_host_bytes,
        peak_host_increase_bytes=peak.peak_host_increase_bytes,
        host_memory_method=peak.host_method,
        device_peak_bytes=peak.device_peak_bytes,
        explained_variance=variances.tolist(),
        max_rel_error=relative,
        correct=relative <= allowed,
    )
    if relative > allowed:
        reason = f"variances off the generating ones by {relative:.3g} (allowed {allowed:.3g})"
        return _finish(log, row, status=WRONG, reason=reason)
    if benchmark is not None:
        benchmark.extra_info.update({k: v for k, v in row.items() if k != "rounds"})
    return _finish(log, row, status=OK)


def _write_store(store: Path, rows: int, chunk_rows: int) -> float:
    """Generate the data chunk by chunk into ``store``; the seconds it took."""
    from ..backends import dask_write_normal_zarr

    started = time.perf_counter()
    dask_write_normal_zarr(store, rows=rows, scales=SCALES, offset=OFFSET, chunk_rows=chunk_rows)
    return time.perf_counter() - started


def _fit_from_disk(store: Path, benchmark: Any) -> tuple[np.ndarray, float, Any]:
    """The leading explained variances of the store's PCA, the fit's seconds and its
    memory peak (the store opened and fitted under the meter)."""
    from .. import pca_fit
    from ..backends import dask_from_zarr

    def fit() -> np.ndarray:
        return np.asarray(pca_fit(dask_from_zarr(store), COMPONENTS).explained_variance)

    with measure_peak_memory() as peak:
        variances, seconds = _once(fit, benchmark)
    return variances, seconds, peak


def _once(function: Callable[[], np.ndarray], benchmark: Any) -> tuple[np.ndarray, float]:
    """``function()`` run once, and its seconds (pytest-benchmark's one round if given)."""
    if benchmark is None:
        started = time.perf_counter()
        result = function()
        return result, time.perf_counter() - started
    results: list[np.ndarray] = []
    benchmark.pedantic(lambda: results.append(function()), rounds=1, iterations=1)
    return results[0], float(benchmark.stats.stats.data[0])


def _row(case: Case, suite: Suite, size: Sizing, chunk_rows: int) -> dict[str, Any]:
    return {
        **case.row_fields(suite.name),
        "flops": 2 * size.rows * FEATURES**2,  # the covariance's products
        "bytes": size.data_bytes,  # read once from disk
        "chunk_bytes": min(chunk_rows, size.rows) * FEATURES * 8,
        "started": datetime.now(UTC).isoformat(),
        **size.details(),
    }


def _finish(log: ResultsLog, row: dict[str, Any], *, status: str, **details: Any) -> dict[str, Any]:
    row.update(status=status, finished=datetime.now(UTC).isoformat(), **details)
    log.append(row)
    return row


def _installed(module: str) -> bool:
    import importlib.util

    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:  # the parent package is missing
        return False


def _gib(count: float) -> str:
    return f"{count / 2**30:.1f} GiB"
