"""The argument checks of the PCA kernels, and the number of components a float
``n_components`` (a fraction of variance to keep) asks for (``"mle"``'s: :mod:`._pca_mle`)."""

from __future__ import annotations

import numbers
from typing import Any

from ..backends import values_at_hand, values_readable
from ._checks import first_true, shape_text, true_count
from ._floating import check_real_dtype

MLE = "mle"
"""``n_components`` for Minka's MLE of the number of components (:mod:`._pca_mle`)."""


def checked_n_components(
    kernel_name: str, n_components: object, n_samples: int, n_features: int
) -> int | float | str:
    """An int k in [1, min(n, d)], a float fraction in (0, 1), or ``"mle"`` (where
    n >= d), as scikit-learn's PCA takes them; None means min(n, d)."""
    limit = min(n_samples, n_features)
    if n_components is None:
        return limit
    if isinstance(n_components, str) and n_components == MLE:
        if n_samples < n_features:
            raise ValueError(
                f"{kernel_name}: n_components='mle' is only supported if n_samples >= "
                f"n_features (as scikit-learn's), got {n_samples} samples of {n_features} "
                "features; pass an int or a float in (0, 1) for wide data"
            )
        return MLE
    if isinstance(n_components, numbers.Real) and not isinstance(
        n_components, (bool, numbers.Integral)
    ):
        if not 0 < n_components < 1:
            raise ValueError(
                f"{kernel_name}: n_components={n_components!r} as a float is the fraction of "
                "variance to keep and must lie in (0, 1); pass an int for a number of components"
            )
        return float(n_components)
    if isinstance(n_components, bool) or not isinstance(n_components, numbers.Integral):
        raise TypeError(
            f"{kernel_name}: n_components must be an int, a float in (0, 1), 'mle' or None, got "
            f"{type(n_components).__name__} {n_components!r}"
        )
    if not 1 <= n_components <= limit:
        raise ValueError(
            f"{kernel_name}: n_components={n_components} must be between 1 and "
            f"min(n_samples, n_features) = min({n_samples}, {n_features}) = {limit}"
        )
    return int(n_components)


def check_mle_solver(
    kernel_name: str, n_components: object, solver: object, valid: tuple[str, ...]
) -> None:
    """For ``n_components="mle"``, a solver outside ``valid`` (scikit-learn's
    ``"randomized"`` or ``"arpack"``, which give only the first k variances) named as
    such; other values are left to the solver's own check."""
    if isinstance(n_components, str) and n_components == MLE and solver not in valid:
        raise ValueError(
            f"{kernel_name}: n_components='mle' needs all the variances, which only the full "
            f"solvers give (as scikit-learn's 'full' and 'covariance_eigh'): solver must be "
            f"one of {', '.join(map(repr, valid))}, got {solver!r}"
        )


def components_for_variance(
    kernel_name: str, ratios: Any, fraction: float, limit: int, *, xp: Any
) -> int:
    """The fewest leading components whose variance ratios sum to more than ``fraction``
    (scikit-learn's ``searchsorted(cumsum, fraction, side="right") + 1``), at most ``limit``;
    1 for data without variance (ratios all 0; scikit-learn's are NaN, and it keeps 1).

    Raises
    ------
    ValueError
        Where the ratios are traced (``jax.jit``, ``jax.vmap``, ``torch.compile``): the
        count sets the result's shape, so it needs the data's values.
    """
    require_values(kernel_name, fraction, "that fraction of the variance needs", ratios)
    cumulative = xp.cumulative_sum(ratios)
    if not bool(xp.any(cumulative > 0)):  # constant data: no count explains more of nothing
        return 1
    kept = int(xp.sum(xp.astype(cumulative <= fraction, xp.int32))) + 1
    return min(kept, limit)


def require_values(kernel_name: str, n_components: object, chooser: str, values: Any) -> None:
    """Raise ``ValueError`` where ``values`` are traced (``jax.jit``, ``jax.vmap``,
    ``torch.compile``): a count of components that ``chooser`` reads from them sets the
    result's shape."""
    if not values_readable(values):
        raise ValueError(
            f"{kernel_name}: n_components={n_components!r} keeps as many components as "
            f"{chooser}, which depends on the data's values; inside jax.jit, jax.vmap or "
            "torch.compile they are not known. Pass an int n_components"
        )


def check_matrix(kernel_name: str, name: str, X: Any) -> None:
    """Raise unless X is 2-D (n_samples, n_features), with a hint for a 1-D X."""
    if X.ndim != 2:
        hint = (
            f". Reshape your data: {name}.reshape(-1, 1) for one feature or "
            f"{name}.reshape(1, -1) for one sample"
            if X.ndim == 1
            else ""
        )
        raise ValueError(
            f"{kernel_name}: {name} must be 2-D (n_samples, n_features), got {X.ndim}-D "
            f"({name}: {shape_text(X)}){hint}"
        )


def check_finite(kernel_name: str, mean: Any, *, xp: Any) -> None:
    """A NaN or infinity anywhere in a column makes its mean non-finite: no extra pass.

    Wherever the mean's values can be read (on a GPU after one sync, as scikit-learn's
    check of its input makes); traced, the NaN reaches every result instead (the
    covariance or the centred data holds it).
    """
    if not values_readable(mean):
        return
    not_finite = xp.logical_not(xp.isfinite(mean))
    if bool(xp.any(not_finite)):
        count, first = true_count(not_finite, xp=xp), first_true(not_finite, xp=xp)
        raise ValueError(
            f"{kernel_name}: X contains NaN or infinity (or values whose column sum "
            f"overflows) in {count} of its {mean.shape[0]} columns, the first being column "
            f"{first}; remove or impute them before PCA"
        )


def check_finite_input(where: str, projected: Any, X: Any, *, xp: Any) -> None:
    """``ValueError`` where X holds NaN or infinity, as scikit-learn's ``transform``
    checks; read from the projections (n, k), smaller than X, which a non-finite entry
    of X makes non-finite (X itself is read only then: finite data of 1e300 project to
    infinities, which are their values). Only where the values are at hand: never a
    GPU sync or a Dask compute in a transform."""
    if not values_at_hand(projected, X) or bool(xp.all(xp.isfinite(projected))):
        return
    rows = xp.any(xp.logical_not(xp.isfinite(X)), axis=1)
    if bool(xp.any(rows)):
        count, first = true_count(rows, xp=xp), first_true(rows, xp=xp)
        raise ValueError(
            f"{where}: X contains NaN or infinity in {count} of its {X.shape[0]} rows, the "
            f"first being row {first}; remove or impute "
            "them first (X: " + shape_text(X) + ")"
        )


def like_fitted(where: str, X: Any, components: Any, width: tuple[str, int], *, xp: Any) -> Any:
    """X checked to be a matrix of ``width`` (attribute name, value) columns, in the
    components' dtype."""
    check_matrix(where, "X", X)
    check_real_dtype(where, "X", X, xp=xp)
    width_name, expected = width
    if X.shape[1] != expected:
        raise ValueError(
            f"{where}: X has {X.shape[1]} features, but PCA is expecting {expected} "
            f"features as input ({width_name} = {expected}; X: {shape_text(X)}, "
            f"components_: {shape_text(components)})"
        )
    return xp.astype(X, components.dtype, copy=False)
