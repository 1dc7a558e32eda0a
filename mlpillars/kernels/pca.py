r"""Principal component analysis: the kernels ``pca`` and ``pca_fit``, and the class ``PCA``.

For data X (n, d) with column means :math:`\mu`, the principal axes are the eigenvectors
of the sample covariance, largest eigenvalue first. Two solvers, as scikit-learn's:

- ``"covariance_eigh"``: :math:`C = (X_c^\top X_c - n\,r r^\top) / (n - 1)` with
  :math:`X_c = X - \mathbf{1}\mu^\top` and :math:`r` the mean of :math:`X_c` (round-off: the
  corrected two-pass formula), a (d, d) matrix, then ``eigh(C)``; eigenvalues that round-off
  makes negative are clipped to 0. The textbook :math:`X^\top X - n\,\mu\mu^\top` would
  cancel every digit the mean has above the spread (data of mean 1e8 and variance 3 would
  get variances of 16 and 0), so the Gram is of the centred data. One pass over X for
  :math:`\mu`, one for the Gram: the solver for tall data, and for Dask, where X stays
  chunked (the centred chunks are made as the Gram consumes them) and only C is decomposed
  (on NumPy, through ``backends.eigh``). Eager backends hold one centred copy of X.
- ``"svd"`` (or ``"full"``, scikit-learn's name for it): the thin SVD
  :math:`X - \mathbf{1}\mu^\top = U S V_h`, for wide data; :math:`\lambda_i = s_i^2 / (n - 1)`.
  X is centred in two passes (:math:`\mu`, then the mean of :math:`X - \mathbf{1}\mu^\top`,
  the mean's rounding); on Dask each is a pass over X, and the SVD (TSQR) a third.
- ``"auto"``: ``"covariance_eigh"`` when d <= 1000 and n >= 10 d, else ``"svd"``
  (scikit-learn's rule; where scikit-learn would go randomized, ``"svd"`` runs).

Signs are scikit-learn's (``svd_flip(u_based_decision=False)``): in each component the
entry of largest absolute value is positive, so results equal scikit-learn's ``PCA``, not
only up to sign.

``n_components`` is scikit-learn's: an int k, None for min(n, d), or a float f in (0, 1),
which keeps the fewest leading components whose variance ratios sum to more than f (1
where the data have no variance, as scikit-learn). That number sets the result's shape,
so a float needs the data's values: inside ``jax.jit``,
``jax.vmap`` or ``torch.compile`` it raises ``ValueError`` (pass an int there). float16 and
bfloat16 data are fitted and projected in float32, the results cast back.
"""

from __future__ import annotations

from typing import Any

from ..backends import kernel, materialize
from ._checks import check_flag
from ._floating import as_floating_array
from ._pca_fit import SOLVERS, PCAFit, fit_pca, resolve_solver, whitening_spread
from ._pca_transforms import pca_inverse_transform, pca_transform, project

__all__ = ["PCA", "SOLVERS", "NotFittedError", "PCAFit", "pca", "pca_fit", "resolve_solver"]


@kernel(arrays=("X",), known_sizes=True)
def pca(
    X: Any,
    /,
    n_components: int | float | None = None,
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
    n_components : int, float or None
        k, with 1 <= k <= min(n, d); a float in (0, 1): the fewest components whose
        variance ratios sum to more than it (needs values: not under tracing); None:
        min(n, d). As scikit-learn's.
    whiten : bool
        Scale each projected column to unit variance.
    solver : {"auto", "covariance_eigh", "svd", "full"}
        See the module docstring.

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
    X: Any, /, n_components: int | float | None = None, *, solver: str = "auto", xp: Any
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
    n_components : int, float or None
        k, with 1 <= k <= min(n, d); a float in (0, 1): the fewest components whose
        variance ratios sum to more than it (needs values: not under tracing); None:
        min(n, d). As scikit-learn's.
    solver : {"auto", "covariance_eigh", "svd", "full"}

    Returns
    -------
    PCAFit
        Components (k, d), explained variance and its ratio (k,), singular values (k,),
        mean (d,), all in X's floating dtype, namespace and device.
    """
    X = as_floating_array(X, xp=xp, kernel="pca_fit", name="X")
    return fit_pca("pca_fit", X, n_components, solver, xp=xp)


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted PCA was called before ``fit`` (as scikit-learn's)."""


class PCA:
    """Principal component analysis with scikit-learn's names and signs.

    Every method runs a kernel, so the one dispatch of ``mlpillars.backends`` decides where
    it runs. ``fit`` runs :func:`pca_fit`: it follows X's namespace and device, or the
    backend selected by ``backend=``, ``mlpillars.use_backend`` or ``MLPILLARS_BACKEND``,
    and the fitted arrays stay there. ``transform`` and ``inverse_transform`` run kernels
    whose inputs are X and the fitted arrays: X must share their namespace and device
    (another namespace raises ``TypeError``, another device ``ValueError``), unless a
    backend is selected, which X and the fitted arrays are then moved onto. Python lists
    are always converted.

    Parameters
    ----------
    n_components : int, float or None
        k, with 1 <= k <= min(n, d); a float in (0, 1): the fewest components whose
        variance ratios sum to more than it (needs values: not under tracing); None:
        min(n, d). As scikit-learn's.
    whiten : bool
        ``transform`` scales each component to unit variance.
    solver : {"auto", "covariance_eigh", "svd", "full"}
        See :mod:`mlpillars.kernels.pca`; ``"full"`` is scikit-learn's name for ``"svd"``.
    svd_solver : str, optional
        scikit-learn's keyword for ``solver`` (give one or the other).

    Attributes
    ----------
    components_ : array, shape (k, d)
    explained_variance_ : array, shape (k,)
    explained_variance_ratio_ : array, shape (k,)
    singular_values_ : array, shape (k,)
    mean_ : array, shape (d,)
    n_components_ : int
    n_samples_ : int
    n_features_in_ : int
    solver_ : str
        The solver that ran ("auto" resolved).

    Notes
    -----
    As a scikit-learn estimator, the constructor stores its parameters as given and
    ``fit`` checks them; ``get_params``, ``set_params`` and the ``repr`` are scikit-learn's,
    so ``sklearn.base.clone``, pipelines and parameter searches take a ``PCA``.
    """

    def __init__(
        self,
        n_components: int | float | None = None,
        *,
        whiten: bool = False,
        solver: str = "auto",
        svd_solver: str | None = None,
    ):
        self.n_components = n_components
        self.whiten = whiten
        self.solver = solver
        self.svd_solver = svd_solver
        self._fitted: PCAFit | None = None

    def get_params(self, deep: bool = True) -> dict[str, Any]:
        """The constructor's parameters by name (``deep`` is scikit-learn's: a PCA holds no
        estimator)."""
        return {name: getattr(self, name) for name in _PARAMETERS}

    def set_params(self, **params: Any) -> PCA:
        """Set constructor parameters by name (checked at the next ``fit``); returns
        ``self``. An unknown name raises ``ValueError`` listing the valid ones."""
        for name, value in params.items():
            if name not in _PARAMETERS:
                raise ValueError(
                    f"PCA.set_params: invalid parameter {name!r}; valid: {', '.join(_PARAMETERS)}"
                )
            setattr(self, name, value)
        return self

    def __sklearn_tags__(self) -> Any:
        """scikit-learn's tags (1.6+, which asks for them): a transformer that needs a fit
        and no target, takes array-API input and keeps its floating dtype. Without them
        a pipeline ending in a PCA could not ``transform`` (AttributeError)."""
        from sklearn.utils import InputTags, Tags, TargetTags, TransformerTags

        return Tags(
            estimator_type=None,
            target_tags=TargetTags(required=False),
            transformer_tags=TransformerTags(preserves_dtype=["float64", "float32", "float16"]),
            input_tags=InputTags(),
            array_api_support=True,
        )

    def __repr__(self) -> str:
        """``PCA(n_components=2, whiten=True)``: the parameters that differ from their
        defaults, as scikit-learn shows an estimator."""
        changed = [
            f"{name}={value!r}"
            for name, value in self.get_params().items()
            if value is not _PARAMETERS[name] and value != _PARAMETERS[name]
        ]
        return f"PCA({', '.join(changed)})"

    def fit(self, X: Any, y: Any = None, *, backend: str | None = None) -> PCA:
        """Fit the principal axes of X (n, d); ``y`` is ignored. Returns ``self``."""
        check_flag("PCA.fit", "whiten", self.whiten)
        fitted = pca_fit(X, self.n_components, solver=self._solver(), backend=backend)
        # Dask: compute the small fitted arrays once, together (the passes over X they
        # share run once), not again at every transform.
        self._fitted = PCAFit._make(materialize(*fitted))
        self.components_ = self._fitted.components
        self.explained_variance_ = self._fitted.explained_variance
        self.explained_variance_ratio_ = self._fitted.explained_variance_ratio
        self.singular_values_ = self._fitted.singular_values
        self.mean_ = self._fitted.mean
        self.n_components_ = int(self._fitted.components.shape[0])
        self.n_features_in_ = int(self._fitted.components.shape[1])
        self.n_samples_ = self._fitted.n_samples
        self.solver_ = self._fitted.solver
        return self

    def transform(self, X: Any, *, backend: str | None = None) -> Any:
        """Project X (n, d) onto the components: (n, k), divided by sqrt(λ) if whitening.

        ``backend=`` selects where it runs (X and the fitted arrays are moved there).
        """
        fitted = self._checked_fit("transform")
        spread = whitening_spread(fitted) if self.whiten else None
        arrays = (fitted.components, fitted.mean, fitted.mean_rounding, spread)
        centred = fitted.centred_projection
        return pca_transform(X, *arrays, centred=centred, backend=backend)

    def fit_transform(self, X: Any, y: Any = None, *, backend: str | None = None) -> Any:
        """``fit(X)`` then ``transform(X)``: (n, k)."""
        return self.fit(X, backend=backend).transform(X, backend=backend)

    def inverse_transform(self, X_projected: Any, *, backend: str | None = None) -> Any:
        """Map projections (n, k) back to feature space (n, d): Z V_k + mu (un-whitened).

        ``backend=`` selects where it runs (the projections and the fit are moved there).
        """
        fitted = self._checked_fit("inverse_transform")
        spread = whitening_spread(fitted) if self.whiten else None
        arrays = (fitted.components, fitted.mean, fitted.mean_rounding, spread)
        return pca_inverse_transform(X_projected, *arrays, backend=backend)

    def _solver(self) -> str:
        """``solver``, or scikit-learn's ``svd_solver`` where that is given instead."""
        if self.svd_solver is None:
            return self.solver
        if self.solver != "auto":
            raise ValueError(
                f"PCA: solver={self.solver!r} and svd_solver={self.svd_solver!r} name the same "
                "option (svd_solver is scikit-learn's name); give one of them"
            )
        return self.svd_solver

    def _checked_fit(self, method: str) -> PCAFit:
        """The fit, or NotFittedError naming the method that needed it."""
        if self._fitted is None:
            raise NotFittedError(
                f"PCA.{method}: this PCA is not fitted yet; call fit(X) or fit_transform(X) first"
            )
        return self._fitted


_PARAMETERS: dict[str, Any] = {
    "n_components": None,
    "whiten": False,
    "solver": "auto",
    "svd_solver": None,
}
"""``PCA``'s constructor parameters and their defaults, in order."""
