"""Linear-algebra routines a backend may lack or restrict, answered once here.

Dask has no ``linalg.eigh``: a small (d, d) matrix is decomposed on NumPy and the result
put back on the matrix's backend. Dask's ``linalg.svd`` (TSQR) takes only a matrix with one
chunk across its shorter axis: ``svd`` rechunks it so, keeping the longer axis chunked.
Every other backend uses its own routines as they are.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import array_api_compat as aac
import numpy as np

from ._frameworks import framework_of


class SVDResult(NamedTuple):
    """Thin SVD ``matrix = U @ diag(S) @ Vh`` (singular values descending)."""

    U: Any
    S: Any
    Vh: Any


class EighResult(NamedTuple):
    """Eigenvalues (ascending) and eigenvectors (columns) of a symmetric matrix."""

    eigenvalues: Any
    eigenvectors: Any


def eigh(matrix: Any) -> EighResult:
    """Eigen-decomposition of a symmetric matrix on its own backend, NumPy where it has none.

    Parameters
    ----------
    matrix : array, shape (..., d, d)
        Symmetric (only the lower triangle is read by most backends).

    Returns
    -------
    EighResult
        ``eigenvalues`` (..., d) ascending and ``eigenvectors`` (..., d, d) as columns, in the
        matrix's namespace and on its device.
    """
    framework = framework_of(matrix)
    if framework is None:
        raise TypeError(f"eigh: expected an array of a supported backend, got {type(matrix)}")
    device = framework.device_of(matrix)
    if framework.capabilities(device).eigh:
        eigenvalues, eigenvectors = framework.namespace().linalg.eigh(matrix)
        return EighResult(eigenvalues, eigenvectors)
    eigenvalues, eigenvectors = np.linalg.eigh(framework.to_host(matrix))
    return EighResult(
        framework.from_host(eigenvalues, device), framework.from_host(eigenvectors, device)
    )


def svd(matrix: Any) -> SVDResult:
    r"""Thin singular value decomposition on the matrix's own backend.

    .. math:: A = U \operatorname{diag}(S) V_h, \quad r = \min(m, n)

    Parameters
    ----------
    matrix : array, shape (m, n)

    Returns
    -------
    SVDResult
        ``U`` (m, r), ``S`` (r,) descending, ``Vh`` (r, n), in the matrix's namespace and
        on its device. On Dask the matrix is never gathered whole: it keeps its chunks
        along the longer axis, ``S`` and the small square factor (``Vh`` for a tall
        matrix, ``U`` for a wide one) are computed at once and kept (``persist``), and the
        factor as large as the matrix stays lazy.
    """
    framework = framework_of(matrix)
    if framework is None:
        raise TypeError(f"svd: expected an array of a supported backend, got {type(matrix)}")
    xp = framework.namespace()
    if aac.is_dask_array(matrix):
        # TSQR needs one chunk across the shorter axis; the longer one stays chunked.
        shorter_axis = 1 if matrix.shape[0] >= matrix.shape[1] else 0
        U, S, Vh = xp.linalg.svd(matrix.rechunk({shorter_axis: -1}), full_matrices=False)
        return _persist_small_factors(U, S, Vh, tall=shorter_axis == 1)
    return SVDResult(*xp.linalg.svd(matrix, full_matrices=False))


def _persist_small_factors(U: Any, S: Any, Vh: Any, *, tall: bool) -> SVDResult:
    """Compute S and the square factor together once (each later use would rerun the SVD)."""
    import dask

    if tall:
        S, Vh = dask.persist(S, Vh)
    else:
        U, S = dask.persist(U, S)
    return SVDResult(U, S, Vh)
