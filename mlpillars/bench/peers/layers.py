"""Peer adapters for the layer-like kernels: linear, attention, the softmax family,
cross-entropy and cosine similarity.

Each adapter is ``adapt(peer, call) -> PeerCall``: it loads the peer's function and lays
the example's NumPy arrays out for it, outside the timed region.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...backends import host_arrays
from ...examples import KernelCall
from . import Peer, PeerCall, load_dotted


def as_the_kernel(peer: Peer, call: KernelCall) -> PeerCall:
    """The peer takes the kernel's arrays and options as they are (same layout and names)."""
    function, options = peer.load(), call.options
    return PeerCall(lambda *arrays: function(*arrays, **options), _contiguous(call.arrays))


def linear_then_activation(peer: Peer, call: KernelCall) -> PeerCall:
    """A linear layer that stores its weight as (out, in), then the activation, found by
    name next to the linear function (``gelu`` next to ``linear``).

    Inputs: x (..., in), weight (in, out), bias (out,); the weight is transposed here.
    """
    x, weight, bias = call.arrays
    linear = peer.load()
    activation_name = call.options.get("activation")
    activation = peer.load(activation_name) if activation_name else _identity
    return PeerCall(
        lambda x, weight_out_in, bias: activation(linear(x, weight_out_in, bias)),
        _contiguous((x, weight.T, bias)),
    )


def attention_length_before_heads(peer: Peer, call: KernelCall) -> PeerCall:
    """Attention that takes (batch, length, heads, depth), as ``jax.nn``; the kernel's
    torch layout (batch, heads, length, depth) is swapped here and back in the output."""
    is_causal = bool(call.options.get("is_causal", False))
    attention = peer.load()
    return PeerCall(
        lambda q, k, v: attention(q, k, v, is_causal=is_causal),
        _contiguous(tuple(np.swapaxes(array, -2, -3) for array in call.arrays[:3])),
        outputs=lambda result: [np.swapaxes(host_arrays(result)[0], -2, -3)],
    )


def over_scaled_logits(peer: Peer, call: KernelCall) -> PeerCall:
    """A softmax-like function of ``logits / temperature`` along the last axis, given as
    the second positional argument (``axis`` or ``dim``); no division at temperature 1."""
    function = peer.load()
    temperature = call.options.get("temperature", 1.0)
    if temperature == 1.0:
        return PeerCall(lambda logits: function(logits, -1), _contiguous(call.arrays[:1]))
    return PeerCall(lambda logits: function(logits / temperature, -1), _contiguous(call.arrays[:1]))


FUSED_ACTIVATIONS = {"relu": "torch.relu", "gelu": "torch.nn.functional.gelu"}
"""Activation name -> the dotted function :func:`addmm_then_activation` applies."""


def addmm_then_activation(peer: Peer, call: KernelCall) -> PeerCall:
    """``activation(addmm(bias, x, weight))``: bias + x @ weight in one fused call with the
    kernel's layout, x (rows, in) and weight (in, out), then the activation
    (:data:`FUSED_ACTIVATIONS`): what a hand-written torch layer calls."""
    addmm = peer.load()
    name = call.options.get("activation")
    if name is not None and name not in FUSED_ACTIVATIONS:
        raise ValueError(f"{peer.name}: no activation {name!r} in {sorted(FUSED_ACTIVATIONS)}")
    activation = load_dotted(FUSED_ACTIVATIONS[name]) if name else _identity
    x, weight, bias = call.arrays
    return PeerCall(
        lambda x, weight, bias: activation(addmm(bias, x, weight)),
        _contiguous((x.reshape(-1, x.shape[-1]), weight, bias)),
    )


def _identity(values: Any) -> Any:
    return values


def _contiguous(arrays: tuple[Any, ...]) -> tuple[np.ndarray, ...]:
    """C-contiguous copies where needed: some peers' array constructors require them."""
    return tuple(np.ascontiguousarray(array) for array in arrays)


def all_scores_bytes(call: KernelCall) -> float:
    """Memory of an attention that holds every score: scores, their exponentials and the
    weights, (..., L, S) each."""
    q, k = call.arrays[:2]
    score_count = np.prod(q.shape[:-1], dtype=np.float64) * k.shape[-2]
    return 3 * score_count * q.dtype.itemsize
