"""A differential probe of the dense layers, normalisation and regression kernels on hostile
inputs: every backend against an independent float64 reference.

Each case draws one kernel's inputs: magnitudes 1e-30 to 1e30 (within the dtype's range),
data far from zero (offsets 1e4 to 1e8 with a small spread), zero rows and columns,
constant targets, duplicated columns, size-1 and empty axes, batch axes, integer,
float16, bfloat16, float32 and float64 inputs, strided and read-only NumPy arrays. Each
backend's answer (NumPy, torch, JAX eager and under ``jax.jit``, Dask, array-api-strict)
is compared with the float64 reference computed on the same rounded values: SciPy's
``erfc`` and ``expit`` for the activations, ``scipy.linalg.lstsq`` of the column-scaled
design for ``least_squares``, scikit-learn's ``r2_score``, a scaled float64 norm for
``normalize`` and ``cosine_similarity``. The allowed error is the tolerance table's, plus
what the dtype's rounding of the inputs makes inherent (a sum's ``n * eps`` of its terms;
a fit's condition number times eps, judged in units of the scaled problem). Run from the
repository root:

    PYTHONPATH=. python scripts/probe_linalg.py [--seed 0] [--cases 200] [--kernels ...]

It prints each disagreement (a wrong value, a wrong dtype or namespace, an unexpected
error) and their count. A rank-deficient problem may be refused (ValueError) or, under
``jax.jit``, answered with NaN; one whose condition lies between clearly full rank and
clearly deficient may be either.

First run (2026-12, seeds 0 and 1, 300 cases each on NumPy, torch, Dask and
array-api-strict, 120 on JAX eager and jitted): no disagreement beyond the tolerance
table. What the table lets pass, found by hand beside it: the GELUs lose the relative
digits of their tail (``1 + erf(x / sqrt 2)`` cancels: float32 gelu(-5) is -1.49e-6 on
NumPy, -1.19e-6 on torch, against -1.433e-6; 0 from x = -6, where JAX's erfc gives
-5.9e-9); x @ W overflows in its terms where the answer does not ([3e38, 3e38] @ [10,
-10] is NaN, inf on JAX, for 0); XLA on the CPU reads subnormal inputs as 0 (JAX's
normalize of [1e-45, 1e-45] float32 is [0, 0], its r_squared of data of 1e-40 is 1).
"""

from __future__ import annotations

import argparse
import itertools
import math
import warnings
from collections.abc import Callable
from typing import Any

import numpy as np
from scipy import linalg as scipy_linalg
from scipy import special

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS, framework_of
from mlpillars.tolerances import tolerance_for

BACKENDS = ("numpy", "torch", "jax", "jax.jit", "dask", "array_api_strict")
HALF = {"float16": ("numpy", "torch", "jax", "jax.jit", "dask"), "bfloat16": ("torch", "jax")}
LIMITS = {"float16": 4, "bfloat16": 30, "float32": 30, "float64": 30, "int64": 0}


def magnitude(rng: np.random.Generator, dtype: str) -> float:
    """A scale 10**k, k within the dtype's safe exponent range (products stay finite)."""
    limit = LIMITS[dtype] // 2 if dtype != "int64" else 0
    return 10.0 ** int(rng.integers(-limit, limit + 1)) if limit else 1.0


def hostile(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """float64 values of one hostile kind."""
    kind = rng.choice(["plain", "scaled", "offset", "zeros", "mixed"])
    values = rng.normal(size=shape)
    if dtype == "int64":
        return np.round(values * 5)
    if kind == "scaled":
        values *= magnitude(rng, dtype)
    elif kind == "offset" and dtype != "float16":
        values = float(rng.choice([1e4, 1e6, 1e8])) + values * float(rng.choice([1e-2, 1, 10]))
    elif kind == "zeros" and values.size:
        values[..., rng.integers(0, shape[-1])] = 0
        if values.ndim > 1:
            values[rng.integers(0, shape[0])] = 0
    elif kind == "mixed" and values.ndim:
        values *= np.array([magnitude(rng, dtype) for _ in range(shape[-1])])
    return values


def rounded(values: np.ndarray, dtype: str) -> np.ndarray:
    """values as the dtype holds them, back in float64."""
    if dtype == "bfloat16":
        import torch

        return torch.from_numpy(values.astype(np.float32)).bfloat16().double().numpy()
    return values.astype(dtype).astype(np.float64)


def on_backend(host: np.ndarray, backend: str, dtype: str, layout: str) -> Any:
    """host (float64) on the backend, in dtype; NumPy layouts: strided, read-only."""
    name = backend.split(".")[0]
    if name == "numpy" and dtype != "bfloat16":
        array = host.astype(dtype)
        if layout == "strided" and array.ndim:
            wide = np.repeat(array, 2, axis=-1)
            array = wide[..., ::2]
        if layout == "readonly":
            array.setflags(write=False)
        return array
    if dtype == "bfloat16":
        array = mp.to_backend(host.astype(np.float32), name)
        return framework_of(array).namespace().astype(array, FRAMEWORKS[name].namespace().bfloat16)
    array = mp.to_backend(np.ascontiguousarray(host.astype(dtype)), name)
    if layout == "strided" and name == "torch" and array.ndim:
        import torch

        array = torch.repeat_interleave(array, 2, dim=-1)[..., ::2]
    if layout == "strided" and name == "dask":  # several chunks along every axis
        array = array.rechunk(tuple(max(1, (size + 1) // 2) for size in array.shape))
    return array


def called(backend: str, function: Callable[..., Any], *arrays: Any) -> Any:
    if backend == "jax.jit":
        import jax

        return jax.jit(function)(*arrays)
    return function(*arrays)


def reference_activation(z: np.ndarray, name: str | None) -> np.ndarray:
    if name == "relu":
        return np.maximum(z, 0)
    if name == "gelu":
        return 0.5 * z * special.erfc(-z / math.sqrt(2))
    if name == "gelu_tanh":
        with np.errstate(over="ignore"):
            inner = math.sqrt(2 / math.pi) * (z + 0.044715 * z**3)
        return z * special.expit(2 * inner)
    if name == "sigmoid":
        return special.expit(z)
    if name == "tanh":
        return np.tanh(z)
    return z


def unit(x: np.ndarray, axis: int) -> np.ndarray:
    """x / ||x|| in float64, scaled by the largest entry first; zero vectors zero."""
    largest = np.max(np.abs(x), axis=axis, keepdims=True) if x.size else np.ones_like(x)
    scaled = x / np.where(largest == 0, 1, largest)
    norm = np.sqrt(np.sum(scaled * scaled, axis=axis, keepdims=True))
    return scaled / np.where(norm == 0, 1, norm)


# Each case: (name, inputs (float64, rounded), options, function(*arrays), reference,
# slack (an array of inherent absolute errors, or None), and a note.


def linear_case(rng: np.random.Generator, dtype: str) -> tuple:
    batch = tuple(int(s) for s in rng.integers(0, 4, size=rng.integers(0, 3)))
    fan_in, fan_out = (int(s) for s in rng.integers(1, 9, size=2))
    x = hostile(rng, (*batch, fan_in), dtype)
    weight = hostile(rng, (fan_in, fan_out), dtype) / max(1.0, float(np.abs(x).max(initial=1)))
    bias = None if rng.random() < 0.3 else hostile(rng, (fan_out,), dtype)
    activation = rng.choice([None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh"])
    arrays = [x, weight] + ([] if bias is None else [bias])
    return "linear", arrays, {"activation": activation}


def mlp_case(rng: np.random.Generator, dtype: str) -> tuple:
    sizes = [int(s) for s in rng.integers(1, 7, size=rng.integers(2, 5))]
    x = hostile(rng, (int(rng.integers(1, 5)), sizes[0]), dtype)
    weights = [rng.normal(size=(a, b)) / math.sqrt(a) for a, b in itertools.pairwise(sizes)]
    biases = [rng.normal(size=(b,)) for b in sizes[1:]]
    options = {
        "activation": rng.choice(["relu", "gelu", "tanh", "sigmoid", "gelu_tanh"]),
        "output_activation": rng.choice([None, "sigmoid", "tanh"]),
    }
    return "mlp", [x, *weights, *biases], options


def normalize_case(rng: np.random.Generator, dtype: str) -> tuple:
    shape = tuple(int(s) for s in rng.integers(0, 5, size=rng.integers(1, 4)))
    x = hostile(rng, shape, dtype)
    return "normalize", [x], {"axis": int(rng.integers(-len(shape), len(shape)))}


def cosine_case(rng: np.random.Generator, dtype: str) -> tuple:
    d = int(rng.integers(1, 6))
    a_shape = (int(rng.integers(0, 5)), d) if rng.random() < 0.8 else (d,)
    b_shape = (int(rng.integers(0, 5)), d) if rng.random() < 0.8 else (d,)
    a, b = hostile(rng, a_shape, dtype), hostile(rng, b_shape, dtype)
    if rng.random() < 0.2 and a.ndim == 2 and b.ndim == 2 and len(a) and len(b):
        b[0] = a[0] * 3  # parallel: exactly 1
    return "cosine_similarity", [a, b], {}


def least_squares_case(rng: np.random.Generator, dtype: str) -> tuple:
    d = int(rng.integers(0, 5))
    fit_intercept = bool(rng.random() < 0.75)
    n = int(rng.integers(d + int(fit_intercept) + 1, 40)) if rng.random() < 0.9 else d + 1
    batch = () if rng.random() < 0.6 else (int(rng.integers(1, 4)),)
    X = hostile(rng, (*batch, n, d), dtype)
    if d > 1 and rng.random() < 0.4:  # a duplicated, nearly collinear, constant or zero column
        column = rng.choice(["duplicate", "collinear", "constant", "zero"])
        first = X[..., 0]
        X[..., -1] = {
            "duplicate": first,
            "collinear": 2 * first + 10.0 ** -rng.integers(1, 12) * rng.normal(size=first.shape),
            "constant": np.full(first.shape, float(rng.choice([1.0, 1e4]))),
            "zero": np.zeros(first.shape),
        }[column]
    kind = rng.choice(["linear", "noise", "constant", "offset"])
    weights = rng.normal(size=(*batch, d)) * magnitude(rng, dtype)
    y = np.einsum("...nd,...d->...n", X, weights) + rng.normal(size=(*batch, n))
    if kind == "noise":
        y = hostile(rng, (*batch, n), dtype)
    elif kind == "constant":
        y = np.full((*batch, n), float(rng.choice([0.0, 3.0, 1e8])))
    elif kind == "offset" and dtype not in ("float16", "int64"):
        y += 1e6
    return "least_squares", [X, y], {"fit_intercept": fit_intercept}


def r_squared_case(rng: np.random.Generator, dtype: str) -> tuple:
    batch = (int(s) for s in rng.integers(0, 4, size=rng.integers(0, 3)))
    shape = (*batch, int(rng.integers(1, 9)))
    y_true = hostile(rng, shape, dtype)
    kind = rng.choice(["close", "far", "constant", "exact"])
    spread = float(np.std(y_true)) or 1.0
    y_pred = y_true + rng.normal(size=shape) * spread * (0.1 if kind == "close" else 3)
    if kind == "constant":
        y_true = np.broadcast_to(y_true[..., :1], shape).copy()
        y_pred = y_true.copy() if rng.random() < 0.5 else y_pred
    elif kind == "exact":
        y_pred = y_true.copy()
    return "r_squared", [y_true, y_pred], {}


CASES = {
    "linear": linear_case,
    "mlp": mlp_case,
    "normalize": normalize_case,
    "cosine_similarity": cosine_case,
    "least_squares": least_squares_case,
    "r_squared": r_squared_case,
}


def kernel_call(name: str, count: int, options: dict[str, Any]) -> Callable[..., Any]:
    """The kernel applied to the case's arrays (count of them), options bound."""
    if name == "linear":
        return lambda x, w, *b: mp.linear(x, w, b[0] if b else None, **options)
    if name == "mlp":
        layers = (count - 1) // 2
        return lambda x, *rest: mp.mlp(x, list(rest[:layers]), list(rest[layers:]), **options)
    if name == "least_squares":
        return lambda X, y: tuple(mp.least_squares(X, y, **options))
    return lambda *arrays: getattr(mp, name)(*arrays, **options)


def reference(name: str, arrays: list[np.ndarray], options: dict[str, Any], eps: float) -> Any:
    """(expected results, inherent absolute error of each) in float64; for least squares
    also whether the problem is clearly full rank, clearly not, or neither."""
    if name in ("linear", "mlp"):
        return layered_reference(name, arrays, options, eps)
    if name == "normalize":
        return [unit(arrays[0], options["axis"])], [None]
    if name == "cosine_similarity":
        a, b = arrays
        rows = [unit(v if v.ndim == 2 else v[None], -1) for v in (a, b)]
        similarity = np.clip(rows[0] @ rows[1].T, -1, 1)
        similarity = similarity[:, 0] if b.ndim == 1 else similarity
        return [similarity[0] if a.ndim == 1 else similarity], [None]
    if name == "r_squared":
        return r_squared_reference(*arrays, eps)
    return least_squares_reference(*arrays, options["fit_intercept"], eps)


def layered_reference(name: str, arrays: list[np.ndarray], options: dict, eps: float) -> Any:
    if name == "linear":
        x, weight, *bias = arrays
        layers = [(weight, bias[0] if bias else None, options["activation"])]
    else:
        x, rest = arrays[0], arrays[1:]
        count = len(rest) // 2
        names = [options["activation"]] * (count - 1) + [options["output_activation"]]
        layers = list(zip(rest[:count], rest[count:], names, strict=True))
    hidden, slack = x, np.zeros_like(x)
    for weight, bias, activation in layers:
        terms = np.abs(hidden) @ np.abs(weight) + (0 if bias is None else np.abs(bias))
        z = hidden @ weight + (0 if bias is None else bias)
        slack = 2 * (weight.shape[0] + 2) * eps * terms + slack @ np.abs(weight) * 1.2
        hidden = reference_activation(z, activation)
    return [hidden], [slack]


def r_squared_reference(y_true: np.ndarray, y_pred: np.ndarray, eps: float) -> Any:
    from sklearn.metrics import r2_score

    n = y_true.shape[-1]
    rows_true, rows_pred = y_true.reshape(-1, n), y_pred.reshape(-1, n)
    scores = np.array(
        [
            float(np.all(t == p)) if np.all(t == t[0]) else r2_score(t, p)  # sklearn's rule
            for t, p in zip(rows_true, rows_pred, strict=True)
        ]
    ).reshape(y_true.shape[:-1])
    return [scores], [4 * n * eps * (np.abs(1 - scores) + 1)]


def least_squares_reference(X: np.ndarray, y: np.ndarray, fit_intercept: bool, eps: float) -> Any:
    """Weights and bias by SciPy's lstsq of the centred, column-scaled design; the slack
    of each from the condition number; the rank verdict: "full", "deficient" or "either"."""
    batched = X.ndim == 3 or y.ndim == 2
    problems = max(len(y) if y.ndim == 2 else 1, len(X) if X.ndim == 3 else 1)
    X3 = np.broadcast_to(X if X.ndim == 3 else X[None], (problems, *X.shape[-2:]))
    Y2 = np.broadcast_to(y if y.ndim == 2 else y[None], X3.shape[:2])
    weights, biases, w_slack, b_slack, verdicts = [], [], [], [], []
    for features, target in zip(X3, Y2, strict=True):
        n, d = features.shape
        x_mean = features.mean(0) if fit_intercept else np.zeros(d)
        y_mean = target.mean() if fit_intercept else 0.0
        centred, y_c = features - x_mean, target - y_mean
        norms = np.linalg.norm(centred, axis=0)
        raw = np.linalg.norm(features, axis=0)
        safe = np.where(norms > 0, norms, 1)
        if d:
            solution, _, _, sv = scipy_linalg.lstsq(centred / safe, y_c)
            cond = sv[0] / sv[-1] if sv[-1] > 0 else np.inf
        else:
            solution, cond = np.zeros(0), 1.0
        w = solution / safe
        limit = max(n, d) * eps
        independent_floor = np.all(norms > 1e3 * eps * raw) if fit_intercept else True
        if cond < 1e-2 / limit and independent_floor:
            verdict = "full"
        elif cond > 1 / eps or np.any(norms <= eps * raw):
            verdict = "deficient"
        else:
            verdict = "either"
        residual = np.linalg.norm(centred @ w - y_c)
        y_scale = max(np.linalg.norm(y_c), np.linalg.norm(target) * eps, np.finfo(float).tiny)
        scaled_w = np.linalg.norm(w * norms)
        inherent = 10 * limit * min(cond, 1e300) * (scaled_w + cond * residual + y_scale) / safe
        weights.append(w)
        biases.append(y_mean - x_mean @ w)
        w_slack.append(inherent)
        terms = abs(y_mean) + np.abs(x_mean * w).sum()
        b_slack.append(np.abs(x_mean) @ inherent + 10 * eps * terms)
        verdicts.append(verdict)
    w_out, b_out = np.array(weights).reshape(len(X3), -1), np.array(biases)
    ws, bs = np.array(w_slack).reshape(w_out.shape), np.array(b_slack)
    if not batched:
        w_out, b_out, ws, bs = w_out[0], b_out[0], ws[0], bs[0]
    return [w_out, b_out], [ws, bs], verdicts


def compared(actual: Any, expected: np.ndarray, slack: Any, dtype_name: str) -> str | None:
    """None where actual passes, else what is wrong."""
    host = np.asarray(framework_of(actual).to_host(actual), dtype=np.float64)
    if host.shape != np.shape(expected):
        return f"shape {host.shape} != {np.shape(expected)}"
    tolerance = tolerance_for(dtype_name)
    scale = max(1.0, float(np.max(np.abs(expected), initial=0.0)))
    allowed = tolerance.atol * scale + tolerance.rtol * np.abs(expected)
    if slack is not None:
        allowed = allowed + slack
    with np.errstate(invalid="ignore"):
        bad = ~((np.abs(host - expected) <= allowed) | (host == expected))
    bad &= ~(np.isnan(host) & np.isnan(expected))
    if not bad.any():
        return None
    index = np.argwhere(bad)[0] if host.ndim else ()
    at = tuple(int(i) for i in index)
    wanted = np.asarray(expected)[at]
    return f"at {at}: got {host[at]!r}, expected {wanted!r} ({int(bad.sum())} bad)"


def probe(
    name: str, arrays: list[np.ndarray], options: dict, dtype: str, backend: str, layout: str
) -> list[str]:
    """What is wrong with one backend's answer."""
    inputs = [on_backend(a, backend, dtype, layout) for a in arrays]
    function = kernel_call(name, len(arrays), options)
    try:
        result = called(backend, function, *inputs)
    except Exception as error:  # reported
        return [f"raised {type(error).__name__}: {str(error)[:300]}"]
    results = list(result) if isinstance(result, tuple) else [result]
    out_dtype = str(results[0].dtype).rpartition(".")[2]
    if dtype != "int64" and out_dtype != dtype:
        return [f"dtype {out_dtype} for {dtype} input"]
    if framework_of(results[0]) is not framework_of(inputs[0]):
        return [f"namespace {framework_of(results[0])} for {framework_of(inputs[0])}"]
    eps = float(np.finfo(np.float32 if out_dtype == "bfloat16" else out_dtype).eps)
    eps = 2.0**-8 if out_dtype == "bfloat16" else eps
    expected = reference(name, [rounded(a, dtype) for a in arrays], options, eps)
    pairs = zip(results, expected[0], expected[1], strict=True)
    return [
        f"result {i} {found}"
        for i, (actual, want, slack) in enumerate(pairs)
        if (found := compared(actual, want, slack, out_dtype)) is not None
    ]


def least_squares_verdict(arrays: list[np.ndarray], options: dict, dtype: str) -> list[str]:
    computed = {"float16": "float32", "bfloat16": "float32", "int64": "float64"}.get(dtype, dtype)
    eps = float(np.finfo(computed).eps)
    return reference("least_squares", [rounded(a, dtype) for a in arrays], options, eps)[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--kernels", default=",".join(CASES))
    parser.add_argument("--backends", default=",".join(BACKENDS))
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    rng, count = np.random.default_rng(arguments.seed), 0
    kernels, backends = arguments.kernels.split(","), arguments.backends.split(",")
    for case in range(arguments.cases):
        name = kernels[case % len(kernels)]
        dtype = str(rng.choice(["float64", "float32", "float32", "float16", "bfloat16", "int64"]))
        _, arrays, options = CASES[name](rng, dtype)
        if not all(np.isfinite(rounded(a, dtype)).all() for a in arrays):
            continue  # past the dtype's range: not a finite input
        layout = str(rng.choice(["plain", "plain", "strided", "readonly"]))
        verdicts = least_squares_verdict(arrays, options, dtype) if name == "least_squares" else []
        for backend in backends:
            if dtype in HALF and backend not in HALF[dtype]:
                continue
            found = probe(name, arrays, options, dtype, backend, layout)
            if verdicts and found and "deficient" in found[0] and "full" not in verdicts:
                continue  # refused, as it may be
            if verdicts and found and "result 0" in found[0] and "nan" in found[0]:
                if backend == "jax.jit" and "full" not in verdicts:
                    continue  # traced: NaN for a deficient problem, as documented
            if found:
                count += 1
                shapes = [a.shape for a in arrays]
                print(
                    f"case {case} {name} {backend} {dtype} {layout} {shapes} {options}"
                    f" {verdicts}: {'; '.join(found)}"
                )
    print(f"{count} disagreements in {arguments.cases} cases")


if __name__ == "__main__":
    main()
