"""The one tolerance table: how close a kernel's result must be to a float64 reference.

Used by every tolerance test, by the benchmark harness's correctness gate and the demo,
and shown in the README. A result ``actual`` passes against ``expected`` when, elementwise,

    |actual - expected| <= atol * scale + rtol * |expected|,   scale = max(1, max |expected|)

that is NumPy's ``assert_allclose`` rule with the absolute tolerance measured in units of
the result's largest magnitude: rounding errors of sums and products grow with the size
of the values summed, so an entry near zero of a result whose entries reach 30 (a PCA
projection) carries an error of about 30 eps, not eps. For results of unit scale the rule
is NumPy's exactly. Equal infinities and NaN against NaN pass, as in ``assert_allclose``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Tolerance:
    """Relative and absolute tolerance for one dtype."""

    rtol: float
    atol: float


TOLERANCES: dict[str, Tolerance] = {
    # about 1e6 * eps: reductions and products over a few thousand terms stay well inside
    "float64": Tolerance(rtol=1e-9, atol=1e-11),
    # about 800 * eps: matmuls over hundreds of terms, exp/log and eigen-solvers
    "float32": Tolerance(rtol=1e-4, atol=1e-5),
    "float16": Tolerance(rtol=5e-3, atol=5e-3),
    "bfloat16": Tolerance(rtol=4e-2, atol=4e-2),
}
"""Tolerance by dtype name."""


def dtype_name(dtype: Any) -> str:
    """``"float32"`` for NumPy, torch, JAX, CuPy or array-api-strict float32 dtypes."""
    key = (type(dtype), dtype)  # numpy.dtype("float64") == float: types apart
    try:
        return _known_names[key]
    except (KeyError, TypeError):  # not seen yet, or unhashable
        pass
    if isinstance(dtype, type):  # a scalar type such as numpy.float32
        name = dtype.__name__
    else:
        name = str(dtype).rpartition(".")[2].removeprefix("dtype('").removesuffix("')")
    if len(_known_names) < 256:
        _known_names[key] = name
    return name


_known_names: dict[tuple[type, Any], str] = {}
"""(type, dtype) -> its name, as found: ``str`` of a NumPy dtype runs Python code (about 2 us),
and kernels ask for every call's tolerance."""


def tolerance_for(dtype: Any) -> Tolerance:
    """The tolerance of a dtype (object or name).

    Raises
    ------
    KeyError
        For a dtype that has no entry, listing those that do.
    """
    name = dtype_name(dtype)
    if name not in TOLERANCES:
        raise KeyError(f"no tolerance for dtype {name!r}; the table has {', '.join(TOLERANCES)}")
    return TOLERANCES[name]


def absolute_tolerance(expected: Any, tolerance: Tolerance) -> float:
    """``atol * max(1, max |expected|)`` over the finite entries of ``expected``."""
    magnitudes = np.abs(np.asarray(expected, dtype=np.float64))
    largest = float(np.max(magnitudes[np.isfinite(magnitudes)], initial=0.0))
    return tolerance.atol * max(1.0, largest)


def within_tolerance(actual: Any, expected: Any, tolerance: Tolerance) -> np.ndarray:
    """Elementwise: does ``actual`` pass against ``expected`` (see the module's rule)?"""
    actual = np.asarray(actual, dtype=np.float64)
    expected = np.asarray(expected, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        allowed = absolute_tolerance(expected, tolerance) + tolerance.rtol * np.abs(expected)
        close = np.abs(actual - expected) <= allowed
    return close | (actual == expected) | (np.isnan(actual) & np.isnan(expected))


def compare_outputs(
    actuals: list[Any], expecteds: list[Any], tolerance: Tolerance
) -> tuple[float, bool]:
    """The largest absolute error over paired arrays, and whether every element passes.

    A different number of arrays or a different shape fails, with an infinite error.
    """
    if len(actuals) != len(expecteds):
        return float("inf"), False
    max_error, passed = 0.0, True
    for actual, expected in zip(actuals, expecteds, strict=True):
        actual = np.asarray(actual, dtype=np.float64)
        expected = np.asarray(expected, dtype=np.float64)
        if actual.shape != expected.shape:
            return float("inf"), False
        max_error = max(max_error, float(np.max(np.abs(actual - expected), initial=0.0)))
        passed &= bool(np.all(within_tolerance(actual, expected, tolerance)))
    return max_error, passed


def error_fields(
    actuals: list[Any], expecteds: list[Any], tolerance: Tolerance
) -> dict[str, float]:
    """How close paired arrays came, as the benchmark gate records it in a case row.

    Returns
    -------
    dict
        ``max_rel_error``: the largest absolute error over the largest reference magnitude
        (normwise, so an entry near zero cannot blow it up); ``tolerance_fraction``: the
        largest error over what the rule of this module allows at that element (at most 1
        passes; entries that are equal, or NaN against NaN, count 0); ``rtol``, ``atol``:
        the tolerance held to. Infinite where the arrays cannot be compared.
    """
    held = {"rtol": tolerance.rtol, "atol": tolerance.atol}
    if len(actuals) != len(expecteds):
        return {"max_rel_error": math.inf, "tolerance_fraction": math.inf, **held}
    relative, fraction = 0.0, 0.0
    for actual, expected in zip(actuals, expecteds, strict=True):
        actual = np.asarray(actual, dtype=np.float64)
        expected = np.asarray(expected, dtype=np.float64)
        if actual.shape != expected.shape:
            return {"max_rel_error": math.inf, "tolerance_fraction": math.inf, **held}
        error = _errors(actual, expected)
        allowed = absolute_tolerance(expected, tolerance) + tolerance.rtol * np.abs(expected)
        with np.errstate(invalid="ignore", divide="ignore"):
            shares = np.where(error == 0, 0.0, error / allowed)
        fraction = max(
            fraction,
            float(np.max(np.nan_to_num(shares, nan=math.inf, posinf=math.inf), initial=0.0)),
        )
        largest = float(np.max(np.abs(expected[np.isfinite(expected)]), initial=0.0))
        worst = float(np.max(error, initial=0.0))
        if worst:
            relative = max(relative, worst / largest if largest else math.inf)
    return {"max_rel_error": relative, "tolerance_fraction": fraction, **held}


def _errors(actual: np.ndarray, expected: np.ndarray) -> np.ndarray:
    """``|actual - expected|``, 0 where equal (or NaN against NaN), infinite where not
    comparable (NaN against a number)."""
    actual, expected = np.atleast_1d(actual), np.atleast_1d(expected)
    with np.errstate(invalid="ignore"):
        error = np.abs(actual - expected)
    error[(actual == expected) | (np.isnan(actual) & np.isnan(expected))] = 0.0
    return np.nan_to_num(error, nan=math.inf, posinf=math.inf)


def tolerance_table_markdown() -> str:
    """The table as Markdown, as the README shows it."""
    rows = [f"| {name} | {tol.rtol:g} | {tol.atol:g} |" for name, tol in TOLERANCES.items()]
    return "\n".join(["| dtype | rtol | atol |", "| --- | --- | --- |", *rows])
