"""least_squares at its edges: unscaled features, dependent columns, non-finite input and
half precision, on every backend, against NumPy's float64 ``lstsq``."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from mlpillars.backends import FRAMEWORKS
from mlpillars.kernels.regression import least_squares
from mlpillars.testing import BackendCase, assert_close, backend_cases
from mlpillars.tolerances import Tolerance, tolerance_for

HALF_CASES = [
    pytest.param(
        case,
        id=case.id,
        marks=[pytest.mark.skip(reason=case.skip_reason)] if case.skip_reason else [],
    )
    for case in backend_cases(dtypes=("float16", "bfloat16"))
]
FLOAT32_CASES = [
    pytest.param(
        case,
        id=case.id,
        marks=[pytest.mark.skip(reason=case.skip_reason)] if case.skip_reason else [],
    )
    for case in backend_cases(dtypes=("float32",))
]


def lstsq_reference(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias by NumPy's float64 ``lstsq`` of ``[X, 1]``."""
    design = np.column_stack([X, np.ones(X.shape[0])])
    solution, *_ = np.linalg.lstsq(design, y, rcond=None)
    return solution[:-1], solution[-1]


def unscaled_regression(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """n = 1000 samples of features in their own units: ~40, ~5e4 and ~0.3."""
    n = 1000
    X = np.column_stack([rng.normal(40, 5, n), rng.normal(5e4, 1e3, n), rng.normal(0.3, 0.05, n)])
    return X, X @ np.array([1.5, -0.002, 7.0]) + 3.0 + rng.normal(0, 0.1, n)


def test_unscaled_features_are_full_rank(xp: BackendCase, rng):
    # float32 once called this "rank-deficient": its rank test ignored the columns' units
    X_host, y_host = unscaled_regression(rng)
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    weights, bias = lstsq_reference(xp.to_numpy(X), xp.to_numpy(y))
    result = least_squares(X, y)
    assert_close(result.weights, weights, like=X)
    assert_close(result.bias, bias, like=X)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_a_tiny_independent_column_is_kept_and_a_tiny_dependent_one_refused(
    xp: BackendCase, rng, fit_intercept
):
    signal, other = rng.normal(size=(2, 50))
    y = xp.asarray(signal + 2 * other + 1)
    kept = xp.asarray(np.column_stack([signal, 1e-12 * other]))
    result = least_squares(kept, y, fit_intercept=fit_intercept)
    design = xp.to_numpy(kept)
    design = np.column_stack([design, np.ones(50)]) if fit_intercept else design
    # lstsq of the problem scaled to unit columns: unscaled, its error is cond * eps = 1e-4
    norms = np.linalg.norm(design, axis=0)
    solution, *_ = np.linalg.lstsq(design / norms, xp.to_numpy(y), rcond=None)
    assert_close(result.weights, (solution / norms)[:2], like=kept)
    dependent = xp.asarray(np.column_stack([signal, other, 1e-12 * (signal - other)]))
    with pytest.raises(ValueError, match=r"rank-deficient: column 2 is, to within float"):
        least_squares(dependent, y, fit_intercept=fit_intercept)


def bias_tolerance(terms: float, bias: float) -> Tolerance:
    """float32's table entry for a bias computed from terms of size ``terms``: its
    rounding is theirs, relative to ``terms``, not to the bias."""
    table = tolerance_for("float32")
    return dataclasses.replace(table, atol=table.atol * terms / max(1.0, bias))


def centred_reference(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias by float64 ``lstsq`` of the values given, centred in float64."""
    X, y = X.astype(np.float64), y.astype(np.float64)
    feature_means, target_mean = X.mean(axis=0), y.mean()
    weights, *_ = np.linalg.lstsq(X - feature_means, y - target_mean, rcond=None)
    return weights, target_mean - feature_means @ weights


@pytest.mark.parametrize("float32", FLOAT32_CASES)
@pytest.mark.parametrize(("offset", "n"), [(1e4, 2000), (3e3, 5000), (1e6, 60)])
def test_float32_features_far_from_zero_are_full_rank(float32: BackendCase, offset, n):
    # float32 1e4 + N(0, 1) at n = 2000 was "rank-deficient": the part of a column
    # independent of the intercept was judged against max(n, d) * eps of its uncentred
    # norm; centred, the design's condition number is about 1.05
    rng = np.random.default_rng(6)
    X = float32.asarray(offset + rng.normal(size=(n, 2)))
    X_host = float32.to_numpy(X)
    y = float32.asarray(X_host.astype(np.float64) @ np.array([1.0, -2.0]) + 3.0)
    weights, bias = centred_reference(X_host, float32.to_numpy(y))
    result = least_squares(X, y)
    assert_close(result.weights, weights, like=X)
    # b = mean(y) - mean(x) . w: a difference of terms of 1e4, each rounded to float32
    terms = abs(float(float32.to_numpy(y).mean())) + offset * np.abs(weights).sum()
    assert_close(result.bias, bias, like=X, tolerance=bias_tolerance(terms, abs(bias)))


def test_float32_features_far_from_zero_under_jit():
    # traced, the rank test's flags made every weight NaN
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(6)
    X = (1e4 + rng.normal(size=(2000, 2))).astype(np.float32)
    y = (X.astype(np.float64) @ np.array([1.0, -2.0]) + 3.0).astype(np.float32)
    framework = FRAMEWORKS["jax"]
    arrays = [framework.from_host(host, None) for host in (X, y)]
    weights, _ = jax.jit(lambda a, b: tuple(least_squares(a, b)))(*arrays)
    assert_close(weights, centred_reference(X, y)[0], like=arrays[0])


@pytest.mark.parametrize("float32", FLOAT32_CASES)
def test_targets_far_from_zero_lose_no_digits_to_their_mean(float32: BackendCase):
    # y of 1e8 in float32: the rounding of its mean (an ulp, 8) stayed in y - mean as a
    # constant that the centred design does not hold; a constant y had weights of 0.02-0.08
    rng = np.random.default_rng(7)
    X = float32.asarray(1e4 + rng.normal(size=(60, 3)))
    constant = least_squares(X, float32.asarray(np.full(60, 1e8)))
    np.testing.assert_array_equal(float32.to_numpy(constant.weights), np.zeros(3))
    assert float(float32.to_numpy(constant.bias)) == 1e8
    y = float32.asarray(1e8 + 64 * rng.integers(-50, 50, size=60))
    weights, bias = centred_reference(float32.to_numpy(X), float32.to_numpy(y))
    result = least_squares(X, y)
    assert_close(result.weights, weights, like=X)
    assert_close(result.bias, bias, like=X)


@pytest.mark.parametrize("float32", FLOAT32_CASES)
def test_a_column_varying_by_an_ulp_is_the_intercepts(float32: BackendCase):
    # centred twice, a column of 1e4 and its next float32 has a nonzero independent part:
    # at most eps of its norm, it is still refused as dependent on the intercept
    rng = np.random.default_rng(8)
    ulp = float(np.spacing(np.float32(1e4)))
    column = np.float32(1e4) + np.float32(ulp) * rng.integers(0, 2, size=50)
    X = float32.asarray(np.column_stack([rng.normal(size=50), column]))
    with pytest.raises(ValueError, match=r"column 1 is, to within float32 round-off"):
        least_squares(X, float32.asarray(rng.normal(size=50)))


def test_rank_message_names_the_problem_and_the_intercept():
    X = np.random.default_rng(3).normal(size=(3, 10, 2))
    X[1, :, 1] = 7.0  # constant: dependent on the intercept
    with pytest.raises(
        ValueError, match=r"rank-deficient \(problem 1\): column 1 .* and the intercept"
    ):
        least_squares(X, np.ones((3, 10)))
    least_squares(X[1], np.arange(10.0), fit_intercept=False)  # without it, independent


@pytest.mark.parametrize(
    ("name", "position", "where"),
    [("X", (4, 1), "sample 4, column 1"), ("y", (7,), "sample 7")],
)
@pytest.mark.parametrize("value", [np.nan, np.inf])
def test_non_finite_input_is_one_clear_error_everywhere(
    xp: BackendCase, name, position, where, value
):
    # Dask once raised NumPy's raw message, the others returned NaN weights
    arrays = {"X": np.random.default_rng(4).normal(size=(20, 3)), "y": np.arange(20.0)}
    arrays[name][position] = value
    X, y = xp.asarray(arrays["X"]), xp.asarray(arrays["y"])
    with pytest.raises(
        ValueError, match=rf"^least_squares: {name} contains NaN or infinity .*{where}"
    ):
        least_squares(X, y)


@pytest.mark.filterwarnings("error")  # NumPy warned of the sums before the error said it
def test_overflowing_column_sums_are_named():
    X = np.column_stack([np.full(4, 3e38, np.float32), np.arange(4, dtype=np.float32)])
    with pytest.raises(ValueError, match=r"column sums of X overflow float32"):
        least_squares(X, np.arange(4, dtype=np.float32))


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_non_finite_input_gives_nan_under_jit(fit_intercept):
    jax = pytest.importorskip("jax")
    X, y = np.random.default_rng(5).normal(size=(20, 3)), np.arange(20.0)
    X[3, 2] = np.nan
    framework = FRAMEWORKS["jax"]
    arrays = [framework.from_host(host.astype(np.float32), None) for host in (X, y)]
    solve = jax.jit(lambda a, b: tuple(least_squares(a, b, fit_intercept=fit_intercept)))
    weights, bias = solve(*arrays)
    assert np.isnan(np.asarray(weights)).all() and np.isnan(float(bias))


@pytest.mark.parametrize("half", HALF_CASES)
def test_half_precision_is_solved_in_float32(half: BackendCase, rng):
    X_host = rng.normal(size=(40, 3))
    X = half.asarray(X_host)
    y = half.asarray(X_host @ np.array([0.5, -1.0, 2.0]) + 1.0 + rng.normal(0, 0.1, 40))
    weights, bias = lstsq_reference(half.to_numpy(X), half.to_numpy(y))
    result = least_squares(X, y)
    assert_close(result.weights, weights, like=X)
    assert_close(result.bias, bias, like=X)


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_problems_without_features_are_their_intercept(xp: BackendCase, fit_intercept):
    """d = 0: no weights, and the bias NumPy's lstsq of a column of ones gives (the mean of
    y), or 0 without an intercept; as gradient_descent answers. It was a raw reshape error."""
    targets = np.array([[1.0, 2.0, 4.0], [-3.0, 0.0, 0.5]])
    ones = np.ones((3, 1))
    expected = [np.linalg.lstsq(ones, row, rcond=None)[0][0] for row in targets]
    for X in (np.ones((2, 3, 0)), np.ones((3, 0))):
        fitted = least_squares(xp.asarray(X), xp.asarray(targets), fit_intercept=fit_intercept)
        assert tuple(fitted.weights.shape) == (2, 0)
        assert_close(fitted.bias, np.array(expected) * fit_intercept, like=xp.asarray(targets))
