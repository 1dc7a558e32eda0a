"""NumPy: the host, eager and in place; every other framework's data passes through it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import ModuleType
from typing import Any, ClassVar

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from . import (
    _grouped_loops,
    _numpy_attention,
    _numpy_blocks,
    _numpy_cross_entropy,
    _numpy_descent,
    _numpy_fused,
    _numpy_regression,
    _numpy_special,
    _numpy_squares,
    _numpy_threads,
)
from .base import Framework, StepLoop

_OTHER_MEANINGS = (np.matrix, np.ma.MaskedArray)
"""ndarray subclasses whose operators the kernels' formulas would misread."""


class NumPyFramework(Framework):
    name = "numpy"
    module_name = "numpy"
    extra = "all"

    def owns(self, array: object) -> bool:
        """NumPy's arrays and scalars, but not ``np.matrix`` and ``np.ma.MaskedArray``: their
        operators mean other things (``*`` multiplies matrices; reductions skip masked
        entries). The dispatch reads a matrix as ``np.asarray`` does, and refuses a masked
        array (``_values``)."""
        return aac.is_numpy_array(array) and not isinstance(array, _OTHER_MEANINGS)

    def namespace(self) -> ModuleType:
        import array_api_compat.numpy as xp

        return xp

    def device_of(self, array: Any) -> Any:
        """NumPy's one device, "cpu", as ``array_api_compat.device`` says, without its
        checks (this is read for every array of every call with several)."""
        return "cpu"

    def settings(self) -> dict[str, Any]:
        """The version, and the threads the softmax family and sigmoid compute a large
        array on, and a large MSE gradient descent its parts (``_numpy_threads``,
        ``_numpy_descent``: NumPy's own calls use one, BLAS its own pool)."""
        return {
            "version": self.version(),
            "kernel_threads": _numpy_threads.thread_limit(),
            "kernel_thread_min_elements": 2 * _numpy_threads.PARALLEL_ELEMENTS,
            "descent_part_seconds": _numpy_descent.PART_SECONDS,
        }

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        return host

    def from_foreign(self, array: Any, source: Framework, device: Any) -> Any:
        return source.to_host(array)

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=True, bfloat16=False, eigh=True, inplace=True, gpu=False
        )

    def erf(self, array: Any) -> Any:
        """SciPy's in float64; a vectorised rational form in float32 (``_numpy_special``)."""
        return _numpy_special.erf(array)

    def row_major(self, array: Any) -> Any:
        return np.ascontiguousarray(array)

    def extremes(self, array: Any, *, xp: ModuleType) -> tuple[Any, Any]:
        # the ufuncs' reductions: xp.min and xp.max pass through NumPy's Python wrappers
        # (8 labels: 2.0 against 5.1 us for both)
        least = np.asarray(np.minimum.reduce(array, axis=None))
        return least, np.asarray(np.maximum.reduce(array, axis=None))

    def quiet_arithmetic(self) -> Any:
        """NumPy's overflow and invalid-value warnings off (``np.errstate``, a context
        variable: ``_numpy_threads`` carries it to the threads of a fused kernel)."""
        return np.errstate(over="ignore", invalid="ignore")

    def block_buffers(self) -> Any:
        """Buffers of a fit's blocks, kept by the thread from fit to fit (``_numpy_blocks``)."""
        return _numpy_blocks.BlockBuffers()

    def run_loop(self, loop: StepLoop, state: Any, constants: Any) -> tuple[Any, Any, Any]:
        """The eager loop, without NumPy's overflow warnings (``_numpy_descent.quiet_loop``);
        a loop of independent problems runs in groups of them, each group's data in cache
        (see ``_grouped_loops``)."""
        with _numpy_descent.quiet_loop():
            grouped = _grouped_loops.run_in_groups(super().run_loop, loop, state, constants)
            return super().run_loop(loop, state, constants) if grouped is None else grouped

    # -- fused kernels: in place, called by the kernels with checked, prepared arguments ---
    fused_kernels: ClassVar[dict[str, str]] = {
        "softmax": "fused_softmax",
        "log_softmax": "fused_log_softmax",
        "logsumexp": "fused_logsumexp",
        "cross_entropy": "fused_cross_entropy",
        "linear": "fused_linear",
        "mlp": "fused_linear",
        "sigmoid": "fused_sigmoid",
        "normalize": "fused_normalize",
        "cosine_similarity": "fused_cosine_similarity",
        "r_squared": "fused_r_squared",
        "least_squares": "fused_least_squares",
        "scaled_dot_product_attention": "fused_attention",
        "gradient_descent": "fused_gradient_descent",
    }

    def fused_softmax(
        self, x: np.ndarray, /, *, axis: int, temperature: float, xp: ModuleType
    ) -> np.ndarray:
        """``softmax`` in one new array, block by block in cache (see ``_numpy_fused``);
        takes every argument the kernel offers (``FusedSoftmax`` in
        ``mlpillars.kernels._fused``)."""
        return _numpy_fused.softmax(x, axis, temperature)

    def fused_log_softmax(
        self, x: np.ndarray, /, *, axis: int, temperature: float, xp: ModuleType
    ) -> np.ndarray:
        """``log_softmax`` as :meth:`fused_softmax`."""
        return _numpy_fused.log_softmax(x, axis, temperature)

    def fused_logsumexp(
        self, x: np.ndarray, /, *, axis: int, keepdims: bool, xp: ModuleType
    ) -> np.ndarray:
        """``logsumexp`` (its ``log1p`` form) block by block; takes every argument offered."""
        return _numpy_fused.logsumexp(x, axis, keepdims)

    def fused_cross_entropy(
        self,
        logits: np.ndarray,
        target: np.ndarray,
        /,
        *,
        axis: int,
        reduction: str,
        labels_checked: bool,
        xp: ModuleType,
    ) -> Any:
        """``cross_entropy`` of checked integer labels from the shifted logits at the labels
        and the log of the sums, no log-probabilities array (``_numpy_cross_entropy``);
        NotImplemented for probability targets (the kernel then takes ``log_softmax``)."""
        if not labels_checked:
            return NotImplemented
        return _numpy_cross_entropy.cross_entropy(logits, target, axis, reduction)

    def fused_linear(
        self,
        x: np.ndarray,
        weight: np.ndarray,
        bias: np.ndarray | None,
        /,
        *,
        activation: str | None,
        xp: ModuleType,
    ) -> Any:
        """``linear`` (and each layer of ``mlp``): the bias and the activation applied in
        the product's own buffer; takes every named activation (``FusedLinear``)."""
        return _numpy_fused.linear(x, weight, bias, activation)

    def fused_normalize(
        self, x: np.ndarray, /, *, axis: int, xp: ModuleType, scaled: Callable[..., Any]
    ) -> Any:
        """``normalize`` from the plain sums of squares where they are trusted, by the
        kernel's scaled formula where not (``_numpy_squares``, ``FusedNormalize``); float32
        and float64."""
        return _numpy_squares.normalize(x, axis, lambda rows: scaled(rows, -1, xp=xp))

    def fused_cosine_similarity(
        self, a: np.ndarray, b: np.ndarray, /, *, xp: ModuleType, scaled: Callable[..., Any]
    ) -> Any:
        """``cosine_similarity`` of matrices in NumPy's own calls (``FusedCosineSimilarity``)."""
        return _numpy_squares.cosine_similarity(a, b, lambda rows: scaled(rows, -1, xp=xp))

    def fused_sigmoid(self, x: np.ndarray, /, *, xp: ModuleType) -> Any:
        """``sigmoid`` by SciPy's ``expit`` (``FusedSigmoid``); float32 and float64."""
        return _numpy_fused.sigmoid(x)

    def fused_r_squared(
        self,
        y_true: np.ndarray,
        y_pred: np.ndarray,
        /,
        *,
        xp: ModuleType,
        scaled: Callable[..., Any],
    ) -> Any:
        """``r_squared`` from the plain sums of squares where they are trusted, by the
        kernel's scaled formula where not (``_numpy_squares``, ``FusedRSquared``)."""
        return _numpy_squares.r_squared(y_true, y_pred, lambda t, p: scaled(t, p, xp=xp))

    def fused_least_squares(
        self, features: np.ndarray, targets: np.ndarray, /, *, fit_intercept: bool, xp: ModuleType
    ) -> Any:
        """``least_squares``'s QR fit in NumPy's own calls where every check passes
        (``_numpy_regression``, ``FusedLeastSquares``)."""
        return _numpy_regression.least_squares(features, targets, fit_intercept)

    def fused_gradient_descent(
        self, features: Any, targets: Any, lr: Any, /, *, options: Mapping[str, Any], xp: ModuleType
    ) -> Any:
        """Large MSE fits in parts of the problems, each on its own thread, or
        ``NotImplemented`` (``FusedGradientDescent`` in ``mlpillars.kernels._descent_fused``).
        See :func:`._numpy_descent.gradient_descent`."""
        return _numpy_descent.gradient_descent(features, targets, lr, options)

    def fused_attention(
        self,
        q: np.ndarray,
        k: np.ndarray,
        v: np.ndarray,
        mask: np.ndarray | None,
        /,
        *,
        scale: float,
        is_causal: bool,
        enable_gqa: bool,
        exceeds_plain_limit: bool,
        xp: ModuleType,
    ) -> Any:
        """``scaled_dot_product_attention``'s plain path in one buffer of scores, a few
        heads at a time (``_numpy_attention``, ``FusedAttention``); float32 and float64,
        below the plain path's limit."""
        if exceeds_plain_limit:
            return NotImplemented
        return _numpy_attention.attention(q, k, v, mask, scale, is_causal, enable_gqa)
