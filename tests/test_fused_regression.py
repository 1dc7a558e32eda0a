"""NumPy's and torch's own least squares (``_numpy_regression``, ``_torch_regression``):
the QR of ``[X | y]`` on the path where every check passes, against the kernel's formula
and a float64 reference; and ``NotImplemented`` wherever a check fails, so that the
formula raises its own error."""

from __future__ import annotations

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.testing import assert_close
from tests.test_fused import _case, _recorded_answers

pytestmark = pytest.mark.parametrize("backend", ["numpy", "torch"])
"""Every test runs on each framework that has its own fit (skipped where not installed)."""


def _reference(X: np.ndarray, y: np.ndarray, fit_intercept: bool) -> tuple[np.ndarray, ...]:
    """Weights and bias by ``np.linalg.lstsq`` in float64, one problem."""
    design = X.astype(np.float64)
    if fit_intercept:
        design = np.column_stack([design, np.ones(len(design))])
    solution = np.linalg.lstsq(design, y.astype(np.float64), rcond=None)[0]
    return (solution[:-1], solution[-1]) if fit_intercept else (solution, 0.0)


def _answered(backend: str, X: np.ndarray, y: np.ndarray, **options) -> mp.LeastSquaresResult:
    """The public kernel's result on ``backend``, checked to come from the framework's own
    fit, and to agree with the formula alone."""
    case = _case(backend, X.dtype.name)
    X, y = case.asarray(X), case.asarray(y)
    with _recorded_answers(backend, "least_squares") as answers:
        result = mp.least_squares(X, y, **options)
    assert len(answers) == 1 and answers[0] is not NotImplemented
    formula = mp.least_squares.generic(X, y, xp=case.xp, **options)
    assert_close(result.weights, formula.weights, like=X)
    assert_close(result.bias, formula.bias, like=X)
    return result


@pytest.mark.parametrize("fit_intercept", [True, False])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_one_problem_matches_lstsq(rng, backend, dtype_name, fit_intercept):
    X = (rng.normal(size=(40, 5)) + np.array([0, 0, 1e3, 0, 0])).astype(dtype_name)  # far
    y = (X.astype(np.float64) @ rng.normal(size=5) + 2.0 + rng.normal(size=40)).astype(dtype_name)
    result = _answered(backend, X, y, fit_intercept=fit_intercept)
    assert tuple(result.weights.shape) == (5,) and tuple(result.bias.shape) == ()
    like = _case(backend, dtype_name).asarray(X)
    assert result.weights.dtype == like.dtype
    weights, bias = _reference(X, y, fit_intercept)
    assert_close(result.weights, weights, like=like)
    assert_close(result.bias, bias, like=like)


def test_batched_problems_and_one_design_for_many_targets(rng, backend):
    X = rng.normal(size=(3, 30, 4))
    y = rng.normal(size=(3, 30))
    like = _case(backend, "float64").asarray(X)
    batched = _answered(backend, X, y)
    shared = _answered(backend, X[0], y)  # one design, three targets: three columns of one QR
    one_target = _answered(backend, X, y[0])  # three designs, one target
    assert tuple(batched.weights.shape) == tuple(shared.weights.shape) == (3, 4)
    for problem in range(3):
        for result, design, target in (
            (batched, X[problem], y[problem]),
            (shared, X[0], y[problem]),
            (one_target, X[problem], y[0]),
        ):
            weights, bias = _reference(design, target, True)
            assert_close(result.weights[problem], weights, like=like[0])
            assert_close(result.bias[problem], bias, like=like[0, 0, 0])


def test_as_many_samples_as_features_without_intercept(rng, backend):
    X, y = rng.normal(size=(4, 4)), rng.normal(size=4)
    result = _answered(backend, X, y, fit_intercept=False)
    assert_close(result.weights, np.linalg.solve(X, y), like=_case(backend, "float64").asarray(y))
    assert float(result.bias) == 0.0


def _left_to_the_formula(backend: str, X: np.ndarray, y: np.ndarray) -> None:
    case = _case(backend, "float64")
    with _recorded_answers(backend, "least_squares") as answers:
        try:
            mp.least_squares(case.asarray(X), case.asarray(y))
        except ValueError:
            pass  # the formula's own error
    assert answers == [NotImplemented]


def test_float32_far_from_zero_fits_in_the_frameworks_own(rng, backend):
    # R_jj of 1e4 +- 1 is 1e-4 of the column's norm, below (n + 1) eps at n = 2000: the
    # bound is taken again from the centred norms (R's columns'), and the fit answered
    X = (1e4 + rng.normal(size=(2000, 2))).astype(np.float32)
    y = (X.astype(np.float64) @ np.array([1.0, -2.0]) + 3.0).astype(np.float32)
    case = _case(backend, "float32")
    with _recorded_answers(backend, "least_squares") as answers:
        result = mp.least_squares(case.asarray(X), case.asarray(y))
    assert len(answers) == 1 and answers[0] is not NotImplemented
    formula = mp.least_squares.generic(case.asarray(X), case.asarray(y), xp=case.xp)
    assert_close(result.weights, formula.weights, like=case.asarray(X))
    assert_close(result.weights, _reference(X, y, True)[0], like=case.asarray(X))
    # the bias, mean(y) - mean(x) . w, is a difference of terms of 1e4: their rounding
    assert abs(float(result.bias) - float(formula.bias)) < 1e4 * 3 * 1e-5
    ulp = float(np.spacing(np.float32(1e4)))  # a column of 1e4 and its next float32
    X[:, 1] = np.float32(1e4) + np.float32(ulp) * rng.integers(0, 2, size=2000)
    with _recorded_answers(backend, "least_squares") as answers:
        with pytest.raises(ValueError, match="column 1 is, to within float32 round-off"):
            mp.least_squares(case.asarray(X), case.asarray(y))
    assert answers == [NotImplemented]


@pytest.mark.parametrize(
    "spoil",
    ["nan in X", "inf in y", "zero column", "dependent column", "huge column", "tiny column"],
)
def test_failed_checks_leave_the_fit_to_the_formula(rng, backend, spoil):
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
    _left_to_the_formula(backend, X, y)


def test_a_scaled_column_still_fits_through_the_formula(rng, backend):
    case = _case(backend, "float64")
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    X[:, 1] *= 1e300
    result = mp.least_squares(case.asarray(X), case.asarray(y))
    weights, bias = _reference(X / [1, 1e300, 1], y, True)
    assert_close(case.to_numpy(result.weights) * [1, 1e300, 1], weights, like=X[0])
    assert_close(result.bias, bias, like=case.asarray(y)[0])


def test_the_formulas_errors_still_name_the_problem(rng, backend):
    case = _case(backend, "float64")
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    X[:, 2] = X[:, 0]
    with pytest.raises(ValueError, match="column 2"):
        mp.least_squares(case.asarray(X), case.asarray(y))
    X[:, 2], y[3] = rng.normal(size=20), np.nan
    with pytest.raises(ValueError, match="y"):
        mp.least_squares(case.asarray(X), case.asarray(y))
