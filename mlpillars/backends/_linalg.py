"""Linear algebra a backend may lack or restrict, answered by the array's own framework.

Dask has no ``linalg.eigh``, its ``linalg.svd`` (TSQR) wants one chunk across the shorter
axis, and its ``qr`` and triangular solve take one matrix, not a stack: its framework
module says how it copes (see ``frameworks/dask.py``). Every other backend uses its own
routines as they are.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from .frameworks import Framework, framework_of


class SVDResult(NamedTuple):
    """Thin SVD ``matrix = U @ diag(S) @ Vh`` (singular values descending)."""

    U: Any
    S: Any
    Vh: Any


class QRResult(NamedTuple):
    """Reduced QR ``matrix = Q @ R``: orthonormal columns Q, upper-triangular R."""

    Q: Any
    R: Any


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
    return EighResult(*_framework_of("eigh", matrix).eigh(matrix))


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
    return SVDResult(*_framework_of("svd", matrix).svd(matrix))


def qr(matrix: Any) -> QRResult:
    r"""Reduced QR decomposition of a matrix or a stack of them, on the matrix's own backend.

    .. math:: A = Q R, \quad Q^\top Q = I_k, \quad k = \min(m, n)

    Parameters
    ----------
    matrix : array, shape (..., m, n)

    Returns
    -------
    QRResult
        ``Q`` (..., m, k) with orthonormal columns and ``R`` (..., k, n) upper triangular,
        in the matrix's namespace and on its device. Each backend's own signs: a column of
        Q and the matching row of R may both be negated from one backend to another.
    """
    return QRResult(*_framework_of("qr", matrix).qr(matrix))


def solve_triangular(upper: Any, rhs: Any) -> Any:
    r"""Solve upper-triangular systems ``upper @ X = rhs``, on the arrays' own backend.

    Parameters
    ----------
    upper : array, shape (..., d, d)
        Upper triangular and non-singular; its strict lower triangle must be zero (as in
        the R of :func:`qr`), since a backend may use a general solver.
    rhs : array, shape (..., d, k)
        Right-hand sides as columns, with ``upper``'s leading shape and namespace.

    Returns
    -------
    array, shape (..., d, k)
        X, in the arrays' namespace and on their device.
    """
    return _framework_of("solve_triangular", upper).solve_triangular(upper, rhs)


def _framework_of(routine: str, matrix: Any) -> Framework:
    framework = framework_of(matrix)
    if framework is None:
        raise TypeError(
            f"{routine}: expected an array of a supported backend, got {type(matrix).__name__}"
        )
    return framework
