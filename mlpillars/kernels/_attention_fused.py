"""A framework's own attention: the call it answers, and how the kernel offers it one.

The kernel checks its arguments first, so a framework's implementation raises nothing the
kernel would not. It then prepares them (a head axis for (L, E) inputs, the mask at q's
rank with the causal triangle folded in, one floating dtype) and offers them to the
implementation the dispatch passed in, which answers the output or ``NotImplemented``.
Rows the mask leaves without a key are offered every key instead, and zeroed here after
the call, whatever the implementation gives there (the mean of v, or NaN, whose
gradient the ``where`` that zeroes it would pass on as NaN).
"""

from __future__ import annotations

import math
from typing import Any, Protocol

from ..backends import device_of
from ._attention_layout import AttentionLayout, mask_of_rank
from ._attention_paths import causal_tile


class FusedAttention(Protocol):
    """The call a framework's ``fused_kernels["scaled_dot_product_attention"]`` answers.

    It is offered only when the output alone is asked for on the automatic path (neither
    ``return_weights`` nor ``block_size``), with Lq >= 1 and Lk >= 1, q's and k's batch
    axes equal (not only broadcastable), and, with a mask, scores within the plain path's
    limit: above it the prepared mask, with the causal triangle folded in, would be as
    large as the scores the blocked path avoids holding.
    """

    def __call__(
        self,
        q: Any,
        k: Any,
        v: Any,
        mask: Any,
        /,
        *,
        scale: float,
        is_causal: bool,
        enable_gqa: bool,
        exceeds_plain_limit: bool,
        xp: Any,
    ) -> Any:
        """Attention of prepared arguments, or ``NotImplemented`` to decline them.

        Parameters
        ----------
        q : array, shape (..., Hq, Lq, E)
            Queries. (Lq, E) inputs arrive as (1, Lq, E).
        k : array, shape (..., Hk, Lk, E)
            Keys: q's batch axes ``...`` and dtype (one real floating dtype for q, k, v).
        v : array, shape (..., Hk, Lk, Ev)
            Values; Ev may differ from E.
        mask : array or None, shape (..., Hq or 1, Lq or 1, Lk or 1)
            q's number of axes. Boolean (True = may attend) or q's dtype (added to the
            scaled scores, ``-inf`` forbids a key). The causal triangle is folded in.
        scale : float
            The factor of ``q @ k^T``.
        is_causal : bool
            Query i attends to keys j <= i only (top-left aligned for Lq != Lk). Never
            True together with a mask, which has the triangle folded in instead.
        enable_gqa : bool
            Hq > Hk: each group of Hq/Hk consecutive query heads shares one key/value head.
        exceeds_plain_limit : bool
            The (..., Hq, Lq, Lk) scores would have more elements than the kernel's plain
            path holds; an implementation that holds every score should decline.
        xp : namespace
            The arrays' array-API namespace.

        Returns
        -------
        array, shape (..., Hq, Lq, Ev), or NotImplemented
            In q's dtype. Rows without an allowed key may hold anything.
        """
        ...


def is_offered(
    layout: AttentionLayout,
    mask: Any,
    *,
    return_weights: bool,
    block_size: int | None,
    exceeds_plain_limit: bool,
) -> bool:
    """Whether a framework's implementation is offered this call (see :class:`FusedAttention`)."""
    if return_weights or block_size is not None or layout.is_empty or not layout.same_batch:
        return False
    return mask is None or not exceeds_plain_limit


def fused_output(
    fused: FusedAttention,
    layout: AttentionLayout,
    q: Any,
    k: Any,
    v: Any,
    mask: Any,
    *,
    is_causal: bool,
    exceeds_plain_limit: bool,
    xp: Any,
) -> Any:
    """The output (..., Hq, Lq, Ev) or (Lq, Ev) from ``fused``, or ``NotImplemented``.

    q, k, v come checked and in one floating dtype, the mask in q's or boolean.
    """
    if not layout.has_heads:  # (L, E) -> (1, L, E): one layout for every implementation
        q, k, v = (xp.reshape(array, (1, *array.shape)) for array in (q, k, v))
    has_key = None
    if mask is not None:
        mask = _mask_with_causal(mask_of_rank(mask, q.ndim, xp=xp), is_causal, layout, xp=xp)
        has_key = rows_with_a_key(mask, xp=xp)
        mask = _with_keys_in_empty_rows(mask, has_key, xp=xp)
    output = fused(
        q,
        k,
        v,
        mask,
        scale=layout.scale,
        is_causal=is_causal and mask is None,
        enable_gqa=layout.group_size > 1,
        exceeds_plain_limit=exceeds_plain_limit,
        xp=xp,
    )
    if output is NotImplemented:
        return NotImplemented
    if has_key is not None:
        output = xp.where(has_key, output, xp.zeros_like(output))
    return output if layout.has_heads else xp.reshape(output, layout.output_shape)


def rows_with_a_key(mask: Any, *, xp: Any) -> Any:
    """True for the query rows that ``mask`` lets attend to at least one key, shape
    (..., Lq or 1, 1)."""
    allowed = mask if xp.isdtype(mask.dtype, "bool") else mask != -math.inf
    return xp.any(allowed, axis=-1, keepdims=True)


def _with_keys_in_empty_rows(mask: Any, has_key: Any, *, xp: Any) -> Any:
    """``mask`` letting the rows without a key (``has_key`` False) attend to every key:
    their output is zeroed after the call, and a finite one there keeps its gradient
    finite. ``jax.nn.dot_product_attention`` gives NaN for a row of ``-inf`` bias, and the
    ``where`` that zeroes it passes 0 to a backward pass that made it NaN: q, k and v got
    NaN gradients (q = k = v = ones (1, 1, 3), mask [[-inf]], float32: 0 is right)."""
    if xp.isdtype(mask.dtype, "bool"):
        return mask | ~has_key
    return xp.where(has_key, mask, xp.zeros_like(mask))


def _mask_with_causal(mask: Any, is_causal: bool, layout: AttentionLayout, *, xp: Any) -> Any:
    """``mask`` with ``is_causal`` folded in, in the mask's dtype: a bool mask and-ed with
    the (Lq, Lk) causal triangle, a float one ``-inf`` above it."""
    if not is_causal:
        return mask
    device = device_of(mask)
    causal = causal_tile(0, layout.query_length, 0, layout.key_length, device, xp)
    if xp.isdtype(mask.dtype, "bool"):
        return mask & causal
    return xp.where(causal, mask, xp.asarray(-math.inf, dtype=mask.dtype, device=device))
