"""The statistics the report applies to its own numbers: one home for the policy.

Every figure rests on the raw timed rounds of a case (``rounds`` in ``cases.jsonl``):

- A median carries a 95 % percentile-bootstrap interval (:func:`median_estimate`).
- A ratio between two implementations, or between two runs of one case, is the ratio of the
  two medians with a 95 % bootstrap interval from ``scipy.stats.bootstrap`` on the two samples
  resampled independently (``paired=False``): rounds of two cases are not paired by index.
  The percentile method is used rather than BCa because BCa needs a jackknife that breaks down
  (NaN, warnings) on the few, often tied rounds a short suite records. 2000 resamples with a
  fixed seed make every report reproducible and keep a report of a few hundred cases fast.
- Our kernel against a native call timed in alternating rounds (``alternated`` in a native
  call's row, :mod:`mlpillars.bench.interleaved`): round ``i`` of each was timed side by
  side, so the ratio is the median of the per-round ratios, its interval a bootstrap of that
  median (:func:`paired_ratio_estimate`), its test the two-sided Wilcoxon signed-rank test of
  the per-round log ratios (:func:`compare_paired`): the host's drift over the run cancels in
  each round's ratio.
- Fewer than :data:`MIN_ROUNDS` rounds on either side: no interval and no test, and the report
  says so instead of printing a number it cannot back.
- A difference is called significant only when ``scipy.stats.mannwhitneyu`` (two-sided) gives
  ``p < ALPHA`` *and* the ratio of medians is beyond the factor gate (``>= FACTOR`` or
  ``<= 1 / FACTOR``). These are asv's ``asv compare`` choices (p < 0.002, 1.1x): the small p
  keeps false alarms rare when hundreds of cases are compared at once, and the factor gate
  ignores differences too small to matter even when they are real. Otherwise the verdict is
  "no significant difference". With few rounds the exact test cannot reach ``ALPHA`` at all
  (5 against 5 rounds: the smallest p is 0.008); the verdict then says so.
- A case is noisy when its interquartile range exceeds :data:`NOISE_LIMIT` of its median
  (torch.utils.benchmark's warning threshold).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
"""Confidence level of every interval."""
N_RESAMPLES = 2000
"""Bootstrap resamples per interval."""
SEED = 20261125
"""Seed of every bootstrap, so that a report is reproducible."""
MIN_ROUNDS = 3
"""Fewer rounds than this on either side: no interval, no test."""
ALPHA = 0.002
"""Mann-Whitney U p-value below which a difference may be called significant (asv's choice)."""
FACTOR = 1.1
"""Ratio of medians a significant difference must also exceed (asv's choice)."""
NOISE_LIMIT = 0.10
"""IQR / median above which a case is flagged noisy."""

FASTER, SLOWER, SAME = "faster", "slower", "no significant difference"


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its confidence interval, and what it rests on.

    Attributes
    ----------
    value : float
        The median, or the ratio of two medians.
    low, high : float or None
        The 95 % interval; ``None`` when there were too few rounds (``note`` says why).
    rounds : tuple of int
        How many rounds each sample held.
    note : str
        Why there is no interval, or ``""``.
    """

    value: float
    low: float | None
    high: float | None
    rounds: tuple[int, ...]
    note: str = ""

    @property
    def has_interval(self) -> bool:
        """Whether a confidence interval was computed."""
        return self.low is not None and self.high is not None


@dataclass(frozen=True)
class Verdict:
    """How a candidate's times compare with a reference's.

    Attributes
    ----------
    ratio : Estimate
        Candidate median / reference median: above 1 the candidate is slower.
    p_value : float or None
        Two-sided Mann-Whitney U p-value; ``None`` when there were too few rounds.
    label : str
        :data:`FASTER`, :data:`SLOWER` or :data:`SAME`.
    note : str
        Why a difference could not be called significant, or ``""``.
    """

    ratio: Estimate
    p_value: float | None
    label: str
    note: str = ""

    @property
    def significant(self) -> bool:
        """Whether the difference passed both the test and the factor gate."""
        return self.label != SAME


def median_estimate(rounds: Sequence[float]) -> Estimate:
    """The median of ``rounds`` with a bootstrap confidence interval."""
    sample = np.asarray(rounds, dtype=float)
    value = float(np.median(sample))
    if sample.size < MIN_ROUNDS:
        return Estimate(value, None, None, (sample.size,), _too_few(sample.size))
    low, high = _bootstrap((sample,), _median)
    return Estimate(value, low, high, (sample.size,))


def ratio_estimate(numerator: Sequence[float], denominator: Sequence[float]) -> Estimate:
    """``median(numerator) / median(denominator)`` with a bootstrap confidence interval.

    The two samples are resampled independently (``paired=False``).
    """
    top, bottom = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    value = float(np.median(top) / np.median(bottom))
    sizes = (top.size, bottom.size)
    if min(sizes) < MIN_ROUNDS:
        return Estimate(value, None, None, sizes, _too_few(min(sizes)))
    low, high = _bootstrap((top, bottom), _ratio_of_medians)
    return Estimate(value, low, high, sizes)


def paired_ratio_estimate(numerator: Sequence[float], denominator: Sequence[float]) -> Estimate:
    """The median of ``numerator[i] / denominator[i]`` over rounds timed side by side, with
    a bootstrap confidence interval of that median."""
    top, bottom = np.asarray(numerator, dtype=float), np.asarray(denominator, dtype=float)
    if top.shape != bottom.shape:
        raise ValueError(
            f"paired rounds differ in number: {top.size} against {bottom.size}; pairs need "
            "one round of each"
        )
    by_round = median_estimate(top / bottom)
    return Estimate(
        by_round.value, by_round.low, by_round.high, (top.size, bottom.size), by_round.note
    )


def compare_rounds(candidate: Sequence[float], reference: Sequence[float]) -> Verdict:
    """Whether ``candidate`` is significantly faster or slower than ``reference``.

    Significant means Mann-Whitney U ``p < ALPHA`` and a ratio of medians beyond ``FACTOR``.
    """
    ratio = ratio_estimate(candidate, reference)
    if not ratio.has_interval:
        return Verdict(ratio, None, SAME, ratio.note)
    p_value = float(stats.mannwhitneyu(candidate, reference, alternative="two-sided").pvalue)
    rounds = f"{ratio.rounds[0]}/{ratio.rounds[1]} rounds"
    return _gated(ratio, p_value, smallest_p_value(*ratio.rounds), rounds)


def compare_paired(candidate: Sequence[float], reference: Sequence[float]) -> Verdict:
    """:func:`compare_rounds` for rounds timed side by side (round ``i`` of each): the
    ratio is the median of the per-round ratios (:func:`paired_ratio_estimate`), the test
    the two-sided Wilcoxon signed-rank test of their logarithms against 0, with the same
    ``ALPHA`` and ``FACTOR`` gates."""
    ratio = paired_ratio_estimate(candidate, reference)
    if not ratio.has_interval:
        return Verdict(ratio, None, SAME, ratio.note)
    log_ratios = np.log(np.asarray(candidate, dtype=float) / np.asarray(reference, dtype=float))
    if not np.any(log_ratios):
        return Verdict(ratio, 1.0, SAME, "every round's ratio is 1")
    p_value = float(stats.wilcoxon(log_ratios, alternative="two-sided").pvalue)
    smallest = 2.0 / 2**log_ratios.size  # every sign the same
    return _gated(ratio, p_value, smallest, f"{log_ratios.size} paired rounds")


def _gated(ratio: Estimate, p_value: float, smallest: float, rounds: str) -> Verdict:
    """The verdict of a test's ``p_value`` on ``ratio``: significant below ``ALPHA`` with the
    ratio beyond ``FACTOR``; else why not (``smallest``: the least p the test can give)."""
    beyond_gate = ratio.value >= FACTOR or ratio.value <= 1 / FACTOR
    if p_value < ALPHA and beyond_gate:
        return Verdict(ratio, p_value, SLOWER if ratio.value > 1 else FASTER)
    if smallest >= ALPHA:
        note = f"{rounds}: p cannot go below {smallest:.2g}"
    elif p_value < ALPHA:
        note = f"p = {p_value:.2g}, but the ratio is within the {FACTOR}x gate"
    else:
        note = f"p = {p_value:.2g}"
    return Verdict(ratio, p_value, SAME, note)


@lru_cache(maxsize=256)
def smallest_p_value(rounds_a: int, rounds_b: int) -> float:
    """The smallest p the two-sided test can give with these sample sizes (fully separated)."""
    separated = stats.mannwhitneyu(
        np.arange(rounds_a), np.arange(rounds_a, rounds_a + rounds_b), alternative="two-sided"
    )
    return float(separated.pvalue)


def relative_iqr(rounds: Sequence[float]) -> float:
    """Interquartile range over median of ``rounds``."""
    sample = np.asarray(rounds, dtype=float)
    return float(stats.iqr(sample) / np.median(sample))


def is_noisy(rounds: Sequence[float]) -> bool:
    """Whether IQR / median exceeds :data:`NOISE_LIMIT`."""
    return len(rounds) > 1 and relative_iqr(rounds) > NOISE_LIMIT


def policy_lines() -> list[str]:
    """The policy in a few sentences, for the report."""
    return [
        f"Times are medians of the timed rounds; intervals are {CONFIDENCE:.0%} percentile "
        f"bootstrap intervals (scipy.stats.bootstrap, {N_RESAMPLES} resamples, seed {SEED}).",
        "A ratio (speed-up, or one run against another) is the ratio of two medians; its "
        "interval resamples the two sets of rounds independently (paired=False); our kernel "
        "against a native call timed in alternating rounds is the median of the per-round "
        "ratios, its interval a bootstrap of that median, its test the Wilcoxon signed-rank "
        "test of the per-round log ratios (same p and factor gates).",
        f"A case with fewer than {MIN_ROUNDS} rounds gets no interval and no test.",
        f"A difference is significant only when the two-sided Mann-Whitney U test gives "
        f"p < {ALPHA} and the ratio of medians is at least {FACTOR}x either way (asv's "
        f"choices); otherwise: {SAME}. With few rounds the test cannot reach p < {ALPHA} "
        f"(5 against 5 rounds: p >= {smallest_p_value(5, 5):.3f}), and the verdict says so.",
        f"Noisy: interquartile range above {NOISE_LIMIT:.0%} of the median (flagged ~).",
        "Each figure says how many rounds it rests on (n, or n/m for a ratio).",
    ]


def _too_few(rounds: int) -> str:
    return f"{rounds} round{'s' if rounds != 1 else ''}: too few for an interval (< {MIN_ROUNDS})"


def _bootstrap(samples: tuple[np.ndarray, ...], statistic) -> tuple[float, float]:
    result = stats.bootstrap(
        samples,
        statistic,
        paired=False,
        vectorized=True,
        n_resamples=N_RESAMPLES,
        confidence_level=CONFIDENCE,
        method="percentile",
        rng=np.random.default_rng(SEED),
    )
    interval = result.confidence_interval
    return float(interval.low), float(interval.high)


def _median(sample: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(sample, axis=axis)


def _ratio_of_medians(top: np.ndarray, bottom: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.median(top, axis=axis) / np.median(bottom, axis=axis)
