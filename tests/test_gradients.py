"""Gradients through the kernels at hostile points, against the frameworks' own functions.

Each test differentiates ``sum(c * f(x))`` (a fixed cotangent ``c``: a plain sum of a
softmax has gradient 0) with torch autograd and with ``jax.jit(jax.grad)``, in float32 and
float64, and compares with torch's own function differentiated by autograd in float64 on
the same rounded values, through the tolerance table. Where a kernel is not
differentiable the reference states the convention (a zero vector's unit vector: 0, with
gradient 0). ``scripts/probe_gradients.py`` draws such points at random; these are the
ones it found wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS, without_gradient
from mlpillars.testing import BackendCase, assert_close
from mlpillars.tolerances import tolerance_for

BACKENDS = ["torch", "jax"]
DTYPES = ["float32", "float64"]


@pytest.fixture
def torch():
    return pytest.importorskip("torch")


def _cotangent(shape: tuple[int, ...]) -> np.ndarray:
    return np.random.default_rng(7).uniform(0.5, 1.5, size=shape)


def _gradients(
    backend: str, call: Callable[..., Any], arrays: list[np.ndarray], dtype: str
) -> list[Any]:
    """d/d(each array) of ``sum(c * call(*arrays))``, on ``backend`` in ``dtype``: torch
    autograd on tensors that require grad, or ``jax.jit(jax.grad)``."""
    if backend == "torch":
        torch = pytest.importorskip("torch")
        tensors = [torch.tensor(a.astype(dtype), requires_grad=True) for a in arrays]
        value = call(*tensors)
        torch.sum(value * torch.tensor(_cotangent(value.shape).astype(dtype))).backward()
        return [tensor.grad for tensor in tensors]
    jax = pytest.importorskip("jax")
    FRAMEWORKS["jax"].enable_x64()
    inputs = [jax.numpy.asarray(a.astype(dtype)) for a in arrays]
    cotangent = jax.numpy.asarray(_cotangent(call(*inputs).shape).astype(dtype))

    def loss(*chosen: Any) -> Any:
        return jax.numpy.sum(call(*chosen) * cotangent)

    return list(jax.jit(jax.grad(loss, argnums=tuple(range(len(inputs)))))(*inputs))


def _reference(torch: Any, call: Callable[..., Any], arrays: list[np.ndarray], dtype: str):
    """The gradients of torch's own ``call`` by autograd, in float64 on the values
    rounded to ``dtype``."""
    tensors = [torch.tensor(a.astype(dtype).astype(np.float64), requires_grad=True) for a in arrays]
    value = call(*tensors)
    torch.sum(value * torch.tensor(_cotangent(value.shape))).backward()
    return [tensor.grad.numpy() for tensor in tensors]


def _assert_gradients(actual: list[Any], expected: list[np.ndarray], dtype: str) -> None:
    for index, (gradient, reference) in enumerate(zip(actual, expected, strict=True)):
        host = np.asarray(mp.backends.host_arrays(gradient)[0], dtype=np.float64)
        assert np.isfinite(host).all(), f"argument {index}: gradient {host} is not finite"
        assert_close(gradient, reference, tolerance=tolerance_for(dtype), err_msg=f"arg {index}")


# -- zero vectors: normalize and cosine_similarity --------------------------------------------


def _without_zero_rows(torch: Any, function: Callable[..., Any], x: Any) -> Any:
    """``function`` of x's rows, 0 with gradient 0 at a zero row (torch's own functions
    divide by ``max(||x||, eps)``: a gradient of ``1 / eps`` there)."""
    zero = (x == 0).all(-1, keepdim=True)
    return torch.where(zero, 0.0, function(torch.where(zero, 1.0, x)))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_normalize_gradient_at_a_zero_vector_is_zero(torch, backend, dtype):
    """A zero row's gradient was NaN on every backend (``sqrt``'s derivative at 0 times
    the 0 the ``where`` gives it): [[0, 0, 0], [3, -1, 2]] -> [[nan, nan, nan], ...],
    which a loss over a batch passes on to every weight that made x."""
    x = np.array([[0.0, 0.0, 0.0], [3.0, -1.0, 2.0], [1e-3, 0.0, -2e-3]])
    gradients = _gradients(backend, mp.normalize, [x], dtype)
    expected = _reference(
        torch, lambda x: _without_zero_rows(torch, torch.nn.functional.normalize, x), [x], dtype
    )
    _assert_gradients(gradients, expected, dtype)
    assert not np.asarray(mp.backends.host_arrays(gradients[0])[0])[0].any()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_cosine_similarity_gradient_with_zero_vectors_is_finite(torch, backend, dtype):
    a = np.array([[0.0, 0.0], [1.0, 2.0], [-3.0, 0.5]])
    b = np.array([[2.0, -1.0], [0.0, 0.0]])

    def reference(a: Any, b: Any) -> Any:
        def unit(x: Any) -> Any:
            return _without_zero_rows(torch, torch.nn.functional.normalize, x)

        return unit(a) @ unit(b).mT

    gradients = _gradients(backend, mp.cosine_similarity, [a, b], dtype)
    _assert_gradients(gradients, _reference(torch, reference, [a, b], dtype), dtype)


# -- relu at its kink ------------------------------------------------------------------------


def _relu_layers(x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
    return mp.mlp(x, [w1, w2], [b1, b2], activation="relu")


def _relu_layers_generic(x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
    """The formula alone (Dask's, array-api-strict's and CuPy's path), on x's namespace."""
    xp = mp.backends.FRAMEWORKS["torch" if hasattr(x, "requires_grad") else "jax"].namespace()
    hidden = mp.linear.generic(x, w1, b1, activation="relu", xp=xp)
    return mp.linear.generic(hidden, w2, b2, xp=xp)


@pytest.mark.parametrize("call", [_relu_layers, _relu_layers_generic], ids=["mlp", "generic"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_relu_gradient_at_zero_is_zero(torch, backend, dtype, call):
    """relu(0)'s derivative is 0, as torch's ``relu`` and ``jax.nn.relu`` take it: JAX's
    ``maximum(z, 0)`` (and torch's ``maximum`` in the formula) gave 0.5 there, so a zero
    input row with zero biases (an mlp at its usual initialisation) had the gradient
    ``0.5 * w1 @ w2 @ c`` on JAX against 0 on torch."""
    rng = np.random.default_rng(3)
    x = np.array([[0.0, 0.0, 0.0], [1.0, -2.0, 0.5]])
    w1, w2 = rng.normal(size=(3, 4)), rng.normal(size=(4, 2))
    b1, b2 = np.zeros(4), rng.normal(size=2)
    arrays = [x, w1, b1, w2, b2]

    def reference(x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        return torch.relu(x @ w1 + b1) @ w2 + b2

    gradients = _gradients(backend, call, arrays, dtype)
    _assert_gradients(gradients, _reference(torch, reference, arrays, dtype), dtype)


# -- the sigmoid at 0 ------------------------------------------------------------------------


def _namespace_of(x: Any) -> Any:
    return mp.backends.FRAMEWORKS["torch" if hasattr(x, "requires_grad") else "jax"].namespace()


def _sigmoid_generic(x: Any) -> Any:
    return mp.sigmoid.generic(x, xp=_namespace_of(x))


def _sigmoid_layer_generic(x: Any) -> Any:
    xp = _namespace_of(x)
    identity = xp.eye(x.shape[-1], dtype=x.dtype)
    return mp.linear.generic(x, identity, activation="sigmoid", xp=xp)


@pytest.mark.parametrize(
    "call",
    [mp.sigmoid, _sigmoid_generic, _sigmoid_layer_generic],
    ids=["public", "generic", "linear"],
)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_sigmoid_gradient_at_zero_is_a_quarter(torch, backend, dtype, call):
    """The formula's ``exp(-|x|)`` took torch's ``abs``, whose derivative at 0 is 0: the
    formula's gradient at x = 0 was 0 on torch tensors, not 0.25."""
    x = np.array([[0.0, -0.0, 1e-30, 3.0, -80.0]])
    gradients = _gradients(backend, call, [x], dtype)
    _assert_gradients(gradients, _reference(torch, torch.sigmoid, [x], dtype), dtype)


# -- the primitive: without_gradient -------------------------------------------------------


def test_without_gradient_keeps_values_on_every_backend(xp: BackendCase):
    x = xp.asarray([[1e-30, -2.0, 3.5], [0.0, np.inf, -7.0]])
    held = without_gradient(x)
    assert type(held) is type(x) and held.dtype == x.dtype and held.shape == x.shape
    assert mp.backends.device_of(held) == mp.backends.device_of(x)
    assert_close(held, xp.to_numpy(x), like=x)


def _kept_square(x: Any) -> Any:
    """``x * stop(x)``: its derivative is ``stop(x)`` = x, where ``x * x``'s is 2 x."""
    return x * without_gradient(x)


def test_without_gradient_stops_jax_gradients_traced_and_mapped():
    jax = pytest.importorskip("jax")
    x = jax.numpy.asarray([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]])

    def loss(row: Any) -> Any:
        return jax.numpy.sum(_kept_square(row))

    expected = np.asarray(x)
    assert_close(jax.grad(lambda x: jax.numpy.sum(_kept_square(x)))(x), expected)
    assert_close(jax.jit(jax.vmap(jax.grad(loss)))(x), expected)
    assert_close(jax.vmap(_kept_square)(x), expected * expected)


def test_without_gradient_stops_torch_gradients_compiled_and_mapped(torch):
    x = torch.tensor([[1.0, -2.0, 3.0], [0.5, 4.0, -1.0]], requires_grad=True)
    held = without_gradient(x)
    assert not held.requires_grad and torch.equal(held, x.detach())
    compiled = torch.compile(_kept_square, fullgraph=True)
    torch.sum(compiled(x)).backward()
    assert_close(x.grad, x.detach().numpy())
    mapped = torch.func.vmap(torch.func.grad(lambda row: torch.sum(_kept_square(row))))
    assert_close(mapped(x.detach()), x.detach().numpy())


# -- vectors of tiny magnitude: the scale they are divided by passes no gradient ------------

TINY = {"float32": 1e-30, "float64": 1e-160}
"""Magnitudes whose scale's square underflows in each dtype (``s**-2`` is inf) while the
true gradients, about 1 / TINY, are finite."""

UNTINY = {"float32": 2.0**100, "float64": 2.0**530}
"""An exact power of two that brings TINY near 1: the references differentiate
``f(x * UNTINY)``, whose gradient is ``UNTINY f'(x UNTINY) = f'(x)`` for a scale-free f."""


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_normalize_gradient_of_tiny_vectors_is_finite(torch, backend, dtype):
    """float32 rows of 1e-30 had NaN gradients on JAX (truly about 1e29): the gradient
    through the division by the largest magnitude, ``-x * s**-2``, was inf."""
    x = np.array([[1e-30, -2e-30, 3e-30], [3.0, -1.0, 2.0]]) * (TINY[dtype] / 1e-30)
    x[1] = [3.0, -1.0, 2.0]
    gradients = _gradients(backend, mp.normalize, [x], dtype)

    def reference(x: Any) -> Any:
        return torch.nn.functional.normalize(x * UNTINY[dtype], eps=0.0)

    _assert_gradients(gradients, _reference(torch, reference, [x], dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_cosine_similarity_gradient_of_tiny_rows_is_finite(torch, backend, dtype):
    """A 1-feature row of 1e-30 (float32) had a NaN gradient on JAX (truly 0: its unit
    vector is its sign), and so had rows of several features."""
    tiny = TINY[dtype]
    a = np.array([[1e-30], [2.0]]) * np.array([[tiny / 1e-30], [1.0]])
    b = np.array([[2.0], [-3.0]])
    wide_a = np.array([[1.0, -2.0, 0.5], [2.0, 1.0, 1.0]]) * np.array([[tiny], [1.0]])
    wide_b = np.array([[2.0, -1.0, 3.0], [0.5, 0.5, -1.0]])

    def signs(a: Any, b: Any) -> Any:  # one feature: the product of the signs, gradient 0
        return torch.sign(a) @ torch.sign(b).mT

    def reference(a: Any, b: Any) -> Any:
        untiny = torch.tensor([[UNTINY[dtype]], [1.0]], dtype=a.dtype)  # the tiny row's
        unit_a = torch.nn.functional.normalize(a * untiny, eps=0.0)
        return unit_a @ torch.nn.functional.normalize(b, eps=0.0).mT

    for arrays, function in (([a, b], signs), ([wide_a, wide_b], reference)):
        gradients = _gradients(backend, mp.cosine_similarity, arrays, dtype)
        _assert_gradients(gradients, _reference(torch, function, arrays, dtype), dtype)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_r_squared_gradient_of_tiny_values_is_finite(torch, backend, dtype):
    """float32 targets and predictions of 1e-30 had NaN gradients on JAX (truly about
    1e29): R^2 divides the deviations by their largest magnitude."""
    scale = TINY[dtype] / 1e-30
    y_true = np.array([[1e-30, 2e-30, 4e-30, -1e-30]]) * scale
    y_pred = np.array([[1.5e-30, 2e-30, 3e-30, 0.0]]) * scale

    def reference(y_true: Any, y_pred: Any) -> Any:
        y_true, y_pred = y_true * UNTINY[dtype], y_pred * UNTINY[dtype]
        residual = torch.sum((y_pred - y_true) ** 2, dim=-1)
        total = torch.sum((y_true - torch.mean(y_true, dim=-1, keepdim=True)) ** 2, dim=-1)
        return 1 - residual / total

    gradients = _gradients(backend, mp.r_squared, [y_true, y_pred], dtype)
    _assert_gradients(gradients, _reference(torch, reference, [y_true, y_pred], dtype), dtype)


SKEWED = {"float32": (2.0**-96, 2.0**100), "float64": (2.0**-993, 2.0**997)}
"""Query and key scales (float32: 1.3e-29 and 1.3e30) whose scores are about 1, the keys
divided by a factor to keep them in range (see ``_attention_range``), as every call is
where the values cannot be read (jax.grad)."""


def _skewed(attention: Callable[..., Any], dtype: str) -> Callable[..., Any]:
    """``attention`` of q and k multiplied by SKEWED's exact powers of two: gradients of
    about 1 with respect to the arguments, which the tolerance table's relative part
    then judges (the keys' own, about 1e-30, are below its absolute floor)."""
    query_scale, key_scale = SKEWED[dtype]
    return lambda q, k, v: attention(q * query_scale, k * key_scale, v)


def _attention_generic(q: Any, k: Any, v: Any) -> Any:
    return mp.scaled_dot_product_attention.generic(q, k, v, xp=_namespace_of(q))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_gradient_with_keys_divided_into_range(torch, backend, dtype):
    """Keys of 1e30 against queries of 1e-29 (float32): JAX's key gradient was 26% off
    (1.9e-30 against 7.2e-30) through the factor the keys are divided by, whose gradient
    cancels exactly."""
    rng = np.random.default_rng(5)
    q = rng.uniform(-1.0, 1.0, size=(1, 2, 3, 4))
    k = rng.uniform(-1.0, 1.0, size=(1, 2, 5, 4))
    v = rng.normal(size=(1, 2, 5, 4))
    call = _skewed(_attention_generic, dtype)
    reference = _skewed(torch.nn.functional.scaled_dot_product_attention, dtype)
    gradients = _gradients(backend, call, [q, k, v], dtype)
    _assert_gradients(gradients, _reference(torch, reference, [q, k, v], dtype), dtype)


# -- attention: a float mask that forbids every key of a row ---------------------------------


def _masked_attention_generic(q: Any, k: Any, v: Any, mask: Any) -> Any:
    return mp.scaled_dot_product_attention.generic(q, k, v, mask=mask, xp=_namespace_of(q))


def _masked_attention_public(q: Any, k: Any, v: Any, mask: Any) -> Any:
    return mp.scaled_dot_product_attention(q, k, v, mask=mask)


@pytest.mark.parametrize(
    "call", [_masked_attention_public, _masked_attention_generic], ids=["public", "generic"]
)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_attention_gradient_with_a_fully_masked_float_row_is_finite(torch, backend, dtype, call):
    """A row of ``-inf`` mask attends to nothing: output 0, gradient 0. JAX gave NaN for
    every gradient of q, k and v (q = k = v = ones (1, 1, 3), mask [[-inf]]): the
    formula divided the mask's ``-inf`` by the multiplier in an untaken ``where`` branch,
    and ``jax.nn.dot_product_attention`` (float32) gives that row NaN."""
    rng = np.random.default_rng(5)
    q, k, v = rng.normal(size=(2, 3, 2)), rng.normal(size=(2, 4, 2)), rng.normal(size=(2, 4, 2))
    mask = rng.normal(size=(3, 4))
    mask[1, :] = -np.inf  # query 1 attends to no key
    mask[2, 0] = -np.inf
    mask = mask.astype(dtype).astype(np.float64)  # the values either dtype holds

    def ours(q: Any, k: Any, v: Any) -> Any:
        return call(q, k, v, _namespace_of(q).asarray(mask, dtype=q.dtype))

    def reference(q: Any, k: Any, v: Any) -> Any:
        float_mask = torch.tensor(mask)
        empty = torch.isinf(float_mask).all(-1, keepdim=True)
        output = torch.nn.functional.scaled_dot_product_attention(
            q, k, v, attn_mask=torch.where(empty, 0.0, float_mask)
        )
        return torch.where(empty, 0.0, output)

    gradients = _gradients(backend, ours, [q, k, v], dtype)
    _assert_gradients(gradients, _reference(torch, reference, [q, k, v], dtype), dtype)


# -- PCA's eigen-decomposition at large variances -------------------------------------------

PCA_SCALES = {"float32": 1e4, "float64": 1e10}
"""Data scales whose covariance's eigenvalues are past 2 / eps: variances of 1e8 in float32,
1e20 in float64."""


def _torch_pca_components(torch: Any, X: Any, factor: float) -> Any:
    """The first two principal axes (scikit-learn's signs) by torch's own ``eigh``,
    multiplied by ``factor``, so that their gradient is of order 1."""
    centred = X - X.mean(0)
    _, eigenvectors = torch.linalg.eigh(centred.mT @ centred / (X.shape[0] - 1))
    axes = eigenvectors.flip(-1).mT[:2]
    pivots = axes.gather(1, axes.abs().argmax(1, keepdim=True))
    return torch.where(pivots < 0, -axes, axes) * factor


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("backend", BACKENDS)
def test_pca_components_gradient_at_large_variances_is_finite(torch, backend, dtype):
    """JAX's derivative of ``eigh`` divides by ``(1 + w_i) - w_i`` on its diagonal, 0 for
    an eigenvalue past 2 / eps: float64 data of 1e10 (variances of 1e20) and float32 data
    of 1e4 (variances of 1e8) had NaN gradients for every entry of X. Found by
    ``scripts/probe_transforms.py`` (pca_fit of bfloat16 data of 1e30); JAX's eigh now
    sees the covariance scaled to order 1."""
    factor = PCA_SCALES[dtype]
    X = np.random.default_rng(3).standard_normal((8, 3)) * np.array([3.0, 1.0, 0.3]) * factor

    def ours(X: Any) -> Any:
        return mp.pca_fit(X, 2, solver="covariance_eigh").components * factor

    gradients = _gradients(backend, ours, [X], dtype)
    expected = _reference(torch, lambda X: _torch_pca_components(torch, X, factor), [X], dtype)
    _assert_gradients(gradients, expected, dtype)
