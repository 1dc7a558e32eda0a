"""The QR solve of :func:`.regression.least_squares`: the factorisation and its rank test
(``mlpillars.backends.dependence_bound``)."""

from __future__ import annotations

from typing import Any

from ..backends import dependence_bound, qr, rank_tolerance, solve_triangular, values_readable
from ._checks import first_true
from ._regression_checks import RankSizes, rank_message


def solve_by_qr(features: Any, targets: Any, raw_norms: Any, *, xp: Any) -> tuple[Any, Any]:
    """Weights (B, d) minimising ``||features w - targets||`` for each problem.

    Parameters
    ----------
    features : array, shape (1 or B, n, d)
        Centred with an intercept.
    targets : array, shape (1 or B, n)
    raw_norms : array, shape (1 or B, d), or None
        With an intercept, the columns' norms before centring, for the rank test (see
        :func:`_rank_deficient`); the norms as factorised are R's columns'.

    Returns
    -------
    weights : array, shape (B, d)
        B the larger of the two leading sizes.
    rank_deficient : array of bool, shape (1 or B, 1)
        Which problems are rank-deficient (all False where it has raised for none).
    """
    n_samples, n_features = features.shape[-2:]
    q, r = qr(features)  # (1 or B, n, d), (1 or B, d, d)
    norms = column_norms(r, xp=xp), raw_norms  # Q keeps each column's norm in R's
    rank_deficient = _rank_deficient(r, norms, n_samples, xp=xp)
    # One design shared by B targets: they are the B columns of one right-hand side, so
    # (1, n, B); else each problem has its own column, (B, n, 1).
    columns = targets.shape[0] if features.shape[0] == 1 else 1
    right_hand_sides = xp.matrix_transpose(xp.reshape(targets, (-1, columns, n_samples)))
    solution = solve_triangular(r, xp.matrix_transpose(q) @ right_hand_sides)
    return xp.reshape(xp.matrix_transpose(solution), (-1, n_features)), rank_deficient


def column_norms(features: Any, *, xp: Any) -> Any:
    """Each column's 2-norm, (1 or B, d), of features (1 or B, n, d), computed without
    overflow: ``s * ||x / s||`` with ``s`` the column's largest magnitude."""
    largest = xp.max(xp.abs(features), axis=-2)  # (1 or B, d)
    divisor = xp.where(largest > 0, largest, xp.ones_like(largest))
    return largest * xp.sqrt(xp.sum((features / divisor[:, None, :]) ** 2, axis=-2))


def _rank_deficient(r: Any, norms: tuple[Any, Any], n_samples: int, *, xp: Any) -> Any:
    """Whether each problem's columns are dependent, judged on the scaled problem.

    ``|R_jj|`` is the norm of the part of column j independent of the columns before it
    (and of the intercept's column of ones, after centring); a column is dependent when
    that part is within round-off (:func:`mlpillars.backends.dependence_bound`):
    ``max(n, d) * eps`` of the centred column's norm, so that a column's units do not
    matter, plus ``eps`` of its norm before centring. ``norms``: the columns' norms as
    factorised and before centring (None without an intercept), each (1 or B, d).
    Raises where R's values can be read (on a GPU after one sync, as NumPy's and
    scikit-learn's fits would); where they cannot (traced), returns which problems are
    rank-deficient, (1 or B, 1), for their weights to be NaN.
    """
    n_features, eps = r.shape[-1], xp.finfo(r.dtype).eps
    independent = xp.abs(xp.linalg.diagonal(r))  # (1 or B, d); a zero column's is 0
    bound = dependence_bound(*norms, n_samples, n_features, eps)
    dependent = independent <= bound
    deficient = xp.any(dependent, axis=-1, keepdims=True)
    if not values_readable(deficient):
        return deficient
    if bool(xp.any(deficient)):
        first = first_true(dependent, xp=xp)
        problem, column = divmod(first, n_features)
        where = f" (problem {problem})" if r.shape[0] > 1 else ""
        sizes = RankSizes(
            part=float(xp.reshape(independent, (-1,))[first]),
            centred_norm=_entry(norms[0], problem, column),
            raw_norm=_entry(norms[1], problem, column),
            tolerance=rank_tolerance(n_samples, n_features, eps),
            eps=float(eps),
        )
        raise ValueError(rank_message(column, where, sizes, r.dtype))
    return deficient


def _entry(norms: Any, problem: int, column: int) -> Any:
    """One column's norm (a float) from norms (1 or B, d), or None where norms is None."""
    if norms is None:
        return None
    return float(norms[problem if norms.shape[0] > 1 else 0, column])
