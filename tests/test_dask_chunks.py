"""Kernels on Dask arrays of hostile chunkings give NumPy's answers on the same values.

Found by ``scripts/probe_dask.py``. Reference: the kernel on NumPy, float64, on the same
values; the tolerance table's float64 row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

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


def _empty_chunks(values: np.ndarray, chunks: tuple[tuple[int, ...], ...]) -> Any:
    """``values`` as a Dask array of these chunks (empty ones among them)."""
    return da.from_array(values, chunks=chunks)


# (kernel call, NumPy arguments, their chunks): every chunking holds empty chunks, most
# around an axis of length 1, on which Dask's own elementwise operations give wrong shapes
EMPTY_CHUNK_CASES: dict[str, tuple[Callable[..., Any], list[np.ndarray], list[Any]]] = {
    "softmax of one row chunked (0, 1, 0)": (
        mp.softmax,
        [ROW],
        [((0, 1, 0), (0, 2, 0, 2, 0))],
    ),
    "cosine_similarity against one row chunked (0, 1, 0)": (
        mp.cosine_similarity,
        [X64, ROW],
        [((6,), (4,)), ((0, 1, 0), (4,))],
    ),
    "r_squared of one sample chunked (0, 1, 0)": (
        mp.r_squared,
        [COLUMN, COLUMN + 0.5],
        [((6,), (0, 1, 0)), ((6,), (0, 1, 0))],
    ),
    "linear over one feature chunked (0, 1, 0)": (
        mp.linear,
        [COLUMN, WEIGHT],
        [((6,), (0, 1, 0)), ((0, 1, 0), (3,))],
    ),
    "least_squares of samples chunked (0, 5, 0, 5, 0)": (
        lambda X, y: mp.least_squares(X, y).weights,
        [DESIGN, TARGETS],
        [((0, 5, 0, 5, 0), (3,)), ((0, 5, 0, 5, 0),)],
    ),
    "attention with empty chunks on every axis": (
        lambda q, k, v: mp.scaled_dot_product_attention(q, k, v),
        [QUERIES, QUERIES + 1, QUERIES - 1],
        [((0, 1, 0, 1, 0), (0, 2, 0), (0, 3, 0), (0, 2, 0, 2, 0))] * 3,
    ),
}


@pytest.mark.parametrize("case", list(EMPTY_CHUNK_CASES))
def test_empty_chunks_give_numpys_answer(case: str) -> None:
    call, values, chunks = EMPTY_CHUNK_CASES[case]
    expected = np.asarray(call(*values))
    result = call(*(_empty_chunks(v, c) for v, c in zip(values, chunks, strict=True)))
    assert isinstance(result, da.Array), "a lazy Dask array"
    computed = np.asarray(result.compute())
    assert computed.shape == expected.shape
    max_error, agrees = compare_outputs([computed], [expected], tolerance_for("float64"))
    assert agrees, f"{case}: max |error| {max_error:.2e} against NumPy"


KEEP = np.array([True, True, False, False, False, True, False, True])
"""Rows kept by a boolean index: in chunks of 2, the second chunk turns out empty."""

UNKNOWN_SIZE_CASES: dict[str, Callable[..., Any]] = {
    "softmax along the unknown axis": lambda x: mp.softmax(x, axis=0),
    "log_softmax along the unknown axis": lambda x: mp.log_softmax(x, axis=0),
    "logsumexp along the unknown axis": lambda x: mp.logsumexp(x, axis=0),
    "normalize along the unknown axis": lambda x: mp.normalize(x, axis=0),
    "softmax along a known axis": mp.softmax,
}


@pytest.mark.parametrize("case", list(UNKNOWN_SIZE_CASES))
def test_unknown_sizes_with_a_chunk_found_empty_give_numpys_answer(case: str) -> None:
    call = UNKNOWN_SIZE_CASES[case]
    values = RNG.normal(size=(8, 3)) + 10.0
    rows = da.from_array(values, chunks=(2, 3))[da.from_array(KEEP, chunks=2)]
    assert np.isnan(rows.shape[0]), "sizes not known"
    expected = np.asarray(call(values[KEEP]))
    result = call(rows)
    assert isinstance(result, da.Array), "a lazy Dask array"
    computed = np.asarray(result.compute())
    assert computed.shape == expected.shape
    max_error, agrees = compare_outputs([computed], [expected], tolerance_for("float64"))
    assert agrees, f"{case}: max |error| {max_error:.2e} against NumPy"


@pytest.mark.parametrize("kernel", ["softmax", "log_softmax", "logsumexp"])
@pytest.mark.parametrize("axis", [None, (0, 1)])
def test_several_axes_of_unknown_sizes_are_refused_naming_the_remedy(
    kernel: str, axis: Any
) -> None:
    rows = da.from_array(X64, chunks=(2, 4))[da.from_array(X64[:, 0] > 0, chunks=2)]
    with pytest.raises(ValueError, match=rf"{kernel}: axis=.*not known yet.*compute_chunk_sizes"):
        mp.KERNELS[kernel](rows, axis=axis)


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
    expected = mp.PCA(2, solver=solver).fit(values).transform(values)
    error, agrees = compare_outputs([projected], [expected], tolerance_for("float64"))
    assert agrees, error
