"""The kernels behind ``PCA.transform`` and ``PCA.inverse_transform``, and their
formulas: :func:`project` (also :func:`.pca.pca`'s) and :func:`reconstruct`.

The fitted arrays are inputs of these kernels, beside X, so that the one dispatch of
``mlpillars.backends`` places them as it places any call's arrays: X must share their
namespace and device, unless a backend is selected, which they are then moved onto. They
are not public kernels (``register=False``); errors name the method.
"""

from __future__ import annotations

from typing import Any

from ..backends import kernel
from ._floating import narrowed, widened
from ._pca_checks import check_finite_input, like_fitted


@kernel(
    arrays=("X", "components", "mean", "mean_rounding", "whitening_spread"),
    register=False,
    name="PCA.transform",
)
def pca_transform(
    X: Any,
    components: Any,
    mean: Any,
    mean_rounding: Any,
    whitening_spread: Any = None,
    /,
    *,
    centred: bool = False,
    xp: Any,
) -> Any:
    """``PCA.transform``'s kernel: the fitted arrays are inputs, so the dispatch places them.

    Parameters
    ----------
    X : array, shape (n, d)
    components, mean, mean_rounding : array, shape (k, d), (d,) and (d,)
        The fit's axes, column means and their rounding.
    whitening_spread : array, shape (k,), optional
        The fit's standard deviations (``_pca_fit.whitening_spread``) when whitening,
        else None.
    centred : bool
        The fit's ``centred_projection``: centre X before projecting.

    Returns
    -------
    array, shape (n, k)
        See :func:`project`.
    """
    width = ("n_features_in_", components.shape[1])
    X = like_fitted("PCA.transform", X, components, width, xp=xp)
    means = (mean, mean_rounding)
    projected = project(X, components, means, whitening_spread, centred=centred, xp=xp)
    check_finite_input("PCA.transform", projected, X, xp=xp)
    return projected


@kernel(
    arrays=("X_projected", "components", "mean", "mean_rounding", "whitening_spread"),
    register=False,
    name="PCA.inverse_transform",
)
def pca_inverse_transform(
    X_projected: Any,
    components: Any,
    mean: Any,
    mean_rounding: Any,
    whitening_spread: Any = None,
    /,
    *,
    xp: Any,
) -> Any:
    """``PCA.inverse_transform``'s kernel: the fitted arrays are inputs, as for transform.

    Parameters
    ----------
    X_projected : array, shape (n, k)
    components, mean, mean_rounding : array, shape (k, d), (d,) and (d,)
    whitening_spread : array, shape (k,), optional
        The fit's standard deviations when the projections were whitened, else None.

    Returns
    -------
    array, shape (n, d)
        See :func:`reconstruct`.
    """
    width = ("n_components_", components.shape[0])
    X_projected = like_fitted("PCA.inverse_transform", X_projected, components, width, xp=xp)
    means = (mean, mean_rounding)
    return reconstruct(X_projected, components, means, whitening_spread, xp=xp)


def project(
    X: Any,
    components: Any,
    means: tuple[Any, Any],
    whitening_spread: Any,
    *,
    centred: bool = False,
    xp: Any,
) -> Any:
    """``X V^T - mu V^T`` (centred after projecting: no centred copy of X), whitened if asked;
    ``(X - mu) V^T`` where ``centred`` (the fit's :func:`._pca_fit.projection_cancels`).
    ``mu`` is the pair (mean, mean_rounding), the second taken out after the first.

    Parameters
    ----------
    X : array, shape (n, d)
    components : array, shape (k, d)
        V, the principal axes as rows.
    means : (array, array), shapes (d,) and (d,)
        The fit's ``mean`` and ``mean_rounding``.
    whitening_spread : array, shape (k,), or None
        Each projected column's standard deviation, ``sqrt(lambda)``
        (:func:`._pca_fit.whitening_spread`), which it is divided by (clipped below at the
        dtype's eps, as scikit-learn does, so that a rank-deficient component gives large
        values rather than infinities); None: no whitening.

    Returns
    -------
    array, shape (n, k)
        In X's dtype (computed in float32 for float16 and bfloat16).
    """
    like = X
    X, components, mean, rounding = (widened(a, xp=xp) for a in (X, components, *means))
    axes = xp.matrix_transpose(components)
    if centred:
        projected = ((X - mean) - rounding) @ axes
    else:
        projected = X @ axes - mean @ axes - rounding @ axes
    if whitening_spread is not None:
        spread = widened(whitening_spread, xp=xp)
        projected = projected / xp.clip(spread, min=float(xp.finfo(like.dtype).eps))
    return narrowed(projected, like, xp=xp)


def reconstruct(
    X_projected: Any, components: Any, means: tuple[Any, Any], whitening_spread: Any, *, xp: Any
) -> Any:
    """``Z V + mu`` (n, d) for projections Z (n, k), first multiplied back by
    whitening_spread (k,) when they were whitened (None: they were not); ``mu`` the pair
    (mean, mean_rounding), the rounding added first; in Z's dtype (computed in float32 for
    float16 and bfloat16)."""
    like = X_projected
    X_projected, components, mean, rounding = (
        widened(array, xp=xp) for array in (X_projected, components, *means)
    )
    if whitening_spread is not None:
        spread = widened(whitening_spread, xp=xp)
        components = xp.expand_dims(spread, axis=1) * components
    return narrowed((X_projected @ components + rounding) + mean, like, xp=xp)
