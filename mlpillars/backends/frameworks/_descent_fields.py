"""Gradient descent's answer as a framework's own implementation gives it, for problems
fitted in parts (Dask's chunks on their workers, NumPy's parts on threads): each part the
public kernel on NumPy, the parts' fields joined along the problems.

The fields are ``GradientDescentResult``'s, in its order (``FusedGradientDescent`` in
``mlpillars.kernels._descent_fused``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

FIELDS = ("weights", "bias", "loss_history", "diverged", "converged", "steps_run")
FIELD_DTYPES = ("float", "float", "float", "bool", "bool", "int64")
"""The fields' dtypes: "float" is the data's; the counts are NumPy's default integer, as
its kernel gives."""

HISTORY = FIELDS.index("loss_history")


def fitted_fields(
    features: np.ndarray,
    targets: np.ndarray,
    lr: np.ndarray,
    options: Mapping[str, Any],
    *,
    rows: int | None = None,
) -> tuple[np.ndarray, ...]:
    """The fields of one part's fits: the public kernel on NumPy (which checks lr and the
    labels), features (b, n, d) or shared (n, d), targets (b, n) or (n,), lr (b,);
    the history padded to ``rows`` with its last row (None: as the kernel gives it)."""
    from .._registry import KERNELS  # filled by the dispatch; no kernel module imported

    result = KERNELS["gradient_descent"](features, targets, lr=lr, backend="numpy", **options)
    history = result.loss_history if rows is None else padded(result.loss_history, rows)
    counts = result.steps_run.astype(FIELD_DTYPES[-1], copy=False)
    return result.weights, result.bias, history, result.diverged, result.converged, counts


def padded(history: np.ndarray, rows: int) -> np.ndarray:
    """The history (r, b) with its last row repeated up to ``rows`` rows (>= r): the rows
    a longer loop would have recorded for problems that had all stopped."""
    missing = rows - history.shape[0]
    if not missing:
        return history
    return np.concatenate([history, np.repeat(history[-1:], missing, axis=0)])


def joined(fits: list[tuple[np.ndarray, ...]]) -> tuple[np.ndarray, ...]:
    """The parts' fields (``FIELDS`` order) joined along the problems (the history's axis
    1), each history first padded to the longest's rows."""
    rows = max(fit[HISTORY].shape[0] for fit in fits)
    return tuple(
        np.concatenate([padded(fit[index], rows) for fit in fits], axis=1)
        if index == HISTORY
        else np.concatenate([fit[index] for fit in fits], axis=0)
        for index in range(len(FIELDS))
    )
