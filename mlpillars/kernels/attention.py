"""Attention: scaled dot-product attention, plain or blocked with an online softmax.

The tutorial's attention is ``softmax(Q K^T / sqrt(d)) V`` on one (4, 8) sequence. Here it
takes torch's layout (batch and head axes in front), masks, causal attention and grouped
query attention, and has two paths in plain array-API code:

- plain: the whole (Lq, Lk) score matrix, a max-shifted softmax, then ``weights @ v``;
- blocked: queries and keys walked in blocks with an online softmax (Milakov & Gimelshein
  2018; Rabe & Staats 2021; Dao et al. 2022, FlashAttention): a running row maximum and
  a running row sum, rescaled as each key block arrives, so only one (query block, key
  block) tile of scores exists at a time and memory is O(L·E) instead of O(L²).

The argument checks and the helpers the torch and JAX fast paths share with the generic
code (``attention_layout``, ``as_attention_inputs``, ``mask_with_causal``,
``rows_with_a_key``) live here too, so that both give the same errors and the same
answer for a query without keys; that makes this module longer than most.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import array_api_compat as aac

from ..backends import kernel
from ._checks import as_floating, shape_text

BLOCKED_ABOVE_ELEMENTS = 2**25
"""The blocked path is chosen when the scores (batch x heads x Lq x Lk) would have more
elements than this: 128 MiB in float32, 256 MiB in float64."""

TILE_ELEMENTS = 2**20
"""Elements of one tile of scores (batch x heads x block x block) the automatic block
size aims at; the block size is then clipped to [MIN_BLOCK_SIZE, MAX_BLOCK_SIZE]."""

MIN_BLOCK_SIZE = 16
MAX_BLOCK_SIZE = 512

_NAME = "scaled_dot_product_attention"


@kernel(arrays=("q", "k", "v", "mask"))
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
    """
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
    if layout.query_length == 0 or layout.key_length == 0:
        return _empty_attention(layout, q, return_weights, xp=xp)
    q, k, v, mask = _grouped(layout, q * layout.scale, k, v, mask, xp=xp)
    if block_size is None and (return_weights or not layout.exceeds_plain_limit):
        output, weights = _plain_attention(q, k, v, mask, is_causal, xp=xp)
    else:
        chosen_block = block_size or _auto_block_size(layout)
        output, weights = _blocked_attention(q, k, v, mask, is_causal, chosen_block, xp=xp), None
    output = _ungrouped(layout, output, xp=xp)
    return (output, _ungrouped(layout, weights, xp=xp)) if return_weights else output


@dataclass(frozen=True)
class AttentionLayout:
    """The checked shapes of one attention call (heads are 1 for (L, E) inputs)."""

    batch_shape: tuple[int, ...]
    query_heads: int
    kv_heads: int
    query_length: int
    key_length: int
    value_dim: int
    scale: float
    has_heads: bool
    same_batch: bool  # q's and k's batch axes are equal, not only broadcastable

    @property
    def group_size(self) -> int:
        """Query heads per key/value head (1 without grouped-query attention)."""
        return self.query_heads // self.kv_heads

    @property
    def weights_shape(self) -> tuple[int, ...]:
        heads = (self.query_heads,) if self.has_heads else ()
        return (*self.batch_shape, *heads, self.query_length, self.key_length)

    @property
    def output_shape(self) -> tuple[int, ...]:
        return (*self.weights_shape[:-1], self.value_dim)

    @property
    def exceeds_plain_limit(self) -> bool:
        """Whether the score matrix would exceed ``BLOCKED_ABOVE_ELEMENTS`` elements."""
        return math.prod(self.weights_shape) > BLOCKED_ABOVE_ELEMENTS


def attention_layout(
    q: Any,
    k: Any,
    v: Any,
    mask: Any,
    *,
    scale: float | None,
    enable_gqa: bool,
    return_weights: bool,
    block_size: int | None,
    xp: Any,
) -> AttentionLayout:
    """Check the arguments of :func:`scaled_dot_product_attention`; return their layout.

    Fast paths call this first, so that they raise the kernel's own errors.
    """
    _check_options(return_weights, block_size)
    _check_ranks(q, k, v)
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"{_NAME}: q has E={q.shape[-1]} but k has E={k.shape[-1]} "
            f"(q: {shape_text(q)}, k: {shape_text(k)}); q and k need the same last axis E"
        )
    if tuple(k.shape[:-1]) != tuple(v.shape[:-1]):
        raise ValueError(
            f"{_NAME}: k and v must have the same shape but for the last axis, "
            f"(..., Hk, Lk, E) and (..., Hk, Lk, Ev); got k: {shape_text(k)}, v: {shape_text(v)}"
        )
    has_heads = q.ndim >= 3
    query_heads, kv_heads = (q.shape[-3], k.shape[-3]) if has_heads else (1, 1)
    _check_heads(query_heads, kv_heads, enable_gqa, q, k)
    layout = AttentionLayout(
        batch_shape=_broadcast_batch(q, k),
        query_heads=query_heads,
        kv_heads=kv_heads,
        query_length=q.shape[-2],
        key_length=k.shape[-2],
        value_dim=v.shape[-1],
        scale=_checked_scale(scale, q.shape[-1]),
        has_heads=has_heads,
        same_batch=tuple(q.shape[:-3]) == tuple(k.shape[:-3]),
    )
    if mask is not None:
        _check_mask(mask, layout, xp=xp)
    return layout


def as_attention_inputs(q: Any, k: Any, v: Any, mask: Any, *, xp: Any) -> tuple[Any, ...]:
    """q, k, v in their promoted floating dtype; a float mask cast to it, a bool one kept."""
    q, k, v = as_floating(q, k, v, xp=xp)
    if mask is not None and not xp.isdtype(mask.dtype, "bool") and mask.dtype != q.dtype:
        mask = xp.astype(mask, q.dtype)
    return q, k, v, mask


def mask_with_causal(mask: Any, is_causal: bool, layout: AttentionLayout, *, xp: Any) -> Any:
    """``mask`` with ``is_causal`` folded in, in the mask's dtype, for fast paths that take
    one mask: a bool mask and-ed with the causal triangle, a float one ``-inf`` above it."""
    if not is_causal:
        return mask
    causal = _causal_tile(0, layout.query_length, 0, layout.key_length, aac.device(mask), xp)
    if xp.isdtype(mask.dtype, "bool"):
        return mask & causal
    return xp.where(causal, mask, xp.asarray(-math.inf, dtype=mask.dtype, device=aac.device(mask)))


def rows_with_a_key(mask: Any, *, xp: Any) -> Any:
    """True for the query rows that ``mask`` lets attend to at least one key, shape
    (..., Lq or 1, 1): fast paths zero the other rows, where they give NaN or a mean."""
    allowed = mask if xp.isdtype(mask.dtype, "bool") else mask != -math.inf
    return xp.any(allowed, axis=-1, keepdims=True)


def _plain_attention(
    q: Any, k: Any, v: Any, mask: Any, is_causal: bool, *, xp: Any
) -> tuple[Any, Any]:
    """The full score matrix, a max-shifted softmax over keys, then ``weights @ v``."""
    scores = _tile_scores(q, k, mask, is_causal, (0, q.shape[-2]), (0, k.shape[-2]), xp=xp)
    row_max = xp.max(scores, axis=-1, keepdims=True)
    exp_scores = xp.exp(scores - _zero_where_infinite(row_max, xp=xp))
    row_sum = xp.sum(exp_scores, axis=-1, keepdims=True)
    # A row with no allowed key sums to 0: dividing by 1 there leaves weights of zeros.
    weights = exp_scores / xp.where(row_sum == 0, xp.ones_like(row_sum), row_sum)
    return weights @ v, weights


def _blocked_attention(
    q: Any, k: Any, v: Any, mask: Any, is_causal: bool, block_size: int, *, xp: Any
) -> Any:
    """The output, one block of queries at a time, concatenated along the query axis."""
    query_length = q.shape[-2]
    output_blocks = [
        _query_block_output(
            q, k, v, mask, is_causal, (start, min(start + block_size, query_length)), block_size, xp
        )
        for start in range(0, query_length, block_size)
    ]
    return xp.concat(output_blocks, axis=-2)


def _query_block_output(
    q: Any,
    k: Any,
    v: Any,
    mask: Any,
    is_causal: bool,
    query_range: tuple[int, int],
    block_size: int,
    xp: Any,
) -> Any:
    """One query block's output through an online softmax over the key blocks.

    After each key block, ``row_max`` is the largest score so far, ``row_sum`` the sum of
    ``exp(score - row_max)`` and ``weighted_values`` the sum of ``exp(score - row_max) v``;
    a new block raising the maximum rescales both by ``exp(old_max - new_max)``.
    """
    q_block = q[..., query_range[0] : query_range[1], :]
    # With is_causal the query block's last query sees no key beyond its own index.
    key_stop = min(k.shape[-2], query_range[1]) if is_causal else k.shape[-2]
    row_max = row_sum = weighted_values = None
    for key_start in range(0, key_stop, block_size):
        key_range = (key_start, min(key_start + block_size, key_stop))
        k_block = k[..., key_range[0] : key_range[1], :]
        v_block = v[..., key_range[0] : key_range[1], :]
        scores = _tile_scores(q_block, k_block, mask, is_causal, query_range, key_range, xp=xp)
        block_max = xp.max(scores, axis=-1, keepdims=True)
        new_max = block_max if row_max is None else xp.maximum(row_max, block_max)
        shift = _zero_where_infinite(new_max, xp=xp)
        exp_scores = xp.exp(scores - shift)
        block_sum = xp.sum(exp_scores, axis=-1, keepdims=True)
        block_values = exp_scores @ v_block
        if row_max is None:
            row_sum, weighted_values = block_sum, block_values
        else:
            # exp(-inf - shift) = 0 drops the earlier blocks of a row that had no key so far.
            rescale = xp.exp(row_max - shift)
            row_sum = row_sum * rescale + block_sum
            weighted_values = weighted_values * rescale + block_values
        row_max = new_max
    return weighted_values / xp.where(row_sum == 0, xp.ones_like(row_sum), row_sum)


def _tile_scores(
    q: Any,
    k: Any,
    mask: Any,
    is_causal: bool,
    query_range: tuple[int, int],
    key_range: tuple[int, int],
    *,
    xp: Any,
) -> Any:
    """Scores of q (already scaled) against k, masked: ``-inf`` where a key is forbidden.

    ``mask`` is the whole mask; the tile of it for these query and key ranges is taken here.
    """
    scores = q @ xp.matrix_transpose(k)
    allowed = None
    if mask is not None:
        mask_tile = _mask_tile(mask, query_range, key_range)
        if xp.isdtype(mask.dtype, "bool"):
            allowed = mask_tile
        else:
            scores = scores + mask_tile
    # A tile wholly on or below the diagonal (its last key <= its first query) needs no
    # causal mask.
    if is_causal and key_range[1] - 1 > query_range[0]:
        causal = _causal_tile(*query_range, *key_range, aac.device(scores), xp)
        allowed = causal if allowed is None else allowed & causal
    if allowed is None:
        return scores
    minus_infinity = xp.asarray(-math.inf, dtype=scores.dtype, device=aac.device(scores))
    return xp.where(allowed, scores, minus_infinity)


def _mask_tile(mask: Any, query_range: tuple[int, int], key_range: tuple[int, int]) -> Any:
    """The mask's rows and columns for a tile; a broadcast (length-1) axis stays whole."""
    rows = slice(None) if mask.shape[-2] == 1 else slice(*query_range)
    columns = slice(None) if mask.shape[-1] == 1 else slice(*key_range)
    return mask[..., rows, columns]


def _causal_tile(
    query_start: int, query_stop: int, key_start: int, key_stop: int, device: Any, xp: Any
) -> Any:
    """True where key index <= query index (torch's top-left aligned ``tril``)."""
    query_index = xp.arange(query_start, query_stop, device=device)
    key_index = xp.arange(key_start, key_stop, device=device)
    return key_index[None, :] <= query_index[:, None]


def _zero_where_infinite(row_max: Any, *, xp: Any) -> Any:
    """The shift for ``exp``: a row whose maximum is ``-inf`` (no key allowed) shifts by 0,
    so that ``-inf - -inf`` never makes a NaN."""
    return xp.where(xp.isinf(row_max), xp.zeros_like(row_max), row_max)


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
        rank = len(layout.weights_shape)
        mask = xp.reshape(mask, (1,) * (rank - mask.ndim) + tuple(mask.shape))
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
    device = aac.device(q)
    output = xp.zeros(layout.output_shape, dtype=q.dtype, device=device)
    if not return_weights:
        return output
    return output, xp.zeros(layout.weights_shape, dtype=q.dtype, device=device)


def _auto_block_size(layout: AttentionLayout) -> int:
    """Blocks whose tiles of scores hold about ``TILE_ELEMENTS`` elements."""
    batch_heads = math.prod(layout.batch_shape) * layout.query_heads
    side = math.isqrt(max(TILE_ELEMENTS // max(batch_heads, 1), 1))
    return min(max(side, MIN_BLOCK_SIZE), MAX_BLOCK_SIZE)


def _check_options(return_weights: bool, block_size: int | None) -> None:
    if block_size is None:
        return
    if isinstance(block_size, bool) or not isinstance(block_size, int) or block_size <= 0:
        raise ValueError(
            f"{_NAME}: block_size must be a positive int (queries and keys per block), or "
            f"None to choose the path automatically; got {block_size!r}"
        )
    if return_weights:
        raise ValueError(
            f"{_NAME}: return_weights=True needs the plain path, which holds the "
            f"(..., Hq, Lq, Lk) weights; the blocked path (block_size={block_size}) never "
            "forms them. Drop block_size, or drop return_weights"
        )


def _check_ranks(q: Any, k: Any, v: Any) -> None:
    for name, array, axes in (("q", q, "Lq, E"), ("k", k, "Lk, E"), ("v", v, "Lk, Ev")):
        if array.ndim < 2:
            raise ValueError(
                f"{_NAME}: {name} must have at least 2 axes, (..., {axes}); "
                f"got {name}: {shape_text(array)}"
            )
    if not q.ndim == k.ndim == v.ndim:
        raise ValueError(
            f"{_NAME}: q, k and v must have the same number of axes, (..., H, L, E) or "
            f"(L, E); got q: {shape_text(q)}, k: {shape_text(k)}, v: {shape_text(v)}"
        )


def _check_heads(query_heads: int, kv_heads: int, enable_gqa: bool, q: Any, k: Any) -> None:
    shapes = f"(q: {shape_text(q)}, k: {shape_text(k)})"
    if enable_gqa and (kv_heads == 0 or query_heads % kv_heads != 0):
        raise ValueError(
            f"{_NAME}: with enable_gqa, Hq must be a multiple of Hk; got Hq={query_heads}, "
            f"Hk={kv_heads} {shapes}"
        )
    if not enable_gqa and query_heads != kv_heads:
        hint = (
            f"; pass enable_gqa=True to share each key/value head among "
            f"{query_heads // kv_heads} consecutive query heads"
            if kv_heads and query_heads % kv_heads == 0
            else ""
        )
        raise ValueError(
            f"{_NAME}: q has Hq={query_heads} heads but k has Hk={kv_heads} {shapes}; "
            f"without enable_gqa they must be equal{hint}"
        )


def _broadcast_batch(q: Any, k: Any) -> tuple[int, ...]:
    """The broadcast of q's and k's batch axes (those before the head axis)."""
    batch = []
    for q_size, k_size in zip(q.shape[:-3], k.shape[:-3], strict=True):
        if q_size != k_size and 1 not in (q_size, k_size):
            raise ValueError(
                f"{_NAME}: the batch axes of q and k do not broadcast "
                f"(q: {shape_text(q)}, k: {shape_text(k)}); each batch axis needs equal "
                "lengths or a length of 1"
            )
        batch.append(max(q_size, k_size) if 0 not in (q_size, k_size) else 0)
    return tuple(batch)


def _checked_scale(scale: float | None, head_dim: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(max(head_dim, 1))  # E = 0: every score is 0 whatever s is
    if isinstance(scale, bool) or not isinstance(scale, (int, float)):
        raise TypeError(f"{_NAME}: scale must be a number or None, got {type(scale).__name__}")
    if not math.isfinite(scale):
        raise ValueError(f"{_NAME}: scale must be finite (or None for 1/sqrt(E)); got {scale!r}")
    return float(scale)


def _check_mask(mask: Any, layout: AttentionLayout, *, xp: Any) -> None:
    if not (xp.isdtype(mask.dtype, "bool") or xp.isdtype(mask.dtype, "real floating")):
        raise TypeError(
            f"{_NAME}: mask must be boolean (True = may attend) or floating (added to the "
            f"scores); got dtype {mask.dtype}"
        )
    target = layout.weights_shape
    padded = (1,) * (len(target) - mask.ndim) + tuple(mask.shape)
    if mask.ndim > len(target) or any(
        size not in (1, wanted) for size, wanted in zip(padded, target, strict=True)
    ):
        axes = "(..., Hq, Lq, Lk)" if layout.has_heads else "(Lq, Lk)"
        raise ValueError(
            f"{_NAME}: mask of shape {shape_text(mask)} does not broadcast to the attention "
            f"weights' shape {axes} = {target}; each of its axes must have that length or 1"
        )
