"""Plain NumPy peers: each kernel's formula written inline, as a user would without a
library (softmax: max, subtract, exp, sum, divide).

They are the yardstick of a kernel's per-call overhead: on tiny inputs the difference
between our call and these is dispatch, checks and dtype handling, not arithmetic. Each
adapter is ``adapt(peer, call) -> PeerCall`` and ignores ``peer``'s function (the formula
is here); the peer's dotted name (``numpy.exp``) only says which library it needs.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...examples import KernelCall
from . import Peer, PeerCall

NAME = "plain numpy"
"""The implementation name of every plain NumPy peer."""


def softmax(peer: Peer, call: KernelCall) -> PeerCall:
    """``exp(s) / sum(exp(s))`` with ``s = (x - max) / T`` along the last axis."""
    temperature = call.options.get("temperature", 1.0)

    def run(x: np.ndarray) -> np.ndarray:
        exponentials = np.exp(_shifted(x, temperature))
        return exponentials / exponentials.sum(axis=-1, keepdims=True)

    return PeerCall(run, call.arrays[:1])


def log_softmax(peer: Peer, call: KernelCall) -> PeerCall:
    """``s - log(sum(exp(s)))`` with ``s = (x - max) / T`` along the last axis."""
    temperature = call.options.get("temperature", 1.0)

    def run(x: np.ndarray) -> np.ndarray:
        shifted = _shifted(x, temperature)
        return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))

    return PeerCall(run, call.arrays[:1])


def logsumexp(peer: Peer, call: KernelCall) -> PeerCall:
    """``max + log(sum(exp(x - max)))`` along the last axis."""

    def run(x: np.ndarray) -> np.ndarray:
        row_max = x.max(axis=-1, keepdims=True)
        return (row_max + np.log(np.exp(x - row_max).sum(axis=-1, keepdims=True)))[..., 0]

    return PeerCall(run, call.arrays[:1])


def linear(peer: Peer, call: KernelCall) -> PeerCall:
    """``activation(x @ weight + bias)``: ReLU as ``np.maximum(., 0)``, exact GELU through
    ``scipy.special.erf``."""
    activation = _activation(call.options.get("activation"))
    return PeerCall(lambda x, weight, bias: activation(x @ weight + bias), call.arrays[:3])


def normalize(peer: Peer, call: KernelCall) -> PeerCall:
    """``x / ||x||`` along the last axis (the example has no zero rows)."""
    return PeerCall(lambda x: x / np.linalg.norm(x, axis=-1, keepdims=True), call.arrays[:1])


def cosine_similarity(peer: Peer, call: KernelCall) -> PeerCall:
    """Unit rows of a and b, then ``a @ b.T``."""

    def run(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        unit_a = a / np.linalg.norm(a, axis=-1, keepdims=True)
        return unit_a @ (b / np.linalg.norm(b, axis=-1, keepdims=True)).T

    return PeerCall(run, call.arrays[:2])


def cross_entropy(peer: Peer, call: KernelCall) -> PeerCall:
    """Mean of ``-log_softmax(logits)[label]`` (integer labels, class axis last)."""

    def run(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
        shifted = logits - logits.max(axis=-1, keepdims=True)
        log_probabilities = shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))
        picked = np.take_along_axis(log_probabilities, labels[..., None], axis=-1)
        return -picked.mean()

    return PeerCall(run, call.arrays[:2])


def r_squared(peer: Peer, call: KernelCall) -> PeerCall:
    """``1 - SS_res / SS_tot`` along the last axis."""

    def run(truth: np.ndarray, predictions: np.ndarray) -> np.ndarray:
        residual = ((truth - predictions) ** 2).sum(axis=-1)
        spread = ((truth - truth.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
        return 1 - residual / spread

    return PeerCall(run, call.arrays[:2])


def _shifted(x: np.ndarray, temperature: float) -> np.ndarray:
    shifted = x - x.max(axis=-1, keepdims=True)
    return shifted if temperature == 1.0 else shifted / temperature


def _activation(name: str | None) -> Any:
    if name is None:
        return lambda values: values
    if name == "relu":
        return lambda values: np.maximum(values, 0)
    if name == "gelu":
        from scipy.special import erf

        return lambda values: 0.5 * values * (1 + erf(values / math.sqrt(2)))
    raise ValueError(f"plain numpy linear: no formula here for activation {name!r}")


def plain_peer(adapt: Any, function: str = "numpy.exp") -> Peer:
    """The plain NumPy peer that computes with ``adapt``."""
    return Peer(NAME, adapt, function=function)
