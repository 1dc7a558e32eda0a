"""Disturbed measurements, on synthetic numbers: the busy-machine rule, the load record of a
case and its window, pooling the rounds of fresh processes, and what the report says.

The runs on the real machine (a busy process started halfway through a run,
``--rerun-disturbed``, ``--processes``) are in ``tests/test_bench_busy_machine.py``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import psutil
import pytest

from mlpillars.bench.disturbance import (
    BUSY_CORES,
    WINDOW_SECONDS,
    LoadMeter,
    Reading,
    busy_limit,
    case_load,
    is_busy,
    read_machine,
)
from mlpillars.bench.processes import pool_rows
from mlpillars.bench.report import make_report
from mlpillars.bench.run_folder import is_disturbed, latest_rows


# -- the rule ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("cpu_count", "limit"), [(1, 0.5), (2, 0.5), (4, 0.5), (5, 0.5), (8, 0.8), (64, 6.4)]
)
def test_the_limit_is_half_a_core_or_a_tenth_of_the_machine(cpu_count, limit):
    assert busy_limit(cpu_count) == pytest.approx(limit)


@pytest.mark.parametrize(
    ("other_cores", "cpu_count", "busy"),
    [
        (0.0, 2, False),  # an idle machine
        (0.05, 2, False),  # its background: daemons, a shell
        (0.49, 2, False),
        (0.51, 2, True),
        (1.0, 2, True),  # one CPU-bound process on the 2-core machine of issue 11
        (1.0, 9, True),  # ... still flagged on 9 CPUs
        (1.0, 16, False),  # on 16 CPUs it takes two
        (2.0, 16, True),
    ],
)
def test_a_case_is_disturbed_when_other_processes_used_more_than_the_limit(
    other_cores, cpu_count, busy
):
    assert is_busy(other_cores, cpu_count) is busy


def test_case_load_splits_the_machines_busy_time_into_ours_and_the_others():
    start = Reading(wall=10.0, busy=100.0, own=5.0, steal=1.0)
    end = Reading(wall=12.0, busy=103.0, own=6.5, steal=1.2)
    load = case_load(start, end, start, cpu_count=2, load_average=1.5)
    assert load["seconds"] == pytest.approx(2.0)
    assert load["own_cpu_seconds"] == pytest.approx(1.5)
    assert load["own_cores"] == pytest.approx(0.75)
    assert load["other_cpu_seconds"] == pytest.approx(1.5)
    assert load["window_seconds"] == pytest.approx(2.0)
    assert load["other_cores"] == pytest.approx(0.75)
    assert load["steal_cores"] == pytest.approx(0.1)
    assert load["limit_cores"] == BUSY_CORES and load["load_average_1m"] == 1.5
    # the counters' ticks can put our own time above the machine's: never a negative load
    ticked = case_load(start, Reading(12.0, 101.0, 6.5), start, cpu_count=2, load_average=None)
    assert ticked["other_cpu_seconds"] == 0.0 and ticked["other_cores"] == 0.0


class _FakeMachine:
    """Readings from a script: the wall clock advances by hand; ``other`` cores of other
    processes and ``own`` cores of ours are busy meanwhile."""

    def __init__(self) -> None:
        self.wall, self.busy, self.own = 0.0, 0.0, 0.0

    def run(self, seconds: float, *, own: float = 1.0, other: float = 0.0) -> None:
        self.wall += seconds
        self.own += own * seconds
        self.busy += (own + other) * seconds

    def read(self) -> Reading:
        return Reading(self.wall, self.busy, self.own)


def test_a_meter_on_a_quiet_machine_flags_nothing_and_one_with_a_busy_process_does():
    machine = _FakeMachine()
    meter = LoadMeter(read=machine.read)
    verdicts = []
    for other in (0.0, 0.02, 0.3, 1.0, 1.0, 0.0):
        machine.run(0.1, own=0.0)  # between cases: pytest's own work
        start = meter.start()
        machine.run(1.0, own=1.0, other=other)
        verdicts.append(meter.finish(start)["disturbed"])
    assert verdicts == [False, False, False, True, True, False]


def test_a_short_case_is_judged_over_the_last_half_second_a_long_one_over_itself():
    machine = _FakeMachine()
    meter = LoadMeter(read=machine.read)
    for _ in range(20):  # quiet 50 ms cases
        start = meter.start()
        machine.run(0.05)
        meter.finish(start)
    machine.run(0.02, own=0.0, other=1.0)  # a burst between two cases
    start = meter.start()
    machine.run(0.02)  # a 20 ms case, quiet itself
    short = meter.finish(start)
    assert short["load"]["seconds"] == pytest.approx(0.02)
    assert WINDOW_SECONDS <= short["load"]["window_seconds"] < WINDOW_SECONDS + 0.06
    # the burst is diluted over the window, not read as 1 core over 20 ms
    assert short["load"]["other_cores"] == pytest.approx(0.02 / short["load"]["window_seconds"])
    assert not short["disturbed"]
    start = meter.start()
    machine.run(2.0, other=1.0)
    long = meter.finish(start)
    assert long["load"]["window_seconds"] == pytest.approx(2.0)
    assert long["load"]["other_cores"] == pytest.approx(1.0) and long["disturbed"]
    assert len(meter.history) < 25  # readings older than the window are let go


def test_the_machine_reading_is_sane():
    first = read_machine()
    sum(i * i for i in range(200_000))  # some CPU time of our own
    second = read_machine()
    assert second.wall > first.wall and second.own > first.own and second.busy >= first.busy


def test_the_work_of_child_processes_is_our_own_not_another_processs():
    """Dask's LocalCluster workers and compiler pools are children doing the run's work: a
    child that finished (waited for) and one still running both count as our own time."""
    spin = "import time\nend = time.process_time() + 0.4\nwhile time.process_time() < end: pass"
    meter = LoadMeter()
    start = meter.start()
    subprocess.run([sys.executable, "-c", spin], check=True)  # finished and waited for
    running = subprocess.Popen([sys.executable, "-c", spin.replace("0.4", "30")])
    try:
        child = psutil.Process(running.pid)
        while sum(child.cpu_times()[:2]) < 0.4:  # the live child has spun 0.4 s too
            time.sleep(0.01)
        load = meter.finish(start)["load"]
    finally:
        running.kill()
        running.wait()
    assert load["own_cpu_seconds"] >= 0.8


# -- fresh processes -------------------------------------------------------------------------------
def _timed(case_id: str, rounds: list[float], *, disturbed=False, other=0.1, status="ok"):
    row = {"id": case_id, "kernel": "softmax", "implementation": "numpy:cpu", "size": 64}
    row.update(status=status, started="2026-01-01T00:00:00", finished="2026-01-01T00:00:01")
    if status == "ok":
        row.update(rounds=rounds, median=float(np.median(rounds)), disturbed=disturbed)
        row["load"] = {"other_cores": other, "limit_cores": 0.5, "cpu_count": 2}
    return row


def test_pooling_joins_the_rounds_of_each_process_and_keeps_the_worst_load():
    first = [_timed("a", [1.0, 2.0, 3.0]), _timed("b", [5.0], status="wrong")]
    second = [
        _timed("a", [9.0, 9.0], disturbed=True, other=1.2),
        _timed("a", [4.0, 5.0], other=0.2),  # measured again: the latest row counts
        _timed("b", [5.0]),
    ]
    pooled = {row["id"]: row for row in pool_rows([first, second])}
    a = pooled["a"]
    assert a["rounds"] == [1.0, 2.0, 3.0, 4.0, 5.0] and a["median"] == 3.0
    assert a["processes"] == 2 and a["process_medians"] == [2.0, 4.5]
    assert a["disturbed"] is False and a["load"]["other_cores"] == 0.2
    assert pooled["b"]["status"] == "wrong"  # a wrong result is never hidden by the others
    third = [_timed("a", [7.0], disturbed=True, other=0.9)]
    worst = pool_rows([first, second, third])[0]
    assert worst["disturbed"] is True and worst["load"]["other_cores"] == 0.9


def test_the_latest_row_of_a_case_replaces_the_earlier_ones():
    rows = [_timed("a", [1.0], disturbed=True), _timed("b", [1.0]), _timed("a", [2.0])]
    assert [row["rounds"] for row in latest_rows(rows)] == [[2.0], [1.0]]
    assert not any(is_disturbed(row) for row in latest_rows(rows))


# -- the report ------------------------------------------------------------------------------------
def _run(folder: Path, busy: set[tuple[str, int]], *, load=True, processes=None) -> Path:
    rng = np.random.default_rng(0)
    rows = []
    for size in (64, 256):
        for name, seconds in (("numpy:cpu", 1e-5), ("torch:cpu", 2e-5), ("python", 1e-3)):
            rounds = list(seconds * size / 64 * (1 + 0.01 * rng.standard_normal(12)))
            disturbed = (name, size) in busy
            row = {
                "id": f"softmax-{name}-{size}-float32",
                "kernel": "softmax",
                "implementation": name,
                "kind": "baseline" if name == "python" else "backend",
                "size": size,
                "dtype": "float32",
                "status": "ok",
                "rounds": rounds,
                "median": float(np.median(rounds)),
            }
            if load:
                row["disturbed"] = disturbed
                row["load"] = {
                    "seconds": 0.3,
                    "own_cores": 1.0,
                    "other_cores": 1.07 if disturbed else 0.03,
                    "window_seconds": 0.5,
                    "cpu_count": 2,
                    "limit_cores": 0.5,
                    "load_average_1m": 1.9,
                }
            if processes:
                row["processes"] = processes
            rows.append(row)
    folder.mkdir(parents=True)
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    (folder / "plan.json").write_text(json.dumps({"suite": "synthetic"}))
    return folder


def _top(markdown: str) -> str:
    return markdown[: markdown.index("## Answer")]


class _Order(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.seen.append(dict(attrs).get("class") or tag)


def test_the_report_warns_at_the_top_names_the_disturbed_cases_and_marks_their_rows(tmp_path):
    run = _run(tmp_path / "run", {("torch:cpu", 256), ("python", 64)})
    assert make_report(run) == 0
    markdown = (run / "report.md").read_text()
    top = _top(markdown)
    assert "**⚠ 2 of 6 timed cases were measured on a busy machine.**" in top
    assert "softmax 64 float32**: `python` 1.07" in top
    assert "softmax 256 float32**: `torch:cpu` 1.07" in top
    assert f"mlpillars bench --rerun-disturbed --out {run}" in top
    load = markdown[markdown.index("## Machine load") :]
    assert "**2 case(s) were measured on a busy machine:**" in load
    assert "| softmax 256 float32 | `torch:cpu` |" in load
    kernel = markdown[markdown.index("### Kernel: softmax") :]
    marked = [line for line in kernel.splitlines() if line.startswith("| ") and "] ⚠" in line]
    assert sorted(line.split(" | ")[0:2] for line in marked) == [
        ["| python", "64"],
        ["| torch:cpu", "256"],
    ]
    page = _Order()
    page.feed((run / "report.html").read_text())
    assert page.seen.index("alert") < page.seen.index("contents") < page.seen.index("h2")


def test_a_quiet_run_has_no_warning_and_says_so(tmp_path):
    run = _run(tmp_path / "run", set(), processes=3)
    assert make_report(run) == 0
    markdown = (run / "report.md").read_text()
    assert "busy machine." not in _top(markdown) and "⚠ " not in _top(markdown)
    assert "measured in **3 fresh processes**" in _top(markdown)
    assert "No case was measured on a busy machine." in markdown
    assert "12 in 3 processes" in markdown  # the rounds column
    assert 'class="alert"' not in (run / "report.html").read_text()


def test_a_run_without_a_load_record_says_so(tmp_path):
    run = _run(tmp_path / "run", set(), load=False)
    assert make_report(run, formats="md") == 0
    assert "This run recorded no machine load" in (run / "report.md").read_text()
