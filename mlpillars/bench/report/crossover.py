"""Crossover sizes: where one family of implementations overtakes another, as far as the
sizes of the run can tell.

At each size the fastest row of each side is compared with the significance test of
:mod:`.stats`. A crossover lies between the last size where one side was significantly
faster and the next where the other was. Between two adjacent sizes the size is also
estimated by interpolating log(ratio of medians) linearly in log(size); with a size of no
significant difference in between, the report only says "between a and b".
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import pairwise
from typing import Any

from ..run_folder import BACKEND, NUMBA, OK, PYTHON
from ..text import NONE
from .analysis import NUMPY, RunAnalysis
from .document import Block, Heading, Paragraph, Table
from .families import framework_of, kind_of, on_gpu
from .ranking import compare, median
from .stats import FASTER, SLOWER

AHEAD, BEHIND, EVEN = "ahead", "behind", "even"
"""The challenger at one size: significantly faster, significantly slower, or neither."""

Side = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Point:
    """The two sides at one size: the challenger's state and median(challenger) /
    median(incumbent)."""

    size: int
    state: str
    ratio: float


def _ours(row: dict[str, Any]) -> bool:
    return kind_of(row) == BACKEND


def _ours_on(framework: str) -> Side:
    return lambda row: _ours(row) and framework_of(row) == framework


def _named(name: str) -> Side:
    return lambda row: row["implementation"] == name


COMPARISONS: tuple[tuple[str, Side, Side], ...] = (
    ("our backends vs Numba loops", _ours, _named(NUMBA)),
    ("our backends vs Python loops", _ours, _named(PYTHON)),
    ("torch vs NumPy", _ours_on("torch"), _named(NUMPY)),
    ("JAX vs NumPy", _ours_on("jax"), _named(NUMPY)),
    (
        "GPU vs CPU",
        lambda row: _ours(row) and on_gpu(row),
        lambda row: _ours(row) and not on_gpu(row),
    ),
)
"""(column, challenger, incumbent): the fastest row of each side is compared at each size."""


def crossover_section(analysis: RunAnalysis) -> list[Block]:
    """A table kernel x comparison of where the challenger overtakes (or falls behind)."""
    series = _series(analysis)
    table = {
        (label, title): describe(points(rows, challenger, incumbent))
        for label, rows in series.items()
        for title, challenger, incumbent in COMPARISONS
    }
    titles = [title for title, _, _ in COMPARISONS if any(table[label, title] for label in series)]
    blocks: list[Block] = [Heading("Crossover sizes", 3), Paragraph(_INTRO)]
    if not titles:
        return [*blocks, Paragraph(f"{_NO_PAIR}: no crossover.")]
    rows = tuple((label, *(table[label, t] or NONE for t in titles)) for label in series)
    blocks.append(Table(("kernel", *(f"{t}" for t in titles)), rows))
    if "GPU vs CPU" not in titles:
        blocks.append(Paragraph("No backend ran on a GPU in this run: no GPU/CPU crossover."))
    return blocks


_NO_PAIR = (
    "No pair this section compares ran at the same sizes (our backends against the Numba or "
    "Python loops, torch or JAX against NumPy, a GPU against a CPU; peers are compared in "
    "each kernel's table of native calls)"
)


def points(rows: Sequence[dict[str, Any]], challenger: Side, incumbent: Side) -> list[Point]:
    """The two sides' fastest rows compared at every size where both have a timed row."""
    by_size: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_size[row["size"]].append(row)
    found = []
    for size in sorted(by_size):
        mine = [row for row in by_size[size] if challenger(row)]
        theirs = [row for row in by_size[size] if incumbent(row)]
        if mine and theirs:
            found.append(_point(size, min(mine, key=median), min(theirs, key=median)))
    return found


def describe(found: Sequence[Point]) -> str:
    """The challenger's story over the sizes, in words ("" when no size had both)."""
    if not found:
        return ""
    span = _span(found)
    decided = [point for point in found if point.state != EVEN]
    if not decided:
        return f"no significant difference ({span})"
    crossings = [
        _crossing(found, before, after)
        for before, after in pairwise(decided)
        if before.state != after.state
    ]
    if crossings:
        return "; ".join(crossings)
    word = "faster" if decided[0].state == AHEAD else "slower"
    if len(decided) == len(found):
        return f"{word} at every size run ({span})"
    even = ", ".join(str(point.size) for point in found if point.state == EVEN)
    sizes = ", ".join(str(point.size) for point in decided)
    return f"{word} at {sizes}; no significant difference at {even}"


def interpolate(before: Point, after: Point) -> float:
    """The size where log(ratio) crosses 0, linear in log(size) between two points."""
    low, high = math.log(before.ratio), math.log(after.ratio)
    share = low / (low - high)
    return math.exp(math.log(before.size) + share * (math.log(after.size) - math.log(before.size)))


_INTRO = (
    "Where one family overtakes another, from the sizes this run measured. At each size the "
    "fastest row of each side is compared with the significance test (the policy below); "
    "'overtakes between a and b' means the challenger (named first) was significantly slower "
    "at size a and significantly faster at size b. The ≈ estimate interpolates log(ratio of "
    "medians) linearly in log(size) and is given only when a and b are neighbouring sizes of "
    "the run. Our backends are this library's; the loops are the Python and Numba baselines."
)


def _series(analysis: RunAnalysis) -> dict[str, list[dict[str, Any]]]:
    """Timed rows per kernel (and dtype and variant, when the run has several)."""
    timed = [row for row in analysis.rows if row["status"] == OK]
    dtypes = {row.get("dtype") for row in timed}
    grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in timed:
        label = row["kernel"]
        if len(dtypes) > 1:
            label += f" {row.get('dtype')}"
        if row.get("variant"):
            label += f" ({row['variant']})"
        grouped[label].append(row)
    return dict(grouped)


def _point(size: int, mine: dict[str, Any], theirs: dict[str, Any]) -> Point:
    verdict = compare(mine, theirs)
    state = {FASTER: AHEAD, SLOWER: BEHIND}.get(verdict.label, EVEN)
    return Point(size, state, median(mine) / median(theirs))


def _crossing(found: Sequence[Point], before: Point, after: Point) -> str:
    verb = "overtakes" if after.state == AHEAD else "falls behind"
    text = f"{verb} between {before.size} and {after.size}"
    neighbours = found.index(after) - found.index(before) == 1
    if neighbours and before.ratio > 0 and after.ratio > 0:
        text += f" (≈ {_two_digits(interpolate(before, after))})"
    return text


def _two_digits(value: float) -> str:
    digits = 1 - math.floor(math.log10(value))
    return f"{round(value, digits):.{max(digits, 0)}f}"


def _span(found: Sequence[Point]) -> str:
    first, last = found[0].size, found[-1].size
    return str(first) if first == last else f"{first}–{last}"
