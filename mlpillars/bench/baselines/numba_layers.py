"""Numba loop baselines: linear, mlp, softmax, log_softmax, cross_entropy, cosine_similarity.

Convention: NumPy arrays in, NumPy arrays out in the inputs' float dtype (float32 or
float64). A plain-Python wrapper checks the arguments, makes the arrays C-contiguous
(rows, features) and allocates the result; a ``@njit`` core runs every loop.

Accumulators start from ``dtype.type(0)`` and every constant is cast to the input dtype,
so float32 stays float32 throughout, as in the array backends (a loop that starts from
``s = 0.0``, or multiplies by a Python float, silently promotes to float64 in Numba).

Importing this module imports Numba; :mod:`mlpillars.bench.baselines` imports it only when
a Numba baseline is first used.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numba
import numpy as np

from . import _inputs

# cache=False: each process pays, and the registry measures, the real compile time (an
# on-disk cache would make it a file load). error_model="numpy": a division by zero gives
# inf/nan like the array backends instead of raising, which also lets LLVM vectorise.
jit = numba.njit(cache=False, error_model="numpy")

_RELU = _inputs.ACTIVATION_CODES["relu"]
_GELU = _inputs.ACTIVATION_CODES["gelu"]
_GELU_TANH = _inputs.ACTIVATION_CODES["gelu_tanh"]
_SIGMOID = _inputs.ACTIVATION_CODES["sigmoid"]
_TANH = _inputs.ACTIVATION_CODES["tanh"]


def linear(x: Any, weight: Any, bias: Any = None, *, activation: str | None = None) -> np.ndarray:
    """``activation(x @ weight + bias)``; see :func:`.python_layers.linear` for the subset.

    Returns
    -------
    numpy.ndarray, shape (..., out), in the inputs' float dtype
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
    """Dense layers; see :func:`.python_layers.mlp` for shapes and the subset.

    Every layer runs the same compiled core, so only one signature per dtype is compiled.

    Returns
    -------
    numpy.ndarray, shape (..., out), in the inputs' float dtype
    """
    if len(weights) == 0:
        raise ValueError("mlp baseline: weights is empty; give at least one (in, out) matrix")
    biases = list(biases) if biases is not None else [None] * len(weights)
    return _layers("mlp", x, weights, biases, activation, output_activation)


def softmax(x: Any, axis: int = -1, *, temperature: float = 1.0) -> np.ndarray:
    """Softmax along the last axis; see :func:`.python_layers.softmax`.

    Returns
    -------
    numpy.ndarray, same shape as x, in x's float dtype
    """
    return _row_map("softmax", _softmax_rows, x, axis, temperature)


def log_softmax(x: Any, axis: int = -1, *, temperature: float = 1.0) -> np.ndarray:
    """Log-softmax along the last axis; see :func:`.python_layers.log_softmax`.

    Returns
    -------
    numpy.ndarray, same shape as x, in x's float dtype
    """
    return _row_map("log_softmax", _log_softmax_rows, x, axis, temperature)


def cross_entropy(
    logits: Any, target: Any, *, axis: int = -1, reduction: str = "mean"
) -> np.ndarray:
    """Cross-entropy, class axis last; see :func:`.python_layers.cross_entropy`.

    Returns
    -------
    numpy.ndarray in the logits' float dtype: 0-d for "mean" and "sum", else shape (...)
    """
    _inputs.check_choice("cross_entropy", "reduction", reduction, _inputs.REDUCTIONS)
    _inputs.check_last_axis("cross_entropy", logits, axis)
    dtype = _inputs.float_dtype("cross_entropy", logits)
    rows = _inputs.as_rows("cross_entropy", "logits", logits, dtype)
    target = np.asarray(target)
    losses = np.empty(rows.shape[0], dtype)
    if target.dtype.kind in "iu":
        if target.shape != np.shape(logits)[:-1]:
            raise ValueError("cross_entropy baseline: labels must have the logits' shape[:-1]")
        _label_losses(rows, np.ascontiguousarray(target, dtype=np.int64).reshape(-1), losses)
    else:
        if target.shape != np.shape(logits):
            raise ValueError("cross_entropy baseline: probabilities must have the logits' shape")
        _soft_losses(rows, _inputs.as_rows("cross_entropy", "target", target, dtype), losses)
    if reduction == "none":
        return losses.reshape(np.shape(logits)[:-1])
    return np.asarray(_reduce(losses, reduction == "mean"), dtype=dtype)


def cosine_similarity(a: Any, b: Any) -> np.ndarray:
    """Pairwise cosine similarity; see :func:`.python_layers.cosine_similarity`.

    Returns
    -------
    numpy.ndarray, shape (n, m) (the axis of a 1-D argument dropped), in the float dtype
    """
    dtype = _inputs.float_dtype("cosine_similarity", a, b)
    a_rows = _inputs.as_rows("cosine_similarity", "a", a, dtype)
    b_rows = _inputs.as_rows("cosine_similarity", "b", b, dtype)
    _inputs.check_same_last_dimension("cosine_similarity", a_rows, b_rows, "a and b")
    a_units, b_units = np.empty_like(a_rows), np.empty_like(b_rows)
    _unit_rows(a_rows, a_units)
    _unit_rows(b_rows, b_units)
    similarity = np.empty((a_rows.shape[0], b_rows.shape[0]), dtype)
    _clipped_row_dots(a_units, b_units, similarity)
    return similarity.reshape(np.shape(a)[:-1] + np.shape(b)[:-1])


def _layers(
    kernel: str,
    x: Any,
    weights: Sequence[Any],
    biases: Sequence[Any],
    activation: str | None,
    output_activation: str | None,
) -> np.ndarray:
    hidden_code = _inputs.activation_code(kernel, activation)
    last_code = _inputs.activation_code(kernel, output_activation)
    dtype = _inputs.float_dtype(kernel, x, *weights, *biases)
    hidden_rows = _inputs.as_rows(kernel, "x", x, dtype)
    for layer, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        weight = np.ascontiguousarray(weight, dtype=dtype)
        _inputs.check_weight(kernel, hidden_rows.shape[1], weight, bias)
        bias_values = np.empty(0, dtype) if bias is None else np.ascontiguousarray(bias, dtype)
        code = last_code if layer == len(weights) - 1 else hidden_code
        output = np.empty((hidden_rows.shape[0], weight.shape[1]), dtype)
        _dense_rows(hidden_rows, weight, bias_values, code, output)
        hidden_rows = output
    return hidden_rows.reshape(*np.shape(x)[:-1], hidden_rows.shape[1])


def _row_map(kernel: str, core: Any, x: Any, axis: int, temperature: float) -> np.ndarray:
    """Run a softmax-family core over the rows of x (..., n), last axis."""
    temperature = _inputs.check_positive(kernel, "temperature", temperature)
    _inputs.check_last_axis(kernel, x, axis)
    dtype = _inputs.float_dtype(kernel, x)
    rows = _inputs.as_rows(kernel, "x", x, dtype)
    result = np.empty_like(rows)
    core(rows, dtype.type(temperature), result)
    return result.reshape(np.shape(x))


@jit
def _dense_rows(
    rows: np.ndarray, weight: np.ndarray, bias: np.ndarray, activation: int, out: np.ndarray
) -> None:
    """out = activation(rows @ weight + bias), i-k-j: the inner loop walks a weight row."""
    zero = rows.dtype.type(0)
    for i in range(rows.shape[0]):
        sums = out[i]
        for j in range(sums.shape[0]):
            sums[j] = zero
        for k in range(rows.shape[1]):
            x_ik = rows[i, k]
            for j in range(sums.shape[0]):
                sums[j] += x_ik * weight[k, j]
        if bias.shape[0] > 0:
            for j in range(sums.shape[0]):
                sums[j] += bias[j]
        _activate(sums, activation)


@jit
def _activate(values: np.ndarray, code: int) -> None:
    """Apply an activation in place; the branch is taken once per row, not per element."""
    one, half = values.dtype.type(1), values.dtype.type(0.5)
    if code == _RELU:
        for j in range(values.shape[0]):
            values[j] = values[j] if values[j] > 0 else values.dtype.type(0)
    elif code == _GELU:
        sqrt_2 = values.dtype.type(math.sqrt(2.0))
        for j in range(values.shape[0]):
            values[j] = half * values[j] * (one + math.erf(values[j] / sqrt_2))
    elif code == _GELU_TANH:
        scale = values.dtype.type(math.sqrt(2.0 / math.pi))
        cubic = values.dtype.type(0.044715)
        for j in range(values.shape[0]):
            value = values[j]
            values[j] = (
                half * value * (one + math.tanh(scale * (value + cubic * value * value * value)))
            )
    elif code == _SIGMOID:
        for j in range(values.shape[0]):
            exp_neg_abs = math.exp(-abs(values[j]))
            numerator = one if values[j] >= 0 else exp_neg_abs
            values[j] = numerator / (one + exp_neg_abs)
    elif code == _TANH:
        for j in range(values.shape[0]):
            values[j] = math.tanh(values[j])


@jit
def _row_max(row: np.ndarray) -> float:
    largest = row[0]
    for j in range(1, row.shape[0]):
        if row[j] > largest:
            largest = row[j]
    return largest


@jit
def _softmax_rows(rows: np.ndarray, temperature: float, out: np.ndarray) -> None:
    """Per row: the max; the exps, kept in ``out``, and their sum; one scaling pass.

    Two passes over the logits with one ``exp`` each beats the one-pass "online" max+sum
    here: a row sits in L1, and the online form needs a second ``exp`` for the output
    plus a rescaling ``exp`` whenever the running max grows.
    """
    for i in range(rows.shape[0]):
        row, probabilities = rows[i], out[i]
        row_max = _row_max(row)
        total = rows.dtype.type(0)
        for j in range(row.shape[0]):
            probabilities[j] = math.exp((row[j] - row_max) / temperature)
            total += probabilities[j]
        inverse_total = rows.dtype.type(1) / total
        for j in range(row.shape[0]):
            probabilities[j] *= inverse_total


@jit
def _log_softmax_rows(rows: np.ndarray, temperature: float, out: np.ndarray) -> None:
    """Per row: the max, the sum of exps, then ``(x - max)/T - log(sum)``."""
    for i in range(rows.shape[0]):
        row = rows[i]
        row_max = _row_max(row)
        total = rows.dtype.type(0)
        for j in range(row.shape[0]):
            total += math.exp((row[j] - row_max) / temperature)
        log_total = math.log(total)
        for j in range(row.shape[0]):
            out[i, j] = (row[j] - row_max) / temperature - log_total


@jit
def _label_losses(rows: np.ndarray, labels: np.ndarray, losses: np.ndarray) -> None:
    """losses[i] = log(sum exp(z - max)) - (z[label] - max)."""
    for i in range(rows.shape[0]):
        row, label = rows[i], labels[i]
        if label < 0 or label >= row.shape[0]:
            raise ValueError("cross_entropy baseline: a class label lies outside [0, C)")
        row_max = _row_max(row)
        total = rows.dtype.type(0)
        for j in range(row.shape[0]):
            total += math.exp(row[j] - row_max)
        losses[i] = math.log(total) - (row[label] - row_max)


@jit
def _soft_losses(rows: np.ndarray, probabilities: np.ndarray, losses: np.ndarray) -> None:
    """losses[i] = -sum_c t_c ((z_c - max) - log(sum exp(z - max)))."""
    for i in range(rows.shape[0]):
        row = rows[i]
        row_max = _row_max(row)
        total = rows.dtype.type(0)
        for j in range(row.shape[0]):
            total += math.exp(row[j] - row_max)
        log_total = math.log(total)
        loss = rows.dtype.type(0)
        for j in range(row.shape[0]):
            loss -= probabilities[i, j] * ((row[j] - row_max) - log_total)
        losses[i] = loss


@jit
def _reduce(values: np.ndarray, mean: bool) -> float:
    total = values.dtype.type(0)
    for value in values:
        total += value
    return total / values.dtype.type(values.shape[0]) if mean else total


@jit
def _unit_rows(rows: np.ndarray, out: np.ndarray) -> None:
    """Each row divided by its largest |entry|, then by its norm; zero rows stay zero."""
    zero = rows.dtype.type(0)
    for i in range(rows.shape[0]):
        largest = zero
        for value in rows[i]:
            largest = max(largest, abs(value))
        if largest == zero:
            out[i, :] = zero
            continue
        squares = zero
        for j in range(rows.shape[1]):
            out[i, j] = rows[i, j] / largest
            squares += out[i, j] * out[i, j]
        norm = math.sqrt(squares)
        for j in range(rows.shape[1]):
            out[i, j] /= norm


@jit
def _clipped_row_dots(a_rows: np.ndarray, b_rows: np.ndarray, out: np.ndarray) -> None:
    """out[i, j] = clip(a_i . b_j, -1, 1); for a @ b.T both rows are read contiguously."""
    one = a_rows.dtype.type(1)
    for i in range(a_rows.shape[0]):
        for j in range(b_rows.shape[0]):
            dot = a_rows.dtype.type(0)
            for k in range(a_rows.shape[1]):
                dot += a_rows[i, k] * b_rows[j, k]
            out[i, j] = min(one, max(-one, dot))
