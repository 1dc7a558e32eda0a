"""Pure-Python loop baselines: scaled_dot_product_attention, gradient_descent, pca.

Same convention as :mod:`.python_layers`: arrays in, converted once with ``.tolist()``;
lists, Python floats and ``math`` inside the loops; float64 NumPy arrays out.
"""

from __future__ import annotations

import itertools
import math
import sys
from typing import Any

import numpy as np

from . import _inputs

Rows = list[list[float]]
JACOBI_MAX_SWEEPS = 50
"""Cyclic Jacobi converges quadratically (about 6 to 10 sweeps); this bound only stops a
pathological input from looping forever."""


def scaled_dot_product_attention(
    q: Any,
    k: Any,
    v: Any,
    *,
    mask: Any = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> np.ndarray:
    r"""Attention :math:`\mathrm{softmax}(q k^\top \cdot \text{scale} + \text{mask})\, v`.

    Per query row: the scores and their max, the exps and their sum, then the weighted sum
    of value rows (i-k-j order), divided by the sum. Keys past the diagonal are skipped
    when ``is_causal``; a row whose every score is masked out gives zeros.

    Parameters
    ----------
    q : array_like, shape (..., L, E)
        Queries.
    k : array_like, shape (..., S, E)
        Keys.
    v : array_like, shape (..., S, Ev)
        Values. q, k and v share their leading dimensions (no broadcasting, no GQA).
    mask : array_like, shape (L, S) or (..., L, S), optional
        Boolean (True = may attend) or additive float scores.
    is_causal : bool
        Query i attends keys 0..i (top-left aligned, as torch); combines with ``mask``.
    scale : float, optional
        Default ``1 / sqrt(E)``.

    Returns
    -------
    numpy.ndarray of float64, shape (..., L, Ev)
    """
    queries, keys, values, leading = _inputs.attention_batches(q, k, v, np.float64)
    batch, target_length, head_size = queries.shape
    scale = 1.0 / math.sqrt(head_size) if scale is None else float(scale)
    mask_scores = _inputs.additive_mask(
        mask, batch, target_length, keys.shape[1], np.dtype(np.float64)
    )
    mask_rows = mask_scores.tolist() if mask_scores.size else None
    key_rows, value_rows = keys.tolist(), values.tolist()
    output = []
    for b, query_rows in enumerate(queries.tolist()):
        batch_mask = None if mask_rows is None else mask_rows[b if len(mask_rows) > 1 else 0]
        for i, query_row in enumerate(query_rows):
            visible = min(i + 1, len(key_rows[b])) if is_causal else len(key_rows[b])
            scores = [
                scale * sum(q_e * k_e for q_e, k_e in zip(query_row, key_row, strict=True))
                for key_row in key_rows[b][:visible]
            ]
            if batch_mask is not None:
                # a causal row has fewer scores than mask entries: zip stops at the scores
                scores = [s + m for s, m in zip(scores, batch_mask[i], strict=False)]
            output.append(_attend(scores, value_rows[b], values.shape[2]))
    return np.array(output, dtype=np.float64).reshape(*leading, target_length, values.shape[2])


def gradient_descent(
    X: Any,
    y: Any,
    *,
    loss: str = "mse",
    lr: float = 0.01,
    steps: int = 100,
    fit_intercept: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    r"""Batch gradient descent on the mean squared error, from zero weights.

    .. math:: r = Xw + b - y, \quad w \leftarrow w - \eta \tfrac{2}{n} X^\top r,
              \quad b \leftarrow b - \eta \tfrac{2}{n} \textstyle\sum_i r_i

    Each step reads every row once: its residual, then at once its share of
    :math:`X^\top r`. B problems are solved one after the other. Unlike the kernel there
    is no ``tol`` and no halt on divergence: every problem runs all ``steps``.

    Parameters
    ----------
    X : array_like, shape (n, d) or (B, n, d)
    y : array_like, shape (n,) or (B, n)
    loss : {"mse"}
    lr : float
        One learning rate for every problem.
    steps : int
    fit_intercept : bool
        False keeps b at 0.

    Returns
    -------
    weights : numpy.ndarray of float64, shape (d,) or (B, d)
    intercept : numpy.ndarray of float64, shape () or (B,)
    """
    _inputs.check_choice("gradient_descent", "loss", loss, ("mse",))
    features, targets, batch_shape = _inputs.regression_problems(
        "gradient_descent", X, y, np.float64
    )
    fits = [
        _descend(rows, problem_targets, lr, steps, fit_intercept)
        for rows, problem_targets in zip(features.tolist(), targets.tolist(), strict=True)
    ]
    weights = np.array([problem_weights for problem_weights, _ in fits], dtype=np.float64)
    intercepts = np.array([intercept for _, intercept in fits], dtype=np.float64)
    return weights.reshape(*batch_shape, -1), intercepts.reshape(batch_shape)


def pca(X: Any, n_components: int) -> np.ndarray:
    r"""Principal components by loops: the data projected on the ``n_components`` largest.

    The covariance is :math:`\sum_i (x_i - \bar{x})(x_i - \bar{x})^\top/(n-1)` (upper
    triangle, i-k-j order), its eigenvectors come from a cyclic Jacobi eigenvalue loop,
    largest eigenvalue first, each signed so that its entry of largest absolute value is
    positive (scikit-learn's convention).

    The kernel forms :math:`X^\top X - n\,\bar{x}\bar{x}^\top`, the same covariance; the loop
    centres each row first instead, for the same multiply-adds plus d subtractions a row,
    because in float32 that difference of large numbers loses digits when the mean is
    large against the spread.

    Parameters
    ----------
    X : array_like, shape (n, d)
    n_components : int
        1 <= n_components <= d.

    Returns
    -------
    numpy.ndarray of float64, shape (n, n_components)
        ``(X - mean) @ components.T``.
    """
    _inputs.check_components("pca", X, n_components)
    rows = np.asarray(X, dtype=np.float64).tolist()
    means, _, components = principal_axes(rows, n_components)
    projected = []
    for row in rows:
        centred = [x - m for x, m in zip(row, means, strict=True)]
        projected.append(
            [sum(c * x for c, x in zip(comp, centred, strict=True)) for comp in components]
        )
    return np.array(projected, dtype=np.float64).reshape(len(rows), n_components)


def principal_axes(rows: Rows, n_components: int) -> tuple[list[float], list[float], Rows]:
    """The column means, the covariance's eigenvalues and its leading eigenvectors, by loops.

    Parameters
    ----------
    rows : list of lists of float, shape (n, d)
    n_components : int
        k, the eigenvectors kept.

    Returns
    -------
    means : list of float, shape (d,)
    eigenvalues : list of float, shape (d,)
        Every eigenvalue of the covariance, largest first.
    components : list of lists of float, shape (k, d)
        The eigenvectors of the k largest eigenvalues as rows, largest first, each signed
        so that its entry of largest absolute value is positive (scikit-learn's convention).
    """
    means = [column_sum / len(rows) for column_sum in map(sum, zip(*rows, strict=True))]
    eigenvalues, eigenvectors = jacobi_eigh(_covariance(rows, means), sys.float_info.epsilon)
    order = sorted(range(len(eigenvalues)), key=eigenvalues.__getitem__, reverse=True)
    components = [_signed([column[i] for column in eigenvectors]) for i in order[:n_components]]
    return means, [eigenvalues[i] for i in order], components


def jacobi_eigh(matrix: Rows, epsilon: float) -> tuple[list[float], Rows]:
    """Eigen-decomposition of a symmetric matrix by cyclic Jacobi rotations.

    A pair (p, q) is rotated unless its off-diagonal entry is negligible next to the
    diagonal (``|a_pq| <= epsilon * sqrt(|a_pp| |a_qq|)``, the relative-accuracy test of
    LAPACK's Jacobi solvers) or next to the whole matrix; a sweep without a rotation ends.

    Parameters
    ----------
    matrix : list of lists of float, shape (d, d)
    epsilon : float
        The working precision's machine epsilon.

    Returns
    -------
    eigenvalues : list of float, shape (d,), unordered
    eigenvectors : list of lists of float, shape (d, d)
        Column i belongs to eigenvalue i.
    """
    size = len(matrix)
    a = [list(row) for row in matrix]
    vectors = [[float(i == j) for j in range(size)] for i in range(size)]
    negligible = epsilon * epsilon * math.sqrt(sum(x * x for row in a for x in row))
    for _ in range(JACOBI_MAX_SWEEPS):
        rotated = False
        for p, q in itertools.combinations(range(size), 2):
            off_diagonal = abs(a[p][q])
            diagonal_scale = math.sqrt(abs(a[p][p])) * math.sqrt(abs(a[q][q]))
            if off_diagonal <= max(epsilon * diagonal_scale, negligible):
                continue
            tau = (a[q][q] - a[p][p]) / (2.0 * a[p][q])
            tangent = math.copysign(1.0, tau) / (abs(tau) + math.hypot(1.0, tau))
            cosine = 1.0 / math.hypot(1.0, tangent)
            _rotate(a, vectors, p, q, cosine, tangent * cosine)
            rotated = True
        if not rotated:
            break
    return [a[i][i] for i in range(size)], vectors


def _descend(
    rows: Rows, targets: list[float], lr: float, steps: int, fit_intercept: bool
) -> tuple[list[float], float]:
    """One problem's weights and intercept after ``steps`` full-batch steps."""
    step_size = lr * (2.0 / len(rows))
    weights = [0.0] * len(rows[0])
    intercept = 0.0
    for _ in range(steps):
        gradient = [0.0] * len(weights)
        residual_sum = 0.0
        for row, target in zip(rows, targets, strict=True):
            residual = sum(x * w for x, w in zip(row, weights, strict=True)) + intercept - target
            residual_sum += residual
            gradient = [g + residual * x for g, x in zip(gradient, row, strict=True)]
        weights = [w - step_size * g for w, g in zip(weights, gradient, strict=True)]
        if fit_intercept:
            intercept -= step_size * residual_sum
    return weights, intercept


def _rotate(a: Rows, vectors: Rows, p: int, q: int, cosine: float, sine: float) -> None:
    """``a <- J^T a J`` and ``vectors <- vectors J`` for the rotation J in the (p, q) plane."""
    for row in itertools.chain(a, vectors):
        row_p, row_q = row[p], row[q]
        row[p] = cosine * row_p - sine * row_q
        row[q] = sine * row_p + cosine * row_q
    row_p, row_q = a[p], a[q]
    a[p] = [cosine * x_p - sine * x_q for x_p, x_q in zip(row_p, row_q, strict=True)]
    a[q] = [sine * x_p + cosine * x_q for x_p, x_q in zip(row_p, row_q, strict=True)]


def _covariance(rows: Rows, means: list[float]) -> Rows:
    """``sum_i (x_i - mean)(x_i - mean)^T / (n - 1)``; the upper triangle by loops, mirrored."""
    size = len(means)
    upper = [[0.0] * (size - a) for a in range(size)]
    for row in rows:
        centred = [x - m for x, m in zip(row, means, strict=True)]
        for a, centred_a in enumerate(centred):
            upper[a] = [
                g + centred_a * centred_b
                for g, centred_b in zip(upper[a], itertools.islice(centred, a, None), strict=True)
            ]
    covariance = [[0.0] * size for _ in range(size)]
    for a in range(size):
        for b in range(a, size):
            covariance[a][b] = covariance[b][a] = upper[a][b - a] / (len(rows) - 1)
    return covariance


def _signed(component: list[float]) -> list[float]:
    """The component with its entry of largest absolute value made positive."""
    largest = max(range(len(component)), key=lambda i: abs(component[i]))
    return component if component[largest] >= 0 else [-x for x in component]


def _attend(scores: list[float], value_rows: Rows, value_size: int) -> list[float]:
    """``softmax(scores) @ value_rows``; zeros when every score is -inf (or there are none)."""
    row_max = max(scores, default=-math.inf)
    if row_max == -math.inf:
        return [0.0] * value_size
    weights = [math.exp(s - row_max) for s in scores]
    total = sum(weights)
    sums = [0.0] * value_size
    for weight, value_row in zip(weights, value_rows, strict=False):  # causal: fewer weights
        sums = [s + weight * v for s, v in zip(sums, value_row, strict=True)]
    return [s / total for s in sums]
