"""torch's own least squares: the kernel's QR fit in torch's batched calls, where every
check passes.

As NumPy's (``_numpy_regression``): the column norms are plain sums of squares, trusted
where finite and not near the subnormals (``_torch_squares``' rule), a NaN or infinity
in X shows in them and one in y in its sum, X and y are centred twice and the rank test
is the kernel's (``_rank_rule``: ``|R_jj|`` against ``max(n, d) * eps`` of column j's
centred norm, plus ``eps`` of its norm). Q is never formed: the R of
``[X_c | y_c]`` holds R and ``Q^T y`` side by side (``torch.linalg.qr(mode="r")``), then
one triangular solve. Where a check fails this answers ``NotImplemented`` and the
kernel's formula runs: it raises the error that names the bad value or the dependent
column, or scales the columns that need it. float32 and float64, on a device whose
values can be read (the caller checks).
"""

from __future__ import annotations

import math
from typing import Any

from ._rank_rule import dependence_bound
from ._torch_derivatives import recorded
from ._torch_squares import trusted


def least_squares(features: Any, targets: Any, fit_intercept: bool) -> Any:
    """Weights (B, d) and bias (B,) of B problems, or NotImplemented.

    Parameters
    ----------
    features : torch.Tensor, shape (1 or B, n, d)
        One leading entry (with B targets) is one design for every target.
    targets : torch.Tensor, shape (1 or B, n)
        float32 or float64, as ``features``.
    fit_intercept : bool
    """
    import torch

    if features.dtype not in (torch.float32, torch.float64) or targets.dtype != features.dtype:
        return NotImplemented
    n_samples, n_features = features.shape[-2:]
    squared_norms = torch.linalg.vecdot(features.mT, features.mT).detach()  # (1 or B, d)
    smallest, largest, target_sum = torch.stack(
        (*torch.aminmax(squared_norms), targets.detach().sum())
    ).tolist()  # read from detached tensors: no autograd graph, no warning
    if not (trusted(smallest, largest, n_samples, features.dtype) and math.isfinite(target_sum)):
        return NotImplemented  # NaN, infinity, a zero column, or a column to be scaled
    augmented, feature_means, target_means = _augmented(features, targets, fit_intercept)
    upper = torch.linalg.qr(augmented, mode=_qr_mode(augmented)).R  # [[R, Q^T y], [0, .]]
    factor, projected = upper[..., :n_features, :n_features], upper[..., :n_features, n_features:]
    if not _full_rank(factor.detach(), squared_norms.sqrt(), feature_means is not None, n_samples):
        return NotImplemented  # a dependent column (or NaN, or a bound not trusted)
    solution = torch.linalg.solve_triangular(factor, projected, upper=True)  # (., d, columns)
    weights = solution.mT.reshape(-1, n_features)
    if feature_means is None:
        return weights, weights.new_zeros(weights.shape[:1])
    return weights, target_means - torch.linalg.vecdot(weights, feature_means)


def _full_rank(factor: Any, norms: Any, centred: bool, n_samples: int) -> bool:
    """The kernel's rank test, as NumPy's ``_numpy_regression._full_rank``: R (1 or B,
    d, d), the columns' norms (1 or B, d) as given (``centred``: before centring); the
    centred columns' norms (R's columns') only where the columns pass at the larger
    bound of their own norms."""
    import torch

    n_features, eps = factor.shape[-1], torch.finfo(factor.dtype).eps
    independent = factor.diagonal(dim1=-2, dim2=-1).abs()
    raw = norms if centred else None
    if bool((independent > dependence_bound(norms, raw, n_samples, n_features, eps)).all()):
        return True
    if not centred:
        return False
    centred_squares = factor.triu().square().sum(dim=-2)  # (1 or B, d)
    smallest, largest = torch.stack(torch.aminmax(centred_squares)).tolist()
    if not trusted(smallest, largest, n_samples, factor.dtype):
        return False  # a constant column, or one to be scaled: the kernel's formula
    bound = dependence_bound(centred_squares.sqrt(), norms, n_samples, n_features, eps)
    return bool((independent > bound).all())


def _qr_mode(augmented: Any) -> str:
    """R alone, unless a derivative will be taken through it (R's derivative needs Q):
    autograd's, or forward mode's (``torch.func.jvp``, a dual tensor of
    ``torch.autograd.forward_ad``), whose tensors do not require grad."""
    import torch

    return "reduced" if recorded(torch, augmented) else "r"


def _augmented(features: Any, targets: Any, fit_intercept: bool) -> tuple[Any, Any, Any]:
    """``[X | y]`` (1 or B, n, d + columns), less each column's mean with an intercept,
    and the means: X's (1 or B, d) and y's (B,) (None without). One design shared by B
    targets takes them as B columns; else each problem has its own one."""
    import torch

    n_samples, n_features = features.shape[-2:]
    columns = targets.shape[0] if features.shape[0] == 1 else 1
    right = targets.reshape(-1, columns, n_samples).mT  # (1 or B, n, columns)
    right = right.expand(features.shape[0], -1, -1)  # a shared y beside B designs
    augmented = torch.cat([features, right], dim=-1)
    if not fit_intercept:
        return augmented, None, None
    # centred twice as the kernel's formula, in one call fewer: less the first sample
    # (exact for data far from zero; the squares are finite here, so the differences
    # are), then less the mean of that, whose rounding is the spread's
    first = augmented[:, :1, :]
    shifted = augmented - first
    means = shifted.mean(dim=-2, keepdim=True)  # one call for X's and y's
    first_and_mean = (first + means)[:, 0, :]
    feature_means, target_means = first_and_mean[:, :n_features], first_and_mean[:, n_features:]
    return shifted - means, feature_means, target_means.reshape(-1)
