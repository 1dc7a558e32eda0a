"""NumPy's sums of squares: ``normalize``, ``cosine_similarity`` and ``r_squared``.

The kernels' formulas scale every vector by its largest magnitude (``normalize``) or by
its spread (``r_squared``) before squaring, so that no square overflows or falls among
the subnormals: some ten array calls, most of them passes over the data. Here the squares
are summed as they are, in the passes a hand-written NumPy formula makes, and a slice's
sum is trusted where it is finite and at least ``length * tiny / eps``: there no square
overflowed, and the subnormals' rounding (at most ``tiny * eps / 2`` a square) is below
``eps**2`` of the sum. The slices not trusted (huge or tiny values, zero vectors, inf or
NaN) are computed again by the kernel's scaled formula, offered with the call.
float32 and float64 only (float16's squares overflow above 256: the kernel's formula).

Thread time against the plain NumPy formula of each (``x / np.linalg.norm(x, axis=-1,
keepdims=True)``, ``1 - ((t - p)**2).sum(-1) / ((t - t.mean(-1))**2).sum(-1)``), float32,
two rounds each on the project's 2-core EPYC: normalize (64, 64) 2.6-2.7x -> 1.8-2.0x,
(1024, 64) 2.3-2.4x -> 0.7-0.9x; cosine_similarity (32, 64) x (17, 64) 2.8-3.2x ->
2.3-2.4x; r_squared (8, 256) 4.6-4.9x -> 2.0-2.1x, (8, 32768) 2.3-2.7x -> 1.3-1.4x.
Then ``np.vecdot`` for short contiguous rows, one ``np.errstate`` for both of cosine's
operands and its clip as two ufunc calls (two rounds each, side by side):
cosine_similarity 1.91-2.05x -> 1.72-1.73x, r_squared (8, 256) 1.75-1.89x -> 1.54-1.56x,
normalize as it was (1.4x at (64, 64), 0.65x at (1024, 64)).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

_LIMITS = {
    np.dtype(dtype): (float(np.finfo(dtype).tiny / np.finfo(dtype).eps), float(np.finfo(dtype).max))
    for dtype in (np.float32, np.float64)
}
"""``tiny / eps`` and the largest finite value, by dtype (``np.finfo`` costs ~1 us a call)."""


def normalize(x: np.ndarray, axis: int, scaled: Callable[[np.ndarray], np.ndarray]) -> Any:
    """``x / ||x||`` along ``axis`` (zero vectors zero); float32 and float64, else
    NotImplemented. The sums of squares directly; the untrusted vectors, rows (k, n) of
    the last axis, by the kernel's formula, ``scaled(rows)``."""
    if x.dtype.char not in "fd":
        return NotImplemented
    with np.errstate(over="ignore"):  # an overflowing sum is untrusted: computed again
        unit = _unit_rows(_rows(x, axis), scaled)  # a view of x, axis last
    return _rows(unit, axis, back=True)


def cosine_similarity(
    a: np.ndarray, b: np.ndarray, scaled: Callable[[np.ndarray], np.ndarray]
) -> Any:
    """The rows' cosine similarities (n, m), clipped to [-1, 1] in place; the rows
    normalised as :func:`normalize`."""
    if a.dtype.char not in "fd" or b.dtype.char not in "fd":
        return NotImplemented
    with np.errstate(over="ignore"):  # one context for both (about 1 us each)
        a_unit, b_unit = _unit_rows(a, scaled), _unit_rows(b, scaled)
    similarity = np.matmul(a_unit, b_unit.T)
    np.minimum(similarity, 1.0, out=similarity)  # np.clip: 1.5 us more, in its wrappers
    return np.maximum(similarity, -1.0, out=similarity)


def _unit_rows(rows: np.ndarray, scaled: Callable[[np.ndarray], np.ndarray]) -> np.ndarray:
    """``rows / ||rows||`` along the last axis, in rows' memory order; the untrusted ones
    by ``scaled``. An overflow warns as the caller's ``np.errstate`` has it."""
    norms = _summed_squares(rows)
    again = untrusted(norms, rows.shape[-1])
    if again is not None:
        norms[again] = 1  # no warning for 0 / 0; these vectors are recomputed below
    unit = np.divide(rows, np.sqrt(norms, out=norms)[..., None])
    if again is not None:
        unit[again] = scaled(rows[again])
    return unit


def r_squared(
    y_true: np.ndarray, y_pred: np.ndarray, scaled: Callable[[np.ndarray, np.ndarray], Any]
) -> Any:
    """``1 - SS_res / SS_tot`` along the last axis (..., n), n >= 1; float32 and
    float64, else NotImplemented.

    ``SS_tot`` of y_true less its first sample (its mean then keeps the digits of data far
    from zero), ``SS_res`` of ``y_pred - y_true``; a row whose two sums are not both
    trusted (a constant y_true among them) is computed again by the kernel's formula,
    ``scaled(y_true_rows, y_pred_rows)``.
    """
    if y_true.dtype.char not in "fd" or y_pred.dtype != y_true.dtype or y_true.size == 0:
        return NotImplemented
    with np.errstate(all="ignore"):  # overflow or inf - inf: such rows are redone below
        shifted = np.subtract(y_true, y_true[..., :1])
        mean = np.add.reduce(shifted, axis=-1, keepdims=True)  # np.mean: 10 us in checks
        shifted -= np.divide(mean, shifted.shape[-1], out=mean)
        total_sum = _summed_squares(shifted)
        residual_sum = _summed_squares(np.subtract(y_pred, y_true))
    again = untrusted(total_sum, y_true.shape[-1], residual_sum)
    if again is not None:
        total_sum[again] = 1  # no warning for x / 0; these rows are recomputed below
    result = np.divide(residual_sum, total_sum, out=residual_sum)
    np.subtract(1, result, out=result)
    if again is not None:
        result[again] = scaled(y_true[again], y_pred[again])
    return result


SHORT_ROWS = 256
"""Rows of at most this length are summed in one pass, with no temporary: by ``np.vecdot``
where their last axis is contiguous (NumPy >= 2; rows of 64: 1.6 us a (16, 64) float64
call against einsum's 3.4, 15 against 21 us at (1024, 64)), else by ``np.einsum`` (3-4x
faster than squares then a sum on rows of 64; a strided view, as least squares' columns,
2x faster than ``vecdot``). Their running sums err by at most ``length * eps`` (float32:
3e-5 of the sum at 256, under the table's rtol of 1e-4). Longer rows: the squares, then
NumPy's pairwise sum."""

_VECDOT = getattr(np, "vecdot", None)  # NumPy >= 2.0


def sums_of_squares(rows: np.ndarray) -> np.ndarray:
    """``sum(rows**2)`` along the last axis: an array of shape rows.shape[:-1] (0-d for a
    vector); an overflow gives inf with no warning."""
    with np.errstate(over="ignore"):
        return _summed_squares(rows)


def _summed_squares(rows: np.ndarray) -> np.ndarray:
    """:func:`sums_of_squares`, an overflow warning as the caller's ``np.errstate`` has
    it (einsum never warns)."""
    if rows.shape[-1] > SHORT_ROWS:
        return np.asarray(np.add.reduce(np.square(rows), axis=-1))
    if _VECDOT is not None and rows.strides[-1] == rows.itemsize:
        return np.asarray(_VECDOT(rows, rows))
    return np.asarray(np.einsum("...i,...i->...", rows, rows))


def untrusted(sums: np.ndarray, length: int, others: np.ndarray | None = None) -> Any:
    """None where every one of ``sums`` (of ``length`` squares) is finite and at least
    ``length * tiny / eps`` (and every one of ``others`` finite), else a bool mask of
    those that are not. Two reductions to a number decide the common case."""
    floor, largest = _LIMITS[sums.dtype]
    floor *= length
    if sums.size == 0 or (
        float(np.minimum.reduce(sums, axis=None)) >= floor
        and float(np.maximum.reduce(sums, axis=None)) <= largest
        and (others is None or float(np.maximum.reduce(others, axis=None)) <= largest)
    ):
        return None
    doubtful = ~((sums >= floor) & (sums <= largest))
    return doubtful if others is None else doubtful | ~(others <= largest)


def _rows(array: np.ndarray, axis: int, back: bool = False) -> np.ndarray:
    """A view with ``axis`` last (``back``: the view of such an array with its last axis
    moved to ``axis``); the array itself when ``axis`` is the last."""
    if axis in (-1, array.ndim - 1):
        return array
    return np.moveaxis(array, -1, axis) if back else np.moveaxis(array, axis, -1)
