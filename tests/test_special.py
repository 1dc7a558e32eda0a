"""The backends' error function (``mlpillars.backends.erf``) against SciPy in float64.

Every backend must meet the tolerance table; NumPy's float32 rational form (module
``_numpy_special``) must also meet the bound its docstring states, on a dense grid.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
import scipy.special

from mlpillars.backends import erf, extremes, largest_magnitude, quiet_arithmetic, values_known
from mlpillars.backends.frameworks import _numpy_special
from mlpillars.testing import BackendCase, assert_close

# Zero, tiny values (erf(x) ~ 1.13 x), both sides of the clamp at 4, beyond it; infinities.
EDGES = [0.0, -0.0, 1e-30, -1e-30, 1e-6, 0.5, -0.5, 1.0, 2.5, -3.3, 3.99, 4.0, -4.01, 6.0, 30.0]


def test_erf_matches_scipy(xp: BackendCase, rng: np.random.Generator):
    values = np.concatenate([EDGES, rng.normal(scale=2.0, size=500), [np.inf, -np.inf]])
    x = xp.asarray(values)
    assert_close(erf(x), scipy.special.erf(xp.to_numpy(x).astype(np.float64)), like=x)


def test_erf_of_nan_is_nan(xp: BackendCase):
    x = xp.asarray([np.nan, 1.0])
    result = xp.to_numpy(erf(x))
    assert np.isnan(result[0]) and not np.isnan(result[1])


def test_numpy_float32_erf_meets_its_stated_bound():
    values = np.linspace(-6.0, 6.0, 2_000_001, dtype=np.float32)
    expected = scipy.special.erf(values.astype(np.float64))
    result = _numpy_special.erf(values)
    assert result.dtype == np.float32
    error = np.abs(result.astype(np.float64) - expected)
    assert error.max() <= 5e-7, f"largest error {error.max():.3g} at x = {values[error.argmax()]}"
    small = (np.abs(values) < 0.5) & (values != 0)
    assert (error[small] / np.abs(expected[small])).max() <= 3e-7
    assert np.abs(result).max() <= 1.0
    np.testing.assert_array_equal(_numpy_special.erf(np.array([0.0, -0.0], np.float32)), [0, 0])


@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64])
def test_numpy_erf_reads_strided_and_read_only_inputs(rng, dtype):
    base = rng.normal(scale=2.0, size=(7, 10)).astype(dtype)
    strided = base[:, ::3]
    strided.flags.writeable = False
    before = strided.copy()
    result = _numpy_special.erf(strided)
    assert result.dtype == dtype and result.shape == strided.shape
    np.testing.assert_array_equal(strided, before)
    tolerance = {np.float16: 1e-3, np.float32: 5e-7, np.float64: 1e-15}[dtype]
    np.testing.assert_allclose(
        result, scipy.special.erf(before.astype(np.float64)), rtol=0, atol=tolerance
    )


def test_numpy_erf_blocks_cover_every_element(monkeypatch, rng):
    monkeypatch.setattr(_numpy_special, "BLOCK_ELEMENTS", 64)
    monkeypatch.setattr(_numpy_special, "SCIPY_BELOW", 0)  # the rational form, not SciPy
    values = rng.normal(size=(13, 17)).astype(np.float32)  # 221: three whole blocks and a part
    in_place = values.copy()
    assert _numpy_special.erf_in_place(in_place) is in_place
    np.testing.assert_allclose(in_place, scipy.special.erf(values.astype(np.float64)), atol=5e-7)
    strided = values.copy()[:, ::2]  # not contiguous: computed apart, written back
    _numpy_special.erf_in_place(strided)
    np.testing.assert_allclose(
        strided, scipy.special.erf(values[:, ::2].astype(np.float64)), atol=5e-7
    )


def test_numpy_float32_erf_of_few_elements_is_scipys(rng):
    values = rng.normal(scale=2.0, size=(3, 50)).astype(np.float32)
    assert values.size < _numpy_special.SCIPY_BELOW
    buffer = values.copy()
    assert _numpy_special.erf_in_place(buffer) is buffer
    np.testing.assert_array_equal(buffer, scipy.special.erf(values))


@pytest.mark.parametrize("kind", ["labels", "floats"])
def test_extremes_are_the_least_and_greatest_element(xp: BackendCase, rng, kind):
    """``extremes`` (torch: one ``aminmax``) of integer labels and of floats with -0.0."""
    host = rng.integers(-3, 50, size=(7, 9)) if kind == "labels" else rng.normal(size=(7, 9))
    x = xp.asarray(host)  # integers stay integers
    lowest, highest = extremes(x, xp=xp.xp)
    assert tuple(lowest.shape) == () and tuple(highest.shape) == ()
    assert float(xp.to_numpy(lowest)) == float(xp.to_numpy(x).min())
    assert float(xp.to_numpy(highest)) == float(xp.to_numpy(x).max())


@pytest.mark.parametrize("extra", [None, -7.5, np.inf, -np.inf, np.nan])
def test_largest_magnitude_is_the_largest_absolute_value(xp: BackendCase, rng, extra):
    """``largest_magnitude`` (torch: one ``aminmax``): the most negative entry counts; a
    NaN anywhere gives NaN."""
    host = rng.uniform(-2.0, 3.0, size=(4, 6))
    if extra is not None:
        host[2, 3] = extra
    x = xp.asarray(host)
    if not values_known(x):
        pytest.skip(f"{xp.spec}: values are read only where that costs no device sync")
    expected = float(np.max(np.abs(xp.to_numpy(x))))
    found = largest_magnitude(x, xp=xp.xp)
    assert type(found) is float
    assert (np.isnan(found) and np.isnan(expected)) or found == expected


def test_quiet_arithmetic_silences_only_its_scope_and_only_when_asked(xp: BackendCase):
    # NumPy's (and array-api-strict's) overflow and invalid-value warnings are off inside
    # the context, back after it, and on where ``when`` is False; other frameworks have
    # none to silence (Dask's come at compute time), and are given a context all the same
    largest = float(np.finfo(xp.dtype_name).max)
    x = xp.asarray([largest, 1.0])
    warns = xp.backend in ("numpy", "array_api_strict")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        with quiet_arithmetic(x):  # eagerly: inf, then inf - inf (Dask's, lazy, not run)
            doubled = x * 2.0
            doubled - doubled
        if warns:
            with pytest.raises(RuntimeWarning, match="overflow"):
                x * 2.0
            with pytest.raises(RuntimeWarning, match="overflow"), quiet_arithmetic(x, when=False):
                x * 2.0
