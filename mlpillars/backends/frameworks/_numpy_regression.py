"""NumPy's own least squares: the kernel's QR fit in LAPACK's calls, through SciPy.

The kernel's formula (``mlpillars.kernels.regression.least_squares``) makes some forty
array calls through array-api-compat's wrappers, most of them its checks: finite values,
column norms computed without overflow, the rank test; and forms Q to multiply y by it.
Here the same fit runs on the path where every check passes, with the checks made as
cheaply as that allows: the column norms are plain sums of squares (trusted where finite
and not near the subnormals, as in :mod:`._numpy_squares`), a NaN or infinity in X or y
shows in those sums, X and y are centred twice and the rank test is the kernel's
(``_rank_rule``: ``|R_jj|`` against ``max(n, d) * eps`` of column j's centred norm,
plus ``eps`` of its norm). Q is never formed: the QR of ``[X_c | y_c]``
holds R and ``Q^T y`` side by side (the reflections applied to y as to X), one LAPACK
``geqrf`` and one ``trtrs`` for one design. Where any check fails this answers
``NotImplemented``, and the kernel's formula runs: it raises the error that names the bad
value or the dependent column, or scales the columns that need it.

Thread time against ``np.linalg.lstsq`` of ``[X | 1]`` (X (n, 16) float32, the quick
suite's case), one run: n = 64 3.4x -> 1.4x, n = 1024 2.2x -> 1.1x.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._numpy_squares import sums_of_squares, untrusted
from ._rank_rule import dependence_bound


def least_squares(features: np.ndarray, targets: np.ndarray, fit_intercept: bool) -> Any:
    """Weights (B, d) and bias (B,) of B problems, or NotImplemented.

    Parameters
    ----------
    features : ndarray, shape (1 or B, n, d)
        One leading entry (with B targets) is one design for every target.
    targets : ndarray, shape (1 or B, n)
        float32 or float64, as ``features``.
    fit_intercept : bool
    """
    if features.dtype.char not in "fd" or targets.dtype != features.dtype:
        return NotImplemented
    n_samples, n_features = features.shape[-2:]
    squared_norms = sums_of_squares(np.swapaxes(features, -1, -2))  # (1 or B, d)
    if untrusted(squared_norms, n_samples) is not None or not _finite(targets):
        return NotImplemented  # NaN, infinity, a zero column, or a column to be scaled
    augmented, feature_means, target_means = _augmented(features, targets, fit_intercept)
    upper = _triangular_factor(augmented)  # [[R, Q^T y], [0, .]] (1 or B, ., d + columns)
    if upper is None:
        return NotImplemented
    factor, projected = upper[..., :n_features, :n_features], upper[..., :n_features, n_features:]
    if not _full_rank(factor, np.sqrt(squared_norms), feature_means is not None, n_samples):
        return NotImplemented  # a dependent column (or NaN, or a bound not trusted)
    weights = _solved(factor, projected)
    if feature_means is None:
        return weights, np.zeros(weights.shape[:1], dtype=weights.dtype)
    return weights, target_means - np.add.reduce(weights * feature_means, axis=-1)


def _full_rank(factor: np.ndarray, norms: np.ndarray, centred: bool, n_samples: int) -> bool:
    """The kernel's rank test (``_rank_rule``) on R (1 or B, d, d; below its diagonal
    unread) and the columns' norms (1 or B, d), as given (``centred``: before centring).
    The centred columns' norms are R's columns', at most the columns' own: they are
    computed only where the columns pass at the larger bound (a column far from zero).
    False where a column is dependent, or its centred sum of squares is not trusted."""
    n_features, eps = factor.shape[-1], np.finfo(factor.dtype).eps
    independent = np.abs(np.diagonal(factor, axis1=-2, axis2=-1))
    if np.all(
        independent
        > dependence_bound(norms, norms if centred else None, n_samples, n_features, eps)
    ):
        return True
    if not centred:
        return False
    centred_squares = np.add.reduce(np.square(np.triu(factor)), axis=-2)  # (1 or B, d)
    if untrusted(centred_squares, n_samples) is not None:
        return False  # a constant column, or one to be scaled: the kernel's formula
    bound = dependence_bound(np.sqrt(centred_squares), norms, n_samples, n_features, eps)
    return bool(np.all(independent > bound))


def _finite(targets: np.ndarray) -> bool:
    """Whether the targets are finite (their sum is, and no more than that is read)."""
    total = float(np.add.reduce(targets, axis=None))
    return -np.inf < total < np.inf


def _augmented(
    features: np.ndarray, targets: np.ndarray, fit_intercept: bool
) -> tuple[np.ndarray, Any, Any]:
    """``[X | y]`` (1 or B, n, d + columns), centred with an intercept, and the means
    (None without). One design shared by B targets takes them as B columns; else each
    problem has its own one.

    Centred as the kernel's formula is, twice, but in one pass fewer: less the first
    sample (exact for data far from zero), then less the mean of that, whose rounding is
    the spread's; the columns' squares are finite here, so their differences are too."""
    n_samples, n_features = features.shape[-2:]
    columns = targets.shape[0] if features.shape[0] == 1 else 1
    right = np.swapaxes(np.reshape(targets, (-1, columns, n_samples)), -1, -2)  # (., n, columns)
    augmented = np.empty((features.shape[0], n_samples, n_features + columns), dtype=features.dtype)
    if not fit_intercept:
        augmented[..., :n_features], augmented[..., n_features:] = features, right
        return augmented, None, None
    np.subtract(features, features[:, :1, :], out=augmented[..., :n_features])
    np.subtract(right, right[:, :1, :], out=augmented[..., n_features:])
    means = np.add.reduce(augmented, axis=-2, keepdims=True) / n_samples
    augmented -= means
    feature_means = features[:, 0, :] + means[:, 0, :n_features]  # (1 or B, d)
    target_means = np.reshape(right[:, 0, :] + means[:, 0, n_features:], (-1,))  # (B,)
    return augmented, feature_means, target_means


def _triangular_factor(augmented: np.ndarray) -> np.ndarray | None:
    """The R of the augmented matrices' QR, (1 or B, min(n, k), k): its first d columns are
    the design's R, the rest ``Q^T y`` (Householder's reflections applied to y as to X).
    One matrix by LAPACK's ``geqrf`` (its lower part holds the reflectors, never read
    below); a stack by ``np.linalg.qr(mode="r")``, which runs it for each. None where
    LAPACK reports an error."""
    if augmented.shape[0] > 1:
        return np.linalg.qr(augmented, mode="r")
    geqrf = _lapack("geqrf", augmented.dtype)
    packed, _, _, info = geqrf(augmented[0])
    return None if info else packed[None, : min(augmented.shape[-2:]), :]


def _solved(factor: np.ndarray, projected: np.ndarray) -> np.ndarray:
    """``R w = Q^T y`` for each problem, as weights (B, d): R (1 or B, d, d) upper (only
    its upper triangle read), ``Q^T y`` (1 or B, d, columns)."""
    n_features = factor.shape[-1]
    if factor.shape[0] == 1:
        trtrs = _lapack("trtrs", factor.dtype)
        solution = trtrs(factor[0], projected[0])[0][None]
    else:
        solution = np.linalg.solve(factor, projected)  # R's zeros unused; the same w
    return np.reshape(np.swapaxes(solution, -1, -2), (-1, n_features))


_LAPACK: dict[tuple[str, np.dtype], Any] = {}


def _lapack(name: str, dtype: np.dtype) -> Any:
    """SciPy's LAPACK routine ``name`` for ``dtype`` (s or d), looked up once."""
    found = _LAPACK.get((name, dtype))
    if found is None:
        from scipy.linalg import get_lapack_funcs

        found = _LAPACK[(name, dtype)] = get_lapack_funcs(name, dtype=dtype)
    return found
