"""Catalogue entries of the probability pillar: the softmax family, cross-entropy, attention."""

from __future__ import annotations

from dataclasses import replace

from ... import examples
from .. import work
from ..baselines import Baseline, python_layers, python_models
from ..peers import Peer, plain
from ..peers import layers as layer_peers
from . import variants
from .entry import ELEMENTWISE_SIZES, KernelEntry, SuiteSizes


def softmax_peers(name: str) -> tuple[Peer, ...]:
    """The native calls of ``softmax`` or ``log_softmax``: each framework's own function
    (JAX's jitted, as its users call it), SciPy's, and plain NumPy."""
    return (
        Peer(f"torch.{name}", layer_peers.over_scaled_logits, backend="torch:cpu"),
        Peer(f"jax.nn.{name}", layer_peers.over_scaled_logits, backend="jax:cpu", compiled=True),
        Peer(f"scipy.special.{name}", layer_peers.over_scaled_logits),
        plain.plain_peer(getattr(plain, name)),
    )


ENTRIES: tuple[KernelEntry, ...] = (
    KernelEntry(
        kernel="softmax",
        example=examples.logits,
        sizes=replace(ELEMENTWISE_SIZES, tiny=()),  # tiny: the 8-row variant
        work=work.elementwise(5.0, 1.0),
        baseline=Baseline.of(python_layers.softmax, "last axis only"),
        peers=softmax_peers("softmax"),
        variants=(*variants.SOFTMAX_FAMILY, variants.SOFTMAX_OVERHEAD),
    ),
    KernelEntry(
        kernel="log_softmax",
        example=examples.logits,
        sizes=ELEMENTWISE_SIZES,
        work=work.elementwise(5.0, 1.0),
        baseline=Baseline.of(python_layers.log_softmax, "last axis only"),
        peers=softmax_peers("log_softmax"),
        variants=variants.SOFTMAX_FAMILY,
    ),
    KernelEntry(
        kernel="logsumexp",
        example=examples.logsumexp,
        sizes=ELEMENTWISE_SIZES,
        work=work.elementwise(4.0, 0.0),
        peers=(
            Peer("scipy.special.logsumexp", layer_peers.over_scaled_logits),
            plain.plain_peer(plain.logsumexp),
        ),
    ),
    KernelEntry(
        kernel="sigmoid",
        example=examples.sigmoid,
        sizes=ELEMENTWISE_SIZES,
        work=work.elementwise(4.0, 1.0),
        peers=(
            Peer("scipy.special.expit", layer_peers.as_the_kernel),
            Peer("torch.sigmoid", layer_peers.as_the_kernel, backend="torch:cpu"),
            Peer("jax.nn.sigmoid", layer_peers.as_the_kernel, backend="jax:cpu", compiled=True),
        ),
    ),
    KernelEntry(
        kernel="cross_entropy",
        example=examples.cross_entropy,
        sizes=SuiteSizes(
            quick=(256, 4096, 65536),
            full=(256, 4096, 65536, 1048576),
            gpu=(65536, 1048576, 16777216),
            tiny=(16,),
        ),
        work=work.cross_entropy,
        baseline=Baseline.of(
            python_layers.cross_entropy, "class axis last; labels or probabilities"
        ),
        peers=(
            Peer(
                "torch.nn.functional.cross_entropy",
                layer_peers.as_the_kernel,
                backend="torch:cpu",
            ),
            plain.plain_peer(plain.cross_entropy),
        ),
    ),
    KernelEntry(
        kernel="scaled_dot_product_attention",
        example=examples.attention,
        sizes=SuiteSizes(
            quick=(32, 64, 256),
            full=(32, 64, 256, 1024, 4096, 16384),
            gpu=(1024, 4096, 16384),
            tiny=(8,),
        ),
        work=work.attention,
        baseline=Baseline.of(
            python_models.scaled_dot_product_attention,
            "equal leading dims (no broadcast, no GQA); mask (L, S) or (..., L, S); no dropout",
        ),
        peers=(
            Peer(
                "torch.nn.functional.scaled_dot_product_attention",
                layer_peers.as_the_kernel,
                backend="torch:cpu",
            ),
            Peer(
                "jax.nn.dot_product_attention",
                layer_peers.attention_length_before_heads,
                backend="jax:cpu",
                compiled=True,  # as a JAX user would call it
                peak_bytes=layer_peers.all_scores_bytes,  # XLA's CPU version holds the scores
            ),
        ),
    ),
)
"""softmax, log_softmax, logsumexp, sigmoid, cross_entropy, scaled_dot_product_attention."""
