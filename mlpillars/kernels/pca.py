r"""Principal component analysis: the kernels ``pca`` and ``pca_fit``, and the class ``PCA``.

For data X (n, d) with column means :math:`\mu`, the principal axes are the eigenvectors
of the sample covariance, largest eigenvalue first. Two solvers, as scikit-learn's:

- ``"covariance_eigh"``: :math:`C = (X^\top X - n\,\mu\mu^\top) / (n - 1)`, a (d, d) matrix
  built without a centred copy of X, then ``eigh(C)``; eigenvalues that round-off makes
  negative are clipped to 0. One pass over X for :math:`\mu`, one for :math:`X^\top X`: the
  solver for tall data, and for Dask, where X stays chunked and only C is decomposed (on
  NumPy, through ``backends.eigh``).
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

from ..backends import Target, eigh, framework_of, kernel, materialize, move_to, selected_target
from ..backends import svd as thin_svd
from ._checks import as_floating, check_choice, shape_text

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
        Samples as rows; n >= 2, all values finite. Integers become the default float.
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
    (X,) = as_floating(X, xp=xp)
    fitted = fit_pca("pca", X, n_components, solver, xp=xp)
    return project(X, fitted, whiten=whiten, xp=xp)


@kernel(arrays=("X",))
def pca_fit(X: Any, /, n_components: int, *, solver: str = "auto", xp: Any) -> PCAFit:
    r"""Fit a PCA: the first ``n_components`` principal axes of X and their variances.

    .. math:: C = \frac{X^\top X - n\,\mu\mu^\top}{n - 1} = V \Lambda V^\top, \qquad
              \text{components} = V_{:, 1..k}^\top

    Parameters
    ----------
    X : array, shape (n, d)
        Samples as rows; n >= 2, all values finite.
    n_components : int
        k, with 1 <= k <= min(n, d).
    solver : {"auto", "covariance_eigh", "svd"}

    Returns
    -------
    PCAFit
        Components (k, d), explained variance and its ratio (k,), singular values (k,),
        mean (d,), all in X's floating dtype, namespace and device.
    """
    (X,) = as_floating(X, xp=xp)
    return fit_pca("pca_fit", X, n_components, solver, xp=xp)


class NotFittedError(ValueError, AttributeError):
    """A method that needs a fitted PCA was called before ``fit`` (as scikit-learn's)."""


class PCA:
    """Principal component analysis with scikit-learn's names and signs.

    ``fit`` runs the :func:`pca_fit` kernel, so it follows X's namespace and device, or the
    backend selected by ``backend=``, ``mlpillars.use_backend`` or ``MLPILLARS_BACKEND``.
    The fitted arrays stay there; ``transform`` and ``inverse_transform`` take arrays of
    that namespace and device only (another namespace raises ``TypeError``, another device
    ``ValueError``), except that while a selected backend is the fitted one, arrays of other
    namespaces are moved onto it. Python lists are always converted.

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

    def transform(self, X: Any) -> Any:
        """Project X (n, d) onto the components: (n, k), divided by sqrt(λ) if whitening."""
        fitted, X, xp = self._like_fit("transform", X, "n_features_in_")
        return project(X, fitted, whiten=self.whiten, xp=xp)

    def fit_transform(self, X: Any, y: Any = None, *, backend: str | None = None) -> Any:
        """``fit(X)`` then ``transform(X)``: (n, k)."""
        return self.fit(X, backend=backend).transform(X)

    def inverse_transform(self, X_projected: Any) -> Any:
        """Map projections (n, k) back to feature space (n, d): Z V_k + mu (un-whitened)."""
        fitted, X_projected, xp = self._like_fit("inverse_transform", X_projected, "n_components_")
        return reconstruct(X_projected, fitted, whiten=self.whiten, xp=xp)

    def _like_fit(self, method: str, X: Any, width_attribute: str) -> tuple[PCAFit, Any, Any]:
        """The fit, X on the fitted namespace/device/dtype (checked), and the namespace."""
        if self._fitted is None:
            raise NotFittedError(
                f"PCA.{method}: this PCA is not fitted yet; call fit(X) or fit_transform(X) first"
            )
        components = self._fitted.components
        X = _on_backend_of(f"PCA.{method}", X, components)
        xp = framework_of(components).namespace()
        _check_matrix(f"PCA.{method}", "X", X)
        expected = getattr(self, width_attribute)
        if X.shape[1] != expected:
            raise ValueError(
                f"PCA.{method}: X has {X.shape[1]} columns but this PCA expects {expected} "
                f"({width_attribute} = {expected}; X: {shape_text(X)}, "
                f"components_: {shape_text(components)})"
            )
        return self._fitted, xp.astype(X, components.dtype, copy=False), xp


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


def project(X: Any, fitted: PCAFit, *, whiten: bool, xp: Any) -> Any:
    """``X V^T - mu V^T`` (centred after projecting: no centred copy of X), whitened if asked.

    The whitening scale sqrt(λ) is clipped below at the dtype's eps, as scikit-learn does,
    so a rank-deficient component gives large values rather than infinities.
    """
    axes = xp.matrix_transpose(fitted.components)
    projected = X @ axes - fitted.mean @ axes
    if not whiten:
        return projected
    scale = xp.sqrt(fitted.explained_variance)
    return projected / xp.clip(scale, min=float(xp.finfo(scale.dtype).eps))


def reconstruct(X_projected: Any, fitted: PCAFit, *, whiten: bool, xp: Any) -> Any:
    """``Z V_k + mu``, with Z first multiplied back by sqrt(λ) when it was whitened."""
    components = fitted.components
    if whiten:
        components = xp.expand_dims(xp.sqrt(fitted.explained_variance), axis=1) * components
    return X_projected @ components + fitted.mean


def _covariance_eigh(X: Any, mean: Any, *, xp: Any) -> tuple[Any, Any]:
    """All d variances (descending, >= 0) and axes (rows) from the covariance's eigh."""
    n_samples = X.shape[0]
    mean_outer = xp.expand_dims(mean, axis=1) * xp.expand_dims(mean, axis=0)
    covariance = (xp.matrix_transpose(X) @ X - n_samples * mean_outer) / (n_samples - 1)
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
    """A NaN or infinity anywhere in a column makes its mean non-finite: no extra pass."""
    not_finite = xp.logical_not(xp.isfinite(mean))
    if bool(xp.any(not_finite)):
        count = int(xp.sum(xp.astype(not_finite, xp.int32)))
        first = int(xp.argmax(xp.astype(not_finite, xp.int32)))
        raise ValueError(
            f"{kernel_name}: X contains NaN or infinity (or values whose column sum "
            f"overflows) in {count} of its {mean.shape[0]} columns, the first being column "
            f"{first}; remove or impute them before PCA"
        )


def _on_backend_of(where: str, X: Any, fitted_array: Any) -> Any:
    """X on ``fitted_array``'s backend and device, or a TypeError/ValueError saying why not."""
    fitted_framework = framework_of(fitted_array)
    fitted_device = fitted_framework.device_of(fitted_array)
    source = framework_of(X)
    if source is fitted_framework:
        if str(source.device_of(X)) != str(fitted_device):
            raise ValueError(
                f"{where}: X is on {source.device_of(X)} but this PCA was fitted on "
                f"{fitted_device}; move X to {fitted_device}"
            )
        return X
    selected = selected_target(None)
    if source is not None and (selected is None or selected.framework is not fitted_framework):
        raise TypeError(
            f"{where}: X comes from {source.name} but this PCA was fitted on "
            f"{fitted_framework.name} arrays; convert X first, e.g. "
            f"mlpillars.to_backend(X, '{fitted_framework.name}'), or fit on {source.name}"
        )
    # A Python list, or an array while the fitted backend is the selected one: move it.
    return move_to(X, Target(fitted_framework, fitted_device, fitted_framework.name))
