"""A differential probe of ``mlpillars.PCA``, ``mp.pca`` and ``mp.r_squared`` against
scikit-learn's ``PCA`` and ``r2_score``.

Each case draws one data matrix of a hostile kind (plain, far from zero: 1e6 + noise,
tiny: 1e-30 float32 / 1e-300 float64, huge: 1e30 / 1e300, duplicate, constant or all-zero
columns, exact variance ties, integers) and shape (n < d, n == d, n = 1 or 2, tall), a
dtype (float64, float32, float16, int64), a NumPy layout (Fortran-ordered, strided,
read-only), ``n_components`` (None, an int, a float in (0, 1), 0.999999 or a tie),
``whiten`` and a solver (auto, full, covariance_eigh, svd). On every backend (NumPy, torch,
JAX eager and ``mp.pca`` under ``jax.jit`` with an int k, Dask, array-api-strict) it fits
``PCA`` and compares its attributes, ``transform``, ``fit_transform``,
``inverse_transform`` and ``mp.pca`` with scikit-learn's ``PCA`` fitted in float64 on the
same rounded values (signs as its ``svd_flip``), and checks that each result stays in the
input's namespace and dtype (an integer input: the backend's default float). The allowed
error is the tolerance table's plus what rounding makes inherent: ``(n + d) eps lambda_1``
for a variance, ``eps lambda_1 / gap`` for an axis; axes within a cluster of (nearly)
equal variances are not unique and are compared through what they span (the projections'
row norms). r_squared cases compare ``mp.r_squared`` along the last axis with
``r2_score(..., multioutput="raw_values")`` on the transposed targets. A final check runs
``sklearn.base.clone``, ``Pipeline([StandardScaler, PCA])`` and ``GridSearchCV`` over
``pca__n_components`` on NumPy, against the same with scikit-learn's PCA. Each fit whose
attributes agree has its probabilistic model checked too (``noise_variance_``,
``get_covariance``, ``get_precision``, ``score_samples``, ``score``, ValueError where it
is singular): ``probe_pca_model.py``, whose docstring gives the reference (long double,
LU inverse, not scikit-learn's inversion lemma) and the slack (the model's conditioning).
Run from the repository root:

    PYTHONPATH=. python scripts/probe_sklearn.py [--seed 0] [--cases 200] [--backends ...]

It prints each disagreement with its inputs and largest error, then their count; the exit
code is that count (at most 100). n_components past min(n, d) must raise ``ValueError``
as scikit-learn does; results must stay on the input's device too.

Known differences, by design (not counted): n = 1 raises ``ValueError`` where
scikit-learn's "full" returns NaN variances and its "covariance_eigh" raises
``LinAlgError``; data without variance (constant or all-zero) get ratios of 0 where
scikit-learn's are NaN (0 / 0); float16 stays float16 (computed in float32) where
scikit-learn returns float64; ``r_squared`` of one sample is 1 (exact) or 0 where
``r2_score`` returns NaN with a warning. A fraction that falls within rounding of a
cumulative ratio (an exact tie computed in float32) may keep either count. Inherent, and
allowed for: float32 variances past its range are inf (data of 1e30: 1e61); whitening
divides by ``max(sqrt(lambda), eps)`` as scikit-learn does, so float32 data of 1e-30
whiten to ~1e-23, not to unit variance; the covariance solver's zero variances are
rounding (float32 integers of (2, 7): singular value 1.2e-3 for 0); an axis whose two
largest magnitudes tie ([-1, 1] / sqrt 2) takes its sign from the last bit. scikit-learn
itself, fed the raw data, is the less accurate side (so the reference is fitted on the
centred, scaled data): ``X^T X - n mu mu^T`` lost 1.7e-7 of the variances of integer data
of 1e6 (float64), its projections ``X V^T - mu V^T`` 3e-10 of float64 data of 1e6 + N(0, 1),
and ``r2_score`` of targets of 1e-300 is 0 where R^2 is -inf (its squares underflow).

First run (seeds 0 to 3, 100 to 120 cases, every backend): three findings, two fixed:
a pipeline ending in a PCA could not ``transform`` on scikit-learn 1.9 (no
``__sklearn_tags__``: AttributeError); a float ``n_components`` kept min(n, d) components
of data without variance where scikit-learn keeps 1. Left: ``PCA`` has no
``noise_variance_`` (nor ``score``, ``get_covariance``), which scikit-learn's has. After
the fixes: 0 disagreements.

The model's first run (seed 0, 100 cases, every backend): 75 disagreements, all of data
whose variances pass the dtype's range, fixed (the model is computed from the spreads
sqrt(lambda) and sigma): float64 data of 1e-300 raised ValueError 'singular' on a regular
model (variances of 1e-600: 0); of 1e300 and float32 of 1e30 the covariance was NaN where
inf (inf times a component's 0) and the log-likelihood -inf where -1383.5 (-72.4). Inherent,
allowed: a noise variance of rounding past the range (float32 data of 1e30 of rank 6 of
7: inf for 8.6e27, its slack 3e56). After: 0 disagreements, seeds 0 to 5, 100 cases each,
every backend (1559 models: 471 singular, ValueError checked; 650 with values compared).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from typing import Any

import numpy as np
from probe_pca_model import CHECKED, probe_model

import mlpillars as mp
from mlpillars.backends import device_of, framework_of
from mlpillars.tolerances import tolerance_for

BACKENDS = ("numpy", "torch", "jax", "jax.jit", "dask", "array_api_strict")
HALF_BACKENDS = ("numpy", "torch", "jax", "jax.jit", "dask")
ATTRIBUTES = ("components_", "explained_variance_", "explained_variance_ratio_")
ATTRIBUTES += ("singular_values_", "mean_")
KINDS = ("plain", "offset", "tiny", "huge", "duplicate", "constant", "zeros", "tie", "int")
SCALES = {"tiny": {"float32": 1e-30, "float64": 1e-300}, "huge": {"float32": 1e30}}
SCALES["huge"]["float64"] = 1e300


def draw_shape(rng: np.random.Generator) -> tuple[int, int]:
    d = int(rng.integers(1, 9))
    shape = str(rng.choice(["tall", "tall", "wide", "square", "one", "two", "any"]))
    n = {"tall": 10 * d + int(rng.integers(0, 20)), "square": d, "one": 1, "two": 2}.get(shape)
    if shape == "wide":
        d = int(rng.integers(2, 12))
        n = int(rng.integers(2, d + 1))
    return (n if n is not None else int(rng.integers(2, 30))), d


def draw_data(rng: np.random.Generator, kind: str, dtype: str, n: int, d: int) -> np.ndarray:
    """float64 values of one kind, exactly representable in dtype where that matters."""
    values = rng.normal(size=(n, d)) * np.geomspace(4, 0.25, d)
    if kind == "offset":
        values = 1e6 + values * (1 if dtype == "float64" else 8)
    elif kind in SCALES:
        values = values * SCALES[kind].get(dtype, 1.0)
    elif kind in ("duplicate", "constant") and d > 1:
        values[:, -1] = values[:, 0] if kind == "duplicate" else 3.0
    elif kind == "zeros":
        values[:] = 0.0
    elif kind == "tie":  # +-e_j rows: equal variances, ratios exactly 1/d
        values = np.concatenate([np.eye(d), -np.eye(d)] * max(1, n // (2 * d)))
    elif kind == "int":
        values = np.round(values * 3)
    return values


def draw_components(rng: np.random.Generator, kind: str, n: int, d: int) -> Any:
    choice = str(rng.choice(["none", "int", "int", "float", "float", "high", "over"]))
    if choice == "over":  # past min(n, d): ValueError, as scikit-learn's
        return min(n, d) + 1
    if choice == "int":
        return int(rng.integers(1, max(1, min(n, d)) + 1))
    if choice == "float":
        return 0.5 if kind == "tie" else float(rng.choice([0.3, 0.8, 0.95, 0.99]))
    return 0.999999 if choice == "high" else None


def on_backend(host: np.ndarray, backend: str, dtype: str, layout: str) -> Any:
    array = host.astype(dtype)
    if backend.startswith("numpy"):
        if layout == "fortran":
            array = np.asfortranarray(array)
        elif layout == "strided":
            array = np.repeat(array, 2, axis=1)[:, ::2]
        elif layout == "readonly":
            array.setflags(write=False)
        return array
    converted = mp.to_backend(np.ascontiguousarray(array), backend.split(".")[0])
    if backend == "dask" and layout != "plain":
        converted = converted.rechunk((max(1, (host.shape[0] + 1) // 2), -1))
    if backend == "torch" and layout == "fortran":
        converted = converted.T.contiguous().T
    return converted


def host(array: Any) -> np.ndarray:
    return np.asarray(framework_of(array).to_host(array), dtype=np.float64)


def expected_dtype(backend: str, dtype: str) -> str:
    if dtype != "int64":
        return dtype
    if backend == "torch":
        import torch

        return str(torch.get_default_dtype()).rpartition(".")[2]
    return "float64"


def reference(X: np.ndarray, options: dict[str, Any], eps: float) -> Any:
    """scikit-learn's float64 PCA of X, or the exception it raises: fitted on X centred in
    long double and scaled by a power of two near its largest magnitude, then scaled back
    (scikit-learn's ``X^T X - n mu mu^T`` cancels for data far from zero, 1e-8 of the
    variances of integer data of 1e6; its squares of 1e-300 underflow), with
    ``transform(X) = (X - mu) V^T`` of that centred X; whitened, divided by
    ``max(sqrt(lambda), eps)`` (eps the result dtype's), as scikit-learn does."""
    from sklearn.decomposition import PCA as SklearnPCA

    solver = {"svd": "full"}.get(options["solver"], options["solver"])
    model = SklearnPCA(options["n_components"], whiten=options["whiten"], svd_solver=solver)
    mean = np.mean(X.astype(np.longdouble), axis=0)
    centred = (X - mean).astype(np.float64)
    largest = float(np.max(np.abs(centred), initial=0.0))
    scale = 2.0 ** np.frexp(largest)[1] if 0 < largest < np.inf else 1.0
    try:
        model.fit(centred / scale)
        projected = model.transform(centred / scale)
    except Exception as error:  # compared with mlpillars' own
        return error
    scaled = {"components": model.components_, "variances": model.explained_variance_}
    scaled |= {"noise": float(model.noise_variance_), "scale": scale, "mean": mean}
    spread = np.sqrt(model.explained_variance_) * scale  # sqrt(lambda), not past the range
    with np.errstate(over="ignore"):
        model.explained_variance_ = model.explained_variance_ * scale * scale
        model.singular_values_ = model.singular_values_ * scale
        model.noise_variance_ = model.noise_variance_ * scale * scale
    model.mean_ = mean.astype(np.float64)
    if options["whiten"]:  # scikit-learn's divisor is clipped at eps (absolute: by design)
        projected = projected * (spread / scale) * scale / np.maximum(spread, eps)
    else:
        projected, spread = projected * scale, 1.0
    back = ((projected * spread) @ model.components_).astype(np.longdouble) + mean
    return model, projected, back.astype(np.float64), scaled


def slacks(X: np.ndarray, model: Any, eps: float) -> dict[str, Any]:
    """Inherent errors: of a variance, of each axis (1 or more: not unique), all d variances
    (zeros past min(n, d); computed scaled, so that squares neither overflow nor underflow)."""
    n, d = X.shape
    centred = (X - np.mean(X.astype(np.longdouble), axis=0)).astype(np.float64)
    largest = float(np.max(np.abs(centred), initial=0.0))
    scale = 2.0 ** np.frexp(largest)[1] if 0 < largest < np.inf else 1.0
    scaled = np.linalg.svd(centred / scale, compute_uv=False) ** 2 / max(n - 1, 1)
    scaled = np.concatenate([scaled, np.zeros(d - len(scaled))])
    top = float(scaled[0])  # in units of scale**2
    gaps = np.array(
        [min((abs(scaled[i] - v) for v in np.delete(scaled, i)), default=np.inf) for i in range(d)]
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        angle = np.where((gaps > 0) & (top > 0), 20 * (n + d) * eps * top / gaps, np.inf)
    with np.errstate(over="ignore"):
        variances = scaled * scale * scale
        variance_slack = 20 * (n + d) * eps * top * scale * scale
    return {
        "variance": variance_slack,
        "angle": angle,
        "variances": variances,
        "scale": scale,
        "top": top,
        "scaled": scaled,
    }


def compare(actual: Any, expected: np.ndarray, dtype: str, slack: Any = 0.0) -> str | None:
    got = host(actual)
    with np.errstate(over="ignore"):  # what the dtype holds: inf past its range
        expected = np.asarray(expected, dtype=np.float64).astype(dtype).astype(np.float64)
    if got.shape != np.shape(expected):
        return f"shape {got.shape} != {np.shape(expected)}"
    tolerance = tolerance_for(dtype)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    allowed = tolerance.atol * scale + tolerance.rtol * np.abs(expected) + slack
    with np.errstate(invalid="ignore"):
        bad = ~((np.abs(got - expected) <= allowed) | (got == expected))
    bad &= ~(np.isnan(got) & np.isnan(expected))
    if not bad.any():
        return None
    at = tuple(int(i) for i in np.argwhere(bad)[0])
    error = float(np.nanmax(np.abs(got - expected)[bad]))
    return f"at {at}: got {got[at]!r}, expected {expected[at]!r} (max err {error:.3g})"


def unique_axes(angle: np.ndarray, k: int) -> np.ndarray:
    """Which of the first k axes are determined to within a tenth (not in a cluster)."""
    return angle[:k] < 0.1


def sign_free(components: np.ndarray, angle: np.ndarray, eps: float) -> np.ndarray:
    """Which axes' signs rounding decides: their two largest magnitudes (nearly) tie
    (an exact tie is decided by the last bit of each)."""
    if components.shape[1] < 2:
        return np.zeros(components.shape[0], dtype=bool)
    pivots = np.sort(np.abs(components), axis=1)
    return pivots[:, -1] - pivots[:, -2] < 2 * np.minimum(angle, 2) + 100 * eps


def compare_fit(model: Any, ref: Any, X: np.ndarray, dtype: str, eps: float) -> list[str]:
    found = []
    k = int(ref.n_components_)
    if model.n_components_ != k or not isinstance(model.n_components_, int):
        return [f"n_components_ {model.n_components_!r} != {k}"]
    if model.n_features_in_ != X.shape[1] or model.n_samples_ != X.shape[0]:
        found.append(f"n_features_in_/n_samples_ {model.n_features_in_}/{model.n_samples_}")
    slack = slacks(X, ref, eps)
    n, d = X.shape
    ratio_slack = 20 * (n + d) * eps
    # eigh's eps lambda_1 in a variance is sqrt(eps lambda_1 (n - 1)) in a singular value
    singular_slack = np.sqrt(ratio_slack * slack["top"] * (n - 1)) * slack["scale"]
    checks = {
        "explained_variance_": (ref.explained_variance_, slack["variance"]),
        "explained_variance_ratio_": (np.nan_to_num(ref.explained_variance_ratio_), ratio_slack),
        "singular_values_": (ref.singular_values_, singular_slack),
        "mean_": (ref.mean_, X.shape[0] * eps * np.abs(X).max(axis=0)),
    }
    for name, (expected, allowed) in checks.items():
        if (problem := compare(getattr(model, name), expected, dtype, allowed)) is not None:
            found.append(f"{name} {problem}")
    unique = unique_axes(slack["angle"], k)
    components = host(model.components_)
    axis_slack = np.minimum(slack["angle"][:k], 2)[:, None]
    expected = np.where(unique[:, None], ref.components_, components)
    near_tie = sign_free(ref.components_, slack["angle"][:k], eps)
    signs = np.where(near_tie & (np.sum(components * expected, axis=1) < 0), -1.0, 1.0)
    if (problem := compare(components * signs[:, None], expected, dtype, axis_slack)) is not None:
        found.append(f"components_ {problem}")
    return found


def compare_projection(
    name: str, got: Any, expected: np.ndarray, ref: Any, X: np.ndarray, dtype: str, eps: float
) -> str | None:
    """Columns of unique axes directly, the others by the row norms of their span."""
    k = expected.shape[1]
    projected = host(got)
    if projected.shape != expected.shape:
        return f"{name} shape {projected.shape} != {expected.shape}"
    slack = slacks(X, ref, eps)
    rows = slack["scale"] * np.sqrt(X.shape[1])
    allowed = np.minimum(slack["angle"][:k], 2) * rows * np.ones_like(expected)
    if ref.whiten:  # a column of (nearly) no variance is rounding divided by eps
        scaled = slack["scaled"][:k]  # the variances in units of scale**2: finite
        relative = 20 * (X.shape[0] + X.shape[1]) * eps * slack["top"] / np.maximum(scaled, 1e-300)
        unit_spread = np.sqrt(scaled) * slack["scale"]  # sqrt(lambda), without overflow
        allowed = np.where(relative > 1e-3, np.inf, allowed / np.maximum(unit_spread, 1e-300))
        allowed = allowed + np.abs(expected) * relative
    unique = unique_axes(slack["angle"], k)
    signs = np.where(np.sum(projected * expected, axis=0) < 0, -1.0, 1.0)
    signs = np.where(unique & sign_free(ref.components_, slack["angle"][:k], eps), signs, 1.0)
    direct = compare((projected * signs)[:, unique], expected[:, unique], dtype, allowed[:, unique])
    if direct is not None:
        return f"{name} {direct}"
    if unique.all():
        return None
    cluster = ~unique & np.isfinite(allowed[0])
    norms_got = np.linalg.norm(projected[:, cluster], axis=1)
    norms_expected = np.linalg.norm(expected[:, cluster], axis=1)
    # a column's variance errs by the variances' e = 20 (n + d) eps lambda_1: where the
    # cluster's is 0 (k cuts the null space of n < d), the column is rounding of sqrt(e)
    n, d = X.shape
    rounding = np.sqrt(np.sum(cluster) * max(n - 1, 1) * 20 * (n + d) * eps * slack["top"])
    allowed = 1e-3 * np.max(norms_expected, initial=0) + rounding * slack["scale"]
    problem = compare(norms_got, norms_expected, dtype, allowed)
    return None if problem is None else f"{name} (cluster norms) {problem}"


def namespace_problems(arrays: dict[str, Any], like: Any, dtype: str) -> list[str]:
    found = []
    for name, array in arrays.items():
        if framework_of(array) is not framework_of(like):
            found.append(f"{name} namespace {framework_of(array)} for {framework_of(like)}")
        elif device_of(array) != device_of(like):
            found.append(f"{name} device {device_of(array)} for {device_of(like)}")
        elif (got := str(array.dtype).rpartition(".")[2]) != dtype:
            found.append(f"{name} dtype {got} for {dtype} expected")
    return found


def probe_pca(X: np.ndarray, options: dict, dtype: str, backend: str, layout: str) -> list[str]:
    """What is wrong with one backend's PCA of X (rounded to dtype, float64 values)."""
    data = on_backend(X, backend, dtype, layout)
    out_dtype = expected_dtype(backend, dtype)
    eps = float(np.finfo("float32" if out_dtype == "float16" else out_dtype).eps)
    ref = reference(X, options, float(np.finfo(out_dtype).eps))
    try:
        if backend == "jax.jit":
            import jax

            if not isinstance(options["n_components"], int):
                return []
            pca = jax.jit(lambda A: mp.pca(A, **options))
            projected, model = pca(data), None
        else:
            model = mp.PCA(**options).fit(data)
            projected = model.transform(data)
    except ValueError as error:
        if isinstance(ref, Exception) or X.shape[0] < 2:
            return []  # as scikit-learn (n = 1: ValueError where it gives NaN, by design)
        return [f"raised ValueError: {str(error)[:300]}"]
    except Exception as error:
        return [f"raised {type(error).__name__}: {str(error)[:300]}"]
    if isinstance(ref, Exception):
        return [f"no error where scikit-learn raised {type(ref).__name__}: {ref}"]
    sk, expected, expected_back, scaled = ref
    if model is None:
        problem = compare_projection("jit pca", projected, expected, sk, X, out_dtype, eps)
        return [problem] if problem else []
    arrays = {name: getattr(model, name) for name in ATTRIBUTES}
    arrays["transform"] = projected
    arrays["fit_transform"] = mp.PCA(**options).fit_transform(data)
    arrays["pca"] = mp.pca(data, **options)
    found = namespace_problems(arrays, data, out_dtype)
    found += compare_fit(model, sk, X, out_dtype, eps)
    for name in ("transform", "fit_transform", "pca"):
        problem = compare_projection(name, arrays[name], expected, sk, X, out_dtype, eps)
        found += [problem] if problem else []
    slack = slacks(X, sk, eps)
    k = sk.n_components_
    splits = k < X.shape[1] and slack["angle"][k - 1] >= 0.1  # the span is not unique
    if not found and not splits:
        back = model.inverse_transform(projected)
        found += namespace_problems({"inverse_transform": back}, data, out_dtype)
        allowed = np.abs(X).max() * (20 * eps + float(np.max(slack["angle"][:k])))
        problem = compare(back, expected_back, out_dtype, allowed)
        found += [f"inverse_transform {problem}"] if problem else []
    if not found:
        context = {"compare": compare, "host": host, "namespace_problems": namespace_problems}
        context |= {"dtype": out_dtype, "eps": eps, "slack": slack}
        context["on_backend"] = lambda samples: on_backend(samples, backend, dtype, "plain")
        found += probe_model(model, data, X, dtype, scaled, context)
    return found


def probe_r_squared(rng: np.random.Generator, dtype: str, backend: str) -> tuple[str, list]:
    from sklearn.metrics import r2_score

    outputs, n = int(rng.integers(1, 4)), int(rng.integers(2, 12))
    kind = str(rng.choice(KINDS))
    y_true = draw_data(rng, kind, dtype, n, outputs).astype(dtype).astype(np.float64)
    scale = float(np.max(np.abs(y_true), initial=0.0)) or 1.0
    spread = np.std(y_true / scale, axis=0) * scale
    spread = np.where(spread > 0, spread, scale)
    noise = rng.normal(size=y_true.shape) * spread * float(rng.choice([0, 0.1, 3]))
    y_pred = (y_true + noise).astype(dtype).astype(np.float64)
    if not np.all(np.isfinite(y_pred)):
        return kind, []
    # R^2 does not see a common scale: r2_score's own squares of 1e-300 underflow
    expected = r2_score(y_true / scale, y_pred / scale, multioutput="raw_values")
    args = [on_backend(a.T.copy(), backend, dtype, "plain") for a in (y_true, y_pred)]
    try:
        if backend == "jax.jit":
            import jax

            got = jax.jit(mp.r_squared)(*args)
        else:
            got = mp.r_squared(*args)
    except Exception as error:
        return kind, [f"raised {type(error).__name__}: {error}"]
    out_dtype = expected_dtype(backend, dtype)
    eps = float(np.finfo("float32" if out_dtype == "float16" else out_dtype).eps)
    found = namespace_problems({"r_squared": got}, args[0], out_dtype)
    slack = 8 * n * eps * (np.abs(1 - expected) + 1)
    problem = compare(got, expected, out_dtype, slack)
    return kind, found + ([f"r_squared {problem}"] if problem else [])


def probe_estimator_api(rng: np.random.Generator) -> list[str]:
    """clone, Pipeline([StandardScaler, PCA]) and GridSearchCV, against scikit-learn's PCA."""
    from sklearn.base import clone
    from sklearn.decomposition import PCA as SklearnPCA
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GridSearchCV
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    X = rng.normal(size=(60, 6)) * np.geomspace(5, 0.5, 6) + 3
    y = (X[:, 0] + X[:, 2] > 3).astype(int)
    found = []
    cloned = clone(mp.PCA(2, whiten=True, svd_solver="full"))
    if cloned.get_params() != {"n_components": 2, "whiten": True, "solver": "auto"} | {
        "svd_solver": "full"
    }:
        found.append(f"clone: {cloned.get_params()}")
    results = []
    for pca in (mp.PCA(3), SklearnPCA(3)):
        pipe = Pipeline([("scale", StandardScaler()), ("pca", pca)]).fit(X)
        results.append(pipe.transform(X))
    if (problem := compare(results[0], results[1], "float64")) is not None:
        found.append(f"Pipeline transform {problem}")
    searches = []
    for pca in (mp.PCA(), SklearnPCA()):
        steps = [("scale", StandardScaler()), ("pca", pca), ("fit", LogisticRegression())]
        grid = {"pca__n_components": [1, 2, 3, 0.9]}
        searches.append(GridSearchCV(Pipeline(steps), grid, cv=3).fit(X, y))
    if searches[0].best_params_ != searches[1].best_params_:
        found.append(f"GridSearchCV {searches[0].best_params_} != {searches[1].best_params_}")
    scores = [s.cv_results_["mean_test_score"] for s in searches]
    if (problem := compare(scores[0], scores[1], "float64")) is not None:
        found.append(f"GridSearchCV scores {problem}")
    return found


def draw_pca(rng: np.random.Generator) -> tuple[np.ndarray, dict, str, str]:
    kind = str(rng.choice(KINDS))
    dtype = str(rng.choice(["float64", "float64", "float32", "float32", "float16", "int64"]))
    if kind in ("tiny", "huge") and dtype not in ("float32", "float64"):
        kind = "plain"
    dtype = "int64" if kind == "int" else dtype
    n, d = draw_shape(rng)
    X = draw_data(rng, kind, dtype, n, d)
    with np.errstate(over="ignore"):
        X = X.astype(dtype).astype(np.float64)
    options = {
        "n_components": draw_components(rng, kind, X.shape[0], d),
        "whiten": bool(rng.random() < 0.3),
        "solver": str(rng.choice(["auto", "full", "covariance_eigh", "svd"])),
    }
    return X, options, dtype, kind


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--backends", default=",".join(BACKENDS))
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    import jax

    jax.config.update("jax_enable_x64", True)
    rng, count = np.random.default_rng(arguments.seed), 0
    backends = arguments.backends.split(",")
    for case in range(arguments.cases):
        layout = str(rng.choice(["plain", "plain", "fortran", "strided", "readonly"]))
        if case % 4 == 3:
            dtype = str(rng.choice(["float64", "float32"]))
            for backend in backends:
                kind, found = probe_r_squared(np.random.default_rng([case, 1]), dtype, backend)
                for problem in found:
                    count += 1
                    print(f"case {case} r_squared {backend} {dtype} {kind}: {problem}")
            continue
        X, options, dtype, kind = draw_pca(rng)
        if not np.isfinite(X).all():
            continue
        for backend in backends:
            if dtype == "float16" and backend not in HALF_BACKENDS:
                continue
            for problem in probe_pca(X, options, dtype, backend, layout):
                count += 1
                print(f"case {case} PCA {backend} {dtype} {kind} {X.shape} {layout} {options}:")
                print(f"    {problem}")
    try:
        api_problems = probe_estimator_api(rng)
    except Exception as error:  # reported
        api_problems = [f"raised {type(error).__name__}: {str(error)[:300]}"]
    for problem in api_problems:
        count += 1
        print(f"estimator API: {problem}")
    print(", ".join(f"{number} {what}" for what, number in CHECKED.items()))
    print(f"{count} disagreements in {arguments.cases} cases")
    return min(count, 100)


if __name__ == "__main__":
    sys.exit(main())
