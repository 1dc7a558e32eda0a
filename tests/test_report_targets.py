"""The targets table (:mod:`mlpillars.bench.report.targets`): every target names a case the
``targets`` suite runs, and the report reads each one's figure and verdict from the run."""

from __future__ import annotations

import numpy as np
import pytest

from mlpillars.bench.cases import SUITES, plan_cases
from mlpillars.bench.report import heatmap, make_report
from mlpillars.bench.report.targets import _bound
from mlpillars.bench.targets import NUMPY, TARGETS, Target
from tests.test_report import _row, _section, make_run

HEADING = "## Targets: our kernels against the native calls and NumPy"


def test_every_target_is_a_case_of_the_targets_suite():
    cases = plan_cases(SUITES["targets"])
    installed = {case.implementation.name.split(":")[0] for case in cases}
    for target in TARGETS:
        names = {
            case.implementation.name
            for case in cases
            if (case.kernel, case.variant) == (target.kernel, target.variant)
        }
        assert names, f"no case of {target}"
        if target.ours.split(":")[0] in installed:  # torch and JAX may not be installed
            assert any(target.is_ours(name) for name in names), target
            assert target.against in names, target


def test_a_bound_is_met_within_it_and_faster_means_below_one():
    at_most = Target("softmax", "v", NUMPY, "x", at_most=1.05)
    assert at_most.met_by(1.05) and not at_most.met_by(1.0501)
    faster = Target("softmax", "v", NUMPY, "x", at_most=1)
    assert faster.met_by(0.999) and not faster.met_by(1.0)
    overhead = Target("softmax", "v", NUMPY, "x", overhead_at_most=3e-6)
    assert overhead.met_by(3e-6) and not overhead.met_by(3.1e-6)


def _timed(kernel, implementation, variant, seconds, *, kind, backend, rounds=12, **extra):
    spread = 1 + 0.01 * np.linspace(-1, 1, rounds)
    row = _row(kernel, implementation, 4096, rounds=seconds * spread, **extra)
    row.update(kind=kind, backend=backend, variant=variant, id=f"{row['id']}-{variant}")
    return row


def _alternated(earlier, with_rounds, rounds):
    """A later row's ``alternated`` field: its rounds timed side by side with ``earlier``'s."""
    return [{"with": earlier["id"], "with_rounds": list(with_rounds), "rounds": list(rounds)}]


def test_the_report_says_which_targets_a_run_met(tmp_path):
    unit, small = "temperature 1", "8 rows"
    mse, logistic = "mse, B=256 d=32 200 steps", "logistic, B=256 d=32 200 steps"
    numpy_fit = _timed(
        "gradient_descent", "numpy:cpu", mse, 0.02, kind="backend", backend="numpy:cpu"
    )
    numpy_logistic = _timed(
        "gradient_descent", "numpy:cpu", logistic, 0.5, kind="backend", backend="numpy:cpu"
    )
    fit_rounds = np.linspace(1, 1.5, 7)
    native_rounds = 0.02 * np.linspace(1, 2, 9)
    torch_ours = _timed("softmax", "torch:cpu", unit, 0.03, kind="backend", backend="torch:cpu")
    rows = [
        # 0.5x scipy: met (target 0.67x)
        _timed("softmax", "numpy:cpu", unit, 0.05, kind="backend", backend="numpy:cpu"),
        _timed("softmax", "scipy.special.softmax", unit, 0.1, kind="peer", backend="numpy:cpu"),
        # apart 1.5x torch.softmax, alternated 1.02x in every round: met from the pair
        torch_ours,
        _timed(
            "softmax",
            "torch.softmax",
            unit,
            0.02,
            kind="peer",
            backend="torch:cpu",
            alternated=_alternated(torch_ours, 1.02 * native_rounds, native_rounds),
        ),
        # 8 us over plain NumPy: not met (target +3 us)
        _timed("softmax", "numpy:cpu", small, 12e-6, kind="backend", backend="numpy:cpu"),
        _timed("softmax", "plain numpy", small, 4e-6, kind="peer", backend="numpy:cpu"),
        # gradient descent: JAX 0.8x our NumPy (met), torch 1.6x (not met, target 1.5x)
        numpy_fit,
        _timed("gradient_descent", "jax:cpu:0", mse, 0.016, kind="backend", backend="jax:cpu:0"),
        _timed("gradient_descent", "torch:cpu", mse, 0.032, kind="backend", backend="torch:cpu"),
        # logistic: torch 1.6x our NumPy apart, 1.3x in every alternating round (met)
        numpy_logistic,
        _timed(
            "gradient_descent",
            "torch:cpu",
            logistic,
            0.8,
            kind="backend",
            backend="torch:cpu",
            alternated=_alternated(numpy_logistic, 0.5 * fit_rounds, 0.65 * fit_rounds),
        ),
    ]
    run = make_run(tmp_path / "run", rows=rows)
    assert make_report(run, formats="md") == 0
    section = _section((run / "report.md").read_text(), HEADING)
    verdicts = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith(("| case", "|:")):
            cells = [cell.strip() for cell in line.split("|")[1:-1]]
            verdicts[cells[0].split(" ")[0], cells[0], cells[1], cells[2]] = cells[4:]
    by_pair = {(key[2], key[3], key[1].split("(")[-1]): value for key, value in verdicts.items()}
    assert by_pair["numpy:cpu", "scipy.special.softmax", "temperature 1)"][2] == "met"
    measured, rounds, verdict = by_pair["torch:cpu", "torch.softmax", "temperature 1)"]
    assert measured.startswith("1.02×") and rounds == "9 alternating" and verdict == "met"
    measured, _, verdict = by_pair["numpy:cpu", "plain numpy", "8 rows)"]
    assert measured == "+8 µs" and verdict == "not met"
    assert by_pair["jax:cpu:0", "numpy:cpu", "mse, B=256 d=32 200 steps)"][2] == "met"
    measured, rounds, verdict = by_pair["torch:cpu", "numpy:cpu", "mse, B=256 d=32 200 steps)"]
    assert measured.startswith("1.6×") and rounds == "12/12" and verdict == "not met"
    logistic_case = "logistic, B=256 d=32 200 steps)"
    measured, rounds, verdict = by_pair["torch:cpu", "numpy:cpu", logistic_case]
    assert measured.startswith("1.3×") and rounds == "7 alternating" and verdict == "met"
    not_run = [key for key, value in verdicts.items() if value[2].startswith("not run")]
    assert len(not_run) == len(TARGETS) - 6  # a row for every target, run or not
    assert f"4 of {len(TARGETS)} targets met in this run." in section
    # the kernel's table gives the ratio of its medians (0.5 s / 0.8 s), then the same
    # pair as the targets: NumPy 1.3x faster than torch in alternating rounds
    kernel_table = _section((run / "report.md").read_text(), "### Kernel: gradient_descent")
    (torch_row,) = [
        line for line in kernel_table.splitlines() if "| torch:cpu |" in line and "logistic" in line
    ]
    assert "| 0.625× [0.62, 0.63]; alternating 0.769× [" in torch_row
    torch_logistic = next(
        row for row in rows if row["id"].endswith(logistic) and "torch" in row["id"]
    )
    # its heatmap cell leads with the kernel table's figure, starred as alternated
    assert heatmap._cell(numpy_logistic, torch_logistic) == (pytest.approx(0.625), True)


def test_a_run_without_a_target_case_has_no_targets_table(tmp_path):
    run = make_run(tmp_path / "run")
    assert make_report(run, formats="md") == 0
    assert HEADING not in (run / "report.md").read_text()
    # a GPU run has the targets' shapes, on devices no target names
    unit = "temperature 1"
    rows = [
        _timed("softmax", "torch:cuda", unit, 1e-3, kind="backend", backend="torch:cuda"),
        _timed("softmax", "torch.softmax", unit, 1e-3, kind="peer", backend="torch:cuda"),
    ]
    gpu_run = make_run(tmp_path / "gpu", rows=rows)
    assert make_report(gpu_run, formats="md") == 0
    assert HEADING not in (gpu_run / "report.md").read_text()


@pytest.mark.parametrize(
    ("target", "text"),
    [
        (Target("k", "v", NUMPY, "x", at_most=0.05), "≤ 0.05× (20× faster)"),
        (Target("k", "v", NUMPY, "x", at_most=1), "< 1× (faster)"),
        (Target("k", "v", NUMPY, "x", at_most=1.5), "≤ 1.5×"),
        (Target("k", "v", NUMPY, "x", overhead_at_most=3e-6), "≤ +3 µs"),
    ],
)
def test_bounds_read_as_the_issue_states_them(target, text):
    assert _bound(target) == text
