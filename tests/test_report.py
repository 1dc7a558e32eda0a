"""The performance report: structure, statistics, comparison, bad input, peaks, rendering.

Run folders are built by hand in ``tmp_path`` with known rounds, so the expected verdicts are
known and no benchmark has to run.
"""

from __future__ import annotations

import argparse
import base64
import json
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from mlpillars.bench.peaks import measure_peaks
from mlpillars.bench.report import ReportError, kernels, make_report, parse_threshold
from mlpillars.bench.report.agreement import agreements
from mlpillars.bench.report.analysis import RunAnalysis
from mlpillars.bench.report.answer import answers
from mlpillars.bench.report.crossover import (
    AHEAD,
    BEHIND,
    COMPARISONS,
    EVEN,
    Point,
    describe,
    interpolate,
    points,
)
from mlpillars.bench.report.heatmap import speedup_grid
from mlpillars.bench.report.load import load_run
from mlpillars.bench.report.stats import (
    ALPHA,
    FACTOR,
    MIN_ROUNDS,
    N_RESAMPLES,
    NOISE_LIMIT,
    SAME,
    SLOWER,
    compare_rounds,
    is_noisy,
    median_estimate,
    ratio_estimate,
)
from mlpillars.bench.run_folder import PEAKS_FORMAT, validate_peaks
from mlpillars.bench.text import format_seconds, seconds_interval
from mlpillars.tolerances import TOLERANCES, error_fields

KERNELS = ("softmax", "linear")
SIZES = (64, 256)
# median seconds at size 64; the time grows with size
BASE_SECONDS = {"numpy:cpu": 1e-5, "torch:cpu": 0.8e-5, "numba": 0.5e-5, "python": 6e-4}
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


# -- building synthetic runs -----------------------------------------------------------------
def _row(kernel, implementation, size, status="ok", rounds=None, **extra):
    row = {
        "id": f"{kernel}-{implementation}-{size}-float32",
        "kernel": kernel,
        "implementation": implementation,
        "kind": "baseline" if implementation in ("numba", "python") else "backend",
        "size": size,
        "dtype": "float32",
        "group": f"{kernel} size={size} float32",
        "suite": "synthetic",
        "flops": 5.0 * size * size,
        "bytes": 8.0 * size * size,
        "status": status,
        "compile_seconds": 0.4 if implementation == "numba" else None,
        "notes": "",
        "peak_host_increase_bytes": 4096 * size,
        "device_peak_bytes": {},
        **extra,
    }
    if rounds is not None:
        row.update(rounds=[float(r) for r in rounds], median=float(np.median(rounds)))
    return row


def _rows(scale: float, rounds: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    for kernel in KERNELS:
        for size in SIZES:
            for implementation, seconds in BASE_SECONDS.items():
                median = seconds * (size / 64) ** 2 * scale
                times = median * (1 + 0.02 * rng.standard_normal(rounds))
                rows.append(_row(kernel, implementation, size, rounds=times))
        rows.append(
            _row(
                kernel,
                "python",
                4096,
                "skipped",
                reason="predicted too slow",
                estimate_seconds=12.5,
            )
        )
        rows.append(_row(kernel, "numpy:cpu", 4096, rounds=np.full(rounds, 1e-3 * scale)))
    rows.append(_row("softmax", "torch:cpu", 4096, "wrong", reason="differs by 0.5"))
    rows.append(_row("linear", "torch:cpu", 4096, "error", reason="RuntimeError: boom"))
    return rows


ENVIRONMENT = {
    "timestamp": "2026-11-25T12:00:00+00:00",
    "hostname": "testhost",
    "platform": {
        "platform": "Linux-test",
        "python_version": "3.11.7",
        "python_implementation": "CPython",
    },
    "cpu": {"model": "Test CPU 9000", "logical_cores": 2, "physical_cores": 2, "usable_cores": 2},
    "memory": {"total_bytes": 8 * 2**30},
    "versions": {"mlpillars": "0.1.0", "numpy": "2.4.6"},
    "frameworks": {
        "torch": {"version": "2.13.0", "num_threads": 2, "float32_matmul_precision": "highest"},
        "jax": None,
        "reasons": {"jax": "not installed"},
    },
    "gpu": {"devices": None, "reasons": {"devices": "no GPU"}},
    "blas": [
        {
            "internal_api": "openblas",
            "version": "0.3.30",
            "num_threads": 2,
            "architecture": "SkylakeX",
            "filename": "libopenblas.so",
        }
    ],
    "thread_env": {"OMP_NUM_THREADS": None},
    "git": {"commit": "0123456789abcdef", "dirty": False},
}
PEAKS = {
    "format": PEAKS_FORMAT,
    "measured": "2026-11-25T12:00:00+00:00",
    "method": {"matmul": "test", "copy": "test", "statistic": "best of rounds"},
    "backends": {
        "numpy:cpu": {
            "device": "cpu",
            "gflops": 50.0,
            "gbps": 10.0,
            "matmul": {"size": 1024},
            "copy": {"bytes": 2**27},
        },
        "torch:cpu": {"device": "cpu", "gflops": 60.0, "gbps": 12.0},
        "dask:cpu": {"error": "TypeError: no"},
    },
}


def make_run(folder: Path, *, scale=1.0, rounds=12, seed=0, peaks=True, rows=None) -> Path:
    """A finished results folder with known rounds: times multiplied by ``scale``."""
    folder.mkdir(parents=True)
    rows = rows or _rows(scale, rounds, seed)
    lines = [json.dumps(row) for row in rows]
    (folder / "cases.jsonl").write_text("\n".join(lines) + "\n")
    (folder / "environment.json").write_text(json.dumps(ENVIRONMENT))
    (folder / "plan.json").write_text(json.dumps({"suite": "synthetic"}))
    (folder / "planned.json").write_text(json.dumps({"cases": [row["id"] for row in rows]}))
    if peaks:
        (folder / "peaks.json").write_text(json.dumps(PEAKS))
    return folder


@pytest.fixture(scope="module")
def reported(tmp_path_factory) -> Path:
    """One synthetic run with its Markdown and HTML report written."""
    run = make_run(tmp_path_factory.mktemp("report") / "run")
    assert make_report(run) == 0
    return run


def _section(markdown: str, heading: str) -> str:
    start = markdown.index(heading)
    rest = markdown[start + len(heading) :]
    ends = [rest.find(mark) for mark in ("\n## ", "\n### ") if rest.find(mark) >= 0]
    return rest[: min(ends)] if ends else rest


# -- Markdown ----------------------------------------------------------------------------------
def test_markdown_sections_in_order(reported):
    markdown = (reported / "report.md").read_text()
    order = [
        "# Benchmark report",
        "**Contents**",
        "## Answer: the fastest implementation",
        "### Speed-up over NumPy at a glance",
        "### Crossover sizes",
        "## Agreement with the float64 reference",
        "## Environment",
        "## Statistics policy",
        "## Machine limits",
        "## The tutorial's claim",
        "## Kernels",
        "### Kernel: softmax",
        "### Kernel: linear",
        "## Roofline",
    ]
    positions = [markdown.index(heading) for heading in order]
    assert positions == sorted(positions)
    environment = _section(markdown, "## Environment")
    assert "Test CPU 9000" in environment and "openblas 0.3.30" in environment
    assert "2.13.0: num_threads 2, float32_matmul_precision highest" in environment
    assert "| jax | not installed |" in environment


@pytest.mark.parametrize("kernel", KERNELS)
def test_markdown_one_table_and_charts_per_kernel(reported, kernel):
    section = _section((reported / "report.md").read_text(), f"### Kernel: {kernel}")
    assert section.count("| implementation |") == 1
    for image in (f"plots/time-{kernel}.png", f"plots/speedup-{kernel}.png"):
        assert f"]({image})" in section
        assert (reported / image).read_bytes().startswith(PNG_SIGNATURE)
    assert "skipped: predicted too slow (pure-Python estimate 12.5 s per call)" in section
    assert ("wrong: differs" if kernel == "softmax" else "error: RuntimeError") in section
    assert "GB/s" in section  # 5 FLOP / 8 bytes is below the 5 FLOP/byte ridge


def test_markdown_claim_and_policy(reported):
    markdown = (reported / "report.md").read_text()
    claim = _section(markdown, "## The tutorial's claim")
    assert claim.count("| softmax |") == 1 and claim.count("| linear |") == 1
    assert "60× [" in claim and "within the claim" in claim  # python is 60x numpy
    policy = _section(markdown, "## Statistics policy")
    assert f"p < {ALPHA}" in policy and f"{FACTOR}x" in policy and "Mann-Whitney" in policy
    assert "![roofline" in markdown and (reported / "plots/roofline.png").exists()


def test_a_library_without_a_version_says_so_in_the_environment(tmp_path):
    """threadpoolctl gives no OpenMP version: the row read 'openmp  (2 threads)'."""
    run = make_run(tmp_path / "run")
    openmp = {"internal_api": "openmp", "version": None, "num_threads": 2}
    record = {**ENVIRONMENT, "blas": [*ENVIRONMENT["blas"], {**openmp, "filename": "libgomp.so"}]}
    (run / "environment.json").write_text(json.dumps(record))
    assert make_report(run, formats="md") == 0
    environment = _section((run / "report.md").read_text(), "## Environment")
    assert "openblas 0.3.30 (2 threads, SkylakeX)" in environment
    assert "; openmp version unknown (2 threads) `libgomp.so`" in environment


def test_missing_peaks_is_said_not_fatal(tmp_path, reported):
    run = make_run(tmp_path / "run", peaks=False)
    assert make_report(run, formats="md") == 0
    markdown = (run / "report.md").read_text()
    assert "No `peaks.json` in this run" in markdown
    assert not (run / "report.html").exists()
    limits = _section(markdown, "## Machine limits")
    assert "against an assumed ridge point of 10 FLOP/byte" in limits
    assert f"`mlpillars bench --resume --out {run}`" in limits
    line = f"write_peaks('{run / 'peaks.json'}', ['numpy:cpu', 'torch:cpu'])"
    assert f'`python -c "from mlpillars.bench.peaks import write_peaks; {line}"`' in limits
    assert "write_peaks`" not in limits  # no bare function name to run
    for kernel in KERNELS:
        section = _section(markdown, f"### Kernel: {kernel}")
        assert "against an assumed ridge point of 10 FLOP/byte, a typical CPU's" in section
    measured = _section((reported / "report.md").read_text(), "### Kernel: softmax")
    assert "against a ridge point of 5 FLOP/byte (memory-bound)" in measured


# -- HTML ----------------------------------------------------------------------------------------
class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict]] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))


def test_html_is_self_contained(reported):
    page = (reported / "report.html").read_text()
    parser = _Tags()
    parser.feed(page)
    names = [tag for tag, _ in parser.tags]
    assert "script" not in names and "link" not in names
    assert "http://" not in page and "https://" not in page
    images = [attrs["src"] for tag, attrs in parser.tags if tag == "img"]
    assert len(images) == (reported / "report.md").read_text().count("](plots/")
    for source in images:
        assert source.startswith("data:image/png;base64,")
        assert base64.b64decode(source.split(",", 1)[1]).startswith(PNG_SIGNATURE)
    kernels = [attrs for tag, attrs in parser.tags if attrs.get("id", "").startswith("kernel-")]
    assert len(kernels) == len(KERNELS)
    assert names.index("nav") < names.index("h2") < names.index("table")  # contents, answer


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed")
def test_html_renders_in_headless_chromium(reported, tmp_path):
    screenshot = tmp_path / "report.png"
    command = [
        "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        f"--user-data-dir={tmp_path / 'profile'}",
        f"--screenshot={screenshot}",
        "--window-size=1280,2000",
        (reported / "report.html").resolve().as_uri(),
    ]
    subprocess.run(command, check=True, capture_output=True, timeout=60)
    data = screenshot.read_bytes()
    assert data.startswith(PNG_SIGNATURE) and len(data) > 50_000


# -- statistics -------------------------------------------------------------------------------
def test_ratio_interval_covers_the_true_ratio():
    covered = 0
    for seed in range(40):
        rng = np.random.default_rng(seed)
        slow, fast = 2.0 * rng.lognormal(0, 0.1, 20), rng.lognormal(0, 0.1, 20)
        estimate = ratio_estimate(slow, fast)  # true ratio of medians: 2
        assert estimate.low < estimate.value < estimate.high
        covered += estimate.low <= 2.0 <= estimate.high
    assert covered >= 34  # a 95 % interval; 85 % leaves room for 40 draws


def test_too_few_rounds_gives_no_interval_and_says_so():
    estimate = ratio_estimate([1.0, 1.1], [2.0, 2.1, 2.2])
    assert not estimate.has_interval and "too few" in estimate.note
    assert not median_estimate([1.0]).has_interval
    verdict = compare_rounds([1.0, 1.1], [2.0, 2.1, 2.2])
    assert verdict.label == SAME and verdict.p_value is None


def test_few_rounds_cannot_be_significant_and_the_note_says_why():
    verdict = compare_rounds([2.0, 2.01, 2.02, 2.03, 2.04], [1.0, 1.01, 1.02, 1.03, 1.04])
    assert verdict.label == SAME and "cannot go below" in verdict.note


def test_factor_gate():
    rng = np.random.default_rng(1)
    base = 1 + 0.001 * rng.standard_normal(30)
    assert compare_rounds(base * 1.05, base).label == SAME  # p tiny, but within 1.1x
    assert compare_rounds(base * 1.5, base).label == SLOWER


def test_noisy_flag(tmp_path):
    assert not is_noisy([1.0, 1.01, 0.99, 1.0, 1.02])
    assert is_noisy([1.0, 1.5, 0.7, 1.3, 0.8])
    rows = _rows(1.0, 12, 0)
    rows[0]["rounds"] = [1e-5, 2e-5, 1e-5, 2e-5, 1.5e-5, 1e-5]
    run = make_run(tmp_path / "run", rows=rows)
    make_report(run, formats="md")
    noisy_line = next(
        line
        for line in (run / "report.md").read_text().splitlines()
        if line.startswith("| numpy:cpu | 64 ")
    )
    assert "noisy" in noisy_line and "| 6 |" in noisy_line


# -- comparing runs -----------------------------------------------------------------------------
def test_run_against_itself_is_unchanged(reported, tmp_path):
    copy = shutil.copytree(reported, tmp_path / "copy")
    assert make_report(copy, compare=reported, fail_on_regression=0.10, formats="md") == 0
    section = _section((copy / "report.md").read_text(), "## Comparison with another run")
    assert "**0 slower**, **0 faster**" in section and "**pass**" in section
    assert "compared with itself" not in section  # a copy is another folder


def test_a_run_compared_with_its_own_folder_is_said_so(tmp_path):
    """--compare naming the run's own folder passed any gate silently."""
    import io

    from rich.console import Console

    run = make_run(tmp_path / "run")
    printed = io.StringIO()
    console = Console(file=printed, width=300)
    assert make_report(run, compare=run, fail_on_regression=0.1, formats="md", console=console) == 0
    assert "the run is compared with itself" in printed.getvalue()
    section = _section((run / "report.md").read_text(), "## Comparison with another run")
    assert "the run is compared with itself" in section


def test_slowed_run_is_a_regression(tmp_path):
    base = make_run(tmp_path / "base")
    slow = make_run(tmp_path / "slow", scale=1.5, seed=1)  # every round 1.5x longer
    assert make_report(slow, compare=base, fail_on_regression=0.10, formats="md") == 1
    section = _section((slow / "report.md").read_text(), "## Comparison with another run")
    assert "**FAIL**" in section and "**0 faster**" in section
    assert "| softmax-numpy:cpu-256-float32 |" in section and "| slower" in section
    assert make_report(slow, compare=base, fail_on_regression="60%", formats="md") == 0
    assert make_report(base, compare=slow, fail_on_regression=0.10, formats="md") == 0
    assert "**0 slower**" in (base / "report.md").read_text()


BUSY_LOAD = {
    "seconds": 0.7,
    "own_cpu_seconds": 0.7,
    "own_cores": 1.0,
    "other_cpu_seconds": 0.7,
    "window_seconds": 0.7,
    "other_cores": 1.0,
    "steal_cores": 0.0,
    "cpu_count": 2,
    "limit_cores": 0.5,
    "load_average_1m": 2.6,
}


def _disturb(rows: list[dict], *case_ids: str) -> list[dict]:
    """``rows`` with ``case_ids`` measured on a busy machine (one core kept busy by others)."""
    return [
        {**row, "disturbed": True, "load": BUSY_LOAD} if row["id"] in case_ids else row
        for row in rows
    ]


def test_a_comparison_marks_the_times_of_a_busy_machine_and_the_gate_says_so(tmp_path):
    import io

    from rich.console import Console

    slowed, other = "softmax-numpy:cpu-256-float32", "linear-numpy:cpu-256-float32"
    base = make_run(tmp_path / "base", rows=_disturb(_rows(1.0, 12, 0), other))
    slow = make_run(tmp_path / "slow", rows=_disturb(_rows(1.5, 12, 1), slowed))
    printed = io.StringIO()
    console = Console(file=printed, width=400)
    assert make_report(slow, compare=base, fail_on_regression=0.10, console=console) == 1
    section = _section((slow / "report.md").read_text(), "## Comparison with another run")
    cells = {
        line.split("|")[1].strip(): [cell.strip() for cell in line.split("|")[2:4]]
        for line in section.splitlines()
        if line.startswith("| ") and "-float32 |" in line
    }
    assert cells[slowed][0].endswith(" ⚠") and not cells[slowed][1].endswith("⚠")
    assert cells[other][1].endswith(" ⚠") and not cells[other][0].endswith("⚠")
    assert sum("⚠" in " ".join(pair) for pair in cells.values()) == 2
    gate = next(line for line in section.splitlines() if line.startswith("Regression check"))
    assert "**FAIL**: 18 case(s)" in gate  # every timed case is 1.5x slower
    assert "2 of them rest on a time measured on a busy machine ⚠: " in gate
    assert f"`{slowed}` (this run)" in gate and f"`{other}` (the other run)" in gate
    assert f"--rerun-disturbed --out {slow}`" in gate and f"--out {base}`" in gate
    console_text = printed.getvalue()
    # 1.5x slower, up to the 2 % noise of the synthetic rounds
    assert f"{slowed}: 1.49x slower (measured on a busy machine in this run)" in console_text
    assert f"{other}: 1.50x slower (measured on a busy machine in the other run)" in console_text
    assert console_text.count("busy machine") == 2


def test_a_gate_that_compared_nothing_fails(reported, tmp_path):
    other = make_run(tmp_path / "other")
    rows = [json.loads(line) for line in (other / "cases.jsonl").read_text().splitlines()]
    for row in rows:
        row["id"] = "renamed-" + row["id"]  # no case id in common with the reported run
    (other / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert make_report(other, compare=reported, formats="md") == 0  # no gate asked: no failure
    assert make_report(other, compare=reported, fail_on_regression=0.10, formats="md") == 1
    section = _section((other / "report.md").read_text(), "## Comparison with another run")
    assert "**FAIL**: no case could be compared" in section


# -- bad input -------------------------------------------------------------------------------------
def _corrupt_cases_middle(run: Path) -> None:
    lines = (run / "cases.jsonl").read_text().splitlines()
    lines[1] = lines[1][:40]
    (run / "cases.jsonl").write_text("\n".join(lines) + "\n")


def _foreign_cases(run: Path) -> None:
    (run / "cases.jsonl").write_text(json.dumps({"benchmarks": [], "machine_info": {}}) + "\n")


def _no_rounds(run: Path) -> None:
    row = _row("softmax", "numpy:cpu", 64)  # status ok, no rounds
    (run / "cases.jsonl").write_text(json.dumps(row) + "\n")


def _edit_row(**fields):
    """Damage: the first row of cases.jsonl with ``fields`` set (``...``: the field removed)."""

    def damage(run: Path) -> None:
        lines = (run / "cases.jsonl").read_text().splitlines()
        row = json.loads(lines[0])
        row.update(fields)
        row = {key: value for key, value in row.items() if value is not ...}
        lines[0] = json.dumps(row)  # NaN is written as NaN, which json.loads reads back
        (run / "cases.jsonl").write_text("\n".join(lines) + "\n")

    return damage


def _truncated(name: str):
    def damage(run: Path) -> None:
        text = (run / name).read_text()
        (run / name).write_text(text[: len(text) // 2])

    return damage


def _write(name: str, content: str | bytes):
    def damage(run: Path) -> None:
        path = run / name
        path.write_bytes(content) if isinstance(content, bytes) else path.write_text(content)

    return damage


def _a_folder_for(name: str):
    def damage(run: Path) -> None:
        (run / name).unlink()
        (run / name).mkdir()

    return damage


@pytest.mark.parametrize(
    ("damage", "expected"),
    [
        (_corrupt_cases_middle, "cases.jsonl: line 2 is not valid JSON"),
        (_foreign_cases, "cases.jsonl: line 1 is not a case row"),
        (_no_rounds, "has no list of timed 'rounds'"),
        (_edit_row(dtype=None), "row 1 ('softmax-numpy:cpu-64-float32') has no str 'dtype'"),
        (_edit_row(dtype=...), "row 1 ('softmax-numpy:cpu-64-float32') has no str 'dtype'"),
        (_edit_row(median=None), "row 1 ('softmax-numpy:cpu-64-float32') is 'ok' but its "),
        (_edit_row(median=...), "'median' is not a positive number of seconds: None"),
        (_edit_row(median=float("nan")), "'median' is not a positive number of seconds: nan"),
        # the rates divided these: the report printed "nan" GFLOP/s and "inf%" of the roof
        (_edit_row(flops=float("nan")), "row 1 ('softmax-numpy:cpu-64-float32') has a 'flops' "),
        (_edit_row(flops=float("inf")), "'flops' that is not a finite number of at least 0 "),
        (_edit_row(bytes=-8.0), "'bytes' that is not a finite number of at least 0 (the work "),
        (_edit_row(bytes=float("nan")), "divide): nan"),
        (_write("cases.jsonl", b"\xff\xfe\x00garbage"), "cases.jsonl: not a text file"),
        (_write("cases.jsonl", "\n"), "holds no case rows"),
        (_truncated("environment.json"), "environment.json: not valid JSON"),
        (_write("environment.json", "[1, 2]"), "environment.json: expected a JSON object"),
        (_write("environment.json", '{"benchmarks": []}'), "not an environment record"),
        (_truncated("peaks.json"), "peaks.json: not valid JSON"),
        (_write("peaks.json", '{"gflops": 3}'), "peaks.json: not a peaks record"),
        (lambda run: (run / "cases.jsonl").unlink(), "is not a benchmark run"),
        # a file that cannot be opened was a traceback (IsADirectoryError, PermissionError)
        (_a_folder_for("environment.json"), "environment.json: cannot be read (Is a directory)"),
        (_a_folder_for("cases.jsonl"), "cases.jsonl: cannot be read (Is a directory)"),
    ],
)
def test_bad_files_raise_a_clear_error(tmp_path, damage, expected):
    run = make_run(tmp_path / "run")
    damage(run)
    with pytest.raises(ReportError, match=expected.replace("(", r"\(").replace(")", r"\)")):
        make_report(run)


def _a_file(name: str):
    def block(run: Path) -> Path:
        (run / name).write_text("not a folder")
        return run / name

    return block


def _a_folder(name: str):
    def block(run: Path) -> Path:
        (run / name).mkdir(parents=True)
        return run / name

    return block


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        (_a_file("plots"), "cannot write the chart"),  # plots/ cannot be made
        (_a_folder("plots/speedup-heatmap.png"), "cannot write the chart"),  # the first PNG
        (_a_folder("report.md"), "cannot write the report"),
    ],
)
def test_a_folder_the_report_cannot_write_gives_a_clear_error(tmp_path, block, expected):
    run = make_run(tmp_path / "run")
    blocked = block(run)
    with pytest.raises(ReportError, match=expected) as raised:
        make_report(run, formats="md")
    assert str(raised.value).startswith(f"{blocked}: ")


def test_truncated_last_line_is_skipped_and_noted(tmp_path):
    run = make_run(tmp_path / "run")
    with (run / "cases.jsonl").open("a") as stream:
        stream.write('{"id": "softmax-numpy:cpu-999-fl')
    assert make_report(run, formats="md") == 0
    assert "the last line was cut short" in (run / "report.md").read_text()


def test_an_unfinished_run_is_said_so_with_how_to_finish_it(tmp_path):
    import io

    from rich.console import Console

    rows = _rows(1.0, 12, 0)
    rows[1] = {**rows[1], "status": "error", "error": "RuntimeError: out of memory"}
    run = make_run(tmp_path / "run", rows=rows)
    never_measured = ["softmax-numpy:cpu-65536-float32", "linear-torch:cpu-65536-float32"]
    planned = [row["id"] for row in rows] + never_measured
    (run / "planned.json").write_text(json.dumps({"cases": planned}))
    failed = [row["id"] for row in rows if row["status"] == "error"]  # --resume runs them again
    assert rows[1]["id"] in failed
    assert load_run(run).missing == [*failed, *never_measured]
    printed = io.StringIO()
    assert make_report(run, formats="md", console=Console(file=printed, width=400)) == 0
    expected = f"unfinished run: {len(failed) + 2} planned case(s) have no result"
    assert expected in printed.getvalue()
    markdown = (run / "report.md").read_text()
    assert expected in markdown and f"mlpillars bench --resume --out {run}" in markdown
    finished_rows = [row for row in _rows(1.0, 12, 0) if row["status"] != "error"]
    finished = make_run(tmp_path / "finished", rows=finished_rows)
    assert load_run(finished).missing == []
    assert make_report(finished, formats="md") == 0
    assert "unfinished run" not in (finished / "report.md").read_text()


def test_a_run_without_its_planned_cases_is_reported_without_a_verdict(tmp_path):
    run = make_run(tmp_path / "run")
    (run / "planned.json").unlink()  # a run folder of an older mlpillars
    assert load_run(run).missing is None
    assert make_report(run, formats="md") == 0
    markdown = (run / "report.md").read_text()
    assert "planned.json not found" in markdown and "unfinished run" not in markdown
    (run / "planned.json").write_text('{"cases": "softmax"}')
    with pytest.raises(ReportError, match=r"planned\.json: not a list of planned cases"):
        load_run(run)


def test_bad_arguments(tmp_path, reported):
    with pytest.raises(ReportError, match="not a folder"):
        make_report(tmp_path / "missing")
    with pytest.raises(ReportError, match="unknown report format"):
        make_report(reported, formats="pdf")
    with pytest.raises(ReportError, match="needs a run to compare"):
        make_report(reported, fail_on_regression=0.1)


def test_a_format_named_twice_is_written_once(tmp_path):
    import io

    from rich.console import Console

    run = make_run(tmp_path / "run")
    printed = io.StringIO()
    assert make_report(run, formats="md,md", console=Console(file=printed, width=200)) == 0
    assert printed.getvalue().count("report.md") == 1


@pytest.mark.parametrize(("text", "fraction"), [("10%", 0.10), ("10", 0.10), (" 2.5 % ", 0.025)])
def test_parse_threshold(text, fraction):
    assert parse_threshold(text) == pytest.approx(fraction)


@pytest.mark.parametrize("text", ["ten", "-5%", "", "nan"])
def test_parse_threshold_refuses(text):
    with pytest.raises(argparse.ArgumentTypeError):
        parse_threshold(text)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (2.5, "2.5 s"),
        (1.234e-3, "1.23 ms"),
        (1e-3, "1 ms"),
        (4.56e-5, "45.6 µs"),
        (4.2e-7, "420 ns"),
    ],
)
def test_format_seconds_picks_the_largest_unit_reached(seconds, text):
    assert format_seconds(seconds) == text


def test_seconds_interval_writes_its_bounds_in_the_median_unit():
    estimate = median_estimate([1.0e-3, 1.1e-3, 1.2e-3, 1.3e-3, 1.4e-3] * 4)
    low, high = estimate.low * 1e3, estimate.high * 1e3
    assert seconds_interval(estimate) == f"1.2 ms [{low:.3g}, {high:.3g}]"


# -- peaks ---------------------------------------------------------------------------------------
def test_measure_peaks_numpy_is_positive():
    peaks = measure_peaks(
        ["numpy:cpu", "nosuchbackend"], matrix_size=128, copy_bytes=2**22, rounds=2
    )
    numpy_peaks = peaks["backends"]["numpy:cpu"]
    assert numpy_peaks["gflops"] > 0 and numpy_peaks["gbps"] > 0
    assert numpy_peaks["matmul"]["size"] == 128 and len(numpy_peaks["matmul"]["seconds"]) >= 1
    assert "unknown backend" in peaks["backends"]["nosuchbackend"]["error"]
    assert validate_peaks(json.loads(json.dumps(peaks))) is None


def test_readme_states_the_policy_from_code():
    readme = (Path(__file__).parents[1] / "reports" / "README.md").read_text()
    for fact in (f"p < {ALPHA}", f"{FACTOR}x", f"{N_RESAMPLES} resamples", f"{MIN_ROUNDS} rounds"):
        assert fact in readme, fact
    assert f"{NOISE_LIMIT:.0%}" in readme.replace(" %", "%")


def test_kernel_section_sets_ours_against_the_native_calls_and_untraceable_rows(tmp_path):
    rng = np.random.default_rng(3)

    def timed(implementation, seconds, kind, backend, **extra):
        rounds = seconds * (1 + 0.01 * rng.standard_normal(12))
        row = _row("softmax", implementation, 4096, rounds=rounds, **extra)
        row.update(kind=kind, backend=backend, variant="temperature 1")
        row["id"] += "-t1"
        return row

    native_rounds = 0.02 * np.linspace(1, 2, 9)
    alternated = {
        "with": "softmax-jax:cpu:0-4096-float32-t1",
        "with_rounds": list(1.2 * native_rounds),
        "rounds": list(native_rounds),
    }
    rows = [
        timed("numpy:cpu", 0.2, "backend", "numpy:cpu"),
        timed("scipy.special.softmax", 0.1, "peer", "numpy:cpu"),
        timed("torch:cpu", 0.15, "backend", "torch:cpu"),
        timed("torch.softmax", 0.05, "peer", "torch:cpu"),
        timed(
            "jax:cpu:0", 0.1, "backend", "jax:cpu:0", compile_seconds=0.5, first_call_seconds=0.6
        ),
        # timed apart, jax.nn.softmax's 0.1 s ties ours; in alternating rounds (drift: both
        # slower in later rounds) ours is 1.2x in every round, 6 ms more at the median
        timed("jax.nn.softmax", 0.1, "peer", "jax:cpu", alternated=[alternated]),
        _row(
            "softmax",
            "torch.compile:cpu",
            4096,
            "untraceable",
            reason="torch.compile cannot trace it: Unsupported: ContextVar.get",
        ),
    ]
    run = make_run(tmp_path / "run", rows=rows)
    assert make_report(run, formats="md") == 0
    section = _section((run / "report.md").read_text(), "### Kernel: softmax")
    assert "untraceable: torch.compile cannot trace it: Unsupported" in section
    assert "0.5 s (jax.jit" not in section  # notes are empty here; the first call is shown
    assert "0.5 s (first call 0.6 s)" in section
    assert "**softmax against the native calls**" in section
    native = {
        tuple(cell.strip() for cell in line.split("|")[2:4]): line
        for line in section.splitlines()
        if line.startswith("| 4096 float32 (temperature 1) |")
    }
    assert set(native) == {
        ("numpy:cpu", "scipy.special.softmax"),
        ("torch:cpu", "torch.softmax"),
        ("jax:cpu:0", "jax.nn.softmax"),
    }
    ratio = {pair: float(line.split("|")[6].split("×")[0]) for pair, line in native.items()}
    assert ratio["numpy:cpu", "scipy.special.softmax"] == pytest.approx(2, rel=0.05)
    assert ratio["torch:cpu", "torch.softmax"] == pytest.approx(3, rel=0.05)
    assert native["torch:cpu", "torch.softmax"].endswith("| +100 ms | 12/12 |")  # per call
    assert ratio["jax:cpu:0", "jax.nn.softmax"] == pytest.approx(1.2)
    assert native["jax:cpu:0", "jax.nn.softmax"].endswith("| +6 ms | 9 alternating |")
    assert "*alternating*" in section


def _alternated_pair():
    """Timed apart, the peer's own rounds (8 ms) are twice numpy's (4 ms): 0.5x; in
    alternating rounds the peer is faster, numpy / peer = 1.25 in every round."""
    alternating = 0.01 * np.linspace(1, 2, 11)
    numpy_row = _timed("sigmoid", "numpy:cpu", 1024, 0.004, backend="numpy:cpu")
    with_numpy = {"with": numpy_row["id"], "with_rounds": list(1.25 * alternating)}
    peer = _timed(
        "sigmoid",
        "scipy.special.expit",
        1024,
        0.008,
        kind="peer",
        backend="numpy:cpu",
        alternated=[{**with_numpy, "rounds": list(alternating)}],
    )
    return numpy_row, peer


def test_kernel_table_and_chart_speed_ups_follow_the_medians_they_print(tmp_path, monkeypatch):
    drawn = {}
    real_plot = kernels.speedup_plot

    def capture(kernel, label, speedups, colours, path):
        drawn.update({name: estimate.value for name, estimate in speedups})
        real_plot(kernel, label, speedups, colours, path)

    monkeypatch.setattr(kernels, "speedup_plot", capture)
    run = make_run(tmp_path / "run", rows=list(_alternated_pair()))
    assert make_report(run, formats="md") == 0
    section = _section((run / "report.md").read_text(), "### Kernel: sigmoid")
    line = next(line for line in section.splitlines() if line.startswith("| scipy.special"))
    cells = [cell.strip() for cell in line.split("|")]
    assert cells[6].startswith("8 ms") and cells[10].startswith("0.5× [")
    assert cells[10].endswith("; alternating 1.25× [1.25, 1.25]")
    assert drawn == {"scipy.special.expit": pytest.approx(0.5)}
    assert "of the medians in this table (each case's own rounds)" in section


def test_one_pair_reads_the_same_in_every_table_and_says_which_figure(tmp_path, monkeypatch):
    """The answer table ranked NumPy fastest by the medians it printed (4 ms, 8 ms), then
    read '0.8× vs expit, significant' and 'mlpillars 0.8×' from the alternating rounds; the
    heatmap drew 1.25× where the kernel's table and chart lead with 0.5×. Neither said it."""
    from mlpillars.bench.report import heatmap

    drawn = {}
    monkeypatch.setattr(heatmap, "heatmap_plot", lambda *args: drawn.update(args=args))
    run = make_run(tmp_path / "run", rows=list(_alternated_pair()))
    assert make_report(run, formats="md") == 0
    markdown = (run / "report.md").read_text()
    answer = _section(markdown, "## Answer: the fastest")
    line = next(line for line in answer.splitlines() if "| sigmoid |" in line)
    cells = [cell.strip() for cell in line.strip("|").split("|")]
    assert cells[2] == "`numpy:cpu`"
    apart_and_alternating = "2×, significant; alternating 0.8×, significant"
    assert cells[4] == "2× vs `scipy.special.expit`, significant; alternating 0.8×, significant"
    assert cells[8] == f"mlpillars {apart_and_alternating}"
    assert "the cell adds *alternating*" in answer
    _, columns, values, _, marked, mark = drawn["args"]
    assert columns == ["numpy:cpu", "best peer"] and values == [[1.0, pytest.approx(0.5)]]
    assert marked == [[False, True]] and mark == "*"
    heatmap_caption = _section(markdown, "### Speed-up over NumPy at a glance")
    assert "of each case's own rounds" in heatmap_caption and "* marks a pair" in heatmap_caption
    kernel = _section(markdown, "### Kernel: sigmoid")
    peer_line = next(line for line in kernel.splitlines() if line.startswith("| scipy.special"))
    assert "| 0.5× [" in peer_line and "; alternating 1.25× [" in peer_line


# -- the answer first ---------------------------------------------------------------------------
def _timed(kernel, implementation, size, seconds, *, kind=None, **extra):
    """A timed row whose median is exactly ``seconds`` (rounds spread 1 % either side)."""
    row = _row(kernel, implementation, size, rounds=seconds * (1 + 0.01 * np.linspace(-1, 1, 12)))
    if kind is not None:
        row["kind"] = kind
    return {**row, **extra}


def test_answer_picks_the_fastest_and_its_ratios(reported):
    analysis = RunAnalysis(load_run(reported).rows, None)
    small, large, numpy_only = answers(analysis, "softmax")
    assert (small.label, large.label, numpy_only.label) == (
        "64 float32",
        "256 float32",
        "4096 float32",
    )
    for answer in (small, large):
        assert [row["implementation"] for row in answer.ranked[:3]] == [
            "numba",
            "torch:cpu",
            "numpy:cpu",
        ]
        assert answer.vs_next.ratio.value == pytest.approx(1.6, rel=0.05)
        assert answer.vs_numpy.ratio.value == pytest.approx(2.0, rel=0.05)
        assert answer.vs_next.significant and answer.vs_numpy.significant
        assert answer.backend["implementation"] == "torch:cpu" and answer.peer is None
    assert numpy_only.fastest["implementation"] == "numpy:cpu"
    assert numpy_only.vs_next is None and numpy_only.vs_numpy is None


def test_answer_table_names_the_peer_and_the_ties(tmp_path):
    rows = [
        _timed("softmax", "numpy:cpu", 64, 1e-5),
        _timed("softmax", "torch:cpu", 64, 1.02e-5),
        _timed("softmax", "scipy.special.softmax", 64, 0.5e-5, kind="peer"),
        _timed("softmax", "numpy:cpu", 256, 1e-4),
        _timed("softmax", "torch:cpu", 256, 1.02e-4),
        _timed("softmax", "numpy:cpu", 1024, 1.02e-3),
        _timed("softmax", "scipy.special.softmax", 1024, 1e-3, kind="peer"),
    ]
    run = make_run(tmp_path / "run", rows=rows)
    make_report(run, formats="md")
    answer = _section((run / "report.md").read_text(), "## Answer: the fastest")
    peer_line, tie_line, close_line = [line for line in answer.splitlines() if "float32 |" in line]
    cells = [cell.strip() for cell in peer_line.strip("|").split("|")]
    assert cells[:3] == ["softmax", "64 float32", "`scipy.special.softmax`"]
    assert cells[3].startswith("5 µs [")
    assert cells[4:] == [
        "2× vs `numpy:cpu`, significant",
        "2×, significant",
        "`numpy:cpu` 10 µs",
        "`scipy.special.softmax` 5 µs",
        "peer 2×, significant",
    ]
    cells = [cell.strip() for cell in tie_line.strip("|").split("|")]
    assert cells[0] == "" and cells[2] == "`numpy:cpu`"  # the kernel is named once
    assert cells[4:7] == ["1.02× vs `torch:cpu`, not significant", "is NumPy", "`numpy:cpu` 100 µs"]
    assert cells[7:] == ["–", "–"]
    # a difference that is not significant still says who is ahead (it read "1.02×, ...")
    cells = [cell.strip() for cell in close_line.strip("|").split("|")]
    assert cells[-1] == "peer 1.02×, not significant"


@pytest.mark.parametrize("columns", [1, 2, 6])
def test_the_heatmap_title_fits_its_figure(tmp_path, monkeypatch, columns):
    """With NumPy and one peer the title was cut at 'is fas'."""
    from mlpillars.bench.report import plots

    saved = []
    monkeypatch.setattr(plots, "_save", lambda figure, path: saved.append(figure))
    names = [f"implementation {index}" for index in range(columns)]
    plots.heatmap_plot(["sigmoid (1024 float32)"], names, [[1.0] * columns], tmp_path / "h.png")
    (figure,) = saved
    renderer = figure.canvas.get_renderer()
    figure.draw(renderer)
    title = figure.axes[0].title.get_window_extent(renderer)
    bounds = figure.bbox
    assert bounds.x0 <= title.x0 and title.x1 <= bounds.x1


def test_heatmap_takes_the_largest_size_every_implementation_ran(reported):
    grid = speedup_grid(RunAnalysis(load_run(reported).rows, None))
    assert grid.labels == ["softmax (256 float32)", "linear (256 float32)"]
    assert grid.columns == ["numpy:cpu", "torch:cpu", "numba", "python"]  # NumPy first
    assert np.allclose(grid.values, [[1.0, 1.25, 2.0, 1 / 60]] * 2, rtol=0.05)
    assert grid.alternated == [[False] * 4] * 2
    assert (reported / "plots" / "speedup-heatmap.png").read_bytes().startswith(PNG_SIGNATURE)


# -- crossovers ---------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("found", "text"),
    [
        (
            [(64, BEHIND, 2.0), (256, BEHIND, 1.5), (1024, AHEAD, 0.5)],
            "overtakes between 256 and 1024 (≈ 430)",
        ),
        (
            [(256, BEHIND, 1.5), (512, EVEN, 1.0), (1024, AHEAD, 0.5)],
            "overtakes between 256 and 1024",
        ),
        ([(64, AHEAD, 0.5), (256, BEHIND, 2.0)], "falls behind between 64 and 256 (≈ 130)"),
        ([(64, AHEAD, 0.5), (1024, AHEAD, 0.2)], "faster at every size run (64–1024)"),
        ([(64, BEHIND, 3.0)], "slower at every size run (64)"),
        ([(64, EVEN, 1.0), (256, EVEN, 1.0)], "no significant difference (64–256)"),
        ([(64, EVEN, 1.0), (256, AHEAD, 0.5)], "faster at 256; no significant difference at 64"),
        ([], ""),
    ],
)
def test_crossover_wording(found, text):
    assert describe([Point(*point) for point in found]) == text


def test_crossover_from_rows_interpolates_between_neighbouring_sizes():
    # torch is 2x and 1.5x slower than NumPy at 64 and 256, then 2x faster at 1024
    rows = [_timed("softmax", "numpy:cpu", size, 1e-4) for size in (64, 256, 1024)]
    rows += [
        _timed("softmax", "torch:cpu", size, ratio * 1e-4)
        for size, ratio in ((64, 2.0), (256, 1.5), (1024, 0.5))
    ]
    torch, numpy_cpu = COMPARISONS[2][1:]
    found = points(rows, torch, numpy_cpu)
    assert [point.state for point in found] == [BEHIND, BEHIND, AHEAD]
    assert describe(found) == "overtakes between 256 and 1024 (≈ 430)"
    assert interpolate(found[1], found[2]) == pytest.approx(256 * 4 ** (np.log(1.5) / np.log(3)))


def test_crossover_section_says_when_no_gpu_ran_and_compares_one_that_did(tmp_path):
    rows = [
        _timed("softmax", "numpy:cpu", 64, 1e-5),
        _timed("softmax", "numpy:cpu", 1024, 1e-3),
        _timed("softmax", "torch:cuda", 64, 3e-5),
        _timed("softmax", "torch:cuda", 1024, 1e-4),
    ]
    run = make_run(tmp_path / "gpu", rows=rows)
    make_report(run, formats="md")
    section = _section((run / "report.md").read_text(), "### Crossover sizes")
    assert "GPU vs CPU" in section and "overtakes between 64 and 1024 (≈ 160)" in section
    plain = make_run(tmp_path / "cpu", rows=[*rows[:2], _timed("softmax", "numba", 64, 1e-6)])
    make_report(plain, formats="md")
    section = _section((plain / "report.md").read_text(), "### Crossover sizes")
    assert "No backend ran on a GPU in this run" in section
    assert "| softmax | slower at every size run (64) |" in section
    # NumPy beside a peer at the same sizes: it said "No two families ran at the same sizes"
    peer = _timed("softmax", "scipy.special.softmax", 64, 2e-5, kind="peer")
    alone = make_run(tmp_path / "peer", rows=[rows[0], peer])
    make_report(alone, formats="md")
    section = _section((alone / "report.md").read_text(), "### Crossover sizes")
    assert "No pair this section compares ran at the same sizes" in section
    assert "No two families" not in section


# -- agreement ----------------------------------------------------------------------------------
def _checked(implementation, *, status="ok", **fields):
    row = _timed("softmax", implementation, 64, 1e-5, status=status, **fields)
    return {"max_abs_error": 1e-7, "correct": status != "wrong", **row}


AGREEMENT_ROWS = [
    _checked("numpy:cpu", max_rel_error=1e-7, tolerance_fraction=0.1, rtol=1e-4, atol=1e-5),
    _checked("torch:cpu", max_rel_error=4e-5, tolerance_fraction=0.6, rtol=1e-4, atol=1e-5),
    _checked("jax:cpu", status="wrong", tolerance_fraction=3.0, rtol=1e-4, atol=1e-5),
    _checked("numba", max_abs_error=8e-6),  # an older run: no share recorded
    _checked("python", max_abs_error=1e-9),
]


def test_agreement_flags_over_half_the_tolerance():
    found = {item.implementation: item for item in agreements(AGREEMENT_ROWS)}
    assert found["numpy:cpu"].flag == "" and found["numpy:cpu"].share == 0.1
    assert found["torch:cpu"].flag.startswith("⚠ over half")
    assert found["jax:cpu"].flag.startswith("✗")
    assert found["numba"].share is None and found["numba"].share_bound == pytest.approx(0.8)
    assert found["numba"].flag.startswith("?") and not found["numba"].tolerance_recorded
    assert found["python"].flag == ""


def test_agreement_section_lists_the_flagged_first_and_the_settings(tmp_path):
    run = make_run(tmp_path / "run", rows=AGREEMENT_ROWS)
    make_report(run, formats="md")
    markdown = (run / "report.md").read_text()
    section = _section(markdown, "## Agreement with the float64 reference")
    flagged, everything = section.split("<details>")
    assert "**3 of 5** results need a look" in flagged
    assert "`torch:cpu`" in flagged and "`numba`" in flagged and "`numpy:cpu`" not in flagged
    assert (
        "| softmax | `torch:cpu` | float32 | 64 | 1e-07 | 4e-05 | 0.0001, 1e-05 | 60% |" in flagged
    )
    assert "| `numba` | float32 | 64 | 8e-06 | – | 0.0001, 1e-05 (*) | ≤ 80% (*) |" in flagged
    assert everything.count("| softmax |") == 5
    settings = _section(markdown, "### Settings that change the numbers")
    assert "| `torch:cpu` | torch | float32_matmul_precision highest |" in settings
    assert "| `numba` | numba | – |" in settings


def test_gate_error_fields_record_the_share_of_the_tolerance():
    tolerance = TOLERANCES["float32"]  # rtol 1e-4, atol 1e-5
    fields = error_fields([np.array([30.0015, 0.0])], [np.array([30.0, 0.0])], tolerance)
    # allowed at 30: atol x 30 (the scale) + rtol x 30 = 3.3e-3
    assert fields["tolerance_fraction"] == pytest.approx(1.5e-3 / 3.3e-3)
    assert fields["max_rel_error"] == pytest.approx(1.5e-3 / 30)
    assert (fields["rtol"], fields["atol"]) == (1e-4, 1e-5)
    special = error_fields([np.array([np.nan, np.inf])], [np.array([np.nan, np.inf])], tolerance)
    assert special["tolerance_fraction"] == 0 and special["max_rel_error"] == 0
    assert error_fields([np.zeros(2)], [np.zeros(3)], tolerance)["tolerance_fraction"] == np.inf


# -- captions, contents, folding ----------------------------------------------------------------
def test_every_chart_has_a_caption(reported):
    lines = (reported / "report.md").read_text().splitlines()
    images = [number for number, line in enumerate(lines) if line.startswith("![")]
    assert len(images) == 2 * len(KERNELS) + 2  # time and speed-up per kernel, heatmap, roofline
    for number in images:
        assert lines[number + 2].startswith("**Figure.** ") and len(lines[number + 2]) > 150
    page = (reported / "report.html").read_text()
    assert page.count("<figcaption>") == page.count("<img ") == len(images)


class _Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.ids: list[str] = []
        self.links: list[str] = []

    def handle_starttag(self, tag, attrs):
        found = dict(attrs)
        if "id" in found:
            self.ids.append(found["id"])
        if tag == "a" and found.get("href", "").startswith("#"):
            self.links.append(found["href"][1:])


def test_html_contents_link_every_section_and_long_tables_fold(reported):
    page = (reported / "report.html").read_text()
    parser = _Links()
    parser.feed(page)
    assert parser.links == parser.ids[1:]  # every heading but the title, once, in order
    assert (
        "kernel-softmax" in parser.ids
        and "answer-the-fastest-implementation-per-kernel-and-size" in parser.ids
    )
    # each kernel's table folds (this run recorded no errors: no agreement table); the
    # answer table does not
    assert page.count("<details><summary>") == len(KERNELS)
    assert page.index("<table>") < page.index("<details>")
    markdown = (reported / "report.md").read_text()
    assert markdown.count("<details><summary>") == len(KERNELS)
    assert "[softmax](#kernel-softmax)" in markdown
    assert "[The tutorial's claim: NumPy 50 to 100 times faster than Python loops]" in markdown
    assert "(#the-tutorials-claim-numpy-50-to-100-times-faster-than-python-loops)" in markdown
