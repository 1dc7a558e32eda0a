"""NumPy's softmax family and dense layer, computed in place in buffers they allocate.

The softmax family runs its formula block by block: blocks of about ``BLOCK_ELEMENTS``
elements, cut along an axis other than the one reduced, each written into its slice of
the one result array. A block stays in cache from its maximum to its division, so the
array crosses memory about twice (read x, write the result), where
``scipy.special.softmax`` makes about six passes and three new arrays. The caller's
arrays are only read: read-only and strided inputs work. float16 blocks are computed in a
float32 buffer and cast back, as the kernels' formula does. An array of millions of
elements is first cut into parts computed on several threads (``_numpy_threads``); each
slice's result is the same, bit for bit, however many threads run.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from . import _numpy_special, _numpy_threads
from ._logsumexp_rule import CLOSE_TO_ONE, SMALL_RESULT

BLOCK_ELEMENTS = 2**16
"""Elements per block: 256 KiB of float32, within a core's L2 cache. For softmax 4096 x 4096
float32 on the project's shared 2-core machine, blocks of 2**14 to 2**18 elements all
measured about the same. Large arrays are cut into parts first, one per thread
(``_numpy_threads``), each computed block by block."""

_SQRT_2 = math.sqrt(2.0)
_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def softmax(x: np.ndarray, axis: int, temperature: float) -> np.ndarray:
    """``exp(s) / sum(exp(s))``, ``s = (x - max x) / T``, along ``axis``; x (..., n, ...).

    An array of at most one block (not float16) is shifted into one new array and
    finished there, written out with no helper call: an 8 x 16 softmax's cost is its
    calls, and so it is as fast as NumPy's plain formula (7.9 against 8.0 us).

    A large array's blocks run without NumPy's overflow warning: a shifted logit past the
    range (float32 [3e38, -3e38]: -6e38) is -inf, whose exp, 0, is its answer, and every
    answer lies in [0, 1] (its threads run in copies of this context, ``_numpy_threads``).
    NaN still warns. A single block keeps the warning: ``np.errstate`` costs 1.4 us, half
    of a small call's budget over NumPy's formula, for rows spanning more than the range.
    """
    if x.size <= BLOCK_ELEMENTS and x.dtype != np.float16:  # one block, in its own dtype
        shifted = np.subtract(x, np.maximum.reduce(x, axis=axis, keepdims=True))
        if temperature != 1.0:
            shifted /= temperature
        return _softmax_in_place(shifted, axis)

    def blockwise(part: np.ndarray, result_part: np.ndarray) -> None:
        for block, out in _blocks(part, result_part, axis=axis):
            work = _shifted(block, out, axis, temperature)
            _narrow_into(out, _softmax_in_place(work, axis))

    with np.errstate(over="ignore"):
        return _computed_in_parts(blockwise, x, axis)


def log_softmax(x: np.ndarray, axis: int, temperature: float) -> np.ndarray:
    """``s - log(sum(exp(s)))``, ``s = (x - max x) / T``, along ``axis``; x (..., n, ...)."""
    if x.size <= BLOCK_ELEMENTS and x.dtype != np.float16:  # one block, in its own dtype
        return _log_softmax_in_place(_shifted(x, None, axis, temperature), axis)

    def blockwise(part: np.ndarray, result_part: np.ndarray) -> None:
        for block, out in _blocks(part, result_part, axis=axis):
            work = _shifted(block, out, axis, temperature)
            _narrow_into(out, _log_softmax_in_place(work, axis))

    return _computed_in_parts(blockwise, x, axis)


def _computed_in_parts(
    blockwise: Callable[[np.ndarray, np.ndarray], None], x: np.ndarray, axis: int
) -> np.ndarray:
    """A new array of x's shape and dtype, filled by ``blockwise(part, result_part)`` for
    parts of x cut along an axis other than ``axis`` (as ``_blocks`` cuts), on several
    threads where x is large (``_numpy_threads``)."""
    result = np.empty(x.shape, dtype=x.dtype)
    cut_axis = (1 if axis == 0 else 0) if x.ndim > 1 else None
    _numpy_threads.in_parts_where_large(blockwise, (x, result), cut_axis=cut_axis)
    return result


def _softmax_in_place(shifted: np.ndarray, axis: int) -> np.ndarray:
    np.exp(shifted, out=shifted)
    shifted /= np.add.reduce(shifted, axis=axis, keepdims=True)
    return shifted


def _log_softmax_in_place(shifted: np.ndarray, axis: int) -> np.ndarray:
    total = np.add.reduce(np.exp(shifted), axis=axis, keepdims=True)
    shifted -= np.log(total, out=total)
    return shifted


def logsumexp(x: np.ndarray, axis: int, keepdims: bool) -> np.ndarray:
    """``m + log(sum exp(x - m))`` along ``axis``, ``m = max x`` (``m`` itself where it is
    not finite); shape of x without ``axis`` (kept with length 1 when ``keepdims``).

    The kernel's ``log1p`` form in every slice, with one maximum's ``exp(0) = 1`` left out
    of the sum (set to 0 in place) rather than slices recomputed: one pass more (the
    argmax), ten calls fewer. The reduced axis is moved last first (a view). An array of
    at most one block (float32 or float64) takes NumPy's plain formula instead where it
    keeps the digits (:func:`_small_logsumexp`).
    """
    if x.size <= BLOCK_ELEMENTS and x.dtype.char in "fd":
        plain = _small_logsumexp(x, axis)
        if plain is not None:
            return plain if keepdims else np.squeeze(plain, axis=axis)
    rows = x if axis == x.ndim - 1 else np.moveaxis(x, axis, -1)
    result = np.empty((*rows.shape[:-1], 1), dtype=x.dtype)

    def blockwise(part: np.ndarray, result_part: np.ndarray) -> None:
        for block, out in _blocks(part, result_part, axis=-1):
            out[...] = _logsumexp_rows(block.astype(_computed_dtype(block.dtype), copy=False))

    cut_axis = 0 if rows.ndim > 1 else None
    _numpy_threads.in_parts_where_large(blockwise, (rows, result), cut_axis=cut_axis)
    result = result[..., 0]
    return np.expand_dims(result, axis) if keepdims else result


def _small_logsumexp(x: np.ndarray, axis: int) -> np.ndarray | None:
    """``m + log(sum exp(x - m))`` with the reduced axis kept, or None where a slice needs
    the ``log1p`` form (``_logsumexp_rule``) or its maximum is not finite. 16 x 16
    float64, thread time: 24 -> 14-16 us (NumPy's plain formula alone 8-9 us)."""
    row_max = np.maximum.reduce(x, axis=axis, keepdims=True)
    if not np.isfinite(row_max).all():  # an inf or NaN (x - m would warn)
        return None
    shifted = np.subtract(x, row_max)  # a gap past the range warns (as in softmax)
    total = np.add.reduce(np.exp(shifted, out=shifted), axis=axis, keepdims=True)
    result = np.log(total)
    result += row_max
    close_to_one = float(np.minimum.reduce(total, axis=None)) < CLOSE_TO_ONE
    if close_to_one and float(np.minimum.reduce(np.abs(result), axis=None)) < SMALL_RESULT:
        return None  # a slice's sum may be close to 1 and its result small: all redone
    return result


def _logsumexp_rows(values: np.ndarray) -> np.ndarray:
    """``m + log1p(sum exp(x - m) less one maximum's 1)`` along the last axis of values
    (..., n), as (..., 1): log1p keeps the digits of a rest far below 1, where ``log``
    of the rounded sum would lose them."""
    row_max = np.maximum.reduce(values, axis=-1, keepdims=True)
    finite_max = np.isfinite(row_max)
    safe_max = np.where(finite_max, row_max, 0)
    with np.errstate(over="ignore"):  # a gap past the range: -inf, whose exp is 0
        exp_shifted = np.subtract(values, safe_max, order="C")  # C: reshaped as a view below
    np.exp(exp_shifted, out=exp_shifted)
    first_max = np.argmax(values, axis=-1).ravel()
    exp_shifted.reshape(-1, values.shape[-1])[np.arange(first_max.size), first_max] = 0
    rest = np.add.reduce(exp_shifted, axis=-1, keepdims=True)
    log_total = np.log1p(rest, out=rest)
    log_total += safe_max
    return np.where(finite_max, log_total, row_max)


def linear(
    x: np.ndarray, weight: np.ndarray, bias: np.ndarray | None, activation: str | None
) -> Any:
    """``activation(x @ weight + bias)`` in the product's own buffer, or NotImplemented
    for an activation this module does not know; x (..., in), weight (in, out)."""
    apply_activation = ACTIVATIONS_IN_PLACE.get(activation, NotImplemented)
    if apply_activation is NotImplemented:
        return NotImplemented
    output = np.matmul(x, weight)
    if bias is not None:
        output += bias
    return output if apply_activation is None else apply_activation(output)


def sigmoid(x: np.ndarray) -> Any:
    """SciPy's ``expit`` (as stable as the kernel's formula) into a new array: one call, not
    the formula's six, on several threads for a large array (``_numpy_threads``); float32
    and float64 (others: NotImplemented)."""
    if x.dtype.char not in "fd":
        return NotImplemented
    result = np.empty_like(x)
    cut_axis = 0 if x.ndim > 0 else None
    _numpy_threads.in_parts_where_large(_sigmoid_into, (x, result), cut_axis=cut_axis)
    return result


def _sigmoid_into(source: np.ndarray, output: np.ndarray) -> None:
    _sigmoid(output, source=source)


def _relu(output: np.ndarray) -> np.ndarray:
    return np.maximum(output, 0, out=output)


def _tanh(output: np.ndarray) -> np.ndarray:
    return np.tanh(output, out=output)


def _sigmoid(output: np.ndarray, source: np.ndarray | None = None) -> np.ndarray:
    """``expit(source)`` into ``output`` (by default in place)."""
    from scipy.special import expit  # stable: exp(-|x|) only, as the kernels' sigmoid

    return expit(output if source is None else source, out=output)


def _gelu(output: np.ndarray) -> np.ndarray:
    """``x / 2 (1 + erf(x / sqrt 2))`` with one extra buffer (and the erf's scratch)."""
    factor = np.divide(output, _SQRT_2)
    _numpy_special.erf_in_place(factor)
    factor += 1
    output *= 0.5
    output *= factor
    return output


def _gelu_tanh(output: np.ndarray) -> np.ndarray:
    """``x / 2 (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))`` with one extra buffer."""
    factor = np.multiply(output, output)
    factor *= output
    factor *= 0.044715
    factor += output
    factor *= _SQRT_2_OVER_PI
    np.tanh(factor, out=factor)
    factor += 1
    output *= 0.5
    output *= factor
    return output


ACTIVATIONS_IN_PLACE: dict[str | None, Callable[[np.ndarray], np.ndarray] | None] = {
    None: None,
    "relu": _relu,
    "gelu": _gelu,
    "gelu_tanh": _gelu_tanh,
    "sigmoid": _sigmoid,
    "tanh": _tanh,
}
"""Each activation of ``mlpillars.kernels.activations``, overwriting its argument."""


def _blocks(*arrays: np.ndarray, axis: int) -> Iterator[tuple[np.ndarray, ...]]:
    """Matching slices of ``arrays`` (same shape but possibly length 1 at ``axis``), each
    about ``BLOCK_ELEMENTS`` elements of the first, cut along axis 0 (axis 1 when ``axis``
    is 0); a 1-D array, or one of at most ``BLOCK_ELEMENTS``, is one block (no slicing:
    small calls are bound by their per-call cost)."""
    first = arrays[0]
    if first.ndim == 1 or first.size <= BLOCK_ELEMENTS:
        yield arrays
        return
    cut_axis = 1 if axis == 0 else 0
    length = first.shape[cut_axis]
    step = max(1, BLOCK_ELEMENTS // max(first.size // length, 1))
    leading = (slice(None),) * cut_axis
    for start in range(0, length, step):
        index = (*leading, slice(start, start + step))
        yield tuple(array[index] for array in arrays)


def _shifted(
    block: np.ndarray, out: np.ndarray | None, axis: int, temperature: float
) -> np.ndarray:
    """``(block - max) / T`` written into ``out`` (a new array for None), or into a new
    float32 buffer when ``out`` is float16; returns where it was written."""
    computed = _computed_dtype(block.dtype)
    if out is not None and computed != out.dtype:
        out = None
    row_max = np.maximum.reduce(block, axis=axis, keepdims=True)
    work = np.subtract(block, row_max, out=out, dtype=computed)
    if temperature != 1.0:
        work /= temperature
    return work


def _narrow_into(out: np.ndarray, work: np.ndarray) -> None:
    if work is not out:
        out[...] = work


def _computed_dtype(dtype: np.dtype) -> np.dtype:
    """float32 for float16 (its exponentials and sums), else the dtype itself."""
    return np.dtype(np.float32) if dtype == np.float16 else dtype
