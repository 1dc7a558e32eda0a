"""Render the report's blocks as Markdown that reads well on a code host (GitHub tables,
images linked by paths relative to the run folder)."""

from __future__ import annotations

from collections.abc import Sequence

from .document import Block, Bullets, Heading, Image, Paragraph, Table


def render_markdown(blocks: Sequence[Block]) -> str:
    """The whole report as one Markdown string."""
    return "\n\n".join(_render(block) for block in blocks) + "\n"


def _render(block: Block) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}"
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Image):
        return f"![{block.alt}]({block.path})"
    if isinstance(block, Table):
        return _table(block)
    raise TypeError(f"unknown block {block!r}")


def _table(table: Table) -> str:
    rule = {"l": ":--", "r": "--:"}
    lines = [
        _row(table.header),
        "|" + "|".join(rule[side] for side in table.alignment()) + "|",
        *(_row(row) for row in table.rows),
    ]
    return "\n".join(lines)


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(_cell(cell) for cell in cells) + " |"


def _cell(text: str) -> str:
    """A cell on one line, with its pipes escaped so they do not split the row."""
    return text.replace("\n", " ").replace("|", "\\|")
