"""Render the report's blocks as one self-contained HTML file: inline CSS, images embedded as
base64 data URIs, no script and nothing fetched, so it opens from disk with no server."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Sequence
from pathlib import Path

from .document import Block, Bullets, Heading, Image, Paragraph, Table

_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 2em auto;
       max-width: 1400px; padding: 0 1em; color: #1f2328; line-height: 1.45; }
h1 { border-bottom: 2px solid #d0d7de; padding-bottom: .3em; }
h2 { border-bottom: 1px solid #d0d7de; padding-bottom: .2em; margin-top: 2em; }
code { background: #f3f4f6; padding: .1em .3em; border-radius: 4px; font-size: 90%; }
.table { overflow-x: auto; margin: 1em 0; }
table { border-collapse: collapse; font-size: 13px; }
th, td { border: 1px solid #d0d7de; padding: 4px 8px; vertical-align: top; }
th { background: #f6f8fa; position: sticky; top: 0; }
tr:nth-child(even) td { background: #fafbfc; }
td.r, th.r { text-align: right; white-space: nowrap; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0; }
"""


def render_html(blocks: Sequence[Block], folder: Path, title: str) -> str:
    """The report as an HTML document; images are read from ``folder`` and embedded."""
    body = "\n".join(_render(block, folder) for block in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _render(block: Block, folder: Path) -> str:
    if isinstance(block, Heading):
        anchor = re.sub(r"[^a-z0-9]+", "-", block.text.lower()).strip("-")
        return f'<h{block.level} id="{anchor}">{_inline(block.text)}</h{block.level}>'
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Bullets):
        items = "".join(f"<li>{_inline(item)}</li>" for item in block.items)
        return f"<ul>{items}</ul>"
    if isinstance(block, Image):
        return _image(block, folder)
    if isinstance(block, Table):
        return _table(block)
    raise TypeError(f"unknown block {block!r}")


def _inline(text: str) -> str:
    """Escape ``text``, then turn ``**bold**`` and ```code``` into tags."""
    escaped = html.escape(text)
    escaped = re.sub(r"\*\*(.+?)\*\*", r"<strong>\1</strong>", escaped)
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", escaped)


def _image(image: Image, folder: Path) -> str:
    data = base64.b64encode((folder / image.path).read_bytes()).decode("ascii")
    return f'<img alt="{html.escape(image.alt)}" src="data:image/png;base64,{data}">'


def _table(table: Table) -> str:
    sides = table.alignment()
    header = _cells("th", table.header, sides)
    rows = "".join(f"<tr>{_cells('td', row, sides)}</tr>" for row in table.rows)
    table_html = f"<table><thead><tr>{header}</tr></thead><tbody>{rows}</tbody></table>"
    return f'<div class="table">{table_html}</div>'


def _cells(tag: str, cells: tuple[str, ...], sides: str) -> str:
    return "".join(
        f'<{tag} class="{side}">{_inline(cell)}</{tag}>'
        for cell, side in zip(cells, sides, strict=True)
    )
