"""The argument checks of scaled dot-product attention, and the layout they establish.

:func:`attention_layout` checks every argument before any work is done, so that every path
(plain, blocked, or a framework's own implementation) raises the same errors; the
:class:`AttentionLayout` it returns holds the checked shapes the paths share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._checks import is_integer, is_real_number, shape_text
from ._floating import as_floating

KERNEL_NAME = "scaled_dot_product_attention"


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
        """Query heads per key/value head (1 without grouped-query attention, or no heads)."""
        return self.query_heads // self.kv_heads if self.kv_heads else 1

    @property
    def weights_shape(self) -> tuple[int, ...]:
        """(..., Hq, Lq, Lk), or (Lq, Lk) for inputs without heads."""
        heads = (self.query_heads,) if self.has_heads else ()
        return (*self.batch_shape, *heads, self.query_length, self.key_length)

    @property
    def output_shape(self) -> tuple[int, ...]:
        """(..., Hq, Lq, Ev), or (Lq, Ev) for inputs without heads."""
        return (*self.weights_shape[:-1], self.value_dim)

    @property
    def score_elements(self) -> int:
        """Elements of the whole score matrix, batch x heads x Lq x Lk."""
        return math.prod(self.weights_shape)

    @property
    def is_empty(self) -> bool:
        """No queries, no keys, or a zero batch or head axis: nothing to attend with or to."""
        return self.score_elements == 0


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
    """Check the arguments of ``scaled_dot_product_attention``; return their layout.

    Parameters
    ----------
    q, k, v : array
        As the kernel takes them: (..., Hq, Lq, E), (..., Hk, Lk, E), (..., Hk, Lk, Ev),
        or (Lq, E), (Lk, E), (Lk, Ev).
    mask : array or None
        Broadcastable to (..., Hq, Lq, Lk); boolean or real floating.
    scale, enable_gqa, return_weights, block_size
        The kernel's options of those names.
    xp : namespace
        The arrays' array-API namespace.

    Returns
    -------
    AttentionLayout
        The checked shapes and the scale (``1 / sqrt(E)`` when ``scale`` is None).

    Raises
    ------
    ValueError, TypeError
        Naming the argument, the shapes involved and what would be valid.
    """
    _check_options(return_weights, block_size)
    _check_ranks(q, k, v)
    _check_feature_axes(q, k, v)
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
    q, k, v = as_floating(q, k, v, xp=xp, kernel=KERNEL_NAME, names=("q", "k", "v"))
    if mask is not None and not xp.isdtype(mask.dtype, "bool") and mask.dtype != q.dtype:
        mask = xp.astype(mask, q.dtype)
    return q, k, v, mask


def mask_of_rank(mask: Any, rank: int, *, xp: Any) -> Any:
    """``mask`` with length-1 axes in front up to ``rank`` axes (a view)."""
    return xp.reshape(mask, (1,) * (rank - mask.ndim) + tuple(mask.shape))


def _check_options(return_weights: bool, block_size: int | None) -> None:
    if block_size is None:
        return
    if not is_integer(block_size) or block_size <= 0:
        raise ValueError(
            f"{KERNEL_NAME}: block_size must be a positive int (queries and keys per block), "
            f"or None to choose the path automatically; got {block_size!r}"
        )
    if return_weights:
        raise ValueError(
            f"{KERNEL_NAME}: return_weights=True needs the plain path, which holds the "
            f"(..., Hq, Lq, Lk) weights; the blocked path (block_size={block_size}) never "
            "forms them. Drop block_size, or drop return_weights"
        )


def _check_ranks(q: Any, k: Any, v: Any) -> None:
    for name, array, axes in (("q", q, "Lq, E"), ("k", k, "Lk, E"), ("v", v, "Lk, Ev")):
        if array.ndim < 2:
            raise ValueError(
                f"{KERNEL_NAME}: {name} must have at least 2 axes, (..., {axes}); "
                f"got {name}: {shape_text(array)}"
            )
    if not q.ndim == k.ndim == v.ndim:
        raise ValueError(
            f"{KERNEL_NAME}: q, k and v must have the same number of axes, (..., H, L, E) or "
            f"(L, E); got q: {shape_text(q)}, k: {shape_text(k)}, v: {shape_text(v)}"
        )


def _check_feature_axes(q: Any, k: Any, v: Any) -> None:
    if q.shape[-1] != k.shape[-1]:
        raise ValueError(
            f"{KERNEL_NAME}: q has E={q.shape[-1]} but k has E={k.shape[-1]} "
            f"(q: {shape_text(q)}, k: {shape_text(k)}); q and k need the same last axis E"
        )
    if tuple(k.shape[:-1]) != tuple(v.shape[:-1]):
        raise ValueError(
            f"{KERNEL_NAME}: k and v must have the same shape but for the last axis, "
            f"(..., Hk, Lk, E) and (..., Hk, Lk, Ev); got k: {shape_text(k)}, "
            f"v: {shape_text(v)}"
        )


def _check_heads(query_heads: int, kv_heads: int, enable_gqa: bool, q: Any, k: Any) -> None:
    if query_heads == kv_heads and (kv_heads or not enable_gqa):
        return  # the common call: no message to build
    shapes = f"(q: {shape_text(q)}, k: {shape_text(k)})"
    if enable_gqa and (kv_heads == 0 or query_heads % kv_heads != 0):
        raise ValueError(
            f"{KERNEL_NAME}: with enable_gqa, Hq must be a multiple of Hk; got "
            f"Hq={query_heads}, Hk={kv_heads} {shapes}"
        )
    if not enable_gqa and query_heads != kv_heads:
        hint = (
            f"; pass enable_gqa=True to share each key/value head among "
            f"{query_heads // kv_heads} consecutive query heads"
            if kv_heads and query_heads % kv_heads == 0
            else ""
        )
        raise ValueError(
            f"{KERNEL_NAME}: q has Hq={query_heads} heads but k has Hk={kv_heads} {shapes}; "
            f"without enable_gqa they must be equal{hint}"
        )


def _broadcast_batch(q: Any, k: Any) -> tuple[int, ...]:
    """The broadcast of q's and k's batch axes (those before the head axis)."""
    batch = []
    for q_size, k_size in zip(q.shape[:-3], k.shape[:-3], strict=True):
        if q_size != k_size and 1 not in (q_size, k_size):
            raise ValueError(
                f"{KERNEL_NAME}: the batch axes of q and k do not broadcast "
                f"(q: {shape_text(q)}, k: {shape_text(k)}); each batch axis needs equal "
                "lengths or a length of 1"
            )
        batch.append(max(q_size, k_size) if 0 not in (q_size, k_size) else 0)
    return tuple(batch)


def _checked_scale(scale: float | None, head_dim: int) -> float:
    if scale is None:
        return 1.0 / math.sqrt(max(head_dim, 1))  # E = 0: every score is 0 whatever s is
    if not is_real_number(scale):
        raise TypeError(
            f"{KERNEL_NAME}: scale must be a number or None, got {type(scale).__name__}"
        )
    if not math.isfinite(scale):
        raise ValueError(
            f"{KERNEL_NAME}: scale must be finite (or None for 1/sqrt(E)); got {scale!r}"
        )
    return float(scale)


def _check_mask(mask: Any, layout: AttentionLayout, *, xp: Any) -> None:
    if not (xp.isdtype(mask.dtype, "bool") or xp.isdtype(mask.dtype, "real floating")):
        raise TypeError(
            f"{KERNEL_NAME}: mask must be boolean (True = may attend) or floating (added to "
            f"the scores); got dtype {mask.dtype}"
        )
    target = layout.weights_shape
    padded = (1,) * (len(target) - mask.ndim) + tuple(mask.shape)
    if mask.ndim > len(target) or any(
        size not in (1, wanted) for size, wanted in zip(padded, target, strict=True)
    ):
        axes = "(..., Hq, Lq, Lk)" if layout.has_heads else "(Lq, Lk)"
        raise ValueError(
            f"{KERNEL_NAME}: mask of shape {shape_text(mask)} does not broadcast to the "
            f"attention weights' shape {axes} = {target}; each of its axes must have that "
            "length or 1"
        )
