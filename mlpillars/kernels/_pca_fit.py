"""The PCA fit behind :mod:`.pca`'s kernels and class: the two solvers, scikit-learn's
signs, the choice of the number of components, and what projecting onto the fitted axes
takes from the fit (whether it centres first, the whitening spread); the projections
themselves are :mod:`._pca_transforms`'s."""

from __future__ import annotations

import math
from typing import Any, NamedTuple

from ..backends import (
    device_of,
    eigh,
    largest_magnitude,
    materialize,
    quiet_arithmetic,
    static_fields,
    values_at_hand,
)
from ..backends import svd as thin_svd
from ..tolerances import tolerance_for
from ._checks import check_choice, shape_text
from ._floating import narrowed, widened
from ._magnitudes import centred_and_correction
from ._pca_checks import (
    MLE,
    check_finite,
    check_matrix,
    check_mle_solver,
    checked_n_components,
    components_for_variance,
)
from ._pca_mle import mle_components
from ._pca_model import noise_variance

SOLVERS = ("auto", "covariance_eigh", "svd", "full")
"""The solver names; ``"full"`` is scikit-learn's name for ``"svd"``."""
AUTO_EIGH_MAX_FEATURES = 1000
AUTO_EIGH_MIN_SAMPLES_PER_FEATURE = 10


@static_fields("n_samples", "solver", "centred_projection")
class PCAFit(NamedTuple):
    r"""A fitted PCA: what :func:`pca_fit` returns and :class:`PCA` keeps.

    Attributes
    ----------
    components : array, shape (k, d)
        Principal axes as orthonormal rows, largest variance first.
    explained_variance : array, shape (k,)
        Variance along each axis, :math:`\lambda_i`.
    explained_variance_ratio : array, shape (k,)
        :math:`\lambda_i / \sum_j \lambda_j`, the sum running over all components (d for
        covariance_eigh, min(n, d) for svd), not only the k kept.
    singular_values : array, shape (k,)
        :math:`s_i = \sqrt{\lambda_i (n - 1)}`, singular values of the centred data.
    mean : array, shape (d,)
        Column means :math:`\mu`.
    mean_rounding : array, shape (d,)
        The exact column means less ``mean``: the rounding ``mean`` holds (an ulp of it,
        float32 means of 1e6: up to 0.06), which projections and reconstructions take out
        too. Against data of a spread of 0.1 around 1e6 it would move every projection by
        30% of its spread.
    noise_variance : array, shape ()
        :math:`\sigma^2`, the mean variance of the components left out (all of the
        solver's, past the k kept), 0 where k = min(n, d): scikit-learn's
        ``noise_variance_``, the probabilistic model's (:mod:`._pca_model`).
    noise_spread : array, shape ()
        :math:`\sigma`, the square root of ``noise_variance``, held where the variance is
        past the dtype's range (float32 data of 1e-30: a variance of 1e-60 is 0, its
        square root 1e-30): the model is computed from it and the components' spreads.
    spreads : array, shape (k,)
        Each component's standard deviation :math:`\sqrt{\lambda_i}`, in range where
        the variances and the singular values are not (float16 data of a spread of 300:
        variances of 9e4 and, of 60,000 samples, singular values of 7e4, both inf in
        float16): whitening and the model divide by these.
    n_samples : int
    solver : str
        The solver that ran, ``"covariance_eigh"`` or ``"svd"``.
    centred_projection : bool
        Whether projections centre X first (:func:`projection_cancels`).
    """

    components: Any
    explained_variance: Any
    explained_variance_ratio: Any
    singular_values: Any
    mean: Any
    mean_rounding: Any
    noise_variance: Any
    noise_spread: Any
    spreads: Any
    n_samples: int
    solver: str
    centred_projection: bool = False


def fit_pca(
    kernel_name: str, X: Any, n_components: int | float | str | None, solver: str, *, xp: Any
) -> PCAFit:
    """The fit behind both kernels, on a floating X already on its backend.

    float16 and bfloat16 data are fitted in float32 and the fitted arrays cast back.
    """
    check_matrix(kernel_name, "X", X)
    check_mle_solver(kernel_name, n_components, solver, SOLVERS)
    check_choice(kernel_name, "solver", solver, SOLVERS)
    n_samples, n_features = (int(size) for size in X.shape)
    if n_samples < 2:
        raise ValueError(
            f"{kernel_name}: X has {n_samples} sample(s) (X: {shape_text(X)}); PCA needs at "
            "least 2 samples, as the variance divides by n_samples - 1"
        )
    if n_features == 0:
        raise ValueError(
            f"{kernel_name}: found array with 0 feature(s) (shape=({n_samples}, 0)) while a "
            "minimum of 1 is required: PCA needs at least 1 feature, as scikit-learn's"
        )
    requested = checked_n_components(kernel_name, n_components, n_samples, n_features)
    chosen_solver = resolve_solver(solver, n_samples, n_features)
    like, X = X, widened(X, xp=xp)
    # Computed once (Dask: kept), reused by the covariance, the finiteness check and transform.
    mean, largest = _mean_and_range(X, chosen_solver, xp=xp)
    check_finite(kernel_name, mean, xp=xp)
    if chosen_solver == "covariance_eigh":  # the variances in units of unit**2
        variances, axes, unit, rounding = _covariance_eigh(X, mean, largest, xp=xp)
    else:
        variances, axes, unit, rounding = _centred_svd(X, mean, xp=xp)
    total_variance = xp.sum(variances)
    # Constant data has no variance to explain: ratio 0 (scikit-learn returns NaN)
    nonzero_total = xp.where(total_variance > 0, total_variance, xp.ones_like(total_variance))
    ratios = variances / nonzero_total
    kept = requested
    if isinstance(requested, float):
        limit = min(n_samples, n_features)
        kept = components_for_variance(kernel_name, ratios, requested, limit, xp=xp)
    elif requested == MLE:  # n >= d: all d variances
        kept = mle_components(kernel_name, variances, unit, n_samples)
    components = _flip_signs(axes[:kept, :], xp=xp)
    explained = variances[:kept] * unit * unit  # past the dtype's range: inf, as it holds
    singular_values = xp.sqrt(variances[:kept] * (n_samples - 1)) * unit
    left_out = noise_variance(variances, kept, min(n_samples, n_features), xp=xp)
    noise = xp.reshape(left_out * unit * unit, ())  # the SVD's unit is of shape (1,)
    noise_spread = xp.reshape(xp.sqrt(left_out) * unit, ())  # in range where noise is not
    fitted = (components, explained, ratios[:kept], singular_values, mean, rounding)
    spreads = xp.sqrt(variances[:kept]) * unit  # in range where the two above are not
    fitted += (noise, noise_spread, spreads)
    return PCAFit(
        *(narrowed(array, like, xp=xp) for array in fitted),
        n_samples=n_samples,
        solver=chosen_solver,
        centred_projection=projection_cancels(components, explained, mean, xp=xp),
    )


def resolve_solver(solver: str, n_samples: int, n_features: int) -> str:
    """``"auto"`` -> ``"covariance_eigh"`` for d <= 1000 and n >= 10 d, else ``"svd"``;
    ``"full"`` (scikit-learn's name) -> ``"svd"``."""
    if solver != "auto":
        return "svd" if solver == "full" else solver
    tall = n_samples >= AUTO_EIGH_MIN_SAMPLES_PER_FEATURE * n_features
    return "covariance_eigh" if n_features <= AUTO_EIGH_MAX_FEATURES and tall else "svd"


def whitening_spread(fitted: PCAFit) -> Any:
    """Each component's standard deviation ``sqrt(lambda)`` (k,): the fit's ``spreads``,
    not the variances or the singular values, which pass the dtype's range first (float16
    data of a spread of 300: variances of 9e4, inf in float16, whitened every projection
    to 0; of 60,000 samples, singular values of 7e4, inf too, the same)."""
    return fitted.spreads


def projection_cancels(components: Any, variances: Any, mean: Any, *, xp: Any) -> bool:
    """Whether ``X V^T - mu V^T`` may err by more than a tenth of rtol of a component's
    spread, ``sqrt(lambda)``: its terms, of about ``|mu| |V|^T`` each, err by eps times that
    (float32 data of 1e4 +- 1: 3e-4 of the projections; of 1e6 +- 1: 7%). Decided once a
    fit, where its values can be read now; traced, lazy or on a GPU, where they cannot,
    True: centring costs two elementwise passes (the mean, then its rounding), cancelling
    the answer (it was False there: float32 data of 1e4 +- 1 projected 1e-3 off on Dask and
    under jax.jit)."""
    if components.shape[0] == 0:
        return False
    if not values_at_hand(components, variances, mean):
        return True
    terms = xp.abs(components) @ xp.abs(mean)  # (k,)
    allowed = tolerance_for(variances.dtype).rtol / 10 * xp.sqrt(variances)
    return bool(xp.any(xp.finfo(variances.dtype).eps * terms > allowed))


def _mean_and_range(X: Any, solver: str, *, xp: Any) -> tuple[Any, Any]:
    """The column means (d,), kept (Dask: computed now), and, for the covariance solver
    where X's values are not at hand (traced, lazy, on a GPU), the centred data's largest
    magnitude, from the columns' extremes, computed with the means (one pass over X on
    Dask and under jax.jit; three reductions on an eager GPU) (None otherwise)."""
    if solver != "covariance_eigh" or values_at_hand(X):
        return materialize(xp.mean(X, axis=0)), None
    mean, high, low = materialize(xp.mean(X, axis=0), xp.max(X, axis=0), xp.min(X, axis=0))
    return mean, xp.max(xp.maximum(high - mean, mean - low))


def _traced_unit(largest: Any, n_samples: int, *, xp: Any) -> Any:
    """``largest`` (an array, not read) where a Gram of n samples of that largest magnitude
    may overflow (n largest^2 past a quarter of the dtype's max) or lose its sums among the
    subnormals (largest^2 below ``n tiny / eps``), else 1: the covariance solver's unit
    where the Gram cannot be looked at first."""
    finfo = xp.finfo(largest.dtype)
    high = math.sqrt(float(finfo.max) / (4 * n_samples))
    low = math.sqrt(n_samples * float(finfo.smallest_normal) / float(finfo.eps))
    usable = (largest > 0) & (largest < float(finfo.max))  # constant data: a Gram of 0
    rescale = usable & ((largest > high) | (largest < low))
    return xp.where(rescale, largest, xp.ones_like(largest))


def _covariance_eigh(X: Any, mean: Any, largest: Any, *, xp: Any) -> tuple[Any, Any, Any, Any]:
    """All d variances (descending, >= 0) in units of ``unit**2``, axes (rows), ``unit``
    and the mean's rounding (d,), from the covariance's eigh; ``unit`` 1, or, where
    eagerly the Gram left the range where its sums are trusted, a power of two near the
    centred data's largest magnitude, which they are divided by first: it overflowed
    (float32 data of 1e20: squares of 1e40; eigh then raised LinAlgError), or its largest
    entry is below ``n tiny / eps`` (float32 data of 1e-22: squares among the subnormals,
    axes 1.4e-2 off; of 1e-30 the coordinate axes). Where ``largest`` (the centred data's
    largest magnitude, an array) is given, the values are not at hand (jax.jit, Dask):
    ``unit`` is :func:`_traced_unit` instead (there the Gram of float32 data of 1e20
    was NaN under jit, raised LinAlgError on Dask; of 1e-30 gave the coordinate axes)."""
    centred = X - mean
    unit: Any = 1.0
    if largest is not None:
        unit = _traced_unit(largest, X.shape[0], xp=xp)
        centred = centred / unit
    read = largest is None and values_at_hand(centred)
    with quiet_arithmetic(centred, when=read):  # past the range: computed again in units
        gram = xp.matrix_transpose(centred) @ centred
    if read and _out_of_range(gram, X.shape[0], xp=xp):
        largest = largest_magnitude(centred, xp=xp)
        if 0 < largest < math.inf:  # not constant data, whose Gram is rightly 0
            unit = 2.0 ** math.frexp(largest)[1]
            centred = centred / unit
            gram = xp.matrix_transpose(centred) @ centred
    n_samples = X.shape[0]
    residual = xp.mean(centred, axis=0)  # the mean's round-off, taken out exactly below
    residual_outer = xp.expand_dims(residual, axis=1) * xp.expand_dims(residual, axis=0)
    covariance = (gram - n_samples * residual_outer) / (n_samples - 1)
    # Dask: the rounding in the Gram's pass, not in a pass of its own when the fit is read
    covariance, residual = materialize(covariance, residual)
    eigenvalues, eigenvectors = eigh(covariance)  # ascending; NumPy's on a backend without
    variances = xp.clip(xp.flip(eigenvalues, axis=0), min=0.0)
    axes = xp.flip(xp.matrix_transpose(eigenvectors), axis=0)
    return variances, axes, unit, residual * unit


def _out_of_range(gram: Any, n_samples: int, *, xp: Any) -> bool:
    """Whether a Gram (d, d) of n samples holds a non-finite entry, or its largest entry
    (on the diagonal) is below ``n tiny / eps``, where sums of squares lose digits among
    the subnormals."""
    if not bool(xp.all(xp.isfinite(gram))):
        return True
    finfo = xp.finfo(gram.dtype)
    largest = largest_magnitude(xp.linalg.diagonal(gram), xp=xp)  # read without a graph
    return largest < n_samples * float(finfo.smallest_normal) / float(finfo.eps)


def _centred_svd(X: Any, mean: Any, *, xp: Any) -> tuple[Any, Any, Any, Any]:
    """All min(n, d) variances s^2 / (n - 1) (descending) in units of ``unit**2``, axes
    (rows of Vh), ``unit`` and the mean's rounding (d,); ``unit`` the largest singular
    value (1 where all are 0): their squares may pass the dtype's range (float32 data of
    1e20) where the values do not.

    Centred in two passes: the mean's round-off (float32 data of 1e6 +- 1: ~0.1) left a
    rank-one term that moved the singular values by 2-90%."""
    centred, rounding = centred_and_correction(X, mean, axis=0, xp=xp)
    _, singular_values, axes = thin_svd(centred)
    rounding = materialize(rounding)  # Dask: now, once, not at each read of the fit
    largest = singular_values[:1]  # descending; empty only where there is no axis
    unit = xp.where(largest > 0, largest, xp.ones_like(largest))
    variances = (singular_values / unit) ** 2 / (X.shape[0] - 1)
    return variances, axes, unit, xp.reshape(rounding, (X.shape[1],))


def _flip_signs(axes: Any, *, xp: Any) -> Any:
    """Make each row's entry of largest absolute value positive (scikit-learn's svd_flip)."""
    largest_column = xp.argmax(xp.abs(axes), axis=1, keepdims=True)
    columns = xp.arange(axes.shape[1], dtype=largest_column.dtype, device=device_of(axes))
    at_largest = columns == largest_column
    pivots = xp.sum(xp.where(at_largest, axes, xp.zeros_like(axes)), axis=1, keepdims=True)
    return xp.where(pivots < 0, -axes, axes)
