"""Attention: scaled dot-product attention, plain or blocked with an online softmax.

The tutorial's attention is ``softmax(Q K^T / sqrt(d)) V`` on one (4, 8) sequence. Here it
takes torch's layout (batch and head axes in front), masks, causal attention and grouped
query attention. This module is the public kernel: it checks the arguments
(:mod:`._attention_layout`), offers them to the framework's own implementation when there
is one (:mod:`._attention_fused`), and otherwise runs one of the two generic paths
(:mod:`._attention_paths`): plain, holding every score, or blocked with an online softmax,
holding one tile of scores at a time.
"""

from __future__ import annotations

import math
from typing import Any

from ..backends import kernel
from ._attention_fused import FusedAttention, fused_output, is_offered
from ._attention_layout import (
    KERNEL_NAME,
    AttentionLayout,
    as_attention_inputs,
    attention_layout,
    mask_of_rank,
)
from ._attention_paths import blocked_attention, plain_attention
from ._attention_range import may_overflow, scores_within_range
from ._axes import zeros_like_of_shape
from ._checks import check_flag
from ._floating import narrowed, widened

BLOCKED_ABOVE_ELEMENTS = 2**25
"""The blocked path is chosen when the scores (batch x heads x Lq x Lk) would have more
elements than this: 128 MiB in float32, 256 MiB in float64."""

TILE_ELEMENTS = 2**20
"""Elements of one tile of scores (batch x heads x block x block) the automatic block
size aims at; the block size is then clipped to [MIN_BLOCK_SIZE, MAX_BLOCK_SIZE]."""

MIN_BLOCK_SIZE = 16
MAX_BLOCK_SIZE = 512


@kernel(arrays=("q", "k", "v", "mask"), known_sizes=True)
def scaled_dot_product_attention(
    q: Any,
    k: Any,
    v: Any,
    /,
    *,
    mask: Any = None,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
    return_weights: bool = False,
    block_size: int | None = None,
    xp: Any,
    fused: FusedAttention | None = None,
) -> Any:
    r"""Scaled dot-product attention, as in torch's ``scaled_dot_product_attention``.

    .. math:: \mathrm{Attention}(Q, K, V) = \mathrm{softmax}\left(s\,QK^\top + M\right)V,
              \quad s = 1/\sqrt{E}

    where the softmax runs over keys, max-shifted: ``exp(x - max(x)) / sum(exp(x - max(x)))``.
    ``M`` is 0 where a query may attend to a key and ``-inf`` where it may not (a False in a
    boolean ``mask``, a key after the query with ``is_causal``), plus a float ``mask``.

    Parameters
    ----------
    q : array, shape (..., Hq, Lq, E) or (Lq, E)
        Queries. ``...`` are batch axes; q, k and v have the same number of axes and their
        batch axes broadcast.
    k : array, shape (..., Hk, Lk, E) or (Lk, E)
        Keys. Lk may differ from Lq.
    v : array, shape (..., Hk, Lk, Ev) or (Lk, Ev)
        Values: k's shape but for the last axis.
    mask : array, optional
        Broadcastable to the weights' shape (..., Hq, Lq, Lk). Boolean: True where the query
        may attend to the key. Floating: added to the scaled scores (cast to q's dtype;
        ``-inf`` forbids a key).
    is_causal : bool
        Query i may attend to keys j <= i only. For Lq != Lk this is torch's convention,
        the top-left aligned lower triangle (``tril`` of an (Lq, Lk) matrix of ones), not
        the bottom-right alignment used for decoding with a cache. Combines with ``mask``
        (both must allow a key), which torch refuses and this kernel allows.
    scale : float, optional
        s; default ``1 / sqrt(E)``.
    enable_gqa : bool
        Grouped-query attention: Hq must be a multiple of Hk, and each group of Hq/Hk
        consecutive query heads shares one key/value head (torch's ``enable_gqa``, i.e.
        ``repeat_interleave`` of the k/v heads, computed without copying them).
    return_weights : bool
        Also return the attention weights. They are (..., Hq, Lq, Lk), so this always takes
        the plain path, even above ``BLOCKED_ABOVE_ELEMENTS``; it cannot be combined with
        ``block_size``.
    block_size : int, optional
        Force the blocked path with square tiles of this many queries and keys (the last
        block may be shorter). Default: the plain path, unless the scores would hold more
        than ``BLOCKED_ABOVE_ELEMENTS`` = 2**25 elements; then the blocked path, with
        blocks of about ``sqrt(TILE_ELEMENTS / (batch x heads))`` clipped to [16, 512].

    Returns
    -------
    output : array, shape (..., Hq, Lq, Ev) or (Lq, Ev)
        In the promoted floating dtype of q, k and v. A query row that may attend to no
        key (all masked) gets zeros, never NaN.
    weights : array, shape (..., Hq, Lq, Lk) or (Lq, Lk)
        Only with ``return_weights``. Each row sums to 1, or is all zeros for a query that
        may attend to no key.

    Notes
    -----
    The arguments are checked before anything runs. Where the framework has its own
    attention (its ``fused_kernels``), the output alone on the automatic path comes from
    it when it accepts the prepared arguments (:class:`._attention_fused.FusedAttention`),
    with rows that may attend to no key zeroed as here; otherwise the plain or blocked
    formula runs. The dispatch passes that implementation as ``fused``:
    ``scaled_dot_product_attention.generic(q, k, v, xp=xp)`` is the formula alone.

    Scores beyond the dtype's range (q and k of magnitude 1e20 in float32, whose scores of
    1e40 overflow) are computed in range by the plain and blocked formulas, which give
    the finite answer of a float64 computation (:mod:`._attention_range`); two keys whose
    scores differ but overflow alike are still told apart. So are scores within range
    plus a float mask entry beyond it (float32 scores of 8e37 plus a mask of 3e38; a
    mask of the dtype's lowest value, ``torch.finfo(dtype).min``, leaves scores up to
    2**102 in float32 to the usual computation). Where the values can be read
    (eager, on a CPU) such a call never goes to the framework's own attention, which gets
    it wrong (torch's ``scaled_dot_product_attention`` gives zeros or NaN,
    ``jax.nn.dot_product_attention`` NaN). Inside ``jax.jit`` or ``torch.compile``, or on
    a GPU, where the values are not read, the output on the automatic path is that
    attention's answer on those backends; pass ``block_size`` or call ``.generic`` there
    for the finite one.
    """
    is_causal, enable_gqa, return_weights = (
        check_flag(KERNEL_NAME, name, flag)
        for name, flag in (
            ("is_causal", is_causal),
            ("enable_gqa", enable_gqa),
            ("return_weights", return_weights),
        )
    )
    layout = attention_layout(
        q,
        k,
        v,
        mask,
        scale=scale,
        enable_gqa=enable_gqa,
        return_weights=return_weights,
        block_size=block_size,
        xp=xp,
    )
    q, k, v, mask = as_attention_inputs(q, k, v, mask, xp=xp)
    if layout.is_empty:
        return _empty_attention(layout, q, return_weights, xp=xp)
    exceeds_limit = _exceeds_plain_limit(layout)
    overflow = may_overflow(q, k, layout.scale, mask, xp=xp)  # None: not known (traced, GPU)
    if (
        fused is not None
        and not overflow
        and is_offered(
            layout,
            mask,
            return_weights=return_weights,
            block_size=block_size,
            exceeds_plain_limit=exceeds_limit,
        )
    ):
        output = fused_output(
            fused,
            layout,
            q,
            k,
            v,
            mask,
            is_causal=is_causal,
            exceeds_plain_limit=exceeds_limit,
            xp=xp,
        )
        if output is not NotImplemented:
            return output
    like = q  # half-precision scores overflow: the formula runs in float32, cast back after
    q, k, v = (widened(array, xp=xp) for array in (q, k, v))
    mask = mask if mask is None or xp.isdtype(mask.dtype, "bool") else widened(mask, xp=xp)
    q, k, v, mask = _grouped(layout, q, k, v, mask, xp=xp)
    q, k, multiplier = scores_within_range(q, k, layout.scale, overflow, mask, xp=xp)
    if block_size is None and (return_weights or not exceeds_limit):
        output, weights = plain_attention(q, k, v, mask, is_causal, multiplier, xp=xp)
    else:
        chosen_block = block_size or _auto_block_size(layout)
        output = blocked_attention(q, k, v, mask, is_causal, chosen_block, multiplier, xp=xp)
        weights = None
    output = narrowed(_ungrouped(layout, output, xp=xp), like, xp=xp)
    if not return_weights:
        return output
    return output, narrowed(_ungrouped(layout, weights, xp=xp), like, xp=xp)


def _exceeds_plain_limit(layout: AttentionLayout) -> bool:
    """Whether the score matrix would exceed ``BLOCKED_ABOVE_ELEMENTS`` elements."""
    return layout.score_elements > BLOCKED_ABOVE_ELEMENTS


def _grouped(
    layout: AttentionLayout, q: Any, k: Any, v: Any, mask: Any, *, xp: Any
) -> tuple[Any, ...]:
    """Split the head axes for grouped-query attention, so that broadcasting shares heads.

    q (..., Hq, Lq, E) becomes (..., Hk, G, Lq, E); k and v (..., Hk, 1, Lk, E); a mask
    with Hq heads (..., Hk, G, Lq, Lk), one with 1 head (..., 1, 1, Lq, Lk). Query head
    h = g_k * G + g then meets key/value head g_k = h // G, as ``repeat_interleave``.
    """
    group_size = layout.group_size
    if mask is not None:
        mask = mask_of_rank(mask, len(layout.weights_shape), xp=xp)
    if group_size == 1:
        return q, k, v, mask
    kv_heads = layout.kv_heads
    if mask is not None:
        mask_heads = (kv_heads, group_size) if mask.shape[-3] != 1 else (1, 1)
        mask = xp.reshape(mask, (*mask.shape[:-3], *mask_heads, *mask.shape[-2:]))
    return (
        xp.reshape(q, (*q.shape[:-3], kv_heads, group_size, *q.shape[-2:])),
        xp.reshape(k, (*k.shape[:-3], kv_heads, 1, *k.shape[-2:])),
        xp.reshape(v, (*v.shape[:-3], kv_heads, 1, *v.shape[-2:])),
        mask,
    )


def _ungrouped(layout: AttentionLayout, grouped: Any, *, xp: Any) -> Any:
    """(..., Hk, G, Lq, X) back to (..., Hq, Lq, X)."""
    if layout.group_size == 1:
        return grouped
    return xp.reshape(grouped, (*grouped.shape[:-4], layout.query_heads, *grouped.shape[-2:]))


def _empty_attention(layout: AttentionLayout, q: Any, return_weights: bool, *, xp: Any) -> Any:
    """No queries or no keys: zeros (a query without keys attends to nothing)."""
    output = zeros_like_of_shape(q, layout.output_shape, xp=xp)
    if not return_weights:
        return output
    return output, zeros_like_of_shape(q, layout.weights_shape, xp=xp)


def _auto_block_size(layout: AttentionLayout) -> int:
    """Blocks whose tiles of scores hold about ``TILE_ELEMENTS`` elements."""
    batch_heads = math.prod(layout.batch_shape) * layout.query_heads
    side = math.isqrt(max(TILE_ELEMENTS // max(batch_heads, 1), 1))
    return min(max(side, MIN_BLOCK_SIZE), MAX_BLOCK_SIZE)
