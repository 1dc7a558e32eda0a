"""Running one case: correctness first, then timing, one row on disk when it finishes.

Per case: inputs built on the device and JIT compiled (timed apart) -> one checked call,
under the memory meter, against the float64 NumPy reference -> a wrong result is recorded
as wrong and not timed -> warm-up and timed rounds through pytest-benchmark, each ending
with the backend's wait -> one row appended to the results log.
"""

from __future__ import annotations

import time
import traceback
from datetime import UTC, datetime
from functools import cache
from typing import Any

import numpy as np

from .. import KERNELS
from ..backends import host_arrays
from ..examples import EXAMPLES, KernelCall, cast_call
from ..tolerances import compare_outputs, tolerance_for
from .cases import Case, Suite
from .implementations import (
    NUMBA,
    PYTHON,
    Prepared,
    main_output,
    prepare_backend,
    prepare_baseline,
    prepare_peer,
)
from .memory import available_host_bytes, measure_peak_memory
from .peers import PEERS
from .results import ResultsLog
from .work import work_of

SEED = 20261125
MEMORY_SHARE = 0.5
"""A case whose estimated peak exceeds this share of the available memory is skipped."""


class CaseOutcome(Exception):
    """A case that ended without timing: skipped (with an estimate), wrong, or failed."""

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
    call = example_call(case.kernel, case.size, case.dtype)
    work = work_of(case.kernel, call, np.dtype(case.dtype).itemsize)
    row: dict[str, Any] = {
        "id": case.id,
        "kernel": case.kernel,
        "implementation": case.implementation,
        "kind": case.kind,
        "size": case.size,
        "dtype": case.dtype,
        "group": case.group,
        "suite": suite.name,
        "flops": work.flops,
        "bytes": work.bytes,
        "started": datetime.now(UTC).isoformat(),
    }
    try:
        _skip_slow_loop(case, suite, log, row)
        prepared = _prepare(case, call)
        row.update(compile_seconds=prepared.compile_seconds, notes=prepared.notes)
        first_call_seconds = _check_and_measure_memory(case, prepared, row)
        rounds = _timed_rounds(prepared, first_call_seconds, suite, benchmark)
    except CaseOutcome as outcome:
        _finish(log, row, status=outcome.status, reason=outcome.reason)
        raise
    except Exception as exc:  # an implementation that fails is recorded, not fatal to the run
        reason = f"{type(exc).__name__}: {exc}"
        _finish(log, row, status="error", reason=reason, traceback=traceback.format_exc())
        raise CaseOutcome("error", reason) from exc
    row.update(rounds=rounds, median=float(np.median(rounds)))
    benchmark.extra_info.update({k: v for k, v in row.items() if k != "rounds"})
    _finish(log, row, status="ok")
    return row


def example_call(kernel: str, size: int, dtype: str) -> KernelCall:
    """The kernel's example arguments at ``size``, cast to ``dtype`` (same every time)."""
    return cast_call(EXAMPLES[kernel](np.random.default_rng(SEED), size), dtype)


@cache
def reference_outputs(kernel: str, size: int, dtype: str) -> tuple[np.ndarray, ...]:
    """The kernel on float64 NumPy copies of the case's (dtype-rounded) inputs."""
    call = cast_call(example_call(kernel, size, dtype), "float64")
    result = KERNELS[kernel](*call.arrays, **call.options, backend="numpy")
    return tuple(host_arrays(main_output(kernel, result)))


def _prepare(case: Case, call: KernelCall) -> Prepared:
    if case.kind == "backend":
        return prepare_backend(case.kernel, call, case.implementation)
    if case.implementation in (NUMBA, PYTHON):
        return prepare_baseline(case.kernel, call, case.implementation)
    peer = next(p for p in PEERS if p.name == case.implementation and p.kernel == case.kernel)
    needed = peer.peak_bytes(call) if peer.peak_bytes else 0.0
    if needed > MEMORY_SHARE * available_host_bytes():
        raise CaseOutcome(
            "skipped",
            f"would need about {needed / 2**30:.1f} GiB (it holds every score), over "
            f"{MEMORY_SHARE:.0%} of the {available_host_bytes() / 2**30:.1f} GiB available",
        )
    return prepare_peer(peer, call)


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
    expected = list(reference_outputs(case.kernel, case.size, case.dtype))
    max_error, passed = compare_outputs(
        prepared.outputs(result), expected, tolerance_for(case.dtype)
    )
    row.update(max_abs_error=max_error, correct=passed)
    if not passed:
        raise CaseOutcome(
            "wrong",
            f"differs from the float64 NumPy reference by up to {max_error:.3g}, beyond the "
            f"{case.dtype} tolerance",
        )
    return seconds


def _timed_rounds(
    prepared: Prepared, call_seconds: float, suite: Suite, benchmark: Any
) -> list[float]:
    rounds = int(suite.round_seconds / max(call_seconds, 1e-7))
    rounds = min(max(rounds, suite.min_rounds), suite.max_rounds)
    warmup_rounds = 1 if call_seconds < 0.5 else 0  # the checked call already warmed it
    benchmark.pedantic(prepared.run, rounds=rounds, warmup_rounds=warmup_rounds, iterations=1)
    return [float(seconds) for seconds in benchmark.stats.stats.data]


def _skip_slow_loop(case: Case, suite: Suite, log: ResultsLog, row: dict[str, Any]) -> None:
    """Skip a loop baseline where one call is predicted to exceed the suite's limit."""
    limit = suite.loop_limit_seconds.get(case.implementation)
    if limit is None:
        return
    estimate = loop_estimate(case, log)
    if estimate is not None and estimate > limit:
        row["estimate_seconds"] = estimate
        raise CaseOutcome(
            "skipped",
            f"{case.implementation} loop predicted to take {estimate:.3g} s per call (power "
            f"law fitted to the sizes that ran), over the suite's {limit} s",
        )


def loop_estimate(case: Case, log: ResultsLog) -> float | None:
    """Seconds per call at ``case.size`` from a power law ``t = a * size**b`` fitted to the
    smaller sizes that ran (with one size: scaled by the work model's FLOPs instead)."""
    measured = sorted(
        (row["size"], row["median"], row["flops"])
        for row in log.rows
        if row["kernel"] == case.kernel
        and row["implementation"] == case.implementation
        and row["dtype"] == case.dtype
        and row.get("status") == "ok"
        and row["size"] < case.size
    )
    if not measured:
        return None
    if len(measured) == 1:
        _, seconds, flops = measured[0]
        call = example_call(case.kernel, case.size, case.dtype)
        target_flops = work_of(case.kernel, call, np.dtype(case.dtype).itemsize).flops
        return seconds * target_flops / flops
    sizes, seconds, _ = zip(*measured, strict=True)
    exponent, log_scale = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(np.exp(log_scale) * case.size**exponent)


def _finish(log: ResultsLog, row: dict[str, Any], *, status: str, **details: Any) -> None:
    row.update(status=status, finished=datetime.now(UTC).isoformat(), **details)
    log.append(row)
