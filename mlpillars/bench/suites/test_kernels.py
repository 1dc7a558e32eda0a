"""Every kernel x implementation x size x dtype of the chosen suite."""

from __future__ import annotations

import pytest

from mlpillars.bench.cases import Case, Suite
from mlpillars.bench.measure import CaseOutcome, run_case
from mlpillars.bench.out_of_core import OutOfCorePCA, run_out_of_core
from mlpillars.bench.results import ResultsLog


def test_kernel(benchmark, bench_case: Case, suite: Suite, results_log: ResultsLog) -> None:
    benchmark.group = bench_case.group
    benchmark.name = bench_case.implementation.name
    if isinstance(bench_case.implementation, OutOfCorePCA):  # its own data, on disk
        row = run_out_of_core(bench_case, suite, results_log, benchmark)
        if row["status"] != "ok":
            _verdict(row["status"], row["reason"])
        return
    try:
        run_case(bench_case, suite, results_log, benchmark)
    except CaseOutcome as outcome:
        _verdict(outcome.status, outcome.reason)


def _verdict(status: str, reason: str) -> None:
    """A case that was not timed: skipped or untraceable (verdicts, recorded in the row),
    else a failure."""
    if status in ("skipped", "untraceable"):
        pytest.skip(f"{status}: {reason}")
    pytest.fail(f"{status}: {reason}", pytrace=False)
