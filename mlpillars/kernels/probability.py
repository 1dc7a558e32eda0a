"""Probability: the softmax family, the sigmoid and cross-entropy.

Each is max-shifted as in the tutorial's ``softmax`` (subtract the row maximum before
``exp``), so float32 logits of +-1e4 and temperatures down to 1e-6 neither overflow nor
produce NaN. float16 and bfloat16 inputs are computed in float32 and the result cast back
(float16 cannot hold 1 / 1e-6, and XLA flushes its subnormals to zero).
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as aac

from ..backends import kernel, values_known
from ._checks import (
    as_floating,
    check_axis,
    check_choice,
    check_positive_number,
    narrowed,
    shape_text,
    widened,
)
from ._fused import FusedLogSumExp, FusedSoftmax, is_offered

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
    (x,) = as_floating(x, xp=xp)
    axis, temperature = _softmax_options("softmax", x, axis, temperature)
    if fused is not None and is_offered(x):
        probabilities = fused(x, axis=axis, temperature=temperature, xp=xp)
        if probabilities is not NotImplemented:
            return probabilities
    exp_shifted = xp.exp(_shifted(widened(x, xp=xp), axis, temperature, xp=xp))
    return narrowed(exp_shifted / xp.sum(exp_shifted, axis=axis, keepdims=True), x, xp=xp)


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
    (x,) = as_floating(x, xp=xp)
    axis, temperature = _softmax_options("log_softmax", x, axis, temperature)
    if fused is not None and is_offered(x):
        log_probabilities = fused(x, axis=axis, temperature=temperature, xp=xp)
        if log_probabilities is not NotImplemented:
            return log_probabilities
    shifted = _shifted(widened(x, xp=xp), axis, temperature, xp=xp)
    return narrowed(_log_normalised(shifted, axis, xp=xp), x, xp=xp)


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
    (x,) = as_floating(x, xp=xp)
    axis = check_axis("logsumexp", "x", x, axis)
    if fused is not None and is_offered(x):
        result = fused(x, axis=axis, keepdims=keepdims, xp=xp)
        if result is not NotImplemented:
            return result
    values = widened(x, xp=xp)
    row_max = xp.max(values, axis=axis, keepdims=True)
    safe_max = xp.where(xp.isfinite(row_max), row_max, xp.zeros_like(row_max))
    is_max = values == row_max
    below_max = xp.where(is_max, xp.zeros_like(values), xp.exp(values - safe_max))
    extra_ties = xp.sum(xp.astype(is_max, values.dtype), axis=axis, keepdims=True) - 1
    summed_rest = xp.sum(below_max, axis=axis, keepdims=True) + extra_ties
    finite = xp.log1p(summed_rest) + safe_max
    result = narrowed(xp.where(xp.isfinite(row_max), finite, row_max), x, xp=xp)
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
    (x,) = as_floating(x, xp=xp)
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
        ``"none"`` returns one loss per sample (``logits.shape`` without ``axis``).

    Returns
    -------
    array
        A 0-d array for "mean" and "sum", else the per-sample losses.
    """
    check_choice("cross_entropy", "reduction", reduction, REDUCTIONS)
    (logits,) = as_floating(logits, xp=xp)
    class_axis = check_axis("cross_entropy", "logits", logits, axis)
    log_probs = _log_softmax(widened(logits, xp=xp), class_axis, 1.0, xp=xp)
    if xp.isdtype(target.dtype, "integral"):
        losses = -_picked_log_probs(log_probs, target, class_axis, xp=xp)
    else:
        losses = -_soft_target_log_likelihood(log_probs, target, class_axis, xp=xp)
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


def _shifted(x: Any, axis: int, temperature: float, *, xp: Any) -> Any:
    """``(x - max(x)) / T``: shifting first keeps even float16 logits / 1e-6 finite."""
    shifted = x - xp.max(x, axis=axis, keepdims=True)
    return shifted if temperature == 1.0 else shifted / temperature


def _log_normalised(shifted: Any, axis: int, *, xp: Any) -> Any:
    """``s - log(sum(exp(s)))`` of max-shifted logits ``s``."""
    return shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))


def _log_softmax(x: Any, axis: int, temperature: float, *, xp: Any) -> Any:
    """The checked log-softmax of floating ``x`` (no widening), for cross_entropy."""
    axis, temperature = _softmax_options("log_softmax", x, axis, temperature)
    return _log_normalised(_shifted(x, axis, temperature, xp=xp), axis, xp=xp)


def _picked_log_probs(log_probs: Any, labels: Any, class_axis: int, *, xp: Any) -> Any:
    """``log_probs`` at each sample's label, for integer labels."""
    sample_shape = tuple(s for i, s in enumerate(log_probs.shape) if i != class_axis)
    n_classes = log_probs.shape[class_axis]
    if tuple(labels.shape) != sample_shape:
        raise ValueError(
            f"cross_entropy: integer target must have the logits' shape without the class "
            f"axis {class_axis}, i.e. {sample_shape}; got target: {shape_text(labels)}, "
            f"logits: {shape_text(log_probs)}"
        )
    in_range = (labels >= 0) & (labels < n_classes)
    checked = values_known(in_range)  # the array bool() reads: inside jit, a tracer
    if checked and aac.size(labels) and not bool(xp.all(in_range)):
        raise ValueError(
            f"cross_entropy: class labels must lie in [0, {n_classes}) for logits with "
            f"{n_classes} classes; got labels from {int(xp.min(labels))} to {int(xp.max(labels))}"
        )
    class_last = xp.moveaxis(log_probs, class_axis, -1)
    classes = xp.arange(n_classes, dtype=labels.dtype, device=aac.device(log_probs))
    is_label = xp.expand_dims(labels, axis=-1) == classes
    picked = xp.sum(xp.where(is_label, class_last, xp.zeros_like(class_last)), axis=-1)
    if checked:
        return picked
    # Labels not checked (traced, or on a GPU): an out-of-range label's row is NaN.
    return xp.where(in_range, picked, xp.full_like(picked, math.nan))


def _soft_target_log_likelihood(
    log_probs: Any, probabilities: Any, class_axis: int, *, xp: Any
) -> Any:
    """``sum_c t_c log p_c`` for a target given as class probabilities."""
    if tuple(probabilities.shape) != tuple(log_probs.shape):
        raise ValueError(
            "cross_entropy: a probability target must have the logits' shape "
            f"{shape_text(log_probs)}; got target: {shape_text(probabilities)} (integer "
            "class labels take the logits' shape without the class axis)"
        )
    (probabilities,) = as_floating(probabilities, xp=xp)
    probabilities = xp.astype(probabilities, log_probs.dtype)
    return xp.sum(probabilities * log_probs, axis=class_axis)
