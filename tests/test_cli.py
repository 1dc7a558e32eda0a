"""Bad command-line arguments get one clear line and exit status 2, not a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpillars import cli


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, " ".join((captured.out + captured.err).split())


def test_unknown_kernel_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, output = _run(["bench", "--kernels", "softmax,nosuch", "--out", str(tmp_path)], capsys)
    assert status == 2
    assert "unknown kernel(s) in --kernels: nosuch; valid: " in output
    assert "softmax" in output.split("valid:")[1]
    assert "Traceback" not in output
    assert not (tmp_path / "cases.jsonl").exists()


def test_a_kernel_the_suite_does_not_measure_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a traceback (ValueError: suite 'targets' has no sizes for logsumexp)."""
    argv = ["bench", "--suite", "targets", "--kernels", "softmax,logsumexp", "--out", str(tmp_path)]
    status, output = _run(argv, capsys)
    assert status == 2
    assert "the targets suite has no sizes for logsumexp (in --kernels); it measures " in output
    assert "softmax" in output.split("it measures")[1]
    assert "Traceback" not in output
    assert not (tmp_path / "cases.jsonl").exists()


def test_out_that_is_a_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a_file = tmp_path / "results.txt"
    a_file.write_text("not a folder")
    status, output = _run(["bench", "--kernels", "softmax", "--out", str(a_file)], capsys)
    assert status == 2
    assert f"--out {a_file} is a file, not a folder" in output
    assert a_file.read_text() == "not a folder"


def test_out_that_cannot_be_made(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocked = tmp_path / "a_file"
    blocked.write_text("")
    out = blocked / "run"  # a folder inside a file cannot be made
    status, output = _run(["bench", "--kernels", "softmax", "--out", str(out)], capsys)
    assert status == 2
    assert f"--out {out}: cannot make the results folder" in output


@pytest.mark.parametrize("size", ["0", "-3", "16", "x"])
def test_demo_size_too_small_or_not_a_number(size: str, capsys: pytest.CaptureFixture[str]) -> None:
    status, output = _run(["demo", "--size", size], capsys)
    assert status == 2
    assert "argument --size:" in output
    assert ("at least 17" in output) or ("expected an integer" in output)


def test_bad_backend_variable_is_named(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLPILLARS_BACKEND", "nosuch")
    status, output = _run(["demo", "--size", "17"], capsys)
    assert status == 2
    assert output.startswith("mlpillars demo: unknown backend 'nosuch' (from MLPILLARS_BACKEND)")
    assert "Traceback" not in output


@pytest.mark.parametrize("spec", ["local:x", "local:0"])
def test_bad_scheduler_is_one_line(
    spec: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("distributed")
    argv = ["bench", "--suite", "tiny", "--kernels", "softmax", "--backends", "dask"]
    status, output = _run([*argv, "--scheduler", spec, "--out", str(tmp_path)], capsys)
    assert status == 2
    assert f"--scheduler {spec}: scheduler '{spec}': expected local:N with N >= 1" in output
