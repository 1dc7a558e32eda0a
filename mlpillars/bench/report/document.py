"""The report as a list of blocks, built once and rendered to Markdown and to HTML.

Text in a block may hold two inline marks, the same in both formats: ``**bold**`` and
```code```. Everything else is plain text; each renderer escapes it. Headings get the anchor
a code host gives them (:func:`anchors`), so the table of contents links the same headings
in the Markdown and in the HTML.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Heading:
    """A section title; ``level`` 1 is the report's title."""

    text: str
    level: int


@dataclass(frozen=True)
class Paragraph:
    """A paragraph of text."""

    text: str


@dataclass(frozen=True)
class Bullets:
    """An unordered list."""

    items: tuple[str, ...]


@dataclass(frozen=True)
class Alert:
    """A warning the reader must not miss: a bold ``title``, a ``text`` and a list of
    ``items`` (a Markdown quote, a framed box in HTML)."""

    title: str
    text: str
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Table:
    """A table; ``align`` holds ``"l"`` or ``"r"`` per column (default: all left)."""

    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    align: str = ""

    def alignment(self) -> str:
        """One of ``l``/``r`` per column."""
        return (self.align or "").ljust(len(self.header), "l")


@dataclass(frozen=True)
class Image:
    """A picture; ``path`` is relative to the run folder (e.g. ``plots/roofline.png``).

    ``caption`` says what the picture shows and what to look for; it is printed under it.
    """

    path: str
    alt: str
    caption: str = ""


@dataclass(frozen=True)
class Details:
    """Blocks folded away under a one-line ``summary`` until the reader opens them."""

    summary: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Contents:
    """The table of contents: links to the headings of ``levels`` below it in the report."""

    levels: tuple[int, ...] = (2, 3)


Block = Heading | Paragraph | Bullets | Alert | Table | Image | Details | Contents


def collapse_tables(blocks: Sequence[Block], *, longer_than: int) -> list[Block]:
    """``blocks`` with each table of more than ``longer_than`` rows folded into a
    :class:`Details` whose summary says what it holds."""
    return [
        Details(_table_summary(block), (block,))
        if isinstance(block, Table) and len(block.rows) > longer_than
        else block
        for block in blocks
    ]


def headings(blocks: Sequence[Block]) -> list[Heading]:
    """Every heading, in order, including those inside :class:`Details`."""
    found: list[Heading] = []
    for block in blocks:
        if isinstance(block, Heading):
            found.append(block)
        elif isinstance(block, Details):
            found += headings(block.blocks)
    return found


def anchors(found: Sequence[Heading]) -> list[str]:
    """The anchor of each heading as a code host makes it: lower case, punctuation dropped,
    spaces to hyphens, ``-1``, ``-2`` ... appended to repeats."""
    seen: dict[str, int] = {}
    result = []
    for heading in found:
        text = re.sub(r"[*`]", "", heading.text).strip().lower()
        slug = re.sub(r"[^\w\- ]", "", text).replace(" ", "-")
        count = seen.get(slug, 0)
        seen[slug] = count + 1
        result.append(f"{slug}-{count}" if count else slug)
    return result


def contents(blocks: Sequence[Block], levels: tuple[int, ...]) -> list[tuple[str, str, list]]:
    """(text, anchor, [(text, anchor) of the deeper headings under it]) per top-level entry
    of the table of contents."""
    found = headings(blocks)
    top, *deeper = sorted(levels)
    entries: list[tuple[str, str, list]] = []
    for heading, anchor in zip(found, anchors(found), strict=True):
        if heading.level == top:
            entries.append((heading.text, anchor, []))
        elif heading.level in deeper and entries:
            entries[-1][2].append((heading.text, anchor))
    return entries


def short(text: str) -> str:
    """A sub-heading's text in a table of contents: what follows its first colon."""
    return text.partition(": ")[2] or text


def _table_summary(table: Table) -> str:
    columns = ", ".join(table.header[:3])
    return f"Table of {len(table.rows)} rows ({columns}, ...): select to open"
