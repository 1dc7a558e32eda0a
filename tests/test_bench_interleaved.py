"""A native call's case timed again in rounds alternating with our kernel's cases
(:mod:`mlpillars.bench.interleaved`): which cases pair, how the rounds alternate, that the
host's drift cancels in the per-round ratios where it biases the cases' own, and that rows
carry and pool the rounds."""

from __future__ import annotations

import time
import types

import numpy as np
import pytest

from mlpillars.bench import interleaved, measure
from mlpillars.bench.cases import SUITES, Case
from mlpillars.bench.catalogue import CATALOGUE
from mlpillars.bench.compiled import TORCH_COMPILE, Prepared
from mlpillars.bench.implementations import (
    BackendImplementation,
    CompiledImplementation,
    LoopBaseline,
    PeerImplementation,
)
from mlpillars.bench.interleaved import Timed
from mlpillars.bench.processes import pool_rows
from mlpillars.bench.report.stats import (
    ALPHA,
    SAME,
    SLOWER,
    compare_paired,
    compare_rounds,
    paired_ratio_estimate,
    ratio_estimate,
)
from mlpillars.bench.results import ResultsLog
from mlpillars.bench.targets import DESCENT_VARIANTS

TINY = SUITES["tiny"]


class _Benchmark:
    """Stands in for pytest-benchmark's fixture: runs the rounds, per-call times as it."""

    def pedantic(self, target, *, rounds, iterations):
        data = []
        for _ in range(rounds):
            started = time.perf_counter()
            for _ in range(iterations):
                target()
            data.append((time.perf_counter() - started) / iterations)
        self.stats = types.SimpleNamespace(stats=types.SimpleNamespace(data=data))
        self.extra_info = {}


@pytest.fixture(autouse=True)
def _no_group_left():
    """Each test starts without an earlier test's cases of ours."""
    interleaved._OURS.update(group=None, timed=[])
    yield
    interleaved._OURS.update(group=None, timed=[])


def _softmax_peer(name: str) -> PeerImplementation:
    (peer,) = [p for p in CATALOGUE["softmax"].installed_peers() if p.name == name]
    return PeerImplementation(peer)


def _timed(implementation, run=lambda: None, *, median=1e-3, iterations=1, size=16) -> Timed:
    case = Case("softmax", implementation, size, "float64", "8 rows")
    return Timed(case, Prepared(run=run, outputs=list), iterations, median)


def test_a_native_call_pairs_with_our_cases_of_its_group_backend_and_thread_pool():
    numpy_ours = _timed(BackendImplementation("numpy:cpu"))
    other_size = _timed(BackendImplementation("numpy:cpu"), size=32)
    scipy = _softmax_peer("scipy.special.softmax")
    interleaved.remember(numpy_ours)
    assert interleaved.partners(_timed(scipy).case) == [numpy_ours]
    if any(p.name == "torch.softmax" for p in CATALOGUE["softmax"].installed_peers()):
        torch_peer = _timed(_softmax_peer("torch.softmax")).case
        assert interleaved.partners(torch_peer) == []  # another backend and thread pool
    assert interleaved.partners(numpy_ours.case) == []  # ours is not alternated with ours
    interleaved.remember(other_size)  # another group: the first one's cases are let go
    assert interleaved.partners(_timed(scipy, size=32).case) == [other_size]
    assert interleaved.partners(_timed(scipy).case) == []


def test_our_kernel_on_torch_or_jax_pairs_with_numpy_where_a_target_holds_it_to_numpy():
    mse = DESCENT_VARIANTS["mse"]

    def descent(implementation, variant=mse):
        case = Case("gradient_descent", implementation, 512, "float64", variant)
        return Timed(case, Prepared(run=lambda: None, outputs=list), 1, 1e-3)

    numpy_fit = descent(BackendImplementation("numpy:cpu"))
    interleaved.remember(numpy_fit)
    assert interleaved.partners(descent(BackendImplementation("torch:cpu")).case) == [numpy_fit]
    assert interleaved.partners(descent(BackendImplementation("jax:cpu")).case) == [numpy_fit]
    compiled = CompiledImplementation("torch:cpu", TORCH_COMPILE)
    assert interleaved.partners(descent(compiled).case) == []  # no target for torch.compile
    main_example = descent(BackendImplementation("numpy:cpu"), variant="")
    interleaved.remember(main_example)  # another group: no target there
    assert interleaved.partners(descent(BackendImplementation("torch:cpu"), "").case) == []


class _Clock:
    """The interleaving module's clock, stood in for: time passes only in the calls timed
    (``step`` seconds each) and in a sleep, so that the waits are counted, not timed."""

    def __init__(self, step: float):
        self.now, self.step, self.slept = 0.0, step, []

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:  # not how it waits: a sleep is recorded
        self.slept.append(seconds)
        self.now += seconds

    def call(self, calls: list[str], name: str):
        def run():
            calls.append(name)
            self.now += self.step

        return run


def test_blocks_on_two_thread_pools_start_a_settling_time_after_the_others(monkeypatch):
    # each call takes 1/1024 s on the stand-in clock, the settling time 20 of them (both
    # exact in binary): a wait is 20 warm calls of the block's own, the block one call
    clock, calls = _Clock(step=2.0**-10), []
    monkeypatch.setattr(interleaved, "time", clock)
    warm = 20
    ours = _timed(BackendImplementation("numpy:cpu"), clock.call(calls, "o"))
    native = _timed(_softmax_peer("scipy.special.softmax"), clock.call(calls, "n"))
    ours_rounds, native_rounds = interleaved.alternating_rounds(
        ours, native, TINY, settle_seconds=warm * clock.step
    )
    assert len(ours_rounds) == len(native_rounds) == interleaved.PAIRED_MIN_ROUNDS == 11
    # "o | n || n | o || o | n ...": a wait before the first block and at the switch inside
    # each round, none between rounds (the same one goes on), each filled with warm calls
    # of the block's own, none slept
    o_wait, n_wait = "o" * warm, "n" * warm
    assert "".join(calls) == (
        o_wait + "o" + n_wait + "n" + ("n" + o_wait + "o" + "o" + n_wait + "n") * 5
    )
    assert clock.slept == []
    assert clock.now == (2 * 11 + warm * (11 + 1)) * clock.step
    # the warm calls are not timed: each block's one call
    assert ours_rounds == native_rounds == [clock.step] * 11
    calls.clear()
    ours_rounds, _ = interleaved.alternating_rounds(ours, native, TINY)  # one pool
    assert "".join(calls) == "o" + "n" + ("n" + "o" + "o" + "n") * 5  # no wait, no warm call
    assert ours_rounds == [clock.step] * 11


def test_rounds_alternate_in_blocks_of_each_ones_calls_and_swap_order_every_round():
    calls: list[str] = []
    ours = _timed(BackendImplementation("numpy:cpu"), lambda: calls.append("o"), iterations=3)
    native = _timed(_softmax_peer("scipy.special.softmax"), lambda: calls.append("n"))
    ours_rounds, native_rounds = interleaved.alternating_rounds(ours, native, TINY)
    rounds = len(ours_rounds)
    assert rounds == len(native_rounds) and TINY.min_rounds <= rounds <= TINY.max_rounds
    # at 4 ms a pair of blocks, the suite's 20 ms allow 5 rounds: the fewest are 11
    assert rounds == interleaved.PAIRED_MIN_ROUNDS == 11 > TINY.min_rounds
    assert "".join(calls) == "ooon" + ("nooo" + "ooon") * 5  # the last round ends with n


def test_drift_over_a_run_biases_the_cases_own_rounds_and_cancels_when_alternated():
    # one call costs 1 ms more for every 50 calls the "host" made before it: the same call
    # timed second in a run looks slower, timed alternately it does not
    clock = {"calls": 0}

    def drifting_call():
        clock["calls"] += 1
        time.sleep(1e-3 * (1 + clock["calls"] / 50))

    suite = SUITES["tiny"]
    ours = _timed(BackendImplementation("numpy:cpu"), drifting_call, median=1.5e-3)
    native = _timed(_softmax_peer("scipy.special.softmax"), drifting_call, median=1.5e-3)
    apart = [interleaved.alternating_rounds(one, one, suite)[0] for one in (ours, native)]
    assert ratio_estimate(*apart).value < 0.85  # ours timed first: "faster" by the drift
    alternated = interleaved.alternating_rounds(ours, native, suite)
    assert paired_ratio_estimate(*alternated).value == pytest.approx(1, abs=0.05)


def test_a_peers_row_carries_its_rounds_alternated_with_ours(monkeypatch):
    log, benchmark = ResultsLog(None), _Benchmark()
    ours = Case("softmax", BackendImplementation("numpy:cpu"), 16, "float64", "8 rows")
    peer = Case("softmax", _softmax_peer("scipy.special.softmax"), 16, "float64", "8 rows")
    monkeypatch.setattr(interleaved, "WITHIN_FACTOR", 1e3)  # whatever the speeds here
    ours_row = measure.run_case(ours, TINY, log, benchmark)
    peer_row = measure.run_case(peer, TINY, log, benchmark)
    assert "alternated" not in ours_row
    (pair,) = peer_row["alternated"]
    assert pair["with"] == ours.id
    assert len(pair["with_rounds"]) == len(pair["rounds"]) >= TINY.min_rounds
    assert all(seconds > 0 for seconds in pair["with_rounds"] + pair["rounds"])
    assert log.rows[-1] is peer_row  # recorded as returned


def test_our_torch_fit_is_alternated_with_our_numpy_fit_in_a_run(monkeypatch):
    pytest.importorskip("torch")
    log, benchmark = ResultsLog(None), _Benchmark()
    mse = DESCENT_VARIANTS["mse"]  # 256 problems, here of 16 samples: milliseconds a fit
    numpy_fit = Case("gradient_descent", BackendImplementation("numpy:cpu"), 16, "float64", mse)
    torch_fit = Case("gradient_descent", BackendImplementation("torch:cpu"), 16, "float64", mse)
    monkeypatch.setattr(interleaved, "WITHIN_FACTOR", 1e3)  # whatever the speeds here
    monkeypatch.setattr(measure, "SETTLE_SECONDS", 0.01)  # the pools' wait, shortened
    measure.run_case(numpy_fit, TINY, log, benchmark)
    torch_row = measure.run_case(torch_fit, TINY, log, benchmark)
    (pair,) = torch_row["alternated"]
    assert pair["with"] == numpy_fit.id
    assert len(pair["with_rounds"]) == len(pair["rounds"]) >= TINY.min_rounds


def test_a_pair_far_apart_in_speed_is_not_alternated(monkeypatch):
    ours = _timed(BackendImplementation("numpy:cpu"), median=1e-3)
    interleaved.remember(ours)
    native = _timed(_softmax_peer("scipy.special.softmax"), median=2.1e-3)
    assert interleaved.alternate(native, TINY, 0.0) == []
    monkeypatch.setattr(interleaved, "WITHIN_FACTOR", 2.2)
    assert [pair["with"] for pair in interleaved.alternate(native, TINY, 0.0)] == [ours.case.id]


def test_processes_join_the_alternated_rounds_of_each_earlier_case():
    def row(with_rounds, rounds):
        return {
            "id": "peer",
            "kernel": "softmax",
            "implementation": "scipy.special.softmax",
            "size": 16,
            "status": "ok",
            "rounds": [1.0],
            "median": 1.0,
            "alternated": [{"with": "ours", "with_rounds": with_rounds, "rounds": rounds}],
        }

    (pooled,) = pool_rows([[row([1.0, 2.0], [3.0, 4.0])], [row([5.0], [6.0])]])
    assert pooled["alternated"] == [
        {"with": "ours", "with_rounds": [1.0, 2.0, 5.0], "rounds": [3.0, 4.0, 6.0]}
    ]


def test_the_paired_ratio_is_the_median_of_the_per_round_ratios():
    native = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    ratio = paired_ratio_estimate(1.5 * native, native)
    assert ratio.value == pytest.approx(1.5) and ratio.low == ratio.high == pytest.approx(1.5)
    assert ratio.rounds == (5, 5)
    assert ratio_estimate(1.5 * native, native[::-1] * 2).value == pytest.approx(0.75)
    with pytest.raises(ValueError, match="paired rounds differ in number: 5 against 4"):
        paired_ratio_estimate(native, native[:4])


def test_paired_rounds_are_tested_by_the_signs_of_their_log_ratios():
    reference = np.linspace(1.0, 3.0, 12)  # drifting: apart, the two samples overlap
    slower = compare_paired(1.5 * reference, reference)
    assert slower.label == SLOWER and slower.p_value < ALPHA
    assert slower.ratio.value == pytest.approx(1.5)
    assert compare_rounds(1.5 * reference, reference).label == SAME  # the drift hides it
    few = compare_paired(1.5 * reference[:5], reference[:5])
    assert few.label == SAME and few.note == "5 paired rounds: p cannot go below 0.062"
    within_gate = compare_paired(1.05 * reference, reference)
    assert within_gate.label == SAME and "within the 1.1x gate" in within_gate.note
    assert compare_paired(reference, reference).note == "every round's ratio is 1"


def test_a_pair_a_target_compares_is_alternated_whatever_their_speeds():
    # NumPy's MSE fit against the per-problem loop and Numba's: 20x apart, as the target
    mse = DESCENT_VARIANTS["mse"]
    peers = CATALOGUE["gradient_descent"].installed_peers()
    (loop,) = [PeerImplementation(p) for p in peers if p.name == "numpy loop over problems"]
    numpy_fit = Case("gradient_descent", BackendImplementation("numpy:cpu"), 16, "float64", mse)
    ours = Timed(numpy_fit, Prepared(run=lambda: None, outputs=list), 1, 1e-3)
    interleaved.remember(ours)
    for native in (loop, LoopBaseline("numba")):
        far_off = _timed_case(Case("gradient_descent", native, 16, "float64", mse), 2e-2)
        assert [pair["with"] for pair in interleaved.alternate(far_off, TINY, 0.0)] == [
            numpy_fit.id
        ]
    # no target compares the pure-Python loop with our fit: far apart, it is not alternated
    python_loop = _timed_case(
        Case("gradient_descent", LoopBaseline("python"), 16, "float64", mse), 2e-2
    )
    assert interleaved.partners(python_loop.case) == [ours]
    assert interleaved.alternate(python_loop, TINY, 0.0) == []


def _timed_case(case: Case, median: float) -> Timed:
    return Timed(case, Prepared(run=lambda: None, outputs=list), 1, median)
