"""Special functions the array API standard lacks, and reductions a framework gets wrong
on some inputs, answered by each framework."""

from __future__ import annotations

import contextlib
from typing import Any

from .frameworks import framework_of


def erf(x: Any) -> Any:
    """The error function of an array, computed by the array's own framework.

    Parameters
    ----------
    x : array
        Floating-point array of any supported backend.

    Returns
    -------
    array
        ``erf(x)``, same shape, dtype, namespace and device.
    """
    framework = framework_of(x)
    if framework is None:
        raise TypeError(f"erf: expected an array of a supported backend, got {type(x).__name__}")
    return framework.erf(x)


def vecdot(a: Any, b: Any, *, xp: Any) -> Any:
    """``xp.vecdot(a, b)`` of two real arrays: the dot product over the last axis, the
    others broadcast, by the framework's own fastest equivalent (array-api-compat's torch
    vecdot is five times slower than ``torch.linalg.vecdot``).

    Parameters
    ----------
    a, b : array, shapes (..., d), broadcastable
        Real floating arrays of one backend (or tracers of one).
    xp : namespace
        Their array-API namespace.

    Returns
    -------
    array, shape (...)
    """
    framework = framework_of(a)
    return xp.vecdot(a, b) if framework is None else framework.vecdot(a, b, xp=xp)


def extremes(x: Any, *, xp: Any) -> tuple[Any, Any]:
    """``(xp.min(x), xp.max(x))`` of a non-empty array, in one pass where the framework
    has one (torch's ``aminmax``): for value checks, such as labels in range.

    Parameters
    ----------
    x : array
        Real, of any shape, not empty (or a tracer).
    xp : namespace
        Its array-API namespace.

    Returns
    -------
    lowest, highest : 0-d arrays
    """
    framework = framework_of(x)
    return (xp.min(x), xp.max(x)) if framework is None else framework.extremes(x, xp=xp)


def largest_magnitude(x: Any, *, xp: Any) -> float:
    """``max |x|`` of a non-empty real array whose values are known (see
    :func:`mlpillars.backends.values_known`), as a Python float; NaN where x holds one. In
    one pass where the framework has one (torch's ``aminmax``): for bounds on a result's
    range, such as attention's scores."""
    framework = framework_of(x)
    if framework is None:
        return float(xp.max(xp.abs(x)))
    return framework.largest_magnitude(x, xp=xp)


def row_major(x: Any) -> Any:
    """``x`` laid out row-major (C order, the last axis contiguous), copied if it is not,
    where its framework's products gain from it (NumPy, torch on the CPU); unchanged
    elsewhere (JAX and Dask choose layouts themselves, cuBLAS reads either). For a kernel
    that multiplies by a transposed view many times: one copy, then every product reads
    it in order.

    Parameters
    ----------
    x : array
        Of any supported backend (or a tracer of one).

    Returns
    -------
    array
        Equal to ``x``: same shape, dtype, namespace and device.
    """
    framework = framework_of(x)
    return x if framework is None else framework.row_major(x)


def layer_operands(x: Any, weight: Any, bias: Any) -> tuple[Any, Any, Any]:
    """``(x, weight, bias)`` laid out by x's framework for the product ``x @ weight +
    bias``, the same values: unchanged, but on Dask, where the weight (and bias) are
    rechunked, or x's chunks made tasks of their own, so that the product computes each
    chunk of x once, whatever the weight's chunks (Dask fuses x's chunk into each block of
    its product: a read from a store, repeated); see
    ``mlpillars.backends.frameworks._dask_products``.

    Parameters
    ----------
    x : array, shape (..., in)
    weight : array, shape (in, out)
    bias : array or None, shape (out,) or ()
        Of x's backend (or tracers of it).

    Returns
    -------
    x, weight, bias
    """
    framework = framework_of(x)
    return (x, weight, bias) if framework is None else framework.layer_operands(x, weight, bias)


def reduce_max(x: Any, *, axis: int, keepdims: bool, xp: Any) -> Any:
    """``xp.max(x, axis=axis, keepdims=keepdims)`` of an array with no axis of length 0,
    by the framework's reduction that takes every valid array (Dask's own max fails on an
    empty chunk, known or found when computed).

    Parameters
    ----------
    x : array
        Of any supported backend (or a tracer of one).
    axis : int
    keepdims : bool
    xp : namespace
        x's array-API namespace.
    """
    framework = framework_of(x)
    if framework is None:
        return xp.max(x, axis=axis, keepdims=keepdims)
    return framework.reduce_max(x, axis=axis, keepdims=keepdims, xp=xp)


def block_buffers(x: Any) -> Any:
    """A new holder of reused buffers for one fit's blocks of gradient descent on the MSE's
    statistics (``mlpillars.kernels._descent_blocks``), from ``x``'s framework, or None
    (every block then makes new arrays: every framework but NumPy and torch).

    The holder's ``steps_by_gradient`` says how it takes a block's K steps. True:
    ``gradient_rows(params, gradient, matrix, offset, scale, mean_row, count)``, steps
    ``u <- u + scale (g + e mean_row)`` with ``g = u @ A + a`` from params and their g
    (B, p), returns the rows after each step and their g, each (B, K, p). False:
    ``affine_rows(params, P, c, count)``, steps ``u <- u @ P + c``, returns the rows
    (B, K, p), and ``product(rows, matrix)`` returns ``rows @ matrix``. Each returns its
    buffers, written again at the next call: the caller copies what it keeps. An optional
    ``block_values_scale`` lets blocks hold that many times the kernel's parameter values.
    """
    framework = framework_of(x)
    return None if framework is None else framework.block_buffers()


def quiet_arithmetic(x: Any, *, when: bool = True) -> contextlib.AbstractContextManager[Any]:
    """A context in which the arithmetic on ``x``'s framework does not warn of overflow or
    invalid values, where ``when``: for a first attempt whose values the kernel reads and
    discards where they are not finite, computing the answer another way. NumPy's (and
    array-api-strict's) ``np.errstate``; nothing for frameworks that never warn (torch,
    JAX) or warn at compute time, out of the caller's context (Dask).

    Keep its scope to that attempt: an overflow of the answer itself warns as NumPy's
    own functions would.

    Parameters
    ----------
    x : array
        Of any supported backend (or a tracer of one), or a Python number.
    when : bool, default True
        False gives a context that changes nothing (the attempt's values are not read:
        its overflow may be the answer's).

    Returns
    -------
    context manager
    """
    framework = framework_of(x)
    if framework is None or not when:
        return contextlib.nullcontext()
    return framework.quiet_arithmetic()
