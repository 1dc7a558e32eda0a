"""glibc's heap kept through Dask's gradient-descent and attention tasks where the
worker's environment trims it at every free (``mlpillars.backends.frameworks._worker_heap``).

A recording stand-in for the C library checks which settings are made and undone, and
when; the real glibc, where this machine has it, takes the same calls.
"""

from __future__ import annotations

import os
import threading

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.backends.frameworks import _worker_heap


class RecordingLibrary:
    def __init__(self) -> None:
        self.calls: list[tuple] = []

    def mallopt(self, parameter: int, value: int) -> int:
        self.calls.append(("mallopt", parameter, value))
        return 1

    def malloc_trim(self, pad: int) -> int:
        self.calls.append(("malloc_trim", pad))
        return 1


@pytest.fixture
def startup():
    """The environment the process "started" with, as glibc read it (a Dask worker's)."""
    return {"MALLOC_TRIM_THRESHOLD_": "65536"}


@pytest.fixture
def library(monkeypatch, startup):
    recording = RecordingLibrary()
    monkeypatch.setattr(_worker_heap, "_glibc", lambda: recording)
    monkeypatch.setattr(_worker_heap, "_startup_environment", lambda: startup)
    return recording


KEPT = [
    ("mallopt", _worker_heap.M_TRIM_THRESHOLD, _worker_heap.KEPT_TRIM_BYTES),
    ("mallopt", _worker_heap.M_MMAP_THRESHOLD, _worker_heap.KEPT_MMAP_BYTES),
]


def restored(mmap_bytes: int = 128 * 1024) -> list[tuple]:
    return [
        ("mallopt", _worker_heap.M_TRIM_THRESHOLD, 65536),
        ("mallopt", _worker_heap.M_MMAP_THRESHOLD, mmap_bytes),
        ("malloc_trim", 0),
    ]


def test_kept_through_the_block_then_set_back_and_trimmed(library):
    with _worker_heap.heap_kept():
        assert library.calls == KEPT
    assert library.calls == KEPT + restored()


def test_a_set_mmap_threshold_is_the_one_restored(library, startup):
    startup["MALLOC_MMAP_THRESHOLD_"] = "262144"
    with _worker_heap.heap_kept():
        pass
    assert library.calls == KEPT + restored(262144)


def test_overlapping_fits_set_once_and_restore_after_the_last(library):
    # a worker of two threads: the second fit starts before the first ends
    first_inside, second_done = threading.Event(), threading.Event()

    def first() -> None:
        with _worker_heap.heap_kept():
            first_inside.set()
            second_done.wait(timeout=10)

    thread = threading.Thread(target=first)
    thread.start()
    first_inside.wait(timeout=10)
    with _worker_heap.heap_kept():
        pass
    assert library.calls == KEPT  # the second fit's end restores nothing: the first runs
    second_done.set()
    thread.join(timeout=10)
    assert library.calls == KEPT + restored()


def test_restored_when_the_fit_raises(library):
    with pytest.raises(RuntimeError, match="a failed fit"), _worker_heap.heap_kept():
        raise RuntimeError("a failed fit")
    assert library.calls == KEPT + restored()


def test_nothing_changes_without_the_variable_at_startup(library, startup, monkeypatch):
    # set later (os.environ), glibc never read it: keeping, then restoring, would change
    # the process's allocator (its adaptive thresholds off for good)
    del startup["MALLOC_TRIM_THRESHOLD_"]
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "65536")
    with _worker_heap.heap_kept():
        pass
    assert library.calls == []


STARTUP_SCRIPT = """
import json, os
from mlpillars.backends.frameworks import _worker_heap
os.environ["MALLOC_MMAP_THRESHOLD_"] = "4096"  # set later: glibc never read it
del os.environ["MALLOC_ARENA_MAX"]
print(json.dumps(_worker_heap._startup_environment()))
"""


def test_the_startup_environment_is_what_the_process_started_with():
    # In a process of its own: this one's os.environ may have changed since it started (a
    # Dask nanny adds its workers' variables to it for good). /proc/self/environ holds
    # what glibc read, and only glibc's variables are kept.
    import json
    import subprocess
    import sys

    if not os.path.exists("/proc/self/environ"):
        pytest.skip("no /proc/self/environ here")
    started_with = {"MALLOC_TRIM_THRESHOLD_": "65536", "MALLOC_ARENA_MAX": "2"}
    package_root = os.path.dirname(os.path.dirname(mp.__file__))
    environment = {
        **{name: value for name, value in os.environ.items() if not name.startswith("MALLOC_")},
        **started_with,
        "PYTHONPATH": os.pathsep.join([package_root, os.environ.get("PYTHONPATH", "")]),
    }
    done = subprocess.run(
        [sys.executable, "-c", STARTUP_SCRIPT], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == started_with


def test_dask_gradient_descent_tasks_keep_the_heap(library):
    dask, da = _dask()
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(4, 20, 3)), rng.normal(size=(4, 20))
    lazy = mp.gradient_descent(da.from_array(X, chunks=(2, 20, 3)), da.from_array(y), steps=5)
    assert library.calls == []  # nothing runs before the compute
    computed = dask.compute(*lazy, scheduler="sync")
    assert library.calls == 2 * (KEPT + restored())  # two chunks, one fit each
    eager = mp.gradient_descent(X, y, steps=5)
    np.testing.assert_allclose(computed[0], eager.weights, rtol=1e-12)


def test_dask_attention_tasks_keep_the_heap(library):
    _, da = _dask()
    rng = np.random.default_rng(1)
    q, k, v = (rng.normal(size=(2, 3, 8, 4)) for _ in range(3))
    lazy = mp.scaled_dot_product_attention(
        *(da.from_array(a, chunks=(1, 3, 8, 4)) for a in (q, k, v))
    )
    computed = lazy.compute(scheduler="sync")
    assert library.calls == 2 * (KEPT + restored())  # one block per batch entry
    eager = mp.scaled_dot_product_attention(q, k, v)
    np.testing.assert_allclose(computed, eager, rtol=1e-12)


def _dask() -> tuple:
    """Dask and dask.array, or the test is skipped where Dask is not installed."""
    return pytest.importorskip("dask"), pytest.importorskip("dask.array")


FAULTS_SCRIPT = """
import contextlib, resource, numpy as np
from mlpillars.backends.frameworks._worker_heap import heap_kept

def faults(keep):
    before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
    with heap_kept() if keep else contextlib.nullcontext():
        for _ in range(200):
            step = [np.ones(12_000) for _ in range(4)]  # 96 KB each, as a step's arrays
            del step
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before

print(faults(False), faults(True))
"""


def test_the_real_glibc_reuses_the_heap_while_kept():
    # In a process of its own (the settings are the process's): under Dask's worker
    # environment the step's arrays, freed at the heap's top, are trimmed, and the next
    # step's fault their pages in again (about 12,000 faults here); kept, they are reused.
    import subprocess
    import sys

    if _worker_heap._glibc() is None:
        pytest.skip("the C library here is not glibc (nothing to keep)")
    environment = {**os.environ, "MALLOC_TRIM_THRESHOLD_": "65536"}
    done = subprocess.run(
        [sys.executable, "-c", FAULTS_SCRIPT], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    plain, kept = map(int, done.stdout.split())
    assert plain > 2000 and kept < plain / 20, (plain, kept)
