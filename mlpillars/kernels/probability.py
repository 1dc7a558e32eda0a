"""Probability: the softmax family, the sigmoid and cross-entropy.

Each is max-shifted as in the tutorial's ``softmax`` (subtract the row maximum before
``exp``), so float32 logits of +-1e4 and temperatures down to 1e-6 neither overflow nor
produce NaN. float16 and bfloat16 inputs are computed in float32 and the result cast back
(float16 cannot hold 1 / 1e-6, and XLA flushes its subnormals to zero).
"""

from __future__ import annotations

from functools import partial
from typing import Any

from ..backends import is_dtype, kernel
from ._axes import merged_axes, several_axes
from ._checks import check_axis, check_choice
from ._floating import as_floating_array, narrowed, widened
from ._fused import FusedCrossEntropy, FusedLogSumExp, FusedSigmoid, FusedSoftmax, is_offered
from ._softmax_formulas import (
    SMALLEST_NORMAL,
    log_softmax_formula,
    logsumexp_formula,
    on_one_axis,
    softmax_formula,
    softmax_options,
    stable_sigmoid,
)
from ._targets import (
    checked_labels,
    checked_probabilities,
    class_axis_of,
    half_label_losses,
    picked_log_probs,
    probability_target_losses,
    reduced_losses,
)

REDUCTIONS = ("mean", "sum", "none")


@kernel(arrays=("x",))
def softmax(
    x: Any,
    /,
    axis: int | tuple[int, ...] | None = -1,
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
    axis : int, tuple of int or None
        The axis that sums to one; several axes (None: all) sum to one together.
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
    if type(axis) is not int and several_axes(axis):  # as one axis (SciPy, JAX)
        merged = merged_axes("softmax", x, axis, xp=xp)
        spread = softmax.generic(merged.array, -1, temperature=temperature, xp=xp, fused=fused)
        return merged.spread(spread, xp=xp)
    x = as_floating_array(x, xp=xp, kernel="softmax", name="x")
    axis, temperature = softmax_options("softmax", x, axis, temperature)
    if fused is not None and is_offered(x) and temperature >= SMALLEST_NORMAL:
        probabilities = fused(x, axis=axis, temperature=temperature, xp=xp)
        if probabilities is not NotImplemented:
            return probabilities
    return on_one_axis(softmax_formula, x, axis, temperature, xp=xp)


@kernel(arrays=("x",))
def log_softmax(
    x: Any,
    /,
    axis: int | tuple[int, ...] | None = -1,
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
    axis : int, tuple of int or None
        The axis to normalise over; several axes (None: all) are normalised over together.
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
    if type(axis) is not int and several_axes(axis):  # as one axis (SciPy, JAX)
        merged = merged_axes("log_softmax", x, axis, xp=xp)
        spread = log_softmax.generic(merged.array, -1, temperature=temperature, xp=xp, fused=fused)
        return merged.spread(spread, xp=xp)
    x = as_floating_array(x, xp=xp, kernel="log_softmax", name="x")
    axis, temperature = softmax_options("log_softmax", x, axis, temperature)
    if fused is not None and is_offered(x) and temperature >= SMALLEST_NORMAL:
        log_probabilities = fused(x, axis=axis, temperature=temperature, xp=xp)
        if log_probabilities is not NotImplemented:
            return log_probabilities
    return on_one_axis(log_softmax_formula, x, axis, temperature, xp=xp)


@kernel(arrays=("x",))
def logsumexp(
    x: Any,
    /,
    axis: int | tuple[int, ...] | None = -1,
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
    axis : int, tuple of int or None
        The axis to reduce; several axes (None: all) are reduced together.
    keepdims : bool
        Keep the reduced axes with length 1.

    Returns
    -------
    array, x's shape without ``axis`` (or with length 1 there when keepdims)

    Notes
    -----
    Where the framework has its own implementation that keeps these digits, it computes
    the checked arguments (:class:`._fused.FusedLogSumExp`); ``logsumexp.generic(x, xp=xp)``
    is the formula alone.
    """
    if type(axis) is not int and several_axes(axis):  # as one axis (SciPy, JAX)
        merged = merged_axes("logsumexp", x, axis, xp=xp)
        reduced = logsumexp.generic(merged.array, -1, xp=xp, fused=fused)
        return merged.reduced(reduced, keepdims, xp=xp)
    x = as_floating_array(x, xp=xp, kernel="logsumexp", name="x")
    axis = check_axis("logsumexp", "x", x, axis)
    if fused is not None and is_offered(x):
        result = fused(x, axis=axis, keepdims=keepdims, xp=xp)
        if result is not NotImplemented:
            return result
    if x.ndim == 0:  # one entry: its own value, as SciPy
        return xp.reshape(logsumexp_formula(xp.reshape(x, (1,)), 0, xp=xp), ())
    result = logsumexp_formula(x, axis, xp=xp)
    return result if keepdims else xp.squeeze(result, axis=axis)


@kernel(arrays=("x",))
def sigmoid(x: Any, /, *, xp: Any, fused: FusedSigmoid | None = None) -> Any:
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
    x = as_floating_array(x, xp=xp, kernel="sigmoid", name="x")
    if fused is not None and (probabilities := fused(x, xp=xp)) is not NotImplemented:
        return probabilities
    return stable_sigmoid(x, xp=xp)


@kernel(arrays=("logits", "target"), known_sizes=True)
def cross_entropy(
    logits: Any,
    target: Any,
    /,
    *,
    axis: int = -1,
    reduction: str = "mean",
    xp: Any,
    fused: FusedCrossEntropy | None = None,
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
        returns NaN, a 0/0 that would pass silently into a training loop). The mean is
        past the range only where the mean itself is: float32 losses of 3e38 have the
        mean 3e38, and float32 logits [3.4e38, -3.4e38] with the label 1 (the loss 6.8e38,
        inf in "none" and "sum") beside three small losses the mean 1.7e38; torch's mean
        is inf in both.

    Returns
    -------
    array
        A 0-d array for "mean" and "sum", else the per-sample losses.

    Notes
    -----
    Where the framework has its own cross-entropy (its ``fused_kernels``), it computes the
    checked arguments (:class:`._fused.FusedCrossEntropy`); elsewhere the log-probabilities
    at the labels come from :func:`log_softmax`, the framework's own where it has one.
    A class-probability target forms no log-probabilities: the gaps to the largest logit
    are taken in halves, so that float32 logits [3e38, -3e38] with the target [0.9, 0.1]
    give 6e37 (``log_softmax`` there is [0, -inf]: the loss was inf), and a target of 0
    counts 0 whatever its class's logit.
    ``cross_entropy.generic(logits, target, xp=xp)`` leaves out the framework's own
    cross-entropy (not its log_softmax, itself tested against its formula).
    """
    check_choice("cross_entropy", "reduction", reduction, REDUCTIONS)
    logits = as_floating_array(logits, xp=xp, kernel="cross_entropy", name="logits")
    class_axis = class_axis_of(logits, axis, reduction)
    wide_logits = widened(logits, xp=xp)
    labels_given = is_dtype(target.dtype, "integral", xp=xp)
    if labels_given:
        labels_checked = checked_labels(target, logits, class_axis, xp=xp)
    else:
        target, labels_checked = checked_probabilities(target, wide_logits, xp=xp), True
    if fused is not None and is_offered(logits):
        losses = fused(
            wide_logits,
            target,
            axis=class_axis,
            reduction=reduction,
            labels_checked=labels_checked,
            xp=xp,
        )
        if losses is not NotImplemented:
            return narrowed(losses, logits, xp=xp)
    if labels_given:
        log_probs = log_softmax(wide_logits, class_axis)  # the framework's own, if it has one
        losses = -picked_log_probs(log_probs, target, class_axis, labels_checked, xp=xp)
        halves = partial(
            half_label_losses, wide_logits, losses, target, class_axis, labels_checked, xp=xp
        )
    else:
        losses, halves = probability_target_losses(
            wide_logits, target, class_axis, log_softmax=log_softmax, xp=xp
        )
    return narrowed(reduced_losses(losses, reduction, xp=xp, halves=halves), logits, xp=xp)
