"""Our kernels against the native calls: per case, median(ours) / median(native) and the
overhead of our call in microseconds.

A native call is what a user would write instead, on the same backend: a framework's own
function (``torch.softmax``, jitted ``jax.nn.softmax``), a SciPy or scikit-learn function,
plain NumPy, or the Numba and pure-Python loops (on NumPy arrays). The ratio is the one
issue 9's targets are stated in: 1.05x means 5 % slower than the native call; the overhead
is what each call of ours costs over it, which on tiny inputs is dispatch and checks. Where
a native call's case was timed again in rounds alternating with ours
(:mod:`mlpillars.bench.interleaved`), both figures come from those rounds.
"""

from __future__ import annotations

from ..text import NONE, format_seconds, ratio_interval
from .analysis import RunAnalysis, case_key, size_label
from .conditions import busy_mark
from .document import Block, Paragraph, Table
from .pairs import NativePair, PairFigures


def native_table(analysis: RunAnalysis, kernel: str) -> list[Block]:
    """The table of ``kernel``'s native pairs (none when no native call ran beside it)."""
    pairs = analysis.native_pairs(kernel)
    if not pairs:
        return []
    header = (
        "case",
        "ours",
        "native call",
        "ours",
        "native",
        "ours / native [95% CI]",
        "overhead per call",
        "rounds",
    )
    return [
        Paragraph(
            f"**{kernel} against the native calls** on the same backend: ours / native is "
            "median(ours) / median(native), above 1 when ours is slower (the ratio issue 9's "
            "targets are stated in); overhead is median(ours) - median(native) per call. "
            "Where rounds says *alternating*, the two were timed again in rounds side by "
            "side (a block of each, the order swapped every round): the times are medians "
            "of those rounds, the ratio the median of the per-round ratios, the overhead "
            "the median of the per-round differences, so the host's drift over the run "
            "cancels in each round. Otherwise each case's own rounds, timed apart (n/m "
            "rounds)."
        ),
        Table(header, tuple(_row(pair) for pair in sorted(pairs, key=_order)), "lllrrrrl"),
    ]


def _row(pair: NativePair) -> tuple[str, ...]:
    return (
        size_label(case_key(pair.ours)),
        pair.ours["implementation"],
        pair.native["implementation"],
        format_seconds(pair.figures.first_median) + busy_mark(pair.ours),
        format_seconds(pair.figures.second_median) + busy_mark(pair.native),
        ratio_interval(pair.figures.ratio),
        _signed_seconds(pair.figures.overhead_seconds),
        pair_rounds(pair.figures),
    )


def pair_rounds(figures: PairFigures) -> str:
    """``12 alternating``, or ``7/9`` for each case's own rounds."""
    if figures.alternated:
        return f"{figures.ratio.rounds[0]} alternating"
    return "/".join(str(count) for count in figures.ratio.rounds)


def _signed_seconds(seconds: float | None) -> str:
    """``+115 µs`` or ``-2.8 µs``: what ours costs over the native call, per call."""
    if seconds is None:
        return NONE
    return ("+" if seconds >= 0 else "-") + format_seconds(abs(seconds))


def _order(pair: NativePair) -> tuple:
    _, size, dtype, variant = case_key(pair.ours)
    return variant, size, dtype, pair.ours["implementation"], pair.native["implementation"]
