"""JAX's fused kernels: :class:`JaxFusedPaths`, mixed into :class:`~.jax.JaxFramework`.

Its ``fused_*`` methods are those :meth:`.base.Framework.fused` finds through
``fused_kernels``: the softmax family and the dense layer jitted (``_jax_fused``), and
attention by ``jax.nn.dot_product_attention``, its arguments laid out by the helpers
below; each with the cases it declines.
"""

from __future__ import annotations

import math
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from . import _jax_fused


class JaxFusedPaths:
    """The ``fused_*`` methods of :class:`~.jax.JaxFramework`, which calls them through
    ``fused_kernels`` (see :meth:`.base.Framework.fused`); they call its ``load`` and
    ``_runs_on_gpu``."""

    fused_kernels: ClassVar[dict[str, str]] = {
        "scaled_dot_product_attention": "fused_attention",
        "softmax": "fused_softmax",
        "log_softmax": "fused_log_softmax",
        "logsumexp": "fused_logsumexp",
        "linear": "fused_linear",
        "mlp": "fused_linear",
    }

    if TYPE_CHECKING:  # the hooks of the Framework it is mixed into

        def load(self) -> ModuleType: ...

        def _runs_on_gpu(self, array: Any) -> bool: ...

    def fused_attention(
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
        xp: ModuleType,
    ) -> Any:
        """``jax.nn.dot_product_attention`` (its XLA version; cuDNN is not requested) for
        ``scaled_dot_product_attention``.

        Takes the kernel's prepared arguments (q (..., Hq, Lq, E), k (..., Hk, Lk, E),
        v (..., Hk, Lk, Ev), a mask of q's rank with the causal triangle folded in; see
        ``FusedAttention`` in ``mlpillars.kernels._attention_fused``) and returns
        (..., Hq, Lq, Ev). JAX takes (batch, length, heads, E) with one batch axis, so the
        batch axes are flattened and the head and length axes swapped on the way in and
        out; a float mask goes in as ``bias``, a boolean one as ``mask``; grouped heads
        need no flag (Hk dividing Hq is enough). Declines float64 (its softmax always runs
        in float32, which would cost float64 results their precision), float16 off a GPU
        (XLA's CPU ``dot_general`` refuses its F16_F16_F32 precision: under ``jax.jit``
        the call raised), Ev != E (its v must have k's shape) and scores above the
        kernel's plain-path limit (the XLA version holds every score).
        """
        if q.dtype == xp.float64 or v.shape[-1] != q.shape[-1] or exceeds_plain_limit:
            return NotImplemented
        if q.dtype == xp.float16 and not self._runs_on_gpu(q):
            return NotImplemented
        batch_shape = tuple(q.shape[:-3])
        output = self.load().nn.dot_product_attention(
            *(_length_before_heads(array, xp=xp) for array in (q, k, v)),
            **_bias_or_mask(mask, batch_shape, xp=xp),
            scale=scale,
            is_causal=is_causal,
        )
        heads_first = xp.permute_dims(output, (0, 2, 1, 3))
        return xp.reshape(heads_first, (*batch_shape, *heads_first.shape[1:]))

    # -- softmax family and dense layer, one jitted program each (see _jax_fused) ----------
    def fused_softmax(self, x: Any, /, *, axis: int, temperature: float, xp: ModuleType) -> Any:
        """``jax.nn.softmax`` jitted, for ``softmax``; takes every argument offered."""
        scaled = temperature != 1.0
        return _jax_fused.compiled()["softmax"](x, temperature, axis=axis, scaled=scaled)

    def fused_log_softmax(self, x: Any, /, *, axis: int, temperature: float, xp: ModuleType) -> Any:
        """``jax.nn.log_softmax`` jitted, for ``log_softmax``; takes every argument offered."""
        scaled = temperature != 1.0
        return _jax_fused.compiled()["log_softmax"](x, temperature, axis=axis, scaled=scaled)

    def fused_logsumexp(self, x: Any, /, *, axis: int, keepdims: bool, xp: ModuleType) -> Any:
        """The kernel's ``log1p`` form jitted (not ``jax.nn.logsumexp``, which loses the
        digits of a sum close to 1); takes every argument offered."""
        return _jax_fused.compiled()["logsumexp"](x, axis=axis, keepdims=keepdims)

    def fused_linear(
        self, x: Any, weight: Any, bias: Any, /, *, activation: str | None, xp: ModuleType
    ) -> Any:
        """``activation(x @ weight + bias)`` jitted, for ``linear`` and each layer of
        ``mlp``; takes every named activation."""
        return _jax_fused.compiled()["linear"](x, weight, bias, activation=activation)


def _length_before_heads(array: Any, *, xp: ModuleType) -> Any:
    """(..., H, L, E) as JAX's (B, L, H, E), the batch axes ``...`` flattened into B."""
    flat = xp.reshape(array, (math.prod(array.shape[:-3]), *array.shape[-3:]))
    return xp.permute_dims(flat, (0, 2, 1, 3))


def _bias_or_mask(mask: Any, batch_shape: tuple[int, ...], *, xp: ModuleType) -> dict[str, Any]:
    """The keyword of ``jax.nn.dot_product_attention`` that takes ``mask``: ``mask`` for a
    boolean one, ``bias`` for a float one; 4-D, (B or 1, H or 1, Lq or 1, Lk or 1).

    ``mask`` is (..., H or 1, Lq or 1, Lk or 1) with the batch axes ``...`` of q; those of
    length 1 where others are not are broadcast before the batch axes are flattened.
    """
    if mask is None:
        return {}
    mask_batch = tuple(mask.shape[: len(batch_shape)])
    if any(size != 1 for size in mask_batch) and mask_batch != batch_shape:
        mask = xp.broadcast_to(mask, (*batch_shape, *mask.shape[-3:]))
    mask = xp.reshape(mask, (math.prod(mask.shape[:-3]), *mask.shape[-3:]))
    return {"mask" if xp.isdtype(mask.dtype, "bool") else "bias": mask}
