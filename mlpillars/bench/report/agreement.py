"""Agreement as data: how far each implementation's results were from the float64 NumPy
reference, against the tolerance it was held to, and the settings that change the numbers.

The gate records per case ``max_abs_error``, ``max_rel_error`` (the largest error over the
reference's largest magnitude), ``tolerance_fraction`` (the largest error over what the
tolerance rule allows at that element: at most 1 passes) and the ``rtol``/``atol`` held to.
A run written before those fields existed has only ``max_abs_error`` and ``correct``: its
tolerance is read from today's table, and its share of the tolerance is known only up to
``max_abs_error / atol`` (the rule allows at least ``atol``), and at most 1 when it passed.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from ...tolerances import TOLERANCES
from ..run_folder import WRONG
from ..text import NONE, percent
from .document import Block, Details, Heading, Paragraph, Table
from .families import framework_of

HALF = 0.5
"""A result that used more than this share of its tolerance is flagged."""
_SETTING_WORDS = ("tf32", "precision", "x64")
"""A framework setting whose name holds one of these changes the numbers it computes."""


@dataclass(frozen=True)
class Agreement:
    """One kernel x implementation x dtype (x variant), over the sizes it was checked at.

    Attributes
    ----------
    share : float or None
        The largest recorded share of the tolerance used; ``None`` for an older run.
    share_bound : float or None
        For an older run: what the share is known to be at most.
    """

    kernel: str
    implementation: str
    dtype: str
    sizes: tuple[int, ...]
    max_abs: float | None
    max_rel: float | None
    rtol: float | None
    atol: float | None
    tolerance_recorded: bool
    share: float | None
    share_bound: float | None
    wrong: bool

    @property
    def flag(self) -> str:
        """Empty when well inside the tolerance; else why the reader should look."""
        if self.wrong:
            return "✗ beyond the tolerance (wrong)"
        if self.share is not None:
            return "⚠ over half the tolerance" if self.share > HALF else ""
        if self.share_bound is not None and self.share_bound > HALF:
            return "? share not recorded: may be over half"
        return ""


def agreements(rows: list[dict[str, Any]]) -> list[Agreement]:
    """One :class:`Agreement` per kernel x implementation x dtype x variant with a checked
    result, in the run's order."""
    groups: dict[tuple, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        if _number(row.get("max_abs_error")) is not None:
            key = (row["kernel"], row["implementation"], str(row.get("dtype") or ""))
            groups[(*key, str(row.get("variant") or ""))].append(row)
    return [_agreement(checked) for checked in groups.values()]


def agreement_section(rows: list[dict[str, Any]], environment: dict | None) -> list[Block]:
    """The flagged results first, then every result (folded), then the settings."""
    found = agreements(rows)
    blocks: list[Block] = [Heading("Agreement with the float64 reference", 2), Paragraph(_INTRO)]
    if not found:
        return [*blocks, Paragraph("No case of this run recorded its error.")]
    flagged = [item for item in found if item.flag]
    header = (
        "kernel",
        "implementation",
        "dtype",
        "sizes",
        "max abs error",
        "max rel error",
        "tolerance (rtol, atol)",
        "share of tolerance",
        "flag",
    )
    if flagged:
        blocks += [
            Paragraph(f"**{len(flagged)} of {len(found)}** results need a look:"),
            Table(header, tuple(_cells(item) for item in flagged), "lllrrrlrl"),
        ]
    else:
        blocks.append(Paragraph(f"All {len(found)} results used at most half their tolerance."))
    every = Table(header, tuple(_cells(item) for item in found), "lllrrrlrl")
    blocks.append(Details(f"Every result ({len(found)} rows): select to open", (every,)))
    if not all(item.tolerance_recorded for item in found):
        blocks.append(Paragraph(_OLDER_RUN))
    return blocks + settings_section(rows, environment)


def settings_section(rows: list[dict[str, Any]], environment: dict | None) -> list[Block]:
    """Per implementation, the recorded framework settings that change the numbers."""
    frameworks = (environment or {}).get("frameworks")
    blocks: list[Block] = [Heading("Settings that change the numbers", 3)]
    if not isinstance(frameworks, dict):
        return [*blocks, Paragraph("The run recorded no framework settings.")]
    table = []
    for name in dict.fromkeys(row["implementation"] for row in rows):
        framework = framework_of(next(row for row in rows if row["implementation"] == name))
        table.append((f"`{name}`", framework, _settings(frameworks.get(framework))))
    blocks += [
        Paragraph(_SETTINGS_NOTE),
        Table(("implementation", "framework", "settings (as recorded at the start)"), tuple(table)),
    ]
    return blocks


_INTRO = (
    "Every result is checked against NumPy in float64 on the same (rounded) inputs before it "
    "is timed. **max abs error** is the largest |result - reference|; **max rel error** that "
    "error over the reference's largest magnitude; **share of tolerance** the largest error "
    "over what the tolerance allows at that element (|error| <= atol x max(1, max|reference|) "
    "+ rtol x |reference|; 100% is the limit). Each is the worst over the sizes run. Flagged: "
    f"over {HALF:.0%} of the tolerance (⚠), beyond it (✗), or a run too old to tell (?)."
)
_OLDER_RUN = (
    "(*) Not recorded by this run (it predates the fields): the tolerance is today's table's "
    "for the dtype, and the share is bounded by max abs error / atol (and 100% for a result "
    "that passed). Run the benchmark again for the exact shares."
)
_SETTINGS_NOTE = (
    "Framework settings that change results or speed (TF32, matmul precision, JAX's 64-bit "
    "mode), from the run's environment record. mlpillars turns `jax_enable_x64` on when a "
    "float64 array first reaches JAX, so a float64 case may run with it on although it was "
    "recorded off. A framework without such settings shows –."
)


def _agreement(rows: list[dict[str, Any]]) -> Agreement:
    first = rows[0]
    dtype = str(first.get("dtype") or "")
    recorded = [row for row in rows if _number(row.get("atol")) is not None]
    rtol, atol = _tolerance(recorded[0] if recorded else None, dtype)
    shares = [_number(row.get("tolerance_fraction")) for row in rows]
    max_abs = max(_number(row.get("max_abs_error")) or 0.0 for row in rows)
    known = [share for share in shares if share is not None]
    return Agreement(
        kernel=first["kernel"],
        implementation=first["implementation"] + _variant(first),
        dtype=dtype,
        sizes=tuple(sorted({row["size"] for row in rows})),
        max_abs=max_abs,
        max_rel=_largest(row.get("max_rel_error") for row in rows),
        rtol=rtol,
        atol=atol,
        tolerance_recorded=bool(recorded),
        share=max(known) if len(known) == len(rows) else None,
        share_bound=_bound(rows, max_abs, atol) if len(known) < len(rows) else None,
        wrong=any(row["status"] == WRONG or row.get("correct") is False for row in rows),
    )


def _tolerance(row: dict[str, Any] | None, dtype: str) -> tuple[float | None, float | None]:
    if row is not None:
        return _number(row.get("rtol")), _number(row.get("atol"))
    entry = TOLERANCES.get(dtype)
    return (entry.rtol, entry.atol) if entry else (None, None)


def _bound(rows: list[dict[str, Any]], max_abs: float, atol: float | None) -> float | None:
    """What an older run's share of the tolerance is at most."""
    if not atol:
        return None
    passed = all(row.get("correct") is True for row in rows)
    return min(max_abs / atol, 1.0) if passed else max_abs / atol


def _cells(item: Agreement) -> tuple[str, ...]:
    tolerance = NONE
    if item.rtol is not None and item.atol is not None:
        tolerance = f"{item.rtol:g}, {item.atol:g}" + ("" if item.tolerance_recorded else " (*)")
    if item.share is not None:
        share = _share(item.share)
    elif item.share_bound is not None:
        share = f"≤ {_share(item.share_bound)} (*)"
    else:
        share = NONE
    return (
        item.kernel,
        f"`{item.implementation}`",
        item.dtype or NONE,
        _sizes(item.sizes),
        _scientific(item.max_abs),
        _scientific(item.max_rel),
        tolerance,
        share,
        item.flag,
    )


def _settings(record: Any) -> str:
    if not isinstance(record, dict):
        return NONE
    chosen = [
        f"{key} {value}"
        for key, value in record.items()
        if any(word in key.lower() for word in _SETTING_WORDS)
    ]
    return ", ".join(chosen) or NONE


def _share(fraction: float) -> str:
    return "< 0.01%" if fraction < 1e-4 else percent(fraction)


def _sizes(sizes: tuple[int, ...]) -> str:
    return str(sizes[0]) if len(sizes) == 1 else f"{sizes[0]}–{sizes[-1]}"


def _variant(row: dict[str, Any]) -> str:
    return f" ({row['variant']})" if row.get("variant") else ""


def _scientific(value: float | None) -> str:
    return NONE if value is None else f"{value:.2g}"


def _largest(values) -> float | None:
    numbers = [number for number in map(_number, values) if number is not None]
    return max(numbers) if numbers else None


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)
