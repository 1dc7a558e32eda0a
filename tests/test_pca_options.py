"""scikit-learn's PCA options (``n_components`` as a fraction of variance or None,
``svd_solver="full"``) and half-precision data, against scikit-learn on every backend."""

from __future__ import annotations

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


def test_fraction_under_jit_needs_values():
    jax = pytest.importorskip("jax")
    X = FRAMEWORKS["jax"].from_host(spread_data(np.random.default_rng(1)).astype(np.float32), None)
    with pytest.raises(ValueError, match=r"pca: n_components=0\.9 .*jax\.jit.*Pass an int"):
        jax.jit(lambda data: pca(data, 0.9))(X)
    assert jax.jit(lambda data: pca(data, 2))(X).shape == (200, 2)


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
