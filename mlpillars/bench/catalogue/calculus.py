"""Catalogue entries of the calculus pillar: fitting regressions and scoring them."""

from __future__ import annotations

from typing import Any

from ... import examples
from ...examples import KernelCall
from .. import work
from ..baselines import Baseline, python_fits, python_models
from ..peers import Peer, plain
from ..peers import models as model_peers
from . import variants
from .entry import KernelEntry, SuiteSizes

REGRESSION_SIZES = SuiteSizes(
    quick=(64, 256, 1024),
    full=(64, 256, 1024, 16384, 131072),
    gpu=(1024, 16384, 131072),
    tiny=(16,),
)
"""Samples n of the 16-feature regression examples."""


def weights_and_bias(fitted: Any) -> tuple[Any, Any]:
    """A gradient-descent fit's weights (B, d) and intercepts (B,): what the baselines and
    peers return (the loss history and flags have no counterpart there)."""
    return fitted.weights, fitted.bias


def batched_problems(call: KernelCall) -> bool:
    """Whether the call's features are (B, n, d): B independent regressions."""
    return call.arrays[0].ndim == 3


ENTRIES: tuple[KernelEntry, ...] = (
    KernelEntry(
        kernel="gradient_descent",
        example=examples.gradient_descent,
        sizes=REGRESSION_SIZES,
        work=work.gradient_descent,
        baseline=Baseline.of(
            python_models.gradient_descent,
            "mse, plain steps; X (n, d) or (B, n, d); returns (weights, intercept)",
        ),
        peers=(
            Peer(
                "numpy loop over problems",
                model_peers.gradient_descent_per_problem,
                function="numpy.dot",
            ),
        ),
        main_output=weights_and_bias,
        variants=variants.GRADIENT_DESCENT,
        holds_problems=batched_problems,
    ),
    KernelEntry(
        kernel="least_squares",
        example=examples.least_squares,
        sizes=SuiteSizes(
            quick=(64, 256, 1024),
            full=(64, 256, 1024, 16384, 131072),
            gpu=(16384, 131072, 1048576),
            tiny=(32,),
        ),
        work=work.least_squares,
        baseline=Baseline.of(
            python_fits.least_squares,
            "X (n, d) or (B, n, d); Gram-Schmidt QR; returns (weights, intercept)",
        ),
        peers=(
            Peer("numpy.linalg.lstsq", model_peers.lstsq_with_ones_column),
            Peer("sklearn.linear_model.LinearRegression", model_peers.linear_regression_fit),
        ),
    ),
    KernelEntry(
        kernel="r_squared",
        example=examples.r_squared,
        sizes=SuiteSizes(
            quick=(256, 4096, 32768),  # 8 rows: the Python loop takes about 0.3 s at 32768
            full=(256, 4096, 65536, 1048576),
            gpu=(65536, 1048576, 16777216),
            tiny=(16,),
        ),
        work=work.r_squared,
        baseline=Baseline.of(python_fits.r_squared, "y_true, y_pred (..., n); last axis"),
        peers=(
            Peer("sklearn.metrics.r2_score", model_peers.r2_score_per_row),
            plain.plain_peer(plain.r_squared, "numpy.sum"),
        ),
    ),
)
"""gradient_descent, least_squares, r_squared."""
