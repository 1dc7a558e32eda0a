"""What ``mlpillars bench`` prints at the end of a run: the summary table of the times, the
cases measured on a busy machine, and the wrong peers that do not fail it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from .run_folder import ERROR, OK, SKIPPED, UNTRACEABLE, WRONG, is_disturbed
from .text import format_seconds

STATUS_MARKS = {WRONG: "✗", SKIPPED: "-", ERROR: "!", UNTRACEABLE: "untraceable"}
"""How the summary table marks a case that was not timed."""
BUSY_MARK = "⚠"
"""How the summary table marks a time measured on a busy machine."""


def summary_table(rows: list[dict[str, Any]]) -> Table:
    """One line per kernel, size and dtype: the fastest implementation and each one's time."""
    table = Table(
        title="median time per call (fastest first); ✗ wrong, - skipped, ! error, "
        f"{BUSY_MARK} measured on a busy machine"
    )
    for column in ("kernel", "size", "dtype", "fastest", "implementations"):
        table.add_column(column)
    groups: dict[tuple[str, int, str], list[dict[str, Any]]] = {}
    for row in rows:
        kernel = row["kernel"] + (f" ({row['variant']})" if row.get("variant") else "")
        groups.setdefault((kernel, row["size"], row["dtype"]), []).append(row)
    for (kernel, size, dtype), group in groups.items():
        timed = sorted((r for r in group if r.get("status") == OK), key=lambda r: r["median"])
        others = [r for r in group if r.get("status") != OK]
        cells = [
            f"{r['implementation']} {format_seconds(r['median'])}"
            + (f" {BUSY_MARK}" if is_disturbed(r) else "")
            for r in timed
        ]
        cells += [f"{r['implementation']} {STATUS_MARKS.get(r.get('status'), '?')}" for r in others]
        fastest = timed[0]["implementation"] if timed else "-"
        table.add_row(kernel, str(size), dtype, fastest, ", ".join(cells))
    return table


def say_disturbed(console: Console, rows: list[dict[str, Any]], out: Path) -> None:
    """Name the cases measured on a busy machine and how to measure them again."""
    disturbed = [row["id"] for row in rows if is_disturbed(row)]
    if not disturbed:
        return
    console.print(
        f"[yellow]{len(disturbed)} case(s) measured on a busy machine ({BUSY_MARK}): "
        f"{', '.join(disturbed)}\nmeasure them again with  mlpillars bench --rerun-disturbed "
        f"--out {out}"
    )


def wrong_peers_alone(rows: list[dict[str, Any]], finished: set[str], total: int) -> list[str]:
    """The ids of the wrong peer cases, where every case finished and they are the only
    cases that were wrong or failed; else []. A peer computes its own way (JAX's
    ``dot_product_attention`` takes float64 inputs through a float32 softmax): the run
    reports it, but it is not this library's answer, and does not fail the run."""
    failed = [row for row in rows if row.get("status") in (WRONG, ERROR)]
    if len(finished) < total or not failed:
        return []
    if any(row.get("status") != WRONG or row.get("kind") != "peer" for row in failed):
        return []
    return [row["id"] for row in failed]
