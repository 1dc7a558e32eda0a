"""The ``xp`` fixture: every installed backend x device x float dtype.

Choose a subset with ``--backends numpy,torch`` or ``MLPILLARS_TEST_BACKENDS=numpy,torch``.
A backend that is not installed, or a GPU device on a machine without one, is skipped
with the reason.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from mlpillars.backends import ENV_VARIABLE
from mlpillars.testing import BackendCase, backend_cases


def _use_a_jax_compilation_cache() -> None:
    """JAX compiles each eager operation for each new shape and dtype: about two thirds of
    the JAX tests' time. Kept in the user's cache folder, the compiled programs serve the
    next run on the same machine (a second run of the JAX descent, fused and calculus
    tests measured 65 s against 183 s). ``MLPILLARS_TEST_JAX_CACHE=0`` turns it off; JAX's
    own ``JAX_COMPILATION_CACHE_DIR`` chooses another folder."""
    if os.environ.get("MLPILLARS_TEST_JAX_CACHE", "1") == "0":
        return
    cache_home = os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache")
    folder = os.path.join(cache_home, "mlpillars", "jax-tests")
    os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", folder)
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
    os.environ.setdefault("JAX_COMPILATION_CACHE_MAX_SIZE", str(512 * 2**20))


_use_a_jax_compilation_cache()  # before anything imports JAX (it reads them on import)


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
