"""``PCA``, the scikit-learn estimator over the PCA kernels: each of its methods runs one
(the fit :mod:`._pca_kernels`'s, the projections :mod:`._pca_transforms`'s, the
probabilistic model :mod:`._pca_model`'s)."""

from __future__ import annotations

from typing import Any

from ..backends import (
    DATAFRAME_OUTPUTS,
    feature_names_of,
    materialize,
    numbers_of_objects,
    wrapped_output,
)
from ._checks import check_choice, check_flag
from ._pca_fit import PCAFit, whitening_spread
from ._pca_kernels import pca_fit
from ._pca_model import pca_covariance, pca_precision, pca_score, pca_score_samples
from ._pca_transforms import pca_inverse_transform, pca_transform


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
    n_components : int, float, "mle" or None
        k, with 1 <= k <= min(n, d); a float in (0, 1): the fewest components whose
        variance ratios sum to more than it; "mle" (n >= d): Minka's MLE of k, in
        [0, d - 1] (both need values: not under tracing); None: min(n, d). As
        scikit-learn's.
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
    noise_variance_ : array, shape ()
        The probabilistic model's noise variance: the mean variance of the components
        left out, 0 where all min(n, d) are kept (:mod:`mlpillars.kernels._pca_model`).
    n_components_ : int
        k: ``n_components``, or the number a float or "mle" chose (0 is possible for
        "mle", as scikit-learn's: ``components_`` is then (0, d)).
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
        n_components: int | float | str | None = None,
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
        numbers = numbers_of_objects(X)
        fitted = pca_fit(numbers, self.n_components, solver=self._solver(), backend=backend)
        # Dask: compute the small fitted arrays once, together (the passes over X they
        # share run once), not again at every transform.
        self._fitted = PCAFit._make(materialize(*fitted))
        self.components_ = self._fitted.components
        self.explained_variance_ = self._fitted.explained_variance
        self.explained_variance_ratio_ = self._fitted.explained_variance_ratio
        self.singular_values_ = self._fitted.singular_values
        self.mean_ = self._fitted.mean
        self.noise_variance_ = self._fitted.noise_variance
        self.n_components_ = int(self._fitted.components.shape[0])
        self.n_features_in_ = int(self._fitted.components.shape[1])
        self.n_samples_ = self._fitted.n_samples
        self.solver_ = self._fitted.solver
        self._keep_feature_names(X)
        return self

    def transform(self, X: Any, *, backend: str | None = None) -> Any:
        """Project X (n, d) onto the components: (n, k), divided by sqrt(λ) if whitening.

        ``backend=`` selects where it runs (X and the fitted arrays are moved there).
        """
        fitted = self._checked_fit("transform")
        spread = whitening_spread(fitted) if self.whiten else None
        arrays = (fitted.components, fitted.mean, fitted.mean_rounding, spread)
        centred = fitted.centred_projection
        numbers = numbers_of_objects(X)
        projected = pca_transform(numbers, *arrays, centred=centred, backend=backend)
        return wrapped_output(projected, self._output(), self.get_feature_names_out, X)

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
        numbers = numbers_of_objects(X_projected)
        return pca_inverse_transform(numbers, *arrays, backend=backend)

    def get_covariance(self, *, backend: str | None = None) -> Any:
        """The probabilistic model's covariance of the data (d, d):
        ``V^T diag(max(lambda - sigma^2, 0)) V + sigma^2 I``. scikit-learn's, but that its
        ``whiten=True`` scales V by sqrt(lambda) first (see
        :mod:`mlpillars.kernels._pca_model`); here the model is the data's either way."""
        return pca_covariance(*self._model_arrays("get_covariance"), backend=backend)

    def get_precision(self, *, backend: str | None = None) -> Any:
        """The inverse of :meth:`get_covariance` (d, d), from the model's form, not by
        inverting a matrix. ``ValueError`` where the model is singular (noise variance 0
        with fewer components than features, or a kept variance of 0)."""
        return pca_precision(*self._model_arrays("get_precision"), backend=backend)

    def score_samples(self, X: Any, *, backend: str | None = None) -> Any:
        """Each sample's log-likelihood under the probabilistic model (n,); X (n, d).
        ``ValueError`` where the model is singular, as :meth:`get_precision`."""
        model = self._model_arrays("score_samples")
        fitted = self._fitted
        means = (fitted.mean, fitted.mean_rounding)
        return pca_score_samples(numbers_of_objects(X), *model, *means, backend=backend)

    def score(self, X: Any, y: Any = None, *, backend: str | None = None) -> float:
        """The mean log-likelihood of the samples X (n, d), a Python float (``y`` is
        ignored), as scikit-learn's ``score`` (which model selection maximises)."""
        model = self._model_arrays("score")
        fitted = self._fitted
        means = (fitted.mean, fitted.mean_rounding)
        return float(pca_score(numbers_of_objects(X), *model, *means, backend=backend))

    def get_feature_names_out(self, input_features: Any = None) -> list[str]:
        """The names of the k projected columns, ``["pca0", "pca1", ...]``, as scikit-learn
        names a PCA's outputs (``ColumnTransformer`` and pipelines ask for them);
        ``input_features``, if given, must be the fit's ``n_features_in_`` names (its
        ``feature_names_in_`` where it was fitted on a data frame)."""
        self._checked_fit("get_feature_names_out")
        if input_features is not None:
            self._check_input_features(list(input_features))
        return [f"pca{index}" for index in range(self.n_components_)]

    def set_output(self, *, transform: str | None = None) -> PCA:
        """scikit-learn's choice of what ``transform`` and ``fit_transform`` return:
        ``"pandas"`` or ``"polars"`` (a frame of the projections' host copy, columns
        :meth:`get_feature_names_out`, a pandas input's index kept), ``"default"`` (the
        array, in X's namespace and device) or None (the choice unchanged). Returns
        ``self``; ``sklearn.base.clone`` copies the choice, as for its own transformers."""
        if transform is not None:
            check_choice("PCA.set_output", "transform", transform, DATAFRAME_OUTPUTS)
            self._sklearn_output_config = {"transform": transform}
        return self

    def _output(self) -> str:
        return getattr(self, "_sklearn_output_config", {}).get("transform", "default")

    def _keep_feature_names(self, X: Any) -> None:
        """``feature_names_in_`` of a data frame with string column names, as scikit-learn;
        a refit on other data drops the last fit's."""
        names = feature_names_of(X)
        if names is not None:
            self.feature_names_in_ = names
        elif hasattr(self, "feature_names_in_"):
            del self.feature_names_in_

    def _check_input_features(self, names: list[Any]) -> None:
        fitted_names = getattr(self, "feature_names_in_", None)
        if fitted_names is not None and names != list(fitted_names):
            raise ValueError(
                f"PCA.get_feature_names_out: input_features {names} are not the names this "
                f"PCA was fitted on (feature_names_in_: {list(fitted_names)})"
            )
        if len(names) != self.n_features_in_:
            raise ValueError(
                f"PCA.get_feature_names_out: input_features has {len(names)} names but this "
                f"PCA was fitted on {self.n_features_in_} features (n_features_in_)"
            )

    def _model_arrays(self, method: str) -> tuple[Any, Any, Any]:
        """V, the components' spreads sqrt(lambda) and the noise's sigma: in range where
        the variances are not (float32 data of 1e30 or 1e-30)."""
        fitted = self._checked_fit(method)
        return fitted.components, whitening_spread(fitted), fitted.noise_spread

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
