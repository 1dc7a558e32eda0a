"""Peers: what a user would otherwise call for each kernel.

Each peer prepares its inputs outside the timed region (tensors built, weights transposed to
the peer's layout) and returns a ``run`` callable that ends with the peer's own wait, and an
``outputs`` function that turns the result into NumPy arrays laid out as the kernel's output.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..examples import KernelCall


@dataclass(frozen=True)
class PeerRun:
    """A prepared peer call: ``outputs(run())`` gives the arrays to check."""

    run: Callable[[], Any]
    outputs: Callable[[Any], list[np.ndarray]]


@dataclass(frozen=True)
class Peer:
    """A peer library function for one kernel.

    ``peak_bytes``, where given, estimates the memory one call needs, so that a case which
    cannot fit is skipped with that reason instead of exhausting the machine.
    """

    name: str
    kernel: str
    module: str
    prepare: Callable[[KernelCall], PeerRun]
    peak_bytes: Callable[[KernelCall], float] | None = None

    def is_installed(self) -> bool:
        return importlib.util.find_spec(self.module.split(".")[0]) is not None


def _torch_linear(call: KernelCall) -> PeerRun:
    import torch
    import torch.nn.functional as functional

    x, weight, bias = (torch.from_numpy(np.ascontiguousarray(a)) for a in call.arrays)
    weight_out_in = weight.T.contiguous()  # torch stores (out, in)
    activation = {None: lambda z: z, "gelu": functional.gelu, "relu": functional.relu}[
        call.options.get("activation")
    ]
    return PeerRun(
        run=lambda: activation(functional.linear(x, weight_out_in, bias)),
        outputs=lambda result: [result.numpy()],
    )


def _torch_attention(call: KernelCall) -> PeerRun:
    import torch
    import torch.nn.functional as functional

    q, k, v = (torch.from_numpy(np.ascontiguousarray(a)) for a in call.arrays[:3])
    return PeerRun(
        run=lambda: functional.scaled_dot_product_attention(q, k, v, **call.options),
        outputs=lambda result: [result.numpy()],
    )


def _jax_attention(call: KernelCall) -> PeerRun:
    import jax
    import jax.numpy as jnp

    # jax.nn.dot_product_attention takes (batch, length, heads, depth)
    q, k, v = (jnp.asarray(np.swapaxes(a, -2, -3)) for a in call.arrays[:3])
    is_causal = bool(call.options.get("is_causal", False))
    # as a JAX user would call it: jitted (the warm-up call compiles it)
    attention = jax.jit(lambda q, k, v: jax.nn.dot_product_attention(q, k, v, is_causal=is_causal))
    return PeerRun(
        run=lambda: attention(q, k, v).block_until_ready(),
        outputs=lambda result: [np.swapaxes(np.asarray(result), -2, -3)],
    )


def _all_scores_bytes(call: KernelCall) -> float:
    """An attention that holds every score: scores, their exponentials and the weights."""
    q, k = call.arrays[:2]
    score_count = np.prod(q.shape[:-1], dtype=np.float64) * k.shape[-2]
    return 3 * score_count * q.dtype.itemsize


def _softmax_peer(module: str, function: str) -> Callable[[KernelCall], PeerRun]:
    def prepare(call: KernelCall) -> PeerRun:
        temperature = call.options.get("temperature", 1.0)
        if module == "jax.nn":
            import jax
            import jax.numpy as jnp

            peer_function = getattr(jax.nn, function)
            logits = jnp.asarray(call.arrays[0])
            return PeerRun(
                run=lambda: peer_function(logits / temperature, axis=-1).block_until_ready(),
                outputs=lambda result: [np.asarray(result)],
            )
        import scipy.special

        peer_function = getattr(scipy.special, function)
        logits = call.arrays[0]
        return PeerRun(
            run=lambda: peer_function(logits / temperature, axis=-1),
            outputs=lambda result: [np.asarray(result)],
        )

    return prepare


def _torch_cross_entropy(call: KernelCall) -> PeerRun:
    import torch
    import torch.nn.functional as functional

    logits, labels = (torch.from_numpy(np.ascontiguousarray(a)) for a in call.arrays)
    return PeerRun(
        run=lambda: functional.cross_entropy(logits, labels),
        outputs=lambda result: [result.numpy()],
    )


def _sklearn_cosine_similarity(call: KernelCall) -> PeerRun:
    from sklearn.metrics.pairwise import cosine_similarity

    a, b = call.arrays
    return PeerRun(run=lambda: cosine_similarity(a, b), outputs=lambda result: [result])


def _sklearn_pca(call: KernelCall) -> PeerRun:
    from sklearn.decomposition import PCA

    (data,) = call.arrays
    components = call.options["n_components"]
    return PeerRun(
        run=lambda: PCA(components, svd_solver="covariance_eigh").fit_transform(data),
        outputs=lambda result: [np.asarray(result)],
    )


def _numpy_loop_gradient_descent(call: KernelCall) -> PeerRun:
    """Plain batch gradient descent on MSE, one problem at a time, NumPy inside each step."""
    features, targets = call.arrays[:2]
    lr, steps = call.options["lr"], call.options["steps"]
    fit_intercept = call.options.get("fit_intercept", True)

    def solve_each_problem() -> tuple[np.ndarray, np.ndarray]:
        weights = np.zeros(features.shape[::2], dtype=features.dtype)  # (B, d)
        biases = np.zeros(features.shape[0], dtype=features.dtype)  # (B,)
        for problem in range(features.shape[0]):
            x, y = features[problem], targets[problem]
            w, b = np.zeros(x.shape[1], dtype=x.dtype), x.dtype.type(0)
            for _ in range(steps):
                residual = x @ w + b - y
                w = w - lr * (2 / len(y)) * (x.T @ residual)
                if fit_intercept:
                    b = b - lr * (2 / len(y)) * residual.sum()
            weights[problem], biases[problem] = w, b
        return weights, biases

    return PeerRun(run=solve_each_problem, outputs=lambda result: list(result))


PEERS: tuple[Peer, ...] = (
    Peer("torch.nn.functional.linear", "linear", "torch", _torch_linear),
    Peer(
        "torch.nn.functional.scaled_dot_product_attention",
        "scaled_dot_product_attention",
        "torch",
        _torch_attention,
    ),
    Peer(
        "jax.nn.dot_product_attention",
        "scaled_dot_product_attention",
        "jax",
        _jax_attention,
        peak_bytes=_all_scores_bytes,  # XLA's CPU version materialises the score matrix
    ),
    Peer("jax.nn.softmax", "softmax", "jax", _softmax_peer("jax.nn", "softmax")),
    Peer("scipy.special.softmax", "softmax", "scipy", _softmax_peer("scipy", "softmax")),
    Peer(
        "scipy.special.log_softmax", "log_softmax", "scipy", _softmax_peer("scipy", "log_softmax")
    ),
    Peer("torch.nn.functional.cross_entropy", "cross_entropy", "torch", _torch_cross_entropy),
    Peer(
        "sklearn.metrics.pairwise.cosine_similarity",
        "cosine_similarity",
        "sklearn",
        _sklearn_cosine_similarity,
    ),
    Peer("sklearn.decomposition.PCA", "pca", "sklearn", _sklearn_pca),
    Peer("numpy loop over problems", "gradient_descent", "numpy", _numpy_loop_gradient_descent),
)
"""Every peer, by kernel."""


def peers_for(kernel: str) -> list[Peer]:
    """The installed peers of ``kernel``."""
    return [peer for peer in PEERS if peer.kernel == kernel and peer.is_installed()]
