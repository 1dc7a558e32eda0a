"""Float64 NumPy/SciPy references for the property tests (tests/test_properties.py).

Each takes float64 NumPy inputs (the generated inputs after rounding to the tested dtype,
so the reference sees exactly what the kernel saw) and returns what the kernel should.
Written from the formulas, independently of mlpillars.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import numpy as np
import scipy.special

ACTIVATIONS = {
    None: lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "gelu": lambda z: z * scipy.special.ndtr(z),
    "gelu_tanh": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
    "sigmoid": scipy.special.expit,
    "tanh": np.tanh,
}


def softmax_family(kind: str, x: np.ndarray, axis: Any, temperature: float, keepdims: bool):
    """SciPy's softmax, log_softmax and logsumexp; torch's empty-in, empty-out where SciPy
    raises; a 0-d x as one entry; axis None or a tuple as SciPy takes it (an empty tuple:
    each entry alone)."""
    if axis is None or isinstance(axis, tuple):
        return _over_axes(kind, x, axis, temperature, keepdims)
    if x.ndim == 0:
        one = softmax_family(kind, x.reshape(1), 0, temperature, False)
        return np.asarray(one).reshape(())
    if kind == "logsumexp":
        return scipy.special.logsumexp(x, axis=axis, keepdims=keepdims)
    if x.size == 0:
        return np.zeros(x.shape)
    function = scipy.special.softmax if kind == "softmax" else scipy.special.log_softmax
    # Shifted before dividing: x / T itself would round away digits of x - max (x = 1e8).
    return function((x - np.max(x, axis=axis, keepdims=True)) / temperature, axis=axis)


def _over_axes(kind: str, x: np.ndarray, axes: Any, temperature: float, keepdims: bool):
    axes = tuple(range(x.ndim)) if axes is None else tuple(a % x.ndim for a in axes)
    if not axes:  # each entry its own slice
        return {"softmax": np.ones_like, "log_softmax": np.zeros_like, "logsumexp": np.copy}[kind](
            x
        )
    if kind == "logsumexp":
        if x.size == 0:  # SciPy fails on some empty shapes: -inf where a sum is empty
            kept = [1 if i in axes else side for i, side in enumerate(x.shape)]
            full = np.full(kept, -np.inf)
            return (
                full
                if keepdims
                else full.reshape([kept[i] for i in range(x.ndim) if i not in axes])
            )
        return scipy.special.logsumexp(x, axis=axes, keepdims=keepdims)
    if x.size == 0:
        return np.zeros(x.shape)
    function = scipy.special.softmax if kind == "softmax" else scipy.special.log_softmax
    return function((x - np.max(x, axis=axes, keepdims=True)) / temperature, axis=axes)


def cross_entropy(logits: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    """``-sum_c t_c log softmax(z)_c`` over the last axis; labels as one-hot targets."""
    log_probabilities = scipy.special.log_softmax(logits, axis=-1) if logits.size else logits
    if np.issubdtype(target.dtype, np.integer):
        target = np.eye(logits.shape[-1])[target] if target.size else logits * 0
    losses = -np.sum(np.where(target == 0, 0.0, target * log_probabilities), axis=-1)
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](losses)


def linear(x: np.ndarray, weight: np.ndarray, bias, activation) -> np.ndarray:
    product = x @ weight if weight.shape[0] else np.zeros((*x.shape[:-1], weight.shape[1]))
    return ACTIVATIONS[activation](product if bias is None else product + bias)


def unit_vectors(x: np.ndarray, axis: int) -> np.ndarray:
    """x / ||x|| along axis, scaled by the largest entry first; zero vectors stay zero."""
    if x.size == 0:
        return x
    largest = np.max(np.abs(x), axis=axis, keepdims=True)
    scaled = x / np.where(largest == 0, 1.0, largest)
    norm = np.linalg.norm(scaled, axis=axis, keepdims=True)
    return scaled / np.where(norm == 0, 1.0, norm)


def cosine_similarity(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    rows_a, rows_b = unit_vectors(np.atleast_2d(a), -1), unit_vectors(np.atleast_2d(b), -1)
    similarity = np.clip(rows_a @ rows_b.T, -1.0, 1.0)
    if b.ndim == 1:
        similarity = similarity[:, 0]
    return similarity[0] if a.ndim == 1 else similarity


def attention(q, k, v, mask, is_causal: bool, scale: float | None) -> np.ndarray:
    """softmax(q k^T scale + mask) v over the allowed keys; a query with none gets zeros."""
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale
    allowed = np.ones(scores.shape, dtype=bool)
    if is_causal:
        allowed &= np.tril(np.ones(scores.shape[-2:], dtype=bool))
    if mask is not None and mask.dtype == bool:
        allowed &= mask
    elif mask is not None:
        scores = scores + mask
        allowed &= mask > -np.inf
    scores = np.where(allowed, scores, -np.inf)
    any_allowed = allowed.any(axis=-1, keepdims=True)
    row_max = np.where(any_allowed, np.max(scores, axis=-1, keepdims=True, initial=-np.inf), 0)
    weights = np.where(allowed, np.exp(scores - row_max), 0.0)
    weights /= np.where(any_allowed, weights.sum(axis=-1, keepdims=True), 1.0)
    return weights @ v


def r_squared(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """1 - SS_res / SS_tot along the last axis; constant y_true: 1 if perfect else 0.
    Centred about the first sample first, so that a constant y_true is exactly constant."""
    shifted_true = y_true - y_true[..., :1]
    residual = np.sum((y_true - y_pred) ** 2, axis=-1)
    total = np.sum((shifted_true - shifted_true.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    constant = total == 0
    ratio = residual / np.where(constant, 1.0, total)
    return np.where(constant, (residual == 0).astype(float), 1 - ratio)


def least_squares(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    """Weights and bias with an intercept, in exact rational arithmetic (the normal
    equations of the values given, centred exactly), rounded to float64: features far
    from zero (1e5 spreads) make the float64 lstsq of ``[X, 1]`` itself 1e-9 off."""
    rows = [[Fraction(float(value)) for value in row] for row in X]
    targets = [Fraction(float(value)) for value in y]
    n_samples, n_features = len(rows), X.shape[1]
    means = [sum(row[j] for row in rows) / n_samples for j in range(n_features)]
    target_mean = sum(targets) / n_samples
    centred = [[row[j] - means[j] for j in range(n_features)] for row in rows]
    gram = [
        [sum(row[i] * row[j] for row in centred) for j in range(n_features)]
        for i in range(n_features)
    ]
    right = [
        sum(row[i] * (t - target_mean) for row, t in zip(centred, targets, strict=True))
        for i in range(n_features)
    ]
    weights = _solved_exactly(gram, right)
    bias = target_mean - sum(m * w for m, w in zip(means, weights, strict=True))
    return np.array([float(w) for w in weights]), float(bias)


def _solved_exactly(matrix: list[list[Fraction]], right: list[Fraction]) -> list[Fraction]:
    """``matrix x = right`` by Gaussian elimination in Fractions (matrix nonsingular)."""
    size = len(right)
    rows = [[*matrix[i], right[i]] for i in range(size)]
    for column in range(size):
        pivot = next(i for i in range(column, size) if rows[i][column] != 0)
        rows[column], rows[pivot] = rows[pivot], rows[column]
        for i in range(size):
            if i != column and rows[i][column] != 0:
                factor = rows[i][column] / rows[column][column]
                rows[i] = [a - factor * b for a, b in zip(rows[i], rows[column], strict=True)]
    return [rows[i][size] / rows[i][i] for i in range(size)]


def gradient_descent(X: np.ndarray, y: np.ndarray, lr: float, steps: int):
    """Plain full-batch gradient descent on the MSE with an intercept, from zero."""
    design = np.column_stack([X, np.ones(len(X))])
    params = np.zeros(design.shape[1])
    for _ in range(steps):
        params = params - lr * (2 / len(y)) * design.T @ (design @ params - y)
    loss = np.mean((design @ params - y) ** 2)
    return params[:-1], params[-1], loss


def pca_fit(X: np.ndarray, n_components: int) -> tuple[np.ndarray, np.ndarray]:
    """Explained variances (k,) and components (k, d) from the SVD of the centred data."""
    centred = X - X.mean(axis=0)
    _, singular_values, vt = np.linalg.svd(centred, full_matrices=False)
    variances = singular_values**2 / (len(X) - 1)
    return variances[:n_components], vt[:n_components]
