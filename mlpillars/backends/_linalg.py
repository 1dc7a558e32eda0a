"""Linear-algebra routines a backend may lack, answered once here.

Dask has no ``linalg.eigh``: a small (d, d) matrix is decomposed on NumPy and the result
put back on the matrix's backend. Every other backend uses its own.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ._frameworks import framework_of


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
