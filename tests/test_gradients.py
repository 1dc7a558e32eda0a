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
from mlpillars.backends import FRAMEWORKS
from mlpillars.testing import assert_close
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


# -- attention: a float mask that forbids every key of a row ---------------------------------


def _attention_generic(q: Any, k: Any, v: Any, mask: Any) -> Any:
    return mp.scaled_dot_product_attention.generic(q, k, v, mask=mask, xp=_namespace_of(q))


def _attention_public(q: Any, k: Any, v: Any, mask: Any) -> Any:
    return mp.scaled_dot_product_attention(q, k, v, mask=mask)


@pytest.mark.parametrize("call", [_attention_public, _attention_generic], ids=["public", "generic"])
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
