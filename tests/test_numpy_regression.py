"""NumPy's own least squares (``_numpy_regression``): the QR of ``[X | y]`` on the path
where every check passes, against the kernel's formula and a float64 reference; and
``NotImplemented`` wherever a check fails, so that the formula raises its own error."""

from __future__ import annotations

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.testing import BackendCase, assert_close
from tests.test_fused import _recorded_answers


def _reference(X: np.ndarray, y: np.ndarray, fit_intercept: bool) -> tuple[np.ndarray, ...]:
    """Weights and bias by ``np.linalg.lstsq`` in float64, one problem."""
    design = X.astype(np.float64)
    if fit_intercept:
        design = np.column_stack([design, np.ones(len(design))])
    solution = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    return (solution[:-1], solution[-1]) if fit_intercept else (solution, 0.0)


def _answered(X: np.ndarray, y: np.ndarray, **options) -> mp.LeastSquaresResult:
    """The public kernel's result, checked to come from NumPy's own fit, and to agree with
    the formula alone."""
    with _recorded_answers("numpy", "least_squares") as answers:
        result = mp.least_squares(X, y, **options)
    assert len(answers) == 1 and answers[0] is not NotImplemented
    xp = BackendCase("numpy", "cpu", X.dtype.name).xp
    formula = mp.least_squares.generic(X, y, xp=xp, **options)
    assert_close(result.weights, formula.weights, like=X)
    assert_close(result.bias, formula.bias, like=X)
    return result


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_one_problem_matches_lstsq(rng, dtype_name, fit_intercept):
    X = (rng.normal(size=(40, 5)) + np.array([0, 0, 1e3, 0, 0])).astype(dtype_name)  # far
    y = (X.astype(np.float64) @ rng.normal(size=5) + 2.0 + rng.normal(size=40)).astype(dtype_name)
    result = _answered(X, y, fit_intercept=fit_intercept)
    assert result.weights.shape == (5,) and result.bias.shape == ()
    assert result.weights.dtype == X.dtype
    weights, bias = _reference(X, y, fit_intercept)
    assert_close(result.weights, weights, like=X)
    assert_close(result.bias, bias, like=X)


def test_batched_problems_and_one_design_for_many_targets(rng):
    X = rng.normal(size=(3, 30, 4))
    y = rng.normal(size=(3, 30))
    batched = _answered(X, y)
    shared = _answered(X[0], y)  # one design, three targets: three columns of one QR
    assert batched.weights.shape == shared.weights.shape == (3, 4)
    for problem in range(3):
        weights, bias = _reference(X[problem], y[problem], True)
        assert_close(batched.weights[problem], weights, like=X)
        assert_close(batched.bias[problem], bias, like=X)
        weights, bias = _reference(X[0], y[problem], True)
        assert_close(shared.weights[problem], weights, like=X)
        assert_close(shared.bias[problem], bias, like=X)


def test_as_many_samples_as_features_without_intercept(rng):
    X, y = rng.normal(size=(4, 4)), rng.normal(size=4)
    result = _answered(X, y, fit_intercept=False)
    assert_close(result.weights, np.linalg.solve(X, y), like=X)
    assert result.bias == 0.0


def _left_to_the_formula(X: np.ndarray, y: np.ndarray) -> None:
    with _recorded_answers("numpy", "least_squares") as answers:
        try:
            mp.least_squares(X, y)
        except ValueError:
            pass  # the formula's own error
    assert answers == [NotImplemented]


@pytest.mark.parametrize(
    "spoil",
    ["nan in X", "inf in y", "zero column", "dependent column", "huge column", "tiny column"],
)
def test_failed_checks_leave_the_fit_to_the_formula(rng, spoil):
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    if spoil == "nan in X":
        X[4, 1] = np.nan
    elif spoil == "inf in y":
        y[7] = np.inf
    elif spoil == "zero column":
        X[:, 2] = 0.0
    elif spoil == "dependent column":
        X[:, 2] = 2 * X[:, 0] - X[:, 1]
    elif spoil == "huge column":
        X[:, 1] *= 1e300  # its squares overflow: the formula scales it
    else:
        X[:, 1] *= 1e-300
    _left_to_the_formula(X, y)


def test_a_scaled_column_still_fits_through_the_formula(rng):
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    X[:, 1] *= 1e300
    result = mp.least_squares(X, y)
    weights, bias = _reference(X / [1, 1e300, 1], y, True)
    assert_close(result.weights * [1, 1e300, 1], weights, like=X)
    assert_close(result.bias, bias, like=X)


def test_the_formulas_errors_still_name_the_problem(rng):
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    X[:, 2] = X[:, 0]
    with pytest.raises(ValueError, match="column 2"):
        mp.least_squares(X, y)
    X[:, 2], y[3] = rng.normal(size=20), np.nan
    with pytest.raises(ValueError, match="y"):
        mp.least_squares(X, y)
