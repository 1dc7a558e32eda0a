"""The harness side of issue 9: compiled forms (jax.jit, torch.compile) with their compile
time and an explicit ``untraceable`` status, the tiny per-call-overhead suite, and the
targets suite of our kernels against the native calls.

Fast on purpose: no real ``torch.compile`` (seconds per call on a small CPU); a stand-in
compiler loaded by its dotted name, as the real one is, exercises the same path.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.bench import measure
from mlpillars.bench.cases import SUITES, Case, plan_cases
from mlpillars.bench.catalogue import CATALOGUE
from mlpillars.bench.compiled import TORCH_COMPILE, Compiler, TraceFailure
from mlpillars.bench.implementations import (
    BackendImplementation,
    CompiledImplementation,
    PeerImplementation,
)
from mlpillars.bench.results import ResultsLog
from mlpillars.bench.run_folder import OK, UNTRACEABLE
from mlpillars.tolerances import compare_outputs, tolerance_for

pytest.importorskip("pytest_benchmark")
HERE = __name__


class StandInTraceError(Exception):
    """What the stand-in compiler raises for a call it cannot trace."""


def refusing_compiler(function, **options):
    """A compiler that cannot trace anything (as torch.compile on a ContextVar lookup)."""

    def compiled(*arrays):
        raise StandInTraceError("Unsupported method call\nExplanation: ContextVar.get")

    return compiled


def passing_compiler(function, **options):
    """A compiler that runs the function as it is."""
    return function


def _compiled(compiler_function: str) -> CompiledImplementation:
    compiler = Compiler(
        f"{HERE}.{compiler_function}",
        backend="numpy",
        trace_errors=(f"{HERE}.StandInTraceError",),
    )
    return CompiledImplementation("numpy:cpu", compiler)


class _NoBenchmark:
    def pedantic(self, *args, **kwargs):
        raise AssertionError("an untraceable case must not be timed")


def test_an_untraceable_kernel_is_a_status_of_its_own_never_an_eager_run():
    implementation = _compiled("refusing_compiler")
    log = ResultsLog(None)
    for size in (16, 32):  # the second verdict comes from the first, without compiling
        case = Case("softmax", implementation, size, "float64", "8 rows")
        with pytest.raises(measure.CaseOutcome, match="cannot trace it"):
            measure.run_case(case, SUITES["tiny"], log, _NoBenchmark())
    first, second = log.rows
    assert first["status"] == second["status"] == UNTRACEABLE
    assert (
        "StandInTraceError: Unsupported method call Explanation: ContextVar.get"
        in (first["reason"])
    )
    assert second["reason"].endswith("(at size 16 float64 8 rows)")
    assert "rounds" not in first and "median" not in first


def test_a_compiled_form_records_its_compile_time_and_first_call(benchmark):
    # Under pytest-xdist pytest-benchmark disables its fixture; this one test times a
    # single tiny case, which a parallel neighbour does not invalidate.
    benchmark.disabled = False
    case = Case("softmax", _compiled("passing_compiler"), 16, "float64", "8 rows")
    row = measure.run_case(case, SUITES["tiny"], ResultsLog(None), benchmark)
    assert row["status"] == OK and row["correct"] is True
    assert row["implementation"] == f"{HERE}.passing_compiler:cpu"
    assert row["backend"] == "numpy:cpu" and row["variant"] == "8 rows"
    assert row["first_call_seconds"] > 0 and 0 <= row["compile_seconds"]
    assert row["notes"] == f"{HERE}.passing_compiler"


def test_jax_is_timed_jitted_and_a_value_check_is_untraceable(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("jax")
    entry = CATALOGUE["softmax"]
    call = entry.example_call(16, "float64", "8 rows")
    prepared = BackendImplementation("jax:cpu").prepare(entry, call)
    assert prepared.notes == "jax.jit" and prepared.first_call_seconds > 0

    def softmax_checking_values(x, **options):
        if bool((x > 1e9).any()):  # a value check: cannot run on a tracer
            raise ValueError("too large")
        return mp.softmax(x, **options)

    monkeypatch.setitem(mp.KERNELS, "softmax", softmax_checking_values)
    with pytest.raises(TraceFailure, match=r"jax\.jit cannot trace it"):
        BackendImplementation("jax:cpu").prepare(entry, call)


def test_torch_compile_is_fullgraph_and_takes_dynamo_errors_as_trace_failures():
    # (importing torch._dynamo to load the error class takes seconds: the names are checked)
    assert TORCH_COMPILE.name == "torch.compile" and TORCH_COMPILE.options == {"fullgraph": True}
    assert TORCH_COMPILE.trace_errors == ("torch._dynamo.exc.TorchDynamoException",)


def test_the_tiny_suite_has_every_kernel_in_float64_against_the_native_calls():
    cases = plan_cases(SUITES["tiny"], backends=["numpy"])
    assert {case.kernel for case in cases} == set(mp.KERNELS)
    assert {case.dtype for case in cases} == {"float64"}
    (logits,) = CATALOGUE["softmax"].example_call(16, "float64", "8 rows").arrays
    assert logits.shape == (8, 16)
    softmax = {case.implementation.name for case in cases if case.kernel == "softmax"}
    assert {"numpy:cpu", "plain numpy", "scipy.special.softmax"} <= softmax


def test_the_targets_suite_holds_the_table_in_one_run():
    found = defaultdict(set)
    for case in plan_cases(SUITES["targets"]):
        found[case.kernel, case.variant, case.size, case.dtype].add(case.implementation.name)
    expected = {
        ("softmax", "temperature 1", 4096, "float32"): {"numpy:cpu", "scipy.special.softmax"},
        ("log_softmax", "temperature 1", 4096, "float32"): {"numpy:cpu"},
        ("softmax", "8 rows", 16, "float64"): {"numpy:cpu", "plain numpy"},
        ("linear", "relu, 256 rows", 1024, "float32"): {"numpy:cpu", "plain numpy"},
        ("linear", "gelu, 256 rows", 1024, "float32"): {"numpy:cpu", "plain numpy"},
        ("gradient_descent", "mse, B=256 d=32 200 steps", 512, "float64"): {
            "numpy:cpu",
            "numpy loop over problems",
        },
        ("gradient_descent", "logistic, B=256 d=32 200 steps", 512, "float64"): {
            "numpy:cpu",
            "numpy loop over problems",
        },
    }
    if _installed("torch"):
        expected["softmax", "temperature 1", 4096, "float32"] |= {
            "torch:cpu",
            "torch.softmax",
            "torch.compile:cpu",
        }
        expected["log_softmax", "temperature 1", 4096, "float32"] |= {"torch.log_softmax"}
        expected["linear", "relu, 256 rows", 1024, "float32"] |= {"torch.addmm"}
    if _installed("jax"):
        expected["softmax", "temperature 1", 4096, "float32"] |= {"jax.nn.softmax"}
    for key, names in expected.items():
        assert names <= found.pop(key), key
    assert not found, f"cases outside the table: {sorted(found)}"
    quick = {case.implementation.name for case in plan_cases(SUITES["quick"])}
    assert "torch.compile:cpu" not in quick


def test_the_targets_variants_have_the_tables_shapes():
    linear = CATALOGUE["linear"].example_call(1024, "float32", "relu, 256 rows")
    assert [array.shape for array in linear.arrays] == [(256, 1024), (1024, 1024), (1024,)]
    assert linear.options["activation"] == "relu"
    descent = CATALOGUE["gradient_descent"].variant("logistic, B=256 d=32 200 steps")
    features, labels = descent.example(np.random.default_rng(0), 8).arrays
    assert features.shape == (256, 8, 32) and set(np.unique(labels)) == {0.0, 1.0}
    assert descent.loops is False  # the loops fit the MSE only


VARIANT_PEERS = [
    (kernel, variant.name, peer.name)
    for kernel, entry in CATALOGUE.items()
    for variant in entry.variants
    for peer in entry.peers
]


@pytest.mark.parametrize(("kernel", "variant", "peer_name"), VARIANT_PEERS)
def test_every_peer_agrees_with_the_reference_on_every_variant(kernel, variant, peer_name):
    entry = CATALOGUE[kernel]
    (peer,) = [peer for peer in entry.peers if peer.name == peer_name]
    if not peer.is_installed():
        pytest.skip(f"{peer.dotted_name} is not installed")
    dtype = entry.variant(variant).dtypes[0]
    size = 16  # the variant's shapes and options at a small size
    prepared = PeerImplementation(peer).prepare(entry, entry.example_call(size, dtype, variant))
    expected = list(measure.reference_outputs(kernel, size, dtype, variant))
    max_error, passed = compare_outputs(
        prepared.outputs(prepared.run()), expected, tolerance_for(dtype)
    )
    assert passed, f"{peer_name} on {variant} differs from the reference by {max_error:.3g}"


def _installed(name: str) -> bool:
    return any(status.name == name and status.devices for status in mp.available_backends())
