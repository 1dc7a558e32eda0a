"""The value checks of :func:`.regression.least_squares`: enough samples, finite inputs, and
the messages its rank test raises."""

from __future__ import annotations

from typing import Any, NamedTuple

from ..backends import values_readable
from ..tolerances import dtype_name
from ._checks import first_true


def check_determined(shape: tuple[int, ...], fit_intercept: bool) -> None:
    """Each problem needs at least as many samples as unknowns (the bias counts)."""
    n_samples, n_features = shape[-2:]
    unknowns = n_features + int(fit_intercept)
    if n_samples < unknowns:
        raise ValueError(
            f"least_squares: X has {n_samples} samples for {n_features} features"
            f"{' and an intercept' if fit_intercept else ''}; the problem is underdetermined "
            f"(need n >= {unknowns})"
        )


def non_finite_problems(
    features: Any, targets: Any, feature_means: Any, target_means: Any, *, xp: Any
) -> Any:
    """Raise for NaN or infinity in X or y where values can be read now; else say which.

    A NaN or infinity anywhere in a column makes its mean non-finite, so the means (which
    the fit computes anyway) are all that is read on the normal path.

    Parameters
    ----------
    features : array, shape (1 or B, n, d)
    targets : array, shape (1 or B, n)
    feature_means, target_means : array, shape (1 or B, d) and (1 or B,)

    Returns
    -------
    array of bool, shape (1 or B, 1), or None
        Which problems hold a non-finite value, where the values cannot be read (traced);
        None where they can and all are finite.

    Raises
    ------
    ValueError
        Naming X or y, how many values, and the first one's position.
    """
    feature_bad = xp.logical_not(xp.all(xp.isfinite(feature_means), axis=-1, keepdims=True))
    target_bad = xp.logical_not(xp.isfinite(xp.reshape(target_means, (-1, 1))))
    if not values_readable(feature_bad, target_bad):
        return feature_bad | target_bad
    for name, array, bad in (("X", features, feature_bad), ("y", targets, target_bad)):
        if bool(xp.any(bad)):
            raise ValueError(_non_finite_message(name, array, xp=xp))
    return None


def _non_finite_message(name: str, array: Any, *, xp: Any) -> str:
    """What is wrong with ``array`` (1 or B, n[, d]), whose column sums are not finite."""
    not_finite = xp.logical_not(xp.isfinite(array))
    count = int(xp.sum(xp.astype(not_finite, xp.int32)))
    if count == 0:
        largest = float(xp.max(xp.abs(array)))
        return (
            f"least_squares: the column sums of {name} overflow {dtype_name(array.dtype)} "
            f"(its values reach {largest:.3g}); rescale {name}"
        )
    position = _unravelled(first_true(not_finite, xp=xp), tuple(array.shape))
    labels = ("problem", "sample", "column")[: array.ndim]
    if array.shape[0] == 1:  # no batch axis to name
        position, labels = position[1:], labels[1:]
    at = ", ".join(f"{label} {index}" for label, index in zip(labels, position, strict=True))
    return (
        f"least_squares: {name} contains NaN or infinity ({count} value(s), the first at "
        f"{at}); remove or impute them"
    )


def _unravelled(flat_index: int, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The position of ``flat_index`` in an array of ``shape`` (C order)."""
    position = []
    for size in reversed(shape):
        flat_index, index = divmod(flat_index, size)
        position.append(index)
    return tuple(reversed(position))


class RankSizes(NamedTuple):
    """The sizes a rank error reports: the dependent column's independent part
    (``|R_jj|``), its norm after centring and before (None without an intercept),
    ``max(n, d) * eps`` and eps."""

    part: float
    centred_norm: float
    raw_norm: float | None
    tolerance: float
    eps: float


def rank_message(column: int, where: str, sizes: RankSizes, dtype: Any) -> str:
    """The error for a rank-deficient X whose first dependent column is ``column``."""
    intercept = sizes.raw_norm is not None
    before = "the columns before it" + (
        " and the intercept (a constant column is dependent)" if intercept else ""
    )
    bound = sizes.tolerance * sizes.centred_norm
    terms = f"max(n, d) * eps = {sizes.tolerance:.2g} of its norm"
    if sizes.raw_norm is not None:
        bound += sizes.eps * sizes.raw_norm
        terms += (
            f" after centring, {sizes.centred_norm:.3g}, plus eps of its norm before, "
            f"{sizes.raw_norm:.3g}"
        )
    else:
        terms += f", {sizes.centred_norm:.3g}"
    return (
        f"least_squares: X is rank-deficient{where}: column {column} is, to within "
        f"{dtype_name(dtype)} round-off, a linear combination of {before}; the part of it "
        f"independent of them has norm {sizes.part:.2g}, at most {bound:.2g} ({terms}). "
        f"Drop that column, or use gradient_descent with l2 > 0"
    )
