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
:math:`|z_{ij}|` stays below a quarter of the dtype's largest value (its differences then
cannot overflow), and :math:`c_i` clipped to the largest value (a difference multiplied
beyond the range gives ``exp(-inf) = 0``, as it should). Two keys whose scores both
overflow but differ are still told apart, by their ``z``.

Where values can be read (eager, on a CPU), the bound :math:`|s| \max|q| \max|k| E` is
checked first (two reductions of q and k): where no score can overflow, the usual scores
are computed, unchanged, and a framework's own attention may run; where one can, that
attention is not offered (torch's gives zeros or NaN there, ``jax.nn.dot_product_attention``
NaN). Traced or on a GPU the generic paths always compute the factors (two reductions and
two scalings of q and k, a clip and a multiplication of the score differences, which the
compilers fuse into the exponential), and a framework's own attention, when it runs, gives
its own answer.
"""

from __future__ import annotations

import math
from typing import Any

from ..backends import is_dtype, largest_magnitude, values_known


def may_overflow(q: Any, k: Any, scale: float, *, xp: Any) -> bool | None:
    """Whether a score ``scale q.k`` could leave the range the generic paths compute in
    (float32 for half-precision q), from the bound ``|scale| max|q| max|k| E``; None where
    the values are not known (traced, or on a GPU). A NaN in q or k counts as True."""
    if q.shape[-1] == 0:
        return False
    if not values_known(q, k):
        return None
    largest_query = largest_magnitude(q, xp=xp)
    largest_key = largest_query if k is q else largest_magnitude(k, xp=xp)
    bound = abs(scale) * largest_query * largest_key * q.shape[-1]  # Python float64
    return not bound < _limit(q.dtype, xp=xp)


def scores_within_range(
    q: Any, k: Any, scale: float, overflow: bool | None, *, xp: Any
) -> tuple[Any, Any, Any]:
    """q scaled by ``scale`` and k, divided where needed so that no score overflows.

    Parameters
    ----------
    q : array, shape (..., Lq, E)
    k : array, shape (..., Lk, E)
        Broadcasting against q (head axes already split for grouped-query attention).
    scale : float
    overflow : bool or None
        :func:`may_overflow` of the call's q and k: False keeps the usual scores.

    Returns
    -------
    q_scaled, k_scaled : array
        q's and k's shapes.
    multiplier : array, shape (..., Lq, 1), or None
        :math:`c_i`, by which a row's score differences (and only they) must be multiplied;
        None where no score can overflow.
    """
    if overflow is False:
        return q * scale, k, None
    root = math.sqrt(_limit(q.dtype, xp=xp) / q.shape[-1])  # |z| <= E * root^2 = limit
    query_factor = xp.maximum(xp.max(xp.abs(q), axis=-1, keepdims=True) * (abs(scale) / root), 1.0)
    key_factor = xp.maximum(xp.max(xp.abs(k), axis=(-2, -1), keepdims=True) / root, 1.0)
    multiplier = xp.minimum(query_factor * key_factor, float(xp.finfo(q.dtype).max))
    return q * (scale / query_factor), k / key_factor, multiplier


def _limit(dtype: Any, *, xp: Any) -> float:
    """A quarter of the largest value of the dtype the scores are computed in: the
    difference of two scores within it stays finite."""
    computed_in = xp.float32 if is_dtype(dtype, "half", xp=xp) else dtype
    return float(xp.finfo(computed_in).max) / 4
