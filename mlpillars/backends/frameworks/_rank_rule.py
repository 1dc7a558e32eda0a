"""When a least-squares column is dependent: one rule for the kernel and every framework's
own fit.

Column j is dependent when the part of it independent of the columns before it (``|R_jj|``
of the QR) is at most :func:`rank_tolerance` of its own norm: the R of X scaled to unit
columns, as LAPACK's ``gelsy`` tests it, so that a column's units do not matter.
"""

from __future__ import annotations


def rank_tolerance(n_samples: int, n_features: int, eps: float) -> float:
    """``max(n, d) * eps``: the largest relative ``|R_jj|`` of a dependent column."""
    return max(n_samples, n_features) * float(eps)
