"""Catalogue entries of the linear-algebra pillar: layers, similarities, PCA."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ... import examples
from .. import work
from ..baselines import Baseline, python_fits, python_layers, python_models
from ..peers import Peer, plain
from ..peers import layers as layer_peers
from ..peers import models as model_peers
from . import variants
from .entry import ELEMENTWISE_SIZES, MATRIX_SIZES, KernelEntry, SuiteSizes

PCA_SIZES = SuiteSizes(
    quick=(250, 1000, 10000),
    full=(250, 1000, 10000, 100000, 1000000),
    gpu=(10000, 100000, 1000000),
    tiny=(64,),
)
"""Samples of the 32-feature PCA example (the fit's cost grows with n: 2 n d^2)."""


def fitted_arrays(fitted: Any) -> tuple[Any, ...]:
    """A PCAFit's arrays, in the order the pca_fit baselines and peers return them (the
    sample count and the solver's name are not results to compare)."""
    return (
        fitted.components,
        fitted.explained_variance,
        fitted.explained_variance_ratio,
        fitted.singular_values,
        fitted.mean,
    )


ENTRIES: tuple[KernelEntry, ...] = (
    KernelEntry(
        kernel="linear",
        example=examples.linear,
        sizes=MATRIX_SIZES,
        work=work.linear,
        baseline=Baseline.of(
            python_layers.linear, "x (..., in), weight (in, out); activation names"
        ),
        peers=(
            Peer(
                "torch.nn.functional.linear",
                layer_peers.linear_then_activation,
                backend="torch:cpu",
            ),
            Peer("torch.addmm", layer_peers.addmm_then_activation, backend="torch:cpu"),
            plain.plain_peer(plain.linear, "numpy.maximum"),
        ),
        variants=variants.LINEAR,
    ),
    KernelEntry(
        kernel="mlp",
        example=examples.mlp,
        sizes=MATRIX_SIZES,
        work=work.mlp,
        baseline=Baseline.of(python_layers.mlp, "as linear for every layer"),
    ),
    KernelEntry(
        kernel="cosine_similarity",
        example=examples.cosine_similarity,
        sizes=MATRIX_SIZES,
        work=work.cosine_similarity,
        baseline=Baseline.of(python_layers.cosine_similarity, "as the kernel"),
        peers=(
            Peer("sklearn.metrics.pairwise.cosine_similarity", layer_peers.as_the_kernel),
            plain.plain_peer(plain.cosine_similarity, "numpy.linalg.norm"),
        ),
    ),
    KernelEntry(
        kernel="normalize",
        example=examples.normalize,
        sizes=ELEMENTWISE_SIZES,
        work=work.elementwise(5.0, 1.0),
        peers=(
            plain.plain_peer(plain.normalize, "numpy.linalg.norm"),
            # no guard against overflow (rows of 1e20 in float32 give zeros), as torch has it
            Peer("torch.nn.functional.normalize", layer_peers.as_the_kernel, backend="torch:cpu"),
        ),
    ),
    KernelEntry(
        kernel="pca",
        example=examples.pca,
        sizes=PCA_SIZES,
        work=work.pca,
        baseline=Baseline.of(python_models.pca, "X (n, d); returns the projection; Jacobi eigen"),
        peers=(Peer("sklearn.decomposition.PCA", model_peers.pca_projection),),
    ),
    KernelEntry(
        kernel="pca_fit",
        example=examples.pca,
        # quick: 4000, not 10000, samples, so that the pure-Python loop (whose fixed Jacobi
        # cost fools the power-law estimate at the small sizes) stays near the suite's 1 s
        sizes=replace(PCA_SIZES, quick=(250, 1000, 4000)),
        work=work.pca_fit,
        baseline=Baseline.of(
            python_fits.pca_fit, "X (n, d); returns the fitted arrays; Jacobi eigen"
        ),
        peers=(
            Peer(
                "sklearn.decomposition.PCA.fit",
                model_peers.pca_fitted_attributes,
                function="sklearn.decomposition.PCA",
            ),
        ),
        main_output=fitted_arrays,
    ),
)
"""linear, mlp, cosine_similarity, normalize, pca, pca_fit."""
