"""Numba loop baselines: least_squares, r_squared, pca_fit.

Same conventions as :mod:`.numba_layers`: a plain-Python wrapper checks, makes arrays
C-contiguous and allocates; an ``@njit`` core runs the loops with accumulators and
constants in the input dtype, so float32 in gives float32 out, computed in float32.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _inputs
from .numba_layers import jit
from .numba_models import fit_axes


def least_squares(X: Any, y: Any, *, fit_intercept: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Closed-form linear regression by modified Gram-Schmidt; see
    :func:`.python_fits.least_squares` for the method and the subset.

    Returns
    -------
    weights : numpy.ndarray, shape (d,) or (B, d), in the inputs' float dtype
    intercept : numpy.ndarray, shape () or (B,), same dtype
    """
    dtype = _inputs.float_dtype("least_squares", X, y)
    features, targets, batch_shape = _inputs.regression_problems("least_squares", X, y, dtype)
    _inputs.check_determined("least_squares", features.shape, fit_intercept)
    problems, samples, width = features.shape
    weights = np.empty((problems, width), dtype)
    intercepts = np.empty(problems, dtype)
    diagonals = np.empty((problems, width), dtype)
    _solve(features, targets, bool(fit_intercept), weights, intercepts, diagonals)
    epsilon = float(np.finfo(dtype).eps)
    for diagonal in diagonals:
        _inputs.check_full_rank("least_squares", diagonal, samples, epsilon)
    return weights.reshape(*batch_shape, -1), intercepts.reshape(batch_shape)


def r_squared(y_true: Any, y_pred: Any) -> np.ndarray:
    """R^2 of each row; see :func:`.python_fits.r_squared`.

    Returns
    -------
    numpy.ndarray, shape (...), in the inputs' float dtype
    """
    dtype = _inputs.float_dtype("r_squared", y_true, y_pred)
    truth, predictions, leading = _inputs.paired_rows("r_squared", y_true, y_pred, dtype)
    scores = np.empty(truth.shape[0], dtype)
    _r_squared(truth, predictions, scores)
    return scores.reshape(leading)


def pca_fit(X: Any, n_components: int) -> tuple[np.ndarray, ...]:
    """A PCA fit by loops and Jacobi rotations; see :func:`.python_fits.pca_fit`.

    Returns
    -------
    components, explained_variance, explained_variance_ratio, singular_values, mean
        Shapes (k, d), (k,), (k,), (k,), (d,), in X's float dtype.
    """
    _inputs.check_components("pca_fit", X, n_components)
    dtype = _inputs.float_dtype("pca_fit", X)
    features = np.ascontiguousarray(X, dtype=dtype)
    return _pca_fit(features, dtype.type(np.finfo(dtype).eps), int(n_components))


@jit
def _solve(
    X: np.ndarray,
    y: np.ndarray,
    fit_intercept: bool,
    weights: np.ndarray,
    intercepts: np.ndarray,
    diagonals: np.ndarray,
) -> None:
    """Fit each problem b of X (B, n, d), y (B, n); R's diagonal goes to ``diagonals[b]``
    for the rank check (a zero pivot leaves a zero column of Q rather than dividing by 0)."""
    problems, samples, width = X.shape
    zero = X.dtype.type(0)
    columns = np.empty((width, samples), X.dtype)  # the columns of X_c, then of Q
    remainder = np.empty(samples, X.dtype)
    upper = np.zeros((width, width), X.dtype)
    projections = np.empty(width, X.dtype)
    column_means = np.zeros(width, X.dtype)
    for b in range(problems):
        target_mean = zero
        if fit_intercept:
            _column_means(X[b], column_means)
            target_mean = _mean(y[b])
        for i in range(samples):
            remainder[i] = y[b, i] - target_mean
            for j in range(width):
                columns[j, i] = X[b, i, j] - column_means[j]
        for j in range(width):
            for i in range(j):
                upper[i, j] = _dot(columns[i], columns[j])
                _subtract_multiple(columns[j], upper[i, j], columns[i])
            upper[j, j] = math.sqrt(_dot(columns[j], columns[j]))
            if upper[j, j] > zero:
                inverse = X.dtype.type(1) / upper[j, j]
                for i in range(samples):
                    columns[j, i] *= inverse
            projections[j] = _dot(columns[j], remainder)
            _subtract_multiple(remainder, projections[j], columns[j])
            diagonals[b, j] = upper[j, j]
        intercept = target_mean
        for i in range(width - 1, -1, -1):
            known = zero
            for j in range(i + 1, width):
                known += upper[i, j] * weights[b, j]
            weights[b, i] = (projections[i] - known) / upper[i, i]
            intercept -= weights[b, i] * column_means[i]
        intercepts[b] = intercept


@jit
def _column_means(rows: np.ndarray, means: np.ndarray) -> None:
    means[:] = rows.dtype.type(0)
    for i in range(rows.shape[0]):
        for j in range(rows.shape[1]):
            means[j] += rows[i, j]
    for j in range(rows.shape[1]):
        means[j] /= rows.dtype.type(rows.shape[0])


@jit
def _mean(values: np.ndarray) -> float:
    total = values.dtype.type(0)
    for value in values:
        total += value
    return total / values.dtype.type(values.shape[0])


@jit
def _dot(a: np.ndarray, b: np.ndarray) -> float:
    total = a.dtype.type(0)
    for i in range(a.shape[0]):
        total += a[i] * b[i]
    return total


@jit
def _subtract_multiple(target: np.ndarray, factor: float, vector: np.ndarray) -> None:
    """``target -= factor * vector``, in place."""
    for i in range(target.shape[0]):
        target[i] -= factor * vector[i]


@jit
def _r_squared(truth: np.ndarray, predictions: np.ndarray, scores: np.ndarray) -> None:
    """Per row: the mean, then the residual and total sums of squares in one pass."""
    zero, one = truth.dtype.type(0), truth.dtype.type(1)
    for row in range(truth.shape[0]):
        mean = _mean(truth[row])
        residual_sum, total_sum = zero, zero
        for i in range(truth.shape[1]):
            residual = truth[row, i] - predictions[row, i]
            deviation = truth[row, i] - mean
            residual_sum += residual * residual
            total_sum += deviation * deviation
        if total_sum == zero:
            scores[row] = one if residual_sum == zero else zero
        else:
            scores[row] = one - residual_sum / total_sum


@jit
def _pca_fit(
    X: np.ndarray, epsilon: float, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Components, variances, ratios, singular values and means, as :func:`pca_fit`."""
    zero = X.dtype.type(0)
    means, eigenvalues, leading, components = fit_axes(X, epsilon, count)
    total = zero
    for value in eigenvalues:
        total += max(value, zero)
    explained = np.empty(count, X.dtype)
    ratios = np.empty(count, X.dtype)
    singular_values = np.empty(count, X.dtype)
    degrees_of_freedom = X.dtype.type(X.shape[0] - 1)
    for c in range(count):
        explained[c] = max(leading[c], zero)
        ratios[c] = explained[c] / total if total > zero else zero
        singular_values[c] = math.sqrt(explained[c] * degrees_of_freedom)
    return components, explained, ratios, singular_values, means
