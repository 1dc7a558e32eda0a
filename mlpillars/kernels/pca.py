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
- ``"svd"``: the thin SVD :math:`X - \mathbf{1}\mu^\top = U S V_h`, for wide data;
  :math:`\lambda_i = s_i^2 / (n - 1)`.
- ``"auto"``: ``"covariance_eigh"`` when d <= 1000 and n >= 10 d, else ``"svd"``
  (scikit-learn's rule; where scikit-learn would go randomized, ``"svd"`` runs).

Signs are scikit-learn's (``svd_flip(u_based_decision=False)``): in each component the
entry of largest absolute value is positive, so results equal scikit-learn's ``PCA``, not
only up to sign.
"""

from __future__ import annotations

import numbers
from typing import Any, NamedTuple

import array_api_compat as aac

from ..backends import eigh, kernel, materialize, values_known
from ..backends import svd as thin_svd
from ._checks import as_floating, check_choice, check_real_dtype, shape_text

SOLVERS = ("auto", "covariance_eigh", "svd")
AUTO_EIGH_MAX_FEATURES = 1000
AUTO_EIGH_MIN_SAMPLES_PER_FEATURE = 10


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
    n_samples : int
    solver : str
        The solver that ran, ``"covariance_eigh"`` or ``"svd"``.
    """

    components: Any
    explained_variance: Any
    explained_variance_ratio: Any
    singular_values: Any
    mean: Any
    n_samples: int
    solver: str


@kernel(arrays=("X",))
def pca(
    X: Any, /, n_components: int, *, whiten: bool = False, solver: str = "auto", xp: Any
) -> Any:
    r"""Project X onto its first ``n_components`` principal axes (``fit_transform``).

    .. math:: Z = (X - \mathbf{1}\mu^\top) V_k^\top, \qquad
              Z_{\mathrm{white}} = Z\,\mathrm{diag}(\lambda_1, \dots, \lambda_k)^{-1/2}

    Parameters
    ----------
    X : array, shape (n, d)
        Samples as rows; n >= 2, all values finite (else ``ValueError``, or NaN results
        where values are not read: see :func:`pca_fit`). Integers become the default float.
    n_components : int
        k, with 1 <= k <= min(n, d).
    whiten : bool
        Scale each projected column to unit variance.
    solver : {"auto", "covariance_eigh", "svd"}
        See the module docstring.

    Returns
    -------
    array, shape (n, k)
        The projected data (scikit-learn's ``PCA(k).fit_transform(X)``), in X's floating
        dtype, namespace and device. Use :func:`pca_fit` or :class:`PCA` to keep the axes.
    """
    (X,) = as_floating(X, xp=xp, kernel="pca", names=("X",))
    fitted = fit_pca("pca", X, n_components, solver, xp=xp)
    variance = fitted.explained_variance if whiten else None
    return project(X, fitted.components, fitted.mean, variance, xp=xp)


@kernel(arrays=("X",))
def pca_fit(X: Any, /, n_components: int, *, solver: str = "auto", xp: Any) -> PCAFit:
    r"""Fit a PCA: the first ``n_components`` principal axes of X and their variances.

    .. math:: C = \frac{X^\top X - n\,\mu\mu^\top}{n - 1} = V \Lambda V^\top, \qquad
              \text{components} = V_{:, 1..k}^\top

    Parameters
    ----------
    X : array, shape (n, d)
        Samples as rows; n >= 2, all values finite (else ``ValueError``; inside
        ``jax.jit``, ``jax.vmap`` or ``torch.compile``, or on a GPU, where the values are
        not read, NaN results).
    n_components : int
        k, with 1 <= k <= min(n, d).
    solver : {"auto", "covariance_eigh", "svd"}

    Returns
    -------
    PCAFit
        Components (k, d), explained variance and its ratio (k,), singular values (k,),
        mean (d,), all in X's floating dtype, namespace and device.
    """
    (X,) = as_floating(X, xp=xp, kernel="pca_fit", names=("X",))
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
    n_components : int
        k, with 1 <= k <= min(n_samples, n_features).
    whiten : bool
        ``transform`` scales each component to unit variance.
    solver : {"auto", "covariance_eigh", "svd"}
        See :mod:`mlpillars.kernels.pca`.

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
    """

    def __init__(self, n_components: int, *, whiten: bool = False, solver: str = "auto"):
        self.n_components = n_components
        self.whiten = whiten
        self.solver = solver
        self._fitted: PCAFit | None = None

    def fit(self, X: Any, y: Any = None, *, backend: str | None = None) -> PCA:
        """Fit the principal axes of X (n, d); ``y`` is ignored. Returns ``self``."""
        fitted = pca_fit(X, self.n_components, solver=self.solver, backend=backend)
        # Dask: compute the small fitted arrays once, not again at every transform.
        self._fitted = PCAFit._make(materialize(value) for value in fitted)
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
        variance = fitted.explained_variance if self.whiten else None
        return _pca_transform(X, fitted.components, fitted.mean, variance, backend=backend)

    def fit_transform(self, X: Any, y: Any = None, *, backend: str | None = None) -> Any:
        """``fit(X)`` then ``transform(X)``: (n, k)."""
        return self.fit(X, backend=backend).transform(X, backend=backend)

    def inverse_transform(self, X_projected: Any, *, backend: str | None = None) -> Any:
        """Map projections (n, k) back to feature space (n, d): Z V_k + mu (un-whitened).

        ``backend=`` selects where it runs (the projections and the fit are moved there).
        """
        fitted = self._checked_fit("inverse_transform")
        variance = fitted.explained_variance if self.whiten else None
        return _pca_inverse_transform(
            X_projected, fitted.components, fitted.mean, variance, backend=backend
        )

    def _checked_fit(self, method: str) -> PCAFit:
        """The fit, or NotFittedError naming the method that needed it."""
        if self._fitted is None:
            raise NotFittedError(
                f"PCA.{method}: this PCA is not fitted yet; call fit(X) or fit_transform(X) first"
            )
        return self._fitted


@kernel(
    arrays=("X", "components", "mean", "whitening_variance"), register=False, name="PCA.transform"
)
def _pca_transform(
    X: Any, components: Any, mean: Any, whitening_variance: Any = None, /, *, xp: Any
) -> Any:
    """``PCA.transform``'s kernel: the fitted arrays are inputs, so the dispatch places them.

    Parameters
    ----------
    X : array, shape (n, d)
    components, mean : array, shape (k, d) and (d,)
        The fit's axes and column means.
    whitening_variance : array, shape (k,), optional
        The fit's explained variance when whitening, else None.

    Returns
    -------
    array, shape (n, k)
        See :func:`project`.
    """
    width = ("n_features_in_", components.shape[1])
    X = _like_fitted("PCA.transform", X, components, width, xp=xp)
    return project(X, components, mean, whitening_variance, xp=xp)


@kernel(
    arrays=("X_projected", "components", "mean", "whitening_variance"),
    register=False,
    name="PCA.inverse_transform",
)
def _pca_inverse_transform(
    X_projected: Any, components: Any, mean: Any, whitening_variance: Any = None, /, *, xp: Any
) -> Any:
    """``PCA.inverse_transform``'s kernel: the fitted arrays are inputs, as for transform.

    Parameters
    ----------
    X_projected : array, shape (n, k)
    components, mean : array, shape (k, d) and (d,)
    whitening_variance : array, shape (k,), optional
        The fit's explained variance when the projections were whitened, else None.

    Returns
    -------
    array, shape (n, d)
        See :func:`reconstruct`.
    """
    width = ("n_components_", components.shape[0])
    X_projected = _like_fitted("PCA.inverse_transform", X_projected, components, width, xp=xp)
    return reconstruct(X_projected, components, mean, whitening_variance, xp=xp)


def _like_fitted(where: str, X: Any, components: Any, width: tuple[str, int], *, xp: Any) -> Any:
    """X checked to be a matrix of ``width`` (attribute name, value) columns, in the
    components' dtype."""
    _check_matrix(where, "X", X)
    check_real_dtype(where, "X", X, xp=xp)
    width_name, expected = width
    if X.shape[1] != expected:
        raise ValueError(
            f"{where}: X has {X.shape[1]} columns but this PCA expects {expected} "
            f"({width_name} = {expected}; X: {shape_text(X)}, "
            f"components_: {shape_text(components)})"
        )
    return xp.astype(X, components.dtype, copy=False)


def fit_pca(kernel_name: str, X: Any, n_components: int, solver: str, *, xp: Any) -> PCAFit:
    """The fit behind both kernels, on a floating X already on its backend."""
    _check_matrix(kernel_name, "X", X)
    check_choice(kernel_name, "solver", solver, SOLVERS)
    n_samples, n_features = (int(size) for size in X.shape)
    if n_samples < 2:
        raise ValueError(
            f"{kernel_name}: X has {n_samples} sample(s) (X: {shape_text(X)}); PCA needs at "
            "least 2 samples, as the variance divides by n_samples - 1"
        )
    n_components = _checked_n_components(kernel_name, n_components, n_samples, n_features)
    chosen_solver = resolve_solver(solver, n_samples, n_features)
    # Computed once (Dask: kept), reused by the covariance, the finiteness check and transform.
    mean = materialize(xp.mean(X, axis=0))
    _check_finite(kernel_name, mean, xp=xp)
    if chosen_solver == "covariance_eigh":
        variances, axes = _covariance_eigh(X, mean, xp=xp)
    else:
        variances, axes = _centred_svd(X, mean, xp=xp)
    explained_variance = variances[:n_components]
    total_variance = xp.sum(variances)
    # Constant data has no variance to explain: ratio 0 (scikit-learn returns NaN)
    nonzero_total = xp.where(total_variance > 0, total_variance, xp.ones_like(total_variance))
    return PCAFit(
        components=_flip_signs(axes[:n_components, :], xp=xp),
        explained_variance=explained_variance,
        explained_variance_ratio=explained_variance / nonzero_total,
        singular_values=xp.sqrt(explained_variance * (n_samples - 1)),
        mean=mean,
        n_samples=n_samples,
        solver=chosen_solver,
    )


def resolve_solver(solver: str, n_samples: int, n_features: int) -> str:
    """``"auto"`` -> ``"covariance_eigh"`` for d <= 1000 and n >= 10 d, else ``"svd"``."""
    if solver != "auto":
        return solver
    tall = n_samples >= AUTO_EIGH_MIN_SAMPLES_PER_FEATURE * n_features
    return "covariance_eigh" if n_features <= AUTO_EIGH_MAX_FEATURES and tall else "svd"


def project(X: Any, components: Any, mean: Any, whitening_variance: Any, *, xp: Any) -> Any:
    """``X V^T - mu V^T`` (centred after projecting: no centred copy of X), whitened if asked.

    Parameters
    ----------
    X : array, shape (n, d)
    components : array, shape (k, d)
        V, the principal axes as rows.
    mean : array, shape (d,)
    whitening_variance : array, shape (k,), or None
        Each projected column is divided by the square root (clipped below at the dtype's
        eps, as scikit-learn does, so that a rank-deficient component gives large values
        rather than infinities); None: no whitening.

    Returns
    -------
    array, shape (n, k)
    """
    axes = xp.matrix_transpose(components)
    projected = X @ axes - mean @ axes
    if whitening_variance is None:
        return projected
    scale = xp.sqrt(whitening_variance)
    return projected / xp.clip(scale, min=float(xp.finfo(scale.dtype).eps))


def reconstruct(
    X_projected: Any, components: Any, mean: Any, whitening_variance: Any, *, xp: Any
) -> Any:
    """``Z V + mu`` (n, d) for projections Z (n, k), first multiplied back by
    sqrt(whitening_variance) (k,) when they were whitened (None: they were not)."""
    if whitening_variance is not None:
        components = xp.expand_dims(xp.sqrt(whitening_variance), axis=1) * components
    return X_projected @ components + mean


def _covariance_eigh(X: Any, mean: Any, *, xp: Any) -> tuple[Any, Any]:
    """All d variances (descending, >= 0) and axes (rows) from the covariance's eigh."""
    n_samples = X.shape[0]
    centred = X - mean
    residual = xp.mean(centred, axis=0)  # the mean's round-off, taken out exactly below
    residual_outer = xp.expand_dims(residual, axis=1) * xp.expand_dims(residual, axis=0)
    gram = xp.matrix_transpose(centred) @ centred
    covariance = (gram - n_samples * residual_outer) / (n_samples - 1)
    eigenvalues, eigenvectors = eigh(covariance)  # ascending; NumPy's on a backend without
    variances = xp.clip(xp.flip(eigenvalues, axis=0), min=0.0)
    return variances, xp.flip(xp.matrix_transpose(eigenvectors), axis=0)


def _centred_svd(X: Any, mean: Any, *, xp: Any) -> tuple[Any, Any]:
    """All min(n, d) variances s^2 / (n - 1) (descending) and axes (rows of Vh)."""
    _, singular_values, axes = thin_svd(X - mean)
    return singular_values**2 / (X.shape[0] - 1), axes


def _flip_signs(axes: Any, *, xp: Any) -> Any:
    """Make each row's entry of largest absolute value positive (scikit-learn's svd_flip)."""
    largest_column = xp.argmax(xp.abs(axes), axis=1, keepdims=True)
    columns = xp.arange(axes.shape[1], dtype=largest_column.dtype, device=aac.device(axes))
    at_largest = columns == largest_column
    pivots = xp.sum(xp.where(at_largest, axes, xp.zeros_like(axes)), axis=1, keepdims=True)
    return xp.where(pivots < 0, -axes, axes)


def _checked_n_components(
    kernel_name: str, n_components: object, n_samples: int, n_features: int
) -> int:
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral):
        raise TypeError(
            f"{kernel_name}: n_components must be an int, got "
            f"{type(n_components).__name__} {n_components!r}"
        )
    limit = min(n_samples, n_features)
    if not 1 <= n_components <= limit:
        raise ValueError(
            f"{kernel_name}: n_components={n_components} must be between 1 and "
            f"min(n_samples, n_features) = min({n_samples}, {n_features}) = {limit}"
        )
    return int(n_components)


def _check_matrix(kernel_name: str, name: str, X: Any) -> None:
    if X.ndim != 2:
        hint = (
            f"; use {name}.reshape(-1, 1) for one feature or {name}.reshape(1, -1) for one sample"
            if X.ndim == 1
            else ""
        )
        raise ValueError(
            f"{kernel_name}: {name} must be 2-D (n_samples, n_features), got {X.ndim}-D "
            f"({name}: {shape_text(X)}){hint}"
        )


def _check_finite(kernel_name: str, mean: Any, *, xp: Any) -> None:
    """A NaN or infinity anywhere in a column makes its mean non-finite: no extra pass.

    Only where the mean's values can be read now: traced or on a GPU, the NaN reaches
    every result instead (the covariance or the centred data holds it).
    """
    if not values_known(mean):
        return
    not_finite = xp.logical_not(xp.isfinite(mean))
    if bool(xp.any(not_finite)):
        count = int(xp.sum(xp.astype(not_finite, xp.int32)))
        first = int(xp.argmax(xp.astype(not_finite, xp.int32)))
        raise ValueError(
            f"{kernel_name}: X contains NaN or infinity (or values whose column sum "
            f"overflows) in {count} of its {mean.shape[0]} columns, the first being column "
            f"{first}; remove or impute them before PCA"
        )
