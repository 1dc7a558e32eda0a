"""scikit-learn's PCA options (``n_components`` as a fraction of variance, "mle" or None,
``svd_solver="full"``) and half-precision data, against scikit-learn on every backend."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest
from sklearn.decomposition import PCA as SklearnPCA

from mlpillars.backends import FRAMEWORKS
from mlpillars.kernels.pca import PCA, pca, pca_fit
from mlpillars.testing import BackendCase, assert_close, backend_cases

HALF_CASES = [
    pytest.param(
        case,
        id=case.id,
        marks=[pytest.mark.skip(reason=case.skip_reason)] if case.skip_reason else [],
    )
    for case in backend_cases(dtypes=("float16", "bfloat16"))
]
# Variance ratios 0.54, 0.26, 0.13, 0.05, 0.02: the fractions below fall between the sums.
FEATURE_SCALES = np.array([5.0, 3.5, 2.5, 1.5, 1.0])


def spread_data(rng: np.random.Generator, n_samples: int = 200) -> np.ndarray:
    """Columns of well-separated variance around a non-zero mean, mixed by a rotation."""
    rotation, _ = np.linalg.qr(rng.normal(size=(5, 5)))
    return (rng.normal(size=(n_samples, 5)) * FEATURE_SCALES) @ rotation + 3.0


def assert_like_sklearn(model: PCA, reference: SklearnPCA, X) -> None:
    assert model.n_components_ == reference.n_components_
    for name in ("components_", "explained_variance_", "explained_variance_ratio_", "mean_"):
        assert_close(getattr(model, name), getattr(reference, name), like=X, err_msg=name)


@pytest.mark.parametrize("svd_solver", ["full", "covariance_eigh"])
@pytest.mark.parametrize("fraction", [0.3, 0.75, 0.9, 0.99])
def test_fraction_of_variance_keeps_sklearns_count(xp: BackendCase, rng, fraction, svd_solver):
    X = xp.asarray(spread_data(rng))
    reference = SklearnPCA(fraction, svd_solver=svd_solver).fit(xp.to_numpy(X))
    assert_like_sklearn(PCA(fraction, svd_solver=svd_solver).fit(X), reference, X)
    projected = pca(X, fraction, solver=svd_solver)
    assert_close(projected, reference.transform(xp.to_numpy(X)), like=X)


@pytest.mark.parametrize("svd_solver", ["full", "covariance_eigh"])
@pytest.mark.parametrize("fraction", [0.3, 0.999999])
def test_fraction_of_no_variance_keeps_one_component_as_sklearn(
    xp: BackendCase, fraction, svd_solver
):
    """Constant data (all zero, or columns of 3): no count of components explains more
    of no variance; scikit-learn keeps 1. The ratios, 0 here (NaN in scikit-learn), summed
    to 0 <= fraction everywhere, and min(n, d) were kept (3 of (8, 3) zeros, 4 of (4, 4))."""
    for values in (np.zeros((8, 3)), np.full((8, 3), 3.0)):
        X = xp.asarray(values)
        reference = SklearnPCA(fraction, svd_solver=svd_solver).fit(values)
        model = PCA(fraction, svd_solver=svd_solver).fit(X)
        assert model.n_components_ == reference.n_components_ == 1
        assert_close(model.explained_variance_, reference.explained_variance_, like=X)
        assert_close(model.transform(X), reference.transform(values), like=X)
        assert pca(X, fraction, solver=svd_solver).shape == (8, 1)


def mle_spectra(rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Data for ``n_components="mle"``, whose log-likelihoods' two best ranks lie 2.5 apart
    or more (float32's rounding moves them by 1e-3): a clear elbow (3 strong directions over
    noise; scikit-learn keeps 3), a flat spectrum (white noise; 1), one feature and
    constant data (no rank in [1, d - 1] has variances above 1e-15: 0)."""
    rotation, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    return {
        "elbow": (rng.normal(size=(120, 6)) * [6, 4, 3, 0.3, 0.3, 0.3]) @ rotation + 3.0,
        "flat": rng.normal(size=(120, 6)) + 3.0,
        "one feature": rng.normal(size=(120, 1)),
        "constant": np.full((120, 6), 3.0),
    }


def test_mle_keeps_sklearns_count(xp: BackendCase, rng):
    """Minka's MLE of the dimension (scikit-learn's ``_infer_dimension``) on the solvers'
    variances; "mle" raised TypeError."""
    counts = {}
    for name, values in mle_spectra(rng).items():
        X = xp.asarray(values)
        host = xp.to_numpy(X)
        for svd_solver in ("full", "covariance_eigh"):
            reference = SklearnPCA("mle", svd_solver=svd_solver).fit(host)
            model = PCA("mle", svd_solver=svd_solver).fit(X)
            assert model.n_components_ == reference.n_components_, (name, svd_solver)
            counts[name, svd_solver] = model.n_components_
            assert_like_sklearn(model, reference, X)
            assert_close(model.noise_variance_, reference.noise_variance_, like=X)
            if name in ("elbow", "constant"):  # k = 3, k = 0
                expected = reference.transform(host)
                assert_close(pca(X, "mle", solver=svd_solver), expected, like=X, err_msg=name)
    expected = {"elbow": 3, "flat": 1, "one feature": 0, "constant": 0}
    assert all(count == expected[name] for (name, _), count in counts.items()), counts


@pytest.mark.parametrize("svd_solver", ["full", "covariance_eigh"])
def test_mle_keeps_sklearns_count_on_hostile_data(rng, svd_solver):
    """Offsets, scales of 1e-100 and 1e100, float32 and integer data. The count depends
    on the scale only through scikit-learn's floor of 1e-15 on the variances: of data of
    1e-100 it keeps 0, as here. Where scikit-learn's covariance_eigh cancels (its
    X^T X - n mu mu^T: data of 1e8 +- 10 get variances of rounding), the reference is
    scikit-learn fitted on the centred float64 data."""
    elbow = mle_spectra(rng)["elbow"]
    centred = elbow - elbow.mean(axis=0)
    integers = np.round(elbow * 100).astype(np.int64) + 10**6
    cases = [
        (elbow + 1e8, centred),
        (elbow * 1e-100, elbow * 1e-100),
        (elbow * 1e100, elbow * 1e100),
        (elbow.astype(np.float32), elbow.astype(np.float32)),
        (integers, integers - integers.mean(axis=0)),
    ]
    for values, reference_data in cases:
        reference = SklearnPCA("mle", svd_solver=svd_solver).fit(reference_data)
        model = PCA("mle", svd_solver=svd_solver).fit(values)
        assert model.n_components_ == reference.n_components_, (values.dtype, values[0, 0])
    assert PCA("mle", svd_solver=svd_solver).fit(elbow * 1e-100).n_components_ == 0
    assert PCA("mle", svd_solver=svd_solver).fit(elbow * 1e100).n_components_ == 3


def test_mle_needs_more_samples_than_features_and_a_full_solver(rng):
    """As scikit-learn's: n_samples >= n_features, and all the variances (its randomized
    and arpack solvers raise; here they are not solvers)."""
    with pytest.raises(ValueError, match=r"^pca_fit: n_components='mle' is only supported if "):
        PCA("mle").fit(rng.normal(size=(5, 6)))
    with pytest.raises(ValueError, match=r"^pca: n_components='mle' .* n_samples >= n_features"):
        pca(rng.normal(size=(5, 6)), "mle", solver="svd")
    with pytest.raises(ValueError, match=r"n_components='mle' needs all the variances.*'full'"):
        PCA("mle", svd_solver="randomized").fit(rng.normal(size=(20, 3)))
    with pytest.raises(ValueError, match=r"^pca: n_components='mle' needs .*got 'arpack'"):
        pca(rng.normal(size=(20, 3)), "mle", solver="arpack")
    with pytest.raises(TypeError, match=r"n_components must be an int, a float in \(0, 1\), 'mle'"):
        pca(rng.normal(size=(20, 3)), "MLE")


@pytest.mark.parametrize("shape", [(40, 5), (4, 5)])
def test_none_keeps_min_of_samples_and_features(xp: BackendCase, rng, shape):
    X = xp.asarray(spread_data(rng, shape[0]))
    reference = SklearnPCA(None, svd_solver="full").fit(xp.to_numpy(X))
    model = PCA(svd_solver="full").fit(X)
    assert model.n_components_ == min(shape) == reference.n_components_
    # the last of 4 samples' components has no variance: its axis is arbitrary
    kept = min(shape) - 1 if shape[0] < shape[1] else min(shape)
    assert_close(model.components_[:kept, ...], reference.components_[:kept], like=X)
    assert_close(model.explained_variance_, reference.explained_variance_, like=X)
    assert pca_fit(X).components.shape == (min(shape), 5)


def test_full_is_the_svd_solver_by_either_keyword(rng):
    X = spread_data(rng)
    assert PCA(2, svd_solver="full").fit(X).solver_ == "svd"
    assert PCA(2, solver="full").fit(X).solver_ == "svd"
    assert pca_fit(X, 2, solver="full").solver == "svd"
    with pytest.raises(ValueError, match=r"PCA: solver='svd' and svd_solver='full' name the same"):
        PCA(2, solver="svd", svd_solver="full").fit(X)  # checked at fit, as scikit-learn's
    with pytest.raises(ValueError, match=r"unknown solver 'randomized'; valid values are .*'full'"):
        PCA(2, svd_solver="randomized").fit(X)


# -- a scikit-learn estimator: clone, parameters, pipelines, searches ------------------------


def test_parameters_are_scikit_learns_so_clone_copies_an_unfitted_pca(rng):
    """sklearn.base.clone raised TypeError (no get_params): a PCA could not go into a
    parameter search, and its repr was the default object one."""
    from sklearn.base import clone

    model = PCA(2, whiten=True, svd_solver="full").fit(spread_data(rng))
    params = {"n_components": 2, "whiten": True, "solver": "auto", "svd_solver": "full"}
    assert model.get_params() == model.get_params(deep=False) == params
    copy = clone(model)
    assert type(copy) is PCA and copy.get_params() == params
    assert not hasattr(copy, "components_")
    assert repr(model) == "PCA(n_components=2, whiten=True, svd_solver='full')"
    assert repr(PCA()) == "PCA()"
    assert model.set_params(n_components=3, whiten=False) is model
    assert repr(model) == "PCA(n_components=3, svd_solver='full')"
    with pytest.raises(
        ValueError, match=r"^PCA.set_params: invalid parameter 'n_component'; valid"
    ):
        model.set_params(n_component=2)


def test_mle_is_a_parameter_clone_copies(rng):
    from sklearn.base import clone

    X = mle_spectra(rng)["elbow"]
    model = PCA("mle", svd_solver="full")
    assert model.get_params()["n_components"] == "mle"
    assert repr(model) == "PCA(n_components='mle', svd_solver='full')"
    copy = clone(model)
    assert copy.get_params() == model.get_params()
    reference = SklearnPCA("mle", svd_solver="full").fit(X)
    assert_like_sklearn(copy.fit(X), reference, X)
    assert clone(copy).set_params(n_components=2).fit(X).n_components_ == 2


def test_a_grid_search_over_a_pipeline_chooses_as_with_sklearns_pca(rng):
    from sklearn.linear_model import Ridge
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X = spread_data(rng)
    y = X @ rng.normal(size=5) + rng.normal(size=len(X))
    # a penalised regression, so that whitening changes the scores (no ties to break)
    grid = {"pca__n_components": [1, 2, 4], "pca__whiten": [False, True]}
    searches = [
        GridSearchCV(make_pipeline(StandardScaler(), pca, Ridge(alpha=30.0)), grid, cv=3)
        for pca in (PCA(), SklearnPCA())
    ]
    ours, theirs = (search.fit(X, y) for search in searches)
    assert ours.best_params_ == theirs.best_params_
    assert_close(ours.cv_results_["mean_test_score"], theirs.cv_results_["mean_test_score"])


def test_a_pipeline_ending_in_pca_transforms_as_sklearns():
    """scikit-learn 1.6+ asks a pipeline's last step for its tags (``check_is_fitted``):
    ``make_pipeline(StandardScaler(), PCA(2)).fit(X).transform(X)`` raised AttributeError
    ('PCA' object has no attribute '__sklearn_tags__') on scikit-learn 1.9."""
    pytest.importorskip("sklearn", minversion="1.6")
    from sklearn.exceptions import NotFittedError as SklearnNotFittedError
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.utils import get_tags
    from sklearn.utils.validation import check_is_fitted

    X = spread_data(np.random.default_rng(3))
    ours, theirs = (make_pipeline(StandardScaler(), pca).fit(X) for pca in (PCA(2), SklearnPCA(2)))
    assert_close(ours.transform(X), theirs.transform(X))
    assert_close(
        ours.inverse_transform(ours.transform(X)), theirs.inverse_transform(theirs.transform(X))
    )
    tags = get_tags(PCA())
    assert tags.requires_fit and tags.array_api_support and not tags.target_tags.required
    assert "float32" in tags.transformer_tags.preserves_dtype
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(PCA())
    check_is_fitted(PCA(2).fit(X))


def test_names_and_data_frame_output_are_sklearns():
    """``get_feature_names_out``, ``feature_names_in_`` and ``set_output``: a pipeline set
    to pandas output raised ValueError ("set_output is not available"), and a
    ColumnTransformer could not name a PCA's columns."""
    pandas = pytest.importorskip("pandas")
    from sklearn.base import clone
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    values = spread_data(np.random.default_rng(4), 40)
    X = pandas.DataFrame(values, columns=list("abcde"), index=range(100, 140))
    ours, theirs = (
        make_pipeline(StandardScaler(), pca).set_output(transform="pandas").fit(X)
        for pca in (PCA(2), SklearnPCA(2))
    )
    projected, expected = ours.transform(X), theirs.transform(X)
    assert isinstance(projected, pandas.DataFrame)
    assert list(projected.columns) == list(expected.columns) == ["pca0", "pca1"]
    assert list(projected.index) == list(X.index)
    assert_close(projected.to_numpy(), expected.to_numpy())
    assert list(ours[-1].feature_names_in_) == list(theirs[-1].feature_names_in_)
    columns = ColumnTransformer(
        [("reduced", PCA(2), ["a", "b", "c"]), ("kept", "passthrough", ["d"])]
    )
    assert list(columns.fit(X).get_feature_names_out()) == [
        "reduced__pca0",
        "reduced__pca1",
        "kept__d",
    ]
    model = PCA(3).set_output(transform="pandas").fit(X)
    assert model.get_feature_names_out(list("abcde")) == ["pca0", "pca1", "pca2"]
    with pytest.raises(ValueError, match=r"input_features \['a', 'b'\] are not the names"):
        model.get_feature_names_out(["a", "b"])
    assert isinstance(clone(model).fit_transform(values), pandas.DataFrame)
    assert not hasattr(model.fit(values), "feature_names_in_")  # a refit on an array
    assert isinstance(model.set_output(transform="default").transform(values), np.ndarray)
    with pytest.raises(ValueError, match=r"PCA.set_output: unknown transform 'frame'"):
        model.set_output(transform="frame")
    polars = pytest.importorskip("polars")
    framed = PCA(2).set_output(transform="polars").fit_transform(values)
    assert isinstance(framed, polars.DataFrame) and framed.columns == ["pca0", "pca1"]
    assert_close(framed.to_numpy(), SklearnPCA(2).fit_transform(values))


SKLEARN_CHECKS = """
import json, warnings
warnings.simplefilter("ignore")
from sklearn.utils.estimator_checks import check_estimator
from mlpillars.kernels.pca import PCA
results = check_estimator(PCA(2), on_fail=None)
print(json.dumps([[r["check_name"], r["status"], str(r["exception"])[:300]] for r in results]))
"""
"""scikit-learn's own checks of an estimator, in a process with its array-API dispatch on
(``SCIPY_ARRAY_API=1``, read when SciPy is imported): the array-API checks then run on
torch and array-api-strict too."""


def test_sklearns_estimator_checks_pass():
    """``sklearn.utils.estimator_checks.check_estimator``: 6 of its checks failed. A
    width error not in its words ("X has 1 features, but PCA is expecting 10 features as
    input"), 1-D input without "Reshape your data", 0 features without "0 feature(s)",
    complex data a TypeError only (it expects the ValueError "Complex data not
    supported"), object arrays of numbers refused (it converts them), NaN in
    ``transform`` not refused; with its array-API dispatch, a transform of another
    namespace than the fit's a TypeError (it expects the ValueError "must use the same
    namespace"). The one check that may fail is its CuPy case on a machine whose CuPy
    has no GPU (CUDA's driver error)."""
    pytest.importorskip("sklearn", minversion="1.6")
    environment = {**os.environ, "SCIPY_ARRAY_API": "1"}
    command = [sys.executable, "-c", SKLEARN_CHECKS]
    output = subprocess.run(command, capture_output=True, text=True, env=environment)
    assert output.returncode == 0, output.stderr[-3000:]
    results = json.loads(output.stdout.strip().splitlines()[-1])
    failed = [(name, error) for name, status, error in results if status == "failed"]
    no_gpu = [(name, error) for name, error in failed if "cudaError" in error]
    assert [name for name, _ in no_gpu] in ([], ["check_array_api_input"]), no_gpu
    assert not [check for check in failed if check not in no_gpu], failed
    passed = {name for name, status, _ in results if status == "passed"}
    assert {"check_estimators_nan_inf", "check_complex_data", "check_dtype_object"} <= passed
    assert {"check_array_api_input", "check_array_api_same_namespace"} <= passed
    assert len([status for _, status, _ in results if status == "passed"]) >= 50


def test_fraction_under_jit_needs_values():
    jax = pytest.importorskip("jax")
    X = FRAMEWORKS["jax"].from_host(spread_data(np.random.default_rng(1)).astype(np.float32), None)
    with pytest.raises(ValueError, match=r"pca: n_components=0\.9 .*jax\.jit.*Pass an int"):
        jax.jit(lambda data: pca(data, 0.9))(X)
    assert jax.jit(lambda data: pca(data, 2))(X).shape == (200, 2)


def test_mle_under_jit_needs_values():
    jax = pytest.importorskip("jax")
    X = FRAMEWORKS["jax"].from_host(mle_spectra(np.random.default_rng(1))["elbow"], None)
    with pytest.raises(ValueError, match=r"^pca: n_components='mle' .*jax\.jit.*Pass an int"):
        jax.jit(lambda data: pca(data, "mle"))(X)
    with pytest.raises(ValueError, match=r"^pca_fit: n_components='mle' .*Minka's MLE"):
        jax.jit(lambda data: pca_fit(data, "mle", solver="svd").components)(X)


@pytest.mark.parametrize("solver", ["covariance_eigh", "svd"])
@pytest.mark.parametrize("half", HALF_CASES)
def test_half_precision_is_fitted_in_float32(half: BackendCase, rng, solver):
    X = half.asarray(spread_data(rng, 100))
    host = half.to_numpy(X)
    reference = SklearnPCA(3, svd_solver=solver.replace("svd", "full")).fit(host)
    model = PCA(3, solver=solver).fit(X)
    assert_like_sklearn(model, reference, X)
    assert_close(model.transform(X), reference.transform(host), like=X)
    assert_close(pca(X, 3, solver=solver), reference.transform(host), like=X)
    assert_close(pca_fit(X, 3, solver=solver).singular_values, reference.singular_values_, like=X)
    restored = model.inverse_transform(model.transform(X))
    assert_close(restored, reference.inverse_transform(reference.transform(host)), like=X)


@pytest.mark.parametrize("half", HALF_CASES)
def test_half_precision_whitening_past_the_singular_values_range(half: BackendCase):
    """float16 data of spreads 300, 100, 10 and 60,000 samples: singular values of 7e4
    and a variance of 9e4, both inf in float16. Whitening divided by s / sqrt(n - 1),
    inf: the first column came out 0 (and the model's log-likelihood -inf); it divides
    by the fit's spreads, 300."""
    rng = np.random.default_rng(5)
    values = rng.normal(size=(60000, 3)) * np.array([300.0, 100.0, 10.0])
    X = half.asarray(values)
    host = half.to_numpy(X).astype(np.float64)
    reference = SklearnPCA(2, whiten=True).fit(host)
    model = PCA(2, whiten=True).fit(X)
    assert_close(model.transform(X[:50, ...]), reference.transform(host[:50]), like=X)
    assert_close(pca_fit(X, 2).spreads, np.sqrt(reference.explained_variance_), like=X)
    unwhitened = SklearnPCA(2).fit(host)  # whitening leaves our model as it is, not sklearn's
    assert_close(model.score_samples(X[:20, ...]), unwhitened.score_samples(host[:20]), like=X)
