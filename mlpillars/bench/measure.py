"""Running one case: correctness first, then timing, one row on disk when it finishes.

Per case: the catalogue entry's example (or variant's) inputs -> the implementation's own
skip check and preparation (inputs built on the device, compilation timed apart; a
compiler that cannot trace the kernel ends the case as ``untraceable``) -> one checked call,
under the memory meter, against the float64 NumPy reference -> a wrong result is recorded
as wrong and not timed -> warm-up (longer after a case on another thread pool: see
:data:`SETTLE_SECONDS`) and timed rounds through pytest-benchmark, each ending
with the backend's wait -> the case timed again in rounds alternating with each earlier
case of its group that it is compared with (:mod:`.interleaved`) -> the machine's load
over the case and the verdict whether it was measured on a busy machine
(:mod:`.disturbance`) -> one row appended to the results log.
"""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np

from ..backends import host_arrays
from ..examples import cast_call
from ..tolerances import compare_outputs, error_fields, tolerance_for
from .cases import Case, Suite
from .catalogue import CATALOGUE
from .disturbance import process_meter
from .implementations import Prepared, TraceFailure
from .interleaved import Timed, alternate, remember
from .memory import measure_peak_memory
from .results import ResultsLog
from .run_folder import ERROR, OK, UNTRACEABLE


class CaseOutcome(Exception):
    """A case that ended without timing: skipped (with an estimate), wrong, untraceable
    by its compiler, or failed."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def run_case(case: Case, suite: Suite, log: ResultsLog, benchmark: Any) -> dict[str, Any]:
    """Check, time and record ``case``; return its row (also appended to ``log``).

    Raises
    ------
    CaseOutcome
        After recording the row, when the case was skipped, wrong or failed.
    """
    meter = process_meter()
    load_start = meter.start()
    entry = CATALOGUE[case.kernel]
    call = entry.example_call(case.size, case.dtype, case.variant)
    work = entry.work_of(call, case.dtype)
    row: dict[str, Any] = {
        **case.row_fields(suite.name),
        "flops": work.flops,
        "bytes": work.bytes,
        "started": datetime.now(UTC).isoformat(),
    }
    try:
        skip = case.implementation.skip(case, call=call, work=work, suite=suite, log=log)
        if skip is not None:
            row.update(skip.details)
            raise CaseOutcome(skip.status, skip.reason)
        prepared = _prepare(case, entry, call)
        row.update(
            compile_seconds=prepared.compile_seconds,
            first_call_seconds=prepared.first_call_seconds,
            notes=prepared.notes,
        )
        first_call_seconds = _check_and_measure_memory(case, prepared, row)
        _settle(prepared, case.implementation.thread_pool)
        rounds, iterations = _timed_rounds(prepared, first_call_seconds, suite, benchmark)
        timed = Timed(case, prepared, iterations, float(np.median(rounds)))
        alternated = alternate(timed, suite, SETTLE_SECONDS)
        remember(timed)
    except CaseOutcome as outcome:
        _finish(log, row, status=outcome.status, reason=outcome.reason)
        raise
    except Exception as exc:  # an implementation that fails is recorded, not fatal to the run
        reason = f"{type(exc).__name__}: {exc}"
        _finish(log, row, status=ERROR, reason=reason, traceback=traceback.format_exc())
        raise CaseOutcome(ERROR, reason) from exc
    finally:
        _LAST_WORK.update(pool=case.implementation.thread_pool, ended=time.perf_counter())
    row.update(rounds=rounds, iterations=iterations, median=timed.median)
    if alternated:
        row.update(alternated=alternated)
    row.update(meter.finish(load_start))
    benchmark.extra_info.update({k: v for k, v in row.items() if k != "rounds"})
    _finish(log, row, status=OK)
    return row


@cache
def reference_outputs(
    kernel: str, size: int, dtype: str, variant: str = ""
) -> tuple[np.ndarray, ...]:
    """The kernel's main output on float64 NumPy copies of the case's (dtype-rounded)
    inputs."""
    entry = CATALOGUE[kernel]
    call = cast_call(entry.example_call(size, dtype, variant), "float64")
    result = entry.function(*call.arrays, **call.options, backend="numpy")
    return tuple(host_arrays(entry.main_output(result)))


def _prepare(case: Case, entry: Any, call: Any) -> Prepared:
    """The implementation's preparation; a compiler that cannot trace the kernel ends the
    case as untraceable."""
    try:
        return case.implementation.prepare(entry, call)
    except TraceFailure as failure:
        raise CaseOutcome(UNTRACEABLE, str(failure)) from failure


def _check_and_measure_memory(case: Case, prepared: Prepared, row: dict[str, Any]) -> float:
    """One call under the memory meter, compared with the reference; its duration."""
    started = time.perf_counter()
    with measure_peak_memory() as peak:
        result = prepared.run()
    seconds = time.perf_counter() - started
    row.update(
        peak_host_bytes=peak.peak_host_bytes,
        peak_host_increase_bytes=peak.peak_host_increase_bytes,
        host_memory_method=peak.host_method,
        device_peak_bytes=peak.device_peak_bytes,
    )
    expected = list(reference_outputs(case.kernel, case.size, case.dtype, case.variant))
    max_error, passed = compare_outputs(
        prepared.outputs(result), expected, tolerance_for(case.dtype)
    )
    row.update(max_abs_error=max_error, correct=passed)
    row.update(error_fields(prepared.outputs(result), expected, tolerance_for(case.dtype)))
    if not passed:
        raise CaseOutcome(
            "wrong",
            f"differs from the float64 NumPy reference by up to {max_error:.3g}, beyond the "
            f"{case.dtype} tolerance",
        )
    return seconds


ROUND_FLOOR_SECONDS = 1e-3
"""A timed round lasts at least about this long: a faster call runs several times a round
(pytest-benchmark's ``iterations``; its statistics stay per call), as ``timeit`` and
pyperf loop a fast function. Timed one call a round, our 8x16 softmax measured 32-40 us
a call in the harness, with rounds of 35 calls 16 us (11 us by ``timeit``): a lone call
starts cold after the harness's own code between rounds."""

CALIBRATED_BELOW_SECONDS = 10e-3
"""A warm call shorter than this is timed a few times more before the rounds are planned."""

WARMED_BELOW_SECONDS = 0.5
"""A checked call shorter than this is followed by a warm one (the checked call is the
first: cold, under the memory meter; the first call of a run took a 20 us kernel past
10 ms); a longer one is warm enough."""


def _timed_rounds(
    prepared: Prepared, call_seconds: float, suite: Suite, benchmark: Any
) -> tuple[list[float], int]:
    """Per-call times of the rounds (each a round's mean) and the calls a round: as many
    rounds as ``suite.round_seconds`` allows (clamped to the suite's bounds), each of
    enough calls to last ``ROUND_FLOOR_SECONDS``."""
    if call_seconds < WARMED_BELOW_SECONDS:
        call_seconds = _warm_call_seconds(prepared, calls=1)
        if call_seconds < CALIBRATED_BELOW_SECONDS:
            call_seconds = _warm_call_seconds(prepared)
    iterations = max(1, int(ROUND_FLOOR_SECONDS / max(call_seconds, 1e-7)))
    rounds = int(suite.round_seconds / max(call_seconds * iterations, 1e-7))
    rounds = min(max(rounds, suite.min_rounds), suite.max_rounds)
    benchmark.pedantic(prepared.run, rounds=rounds, iterations=iterations)
    return [float(seconds) for seconds in benchmark.stats.stats.data], iterations


SETTLE_SECONDS = 0.25
"""After a case on another thread pool, a case's rounds start at least this long after
that case's last call, the time filled with warm calls of its own: idle workers spin
before they sleep, taking the cores another pool's workers need. On the 2-core machine a
torch GEMM (256 x 1024 x 1024 float32) right after a NumPy one took 10-18 ms for its
first nine calls (about 0.13 s, OpenBLAS's workers spinning) against 4.5 ms after 0.3 s;
a NumPy one right after torch's 6-10 ms against 4. In a ``targets`` run NumPy's linear
+ ReLU, timed first after torch's cases, measured 1.62x plain NumPy, timed after NumPy's;
with this wait (and the cases on one pool next to each other) 0.96x, 0.99x, 1.01x."""

_LAST_WORK: dict[str, Any] = {"pool": None, "ended": 0.0}
"""The thread pool of the last case that ran anything, and when it ended (no pool: no
case yet, and the run's own work before, such as the machine's peaks, on every pool)."""


def _settle(prepared: Prepared, pool: str) -> None:
    """Warm calls until :data:`SETTLE_SECONDS` have passed since the last case, when that
    case ran on another thread pool than ``pool`` (for a run's first case: from now)."""
    if _LAST_WORK["pool"] == pool:
        return
    since = _LAST_WORK["ended"] if _LAST_WORK["pool"] is not None else time.perf_counter()
    while time.perf_counter() - since < SETTLE_SECONDS:
        prepared.run()


def _warm_call_seconds(prepared: Prepared, calls: int = 5) -> float:
    """The fastest of a few calls, each timed alone: a short call's time without the
    memory meter of the checked call."""
    fastest = float("inf")
    for _ in range(calls):
        started = time.perf_counter()
        prepared.run()
        fastest = min(fastest, time.perf_counter() - started)
    return fastest


def _finish(log: ResultsLog, row: dict[str, Any], *, status: str, **details: Any) -> None:
    row.update(status=status, finished=datetime.now(UTC).isoformat(), **details)
    log.append(row)
