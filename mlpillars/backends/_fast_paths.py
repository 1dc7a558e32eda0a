"""Fast paths: a backend's own implementation of a kernel, registered in this one place.

Each function takes the kernel's arguments plus ``xp`` and returns the result, or
``NotImplemented`` when it cannot honour those arguments (the generic path then runs).
Frameworks are imported inside the functions, only when that backend is already in use.
Tests compare every fast path with the kernel's generic implementation.
"""

from __future__ import annotations

import math
from typing import Any

from ._dispatch import register_fast_path

_ATTENTION = "scaled_dot_product_attention"


@register_fast_path(_ATTENTION, "torch")
def _torch_attention(
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
    """torch's fused ``scaled_dot_product_attention`` (flash attention on CPU and CUDA).

    Declined where :func:`_fused_attention_inputs` says, and for float64 on CUDA above the
    blocked-path threshold (torch's math kernel would then hold every score). torch refuses
    a mask together with is_causal, so the causal triangle is folded into the mask.
    """
    import torch
    import torch.nn.functional as functional

    options = (scale, enable_gqa, return_weights, block_size)
    prepared = _fused_attention_inputs(q, k, v, mask, is_causal, options, xp=xp)
    if prepared is None:
        return NotImplemented
    layout, q, k, v, mask = prepared
    if layout.exceeds_plain_limit and q.is_cuda and q.dtype == torch.float64:
        return NotImplemented
    output = functional.scaled_dot_product_attention(
        q,
        k,
        v,
        attn_mask=mask,
        is_causal=is_causal and mask is None,
        scale=layout.scale,
        enable_gqa=layout.group_size > 1,
    )
    return output if mask is None else _zero_rows_without_keys(output, mask, xp=xp)


@register_fast_path(_ATTENTION, "jax")
def _jax_attention(
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
    """``jax.nn.dot_product_attention`` (its XLA version; cuDNN is not requested).

    It takes (batch, length, heads, E), not torch's (batch, heads, length, E), so the
    head and length axes are swapped on the way in and out; a float mask goes in as
    ``bias``. Declined where :func:`_fused_attention_inputs` says, and also for float64
    (its softmax always runs in float32, which would cost float64 results their
    precision), for Ev != E (its v must have k's shape) and above the blocked-path
    threshold even without a mask (the XLA version holds every score).
    """
    import jax

    options = (scale, enable_gqa, return_weights, block_size)
    prepared = _fused_attention_inputs(q, k, v, mask, is_causal, options, xp=xp)
    if prepared is None:
        return NotImplemented
    layout, q, k, v, mask = prepared
    if q.dtype == xp.float64 or layout.value_dim != q.shape[-1] or layout.exceeds_plain_limit:
        return NotImplemented
    mask_4d = None if mask is None else _as_four_axes(mask, layout, xp=xp)
    is_bool_mask = mask is not None and xp.isdtype(mask.dtype, "bool")
    output = jax.nn.dot_product_attention(
        _length_before_heads(q, xp=xp),
        _length_before_heads(k, xp=xp),
        _length_before_heads(v, xp=xp),
        bias=None if is_bool_mask else mask_4d,
        mask=mask_4d if is_bool_mask else None,
        scale=layout.scale,
        is_causal=is_causal and mask is None,
    )
    output = xp.reshape(xp.permute_dims(output, (0, 2, 1, 3)), layout.output_shape)
    return output if mask is None else _zero_rows_without_keys(output, mask, xp=xp)


def _fused_attention_inputs(
    q: Any, k: Any, v: Any, mask: Any, is_causal: bool, options: tuple[Any, ...], *, xp: Any
) -> tuple[Any, ...] | None:
    """(layout, q, k, v, mask) ready for a fused kernel, or None where it cannot be used.

    The arguments are checked by the kernel's own checks (so a fast path raises the
    kernel's errors); q, k, v are cast to one floating dtype and is_causal is folded into
    the mask. None for the weights or a forced block size (the generic paths), for q and
    k with different batch shapes, for no queries or no keys, and for a mask above the
    blocked-path threshold (fused kernels then fall back to holding every score).
    """
    from ..kernels import attention

    scale, enable_gqa, return_weights, block_size = options
    layout = attention.attention_layout(
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
    if return_weights or block_size is not None or not layout.same_batch:
        return None
    if layout.query_length == 0 or layout.key_length == 0:
        return None
    if mask is not None and layout.exceeds_plain_limit:
        return None
    q, k, v, mask = attention.as_attention_inputs(q, k, v, mask, xp=xp)
    if mask is not None:
        # All axes of the weights, length 1 where broadcast: torch's enable_gqa fails on a
        # 1-D mask, and JAX wants 4 axes.
        rank = len(layout.weights_shape)
        mask = xp.reshape(mask, (1,) * (rank - mask.ndim) + tuple(mask.shape))
        mask = attention.mask_with_causal(mask, is_causal, layout, xp=xp)
    return layout, q, k, v, mask


def _zero_rows_without_keys(output: Any, mask: Any, *, xp: Any) -> Any:
    """Zeros in the rows whose query ``mask`` lets attend to no key: fused kernels give
    NaN there (torch on CUDA), or the mean of v (JAX, which masks with a large negative)."""
    from ..kernels.attention import rows_with_a_key

    return xp.where(rows_with_a_key(mask, xp=xp), output, xp.zeros_like(output))


def _length_before_heads(array: Any, *, xp: Any) -> Any:
    """(..., H, L, E) or (L, E) as JAX's (B, L, H, E), the batch axes flattened into B."""
    heads, length, features = (1, *array.shape[-2:]) if array.ndim == 2 else array.shape[-3:]
    batch = math.prod(array.shape[:-3])
    return xp.permute_dims(xp.reshape(array, (batch, heads, length, features)), (0, 2, 1, 3))


def _as_four_axes(mask: Any, layout: Any, *, xp: Any) -> Any:
    """A mask of the weights' rank, (..., H or 1, Lq or 1, Lk or 1), as JAX's 4-D
    (B or 1, H or 1, Lq or 1, Lk or 1)."""
    if not layout.has_heads:
        return xp.reshape(mask, (1, 1, *mask.shape))
    batch_rank = len(layout.batch_shape)
    if any(size != 1 for size in mask.shape[:batch_rank]):
        mask = xp.broadcast_to(mask, (*layout.batch_shape, *mask.shape[batch_rank:]))
    batch = math.prod(mask.shape[:batch_rank])
    return xp.reshape(mask, (batch, *mask.shape[batch_rank:]))
