"""The report as a list of blocks, built once and rendered to Markdown and to HTML.

Text in a block may hold two inline marks, the same in both formats: ``**bold**`` and
```code```. Everything else is plain text; each renderer escapes it.
"""

from __future__ import annotations

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
    """A picture; ``path`` is relative to the run folder (e.g. ``plots/roofline.png``)."""

    path: str
    alt: str


Block = Heading | Paragraph | Bullets | Table | Image
