"""When a least-squares column is dependent: one rule for the kernel and every framework's
own fit.

Column j is dependent when the part of it independent of the columns before it (``|R_jj|``
of the QR of the centred design) is at most :func:`dependence_bound`:

- ``max(n, d) * eps`` of its own norm after centring: the R of X scaled to unit columns,
  as LAPACK's ``gelsy`` tests it, so that a column's units do not matter;
- plus, with an intercept, ``eps`` of its norm before centring: a column that varies by
  no more than its values' own round-off is the intercept's (a constant column stored
  with rounding), while float32 data of 1e4 +- 1, whose spread is a thousand times that,
  is not. (The scaled test of ``[X | 1]`` once judged such data by ``max(n, d) * eps`` of
  the uncentred norm: n = 2000 samples refused it.)
"""

from __future__ import annotations

from typing import Any


def rank_tolerance(n_samples: int, n_features: int, eps: float) -> float:
    """``max(n, d) * eps``: the largest ``|R_jj|`` of a dependent column, relative to
    its norm after centring."""
    return max(n_samples, n_features) * float(eps)


def dependence_bound(
    centred_norms: Any, raw_norms: Any | None, n_samples: int, n_features: int, eps: float
) -> Any:
    """The largest ``|R_jj|`` of a dependent column j, for each column (1 or B, d).

    Parameters
    ----------
    centred_norms : array, shape (1 or B, d)
        Each column's 2-norm after centring (without an intercept: as given).
    raw_norms : array, shape (1 or B, d), or None
        Each column's 2-norm before centring; None without an intercept.
    """
    bound = rank_tolerance(n_samples, n_features, eps) * centred_norms
    return bound if raw_norms is None else bound + float(eps) * raw_norms
