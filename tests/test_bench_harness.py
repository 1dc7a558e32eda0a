"""The benchmark harness: the catalogue, cases, work model, correctness gate, the
implementations' own skip checks, runner, results on disk as each case finishes, and
resuming an interrupted run."""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np
import pytest

import mlpillars as mp
from mlpillars import cli
from mlpillars.bench import implementations, measure, run_folder
from mlpillars.bench.baselines import numba_installed
from mlpillars.bench.cases import SUITES, Case, plan_cases
from mlpillars.bench.catalogue import CATALOGUE, SuiteSizes
from mlpillars.bench.implementations import (
    PYTHON,
    BackendImplementation,
    LoopBaseline,
    PeerImplementation,
)
from mlpillars.bench.report.load import load_run
from mlpillars.bench.results import ResultsLog, read_rows
from mlpillars.bench.run_folder import (
    CASES_FILE,
    ENVIRONMENT_FILE,
    PEAKS_FILE,
    PLAN_FILE,
    PLANNED_FILE,
    missing_cases,
)
from mlpillars.bench.runner import RunPlan, effective_plan, run_bench
from mlpillars.tolerances import compare_outputs, tolerance_for

pytest.importorskip("pytest_benchmark")
TINY_ARGUMENTS = ["--suite", "tiny", "--kernels", "softmax", "--backends", "numpy"]


def test_every_public_kernel_has_an_entry_with_an_example_work_model_and_quick_sizes():
    assert set(CATALOGUE) == set(mp.KERNELS)
    for name, entry in CATALOGUE.items():
        assert entry.kernel == name and entry.sizes.quick == tuple(sorted(entry.sizes.quick))
        call = entry.example_call(entry.sizes.quick[0], "float32")
        work = entry.work_of(call, "float32")
        assert work.flops > 0 and work.bytes > 0, name
    quick_kernels = {case.kernel for case in plan_cases(SUITES["quick"], backends=["numpy"])}
    assert quick_kernels == set(mp.KERNELS)


def test_every_suite_has_sizes_in_every_entry():
    assert set(SUITES) == set(SuiteSizes.suite_names())
    for suite in SUITES.values():
        for entry in CATALOGUE.values():
            sizes = suite.sizes(entry)
            assert list(sizes) == sorted(sizes), (suite.name, entry.kernel)


@pytest.mark.parametrize(
    ("kernel", "size", "expected_flops", "expected_bytes"),
    [
        ("linear", 64, 2 * 64**3 + 2 * 64 * 64, 4 * (3 * 64 * 64 + 64)),
        ("softmax", 64, 5 * 64 * 64, 4 * 2 * 64 * 64),
        (
            "scaled_dot_product_attention",
            32,
            8 * 32 * 32 * (2 * 64 + 2 * 64 + 5),
            4 * 4 * 8 * 32 * 64,
        ),
        # one (n=64, d=16) problem: centring and QR of X, then centring y, Q^T y, R w = z, b
        (
            "least_squares",
            64,
            (2 * 64 * 16 + 2 * 64 * 16**2 - 2 * 16**3 / 3) + (2 * 64 + 4 * 64 * 16 + 16**2 + 32),
            4 * (64 * 16 + 64 + 17),
        ),
        # 8 rows of 256: 7 FLOPs per element pair; both inputs read, one score per row
        ("r_squared", 256, 7 * 8 * 256, 4 * (2 * 8 * 256 + 8)),
        # 250 samples of 32 features, 8 components: X^T X and eigh; X in, the fit out
        ("pca_fit", 250, 2 * 250 * 32**2 + 9 * 32**3, 4 * (250 * 32 + 8 * 32 + 3 * 8 + 32)),
    ],
)
def test_work_model_counts(kernel: str, size: int, expected_flops: float, expected_bytes: float):
    entry = CATALOGUE[kernel]
    work = entry.work_of(entry.example(np.random.default_rng(0), size), "float32")
    assert work.flops == pytest.approx(expected_flops)
    assert work.bytes == expected_bytes and work.intensity == work.flops / work.bytes


@pytest.mark.parametrize(
    ("kernel", "peer_name"),
    [(kernel, peer.name) for kernel, entry in CATALOGUE.items() for peer in entry.peers],
)
def test_every_peer_passes_the_correctness_gate(kernel: str, peer_name: str):
    entry = CATALOGUE[kernel]
    (peer,) = [peer for peer in entry.peers if peer.name == peer_name]
    if not peer.is_installed():
        pytest.skip(f"{peer.dotted_name} is not installed")
    size = entry.sizes.quick[0]
    prepared = PeerImplementation(peer).prepare(entry, entry.example_call(size, "float32"))
    expected = list(measure.reference_outputs(kernel, size, "float32"))
    max_error, passed = compare_outputs(
        prepared.outputs(prepared.run()), expected, tolerance_for("float32")
    )
    assert passed, f"{peer_name} differs from the reference by {max_error:.3g}"


def test_plan_puts_each_sizes_cases_on_one_thread_pool_next_to_each_other():
    """A run switches thread pools (NumPy's BLAS, torch's OpenMP, XLA's) once per pool a
    size, NumPy's first, so that few cases wait for another pool's workers to idle."""
    cases = plan_cases(SUITES["quick"], kernels=["softmax", "linear"])

    def point(case: Case) -> tuple:
        return case.kernel, case.size, case.dtype, case.variant

    for key in {point(case) for case in cases}:
        pools = [case.implementation.thread_pool for case in cases if point(case) == key]
        groups = [pool for i, pool in enumerate(pools) if i == 0 or pools[i - 1] != pool]
        assert len(groups) == len(set(groups)), f"{key}: pools {pools}"
        assert groups[0] == "blas"


def test_a_case_after_another_thread_pool_warms_until_that_pools_workers_idle(monkeypatch):
    calls: list[float] = []

    def run() -> None:
        calls.append(time.perf_counter())
        time.sleep(0.01)

    prepared = measure.Prepared(run=run, outputs=list)
    monkeypatch.setattr(measure, "_LAST_WORK", {"pool": "openmp", "ended": time.perf_counter()})
    started = time.perf_counter()
    measure._settle(prepared, "blas")
    assert time.perf_counter() - started >= measure.SETTLE_SECONDS
    assert len(calls) >= 2  # warm calls, not a sleep
    calls.clear()
    monkeypatch.setattr(measure, "_LAST_WORK", {"pool": "blas", "ended": time.perf_counter()})
    measure._settle(prepared, "blas")  # the same pool: timed at once
    assert calls == []


def test_plan_covers_backends_baselines_and_peers_smaller_sizes_first():
    cases = plan_cases(SUITES["quick"], backends=["numpy"], kernels=["softmax"])
    kinds = {case.implementation.name: case.kind for case in cases}
    expected = {"numpy:cpu": "backend", "python": "baseline", "scipy.special.softmax": "peer"}
    if numba_installed():
        expected["numba"] = "baseline"
    assert expected.items() <= kinds.items()
    sizes = [case.size for case in cases]
    assert sizes == sorted(sizes)
    with pytest.raises(mp.UnknownBackendError, match="tensorflow"):
        plan_cases(SUITES["quick"], backends=["tensorflow"])
    with pytest.raises(ValueError, match="unknown kernel"):
        plan_cases(SUITES["quick"], kernels=["fft"])
    with pytest.raises(ValueError, match="suite 'targets' has no sizes for mlp"):
        plan_cases(SUITES["targets"], kernels=["mlp"])


def _linear_work(size: int):
    entry = CATALOGUE["linear"]
    return entry.work_of(entry.example_call(size, "float32"), "float32")


def test_cases_write_the_kinds_and_loop_names_the_report_reads():
    cases = plan_cases(SUITES["quick"], backends=["numpy"], kernels=["softmax"])
    assert {case.kind for case in cases} == set(run_folder.KINDS)
    loop_names = (implementations.PYTHON, implementations.NUMBA)
    assert loop_names == (run_folder.PYTHON, run_folder.NUMBA)


def _python_row(size: int, median: float) -> dict:
    case = Case("linear", LoopBaseline(PYTHON), size, "float32")
    return {
        "id": case.id,
        "kernel": "linear",
        "implementation": PYTHON,
        "dtype": "float32",
        "size": size,
        "status": "ok",
        "median": median,
        "flops": _linear_work(size).flops,
    }


def test_loop_estimate_fits_a_power_law_to_the_sizes_that_ran():
    log = ResultsLog(None)
    log.rows += [_python_row(16, 1e-3), _python_row(32, 8e-3)]  # t ~ size**3
    case = Case("linear", LoopBaseline(PYTHON), 128, "float32")
    estimate = implementations.loop_estimate(case, _linear_work(128), log)
    assert estimate == pytest.approx(8e-3 * 4**3, rel=1e-6)


def test_loop_estimate_from_one_size_scales_by_the_work_model():
    log = ResultsLog(None)
    log.rows.append(_python_row(16, 1e-3))
    case = Case("linear", LoopBaseline(PYTHON), 32, "float32")
    estimate = implementations.loop_estimate(case, _linear_work(32), log)
    ratio = (2 * 32**3 + 2 * 32**2) / (2 * 16**3 + 2 * 16**2)  # matmul, bias, activation
    assert estimate == pytest.approx(1e-3 * ratio)


def test_a_loop_predicted_over_the_suite_limit_is_skipped_with_its_estimate():
    log = ResultsLog(None)
    log.rows += [_python_row(16, 0.1), _python_row(32, 0.8)]  # 0.8 s * 8 = 6.4 s at 64
    case = Case("linear", LoopBaseline(PYTHON), 64, "float32")
    with pytest.raises(measure.CaseOutcome, match=r"python loop predicted to take 6\.4 s"):
        measure.run_case(case, SUITES["quick"], log, _NoBenchmark())
    assert log.rows[-1]["status"] == "skipped"
    assert log.rows[-1]["estimate_seconds"] == pytest.approx(6.4)


class _NoBenchmark:
    """Stands in for pytest-benchmark's fixture: it must not be reached for a wrong case."""

    def pedantic(self, *args, **kwargs):
        raise AssertionError("a wrong result must not be timed")


class _CountingBenchmark:
    """Stands in for pytest-benchmark's fixture: runs the rounds, per-call times as it."""

    def pedantic(self, target, *, rounds, iterations):
        self.rounds, self.iterations, self.data = rounds, iterations, []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(iterations):
                target()
            self.data.append((time.perf_counter() - started) / iterations)
        self.stats = types.SimpleNamespace(stats=types.SimpleNamespace(data=self.data))


def test_a_short_call_runs_several_times_a_round_and_a_long_one_once():
    calls = []
    short = measure.Prepared(run=lambda: calls.append(1), outputs=list)
    benchmark = _CountingBenchmark()
    # the checked call's time (under the memory meter) is not trusted below 1 ms
    rounds, iterations = measure._timed_rounds(short, 5e-4, SUITES["tiny"], benchmark)
    assert iterations == benchmark.iterations > 100
    assert len(rounds) == benchmark.rounds >= SUITES["tiny"].min_rounds
    assert max(rounds) < 1e-5  # a round's time is per call, not the round's total
    long = measure.Prepared(run=lambda: time.sleep(2e-3), outputs=list)
    rounds, iterations = measure._timed_rounds(long, 2e-3, SUITES["tiny"], _CountingBenchmark())
    assert iterations == 1 and min(rounds) >= 2e-3


def test_a_wrong_result_is_recorded_and_not_timed(monkeypatch: pytest.MonkeyPatch):
    case = Case("softmax", BackendImplementation("numpy:cpu"), 16, "float32")
    prepare = BackendImplementation.prepare

    def prepare_off_by_a_tenth(self, entry, call):
        prepared = prepare(self, entry, call)
        return dataclasses.replace(prepared, run=lambda: prepared.run() + 0.1)

    monkeypatch.setattr(BackendImplementation, "prepare", prepare_off_by_a_tenth)
    log = ResultsLog(None)
    with pytest.raises(measure.CaseOutcome, match="differs from the float64 NumPy reference"):
        measure.run_case(case, SUITES["tiny"], log, _NoBenchmark())
    (row,) = log.rows
    assert row["status"] == "wrong" and row["correct"] is False and "rounds" not in row
    assert row["max_abs_error"] == pytest.approx(0.1, rel=1e-3)


@pytest.mark.parametrize("wrong_kind", ["peer", "backend"])
def test_a_run_fails_on_our_wrong_results_and_reports_a_peers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], wrong_kind
):
    """JAX's dot_product_attention computes float64 inputs through a float32 softmax: every
    run of a float64 suite (tiny, full) exited 1 for it, though nothing of ours was wrong."""
    from rich.console import Console

    implementation = PeerImplementation if wrong_kind == "peer" else BackendImplementation
    prepare = implementation.prepare

    def prepare_off_by_a_tenth(self, entry, call):
        prepared = prepare(self, entry, call)
        return dataclasses.replace(prepared, run=lambda: prepared.run() + 0.1)

    monkeypatch.setattr(implementation, "prepare", prepare_off_by_a_tenth)
    choice = {"suite": "tiny", "backends": ["numpy"], "kernels": ["softmax"]}
    status = run_bench(Console(width=400), out=tmp_path / "run", **choice)
    rows = read_rows(tmp_path / "run" / CASES_FILE)
    wrong = {row["id"] for row in rows if row["status"] == "wrong"}
    assert wrong == {row["id"] for row in rows if row["kind"] == wrong_kind} != set()
    output = " ".join(capsys.readouterr().out.split())
    if wrong_kind == "peer":
        assert status == 0
        assert f"{len(wrong)} peer case(s) beyond the tolerance" in output
        assert all(case_id in output for case_id in wrong)
    else:
        assert status == 1
        assert "peer case(s)" not in output


def test_results_log_skips_a_line_cut_short_by_a_kill(tmp_path: Path):
    path = tmp_path / CASES_FILE
    path.write_text(json.dumps({"id": "a", "status": "ok"}) + "\n" + '{"id": "b", "sta')
    assert [row["id"] for row in read_rows(path)] == ["a"]
    path.write_text('{"id": "a"\n' + json.dumps({"id": "b"}) + "\n")
    with pytest.raises(ValueError, match="line 1 is not valid JSON"):
        read_rows(path)


def test_run_bench_writes_a_results_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]):
    from rich.console import Console

    out = tmp_path / "run"
    status = run_bench(
        Console(width=160), suite="tiny", backends=["numpy"], kernels=["softmax"], out=out
    )
    assert status == 0
    rows = read_rows(out / CASES_FILE)
    expected_ids = {case.id for case in plan_cases(SUITES["tiny"], ["numpy"], ["softmax"])}
    assert {row["id"] for row in rows} == expected_ids
    for row in rows:
        assert row["status"] == "ok" and row["correct"] is True
        assert len(row["rounds"]) >= SUITES["tiny"].min_rounds
        assert row["peak_host_bytes"] > 0
    numba_rows = [row for row in rows if row["implementation"] == "numba"]
    # compile time is its own figure (0 when this process compiled that signature already)
    assert all(row["compile_seconds"] >= 0 for row in numba_rows)
    environment = json.loads((out / ENVIRONMENT_FILE).read_text())
    assert environment["versions"]["numpy"] == np.__version__
    assert json.loads((out / PLAN_FILE).read_text())["suite"] == "tiny"
    planned = json.loads((out / PLANNED_FILE).read_text())["cases"]
    assert sorted(planned) == sorted(expected_ids) and missing_cases(planned, rows) == []
    assert "numpy:cpu" in json.loads((out / PEAKS_FILE).read_text())["backends"]
    benchmark_json = json.loads((out / "benchmark-1.json").read_text())
    timed = benchmark_json["benchmarks"]
    assert len(timed) == len(rows) and all(entry["stats"]["data"] for entry in timed)
    captured = capsys.readouterr()
    assert "results:" in captured.out
    assert "Wrote benchmark data" not in captured.out + captured.err  # pytest-benchmark's line


def test_a_new_run_measures_its_own_peaks_over_those_left_in_its_folder(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    """Peaks left in --out (from another run or machine) were kept as the report's roofs."""
    out = tmp_path / "run"
    out.mkdir()
    left = {"format": "mlpillars-peaks/1", "backends": {"numpy:cpu": {"gflops": 1e6, "gbps": 1e6}}}
    (out / PEAKS_FILE).write_text(json.dumps(left))
    argv = ["bench", "--suite", "tiny", "--kernels", "sigmoid", "--backends", "numpy"]
    assert cli.main([*argv, "--out", str(out)]) == 0
    peaks = json.loads((out / PEAKS_FILE).read_text())
    assert "measured" in peaks and peaks["backends"]["numpy:cpu"]["gflops"] != 1e6
    printed = " ".join(capsys.readouterr().out.split())
    assert f"{out / PEAKS_FILE} is not this run's: it measures its own" in printed


def test_a_new_run_copies_the_parents_peaks_into_each_process_folder(tmp_path: Path):
    """--processes: a process folder's left peaks are replaced; a resumed one keeps its own."""
    from mlpillars.bench import processes

    (tmp_path / PEAKS_FILE).write_text("parent")
    folder = tmp_path / "processes" / "1"
    folder.mkdir(parents=True)
    (folder / PEAKS_FILE).write_text("left")
    processes._copy_peaks(tmp_path, folder, processes.RESUME)
    assert (folder / PEAKS_FILE).read_text() == "left"
    processes._copy_peaks(tmp_path, folder, None)
    assert (folder / PEAKS_FILE).read_text() == "parent"


def test_environment_differences_are_those_that_bear_on_timings():
    from mlpillars.bench.sessions import environment_differences

    first = {
        "timestamp": "2026-12-01T00:00:00+00:00",
        "memory": {"available_bytes": 1},
        "cpu": {"model": "A", "model_source": "/proc/cpuinfo", "usable_cores": 2},
        "frameworks": {"torch": {"num_threads": 2}, "reasons": {"jax": "not used by this run"}},
        "blas": [{"filename": "libopenblas.so", "num_threads": 2}],
    }
    later = {
        **first,
        "timestamp": "2026-12-02T00:00:00+00:00",
        "memory": {"available_bytes": 2},
        "cpu": {**first["cpu"], "model_source": "platform.processor()"},
        "frameworks": {"torch": {"num_threads": 2}, "reasons": {}},
    }
    assert environment_differences(first, later) == []
    later["cpu"] = {**first["cpu"], "usable_cores": 1}
    later["blas"] = [{"filename": "libopenblas.so", "num_threads": 1}]
    assert environment_differences(first, later) == [
        "cpu.usable_cores 2 -> 1",
        "blas.libopenblas.so.num_threads 2 -> 1",
    ]


def test_bench_report_makes_the_report_of_the_run_last(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    out = tmp_path / "run"
    assert cli.main(["bench", *TINY_ARGUMENTS, "--out", str(out), "--report"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert printed[-2:] == [f"report: {out / 'report.md'}", f"report: {out / 'report.html'}"]
    assert f"{len(read_rows(out / CASES_FILE))} case rows" in (out / "report.md").read_text()


def test_an_interrupted_run_resumes(tmp_path: Path):
    out = tmp_path / "run"
    command = [sys.executable, "-m", "mlpillars.cli", "bench", *TINY_ARGUMENTS, "--out", str(out)]
    environment = {**os.environ, "COLUMNS": "160"}
    first = subprocess.Popen(command, env=environment, stdout=subprocess.DEVNULL)
    cases_file = out / CASES_FILE
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and first.poll() is None:
        if cases_file.exists() and len(read_rows(cases_file)) >= 2:
            first.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    first.wait(timeout=60)
    rows_before_resume = read_rows(cases_file)
    expected = {case.id for case in plan_cases(SUITES["tiny"], ["numpy"], ["softmax"])}
    if first.returncode == 0:
        pytest.skip("the run finished before it could be killed")
    assert 2 <= len(rows_before_resume) < len(expected)
    assert len(load_run(out).missing) == len(expected) - len(rows_before_resume)
    resumed = subprocess.run(
        [sys.executable, "-m", "mlpillars.cli", "bench", "--resume", "--out", str(out)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rows = read_rows(cases_file)
    assert sorted(row["id"] for row in rows) == sorted(expected)  # each case exactly once
    assert rows[: len(rows_before_resume)] == rows_before_resume  # nothing finished was lost
    assert load_run(out).missing == []
    sessions = sorted(out.glob("benchmark-*.json"), key=lambda path: int(path.stem.split("-")[1]))
    benchmark_file = sessions[-1]  # the resumed session's own pytest-benchmark JSON
    resumed_ids = {row["id"] for row in rows[len(rows_before_resume) :]}
    timed_names = {entry["param"] for entry in json.loads(benchmark_file.read_text())["benchmarks"]}
    assert timed_names == resumed_ids


def test_resume_runs_again_a_case_whose_latest_row_is_an_error(tmp_path: Path):
    """An earlier timed row hid a later error (a --rerun-disturbed that failed): --resume left
    the case out while the run and the report called it unfinished."""
    cases_file = tmp_path / CASES_FILE
    rows = [{"id": "a", "status": "ok"}, {"id": "b", "status": "ok"}]
    rows.append({"id": "a", "status": "error"})
    cases_file.write_text("".join(json.dumps(row) + "\n" for row in rows))
    assert ResultsLog(cases_file).finished_ids() == {"b"}
    assert missing_cases(["a", "b"], read_rows(cases_file)) == ["a"]


def test_a_torn_last_line_is_dropped_before_the_next_row_is_appended(tmp_path: Path):
    cases_file = tmp_path / CASES_FILE
    whole = json.dumps({"id": "softmax-numpy:cpu-16-float32", "status": "ok"})
    cases_file.write_text(whole + "\n" + '{"id": "softmax-numba-16-flo')  # killed mid-write
    log = ResultsLog(cases_file)
    assert [row["id"] for row in log.rows] == ["softmax-numpy:cpu-16-float32"]
    log.append({"id": "softmax-numba-16-float32", "status": "ok"})
    assert [row["id"] for row in read_rows(cases_file)] == [
        "softmax-numpy:cpu-16-float32",
        "softmax-numba-16-float32",
    ]
    assert ResultsLog(cases_file).rows == read_rows(cases_file)  # and it opens again


def test_bench_says_which_requested_backends_cannot_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    # the tiny suite runs on CPU devices: CuPy has none, on any machine
    out = tmp_path / "run"
    assert cli.main(["bench", "--suite", "tiny", "--backends", "cupy", "--out", str(out)]) == 2
    printed = capsys.readouterr().out
    assert "backend cupy cannot run here" in printed
    assert "none of the requested backends can run" in printed
    assert not out.exists()  # nothing was run
    assert cli.main(["bench", "--suite", "tiny", "--backends", "nosuch", "--out", str(out)]) == 2
    assert "unknown backend(s) nosuch" in capsys.readouterr().out


def test_mlpillars_backend_limits_a_run_to_that_backend(monkeypatch: pytest.MonkeyPatch):
    requested = RunPlan(suite="quick", backends=None, kernels=["softmax"])
    monkeypatch.delenv("MLPILLARS_BACKEND", raising=False)
    assert effective_plan(requested) == requested
    monkeypatch.setenv("MLPILLARS_BACKEND", "torch:cpu")
    assert effective_plan(requested).backends == ["torch"]
    explicit = RunPlan(suite="quick", backends=["jax"], kernels=None)
    assert effective_plan(explicit) == explicit  # --backends wins


def test_report_of_a_run_against_itself_and_against_a_run_slowed_on_purpose(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
):
    import io

    from rich.console import Console

    from mlpillars.bench.report import make_report

    console = Console(width=160, file=io.StringIO())
    choice = {"suite": "tiny", "backends": ["numpy"], "kernels": ["softmax"]}
    baseline, slowed = tmp_path / "baseline", tmp_path / "slowed"
    assert run_bench(console, out=baseline, **choice) == 0
    assert make_report(baseline, compare=baseline, fail_on_regression=0.10, console=console) == 0
    assert "no significant" in (baseline / "report.md").read_text()

    prepare = BackendImplementation.prepare

    def prepare_with_test_only_delay(self, entry, call):
        prepared = prepare(self, entry, call)

        def delayed_run():
            time.sleep(0.002)
            return prepared.run()

        return dataclasses.replace(prepared, run=delayed_run)

    monkeypatch.setattr(BackendImplementation, "prepare", prepare_with_test_only_delay)
    assert run_bench(console, out=slowed, **choice) == 0
    assert make_report(slowed, compare=baseline, fail_on_regression=0.10, console=console) == 1
    assert "slower" in (slowed / "report.md").read_text()


def test_a_peer_that_cannot_fit_in_memory_is_skipped(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("jax")
    monkeypatch.setattr(implementations, "available_host_bytes", lambda: 1e3)
    (peer,) = [
        peer
        for peer in CATALOGUE["scaled_dot_product_attention"].peers
        if peer.name == "jax.nn.dot_product_attention"
    ]
    case = Case("scaled_dot_product_attention", PeerImplementation(peer), 32, "float32")
    log = ResultsLog(None)
    with pytest.raises(measure.CaseOutcome, match=r"would need about .* GiB"):
        measure.run_case(case, SUITES["quick"], log, _NoBenchmark())
    assert log.rows[0]["status"] == "skipped"
