"""torch's softmax family and dense layer, for the kernels' ``fused`` calls.

Each function imports torch itself (``import torch``, not ``Framework.load``): under
``torch.compile`` importlib cannot be traced.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from ._logsumexp_rule import CLOSE_TO_ONE, SMALL_RESULT
from ._mean_rule import halved_label_losses, mean_of_losses


def normalised(name: str, x: Any, axis: int, temperature: float) -> Any:
    """``torch.softmax`` or ``torch.log_softmax`` (``name``) of ``x / T`` along ``axis``;
    x is shifted by its maximum first when T != 1, and half precision is computed in
    float32."""
    import torch

    function = getattr(torch, name)
    computed = torch.float32 if x.dtype in (torch.float16, torch.bfloat16) else x.dtype
    if temperature == 1.0 and computed == x.dtype:
        return function(x, axis)  # no dtype= and no .to(): 3-4 us of a small call's 15
    if temperature == 1.0:
        return function(x, axis, dtype=computed).to(x.dtype)
    values = x if computed == x.dtype else x.to(computed)  # a no-op .to(): 1 us a call
    shifted = torch.sub(values, torch.amax(values, dim=axis, keepdim=True)).div_(temperature)
    result = function(shifted, axis)
    return result if computed == x.dtype else result.to(x.dtype)


def cross_entropy(
    logits: Any, target: Any, axis: int, reduction: str, labels_checked: bool, values_known: bool
) -> Any:
    """``F.cross_entropy`` of logits (..., C, ...) with the class axis ``axis``; target
    integer labels (the logits' shape without ``axis``) or class probabilities (the
    logits' shape and dtype). Unchecked labels out of range give NaN losses, read nowhere.

    A "mean" whose sum overflows (float32 losses of 3e38: torch's mean is inf), or over a
    loss itself past the range, is the kernel's (``_mean_rule``): twice the mean of the
    losses' halves, each divided by their count first. Where ``values_known``, torch's
    mean is read and redone only if it is not finite; elsewhere the losses are reduced
    here, both ways, as the kernel's formula does.
    """
    import torch

    from_logits = torch.nn.functional.cross_entropy

    def classes_second(array: Any) -> Any:  # F's layout: (C,), (N, C) or (N, C, d1, ...)
        return array.movedim(axis, 1) if array.ndim > 1 and axis != 1 else array

    scores = classes_second(logits)
    if target.is_floating_point():
        return _of_probabilities(
            from_logits, scores, classes_second(target), reduction, values_known
        )
    target = target.long()
    if labels_checked:
        if reduction == "mean" and not values_known:
            return _label_mean(from_logits(scores, target, reduction="none"), scores, target, False)
        result = from_logits(scores, target, reduction=reduction)
        if reduction != "mean" or math.isfinite(float(result.detach())):  # 1 us on a CPU
            return result
        return _label_mean(from_logits(scores, target, reduction="none"), scores, target, True)
    in_range = (target >= 0) & (target < logits.shape[axis])
    target = torch.where(in_range, target, 0)
    losses = torch.where(in_range, from_logits(scores, target, reduction="none"), math.nan)
    if reduction == "mean":
        return _label_mean(losses, scores, target, values_known)
    return losses.sum() if reduction == "sum" else losses


def _of_probabilities(
    from_logits: Any, scores: Any, target: Any, reduction: str, values_known: bool
) -> Any:
    """``F.cross_entropy`` of class probabilities where its result is finite, else
    NotImplemented: it forms the log-probabilities, past the range where the loss is not
    (logits [3e38, -3e38], target [0.9, 0.1]: inf for 6e37; [1, 0]: NaN for 0), which
    the kernel's formula does not. NotImplemented where values cannot be read."""
    import torch

    if not values_known:
        return NotImplemented
    result = from_logits(scores, target, reduction=reduction)
    return result if bool(torch.isfinite(result.detach()).all()) else NotImplemented


def _label_mean(losses: Any, scores: Any, target: Any, read: bool) -> Any:
    """The kernel's mean of label losses (``_mean_rule``), whose halves are taken where
    needed (``read``) or always from the largest logit and the one at ``target`` (in
    range), ``scores`` in F's layout. ``torch`` itself is the rule's namespace: through
    array-api-compat's wrappers the rule's calls where values cannot be read took 113 us
    against 81 (256 losses, on the project's 2-core CPU)."""
    import torch

    def halves() -> Any:
        class_dim = 0 if scores.ndim == 1 else 1
        picked = scores.gather(class_dim, target.unsqueeze(class_dim)).squeeze(class_dim)
        half_gaps = scores.amax(class_dim) / 2 - picked / 2
        return halved_label_losses(losses, half_gaps, xp=torch)

    return mean_of_losses(losses, xp=torch, read=read, halves=halves)


def logsumexp(x: Any, axis: int, keepdims: bool, *, every_slice_exact: bool) -> Any:
    """``m + log(sum exp(x - m))`` along ``axis`` (``m = max x``; ``m`` itself where not
    finite), with ``log1p`` of the sum's digits beyond 1 where ``_logsumexp_rule`` asks
    for it (every slice when ``every_slice_exact``: no values are read then)."""
    import torch

    values = x.float() if x.dtype in (torch.float16, torch.bfloat16) else x
    if every_slice_exact:
        row_max = torch.amax(values, dim=axis, keepdim=True)
        finite_max = torch.isfinite(row_max)
        safe_max = torch.where(finite_max, row_max, 0.0)
        log_total = _log1p_rest(values, safe_max, axis)
        result = torch.where(finite_max, log_total + safe_max, row_max)
        result = result if keepdims else result.squeeze(axis)
    else:
        result = _with_close_slices_exact(values, axis, keepdims)
    return result if result.dtype == x.dtype else result.to(x.dtype)


def _with_close_slices_exact(values: Any, axis: int, keepdims: bool) -> Any:
    """``torch.logsumexp``, the slices that need it (``_logsumexp_rule``: a sum close to 1
    and a small result) redone in the ``log1p`` form: a few calls and one read beside
    torch's own (16 x 16 float64: 88 -> 45 us in all, where the form in every slice took a
    dozen calls). 64 x 64 logits of spread 3 had 14 slices close to 1, none with a small
    result: redoing them, as the sum's test alone did, cost 3-4 torch.logsumexp. As
    NumPy's, the smallest result is read first: none below SMALL_RESULT, no slice needs
    the form (logits of spread 3, float32, against torch.logsumexp, two alternated runs:
    16 x 16 4.6-5.0x -> 2.6-3.0x, 256 x 256 1.55-1.68x -> 1.30-1.32x). A slice whose
    maximum is not finite gives NaN in ``lse - max`` and keeps torch's answer (that
    maximum, or NaN)."""
    import torch

    result = torch.logsumexp(values, dim=axis, keepdim=keepdims)
    if float(torch.amin(torch.abs(result.detach()))) >= SMALL_RESULT:  # NaN compares False
        return result
    row_max = torch.amax(values, dim=axis, keepdim=keepdims)
    close = (torch.sub(result, row_max) < _LOG_CLOSE_TO_ONE) & (torch.abs(result) < SMALL_RESULT)
    if not bool(close.any()):
        return result

    def reduced(array: Any) -> Any:  # a view without the reduced axis
        return array.movedim(axis, -1)[..., 0] if keepdims else array

    chosen = reduced(close)
    chosen_max = reduced(row_max)[chosen][:, None]  # (k, 1)
    rows = values.movedim(axis, -1)[chosen]  # (k, n)
    result = result.clone()  # torch.logsumexp's gradient reads its own result
    reduced(result)[chosen] = (_log1p_rest(rows, chosen_max, -1) + chosen_max)[:, 0]
    return result


_LOG_CLOSE_TO_ONE = math.log(CLOSE_TO_ONE)


def _log1p_rest(values: Any, maxima: Any, axis: int) -> Any:
    """``log1p(sum_{x < m} exp(x - m) + ties - 1)`` along ``axis`` (kept), ``m = maxima``."""
    import torch

    is_max = values == maxima
    # the maxima apart: exp(-inf) = 0, filled before exp_ so that autograd sees no
    # in-place change of a result it saved
    below_max = torch.sub(values, maxima).masked_fill_(is_max, -math.inf).exp_()
    extra_ties = is_max.sum(dim=axis, keepdim=True, dtype=values.dtype) - 1
    return torch.log1p(below_max.sum(dim=axis, keepdim=True) + extra_ties)


def linear(x: Any, weight: Any, bias: Any, activation: str | None) -> Any:
    """``activation(x @ weight + bias)``: ``F.linear`` and the activation, in place on the
    product where torch has an in-place version; x (..., in), weight (in, out)."""
    import torch

    if x.ndim == 2 and bias is not None:
        # addmm itself: F.linear of the transposed weight's view cost 3-8 us more a call,
        # as much as the product of 8 x 16 x 16 (bias broadcasts, a 0-d one too)
        return _ACTIVATIONS[activation](torch, torch.addmm(bias, x, weight))
    if bias is not None and bias.ndim == 0:
        bias = bias.expand(weight.shape[1])
    output = torch.nn.functional.linear(x, weight.mT, bias)
    return _ACTIVATIONS[activation](torch, output)


_ACTIVATIONS: dict[str | None, Callable[[Any, Any], Any]] = {
    None: lambda torch, output: output,
    "relu": lambda torch, output: torch.relu_(output),
    "gelu": lambda torch, output: torch.nn.functional.gelu(output),
    "gelu_tanh": lambda torch, output: torch.nn.functional.gelu(output, approximate="tanh"),
    "sigmoid": lambda torch, output: torch.sigmoid_(output),
    "tanh": lambda torch, output: torch.tanh_(output),
}
"""Each activation of ``mlpillars.kernels.activations`` as torch computes it; in place on
the product's own buffer where torch can (their gradients need only their output)."""
