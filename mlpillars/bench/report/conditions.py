"""What the cases were measured under: the machine's load and the number of fresh processes.

A case measured on a busy machine (its row's ``disturbed``, the rule of
:mod:`mlpillars.bench.disturbance`) gets a warning at the top of the report, naming how many
and which, a mark (:data:`BUSY`) beside its times in every table, and a line of figures in
the machine-load section. A run of ``--processes N`` says so at the top.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path
from statistics import median
from typing import Any

from ..disturbance import BUSY_CORES, BUSY_SHARE, WINDOW_SECONDS
from ..run_folder import OK, is_disturbed
from ..text import NONE, format_seconds, number
from .analysis import case_key, size_label
from .document import Alert, Block, Details, Heading, Paragraph, Table

BUSY = "⚠"
"""The mark of a time measured on a busy machine."""
LISTED = 12
"""Cases (kernel, size) the warning names one by one; the rest are counted."""
FOLD_ROWS = 8
"""The section's table of more rows than this is folded away."""


def busy_mark(row: dict[str, Any] | None) -> str:
    """``" ⚠"`` after a time measured on a busy machine, else nothing."""
    return f" {BUSY}" if row is not None and is_disturbed(row) else ""


def disturbance_alert(rows: list[dict[str, Any]], folder: Path) -> list[Block]:
    """The warning at the top: how many timed cases were measured on a busy machine, which,
    and how to measure them again (nothing when none was)."""
    timed = [row for row in rows if row["status"] == OK]
    busy = [row for row in timed if is_disturbed(row)]
    if not busy:
        return []
    load = busy[0]["load"]
    title = f"{len(busy)} of {len(timed)} timed cases were measured on a busy machine."
    text = (
        f"Other processes kept more than {number(load.get('limit_cores'))} cores (of "
        f"{load.get('cpu_count', '?')} CPUs) busy on average while they ran, so their times can "
        f"be much too slow, and so can every comparison with them. They are marked {BUSY} in "
        "the tables; the figures are in **Machine load** below. Measure them again on a quiet "
        f"machine with `mlpillars bench --rerun-disturbed --out {folder}`. Per case, the cores "
        "the other processes kept busy:"
    )
    groups: dict[Any, list[dict[str, Any]]] = defaultdict(list)
    for row in busy:
        groups[case_key(row)].append(row)
    items = [_group_item(key, members) for key, members in list(groups.items())[:LISTED]]
    if len(groups) > LISTED:
        more = sum(len(members) for members in list(groups.values())[LISTED:])
        items.append(f"... and {more} more (see Machine load)")
    return [Alert(title, text, tuple(items))]


def processes_note(rows: list[dict[str, Any]]) -> list[Block]:
    """One sentence when the cases were measured in several fresh processes."""
    counts = [row["processes"] for row in rows if row["status"] == OK and row.get("processes")]
    if not counts or max(counts) < 2:
        return []
    fewer = sum(count < max(counts) for count in counts)
    return [
        Paragraph(
            f"Each timed case was measured in **{max(counts)} fresh processes** "
            f"(`mlpillars bench --processes {max(counts)}`), one after another, and their rounds "
            "pooled: the medians, intervals and tests below include the spread between "
            "processes." + (f" {fewer} case(s) were timed in fewer processes." if fewer else "")
        )
    ]


def load_section(rows: list[dict[str, Any]]) -> list[Block]:
    """The rule, the other processes' load over the run, and the figures of each case
    measured on a busy machine."""
    blocks: list[Block] = [Heading("Machine load while the cases were measured", 2)]
    measured = [row for row in rows if row["status"] == OK and isinstance(row.get("load"), dict)]
    if not measured:
        return [*blocks, Paragraph("This run recorded no machine load (it predates the record).")]
    others = [float(row["load"].get("other_cores") or 0.0) for row in measured]
    busiest = max(measured, key=lambda row: row["load"].get("other_cores") or 0.0)
    busy = [row for row in measured if is_disturbed(row)]
    blocks.append(Paragraph(_RULE))
    blocks.append(
        Paragraph(
            f"Over the {len(measured)} timed cases, other processes kept a median of "
            f"{number(median(others))} cores busy, at most {number(max(others))} (while "
            f"`{busiest['id']}` ran). "
            + (
                f"**{len(busy)} case(s) were measured on a busy machine:**"
                if busy
                else "No case was measured on a busy machine."
            )
        )
    )
    if busy:
        table = Table(_HEADER, tuple(_load_row(row) for row in busy), "llrrrrrr")
        summary = f"The {len(busy)} cases: select to open"
        blocks.append(Details(summary, (table,)) if len(busy) > FOLD_ROWS else table)
    return blocks


_RULE = (
    "Per case the run records the machine's busy CPU time and its own (this process, every "
    "thread, and its child processes) at the start and at the end; the difference is the CPU "
    "time of the **other processes**, and divided by the wall time, how many cores they kept "
    "busy. A case counts as **measured on a busy machine** when that average is above "
    f"{number(BUSY_CORES)} core, or {BUSY_SHARE:.0%} of the CPUs on machines of more than "
    f"{round(BUSY_CORES / BUSY_SHARE)}: far above an idle machine's background (hundredths "
    "of a core), below one busy process. The average is taken over the case, or over the "
    f"last {number(WINDOW_SECONDS)} s up to its end when the case was shorter (the counters "
    "tick every 10 ms). **own** is this process's CPU time over the case's wall time; the "
    "load average counts runnable tasks, this process's threads included."
)
_HEADER = (
    "case",
    "implementation",
    "median",
    "other processes (cores)",
    "limit (cores)",
    "own (cores)",
    "load average (1 min)",
    "averaged over",
)


def _load_row(row: dict[str, Any]) -> tuple[str, ...]:
    load = row["load"]
    return (
        f"{row['kernel']} {size_label(case_key(row))}",
        f"`{row['implementation']}`",
        format_seconds(row["median"]) if row.get("median") else NONE,
        number(load.get("other_cores")),
        number(load.get("limit_cores")),
        number(load.get("own_cores")),
        number(load.get("load_average_1m")),
        f"{number(load.get('window_seconds'))} s",
    )


def _group_item(key: Any, rows: list[dict[str, Any]]) -> str:
    names = ", ".join(
        f"`{row['implementation']}` {number(row['load'].get('other_cores'))}" for row in rows
    )
    return f"**{key[0]} {size_label(key)}**: {names}"
