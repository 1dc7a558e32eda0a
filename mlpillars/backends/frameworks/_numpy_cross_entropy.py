"""NumPy's cross-entropy of class labels: the shifted logit at each label and the log of
each sum, without the (n, C) array of log-probabilities.

Apart from ``_numpy_fused`` (the softmax family, computed block by block) so that each
module stays short.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np

from ._mean_rule import halved_label_losses, mean_of_losses


def cross_entropy(logits: np.ndarray, labels: np.ndarray, axis: int, reduction: str) -> Any:
    """``log(sum exp(s)) - s[label]`` per sample, ``s = z - max z`` along ``axis``, reduced;
    checked integer labels (logits' shape without ``axis``), float32 or float64 logits.

    The log-probability at each label only, as the kernel's ``-log_softmax(z)[label]``
    rounds it (the same shifted logit less the same ``log`` of the same sum), without
    the (n, C) array of log-probabilities. NotImplemented where a slice's maximum is not
    finite (the kernel's formula gives its NaN or inf) or the logits are empty. The mean
    is the kernel's (``_mean_rule``): past the range only where the mean itself is, with
    no warning of a gap or a sum past the range on the way (a loss past the range is
    inf, and NumPy warns of it, in "none" and "sum").
    """
    if logits.dtype.char not in "fd" or labels.dtype.kind not in "iu" or logits.size == 0:
        return NotImplemented
    class_last = logits if axis == logits.ndim - 1 else np.moveaxis(logits, axis, -1)
    row_max = np.maximum.reduce(class_last, axis=-1, keepdims=True)
    if not np.isfinite(row_max).all():
        return NotImplemented
    if reduction != "mean":
        losses = _label_losses(class_last, row_max, labels)
        return losses if reduction == "none" else np.add.reduce(losses, axis=None)
    with np.errstate(over="ignore"):  # a gap or a sum past the range is not the mean's answer
        losses = _label_losses(class_last, row_max, labels)
        plain = np.add.reduce(losses, axis=None) / losses.size
    halves = functools.partial(_halves, losses, class_last, row_max, labels)
    return mean_of_losses(losses, xp=np, read=True, halves=halves, plain=plain)


def _label_losses(class_last: np.ndarray, row_max: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``log(sum exp(s)) - s[label]``, ``s = z - max z``; the classes on the last axis of
    ``class_last`` (..., C), ``row_max`` (..., 1)."""
    shifted = np.subtract(class_last, row_max)
    picked = _at_labels(shifted, labels)
    losses = np.log(np.add.reduce(np.exp(shifted, out=shifted), axis=-1))
    losses -= picked
    return losses


def _halves(
    losses: np.ndarray, class_last: np.ndarray, row_max: np.ndarray, labels: np.ndarray
) -> np.ndarray:
    """The losses halved (``_mean_rule``): where one is past the range, half its gap."""
    half_gaps = row_max[..., 0] / 2 - _at_labels(class_last, labels) / 2
    return halved_label_losses(losses, half_gaps, xp=np)


def _at_labels(class_last: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """``class_last[..., label]`` per sample."""
    if class_last.ndim == 2:  # a row index and the labels: 3x faster than take_along_axis
        return class_last[np.arange(class_last.shape[0]), labels]
    return np.take_along_axis(class_last, labels[..., None], axis=-1)[..., 0]
