"""Attention whose scores exceed the dtype's range (q, k of magnitude 1e20 in float32),
against a reference computed in extended precision (``np.longdouble``, range ~1e4932)."""

from __future__ import annotations

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS, values_known
from mlpillars.kernels._attention_range import may_overflow
from mlpillars.kernels.attention import scaled_dot_product_attention
from mlpillars.testing import BackendCase, assert_close

MAGNITUDE = {"float32": 1e20, "float64": 1e160}
"""q and k entries of this size make scores of about 1e40 (float32) or 1e320 (float64)."""


def extended_attention(q, k, v, *, mask=None, scale=None, is_causal=False, block_size=None):
    """Attention in ``np.longdouble`` (80-bit on x86: scores up to ~1e4932 stay finite);
    ``block_size`` is the kernel's path option, without effect on the answer."""
    q, k, v = (np.asarray(array, dtype=np.longdouble) for array in (q, k, v))
    scale = 1 / np.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.einsum("...qe,...ke->...qk", q, k) * np.longdouble(scale)
    if mask is not None:
        scores = scores + np.asarray(mask, dtype=np.longdouble)
    if is_causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], dtype=bool)), scores, -np.inf)
    weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
    weights = weights / weights.sum(axis=-1, keepdims=True)
    return np.einsum("...qk,...kv->...qv", weights, v).astype(np.float64)


@pytest.fixture
def huge_inputs(xp: BackendCase, rng):
    if np.finfo(np.longdouble).maxexp <= 1024:
        pytest.skip("np.longdouble is float64 here: no reference beyond float64's range")
    magnitude = MAGNITUDE[xp.dtype_name]
    q, k = (rng.normal(size=(2, 3, 6, 8)) * magnitude for _ in range(2))
    return xp.asarray(q), xp.asarray(k), xp.asarray(rng.normal(size=(2, 3, 6, 5)))


@pytest.mark.parametrize("options", [{}, {"block_size": 4}, {"is_causal": True, "block_size": 2}])
def test_generic_paths_give_the_finite_answer(xp: BackendCase, huge_inputs, options):
    q, k, v = huge_inputs
    expected = extended_attention(*(xp.to_numpy(array) for array in huge_inputs), **options)
    result = scaled_dot_product_attention.generic(q, k, v, xp=xp.xp, **options)
    assert_close(result, expected, like=q)
    output, weights = mp.scaled_dot_product_attention(q, k, v, return_weights=True)
    assert_close(output, extended_attention(*(xp.to_numpy(a) for a in huge_inputs)), like=q)
    assert_close(mp.backends.host_arrays(weights)[0].sum(axis=-1), np.ones((2, 3, 6)))


def test_public_call_gives_the_finite_answer_where_values_can_be_read(xp: BackendCase, huge_inputs):
    # eagerly on a CPU the kernel sees that scores may overflow and keeps a framework's
    # own attention out of it (Dask's runs the kernel on each block, on NumPy)
    if not values_known(huge_inputs[0]) and xp.framework.fused("scaled_dot_product_attention"):
        pytest.skip(
            f"{xp.spec}: the bound is not read on a GPU (two reductions and a sync a call), "
            "so the framework's own attention runs and gives its own answer (torch's: NaN)"
        )
    expected = extended_attention(*(xp.to_numpy(array) for array in huge_inputs))
    assert_close(mp.scaled_dot_product_attention(*huge_inputs), expected, like=huge_inputs[0])


def test_a_float_mask_and_tied_keys_in_the_limit(xp: BackendCase, huge_inputs):
    q, k, v = (np.array(xp.to_numpy(array)) for array in huge_inputs)
    k[..., 3, :] = k[..., 1, :]  # keys 1 and 3 tie for every query: half the weight each
    mask = np.zeros((6, 6))
    mask[:, 0] = -np.inf
    mask[2:4, 2] = 3e38  # a gap float32 scores of ~1e40 resolve
    expected = extended_attention(q, k, v, mask=mask)
    arrays = (xp.asarray(q), xp.asarray(k), xp.asarray(v))
    result = scaled_dot_product_attention.generic(*arrays, mask=xp.asarray(mask), xp=xp.xp)
    assert_close(result, expected, like=arrays[0])


def test_ordinary_scores_are_unchanged_under_jit():
    jax = pytest.importorskip("jax")
    rng = np.random.default_rng(6)
    hosts = [rng.normal(size=(2, 4, 7, 8)).astype(np.float32) for _ in range(3)]
    arrays = [FRAMEWORKS["jax"].from_host(host, None) for host in hosts]
    generic = jax.jit(lambda q, k, v: scaled_dot_product_attention.generic(q, k, v, xp=jax.numpy))
    assert_close(generic(*arrays), extended_attention(*hosts), like=arrays[0])
    huge = [arrays[0] * 1e20, arrays[1] * 1e20, arrays[2]]
    expected = extended_attention(hosts[0] * 1e20, hosts[1] * 1e20, hosts[2])
    assert_close(generic(*huge), expected, like=arrays[0])


@pytest.mark.parametrize("backend", ["torch", "jax"])
def test_eager_calls_decline_the_frameworks_own_attention(backend):
    # torch's scaled_dot_product_attention gives zeros or NaN for these, and
    # jax.nn.dot_product_attention NaN: the kernel computes them itself
    pytest.importorskip(backend)
    rng = np.random.default_rng(7)
    hosts = [rng.normal(size=(1, 2, 4, 8)).astype(np.float32) for _ in range(3)]
    hosts[:2] = [host * 1e20 for host in hosts[:2]]
    arrays = [FRAMEWORKS[backend].from_host(host, None) for host in hosts]
    assert_close(
        mp.scaled_dot_product_attention(*arrays), extended_attention(*hosts), like=arrays[0]
    )


ENTRIES = {"ordinary": 1.0, "huge negative": None, "inf": np.inf, "-inf": -np.inf, "nan": np.nan}
"""One entry of q or k; "huge negative" is the dtype's lowest value."""


@pytest.mark.parametrize("entry", list(ENTRIES))
@pytest.mark.parametrize("in_key", [False, True])
def test_the_bound_reads_the_largest_magnitude_of_q_and_k(xp: BackendCase, entry, in_key):
    """Only "ordinary" lets the framework's own attention run; a NaN counts as an
    overflow (the formula carries it through). Where values cannot be read: None."""
    hosts = [np.full((1, 2, 3, 4), 0.5), np.full((1, 2, 5, 4), -0.25)]
    value = ENTRIES[entry]
    lowest = np.finfo(xp.dtype_name).min
    hosts[int(in_key)][0, 1, 2, 3] = lowest if value is None else value
    q, k = (xp.asarray(host.astype(xp.dtype_name)) for host in hosts)
    expected = (entry != "ordinary") if values_known(q) else None  # None: not read (a GPU)
    assert may_overflow(q, k, 0.5, xp=xp.xp) is expected
    self_attention = k if in_key else q  # the same array as q and k: read once
    assert may_overflow(self_attention, self_attention, 0.5, xp=xp.xp) is expected


@pytest.fixture
def near_limit_inputs(xp: BackendCase, rng):
    """q, k whose scores (scale 1) lie between 0.14 and 0.22 max, within the range the
    usual scores are computed in (the bound E max|q| max|k| is max / 4.5), positive for
    queries 0, 2, 4 and negative for 1 and 3; and v."""
    if np.finfo(np.longdouble).maxexp <= 1024:
        pytest.skip("np.longdouble is float64 here: no reference beyond float64's range")
    largest = float(np.finfo(xp.dtype_name).max)
    root = np.sqrt(largest / 4.5 / 4)  # |scale q.k| <= E * root^2 = max / 4.5
    signs = np.array([1, -1, 1, -1, 1])[:, None]
    q = rng.uniform(0.8, 1, size=(2, 3, 5, 4)) * root * signs
    k = rng.uniform(0.8, 1, size=(2, 3, 5, 4)) * root
    return xp.asarray(q), xp.asarray(k), xp.asarray(rng.normal(size=(2, 3, 5, 3)))


def huge_mask(dtype_name: str) -> np.ndarray:
    """+0.9 max on key 0, -0.9 max on key 1, a row of -0.9 max everywhere, a -inf."""
    huge = 0.9 * float(np.finfo(dtype_name).max)
    mask = np.zeros((5, 5))
    mask[:, 0], mask[:, 1], mask[1, :], mask[3, 4] = huge, -huge, -huge, -np.inf
    return mask.astype(dtype_name)


@pytest.mark.parametrize("options", [{}, {"is_causal": True, "block_size": 3}])  # whole, blocks
def test_scores_in_range_plus_a_huge_float_mask_give_the_finite_answer(
    xp: BackendCase, near_limit_inputs, options
):
    # a score of 5e37 plus a mask entry of 3e38 was inf in float32, and inf - inf made the
    # row NaN; a row of -3e38 plus scores of -5e37 was all -inf, and zeroed
    mask = huge_mask(xp.dtype_name)
    hosts = [xp.to_numpy(array) for array in near_limit_inputs]
    expected = extended_attention(*hosts, mask=mask, scale=1.0, **options)
    q = near_limit_inputs[0]
    call = {"mask": xp.asarray(mask), "scale": 1.0, **options}
    result = scaled_dot_product_attention.generic(*near_limit_inputs, xp=xp.xp, **call)
    assert_close(result, expected, like=q)
    if values_known(q) or not xp.framework.fused("scaled_dot_product_attention"):
        assert_close(mp.scaled_dot_product_attention(*near_limit_inputs, **call), expected, like=q)


@pytest.mark.parametrize(
    ("mask_entry", "score", "expected"),
    [
        ("lowest", 1e30, False),  # torch.finfo(dtype).min masks keep the framework's own
        ("-inf", 0.2, False),  # -inf forbids a key: never an overflow
        ("0.9 max", 0.2, True),  # 0.9 max + 0.2 max > max
        ("0.9 max", 0.04, False),  # within half the headroom
    ],
)
def test_the_bound_counts_a_float_masks_largest_finite_entry(
    xp: BackendCase, mask_entry, score, expected
):
    largest = float(np.finfo(xp.dtype_name).max)
    value = {"lowest": -largest, "-inf": -np.inf, "0.9 max": 0.9 * largest}[mask_entry]
    magnitude = score if mask_entry == "lowest" else score * largest
    q = xp.asarray(np.full((1, 2, 3, 1), np.sqrt(magnitude)))
    k = xp.asarray(np.full((1, 2, 4, 1), np.sqrt(magnitude)))
    host_mask = np.zeros((3, 4))
    host_mask[1, 2] = value
    mask = xp.asarray(host_mask)
    known = values_known(q)
    assert may_overflow(q, k, 1.0, mask, xp=xp.xp) is (expected if known else None)
    assert may_overflow(q, k, 1.0, mask != 0, xp=xp.xp) is (False if known else None)


@pytest.mark.filterwarnings("error")  # NumPy warned of the multipliers past the range
def test_a_minus_infinity_mask_against_scores_at_the_end_of_the_range(xp: BackendCase):
    # q, k of -1.4e38 and -1.7e38: scores of 2.4e76 in units of the largest float32;
    # JAX's CPU divided the mask by that as a product with its flushed reciprocal:
    # -inf * 0 = NaN in every output of the row
    largest = float(np.finfo(xp.dtype_name).max)
    q = np.full((1, 2, 1), -0.4 * largest)
    k = np.full((1, 4, 1), -0.5 * largest)
    v = np.arange(12.0).reshape(1, 4, 3)
    mask = np.array([[0.0, -np.inf, 0.0, 0.0], [-np.inf, -np.inf, 0.0, -np.inf]])
    arrays = [xp.asarray(array) for array in (q, k, v, mask)]
    tied = (v[0, 0] + v[0, 2] + v[0, 3]) / 3  # equal scores: the allowed keys share the weight
    expected = np.stack([tied, v[0, 2]])[None]
    for block_size in (None, 2):
        result = scaled_dot_product_attention.generic(
            *arrays[:3], mask=arrays[3], scale=1.0, block_size=block_size, xp=xp.xp
        )
        assert_close(result, expected, like=arrays[0])


def _one_feature_cases() -> dict[str, tuple[str, list[np.ndarray], dict, np.ndarray]]:
    """(dtype, [q, k, v], options, expected output) of one-feature (E = 1) attention whose
    answer is one value row: the probe's cases (seed 2, 35 and 36), and ordinary scores."""
    largest = float(np.finfo(np.float64).max)
    v = np.arange(12.0).reshape(1, 4, 3) - 5.5
    causal_q = np.full((1, 1, 1), -largest / 2)  # one query: with is_causal, key 0 alone
    causal_k = np.array([-2.8e38, -1.05e38, 2.67e38, 1.12e38]).reshape(1, 4, 1)
    lowest_key = np.array([-np.finfo(np.float32).max, 0.22, -0.42, 1.95]).reshape(1, 4, 1)
    queries = np.array([-35.2, -38.6, -33.6]).reshape(1, 3, 1)  # score +1.2e40 on key 0
    # scores of about 1e20, whose products float64 rounds
    ordinary_q = np.array([1.2345678901e10, 0.9876543211e10, 1.1e10 / 3]).reshape(1, 3, 1)
    ordinary_k = np.array([1.7e10 / 3, -0.5e10, 0.3e10, 1.1e10 / 7]).reshape(1, 4, 1)
    row_0 = np.broadcast_to(v[:, :1], (1, 3, 3))
    return {
        "causal, q -max/2, k 1e38": (
            "float64",
            [causal_q, causal_k, v],
            {"is_causal": True},
            v[:, :1],
        ),
        "float32 key -3.4e38": ("float32", [queries, lowest_key, v], {}, row_0),
        "float64 scores 1e20": ("float64", [ordinary_q, ordinary_k, v], {}, row_0),
    }


@pytest.mark.parametrize("block_size", [None, 2])
@pytest.mark.parametrize("case", list(_one_feature_cases()))
def test_one_feature_scores_under_jit(case, block_size):
    # XLA's CPU contracted E = 1 scores (products) and the subtraction of the row's maximum
    # into a fused multiply-add: the maximum's exponent was the product's rounding error,
    # 1e176 times a multiplier of 1e154 in float64: NaN, or a row of zeros, where eager
    # JAX and NumPy give value row 0
    jax = pytest.importorskip("jax")
    dtype, hosts, options, expected = _one_feature_cases()[case]
    arrays = [FRAMEWORKS["jax"].from_host(host.astype(dtype), None) for host in hosts]

    def generic(q, k, v):
        return scaled_dot_product_attention.generic(
            q, k, v, block_size=block_size, xp=jax.numpy, **options
        )

    assert_close(jax.jit(generic)(*arrays), expected, like=arrays[0])
    assert_close(generic(*arrays), expected, like=arrays[0])
