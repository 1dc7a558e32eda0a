"""Pure-Python loop baselines: least_squares, r_squared, pca_fit.

Same convention as :mod:`.python_layers`: arrays in, converted once with ``.tolist()``;
lists, Python floats and ``math`` inside the loops; float64 NumPy arrays out.
"""

from __future__ import annotations

import math
import sys
from typing import Any

import numpy as np

from . import _inputs
from .python_models import principal_axes

Rows = list[list[float]]


def least_squares(X: Any, y: Any, *, fit_intercept: bool = True) -> tuple[np.ndarray, np.ndarray]:
    r"""Closed-form linear regression by a modified Gram-Schmidt QR of the centred X.

    .. math:: X_c = QR, \quad R w = Q^\top y_c, \quad b = \bar y - \bar x^\top w

    y is orthogonalised against each column of Q as it is made (as an extra column of the
    design), which keeps :math:`Q^\top y` as accurate as Householder QR would; the
    normal equations would square X's condition number.

    Parameters
    ----------
    X : array_like, shape (n, d) or (B, n, d)
        Full column rank (after centring); n > d with an intercept, n >= d without.
    y : array_like, shape (n,) or (B, n)
    fit_intercept : bool
        False fits through the origin: no centring, intercept 0.

    Returns
    -------
    weights : numpy.ndarray of float64, shape (d,) or (B, d)
    intercept : numpy.ndarray of float64, shape () or (B,)

    Raises
    ------
    ValueError
        For too few samples, or columns that are linearly dependent.
    """
    features, targets, batch_shape = _inputs.regression_problems("least_squares", X, y, np.float64)
    _inputs.check_determined("least_squares", features.shape, fit_intercept)
    fits = [
        _solve(rows, problem_targets, fit_intercept)
        for rows, problem_targets in zip(features.tolist(), targets.tolist(), strict=True)
    ]
    weights = np.array([problem_weights for problem_weights, _ in fits], dtype=np.float64)
    intercepts = np.array([intercept for _, intercept in fits], dtype=np.float64)
    return weights.reshape(*batch_shape, -1), intercepts.reshape(batch_shape)


def r_squared(y_true: Any, y_pred: Any) -> np.ndarray:
    r"""Coefficient of determination of each row, by loops.

    .. math:: R^2 = 1 - \frac{\sum_i (y_i - \hat y_i)^2}{\sum_i (y_i - \bar y)^2}

    A constant row of ``y_true`` gives 1 for a perfect prediction, else 0 (as the kernel).

    Parameters
    ----------
    y_true, y_pred : array_like, shape (..., n)

    Returns
    -------
    numpy.ndarray of float64, shape (...)
    """
    truth, predictions, leading = _inputs.paired_rows("r_squared", y_true, y_pred, np.float64)
    scores = [
        _row_r_squared(truth_row, prediction_row)
        for truth_row, prediction_row in zip(truth.tolist(), predictions.tolist(), strict=True)
    ]
    return np.array(scores, dtype=np.float64).reshape(leading)


def pca_fit(X: Any, n_components: int) -> tuple[np.ndarray, ...]:
    """A PCA fit by loops: the covariance, its Jacobi eigen-decomposition, the leading axes.

    Parameters
    ----------
    X : array_like, shape (n, d)
    n_components : int
        k, with 1 <= k <= d.

    Returns
    -------
    components : numpy.ndarray of float64, shape (k, d)
        Signed as scikit-learn's (largest absolute entry of each row positive).
    explained_variance : numpy.ndarray of float64, shape (k,)
        The k largest eigenvalues of the covariance, clipped at 0.
    explained_variance_ratio : numpy.ndarray of float64, shape (k,)
        Each over the sum of all d (clipped) eigenvalues; 0 for constant data.
    singular_values : numpy.ndarray of float64, shape (k,)
        ``sqrt(explained_variance * (n - 1))``.
    mean : numpy.ndarray of float64, shape (d,)
    """
    _inputs.check_components("pca_fit", X, n_components)
    rows = np.asarray(X, dtype=np.float64).tolist()
    means, eigenvalues, components = principal_axes(rows, n_components)
    variances = [max(value, 0.0) for value in eigenvalues]
    total = sum(variances)
    explained = variances[:n_components]
    return (
        np.array(components, dtype=np.float64),
        np.array(explained, dtype=np.float64),
        np.array([value / total if total > 0 else 0.0 for value in explained], np.float64),
        np.array([math.sqrt(value * (len(rows) - 1)) for value in explained], np.float64),
        np.array(means, dtype=np.float64),
    )


def _solve(rows: Rows, targets: list[float], fit_intercept: bool) -> tuple[list[float], float]:
    """One problem's weights and intercept."""
    columns = [list(column) for column in zip(*rows, strict=True)]
    column_means = [sum(column) / len(rows) if fit_intercept else 0.0 for column in columns]
    target_mean = sum(targets) / len(targets) if fit_intercept else 0.0
    columns = [[x - m for x in column] for column, m in zip(columns, column_means, strict=True)]
    remainder = [t - target_mean for t in targets]
    basis: Rows = []  # the columns of Q
    upper: Rows = []  # R, row by row
    projections = []  # Q^T y
    for j, column in enumerate(columns):
        r_column = [0.0] * len(columns)
        for i, q in enumerate(basis):
            r_column[i] = _dot(q, column)
            column = [x - r_column[i] * q_x for x, q_x in zip(column, q, strict=True)]
        r_column[j] = math.sqrt(_dot(column, column))
        basis.append([x / r_column[j] if r_column[j] > 0 else 0.0 for x in column])
        upper.append(r_column)
        projections.append(_dot(basis[j], remainder))
        remainder = [r - projections[j] * q for r, q in zip(remainder, basis[j], strict=True)]
    diagonal = [upper[j][j] for j in range(len(columns))]
    _inputs.check_full_rank("least_squares", diagonal, len(rows), sys.float_info.epsilon)
    weights = _back_substitute(upper, projections)
    intercept = target_mean - _dot(weights, column_means) if fit_intercept else 0.0
    return weights, intercept


def _back_substitute(upper_columns: Rows, right_side: list[float]) -> list[float]:
    """Solve R w = z, with R given column by column (``upper_columns[j][i] = R[i, j]``)."""
    size = len(right_side)
    weights = [0.0] * size
    for i in reversed(range(size)):
        known = sum(upper_columns[j][i] * weights[j] for j in range(i + 1, size))
        weights[i] = (right_side[i] - known) / upper_columns[i][i]
    return weights


def _row_r_squared(truth: list[float], predictions: list[float]) -> float:
    mean = sum(truth) / len(truth)
    residual_sum = sum((t - p) ** 2 for t, p in zip(truth, predictions, strict=True))
    total_sum = sum((t - mean) ** 2 for t in truth)
    if total_sum == 0:
        return float(residual_sum == 0)
    return 1.0 - residual_sum / total_sum


def _dot(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))
