"""Argument handling shared by the Python-loop and Numba baselines.

Everything here runs once per call, before and after the loops: checks, the float dtype,
and reshaping leading dimensions away (free for C-contiguous NumPy arrays).
"""

from __future__ import annotations

from typing import Any

import numpy as np

ACTIVATION_CODES: dict[str | None, int] = {
    None: 0,
    "relu": 1,
    "gelu": 2,
    "gelu_tanh": 3,
    "sigmoid": 4,
    "tanh": 5,
}
"""Activation names the baselines accept, with the integer code the Numba loops branch on."""

REDUCTIONS = ("mean", "sum", "none")
SUPPORTED_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def activation_code(kernel: str, activation: object) -> int:
    """The code of an activation name; callables are outside the baselines' subset."""
    if not isinstance(activation, (str, type(None))) or activation not in ACTIVATION_CODES:
        valid = ", ".join(map(repr, ACTIVATION_CODES))
        raise ValueError(
            f"{kernel} baseline: activation must be one of {valid}; got {activation!r}"
        )
    return ACTIVATION_CODES[activation]


def float_dtype(kernel: str, *arrays: Any) -> np.dtype:
    """The floating dtype of a call: the promotion of the floating inputs.

    Integer or boolean inputs alone give float64, as NumPy's default float. Only float32
    and float64 are in the baselines' subset (Numba has no float16 arithmetic).
    """
    present = [np.asarray(array) for array in arrays if array is not None]
    floating = [array.dtype for array in present if array.dtype.kind == "f"]
    dtype = np.result_type(*floating) if floating else np.dtype(np.float64)
    if dtype not in SUPPORTED_FLOATS:
        raise TypeError(f"{kernel} baseline: supports float32 and float64 inputs, got {dtype}")
    return dtype


def as_rows(kernel: str, name: str, array: Any, dtype: np.dtype | None) -> np.ndarray:
    """``array`` of shape (..., n) as a C-contiguous (rows, n) array of ``dtype``."""
    values = np.ascontiguousarray(array, dtype=dtype)
    if values.ndim == 0:
        raise ValueError(f"{kernel} baseline: {name} must have at least one dimension")
    return values.reshape(-1, values.shape[-1])


def check_last_axis(kernel: str, array: Any, axis: int) -> None:
    """The baselines reduce along the last axis only."""
    ndim = np.ndim(array)
    if axis not in (-1, ndim - 1):
        raise ValueError(
            f"{kernel} baseline: supports the last axis only (axis=-1); got axis={axis} for "
            f"a {ndim}-D input (move the axis last first)"
        )


def check_positive(kernel: str, name: str, value: float) -> float:
    """``value`` as a float if it is finite and > 0."""
    if not 0 < float(value) < float("inf"):
        raise ValueError(f"{kernel} baseline: {name} must be a finite number > 0, got {value!r}")
    return float(value)


def check_choice(kernel: str, name: str, value: object, valid: tuple[str, ...]) -> None:
    """Raise unless ``value`` is one of ``valid``."""
    if value not in valid:
        raise ValueError(f"{kernel} baseline: {name} must be one of {valid}; got {value!r}")


def check_same_last_dimension(kernel: str, a: np.ndarray, b: np.ndarray, names: str) -> None:
    """Raise unless two arrays share their last dimension."""
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"{kernel} baseline: {names} need the same last dimension; got {a.shape} and {b.shape}"
        )


def check_weight(kernel: str, fan_in: int, weight: np.ndarray, bias: Any) -> None:
    """weight (in, out) for ``fan_in`` input features, bias (out,) or None."""
    if weight.ndim != 2 or weight.shape[0] != fan_in:
        raise ValueError(
            f"{kernel} baseline: weight must be (in, out) = ({fan_in}, out); got {weight.shape}"
        )
    if bias is not None and np.shape(bias) != (weight.shape[1],):
        raise ValueError(
            f"{kernel} baseline: bias must have shape ({weight.shape[1]},); got {np.shape(bias)}"
        )


def attention_batches(
    q: Any, k: Any, v: Any, dtype: np.dtype | None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, tuple[int, ...]]:
    """q (..., L, E), k (..., S, E), v (..., S, Ev) as C-contiguous (batch, ., .) arrays.

    Returns the three arrays and the leading shape the output takes back.
    """
    arrays = [np.ascontiguousarray(array, dtype=dtype) for array in (q, k, v)]
    leading = arrays[0].shape[:-2]
    if any(array.ndim < 2 or array.shape[:-2] != leading for array in arrays):
        raise ValueError(
            "scaled_dot_product_attention baseline: q, k, v need the same leading dimensions "
            f"(no broadcasting, no GQA); got {[array.shape for array in arrays]}"
        )
    queries, keys, values = (array.reshape(-1, *array.shape[-2:]) for array in arrays)
    if queries.shape[2] != keys.shape[2] or keys.shape[1] != values.shape[1]:
        raise ValueError(
            "scaled_dot_product_attention baseline: need q (..., L, E), k (..., S, E), "
            f"v (..., S, Ev); got {[array.shape for array in arrays]}"
        )
    return queries, keys, values, leading


def additive_mask(
    mask: Any, batch: int, target_length: int, source_length: int, dtype: np.dtype
) -> np.ndarray:
    """The mask as additive scores of shape (1 or batch, L, S) in ``dtype``.

    A boolean mask (True = may attend) becomes 0 / -inf; a float mask is added as it is.
    ``None`` gives an empty (0, 0, 0) array: the loops then skip the mask.
    """
    if mask is None:
        return np.empty((0, 0, 0), dtype)
    mask = np.asarray(mask)
    if mask.dtype == np.bool_:
        mask = np.where(mask, dtype.type(0), dtype.type(-np.inf))
    scores_shape = (target_length, source_length)
    if mask.shape == scores_shape:
        return np.ascontiguousarray(mask, dtype=dtype).reshape(1, *scores_shape)
    flat = np.ascontiguousarray(mask, dtype=dtype).reshape(-1, *mask.shape[-2:])
    if flat.shape != (batch, *scores_shape):
        raise ValueError(
            "scaled_dot_product_attention baseline: mask must be (L, S) or the full "
            f"(..., L, S); got {mask.shape} for scores of shape (..., {target_length}, "
            f"{source_length})"
        )
    return flat


def regression_problems(
    kernel: str, features: Any, targets: Any, dtype: np.dtype | None
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """X (n, d) with y (n,), or B problems X (B, n, d) with y (B, n), as 3-D and 2-D.

    Returns C-contiguous X (B, n, d), y (B, n) and the batch shape, () or (B,).
    """
    X = np.ascontiguousarray(features, dtype=dtype)
    y = np.ascontiguousarray(targets, dtype=dtype)
    if X.ndim not in (2, 3) or y.shape != X.shape[:-1]:
        raise ValueError(
            f"{kernel} baseline: needs X (n, d) with y (n,), or X (B, n, d) with y (B, n) "
            f"(no shared X or y, no 1-D X); got {X.shape} and {y.shape}"
        )
    return X.reshape(-1, *X.shape[-2:]), y.reshape(-1, y.shape[-1]), X.shape[:-2]


def check_components(kernel: str, features: Any, n_components: int) -> None:
    """X (n, d) with n >= 2 and 1 <= n_components <= d."""
    shape = np.shape(features)
    if len(shape) != 2 or shape[0] < 2:
        raise ValueError(f"{kernel} baseline: needs X of shape (n, d) with n >= 2; got {shape}")
    if not 1 <= n_components <= shape[1]:
        raise ValueError(
            f"{kernel} baseline: n_components must lie in [1, {shape[1]}]; got {n_components}"
        )


def check_determined(kernel: str, shape: tuple[int, ...], fit_intercept: bool) -> None:
    """Problems X (B, n, d) need n >= d, plus one sample for an intercept."""
    samples, width = shape[-2:]
    needed = width + int(fit_intercept)
    if samples < needed:
        raise ValueError(
            f"{kernel} baseline: X has {samples} samples for {width} features"
            f"{' and an intercept' if fit_intercept else ''}; need at least {needed}"
        )


def check_full_rank(kernel: str, diagonal: Any, samples: int, epsilon: float) -> None:
    """R's diagonal must be clear of round-off (the kernel's test), else X's columns are
    linearly dependent."""
    magnitudes = np.abs(np.asarray(diagonal, dtype=np.float64))
    floor = max(samples, magnitudes.size) * epsilon * float(np.max(magnitudes, initial=0.0))
    if magnitudes.size and bool(np.any(magnitudes <= floor)):
        raise ValueError(f"{kernel} baseline: X's columns are linearly dependent (rank deficient)")


def paired_rows(
    kernel: str, a: Any, b: Any, dtype: np.dtype | None
) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Two arrays of one shape (..., n) as C-contiguous (rows, n), and the leading shape."""
    first, second = (np.ascontiguousarray(array, dtype=dtype) for array in (a, b))
    if first.shape != second.shape or first.ndim == 0:
        raise ValueError(
            f"{kernel} baseline: needs two arrays of one shape with at least one axis; got "
            f"{first.shape} and {second.shape}"
        )
    leading = first.shape[:-1]
    return first.reshape(-1, first.shape[-1]), second.reshape(-1, second.shape[-1]), leading
