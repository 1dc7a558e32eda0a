"""The two generic paths of scaled dot-product attention, in plain array-API code.

- plain: the whole (Lq, Lk) score matrix, a max-shifted softmax, then ``weights @ v``;
- blocked: queries and keys walked in blocks with an online softmax (Milakov & Gimelshein
  2018; Rabe & Staats 2021; Dao et al. 2022, FlashAttention): a running row maximum and
  a running row sum, rescaled as each key block arrives, so only one (query block, key
  block) tile of scores exists at a time and memory is O(L·E) instead of O(L²).

Both take q already scaled, and q, k, v and the mask with their head axes split for
grouped-query attention, so that broadcasting shares the key/value heads. A query row that
may attend to no key gets weights and output of zeros in both.
"""

from __future__ import annotations

import math
from typing import Any

from ..backends import device_of

EXP_UNDERFLOW = 1e4
"""``exp(-EXP_UNDERFLOW)`` is 0 in every floating dtype."""

CONTRACTION_NOISE = 1.0
"""A rescaled exponent beyond this at a row's maximum, or any positive one, is taken as 0
(see :func:`_exponents`)."""


def plain_attention(
    q: Any, k: Any, v: Any, mask: Any, is_causal: bool, multiplier: Any = None, *, xp: Any
) -> tuple[Any, Any]:
    """The full score matrix, a max-shifted softmax over keys, then ``weights @ v``.

    ``multiplier`` (..., Lq, 1), where not None, multiplies each row's score differences
    (see :mod:`._attention_range`).

    Returns
    -------
    output : array, shape (..., Lq, Ev)
    weights : array, shape (..., Lq, Lk)
    """
    scores = tile_scores(
        q, k, mask, is_causal, (0, q.shape[-2]), (0, k.shape[-2]), multiplier, xp=xp
    )
    row_max = xp.max(scores, axis=-1, keepdims=True)
    exp_scores = xp.exp(_exponents(scores, _zero_where_infinite(row_max, xp=xp), multiplier, xp=xp))
    row_sum = xp.sum(exp_scores, axis=-1, keepdims=True)
    # A row with no allowed key sums to 0: dividing by 1 there leaves weights of zeros.
    weights = exp_scores / xp.where(row_sum == 0, xp.ones_like(row_sum), row_sum)
    return weights @ v, weights


def blocked_attention(
    q: Any,
    k: Any,
    v: Any,
    mask: Any,
    is_causal: bool,
    block_size: int,
    multiplier: Any = None,
    *,
    xp: Any,
) -> Any:
    """The output (..., Lq, Ev), one block of queries at a time, concatenated along the
    query axis; ``multiplier`` as for :func:`plain_attention`."""
    query_length = q.shape[-2]
    output_blocks = [
        _query_block_output(
            q,
            k,
            v,
            mask,
            is_causal,
            (start, min(start + block_size, query_length)),
            block_size,
            multiplier,
            xp,
        )
        for start in range(0, query_length, block_size)
    ]
    return xp.concat(output_blocks, axis=-2)


def causal_tile(
    query_start: int, query_stop: int, key_start: int, key_stop: int, device: Any, xp: Any
) -> Any:
    """True where key index <= query index (torch's top-left aligned ``tril``), shape
    (query_stop - query_start, key_stop - key_start)."""
    query_index = xp.arange(query_start, query_stop, device=device)
    key_index = xp.arange(key_start, key_stop, device=device)
    return key_index[None, :] <= query_index[:, None]


def tile_scores(
    q: Any,
    k: Any,
    mask: Any,
    is_causal: bool,
    query_range: tuple[int, int],
    key_range: tuple[int, int],
    multiplier: Any = None,
    *,
    xp: Any,
) -> Any:
    """Scores of q (already scaled) against k, masked: ``-inf`` where a key is forbidden.

    ``mask`` is the whole mask; the tile of it for these query and key ranges is taken here.
    A float mask is divided by ``multiplier``'s rows for these queries, where not None (the
    scores are then in units of it).
    """
    scores = q @ xp.matrix_transpose(k)
    allowed = None
    if mask is not None:
        mask_tile = _mask_tile(mask, query_range, key_range)
        if xp.isdtype(mask.dtype, "bool"):
            allowed = mask_tile
        elif multiplier is None:
            scores = scores + mask_tile
        else:
            rows = multiplier[..., query_range[0] : query_range[1], :]
            scores = scores + _in_units(mask_tile, rows, xp=xp)
    # A tile wholly on or below the diagonal (its last key <= its first query) needs no
    # causal mask.
    if is_causal and key_range[1] - 1 > query_range[0]:
        causal = causal_tile(*query_range, *key_range, device_of(scores), xp)
        allowed = causal if allowed is None else allowed & causal
    if allowed is None:
        return scores
    minus_infinity = xp.asarray(-math.inf, dtype=scores.dtype, device=device_of(scores))
    return xp.where(allowed, scores, minus_infinity)


def _query_block_output(
    q: Any,
    k: Any,
    v: Any,
    mask: Any,
    is_causal: bool,
    query_range: tuple[int, int],
    block_size: int,
    multiplier: Any,
    xp: Any,
) -> Any:
    """One query block's output through an online softmax over the key blocks.

    After each key block, ``row_max`` is the largest score so far, ``row_sum`` the sum of
    ``exp(score - row_max)`` and ``weighted_values`` the sum of ``exp(score - row_max) v``;
    a new block raising the maximum rescales both by ``exp(old_max - new_max)``.
    """
    q_block = q[..., query_range[0] : query_range[1], :]
    rows = None if multiplier is None else multiplier[..., query_range[0] : query_range[1], :]
    # With is_causal the query block's last query sees no key beyond its own index.
    key_stop = min(k.shape[-2], query_range[1]) if is_causal else k.shape[-2]
    row_max = row_sum = weighted_values = None
    for key_start in range(0, key_stop, block_size):
        key_range = (key_start, min(key_start + block_size, key_stop))
        k_block = k[..., key_range[0] : key_range[1], :]
        v_block = v[..., key_range[0] : key_range[1], :]
        scores = tile_scores(
            q_block, k_block, mask, is_causal, query_range, key_range, multiplier, xp=xp
        )
        block_max = xp.max(scores, axis=-1, keepdims=True)
        new_max = block_max if row_max is None else xp.maximum(row_max, block_max)
        shift = _zero_where_infinite(new_max, xp=xp)
        exp_scores = xp.exp(_exponents(scores, shift, rows, xp=xp))
        block_sum = xp.sum(exp_scores, axis=-1, keepdims=True)
        block_values = exp_scores @ v_block
        if row_max is None:
            row_sum, weighted_values = block_sum, block_values
        else:
            # exp(-inf - shift) = 0 drops the earlier blocks of a row that had no key so far.
            rescale = xp.exp(_rescaled(row_max - shift, rows, xp=xp))
            row_sum = row_sum * rescale + block_sum
            weighted_values = weighted_values * rescale + block_values
        row_max = new_max
    return weighted_values / xp.where(row_sum == 0, xp.ones_like(row_sum), row_sum)


def _mask_tile(mask: Any, query_range: tuple[int, int], key_range: tuple[int, int]) -> Any:
    """The mask's rows and columns for a tile; a broadcast (length-1) axis stays whole."""
    rows = slice(None) if mask.shape[-2] == 1 else slice(*query_range)
    columns = slice(None) if mask.shape[-1] == 1 else slice(*key_range)
    return mask[..., rows, columns]


def _in_units(mask_tile: Any, rows: Any, *, xp: Any) -> Any:
    """A float mask divided by the rows' multiplier, its infinities kept as they are: XLA's
    CPU divides by multiplying with the reciprocal, and flushes that of a multiplier above
    2**126 (float32) to 0, which made ``-inf / 3.4e38`` NaN under JAX. The infinities are
    kept out of the division too: its derivative by the multiplier there, ``inf``, times
    the 0 the ``where`` gives it, made the gradients of q and k NaN (q = k = v = ones
    (1, 1, 3), mask [[-inf]], under ``jax.grad``: 0 is right)."""
    infinite = xp.isinf(mask_tile)
    finite = xp.where(infinite, xp.zeros_like(mask_tile), mask_tile)
    return xp.where(infinite, mask_tile, finite / rows)


def _zero_where_infinite(row_max: Any, *, xp: Any) -> Any:
    """The shift for ``exp``: a row whose maximum is ``-inf`` (no key allowed) shifts by 0,
    so that ``-inf - -inf`` never makes a NaN."""
    return xp.where(xp.isinf(row_max), xp.zeros_like(row_max), row_max)


def _exponents(scores: Any, shift: Any, multiplier: Any, *, xp: Any) -> Any:
    """``scores - shift`` rescaled (:func:`_rescaled`), the arguments of ``exp``, <= 0.

    Under ``jax.jit`` XLA's CPU contracts a product and a subtraction into one fused
    multiply-add: with E = 1 the scores are products, and ``scores - row_max`` became the
    exact product minus its rounding, a residual of up to half an ulp of the score instead
    of 0 at the row's maximum. Multiplied by a multiplier of 1e154 (float64 scores of
    1e192) or 5e19 (a float32 key of -3.4e38), it made ``exp`` inf (NaN output) or 0 (a
    row of zeros); float64 scores of 1e20 did it without a multiplier. So where the
    multiplier is computed (traced, or scores that may overflow) an exponent beyond
    ``CONTRACTION_NOISE`` is 0 where it can only be that residual: at the row's maximum
    (``scores == shift``, compared on rounded values) or where it is positive. A smaller
    residual, within the scores' own rounding, is kept, and with it the gradient at tied
    maxima."""
    exponents = _rescaled(scores - shift, multiplier, xp=xp)
    if multiplier is None:  # eager: no compiler fuses the subtraction
        return exponents
    noise = (xp.abs(exponents) > CONTRACTION_NOISE) & ((scores == shift) | (exponents > 0))
    return xp.where(noise, xp.zeros_like(exponents), exponents)


def _rescaled(differences: Any, multiplier: Any, *, xp: Any) -> Any:
    """Score differences (<= 0) in score units: multiplied by ``multiplier`` where not None,
    first clipped at ``-EXP_UNDERFLOW / multiplier`` so that the product, whose ``exp`` is 0
    there anyway, cannot overflow."""
    if multiplier is None:
        return differences
    return xp.maximum(differences, -EXP_UNDERFLOW / multiplier) * multiplier
