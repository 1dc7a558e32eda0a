"""The kernels' inputs in one real floating dtype: cast to it, or refused (with the
kernel and the argument named) where they hold no real numbers; half precision computed
in float32 and cast back."""

from __future__ import annotations

from typing import Any

import array_api_extra as xpx

from ..backends import COMPUTED_FLOATING, device_of, is_dtype
from ..tolerances import dtype_name


class ComplexDataError(TypeError, ValueError):
    """A complex array where real numbers are needed: a ``TypeError`` (a dtype refused)
    that is also the ``ValueError`` scikit-learn raises for complex data, so that code
    written for either catches it."""


def as_floating(
    *arrays: Any, xp: Any, kernel: str = "", names: tuple[str, ...] = ()
) -> tuple[Any, ...]:
    """Cast the arrays to one real floating dtype (``None`` entries pass through).

    The dtype is the promotion of the floating inputs; integer and boolean inputs alone
    become the namespace's default float (float64 for NumPy, float32 for torch). A
    floating array in the other byte order (big-endian data read on a little-endian
    machine) counts as its dtype and is copied into the machine's order, as NumPy's own
    calls return it.

    Parameters
    ----------
    *arrays : array or None
    xp : namespace
    kernel : str
        The kernel's name, for errors.
    names : tuple of str
        The arrays' argument names, in order, for errors.

    Raises
    ------
    TypeError
        For an array of any other dtype (complex, object, text, a floating dtype outside
        the tolerance table such as longdouble), naming the kernel and the argument: a
        complex array is never silently cast to real.
    """
    if _one_floating_dtype(arrays, xp=xp):
        return arrays  # the common call, without the loop
    dtype = None
    for index, array in enumerate(arrays):
        if array is None:
            continue
        array_dtype = array.dtype
        if not is_dtype(array_dtype, "real floating", xp=xp):
            check_real_dtype(kernel, _name_at(names, index), array, xp=xp)
            if not is_dtype(array_dtype, "byte-swapped", xp=xp):
                continue
            array_dtype = xp.result_type(array_dtype)  # the same, in the machine's byte order
        if dtype is None:
            dtype = array_dtype
        elif array_dtype != dtype:
            dtype = xp.result_type(dtype, array_dtype)
    if dtype is None:
        present = next(array for array in arrays if array is not None)
        dtype = xpx.default_dtype(xp, device=device_of(present))
    return tuple(
        array if array is None or array.dtype == dtype else xp.astype(array, dtype)
        for array in arrays
    )


def as_floating_array(array: Any, *, xp: Any, kernel: str = "", name: str = "") -> Any:
    """:func:`as_floating` of one array: the array itself where it is real floating (one
    dict lookup: an 8 x 16 softmax is mostly its calls), else cast or refused as there."""
    if is_dtype(array.dtype, "real floating", xp=xp):
        return array
    return as_floating(array, xp=xp, kernel=kernel, names=(name,))[0]


def _one_floating_dtype(arrays: tuple[Any, ...], *, xp: Any) -> bool:
    """Whether the arrays (none of them None) share one real floating dtype."""
    first = arrays[0]
    if first is None:
        return False
    dtype = first.dtype
    for array in arrays[1:]:
        if array is None or array.dtype != dtype:
            return False
    return is_dtype(dtype, "real floating", xp=xp)


def check_real_dtype(kernel: str, name: str, array: Any, *, xp: Any) -> None:
    """Raise ``TypeError`` unless ``array`` holds real numbers: bool, integer or floating.

    Complex input is refused rather than cast (a cast drops the imaginary part without a
    word); object and text arrays are what NumPy makes of ragged lists, strings or None.
    """
    if is_dtype(array.dtype, "real floating", xp=xp) or is_dtype(
        array.dtype, "byte-swapped", xp=xp
    ):
        return
    if is_dtype(array.dtype, "bool", xp=xp) or is_dtype(array.dtype, "integral", xp=xp):
        return
    if is_dtype(array.dtype, "uncomputed floating", xp=xp):
        raise TypeError(
            f"{kernel}: {name} has dtype {dtype_name(array.dtype)}, which mlpillars does not "
            f"compute in (it has no tolerance for it, and most frameworks no such dtype); "
            f"the floating dtypes it computes in are {', '.join(COMPUTED_FLOATING)} (half "
            f"precision where the framework has it): cast {name} to float64 first"
        )
    if is_dtype(array.dtype, "complex floating", xp=xp):
        raise ComplexDataError(
            f"{kernel}: {name} is complex ({array.dtype}). Complex data not supported: "
            "mlpillars computes real values only and never drops an imaginary part (scipy's "
            "softmax and logsumexp take complex input); pass the real part or the magnitude"
        )
    raise TypeError(
        f"{kernel}: {name} must hold real numbers (a bool, integer or floating dtype); got "
        f"dtype {array.dtype}{_OBJECT_HINT if _is_object_or_text(array) else ''}"
    )


_OBJECT_HINT = (
    " (NumPy makes object or text arrays of strings, None, ragged nested lists and mixed content)"
)


def _is_object_or_text(array: Any) -> bool:
    return getattr(array.dtype, "kind", "") in ("O", "U", "S")


def _name_at(names: tuple[str, ...], index: int) -> str:
    return names[index] if index < len(names) else f"input {index}"


def widened(array: Any, *, xp: Any) -> Any:
    """``array`` in float32 when it is float16 or bfloat16, else as it is.

    Reductions and exponentials of half-precision inputs are computed in float32 and the
    result cast back (as torch does for its half softmax): float16 cannot hold 1 / 1e-6,
    and some backends flush its subnormals to zero.
    """
    return xp.astype(array, xp.float32) if is_dtype(array.dtype, "half", xp=xp) else array


def narrowed(result: Any, like: Any, *, xp: Any) -> Any:
    """``result`` cast back to ``like``'s dtype (undoes :func:`widened`)."""
    return result if result.dtype == like.dtype else xp.astype(result, like.dtype)
