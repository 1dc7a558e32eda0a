"""Our kernels against the native calls: per case, median(ours) / median(native) and the
overhead of our call in microseconds.

A native call is what a user would write instead, on the same backend: a framework's own
function (``torch.softmax``, jitted ``jax.nn.softmax``), a SciPy or scikit-learn function,
plain NumPy, or the Numba and pure-Python loops (on NumPy arrays). The ratio is the one
issue 9's targets are stated in: 1.05x means 5 % slower than the native call; the overhead
is what each call of ours costs over it, which on tiny inputs is dispatch and checks.
"""

from __future__ import annotations

from ..text import NONE, format_seconds, ratio_interval
from .analysis import NativePair, RunAnalysis, case_key, size_label
from .conditions import busy_mark
from .document import Block, Paragraph, Table


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
    )
    return [
        Paragraph(
            f"**{kernel} against the native calls** on the same backend: ours / native is "
            "median(ours) / median(native), above 1 when ours is slower (the ratio issue 9's "
            "targets are stated in); overhead is median(ours) - median(native) per call."
        ),
        Table(header, tuple(_row(pair) for pair in sorted(pairs, key=_order)), "lllrrrr"),
    ]


def _row(pair: NativePair) -> tuple[str, ...]:
    return (
        size_label(case_key(pair.ours)),
        pair.ours["implementation"],
        pair.native["implementation"],
        format_seconds(pair.ours["median"]) + busy_mark(pair.ours),
        format_seconds(pair.native["median"]) + busy_mark(pair.native),
        ratio_interval(pair.ratio),
        _signed_seconds(pair.overhead_seconds),
    )


def _signed_seconds(seconds: float | None) -> str:
    """``+115 µs`` or ``-2.8 µs``: what ours costs over the native call, per call."""
    if seconds is None:
        return NONE
    return ("+" if seconds >= 0 else "-") + format_seconds(abs(seconds))


def _order(pair: NativePair) -> tuple:
    _, size, dtype, variant = case_key(pair.ours)
    return variant, size, dtype, pair.ours["implementation"], pair.native["implementation"]
