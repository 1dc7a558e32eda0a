r"""Linear regression in closed form, and its score: ``least_squares`` and ``r_squared``.

``least_squares`` is the exact minimiser that :func:`.gradient_descent.gradient_descent`
approaches step by step, for B problems at once: the QR factorisation of the (centred)
design and one triangular solve, both batched (through :func:`mlpillars.backends.qr` and
:func:`mlpillars.backends.solve_triangular`, which cope with a backend's 2-D-only routines;
``_regression_qr``).
"""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..backends import (
    kernel,
    materialize,
    quiet_arithmetic,
    reduce_max,
    values_readable,
    without_gradient,
)
from ._checks import check_flag, is_empty, regression_problems, shape_text
from ._floating import as_floating, narrowed, widened
from ._fused import FusedLeastSquares, FusedRSquared
from ._magnitudes import centred_twice, shrink_factors
from ._regression_checks import check_determined, non_finite_problems
from ._regression_qr import column_norms, solve_by_qr


class LeastSquaresResult(NamedTuple):
    """What :func:`least_squares` returns: ``weights`` (B, d) or (d,), ``bias`` (B,) or ()."""

    weights: Any
    bias: Any


@kernel(arrays=("X", "y"), known_sizes=True)
def least_squares(
    X: Any,
    y: Any,
    /,
    *,
    fit_intercept: bool = True,
    xp: Any,
    fused: FusedLeastSquares | None = None,
) -> LeastSquaresResult:
    r"""The closed-form linear regression, by QR of the (centred) design.

    .. math:: \min_{w, b} \lVert Xw + b - y\rVert^2: \quad X_c = QR, \quad
              R w = Q^T y_c, \quad b = \bar y - \bar x^T w

    where ``X_c, y_c`` are X and y minus their column means, centred twice (the second
    pass takes out the rounding of a large mean: y of 1e8 + N(0, 1) in float32); without
    an intercept X, y, and b = 0. QR avoids both the tutorial's explicit inverse and the
    squared condition number of the normal equations ``(X^T X)^{-1} X^T y``. float16 and
    bfloat16 inputs are solved in float32 and the results cast back.

    Parameters
    ----------
    X : array, shape (B, n, d), (n, d) or (n,)
        Full column rank (after centring), n > d with an intercept, n >= d without. The
        rank is judged on the scaled problem, as LAPACK's rank-revealing solvers do: column
        j is dependent when the part of it independent of the columns before it (R's
        diagonal entry) is at most ``max(n, d) * eps`` of its norm after centring,
        whatever the columns' units, plus ``eps`` of its norm before: a column that
        varies by no more than its values' round-off is the intercept's (float32 data of
        1e4 +- 1 are not). X and y must be finite. With d = 0 the weights are empty and
        the bias is the mean of y (0 without an intercept).
    y : array, shape (B, n) or (n,)
        A (B, n) y with a 2-D X solves B right-hand sides with one factorisation; a 3-D X
        is factorised once per problem (one batched call).

    Returns
    -------
    LeastSquaresResult
        ``(weights, bias)``: (B, d) and (B,) when batched, else (d,) and ().

    Raises
    ------
    ValueError
        Where the values can be read (not inside ``jax.jit``, ``jax.vmap`` or
        ``torch.compile``; on a GPU after one sync, as a fit's answer is read anyway): for
        NaN or infinity in X or y (naming which, and where), and for a rank-deficient X
        (naming the first dependent column). Where they cannot, that problem's weights and
        bias are NaN instead, on every backend.

    Notes
    -----
    Where the framework has its own fit (``FusedLeastSquares``: NumPy's by LAPACK), it is
    offered the checked problems and answers where they pass its checks; the formula
    runs otherwise, and raises the errors above.
    """
    fit_intercept = check_flag("least_squares", "fit_intercept", fit_intercept)
    X, y = as_floating(X, y, xp=xp, kernel="least_squares", names=("X", "y"))
    features, targets, batch_size, batched = regression_problems("least_squares", X, y, None, xp=xp)
    like = targets  # half precision is solved in float32, then cast back
    features, targets = (
        widened(xp.astype(features, targets.dtype, copy=False), xp=xp),
        widened(targets, xp=xp),
    )
    check_determined(features.shape, fit_intercept)
    if fused is not None and not (is_empty(features) or is_empty(targets)):
        fitted = fused(features, targets, fit_intercept=fit_intercept, xp=xp)
        if fitted is not NotImplemented:
            return _as_result(*fitted, batch_size, batched, like, xp=xp)
    # (1 or B, d), (1 or B,); a NaN or infinity in a column makes its mean one, and where
    # the values can be read, an error that names it (a sum's overflow: no warning first)
    with quiet_arithmetic(features, when=values_readable(features)):
        feature_means, target_means = materialize(
            xp.mean(features, axis=-2), xp.mean(targets, axis=-1)
        )
    not_finite = non_finite_problems(features, targets, feature_means, target_means, xp=xp)
    if features.shape[-1] == 0:
        bias = _intercept_only(target_means, not_finite, fit_intercept, xp=xp)
        return _as_result(features[:, 0, :], bias, batch_size, batched, like, xp=xp)
    raw_norms = None  # the columns' norms before centring (without an intercept: R's)
    if fit_intercept:
        raw_norms = column_norms(features, xp=xp)
        features, feature_means = centred_twice(features, feature_means[:, None, :], axis=-2, xp=xp)
        targets, target_means = centred_twice(targets, target_means[:, None], axis=-1, xp=xp)
        feature_means, target_means = feature_means[:, 0, :], target_means[:, 0]
    weights, rank_deficient = solve_by_qr(features, targets, raw_norms, xp=xp)
    invalid = rank_deficient if not_finite is None else not_finite | rank_deficient
    weights = xp.where(invalid, xp.full_like(weights, math.nan), weights)
    if fit_intercept:
        bias = target_means - xp.sum(weights * feature_means, axis=-1)
    else:
        bias = xp.where(invalid[:, 0], weights[:, 0], xp.zeros_like(weights[:, 0]))
    return _as_result(weights, bias, batch_size, batched, like, xp=xp)


def _intercept_only(target_means: Any, not_finite: Any, fit_intercept: bool, *, xp: Any) -> Any:
    """The bias (1 or B,) of problems without features: the mean of y with an intercept,
    else 0 (as ``numpy.linalg.lstsq`` and :func:`.descent.gradient_descent` answer); NaN
    for a problem with a non-finite y where that could not raise (traced)."""
    bias = target_means if fit_intercept else xp.zeros_like(target_means)
    if not_finite is None:
        return bias
    return xp.where(not_finite[:, 0], xp.full_like(bias, math.nan), bias)


def _as_result(
    weights: Any, bias: Any, batch_size: int, batched: bool, like: Any, *, xp: Any
) -> LeastSquaresResult:
    """Weights (1 or B, d) and bias (1 or B,) as the kernel returns them: B rows, in the
    inputs' dtype (``like``), without the batch axis for one unbatched problem."""
    weights = narrowed(xp.broadcast_to(weights, (batch_size, weights.shape[-1])), like, xp=xp)
    bias = narrowed(xp.broadcast_to(bias, (batch_size,)), like, xp=xp)
    if batched:
        return LeastSquaresResult(weights, bias)
    return LeastSquaresResult(weights[0, ...], bias[0, ...])


@kernel(arrays=("y_true", "y_pred"), known_sizes=True)
def r_squared(y_true: Any, y_pred: Any, /, *, xp: Any, fused: FusedRSquared | None = None) -> Any:
    r"""Coefficient of determination along the last axis.

    .. math:: R^2 = 1 - \frac{\sum_i (y_i - \hat y_i)^2}{\sum_i (y_i - \bar y)^2}

    A constant ``y_true`` gives 1 for a perfect prediction and 0 otherwise (as
    scikit-learn's ``r2_score``). ``y_true`` less its first sample, and the errors
    ``y_pred - y_true``, are each scaled by their largest magnitude, which R^2 does not
    see: the sums of squares then neither lose the digits of data far from zero (float32
    values of 1e8 + N(0, 1)) nor overflow (float32 values of 1e30, float16 errors of 300
    against a spread of 1), and a constant y_true is exactly constant. Slices of values
    near the largest float are first scaled by an exact power of two, so that their
    differences cannot overflow (1e308 and -1e308). float16 and bfloat16 are computed in
    float32 and cast back.

    Parameters
    ----------
    y_true, y_pred : array, shape (..., n)
        n >= 1 samples along the last axis (n = 0 raises ``ValueError``, as scikit-learn).

    Returns
    -------
    array, shape (...)

    Notes
    -----
    Where the framework has its own (``FusedRSquared``: NumPy's sums the squares unscaled
    where that is safe), it is offered the checked arrays, and this formula for the
    slices it does not trust.
    """
    y_true, y_pred = as_floating(
        y_true, y_pred, xp=xp, kernel="r_squared", names=("y_true", "y_pred")
    )
    if tuple(y_true.shape) != tuple(y_pred.shape) or y_true.ndim == 0 or y_true.shape[-1] == 0:
        raise ValueError(
            f"r_squared: y_true and y_pred must have one shape with at least one sample "
            f"along the last axis; got y_true: {shape_text(y_true)}, y_pred: "
            f"{shape_text(y_pred)}"
        )
    like = y_true
    y_true, y_pred = widened(y_true, xp=xp), widened(y_pred, xp=xp)
    if fused is not None and not is_empty(y_true):
        score = fused(y_true, y_pred, xp=xp, scaled=_scaled_score)
        if score is not NotImplemented:
            return narrowed(score, like, xp=xp)
    return narrowed(_scaled_score(y_true, y_pred, xp=xp), like, xp=xp)


def _scaled_score(y_true: Any, y_pred: Any, *, xp: Any) -> Any:
    """R^2 (...) of y_true and y_pred (..., n), n >= 1, by the scaled sums of squares
    (see :func:`r_squared`); offered to a framework's own for the slices it does not
    trust."""
    y_true, y_pred = _in_range(y_true, y_pred, xp=xp)
    true_scaled, spread = _scaled(y_true - y_true[..., :1], xp=xp)
    error_scaled, miss = _scaled(y_pred - y_true, xp=xp)
    residual_sum = xp.sum(error_scaled**2, axis=-1)
    centred = true_scaled - xp.mean(true_scaled, axis=-1, keepdims=True)
    total_sum = xp.sum(centred**2, axis=-1)
    constant, exact = total_sum == 0, residual_sum == 0
    ratio = residual_sum / xp.where(constant, xp.ones_like(total_sum), total_sum)
    # SS_res / SS_tot = scale**2 * ratio, multiplied so that it overflows only where the
    # quotient does; scale is 1 where the score does not depend on it (no inf * 0).
    scale = (miss / xp.where((constant | exact)[..., None], miss, spread))[..., 0]
    ratio = (scale * ratio) * scale
    return xp.where(constant, xp.astype(exact, ratio.dtype), 1 - ratio)


def _in_range(y_true: Any, y_pred: Any, *, xp: Any) -> tuple[Any, Any]:
    """Both (..., n) multiplied by ``_magnitudes.SHRINK`` in the slices whose largest
    magnitude passes ``_magnitudes.HUGE`` (R^2 does not see the scale): their differences
    then stay finite, and dividing by the largest of them never takes a subnormal
    reciprocal."""
    if is_empty(y_true):  # zero problems: nothing to reduce
        return y_true, y_pred
    largest = xp.maximum(
        reduce_max(xp.abs(y_true), axis=-1, keepdims=True, xp=xp),
        reduce_max(xp.abs(y_pred), axis=-1, keepdims=True, xp=xp),
    )
    shrink = shrink_factors(largest, xp=xp)
    if shrink is None:
        return y_true, y_pred
    return y_true * shrink, y_pred * shrink


def _scaled(deviations: Any, *, xp: Any) -> tuple[Any, Any]:
    """``deviations / s`` and ``s`` (..., 1), s their largest magnitude along the last
    axis (1 where that is 0, infinite or NaN).

    y_true less its first sample and the errors ``y_pred - y_true`` are scaled each by
    its own s: their squares neither overflow (float16 errors of 300) nor vanish among
    the subnormals (a float16 error of one ulp of 1), and a constant y_true is exactly 0.

    s passes no gradient (:func:`~mlpillars.backends.without_gradient`): the score divides
    by each s and multiplies by it again, so its gradient cancels exactly, and computing
    it overflowed: JAX's derivative of ``d / s``, ``-d * s**-2``, is inf at ``s = 4e-30``
    in float32 (float32 data of 1e-30: NaN gradients, truly about 1e29).
    """
    if is_empty(deviations):  # zero problems (n >= 1 is checked): nothing to reduce
        return deviations, xp.ones_like(deviations[..., :1])
    largest = without_gradient(reduce_max(xp.abs(deviations), axis=-1, keepdims=True, xp=xp))
    largest = xp.where(xp.isfinite(largest) & (largest > 0), largest, xp.ones_like(largest))
    return deviations / largest, largest
