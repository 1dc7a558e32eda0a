"""Render the report's blocks as Markdown that reads well on a code host (GitHub tables,
images linked by paths relative to the run folder, folded tables as ``<details>``, which
GitHub and GitLab render and other viewers show open)."""

from __future__ import annotations

import html
from collections.abc import Sequence

from .document import (
    Alert,
    Block,
    Bullets,
    Contents,
    Details,
    Heading,
    Image,
    Paragraph,
    Table,
    contents,
    short,
)


def render_markdown(blocks: Sequence[Block]) -> str:
    """The whole report as one Markdown string."""
    return "\n\n".join(_render(block, blocks) for block in blocks) + "\n"


def _render(block: Block, document: Sequence[Block]) -> str:
    if isinstance(block, Heading):
        return f"{'#' * block.level} {block.text}"
    if isinstance(block, Paragraph):
        return block.text
    if isinstance(block, Bullets):
        return "\n".join(f"- {item}" for item in block.items)
    if isinstance(block, Alert):
        lines = [f"**⚠ {block.title}** {block.text}".rstrip()]
        if block.items:
            lines += ["", *(f"- {item}" for item in block.items)]
        return "\n".join(f"> {line}".rstrip() for line in lines)
    if isinstance(block, Image):
        picture = f"![{block.alt}]({block.path})"
        return picture + (f"\n\n**Figure.** {block.caption}" if block.caption else "")
    if isinstance(block, Table):
        return _table(block)
    if isinstance(block, Details):
        inner = "\n\n".join(_render(child, document) for child in block.blocks)
        summary = html.escape(block.summary.replace("`", "").replace("**", ""))
        return f"<details><summary>{summary}</summary>\n\n{inner}\n\n</details>"
    if isinstance(block, Contents):
        return _contents(document, block.levels)
    raise TypeError(f"unknown block {block!r}")


def _contents(document: Sequence[Block], levels: tuple[int, ...]) -> str:
    lines = ["**Contents**", ""]
    for text, anchor, children in contents(document, levels):
        line = f"- [{_link_text(text)}](#{anchor})"
        if children:
            line += ": " + " · ".join(f"[{_link_text(short(t))}](#{a})" for t, a in children)
        lines.append(line)
    return "\n".join(lines)


def _link_text(text: str) -> str:
    return text.replace("[", "(").replace("]", ")")


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
