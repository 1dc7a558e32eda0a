"""The ``xp`` fixture: every installed backend x device x float dtype.

Choose a subset with ``--backends numpy,torch`` or ``MLPILLARS_TEST_BACKENDS=numpy,torch``.
A backend that is not installed, or a GPU device on a machine without one, is skipped
with the reason.
"""

from __future__ import annotations

import os

import numpy as np
import pytest

from mlpillars.backends import ENV_VARIABLE, full_float32_products
from mlpillars.testing import BackendCase, backend_cases

# JAX multiplies float32 matrices on a GPU at its default precision (TF32-like on Ampere and
# later, about 1e-3 relative), which the tolerance table's float32 row does not cover;
# torch's and CuPy's default is full float32. The tests ask JAX for the same, as the
# benchmark does; a user's choice stays theirs (README, "Precision on GPUs").
full_float32_products()


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
