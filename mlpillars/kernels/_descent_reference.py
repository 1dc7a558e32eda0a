"""The MSE's quadratic expanded around other weights than 0, so that its loss history
stays accurate near the optimum.

``d^T Q d + 2 h^T d + var(y)`` (the statistics of :mod:`._descent_statistics`) is the
small difference of large terms when the fit is good: its error is about eps times the
terms' sizes (near the optimum about ``4 eps var(y)``), against a loss that may be far
smaller. :func:`rows_needing_reference` tells, from the history and the terms at the final
weights, where that error would exceed a tenth of rtol; the loop then runs again on
:func:`around_reference`: the same quadratic expanded around the first run's final
weights, its constant term the loss computed directly from the data there. The terms left
are then small near the optimum, and the history agrees with the direct formula
``mean((X w + b - y)^2)`` as closely as the direct formula agrees with itself. (Diverged
problems keep the expansion around 0: around their far-off weights the start would cancel
instead.) Eagerly, for small problems (:data:`SOLVE_FIRST_BUDGET`),
:func:`around_the_minimum` decides before the loop instead, from the loss at each
problem's minimiser (one batched solve), and expands around that minimiser: the loop runs
once (8 problems of n x 16 float32, 50 steps, n = 64 to 1024: 4.4-5.3 -> 3.0 ms). Where
the Gram is singular (collinear features) the solve may put that minimiser anywhere along
the Gram's null directions, as far as ``1e8`` out, where the terms are ``1e16`` and
cancel: the check after the loop, which sizes the terms at the weights reached, then runs
the loop again around them. It does so too where the weights lost digits to a minimiser
far from where the loop went (features of 1e-3: minimisers of 1e3, weights of 1e-2 after
40 steps). A minimiser is not taken where the start's intercept term would cancel around
it (features far from zero: ``x̄^T w*`` ~ 1e4).

Whether the loop runs again is decided from values: eagerly by a Python ``if``; where
values cannot be read (``jax.jit``, ``torch.compile``, a GPU) by
:func:`mlpillars.backends.branch`, inside the program (JAX: ``lax.cond``, so a jitted fit
of well-scaled data runs one loop).
"""

from __future__ import annotations

from typing import Any

from ..backends import device_of, values_at_hand, vecdot
from ..tolerances import tolerance_for
from ._descent_objectives import MseStatistics
from ._descent_statistics import mean_and_centred
from ._floating import narrowed, widened

SOLVE_FIRST_BUDGET = 2**20
"""``B * d**3`` up to which an eager fit solves for each problem's minimiser before its
loop (:func:`around_the_minimum`): 8 problems of 16 features cost 40 us against the
second loop it saves (about 2 ms); 256 of 32 would cost 4 ms of a 50 ms fit, for a
second loop that well-scaled float64 data never need."""


def around_the_minimum(
    statistics: MseStatistics, features: Any, targets: Any, l2: float, *, xp: Any
) -> MseStatistics:
    """The quadratic expanded around each problem's minimiser ``w* = -Q^{-1} h`` where
    the loss there (``c + h^T w*``) is small enough that :func:`rows_needing_reference`
    would ask for a second loop, and the start (w = 0) keeps its digits around it: the
    loop then runs once, its terms small near the optimum (and, far from it, all of one
    sign). Only eagerly, with values at hand, and within
    :data:`SOLVE_FIRST_BUDGET`; elsewhere (and where the solve fails) ``statistics``
    as given, and the second loop where it is needed."""
    curvature, linear = statistics.curvature, statistics.linear
    batch_size, n_features = linear.shape
    if batch_size * n_features**3 > SOLVE_FIRST_BUDGET or not values_at_hand(linear):
        return statistics
    curvature = xp.broadcast_to(curvature, (batch_size, n_features, n_features))
    try:  # half precision solved in float32: NumPy's and torch's solve take neither
        solved = xp.linalg.solve(widened(curvature, xp=xp), widened(-linear[..., None], xp=xp))
    except (ValueError, RuntimeError):  # a singular Q (NumPy's LinAlgError, torch's)
        return statistics
    minimiser = narrowed(solved[..., 0], linear, xp=xp)
    optimum = statistics.offset + vecdot(linear, minimiser, xp=xp)
    # needed where the optimum's loss is below the rounding there; kept where the start
    # (w = 0, loss c) keeps its digits around the minimiser, which a far-off one (a
    # singular Q's: ``minimiser + t v`` for Q v = 0, any t) would not, nor one whose
    # intercept term cancels at the start (features far from zero: x̄^T w* ~ 1e4)
    rounding = _rounding(statistics, minimiser, xp=xp)
    start = rounding + _start_intercept_rounding(statistics, minimiser, xp=xp)
    rows = (rounding > _allowed(optimum)) & (start <= _allowed(statistics.offset))
    rows = rows & xp.isfinite(optimum)
    if not bool(xp.any(rows)):
        return statistics
    return around_reference(statistics, features, targets, minimiser, rows, l2, xp=xp)


def rows_needing_reference(
    statistics: MseStatistics,
    around_zero: MseStatistics,
    history: Any,
    params: Any,
    diverged: Any,
    *,
    xp: Any,
) -> Any:
    """The problems (B,) whose smallest loss is small enough against the rounding of the
    expansion's terms at their final params (B, p) that its error could exceed a tenth of
    rtol, or whose weights lost digits to the reference (:func:`_weights_lost_digits`),
    leaving out diverged ones, and those whose start would lose digits in the second
    loop (``around_zero`` expanded around their weights).

    The last keeps the history's first rows where the loop went far from the start while
    its loss grew, not yet flagged as diverging (lr 500 times the stable one, 2 steps,
    features of 1e3 around 1e4: the second loop's first row was 2.4x and 10x off in
    float32): there the second loop would trade the start's digits for the end's, whose
    loss is larger still.
    """
    weights = params[:, : statistics.curvature.shape[-1]]
    delta = weights if statistics.reference is None else weights - statistics.reference
    delta = xp.where(diverged[:, None], xp.zeros_like(delta), delta)  # as below
    rounding = _rounding(statistics, delta, xp=xp)
    rows = rounding > _allowed(xp.min(history, axis=0))
    if statistics.reference is not None:
        rows = rows | _weights_lost_digits(weights, statistics.reference, xp=xp)
    # the same sizes at 0 around the weights; a diverged run's weights (left out below;
    # inf, NaN or 1e300) as 0, so that no inf - inf or overflow warns
    kept = xp.isfinite(weights) & ~diverged[:, None]
    finite = xp.where(kept, weights, xp.zeros_like(weights))
    start = _rounding(around_zero, finite, xp=xp)
    start = start + _start_intercept_rounding(around_zero, finite, xp=xp)
    return rows & (start <= _allowed(history[0, ...])) & ~diverged


def _weights_lost_digits(weights: Any, reference: Any, *, xp: Any) -> Any:
    """The problems (B,) whose weights (B, d), ``delta + reference``, may err by more than a
    tenth of rtol of their largest: about eps times the reference's largest, which a
    minimiser far from where the loop went makes large (features of 1e-3: a minimiser of
    3e3, weights of 1e-2 after 45 steps, float32: 2e-4 off, 2% of them)."""
    if weights.shape[-1] == 0:
        return xp.zeros(weights.shape[:1], dtype=xp.bool, device=device_of(weights))
    largest = xp.max(xp.abs(weights), axis=-1)
    rounding = xp.finfo(weights.dtype).eps * xp.max(xp.abs(reference), axis=-1)
    return rounding > _allowed(largest)


def _rounding(statistics: MseStatistics, delta: Any, *, xp: Any) -> Any:
    """The expansion's rounding error at ``delta`` (B, d): eps times the sizes of its terms
    ``c + |delta|^T |Q| |delta| + 2 |h|^T |delta|`` (B,). Near the optimum of an expansion
    around 0 the three are about var(y) each, and cancel; around a far-off reference they
    are as large as it is far."""
    size = xp.abs(delta)
    curved = (size[:, None, :] @ xp.abs(statistics.curvature))[:, 0, :]
    terms = statistics.offset + vecdot(size, curved + 2 * xp.abs(statistics.linear), xp=xp)
    return xp.finfo(terms.dtype).eps * terms


def _start_intercept_rounding(statistics: MseStatistics, minimiser: Any, *, xp: Any) -> Any:
    """The rounding of the start's intercept term (B,) in the expansion of ``statistics``
    (around 0) around ``minimiser`` (B, d: a minimiser, or weights reached); 0 without an
    intercept.

    There ``e = b + x̄^T delta - ȳ'`` at ``delta = -w*``, ``b = 0`` and ``ȳ' = ȳ - x̄^T w*``:
    ``-ȳ``, from two terms of size ``|x̄|^T |w*|`` that cancel where the features are far
    from zero (a mean of 1e4 and weights of 1: 1e4 each, so that float32's e errs by 1e-3,
    and e^2 by 1e-3 of ȳ). e errs by about eps S, ``S = |x̄|^T |w*| + |ȳ'|`` (sized here
    by its bound ``2 |x̄|^T |w*| + |ȳ|``, of absolute values: no inf - inf), and e^2 by
    ``eps S (2 |e| + eps S)``. The expansion's other terms are :func:`_rounding`'s, sized
    at the minimiser (they are the same at the start around it).
    """
    if statistics.feature_mean is None:
        return xp.zeros_like(statistics.offset)
    target_mean = statistics.target_mean
    mean_size = vecdot(xp.abs(statistics.feature_mean), xp.abs(minimiser), xp=xp)
    sizes = 2 * mean_size + xp.abs(target_mean)  # |ȳ'| at most |ȳ| + |x̄|^T |w*|
    error = xp.finfo(sizes.dtype).eps * sizes
    return error * (2 * xp.abs(target_mean) + error)


def _allowed(loss: Any) -> Any:
    """The rounding error a loss (B,) can take: a tenth of the table's rtol of it."""
    return tolerance_for(loss.dtype).rtol / 10 * loss


def around_reference(
    statistics: MseStatistics,
    features: Any,
    targets: Any,
    weights: Any,
    rows: Any,
    l2: float,
    *,
    xp: Any,
) -> MseStatistics:
    """The same quadratic expanded around ``weights`` (B, d) in the problems ``rows`` (B,)
    where they are finite, around 0 in the others.

    Its constant term is the loss at the reference computed from the data (the centred
    residual's mean square, plus the penalty); its linear term ``Q w - X_c^T y / n``.
    A reference far from the optimum (a diverged problem's weights) would make the
    expansion cancel at the start instead: those problems keep 0.
    """
    finite = xp.all(xp.isfinite(weights), axis=-1) & rows
    reference = xp.where(finite[:, None], weights, xp.zeros_like(weights))
    residual = (features @ reference[..., None])[..., 0] - targets  # (B, n)
    if statistics.feature_mean is not None:
        _, residual = mean_and_centred(residual, xp=xp)
    offset = xp.mean(residual * residual, axis=-1)
    if l2:
        offset = offset + l2 * xp.sum(reference * reference, axis=-1)
    linear = (statistics.curvature @ reference[..., None])[..., 0] + statistics.linear
    target_mean = statistics.target_mean
    if target_mean is not None:
        target_mean = target_mean - vecdot(statistics.feature_mean, reference, xp=xp)
    return statistics._replace(
        linear=linear, offset=offset, target_mean=target_mean, reference=reference
    )
