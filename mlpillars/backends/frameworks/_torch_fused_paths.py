"""torch's fused kernels: :class:`TorchFusedPaths`, mixed into :class:`~.torch.TorchFramework`.

Its ``fused_*`` methods are those :meth:`.base.Framework.fused` finds through
``fused_kernels``: torch's own call for each kernel (computed in ``_torch_fused``,
``_torch_squares`` and ``_torch_regression``), and the cases it declines.
"""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import TYPE_CHECKING, Any, ClassVar

from . import _torch_fused, _torch_regression, _torch_squares


class TorchFusedPaths:
    """The ``fused_*`` methods of :class:`~.torch.TorchFramework`, which calls them
    through ``fused_kernels`` (see :meth:`.base.Framework.fused`); they call its ``load``
    and ``values_known``."""

    fused_kernels: ClassVar[dict[str, str]] = {
        "scaled_dot_product_attention": "fused_attention",
        "softmax": "fused_softmax",
        "log_softmax": "fused_log_softmax",
        "cross_entropy": "fused_cross_entropy",
        "logsumexp": "fused_logsumexp",
        "linear": "fused_linear",
        "mlp": "fused_linear",
        "sigmoid": "fused_sigmoid",
        "normalize": "fused_normalize",
        "cosine_similarity": "fused_cosine_similarity",
        "r_squared": "fused_r_squared",
        "least_squares": "fused_least_squares",
    }

    if TYPE_CHECKING:  # the hooks of the Framework it is mixed into

        def load(self) -> ModuleType: ...

        def values_known(self, array: Any) -> bool: ...

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
        """``torch.nn.functional.scaled_dot_product_attention`` (flash attention on CPU and
        CUDA) for ``scaled_dot_product_attention``.

        Takes the kernel's prepared arguments (q (..., Hq, Lq, E), k (..., Hk, Lk, E),
        v (..., Hk, Lk, Ev), a mask of q's rank with the causal triangle folded in; see
        ``FusedAttention`` in ``mlpillars.kernels._attention_fused``) and returns
        (..., Hq, Lq, Ev). Declines float64 on CUDA above the kernel's plain-path limit:
        no fused CUDA kernel takes float64, and torch's math kernel would then hold every
        score, which the kernel's blocked path avoids. Declines ``is_causal`` with
        ``scale <= 0``: torch's kernel then gives NaN in most rows (torch 2.13, CPU).
        """
        torch = self.load()
        if exceeds_plain_limit and q.is_cuda and q.dtype == torch.float64:
            return NotImplemented
        if is_causal and scale <= 0:
            return NotImplemented
        # with head counts dynamic under torch.compile, Hq > Hk is a SymBool, which the op
        # refuses: a Python branch on it guards the trace on the grouping instead
        grouped = True if enable_gqa else False
        return torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=mask, is_causal=is_causal, scale=scale, enable_gqa=grouped
        )

    # -- softmax family and dense layer (FusedSoftmax, FusedLinear: kernels._fused) ------
    def fused_softmax(self, x: Any, /, *, axis: int, temperature: float, xp: ModuleType) -> Any:
        """``torch.softmax`` for ``softmax``; takes every argument the kernel offers."""
        return _torch_fused.normalised("softmax", x, axis, temperature)

    def fused_log_softmax(self, x: Any, /, *, axis: int, temperature: float, xp: ModuleType) -> Any:
        """``torch.log_softmax`` for ``log_softmax``; takes every argument offered."""
        return _torch_fused.normalised("log_softmax", x, axis, temperature)

    def fused_cross_entropy(
        self,
        logits: Any,
        target: Any,
        /,
        *,
        axis: int,
        reduction: str,
        labels_checked: bool,
        xp: ModuleType,
    ) -> Any:
        """``torch.nn.functional.cross_entropy`` for ``cross_entropy`` (log-softmax, the
        pick and the reduction in one call: a separate mean of the per-sample losses cost
        a 16 x 16 call 39 -> 56 us); labels not checked are replaced by 0 for it and their
        samples' losses made NaN after (torch would raise on a CPU and fail the device on
        CUDA); a mean whose sum overflows is redone as the kernel's (``_torch_fused``).
        Declines class probabilities where its result is not finite or cannot be read
        (CUDA, torch.compile): it forms log-probabilities, which can be past the range
        where the loss is not."""
        known = self.values_known(logits)
        return _torch_fused.cross_entropy(logits, target, axis, reduction, labels_checked, known)

    def fused_logsumexp(self, x: Any, /, *, axis: int, keepdims: bool, xp: ModuleType) -> Any:
        """``torch.logsumexp``, with the slices whose sum is close to 1 redone in the
        kernel's ``log1p`` form (the form everywhere where values cannot be read: CUDA,
        torch.compile); takes every argument offered."""
        exact = not self.values_known(x)
        return _torch_fused.logsumexp(x, axis, keepdims, every_slice_exact=exact)

    def fused_sigmoid(self, x: Any, /, *, xp: ModuleType) -> Any:
        """``torch.sigmoid`` for ``sigmoid`` (one pass, not the formula's seven; 1024 x 1024
        float32 on the CPU: 5.0-6.8 -> 0.62-0.65 ms): as accurate as the formula, and,
        like SciPy's ``expit``, 0 where ``exp(-x)`` overflows (x < -88.7 in float32,
        -709.8 in float64; the formula gives subnormal numbers there); takes every dtype."""
        import torch  # not self.load(): torch.compile cannot trace importlib

        return torch.sigmoid(x)

    def fused_normalize(
        self, x: Any, /, *, axis: int, xp: ModuleType, scaled: Callable[..., Any]
    ) -> Any:
        """``x / torch.linalg.vector_norm(x)`` where every norm is trusted
        (``_torch_squares``, ``FusedNormalize``); declined where values cannot be read."""
        return _torch_squares.normalize(x, axis) if self.values_known(x) else NotImplemented

    def fused_cosine_similarity(
        self, a: Any, b: Any, /, *, xp: ModuleType, scaled: Callable[..., Any]
    ) -> Any:
        """The rows normalised as ``fused_normalize``, one product, clamped in place
        (``_torch_squares``, ``FusedCosineSimilarity``)."""
        if not self.values_known(a):
            return NotImplemented
        return _torch_squares.cosine_similarity(a, b)

    def fused_r_squared(
        self, y_true: Any, y_pred: Any, /, *, xp: ModuleType, scaled: Callable[..., Any]
    ) -> Any:
        """``r_squared`` from the plain sums of squares where they are trusted
        (``_torch_squares``, ``FusedRSquared``); declined where values cannot be read."""
        if not self.values_known(y_true):
            return NotImplemented
        return _torch_squares.r_squared(y_true, y_pred)

    def fused_least_squares(
        self, features: Any, targets: Any, /, *, fit_intercept: bool, xp: ModuleType
    ) -> Any:
        """``least_squares``'s QR fit in torch's batched calls where every check passes
        (``_torch_regression``, ``FusedLeastSquares``); declined where values cannot be read."""
        if not self.values_known(features):
            return NotImplemented
        return _torch_regression.least_squares(features, targets, fit_intercept)

    def fused_linear(
        self, x: Any, weight: Any, bias: Any, /, *, activation: str | None, xp: ModuleType
    ) -> Any:
        """``torch.nn.functional.linear`` (``addmm`` for 2-D x) and the activation in the
        product's buffer where torch has an in-place one, for ``linear`` and each layer of
        ``mlp``; takes every named activation."""
        return _torch_fused.linear(x, weight, bias, activation)
