"""Property-based tests (hypothesis): every kernel on every CPU backend, with random shapes
(empty and length-1 axes included), dtypes (float64, float32, float16 where the backend
has it, integers), magnitudes from 1e-30 to 1e30, offsets far from zero, and masks.

Each generated call either returns a result within the tolerance table of a float64
NumPy/SciPy reference (``property_references``), with no NaN from finite input, or raises
a ``TypeError``/``ValueError`` whose message starts with the kernel's name and names an
argument; only the calls listed as invalid may raise. Values come from a seeded normal
generator (hypothesis draws the seed, shapes, dtypes, scales and options), so that a
case is a realistic input, not a hand-built cancellation. ``--hypothesis-show-statistics``
prints how many cases ran per test. JAX compiles per shape, so each test draws a modest
number of cases (``EXAMPLES``).
"""

from __future__ import annotations

import numpy as np
import property_references as reference
import pytest
from hypothesis import event
from hypothesis import strategies as st
from property_support import (
    check,
    f64,
    float_dtypes,
    floating,
    host_values,
    on_backend,
    outcome,
    per_backend,
    shapes,
)

import mlpillars as mp

# Results beyond float16's range become inf, as they must (the references say so).
pytestmark = pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")

# -- probability ---------------------------------------------------------------------------


def check_softmax_family(backend: str, data: st.DataObject) -> None:
    kind = data.draw(st.sampled_from(["softmax", "log_softmax", "logsumexp"]))
    dtype = data.draw(st.sampled_from([*float_dtypes(backend), "int64"]))
    host = data.draw(host_values(data.draw(shapes()), dtype))
    axes = data.draw(st.sampled_from(["one", "one", "all", "several"]))
    if axes == "one":
        axis = data.draw(st.integers(-max(host.ndim, 1), max(host.ndim, 1) - 1))
    else:  # None, or distinct axes in any order (() included)
        order = data.draw(st.permutations(range(host.ndim)))
        axis = None if axes == "all" else tuple(order[: data.draw(st.integers(0, host.ndim))])
    temperature = data.draw(st.sampled_from([1.0, 0.5, 3.0, 1e-3, 1e-6]))
    keepdims = data.draw(st.booleans())
    event(f"{kind}, {dtype}, {'empty' if host.size == 0 else f'{host.ndim}-d'}")
    event(f"axis: {axes}")
    x = on_backend(data, host, backend)
    options = {"keepdims": keepdims} if kind == "logsumexp" else {"temperature": temperature}
    result = outcome(kind, ("x", "axis"), lambda: getattr(mp, kind)(x, axis, **options))
    expected = reference.softmax_family(
        kind, host.astype(np.float64), axis, options.get("temperature", 1.0), keepdims
    )
    check(result, expected, backend, like=x if floating(host) else None)


def check_sigmoid(backend: str, data: st.DataObject) -> None:
    dtype = data.draw(st.sampled_from([*float_dtypes(backend), "int32"]))
    host = data.draw(host_values(data.draw(shapes()), dtype))
    x = on_backend(data, host, backend)
    result = outcome("sigmoid", ("x",), lambda: mp.sigmoid(x))
    expected = reference.ACTIVATIONS["sigmoid"](host.astype(np.float64))
    check(result, expected, backend, like=x if floating(host) else None)


def check_cross_entropy(backend: str, data: st.DataObject) -> None:
    dtype = data.draw(st.sampled_from(float_dtypes(backend)))
    n_samples, n_classes = data.draw(st.integers(0, 5)), data.draw(st.integers(1, 5))
    host = data.draw(host_values((n_samples, n_classes), dtype))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    if data.draw(st.booleans()):
        target_host = rng.integers(0, n_classes, size=n_samples)
    else:
        target_host = reference.softmax_family("softmax", rng.normal(size=host.shape), -1, 1, 0)
        target_host = target_host.astype(dtype)
    reduction = data.draw(st.sampled_from(["mean", "sum", "none"]))
    event(f"{reduction}, {'labels' if target_host.dtype.kind == 'i' else 'probabilities'}")
    logits, target = on_backend(data, host, backend), on_backend(data, target_host, backend)
    result = outcome(
        "cross_entropy",
        ("logits", "target", "reduction"),
        lambda: mp.cross_entropy(logits, target, reduction=reduction),
    )
    invalid = n_samples == 0 and reduction == "mean"
    expected = None if invalid else reference.cross_entropy(f64(host), target_host, reduction)
    check(result, expected, backend, like=logits, error="mean over zero samples" * invalid)


def check_attention(backend: str, data: st.DataObject) -> None:
    dtype = data.draw(st.sampled_from(float_dtypes(backend)))
    lead = data.draw(st.sampled_from([(), (1, 1), (2, 3)]))
    query_length, key_length = data.draw(st.integers(0, 4)), data.draw(st.integers(0, 4))
    depth, value_depth = data.draw(st.integers(1, 4)), data.draw(st.integers(1, 4))
    small = {"exponents": (-1, 0), "offset": False}  # scores of order 1: a well-posed softmax
    q = data.draw(host_values((*lead, query_length, depth), dtype, **small))
    k = data.draw(host_values((*lead, key_length, depth), dtype, **small))
    v = data.draw(host_values((*lead, key_length, value_depth), dtype))
    mask_kind = data.draw(st.sampled_from(["none", "bool", "additive"]))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    mask = None
    if mask_kind == "bool":
        mask = rng.random((query_length, key_length)) > 0.3
    elif mask_kind == "additive":
        mask = rng.normal(size=(query_length, key_length)).astype(dtype)
        mask[rng.random(mask.shape) < 0.3] = -np.inf
    is_causal = data.draw(st.booleans())
    scale = data.draw(st.sampled_from([None, 0.5, 2.0, -1.0]))
    event(f"{dtype}, mask {mask_kind}, causal {is_causal}, Lk {key_length}")
    inputs = [on_backend(data, array, backend) for array in (q, k, v)]
    mask_input = None if mask is None else on_backend(data, mask, backend)
    result = outcome(
        "scaled_dot_product_attention",
        ("q", "k", "v", "mask", "scale"),
        lambda: mp.scaled_dot_product_attention(
            *inputs, mask=mask_input, is_causal=is_causal, scale=scale
        ),
    )
    as_float = [None if a is None else a.astype(np.float64) for a in (q, k, v)]
    mask64 = None if mask is None or mask.dtype == bool else mask.astype(np.float64)
    expected = reference.attention(*as_float, mask if mask64 is None else mask64, is_causal, scale)
    check(result, expected, backend, like=inputs[0])


for _check in (check_softmax_family, check_sigmoid, check_cross_entropy, check_attention):
    per_backend(globals(), _check)
