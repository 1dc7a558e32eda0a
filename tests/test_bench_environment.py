"""The benchmark's environment record and its peak-memory measurement."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from mlpillars.bench import environment, memory
from mlpillars.bench.environment import environment_record, write_environment
from mlpillars.bench.memory import measure_peak_memory

MB = 1_000_000
BIG_BYTES = 200 * MB

RECORD_KEYS = {
    "timestamp",
    "hostname",
    "platform",
    "cpu",
    "memory",
    "versions",
    "frameworks",
    "gpu",
    "blas",
    "thread_env",
    "git",
}


@pytest.fixture(scope="module")
def record() -> dict:
    return environment_record()  # imports the installed frameworks: seconds, so made once


# -- environment record ----------------------------------------------------------------------
def test_record_has_every_documented_key_and_no_errors(record):
    assert set(record) == RECORD_KEYS
    for key in RECORD_KEYS:
        assert f"``{key}``" in environment.__doc__, f"{key} is not documented"
    errors = {
        key: value for key, value in record.items() if isinstance(value, dict) and "error" in value
    }
    assert not errors


def test_record_is_json(record, tmp_path: Path):
    json.dumps(record)  # no default=: every value must be plain JSON
    written = write_environment(tmp_path / "environment.json")
    assert json.loads((tmp_path / "environment.json").read_text()).keys() == written.keys()


def test_record_describes_this_process(record):
    assert record["versions"]["numpy"] == np.__version__
    assert record["timestamp"].endswith("+00:00")
    assert record["cpu"]["logical_cores"] >= record["cpu"]["usable_cores"] >= 1
    assert record["memory"]["total_bytes"] > 0
    assert record["thread_env"].keys() == set(environment.THREAD_VARIABLES)


def test_numpy_records_the_threads_its_kernels_may_use():
    from mlpillars.backends.frameworks import _numpy_descent, _numpy_threads

    settings = environment.environment_record(["numpy"])["frameworks"]["numpy"]
    assert settings["kernel_threads"] == _numpy_threads.thread_limit() >= 1
    assert settings["kernel_thread_min_elements"] == 2 * _numpy_threads.PARALLEL_ELEMENTS
    assert settings["descent_part_seconds"] == _numpy_descent.PART_SECONDS > 0


def test_blas_lists_a_library_with_threads(record):
    blas = [pool for pool in record["blas"] if pool["user_api"] == "blas"]
    assert blas, record["blas"]
    assert all(pool["num_threads"] > 0 for pool in blas)
    assert all("/" not in pool["filename"] for pool in blas)


def test_a_pool_without_a_version_says_why(monkeypatch: pytest.MonkeyPatch):
    """An OpenMP pool's version was a bare null: the report's environment showed a blank."""
    import threadpoolctl

    pools = [
        {
            "user_api": "blas",
            "internal_api": "openblas",
            "version": "0.3.31",
            "filepath": "/a/b.so",
        },
        {"user_api": "openmp", "internal_api": "openmp", "version": None, "filepath": "/c/gomp.so"},
    ]
    monkeypatch.setattr(threadpoolctl, "threadpool_info", lambda: pools)
    openblas, openmp = environment._blas()
    assert openblas["version"] == "0.3.31" and "reasons" not in openblas
    assert openmp["version"] is None and openmp["filename"] == "gomp.so"
    assert openmp["reasons"] == {
        "version": "threadpoolctl gives none: an OpenMP runtime does not report its version"
    }


def test_git_commit_of_a_checkout(record):
    checkout = Path(environment.__file__).resolve().parents[2]
    probe = subprocess.run(["git", "-C", str(checkout), "rev-parse", "HEAD"], capture_output=True)
    if probe.returncode != 0:
        pytest.skip("mlpillars is not running from a git checkout")
    assert re.fullmatch(r"[0-9a-f]{40}", record["git"]["commit"])
    assert isinstance(record["git"]["dirty"], bool)


def test_no_gpu_is_null_with_a_reason(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(environment, "_framework_gpus", lambda: None)
    monkeypatch.setattr(environment, "_nvidia_smi", lambda: None)
    gpu = environment._gpu()
    assert gpu["devices"] is None
    assert "no GPU" in gpu["reasons"]["devices"]


def test_a_failing_section_becomes_an_error_entry():
    assert environment._section(lambda: 1 / 0) == {"error": "ZeroDivisionError: division by zero"}


# -- peak memory -----------------------------------------------------------------------------
def _touch_big_array() -> None:
    big = np.empty(BIG_BYTES // 8)
    big.fill(1.0)  # np.empty alone maps pages without touching them: no resident memory


def test_peak_of_a_big_array_then_of_a_trivial_block():
    with measure_peak_memory() as big:
        _touch_big_array()
    with measure_peak_memory() as small:
        sum(range(1000))
    if big.host_method != "vmhwm":
        pytest.skip("/proc/self/clear_refs cannot reset VmHWM here: tracemalloc fallback")
    assert big.peak_host_increase_bytes >= 0.95 * BIG_BYTES
    assert small.peak_host_increase_bytes < 20 * MB
    # The reset works: the second block must not inherit the first block's peak.
    assert small.peak_host_bytes < big.peak_host_bytes - 0.9 * BIG_BYTES


def test_tracemalloc_fallback_sees_numpy(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    monkeypatch.setattr(memory, "_CLEAR_REFS", tmp_path / "missing" / "clear_refs")
    with measure_peak_memory() as peak:
        _touch_big_array()
    assert peak.host_method == "tracemalloc"
    assert peak.peak_host_increase_bytes >= BIG_BYTES
    assert peak.peak_host_bytes >= peak.peak_host_increase_bytes


def test_no_gpu_means_no_device_peaks_and_no_imports():
    code = (
        "import sys; from mlpillars.bench.memory import measure_peak_memory\n"
        "with measure_peak_memory() as peak: pass\n"
        "print(peak.device_peak_bytes, sorted({'torch', 'jax', 'cupy'} & set(sys.modules)))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "{} []"


def test_gpu_peaks_are_reset_before_and_read_after(monkeypatch: pytest.MonkeyPatch):
    calls = []
    fake_torch = SimpleNamespace(
        cuda=SimpleNamespace(
            is_available=lambda: True,
            device_count=lambda: 2,
            reset_peak_memory_stats=lambda index: calls.append(f"torch reset {index}"),
            max_memory_allocated=lambda index: 100 * (index + 1),
        )
    )
    fake_pool = SimpleNamespace(
        free_all_blocks=lambda: calls.append("cupy free"),
        total_bytes=lambda: calls.append("cupy read") or 512,
    )
    fake_cupy = SimpleNamespace(
        cuda=SimpleNamespace(is_available=lambda: True), get_default_memory_pool=lambda: fake_pool
    )
    monkeypatch.setitem(sys.modules, "torch", fake_torch)
    monkeypatch.setitem(sys.modules, "cupy", fake_cupy)
    with measure_peak_memory() as peak:
        calls.append("block")
    assert calls == ["torch reset 0", "torch reset 1", "cupy free", "block", "cupy read"]
    assert peak.device_peak_bytes["torch"] == 300  # two GPUs: the sum of their peaks
    assert peak.device_peak_bytes["cupy"] == 512


PRECISION_SCRIPT = """
import os, sys
import mlpillars.backends as backends
backends.full_float32_products()
import jax, jax.numpy as jnp
print(os.environ.get("JAX_DEFAULT_MATMUL_PRECISION"), jax.config.jax_default_matmul_precision)
"""


@pytest.mark.parametrize(
    ("chosen", "expected"), [(None, "highest highest"), ("bfloat16", "bfloat16 bfloat16")]
)
def test_the_benchmark_asks_jax_for_full_float32_products_unless_the_user_chose(chosen, expected):
    # JAX's default on a GPU is TF32-like (an H200's float32 PCA ~1e-3 off the reference):
    # the harness asks for "highest" before JAX is imported, and keeps a user's choice
    pytest.importorskip("jax")
    environment = {k: v for k, v in os.environ.items() if k != "JAX_DEFAULT_MATMUL_PRECISION"}
    if chosen is not None:
        environment["JAX_DEFAULT_MATMUL_PRECISION"] = chosen
    done = subprocess.run(
        [sys.executable, "-c", PRECISION_SCRIPT], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == expected.split()


def test_full_float32_products_updates_a_jax_imported_already(monkeypatch: pytest.MonkeyPatch):
    jax = pytest.importorskip("jax")
    from mlpillars.backends import full_float32_products

    monkeypatch.delenv("JAX_DEFAULT_MATMUL_PRECISION", raising=False)
    before = jax.config.jax_default_matmul_precision
    jax.config.update("jax_default_matmul_precision", None)
    try:
        full_float32_products()
        assert jax.config.jax_default_matmul_precision == "highest"
        assert os.environ["JAX_DEFAULT_MATMUL_PRECISION"] == "highest"
    finally:
        jax.config.update("jax_default_matmul_precision", before)
