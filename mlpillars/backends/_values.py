"""Reading a call's non-array inputs (Python numbers and lists, pandas objects) as arrays.

Only the dispatch's slow path comes here: an input that no framework owns. What cannot be
read as numbers raises a ``TypeError`` that names the kernel and the argument and says
what would be valid, instead of an error from deep inside NumPy or a framework.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._movement import move_to
from ._selection import Target

_PYTHON_VALUES = (bool, int, float, complex, list, tuple)
"""Inputs the target namespace's ``asarray`` reads itself."""

_NEVER_ARRAYS = (str, bytes, dict, set, frozenset)
"""Inputs refused up front: NumPy would make a text or object array of them."""

_NUMBER_KINDS = "biufc"
"""NumPy dtype kinds of numbers (complex is refused later, by the kernel, by name)."""

VALID = (
    "an array (NumPy, torch, JAX, CuPy, Dask, array-api-strict), a number, a (nested) "
    "list of numbers with equal lengths along each axis, or an object NumPy reads as "
    "numbers (e.g. a pandas DataFrame)"
)


def read_value(
    kernel_name: str, label: str, value: Any, target: Target, float_dtype: Any = None
) -> Any:
    """``value``, which no framework owns, as an array of ``target``.

    Python numbers and lists go to the target namespace's ``asarray`` (floats in
    ``float_dtype`` when given); anything else NumPy reads as numbers (a pandas
    DataFrame or Series, a ``memoryview``, an ``np.matrix``) is read with ``np.asarray``
    first, as a NumPy call would, then moved.

    Raises
    ------
    TypeError
        For None, text, dicts and sets, ragged lists, objects that are not numbers, and
        NumPy's masked arrays (whose mask would be lost), naming the kernel and ``label``.
    """
    if value is None or isinstance(value, _NEVER_ARRAYS):
        raise unreadable(kernel_name, label, value)
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{kernel_name}: {label} is a masked array (numpy.ma), whose mask the kernels "
            f"would drop; pass {label}.filled(value) to compute with the masked entries "
            f"replaced, or np.asarray({label}) to compute with them as they are"
        )
    if not isinstance(value, _PYTHON_VALUES):
        value = _host_numbers(kernel_name, label, value)
    try:
        return move_to(value, target, float_dtype=float_dtype)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise unreadable(kernel_name, label, value, error) from error


def _host_numbers(kernel_name: str, label: str, value: Any) -> np.ndarray:
    """``np.asarray(value)``, when that gives numbers."""
    try:
        host = np.asarray(value)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise unreadable(kernel_name, label, value, error) from error
    if host.dtype.kind not in _NUMBER_KINDS:
        densify = _densify_call(value)
        if densify is not None:
            raise TypeError(
                f"{kernel_name}: {label} is a sparse {type(value).__name__}, and the kernels "
                f"compute on dense arrays: pass {label}.{densify}()"
            )
        raise TypeError(
            f"{kernel_name}: {label} must hold numbers; NumPy reads this "
            f"{type(value).__name__} as dtype {host.dtype} (convert its columns to numbers "
            f"first, e.g. np.asarray({label}, dtype=float)); valid: {VALID}"
        )
    return host


def _densify_call(value: Any) -> str | None:
    """The method that makes a sparse array (SciPy's, JAX's BCOO, pydata's) dense, where
    ``value`` has one: SciPy's ``todense`` of a matrix is an ``np.matrix``."""
    for method in ("toarray", "todense"):
        if callable(getattr(value, method, None)):
            return method
    return None


def unreadable(
    kernel_name: str, label: str, value: Any, error: Exception | None = None
) -> TypeError:
    """The error for an input that is no array and cannot be read as one."""
    shown = "None" if value is None else f"{type(value).__name__} {_short_repr(value)}"
    reason = f" ({error})" if error is not None else ""
    return TypeError(
        f"{kernel_name}: {label} is not an array of numbers: got {shown}{reason}; valid: {VALID}"
    )


def unmovable(kernel_name: str, label: str, array: Any, spec: str, error: Exception) -> TypeError:
    """The error for an array of one backend that the selected one cannot take."""
    kind = getattr(getattr(array, "dtype", None), "kind", "f")
    if kind not in _NUMBER_KINDS:
        return TypeError(
            f"{kernel_name}: {label} must hold real numbers (a bool, integer or floating "
            f"dtype); got dtype {array.dtype}, which {spec} cannot take ({error})"
        )
    return TypeError(f"{kernel_name}: {label} could not be moved onto {spec}: {error}")


def _short_repr(value: Any, limit: int = 40) -> str:
    text = " ".join(repr(value).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."
