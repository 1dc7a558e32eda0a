"""The kernels behind ``PCA.transform`` and ``PCA.inverse_transform``.

The fitted arrays are inputs of these kernels, beside X, so that the one dispatch of
``mlpillars.backends`` places them as it places any call's arrays: X must share their
namespace and device, unless a backend is selected, which they are then moved onto. They
are not public kernels (``register=False``); errors name the method.
"""

from __future__ import annotations

from typing import Any

from ..backends import kernel
from ._pca_checks import like_fitted
from ._pca_fit import project, reconstruct


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
    return project(X, components, means, whitening_spread, centred=centred, xp=xp)


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
