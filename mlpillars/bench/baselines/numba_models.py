"""Numba loop baselines: scaled_dot_product_attention, gradient_descent, pca.

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
from .python_models import JACOBI_MAX_SWEEPS


def scaled_dot_product_attention(
    q: Any,
    k: Any,
    v: Any,
    *,
    mask: Any = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> np.ndarray:
    """Attention; see :func:`.python_models.scaled_dot_product_attention` for the subset.

    Returns
    -------
    numpy.ndarray, shape (..., L, Ev), in the inputs' float dtype
    """
    dtype = _inputs.float_dtype("scaled_dot_product_attention", q, k, v)
    queries, keys, values, leading = _inputs.attention_batches(q, k, v, dtype)
    batch, target_length, head_size = queries.shape
    scale = 1.0 / math.sqrt(head_size) if scale is None else float(scale)
    mask_scores = _inputs.additive_mask(mask, batch, target_length, keys.shape[1], dtype)
    output = np.empty((batch, target_length, values.shape[2]), dtype)
    _attention(queries, keys, values, mask_scores, bool(is_causal), dtype.type(scale), output)
    return output.reshape(*leading, target_length, values.shape[2])


def gradient_descent(
    X: Any,
    y: Any,
    *,
    loss: str = "mse",
    lr: float = 0.01,
    steps: int = 100,
    fit_intercept: bool = True,
) -> tuple[np.ndarray, np.ndarray]:
    """Batch gradient descent on the MSE; see :func:`.python_models.gradient_descent`.

    Returns
    -------
    weights : numpy.ndarray, shape (d,) or (B, d), in the inputs' float dtype
    intercept : numpy.ndarray, shape () or (B,), same dtype
    """
    _inputs.check_choice("gradient_descent", "loss", loss, ("mse",))
    dtype = _inputs.float_dtype("gradient_descent", X, y)
    features, targets, batch_shape = _inputs.regression_problems("gradient_descent", X, y, dtype)
    weights = np.zeros((features.shape[0], features.shape[2]), dtype)
    intercepts = np.zeros(features.shape[0], dtype)
    step_size = dtype.type(lr * (2.0 / features.shape[1]))
    _descend(features, targets, step_size, int(steps), bool(fit_intercept), weights, intercepts)
    return weights.reshape(*batch_shape, -1), intercepts.reshape(batch_shape)


def pca(X: Any, n_components: int) -> np.ndarray:
    """Principal components by loops and Jacobi rotations; see :func:`.python_models.pca`.

    Returns
    -------
    numpy.ndarray, shape (n, n_components), in X's float dtype
    """
    _inputs.check_components("pca", X, n_components)
    dtype = _inputs.float_dtype("pca", X)
    features = np.ascontiguousarray(X, dtype=dtype)
    projected = np.empty((features.shape[0], n_components), dtype)
    _pca(features, dtype.type(np.finfo(dtype).eps), projected)
    return projected


@jit
def _attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    mask: np.ndarray,
    is_causal: bool,
    scale: float,
    out: np.ndarray,
) -> None:
    """Per query row: scores and their max; then exp, sum and ``weight * v_j`` in one pass.

    A row's S scores stay in L1, so two passes over them, with one ``exp`` per score,
    beat an online (flash-style) softmax, which would rescale the whole output row
    whenever the running max grows; that pays off only when scores cannot be kept.
    """
    zero, minus_infinity = q.dtype.type(0), q.dtype.type(-np.inf)
    scores = np.empty(k.shape[1], q.dtype)
    for b in range(q.shape[0]):
        mask_batch = b if mask.shape[0] > 1 else 0
        for i in range(q.shape[1]):
            visible = min(i + 1, k.shape[1]) if is_causal else k.shape[1]
            row_max = minus_infinity
            for j in range(visible):
                dot = zero
                for e in range(q.shape[2]):
                    dot += q[b, i, e] * k[b, j, e]
                scores[j] = dot * scale
                if mask.shape[0] > 0:
                    scores[j] += mask[mask_batch, i, j]
                row_max = max(row_max, scores[j])
            output_row = out[b, i]
            output_row[:] = zero
            if row_max == minus_infinity:
                continue  # every key masked out: the row stays zero
            total = zero
            for j in range(visible):
                weight = math.exp(scores[j] - row_max)
                total += weight
                for e in range(v.shape[2]):
                    output_row[e] += weight * v[b, j, e]
            inverse_total = q.dtype.type(1) / total
            for e in range(v.shape[2]):
                output_row[e] *= inverse_total


@jit
def _descend(
    X: np.ndarray,
    y: np.ndarray,
    step_size: float,
    steps: int,
    fit_intercept: bool,
    weights: np.ndarray,
    intercepts: np.ndarray,
) -> None:
    """Fit each problem b of X (B, n, d), y (B, n) into ``weights[b]`` and ``intercepts[b]``.

    Each step reads every row once, while it is in L1: its residual, then its share
    ``residual * x_i`` of the gradient ``X^T r``.
    """
    zero = X.dtype.type(0)
    gradient = np.empty(X.shape[2], X.dtype)
    for b in range(X.shape[0]):
        rows, targets, problem_weights = X[b], y[b], weights[b]
        intercept = zero
        for _ in range(steps):
            gradient[:] = zero
            residual_sum = zero
            for i in range(rows.shape[0]):
                prediction = zero
                for k in range(rows.shape[1]):
                    prediction += rows[i, k] * problem_weights[k]
                residual = prediction + intercept - targets[i]
                residual_sum += residual
                for k in range(rows.shape[1]):
                    gradient[k] += residual * rows[i, k]
            for k in range(rows.shape[1]):
                problem_weights[k] -= step_size * gradient[k]
            if fit_intercept:
                intercept -= step_size * residual_sum
        intercepts[b] = intercept


@jit
def _pca(X: np.ndarray, epsilon: float, projected: np.ndarray) -> None:
    """Fill ``projected`` (n, k) with ``(X - mean) @ components.T``."""
    n_rows, size = X.shape
    means, _, _, components = fit_axes(X, epsilon, projected.shape[1])
    centred = np.empty(size, X.dtype)
    for i in range(n_rows):
        for a in range(size):
            centred[a] = X[i, a] - means[a]
        for c in range(components.shape[0]):
            dot = X.dtype.type(0)
            for a in range(size):
                dot += components[c, a] * centred[a]
            projected[i, c] = dot


@jit
def fit_axes(
    X: np.ndarray, epsilon: float, count: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """The principal axes of X (n, d) by loops and Jacobi rotations, in X's dtype.

    Returns the column means, shape (d,); every eigenvalue of the covariance, shape (d,),
    unordered; the ``count`` largest of them, largest first; and their eigenvectors as
    signed rows, shape (count, d) (see :func:`_leading_components`).
    """
    n_rows, size = X.shape
    means = np.zeros(size, X.dtype)
    for i in range(n_rows):
        for a in range(size):
            means[a] += X[i, a]
    for a in range(size):
        means[a] /= X.dtype.type(n_rows)
    eigenvalues, eigenvectors = _jacobi_eigh(_covariance(X, means), epsilon)
    leading, components = _leading_components(eigenvalues, eigenvectors, count)
    return means, eigenvalues, leading, components


@jit
def _leading_components(
    eigenvalues: np.ndarray, eigenvectors: np.ndarray, count: int
) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` largest eigenvalues, largest first, and their eigenvectors as rows,
    each signed so that its entry of largest absolute value is positive."""
    size = eigenvalues.shape[0]
    taken = np.zeros(size, np.bool_)
    leading = np.empty(count, eigenvalues.dtype)
    components = np.empty((count, size), eigenvectors.dtype)
    for c in range(count):
        best = -1
        for i in range(size):
            if not taken[i] and (best < 0 or eigenvalues[i] > eigenvalues[best]):
                best = i
        taken[best] = True
        leading[c] = eigenvalues[best]
        largest = 0
        for a in range(size):
            if abs(eigenvectors[a, best]) > abs(eigenvectors[largest, best]):
                largest = a
        sign = eigenvectors.dtype.type(1 if eigenvectors[largest, best] >= 0 else -1)
        for a in range(size):
            components[c, a] = sign * eigenvectors[a, best]
    return leading, components


@jit
def _covariance(X: np.ndarray, means: np.ndarray) -> np.ndarray:
    """``sum_i (x_i - mean)(x_i - mean)^T / (n - 1)``: upper triangle, i-k-j order, mirrored."""
    n_rows, size = X.shape
    covariance = np.zeros((size, size), X.dtype)
    centred = np.empty(size, X.dtype)
    for i in range(n_rows):
        for a in range(size):
            centred[a] = X[i, a] - means[a]
        for a in range(size):
            for b in range(a, size):
                covariance[a, b] += centred[a] * centred[b]
    degrees_of_freedom = X.dtype.type(n_rows - 1)
    for a in range(size):
        for b in range(a, size):
            covariance[a, b] /= degrees_of_freedom
            covariance[b, a] = covariance[a, b]
    return covariance


@jit
def _jacobi_eigh(matrix: np.ndarray, epsilon: float) -> tuple[np.ndarray, np.ndarray]:
    """Cyclic Jacobi; the same algorithm and stopping rule as
    :func:`.python_models.jacobi_eigh`, in the matrix's dtype (``epsilon`` is its own).

    Returns the unordered eigenvalues and the eigenvectors as columns.
    """
    a = matrix.copy()
    size = a.shape[0]
    one, two = a.dtype.type(1), a.dtype.type(2)
    vectors = np.zeros_like(a)
    for i in range(size):
        vectors[i, i] = one
    squares = a.dtype.type(0)
    for value in a.ravel():
        squares += value * value
    negligible = epsilon * epsilon * math.sqrt(squares)
    for _ in range(JACOBI_MAX_SWEEPS):
        rotated = False
        for p in range(size - 1):
            for q in range(p + 1, size):
                diagonal_scale = math.sqrt(abs(a[p, p])) * math.sqrt(abs(a[q, q]))
                if abs(a[p, q]) <= max(epsilon * diagonal_scale, negligible):
                    continue
                tau = (a[q, q] - a[p, p]) / (two * a[p, q])
                tangent = math.copysign(one, tau) / (abs(tau) + math.hypot(one, tau))
                cosine = one / math.hypot(one, tangent)
                _rotate(a, vectors, p, q, cosine, tangent * cosine)
                rotated = True
        if not rotated:
            break
    eigenvalues = np.empty(size, a.dtype)
    for i in range(size):
        eigenvalues[i] = a[i, i]
    return eigenvalues, vectors


@jit
def _rotate(a: np.ndarray, vectors: np.ndarray, p: int, q: int, cosine: float, sine: float) -> None:
    """``a <- J^T a J`` and ``vectors <- vectors J`` for the rotation J in the (p, q) plane."""
    for k in range(a.shape[0]):
        a_kp, a_kq = a[k, p], a[k, q]
        a[k, p] = cosine * a_kp - sine * a_kq
        a[k, q] = sine * a_kp + cosine * a_kq
        v_kp, v_kq = vectors[k, p], vectors[k, q]
        vectors[k, p] = cosine * v_kp - sine * v_kq
        vectors[k, q] = sine * v_kp + cosine * v_kq
    for k in range(a.shape[0]):
        a_pk, a_qk = a[p, k], a[q, k]
        a[p, k] = cosine * a_pk - sine * a_qk
        a[q, k] = sine * a_pk + cosine * a_qk
