"""Data frames and object arrays at the edge of the scikit-learn estimators: numbers held
as Python objects converted as scikit-learn converts them, the column names a fit was
given (``feature_names_in_``), and results wrapped as pandas or polars frames where
``set_output`` asks for them, as scikit-learn's transformers do. The arrays inside
stay this library's: a frame is made of the result's host copy."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._movement import host_arrays

OUTPUTS = ("default", "pandas", "polars")
"""scikit-learn's ``set_output(transform=...)`` choices (None leaves the choice as it is)."""


def numbers_of_objects(X: Any) -> Any:
    """X itself, or where it holds Python objects (a NumPy array of dtype object, a frame
    whose columns do), their float64 copy, as scikit-learn's ``check_array`` converts
    them; NumPy's ``TypeError`` for an object that is no number. The kernels refuse
    object arrays, which NumPy makes of strings, None and ragged lists alike."""
    if isinstance(X, np.ndarray):
        return X.astype(np.float64) if X.dtype == object else X
    dtypes = getattr(X, "dtypes", None)  # a pandas or polars frame
    if dtypes is not None and getattr(X, "columns", None) is not None:
        values = np.asarray(X)
        return values.astype(np.float64) if values.dtype == object else X
    return X


def feature_names_of(X: Any) -> np.ndarray | None:
    """A data frame's column names as scikit-learn keeps them (an object array of str),
    or None: for an array, or columns that are not all strings (pandas' default integer
    columns), as scikit-learn's ``_get_feature_names``; ``TypeError`` where some are
    strings and some not (scikit-learn's too)."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = list(columns)
    strings = [isinstance(name, str) for name in names]
    if names and all(strings):
        return np.asarray(names, dtype=object)
    if any(strings):
        kinds = sorted({type(name).__name__ for name in names})
        raise TypeError(
            f"X's column names must all be strings or none of them (scikit-learn's rule); "
            f"got {', '.join(kinds)}: convert them, e.g. X.columns = X.columns.astype(str)"
        )
    return None


def wrapped_output(
    result: Any, output: str, column_names: Callable[[], Sequence[str]], like: Any
) -> Any:
    """``result`` (n, k) as the ``output`` container: itself for ``"default"``, else a
    pandas or polars frame of its host copy with the columns ``column_names()`` gives
    (asked only for a frame), keeping ``like``'s index where ``like`` is a pandas frame
    (as scikit-learn's ``set_output``)."""
    if output == "default":
        return result
    columns = column_names()
    (values,) = host_arrays(result)
    if output == "pandas":
        import pandas

        index = like.index if isinstance(like, pandas.DataFrame) else None
        return pandas.DataFrame(values, columns=list(columns), index=index)
    import polars

    return polars.DataFrame(values, schema=list(columns), orient="row")
