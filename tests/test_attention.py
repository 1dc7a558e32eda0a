"""scaled_dot_product_attention: both paths on every backend/device/dtype, against a float64
NumPy reference and torch; fully masked rows, memory, errors, and the frameworks' own
(fused) attention against the kernel's generic formula."""

from __future__ import annotations

import contextlib
import inspect
import math
import tracemalloc
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpillars.backends import FRAMEWORKS, framework_of
from mlpillars.backends.frameworks import _numpy_attention
from mlpillars.kernels import attention
from mlpillars.kernels.attention import scaled_dot_product_attention
from mlpillars.testing import BackendCase, assert_close, recorded_fused_calls

KERNEL = "scaled_dot_product_attention"


def reference_attention(
    q: np.ndarray,
    k: np.ndarray,
    v: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    is_causal: bool = False,
    scale: float | None = None,
    enable_gqa: bool = False,
) -> tuple[np.ndarray, np.ndarray]:
    """softmax(Q K^T * scale + mask) V in float64; a row with no allowed key gives zeros."""
    q, k, v = (np.asarray(a, dtype=np.float64) for a in (q, k, v))
    if enable_gqa and q.ndim >= 3:
        k = np.repeat(k, q.shape[-3] // k.shape[-3], axis=-3)
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale
    allowed = np.ones(scores.shape, dtype=bool)
    if mask is not None and mask.dtype == bool:
        allowed &= mask
    elif mask is not None:
        scores = scores + mask
        allowed &= mask != -np.inf
    if is_causal:
        allowed &= np.tril(np.ones(scores.shape[-2:], dtype=bool))
    weights = np.zeros(scores.shape)
    rows = allowed.any(axis=-1)
    for index in zip(*np.nonzero(rows), strict=True):
        row_scores = scores[index][allowed[index]]
        exp_scores = np.exp(row_scores - row_scores.max())
        weights[index][allowed[index]] = exp_scores / exp_scores.sum()
    return weights @ v, weights


def _normal(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.normal(size=shape)


def _bool_mask(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return rng.random(shape) > 0.3


def _float_mask(rng: np.random.Generator, *shape: int) -> np.ndarray:
    return np.where(rng.random(shape) > 0.25, rng.normal(size=shape), -np.inf)


# name -> rng -> (q, k, v, mask, keyword arguments)
CASES: dict[str, Callable[[np.random.Generator], tuple[Any, ...]]] = {
    "tutorial-2d": lambda r: (_normal(r, 5, 8), _normal(r, 5, 8), _normal(r, 5, 8), None, {}),
    "cross-lengths": lambda r: (
        _normal(r, 2, 3, 5, 4),
        _normal(r, 2, 3, 7, 4),
        _normal(r, 2, 3, 7, 6),
        None,
        {"scale": 0.3},
    ),
    "bool-mask": lambda r: (
        _normal(r, 2, 2, 6, 4),
        _normal(r, 2, 2, 6, 4),
        _normal(r, 2, 2, 6, 4),
        _bool_mask(r, 2, 1, 6, 6),
        {},
    ),
    "float-mask-causal": lambda r: (
        _normal(r, 1, 2, 6, 4),
        _normal(r, 1, 2, 6, 4),
        _normal(r, 1, 2, 6, 4),
        _float_mask(r, 6, 6),
        {"is_causal": True},
    ),
    "causal-lq-gt-lk": lambda r: (
        _normal(r, 2, 7, 4),
        _normal(r, 2, 4, 4),
        _normal(r, 2, 4, 4),
        None,
        {"is_causal": True},
    ),
    "causal-lq-lt-lk-key-padding": lambda r: (
        _normal(r, 2, 4, 4),
        _normal(r, 2, 7, 4),
        _normal(r, 2, 7, 4),
        np.array([True, True, False, True, True, True, False]),
        {"is_causal": True},
    ),
    "gqa-mask-causal": lambda r: (
        _normal(r, 2, 6, 5, 4),
        _normal(r, 2, 2, 5, 4),
        _normal(r, 2, 2, 5, 4),
        _bool_mask(r, 6, 5, 5),
        {"is_causal": True, "enable_gqa": True},
    ),
}


def _on_backend(xp: BackendCase, q, k, v, mask):
    """The inputs on the case's backend, with the floating ones in its dtype."""
    arrays = [xp.asarray(a) for a in (q, k, v)]
    if mask is not None:
        arrays.append(xp.asarray(mask, dtype=None if mask.dtype == bool else "case"))
    else:
        arrays.append(None)
    return arrays


def _reference_of(xp: BackendCase, q, k, v, mask, **options):
    """The float64 reference of the values the backend actually holds."""
    host_mask = None
    if mask is not None:
        host_mask = np.asarray(xp.framework.to_host(mask))
        host_mask = host_mask if host_mask.dtype == bool else host_mask.astype(np.float64)
    return reference_attention(
        xp.to_numpy(q), xp.to_numpy(k), xp.to_numpy(v), mask=host_mask, **options
    )


# Every case on the plain path; the blocked path (tiles of 3 that do not divide 5, 6 or 7)
# on those with masks, causal attention, Lq != Lk and grouped heads.
PATH_CASES = [(name, None) for name in CASES] + [
    (name, 3) for name in ("float-mask-causal", "causal-lq-gt-lk", "gqa-mask-causal")
]


@pytest.mark.parametrize(("case_name", "block_size"), PATH_CASES)
def test_matches_numpy_reference(xp: BackendCase, rng, case_name, block_size):
    q, k, v, mask, options = CASES[case_name](rng)
    q, k, v, mask = _on_backend(xp, q, k, v, mask)
    expected, _ = _reference_of(xp, q, k, v, mask, **options)
    result = scaled_dot_product_attention(q, k, v, mask=mask, block_size=block_size, **options)
    assert_close(result, expected, like=q)


@pytest.mark.parametrize("case_name", ["bool-mask", "float-mask-causal", "gqa-mask-causal"])
def test_weights_match_reference_and_give_the_output(xp: BackendCase, rng, case_name):
    q, k, v, mask, options = CASES[case_name](rng)
    q, k, v, mask = _on_backend(xp, q, k, v, mask)
    expected_output, expected_weights = _reference_of(xp, q, k, v, mask, **options)
    output, weights = scaled_dot_product_attention(
        q, k, v, mask=mask, return_weights=True, **options
    )
    assert_close(weights, expected_weights, like=q)
    assert_close(output, expected_output, like=q)
    host_weights = xp.to_numpy(weights)
    row_sums = host_weights.sum(axis=-1)
    has_key = expected_weights.sum(axis=-1) > 0
    np.testing.assert_allclose(row_sums[has_key], 1.0, rtol=xp.tolerance.rtol)
    assert np.all(row_sums[~has_key] == 0)


def test_tutorial_four_token_example(xp: BackendCase):
    # The tutorial's own stream: np.random.seed(42), then three randn(4, 8) draws.
    legacy = np.random.RandomState(42)
    q_host, k_host, v_host = (legacy.randn(4, 8) for _ in range(3))
    q, k, v = (xp.asarray(a) for a in (q_host, k_host, v_host))
    scores = xp.to_numpy(q) @ xp.to_numpy(k).T / math.sqrt(8)
    expected_weights = np.exp(scores) / np.exp(scores).sum(axis=1, keepdims=True)
    output, weights = scaled_dot_product_attention(q, k, v, return_weights=True)
    assert_close(weights, expected_weights, like=q)
    assert_close(output, expected_weights @ xp.to_numpy(v), like=q)
    np.testing.assert_allclose(xp.to_numpy(weights).sum(axis=1), 1.0, rtol=xp.tolerance.rtol)
    assert_close(output, xp.to_numpy(weights) @ xp.to_numpy(v), like=q)


def _fully_masked_inputs(rng: np.random.Generator):
    """Masks that leave some query rows without a key, alone or together with is_causal."""
    q, k, v = (_normal(rng, 2, 5, 4) for _ in range(3))
    bool_mask = _bool_mask(rng, 2, 5, 5)
    bool_mask[0, 1] = False  # head 0, query 1: no key
    float_mask = np.zeros((5, 5))
    float_mask[3] = -np.inf  # query 3 of every head: no key
    key_padding = np.array([False, True, True, True, True])  # with is_causal, query 0: none
    return (q, k, v), [(bool_mask, False), (float_mask, True), (key_padding, True)]


@pytest.mark.parametrize("block_size", [None, 3])
def test_fully_masked_rows_give_zeros_not_nan(xp: BackendCase, rng, block_size):
    (q_host, k_host, v_host), masks = _fully_masked_inputs(rng)
    for mask_host, is_causal in masks:
        q, k, v, mask = _on_backend(xp, q_host, k_host, v_host, mask_host)
        expected, expected_weights = _reference_of(xp, q, k, v, mask, is_causal=is_causal)
        assert np.any(expected_weights.sum(axis=-1) == 0), "the case must have an empty row"
        if block_size is None:
            result, weights = scaled_dot_product_attention(
                q, k, v, mask=mask, is_causal=is_causal, return_weights=True
            )
            assert_close(weights, expected_weights, like=q)
        else:
            result = scaled_dot_product_attention(
                q, k, v, mask=mask, is_causal=is_causal, block_size=block_size
            )
        assert not np.any(np.isnan(xp.to_numpy(result)))
        assert_close(result, expected, like=q)


@pytest.mark.parametrize("block_size", [None, 2])
@pytest.mark.parametrize(
    "case_name",
    ["cross-lengths", "bool-mask", "float-mask-causal", "causal-lq-gt-lk", "gqa-mask-causal"],
)
def test_matches_torch(rng, case_name, block_size):
    torch = pytest.importorskip("torch")
    q, k, v, mask, options = CASES[case_name](rng)
    torch_mask = None
    if mask is not None and options.get("is_causal"):
        # torch refuses a mask together with is_causal: fold the triangle into the mask.
        causal = np.tril(np.ones((q.shape[-2], k.shape[-2]), dtype=bool))
        torch_mask = mask & causal if mask.dtype == bool else np.where(causal, mask, -np.inf)
    elif mask is not None:
        torch_mask = mask
    torch_options = dict(options)
    if torch_mask is not None:
        torch_options["is_causal"] = False
    expected = torch.nn.functional.scaled_dot_product_attention(
        *(torch.from_numpy(a) for a in (q, k, v)),
        attn_mask=None if torch_mask is None else torch.from_numpy(torch_mask),
        **torch_options,
    )
    result = scaled_dot_product_attention(q, k, v, mask=mask, block_size=block_size, **options)
    has_nan = torch.isnan(expected).numpy()  # torch's math kernel: NaN in an empty row
    assert_close(result, np.where(has_nan, 0.0, expected.numpy()), like=q)


# -- properties -------------------------------------------------------------------------


@st.composite
def attention_problems(draw):
    has_heads = draw(st.booleans())
    kv_heads = draw(st.integers(1, 2)) if has_heads else 1
    group_size = draw(st.integers(1, 3)) if has_heads else 1
    batch = tuple(draw(st.lists(st.integers(1, 2), max_size=2))) if has_heads else ()
    query_length, key_length = draw(st.integers(1, 9)), draw(st.integers(1, 9))
    head_dim, value_dim = draw(st.integers(1, 5)), draw(st.integers(1, 4))
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    heads_q = (kv_heads * group_size,) if has_heads else ()
    heads_kv = (kv_heads,) if has_heads else ()
    q = rng.normal(size=(*batch, *heads_q, query_length, head_dim))
    k = rng.normal(size=(*batch, *heads_kv, key_length, head_dim))
    v = rng.normal(size=(*batch, *heads_kv, key_length, value_dim))
    mask_kind = draw(st.sampled_from(["none", "bool", "float", "key-padding"]))
    weights_shape = (*batch, *heads_q, query_length, key_length)
    mask = {
        "none": None,
        "bool": rng.random(weights_shape) > 0.4,
        "float": np.where(rng.random(weights_shape) > 0.3, rng.normal(size=weights_shape), -np.inf),
        "key-padding": rng.random(key_length) > 0.3,
    }[mask_kind]
    options = {"is_causal": draw(st.booleans()), "enable_gqa": group_size > 1}
    return q, k, v, mask, options, draw(st.integers(1, 10))


@settings(max_examples=40, deadline=None)
@given(attention_problems())
def test_blocked_path_equals_plain_path(problem):
    q, k, v, mask, options, block_size = problem
    plain = scaled_dot_product_attention(q, k, v, mask=mask, **options)
    blocked = scaled_dot_product_attention(q, k, v, mask=mask, block_size=block_size, **options)
    np.testing.assert_allclose(blocked, plain, rtol=1e-12, atol=1e-12)
    expected, _ = reference_attention(q, k, v, mask=mask, **options)
    np.testing.assert_allclose(plain, expected, rtol=1e-12, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(attention_problems())
def test_weight_rows_sum_to_one_or_zero_and_give_the_output(problem):
    q, k, v, mask, options, _ = problem
    output, weights = scaled_dot_product_attention(
        q, k, v, mask=mask, return_weights=True, **options
    )
    row_sums = weights.sum(axis=-1)
    assert np.all(weights >= 0)
    assert np.all(np.isclose(row_sums, 1.0, rtol=1e-12) | (row_sums == 0))
    if options["enable_gqa"]:
        v = np.repeat(v, q.shape[-3] // v.shape[-3], axis=-3)
    np.testing.assert_allclose(output, weights @ v, rtol=1e-12, atol=1e-12)


# -- memory and the choice of path ------------------------------------------------------


def test_blocked_path_memory_stays_far_below_the_score_matrix():
    length, head_dim = 8192, 64
    rng = np.random.default_rng(5)
    q, k, v = (rng.standard_normal((length, head_dim), dtype=np.float32) for _ in range(3))
    score_matrix_bytes = length * length * 4  # 256 MiB
    assert length * length > attention.BLOCKED_ABOVE_ELEMENTS  # the automatic choice: blocked
    tracemalloc.start()
    try:
        output = scaled_dot_product_attention(q, k, v)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < score_matrix_bytes / 8, f"peak {peak / 2**20:.1f} MiB"
    rows = np.array([0, 4097, length - 1])
    expected, _ = reference_attention(q[rows], k, v)
    assert_close(output[rows], expected, like=q)


def _spy_on_blocked_path(monkeypatch) -> list[int]:
    block_sizes: list[int] = []
    blocked = attention.blocked_attention

    def spy(q, k, v, mask, is_causal, block_size, multiplier=None, *, xp):
        block_sizes.append(block_size)
        return blocked(q, k, v, mask, is_causal, block_size, multiplier, xp=xp)

    monkeypatch.setattr(attention, "blocked_attention", spy)
    return block_sizes


def test_automatic_choice_of_path(monkeypatch, rng):
    q, k, v = (_normal(rng, 2, 3, 20, 4) for _ in range(3))
    expected, expected_weights = reference_attention(q, k, v, is_causal=True)
    block_sizes = _spy_on_blocked_path(monkeypatch)
    assert_close(scaled_dot_product_attention(q, k, v, is_causal=True), expected)
    assert block_sizes == []  # 2 x 3 x 20 x 20 scores: below the threshold, plain
    monkeypatch.setattr(attention, "BLOCKED_ABOVE_ELEMENTS", 100)
    monkeypatch.setattr(attention, "TILE_ELEMENTS", 6 * 16 * 16)
    assert_close(scaled_dot_product_attention(q, k, v, is_causal=True), expected)
    assert block_sizes == [16]  # tiles of 6 heads x 16 queries x 16 keys
    output, weights = scaled_dot_product_attention(q, k, v, is_causal=True, return_weights=True)
    assert len(block_sizes) == 1, "return_weights must force the plain path"
    assert_close(weights, expected_weights)
    assert_close(output, expected)


# -- errors -----------------------------------------------------------------------------


def _ones(*shape: int) -> np.ndarray:
    return np.ones(shape)


@pytest.mark.parametrize(
    ("arguments", "options", "message"),
    [
        (
            (_ones(2, 8, 128, 64), _ones(2, 8, 128, 32), _ones(2, 8, 128, 32)),
            {},
            r"scaled_dot_product_attention: q has E=64 but k has E=32 "
            r"\(q: \(2, 8, 128, 64\), k: \(2, 8, 128, 32\)\)",
        ),
        (
            (_ones(2, 5, 4), _ones(2, 6, 4), _ones(2, 5, 4)),
            {},
            r"k and v must have the same shape but for the last axis.*k: \(2, 6, 4\), v: \(2, 5",
        ),
        ((_ones(4), _ones(4, 4), _ones(4, 4)), {}, r"q must have at least 2 axes.*q: \(4,\)"),
        (
            (_ones(2, 5, 4), _ones(5, 4), _ones(5, 4)),
            {},
            r"q, k and v must have the same number of axes",
        ),
        (
            (_ones(8, 5, 4), _ones(2, 5, 4), _ones(2, 5, 4)),
            {},
            r"q has Hq=8 heads but k has Hk=2 .*enable_gqa=True to share each key/value head "
            r"among 4 consecutive query heads",
        ),
        (
            (_ones(6, 5, 4), _ones(4, 5, 4), _ones(4, 5, 4)),
            {"enable_gqa": True},
            r"with enable_gqa, Hq must be a multiple of Hk; got Hq=6, Hk=4",
        ),
        (
            (_ones(2, 1, 5, 4), _ones(3, 1, 5, 4), _ones(3, 1, 5, 4)),
            {},
            r"batch axes of q and k do not broadcast",
        ),
        (
            (_ones(2, 5, 4), _ones(2, 6, 4), _ones(2, 6, 4)),
            {"mask": np.ones((5, 5), dtype=bool)},
            r"mask of shape \(5, 5\) does not broadcast .*\(\.\.\., Hq, Lq, Lk\) = \(2, 5, 6\)",
        ),
        (
            (_ones(5, 4), _ones(5, 4), _ones(5, 4)),
            {"mask": np.ones((2, 5, 5), dtype=bool)},
            r"mask of shape \(2, 5, 5\) does not broadcast .*\(Lq, Lk\) = \(5, 5\)",
        ),
        (
            (_ones(5, 4), _ones(5, 4), _ones(5, 4)),
            {"block_size": 4, "return_weights": True},
            r"return_weights=True needs the plain path.*block_size=4",
        ),
        ((_ones(5, 4), _ones(5, 4), _ones(5, 4)), {"scale": math.nan}, r"scale must be finite"),
    ]
    + [
        (
            (_ones(5, 4), _ones(5, 4), _ones(5, 4)),
            {"block_size": bad},
            r"block_size must be a positive int .* or None",
        )
        for bad in (0, -3, 2.5, True)
    ],
)
def test_errors_name_the_argument_and_shapes(arguments, options, message):
    with pytest.raises(ValueError, match=message):
        scaled_dot_product_attention(*arguments, **options)


def test_type_errors():
    q = _ones(5, 4)
    with pytest.raises(TypeError, match=r"mask must be boolean .* or floating.*int64"):
        scaled_dot_product_attention(q, q, q, mask=np.ones((5, 5), dtype=np.int64))
    with pytest.raises(TypeError, match=r"scale must be a number or None, got str"):
        scaled_dot_product_attention(q, q, q, scale="0.5")


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_errors_come_before_the_framework_attention(backend):
    pytest.importorskip(backend)
    with _recorded_answers(backend) as answers, pytest.raises(ValueError, match=r"q has E=64"):
        scaled_dot_product_attention(
            _ones(2, 3, 64), _ones(2, 3, 32), _ones(2, 3, 32), backend=backend
        )
    assert answers == []


@pytest.mark.parametrize(
    "shape",
    # (0, 8, 17, 64): Dask's zeros of it divide by zero choosing chunks (raised on Dask)
    [(0, 4, 8), (0, 2, 4, 8), (2, 0, 4, 8), (3, 0, 8), (0, 8, 17, 64)],
)
def test_zero_batch_or_heads_give_empty_results_like_torch(xp: BackendCase, shape):
    q = xp.asarray(np.ones(shape))
    output, weights = scaled_dot_product_attention(q, q, q, return_weights=True)
    assert tuple(output.shape) == shape
    assert tuple(weights.shape) == (*shape[:-1], shape[-2])
    assert tuple(scaled_dot_product_attention(q, q, q, is_causal=True).shape) == shape


def test_features_of_length_zero_give_uniform_weights_or_empty_values(xp: BackendCase, rng):
    """E = 0: every score is 0, so each query averages the values; Ev = 0: an empty
    output. NumPy's own attention (and Dask's, on NumPy chunks) raised "cannot reshape
    array of size 0 into shape (4,0)": a reshape by -1."""
    values = rng.normal(size=(2, 4, 5))
    no_features = xp.asarray(np.zeros((2, 3, 0)))
    output = scaled_dot_product_attention(
        no_features, xp.asarray(np.zeros((2, 4, 0))), xp.asarray(values)
    )
    expected = np.broadcast_to(values.mean(axis=-2, keepdims=True), (2, 3, 5))
    assert_close(output, expected, like=no_features)
    q = xp.asarray(rng.normal(size=(2, 3, 4)))
    empty = scaled_dot_product_attention(q, q, xp.asarray(np.zeros((2, 3, 0))))
    assert tuple(empty.shape) == (2, 3, 0)


def test_public_signature_hides_the_injected_parameters():
    parameters = inspect.signature(scaled_dot_product_attention).parameters
    assert "xp" not in parameters and "fused" not in parameters
    assert "fused" in inspect.signature(scaled_dot_product_attention.generic).parameters
    with pytest.raises(TypeError, match="fused"):
        scaled_dot_product_attention(_ones(5, 4), _ones(5, 4), _ones(5, 4), fused=None)


# -- the frameworks' own attention ----------------------------------------------------------

FUSED_CASES = [
    "tutorial-2d",
    "bool-mask",
    "float-mask-causal",
    "causal-lq-gt-lk",
    "causal-lq-lt-lk-key-padding",
    "gqa-mask-causal",
]
"""Cases every framework's attention takes: masks, causal, Lq != Lk, grouped heads."""


@contextlib.contextmanager
def _recorded_answers(backend: str) -> Iterator[list[Any]]:
    """What the framework's attention answered (an array, or NotImplemented) each time the
    kernel offered it arguments while the block ran (none when the kernel never offered):
    filled when the block ends."""
    answers: list[Any] = []
    with recorded_fused_calls(backend, KERNEL) as calls:
        yield answers
    answers.extend(call.answer for call in calls)


def _backend_case(backend: str, dtype_name: str) -> BackendCase:
    pytest.importorskip(backend)
    return BackendCase(backend, "cpu", dtype_name)


def _answers_and_check(case: BackendCase, q, k, v, mask=None, **options) -> list[Any]:
    """Run the public kernel on the case's backend; check its result against the generic
    formula alone (no ``fused``); return what the framework's attention answered."""
    q, k, v, mask = _on_backend(case, q, k, v, mask)
    with _recorded_answers(case.backend) as answers:
        result = scaled_dot_product_attention(q, k, v, mask=mask, **options)
    generic = scaled_dot_product_attention.generic(q, k, v, mask=mask, xp=case.xp, **options)
    outputs = (result, generic) if not options.get("return_weights") else (result[0], generic[0])
    assert framework_of(outputs[0]) is case.framework
    assert not np.any(np.isnan(case.to_numpy(outputs[0])))
    assert_close(outputs[0], case.to_numpy(outputs[1]), like=q)
    return answers


def _assert_fused_matches_generic(case: BackendCase, q, k, v, mask, options) -> None:
    answers = _answers_and_check(case, q, k, v, mask, **options)
    assert len(answers) == 1, "the kernel must offer the framework's attention once"
    assert answers[0] is not NotImplemented, "the framework's attention must take this case"


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("case_name", [*FUSED_CASES, "cross-lengths"])
@pytest.mark.parametrize("backend", ["torch", "numpy"])
def test_torch_and_numpy_attention_match_generic(rng, backend, case_name, dtype_name):
    case = _backend_case(backend, dtype_name)
    _assert_fused_matches_generic(case, *CASES[case_name](rng))


@pytest.mark.parametrize("case_name", FUSED_CASES)
def test_jax_attention_matches_generic(rng, case_name):
    case = _backend_case("jax", "float32")
    _assert_fused_matches_generic(case, *CASES[case_name](rng))


@settings(max_examples=30, deadline=None)
@given(attention_problems())
def test_torch_attention_matches_generic_on_random_problems(problem):
    q, k, v, mask, options, _ = problem
    case = _backend_case("torch", "float64")
    _assert_fused_matches_generic(case, q, k, v, mask, options)


@settings(max_examples=30, deadline=None)
@given(attention_problems())
def test_numpy_attention_matches_generic_on_random_problems(problem):
    q, k, v, mask, options, _ = problem
    _assert_fused_matches_generic(_backend_case("numpy", "float64"), q, k, v, mask, options)


def test_numpy_attention_in_several_buffers_and_declining_half_precision(monkeypatch, rng):
    q, k, v, mask, options = CASES["gqa-mask-causal"](rng)
    scores_per_slice = q.shape[-2] * k.shape[-2]
    for buffer in (1, 2 * scores_per_slice):  # one query row a tile; two (Lq, Lk) slices
        monkeypatch.setattr(_numpy_attention, "BUFFER_ELEMENTS", buffer)
        _assert_fused_matches_generic(_backend_case("numpy", "float64"), q, k, v, mask, options)
    half = _backend_case("numpy", "float16")
    assert _answers_and_check(half, q, k, v, mask, **options) == [NotImplemented]


@settings(max_examples=8, deadline=None)  # few: each new shape costs JAX a compilation
@given(attention_problems())
def test_jax_attention_matches_generic_or_declines_other_value_widths(problem):
    q, k, v, mask, options, _ = problem
    answers = _answers_and_check(_backend_case("jax", "float32"), q, k, v, mask, **options)
    assert len(answers) == 1
    assert (answers[0] is NotImplemented) == (v.shape[-1] != q.shape[-1])


@pytest.mark.parametrize("backend", ["torch", "jax", "numpy"])
def test_framework_attention_rows_without_keys_are_zeroed(rng, backend):
    case = _backend_case(backend, "float32")
    (q, k, v), masks = _fully_masked_inputs(rng)
    for mask, is_causal in masks:
        _assert_fused_matches_generic(case, q, k, v, mask, {"is_causal": is_causal})


@pytest.mark.parametrize("backend", ["torch", "jax", "numpy"])
def test_kernel_offers_the_framework_attention_only_the_output_on_the_automatic_path(
    monkeypatch, rng, backend
):
    case = _backend_case(backend, "float32")
    q, k, v = (_normal(rng, 2, 5, 4) for _ in range(3))
    assert len(_answers_and_check(case, q, k, v)) == 1
    assert _answers_and_check(case, q, k, v, return_weights=True) == []
    assert _answers_and_check(case, q, k, v, block_size=2) == []
    assert _answers_and_check(case, q, k, v, is_causal=True, block_size=2) == []
    broadcast_batch = (_normal(rng, 2, 2, 5, 4), _normal(rng, 1, 2, 5, 4), k[None])
    assert _answers_and_check(case, *broadcast_batch) == []
    assert _answers_and_check(case, q[:, :0], k, v) == []  # no queries: zeros, no call
    monkeypatch.setattr(attention, "BLOCKED_ABOVE_ELEMENTS", 10)  # 2 x 5 x 5 scores exceed it
    assert _answers_and_check(case, q, k, v, mask=np.ones((5, 5), dtype=bool)) == []


def test_jax_attention_declines_float64_other_value_widths_and_large_scores(monkeypatch, rng):
    q, k, v = (_normal(rng, 2, 5, 4) for _ in range(3))
    assert _answers_and_check(_backend_case("jax", "float64"), q, k, v) == [NotImplemented]
    float32 = _backend_case("jax", "float32")
    assert _answers_and_check(float32, q, k, _normal(rng, 2, 5, 3)) == [NotImplemented]
    monkeypatch.setattr(attention, "BLOCKED_ABOVE_ELEMENTS", 10)
    assert _answers_and_check(float32, q, k, v, is_causal=True) == [NotImplemented]


@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16"])
def test_jax_half_precision_attention_under_jit_on_a_cpu(rng, dtype_name):
    # float16 reached jax.nn.dot_product_attention, whose CPU dot_general refuses
    # F16_F16_F32 under jax.jit: the call raised ValueError
    jax = pytest.importorskip("jax")
    case = _backend_case("jax", dtype_name)
    q, k, v = (case.asarray(_normal(rng, 2, 4, 5, 8)) for _ in range(3))
    jitted = jax.jit(lambda *arrays: scaled_dot_product_attention(*arrays))
    host = [case.to_numpy(array).astype(np.float64) for array in (q, k, v)]
    assert_close(jitted(q, k, v), scaled_dot_product_attention(*host), like=q)


def test_torch_attention_takes_large_scores_on_cpu_even_in_float64(monkeypatch, rng):
    q, k, v = (_normal(rng, 2, 5, 4) for _ in range(3))
    monkeypatch.setattr(attention, "BLOCKED_ABOVE_ELEMENTS", 10)
    answers = _answers_and_check(_backend_case("torch", "float64"), q, k, v, is_causal=True)
    assert len(answers) == 1 and answers[0] is not NotImplemented


@pytest.mark.parametrize("scale", [-0.5, 0.0])
def test_torch_attention_declines_causal_with_a_scale_not_above_zero(rng, scale):
    # torch 2.13's kernel gives NaN in most rows here; the generic formula is right.
    q, k, v = (_normal(rng, 1, 2, 6, 8) for _ in range(3))
    answers = _answers_and_check(
        _backend_case("torch", "float64"), q, k, v, is_causal=True, scale=scale
    )
    assert answers == [NotImplemented]
    torch = pytest.importorskip("torch")
    result = scaled_dot_product_attention(
        *(torch.from_numpy(a) for a in (q, k, v)), is_causal=True, scale=scale
    )
    assert_close(result, reference_attention(q, k, v, is_causal=True, scale=scale)[0])


def test_torch_attention_declines_float64_on_cuda_above_the_limit(monkeypatch, rng):
    torch = pytest.importorskip("torch")
    if not torch.cuda.is_available():
        pytest.skip("torch:cuda was asked for but no GPU was found")
    q, k, v = (_normal(rng, 2, 5, 4) for _ in range(3))
    float64 = BackendCase("torch", "cuda", "float64")
    assert len(_answers_and_check(float64, q, k, v)) == 1
    monkeypatch.setattr(attention, "BLOCKED_ABOVE_ELEMENTS", 10)
    assert _answers_and_check(float64, q, k, v) == [NotImplemented]
    assert _answers_and_check(BackendCase("torch", "cuda", "float32"), q, k, v) != [NotImplemented]


@pytest.mark.parametrize("case_name", FUSED_CASES)
def test_dask_attention_matches_generic(rng, case_name):
    _assert_fused_matches_generic(_backend_case("dask", "float64"), *CASES[case_name](rng))


@pytest.mark.parametrize(
    "options", [{}, {"is_causal": True}, {"mask": "bool"}, {"mask": "float", "is_causal": True}]
)
@pytest.mark.parametrize("enable_gqa", [False, True])
def test_dask_attention_is_one_task_per_block_of_batch_and_heads(rng, options, enable_gqa):
    da = pytest.importorskip("dask.array")
    kv_heads = 2 if enable_gqa else 4
    q, k, v = (
        _normal(rng, 3, 4, 10, 8),
        _normal(rng, 3, kv_heads, 12, 8),
        _normal(rng, 3, kv_heads, 12, 5),
    )
    mask = {"bool": _bool_mask(rng, 4, 10, 12), "float": _float_mask(rng, 1, 10, 12)}.get(
        options.get("mask")
    )
    is_causal = options.get("is_causal", False)
    group = 4 // kv_heads
    expected, _ = reference_attention(
        q, np.repeat(k, group, axis=1), np.repeat(v, group, axis=1), mask=mask, is_causal=is_causal
    )
    chunked = (
        da.from_array(q, chunks=(1, 2, 5, 8)),
        da.from_array(k, chunks=(1, 1, 6, 8)),
        da.from_array(v, chunks=(1, 1, 12, 5)),
    )
    with _recorded_answers("dask") as answers:
        result = scaled_dot_product_attention(
            *chunked,
            mask=None if mask is None else da.from_array(mask, chunks=(2, 5, 12)[-mask.ndim :]),
            is_causal=is_causal,
            enable_gqa=enable_gqa,
        )
    assert len(answers) == 1 and answers[0] is not NotImplemented
    # batch kept in 3 chunks; heads in 2 (one across the heads with grouped heads)
    attention_tasks = [
        len(layer) for name, layer in result.dask.layers.items() if "attend_in_memory" in name
    ]
    assert attention_tasks == [3 * (1 if enable_gqa else 2)]
    assert_close(result, expected)


def test_frameworks_without_their_own_attention_run_the_formula():
    for name in ("cupy", "array_api_strict"):
        assert FRAMEWORKS[name].fused(KERNEL) is None
