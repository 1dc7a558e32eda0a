"""A framework's own softmax family and dense layer: the calls they answer.

The kernels check their arguments first, so a framework's implementation raises nothing
the kernel would not. They then offer the prepared arguments to the implementation the
dispatch passed in (``fused``), which answers the result or ``NotImplemented`` for
arguments it cannot honour exactly; the kernel's own formula then runs. An implementation
never writes into the caller's arrays: an in-place one works in buffers it allocated.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol


class FusedSoftmax(Protocol):
    """The call a framework's ``fused_kernels["softmax"]`` and ``["log_softmax"]`` answer.

    Offered only for arrays with at least one axis and no axis of length 0 (see
    :func:`is_offered`); 0-d and empty inputs take the kernel's formula.
    """

    def __call__(self, x: Any, /, *, axis: int, temperature: float, xp: Any) -> Any:
        """``softmax(x)`` (or ``log_softmax(x)``) along ``axis``, or ``NotImplemented``.

        Parameters
        ----------
        x : array, shape (..., n, ...)
            Logits in a real floating dtype, as the caller gave them: possibly read-only
            or strided. float16 and bfloat16 must be computed in float32 and the result
            cast back, as the kernel's formula does.
        axis : int
            The axis to normalise over, in ``[0, x.ndim)``.
        temperature : float
            T, finite and > 0. The logits must be shifted by their maximum before they
            are divided by T (``(x - max x) / T``), so that ``x / T`` cannot overflow.
        xp : namespace
            x's array-API namespace.

        Returns
        -------
        array, shape of x, or NotImplemented
            In x's dtype, namespace and device.
        """
        ...


class FusedLogSumExp(Protocol):
    """The call a framework's ``fused_kernels["logsumexp"]`` answers.

    Offered as :class:`FusedSoftmax` is (at least one axis, none of length 0).
    """

    def __call__(self, x: Any, /, *, axis: int, keepdims: bool, xp: Any) -> Any:
        """``log(sum(exp(x)))`` along ``axis``, or ``NotImplemented``.

        It must keep the digits of a sum close to 1 as the kernel does (the terms equal
        to the maximum apart, ``log1p`` of the rest: ``[0, -40]`` gives 4.25e-18, not 0)
        and give a slice's maximum where that is not finite.

        Parameters
        ----------
        x : array, shape (..., n, ...)
            In a real floating dtype; float16 and bfloat16 computed in float32.
        axis : int
            In ``[0, x.ndim)``.
        keepdims : bool
            Keep the reduced axis with length 1.
        xp : namespace

        Returns
        -------
        array, x's shape without ``axis`` (length 1 there with keepdims), or NotImplemented
        """
        ...


class FusedCrossEntropy(Protocol):
    """The call a framework's ``fused_kernels["cross_entropy"]`` answers.

    Offered as :class:`FusedSoftmax` is (at least one axis, none of length 0), with the
    target checked: its shape, and integer labels' range where their values can be read.
    """

    def __call__(
        self,
        logits: Any,
        target: Any,
        /,
        *,
        axis: int,
        reduction: str,
        labels_checked: bool,
        xp: Any,
    ) -> Any:
        """``-sum_c t_c log softmax(logits)_c`` per sample, reduced, or ``NotImplemented``.

        Parameters
        ----------
        logits : array, shape (..., C, ...)
            float32 or float64 (half precision is widened by the kernel).
        target : array
            Integer class labels, logits' shape without ``axis``, or class probabilities
            of logits' shape and dtype.
        axis : int
            The class axis, in ``[0, logits.ndim)``.
        reduction : {"mean", "sum", "none"}
        labels_checked : bool
            Integer labels known to lie in ``[0, C)``. Where False (their values could not
            be read: traced, or on a GPU) a sample whose label is out of range must have
            the loss NaN, and a "mean" or "sum" over it NaN, without reading any value.
        xp : namespace

        Returns
        -------
        array, or NotImplemented
            0-d for "mean" and "sum", else logits' shape without ``axis``; in logits'
            dtype, namespace and device.
        """
        ...


class FusedLinear(Protocol):
    """The call a framework's ``fused_kernels["linear"]`` (and ``["mlp"]``, per layer) answers."""

    def __call__(
        self, x: Any, weight: Any, bias: Any, /, *, activation: str | None, xp: Any
    ) -> Any:
        """``activation(x @ weight + bias)``, or ``NotImplemented``.

        Parameters
        ----------
        x : array, shape (..., in)
            At least one axis.
        weight : array, shape (in, out)
        bias : array or None, shape (out,) or ()
            x, weight and bias share one real floating dtype.
        activation : {None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh"}
            A name from ``mlpillars.kernels.activations.ACTIVATIONS`` with the formula
            given there ("gelu" is the exact, erf-based one), or None for the identity.
            A callable activation is applied by the kernel after an ``activation=None``
            call.
        xp : namespace

        Returns
        -------
        array, shape (..., out), or NotImplemented
            In x's dtype, namespace and device.
        """
        ...


class FusedSigmoid(Protocol):
    """The call a framework's ``fused_kernels["sigmoid"]`` answers (any floating array)."""

    def __call__(self, x: Any, /, *, xp: Any) -> Any:
        """``1 / (1 + exp(-x))`` elementwise, as accurate as the kernel's formula for any
        x (no overflow; tiny values keep their digits, down to the subnormal results of
        x near -88 in float32; 0 may come where ``exp(-x)`` overflows, as SciPy's expit
        gives), in a new array of x's shape and dtype; or ``NotImplemented``."""
        ...


class FusedNormalize(Protocol):
    """The call a framework's ``fused_kernels["normalize"]`` answers (offered arrays with
    at least one axis and none of length 0)."""

    def __call__(self, x: Any, /, *, axis: int, xp: Any, scaled: Callable[..., Any]) -> Any:
        """``x / ||x||_2`` along ``axis`` (zero vectors zero), or ``NotImplemented``.

        As the kernel's formula: each vector divided by its largest magnitude first, so
        that no square overflows or underflows.

        Parameters
        ----------
        x : array, any shape
            In a real floating dtype.
        axis : int
            In ``[0, x.ndim)``.
        xp : namespace
        scaled : callable
            The kernel's formula, ``scaled(vectors, axis, xp=xp)``, for vectors whose
            plain sums of squares the framework does not trust.

        Returns
        -------
        array, shape of x, or NotImplemented
        """
        ...


class FusedCosineSimilarity(Protocol):
    """The call a framework's ``fused_kernels["cosine_similarity"]`` answers (offered
    matrices with no axis of length 0)."""

    def __call__(self, a: Any, b: Any, /, *, xp: Any, scaled: Callable[..., Any]) -> Any:
        """``a_i . b_j / (||a_i|| ||b_j||)`` clipped to [-1, 1] (0 for a zero vector),
        or ``NotImplemented``; the vectors normalised as :class:`FusedNormalize` does.

        Parameters
        ----------
        a : array, shape (n, d)
        b : array, shape (m, d)
            In one real floating dtype.
        xp : namespace
        scaled : callable
            The kernel's normalisation, as :class:`FusedNormalize`'s.

        Returns
        -------
        array, shape (n, m), or NotImplemented
        """
        ...


class FusedLeastSquares(Protocol):
    """The call a framework's ``fused_kernels["least_squares"]`` answers (offered checked
    problems with no axis of length 0, n at least the unknowns)."""

    def __call__(self, features: Any, targets: Any, /, *, fit_intercept: bool, xp: Any) -> Any:
        """``(weights, bias)`` of the kernel's fit, or ``NotImplemented``.

        As the kernel: the least-squares solution by QR of the design centred twice. It
        answers only where X and y are finite and X has full rank by the kernel's test
        (``mlpillars.backends.dependence_bound``: ``|R_jj|`` above ``max(n, d) * eps`` of
        column j's centred norm, plus ``eps`` of its norm with an intercept); else
        ``NotImplemented``, and the kernel's formula raises its error.

        Parameters
        ----------
        features : array, shape (1 or B, n, d)
        targets : array, shape (1 or B, n)
            In one real floating dtype (float32 or wider).
        fit_intercept : bool
        xp : namespace

        Returns
        -------
        tuple of (array (1 or B, d), array (1 or B,)), or NotImplemented
        """
        ...


class FusedRSquared(Protocol):
    """The call a framework's ``fused_kernels["r_squared"]`` answers (offered arrays of
    one shape (..., n), n >= 1, and at least one problem)."""

    def __call__(self, y_true: Any, y_pred: Any, /, *, xp: Any, scaled: Callable[..., Any]) -> Any:
        """``1 - SS_res / SS_tot`` along the last axis, or ``NotImplemented``; as the
        kernel's formula: data far from zero keep their digits, no square overflows, and
        a constant ``y_true`` gives 1 for an exact prediction, else 0.

        Parameters
        ----------
        y_true, y_pred : array, shape (..., n)
            In one real floating dtype.
        xp : namespace
        scaled : callable
            The kernel's formula, ``scaled(y_true, y_pred, xp=xp)``, for slices whose
            plain sums of squares the framework does not trust.

        Returns
        -------
        array, shape (...), or NotImplemented
        """
        ...


def is_offered(x: Any) -> bool:
    """Whether the softmax family offers ``x`` to a framework's implementation: at least
    one axis and none of length 0 (the formula's errors and empty results stay its own)."""
    return x.ndim >= 1 and 0 not in x.shape
