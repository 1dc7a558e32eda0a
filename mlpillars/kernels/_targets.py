"""Cross-entropy's checks and the log-likelihood of its two kinds of target.

Apart from :mod:`.probability` so that each module stays short: the class axis (at least
one class, no mean over zero samples), integer labels (in range, or NaN rows where their
values cannot be read), class-probability targets, and the reduction of the losses.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

import array_api_extra as xpx

from ..backends import (
    device_of,
    extremes,
    halved_label_losses,
    mean_of_losses,
    quiet_arithmetic,
    reduce_max,
    values_at_hand,
    values_known,
)
from ._checks import check_axis, is_empty, shape_text
from ._floating import as_floating_array


def class_axis_of(logits: Any, axis: int, reduction: str) -> int:
    """The class axis, checked: at least one class; no mean over zero samples."""
    if logits.ndim == 0:
        raise ValueError("cross_entropy: logits must have a class axis, got a 0-d array")
    class_axis = check_axis("cross_entropy", "logits", logits, axis)
    if logits.shape[class_axis] == 0:
        raise ValueError(
            f"cross_entropy: logits have 0 classes along axis {axis} (logits: "
            f"{shape_text(logits)}); give at least one class"
        )
    if reduction == "mean" and is_empty(logits):
        raise ValueError(
            f"cross_entropy: the mean over zero samples is undefined (logits: "
            f"{shape_text(logits)}); torch returns NaN, mlpillars refuses: use "
            "reduction='sum' (0) or 'none' (an empty array)"
        )
    return class_axis


def checked_labels(labels: Any, logits: Any, class_axis: int, *, xp: Any) -> bool:
    """Raise unless integer ``labels`` have the logits' shape without the class axis and,
    where their values can be read without cost, lie in ``[0, C)``; whether they were
    read (and so lie there)."""
    sample_shape = tuple(s for i, s in enumerate(logits.shape) if i != class_axis)
    if tuple(labels.shape) != sample_shape:
        raise ValueError(
            f"cross_entropy: integer target must have the logits' shape without the class "
            f"axis {class_axis}, i.e. {sample_shape}; got target: {shape_text(labels)}, "
            f"logits: {shape_text(logits)}"
        )
    return _labels_checked(labels, logits.shape[class_axis], xp=xp)


def picked_log_probs(
    log_probs: Any, labels: Any, class_axis: int, labels_checked: bool, *, xp: Any
) -> Any:
    """``log_probs`` (or any array of the logits' shape) at each sample's label, for
    integer labels (:func:`checked_labels`); NaN where a label is out of range, when they
    were not checked."""
    class_last = (
        log_probs if class_axis == log_probs.ndim - 1 else xp.moveaxis(log_probs, class_axis, -1)
    )
    if labels_checked:
        return _at_labels(class_last, labels, None, xp=xp)
    in_range = (labels >= 0) & (labels < log_probs.shape[class_axis])
    picked = _at_labels(class_last, labels, in_range, xp=xp)
    return xp.where(in_range, picked, xp.full_like(picked, math.nan))


def half_label_losses(
    logits: Any, losses: Any, labels: Any, class_axis: int, labels_checked: bool, *, xp: Any
) -> Any:
    """The label ``losses`` (:func:`picked_log_probs`) halved, for a mean over losses past
    the range (:func:`mlpillars.backends.halved_label_losses`): inf for finite logits,
    such as float32 [3.4e38, -3.4e38] with the label 1, is half the gap ``max z -
    z_label`` (3.4e38). One maximum over the classes and a pick, no second ``exp``."""
    row_max = reduce_max(logits, axis=class_axis, keepdims=False, xp=xp)
    picked = picked_log_probs(logits, labels, class_axis, labels_checked, xp=xp)
    return halved_label_losses(losses, row_max / 2 - picked / 2, xp=xp)


def _labels_checked(labels: Any, n_classes: int, *, xp: Any) -> bool:
    """Raise unless every label lies in ``[0, n_classes)``, where their least and greatest
    can be read (eager, on a CPU; not inside ``jax.jit``, where even a closed-over array's
    minimum is traced); whether they were checked."""
    if is_empty(labels):  # not aac.size: math.isnan of a dynamic size fails under torch.compile
        return values_known(labels)
    lowest, highest = extremes(labels, xp=xp)
    if not values_known(lowest, highest):
        return False
    if int(lowest) < 0 or int(highest) >= n_classes:
        raise ValueError(
            f"cross_entropy: class labels must lie in [0, {n_classes}) for logits with "
            f"{n_classes} classes; got labels from {int(lowest)} to {int(highest)}"
        )
    return True


def _at_labels(class_last: Any, labels: Any, in_range: Any, *, xp: Any) -> Any:
    """``class_last[..., label]`` per sample: a gather where the namespace has one (where
    ``in_range`` is given, unchecked labels out of range first replaced by 0: torch's
    gather on a GPU would fail the device), else a mask over the classes (Dask). 65536
    samples of 10 classes on NumPy: 0.5 ms against 10 ms."""
    if hasattr(xp, "take_along_axis"):
        index = labels if in_range is None else xp.where(in_range, labels, xp.zeros_like(labels))
        indexing = xpx.default_dtype(xp, "indexing", device=device_of(labels))
        index = index if index.dtype == indexing else xp.astype(index, indexing)
        return xp.take_along_axis(class_last, xp.expand_dims(index, axis=-1), axis=-1)[..., 0]
    n_classes = class_last.shape[-1]
    classes = xp.arange(n_classes, dtype=labels.dtype, device=device_of(class_last))
    is_label = xp.expand_dims(labels, axis=-1) == classes
    return xp.sum(xp.where(is_label, class_last, xp.zeros_like(class_last)), axis=-1)


def checked_probabilities(probabilities: Any, logits: Any, *, xp: Any) -> Any:
    """A target of class probabilities, checked (the logits' shape, real numbers) and in
    the logits' dtype."""
    if tuple(probabilities.shape) != tuple(logits.shape):
        raise ValueError(
            "cross_entropy: a probability target must have the logits' shape "
            f"{shape_text(logits)}; got target: {shape_text(probabilities)} (integer "
            "class labels take the logits' shape without the class axis)"
        )
    probabilities = as_floating_array(probabilities, xp=xp, kernel="cross_entropy", name="target")
    return xp.astype(probabilities, logits.dtype)


def probability_target_losses(
    logits: Any, probabilities: Any, class_axis: int, *, log_softmax: Any, xp: Any
) -> tuple[Any, Callable[[], Any]]:
    """``-sum_c t_c log p_c`` (the logits' shape without the class axis), and a call giving
    their halves (for a mean over losses past the range): from ``log_softmax`` (the
    kernel, the framework's own where it has one) where the values are at hand and every
    loss comes out finite (one check of the losses), else twice the halves, taken without
    log-probabilities (:func:`soft_target_half_losses`), whose gaps past the range give a
    finite loss where log-probabilities give inf or NaN. The second costs more (16 x 16
    float64 on NumPy: 38 us against 20), so traced and lazy calls, whose values cannot be
    read, pay it always."""
    halves = partial(soft_target_half_losses, logits, probabilities, class_axis, xp=xp)
    if values_at_hand(logits, probabilities):
        with quiet_arithmetic(logits):  # a loss not finite here is computed again below
            losses = -xp.sum(probabilities * log_softmax(logits, class_axis), axis=class_axis)
        if bool(xp.all(xp.isfinite(losses))):
            return losses, halves
    half_losses = halves()
    return 2 * half_losses, lambda: half_losses


def soft_target_half_losses(logits: Any, probabilities: Any, class_axis: int, *, xp: Any) -> Any:
    """``-sum_c t_c log softmax(z)_c / 2`` for a target of class probabilities
    (:func:`checked_probabilities`), without forming the log-probabilities: the losses
    are twice these, and their mean twice the mean of these where a loss is past the
    range (:func:`reduced_losses`).

    A log-probability ``z_c - max z - log sum exp(z - max z)`` can be past the range where
    the loss is not: float32 logits [3e38, -3e38] with the target [0.9, 0.1] have the loss
    0.1 * 6e38 = 6e37, but ``log_softmax`` gives [0, -inf], and so the loss was inf (and
    NaN for the target [1, 0], 0 * -inf). Here the gaps ``max z - z_c`` are taken in halves,
    ``max z / 2 - z_c / 2`` (finite for finite logits), and ``0 log p`` is 0::

        loss / 2 = sum_c t_c (max z / 2 - z_c / 2 + log(sum exp(z - max z)) / 2)
    """
    row_max = reduce_max(logits, axis=class_axis, keepdims=True, xp=xp)
    safe_max = xp.where(xp.isfinite(row_max), row_max, xp.zeros_like(row_max))
    exp_shifted = _exp_of_gaps(logits, safe_max, xp=xp)
    half_log_total = xp.log(xp.sum(exp_shifted, axis=class_axis, keepdims=True)) / 2
    half_terms = probabilities * ((safe_max / 2 - logits / 2) + half_log_total)
    zero = xp.zeros_like(half_terms)
    return xp.sum(xp.where(probabilities == 0, zero, half_terms), axis=class_axis)


_FAR_HALF_GAP = 4096.0
"""A half gap ``z_c / 2 - max z / 2`` below minus this is a gap below -8192, whose ``exp``
is 0 in every floating dtype (float64's smallest subnormal is exp(-744.4))."""


def _exp_of_gaps(logits: Any, row_max: Any, *, xp: Any) -> Any:
    """``exp(z - max z)``, without the overflow of a gap past the range (logits [3e38,
    -3e38] in float32: -6e38 is -inf, its exp 0, and NumPy warned of the subtraction):
    logits far below their row's maximum (a half gap below ``-_FAR_HALF_GAP``, finite for
    finite logits) give 0, as their gap's exp underflows to; the others their exp, as
    computed directly (NaN stays NaN)."""
    far = logits / 2 - row_max / 2 < -_FAR_HALF_GAP
    near_logits = xp.where(far, row_max, logits)  # their gaps 0, replaced by 0 below
    exp_gaps = xp.exp(near_logits - row_max)
    return xp.where(far, xp.zeros_like(exp_gaps), exp_gaps)


def reduced_losses(losses: Any, reduction: str, *, xp: Any, halves: Callable[[], Any]) -> Any:
    """The per-sample losses reduced: "none" as they are, "sum" their sum, "mean" their
    mean, past the range only where the mean itself is
    (:func:`mlpillars.backends.mean_of_losses`, given the losses' ``halves``: float32
    losses of 3e38, whose sum is inf, have the mean 3e38, and a loss of 6.8e38 (inf)
    beside three small ones the mean 1.7e38)."""
    if reduction == "none":
        return losses
    if reduction == "sum":
        return xp.sum(losses)
    read = values_at_hand(losses)
    with quiet_arithmetic(losses, when=read):  # a sum past the range: the halves are read
        plain = xp.mean(losses)
    return mean_of_losses(losses, xp=xp, read=read, halves=halves, plain=plain)
