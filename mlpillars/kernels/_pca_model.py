r"""The probabilistic model of a PCA fit, behind ``PCA.get_covariance``,
``PCA.get_precision``, ``PCA.score_samples`` and ``PCA.score`` (scikit-learn's names).

Probabilistic PCA (Tipping and Bishop, 1999; Bishop, *Pattern Recognition and Machine
Learning*, 12.2) models the data as Gaussian with mean :math:`\mu` and covariance

.. math:: C = V^\top \operatorname{diag}(\lambda - \sigma^2)_+ V + \sigma^2 I
            = V^\top \operatorname{diag}(m) V + \sigma^2 (I - V^\top V),
          \qquad m_i = \max(\lambda_i, \sigma^2),

V the k components (orthonormal rows), :math:`\lambda` their variances and
:math:`\sigma^2` the noise variance: the mean of the variances the fit left out (0 where
k = min(n, d)). The second form gives the inverse and the likelihood without inverting a
matrix: :math:`C^{-1} = V^\top \operatorname{diag}(1/m) V + (I - V^\top V) / \sigma^2`, and
for a centred sample :math:`r` with :math:`z = V r` and the part off the components
:math:`r_\perp = r - V^\top z`,

.. math:: \log p(x) = -\tfrac12 \Big(\sum_i \frac{z_i^2}{m_i}
          + \frac{\lVert r_\perp\rVert^2}{\sigma^2} + d \log 2\pi
          + \sum_i \log m_i + (d - k) \log \sigma^2\Big),

a sum of non-negative terms (scikit-learn's :math:`r^\top C^{-1} r` by a precision from
the matrix inversion lemma cancels where :math:`\sigma^2` is small). Where k = d there is
no :math:`\sigma^2` term. The kernels take the spreads :math:`\sqrt{\lambda}` and
:math:`\sigma`, not the variances, which pass the dtype's range first (float32 data of
1e30: variances of 1e60 are inf, made the log-likelihood -inf where it is about -70 d; of
1e-30: variances of 1e-60 are 0, made the model singular): the log-likelihood takes
:math:`z_i / \sqrt{m_i}` and :math:`2 \log \sqrt{m_i}`, C and its inverse are built in
units of a spread and scaled back (inf where an entry is past the range). The model is
singular where :math:`\sigma = 0` with k < d (as many components as samples) or, with
k = d, a spread is 0 (a constant column): ``ValueError`` wherever the values can be read
(scikit-learn raises LinAlgError or returns NaN there), infinities or NaN where they
cannot (traced).

The model is the data's, whether the PCA whitens or not: scikit-learn's, with
``whiten=True``, scales the components by :math:`\sqrt{\lambda}` first (its issue 13898),
which gives a covariance in units of the data's to the fourth power; for ``whiten=False``
the two agree.
"""

from __future__ import annotations

import math
from typing import Any

from ..backends import device_of, kernel, values_readable
from ._floating import narrowed, widened
from ._pca_checks import like_fitted

MODEL_ARRAYS = ("components", "spreads", "noise_spread")
r"""The fitted arrays the model is made of, in the kernels' order: V, the components'
spreads :math:`\sqrt{\lambda}` and the noise's :math:`\sigma`."""


def noise_variance(variances: Any, kept: int, limit: int, *, xp: Any) -> Any:
    """:math:`\\sigma^2`, the mean of the variances past the ``kept`` first (0-d; 0 where
    ``kept`` reaches ``limit`` = min(n, d)): over all the solver's variances, as
    scikit-learn's (d of them for the covariance solver, min(n, d) for the SVD)."""
    if kept >= limit:
        return xp.zeros((), dtype=variances.dtype, device=device_of(variances))
    return xp.mean(variances[kept:])


@kernel(arrays=MODEL_ARRAYS, register=False, name="PCA.get_covariance")
def pca_covariance(components: Any, spreads: Any, noise_spread: Any, /, *, xp: Any) -> Any:
    """``PCA.get_covariance``'s kernel: the model's covariance C (d, d) (module docstring),
    built in units of the largest spread and scaled back: inf where an entry is past the
    dtype's range, 0 where it is 0 (from the variances, float32 data of 1e30 got NaN there:
    inf times a component's 0).

    Parameters
    ----------
    components, spreads, noise_spread : array, shape (k, d), (k,) and ()
        The fit's V, :math:`\\sqrt{\\lambda}` and :math:`\\sigma`.

    Returns
    -------
    array, shape (d, d)
        In the components' dtype (computed in float32 for float16 and bfloat16).
    """
    axes, spreads, noise = (widened(a, xp=xp) for a in (components, spreads, noise_spread))
    largest = xp.maximum(xp.max(spreads), noise) if spreads.shape[0] else noise  # "mle": k = 0
    unit = _nonzero(largest, xp=xp)
    scaled_noise = (noise / unit) ** 2
    excess = xp.clip((spreads / unit) ** 2 - scaled_noise, min=0.0)
    scaled = (xp.matrix_transpose(axes) * excess) @ axes + scaled_noise * _identity(axes, xp=xp)
    return narrowed((scaled * unit) * unit, components, xp=xp)


@kernel(arrays=MODEL_ARRAYS, register=False, name="PCA.get_precision")
def pca_precision(components: Any, spreads: Any, noise_spread: Any, /, *, xp: Any) -> Any:
    """``PCA.get_precision``'s kernel: :math:`C^{-1}` (d, d), from the model's form, not
    by inverting C (module docstring), in units of the smallest model spread u:
    :math:`(V^\\top \\operatorname{diag}(u^2 / m) V + (I - V^\\top V) u^2 / \\sigma^2) / u^2`,
    inf where an entry is past the dtype's range.

    Parameters
    ----------
    components, spreads, noise_spread : array, shape (k, d), (k,) and ()

    Returns
    -------
    array, shape (d, d)

    Raises
    ------
    ValueError
        Where the model is singular and the values can be read.
    """
    axes, spreads, noise = (widened(a, xp=xp) for a in (components, spreads, noise_spread))
    model_spreads = _check_regular("PCA.get_precision", spreads, noise, axes.shape, xp=xp)
    k, d = axes.shape
    unit = noise if k < d else xp.min(model_spreads)  # the smallest: sigma <= each m_i
    within = (xp.matrix_transpose(axes) * (unit / model_spreads) ** 2) @ axes
    if k < d:
        within = within + (_identity(axes, xp=xp) - xp.matrix_transpose(axes) @ axes)
    return narrowed((within / unit) / unit, components, xp=xp)


SCORED_ARRAYS = ("X", *MODEL_ARRAYS, "mean", "mean_rounding")
"""The score kernels' arrays: the samples, the model and the fit's means."""


@kernel(arrays=SCORED_ARRAYS, register=False, name="PCA.score_samples")
def pca_score_samples(
    X: Any,
    components: Any,
    spreads: Any,
    noise_spread: Any,
    mean: Any,
    mean_rounding: Any,
    /,
    *,
    xp: Any,
) -> Any:
    """``PCA.score_samples``'s kernel: each sample's log-likelihood under the model.

    Parameters
    ----------
    X : array, shape (n, d)
    components, spreads, noise_spread : array, shape (k, d), (k,) and ()
        The fit's V, :math:`\\sqrt{\\lambda}` and :math:`\\sigma`.
    mean, mean_rounding : array, shape (d,)
        The fit's column means and their rounding.

    Returns
    -------
    array, shape (n,)
        :math:`\\log p(x)` (module docstring), in the components' dtype (computed in
        float32 for float16 and bfloat16).

    Raises
    ------
    ValueError
        Where the model is singular and the values can be read.
    """
    arrays = (X, components, spreads, noise_spread, mean, mean_rounding)
    log_likelihoods = _log_likelihoods("PCA.score_samples", *arrays, xp=xp)
    return narrowed(log_likelihoods, components, xp=xp)


@kernel(arrays=SCORED_ARRAYS, register=False, name="PCA.score")
def pca_score(
    X: Any,
    components: Any,
    spreads: Any,
    noise_spread: Any,
    mean: Any,
    mean_rounding: Any,
    /,
    *,
    xp: Any,
) -> Any:
    """``PCA.score``'s kernel: the mean of :func:`pca_score_samples` (0-d array); the
    arrays as there."""
    arrays = (X, components, spreads, noise_spread, mean, mean_rounding)
    log_likelihoods = _log_likelihoods("PCA.score", *arrays, xp=xp)
    return narrowed(xp.mean(log_likelihoods), components, xp=xp)


def _log_likelihoods(
    where: str,
    X: Any,
    components: Any,
    spreads: Any,
    noise_spread: Any,
    mean: Any,
    mean_rounding: Any,
    *,
    xp: Any,
) -> Any:
    """Each sample's :math:`\\log p(x)` (n,) (module docstring), from the spreads (whose
    squares may pass the dtype's range where the log-likelihood does not), in float32 for
    half precision; ``where`` names the method in errors."""
    X = like_fitted(where, X, components, ("n_features_in_", components.shape[1]), xp=xp)
    arrays = (X, components, spreads, noise_spread, mean, mean_rounding)
    X, axes, spreads, noise, mean, rounding = (widened(a, xp=xp) for a in arrays)
    model_spreads = _check_regular(where, spreads, noise, axes.shape, xp=xp)
    centred = (X - mean) - rounding
    along = centred @ xp.matrix_transpose(axes)  # (n, k)
    squares = xp.sum((along / model_spreads) ** 2, axis=1)
    log_determinant = 2 * xp.sum(xp.log(model_spreads))
    k, d = axes.shape
    if k < d:
        off = centred - along @ axes
        squares = squares + xp.sum((off / noise) ** 2, axis=1)
        log_determinant = log_determinant + 2 * (d - k) * xp.log(noise)
    return -0.5 * (squares + (d * math.log(2 * math.pi) + log_determinant))


def _check_regular(where: str, spreads: Any, noise: Any, shape: tuple, *, xp: Any) -> Any:
    """The model's spreads along the components, :math:`\\sqrt{m} = \\max(\\sqrt{\\lambda},
    \\sigma)` (k,), after ``ValueError`` where C is singular and the values can be read."""
    model_spreads = xp.maximum(spreads, noise)
    k, d = (int(size) for size in shape)
    if not values_readable(model_spreads, noise):
        return model_spreads
    if k < d and not float(noise) > 0:
        raise ValueError(
            f"{where}: the model's covariance is singular: its noise variance is 0 with "
            f"{k} components of {d} features (k = min(n_samples, n_features), or the "
            "variances left out are all 0); fit with fewer components"
        )
    if k == d and not float(xp.min(model_spreads)) > 0:
        raise ValueError(
            f"{where}: the model's covariance is singular: all {d} components are kept "
            "(noise variance 0) and one has variance 0 (a constant feature, or one that "
            "is a combination of others); fit with fewer components"
        )
    return model_spreads


def _nonzero(scale: Any, *, xp: Any) -> Any:
    """``scale`` (0-d), 1 where it is 0 (constant data: a covariance of 0)."""
    return xp.where(scale > 0, scale, xp.ones_like(scale))


def _identity(axes: Any, *, xp: Any) -> Any:
    return xp.eye(axes.shape[1], dtype=axes.dtype, device=device_of(axes))
