"""Probability: the softmax family, the sigmoid and cross-entropy.

Each is max-shifted as in the tutorial's ``softmax`` (subtract the row maximum before
``exp``), so float32 logits of +-1e4 and temperatures down to 1e-6 neither overflow nor
produce NaN. float16 and bfloat16 inputs are computed in float32 and the result cast back
(float16 cannot hold 1 / 1e-6, and XLA flushes its subnormals to zero).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import array_api_compat as aac

from ..backends import kernel, reduce_max
from ._checks import (
    as_floating,
    check_axis,
    check_choice,
    check_positive_number,
    is_empty,
    narrowed,
    widened,
)
from ._fused import FusedLogSumExp, FusedSoftmax, is_offered
from ._targets import class_axis_of, picked_log_probs, soft_target_log_likelihood

REDUCTIONS = ("mean", "sum", "none")
_TEMPERATURE_HINT = " (temperature -> 0 approaches argmax; use e.g. 1e-6 for near-greedy)"


@kernel(arrays=("x",))
def softmax(
    x: Any,
    /,
    axis: int = -1,
    *,
    temperature: float = 1.0,
    xp: Any,
    fused: FusedSoftmax | None = None,
) -> Any:
    r"""Softmax along ``axis`` with a temperature.

    .. math:: \mathrm{softmax}(x)_i = \frac{e^{(x_i - m)/T}}{\sum_j e^{(x_j - m)/T}},
              \quad m = \max_j x_j

    Parameters
    ----------
    x : array, shape (..., n, ...)
        Logits. Integer input is cast to the namespace's default float.
    axis : int
        The axis that sums to one.
    temperature : float
        T > 0. Below 1 sharpens the distribution, above 1 flattens it.

    Returns
    -------
    array, same shape as x
        Probabilities, in x's floating dtype, namespace and device.

    Notes
    -----
    Where the framework has its own softmax (its ``fused_kernels``), it computes the
    checked arguments (:class:`._fused.FusedSoftmax`); ``softmax.generic(x, xp=xp)`` is
    the formula alone.
    """
    (x,) = as_floating(x, xp=xp, kernel="softmax", names=("x",))
    axis, temperature = _softmax_options("softmax", x, axis, temperature)
    if fused is not None and is_offered(x):
        probabilities = fused(x, axis=axis, temperature=temperature, xp=xp)
        if probabilities is not NotImplemented:
            return probabilities
    return _on_one_axis(_probabilities, x, axis, temperature, xp=xp)


@kernel(arrays=("x",))
def log_softmax(
    x: Any,
    /,
    axis: int = -1,
    *,
    temperature: float = 1.0,
    xp: Any,
    fused: FusedSoftmax | None = None,
) -> Any:
    r"""Logarithm of :func:`softmax`, computed without taking ``log`` of a probability.

    .. math:: \log\mathrm{softmax}(x)_i = s_i - \log\sum_j e^{s_j},
              \quad s = (x - \max_j x_j) / T

    Parameters
    ----------
    x : array, shape (..., n, ...)
        Logits.
    axis : int
        The axis to normalise over.
    temperature : float
        T > 0.

    Returns
    -------
    array, same shape as x
        Log-probabilities (all <= 0), in x's floating dtype, namespace and device.

    Notes
    -----
    Where the framework has its own log-softmax, it computes the checked arguments
    (:class:`._fused.FusedSoftmax`); ``log_softmax.generic(x, xp=xp)`` is the formula alone.
    """
    (x,) = as_floating(x, xp=xp, kernel="log_softmax", names=("x",))
    axis, temperature = _softmax_options("log_softmax", x, axis, temperature)
    if fused is not None and is_offered(x):
        log_probabilities = fused(x, axis=axis, temperature=temperature, xp=xp)
        if log_probabilities is not NotImplemented:
            return log_probabilities
    return _on_one_axis(_log_probabilities, x, axis, temperature, xp=xp)


@kernel(arrays=("x",))
def logsumexp(
    x: Any,
    /,
    axis: int = -1,
    *,
    keepdims: bool = False,
    xp: Any,
    fused: FusedLogSumExp | None = None,
) -> Any:
    r"""``log(sum(exp(x)))`` along ``axis``, max-shifted.

    .. math:: \mathrm{LSE}(x) = m + \log\Bigl(1 + (t - 1)
              + \sum_{j:\,x_j < m} e^{x_j - m}\Bigr), \quad m = \max_j x_j

    where ``t`` is how many entries equal ``m``. Writing the terms the maximum contributes
    apart and taking ``log1p`` of the rest keeps the digits of a sum close to 1, as SciPy
    does: ``logsumexp([0, -40])`` is 4.25e-18, not 0. A slice whose maximum is not finite
    gives that maximum (all ``-inf``: ``-inf``; a ``+inf``: ``+inf``; a NaN: NaN).

    Parameters
    ----------
    x : array, shape (..., n, ...)
    axis : int
    keepdims : bool
        Keep the reduced axis with length 1.

    Returns
    -------
    array, x's shape without ``axis`` (or with length 1 there when keepdims)

    Notes
    -----
    Where the framework has its own implementation that keeps these digits, it computes
    the checked arguments (:class:`._fused.FusedLogSumExp`); ``logsumexp.generic(x, xp=xp)``
    is the formula alone.
    """
    (x,) = as_floating(x, xp=xp, kernel="logsumexp", names=("x",))
    axis = check_axis("logsumexp", "x", x, axis)
    if fused is not None and is_offered(x):
        result = fused(x, axis=axis, keepdims=keepdims, xp=xp)
        if result is not NotImplemented:
            return result
    if x.ndim == 0:  # one entry: its own value, as SciPy
        return xp.reshape(_log_sum_exp(xp.reshape(x, (1,)), 0, xp=xp), ())
    result = _log_sum_exp(x, axis, xp=xp)
    return result if keepdims else xp.squeeze(result, axis=axis)


@kernel(arrays=("x",))
def sigmoid(x: Any, /, *, xp: Any) -> Any:
    r"""Logistic sigmoid, stable for large ``|x|``.

    .. math:: \sigma(x) = \frac{1}{1 + e^{-x}}
              = \begin{cases} 1/(1+e^{-|x|}) & x \ge 0 \\
                              e^{-|x|}/(1+e^{-|x|}) & x < 0 \end{cases}

    Only ``exp(-|x|)`` is evaluated, which never overflows.

    Parameters
    ----------
    x : array, any shape

    Returns
    -------
    array, same shape as x, values in [0, 1]
    """
    (x,) = as_floating(x, xp=xp, kernel="sigmoid", names=("x",))
    return stable_sigmoid(x, xp=xp)


@kernel(arrays=("logits", "target"))
def cross_entropy(
    logits: Any,
    target: Any,
    /,
    *,
    axis: int = -1,
    reduction: str = "mean",
    xp: Any,
) -> Any:
    r"""Cross-entropy between ``softmax(logits)`` and a target, through ``log_softmax``.

    .. math:: \ell = -\sum_c t_c \log\mathrm{softmax}(z)_c
              \quad (\ell = -\log\mathrm{softmax}(z)_y \text{ for a class label } y)

    Parameters
    ----------
    logits : array, shape (..., C, ...)
        Unnormalised scores; the class axis is ``axis``.
    target : array
        Either integer class labels of shape ``logits.shape`` without ``axis``, with
        values in [0, C), or class probabilities of the same shape as ``logits``.
        Labels out of range raise ``ValueError`` where their values can be read without
        cost; where they cannot (inside ``jax.jit``, ``jax.vmap``, ``torch.compile``, or
        on a GPU, where reading them would stall the stream) the loss of each sample with
        such a label is NaN, and so is a "mean" or "sum" over it (as JAX fills an
        out-of-bounds gather with NaN rather than raising).
    axis : int
        The class axis of ``logits``.
    reduction : {"mean", "sum", "none"}
        ``"none"`` returns one loss per sample (``logits.shape`` without ``axis``). With
        zero samples, "sum" is 0 and "none" empty; "mean" raises ``ValueError`` (torch
        returns NaN, a 0/0 that would pass silently into a training loop).

    Returns
    -------
    array
        A 0-d array for "mean" and "sum", else the per-sample losses.
    """
    check_choice("cross_entropy", "reduction", reduction, REDUCTIONS)
    (logits,) = as_floating(logits, xp=xp, kernel="cross_entropy", names=("logits",))
    class_axis = class_axis_of(logits, axis, reduction)
    log_probs = _log_softmax(widened(logits, xp=xp), class_axis, 1.0, xp=xp)
    if xp.isdtype(target.dtype, "integral"):
        losses = -picked_log_probs(log_probs, target, class_axis, xp=xp)
    else:
        losses = -soft_target_log_likelihood(log_probs, target, class_axis, xp=xp)
    if reduction == "mean":
        losses = xp.mean(losses)
    elif reduction == "sum":
        losses = xp.sum(losses)
    return narrowed(losses, logits, xp=xp)


def stable_sigmoid(x: Any, *, xp: Any) -> Any:
    """The sigmoid of a floating array, evaluating only ``exp(-|x|)``."""
    exp_neg_abs = xp.exp(-xp.abs(x))
    return xp.where(x >= 0, 1 / (1 + exp_neg_abs), exp_neg_abs / (1 + exp_neg_abs))


def _softmax_options(kernel_name: str, x: Any, axis: int, temperature: float) -> tuple[int, float]:
    """The axis as an index in ``[0, x.ndim)`` and T as a float, checked."""
    temperature = check_positive_number(kernel_name, "temperature", temperature, _TEMPERATURE_HINT)
    return check_axis(kernel_name, "x", x, axis), temperature


def _probabilities(x: Any, axis: int, temperature: float, *, xp: Any) -> Any:
    """The softmax formula, for floating ``x`` with at least one axis (empty: empty)."""
    if is_empty(x):
        return xp.zeros_like(x)
    exp_shifted = xp.exp(_shifted(widened(x, xp=xp), axis, temperature, xp=xp))
    return narrowed(exp_shifted / xp.sum(exp_shifted, axis=axis, keepdims=True), x, xp=xp)


def _log_probabilities(x: Any, axis: int, temperature: float, *, xp: Any) -> Any:
    """The log-softmax formula, for floating ``x`` with at least one axis (empty: empty)."""
    if is_empty(x):
        return xp.zeros_like(x)
    shifted = _shifted(widened(x, xp=xp), axis, temperature, xp=xp)
    return narrowed(_log_normalised(shifted, axis, xp=xp), x, xp=xp)


def _log_sum_exp(x: Any, axis: int, *, xp: Any) -> Any:
    """The log-sum-exp formula with the reduced axis kept, for floating ``x`` with at least
    one axis; an empty sum is ``-inf`` (SciPy), an empty result empty."""
    if is_empty(x):
        kept = tuple(1 if i == axis else size for i, size in enumerate(x.shape))
        fill = -math.inf if x.shape[axis] == 0 else 0.0
        return xp.full(kept, fill, dtype=x.dtype, device=aac.device(x))
    values = widened(x, xp=xp)
    row_max = reduce_max(values, axis=axis, keepdims=True, xp=xp)
    safe_max = xp.where(xp.isfinite(row_max), row_max, xp.zeros_like(row_max))
    is_max = values == row_max
    below_max = xp.where(is_max, xp.zeros_like(values), xp.exp(values - safe_max))
    extra_ties = xp.sum(xp.astype(is_max, values.dtype), axis=axis, keepdims=True) - 1
    summed_rest = xp.sum(below_max, axis=axis, keepdims=True) + extra_ties
    finite = xp.log1p(summed_rest) + safe_max
    return narrowed(xp.where(xp.isfinite(row_max), finite, row_max), x, xp=xp)


def _on_one_axis(
    formula: Callable[..., Any], x: Any, axis: int, temperature: float, *, xp: Any
) -> Any:
    """``formula(x, axis, temperature)``; a 0-d x as a vector of one entry (SciPy and torch:
    ``softmax(1000.0)`` is 1.0, ``log_softmax`` 0.0), reshaped back."""
    if x.ndim:
        return formula(x, axis, temperature, xp=xp)
    return xp.reshape(formula(xp.reshape(x, (1,)), 0, temperature, xp=xp), ())


def _shifted(x: Any, axis: int, temperature: float, *, xp: Any) -> Any:
    """``(x - max(x)) / T``: shifting first keeps even float16 logits / 1e-6 finite."""
    shifted = x - reduce_max(x, axis=axis, keepdims=True, xp=xp)
    return shifted if temperature == 1.0 else shifted / temperature


def _log_normalised(shifted: Any, axis: int, *, xp: Any) -> Any:
    """``s - log(sum(exp(s)))`` of max-shifted logits ``s``."""
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def _log_softmax(x: Any, axis: int, temperature: float, *, xp: Any) -> Any:
    """The checked log-softmax of floating ``x`` (no widening), for cross_entropy."""
    axis, temperature = _softmax_options("log_softmax", x, axis, temperature)
    if is_empty(x):
        return xp.zeros_like(x)
    return _log_normalised(_shifted(x, axis, temperature, xp=xp), axis, xp=xp)
