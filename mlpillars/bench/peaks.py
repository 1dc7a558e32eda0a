"""The machine's limits, as each backend reaches them: the roofs of the report's roofline.

:func:`measure_peaks` times, per backend spec, two things through the backend's own array-API
namespace, each call ending with :func:`mlpillars.ready`:

- a float32 matrix product ``matmul(a, b)`` of two ``n x n`` matrices: ``2 n**3`` FLOPs a call;
- a float32 copy of ``copy_bytes``: read once and written once, so ``2 * copy_bytes`` bytes a
  call. Two array-API copies are timed and the faster kept: ``asarray(src, copy=True)`` (a fresh
  destination) and, on an eager backend that writes in place,
  ``array_api_extra.at(dst)[...].set(src, copy=False)`` (the destination reused, so the page
  faults of a fresh allocation are not timed).

Each is the best (shortest) of a few rounds after one untimed warm-up call, stopping early once
a measurement has taken ``seconds_per_measure``: the best round is the closest to what the
hardware can do. Defaults (1024² GEMM, 128 MiB copy) keep five CPU backends to about ten
seconds on a two-core machine; a GPU spec uses ``gpu_matrix_size`` (8192) since small products
leave a GPU idle.

``peaks.json`` layout (:data:`~mlpillars.bench.run_folder.PEAKS_FILE` in a run folder;
:func:`write_peaks`; checked by :func:`~mlpillars.bench.run_folder.validate_peaks`)::

    {
      "format": "mlpillars-peaks/1",
      "measured": "2026-11-25T12:00:00+00:00",          # UTC, ISO 8601
      "method": {"matmul": "...", "copy": "...", "statistic": "best of rounds"},
      "backends": {
        "numpy:cpu": {
          "device": "cpu", "gpu": false,
          "gflops": 61.2,                                  # GFLOP/s, 1e9 FLOP/s
          "gbps": 22.8,                                    # GB/s, 1e9 bytes/s, read + write
          "matmul": {"size": 1024, "dtype": "float32", "flops": 2147483648,
                     "seconds": [0.041, 0.035, ...]},     # every timed round
          "copy": {"bytes": 134217728, "counted_bytes": 268435456, "dtype": "float32",
                   "method": "asarray(copy=True)", "seconds": [...]}
        },
        "dask:cpu": {"error": "TypeError: ..."}            # a backend that failed
      }
    }
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from .run_folder import PEAKS_FORMAT

MATRIX_SIZE, GPU_MATRIX_SIZE = 2048, 8192
COPY_BYTES = 128 * 2**20
_ITEMSIZE = 4  # float32


def measure_peaks(
    specs: Sequence[str],
    *,
    matrix_size: int = MATRIX_SIZE,
    gpu_matrix_size: int = GPU_MATRIX_SIZE,
    copy_bytes: int = COPY_BYTES,
    rounds: int = 5,
    seconds_per_measure: float = 0.3,
) -> dict[str, Any]:
    """Measure the GEMM and copy peaks of each backend spec (layout in the module docstring).

    Parameters
    ----------
    specs : sequence of str
        Backend specs as the benchmark names them, e.g. ``["numpy:cpu", "torch:cuda"]``.
    matrix_size, gpu_matrix_size : int
        ``n`` of the ``n x n`` float32 product on a CPU and on a GPU device.
    copy_bytes : int
        Size of the copied float32 array.
    rounds : int
        Most timed rounds per measurement (the best is kept).
    seconds_per_measure : float
        No new round starts after a measurement has taken this long.

    Returns
    -------
    dict
        The ``peaks.json`` content. A spec that fails gets ``{"error": ...}``; the others
        are still measured.
    """
    timing = {"rounds": rounds, "seconds": seconds_per_measure}
    backends: dict[str, Any] = {}
    for spec in specs:
        try:
            backends[spec] = _measure_backend(
                spec, matrix_size, gpu_matrix_size, copy_bytes, timing
            )
        except Exception as exc:  # one broken backend must not cost the others their roofs
            backends[spec] = {
                "error": f"{type(exc).__name__}: {exc}",
                "traceback": traceback.format_exc(),
            }
    return {
        "format": PEAKS_FORMAT,
        "measured": datetime.now(UTC).isoformat(),
        "method": {
            "matmul": "float32 n x n matmul(a, b), 2 n^3 FLOPs",
            "copy": "float32 copy, read + write bytes counted; the faster of "
            "asarray(copy=True) and (in place, eager backends only) "
            "array_api_extra.at(dst)[...].set(src, copy=False)",
            "statistic": "best of rounds, after one untimed warm-up call; "
            "each call ends with mlpillars.ready",
        },
        "backends": backends,
    }


def write_peaks(path: str | Path, specs: Sequence[str], **options: Any) -> dict[str, Any]:
    """Measure with :func:`measure_peaks` and write the result to ``path`` as JSON."""
    peaks = measure_peaks(specs, **options)
    Path(path).write_text(json.dumps(peaks, indent=2) + "\n", encoding="utf-8")
    return peaks


def _measure_backend(
    spec: str, matrix_size: int, gpu_matrix_size: int, copy_bytes: int, timing: dict[str, Any]
) -> dict[str, Any]:
    import array_api_compat

    from ..backends import move_to, parse_backend

    target = parse_backend(spec, source="measure_peaks")
    probe = move_to(np.zeros(1, dtype=np.float32), target)
    device = target.framework.device_of(probe)
    gpu = bool(target.framework.is_gpu(device))
    xp = array_api_compat.array_namespace(probe)

    size = gpu_matrix_size if gpu else matrix_size
    matmul_seconds = _matmul_seconds(xp, target, size, timing)

    method, copy_seconds = _copy_seconds(xp, target, copy_bytes, timing)
    flops = 2 * size**3
    counted = 2 * (copy_bytes // _ITEMSIZE) * _ITEMSIZE
    return {
        "device": str(device),
        "gpu": gpu,
        "gflops": flops / min(matmul_seconds) / 1e9,
        "gbps": counted / min(copy_seconds) / 1e9,
        "matmul": {"size": size, "dtype": "float32", "flops": flops, "seconds": matmul_seconds},
        "copy": {
            "bytes": counted // 2,
            "counted_bytes": counted,
            "dtype": "float32",
            "method": method,
            "seconds": copy_seconds,
        },
    }


def _matmul_seconds(xp: Any, target: Any, size: int, timing: dict[str, Any]) -> list[float]:
    from ..backends import move_to, ready

    generator = np.random.default_rng(0)
    a, b = (move_to(generator.standard_normal((size, size), np.float32), target) for _ in "ab")
    return _rounds(lambda: ready(xp.matmul(a, b)), **timing)


def _copy_seconds(
    xp: Any, target: Any, copy_bytes: int, timing: dict[str, Any]
) -> tuple[str, list[float]]:
    """The faster copy method and its rounds."""
    import array_api_compat
    import array_api_extra as xpx

    from ..backends import move_to, ready

    source = move_to(np.ones(copy_bytes // _ITEMSIZE, dtype=np.float32), target)
    copies = {"asarray(copy=True)": _rounds(lambda: ready(xp.asarray(source, copy=True)), **timing)}
    if not array_api_compat.is_lazy_array(source):
        # in place: only an eager backend writes into the same memory each round (Dask's
        # setitem would stack one more step onto a graph that each round recomputes)
        destination = xp.zeros_like(source)
        copies["at(dst)[...].set(src, copy=False)"] = _rounds(
            lambda: ready(xpx.at(destination)[...].set(source, copy=False)), **timing
        )
    return min(copies.items(), key=lambda item: min(item[1]))


def _rounds(call: Callable[[], Any], *, rounds: int, seconds: float) -> list[float]:
    """One untimed warm-up call, then up to ``rounds`` timed calls within ``seconds``."""
    call()
    timed: list[float] = []
    started = time.perf_counter()
    while len(timed) < rounds and (not timed or time.perf_counter() - started < seconds):
        begin = time.perf_counter()
        call()
        timed.append(time.perf_counter() - begin)
    return timed
