"""Bad command-line arguments get one clear line and exit status 2, not a traceback."""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest

from mlpillars import cli
from mlpillars._cli_options import option_names


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        status = cli.main(argv)
    except SystemExit as exc:  # argparse's own usage errors
        status = int(exc.code or 0)
    captured = capsys.readouterr()
    return status, " ".join((captured.out + captured.err).split())


def test_help_describes_the_command_without_markup(capsys: pytest.CaptureFixture[str]) -> None:
    """It showed the module docstring: ``capabilities`` and a reference to ``_cli_demo``."""
    status, output = _run(["--help"], capsys)
    assert status == 0
    assert "ML math kernels on NumPy, JAX, PyTorch" in output
    assert "``" not in output and "_cli_demo" not in output


def test_unknown_kernel_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, output = _run(["bench", "--kernels", "softmax,nosuch", "--out", str(tmp_path)], capsys)
    assert status == 2
    assert "unknown kernel(s) in --kernels: nosuch; valid: " in output
    assert "softmax" in output.split("valid:")[1]
    assert "Traceback" not in output
    assert not (tmp_path / "cases.jsonl").exists()


def test_a_misspelt_kernel_gets_the_closest_name(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench", "--kernels", "sigmod,zzzz", "--out", str(tmp_path)]
    status, output = _run(argv, capsys)
    assert status == 2
    assert "unknown kernel(s) in --kernels: sigmod (did you mean sigmoid?), zzzz; valid: " in output


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


@pytest.mark.parametrize("value", ["numpy:gpu", "numpy:cpu:0", "torch:cpu:0"])
def test_a_device_the_backend_variable_names_that_does_not_exist_is_one_line(
    value: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a ValueError traceback with rc 1 (an unknown name was already one line)."""
    if value.startswith("torch"):
        pytest.importorskip("torch")
    monkeypatch.setenv("MLPILLARS_BACKEND", value)
    status, output = _run(["demo", "--size", "17"], capsys)
    name, _, device = value.partition(":")
    assert status == 2
    assert output.startswith(f"mlpillars demo: backend '{name}' has no device '{device}'")
    assert output.endswith("(from MLPILLARS_BACKEND)")
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


@pytest.mark.parametrize("option", ["--kernels", "--backends"])
@pytest.mark.parametrize("text", ["", " , ,"])
def test_an_option_that_names_nothing_is_named(
    option: str, text: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It ran every kernel (or backend) of the suite."""
    argv = ["bench", "--suite", "tiny", option, text, "--out", str(tmp_path)]
    status, output = _run(argv, capsys)
    assert status == 2
    assert f"{option} {text!r} names no {option[2:-1]}: give comma-separated names" in output
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize(("given", "name"), [("torch:cuda", "torch"), ("numpy:banana", "numpy")])
def test_a_backend_given_with_a_device_is_named(
    given: str, name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It said "unknown backend(s) torch:cuda; valid names: numpy, torch, ..."."""
    argv = ["bench", "--suite", "tiny", "--backends", f"numpy,{given}", "--out", str(tmp_path)]
    status, output = _run(argv, capsys)
    assert status == 2
    assert output == (
        "mlpillars bench: --backends takes backend names without a device (the suite chooses "
        f"the devices): {given}; give {name}"
    )
    assert not (tmp_path / "plan.json").exists()


@pytest.mark.parametrize("again", ["--resume", "--rerun-disturbed"])
def test_a_plan_option_beside_resume_that_differs_is_refused(
    again: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """They were ignored: the saved plan ran."""
    plan = {"suite": "tiny", "backends": ["numpy"], "kernels": ["softmax"], "processes": 1}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    argv = ["bench", again, "--suite", "tiny", "--kernels", "sigmoid", "--out", str(tmp_path)]
    status, output = _run([*argv, "--backends", "torch"], capsys)
    assert status == 2
    assert output == (
        f"mlpillars bench: {again} runs the plan saved in the run folder, which differs in "
        "--kernels sigmoid, the plan's softmax; --backends torch, the plan's numpy: give the "
        "plan's or drop --kernels, --backends"
    )
    assert sorted(path.name for path in tmp_path.iterdir()) == ["plan.json"]
    plan["kernels"] = None  # a plan of every kernel of its suite
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    status, output = _run(argv, capsys)
    assert status == 2
    assert "differs in --kernels sigmoid, the plan's (none: all the suite's): give" in output


@pytest.mark.parametrize("again", ["--resume", "--rerun-disturbed"])
def test_plan_options_beside_resume_equal_to_the_plan_are_accepted(
    again: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """They were refused (rc 2, 'drop --suite, --kernels, --backends') though they asked for
    exactly the saved plan."""
    total = _finished_run(tmp_path)
    peaks = {"format": "mlpillars-peaks/1", "backends": {"numpy:cpu": {"error": "not measured"}}}
    (tmp_path / "peaks.json").write_text(json.dumps(peaks))
    argv = ["bench", again, "--suite", "tiny", "--kernels", "softmax", "--backends", "numpy"]
    status, output = _run([*argv, "--out", str(tmp_path)], capsys)
    assert status == 0, output
    assert f"all {total} cases finished" in output or f"none of the {total} cases" in output


def test_a_plan_that_is_not_one_stops_a_resume_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a traceback (JSONDecodeError, or TypeError from RunPlan(**...))."""
    plan = tmp_path / "plan.json"
    for content in (
        '{"suite": "tiny", "kern',
        '["tiny"]',
        '{"suite": "tiny", "colour": 1}',
        '{"suite": "huge", "kernels": null}',
        '{"suite": "tiny", "kernels": "softmax"}',
    ):
        plan.write_text(content)
        for argv in (["--resume"], ["--rerun-disturbed", "--suite", "tiny"]):
            status, output = _run(["bench", *argv, "--out", str(tmp_path)], capsys)
            assert status == 2
            again = argv[0]
            assert output.startswith(
                f"mlpillars bench {again}: {plan} is not a run plan of mlpillars bench "
                "(an object with suite, backends, kernels, processes): "
            )
            assert "Traceback" not in output


def test_a_name_given_twice_is_taken_once() -> None:
    """softmax,softmax planned every case twice, and the run never counted as finished."""
    assert option_names(" softmax ,softmax, sigmoid") == ["softmax", "sigmoid"]


def test_a_results_log_that_cannot_be_read_stops_a_resume_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It was a traceback (ValueError from read_rows inside the run)."""
    plan = {"suite": "tiny", "backends": ["numpy"], "kernels": ["softmax"], "processes": 1}
    (tmp_path / "plan.json").write_text(json.dumps(plan))
    row = json.dumps({"id": "softmax-numpy:cpu-16-float32", "status": "ok"})
    (tmp_path / "cases.jsonl").write_text(f"{row}\n{{garbage\n{row}\n")
    for again in ("--resume", "--rerun-disturbed"):
        status, output = _run(["bench", again, "--out", str(tmp_path)], capsys)
        assert status == 2
        assert output.startswith(f"mlpillars bench {again}: {tmp_path / 'cases.jsonl'}: line 2")
        assert "repair or remove that line" in output


def test_an_out_that_already_holds_results_is_a_usage_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It exited 1 (a SystemExit), where the other usage errors exit 2."""
    _finished_run(tmp_path)
    argv = ["bench", "--suite", "tiny", "--kernels", "softmax", "--out", str(tmp_path)]
    status, output = _run(argv, capsys)
    assert status == 2
    assert output == (
        f"mlpillars bench: {tmp_path} already holds results: use --resume, or another --out"
    )
    for again in ("--resume", "--rerun-disturbed"):
        status, output = _run(["bench", again, "--out", str(tmp_path / "none")], capsys)
        assert status == 2
        plan = tmp_path / "none" / "plan.json"
        assert output == f"mlpillars bench {again}: {plan} not found"


def _finished_run(folder: Path) -> int:
    """A tiny run of softmax on NumPy in ``folder`` whose cases all finished (skipped); return
    how many."""
    from mlpillars.bench.cases import SUITES, plan_cases

    plan = {"suite": "tiny", "backends": ["numpy"], "kernels": ["softmax"], "processes": 1}
    (folder / "plan.json").write_text(json.dumps(plan))
    cases = plan_cases(SUITES["tiny"], ["numpy"], ["softmax"])
    rows = [
        {
            "id": case.id,
            "kernel": case.kernel,
            "implementation": case.implementation.name,
            "size": case.size,
            "dtype": case.dtype,
            "status": "skipped",
        }
        for case in cases
    ]
    (folder / "cases.jsonl").write_text("".join(json.dumps(row) + "\n" for row in rows))
    return len(cases)


def test_ctrl_c_while_the_peaks_are_measured_says_how_to_resume(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It was a KeyboardInterrupt traceback: the peaks are measured after the cases."""
    from mlpillars.bench import runner

    _finished_run(tmp_path)  # the resumed run only measures the peaks

    def interrupted(*args: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(runner, "write_peaks", interrupted)
    status, output = _run(["bench", "--resume", "--out", str(tmp_path)], capsys)
    assert status == 130
    assert f"interrupted: resume with mlpillars bench --resume --out {tmp_path}" in output
    assert "Traceback" not in output and not (tmp_path / "peaks.json").exists()


@pytest.mark.parametrize(
    ("again", "said"),
    [
        ("--resume", "nothing to resume: all {total} cases finished"),
        (
            "--rerun-disturbed",
            "nothing to measure again: none of the {total} cases was measured on a busy machine",
        ),
    ],
)
def test_taking_up_a_run_with_nothing_left_starts_no_session(
    again: str, said: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """It warned "PytestBenchmarkWarning: Not saving anything, no benchmarks have been run!"
    and left an empty benchmark-2.json (not JSON)."""
    total = _finished_run(tmp_path)
    peaks = {"format": "mlpillars-peaks/1", "backends": {"numpy:cpu": {"error": "not measured"}}}
    (tmp_path / "peaks.json").write_text(json.dumps(peaks))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # pytest-benchmark's warning would stop the session
        status, output = _run(["bench", again, "--out", str(tmp_path)], capsys)
    assert status == 0
    assert said.format(total=total) in output
    assert not list(tmp_path.glob("benchmark-*.json"))


def test_a_resumed_session_keeps_the_first_environment_record_and_names_what_differs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A resume overwrote environment.json: the report then claimed every case ran with the
    resumed session's threads."""
    import numpy as np

    _finished_run(tmp_path)
    rows = (tmp_path / "cases.jsonl").read_text().splitlines(keepends=True)
    (tmp_path / "cases.jsonl").write_text("".join(rows[1:]))  # one case left to measure
    peaks = {"format": "mlpillars-peaks/1", "backends": {"numpy:cpu": {"error": "not measured"}}}
    (tmp_path / "peaks.json").write_text(json.dumps(peaks))
    first = json.dumps({"versions": {"numpy": "0.0"}, "thread_env": {"OMP_NUM_THREADS": "7"}})
    (tmp_path / "environment.json").write_text(first)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    status, output = _run(["bench", "--resume", "--out", str(tmp_path)], capsys)
    assert status == 0
    assert (tmp_path / "environment.json").read_text() == first
    later = json.loads((tmp_path / "environment-2.json").read_text())
    assert later["versions"]["numpy"] == np.__version__
    assert (
        "this session's environment (environment-2.json) differs from the first session's "
        "(environment.json) in what bears on timings: " in output
    )
    assert f"versions.numpy 0.0 -> {np.__version__}" in output
    assert "thread_env.OMP_NUM_THREADS 7 -> None" in output


def test_a_run_chosen_by_mlpillars_backend_saves_that_backend(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its plan held no backends: a --resume without the variable ran every backend."""
    from mlpillars.bench import plan

    monkeypatch.setenv("MLPILLARS_BACKEND", "numpy")
    requested = plan.effective_plan(plan.RunPlan("tiny", None, ["softmax"]))
    saved = plan.load_or_save_plan(tmp_path, requested, None)
    monkeypatch.delenv("MLPILLARS_BACKEND")
    loaded = plan.effective_plan(plan.load_or_save_plan(tmp_path, requested, "resume"))
    assert saved.backends == loaded.backends == ["numpy"]
    assert json.loads((tmp_path / "plan.json").read_text())["backends"] == ["numpy"]


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("nosuch", "unknown backend(s) nosuch; valid names: "),
        ("cupy", "none of the requested backends can run (from MLPILLARS_BACKEND)"),
    ],
)
def test_a_backend_variable_the_bench_cannot_run_is_named(
    value: str,
    message: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """cupy ran only the baselines and peers with rc 0; nosuch did not name the variable."""
    monkeypatch.setenv("MLPILLARS_BACKEND", value)
    out = tmp_path / "run"
    status, output = _run(
        ["bench", "--suite", "tiny", "--kernels", "softmax", "--out", str(out)], capsys
    )
    assert status == 2
    assert message in output
    assert "MLPILLARS_BACKEND" in output
    assert not (out / "plan.json").exists()


def test_a_device_in_the_backend_variable_is_said_to_be_left_unused(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MLPILLARS_BACKEND", "torch:cuda")
    assert cli._backend_from_variable(cli.Console(width=200)) == ["torch"]
    printed = " ".join(capsys.readouterr().out.split())
    assert "MLPILLARS_BACKEND=torch:cuda: the run measures torch on the suite's devices" in printed


def test_capabilities_says_where_mlpillars_backend_sends_kernel_calls(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """It listed the backends with rc 0 whatever the variable held (banana too)."""
    monkeypatch.setenv("MLPILLARS_BACKEND", "banana")
    status, output = _run(["capabilities"], capsys)
    assert status == 2 and "array_api_strict" in output  # the table, then the one line
    assert "mlpillars capabilities: " in output and "(from MLPILLARS_BACKEND)" in output
    assert "Traceback" not in output
    monkeypatch.setenv("MLPILLARS_BACKEND", "numpy")
    status, output = _run(["capabilities"], capsys)
    assert status == 0 and "MLPILLARS_BACKEND=numpy: kernels run on numpy" in output


def test_demo_compares_a_fit_by_its_arrays_not_its_flags() -> None:
    """Dask's pca_fit was marked ✗ (error 1.0): the demo compared every field of the
    PCAFit, and whether its projections centre X is decided apart where values cannot
    be read; it compares the entry's main output, as the benchmark's gate does."""
    pytest.importorskip("dask")
    import numpy as np

    from mlpillars._cli_demo import _compare
    from mlpillars.backends import host_arrays
    from mlpillars.bench.catalogue import CATALOGUE

    entry = CATALOGUE["pca_fit"]
    call = entry.example(np.random.default_rng(0), 20)
    reference = host_arrays(entry.main_output(entry.function(*call.arrays, **call.options)))
    agreement = _compare(entry, call, reference, "dask:cpu", "float64")
    assert agreement.agrees, agreement
    assert agreement.max_error < 1e-12
