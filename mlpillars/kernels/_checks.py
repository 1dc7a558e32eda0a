"""Argument checks shared by the kernels: each error names the kernel, the argument,
the shapes involved, and what would be valid. The dtype checks, and the casts to one
real floating dtype, are :mod:`._floating`'s."""

from __future__ import annotations

import math
import numbers
from typing import Any


def shape_text(array: Any) -> str:
    """``(32, 784)`` for an array of that shape (``(3,)`` for one dimension)."""
    return str(tuple(array.shape))


def check_ndim(kernel: str, name: str, array: Any, allowed: tuple[int, ...]) -> None:
    """Raise unless ``array.ndim`` is one of ``allowed`` (an ascending tuple)."""
    if array.ndim not in allowed:
        wanted = _ranks_text(allowed)
        raise ValueError(
            f"{kernel}: {name} must be {wanted}, got {array.ndim}-D ({name}: {shape_text(array)})"
        )


def _ranks_text(allowed: tuple[int, ...]) -> str:
    """``1-D or 2-D``; a run of more than three ranks as its ends, ``1-D to 32-D``
    (normalize's 32 ranks written out made a 300-character message)."""
    if len(allowed) > 3 and allowed == tuple(range(allowed[0], allowed[-1] + 1)):
        return f"{allowed[0]}-D to {allowed[-1]}-D"
    return " or ".join(f"{n}-D" for n in allowed)


def check_axis(kernel: str, name: str, array: Any, axis: int) -> int:
    """Return ``axis`` as a non-negative index, or raise naming the valid range."""
    ndim = array.ndim
    if type(axis) is not int and not is_integer(axis):
        raise TypeError(f"{kernel}: axis must be an integer, got {type(axis).__name__} {axis!r}")
    if -ndim <= axis < ndim:
        return axis % ndim
    if ndim == 0 and axis in (0, -1):  # a 0-d array as one entry (SciPy, torch)
        return 0
    raise ValueError(
        f"{kernel}: axis {axis} is out of range for {name} of shape {shape_text(array)}; "
        f"valid axes are {-ndim} to {ndim - 1}"
    )


def is_empty(x: Any) -> bool:
    """Whether ``x`` has an axis of length 0 (its shape is known while tracing)."""
    return 0 in tuple(x.shape)


def first_true(flags: Any, *, xp: Any) -> int:
    """The flat index of the first True in ``flags`` (read: only on an error path)."""
    return int(xp.argmax(xp.reshape(xp.astype(flags, xp.int32), (-1,))))


def true_count(flags: Any, *, xp: Any) -> int:
    """How many entries of ``flags`` are True (read: only on an error path)."""
    return int(xp.sum(xp.astype(flags, xp.int32)))


def check_positive_number(kernel: str, name: str, value: object, hint: str = "") -> float:
    """Return ``value`` as a float if it is a finite number > 0, else raise."""
    if type(value) is float and 0 < value < math.inf:  # the common call, in one test
        return value
    number = _real_number(kernel, name, value)
    if not 0 < number < math.inf:
        raise ValueError(f"{kernel}: {name} must be a finite number > 0, got {value!r}{hint}")
    return number


def check_number(
    kernel: str,
    name: str,
    value: object,
    *,
    low: float,
    high: float = math.inf,
    allow_low: bool = True,
) -> float:
    """Return ``value`` as a float if ``low <= value < high`` (``low < value`` when not
    ``allow_low``) and finite, else raise naming the interval."""
    number = _real_number(kernel, name, value)
    above = number >= low if allow_low else number > low
    if not (above and number < high and number < math.inf):
        interval = f"{'[' if allow_low else '('}{low:g}, {high:g})"
        raise ValueError(f"{kernel}: {name} must lie in {interval}, got {value!r}")
    return number


def check_int(kernel: str, name: str, value: object, *, minimum: int) -> int:
    """Return ``value`` as an int if it is an integer >= ``minimum`` (a Python or NumPy
    integer, not a bool), else raise."""
    if not is_integer(value) or value < minimum:
        raise ValueError(f"{kernel}: {name} must be an integer >= {minimum}, got {value!r}")
    return int(value)


def check_flag(kernel: str, name: str, value: object) -> bool:
    """Return ``value`` as a bool if it is one (Python's, or a 0-d boolean array such as
    NumPy's ``np.True_``), else raise: ``fit_intercept="no"`` was read as True."""
    if isinstance(value, bool):
        return value
    if getattr(value, "shape", None) == () and str(getattr(value, "dtype", "")) == "bool":
        return bool(value)  # type: ignore[arg-type]
    raise ValueError(f"{kernel}: {name} must be True or False, got {value!r}")


def is_real_number(value: object) -> bool:
    """A Python or NumPy real number (``np.float32(0.5)`` too), not a bool or an array."""
    if type(value) in _PLAIN_NUMBERS:  # the common case, without an ABC check
        return True
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


_PLAIN_NUMBERS = (float, int)


def is_integer(value: object) -> bool:
    """A Python or NumPy integer (``np.int64(10)`` too), not a bool."""
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _real_number(kernel: str, name: str, value: object) -> float:
    if not is_real_number(value):
        raise TypeError(f"{kernel}: {name} must be a number, got {type(value).__name__}")
    return float(value)


def check_choice(kernel: str, name: str, value: object, valid: tuple[str, ...]) -> str:
    """Return ``value`` if it is one of ``valid``, else raise listing them."""
    if value not in valid:
        raise ValueError(
            f"{kernel}: unknown {name} {value!r}; valid values are {', '.join(map(repr, valid))}"
        )
    return value  # type: ignore[return-value]


def regression_problems(
    kernel: str, X: Any, y: Any, lr: Any, *, xp: Any
) -> tuple[Any, Any, int, bool]:
    """A regression call's problems, checked and given a leading batch axis.

    Parameters
    ----------
    X : array, shape (B, n, d), (n, d) or (n,)
        Features; a 1-D X is one feature.
    y : array, shape (B, n) or (n,)
    lr : array, shape (B,) or (), optional
        Learning rates, for a kernel that takes them (``None`` otherwise).

    Returns
    -------
    features : array, shape (1 or B, n, d)
    targets : array, shape (1 or B, n)
    batch_size : int
        B, the leading axis the inputs share (1 when none has one).
    batched : bool
        Whether any input has the batch axis (the result then keeps it).
    """
    check_ndim(kernel, "X", X, (1, 2, 3))
    check_ndim(kernel, "y", y, (1, 2))
    if lr is not None:
        check_ndim(kernel, "lr", lr, (0, 1))
    features = xp.reshape(X, (1, X.shape[0], 1)) if X.ndim == 1 else X
    features = features if features.ndim == 3 else xp.expand_dims(features, axis=0)
    targets = y if y.ndim == 2 else xp.expand_dims(y, axis=0)
    if features.shape[1] != targets.shape[1] or features.shape[1] == 0:
        raise ValueError(
            f"{kernel}: X and y must have the same number of samples n >= 1; got "
            f"X: {shape_text(X)} (n = {features.shape[1]}), y: {shape_text(y)} "
            f"(n = {targets.shape[1]})"
        )
    leading = {"X": X.shape[0] if X.ndim == 3 else None, "y": y.shape[0] if y.ndim == 2 else None}
    if lr is not None:
        leading["lr"] = lr.shape[0] if lr.ndim == 1 else None
    sizes = {size for size in leading.values() if size is not None}
    if len(sizes) > 1:  # a leading 1 is shared by the others' B problems, as NumPy broadcasts
        sizes.discard(1)
    if len(sizes) > 1:
        found = ", ".join(f"{name}: {size}" for name, size in leading.items() if size is not None)
        raise ValueError(
            f"{kernel}: the batch sizes B disagree ({found}); X (B, n, d), y (B, n) and "
            f"lr (B,) must share B (or 1, shared by the B problems), or be unbatched: "
            f"X (n, d), y (n,), scalar lr"
        )
    batched = bool(sizes)
    return features, targets, sizes.pop() if batched else 1, batched
