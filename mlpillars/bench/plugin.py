"""The pytest plugin of the benchmark suites: options and fixtures.

Registered as a ``pytest11`` entry point (pytest loads a package's conftest too late for
``pytest --pyargs mlpillars.bench.suites`` to accept its options). It only adds options and
acts on tests that ask for ``bench_case``, so other test runs are unaffected.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlpillars.bench.cases import SUITES, Suite, plan_cases
from mlpillars.bench.disturbance import process_meter
from mlpillars.bench.processes import RERUN_DISTURBED, RESUME
from mlpillars.bench.results import ResultsLog
from mlpillars.bench.sessions import cases_again


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("mlpillars", "mlpillars benchmark suites")
    group.addoption("--mlpillars-suite", default="quick", choices=sorted(SUITES))
    group.addoption("--mlpillars-backends", default=None, help="comma-separated backend names")
    group.addoption("--mlpillars-kernels", default=None, help="comma-separated kernel names")
    group.addoption("--mlpillars-results", default=None, help="JSON-lines file of case rows")
    group.addoption(
        "--mlpillars-skip-done",
        action="store_true",
        help="leave out cases already in the results file (resume)",
    )
    group.addoption(
        "--mlpillars-rerun-disturbed",
        action="store_true",
        help="only the cases whose latest row in the results file was measured on a busy machine",
    )


def pytest_configure(config: pytest.Config) -> None:
    if config.getoption("--mlpillars-results", None):
        process_meter()  # its first reading: the first case's load window can reach back here


def _names(option: str | None) -> list[str] | None:
    return [name.strip() for name in option.split(",") if name.strip()] if option else None


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "bench_case" not in metafunc.fixturenames:
        return
    config = metafunc.config
    suite = SUITES[config.getoption("--mlpillars-suite")]
    cases = plan_cases(
        suite,
        backends=_names(config.getoption("--mlpillars-backends")),
        kernels=_names(config.getoption("--mlpillars-kernels")),
    )
    if config.getoption("--mlpillars-skip-done"):
        cases = cases_again(cases, _results_log(config), RESUME)
    if config.getoption("--mlpillars-rerun-disturbed"):
        cases = cases_again(cases, _results_log(config), RERUN_DISTURBED)
    metafunc.parametrize("bench_case", cases, ids=[case.id for case in cases])


def _results_log(config: pytest.Config) -> ResultsLog:
    if not hasattr(config, "_mlpillars_results_log"):
        path = config.getoption("--mlpillars-results")
        config._mlpillars_results_log = ResultsLog(Path(path) if path else None)
    return config._mlpillars_results_log


@pytest.fixture(scope="session")
def results_log(pytestconfig: pytest.Config) -> ResultsLog:
    return _results_log(pytestconfig)


@pytest.fixture(scope="session")
def suite(pytestconfig: pytest.Config) -> Suite:
    return SUITES[pytestconfig.getoption("--mlpillars-suite")]
