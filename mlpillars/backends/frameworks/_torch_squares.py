"""torch's sums of squares: ``normalize``, ``cosine_similarity`` and ``r_squared``.

The kernels' formula scales every vector by its largest magnitude before squaring, so
that no square overflows or falls among the subnormals: some fourteen torch calls. Here
each vector is divided by ``torch.linalg.vector_norm`` of it as it is, where every norm
can be trusted: finite (no square overflowed) and at least ``sqrt(length * tiny / eps)``
(the subnormals' rounding, at most ``tiny * eps / 2`` a square, is below ``eps**2`` of
the sum), the rule of NumPy's ``_numpy_squares``. Where one cannot (huge or tiny values,
a zero vector, inf or NaN) the call is declined and the kernel's formula runs.
torch's own ``F.normalize`` is not used: its norm overflows (float32 vectors of 1e20
come back as zeros). ``r_squared`` sums the squares of ``y - y[0]`` less its mean and of
``y_pred - y_true`` the same way (NumPy's ``_numpy_squares.r_squared``), trusting them as
the norms. float32 and float64, with readable values (not on a GPU, not under
``torch.compile``: the check reads the smallest and largest sum).
"""

from __future__ import annotations

import math
from typing import Any


def normalize(x: Any, axis: int) -> Any:
    """``x / ||x||`` along ``axis``, or NotImplemented where a norm is not trusted."""
    import torch

    if x.dtype not in (torch.float32, torch.float64):
        return NotImplemented
    norms = torch.linalg.vector_norm(x, dim=axis, keepdim=True)
    smallest, largest = torch.aminmax(norms.detach())  # read: no autograd graph, no warning
    smallest_norm = float(smallest)  # squared by *: a Python float's ** raises on overflow
    if not trusted(smallest_norm * smallest_norm, float(largest), x.shape[axis], x.dtype):
        return NotImplemented
    return x / norms


def cosine_similarity(a: Any, b: Any) -> Any:
    """The rows' cosine similarities (n, m), clipped to [-1, 1] in place, or
    NotImplemented where a row's norm is not trusted."""
    a_unit = normalize(a, 1)
    b_unit = NotImplemented if a_unit is NotImplemented else normalize(b, 1)
    if b_unit is NotImplemented:
        return NotImplemented
    return (a_unit @ b_unit.mT).clamp_(-1.0, 1.0)


def r_squared(y_true: Any, y_pred: Any) -> Any:
    """``1 - SS_res / SS_tot`` along the last axis (..., n), or NotImplemented where a
    row's sums are not trusted (a constant ``y_true`` among them: the kernel's rule)."""
    import torch

    if y_true.dtype not in (torch.float32, torch.float64) or y_pred.dtype != y_true.dtype:
        return NotImplemented
    shifted = y_true - y_true[..., :1]  # the mean then keeps the digits of data far from 0
    shifted = shifted - shifted.mean(dim=-1, keepdim=True)
    total_sum = torch.linalg.vecdot(shifted, shifted)
    error = y_pred - y_true
    residual_sum = torch.linalg.vecdot(error, error)
    smallest, largest = torch.aminmax(total_sum.detach())
    rows_trusted = trusted(float(smallest), float(largest), y_true.shape[-1], y_true.dtype)
    if not (rows_trusted and float(torch.amax(residual_sum.detach())) < math.inf):
        return NotImplemented
    return 1 - residual_sum / total_sum


def trusted(smallest_sum: float, largest: float, length: int, dtype: Any) -> bool:
    """Whether sums of ``length`` squares can be trusted: the smallest at least ``length *
    tiny / eps`` of the dtype, the largest (a sum, or its square root) finite; NaN in
    either: False."""
    import torch

    finfo = torch.finfo(dtype)
    return smallest_sum >= length * finfo.tiny / finfo.eps and largest < math.inf
