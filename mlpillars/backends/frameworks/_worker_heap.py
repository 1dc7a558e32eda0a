"""glibc's heap kept through a task's kernel call, where Dask's workers return it at every
free.

Dask's nannies start their workers with ``MALLOC_TRIM_THRESHOLD_=65536`` (the config key
``distributed.nanny.pre-spawn-environ``), so that memory freed by tasks goes back to the
system. glibc then trims the top of its heap at every free that leaves 64 KiB there, and
maps every block of 128 KiB or more afresh (setting the variable turns off glibc's
adaptive mmap threshold). Gradient descent frees and makes the same arrays at every step:
each comes back as new pages, which fault in one by one when written (about 5 us a fault
on the project's VM). A fit of 128 problems (n=512, d=32, 200 steps, one BLAS thread)
under that environment, plain -> kept: logistic 153,000 -> 1,040 page faults, 1,030-1,090
-> 540-614 ms (in a process without the variable: 558 ms); MSE 2,400 -> 1,200 faults.
Attention's tiles of scores do the same: q, k, v (2, 8, 1024, 64) float32, 16,971 ->
1,535 faults, 223 -> 143 ms (100 ms without the variable).

:func:`heap_kept` raises both thresholds for the duration of a call (the heap's top and
blocks up to 32 MiB are reused, not returned) and, when the last such call of the process
ends, sets them back to the variables' values and trims the heap once (``malloc_trim(0)``),
so that what the calls freed goes back to the system as Dask intends. Only where the
variable was in the process's environment when it started (``/proc/self/environ``: glibc
reads it then, and one set later changes nothing, which calling ``mallopt`` here would)
and the C library is glibc; elsewhere nothing changes.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import platform
import threading
from collections.abc import Iterator
from typing import Any

M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
"""``mallopt`` parameters, as glibc's ``malloc.h`` numbers them."""

KEPT_TRIM_BYTES = 2**30
KEPT_MMAP_BYTES = 32 * 2**20
"""The thresholds during a call: a free leaves up to 1 GiB at the heap's top; blocks up to
32 MiB (glibc's largest mmap threshold on 64-bit) come from the heap."""

DEFAULT_TRIM_BYTES = DEFAULT_MMAP_BYTES = 128 * 2**10
"""glibc's own thresholds (the adaptive ones off): restored where a variable is unreadable
or, for the mmap threshold, unset."""

_lock = threading.Lock()
_calls_running = 0


@contextlib.contextmanager
def heap_kept() -> Iterator[None]:
    """Keep glibc's heap through the block, where the process started with
    ``MALLOC_TRIM_THRESHOLD_`` set."""
    library = _glibc() if "MALLOC_TRIM_THRESHOLD_" in _startup_environment() else None
    if library is None:
        yield
        return
    _enter(library)
    try:
        yield
    finally:
        _leave(library)


def _enter(library: Any) -> None:
    global _calls_running
    with _lock:
        _calls_running += 1
        if _calls_running == 1:
            library.mallopt(M_TRIM_THRESHOLD, KEPT_TRIM_BYTES)
            library.mallopt(M_MMAP_THRESHOLD, KEPT_MMAP_BYTES)


def _leave(library: Any) -> None:
    global _calls_running
    with _lock:
        _calls_running -= 1
        if _calls_running == 0:
            trim_bytes = _setting("MALLOC_TRIM_THRESHOLD_", DEFAULT_TRIM_BYTES)
            mmap_bytes = _setting("MALLOC_MMAP_THRESHOLD_", DEFAULT_MMAP_BYTES)
            library.mallopt(M_TRIM_THRESHOLD, trim_bytes)
            library.mallopt(M_MMAP_THRESHOLD, mmap_bytes)
            library.malloc_trim(0)


def _setting(name: str, default: int) -> int:
    """An integer variable of glibc's as the process started with it, or ``default`` where
    unset or unreadable."""
    try:
        return int(_startup_environment()[name])
    except (KeyError, ValueError):
        return default


@functools.cache
def _startup_environment() -> dict[str, str]:
    """The process's environment when it started (Linux's ``/proc/self/environ``; later
    changes to ``os.environ`` are not in it), the glibc variables only; empty where
    unreadable."""
    try:
        with open("/proc/self/environ", "rb") as environ:
            entries = environ.read().split(b"\0")
    except OSError:
        return {}
    pairs = (entry.decode(errors="replace").partition("=") for entry in entries)
    return {name: value for name, _, value in pairs if name.startswith("MALLOC_")}


@functools.cache
def _glibc() -> Any:
    """The process's C library where it is glibc with ``mallopt`` and ``malloc_trim``, or None
    (looked up once: ``platform.libc_ver`` reads the interpreter's file)."""
    if platform.system() != "Linux" or platform.libc_ver()[0] != "glibc":
        return None
    try:
        library = ctypes.CDLL(None)
    except OSError:
        return None
    if not all(hasattr(library, name) for name in ("mallopt", "malloc_trim")):
        return None
    return library
