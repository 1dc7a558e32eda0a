"""Peak memory of one benchmark case, measured in this process.

::

    with measure_peak_memory() as peak:
        result = kernel(inputs)
        framework.synchronize(result)  # asynchronous backends: wait, or the peak is not reached
    peak.peak_host_increase_bytes, peak.device_peak_bytes

Host memory. On Linux, writing ``"5"`` to ``/proc/self/clear_refs`` resets the process's peak
resident set (``VmHWM``) to its current resident set (Linux 4.0 and later; older kernels refuse
the write). After the block, ``VmHWM`` in ``/proc/self/status`` is the highest resident set the
block reached: every allocation of every library and thread counts, once its pages are touched.
Where ``clear_refs`` cannot be written (not Linux, an old kernel, a sandbox) the fallback is
``tracemalloc``, which sees only memory allocated through Python's allocator hooks: Python objects
and NumPy's array buffers, but not torch's, JAX's or BLAS's own allocations.

Device memory, for GPU frameworks that are already imported (none is ever imported here) and that
see a GPU, by backend name (several GPUs of one backend: the sum of their peaks, an upper bound):
each framework's ``start_device_peak`` (in ``mlpillars/backends/frameworks/``) resets its
allocator's peak counter and says how to read it, and documents what that counter means
(some cannot be reset, some count pool blocks rather than bytes in use).

The host peak is the whole process's, so nesting two measurements resets the outer one's peak.
"""

from __future__ import annotations

import re
import tracemalloc
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from ..backends import FRAMEWORKS

_CLEAR_REFS = Path("/proc/self/clear_refs")
_STATUS = Path("/proc/self/status")
_RESET_PEAK_RSS = "5"  # clear_refs value that resets VmHWM (Linux >= 4.0)


@dataclass
class MemoryPeak:
    """Peak memory of a block, filled in when the block exits.

    Attributes
    ----------
    host_method
        ``"vmhwm"`` (peak resident set of the process, from ``/proc``) or ``"tracemalloc"``
        (Python and NumPy allocations only).
    peak_host_bytes
        The highest host memory during the block: the resident set (``vmhwm``) or the bytes
        traced (``tracemalloc``), including what was already held when the block began.
    peak_host_increase_bytes
        ``peak_host_bytes`` minus what was held when the block began: what the block added.
    device_peak_bytes
        Peak allocator bytes by backend (``"torch"``, ``"cupy"``, ``"jax"``), for GPU frameworks
        already imported; empty when there are none.
    """

    host_method: str | None = None
    peak_host_bytes: int | None = None
    peak_host_increase_bytes: int | None = None
    device_peak_bytes: dict[str, int] = field(default_factory=dict)


@contextmanager
def measure_peak_memory() -> Iterator[MemoryPeak]:
    """Measure the peak host and GPU memory of the ``with`` block (see the module docstring)."""
    peak = MemoryPeak()
    device_readers = _reset_device_peaks()  # first: it may start CUDA, which costs host memory
    finish_host = _start_vmhwm() or _start_tracemalloc()
    try:
        yield peak
    finally:
        finish_host(peak)
        peak.device_peak_bytes = {name: read() for name, read in device_readers.items()}


# -- host ----------------------------------------------------------------------------------
def _start_vmhwm() -> Callable[[MemoryPeak], None] | None:
    """Reset ``VmHWM``; ``None`` where that cannot be done."""
    try:
        _CLEAR_REFS.write_text(_RESET_PEAK_RSS)
        rss_before = _proc_status_bytes()["VmRSS"]
    except (OSError, KeyError):
        return None

    def finish(peak: MemoryPeak) -> None:
        peak.host_method = "vmhwm"
        peak.peak_host_bytes = _proc_status_bytes()["VmHWM"]
        # VmHWM is updated lazily by the kernel and can trail VmRSS by a few pages
        peak.peak_host_increase_bytes = max(0, peak.peak_host_bytes - rss_before)

    return finish


def available_host_bytes() -> float:
    """Memory the host can still give (``MemAvailable``); infinity where unknown."""
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return float(line.split()[1]) * 1024
    except OSError:
        pass
    return float("inf")


def _proc_status_bytes() -> dict[str, int]:
    """The ``kB`` fields of ``/proc/self/status``, in bytes."""
    return {
        name: int(kib) * 1024
        for name, kib in re.findall(r"^(\w+):\s+(\d+) kB$", _STATUS.read_text(), re.MULTILINE)
    }


def _start_tracemalloc() -> Callable[[MemoryPeak], None]:
    started_here = not tracemalloc.is_tracing()
    if started_here:
        tracemalloc.start()
    tracemalloc.reset_peak()
    traced_before, _ = tracemalloc.get_traced_memory()

    def finish(peak: MemoryPeak) -> None:
        _, traced_peak = tracemalloc.get_traced_memory()
        if started_here:
            tracemalloc.stop()
        peak.host_method = "tracemalloc"
        peak.peak_host_bytes = traced_peak
        peak.peak_host_increase_bytes = traced_peak - traced_before

    return finish


# -- devices -------------------------------------------------------------------------------
def _reset_device_peaks() -> dict[str, Callable[[], int]]:
    """Reset the peak of each imported framework that sees a GPU; return how to read each."""
    readers = {}
    for name, framework in FRAMEWORKS.items():
        if framework.gpu_capable and framework.is_loaded():
            read = framework.start_device_peak()
            if read is not None:
                readers[name] = read
    return readers
