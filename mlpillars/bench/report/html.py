"""Render the report's blocks as one self-contained HTML file: inline CSS, images embedded as
base64 data URIs, no script and nothing fetched, so it opens from disk with no server. Long
tables fold under plain ``<details>``; the table of contents is a ``<nav>`` of links."""

from __future__ import annotations

import base64
import html
import re
from collections.abc import Iterator, Sequence
from pathlib import Path

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
    anchors,
    contents,
    headings,
    short,
)

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
td code { overflow-wrap: anywhere; }
img { max-width: 100%; height: auto; display: block; margin: 1em 0 .3em; }
figure { margin: 1em 0 1.5em; }
figcaption { color: #57606a; font-size: 14px; max-width: 1000px; }
details { margin: 1em 0; }
summary { cursor: pointer; color: #0969da; font-weight: 600; }
nav.contents { background: #f6f8fa; border: 1px solid #d0d7de; border-radius: 6px;
               padding: .5em 1em; font-size: 14px; }
nav.contents ul { margin: .3em 0; padding-left: 1.2em; }
nav.contents li { margin: .15em 0; }
.alert { background: #fff8c5; border: 1px solid #d4a72c; border-left: 6px solid #bf8700;
         border-radius: 6px; padding: .6em 1em; margin: 1em 0; }
.alert p { margin: .2em 0; }
.alert ul { margin: .4em 0; padding-left: 1.4em; font-size: 14px; }
"""


def render_html(blocks: Sequence[Block], folder: Path, title: str) -> str:
    """The report as an HTML document; images are read from ``folder`` and embedded."""
    ids = iter(anchors(headings(blocks)))
    body = "\n".join(_render(block, _Context(folder, blocks, ids)) for block in blocks)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


class _Context:
    """What rendering one block needs: the folder of the images, the whole document (for
    the table of contents) and the headings' anchors, taken in document order."""

    def __init__(self, folder: Path, document: Sequence[Block], ids: Iterator[str]) -> None:
        self.folder, self.document, self.ids = folder, document, ids


def _render(block: Block, context: _Context) -> str:
    if isinstance(block, Heading):
        anchor = next(context.ids)
        return f'<h{block.level} id="{anchor}">{_inline(block.text)}</h{block.level}>'
    if isinstance(block, Details):
        inner = "\n".join(_render(child, context) for child in block.blocks)
        return f"<details><summary>{_inline(block.summary)}</summary>\n{inner}\n</details>"
    if isinstance(block, Contents):
        return _contents(context.document, block.levels)
    if isinstance(block, Paragraph):
        return f"<p>{_inline(block.text)}</p>"
    if isinstance(block, Bullets):
        items = "".join(f"<li>{_inline(item)}</li>" for item in block.items)
        return f"<ul>{items}</ul>"
    if isinstance(block, Alert):
        items = "".join(f"<li>{_inline(item)}</li>" for item in block.items)
        return (
            f'<div class="alert" role="alert"><p><strong>⚠ {_inline(block.title)}</strong> '
            f"{_inline(block.text)}</p>" + (f"<ul>{items}</ul>" if items else "") + "</div>"
        )
    if isinstance(block, Image):
        return _image(block, context.folder)
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
    picture = f'<img alt="{html.escape(image.alt)}" src="data:image/png;base64,{data}">'
    if not image.caption:
        return picture
    return f"<figure>{picture}<figcaption>{_inline(image.caption)}</figcaption></figure>"


def _contents(document: Sequence[Block], levels: tuple[int, ...]) -> str:
    items = []
    for text, anchor, children in contents(document, levels):
        links = " · ".join(f'<a href="#{a}">{_inline(short(t))}</a>' for t, a in children)
        items.append(
            f'<li><a href="#{anchor}">{_inline(text)}</a>'
            + (f": {links}" if links else "")
            + "</li>"
        )
    return f'<nav class="contents"><strong>Contents</strong><ul>{"".join(items)}</ul></nav>'


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
