"""The progress bar of ``mlpillars bench``: pytest's progress fed into a rich bar."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


@contextmanager
def progress_bar(console: Console) -> Iterator[Progress]:
    progress = Progress(
        TextColumn("case"),
        MofNCompleteColumn(),
        BarColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    with progress:
        yield progress


class ProgressPlugin:
    """Feeds pytest's progress into the rich progress bar."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.task = progress.add_task("collecting", total=None)
        self.started = time.perf_counter()

    def pytest_collection_finish(self, session: pytest.Session) -> None:
        self.progress.update(self.task, total=len(session.items), description="")

    def pytest_runtest_logstart(self, nodeid: str, location: Any) -> None:
        self.progress.update(self.task, description=nodeid.rpartition("[")[2].rstrip("]"))

    def pytest_runtest_logfinish(self, nodeid: str, location: Any) -> None:
        self.progress.advance(self.task)
