"""The MSE's sufficient statistics, expanded around w = 0.

Computed once per call: the Gram ``X^T X`` (one batched product), and the column sums
and ``X^T (y - ȳ)`` together in a second, ``X^T [y - ȳ, 1]``; X is never copied to
append a column of ones. y is centred in two passes (the second removes the rounding of
a large ȳ).

Centring cancels: the centred Gram ``X^T X / n - x̄ x̄^T`` loses the digits of features
whose mean is large against their spread (``X + 1e4``). Where that loss exceeds a
hundredth of the tolerance table's rtol, X is centred first (one copy of X) and both
products taken of the centred data. The choice is made from values: eagerly by a Python
``if``; where values cannot be read (``jax.jit``, ``torch.compile``, a GPU) by
:func:`mlpillars.backends.branch`, inside the program (JAX: ``lax.cond``, so a jitted fit
of well-scaled data copies no X).

The other cancellation, of the loss near the optimum, and the statistics expanded around
other weights that avoid it, are :mod:`._descent_reference`'s.
"""

from __future__ import annotations

from typing import Any

import array_api_compat as aac

from ..backends import branch, device_of, values_at_hand
from ..tolerances import tolerance_for
from ._descent_objectives import MseStatistics
from ._magnitudes import centred_twice


def mse_statistics(
    features: Any, targets: Any, l2: float, fit_intercept: bool, *, xp: Any
) -> MseStatistics:
    """The statistics of B problems: features (1 or B, n, d), targets (1 or B, n).

    Returns
    -------
    MseStatistics
        Expanded around w = 0 (``reference`` None); see its formula.
    """
    n = features.shape[-2]
    if not fit_intercept:
        gram = _gram(features, xp=xp)
        linear = -(xp.matrix_transpose(features) @ targets[..., None])[..., 0] / n
        offset = xp.mean(targets * targets, axis=-1)
        return MseStatistics(_penalised(gram, l2, xp=xp), linear, offset, None, None, None)
    target_mean, centred_targets = mean_and_centred(targets, xp=xp)
    gram, cross, feature_mean = _centred_products(features, centred_targets, xp=xp)
    offset = xp.mean(centred_targets * centred_targets, axis=-1)
    return MseStatistics(
        _penalised(gram, l2, xp=xp), -cross, offset, feature_mean, target_mean, None
    )


def overflowed(statistics: MseStatistics, *, xp: Any) -> bool:
    """Whether, where values can be read now, the statistics of finite data are not all
    finite: sums of squares past the dtype's range (float32 features of 1e20, whose
    steps from the data stay finite). False where they cannot be read (a tracer, a GPU,
    Dask): there such a fit's losses are not finite and its problems flagged diverged."""
    terms = (statistics.curvature, statistics.linear, statistics.offset)
    if not values_at_hand(*terms):
        return False
    return not all(bool(xp.all(xp.isfinite(term))) for term in terms)


def mean_and_centred(targets: Any, *, xp: Any) -> tuple[Any, Any]:
    """ȳ (B,) and y - ȳ (B, n), centred twice: the second pass removes the rounding of
    a large ȳ, which ``X^T (y - ȳ)`` would otherwise multiply by X's column sums."""
    first_mean = xp.mean(targets, axis=-1, keepdims=True)
    centred, mean = centred_twice(targets, first_mean, axis=-1, xp=xp)
    return mean[..., 0], centred


def _gram(features: Any, *, xp: Any) -> Any:
    """``X^T X / n`` (1 or B, d, d), divided in place where the framework allows it.

    Each new array of this size is a fresh mapping on NumPy (glibc returns blocks of
    2 MiB to the system when freed): 512 page faults, 1.5-2.5 ms on this project's VM."""
    gram = xp.matrix_transpose(features) @ features
    gram /= features.shape[-2]
    return gram


def _centred_products(features: Any, centred_targets: Any, *, xp: Any) -> tuple[Any, Any, Any]:
    """``X_c^T X_c / n`` (1 or B, d, d), ``X_c^T y_c / n`` (B, d) and x̄ (B, d).

    From the uncentred products where that keeps enough digits, else from a centred copy
    of X; where the check's value cannot be read (a tracer, a GPU) the choice is made
    inside the program (:func:`mlpillars.backends.branch`).
    """
    n = features.shape[-2]
    one_row = xp.ones((1, n), dtype=centred_targets.dtype, device=device_of(centred_targets))
    ones = xp.broadcast_to(one_row, centred_targets.shape)  # no slice: B may be 0
    columns = xp.stack([centred_targets, ones], axis=-2)  # (B, 2, n)
    # rows times X: (B, 2, d) in one pass over X (the column form was 2.6x slower on NumPy)
    products = columns @ features / n
    cross, feature_mean = products[:, 0, :], products[:, 1, :]
    mean = feature_mean[: features.shape[0], ...]
    gram = _gram(features, xp=xp)
    squared_means = mean * mean
    variances = xp.linalg.diagonal(gram) - squared_means
    budget = tolerance_for(features.dtype).rtol / 100 / xp.finfo(features.dtype).eps
    digits_kept = xp.all(squared_means + variances <= budget * variances)
    operands = (features, centred_targets, gram, cross, mean)
    gram, cross = branch(digits_kept, _from_uncentred, _from_centred_copy, operands)
    return gram, cross, feature_mean


def _from_uncentred(
    features: Any, centred_targets: Any, gram: Any, cross: Any, mean: Any
) -> tuple[Any, Any]:
    """The centred Gram as ``X^T X / n - x̄ x̄^T``; the cross product as it is."""
    centred = -mean[:, :, None] * mean[:, None, :]
    centred += gram  # one new (B, d, d) array, not two (the operand is not changed)
    return centred, cross


def _from_centred_copy(
    features: Any, centred_targets: Any, gram: Any, cross: Any, mean: Any
) -> tuple[Any, Any]:
    """Both products of ``X - x̄``: one copy of X, no cancellation."""
    xp = aac.array_namespace(features)
    n = features.shape[-2]
    centred = features - mean[:, None, :]
    cross = (centred_targets[:, None, :] @ centred)[:, 0, :] / n
    return xp.matrix_transpose(centred) @ centred / n, cross


def _penalised(gram: Any, l2: float, *, xp: Any) -> Any:
    if not l2:
        return gram
    identity = xp.eye(gram.shape[-1], dtype=gram.dtype, device=device_of(gram))
    return gram + l2 * identity
