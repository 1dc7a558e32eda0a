"""The backends' linear-algebra hooks (``qr``, ``solve_triangular``) on every backend.

References are float64 NumPy (``np.linalg.qr``) and SciPy (``solve_triangular``) on a
float64 copy of the same input, one matrix at a time.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import scipy.linalg

from mlpillars.backends import qr, solve_triangular
from mlpillars.testing import BackendCase, assert_close

# A stack of tall matrices, one matrix, and a wide one.
QR_SHAPES = [(3, 7, 4), (6, 3), (3, 5)]


def positive_diagonal(Q: Any, R: Any, namespace: Any = np) -> tuple[Any, Any]:
    """Q and R with the signs that make R's diagonal positive: the unique QR of a full-rank
    matrix, so that two backends' factors compare entry by entry."""
    signs = namespace.sign(namespace.linalg.diagonal(R))
    return Q * signs[..., None, :], R * signs[..., :, None]


def reference_qr(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    stack = matrix.reshape(-1, *matrix.shape[-2:])
    factors = [np.linalg.qr(one) for one in stack]
    Q = np.stack([q for q, _ in factors]).reshape(*matrix.shape[:-2], *factors[0][0].shape)
    R = np.stack([r for _, r in factors]).reshape(*matrix.shape[:-2], *factors[0][1].shape)
    return positive_diagonal(Q, R)


def upper_triangular(rng: np.random.Generator, shape: tuple[int, ...]) -> np.ndarray:
    """Well-conditioned upper-triangular matrices: a dominant diagonal of either sign."""
    size = shape[-1]
    diagonal = (size + rng.uniform(1.0, 2.0, size=shape[:-1])) * rng.choice([-1.0, 1.0], shape[:-1])
    return np.triu(rng.normal(size=shape), k=1) + diagonal[..., None] * np.eye(size)


def reference_solve(upper: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    pairs = zip(upper.reshape(-1, *upper.shape[-2:]), rhs.reshape(-1, *rhs.shape[-2:]), strict=True)
    return np.stack([scipy.linalg.solve_triangular(a, b) for a, b in pairs]).reshape(rhs.shape)


@pytest.mark.parametrize("shape", QR_SHAPES, ids=str)
def test_qr_matches_numpy(xp: BackendCase, rng, shape):
    matrix = xp.asarray(rng.normal(size=shape))
    Q, R = positive_diagonal(*qr(matrix), namespace=xp.xp)
    expected_Q, expected_R = reference_qr(xp.to_numpy(matrix))
    assert_close(Q, expected_Q, like=matrix, err_msg="Q")
    assert_close(R, expected_R, like=matrix, err_msg="R")


@pytest.mark.parametrize(("upper_shape", "rhs_shape"), [((3, 4, 4), (3, 4, 2)), ((5, 5), (5, 3))])
def test_solve_triangular_matches_scipy(xp: BackendCase, rng, upper_shape, rhs_shape):
    upper = xp.asarray(upper_triangular(rng, upper_shape))
    rhs = xp.asarray(rng.normal(size=rhs_shape))
    expected = reference_solve(xp.to_numpy(upper), xp.to_numpy(rhs))
    assert_close(solve_triangular(upper, rhs), expected, like=upper)


def test_dask_hooks_accept_any_chunks(rng):
    """Dask factorises one matrix at a time: chunks across every axis are rechunked."""
    da = pytest.importorskip("dask.array")
    values = rng.normal(size=(3, 9, 4))
    Q, R = qr(da.from_array(values, chunks=(2, 4, 3)))
    assert isinstance(Q, da.Array) and isinstance(R, da.Array)
    expected_Q, expected_R = reference_qr(values)
    actual_Q, actual_R = positive_diagonal(Q.compute(), R.compute())
    assert_close(actual_Q, expected_Q, err_msg="Q")
    assert_close(actual_R, expected_R, err_msg="R")
    upper, rhs = upper_triangular(rng, (2, 6, 6)), rng.normal(size=(2, 6, 3))
    solution = solve_triangular(da.from_array(upper, chunks=(1, 4, 2)), da.from_array(rhs, 2))
    assert isinstance(solution, da.Array)
    assert_close(solution.compute(), reference_solve(upper, rhs))


def test_hooks_refuse_non_arrays():
    with pytest.raises(TypeError, match="qr: expected an array of a supported backend, got list"):
        qr([[1.0, 0.0], [0.0, 1.0]])
