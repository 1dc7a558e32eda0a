"""PCA's probabilistic model (``noise_variance_``, ``get_covariance``, ``get_precision``,
``score_samples``, ``score``) against scikit-learn, and against an independent Gaussian:
NumPy's inverse of the covariance and ``scipy.stats.multivariate_normal``."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import multivariate_normal
from sklearn.decomposition import PCA as SklearnPCA

from mlpillars.kernels.pca import PCA, NotFittedError
from mlpillars.testing import BackendCase, assert_close
from mlpillars.tolerances import tolerance_for

# (n_samples, n_features, n_components, solver): fewer components than the data's rank,
# more features than samples, all components (noise variance 0), a fraction of variance.
SKLEARN_CASES = [
    (200, 6, 2, "covariance_eigh"),
    (200, 6, 2, "full"),
    (5, 10, 3, "full"),
    (5, 10, 3, "covariance_eigh"),
    (60, 6, None, "full"),
    (60, 6, 0.7, "covariance_eigh"),
]


def mixed_data(rng: np.random.Generator, n_samples: int, n_features: int) -> np.ndarray:
    """Correlated columns of unequal variance around a mean of 5."""
    mixing = rng.normal(size=(n_features, n_features)) * np.linspace(3.0, 0.5, n_features)
    return rng.normal(size=(n_samples, n_features)) @ mixing + 5.0


def gaussian_reference(model: SklearnPCA, samples: np.ndarray) -> tuple[np.ndarray, ...]:
    """The model's covariance (scikit-learn's, float64), its inverse by NumPy and the
    samples' log-densities by SciPy."""
    covariance = model.get_covariance()
    log_densities = multivariate_normal(mean=model.mean_, cov=covariance).logpdf(samples)
    return covariance, np.linalg.inv(covariance), np.atleast_1d(log_densities)


@pytest.mark.parametrize(("n_samples", "n_features", "n_components", "solver"), SKLEARN_CASES)
def test_model_is_sklearns(rng, n_samples, n_features, n_components, solver):
    X = mixed_data(rng, n_samples, n_features)
    samples = rng.normal(size=(7, n_features)) * 3.0 + 5.0
    reference = SklearnPCA(n_components, svd_solver=solver).fit(X)
    model = PCA(n_components, svd_solver=solver).fit(X)
    assert model.n_components_ == reference.n_components_
    assert model.noise_variance_.shape == ()
    assert_close(model.noise_variance_, reference.noise_variance_, like=X)
    assert_close(model.get_covariance(), reference.get_covariance(), like=X)
    if model.n_components_ == min(n_samples, n_features) < n_features:
        return  # a singular model: test_singular_model_raises
    assert_close(model.get_precision(), reference.get_precision(), like=X)
    assert_close(model.score_samples(samples), reference.score_samples(samples), like=X)
    assert math.isclose(model.score(samples), reference.score(samples), rel_tol=1e-12)


@pytest.mark.parametrize(("n_components", "noise_is_zero"), [(2, False), (None, True)])
def test_model_on_every_backend(xp: BackendCase, rng, n_components, noise_is_zero):
    """A model with noise (2 of 6 components) and one without (all 6), against the
    Gaussian of scikit-learn's covariance on the same (rounded) data."""
    X = xp.asarray(mixed_data(rng, 80, 6))
    samples = xp.asarray(rng.normal(size=(9, 6)) * 3.0 + 5.0)
    data, points = (xp.to_numpy(a).astype(np.float64) for a in (X, samples))
    reference = SklearnPCA(n_components, svd_solver="full").fit(data)
    covariance, precision, log_densities = gaussian_reference(reference, points)
    model = PCA(n_components).fit(X)
    assert (float(model.noise_variance_) == 0.0) == noise_is_zero
    assert_close(model.noise_variance_, reference.noise_variance_, like=X)
    assert_close(model.get_covariance(), covariance, like=X)
    assert_close(model.get_precision(), precision, like=X)
    assert_close(model.score_samples(samples), log_densities, like=X)
    score = model.score(samples)
    assert isinstance(score, float)
    assert math.isclose(score, log_densities.mean(), rel_tol=xp.tolerance.rtol)


def test_whitening_leaves_the_model_as_it_is(rng):
    """The model is the data's: whitening scales the projections only (scikit-learn's
    ``whiten=True`` scales the components by sqrt(variance) here: its issue 13898)."""
    X = mixed_data(rng, 100, 5)
    samples = mixed_data(rng, 4, 5)
    plain, whitened = PCA(2).fit(X), PCA(2, whiten=True).fit(X)
    unwhitened = SklearnPCA(2).fit(X)
    for method in ("get_covariance", "get_precision"):
        assert_close(getattr(whitened, method)(), getattr(plain, method)(), like=X)
        assert_close(getattr(whitened, method)(), getattr(unwhitened, method)(), like=X)
    assert_close(whitened.score_samples(samples), unwhitened.score_samples(samples), like=X)


@pytest.mark.parametrize("method", ["get_precision", "score_samples", "score"])
def test_singular_model_raises(rng, method):
    """No noise with fewer components than features (5 samples of 10 features, all 5
    components), or all components with one of variance 0 (a constant column): the
    covariance has no inverse. scikit-learn's inverse raises LinAlgError or gives NaN."""
    too_few_samples = PCA().fit(mixed_data(rng, 5, 10))
    constant_column = mixed_data(rng, 40, 3)
    constant_column[:, 1] = 2.0
    with_a_constant = PCA().fit(constant_column)
    for model, expected in ((too_few_samples, "noise variance is 0"), (with_a_constant, "0")):
        arguments = () if method == "get_precision" else (np.ones((2, model.n_features_in_)),)
        with pytest.raises(ValueError, match=f"PCA.{method}: .*singular.*{expected}"):
            getattr(model, method)(*arguments)
    # the covariance itself exists: scikit-learn's
    data = mixed_data(rng, 5, 10)
    assert_close(PCA().fit(data).get_covariance(), SklearnPCA().fit(data).get_covariance())


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("scale", ["tiny", "huge"])
def test_scaled_data_moves_log_likelihood_by_log_scale(rng, dtype, scale):
    """Data of 1e-100 or 1e100 (float32: 1e-15, 1e15) around an offset of 1e3 times
    their spread: log p(c x) = log p(x) - d log c, as the density of c x is."""
    exponent = {np.float64: 100, np.float32: 15}[dtype] * (1 if scale == "huge" else -1)
    factor = 10.0**exponent
    X = mixed_data(rng, 100, 4) + 1e3
    samples = mixed_data(rng, 5, 4) + 1e3
    expected = PCA(2).fit(X).score_samples(samples) - 4 * math.log(factor)
    scaled, scaled_samples = (np.asarray(a * factor, dtype=dtype) for a in (X, samples))
    actual = PCA(2).fit(scaled).score_samples(scaled_samples)
    assert actual.dtype == dtype
    tolerance = tolerance_for(dtype)
    # the float32 data of 1e3 around 1e3 hold each sample to 6e-5 of its spread
    rtol = tolerance.rtol if dtype == np.float64 else 1e-3
    np.testing.assert_allclose(actual, expected, rtol=rtol)


# (dtype, factor): variances past the dtype's range, above and below (float64 data of
# 1e200 and 1e-200, float32 of 1e25 and 1e-25, float16 of a spread of about 300)
PAST_THE_RANGE = [
    (np.float64, 1e200),
    (np.float64, 1e-200),
    (np.float32, 1e25),
    (np.float32, 1e-25),
    (np.float16, 1e2),
]


@pytest.mark.parametrize(("dtype", "factor"), PAST_THE_RANGE)
def test_model_whose_variances_pass_the_dtypes_range(rng, dtype, factor):
    """Variances past the dtype's range (float64 data of 1e200: 1e400, inf; of 1e-200:
    1e-400, 0; float16 data of a spread of 300: 9e4, inf) and a model that is not: the
    log-likelihood is log p(x / c) - d log c, finite (it was -inf for the large, and
    ValueError, 'singular', for the small: the noise variance and the variances were 0); the
    covariance c^2 C and the precision P / c^2 are inf or 0 where past the range, not NaN
    (inf times a component's 0). Against scikit-learn's float64 model of the values over c."""
    X, samples = mixed_data(rng, 100, 4) - 5.0, mixed_data(rng, 5, 4) - 5.0
    scaled, scaled_samples = (np.asarray(a * factor, dtype=dtype) for a in (X, samples))
    unscaled, unscaled_samples = (a.astype(np.float64) / factor for a in (scaled, scaled_samples))
    reference = SklearnPCA(2).fit(unscaled)
    covariance, precision, log_densities = gaussian_reference(reference, unscaled_samples)
    c = np.longdouble(factor)
    with np.errstate(over="ignore", under="ignore"):
        expected_covariance = (covariance * c * c).astype(dtype)
        expected_precision = (precision / c / c).astype(dtype)
    model = PCA(2).fit(scaled)
    assert_close(model.get_covariance(), expected_covariance, like=scaled)
    assert_close(model.get_precision(), expected_precision, like=scaled)
    expected = log_densities - X.shape[1] * math.log(factor)
    assert_close(model.score_samples(scaled_samples), expected.astype(dtype), like=scaled)
    assert math.isclose(model.score(scaled_samples), expected.mean(), rel_tol=5e-3)


def test_half_precision_model_is_computed_in_float32(rng):
    X = mixed_data(rng, 60, 4).astype(np.float16)
    model = PCA(2).fit(X)
    reference = PCA(2).fit(X.astype(np.float32))
    for method in ("get_covariance", "get_precision"):
        result = getattr(model, method)()
        assert result.dtype == np.float16
        assert_close(result, getattr(reference, method)().astype(np.float16))
    samples = X[:3]
    assert model.score_samples(samples).dtype == np.float16
    assert_close(model.score_samples(samples), reference.score_samples(samples[:3]))


def test_model_methods_need_a_fit():
    for method, arguments in (("get_covariance", ()), ("score", (np.ones((2, 3)),))):
        with pytest.raises(NotFittedError, match=f"PCA.{method}: this PCA is not fitted"):
            getattr(PCA(2), method)(*arguments)


def test_score_samples_checks_the_width(rng):
    model = PCA(2).fit(mixed_data(rng, 30, 4))
    with pytest.raises(
        ValueError, match=r"PCA\.score_samples: X has 3 features, but PCA is expecting 4"
    ):
        model.score_samples(np.ones((2, 3)))


def test_score_samples_under_jax_jit(rng):
    """Traced, the kernel reads no value (no singular-model check) and gives the eager
    call's log-likelihoods."""
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    from mlpillars.kernels._pca_model import pca_score_samples

    X = jax.numpy.asarray(mixed_data(rng, 50, 5))
    model = PCA(3).fit(X)
    arrays = model._model_arrays("score_samples")  # V, sqrt(lambda), sigma
    fitted = model._fitted
    means = (fitted.mean, fitted.mean_rounding)
    jitted = jax.jit(lambda samples: pca_score_samples(samples, *arrays, *means))
    assert_close(jitted(X[:6]), np.asarray(model.score_samples(X[:6])), like=X)


def test_model_of_no_component_is_sklearns(rng):
    """``n_components="mle"`` keeps 0 components of one feature: the model is then the
    noise alone, sigma^2 I (the covariance's largest spread was taken over no spreads:
    ValueError, zero-size array)."""
    X = rng.normal(size=(40, 1)) * 2.0 + 3.0
    samples = rng.normal(size=(5, 1))
    model, reference = PCA("mle").fit(X), SklearnPCA("mle").fit(X)
    assert model.n_components_ == reference.n_components_ == 0
    assert_close(model.noise_variance_, reference.noise_variance_, like=X)
    assert_close(model.get_covariance(), reference.get_covariance(), like=X)
    assert_close(model.get_precision(), reference.get_precision(), like=X)
    assert_close(model.score_samples(samples), reference.score_samples(samples), like=X)
