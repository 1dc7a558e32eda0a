"""JAX's softmax family and dense layer, each one ``jax.jit`` program.

Run eagerly, the kernels' formulas dispatch one XLA computation per step; compiled, XLA
fuses the elementwise steps into the reductions. Inside a caller's ``jax.jit``, ``vmap``
or ``grad`` these programs are traced inline like any other function. Each is compiled
once per shape, dtype and static option (axis, keepdims, whether T != 1, activation);
the temperature itself is an argument, so a sweep over temperatures compiles nothing new.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from ._logsumexp_rule import CLOSE_TO_ONE


@functools.cache
def compiled() -> dict[str, Callable[..., Any]]:
    """The jitted ``softmax``, ``log_softmax``, ``logsumexp`` and ``linear``, by name."""
    import jax

    return {
        "softmax": jax.jit(_softmax, static_argnames=("axis", "scaled")),
        "log_softmax": jax.jit(_log_softmax, static_argnames=("axis", "scaled")),
        "logsumexp": jax.jit(_logsumexp, static_argnames=("axis", "keepdims")),
        "linear": jax.jit(_linear, static_argnames=("activation",)),
    }


def _softmax(x: Any, temperature: Any, *, axis: int, scaled: bool) -> Any:
    """``jax.nn.softmax((x - max x) / T)``, in float32 for half precision."""
    import jax

    values = _widened(x)
    shifted = _shifted(values, temperature, axis) if scaled else values
    return jax.nn.softmax(shifted, axis=axis).astype(x.dtype)


def _log_softmax(x: Any, temperature: Any, *, axis: int, scaled: bool) -> Any:
    """``jax.nn.log_softmax((x - max x) / T)``, in float32 for half precision."""
    import jax

    values = _widened(x)
    shifted = _shifted(values, temperature, axis) if scaled else values
    return jax.nn.log_softmax(shifted, axis=axis).astype(x.dtype)


def _logsumexp(x: Any, *, axis: int, keepdims: bool) -> Any:
    """``m + log(sum exp(x - m))`` (``m = max x``; ``m`` itself where not finite), with the
    kernels' ``log1p`` form, the maxima apart, where the sum is below ``CLOSE_TO_ONE``
    (``_logsumexp_rule``; ``jax.nn.logsumexp`` rounds ``log(1 + 4e-18)`` to 0). That
    form costs XLA about three times the plain one on CPU, so it runs only when some
    slice needs it."""
    import jax
    import jax.numpy as jnp

    values = _widened(x)
    row_max = jnp.max(values, axis=axis, keepdims=True)
    finite_max = jnp.isfinite(row_max)
    safe_max = jnp.where(finite_max, row_max, 0)
    total = jnp.sum(jnp.exp(values - safe_max), axis=axis, keepdims=True)
    close = finite_max & (total < CLOSE_TO_ONE)
    log_total = jax.lax.cond(
        jnp.any(close),
        lambda: jnp.where(close, _log1p_rest(values, safe_max, axis), jnp.log(total)),
        lambda: jnp.log(total),
    )
    result = jnp.where(finite_max, log_total + safe_max, row_max).astype(x.dtype)
    return result if keepdims else jnp.squeeze(result, axis=axis)


def _log1p_rest(values: Any, maxima: Any, axis: int) -> Any:
    """``log1p(sum_{x < m} exp(x - m) + ties - 1)`` along ``axis`` (kept), ``m = maxima``."""
    import jax.numpy as jnp

    is_max = values == maxima
    below_max = jnp.where(is_max, 0, jnp.exp(values - maxima))
    extra_ties = jnp.sum(is_max.astype(values.dtype), axis=axis, keepdims=True) - 1
    return jnp.log1p(jnp.sum(below_max, axis=axis, keepdims=True) + extra_ties)


def _linear(x: Any, weight: Any, bias: Any, *, activation: str | None) -> Any:
    """``activation(x @ weight + bias)`` with the kernels' activations."""
    import jax
    import jax.numpy as jnp

    output = jnp.matmul(x, weight)
    if bias is not None:
        output = output + bias
    if activation == "relu":
        return jax.nn.relu(output)  # derivative 0 at 0; jnp.maximum's is 0.5 there
    if activation in ("gelu", "gelu_tanh"):
        return jax.nn.gelu(output, approximate=activation == "gelu_tanh")
    if activation == "sigmoid":
        return jax.nn.sigmoid(output)
    if activation == "tanh":
        return jnp.tanh(output)
    return output


ACTIVATIONS = (None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh")
"""The activations ``linear`` computes; each is the formula of
``mlpillars.kernels.activations`` ("gelu" exact, through erf)."""


def _shifted(values: Any, temperature: Any, axis: int) -> Any:
    """``(values - max) / T``: shifting first keeps ``x / T`` from overflowing."""
    import jax.numpy as jnp

    return (values - jnp.max(values, axis=axis, keepdims=True)) / temperature


def _widened(x: Any) -> Any:
    """float16 and bfloat16 as float32, other dtypes as they are."""
    import jax.numpy as jnp

    return x.astype(jnp.float32) if x.dtype in (jnp.float16, jnp.bfloat16) else x
