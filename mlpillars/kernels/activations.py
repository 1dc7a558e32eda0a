"""Elementwise activations, by name, for :func:`linear` and :func:`mlp`."""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Any

from ..backends import erf
from ..backends import relu as framework_relu
from .probability import stable_sigmoid

_SQRT_2_OVER_PI = math.sqrt(2.0 / math.pi)


def relu(x: Any, *, xp: Any) -> Any:
    r""":math:`\max(x, 0)`, with derivative 0 at 0 (torch's ``relu``, ``jax.nn.relu``):
    each framework's (:func:`mlpillars.backends.relu`). A NaN stays NaN."""
    return framework_relu(x, xp=xp)


def gelu(x: Any, *, xp: Any) -> Any:
    r"""Exact GELU, :math:`x \Phi(x) = \tfrac{x}{2}(1 + \mathrm{erf}(x/\sqrt{2}))`."""
    return 0.5 * x * (1 + erf(x / math.sqrt(2.0)))


def gelu_tanh(x: Any, *, xp: Any) -> Any:
    r"""Tanh GELU, :math:`\tfrac{x}{2}(1 + \tanh(\sqrt{2/\pi}(x + 0.044715 x^3)))`."""
    return 0.5 * x * (1 + xp.tanh(_SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)))


def tanh(x: Any, *, xp: Any) -> Any:
    r""":math:`\tanh(x)`."""
    return xp.tanh(x)


ACTIVATIONS: dict[str, Callable[..., Any]] = {
    "relu": relu,
    "gelu": gelu,
    "gelu_tanh": gelu_tanh,
    "sigmoid": stable_sigmoid,
    "tanh": tanh,
}
"""Activation names accepted by ``linear`` and ``mlp``."""


def activation_function(
    kernel_name: str, activation: str | Callable[[Any], Any] | None, *, xp: Any
) -> Callable[[Any], Any]:
    """The activation as a one-argument function (identity for ``None``)."""
    if activation is None:
        return lambda x: x
    if callable(activation):
        return activation
    if activation not in ACTIVATIONS:
        valid = ", ".join(["None", *map(repr, ACTIVATIONS)])
        raise ValueError(
            f"{kernel_name}: unknown activation {activation!r}; valid values are {valid} "
            "or a callable"
        )
    return partial(ACTIVATIONS[activation], xp=xp)
