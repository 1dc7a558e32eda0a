"""The kernels ``pca`` and ``pca_fit``: the fit of :mod:`._pca_fit`, and for ``pca`` the
projection of :mod:`._pca_transforms`, behind one dispatch each (the formulas and the
options: :mod:`mlpillars.kernels.pca`)."""

from __future__ import annotations

from typing import Any

from ..backends import kernel
from ._checks import check_flag
from ._floating import as_floating_array
from ._pca_fit import PCAFit, fit_pca, whitening_spread
from ._pca_transforms import project


@kernel(arrays=("X",), known_sizes=True)
def pca(
    X: Any,
    /,
    n_components: int | float | str | None = None,
    *,
    whiten: bool = False,
    solver: str = "auto",
    xp: Any,
) -> Any:
    r"""Project X onto its first ``n_components`` principal axes (``fit_transform``).

    .. math:: Z = (X - \mathbf{1}\mu^\top) V_k^\top, \qquad
              Z_{\mathrm{white}} = Z\,\mathrm{diag}(\lambda_1, \dots, \lambda_k)^{-1/2}

    Parameters
    ----------
    X : array, shape (n, d)
        Samples as rows; n >= 2, all values finite (else ``ValueError``, or NaN results
        where values are not read: see :func:`pca_fit`). Integers become the default float.
    n_components : int, float, "mle" or None
        k, with 1 <= k <= min(n, d); a float in (0, 1): the fewest components whose
        variance ratios sum to more than it; "mle" (n >= d): Minka's MLE of k, in
        [0, d - 1] (both need values: not under tracing); None: min(n, d). As
        scikit-learn's.
    whiten : bool
        Scale each projected column to unit variance.
    solver : {"auto", "covariance_eigh", "svd", "full"}
        See the module docstring; all give the d variances "mle" needs.

    Returns
    -------
    array, shape (n, k)
        The projected data (scikit-learn's ``PCA(k).fit_transform(X)``), in X's floating
        dtype, namespace and device. Use :func:`pca_fit` or :class:`PCA` to keep the axes.
    """
    whiten = check_flag("pca", "whiten", whiten)
    X = as_floating_array(X, xp=xp, kernel="pca", name="X")
    fitted = fit_pca("pca", X, n_components, solver, xp=xp)
    spread = whitening_spread(fitted) if whiten else None
    means = (fitted.mean, fitted.mean_rounding)
    centred = fitted.centred_projection
    return project(X, fitted.components, means, spread, centred=centred, xp=xp)


@kernel(arrays=("X",), known_sizes=True)
def pca_fit(
    X: Any, /, n_components: int | float | str | None = None, *, solver: str = "auto", xp: Any
) -> PCAFit:
    r"""Fit a PCA: the first ``n_components`` principal axes of X and their variances.

    .. math:: C = \frac{X^\top X - n\,\mu\mu^\top}{n - 1} = V \Lambda V^\top, \qquad
              \text{components} = V_{:, 1..k}^\top

    Parameters
    ----------
    X : array, shape (n, d)
        Samples as rows; n >= 2, all values finite (else ``ValueError``, on a GPU too,
        after one sync; inside ``jax.jit``, ``jax.vmap`` or ``torch.compile``, where the
        values cannot be read, NaN results).
    n_components : int, float, "mle" or None
        k, with 1 <= k <= min(n, d); a float in (0, 1): the fewest components whose
        variance ratios sum to more than it; "mle" (n >= d): Minka's MLE of k, in
        [0, d - 1] (both need values: not under tracing); None: min(n, d). As
        scikit-learn's.
    solver : {"auto", "covariance_eigh", "svd", "full"}

    Returns
    -------
    PCAFit
        Components (k, d), explained variance and its ratio (k,), singular values (k,),
        mean (d,), all in X's floating dtype, namespace and device.
    """
    X = as_floating_array(X, xp=xp, kernel="pca_fit", name="X")
    return fit_pca("pca_fit", X, n_components, solver, xp=xp)
