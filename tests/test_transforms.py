"""Every kernel inside the frameworks' transforms, with the eager call's results.

One representative call per kernel of ``mlpillars.backends.KERNELS`` (a kernel without a
case fails :func:`test_every_kernel_has_a_transform_case`) runs under ``jax.jit``,
``jax.vmap`` (over its first argument and, where that means something, another),
``jax.grad``, torch autograd, ``torch.func.vmap`` and ``torch.func.grad`` and
``torch.compile(fullgraph=True)``. Results are compared
with the same call made eagerly on the same backend, through the tolerance table;
gradients with a float64 central difference of the NumPy kernel. A framework that is not
installed is skipped.

``torch.compile`` runs with ``backend="aot_eager"``: dynamo still traces the whole call
(``fullgraph=True`` refuses any graph break) and AOTAutograd still builds the graph, but
no code is generated, which on a small CPU machine saves seconds per kernel. Inductor
compiles one kernel. ``jax.vmap`` and ``jax.grad`` run inside ``jax.jit`` (one compilation
instead of JAX's op-by-op dispatch), with the other arguments closed over so that they
stay concrete arrays beside the traced one, as in an eager call; one test runs both
eagerly.
"""

from __future__ import annotations

import pathlib
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest
import scipy.special

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS, KERNELS, values_known
from mlpillars.testing import assert_close
from mlpillars.tolerances import Tolerance

# array-api-compat's lru_cache'd type tests, which dynamo traces through: harmless here.
pytestmark = pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`")

BATCH = 3
"""Batch length of the vmap tests."""

FINITE_DIFFERENCE_STEP = 1e-6
FINITE_DIFFERENCE_TOLERANCE = Tolerance(rtol=1e-6, atol=1e-7)
"""A central difference with step h errs by about h^2 |f'''| + eps |f| / h: about 1e-10
here, for inputs and outputs of order one."""


@dataclass(frozen=True)
class TransformCase:
    """A kernel's representative call.

    Attributes
    ----------
    call : callable
        Arrays in, a tuple of floating arrays out (the kernel's array results).
    inputs : callable
        A NumPy random generator in, the call's arrays as float64 (or int64) NumPy arrays.
    other : int or None
        Another argument that vmap maps over, where mapping it alone means something.
    """

    call: Callable[..., tuple[Any, ...]]
    inputs: Callable[[np.random.Generator], tuple[np.ndarray, ...]]
    other: int | None = None


def _normal(*shapes: tuple[int, ...]) -> Callable[[np.random.Generator], tuple[np.ndarray, ...]]:
    return lambda rng: tuple(rng.standard_normal(shape) for shape in shapes)


def _logits_and_labels(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    return rng.standard_normal((4, 5)), rng.integers(0, 5, size=4)


def _regression(rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    X = rng.standard_normal((12, 2))
    return X, X @ np.array([1.5, -2.0]) + 0.5 + 0.1 * rng.standard_normal(12)


CASES: dict[str, TransformCase] = {
    "softmax": TransformCase(
        lambda x: (mp.softmax(x, temperature=0.5), mp.softmax(x, axis=None)), _normal((4, 5))
    ),
    "log_softmax": TransformCase(
        lambda x: (mp.log_softmax(x), mp.log_softmax(x, axis=(1, 0))), _normal((4, 5))
    ),
    "logsumexp": TransformCase(
        lambda x: (mp.logsumexp(x, axis=-1), mp.logsumexp(x, axis=(0, 1), keepdims=True)),
        _normal((4, 5)),
    ),
    "sigmoid": TransformCase(lambda x: (mp.sigmoid(x),), _normal((4, 5))),
    "cross_entropy": TransformCase(
        lambda logits, labels: (mp.cross_entropy(logits, labels, reduction="none"),),
        _logits_and_labels,
        other=1,
    ),
    "scaled_dot_product_attention": TransformCase(
        lambda q, k, v: (mp.scaled_dot_product_attention(q, k, v, is_causal=True),),
        _normal((2, 3, 4), (2, 3, 4), (2, 3, 4)),
        other=1,
    ),
    "gradient_descent": TransformCase(
        lambda X, y: _gd_arrays(mp.gradient_descent(X, y, lr=0.1, steps=5)),
        _regression,
        other=1,
    ),
    "least_squares": TransformCase(lambda X, y: tuple(mp.least_squares(X, y)), _regression, 1),
    "r_squared": TransformCase(lambda t, p: (mp.r_squared(t, p),), _normal((3, 6), (3, 6)), 1),
    "linear": TransformCase(
        lambda x, w, b: (mp.linear(x, w, b, activation="gelu"),),
        _normal((4, 3), (3, 2), (2,)),
        other=1,
    ),
    "mlp": TransformCase(
        lambda x, w1, b1, w2, b2: (mp.mlp(x, [w1, w2], [b1, b2], activation="tanh"),),
        _normal((4, 3), (3, 5), (5,), (5, 2), (2,)),
        other=1,
    ),
    "normalize": TransformCase(lambda x: (mp.normalize(x),), _normal((4, 3))),
    "cosine_similarity": TransformCase(
        lambda a, b: (mp.cosine_similarity(a, b),), _normal((4, 3), (5, 3)), other=1
    ),
    "pca": TransformCase(lambda X: (mp.pca(X, 2, solver="svd"),), _normal((20, 3))),
    "pca_fit": TransformCase(lambda X: tuple(mp.pca_fit(X, 2))[:5], _normal((40, 3))),
}

XFAIL: dict[tuple[str, str], str] = {}
"""(kernel, transform) that is known not to trace yet, with the reason: xfail(strict=True).
Empty: every kernel traces under every transform."""


def _gd_arrays(result: Any) -> tuple[Any, ...]:
    return result.weights, result.bias, result.loss_history


def _kernel_params(transform: str, *, with_other: bool = False) -> list[Any]:
    params = []
    for name, case in CASES.items():
        reason = XFAIL.get((name, transform))
        marks = [pytest.mark.xfail(reason=reason, strict=True)] if reason else []
        if not with_other:
            params.append(pytest.param(name, id=name, marks=marks))
            continue
        argnums = (0, case.other) if case.other is not None else (0,)
        params += [
            pytest.param(name, argnum, id=f"{name}-arg{argnum}", marks=marks) for argnum in argnums
        ]
    return params


def test_every_kernel_has_a_transform_case():
    assert set(CASES) == set(KERNELS), "give each new kernel a case in CASES"


# -- helpers ---------------------------------------------------------------------------------


def _on(backend: str, hosts: tuple[np.ndarray, ...]) -> tuple[Any, ...]:
    framework = FRAMEWORKS[backend]
    return tuple(framework.from_host(host, framework.resolve_device(None)) for host in hosts)


def _host(arrays: tuple[Any, ...]) -> list[np.ndarray]:
    return [np.asarray(mp.backends.host_arrays(array)[0]) for array in arrays]


def _assert_all_close(actual: tuple[Any, ...], expected: list[Any], like: Any, note: str) -> None:
    assert len(actual) == len(expected), note
    for index, (result, reference) in enumerate(zip(actual, expected, strict=True)):
        assert_close(result, reference, like=like, err_msg=f"{note}, result {index}")


def _finite_difference(case: TransformCase, hosts: tuple[np.ndarray, ...]) -> np.ndarray:
    """d/dx0 of the sum of every result, by central differences of the NumPy kernel."""

    def total(first: np.ndarray) -> float:
        return sum(float(np.sum(result)) for result in case.call(first, *hosts[1:]))

    first = hosts[0]
    gradient = np.zeros_like(first)
    for index in np.ndindex(first.shape):
        step = np.zeros_like(first)
        step[index] = FINITE_DIFFERENCE_STEP
        gradient[index] = (total(first + step) - total(first - step)) / (2 * step[index])
    return gradient


def _inputs(name: str, seed: int = 0) -> tuple[np.ndarray, ...]:
    return CASES[name].inputs(np.random.default_rng(seed))


# -- JAX -------------------------------------------------------------------------------------


@pytest.fixture
def jax():
    jax = pytest.importorskip("jax")
    FRAMEWORKS["jax"].enable_x64()  # the cases are float64
    return jax


@pytest.mark.parametrize("name", _kernel_params("jit"))
def test_jax_jit_matches_eager(jax, name: str):
    arrays = _on("jax", _inputs(name))
    eager = _host(CASES[name].call(*arrays))
    _assert_all_close(jax.jit(CASES[name].call)(*arrays), eager, arrays[0], f"{name} jit")


@pytest.mark.parametrize(("name", "argnum"), _kernel_params("vmap", with_other=True))
def test_jax_vmap_matches_a_loop_of_eager_calls(jax, name: str, argnum: int):
    _check_vmap("jax", lambda call: jax.jit(jax.vmap(call)), name, argnum)


def _check_vmap(backend: str, vmap: Callable[[Any], Any], name: str, argnum: int) -> None:
    """``vmap`` of the case's call over argument ``argnum`` (the others closed over) on
    ``backend``, against a loop of eager calls on NumPy (a loop of JAX's op-by-op calls
    costs seconds)."""
    batches = [_inputs(name, seed) for seed in range(BATCH)]
    arrays = _on(backend, batches[0])
    mapped = _on(backend, (np.stack([hosts[argnum] for hosts in batches]),))[0]
    vmapped = vmap(_one_argument(name, argnum, arrays))(mapped)
    per_item = []
    for hosts in batches:
        item = list(batches[0])
        item[argnum] = hosts[argnum]
        per_item.append(_host(CASES[name].call(*item)))
    expected = [np.stack(results) for results in zip(*per_item, strict=True)]
    _assert_all_close(vmapped, expected, arrays[0], f"{name} vmap over argument {argnum}")


@pytest.mark.parametrize("name", _kernel_params("grad"))
def test_jax_grad_matches_finite_differences(jax, name: str):
    hosts = _inputs(name)
    first = _on("jax", hosts)[0]
    summed = _summed(_one_argument(name, 0, _on("jax", hosts)), jax.numpy.sum)
    gradient = jax.jit(jax.grad(summed))(first)
    expected = _finite_difference(CASES[name], hosts)
    assert_close(gradient, expected, like=first, tolerance=FINITE_DIFFERENCE_TOLERANCE)


def test_jax_arrays_on_a_second_device_or_sharded_over_two_stay_there(jax):
    """Every kernel with its arrays on a second device (inside ``jax.jit``), or sharded
    over two (eagerly and inside ``jax.jit``): the NumPy values, where the inputs were.
    Two CPU devices by ``XLA_FLAGS``, in a fresh process, as two GPUs would be.

    ``gradient_descent`` under jit failed ("incompatible devices": its default lr, a Python
    number, was committed to the first device); sharded, attention and gradient descent
    made arrays on the inputs' sharding, which other shapes cannot take."""
    child = pathlib.Path(__file__).with_name("jax_second_device_child.py")
    output = subprocess.run([sys.executable, str(child)], capture_output=True, text=True)
    assert output.returncode == 0, output.stdout + output.stderr
    assert output.stdout.count("on ['cpu:1']") == len(KERNELS)
    assert output.stdout.count("sharded: on ['cpu:0', 'cpu:1']") == 2 * len(KERNELS) + 4


def test_jax_eager_vmap_and_grad_of_a_kernel_with_several_arrays(jax):
    # Not under jit: the mapped weight is a tracer, x and the bias are concrete arrays.
    hosts = _inputs("linear")
    x, weight, bias = _on("jax", hosts)
    weights = jax.numpy.stack([weight, 2 * weight])
    vmapped = jax.vmap(lambda w: CASES["linear"].call(x, w, bias)[0])(weights)
    expected = [CASES["linear"].call(hosts[0], w, hosts[2])[0] for w in (hosts[1], 2 * hosts[1])]
    assert_close(vmapped, np.stack(expected), like=x)
    gradient = jax.grad(_summed(_one_argument("linear", 0, (x, weight, bias)), jax.numpy.sum))(x)
    expected_gradient = _finite_difference(CASES["linear"], hosts)
    assert_close(gradient, expected_gradient, like=x, tolerance=FINITE_DIFFERENCE_TOLERANCE)


def _one_argument(name: str, argnum: int, arrays: tuple[Any, ...]) -> Callable[[Any], Any]:
    """The case's call as a function of argument ``argnum``, the others closed over: inside
    ``jit`` they stay concrete arrays, beside the traced one, as in an eager vmap or grad."""

    def call(argument: Any) -> tuple[Any, ...]:
        return CASES[name].call(*arrays[:argnum], argument, *arrays[argnum + 1 :])

    return call


def _summed(call: Callable[[Any], tuple[Any, ...]], total: Callable[[Any], Any]) -> Any:
    return lambda argument: sum(total(result) for result in call(argument))


@pytest.mark.parametrize(
    ("name", "result_type"),
    [
        ("gradient_descent", mp.GradientDescentResult),
        ("least_squares", mp.LeastSquaresResult),
        ("pca_fit", mp.PCAFit),
    ],
)
def test_jax_jit_and_vmap_return_result_objects_as_pytrees(jax, name: str, result_type: type):
    kernel = getattr(mp, name)
    options = {"gradient_descent": {"lr": 0.1, "steps": 5}, "pca_fit": {"n_components": 2}}
    hosts = _inputs(name)
    arrays = _on("jax", hosts)
    eager = kernel(*hosts, **options.get(name, {}))  # NumPy: the reference
    jitted = jax.jit(lambda *a: kernel(*a, **options.get(name, {})))(*arrays)
    assert isinstance(jitted, result_type)
    # how a fit projects is decided from values where they are at hand, else centred
    eager_fields = {k: v for k, v in eager._asdict().items() if k != "centred_projection"}
    for field, expected in eager_fields.items():
        _assert_field(getattr(jitted, field), expected, arrays[0], f"{name}.{field} jit")
    stacked = _on("jax", (np.stack([hosts[0], hosts[0]]),))[0]
    vmapped = jax.vmap(lambda first: kernel(first, *arrays[1:], **options.get(name, {})))
    if name == "gradient_descent":  # vmap alone runs and compiles each operation: 16 s here
        vmapped = jax.jit(vmapped)
    mapped = vmapped(stacked)
    assert isinstance(mapped, result_type)
    for field, expected in eager_fields.items():
        doubled = np.stack([np.asarray(expected)] * 2)
        _assert_field(getattr(mapped, field), doubled, arrays[0], f"{name}.{field} vmap")


def _assert_field(actual: Any, expected: Any, like: Any, note: str) -> None:
    """Floating fields within the tolerance table; flags and counts exactly."""
    if np.issubdtype(np.asarray(expected).dtype, np.floating):
        assert_close(actual, expected, like=like, err_msg=note)
    else:
        np.testing.assert_array_equal(np.asarray(actual), expected, err_msg=note)


# -- torch -----------------------------------------------------------------------------------


@pytest.fixture
def torch():
    torch = pytest.importorskip("torch")
    torch._dynamo.reset()  # each test compiles afresh, within dynamo's recompile limits
    return torch


@pytest.mark.parametrize("name", _kernel_params("autograd"))
def test_torch_autograd_matches_finite_differences(torch, name: str, monkeypatch):
    """...and the kernel's value checks read no tensor that requires grad (torch warns,
    once a process, "Converting a tensor with requires_grad=True to a scalar")."""
    case = CASES[name]
    hosts = _inputs(name)
    first, *rest = _on("torch", hosts)
    first = first.clone().requires_grad_(True)
    _refuse_reads_of_tensors_that_require_grad(torch, monkeypatch)
    results = case.call(first, *rest)
    monkeypatch.undo()
    sum(result.sum() for result in results).backward()
    expected = _finite_difference(case, hosts)
    assert_close(first.grad, expected, like=first, tolerance=FINITE_DIFFERENCE_TOLERANCE)


def _refuse_reads_of_tensors_that_require_grad(torch: Any, monkeypatch: Any) -> None:
    """Make reading a value of a tensor that requires grad (``float``, ``int``, ``bool``,
    ``.item()``, ``.tolist()``) and ``torch.asarray`` of one without ``requires_grad=``
    fail: torch warns of each once a process, so a warning filter would miss them."""
    for method in ("__float__", "__int__", "__bool__", "item", "tolist"):
        original = getattr(torch.Tensor, method)

        def guarded(tensor: Any, *args: Any, _original: Any = original, _name: str = method) -> Any:
            assert not tensor.requires_grad, f"{_name} of a tensor that requires grad"
            return _original(tensor, *args)

        monkeypatch.setattr(torch.Tensor, method, guarded)
    original_asarray = torch.asarray

    def asarray(obj: Any, *args: Any, **kwargs: Any) -> Any:
        unspecified = "requires_grad" not in kwargs
        assert not (unspecified and getattr(obj, "requires_grad", False)), (
            "asarray of a grad tensor"
        )
        return original_asarray(obj, *args, **kwargs)

    monkeypatch.setattr(torch, "asarray", asarray)


@pytest.mark.parametrize(("name", "argnum"), _kernel_params("torch.func.vmap", with_other=True))
def test_torch_func_vmap_matches_a_loop_of_eager_calls(torch, name: str, argnum: int):
    """Nine kernels failed: their value checks read a batched tensor ("vmap: It looks like
    you're calling .item() on a Tensor"), and array-api-compat's vecdot calls
    ``moveaxis``, which has no batching rule; values are now not read under a vmap."""
    _check_vmap("torch", torch.func.vmap, name, argnum)


@pytest.mark.parametrize("name", _kernel_params("torch.func.grad"))
def test_torch_func_grad_matches_finite_differences(torch, name: str):
    """``torch.func.grad`` leaves values readable: the value checks still run."""
    hosts = _inputs(name)
    first, *rest = _on("torch", hosts)
    summed = _summed(_one_argument(name, 0, (first, *rest)), torch.sum)
    gradient = torch.func.grad(summed)(first)
    expected = _finite_difference(CASES[name], hosts)
    assert_close(gradient, expected, like=first, tolerance=FINITE_DIFFERENCE_TOLERANCE)


@pytest.mark.filterwarnings("ignore:`torch.jit.script")  # functorch's own jvp rules
@pytest.mark.parametrize("name", _kernel_params("torch.func.jvp"))
def test_torch_func_jvp_matches_finite_differences(torch, name: str):
    """Forward mode: least_squares failed ("The derivative of linalg.qr depends on Q,
    which is not computed when mode='r'"), its tensors not requiring grad."""
    hosts = _inputs(name)
    first, *rest = _on("torch", hosts)
    direction = np.random.default_rng(1).standard_normal(first.shape)
    _, tangents = torch.func.jvp(
        _one_argument(name, 0, (first, *rest)), (first,), (torch.from_numpy(direction),)
    )
    derivative = sum(tangent.sum() for tangent in tangents)
    expected = np.sum(_finite_difference(CASES[name], hosts) * direction)
    assert_close(derivative, expected, like=first, tolerance=FINITE_DIFFERENCE_TOLERANCE)


def test_torch_forward_ad_dual_tensors_through_least_squares(torch):
    forward_ad = torch.autograd.forward_ad
    hosts = _inputs("least_squares")
    X, y = _on("torch", hosts)
    with forward_ad.dual_level():
        weights, bias = mp.least_squares(forward_ad.make_dual(X, torch.ones_like(X)), y)
        tangents = [forward_ad.unpack_dual(result).tangent for result in (weights, bias)]
    expected = _finite_difference(CASES["least_squares"], hosts)
    assert_close(
        sum(tangent.sum() for tangent in tangents),
        np.sum(expected),
        like=X,
        tolerance=FINITE_DIFFERENCE_TOLERANCE,
    )


def test_torch_func_vmap_reads_no_value_but_grad_does(torch):
    x = torch.zeros(2, 3)
    seen = []

    def record(row: Any) -> Any:
        seen.append((values_known(row), FRAMEWORKS["torch"].is_traced(row)))
        return row

    torch.func.vmap(record)(x)
    torch.func.grad(lambda row: record(row).sum())(x[0])
    torch.func.grad(lambda rows: torch.func.vmap(record)(rows).sum())(x)
    assert seen == [(False, True), (True, False), (False, True)]


@pytest.mark.parametrize("name", _kernel_params("compile"))
def test_torch_compile_fullgraph_matches_eager(torch, name: str):
    _check_compiled(torch, name, backend="aot_eager")


@pytest.mark.parametrize("name", _kernel_params("compile, dynamic shapes"))
def test_torch_compile_with_dynamic_shapes_matches_eager(torch, name: str):
    """Every axis of length > 1 symbolic (``maybe_mark_dynamic``: a kernel may specialize
    on a size, as gradient descent's choice of path does): cross_entropy failed in
    array-api-compat's ``size`` (``math.isnan`` of a symbolic size) and attention passed
    a SymBool ``enable_gqa`` to torch's SDPA."""
    arrays = _on("torch", _inputs(name))
    eager = _host(CASES[name].call(*arrays))
    for array in arrays:
        for axis, length in enumerate(array.shape):
            if length > 1:
                torch._dynamo.maybe_mark_dynamic(array, axis)
    compiled = torch.compile(CASES[name].call, fullgraph=True, backend="aot_eager")
    _assert_all_close(compiled(*arrays), eager, arrays[0], f"{name} dynamic shapes")


@pytest.mark.parametrize("name", ["softmax"])
def test_torch_compile_inductor_matches_eager(torch, name: str):
    _check_compiled(torch, name, backend="inductor")


def _check_compiled(torch: Any, name: str, *, backend: str) -> None:
    arrays = _on("torch", _inputs(name))
    eager = _host(CASES[name].call(*arrays))
    compiled = torch.compile(CASES[name].call, fullgraph=True, backend=backend)
    _assert_all_close(compiled(*arrays), eager, arrays[0], f"{name} torch.compile({backend})")


# -- value checks: raised eagerly, NaN where values cannot be read ----------------------------

LOGITS = np.array([[2.0, 0.5, -1.0], [0.1, 0.2, 0.3], [1.0, -1.0, 0.0]])
LABELS_OUT_OF_RANGE = np.array([0, 3, -1])
"""Row 0's label is valid; rows 1 and 2 name classes that do not exist."""


@pytest.mark.parametrize("backend", ["numpy", "torch", "jax"])
def test_out_of_range_labels_raise_where_values_are_known(backend: str):
    if not FRAMEWORKS[backend].is_installed():
        pytest.skip(f"{backend} is not installed")
    logits, labels = _on(backend, (LOGITS, LABELS_OUT_OF_RANGE))
    if not values_known(labels):  # on a GPU: not read (a sync a training step), NaN rows
        losses = mp.cross_entropy(logits, labels, reduction="none")
        assert_close(losses, _nan_rows_expected(), like=logits)
        return
    with pytest.raises(ValueError, match=r"cross_entropy: class labels must lie in \[0, 3\)"):
        mp.cross_entropy(logits, labels)


def _nan_rows_expected() -> np.ndarray:
    valid = -mp.log_softmax(LOGITS)[0, 0]
    return np.array([valid, np.nan, np.nan])


def test_out_of_range_labels_give_nan_rows_under_jax_jit(jax):
    logits, labels = _on("jax", (LOGITS, LABELS_OUT_OF_RANGE))
    losses = jax.jit(lambda z, y: mp.cross_entropy(z, y, reduction="none"))(logits, labels)
    assert_close(losses, _nan_rows_expected(), like=logits)
    mean = jax.jit(mp.cross_entropy)(logits, labels)
    assert np.isnan(float(mean))


def test_out_of_range_labels_give_nan_rows_under_torch_compile(torch):
    logits, labels = _on("torch", (LOGITS, LABELS_OUT_OF_RANGE))
    compiled = torch.compile(
        lambda z, y: mp.cross_entropy(z, y, reduction="none"), fullgraph=True, backend="aot_eager"
    )
    assert_close(compiled(logits, labels), _nan_rows_expected(), like=logits)


PAST_RANGE_LOGITS = np.array([[3e38, -3e38], [1.0, 2.0], [0.0, -3e38], [3.0, 0.0]], np.float32)
PAST_RANGE_LABELS = np.array([1, 0, 1, 1])
"""float32 logits whose first loss, 6e38, is past the range; the mean, 2.25e38, is not."""


def _past_range_mean() -> float:
    """float64: the mean of ``logsumexp(z) - z_label``."""
    host = PAST_RANGE_LOGITS.astype(np.float64)
    picked = host[np.arange(4), PAST_RANGE_LABELS]
    return float(np.mean(scipy.special.logsumexp(host, axis=-1) - picked))


def test_mean_over_a_loss_past_the_range_under_jax_jit(jax):
    # no value is read under jit: the mean is chosen by where (it was inf)
    logits, labels = _on("jax", (PAST_RANGE_LOGITS, PAST_RANGE_LABELS))
    mean = jax.jit(mp.cross_entropy)(logits, labels)
    assert_close(mean, np.asarray(_past_range_mean()), like=logits)


def test_mean_over_a_loss_past_the_range_under_torch_compile(torch):
    logits, labels = _on("torch", (PAST_RANGE_LOGITS, PAST_RANGE_LABELS))
    compiled = torch.compile(mp.cross_entropy, fullgraph=True, backend="aot_eager")
    assert_close(compiled(logits, labels), np.asarray(_past_range_mean()), like=logits)


def test_non_finite_pca_input_raises_eagerly_and_gives_nan_under_jit(jax):
    X = np.random.default_rng(1).standard_normal((30, 3))
    X[4, 1] = np.nan
    with pytest.raises(ValueError, match="pca_fit: X contains NaN or infinity"):
        mp.pca_fit(X, 2)
    fitted = jax.jit(lambda data: tuple(mp.pca_fit(data, 2))[:5])(_on("jax", (X,))[0])
    assert np.isnan(np.asarray(fitted[1])).all()  # explained variance


def test_rank_deficient_least_squares_raises_eagerly_and_gives_nan_under_jit(jax):
    X = np.random.default_rng(2).standard_normal((10, 2))
    X = np.stack([X[:, 0], X[:, 1], X[:, 0] - X[:, 1]], axis=1)  # column 2 = column 0 - 1
    y = np.arange(10.0)
    with pytest.raises(ValueError, match="least_squares: X is rank-deficient"):
        mp.least_squares(X, y)
    weights, bias = jax.jit(lambda a, b: tuple(mp.least_squares(a, b)))(*_on("jax", (X, y)))
    assert np.isnan(np.asarray(weights)).all() and np.isnan(float(bias))


# -- selection under torch.compile --------------------------------------------------------------


def test_torch_compile_follows_a_backend_keyword_and_the_environment(torch, monkeypatch):
    (x,) = _on("torch", _inputs("softmax"))
    expected = torch.softmax(x / 0.5, dim=-1).numpy()
    keyword = torch.compile(
        lambda t: mp.softmax(t, temperature=0.5, backend="torch"),
        fullgraph=True,
        backend="aot_eager",
    )
    assert_close(keyword(x), expected, like=x)
    monkeypatch.setenv("MLPILLARS_BACKEND", "torch")
    torch._dynamo.reset()
    environment = torch.compile(CASES["softmax"].call, fullgraph=True, backend="aot_eager")
    assert_close(environment(x)[0], expected, like=x)


def test_torch_compile_moves_python_lists_onto_the_inputs_backend(torch):
    x, weight, _ = _on("torch", _inputs("linear"))
    compiled = torch.compile(
        lambda a, w: mp.linear(a, w, [1.0, -1.0]), fullgraph=True, backend="aot_eager"
    )
    expected = x.numpy() @ weight.numpy() + np.array([1.0, -1.0])
    assert_close(compiled(x, weight), expected, like=x)
