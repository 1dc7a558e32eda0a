"""NumPy's sums of squares (normalize, cosine_similarity, r_squared): the plain sums where
they are trusted, the kernel's scaled formula for the slices that are not; each against
the formula and an extended-precision reference, on rows of both kinds in one call. And
torch's r_squared, which declines a call with a row it does not trust."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.backends.frameworks import _numpy_squares
from mlpillars.testing import BackendCase, assert_close
from tests.test_fused import _recorded_answers, _unit_rows

SCALES = {"float32": (1e30, 1e-30, 1e6), "float64": (1e300, 1e-300, 1e12)}
"""Per dtype: huge (squares overflow), tiny (squares underflow), an offset far from zero."""

LENGTHS = (5, _numpy_squares.SHORT_ROWS + 3)  # short rows (vecdot, einsum), then long ones


def _xp(dtype_name: str):
    return BackendCase("numpy", "cpu", dtype_name).xp


def _mixed_rows(rng: np.random.Generator, dtype_name: str, length: int) -> np.ndarray:
    """Rows (7, length): plain, huge, tiny, subnormal, zero, offset, plain."""
    huge, tiny, offset = SCALES[dtype_name]
    smallest = np.finfo(dtype_name).smallest_subnormal
    rows = rng.normal(size=(7, length))
    rows[1] *= huge
    rows[2] *= tiny
    rows[3] = smallest * rng.integers(0, 4, size=length)
    rows[4] = 0.0
    rows[5] += offset
    return rows.astype(dtype_name)


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_normalize_mixes_trusted_and_rescaled_vectors(rng, dtype_name, length):
    host = _mixed_rows(rng, dtype_name, length)
    for axis, x in ((1, host), (0, np.ascontiguousarray(host.T))):
        with _recorded_answers("numpy", "normalize") as answers, warnings.catch_warnings():
            warnings.simplefilter("error")  # no overflow warning from the plain sums
            result = mp.normalize(x, axis=axis)
        assert len(answers) == 1 and answers[0] is not NotImplemented
        assert result.shape == x.shape and result.dtype == x.dtype
        assert_close(result, mp.normalize.generic(x, axis=axis, xp=_xp(dtype_name)), like=x)
        assert_close(result, _unit_rows(x, axis), like=x)
    vector = mp.normalize(host[1])  # 1-D, rescaled
    assert vector.shape == (length,)
    assert_close(vector, _unit_rows(host[1], 0), like=vector)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_short_rows_summed_alike_by_vecdot_and_einsum(rng, monkeypatch, dtype_name):
    # NumPy 2's vecdot sums short contiguous rows, einsum strided ones (and all on NumPy 1):
    # the same sums within length * eps, an overflow inf with no warning from either
    rows = _mixed_rows(rng, dtype_name, 5)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        found = {
            "vecdot": _numpy_squares.sums_of_squares(rows),
            "einsum, strided": _numpy_squares.sums_of_squares(np.asfortranarray(rows)),
        }
        monkeypatch.setattr(_numpy_squares, "_VECDOT", None)
        found["einsum"] = _numpy_squares.sums_of_squares(rows)
    reference = np.sum(rows.astype(np.longdouble) ** 2, axis=-1)
    plain = [0, 5, 6]  # plain and offset rows; row 1's squares overflow
    for name, sums in found.items():
        assert sums.shape == (7,) and sums.dtype == rows.dtype, name
        relative = np.abs(sums[plain] - reference[plain]) / reference[plain]
        assert np.all(relative <= 5 * np.finfo(dtype_name).eps), (name, relative)
        assert np.isposinf(sums[1]), name


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_normalize_of_three_axes_along_the_middle(rng, dtype_name):
    host = np.stack([_mixed_rows(rng, dtype_name, 6).T] * 2)  # (2, 6, 7): vectors on axis 1
    result = mp.normalize(host, axis=1)
    assert result.shape == host.shape
    assert_close(result, _unit_rows(host, 1), like=host)
    assert_close(result, mp.normalize.generic(host, axis=1, xp=_xp(dtype_name)), like=host)


def _r_squared_reference(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """R^2 along the last axis in extended precision; a constant y_true gives 1 for an
    exact prediction, else 0 (scikit-learn's ``r2_score``)."""
    truth, prediction = y_true.astype(np.longdouble), y_pred.astype(np.longdouble)
    residual = np.sum((truth - prediction) ** 2, axis=-1)
    spread = np.sum((truth - truth.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    constant = np.all(truth == truth[..., :1], axis=-1)
    score = 1 - residual / np.where(constant, 1, spread)
    return np.where(constant, (residual == 0).astype(float), score).astype(np.float64)


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_r_squared_mixes_trusted_and_rescaled_rows(rng, dtype_name, length):
    y_true = _mixed_rows(rng, dtype_name, length)[[0, 1, 2, 5, 6]]
    noise = rng.normal(scale=0.3, size=y_true.shape) * np.abs(y_true).max(axis=1, keepdims=True)
    y_pred = (y_true + 0.1 * noise).astype(dtype_name)
    y_pred[3] = y_true[3] + rng.normal(scale=0.3, size=length).astype(dtype_name)  # offset rows
    constant = np.full((2, length), 3.0, dtype=dtype_name)
    off_by_one = np.nextafter(constant[1], np.inf)
    y_true = np.concatenate([y_true, constant])
    y_pred = np.concatenate([y_pred, constant[:1], off_by_one[None]])
    with _recorded_answers("numpy", "r_squared") as answers, warnings.catch_warnings():
        warnings.simplefilter("error")
        result = mp.r_squared(y_true, y_pred)
    assert len(answers) == 1 and answers[0] is not NotImplemented
    assert result.shape == (7,) and result.dtype == y_true.dtype
    xp = _xp(dtype_name)
    assert_close(result, mp.r_squared.generic(y_true, y_pred, xp=xp), like=y_true)
    assert_close(result, _r_squared_reference(y_true, y_pred), like=y_true)
    np.testing.assert_array_equal(result[-2:], [1.0, 0.0])


@pytest.mark.parametrize("length", LENGTHS)
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_torch_r_squared_takes_trusted_rows_and_declines_the_rest(rng, dtype_name, length):
    """torch's own sums where every row's are trusted (data far from zero among them);
    a huge, tiny or constant y_true: declined, and the formula's answer."""
    case = BackendCase("torch", "cpu", dtype_name)
    pytest.importorskip("torch")
    mixed = _mixed_rows(rng, dtype_name, length)
    noise = rng.normal(scale=0.3, size=mixed.shape) * np.abs(mixed).max(axis=1, keepdims=True)
    predicted = (mixed + 0.1 * noise).astype(dtype_name)
    predicted[5] = mixed[5] + rng.normal(scale=0.3, size=length).astype(dtype_name)
    for rows, taken in (([0, 5, 6], True), ([0, 1], False), ([2, 6], False), ([4, 0], False)):
        y_true, y_pred = case.asarray(mixed[rows]), case.asarray(predicted[rows])
        with _recorded_answers("torch", "r_squared") as answers:
            result = mp.r_squared(y_true, y_pred)
        assert len(answers) == 1 and (answers[0] is not NotImplemented) == taken
        assert_close(result, _r_squared_reference(mixed[rows], predicted[rows]), like=y_true)
        assert_close(result, mp.r_squared.generic(y_true, y_pred, xp=case.xp), like=y_true)


def test_r_squared_of_one_row_is_a_0d_array(rng):
    y_true = rng.normal(size=9)
    score = mp.r_squared(y_true, y_true + 0.1)
    assert isinstance(score, np.ndarray) and score.shape == ()
    assert_close(score, _r_squared_reference(y_true, y_true + 0.1), like=y_true)


def test_r_squared_promotes_two_dtypes_and_computes_half_precision_in_float32(rng):
    y_true = rng.normal(size=(2, 6))
    with _recorded_answers("numpy", "r_squared") as answers:
        mixed = mp.r_squared(y_true.astype(np.float32), y_true + 0.1)  # float64, then offered
    assert len(answers) == 1 and answers[0] is not NotImplemented and mixed.dtype == np.float64
    assert_close(mixed, _r_squared_reference(y_true.astype(np.float32), y_true + 0.1), like=mixed)
    truth, prediction = y_true.astype(np.float16), (y_true + 0.1).astype(np.float16)
    with _recorded_answers("numpy", "r_squared") as answers:
        half = mp.r_squared(truth, prediction)
    assert len(answers) == 1 and answers[0].dtype == np.float32 and half.dtype == np.float16
    assert_close(half, _r_squared_reference(truth, prediction), like=half)
