"""Every kernel x implementation x size x dtype of the chosen suite."""

from __future__ import annotations

import pytest

from mlpillars.bench.cases import Case, Suite
from mlpillars.bench.measure import CaseOutcome, run_case
from mlpillars.bench.results import ResultsLog


def test_kernel(benchmark, bench_case: Case, suite: Suite, results_log: ResultsLog) -> None:
    benchmark.group = bench_case.group
    benchmark.name = bench_case.implementation.name
    try:
        run_case(bench_case, suite, results_log, benchmark)
    except CaseOutcome as outcome:
        if outcome.status in ("skipped", "untraceable"):  # verdicts, recorded in the row
            pytest.skip(f"{outcome.status}: {outcome.reason}")
        pytest.fail(f"{outcome.status}: {outcome.reason}", pytrace=False)
