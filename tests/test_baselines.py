"""The loop baselines (mlpillars.bench.baselines) against the kernels and NumPy references.

The Python loops are checked in float64; the Numba loops in float32 and float64, each
dtype compiled once per core (compilation dominates this file's runtime).
"""

from __future__ import annotations

import importlib
import inspect
import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import mlpillars as mp
import mlpillars.kernels.descent as descent
from mlpillars.backends import KERNELS as LIVE_KERNELS
from mlpillars.bench.baselines import numba_installed
from mlpillars.bench.catalogue import BASELINES
from mlpillars.testing import assert_close
from mlpillars.tolerances import tolerance_for

Case = tuple[tuple[Any, ...], dict[str, Any]]
requires_numba = pytest.mark.skipif(
    not numba_installed(), reason='numba is not installed (pip install "mlpillars[numba]")'
)
IMPLEMENTATIONS = [
    pytest.param("python", "float64", id="python-float64"),
    pytest.param("numba", "float64", id="numba-float64", marks=requires_numba),
    pytest.param("numba", "float32", id="numba-float32", marks=requires_numba),
]
AVAILABLE = ["python", "numba"] if numba_installed() else ["python"]
"""The implementations that can run here."""
KERNEL_NAMES = {
    "linear",
    "mlp",
    "softmax",
    "log_softmax",
    "cross_entropy",
    "cosine_similarity",
    "scaled_dot_product_attention",
    "gradient_descent",
    "pca",
    "pca_fit",
    "least_squares",
    "r_squared",
}


def _linear_case(rng: np.random.Generator, activation: str | None) -> Case:
    x, weight, bias = rng.normal(size=(2, 3, 5)), rng.normal(size=(5, 4)), rng.normal(size=4)
    return (x, weight, bias), {"activation": activation}


def _mlp_case(rng: np.random.Generator) -> Case:
    weights = [rng.normal(size=(6, 8)), rng.normal(size=(8, 8)), rng.normal(size=(8, 3))]
    biases = [rng.normal(size=8), None, rng.normal(size=3)]
    return (rng.normal(size=(4, 6)), weights, biases), {"output_activation": "sigmoid"}


def _attention_case(rng: np.random.Generator, masked: bool, is_causal: bool) -> Case:
    q, k, v = (
        rng.normal(size=(2, 2, 5, 4)),
        rng.normal(size=(2, 2, 6, 4)),
        rng.normal(size=(2, 2, 6, 3)),
    )
    mask = rng.random((5, 6)) > 0.3 if masked else None
    if masked:
        mask[1] = False  # a fully masked query row gives zeros
    return (q, k, v), {"mask": mask, "is_causal": is_causal}


def _attention_float_mask_case(rng: np.random.Generator) -> Case:
    (q, k, v), _ = _attention_case(rng, masked=False, is_causal=False)
    mask = rng.normal(size=(2, 2, 5, 6))
    mask[0, 1, 2] = -np.inf  # every key forbidden for one query of one head
    mask[1, 0, :, 3] = -np.inf
    return (q, k, v), {"mask": mask, "scale": 0.5}


def _regression_case(
    rng: np.random.Generator, fit_intercept: bool, batch: tuple[int, ...] = ()
) -> Case:
    features = rng.normal(size=(*batch, 20, 4))
    noise = 0.1 * rng.normal(size=(*batch, 20))
    targets = features @ np.array([1.0, -2.0, 0.5, 3.0]) + 0.7 + noise
    return (features, targets), {"lr": 0.05, "steps": 60, "fit_intercept": fit_intercept}


def _pca_case(rng: np.random.Generator) -> Case:
    # distinct variances per direction: well separated eigenvalues, stable eigenvectors
    mixing = np.linalg.qr(rng.normal(size=(5, 5)))[0]
    features = (rng.normal(size=(40, 5)) * [4.0, 2.5, 1.5, 0.8, 0.3]) @ mixing + 0.2
    return (features, 3), {}


def _least_squares_case(
    rng: np.random.Generator, fit_intercept: bool, batch: tuple[int, ...] = ()
) -> Case:
    (features, targets), _ = _regression_case(rng, fit_intercept, batch)
    return (features, targets), {"fit_intercept": fit_intercept}


def _r_squared_case(rng: np.random.Generator, shape: tuple[int, ...]) -> Case:
    truth = rng.normal(size=shape)
    return (truth, truth + 0.5 * rng.normal(size=shape)), {}


def _r_squared_constant_rows_case(rng: np.random.Generator) -> Case:
    truth = rng.normal(size=(4, 9))
    predictions = truth + 0.5 * rng.normal(size=(4, 9))
    truth[1], truth[2] = 3.0, -1.0  # constant rows: a perfect and an imperfect prediction
    predictions[1] = 3.0
    return (truth, predictions), {}


# kernel name -> (case id -> inputs); references are computed from the float64 inputs
CASES: dict[str, dict[str, Callable[[np.random.Generator], Case]]] = {
    "linear": {
        str(act): (lambda rng, act=act: _linear_case(rng, act))
        for act in (None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh")
    },
    "mlp": {"3-layers": _mlp_case},
    "softmax": {
        f"T={t}": (lambda rng, t=t: ((rng.normal(scale=3, size=(3, 4, 7)),), {"temperature": t}))
        for t in (1.0, 0.3)
    },
    "log_softmax": {
        f"T={t}": (lambda rng, t=t: ((rng.normal(scale=3, size=(4, 7)),), {"temperature": t}))
        for t in (1.0, 2.5)
    },
    "cross_entropy": {
        f"labels-{r}": (
            lambda rng, r=r: (
                (rng.normal(size=(2, 3, 5)), rng.integers(0, 5, (2, 3))),
                {"reduction": r},
            )
        )
        for r in ("mean", "sum", "none")
    }
    | {
        "probabilities": lambda rng: (
            (rng.normal(size=(6, 5)), rng.dirichlet(np.ones(5), size=6)),
            {"reduction": "mean"},
        )
    },
    "cosine_similarity": {
        "2d": lambda rng: ((_with_zero_row(rng.normal(size=(5, 4))), rng.normal(size=(3, 4))), {}),
        "1d-2d": lambda rng: ((rng.normal(size=4), rng.normal(size=(3, 4))), {}),
    },
    "scaled_dot_product_attention": {
        f"mask={m}-causal={c}": (lambda rng, m=m, c=c: _attention_case(rng, m, c))
        for m in (False, True)
        for c in (False, True)
    }
    | {"float-mask-per-batch-scale": _attention_float_mask_case},
    "gradient_descent": {
        "intercept": lambda rng: _regression_case(rng, True),
        "no-intercept": lambda rng: _regression_case(rng, False),
        "3-problems": lambda rng: _regression_case(rng, True, batch=(3,)),
    },
    "pca": {"k=3": _pca_case},
    "pca_fit": {"k=3": _pca_case},
    "least_squares": {
        "intercept": lambda rng: _least_squares_case(rng, True),
        "no-intercept": lambda rng: _least_squares_case(rng, False),
        "3-problems": lambda rng: _least_squares_case(rng, True, batch=(3,)),
    },
    "r_squared": {
        "1d": lambda rng: _r_squared_case(rng, (12,)),
        "3d": lambda rng: _r_squared_case(rng, (2, 3, 10)),
        "constant-rows": _r_squared_constant_rows_case,
    },
}


def _with_zero_row(rows: np.ndarray) -> np.ndarray:
    rows[2] = 0.0
    return rows


def reference(name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """The float64 truth: the mlpillars kernel, or the NumPy reference for the new kernels."""
    numpy_references = {
        "scaled_dot_product_attention": numpy_attention,
        "gradient_descent": numpy_gradient_descent,
        "pca": numpy_pca,
        "pca_fit": numpy_pca_fit,
        "least_squares": numpy_least_squares,
        "r_squared": numpy_r_squared,
    }
    if name in numpy_references:
        return numpy_references[name](*args, **kwargs)
    return mp.KERNELS[name](*args, **kwargs)


def numpy_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    mask: Any = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> np.ndarray:
    allowed = np.ones((q.shape[-2], k.shape[-2]), dtype=bool)
    if is_causal:
        allowed = np.tril(allowed)
    if mask is not None and mask.dtype == bool:
        allowed = allowed & mask
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale
    if mask is not None and mask.dtype != bool:
        scores = scores + mask
    scores = np.where(allowed, scores, -np.inf)
    row_max = np.max(scores, axis=-1, keepdims=True)
    safe_max = np.where(np.isfinite(row_max), row_max, 0.0)
    weights = np.exp(scores - safe_max)
    totals = np.sum(weights, axis=-1, keepdims=True)
    return (weights / np.where(totals == 0, 1.0, totals)) @ v


def numpy_gradient_descent(
    X: np.ndarray, y: np.ndarray, *, lr: float, steps: int, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray]:
    """B problems at once when X is (B, n, d)."""
    weights, intercept = np.zeros(X.shape[:-2] + X.shape[-1:]), np.zeros(X.shape[:-2])
    for _ in range(steps):
        residual = np.einsum("...nd,...d->...n", X, weights) + intercept[..., None] - y
        weights = weights - lr * (2 / y.shape[-1]) * np.einsum("...nd,...n->...d", X, residual)
        if fit_intercept:
            intercept = intercept - lr * (2 / y.shape[-1]) * residual.sum(axis=-1)
    return weights, intercept


def numpy_pca(X: np.ndarray, n_components: int) -> np.ndarray:
    eigenvalues, eigenvectors = np.linalg.eigh(np.cov(X, rowvar=False))
    components = eigenvectors[:, np.argsort(eigenvalues)[::-1][:n_components]].T
    largest = np.argmax(np.abs(components), axis=1)
    components *= np.sign(components[np.arange(n_components), largest])[:, None]
    return (X - X.mean(axis=0)) @ components.T


def numpy_pca_fit(X: np.ndarray, n_components: int) -> tuple[np.ndarray, ...]:
    """Components, variances, ratios, singular values and mean from NumPy's SVD of the
    centred data (an independent route from the covariance the baselines form)."""
    centred = X - X.mean(axis=0)
    _, singular_values, axes = np.linalg.svd(centred, full_matrices=False)
    variances = singular_values**2 / (len(X) - 1)
    components = axes[:n_components]
    largest = np.argmax(np.abs(components), axis=1)
    components = components * np.sign(components[np.arange(n_components), largest])[:, None]
    kept = variances[:n_components]
    return components, kept, kept / variances.sum(), singular_values[:n_components], X.mean(0)


def numpy_least_squares(
    X: np.ndarray, y: np.ndarray, *, fit_intercept: bool
) -> tuple[np.ndarray, np.ndarray]:
    """``numpy.linalg.lstsq`` per problem, on X with a column of ones for the intercept."""
    problems = [(X, y)] if X.ndim == 2 else list(zip(X, y, strict=True))
    weights, intercepts = [], []
    for features, targets in problems:
        ones = np.ones((len(features), int(fit_intercept)))
        solution = np.linalg.lstsq(np.hstack([features, ones]), targets, rcond=None)[0]
        weights.append(solution[: features.shape[1]])
        intercepts.append(solution[features.shape[1] :].sum())  # 0 without an intercept
    shape = X.shape[:-2]
    return np.reshape(weights, (*shape, X.shape[-1])), np.reshape(intercepts, shape)


def numpy_r_squared(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """``1 - SS_res / SS_tot`` per row; constant rows: 1 if predicted exactly, else 0."""
    residual_sum = ((y_true - y_pred) ** 2).sum(axis=-1)
    total_sum = ((y_true - y_true.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        scores = 1 - residual_sum / total_sum
    return np.where(total_sum == 0, (residual_sum == 0).astype(float), scores)


def cast_floats(value: Any, dtype: str) -> Any:
    """Floating arrays (also inside lists) as ``dtype``; everything else unchanged."""
    if isinstance(value, np.ndarray) and value.dtype.kind == "f":
        return value.astype(dtype)
    if isinstance(value, list):
        return [cast_floats(item, dtype) for item in value]
    return value


def check_result(actual: Any, expected: Any, like: np.ndarray) -> None:
    """Compare one result or a (weights, intercept) pair; the dtype must be ``like``'s."""
    pairs = (
        zip(actual, expected, strict=True) if isinstance(actual, tuple) else [(actual, expected)]
    )
    for actual_part, expected_part in pairs:
        assert_close(actual_part, np.asarray(expected_part), like=like)


@pytest.mark.parametrize(("implementation", "dtype"), IMPLEMENTATIONS)
@pytest.mark.parametrize(
    ("name", "case_id"), [(name, case_id) for name, cases in CASES.items() for case_id in cases]
)
def test_baseline_matches_reference(
    rng: np.random.Generator, name: str, case_id: str, implementation: str, dtype: str
) -> None:
    args, kwargs = CASES[name][case_id](rng)
    expected = reference(name, args, kwargs)
    cast_args = tuple(cast_floats(arg, dtype) for arg in args)
    baseline = getattr(BASELINES[name], implementation)
    result = baseline(*cast_args, **kwargs)
    like = np.empty(0, dtype=np.float64 if implementation == "python" else dtype)
    check_result(result, expected, like)


def test_registry_names_the_public_kernels_with_their_arguments() -> None:
    assert set(BASELINES) == KERNEL_NAMES
    for name, baseline in BASELINES.items():
        assert baseline.name == name and baseline.subset
        kernel = _public_kernel(name)
        if kernel is not None:
            kernel_parameters = set(inspect.signature(kernel).parameters)
            assert set(inspect.signature(baseline.python).parameters) <= kernel_parameters


@requires_numba
@pytest.mark.parametrize("name", sorted(KERNEL_NAMES))
def test_python_and_numba_versions_take_the_same_arguments(name: str) -> None:
    python_signature = inspect.signature(BASELINES[name].python)
    assert inspect.signature(BASELINES[name].numba) == python_signature


@requires_numba
def test_numba_float32_accumulates_in_float32() -> None:
    # 1 + 2**-24 + 2**-24 is 1 summed left to right in float32, but 1 + 2**-23 (exactly
    # representable in float32) when summed in float64 and rounded at the end
    x = np.array([[1.0, 2.0**-24, 2.0**-24]], dtype=np.float32)
    result = BASELINES["linear"].numba(x, np.ones((3, 1), dtype=np.float32))
    assert result.dtype == np.float32
    assert result[0, 0] == np.float32(1.0)
    assert BASELINES["linear"].numba(x.astype(np.float64), np.ones((3, 1)))[0, 0] > 1.0


@requires_numba
def test_compile_time_is_measured_apart_and_numba_is_imported_lazily() -> None:
    script = (
        "import json, sys, numpy as np\n"
        "from mlpillars.bench.catalogue import BASELINES\n"
        "imported_early = 'numba' in sys.modules\n"
        "x = np.ones((2, 3), dtype=np.float32)\n"
        "first = BASELINES['log_softmax'].compile_numba(x)\n"
        "second = BASELINES['log_softmax'].compile_numba(x)\n"
        "BASELINES['log_softmax'].numba(x)\n"
        "print(json.dumps([imported_early, first, second,\n"
        "                  BASELINES['log_softmax'].compile_seconds]))\n"
    )
    completed = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, timeout=120
    )
    imported_early, first, second, recorded = json.loads(completed.stdout)
    assert not imported_early, "importing the catalogue and baselines must not import numba"
    assert first > 0.0
    assert second == 0.0, "the second call recompiled"
    assert recorded == {"float32[2d]": first}


_DEPENDENT_COLUMNS = np.column_stack([np.arange(6.0) ** 2, 2 * np.arange(6.0) ** 2])


@pytest.mark.parametrize(
    ("name", "args", "kwargs", "error"),
    [
        ("softmax", (np.ones((2, 3)),), {"axis": 0}, ValueError),
        ("linear", (np.ones((2, 3)), np.ones((3, 2))), {"activation": "swish"}, ValueError),
        ("softmax", (np.ones((2, 3), dtype=np.float16),), {}, TypeError),
        ("pca", (np.ones((4, 3)), 4), {}, ValueError),
        ("pca_fit", (np.ones((4, 3)), 0), {}, ValueError),
        ("least_squares", (np.ones((3, 3)), np.ones(3)), {}, ValueError),  # needs n >= d + 1
        ("least_squares", (_DEPENDENT_COLUMNS, np.arange(6.0)), {}, ValueError),
        ("r_squared", (np.ones((2, 3)), np.ones((3, 2))), {}, ValueError),
    ],
)
def test_outside_the_subset_raises(name: str, args: tuple, kwargs: dict, error: type) -> None:
    # the Python loops compute in float64 whatever the input, so float16 is fine for them
    implementations = AVAILABLE if error is ValueError else ["numba"] * ("numba" in AVAILABLE)
    for implementation in implementations:
        with pytest.raises(error, match="baseline"):
            getattr(BASELINES[name], implementation)(*args, **kwargs)


def test_a_label_out_of_range_raises() -> None:
    logits, labels = np.zeros((2, 3)), np.array([0, 3])
    for implementation in AVAILABLE:
        with pytest.raises(ValueError, match="baseline"):
            getattr(BASELINES["cross_entropy"], implementation)(logits, labels)


def test_pca_sign_convention_matches_scikit_learn(rng: np.random.Generator) -> None:
    decomposition = pytest.importorskip("sklearn.decomposition")
    (features, n_components), _ = _pca_case(rng)
    expected = decomposition.PCA(n_components).fit_transform(features)
    for implementation in AVAILABLE:
        result = getattr(BASELINES["pca"], implementation)(features, n_components)
        assert_close(result, expected, tolerance=tolerance_for("float32"))


def test_attention_matches_the_kernel(rng: np.random.Generator) -> None:
    attention = pytest.importorskip("mlpillars.kernels.attention")
    for make_case in CASES["scaled_dot_product_attention"].values():
        args, kwargs = make_case(rng)
        expected = attention.scaled_dot_product_attention(*args, **kwargs)
        for implementation in AVAILABLE:
            result = getattr(BASELINES["scaled_dot_product_attention"], implementation)(
                *args, **kwargs
            )
            assert_close(result, expected, like=args[0])


@pytest.mark.parametrize("case_id", list(CASES["gradient_descent"]))
def test_gradient_descent_matches_the_kernel(rng: np.random.Generator, case_id: str) -> None:
    args, kwargs = CASES["gradient_descent"][case_id](rng)
    fitted = descent.gradient_descent(*args, **kwargs)
    for implementation in AVAILABLE:
        result = getattr(BASELINES["gradient_descent"], implementation)(*args, **kwargs)
        check_result(result, (fitted.weights, fitted.bias), like=args[0])


def test_pca_matches_the_kernel(rng: np.random.Generator) -> None:
    pca_module = pytest.importorskip("mlpillars.kernels.pca")
    (features, n_components), _ = _pca_case(rng)
    expected = pca_module.pca(features, n_components)
    for implementation in AVAILABLE:
        result = getattr(BASELINES["pca"], implementation)(features, n_components)
        assert_close(result, np.asarray(expected), like=features)


def _public_kernel(name: str) -> Any:
    """The public kernel of that name, or None while its module does not exist yet."""
    for module in ("attention", "gradient_descent", "regression", "pca"):
        try:
            importlib.import_module(f"mlpillars.kernels.{module}")
        except ImportError:
            pass
    return LIVE_KERNELS.get(name)


def test_pca_fit_matches_scikit_learn(rng: np.random.Generator) -> None:
    decomposition = pytest.importorskip("sklearn.decomposition")
    (features, n_components), _ = _pca_case(rng)
    fitted = decomposition.PCA(n_components).fit(features)
    expected = (
        fitted.components_,
        fitted.explained_variance_,
        fitted.explained_variance_ratio_,
        fitted.singular_values_,
        fitted.mean_,
    )
    for implementation in AVAILABLE:
        result = getattr(BASELINES["pca_fit"], implementation)(features, n_components)
        check_result(result, expected, like=features)


def test_pca_fit_matches_the_kernel(rng: np.random.Generator) -> None:
    (features, n_components), _ = _pca_case(rng)
    fitted = mp.pca_fit(features, n_components)
    expected = (
        fitted.components,
        fitted.explained_variance,
        fitted.explained_variance_ratio,
        fitted.singular_values,
        fitted.mean,
    )
    for implementation in AVAILABLE:
        result = getattr(BASELINES["pca_fit"], implementation)(features, n_components)
        check_result(result, expected, like=features)


@pytest.mark.parametrize("case_id", list(CASES["least_squares"]))
def test_least_squares_matches_the_kernel(rng: np.random.Generator, case_id: str) -> None:
    args, kwargs = CASES["least_squares"][case_id](rng)
    fitted = mp.least_squares(*args, **kwargs)
    for implementation in AVAILABLE:
        result = getattr(BASELINES["least_squares"], implementation)(*args, **kwargs)
        check_result(result, (fitted.weights, fitted.bias), like=args[0])


@pytest.mark.parametrize("case_id", list(CASES["r_squared"]))
def test_r_squared_matches_the_kernel(rng: np.random.Generator, case_id: str) -> None:
    args, _ = CASES["r_squared"][case_id](rng)
    expected = mp.r_squared(*args)
    for implementation in AVAILABLE:
        result = getattr(BASELINES["r_squared"], implementation)(*args)
        assert result.shape == expected.shape
        assert_close(result, expected, like=args[0])


def test_r_squared_of_constant_rows_is_one_when_exact_else_zero(
    rng: np.random.Generator,
) -> None:
    args, _ = _r_squared_constant_rows_case(rng)
    for implementation in AVAILABLE:
        scores = getattr(BASELINES["r_squared"], implementation)(*args)
        assert scores[1] == 1.0 and scores[2] == 0.0
