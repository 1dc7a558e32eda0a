"""The full suite's out-of-core case (mlpillars/bench/out_of_core.py): PCA on Dask of a Zarr
store of 4x the free RAM, its peak RSS recorded; skipped, with the reason and the figures,
where the disk has no room.

Its code path runs here at a tiny size (the free RAM it aims at patched down to 1 MiB, so
4 MiB of data), through the harness and alone; the skip at the real size is checked with
the free disk patched (never by writing 4x the RAM of this machine).
"""

from __future__ import annotations

import dataclasses
import shutil
from pathlib import Path

import pytest

from mlpillars import cli
from mlpillars.bench import out_of_core
from mlpillars.bench.cases import SUITES, plan_cases
from mlpillars.bench.out_of_core import OutOfCorePCA, run_out_of_core
from mlpillars.bench.results import ResultsLog, read_rows
from mlpillars.bench.run_folder import CASES_FILE

pytest.importorskip("dask.array")
pytest.importorskip("zarr")
pytest.importorskip("pytest_benchmark")

MiB = 2**20


def the_case(suite: str = "full"):
    (case,) = [
        case
        for case in plan_cases(SUITES[suite], ["dask"], ["pca_fit"])
        if isinstance(case.implementation, OutOfCorePCA)
    ]
    return case


def test_the_full_suite_alone_plans_the_case_when_pca_and_dask_are_chosen():
    case = the_case()
    assert (case.kernel, case.size, case.dtype, case.implementation.name) == (
        "pca_fit",
        4,
        "float64",
        "dask:cpu",
    )
    assert case.id == "pca_fit[Zarr store, size x free RAM]-dask:cpu-4-float64"
    for suite, backends, kernels in [
        ("quick", ["dask"], ["pca_fit"]),
        ("full", ["numpy"], ["pca_fit"]),
        ("full", ["dask"], ["softmax"]),
    ]:
        planned = plan_cases(SUITES[suite], backends, kernels)
        assert not [c for c in planned if isinstance(c.implementation, OutOfCorePCA)]


def test_a_tiny_store_is_fitted_from_disk_and_removed(tmp_path: Path):
    log = ResultsLog(None)
    row = run_out_of_core(
        the_case(), SUITES["full"], log, data_bytes=4 * MiB, chunk_rows=1024, folder=tmp_path
    )
    assert row["status"] == "ok" and row["correct"] is True, row.get("reason")
    assert log.rows == [row]
    assert (row["rows"], row["data_bytes"], row["chunk_bytes"]) == (4096, 4 * MiB, MiB)
    assert row["peak_host_bytes"] > 0 and row["host_memory_method"] in ("vmhwm", "tracemalloc")
    assert row["median"] == row["rounds"][0] > 0 and row["store_write_seconds"] > 0
    assert isinstance(row["disturbed"], bool)  # the machine's load over the fit
    assert len(row["explained_variance"]) == out_of_core.COMPONENTS
    assert list(tmp_path.iterdir()) == []  # the store is gone


def test_no_room_on_disk_is_a_skip_with_the_figures(tmp_path: Path, monkeypatch):
    monkeypatch.setattr(out_of_core, "available_host_bytes", lambda: 20.0 * 2**30)
    real_disk_usage = shutil.disk_usage
    monkeypatch.setattr(
        shutil, "disk_usage", lambda path: real_disk_usage(path)._replace(free=72 * 10**9)
    )
    log = ResultsLog(None)
    row = run_out_of_core(the_case(), SUITES["full"], log, folder=tmp_path)
    assert row["status"] == "skipped" and log.rows == [row]
    assert row["data_bytes"] == pytest.approx(80 * 2**30, abs=1024)  # 4x the free RAM
    assert row["needed_disk_bytes"] > row["free_disk_bytes"] == 72 * 10**9
    assert row["reason"].startswith("not run: 4x the 20.0 GiB of free RAM is 80.0 GiB")
    assert "MLPILLARS_OUT_OF_CORE_DIR" in row["reason"] and "67.1 GiB free" in row["reason"]
    assert "median" not in row and list(tmp_path.iterdir()) == []


def test_the_harness_runs_the_case_and_the_report_reads_its_row(
    tmp_path: Path, monkeypatch, capsys
):
    # the tiny suite with the case added, aiming at 1 MiB of "free RAM": 4 MiB on disk
    monkeypatch.setitem(SUITES, "tiny", dataclasses.replace(SUITES["tiny"], out_of_core=4))
    monkeypatch.setattr(out_of_core, "available_host_bytes", lambda: float(MiB))
    monkeypatch.setenv(out_of_core.FOLDER_VARIABLE, str(tmp_path))
    out = tmp_path / "run"
    arguments = ["--suite", "tiny", "--kernels", "pca_fit", "--backends", "dask", "--out", str(out)]
    assert cli.main(["bench", *arguments, "--report"]) == 0
    rows = {row["id"]: row for row in read_rows(out / CASES_FILE)}
    row = rows[the_case("tiny").id]
    assert row["status"] == "ok" and row["data_bytes"] == 4 * MiB and row["peak_host_bytes"] > 0
    assert "Zarr store, size x free RAM" in (out / "report.md").read_text()
    assert sorted(path.name for path in tmp_path.iterdir()) == ["run"]  # the store is gone
    capsys.readouterr()
