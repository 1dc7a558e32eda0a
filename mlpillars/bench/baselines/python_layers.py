"""Pure-Python loop baselines: linear, mlp, softmax, log_softmax, cross_entropy, cosine.

Convention: NumPy arrays (or anything ``np.asarray`` takes) in, float64 NumPy arrays out.
Each function converts its inputs once with ``.tolist()`` before the loops and builds the
result array once after them; the loops themselves see only lists, Python floats and the
``math`` module. Builtins a Python programmer would use (``max``, ``sum``, ``zip``, list
comprehensions) are allowed; NumPy is not. Python floats are IEEE doubles, so every result
is computed, and returned, in float64 whatever the input dtype.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _inputs

Rows = list[list[float]]
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)
_SQRT_2 = math.sqrt(2.0)


def linear(x: Any, weight: Any, bias: Any = None, *, activation: str | None = None) -> np.ndarray:
    """``activation(x @ weight + bias)`` by loops.

    Parameters
    ----------
    x : array_like, shape (..., in)
    weight : array_like, shape (in, out)
    bias : array_like, shape (out,), optional
    activation : {None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh"}
        Names only; callables are outside the baseline's subset.

    Returns
    -------
    numpy.ndarray of float64, shape (..., out)
    """
    return _layers("linear", x, [weight], [bias], None, activation)


def mlp(
    x: Any,
    weights: Sequence[Any],
    biases: Sequence[Any] | None = None,
    *,
    activation: str | None = "relu",
    output_activation: str | None = None,
) -> np.ndarray:
    """Dense layers with ``activation`` between them and ``output_activation`` after the last.

    Parameters
    ----------
    x : array_like, shape (..., in)
    weights : sequence of array_like, shapes (in, h1), ..., (h_{L-1}, out)
    biases : sequence of (array_like or None), shapes (h1,), ..., (out,), optional
    activation, output_activation : activation names, as in :func:`linear`

    Returns
    -------
    numpy.ndarray of float64, shape (..., out)
    """
    if len(weights) == 0:
        raise ValueError("mlp baseline: weights is empty; give at least one (in, out) matrix")
    biases = list(biases) if biases is not None else [None] * len(weights)
    return _layers("mlp", x, weights, biases, activation, output_activation)


def softmax(x: Any, axis: int = -1, *, temperature: float = 1.0) -> np.ndarray:
    r"""Softmax along the last axis: :math:`e^{(x_i - m)/T} / \sum_j e^{(x_j - m)/T}`.

    Three passes over each row: the max, the exps (kept) and their sum, the division.

    Parameters
    ----------
    x : array_like, shape (..., n)
    axis : int
        -1 (or ``x.ndim - 1``) only.
    temperature : float

    Returns
    -------
    numpy.ndarray of float64, same shape as x
    """
    temperature = _inputs.check_positive("softmax", "temperature", temperature)
    _inputs.check_last_axis("softmax", x, axis)
    result = []
    for row in _inputs.as_rows("softmax", "x", x, np.float64).tolist():
        row_max = max(row)
        exps = [math.exp((value - row_max) / temperature) for value in row]
        total = sum(exps)
        result.append([e / total for e in exps])
    return np.array(result, dtype=np.float64).reshape(np.shape(x))


def log_softmax(x: Any, axis: int = -1, *, temperature: float = 1.0) -> np.ndarray:
    r"""Log-softmax along the last axis: :math:`s_i - \log\sum_j e^{s_j}`, ``s = (x - m)/T``.

    Parameters
    ----------
    x : array_like, shape (..., n)
    axis : int
        -1 (or ``x.ndim - 1``) only.
    temperature : float

    Returns
    -------
    numpy.ndarray of float64, same shape as x
    """
    temperature = _inputs.check_positive("log_softmax", "temperature", temperature)
    _inputs.check_last_axis("log_softmax", x, axis)
    rows = _inputs.as_rows("log_softmax", "x", x, np.float64).tolist()
    result = [_log_softmax_row(row, temperature) for row in rows]
    return np.array(result, dtype=np.float64).reshape(np.shape(x))


def cross_entropy(
    logits: Any, target: Any, *, axis: int = -1, reduction: str = "mean"
) -> np.ndarray:
    r"""Cross-entropy of ``softmax(logits)`` against labels or class probabilities.

    .. math:: \ell = \log\sum_c e^{z_c - m} - (z_y - m)
              \quad\text{or}\quad -\sum_c t_c \log\mathrm{softmax}(z)_c

    Parameters
    ----------
    logits : array_like, shape (..., C)
        The class axis is last (``axis=-1`` only).
    target : array_like
        Integer labels, shape (...), in [0, C); or probabilities, shape (..., C).
    axis : int
    reduction : {"mean", "sum", "none"}

    Returns
    -------
    numpy.ndarray of float64
        0-d for "mean" and "sum", else shape (...).
    """
    _inputs.check_choice("cross_entropy", "reduction", reduction, _inputs.REDUCTIONS)
    _inputs.check_last_axis("cross_entropy", logits, axis)
    rows = _inputs.as_rows("cross_entropy", "logits", logits, np.float64).tolist()
    target = np.asarray(target)
    if target.dtype.kind in "iu":
        if target.shape != np.shape(logits)[:-1]:
            raise ValueError("cross_entropy baseline: labels must have the logits' shape[:-1]")
        losses = _label_losses(rows, target.reshape(-1).tolist())
    else:
        if target.shape != np.shape(logits):
            raise ValueError("cross_entropy baseline: probabilities must have the logits' shape")
        soft = _inputs.as_rows("cross_entropy", "target", target, np.float64).tolist()
        losses = [
            _soft_loss(row, probabilities) for row, probabilities in zip(rows, soft, strict=True)
        ]
    if reduction == "mean":
        return np.array(sum(losses) / len(losses), dtype=np.float64)
    if reduction == "sum":
        return np.array(sum(losses), dtype=np.float64)
    return np.array(losses, dtype=np.float64).reshape(np.shape(logits)[:-1])


def cosine_similarity(a: Any, b: Any) -> np.ndarray:
    r"""Pairwise cosine similarity :math:`a_i \cdot b_j / (\lVert a_i\rVert \lVert b_j\rVert)`.

    Each row is first scaled by its largest absolute value, then to unit length (zero
    rows stay zero, so their similarities are 0); the dot products are clipped to [-1, 1].

    Parameters
    ----------
    a : array_like, shape (n, d) or (d,)
    b : array_like, shape (m, d) or (d,)

    Returns
    -------
    numpy.ndarray of float64, shape (n, m), with the axis of a 1-D argument dropped
    """
    a_rows = _inputs.as_rows("cosine_similarity", "a", a, np.float64)
    b_rows = _inputs.as_rows("cosine_similarity", "b", b, np.float64)
    _inputs.check_same_last_dimension("cosine_similarity", a_rows, b_rows, "a and b")
    a_units = [_unit_vector(row) for row in a_rows.tolist()]
    b_units = [_unit_vector(row) for row in b_rows.tolist()]
    similarity = [
        [
            min(1.0, max(-1.0, sum(p * q for p, q in zip(a_unit, b_unit, strict=True))))
            for b_unit in b_units
        ]
        for a_unit in a_units
    ]
    return np.array(similarity, dtype=np.float64).reshape(np.shape(a)[:-1] + np.shape(b)[:-1])


def _layers(
    kernel: str,
    x: Any,
    weights: Sequence[Any],
    biases: Sequence[Any],
    activation: str | None,
    output_activation: str | None,
) -> np.ndarray:
    """Dense layers over the rows of x; conversions to lists and back outside the loops."""
    hidden = _ACTIVATIONS[_checked_activation(kernel, activation)]
    last = _ACTIVATIONS[_checked_activation(kernel, output_activation)]
    rows = _inputs.as_rows(kernel, "x", x, np.float64)
    fan_in = rows.shape[1]
    hidden_rows = rows.tolist()
    for layer, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        weight = np.asarray(weight, dtype=np.float64)
        _inputs.check_weight(kernel, fan_in, weight, bias)
        fan_in = weight.shape[1]
        bias_values = None if bias is None else np.asarray(bias, dtype=np.float64).tolist()
        apply = last if layer == len(weights) - 1 else hidden
        hidden_rows = _dense_rows(hidden_rows, weight.tolist(), bias_values, apply)
    return np.array(hidden_rows, dtype=np.float64).reshape(*np.shape(x)[:-1], fan_in)


def _dense_rows(
    rows: Rows, weight: Rows, bias: list[float] | None, apply: Callable[[float], float]
) -> Rows:
    """``apply(rows @ weight + bias)`` in i-k-j order: each weight row scales into the sums."""
    fan_out = len(weight[0])
    result = []
    for row in rows:
        sums = [0.0] * fan_out
        for x_ik, weight_row in zip(row, weight, strict=True):
            sums = [s + x_ik * w for s, w in zip(sums, weight_row, strict=True)]
        if bias is not None:
            sums = [s + c for s, c in zip(sums, bias, strict=True)]
        result.append([apply(s) for s in sums])
    return result


def _log_softmax_row(row: list[float], temperature: float) -> list[float]:
    row_max = max(row)
    shifted = [(value - row_max) / temperature for value in row]
    log_total = math.log(sum(math.exp(s) for s in shifted))
    return [s - log_total for s in shifted]


def _label_losses(rows: Rows, labels: list[int]) -> list[float]:
    losses = []
    for row, label in zip(rows, labels, strict=True):
        if not 0 <= label < len(row):
            raise ValueError(f"cross_entropy baseline: label {label} not in [0, {len(row)})")
        row_max = max(row)
        log_total = math.log(sum(math.exp(z - row_max) for z in row))
        losses.append(log_total - (row[label] - row_max))
    return losses


def _soft_loss(row: list[float], probabilities: list[float]) -> float:
    return -sum(
        t * log_p for t, log_p in zip(probabilities, _log_softmax_row(row, 1.0), strict=True)
    )


def _unit_vector(row: list[float]) -> list[float]:
    largest = max(abs(value) for value in row)
    if largest == 0.0:
        return [0.0] * len(row)
    scaled = [value / largest for value in row]
    norm = math.sqrt(sum(s * s for s in scaled))
    return [s / norm for s in scaled]


def _checked_activation(kernel: str, activation: object) -> str | None:
    _inputs.activation_code(kernel, activation)
    return activation  # type: ignore[return-value]


def _sigmoid(value: float) -> float:
    exp_neg_abs = math.exp(-abs(value))
    return 1.0 / (1.0 + exp_neg_abs) if value >= 0 else exp_neg_abs / (1.0 + exp_neg_abs)


_ACTIVATIONS: dict[str | None, Callable[[float], float]] = {
    None: lambda value: value,
    "relu": lambda value: value if value > 0.0 else 0.0,
    "gelu": lambda value: 0.5 * value * (1.0 + math.erf(value / _SQRT_2)),
    "gelu_tanh": lambda value: (
        0.5
        * value
        * (1.0 + math.tanh(_SQRT_2_OVER_PI * (value + 0.044715 * value * value * value)))
    ),
    "sigmoid": _sigmoid,
    "tanh": math.tanh,
}
