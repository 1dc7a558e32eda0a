r"""Scores beyond the floating range: attention of q and k whose products overflow.

With q, k of magnitude 1e20 in float32, ``s q.k`` is about 1e40: the scores overflow to
infinity, and the softmax's ``inf - inf`` makes NaN, although the answer (a softmax that
puts all the weight on the largest score) is finite. The softmax needs only differences of
scores, so the generic paths compute scores ``z`` of q and k divided by factors that keep
them within range, and multiply the differences back:

.. math:: s\,q_i \cdot k_j = c_i\, z_{ij}, \quad
          z_{ij} = \frac{s\,q_i}{a_i} \cdot \frac{k_j}{b}, \quad c_i = a_i b, \qquad
          \mathrm{softmax}_j(s\,q_i \cdot k_j) = \frac{\exp(c_i (z_{ij} - \max_j z_{ij}))}
          {\sum_j \exp(c_i (z_{ij} - \max_j z_{ij}))}

with :math:`a_i \ge 1` per query row and :math:`b \ge 1` per head chosen so that
:math:`|z_{ij}|` stays below an eighth of the dtype's largest value, and :math:`c_i`
clipped to the largest value (a difference multiplied beyond the range gives
``exp(-inf) = 0``, as it should). A float mask is added as :math:`M_{ij} / c_i`, and
:math:`a_i` is raised where needed so that :math:`|M_{ij}| / c_i` stays below an eighth
too: the masked scores then stay below a quarter, and their differences cannot overflow.
Two keys whose scores both overflow but differ are still told apart, by their ``z``.
The factors pass no gradient (``mlpillars.backends.without_gradient``): the score
differences do not depend on them, so their gradients cancel exactly.

Scores within range can still overflow once a float mask is added: a score of 8e37 plus
a mask entry of 3e38 is inf in float32, and ``inf - inf`` made the row NaN (float64: 1.0).
The bound below counts the mask's largest finite magnitude for that reason (``-inf``
entries forbid keys and never overflow).

Where values can be read (eager, on a CPU), the bound :math:`|s| \max|q| \max|k| E` is
checked first (two reductions of q and k, and one of a float mask): where no score, and
no score plus mask, can overflow, the usual scores
are computed, unchanged, and a framework's own attention may run; where one can, that
attention is not offered (torch's gives zeros or NaN there, ``jax.nn.dot_product_attention``
NaN). Traced or on a GPU the generic paths always compute the factors (two reductions and
two scalings of q and k, a clip and a multiplication of the score differences, which the
compilers fuse into the exponential, and a comparison with the row's maximum that keeps a
fused multiply-add's rounding residual out of them: see ``_attention_paths._exponents``;
with a float mask, a reduction of its finite magnitudes over the keys, and each tile's
mask divided by the rows' multiplier), and a framework's own attention, when it runs,
gives its own answer.
"""

from __future__ import annotations

import math
from typing import Any

from ..backends import is_dtype, largest_magnitude, values_known, without_gradient


def may_overflow(q: Any, k: Any, scale: float, mask: Any = None, *, xp: Any) -> bool | None:
    """Whether a score ``scale q.k``, or a score plus a float ``mask`` entry, could leave
    the range the generic paths compute in (float32 for half-precision q), from the bound
    ``|scale| max|q| max|k| E``; None where the values are not known (traced, or on a
    GPU). A NaN in q or k counts as True."""
    if q.shape[-1] == 0:  # every score 0: a mask alone cannot overflow
        return False
    if not values_known(q, k) or (mask is not None and not values_known(mask)):
        return None
    largest_query = largest_magnitude(q, xp=xp)
    largest_key = largest_query if k is q else largest_magnitude(k, xp=xp)
    bound = abs(scale) * largest_query * largest_key * q.shape[-1]  # Python float64
    if not bound < _limit(q.dtype, xp=xp):
        return True
    if not _is_float_mask(mask, xp=xp):
        return False
    return not bound < _masked_headroom(q.dtype, _largest_finite(mask, xp=xp), xp=xp)


def scores_within_range(
    q: Any, k: Any, scale: float, overflow: bool | None, mask: Any = None, *, xp: Any
) -> tuple[Any, Any, Any]:
    """q scaled by ``scale`` and k, divided where needed so that no score, nor a score
    plus a float mask entry divided by the row's multiplier, overflows.

    Parameters
    ----------
    q : array, shape (..., Lq, E)
    k : array, shape (..., Lk, E)
        Broadcasting against q (head axes already split for grouped-query attention).
    scale : float
    overflow : bool or None
        :func:`may_overflow` of the call's q, k and mask: False keeps the usual scores.
    mask : array, optional
        Boolean or floating, broadcasting to the scores (..., Lq, Lk); a floating one
        raises a row's multiplier where its finite entries exceed an eighth of the range.

    Returns
    -------
    q_scaled, k_scaled : array
        q's and k's shapes.
    multiplier : array, shape (..., Lq, 1), or None
        :math:`c_i`, by which a row's score differences (and only they) must be multiplied,
        and by which a float mask must be divided; None where nothing can overflow.
    """
    if overflow is False:
        return q * scale, k, None
    eighth = _limit(q.dtype, xp=xp) / 2
    root = math.sqrt(eighth / max(q.shape[-1], 1))  # |z| <= E * root^2 = eighth
    query_factor = xp.maximum(xp.max(xp.abs(q), axis=-1, keepdims=True) * (abs(scale) / root), 1.0)
    key_factor = xp.maximum(xp.max(xp.abs(k), axis=(-2, -1), keepdims=True) / root, 1.0)
    if _is_float_mask(mask, xp=xp):  # |M / c_i| <= eighth: c_i >= max_j |M_ij| / eighth
        finite = xp.where(xp.isfinite(mask), xp.abs(mask), xp.zeros_like(mask))
        mask_units = xp.max(finite, axis=-1, keepdims=True) / eighth
        query_factor = xp.maximum(query_factor, mask_units / key_factor)
    # c_i (z_ij - max_j z_ij) does not depend on a_i or b: their gradients cancel
    # exactly, and so pass none (computed, on JAX, they did not cancel: keys of 1e30
    # against queries of 1e-29 had key gradients 20% off, in float64 too)
    query_factor, key_factor = without_gradient(query_factor), without_gradient(key_factor)
    multiplier = _product_within_range(query_factor, key_factor, q.dtype, xp=xp)
    return q * (scale / query_factor), k / key_factor, multiplier


def _product_within_range(query_factor: Any, key_factor: Any, dtype: Any, *, xp: Any) -> Any:
    """``min(a b, max)`` of factors ``a, b >= 1`` (or NaN, or inf), as the dtype rounds
    ``a b``, without the product's overflow (NumPy warned of it, for an answer of max).

    Taken times the dtype's smallest normal number ``s``, a power of two: ``a s`` is
    exact (``a >= 1`` keeps it normal), and the scaled product rounds as ``a b`` does,
    scaled, so that it passes ``max s`` exactly where ``a b`` passes ``max``; below it,
    multiplied back by ``1 / s`` exactly. Scaled, the product stays far within the range:
    ``a s <= max s`` (about 4) and ``b <= sqrt(8 E max)`` (the keys' largest magnitude
    over their root); an infinite factor gives inf, without a warning.
    """
    info = xp.finfo(dtype)
    down, largest = float(info.smallest_normal), float(info.max)
    scaled = (query_factor * down) * key_factor
    return xp.minimum(scaled, largest * down) * (1 / down)


def _is_float_mask(mask: Any, *, xp: Any) -> bool:
    """Whether ``mask`` is given and floating (added to the scores)."""
    return mask is not None and not xp.isdtype(mask.dtype, "bool")


def _largest_finite(mask: Any, *, xp: Any) -> float:
    """The largest magnitude of the finite entries of a non-empty float mask (0 if none)."""
    return largest_magnitude(xp.where(xp.isfinite(mask), mask, xp.zeros_like(mask)), xp=xp)


def _masked_headroom(dtype: Any, largest_mask: float, *, xp: Any) -> float:
    """Half of what a score may reach before adding a mask entry of ``largest_mask`` can
    round to infinity (at ``max + ulp(max) / 2``): a mask of the dtype's lowest value, as
    ``torch.finfo(dtype).min`` masks are, leaves scores up to 2**102 in float32."""
    info = xp.finfo(xp.float32 if is_dtype(dtype, "half", xp=xp) else dtype)
    largest = float(info.max)
    half_ulp = math.ldexp(float(info.eps), math.frexp(largest)[1] - 2)  # 2**103 in float32
    return (largest - largest_mask) / 2 + half_ulp / 2


def _limit(dtype: Any, *, xp: Any) -> float:
    """A quarter of the largest value of the dtype the scores are computed in: the
    difference of two scores within it stays finite."""
    computed_in = xp.float32 if is_dtype(dtype, "half", xp=xp) else dtype
    return float(xp.finfo(computed_in).max) / 4
