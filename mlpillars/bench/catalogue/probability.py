"""Catalogue entries of the probability pillar: the softmax family, cross-entropy, attention."""

from __future__ import annotations

from dataclasses import replace

from ... import examples
from .. import work
from ..baselines import Baseline, python_layers, python_models
from ..peers import Peer
from ..peers import layers as layer_peers
from .entry import ELEMENTWISE_SIZES, KernelEntry, SuiteSizes

ENTRIES: tuple[KernelEntry, ...] = (
    KernelEntry(
        kernel="softmax",
        example=examples.logits,
        sizes=replace(ELEMENTWISE_SIZES, tiny=(16, 32)),
        work=work.elementwise(5.0, 1.0),
        baseline=Baseline.of(python_layers.softmax, "last axis only"),
        peers=(
            Peer("jax.nn.softmax", layer_peers.over_scaled_logits, backend="jax:cpu"),
            Peer("scipy.special.softmax", layer_peers.over_scaled_logits),
        ),
    ),
    KernelEntry(
        kernel="log_softmax",
        example=examples.logits,
        sizes=ELEMENTWISE_SIZES,
        work=work.elementwise(5.0, 1.0),
        baseline=Baseline.of(python_layers.log_softmax, "last axis only"),
        peers=(Peer("scipy.special.log_softmax", layer_peers.over_scaled_logits),),
    ),
    KernelEntry(
        kernel="logsumexp",
        example=examples.logsumexp,
        sizes=ELEMENTWISE_SIZES,
        work=work.elementwise(4.0, 0.0),
    ),
    KernelEntry(
        kernel="sigmoid",
        example=examples.sigmoid,
        sizes=ELEMENTWISE_SIZES,
        work=work.elementwise(4.0, 1.0),
    ),
    KernelEntry(
        kernel="cross_entropy",
        example=examples.cross_entropy,
        sizes=SuiteSizes(
            quick=(256, 4096, 65536),
            full=(256, 4096, 65536, 1048576),
            gpu=(65536, 1048576, 16777216),
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
        ),
    ),
    KernelEntry(
        kernel="scaled_dot_product_attention",
        example=examples.attention,
        sizes=SuiteSizes(
            quick=(32, 64, 256),
            full=(32, 64, 256, 1024, 4096, 16384),
            gpu=(1024, 4096, 16384),
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
