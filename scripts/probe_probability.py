"""A differential probe of the probability pillar at extreme magnitudes: every backend
against an extended-precision reference on the same (rounded) inputs.

Each case draws one kernel call (logsumexp, sigmoid, softmax, log_softmax, cross_entropy
with labels or class probabilities and each reduction, scaled_dot_product_attention with
float or boolean masks, ``is_causal`` and scales from 1e-30 to 1e30) on hostile inputs:
magnitudes 1e-38 to 3e38 (clipped to the dtype's range), offsets, subnormal values, ties,
``-inf`` entries, rows of one entry and empty axes, temperatures from 1e-30 to 1e30, in
float16, bfloat16, float32 and float64. Each backend (NumPy, torch, JAX eager and under
``jax.jit``, Dask, array-api-strict; the dtypes each holds) computes it from the inputs
rounded to the dtype; the reference computes from the same rounded values in
``np.longdouble`` (80-bit on x86: range 1e4932), rounded back to the dtype (inf past its
range), and the two are compared with the tolerance table. Run from the repository root:

    PYTHONPATH=. python scripts/probe_probability.py [--seed 0] [--cases 200] [--no-jit]

It prints each disagreement and their count. Attention rows whose scores are too large for
the dtype to resolve their differences (``E eps max|s q.k|`` or ``eps max|mask|`` above
1e-3) are held only to what any rounding keeps: finite where the reference is, within
the range of the values the row may attend to. Under ``jax.jit`` attention is called
through ``.generic``: the automatic path there is ``jax.nn.dot_product_attention``'s own
answer, as documented, wherever values cannot be read. torch.compile is left out (minutes
of compiling a case on a small machine).

It found the wrong answers fixed on the branch ``prob`` (a mean of losses near the
largest value, class-probability losses whose log-probabilities leave the range, a -inf
mask against scores at the end of the range under JAX); see tests/test_probability.py
and tests/test_attention_range.py. Then (seed 2, cases 35 and 36) NaN from the generic
attention under ``jax.jit`` with one feature: XLA's fused multiply-add left a rounding
residual where ``scores - max`` is 0 (fixed, tests/test_attention_range.py). Inherent,
not fixed: JAX's CPU reads subnormal float32 and bfloat16 inputs as 0 (q of 2.5e-39
against keys of 3e38 in bfloat16: scores of 0 on every JAX path, by the XLA CPU's
denormals-are-zero mode, before any formula sees them).
"""

from __future__ import annotations

import argparse
import functools
import math
import warnings
from collections import Counter
from collections.abc import Callable
from typing import Any

import ml_dtypes
import numpy as np

import mlpillars as mp
from mlpillars.testing import BackendCase, backend_cases
from mlpillars.tolerances import tolerance_for, within_tolerance

LD = np.longdouble
DTYPES = ("float16", "bfloat16", "float32", "float64")
SCALES = (1e-38, 1e-30, 1e-8, 1e-3, 1.0, 30.0, 1e4, 1e20, 1e30, 1e38, 3e38)


def largest(dtype_name: str) -> float:
    return float(ml_dtypes.finfo(dtype_name).max)


def hostile(rng: np.random.Generator, shape: tuple[int, ...], dtype_name: str) -> np.ndarray:
    """Values of one drawn magnitude around one drawn offset, with ties, subnormal values
    and extreme entries, clipped to the dtype's finite range."""
    top = largest(dtype_name)
    scale = float(rng.choice(SCALES))
    offset = float(rng.choice([0.0, 0.0, 1.0, -1e4, 1e30, -0.5 * top]))
    values = offset + scale * rng.normal(size=shape)
    flat = values.reshape(-1)
    if flat.size and rng.random() < 0.3:  # ties with the largest entry
        flat[rng.integers(0, flat.size, size=2)] = flat.max()
    if flat.size and rng.random() < 0.2:  # subnormal values of the dtype
        flat[rng.integers(0, flat.size)] = float(ml_dtypes.finfo(dtype_name).smallest_subnormal)
    if flat.size and rng.random() < 0.2:  # an extreme entry
        flat[rng.integers(0, flat.size)] = float(rng.choice([top, -top, 0.9 * top]))
    return np.clip(values, -top, top)


def rounded(expected: Any, dtype_name: str) -> np.ndarray:
    """The reference as the dtype holds it (inf past its range), back in float64."""
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(expected, dtype=np.float64).astype(dtype_name).astype(np.float64)


# -- references, in np.longdouble, from the rounded inputs --------------------------------
def logsumexp_ref(x: np.ndarray, axis: int) -> np.ndarray:
    x = x.astype(LD)
    if x.shape[axis] == 0:
        return np.full(np.delete(np.array(x.shape), axis), -np.inf)
    top = x.max(axis=axis, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0)
    is_max = x == top
    rest = np.where(is_max, 0, np.exp(x - safe)).sum(axis=axis, keepdims=True)
    result = np.log1p(rest + is_max.sum(axis=axis, keepdims=True) - 1) + safe
    return np.squeeze(np.where(np.isfinite(top), result, top), axis=axis)


def log_softmax_ref(x: np.ndarray, axis: int, temperature: float) -> np.ndarray:
    x = x.astype(LD)
    if x.size == 0:
        return x
    shifted = (x - x.max(axis=axis, keepdims=True)) / LD(temperature)
    return shifted - np.log(np.exp(shifted).sum(axis=axis, keepdims=True))


def sigmoid_ref(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x.astype(LD)))


def cross_entropy_ref(logits: np.ndarray, target: np.ndarray, reduction: str) -> Any:
    log_probs = log_softmax_ref(logits, -1, 1.0)
    if target.dtype.kind in "iu":
        losses = -np.take_along_axis(log_probs, target[..., None], axis=-1)[..., 0]
    else:  # 0 log p = 0 where t = 0 (log p is finite for finite logits)
        terms = np.where(target == 0, 0, target.astype(LD) * log_probs)
        losses = -terms.sum(axis=-1)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return (losses / losses.size).sum()


def attention_ref(q, k, v, mask, scale, is_causal) -> tuple[np.ndarray, np.ndarray]:
    """The output, and how far rounding of the scores can move them (in exponent units)."""
    q, k, v = (array.astype(LD) for array in (q, k, v))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None and q.shape[-1] else (scale or 1.0)
    scores = np.einsum("...qe,...ke->...qk", q, k) * LD(scale)
    spread = np.einsum("...qe,...ke->...qk", np.abs(q), np.abs(k)) * abs(scale)
    allowed = np.ones(scores.shape, dtype=bool)
    if mask is not None and mask.dtype == bool:
        allowed &= mask
    elif mask is not None:
        scores = scores + mask.astype(LD)
        spread = spread + np.where(np.isfinite(mask), np.abs(mask), 0)
    if is_causal:
        allowed &= np.tril(np.ones(scores.shape[-2:], dtype=bool))
    scores = np.where(allowed, scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores - np.where(np.isfinite(top), top, 0))
    total = weights.sum(axis=-1, keepdims=True)
    weights = weights / np.where(total == 0, 1, total)
    output = np.einsum("...qk,...kv->...qv", weights, v)
    finite = np.isfinite(scores)[..., None]  # (..., Lq, Lk, 1): the keys a row may attend to
    low = np.where(finite, v[..., None, :, :], np.inf).min(axis=-2, initial=np.inf)
    high = np.where(finite, v[..., None, :, :], -np.inf).max(axis=-2, initial=-np.inf)
    spread = np.where(np.isfinite(scores), spread, 0).max(axis=-1, initial=0)
    return output, spread, np.minimum(low, 0), np.maximum(high, 0)


# -- cases: (kernel name, inputs, options, reference) ---------------------------------------
def vector_case(rng: np.random.Generator, dtype_name: str) -> tuple[str, list, dict, Callable]:
    """logsumexp, sigmoid, softmax or log_softmax of hostile logits."""
    rows, n = int(rng.choice([0, 1, 3])), int(rng.choice([0, 1, 2, 5, 17]))
    x = hostile(rng, (rows, n), dtype_name)
    if x.size and rng.random() < 0.15:
        x[0, 0] = -np.inf
    name = str(rng.choice(["logsumexp", "sigmoid", "softmax", "log_softmax"]))
    axis = int(rng.choice([-1, 0]))
    if name == "sigmoid":
        return name, [x], {}, sigmoid_ref
    if name == "logsumexp":
        return name, [x], {"axis": axis}, lambda x: logsumexp_ref(x, axis)
    temperature = float(rng.choice([1.0, 1.0, 1e-30, 1e-6, 0.5, 3.0, 1e30]))
    options = {"axis": axis, "temperature": temperature}
    if name == "log_softmax":
        return name, [x], options, lambda x: log_softmax_ref(x, axis, temperature)
    return name, [x], options, lambda x: np.exp(log_softmax_ref(x, axis, temperature))


def cross_entropy_case(rng: np.random.Generator, dtype_name: str) -> tuple[str, list, dict, Any]:
    """cross_entropy of hostile logits, with labels or class probabilities."""
    n, classes = int(rng.choice([1, 3, 8])), int(rng.choice([1, 2, 5]))
    logits = hostile(rng, (n, classes), dtype_name)
    reduction = str(rng.choice(["mean", "sum", "none"]))
    if rng.random() < 0.5:
        target = rng.integers(0, classes, size=n)
    else:
        target = rng.dirichlet(np.ones(classes), size=n)
        if rng.random() < 0.5:  # one-hot: zeros against log-probabilities of -3e38
            target = np.eye(classes)[rng.integers(0, classes, size=n)]
    reference = functools.partial(cross_entropy_ref, reduction=reduction)
    return "cross_entropy", [logits, target], {"reduction": reduction}, reference


def attention_case(rng: np.random.Generator, dtype_name: str) -> tuple[str, list, dict, Any]:
    """scaled_dot_product_attention of hostile q and k with a float or boolean mask."""
    heads, lq, lk = int(rng.choice([1, 2])), int(rng.choice([1, 3, 6])), int(rng.choice([1, 4]))
    e = int(rng.choice([1, 4]))
    q, k = (hostile(rng, (heads, length, e), dtype_name) for length in (lq, lk))
    v = rng.normal(size=(heads, lk, 3))
    options: dict[str, Any] = {"is_causal": bool(rng.random() < 0.3)}
    if rng.random() < 0.4:
        options["scale"] = float(rng.choice([1e-30, 1e-3, 1.0, -1.0, 1e30]))
    kind = rng.choice(["none", "bool", "float"])
    mask = None
    if kind == "bool":
        mask = rng.random((lq, lk)) < 0.7
    elif kind == "float":
        top = largest(dtype_name)
        entries = np.array([0.0, -np.inf, -top, 0.9 * top, -0.9 * top, 1.0, -30.0])
        mask = rng.choice(entries, size=(lq, lk), p=[0.4, 0.15, 0.1, 0.1, 0.1, 0.1, 0.05])
    return "scaled_dot_product_attention", [q, k, v, mask], options, None


# -- running one case on one backend -------------------------------------------------------
def call(case: BackendCase, name: str, hosts: list, options: dict, jit: bool, generic: bool):
    """The kernel's result on ``case`` (a float64 NumPy array, or several)."""
    arrays = [
        None
        if host is None
        else case.asarray(host, dtype="case" if host.dtype.kind == "f" else None)
        for host in hosts
    ]
    if name == "scaled_dot_product_attention":
        kernel = mp.scaled_dot_product_attention
        target = kernel.generic if generic else kernel
        extra = {"xp": case.xp} if generic else {}

        def run(q, k, v, mask):
            return target(q, k, v, mask=mask, **options, **extra)

    else:
        kernel = getattr(mp, name)

        def run(*arrays):
            return kernel(*arrays, **options)

    if jit:
        import jax

        run = jax.jit(run)
    return case.to_numpy(run(*arrays))


def compare(name: str, hosts: list, options: dict, reference: Any, result: Any, dtype_name: str):
    """What is wrong with ``result`` (float64) against the reference, or None."""
    tolerance = tolerance_for(dtype_name)
    if name != "scaled_dot_product_attention":
        expected = rounded(reference(*hosts), dtype_name)
        if np.shape(result) != np.shape(expected):
            return f"shape {np.shape(result)} against {np.shape(expected)}"
        return _entries_wrong(result, expected, within_tolerance(result, expected, tolerance))
    q, k, v, mask = hosts
    expected, spread, low, high = attention_ref(
        q, k, v, mask, options.get("scale"), options["is_causal"]
    )
    if not np.all(np.isfinite(result)):
        return f"non-finite output {result.ravel()[:4]} (reference {expected.ravel()[:4]})"
    slack = 1e-2 * (np.abs(high) + np.abs(low) + 1)
    if np.any((result < low - slack) | (result > high + slack)):
        return f"output outside the values' range: {result.ravel()[:4]}"
    computed_in = "float32" if dtype_name in ("float16", "bfloat16") else dtype_name
    resolved = spread * float(ml_dtypes.finfo(computed_in).eps) * 4 <= 1e-3
    keep = np.broadcast_to(resolved[..., None], expected.shape)
    expected, result = rounded(expected, dtype_name)[keep], result[keep]
    return _entries_wrong(result, expected, within_tolerance(result, expected, tolerance))


def _entries_wrong(result: Any, expected: Any, good: Any) -> str | None:
    bad = ~np.asarray(good).reshape(-1)
    if not bad.any():
        return None
    got, want = np.ravel(result)[bad][:3], np.ravel(expected)[bad][:3]
    return f"{bad.sum()} entries wrong, e.g. {got} against {want}"


def dtype_of(dtype_name: str) -> Any:
    return ml_dtypes.bfloat16 if dtype_name == "bfloat16" else np.dtype(dtype_name)


def draw(rng: np.random.Generator, dtype_name: str) -> tuple[str, list, dict, Any]:
    """One case, its floating inputs rounded to the dtype."""
    kind = rng.choice(["vector", "cross_entropy", "attention"], p=[0.4, 0.3, 0.3])
    maker = {"vector": vector_case, "cross_entropy": cross_entropy_case}.get(kind, attention_case)
    name, hosts, options, reference = maker(rng, dtype_name)
    with np.errstate(over="ignore"):
        hosts = [
            host
            if host is None or host.dtype.kind != "f"
            else host.astype(dtype_of(dtype_name)).astype(np.float64)
            for host in hosts
        ]
    return name, hosts, options, reference


def cases_by_dtype(jit: bool) -> dict[str, list[tuple[str, BackendCase, bool]]]:
    """(label, backend case, under jax.jit) for each dtype, one device a backend."""
    found: dict[str, list] = {}
    seen = set()
    for case in backend_cases(dtypes=DTYPES):
        if case.skip_reason or (case.backend, case.dtype_name) in seen:
            continue
        seen.add((case.backend, case.dtype_name))
        found.setdefault(case.dtype_name, []).append((case.backend, case, False))
        if jit and case.backend == "jax":
            found[case.dtype_name].append(("jax-jit", case, True))
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--no-jit", action="store_true", help="leave out jax.jit (compiles)")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")  # overflow and subnormal warnings are the point
    rng = np.random.default_rng(arguments.seed)
    backends = cases_by_dtype(not arguments.no_jit)
    counts: Counter[tuple[str, str]] = Counter()
    for index in range(arguments.cases):
        dtype_name = str(rng.choice(DTYPES))
        name, hosts, options, reference = draw(rng, dtype_name)
        shapes = [None if host is None else host.shape for host in hosts]
        for label, case, jit in backends.get(dtype_name, []):
            generic = jit and name == "scaled_dot_product_attention"
            try:
                result = call(case, name, hosts, options, jit=jit, generic=generic)
                found = compare(name, hosts, options, reference, result, dtype_name)
            except Exception as error:  # an error is a finding too
                found = f"{type(error).__name__}: {str(error)[:160]}"
            if found:
                counts[(name, label)] += 1
                print(f"case {index} {name} {label} {dtype_name} {shapes} {options}: {found}")
    print(f"{sum(counts.values())} disagreements in {arguments.cases} cases")
    for (name, label), count in sorted(counts.items()):
        print(f"  {name} on {label}: {count}")


if __name__ == "__main__":
    main()
