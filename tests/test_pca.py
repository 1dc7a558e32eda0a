"""PCA (the ``pca`` and ``pca_fit`` kernels and the ``PCA`` class) against scikit-learn.

Every backend/device/dtype is compared with scikit-learn's ``PCA`` on a float64 NumPy copy
of the same input, signs included. The data have a well-separated spectrum (standard
normal columns scaled by 5, 3, 2, 1, 0.5): an eigenvector's error is about
eps * ||C|| / (eigenvalue gap), here ~1e-6 in float32, well inside the float32 tolerance,
so the table's tolerances are used as they are.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.decomposition import PCA as SklearnPCA

import mlpillars
import mlpillars.kernels._pca_fit as pca_fit_module
from mlpillars.backends import eigh as backends_eigh
from mlpillars.backends import use_backend, values_at_hand
from mlpillars.kernels.pca import PCA, NotFittedError, pca, pca_fit, resolve_solver
from mlpillars.testing import BackendCase, assert_close

SKLEARN_SOLVER = {"covariance_eigh": "covariance_eigh", "svd": "full"}
FEATURE_SCALES = np.array([5.0, 3.0, 2.0, 1.0, 0.5])
FITTED_ATTRIBUTES = (
    "components_",
    "explained_variance_",
    "explained_variance_ratio_",
    "singular_values_",
    "mean_",
)
# The tutorial's customers: age, income, months as a customer.
CUSTOMERS = np.array(
    [
        [35, 75000, 24],
        [28, 52000, 12],
        [42, 98000, 36],
        [31, 61000, 18],
        [55, 120000, 48],
    ],
    dtype=float,
)


def scaled_data(rng: np.random.Generator, n_samples: int, scales=FEATURE_SCALES) -> np.ndarray:
    """Columns of distinct variance around a non-zero mean (so centring is exercised)."""
    return rng.normal(size=(n_samples, len(scales))) * scales + np.linspace(-2.0, 3.0, len(scales))


def assert_fitted_like(model: PCA, reference: SklearnPCA, X) -> None:
    for name in FITTED_ATTRIBUTES:
        assert_close(getattr(model, name), getattr(reference, name), like=X, err_msg=name)
    assert model.n_components_ == reference.n_components_
    assert model.n_samples_ == reference.n_samples_
    assert model.n_features_in_ == reference.n_features_in_


@pytest.mark.parametrize("whiten", [False, True])
@pytest.mark.parametrize("solver", ["covariance_eigh", "svd"])
def test_pca_matches_sklearn(xp: BackendCase, rng, solver, whiten):
    X = xp.asarray(scaled_data(rng, 60))
    X_host = xp.to_numpy(X)
    reference = SklearnPCA(3, svd_solver=SKLEARN_SOLVER[solver], whiten=whiten).fit(X_host)
    model = PCA(3, whiten=whiten, solver=solver).fit(X)
    assert_fitted_like(model, reference, X)
    projected = model.transform(X)
    assert_close(projected, reference.transform(X_host), like=X)
    assert_close(model.fit_transform(X), reference.transform(X_host), like=X)
    expected_back = reference.inverse_transform(reference.transform(X_host))
    assert_close(model.inverse_transform(projected), expected_back, like=X)


def test_wide_data_runs_svd_and_matches_sklearn(xp: BackendCase, rng):
    scales = np.geomspace(8.0, 0.5, 20)
    X = xp.asarray(scaled_data(rng, 8, scales))
    X_host = xp.to_numpy(X)
    reference = SklearnPCA(3, svd_solver="full").fit(X_host)
    model = PCA(3).fit(X)
    assert model.solver_ == "svd"
    assert_fitted_like(model, reference, X)
    assert_close(model.transform(X), reference.transform(X_host), like=X)


@pytest.mark.parametrize("whiten", [False, True])
def test_pca_function_is_fit_transform(xp: BackendCase, rng, whiten):
    X = xp.asarray(scaled_data(rng, 50))
    expected = SklearnPCA(2, whiten=whiten).fit_transform(xp.to_numpy(X))
    assert_close(pca(X, 2, whiten=whiten), expected, like=X)


def test_pca_fit_kernel_returns_the_fit(xp: BackendCase, rng):
    X = xp.asarray(scaled_data(rng, 50))
    reference = SklearnPCA(2, svd_solver="covariance_eigh").fit(xp.to_numpy(X))
    fitted = pca_fit(X, 2)
    assert fitted.solver == "covariance_eigh"
    assert fitted.n_samples == 50
    assert_close(fitted.components, reference.components_, like=X)
    assert_close(fitted.explained_variance_ratio, reference.explained_variance_ratio_, like=X)


def test_tutorial_customers_match_numpy_eigh(xp: BackendCase):
    standardised = (CUSTOMERS - CUSTOMERS.mean(axis=0)) / CUSTOMERS.std(axis=0)
    X = xp.asarray(standardised)
    X_host = xp.to_numpy(X)
    # Independent reference: eigh of np.cov, largest first, largest-|.| entry positive.
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(X_host.T))
    eigenvalues, axes = eigenvalues[::-1], eigenvectors[:, ::-1].T
    axes *= np.sign(axes[np.arange(3), np.argmax(np.abs(axes), axis=1)])[:, None]
    for solver in ("covariance_eigh", "svd"):
        model = PCA(2, solver=solver).fit(X)
        assert_close(model.explained_variance_, eigenvalues[:2], like=X, err_msg=solver)
        ratio = eigenvalues[:2] / eigenvalues.sum()
        assert_close(model.explained_variance_ratio_, ratio, like=X, err_msg=solver)
        assert_close(model.components_, axes[:2], like=X, err_msg=solver)
        centred = X_host - X_host.mean(axis=0)
        assert_close(model.transform(X), centred @ axes[:2].T, like=X, err_msg=solver)


def test_solvers_agree(rng):
    X = scaled_data(rng, 40)
    by_eigh = PCA(4, solver="covariance_eigh").fit(X)
    by_svd = PCA(4, solver="svd").fit(X)
    for name in FITTED_ATTRIBUTES:
        assert_close(getattr(by_eigh, name), getattr(by_svd, name), err_msg=name)
    assert_close(by_eigh.transform(X), by_svd.transform(X))


@pytest.mark.parametrize(
    ("n_samples", "n_features", "expected"),
    [
        (50, 5, "covariance_eigh"),
        (49, 5, "svd"),
        (10_000, 1_000, "covariance_eigh"),
        (10_010, 1_001, "svd"),
        (8, 20, "svd"),
    ],
)
def test_auto_solver_follows_sklearn_rule(n_samples, n_features, expected):
    assert resolve_solver("auto", n_samples, n_features) == expected


def test_auto_solver_is_the_one_that_runs(rng):
    assert PCA(2).fit(scaled_data(rng, 50)).solver_ == "covariance_eigh"
    assert PCA(2).fit(scaled_data(rng, 49)).solver_ == "svd"
    assert PCA(2, solver="svd").fit(scaled_data(rng, 50)).solver_ == "svd"


@settings(max_examples=30, deadline=None)
@given(
    n_samples=st.integers(2, 30),
    n_features=st.integers(1, 8),
    component_fraction=st.floats(0.0, 1.0),
    solver=st.sampled_from(["covariance_eigh", "svd"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_properties_on_random_shapes(n_samples, n_features, component_fraction, solver, seed):
    X = np.random.default_rng(seed).normal(size=(n_samples, n_features))
    limit = min(n_samples, n_features)
    n_components = 1 + round(component_fraction * (limit - 1))
    model = PCA(n_components, solver=solver).fit(X)
    components = model.components_
    assert components.shape == (n_components, n_features)
    assert_close(components @ components.T, np.eye(n_components))
    ratio = model.explained_variance_ratio_
    tolerance = 1e-12
    assert ratio.sum() <= 1 + tolerance
    assert np.all(ratio >= 0)
    assert np.all(np.diff(ratio) <= tolerance)


# --- Dask: the covariance is built chunk by chunk, only the (d, d) matrix meets NumPy -----


@pytest.fixture
def dask_array():
    return pytest.importorskip("dask.array")


def _lazy_data(dask_array, n_samples: int, chunk_rows: int):
    """Data generated chunk by chunk: no task ever holds all the rows."""
    generator = dask_array.random.default_rng(7)
    noise = generator.normal(size=(n_samples, 4), chunks=(chunk_rows, 4))
    return noise * np.array([4.0, 2.0, 1.0, 0.5]) + 1.0


class _TaskShapes:
    """Records the shape of every array a Dask task produces while active."""

    def __init__(self):
        from dask.callbacks import Callback

        self.shapes: list[tuple[int, ...]] = []
        self.callback = Callback(posttask=self._record)

    def _record(self, key, result, dsk, state, worker_id):
        if hasattr(result, "shape"):
            self.shapes.append(tuple(result.shape))


@pytest.mark.parametrize("solver", ["covariance_eigh", "svd"])
def test_dask_fit_stays_chunked(dask_array, monkeypatch, solver):
    n_samples = 120
    X = _lazy_data(dask_array, n_samples, chunk_rows=30)
    eigh_inputs = []

    def spying_eigh(matrix):
        eigh_inputs.append((type(matrix).__module__, tuple(matrix.shape)))
        return backends_eigh(matrix)

    monkeypatch.setattr(pca_fit_module, "eigh", spying_eigh)
    tasks = _TaskShapes()
    with tasks.callback:
        model = PCA(2, solver=solver).fit(X)
        projected = model.transform(X)
    for name in (*FITTED_ATTRIBUTES, "transform"):
        value = projected if name == "transform" else getattr(model, name)
        assert isinstance(value, dask_array.Array), f"{name} is {type(value)}"
    assert (30, 4) in tasks.shapes  # the recorder saw X's chunks ...
    assert all(shape[0] < n_samples for shape in tasks.shapes if len(shape) == 2), tasks.shapes
    if solver == "covariance_eigh":
        assert eigh_inputs == [("dask.array.core", (4, 4))]
    else:
        assert eigh_inputs == []
    X_host = X.compute()
    reference = SklearnPCA(2, svd_solver=SKLEARN_SOLVER[solver]).fit(X_host)
    assert_fitted_like(model, reference, X)
    assert_close(projected, reference.transform(X_host), like=X)


def test_dask_wide_svd_keeps_columns_chunked(dask_array, rng):
    values = scaled_data(rng, 8, np.geomspace(8.0, 0.5, 40))
    X = dask_array.from_array(values, chunks=(4, 10))
    model = PCA(3, solver="svd").fit(X)
    assert isinstance(model.components_, dask_array.Array)
    assert_fitted_like(model, SklearnPCA(3, svd_solver="full").fit(values), X)


# --- backend selection ------------------------------------------------------------------


def test_backend_keyword_and_selection_reach_the_fit(rng):
    torch = pytest.importorskip("torch")
    X = scaled_data(rng, 50)
    assert isinstance(pca(X, 2, backend="torch"), torch.Tensor)
    assert isinstance(PCA(2).fit(X, backend="torch").components_, torch.Tensor)
    with use_backend("torch"):
        model = PCA(2).fit(X)
        projected = model.transform(X)  # the selected backend is the fitted one: X moves
    assert isinstance(model.components_, torch.Tensor)
    assert isinstance(projected, torch.Tensor)
    # Without a selection, data of another namespace than the fit is refused, naming both.
    refused = r"PCA\.transform: .*different array namespaces: numpy \(X\), torch \(components\)"
    with pytest.raises(TypeError, match=refused):
        model.transform(X)
    with pytest.raises(TypeError, match=r"PCA\.inverse_transform: .*numpy \(X_projected\)"):
        model.inverse_transform(np.ones((3, 2)))


def test_a_selected_backend_moves_data_and_fit_onto_it(rng):
    torch = pytest.importorskip("torch")
    X = scaled_data(rng, 50)
    reference = SklearnPCA(2, whiten=True).fit(X)
    model = PCA(2, whiten=True).fit(X)  # fitted on NumPy ...
    projected = model.transform(X, backend="torch")  # ... transformed on torch
    assert isinstance(projected, torch.Tensor)
    assert_close(projected, reference.transform(X), like=torch.asarray(X))
    with use_backend("torch"):
        restored = model.inverse_transform(projected.numpy())
    assert isinstance(restored, torch.Tensor)
    expected_back = reference.inverse_transform(reference.transform(X))
    assert_close(restored, expected_back, like=torch.asarray(X))
    fitted_and_projected = PCA(2, whiten=True).fit_transform(X, backend="torch")
    assert_close(fitted_and_projected, reference.transform(X), like=torch.asarray(X))


def test_transform_helpers_are_not_public_kernels():
    assert not [name for name in mlpillars.KERNELS if "transform" in name]


def test_python_lists_are_accepted(rng):
    X = scaled_data(rng, 30)
    model = PCA(2).fit(X.tolist())
    assert_close(model.transform(X[:3].tolist()), model.transform(X[:3]))


# --- errors ------------------------------------------------------------------------------


@pytest.mark.parametrize("n_components", [0, -1, 6])
def test_n_components_out_of_range(rng, n_components):
    X = scaled_data(rng, 20)
    with pytest.raises(ValueError, match=r"n_components=.* between 1 and .*min\(20, 5\) = 5"):
        PCA(n_components).fit(X)
    with pytest.raises(ValueError, match=r"^pca: n_components"):
        pca(X, n_components)


def test_n_components_above_n_samples(rng):
    with pytest.raises(ValueError, match=r"min\(3, 5\) = 3"):
        pca(scaled_data(rng, 3), 4)


@pytest.mark.parametrize("n_components", ["2", True, [2]])
def test_n_components_not_a_number(rng, n_components):
    with pytest.raises(TypeError, match="pca_fit: n_components must be an int, a float in"):
        PCA(n_components).fit(scaled_data(rng, 20))


@pytest.mark.parametrize("n_components", [2.5, 1.0, 0.0, -0.5, np.float32(1.5)])
def test_float_n_components_outside_the_unit_interval(rng, n_components):
    with pytest.raises(ValueError, match=r"pca_fit: n_components=.* must lie in \(0, 1\)"):
        PCA(n_components).fit(scaled_data(rng, 20))


def test_numpy_integer_n_components_is_accepted(rng):
    assert PCA(np.int64(2)).fit(scaled_data(rng, 20)).n_components_ == 2


def test_fewer_than_two_samples(rng):
    with pytest.raises(ValueError, match=r"1 sample\(s\) \(X: \(1, 5\)\).*at least 2"):
        pca(scaled_data(rng, 1), 1)


def test_zero_features_are_refused_by_name(xp: BackendCase):
    """As scikit-learn's PCA; they were a raw error from a framework's argmax."""
    empty = xp.asarray(np.ones((4, 0)))
    for fit in (pca, pca_fit, lambda X: PCA().fit(X)):
        with pytest.raises(
            ValueError,
            match=r"found array with 0 feature\(s\) \(shape=\(4, 0\)\) while a minimum of 1",
        ):
            fit(empty)


@pytest.mark.parametrize("bad_value", [np.nan, np.inf, -np.inf])
def test_non_finite_input(xp: BackendCase, rng, bad_value):
    values = scaled_data(rng, 20)
    values[3, 2] = bad_value
    with pytest.raises(ValueError, match=r"NaN or infinity .* 1 of its 5 columns.* column 2"):
        pca(xp.asarray(values), 2)


def test_one_dimensional_input():
    with pytest.raises(ValueError, match=r"pca: X must be 2-D.*got 1-D \(X: \(6,\)\).*reshape"):
        pca(np.arange(6.0), 1)


def test_unknown_solver(rng):
    with pytest.raises(ValueError, match=r"unknown solver 'arpack'.*'covariance_eigh'"):
        PCA(2, solver="arpack").fit(scaled_data(rng, 20))


@pytest.mark.parametrize("method", ["transform", "inverse_transform"])
def test_use_before_fit(rng, method):
    with pytest.raises(NotFittedError, match=f"PCA.{method}: .*not fitted"):
        getattr(PCA(2), method)(scaled_data(rng, 5))
    assert not hasattr(PCA(2), "components_")


def test_feature_count_mismatch(rng):
    model = PCA(2).fit(scaled_data(rng, 20))
    with pytest.raises(ValueError, match=r"transform: X has 4 features, but PCA is expecting 5"):
        model.transform(np.ones((3, 4)))
    with pytest.raises(ValueError, match=r"inverse_transform: X has 5 features, .* expecting 2"):
        model.inverse_transform(np.ones((3, 5)))
    with pytest.raises(ValueError, match=r"must be 2-D.*Reshape your data"):
        model.transform(np.ones(5))


def test_transform_refuses_nan_and_infinity_as_sklearn(xp: BackendCase, rng):
    """scikit-learn's transform refuses them; ours gave NaN rows. Finite data whose
    projections pass the dtype's range are not refused: infinity is their value."""
    model = PCA(2).fit(xp.asarray(scaled_data(rng, 20)))
    for bad in (np.nan, np.inf):
        values = np.ones((4, 5))
        values[2, 1] = bad
        X = xp.asarray(values)
        if not values_at_hand(X):  # Dask, a GPU: no compute, no sync to read them
            assert xp.backend != "numpy" and not (xp.backend == "torch" and xp.device_name == "cpu")
            projected = xp.to_numpy(model.transform(X))
            assert not np.isfinite(projected[2]).any()
            assert np.isfinite(np.delete(projected, 2, axis=0)).all()
            continue
        with pytest.raises(ValueError, match=r"PCA.transform: X contains NaN or infinity in 1 "):
            model.transform(X)
    huge = xp.asarray(np.full((2, 5), float(np.finfo(xp.dtype_name).max)))
    assert xp.to_numpy(model.transform(huge)).shape == (2, 2)


def test_object_arrays_of_numbers_are_converted_as_sklearn(rng):
    values = scaled_data(rng, 20)
    model = PCA(2).fit(values.astype(object))
    assert model.components_.dtype == np.float64
    assert_close(model.transform(values.astype(object)), PCA(2).fit(values).transform(values))
    strings = values.astype(object)
    strings[0, 0] = {"not": "a number"}
    with pytest.raises(TypeError, match=r"must be a string or a.* number"):
        PCA(2).fit(strings)


def test_transform_with_another_namespace(rng):
    strict = pytest.importorskip("array_api_strict")
    model = PCA(2).fit(scaled_data(rng, 20))
    refused = r"PCA\.transform: .*namespaces: array_api_strict \(X\), numpy \(components\)"
    with pytest.raises(TypeError, match=refused):
        model.transform(strict.asarray(scaled_data(rng, 3)))


@pytest.mark.parametrize("solver", ["covariance_eigh", "svd"])
def test_data_far_from_zero_keeps_its_variances(xp: BackendCase, rng, solver):
    # timestamps, prices, counts: a large mean, a small spread (X^T X - n mu mu^T cancels)
    offset = 1e8 if xp.dtype_name == "float64" else 1e4
    X = xp.asarray(offset + rng.normal(size=(200, 3)) * np.sqrt([3.0, 2.0, 1.0]))
    X_host = xp.to_numpy(X)  # the values as rounded to the case's dtype, in float64
    centred = X_host - X_host.mean(axis=0)
    singular_values = np.linalg.svd(centred, compute_uv=False)
    fitted = pca_fit(X, 2, solver=solver)
    assert_close(fitted.explained_variance, singular_values[:2] ** 2 / 199, like=X)
    assert_close(fitted.singular_values, singular_values[:2], like=X)
    expected_ratio = singular_values[:2] ** 2 / np.sum(singular_values**2)
    assert_close(fitted.explained_variance_ratio, expected_ratio, like=X)


def _fit_of_scaled_data(
    rng: np.random.Generator,
    framework: str,
    dtype_name: str,
    solver: str,
    scale: float,
    *,
    jit: bool = False,
) -> tuple[BackendCase, Any]:
    """pca_fit of ``scale`` times well-scaled data (40 x 3) (under ``jax.jit`` if ``jit``),
    its axes, singular values and ratios checked against the float64 SVD of the unscaled
    values; the case and the fit."""
    pytest.importorskip(framework)
    case = BackendCase(framework, "cpu", dtype_name)
    X = case.asarray(scale * scaled_data(rng, 40)[:, :3])
    unscaled = case.to_numpy(X).astype(np.float64) / scale
    _, singular_values, axes = np.linalg.svd(unscaled - unscaled.mean(axis=0))

    def fit(X: Any) -> Any:
        return pca_fit(X, 2, solver=solver)

    if jit:
        import jax

        fit = jax.jit(fit)
    fitted = fit(X)
    signs = np.sign(np.sum(axes[:2] * case.to_numpy(fitted.components), axis=1, keepdims=True))
    assert_close(fitted.components, signs * axes[:2], like=X)
    assert_close(fitted.singular_values / scale, singular_values[:2], like=X)
    ratios = singular_values[:2] ** 2 / np.sum(singular_values**2)
    assert_close(fitted.explained_variance_ratio, ratios, like=X)
    return case, fitted


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # NumPy's, as it should
@pytest.mark.parametrize("framework", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("solver", ["covariance_eigh", "svd"])
def test_data_whose_squares_pass_the_dtype_range(rng, framework, dtype_name, solver):
    # float32 data of 1e20 (float64: 1e160): variances of 1e40 are past the dtype's range,
    # the axes, the ratios and the singular values (4e20) are not. The covariance solver
    # raised LinAlgError (its Gram overflowed), the SVD solver gave NaN ratios and inf
    # singular values; the variances are inf, the value the dtype holds.
    scale = 1e20 if dtype_name == "float32" else 1e160
    case, fitted = _fit_of_scaled_data(rng, framework, dtype_name, solver, scale)
    assert np.all(np.isinf(case.to_numpy(fitted.explained_variance)))


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("framework", ["numpy", "dask", "array_api_strict"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_a_gram_past_the_range_of_variances_within_it_warns_of_nothing(rng, framework, dtype_name):
    # data of a tenth of the root of the largest float: the Gram's sums of squares (40
    # samples) are past the range, the variances are not. NumPy warned of the Gram, which
    # the covariance solver then computed again in units of the data (an answer in range)
    scale = float(np.sqrt(np.finfo(dtype_name).max)) / 10
    case, fitted = _fit_of_scaled_data(rng, framework, dtype_name, "covariance_eigh", scale)
    assert np.all(np.isfinite(case.to_numpy(fitted.explained_variance)))


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # the variances'
@pytest.mark.parametrize("framework", ["numpy", "torch", "jax"])
def test_whitening_where_the_variances_pass_the_dtype_range(rng, framework):
    # float16 data of a spread of 1000: variances of 1e6 are inf in float16, which
    # whitened every projection to 0 (and inverse_transform gave NaN); the spreads are not
    pytest.importorskip(framework)
    case = BackendCase(framework, "cpu", "float16")
    X = case.asarray(rng.normal(size=(60, 4)) * [5.0, 3.0, 2.0, 1.0] * 200)
    host = case.to_numpy(X).astype(np.float64)
    reference = SklearnPCA(2, whiten=True).fit(host)
    model = PCA(2, whiten=True).fit(X)
    assert np.all(np.isinf(case.to_numpy(model.explained_variance_)))  # as float16 holds
    projected = model.transform(X)
    signs = np.sign(np.sum(reference.components_ * case.to_numpy(model.components_), axis=1))
    assert_close(projected, reference.transform(host) * signs, like=X)
    assert_close(pca(X, 2, whiten=True), reference.transform(host) * signs, like=X)
    restored = reference.inverse_transform(reference.transform(host))
    assert_close(model.inverse_transform(projected), restored, like=X)


@pytest.mark.parametrize("framework", ["numpy", "torch", "jax"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("solver", ["covariance_eigh", "svd"])
def test_data_whose_squares_are_subnormal(rng, framework, dtype_name, solver):
    # float32 data of 1e-22 (float64: 1e-160): the covariance solver's Gram summed squares
    # among the subnormals: axes 1.4e-2 off, and at 1e-30 the coordinate axes with ratios
    # of 0 (JAX, which flushes subnormals, from 1e-20 on). The variances themselves are
    # subnormal, not asserted: the dtype holds them only roughly.
    scale = 1e-22 if dtype_name == "float32" else 1e-160
    _fit_of_scaled_data(rng, framework, dtype_name, solver, scale)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
@pytest.mark.parametrize("scale", [1e20, 1e-30])
@pytest.mark.parametrize("where", ["dask", "jax.jit"])
def test_covariance_of_extreme_data_whose_values_are_not_at_hand(rng, where, scale):
    # The covariance solver rescaled only where the Gram could be read: under jax.jit
    # float32 data of 1e20 gave NaN axes, on Dask eigh raised LinAlgError; data of 1e-30
    # gave the coordinate axes (ratios 1e4 times the tolerance off) on both. The unit now
    # comes from the columns' extremes, taken in the mean's pass.
    framework = "dask" if where == "dask" else "jax"
    _fit_of_scaled_data(rng, framework, "float32", "covariance_eigh", scale, jit=where != "dask")


@pytest.mark.parametrize("framework", ["numpy", "torch", "jax"])
def test_svd_of_float32_data_a_million_spreads_from_zero(rng, framework):
    # float32 data of 1e6 +- 1: the mean's round-off (~0.1) left a rank-one term in the
    # centred data that moved the SVD solver's singular values by 2-90%; it is taken out
    # by a second pass (the covariance solver's residual, as there).
    pytest.importorskip(framework)
    case = BackendCase(framework, "cpu", "float32")
    X = case.asarray(1e6 + rng.normal(size=(28, 3)) * [1.0, 0.3, 0.1])
    host = case.to_numpy(X).astype(np.float64)  # the values as rounded to float32
    singular_values = np.linalg.svd(host - host.mean(axis=0), compute_uv=False)
    fitted = pca_fit(X, 3, solver="svd")
    assert_close(fitted.singular_values, singular_values, like=X)
    ratios = singular_values**2 / np.sum(singular_values**2)
    assert_close(fitted.explained_variance_ratio, ratios, like=X)


@pytest.mark.parametrize("offset", [1e4, 1e6])
def test_projections_of_data_far_from_zero(xp: BackendCase, rng, offset):
    # A float32 mean of 1e6 holds the exact one to an ulp (0.06), which moved every
    # projection by that times the axis: float32 data of 1e6 +- 1 came out 5e-2 off the
    # float64 projection, of 1e4 +- 1 5e-4 (17 to 3000 times the table's tolerance, on
    # every backend); the fit keeps the mean's rounding and takes it out too. (X V^T - mu V^T
    # also cancels there: such data are centred first.)
    X = xp.asarray(offset + rng.normal(size=(50, 3)) * [1.0, 0.5, 0.25])
    host = xp.to_numpy(X).astype(np.float64)  # the values as rounded to the case's dtype
    centred = host - host.mean(axis=0)
    centred -= centred.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    model = PCA(2).fit(X)
    signs = np.sign(np.sum(axes[:2] * xp.to_numpy(model.components_), axis=1))
    expected = centred @ axes[:2].T * signs
    assert_close(model.transform(X), expected, like=X)
    assert_close(pca(X, 2), expected, like=X)
    restored = expected @ (axes[:2] * signs[:, None]) + (host - centred)
    assert_close(model.inverse_transform(model.transform(X)), restored, like=X)


def test_constant_data_has_zero_ratio_not_nan(xp: BackendCase):
    X = xp.asarray(np.full((6, 3), 2.5))
    fitted = PCA(2).fit(X)
    for attribute in ("explained_variance_", "explained_variance_ratio_", "singular_values_"):
        assert_close(getattr(fitted, attribute), np.zeros(2), like=X)
    assert np.all(np.isfinite(xp.to_numpy(fitted.transform(X))))


@pytest.mark.parametrize("framework", ["torch", "jax"])
def test_demo_example_is_determined_to_float32_at_every_demo_size(framework):
    # The demo's example drew, at n = 20, singular values 4% apart (scales of 10 to 0.1
    # spaced by 14%): JAX's float32 SVD, LAPACK's sgesdd (SciPy's bit for bit), projected
    # 2.5e-4 off, 2x the table; the kept features are now 1.5 times the next apart. A
    # float32 axis errs by about eps ||X|| / gap: the framework runs the sizes of the
    # three smallest gaps among the kept singular values (5.6-8% at n = 17-19) and the
    # largest, not all 24 (each size a new compilation on JAX: 36 s of a CI run).
    from mlpillars.examples import SMALLEST_SIZE
    from mlpillars.examples import pca as pca_example

    pytest.importorskip(framework)
    case = BackendCase(framework, "cpu", "float32")
    calls = {size: pca_example(np.random.default_rng(0), size) for size in range(SMALLEST_SIZE, 41)}
    gaps = {size: _smallest_kept_gap(call.arrays[0], 8) for size, call in calls.items()}
    closest = sorted(gaps, key=gaps.get)[:3]
    assert min(gaps.values()) > 0.05, gaps
    for size in (*closest, max(calls)):
        call = calls[size]
        expected = pca(*call.arrays, **call.options)  # float64 NumPy
        X = case.asarray(call.arrays[0])
        assert_close(pca(X, **call.options), expected, like=X, err_msg=f"size {size}")


def _smallest_kept_gap(X: np.ndarray, kept: int) -> float:
    """min over the kept singular values s_i of (s_i - s_(i+1)) / s_i, of the centred X."""
    singular_values = np.linalg.svd(X - X.mean(axis=0), compute_uv=False)
    return float(np.min(1 - singular_values[1 : kept + 1] / singular_values[:kept]))
