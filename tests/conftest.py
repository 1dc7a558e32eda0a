"""The ``xp`` fixture: every installed backend x device x float dtype.

Choose a subset with ``--backends numpy,torch`` or ``MLPILLARS_TEST_BACKENDS=numpy,torch``.
A backend that is not installed, or a GPU device on a machine without one, is skipped
with the reason.
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

from mlpillars.backends import ENV_VARIABLE, full_float32_products
from mlpillars.backends.frameworks import _jax_devices
from mlpillars.testing import BackendCase, backend_cases

# JAX multiplies float32 matrices on a GPU at its default precision (TF32-like on Ampere and
# later, about 1e-3 relative), which the tolerance table's float32 row does not cover;
# torch's and CuPy's default is full float32. The tests ask JAX for the same, as the
# benchmark does; a user's choice stays theirs (README, "Precision on GPUs").
full_float32_products()

# The benchmark gives JAX one CPU device per CPU and spreads independent problems over
# them; the tests ask for two whatever the machine's CPUs, so that sharded inputs are
# tested on every machine, unless the caller chose a count.
_jax_devices.one_device_per_cpu(2)


def _share_jax_compilations() -> Path | None:
    """A folder for JAX's persistent compilation cache, made for this run; None where the
    caller chose a cache (or this is a pytest-xdist worker, which inherits the run's).

    XLA compiles every JAX primitive anew for each shape, about 50 ms each on a 2-core CPU:
    70% of the JAX tests' time. Through the cache the run's processes share what they
    compiled: 20% less JAX test time, measured with two workers.
    """
    if "JAX_COMPILATION_CACHE_DIR" in os.environ:
        return None
    folder = Path(tempfile.mkdtemp(prefix="mlpillars-tests-jax-cache-"))
    settings = {
        "jax_compilation_cache_dir": str(folder),
        "jax_persistent_cache_min_compile_time_secs": 0.0,
    }
    os.environ.update({name.upper(): str(value) for name, value in settings.items()})
    if "jax" in sys.modules:  # imported before this file: it has read the environment
        import jax

        for name, value in settings.items():
            jax.config.update(name, value)
    return folder


_JAX_CACHE = _share_jax_compilations()


def pytest_sessionfinish(session: pytest.Session) -> None:
    if _JAX_CACHE is not None:
        shutil.rmtree(_JAX_CACHE, ignore_errors=True)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--backends",
        default=None,
        help="comma-separated backends to test (default: all; or MLPILLARS_TEST_BACKENDS)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "xp" not in metafunc.fixturenames:
        return
    option = metafunc.config.getoption("--backends")
    chosen = [name.strip() for name in option.split(",")] if option else None
    params = [
        pytest.param(
            case,
            id=case.id,
            marks=[pytest.mark.skip(reason=case.skip_reason)] if case.skip_reason else [],
        )
        for case in backend_cases(chosen)
    ]
    metafunc.parametrize("xp", params, indirect=True)


@pytest.fixture
def xp(request: pytest.FixtureRequest) -> BackendCase:
    """A :class:`BackendCase`: ``xp.asarray(values)``, ``xp.xp``, ``xp.tolerance`` ..."""
    return request.param


@pytest.fixture(autouse=True)
def _no_selected_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests start with no backend selected, whatever the caller's environment says."""
    monkeypatch.delenv(ENV_VARIABLE, raising=False)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261125)


def pytest_report_header(config: pytest.Config) -> str:
    chosen = os.environ.get("MLPILLARS_TEST_BACKENDS") or config.getoption("--backends") or "all"
    return f"mlpillars test backends: {chosen}"
