"""The results log: one JSON object per finished case, on disk the moment it finishes.

Each line is written, flushed and fsynced before the next case starts, so a run stopped by
Ctrl-C or a kill leaves every finished case readable. A line cut short by the kill is
ignored when the log is read back, and dropped from the file when the log is opened to
append (``--resume``), so that the next row starts on a line of its own and the case of the
torn line runs again.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from .run_folder import finished_ids, is_disturbed, latest_rows


class ResultsLog:
    """Append-only JSON-lines file of case rows.

    Parameters
    ----------
    path : Path or None
        The run folder's :data:`~mlpillars.bench.run_folder.CASES_FILE`; None keeps rows in
        memory only (a plain pytest run).
    """

    def __init__(self, path: Path | None) -> None:
        self.path = path
        self.rows: list[dict[str, Any]] = []
        if path is not None and path.exists():
            _drop_torn_last_line(path)
            self.rows = read_rows(path)

    def append(self, row: dict[str, Any]) -> None:
        """Record a finished case, durably."""
        self.rows.append(row)
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as stream:
            stream.write(json.dumps(row, allow_nan=True) + "\n")
            stream.flush()
            os.fsync(stream.fileno())

    def finished_ids(self) -> set[str]:
        """Ids of cases that ``--resume`` leaves out: those whose latest row is not an error
        (as the summary and the report count them: a case measured again by
        ``--rerun-disturbed`` that then failed is run again)."""
        return finished_ids(self.rows)

    def disturbed_ids(self) -> set[str]:
        """Ids of cases whose latest row was measured on a busy machine
        (``--rerun-disturbed``)."""
        return {row["id"] for row in latest_rows(self.rows) if is_disturbed(row)}


def read_rows(path: Path) -> list[dict[str, Any]]:
    """Rows of a results log; a truncated last line (a killed run) is skipped."""
    rows = []
    lines = path.read_text(encoding="utf-8").splitlines()
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as exc:
            if number == len(lines):
                continue  # cut short by a kill; that case is simply run again on --resume
            raise ValueError(f"{path}: line {number} is not valid JSON ({exc})") from exc
        if not isinstance(row, dict) or "id" not in row:
            raise ValueError(f"{path}: line {number} is not a case row (no 'id')")
        rows.append(row)
    return rows


def _drop_torn_last_line(path: Path) -> None:
    """Cut the file after its last newline: a last line without one was cut short."""
    with path.open("rb+") as stream:
        content = stream.read()
        if content and not content.endswith(b"\n"):
            stream.truncate(content.rfind(b"\n") + 1)
