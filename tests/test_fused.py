"""The frameworks' own softmax family and dense layer (NumPy in place, torch, jax), each
against the kernel's generic formula and a float64 NumPy/SciPy reference."""

from __future__ import annotations

import contextlib
import functools
import math
import multiprocessing
import os
import subprocess
import sys
import threading
import warnings
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
import scipy.special

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS
from mlpillars.backends.frameworks import _numpy_fused, _numpy_threads
from mlpillars.testing import BackendCase, assert_close, recorded_fused_calls
from tests.test_linalg import NUMPY_ACTIVATIONS

FUSED_BACKENDS = ("numpy", "torch", "jax")
HALF = [("numpy", "float16"), ("torch", "float16"), ("torch", "bfloat16")]
HALF += [("jax", "float16"), ("jax", "bfloat16")]
SOFTMAX_FAMILY = ("softmax", "log_softmax", "logsumexp")


def _reference(kernel_name: str, host: np.ndarray, axis: int, temperature: float) -> Any:
    """The float64 SciPy result of a softmax-family kernel."""
    if kernel_name == "logsumexp":
        return scipy.special.logsumexp(host, axis=axis)
    with np.errstate(over="ignore"):
        return getattr(scipy.special, kernel_name)(host / temperature, axis=axis)


def _as_representable(expected: Any, dtype_name: str) -> Any:
    """The reference with magnitudes beyond the dtype's largest as infinities (a float32
    log-probability of -2e44 is -inf, whichever formula computes it)."""
    largest = np.finfo(np.float32 if dtype_name == "bfloat16" else dtype_name).max
    with np.errstate(invalid="ignore"):
        return np.where(np.abs(expected) > largest, np.sign(expected) * np.inf, expected)


@contextlib.contextmanager
def _recorded_answers(backend: str, kernel_name: str) -> Iterator[list[Any]]:
    """What the framework's implementation answered each time the kernel offered it
    arguments while the block ran: filled when the block ends."""
    answers: list[Any] = []
    with recorded_fused_calls(backend, kernel_name) as calls:
        yield answers
    answers.extend(call.answer for call in calls)


def _case(backend: str, dtype_name: str) -> BackendCase:
    pytest.importorskip(backend)
    return BackendCase(backend, "cpu", dtype_name)


def _check_softmax_family(
    case: BackendCase, kernel_name: str, host: Any, axis: int = -1, temperature: float = 1.0
) -> int:
    """Public kernel (fused) against its formula alone and against SciPy; returns how many
    times the framework's implementation answered."""
    x = case.asarray(host)
    kernel = getattr(mp, kernel_name)
    options = {} if kernel_name == "logsumexp" else {"temperature": temperature}
    with _recorded_answers(case.backend, kernel_name) as answers, np.errstate(all="ignore"):
        result = kernel(x, axis, **options)
        generic = kernel.generic(x, axis, xp=case.xp, **options)
    assert all(answer is not NotImplemented for answer in answers)
    assert_close(result, case.to_numpy(generic), like=x)
    with np.errstate(all="ignore"):
        expected = _reference(kernel_name, case.to_numpy(x), axis, temperature)
    assert_close(result, _as_representable(expected, case.dtype_name), like=x)
    return len(answers)


LOGITS = {
    "2d": ((6, 33), -1),
    "axis-0": ((6, 33), 0),
    "3d-middle": ((3, 5, 4), 1),
    "1d": ((17,), 0),
    "size-1-axis": ((5, 1), -1),
}


def with_temperatures(*temperatures: float) -> list[tuple[str, float]]:
    """(kernel, temperature) pairs of the softmax family; logsumexp has no temperature."""
    return [
        (kernel_name, temperature)
        for kernel_name in SOFTMAX_FAMILY
        for temperature in temperatures
        if kernel_name != "logsumexp" or temperature == 1.0
    ]


TEMPERATURES_OF = {"2d": (0.25, 4.0), "axis-0": (0.25,)}
SHAPES_AND_TEMPERATURES = [
    (logits, kernel_name, temperature)
    for logits in LOGITS
    for kernel_name, temperature in with_temperatures(1.0, *TEMPERATURES_OF.get(logits, ()))
]
"""Every shape at temperature 1, other temperatures on a matrix along each axis: on JAX,
each case compiles its own programs (half a second; 70 cases when every shape took every
temperature)."""


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize(("logits", "kernel_name", "temperature"), SHAPES_AND_TEMPERATURES)
@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_softmax_family_matches_generic(rng, backend, kernel_name, logits, temperature, dtype_name):
    shape, axis = LOGITS[logits]
    host = rng.normal(scale=3.0, size=shape)
    assert (
        _check_softmax_family(_case(backend, dtype_name), kernel_name, host, axis, temperature) == 1
    )


EXTREME = np.array(
    [
        [1e30, -1e30, 0.0, -np.inf],
        [-np.inf, 1.0, 2.0, 3.0],
        [5.0, 5.0, -np.inf, 5.0],  # ties
        [0.0, -40.0, -np.inf, -60.0],  # a sum close to one: log1p keeps 4.25e-18
        [1e38, -1e38, 1.0, 1e38],  # float32's largest: shifted, -2e38
    ]
)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize(("kernel_name", "temperature"), with_temperatures(1.0, 1e-6, 1e3))
@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_softmax_family_on_extreme_logits(backend, kernel_name, temperature, dtype_name):
    case = _case(backend, dtype_name)
    for axis in (-1, 0):
        assert _check_softmax_family(case, kernel_name, EXTREME, axis, temperature) == 1
    if kernel_name == "logsumexp" and dtype_name == "float64":
        result = case.to_numpy(mp.logsumexp(case.asarray(EXTREME)))
        assert result[3] == pytest.approx(np.log1p(np.exp(-40.0) + np.exp(-60.0)), rel=1e-12)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("kernel_name", ["softmax", "logsumexp"])
def test_numpy_softmax_and_logsumexp_of_gaps_past_the_range_warn_of_nothing(kernel_name):
    """float32 logits [3e38, -3e38]: the shifted logit -6e38 is -inf, whose exp, 0, is
    the answer's; NumPy warned 'overflow encountered in subtract' (log_softmax's answer
    is that -inf, and it warns, as SciPy's does). Blocks, on threads (2**20 values); a
    single block still warns (``_numpy_fused.softmax``: the context would cost 1.4 us)."""
    logits = np.tile(np.array([[3e38, -3e38], [1.0, 2.0]], dtype=np.float32), (2**18, 1))
    result = getattr(mp, kernel_name)(logits)
    expected = getattr(scipy.special, kernel_name)(logits.astype(np.float64), axis=-1)
    assert_close(result, expected.astype(np.float32), like=logits)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_logsumexp_keeps_the_digits_of_sums_close_to_one(backend, keepdims):
    """The slices whose sum is close to 1 (a framework may redo only those) along either
    axis, the reduced axis kept or not, next to ordinary and non-finite ones."""
    case = _case(backend, "float64")
    host = np.concatenate([EXTREME, [[0.5, 1.5, -2.0, 0.25]]])
    for axis in (-1, 0):
        with _recorded_answers(backend, "logsumexp") as answers:
            result = mp.logsumexp(case.asarray(host), axis, keepdims=keepdims)
        assert answers and answers[0] is not NotImplemented
        expected = scipy.special.logsumexp(host, axis=axis, keepdims=keepdims)
        assert result.shape == expected.shape
        np.testing.assert_allclose(case.to_numpy(result), expected, rtol=1e-14, atol=0)
    along_rows = case.to_numpy(mp.logsumexp(case.asarray(host), -1, keepdims=keepdims))
    close_to_one = np.log1p(np.exp(-40.0) + np.exp(-60.0))  # 4.25e-18, not 0
    assert along_rows.ravel()[3] == pytest.approx(close_to_one, rel=1e-12)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_logsumexp_of_sums_close_to_one_errs_by_eps_of_its_terms(rng, backend, dtype_name):
    """Every slice's sum is below 1.5 (its rest r < 0.5), its maximum m from -3 to 2.5:
    the result errs by a few eps of |m| + log1p(r), whichever form a framework picks
    (the plain one where |result| >= 1, the log1p one where a small result needs it)."""
    case = _case(backend, dtype_name)
    maxima = np.array([-3.0, -1.2, -0.3, -1e-3, 0.0, 1e-6, 0.7, 1.0, 2.5])
    gaps = rng.uniform(1.5, 40.0, size=(maxima.size, 7))
    host = np.concatenate([maxima[:, None], maxima[:, None] - gaps], axis=1).astype(dtype_name)
    wide = host.astype(np.longdouble)
    row_max = wide.max(axis=1)
    rest = np.log1p(np.exp(wide[:, 1:] - row_max[:, None]).sum(axis=1))
    result = case.to_numpy(mp.logsumexp(case.asarray(host))).astype(np.longdouble)
    bound = 4 * np.finfo(dtype_name).eps * (np.abs(row_max) + rest)
    assert np.all(np.abs(result - (row_max + rest)) <= bound)


@pytest.mark.parametrize("kernel_name", SOFTMAX_FAMILY)
@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_softmax_family_on_non_finite_slices_agrees_with_generic(backend, kernel_name):
    case = _case(backend, "float64")
    x = case.asarray([[np.inf, 0.0, 1.0], [np.nan, 1.0, 2.0], [-np.inf, -np.inf, -np.inf]])
    kernel = getattr(mp, kernel_name)
    with _recorded_answers(backend, kernel_name) as answers, np.errstate(all="ignore"):
        result, generic = kernel(x), kernel.generic(x, xp=case.xp)
    assert len(answers) == 1
    assert_close(result, case.to_numpy(generic), like=x)


@pytest.mark.parametrize(("backend", "dtype_name"), HALF)
@pytest.mark.parametrize("kernel_name", SOFTMAX_FAMILY)
def test_softmax_family_in_half_precision(rng, backend, dtype_name, kernel_name):
    case = _case(backend, dtype_name)
    host = rng.normal(scale=3.0, size=(4, 9))
    for temperature in (1.0, 1e-3):
        temperature = 1.0 if kernel_name == "logsumexp" else temperature
        assert _check_softmax_family(case, kernel_name, host, -1, temperature) == 1
    huge = [[6e4, -6e4, 0.0], [-6e4, 1.0, 6e4]]  # float16's largest, scaled by 1 / 1e-6
    assert _check_softmax_family(case, kernel_name, huge, -1, 1.0) == 1


@pytest.mark.parametrize("kernel_name", SOFTMAX_FAMILY)
@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_empty_and_0d_inputs_take_the_formula(backend, kernel_name):
    """Not offered: the formula's result, or its error (JAX's reductions refuse axis 0 of
    a 0-d array), stays the kernel's answer."""
    case = _case(backend, "float32")
    kernel = getattr(mp, kernel_name)
    for x, axis in ((case.asarray(2.5), 0), (case.asarray(np.zeros((0, 4))), -1)):
        with _recorded_answers(backend, kernel_name) as answers:
            outcome = _outcome(kernel, x, axis)
        assert answers == []
        expected = _outcome(kernel.generic, x, axis, xp=case.xp)
        if isinstance(expected, Exception):
            assert type(outcome) is type(expected)
        else:
            assert_close(outcome, case.to_numpy(expected), like=x)


def _outcome(function: Any, *args: Any, **kwargs: Any) -> Any:
    """The result of the call, or the exception it raised."""
    try:
        return function(*args, **kwargs)
    except (ValueError, IndexError, TypeError) as error:
        return error


@pytest.mark.parametrize("kernel_name", SOFTMAX_FAMILY)
def test_numpy_reads_strided_and_read_only_inputs_and_writes_a_new_array(rng, kernel_name):
    base = rng.normal(scale=3.0, size=(8, 12))
    read_only = base.copy()
    read_only.setflags(write=False)
    for x in (base[::2, ::3], np.flip(base), np.asfortranarray(base), read_only):
        before = x.copy()
        result = getattr(mp, kernel_name)(x, 0)
        assert np.array_equal(x, before)
        assert not np.shares_memory(result, x)
        assert_close(result, _reference(kernel_name, x, 0, 1.0), like=x)


@pytest.mark.parametrize("kernel_name", SOFTMAX_FAMILY)
@pytest.mark.parametrize("axis", [0, 1, 2])
def test_numpy_blocks_cover_every_slice(monkeypatch, rng, kernel_name, axis):
    monkeypatch.setattr(_numpy_fused, "BLOCK_ELEMENTS", 64)  # blocks of 64 // 20 = 3 rows
    host = rng.normal(scale=3.0, size=(7, 4, 5))
    host[2, :, 1] = [0.0, -40.0, -45.0, -50.0]  # a sum close to one inside a later block
    for dtype_name in ("float64", "float16"):
        assert _check_softmax_family(_case("numpy", dtype_name), kernel_name, host, axis) == 1


@pytest.mark.parametrize("kernel_name", SOFTMAX_FAMILY)
@pytest.mark.parametrize(("shape", "axis"), [((9, 4, 5), 0), ((9, 4, 5), 2), ((5, 9), -1)])
def test_numpy_parts_on_threads_give_one_threads_result_bit_for_bit(
    monkeypatch, rng, kernel_name, shape, axis
):
    """Large arrays are cut into parts computed on several threads (_numpy_threads): every
    slice is computed as on one thread, and every part is written."""
    monkeypatch.setattr(_numpy_fused, "BLOCK_ELEMENTS", 16)  # several blocks per part
    host = rng.normal(scale=3.0, size=shape)
    for dtype_name in ("float64", "float32", "float16"):
        x = host.astype(dtype_name)
        monkeypatch.setattr(_numpy_threads, "thread_count", lambda size: 1)
        one_thread = getattr(mp, kernel_name)(x, axis)
        for threads in (2, 3, 9, 20):  # 20: more threads than rows to cut
            monkeypatch.setattr(_numpy_threads, "thread_count", lambda size, n=threads: n)
            np.testing.assert_array_equal(getattr(mp, kernel_name)(x, axis), one_thread)
        assert_close(one_thread, _reference(kernel_name, host, axis, 1.0), like=x)


@pytest.mark.parametrize("shape", [(9, 4, 5), (37,)])
def test_numpy_sigmoid_in_parts_on_threads_is_scipys_expit(monkeypatch, rng, shape):
    host = rng.normal(scale=10.0, size=shape)
    for dtype_name in ("float64", "float32"):
        x = host.astype(dtype_name)
        for threads in (1, 2, 3, 20):
            monkeypatch.setattr(_numpy_threads, "thread_count", lambda size, n=threads: n)
            np.testing.assert_array_equal(mp.sigmoid(x), scipy.special.expit(x))


def test_numpy_thread_count_follows_size_cpus_omp_num_threads_and_the_calling_thread(
    monkeypatch,
):
    large = 64 * _numpy_threads.PARALLEL_ELEMENTS
    monkeypatch.setattr(_numpy_threads, "_usable_cpus", lambda: range(4))
    monkeypatch.setattr(_numpy_threads, "REQUESTED_THREADS", None)
    assert _numpy_threads.thread_count(large) == 4
    assert _numpy_threads.thread_count(3 * _numpy_threads.PARALLEL_ELEMENTS) == 3
    assert _numpy_threads.thread_count(_numpy_threads.PARALLEL_ELEMENTS) == 1
    for requested, expected in (("2", 2), ("1", 1), ("", 4), ("auto", 4), ("0", 4)):
        threads = _numpy_threads.requested_threads(requested)
        monkeypatch.setattr(_numpy_threads, "REQUESTED_THREADS", threads)
        assert _numpy_threads.thread_count(large) == expected
    monkeypatch.setattr(_numpy_threads, "REQUESTED_THREADS", None)
    from_another_thread = []
    worker = threading.Thread(
        target=lambda: from_another_thread.append(_numpy_threads.thread_count(large))
    )
    worker.start()
    worker.join()
    assert from_another_thread == [1]  # a Dask task's, or the caller's own pool's


def test_omp_num_threads_is_read_at_import_not_after(monkeypatch):
    """A value set after import (as dask.distributed's LocalCluster sets 1 in its own
    process when it spawns workers) changes nothing; one set before import holds."""
    monkeypatch.setattr(_numpy_threads, "_usable_cpus", lambda: range(4))
    before = _numpy_threads.thread_limit()
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    assert _numpy_threads.thread_limit() == before
    child = subprocess.run(
        [sys.executable, "-c", CHILD_THREAD_LIMIT],
        env={**os.environ, "OMP_NUM_THREADS": "1"},
        capture_output=True,
        text=True,
        check=True,
    )
    assert child.stdout.split() == ["1", "1"]


CHILD_THREAD_LIMIT = """
import os
from mlpillars.backends.frameworks import _numpy_threads
print(_numpy_threads.REQUESTED_THREADS, _numpy_threads.thread_limit())
"""


def test_numpy_parts_on_threads_keep_the_callers_errstate(monkeypatch, rng):
    """NumPy's errstate is a context variable: worker threads warned where the caller had
    asked for an error (or for silence) about a bad value in their part."""
    monkeypatch.setattr(_numpy_fused, "BLOCK_ELEMENTS", 16)  # not the one-block path
    monkeypatch.setattr(_numpy_threads, "thread_count", lambda size: 2)
    x = rng.normal(size=(64, 8))
    x[-3, 3] = np.inf  # in the second part only: inf - inf when shifted by the row's maximum
    with np.errstate(invalid="raise"), pytest.raises(FloatingPointError, match="invalid value"):
        mp.softmax(x)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("error")
        assert np.isnan(mp.softmax(x)[-3]).all()


def test_numpy_parts_raise_the_first_parts_error_after_all_have_finished():
    finished = []

    def work(part: np.ndarray) -> None:
        if part[0] == 4:
            raise FloatingPointError("part 2")
        finished.append(int(part[0]))

    with pytest.raises(FloatingPointError, match="part 2"):
        _numpy_threads.in_parts(work, (np.arange(8.0),), cut_axis=0, parts=4)
    assert sorted(finished) == [0, 2, 6]

    def two_fail(part: np.ndarray) -> None:
        if part[0] in (0, 4):
            raise FloatingPointError(f"part {int(part[0]) // 2}")

    with pytest.raises(FloatingPointError, match="part 0"):  # the first part's, not a later one's
        _numpy_threads.in_parts(two_fail, (np.arange(8.0),), cut_axis=0, parts=4)


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no os.fork on this platform")
def test_numpy_parts_run_in_a_child_forked_after_they_ran(monkeypatch):
    """The executor's threads do not exist in a forked child: it makes a new one."""
    monkeypatch.setattr(_numpy_threads, "thread_count", lambda size: 2)
    x = np.random.default_rng(3).normal(size=(512, 512))
    expected = mp.softmax(x)  # the executor now has a thread
    context = multiprocessing.get_context("fork")
    queue = context.Queue()
    with warnings.catch_warnings():
        # fork() of a threaded process: Python's DeprecationWarning, JAX's RuntimeWarning
        warnings.filterwarnings("ignore", message=".*fork", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="os.fork", category=RuntimeWarning)
        child = context.Process(target=_softmax_into, args=(x, queue))
        child.start()
    try:  # read before joining: the child exits once its result has left through the pipe
        result = queue.get(timeout=60)
    except Exception:
        child.kill()
        pytest.fail("a forked child's parallel softmax did not finish in 60 s")
    child.join(timeout=60)
    assert child.exitcode == 0
    np.testing.assert_array_equal(result, expected)


def _softmax_into(x: np.ndarray, queue: Any) -> None:
    queue.put(mp.softmax(x))


def test_torch_logsumexp_where_values_cannot_be_read(monkeypatch):
    """On CUDA and under torch.compile every slice takes the log1p form."""
    case = _case("torch", "float64")
    monkeypatch.setattr(FRAMEWORKS["torch"], "values_known", lambda array: False)
    for axis in (-1, 0):
        assert _check_softmax_family(case, "logsumexp", EXTREME, axis) == 1


def test_torch_fused_kernels_compile_in_one_graph():
    """No value is read under torch.compile: logsumexp takes the log1p form everywhere."""
    torch = pytest.importorskip("torch")
    framework = FRAMEWORKS["torch"]
    x = torch.tensor(EXTREME[:4])
    for name, options in [
        ("logsumexp", {"axis": 1, "keepdims": False}),
        ("softmax", {"axis": 0, "temperature": 0.5}),
    ]:
        implementation = functools.partial(framework.fused(name), xp=None, **options)
        compiled = torch.compile(implementation, fullgraph=True)
        assert_close(compiled(x), implementation(x).numpy(), like=x)


@pytest.mark.parametrize("kernel_name", SOFTMAX_FAMILY)
def test_torch_gradients_flow_through_the_fused_kernels(rng, kernel_name):
    torch = pytest.importorskip("torch")
    host = np.concatenate([rng.normal(size=(3, 5)), [[0.0, -40.0, -41.0, -42.0, -43.0]]])
    kernel = getattr(mp, kernel_name)
    gradients = []
    for call in (kernel, lambda x: kernel.generic(x, xp=FRAMEWORKS["torch"].namespace())):
        x = torch.tensor(host, requires_grad=True)
        (
            call(x) * torch.linspace(0.5, 1.5, 5 if kernel_name != "logsumexp" else 4)
        ).sum().backward()
        gradients.append(x.grad.numpy())
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-9, atol=1e-12)


@pytest.mark.parametrize("kernel_name", SOFTMAX_FAMILY)
def test_jax_fused_kernels_under_jit_vmap_and_grad(rng, kernel_name):
    jax = pytest.importorskip("jax")
    x = _case("jax", "float32").asarray(rng.normal(scale=3.0, size=(4, 6)))
    kernel = getattr(mp, kernel_name)
    eager = np.asarray(kernel(x))
    assert_close(jax.jit(kernel)(x), eager, like=x)
    assert_close(jax.vmap(kernel)(x), eager, like=x)
    gradient = jax.grad(lambda v: kernel(v).sum())(x)
    expected = jax.grad(lambda v: kernel.generic(v, xp=FRAMEWORKS["jax"].namespace()).sum())(x)
    assert_close(gradient, np.asarray(expected), like=x)


# -- linear and mlp ---------------------------------------------------------------------------

SHAPES = {
    "2d": ((7, 5), (3,)),
    "1d": ((5,), (3,)),
    "3d": ((2, 3, 5), (3,)),
    "scalar-bias": ((7, 5), ()),
}


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("activation", [*NUMPY_ACTIVATIONS, "callable"])
@pytest.mark.parametrize("shapes", list(SHAPES))
@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_linear_matches_generic(rng, backend, shapes, activation, dtype_name):
    case = _case(backend, dtype_name)
    x_shape, bias_shape = SHAPES[shapes]
    x, weight = case.asarray(rng.normal(size=x_shape)), case.asarray(rng.normal(size=(5, 3)))
    bias = case.asarray(rng.normal(size=bias_shape))
    named = None if activation == "callable" else activation
    apply = case.xp.sin if activation == "callable" else activation
    with _recorded_answers(backend, "linear") as answers:
        result = mp.linear(x, weight, bias, activation=apply)
    generic = mp.linear.generic(x, weight, bias, activation=apply, xp=case.xp)
    assert len(answers) == 1 and answers[0] is not NotImplemented
    assert_close(result, case.to_numpy(generic), like=x)
    pre_activation = case.to_numpy(x) @ case.to_numpy(weight) + case.to_numpy(bias)
    reference = np.sin if activation == "callable" else NUMPY_ACTIVATIONS[named]
    expected = reference(pre_activation)
    assert_close(result, expected, like=x)


@pytest.mark.parametrize(("backend", "dtype_name"), HALF)
@pytest.mark.parametrize("activation", ["relu", "gelu", "sigmoid"])
def test_linear_in_half_precision(rng, backend, dtype_name, activation):
    case = _case(backend, dtype_name)
    x, weight = case.asarray(rng.normal(size=(5, 8))), case.asarray(rng.normal(size=(8, 3)) / 3)
    bias = case.asarray(rng.normal(size=3))
    result = mp.linear(x, weight, bias, activation=activation)
    pre_activation = case.to_numpy(x) @ case.to_numpy(weight) + case.to_numpy(bias)
    assert_close(result, NUMPY_ACTIVATIONS[activation](pre_activation), like=x)


def test_numpy_linear_leaves_strided_and_read_only_inputs_alone(rng):
    weight = rng.normal(size=(10, 6))[::2]
    weight.setflags(write=False)
    x, bias = np.flip(rng.normal(size=(4, 5))), rng.normal(size=3)[None, 0].repeat(3)
    copies = [array.copy() for array in (x, weight, bias)]
    result = mp.linear(x, weight[:, ::2], bias, activation="gelu")
    assert all(np.array_equal(a, b) for a, b in zip((x, weight, bias), copies, strict=True))
    assert_close(result, NUMPY_ACTIVATIONS["gelu"](x @ weight[:, ::2] + bias), like=x)


@pytest.mark.parametrize("backend", FUSED_BACKENDS)
def test_mlp_layers_go_through_the_framework_linear(rng, backend):
    case = _case(backend, "float64")
    weights = [case.asarray(rng.normal(size=pair) / 2) for pair in [(4, 6), (6, 5), (5, 2)]]
    biases = [case.asarray(rng.normal(size=n)) for n in (6, 5, 2)]
    x = case.asarray(rng.normal(size=(3, 4)))
    with _recorded_answers(backend, "mlp") as answers:
        result = mp.mlp(x, weights, biases, activation="gelu", output_activation=case.xp.tanh)
    generic = mp.mlp.generic(
        x, weights, biases, activation="gelu", output_activation=case.xp.tanh, xp=case.xp
    )
    assert len(answers) == 3
    assert_close(result, case.to_numpy(generic), like=x)


def test_torch_linear_gradients_match_generic(rng):
    torch = pytest.importorskip("torch")
    host = [rng.normal(size=shape) for shape in ((4, 5), (5, 3), (3,))]
    for activation in ("relu", "gelu", "sigmoid", "tanh"):
        gradients = []
        for call in (
            mp.linear,
            functools.partial(mp.linear.generic, xp=FRAMEWORKS["torch"].namespace()),
        ):
            tensors = [torch.tensor(value, requires_grad=True) for value in host]
            call(*tensors, activation=activation).sum().backward()
            gradients.append([tensor.grad.numpy() for tensor in tensors])
        for fused, generic in zip(*gradients, strict=True):
            np.testing.assert_allclose(fused, generic, rtol=1e-9, atol=1e-12)


def test_frameworks_without_their_own_kernels_run_the_formula():
    for name in ("cupy", "dask", "array_api_strict"):
        for kernel_name in (*SOFTMAX_FAMILY, "linear", "mlp"):
            assert FRAMEWORKS[name].fused(kernel_name) is None


# -- normalize and cosine_similarity: NumPy's own calls, on hostile rows ------------------------

HOSTILE_ROWS = {  # huge beside tiny, subnormal, a zero vector, plain
    "float64": [[3e300, -4e300, 0.0, 1e-300], [1e-310, 2e-310, 0.0, 0.0], [0.0] * 4],
    "float32": [[3e30, -4e30, 0.0, 1e-30], [1e-40, 2e-40, 0.0, 0.0], [0.0] * 4],
}


def _unit_rows(host: np.ndarray, axis: int) -> np.ndarray:
    """Unit vectors in extended precision (no overflow at 1e300), zero vectors zero."""
    wide = host.astype(np.longdouble)
    norms = np.sqrt(np.sum(wide * wide, axis=axis, keepdims=True))
    return np.divide(wide, norms, out=np.zeros_like(wide), where=norms > 0).astype(np.float64)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_numpy_normalize_and_cosine_match_generic_on_hostile_rows(rng, dtype_name):
    host = np.concatenate([HOSTILE_ROWS[dtype_name], rng.normal(size=(3, 4))]).astype(dtype_name)
    x = np.asarray(host.T.copy().T)  # a column-major view's values, read-only
    x.flags.writeable = False
    xp = _case("numpy", dtype_name).xp
    for axis in (0, 1):
        with _recorded_answers("numpy", "normalize") as answers:
            result = mp.normalize(x, axis=axis)
        assert len(answers) == 1 and answers[0] is not NotImplemented
        assert_close(result, mp.normalize.generic(x, axis=axis, xp=xp), like=x)
        assert_close(result, _unit_rows(host, axis), like=x)
    with _recorded_answers("numpy", "cosine_similarity") as answers:
        similarity = mp.cosine_similarity(x, x[::-1])
    assert len(answers) == 1 and answers[0] is not NotImplemented
    assert_close(similarity, mp.cosine_similarity.generic(x, x[::-1], xp=xp), like=x)
    unit = _unit_rows(host, 1)
    assert_close(similarity, np.clip(unit @ unit[::-1].T, -1, 1), like=x)
    np.testing.assert_array_equal(x, host)  # the input is only read


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_torch_normalize_and_cosine_take_trusted_norms_only(rng, dtype_name):
    """torch's own calls where every norm is trusted (strided input, either axis); a
    huge, tiny or zero vector among the rows: declined, and the formula's answer."""
    case = _case("torch", dtype_name)
    plain = case.asarray(rng.normal(size=(6, 5))).mT  # (5, 6), strided
    for axis in (0, 1):
        with _recorded_answers("torch", "normalize") as answers:
            result = mp.normalize(plain, axis=axis)
        assert len(answers) == 1 and answers[0] is not NotImplemented
        assert_close(result, mp.normalize.generic(plain, axis=axis, xp=case.xp), like=plain)
        assert_close(result, _unit_rows(case.to_numpy(plain), axis), like=plain)
    with _recorded_answers("torch", "cosine_similarity") as answers:
        similarity = mp.cosine_similarity(plain, plain[:3])
    assert len(answers) == 1 and answers[0] is not NotImplemented
    unit = _unit_rows(case.to_numpy(plain), 1)
    assert_close(similarity, np.clip(unit @ unit[:3].T, -1, 1), like=plain)
    for row in HOSTILE_ROWS[dtype_name]:
        host = np.concatenate([[row], rng.normal(size=(2, 4))]).astype(dtype_name)
        hostile = case.asarray(host)
        with _recorded_answers("torch", "normalize") as answers:
            result = mp.normalize(hostile)
        assert answers == [NotImplemented]
        assert_close(result, _unit_rows(host, 1), like=hostile)
        with _recorded_answers("torch", "cosine_similarity") as answers:
            similarity = mp.cosine_similarity(plain[:, :4], hostile)
        assert answers == [NotImplemented]
        expected = np.clip(
            _unit_rows(case.to_numpy(plain[:, :4]), 1) @ _unit_rows(host, 1).T, -1, 1
        )
        assert_close(similarity, expected, like=hostile)


def test_torch_normalize_declines_what_it_cannot_read_or_hold(rng):
    torch = pytest.importorskip("torch")
    x = torch.asarray(rng.normal(size=(3, 4)))
    with _recorded_answers("torch", "normalize") as answers:
        mp.normalize(torch.full((2, 3), math.nan))
    assert answers == [NotImplemented]
    for half in (x.half(), x.bfloat16()):  # computed in float32: torch's own takes it
        with _recorded_answers("torch", "normalize") as answers:
            result = mp.normalize(half)
        assert len(answers) == 1 and answers[0] is not NotImplemented
        assert_close(result, _unit_rows(half.float().numpy(), 1), like=half)
    compiled = torch.compile(mp.normalize, fullgraph=True)
    with _recorded_answers("torch", "normalize") as answers:
        assert_close(compiled(x), _unit_rows(x.numpy(), 1), like=x)
    assert answers == [NotImplemented]  # under torch.compile no norm is read


def test_numpy_normalize_computes_half_precision_in_float32(rng):
    x = rng.normal(size=(3, 5)).astype(np.float16)
    with _recorded_answers("numpy", "normalize") as answers:
        result = mp.normalize(x)
    assert len(answers) == 1 and answers[0].dtype == np.float32
    assert result.dtype == np.float16
    assert_close(result, _unit_rows(x, 1), like=x)


SIGMOID_EDGES = [0.0, -0.0, 1e-300, -1e-30, 0.5, -3.0, 30.0, -30.0, 88.0, -88.0, 700.0, -700.0]
SIGMOID_EDGES += [1e30, -1e30, np.inf, -np.inf]


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_sigmoid_is_the_frameworks_and_matches_the_formula(rng, backend, dtype_name):
    """NumPy: SciPy's expit; torch: torch.sigmoid (both 0 where exp(-x) overflows, x <
    -88.7 in float32, as the formula's own float32 result; the edges hold -88: 6e-39)."""
    case = _case(backend, dtype_name)
    host = np.concatenate([SIGMOID_EDGES, rng.normal(scale=5.0, size=40)]).astype(dtype_name)
    strided = host.reshape(8, 7)[:, ::2]  # strided and read-only: only read
    strided.flags.writeable = False
    x = strided if backend == "numpy" else case.asarray(strided)
    wide = strided.astype(np.longdouble)
    with np.errstate(over="ignore", invalid="ignore"):  # the branch where does not pick
        expected = np.where(wide >= 0, 1 / (1 + np.exp(-wide)), np.exp(wide) / (1 + np.exp(wide)))
    with _recorded_answers(backend, "sigmoid") as answers:
        result = mp.sigmoid(x)
    assert len(answers) == 1 and answers[0] is not NotImplemented
    assert_close(result, mp.sigmoid.generic(x, xp=case.xp), like=x)
    assert_close(result, expected.astype(np.float64), like=x)
    tiny = strided < -30  # relative accuracy where the sigmoid is tiny, not 0 against 1e-13
    expected_tiny = expected[tiny].astype(dtype_name)
    np.testing.assert_allclose(case.to_numpy(result)[tiny], expected_tiny, rtol=1e-6)
    scalar = mp.sigmoid(case.asarray(np.asarray(-2.0, dtype=dtype_name)))  # 0-d in, 0-d out
    assert tuple(scalar.shape) == () and scalar.dtype == case.dtype


@pytest.mark.parametrize("dtype_name", ["float16", "bfloat16"])
def test_torch_sigmoid_takes_half_precision(rng, dtype_name):
    case = _case("torch", dtype_name)
    x = case.asarray(rng.normal(scale=5.0, size=(4, 3)))
    with _recorded_answers("torch", "sigmoid") as answers:
        result = mp.sigmoid(x)
    assert len(answers) == 1 and answers[0] is not NotImplemented
    assert_close(result, 1 / (1 + np.exp(-case.to_numpy(x).astype(np.float64))), like=x)


def test_numpy_sigmoid_leaves_half_precision_to_the_formula(rng):
    x = rng.normal(size=(4, 3)).astype(np.float16)
    with _recorded_answers("numpy", "sigmoid") as answers:
        result = mp.sigmoid(x)
    assert answers == [NotImplemented] and result.dtype == np.float16
    assert_close(result, 1 / (1 + np.exp(-x.astype(np.float64))), like=x)


@pytest.mark.parametrize(("backend", "kind"), [("numpy", "probabilities"), ("jax", "labels")])
def test_cross_entropy_takes_the_frameworks_log_softmax(rng, backend, kind):
    # where no framework's cross-entropy answers (JAX has none, NumPy's takes labels only),
    # the losses take the framework's log_softmax (class probabilities: eagerly, where every
    # loss comes out finite; log-probabilities past the range are redone without them)
    case = _case(backend, "float32")
    host_logits, host_labels = rng.normal(scale=3.0, size=(6, 5)), rng.integers(0, 5, size=6)
    logits = case.asarray(host_logits)
    if kind == "probabilities":  # one-hot, in the logits' dtype
        target = case.asarray(np.eye(5)[host_labels])
    else:
        target = case.xp.asarray(host_labels)
    with _recorded_answers(backend, "log_softmax") as answers:
        losses = mp.cross_entropy(logits, target, reduction="none")
    assert len(answers) == 1 and answers[0] is not NotImplemented
    generic = mp.cross_entropy.generic(logits, target, reduction="none", xp=case.xp)
    assert_close(losses, case.to_numpy(generic), like=logits[:, 0])
    log_probs = scipy.special.log_softmax(case.to_numpy(logits).astype(np.float64), axis=-1)
    assert_close(losses, -log_probs[np.arange(6), host_labels], like=logits[:, 0])


def _cross_entropy_reference(logits, target, axis, reduction):
    """float64 SciPy: -sum t log softmax, or -log softmax at the label, reduced."""
    log_probs = scipy.special.log_softmax(np.asarray(logits, dtype=np.float64), axis=axis)
    if np.issubdtype(np.asarray(target).dtype, np.integer):
        picked = np.take_along_axis(log_probs, np.expand_dims(target, axis), axis=axis)
        losses = -np.squeeze(picked, axis)
    else:
        losses = -np.sum(target * log_probs, axis=axis)
    return {"mean": np.mean, "sum": np.sum, "none": np.asarray}[reduction](losses)


CROSS_ENTROPY_LAYOUTS = {  # logits shape, class axis, target: "labels" or "probabilities"
    "2d-labels": ((6, 5), -1, "labels"),
    "3d-class-middle": ((2, 5, 3), 1, "labels"),
    "3d-class-first": ((5, 2, 3), 0, "labels"),
    "1d-one-sample": ((5,), 0, "labels"),
    "2d-probabilities": ((6, 5), -1, "probabilities"),
    "3d-probabilities-middle": ((2, 5, 3), 1, "probabilities"),
}


def _cross_entropy_problem(rng, layout: str, dtype_name: str) -> tuple[Any, Any, int, str]:
    """Host logits and target of one ``CROSS_ENTROPY_LAYOUTS`` entry: (logits, target,
    class axis, kind); labels int32, probabilities a softmax in the logits' dtype."""
    shape, axis, kind = CROSS_ENTROPY_LAYOUTS[layout]
    logits = rng.normal(scale=3.0, size=shape).astype(dtype_name)
    if kind == "labels":
        sample_shape = tuple(size for i, size in enumerate(shape) if i != axis % len(shape))
        target = rng.integers(0, shape[axis], size=sample_shape).astype(np.int32)
    else:
        target = scipy.special.softmax(rng.normal(size=shape), axis=axis).astype(dtype_name)
    return logits, target, axis, kind


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype_name", ["float64", "float32", "float16"])
@pytest.mark.parametrize("layout", list(CROSS_ENTROPY_LAYOUTS))
def test_torch_cross_entropy_is_torchs_own(rng, layout, dtype_name, reduction):
    torch = pytest.importorskip("torch")
    host_logits, host_target, axis, _ = _cross_entropy_problem(rng, layout, dtype_name)
    logits, target = torch.asarray(host_logits), torch.asarray(host_target)
    with _recorded_answers("torch", "cross_entropy") as answers:
        losses = mp.cross_entropy(logits, target, axis=axis, reduction=reduction)
    assert len(answers) == 1 and answers[0] is not NotImplemented
    xp = FRAMEWORKS["torch"].namespace()
    generic = mp.cross_entropy.generic(logits, target, axis=axis, reduction=reduction, xp=xp)
    assert losses.dtype == logits.dtype and losses.shape == generic.shape
    expected = _cross_entropy_reference(host_logits, host_target, axis, reduction)
    assert_close(losses, _as_representable(np.asarray(expected), dtype_name), like=losses)
    assert_close(losses, generic.double().numpy(), like=losses)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("dtype_name", ["float64", "float32", "float16"])
@pytest.mark.parametrize("layout", list(CROSS_ENTROPY_LAYOUTS))
def test_numpy_cross_entropy_of_labels(rng, layout, dtype_name, reduction):
    # NumPy's own answers for class labels (float16 logits widened to float32 by the
    # kernel), and leaves probability targets to the kernel's log_softmax
    logits, target, axis, kind = _cross_entropy_problem(rng, layout, dtype_name)
    with _recorded_answers("numpy", "cross_entropy") as answers:
        losses = mp.cross_entropy(logits, target, axis=axis, reduction=reduction)
    assert len(answers) == 1 and (answers[0] is NotImplemented) == (kind == "probabilities")
    xp = _case("numpy", dtype_name).xp
    generic = mp.cross_entropy.generic(logits, target, axis=axis, reduction=reduction, xp=xp)
    assert losses.dtype == logits.dtype and np.shape(losses) == np.shape(generic)
    expected = _cross_entropy_reference(logits, target, axis, reduction)
    assert_close(losses, _as_representable(np.asarray(expected), dtype_name), like=losses)
    assert_close(losses, np.asarray(generic, dtype=np.float64), like=losses)


def test_numpy_cross_entropy_leaves_non_finite_logits_to_the_formula(rng):
    logits = rng.normal(size=(4, 3))
    logits[1, 0], logits[2, 1], logits[3, 2] = np.inf, np.nan, -np.inf
    labels = np.array([0, 0, 1, 2])
    xp = _case("numpy", "float64").xp
    with _recorded_answers("numpy", "cross_entropy") as answers, np.errstate(invalid="ignore"):
        losses = mp.cross_entropy(logits, labels, reduction="none")
        generic = mp.cross_entropy.generic(logits, labels, reduction="none", xp=xp)
    assert answers == [NotImplemented]
    np.testing.assert_array_equal(losses, generic)
    assert np.isinf(losses[3]) and np.isnan(losses[2])


@pytest.mark.parametrize("layout", ["2d-labels", "3d-class-middle"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_cross_entropy_mean_over_a_loss_past_the_range_is_the_formulas(backend, layout):
    """The framework's own cross-entropy answers, and as the kernel's formula: float32
    logits [3e38, -3e38] with the label 1 have the loss 6e38 (inf); the mean of it and
    small losses is finite (twice the mean of the losses' halves)."""
    case = _case(backend, "float32")
    shape, axis, _ = CROSS_ENTROPY_LAYOUTS[layout]
    axis %= len(shape)
    host = np.zeros(shape)
    first_sample = [0] * len(shape)
    first_sample[axis] = slice(0, 2)  # its first two classes
    host[tuple(first_sample)] = [3e38, -3e38]
    labels_host = np.zeros(tuple(size for i, size in enumerate(shape) if i != axis), np.int64)
    labels_host.flat[0] = 1
    logits, labels = case.asarray(host), case.xp.asarray(labels_host)
    with _recorded_answers(backend, "cross_entropy") as answers:
        mean = mp.cross_entropy(logits, labels, axis=axis)
    assert len(answers) == 1 and answers[0] is not NotImplemented
    with np.errstate(over="ignore"):  # the formula's log_softmax: a gap past the range
        generic = mp.cross_entropy.generic(logits, labels, axis=axis, xp=case.xp)
    log_probs = scipy.special.log_softmax(case.to_numpy(logits).astype(np.float64), axis=axis)
    picked = np.take_along_axis(log_probs, np.expand_dims(labels_host, axis), axis=axis)
    assert_close(mean, np.asarray(-picked.mean()), like=logits)
    assert_close(mean, case.to_numpy(generic).astype(np.float64), like=logits)


def test_torch_cross_entropy_where_labels_cannot_be_read(rng, monkeypatch):
    """On CUDA and under torch.compile no label is read: one out of range gives its sample
    a NaN loss (and the mean NaN), the others their losses; nothing raises."""
    torch = pytest.importorskip("torch")
    monkeypatch.setattr(FRAMEWORKS["torch"], "values_known", lambda *arrays: False)
    host_logits = rng.normal(size=(4, 3))
    logits, labels = torch.asarray(host_logits), torch.tensor([0, 2, 3, -1])
    with _recorded_answers("torch", "cross_entropy") as answers:
        losses = mp.cross_entropy(logits, labels, reduction="none")
        mean = mp.cross_entropy(logits, labels)
    assert len(answers) == 2 and all(answer is not NotImplemented for answer in answers)
    expected = -scipy.special.log_softmax(host_logits, axis=-1)[[0, 1], [0, 2]]
    np.testing.assert_allclose(losses[:2].numpy(), expected, rtol=1e-12)
    assert torch.isnan(losses[2:]).all() and torch.isnan(mean)


def test_torch_cross_entropy_gradients_are_the_formulas(rng):
    torch = pytest.importorskip("torch")
    xp = FRAMEWORKS["torch"].namespace()
    host, labels = rng.normal(size=(2, 4, 3)), torch.asarray(rng.integers(0, 4, size=(2, 3)))
    gradients = []
    for call in (mp.cross_entropy, functools.partial(mp.cross_entropy.generic, xp=xp)):
        logits = torch.tensor(host, requires_grad=True)
        call(logits, labels, axis=1).backward()
        gradients.append(logits.grad.numpy())
    np.testing.assert_allclose(gradients[0], gradients[1], rtol=1e-9, atol=1e-12)
