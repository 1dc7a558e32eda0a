"""What the array API standard cannot say about derivatives, answered by each framework:
a value that gradients do not flow through."""

from __future__ import annotations

from typing import Any

from .frameworks import framework_of


def without_gradient(x: Any) -> Any:
    """``x`` with its derivative taken as zero: the same values, through which torch
    autograd (``detach``) and JAX's transformations (``jax.lax.stop_gradient``) pass no
    gradient; ``x`` itself on frameworks without automatic differentiation.

    For a scale a formula divides by and multiplies back (or that its value ignores):
    the scale's gradient cancels exactly there, yet computing it can overflow, such as
    JAX's derivative of ``x / s``, ``-x * s**-2``, at ``s = 3e-30`` in float32
    (``s**-2`` is inf). Traceable (``jax.jit``, ``jax.vmap``, ``torch.compile``).

    Parameters
    ----------
    x : array
        Of any supported backend (or a tracer of one).

    Returns
    -------
    array
        Equal to ``x``: same shape, dtype, namespace and device.
    """
    framework = framework_of(x)
    return x if framework is None else framework.without_gradient(x)
