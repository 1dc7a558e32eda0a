r"""``n_components="mle"``: the number of components Minka's MLE of the dimension
chooses (T. P. Minka, *Automatic choice of dimensionality for PCA*, NIPS 2000), as
scikit-learn's ``_infer_dimension`` and ``_assess_dimension``.

For the d variances :math:`\lambda` of a fit of n >= d samples (descending), each rank
k in [1, d - 1] gets the Laplace approximation of the data's log-likelihood,

.. math:: \ell(k) = p_U + p_\lambda + p_v + p_p - \tfrac12 p_A - \tfrac{k}{2}\log n,

with :math:`v = \max(10^{-15}, \frac{1}{d-k}\sum_{j \ge k}\lambda_j)` the noise variance,
and the count is the first k of the largest :math:`\ell(k)`. As scikit-learn's: a rank
whose last kept variance is below :math:`10^{-15}` (in the data's units) gets
:math:`-\infty`, and where every rank does (constant data, one feature, variances all
below :math:`10^{-15}`), the count is 0.

Computed on the host in float64, from the fit's variances in units of ``unit**2`` (the
logarithm of the unit added where it does not cancel, so data of 1e-200 or 1e200 neither
underflow nor overflow), O(d^2) (scikit-learn's loops are O(d^3)). A rank whose
:math:`p_A` would take the logarithm of 0 (tied variances) gets :math:`-\infty`, where
scikit-learn raises ``ValueError: math domain error``.
"""

from __future__ import annotations

import math
from typing import Any

import array_api_compat as aac

from ..backends import host_arrays
from ._pca_checks import require_values

SPECTRUM_FLOOR = 1e-15
"""scikit-learn's ``eps`` in ``_assess_dimension``: variances below it end the ranks tried,
and the noise variance is at least it."""


def mle_components(kernel_name: str, variances: Any, unit: Any, n_samples: int) -> int:
    """The rank in [1, d - 1] of the largest log-likelihood, 0 where none is finite.

    Parameters
    ----------
    variances : array, shape (d,)
        All the fit's variances, descending, in units of ``unit**2``.
    unit : float or array, shape () or (1,)
        Positive.
    n_samples : int

    Raises
    ------
    ValueError
        Where the variances are traced (``jax.jit``, ``jax.vmap``, ``torch.compile``).
    """
    require_values(kernel_name, "mle", "Minka's MLE of the dimension chooses", variances)
    spectrum, unit_host = host_arrays((variances, unit))
    hxp = aac.array_namespace(spectrum)
    spectrum = hxp.astype(spectrum, hxp.float64)
    log_scale = 2.0 * math.log(float(hxp.reshape(unit_host, (-1,))[0]))
    likelihoods = log_likelihoods(spectrum, log_scale, n_samples, xp=hxp)
    best = max(likelihoods, default=-math.inf)
    return 0 if best == -math.inf else likelihoods.index(best) + 1


def log_likelihoods(spectrum: Any, log_scale: float, n_samples: int, *, xp: Any) -> list[float]:
    """:math:`\\ell(k)` for k = 1, ..., d - 1 (module docstring): the variances are
    ``spectrum * exp(log_scale)``, ``spectrum`` (d,) float64 descending."""
    n_features = spectrum.shape[0]
    ranks = _ranks_above_floor(spectrum, log_scale, xp=xp)
    results = [-math.inf] * (n_features - 1)
    log_n = math.log(n_samples)
    prior = 0.0  # p_U, summed over the ranks
    sum_log = 0.0  # sum of log(spectrum[:k])
    tied = 0.0  # the pairs i < j < k of p_A
    straddling = 0.0  # sum over i < k <= j of log(spectrum[i] - spectrum[j])
    tails = xp.flip(xp.cumulative_sum(xp.flip(spectrum, axis=0)), axis=0)  # sums of [k:]
    for rank in range(1, ranks + 1):
        last = rank - 1  # the variance this rank adds
        head, value = spectrum[:last], spectrum[last]
        if last > 0:
            pairs = (head - value) * (1.0 / value - 1.0 / head)
            if not bool(xp.all(pairs > 0)):
                break  # tied variances: a log of 0 in this rank's p_A and every later one's
            tied += float(xp.sum(xp.log(pairs)))
            straddling -= float(xp.sum(xp.log(head - value)))
        gaps = value - spectrum[rank:]
        if not bool(xp.all(gaps > 0)):
            break  # tied with the next: a log of 0 here, in p_A's pairs from the next rank on
        straddling += float(xp.sum(xp.log(gaps)))
        sum_log += math.log(float(value))
        prior += _prior_term(n_features, rank)
        noise, log_noise = _noise(float(tails[rank]) / (n_features - rank), log_scale)
        inverse_gaps = 1.0 / noise - 1.0 / spectrum[:rank]
        if not bool(xp.all(inverse_gaps > 0)):
            continue  # the noise variance equals a kept one: a log of 0, this rank only
        kept_noise = (n_features - rank) * float(xp.sum(xp.log(inverse_gaps)))
        n_pairs = rank * (n_features - 1) - rank * (rank - 1) // 2
        log_pairs = tied + straddling + kept_noise + n_pairs * log_n
        fit = -(sum_log + rank * log_scale) - log_noise * (n_features - rank)
        results[last] = (
            prior
            + fit * n_samples / 2.0
            + _parameters_term(n_features, rank)
            - log_pairs / 2.0
            - rank * log_n / 2.0
        )
    return results


def _ranks_above_floor(spectrum: Any, log_scale: float, *, xp: Any) -> int:
    """The largest rank to try: how many leading variances are at least the floor, at
    most d - 1 (compared as logarithms, the unit's too)."""
    floor = math.log(SPECTRUM_FLOOR) - log_scale
    positive = spectrum > 0
    logs = xp.log(xp.where(positive, spectrum, xp.ones_like(spectrum)))
    below = xp.logical_not(positive & (logs >= floor))
    leading = int(xp.argmax(xp.astype(below, xp.int8))) if bool(xp.any(below)) else below.shape[0]
    return min(leading, spectrum.shape[0] - 1)


def _noise(tail_mean: float, log_scale: float) -> tuple[float, float]:
    """v = max(floor, the mean of the variances left out), in units of ``unit**2`` and as
    the logarithm of its value in the data's units."""
    log_floor = math.log(SPECTRUM_FLOOR)
    if tail_mean > 0 and math.log(tail_mean) + log_scale > log_floor:
        return tail_mean, math.log(tail_mean) + log_scale
    return math.exp(log_floor - log_scale), log_floor


def _prior_term(n_features: int, rank: int) -> float:
    """The term ``rank`` adds to :math:`p_U` (the uniform prior on the subspace)."""
    half = (n_features - rank + 1) / 2.0
    return -math.log(2.0) + math.lgamma(half) - math.log(math.pi) * half


def _parameters_term(n_features: int, rank: int) -> float:
    """:math:`p_p = \\frac{m + k}{2}\\log 2\\pi`, m = d k - k (k + 1) / 2."""
    free = n_features * rank - rank * (rank + 1) / 2.0
    return math.log(2.0 * math.pi) * (free + rank) / 2.0
