"""Kernels on Dask arrays of hostile chunkings give the float64 answer on the same values.

Found by ``scripts/probe_dask.py``. References are independent of mlpillars: each kernel's
formula written out in float64 NumPy, SciPy's softmax family, NumPy's ``lstsq``,
scikit-learn's ``PCA``; held to the tolerance table's float64 row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
import scipy.special
from sklearn.decomposition import PCA as SklearnPCA

import mlpillars as mp
from mlpillars.tolerances import compare_outputs, tolerance_for

da = pytest.importorskip("dask.array")

RNG = np.random.default_rng(20261202)
X64 = RNG.normal(size=(6, 4))
ROW = RNG.normal(size=(1, 4))
COLUMN = RNG.normal(size=(6, 1))
WEIGHT = RNG.normal(size=(1, 3))
DESIGN = RNG.normal(size=(10, 3))
TARGETS = DESIGN @ np.array([1.0, -2.0, 0.5]) + RNG.normal(size=10)
QUERIES = RNG.normal(size=(2, 2, 3, 4))


def unit_rows(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """``x / ||x||_2`` along ``axis`` (no zero vectors among the test's values)."""
    return x / np.sqrt(np.sum(x * x, axis=axis, keepdims=True))


def cosine_reference(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a_i . b_j / (||a_i|| ||b_j||)`` for every pair of rows."""
    return unit_rows(a) @ unit_rows(b).T


def r_squared_reference(y_true: np.ndarray, y_pred: np.ndarray) -> np.ndarray:
    """``1 - SS_res / SS_tot`` along the last axis; a constant y_true gives 1 for a perfect
    prediction, else 0 (scikit-learn's ``r2_score`` rule)."""
    residual = np.sum((y_true - y_pred) ** 2, axis=-1)
    total = np.sum((y_true - y_true.mean(axis=-1, keepdims=True)) ** 2, axis=-1)
    constant = total == 0
    return np.where(constant, (residual == 0) * 1.0, 1 - residual / np.where(constant, 1, total))


def least_squares_weights(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The weights of ``min ||X w + b - y||``: NumPy's lstsq on X with a column of ones."""
    solution = np.linalg.lstsq(np.column_stack([X, np.ones(len(X))]), y, rcond=None)[0]
    return solution[:-1]


def attention_reference(q: np.ndarray, k: np.ndarray, v: np.ndarray) -> np.ndarray:
    """``softmax(q k^T / sqrt(E)) v``, the softmax over keys (SciPy's)."""
    scores = q @ np.swapaxes(k, -1, -2) / np.sqrt(q.shape[-1])
    return scipy.special.softmax(scores, axis=-1) @ v


ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "relu": lambda z: np.maximum(z, 0.0),
    "gelu": lambda z: 0.5 * z * (1 + scipy.special.erf(z / np.sqrt(2))),
    "gelu_tanh": lambda z: 0.5 * z * (1 + np.tanh(np.sqrt(2 / np.pi) * (z + 0.044715 * z**3))),
    "sigmoid": lambda z: 1 / (1 + np.exp(-z)),
    "tanh": np.tanh,
}
"""Each activation's formula in float64 (GELU exact by erf; its tanh approximation)."""


def _empty_chunks(values: np.ndarray, chunks: tuple[tuple[int, ...], ...]) -> Any:
    """``values`` as a Dask array of these chunks (empty ones among them)."""
    return da.from_array(values, chunks=chunks)


# (kernel call, its float64 reference, NumPy arguments, their chunks): every chunking holds
# empty chunks, most around an axis of length 1, on which Dask's own elementwise operations
# give wrong shapes
EMPTY_CHUNK_CASES: dict[
    str, tuple[Callable[..., Any], Callable[..., np.ndarray], list[np.ndarray], list[Any]]
] = {
    "softmax of one row chunked (0, 1, 0)": (
        mp.softmax,
        lambda x: scipy.special.softmax(x, axis=-1),
        [ROW],
        [((0, 1, 0), (0, 2, 0, 2, 0))],
    ),
    "cosine_similarity against one row chunked (0, 1, 0)": (
        mp.cosine_similarity,
        cosine_reference,
        [X64, ROW],
        [((6,), (4,)), ((0, 1, 0), (4,))],
    ),
    "r_squared of one sample chunked (0, 1, 0)": (
        mp.r_squared,
        r_squared_reference,
        [COLUMN, COLUMN + 0.5],
        [((6,), (0, 1, 0)), ((6,), (0, 1, 0))],
    ),
    "r_squared of a perfect prediction of one sample chunked (0, 1, 0)": (
        mp.r_squared,
        r_squared_reference,
        [COLUMN, COLUMN.copy()],
        [((6,), (0, 1, 0)), ((6,), (0, 1, 0))],
    ),
    "linear over one feature chunked (0, 1, 0)": (
        mp.linear,
        lambda x, weight: x @ weight,
        [COLUMN, WEIGHT],
        [((6,), (0, 1, 0)), ((0, 1, 0), (3,))],
    ),
    "least_squares of samples chunked (0, 5, 0, 5, 0)": (
        lambda X, y: mp.least_squares(X, y).weights,
        least_squares_weights,
        [DESIGN, TARGETS],
        [((0, 5, 0, 5, 0), (3,)), ((0, 5, 0, 5, 0),)],
    ),
    "attention with empty chunks on every axis": (
        lambda q, k, v: mp.scaled_dot_product_attention(q, k, v),
        attention_reference,
        [QUERIES, QUERIES + 1, QUERIES - 1],
        [((0, 1, 0, 1, 0), (0, 2, 0), (0, 3, 0), (0, 2, 0, 2, 0))] * 3,
    ),
}


@pytest.mark.parametrize("case", list(EMPTY_CHUNK_CASES))
def test_empty_chunks_give_the_float64_answer(case: str) -> None:
    call, reference, values, chunks = EMPTY_CHUNK_CASES[case]
    expected = np.asarray(reference(*values))
    result = call(*(_empty_chunks(v, c) for v, c in zip(values, chunks, strict=True)))
    assert isinstance(result, da.Array), "a lazy Dask array"
    computed = np.asarray(result.compute())
    assert computed.shape == expected.shape
    max_error, agrees = compare_outputs([computed], [expected], tolerance_for("float64"))
    assert agrees, f"{case}: max |error| {max_error:.2e} against the float64 reference"


KEEP = np.array([True, True, False, False, False, True, False, True])
"""Rows kept by a boolean index: in chunks of 2, the second chunk turns out empty."""

# (kernel call, its float64 reference)
UNKNOWN_SIZE_CASES: dict[str, tuple[Callable[..., Any], Callable[[np.ndarray], np.ndarray]]] = {
    "softmax along the unknown axis": (
        lambda x: mp.softmax(x, axis=0),
        lambda x: scipy.special.softmax(x, axis=0),
    ),
    "log_softmax along the unknown axis": (
        lambda x: mp.log_softmax(x, axis=0),
        lambda x: scipy.special.log_softmax(x, axis=0),
    ),
    "logsumexp along the unknown axis": (
        lambda x: mp.logsumexp(x, axis=0),
        lambda x: scipy.special.logsumexp(x, axis=0),
    ),
    "normalize along the unknown axis": (
        lambda x: mp.normalize(x, axis=0),
        lambda x: unit_rows(x, axis=0),
    ),
    "softmax along a known axis": (mp.softmax, lambda x: scipy.special.softmax(x, axis=-1)),
}


@pytest.mark.parametrize("case", list(UNKNOWN_SIZE_CASES))
def test_unknown_sizes_with_a_chunk_found_empty_give_the_float64_answer(case: str) -> None:
    call, reference = UNKNOWN_SIZE_CASES[case]
    values = RNG.normal(size=(8, 3)) + 10.0
    rows = da.from_array(values, chunks=(2, 3))[da.from_array(KEEP, chunks=2)]
    assert np.isnan(rows.shape[0]), "sizes not known"
    expected = reference(values[KEEP])
    result = call(rows)
    assert isinstance(result, da.Array), "a lazy Dask array"
    computed = np.asarray(result.compute())
    assert computed.shape == expected.shape
    max_error, agrees = compare_outputs([computed], [expected], tolerance_for("float64"))
    assert agrees, f"{case}: max |error| {max_error:.2e} against the float64 reference"


@pytest.mark.parametrize("kernel", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("axis", [None, (0, 1)])
def test_several_axes_of_unknown_sizes_are_refused_naming_the_remedy(
    kernel: str, axis: Any
) -> None:
    rows = da.from_array(X64, chunks=(2, 4))[da.from_array(X64[:, 0] > 0, chunks=2)]
    with pytest.raises(ValueError, match=rf"{kernel}: axis=.*not known yet.*compute_chunk_sizes"):
        mp.KERNELS[kernel](rows, axis=axis)


@pytest.mark.parametrize("reduction", ["none", "sum"])
def test_cross_entropy_of_zero_samples_with_probability_targets(reduction: str) -> None:
    # Dask's own max along the classes of a (0, C) array fails when computed ("zero-size
    # array to reduction operation maximum"); NumPy's gives (0,)
    logits = da.from_array(np.zeros((0, 3)), chunks=(1, 3))
    targets = da.from_array(np.full((0, 3), 1 / 3), chunks=(1, 3))
    result = np.asarray(mp.cross_entropy(logits, targets, reduction=reduction).compute())
    expected = np.zeros((0,)) if reduction == "none" else np.zeros(())
    assert result.shape == expected.shape and result.dtype == np.float64
    np.testing.assert_array_equal(result, expected)


def test_max_along_classes_of_an_array_empty_elsewhere_is_empty() -> None:
    import array_api_compat.dask.array as dask_namespace

    from mlpillars.backends import reduce_max

    values = np.zeros((2, 0, 3))
    array = da.from_array(values, chunks=(1, 1, 3))
    for keepdims in (False, True):
        result = reduce_max(array, axis=-1, keepdims=keepdims, xp=dask_namespace).compute()
        assert result.shape == np.max(values, axis=-1, keepdims=keepdims).shape


def _counted(values: np.ndarray, chunks: tuple[int, int]) -> tuple[Any, dict[tuple, int]]:
    """``values`` as a Dask array whose chunks count each time they are computed."""
    counts: dict[tuple, int] = {}

    def count(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        where = tuple(block_info[0]["chunk-location"])
        counts[where] = counts.get(where, 0) + 1
        return block

    array = da.from_array(values, chunks=chunks)
    return array.map_blocks(count, dtype=array.dtype, meta=np.empty((0, 0))), counts


@pytest.mark.parametrize(
    ("solver", "fit_passes", "passes_with_transform"),
    [("covariance_eigh", 2, 3), ("svd", 3, 4)],
)
def test_pca_reads_each_chunk_as_often_as_its_passes(solver, fit_passes, passes_with_transform):
    # the mean's rounding (PCAFit.mean_rounding) once took a pass of its own: pca_fit read
    # each chunk 3 times with the covariance solver, PCA.fit + transform 4
    values = 1e4 + RNG.normal(size=(40, 4)) * np.geomspace(4, 0.5, 4)
    X, counts = _counted(values, (10, 4))
    fitted = mp.pca_fit(X, 2, solver=solver)
    da.compute(*(field for field in fitted if isinstance(field, da.Array)))
    assert max(counts.values()) == fit_passes
    X, counts = _counted(values, (10, 4))
    projected = mp.PCA(2, solver=solver).fit(X).transform(X).compute()
    assert max(counts.values()) == passes_with_transform
    expected = SklearnPCA(2, svd_solver="full").fit(values).transform(values)
    error, agrees = compare_outputs([projected], [expected], tolerance_for("float64"))
    assert agrees, error


LAYER_X = RNG.normal(size=(8, 6))
LAYER_WEIGHT = RNG.normal(size=(6, 4))
LAYER_BIAS = RNG.normal(size=4)
X_CHUNKS = {"rows": (2, 6), "columns": (8, (2, 4)), "both": (2, 3)}
WEIGHT_CHUNKS = {
    "one": ((6,), (4,)),
    "outputs": ((6,), (1, 1, 1, 1)),
    "inputs": ((2, 4), (4,)),
    "both": ((3, 3), (2, 2)),
    "irregular": ((1, 5), (3, 1)),
    "ones": ((1,) * 6, (1,) * 4),
}


@pytest.mark.parametrize("weight_chunks", list(WEIGHT_CHUNKS))
@pytest.mark.parametrize("x_chunks", list(X_CHUNKS))
def test_linear_reads_each_chunk_of_x_once(x_chunks: str, weight_chunks: str) -> None:
    # Dask fused x's chunk into each block of the product: a weight in 4 chunks along its
    # outputs read each chunk of x 4 times, one in (2, 2) twice
    X, counts = _counted(LAYER_X, X_CHUNKS[x_chunks])
    chunks = WEIGHT_CHUNKS[weight_chunks]
    weight = da.from_array(LAYER_WEIGHT, chunks=chunks)
    bias = da.from_array(LAYER_BIAS, chunks=chunks[1])
    result = mp.linear(X, weight, bias).compute()
    assert max(counts.values()) == 1
    assert len(counts) == X.numblocks[0] * X.numblocks[1]
    expected = LAYER_X @ LAYER_WEIGHT + LAYER_BIAS
    error, agrees = compare_outputs([result], [expected], tolerance_for("float64"))
    assert agrees, error


@pytest.mark.parametrize("activation", ["relu", "gelu", "gelu_tanh", "sigmoid", "tanh"])
def test_linear_with_an_activation_reads_each_chunk_of_x_once(activation: str) -> None:
    X, counts = _counted(LAYER_X, X_CHUNKS["both"])
    weight = da.from_array(LAYER_WEIGHT, chunks=WEIGHT_CHUNKS["both"])
    bias = da.from_array(LAYER_BIAS, chunks=2)
    result = mp.linear(X, weight, bias, activation=activation).compute()
    assert max(counts.values()) == 1
    expected = ACTIVATIONS[activation](LAYER_X @ LAYER_WEIGHT + LAYER_BIAS)
    error, agrees = compare_outputs([result], [expected], tolerance_for("float64"))
    assert agrees, error


def _counting_activation(counts: dict[tuple, int]) -> Callable[[Any], Any]:
    """An identity activation counting, in ``counts``, each computation of a hidden chunk."""

    def count(block: np.ndarray, block_info: Any = None) -> np.ndarray:
        where = tuple(block_info[0]["chunk-location"])
        counts[where] = counts.get(where, 0) + 1
        return block

    return lambda hidden: hidden.map_blocks(count, dtype=hidden.dtype)


@pytest.mark.parametrize("x_chunks", list(X_CHUNKS))
def test_mlp_reads_each_chunk_of_x_and_of_each_layer_once(x_chunks: str) -> None:
    # each layer's input was computed once per chunk of its weight's outputs
    second = RNG.normal(size=(4, 3))
    X, counts = _counted(LAYER_X, X_CHUNKS[x_chunks])
    hidden_counts: dict[tuple, int] = {}
    weights = [
        da.from_array(LAYER_WEIGHT, chunks=WEIGHT_CHUNKS["outputs"]),
        da.from_array(second, chunks=((1,) * 4, (1,) * 3)),
    ]
    biases = [da.from_array(LAYER_BIAS, chunks=1), None]
    hidden = _counting_activation(hidden_counts)
    result = mp.mlp(X, weights, biases, activation=hidden).compute()
    assert max(counts.values()) == 1
    assert hidden_counts and max(hidden_counts.values()) == 1
    expected = (LAYER_X @ LAYER_WEIGHT + LAYER_BIAS) @ second
    error, agrees = compare_outputs([result], [expected], tolerance_for("float64"))
    assert agrees, error


@pytest.mark.parametrize("x_chunks", list(X_CHUNKS))
def test_linear_with_a_weight_past_a_chunk_keeps_its_outputs_and_reads_x_once(
    x_chunks: str,
) -> None:
    # a weight whose block for one chunk of x, all outputs in it, passes Dask's chunk size
    # (here 1 byte) and x's largest chunk keeps its output chunks: x's chunks are then
    # computed as tasks of their own, shared by the products, where Dask had fused them
    # into each (4 reads)
    import dask

    wide, wide_bias = RNG.normal(size=(6, 12)), RNG.normal(size=12)
    X, counts = _counted(LAYER_X, X_CHUNKS[x_chunks])
    weight = da.from_array(wide, chunks=(6, 3))
    bias = da.from_array(wide_bias, chunks=3)
    with dask.config.set({"array.chunk-size": "1B"}):
        layer = mp.linear(X, weight, bias, activation="tanh")
    assert layer.chunks[1] == (3, 3, 3, 3)
    result = layer.compute()
    assert max(counts.values()) == 1
    expected = np.tanh(LAYER_X @ wide + wide_bias)
    error, agrees = compare_outputs([result], [expected], tolerance_for("float64"))
    assert agrees, error


# (kernel call, its float64 reference)
STREAMING_CALLS: dict[str, tuple[Callable[[Any], Any], Callable[[np.ndarray], np.ndarray]]] = {
    "softmax": (mp.softmax, lambda x: scipy.special.softmax(x, axis=-1)),
    "softmax over rows": (
        lambda x: mp.softmax(x, axis=0),
        lambda x: scipy.special.softmax(x, axis=0),
    ),
    "log_softmax": (mp.log_softmax, lambda x: scipy.special.log_softmax(x, axis=-1)),
    "logsumexp": (mp.logsumexp, lambda x: scipy.special.logsumexp(x, axis=-1)),
    "sigmoid": (mp.sigmoid, ACTIVATIONS["sigmoid"]),
    "normalize": (mp.normalize, unit_rows),
    "normalize over rows": (lambda x: mp.normalize(x, axis=0), lambda x: unit_rows(x, axis=0)),
}


@pytest.mark.parametrize("x_chunks", list(X_CHUNKS))
@pytest.mark.parametrize("name", list(STREAMING_CALLS))
def test_streaming_kernels_read_each_chunk_once(name: str, x_chunks: str) -> None:
    call, reference = STREAMING_CALLS[name]
    X, counts = _counted(LAYER_X, X_CHUNKS[x_chunks])
    result = call(X).compute()
    assert max(counts.values()) == 1
    expected = reference(LAYER_X)
    error, agrees = compare_outputs([result], [expected], tolerance_for("float64"))
    assert agrees, error


@pytest.mark.parametrize("y_chunks", [(5, 6), (1, 6), (2, 3), (5, 1), (1, 1)])
@pytest.mark.parametrize("x_chunks", list(X_CHUNKS))
def test_cosine_similarity_reads_each_chunk_of_both_once(x_chunks: str, y_chunks: Any) -> None:
    others = RNG.normal(size=(5, 6))
    X, counts = _counted(LAYER_X, X_CHUNKS[x_chunks])
    Y, y_counts = _counted(others, y_chunks)
    result = mp.cosine_similarity(X, Y).compute()
    assert max(counts.values()) == 1 and max(y_counts.values()) == 1
    expected = cosine_reference(LAYER_X, others)
    error, agrees = compare_outputs([result], [expected], tolerance_for("float64"))
    assert agrees, error


@pytest.mark.parametrize("x_chunks", list(X_CHUNKS))
def test_pca_transform_reads_each_chunk_once(x_chunks: str) -> None:
    fitted = mp.PCA(3).fit(da.from_array(LAYER_X, chunks=X_CHUNKS[x_chunks]))
    X, counts = _counted(LAYER_X, X_CHUNKS[x_chunks])
    result = fitted.transform(X).compute()
    assert max(counts.values()) == 1
    expected = SklearnPCA(3, svd_solver="full").fit(LAYER_X).transform(LAYER_X)
    error, agrees = compare_outputs([result], [expected], tolerance_for("float64"))
    assert agrees, error
