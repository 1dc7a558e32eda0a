"""The catalogue's variants: other examples of a kernel than its main one, with the shapes,
options and dtypes of issue 9's targets table and of the per-call overhead case.

Each builder takes a random generator and a size n and returns a :class:`KernelCall` of
float64 NumPy arrays, as the builders of :mod:`mlpillars.examples` do.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...examples import KernelCall
from ..targets import (
    DESCENT_VARIANTS,
    EIGHT_ROWS,
    LINEAR_VARIANTS,
    TARGET_FEATURES,
    TARGET_PROBLEMS,
    TARGET_ROWS,
    TARGET_STEPS,
    UNIT_TEMPERATURE,
)
from .entry import SuiteSizes, Variant

Builder = Callable[[np.random.Generator, int], KernelCall]


def logits_at_unit_temperature(rng: np.random.Generator, n: int) -> KernelCall:
    """Logits (n, n) of spread 3 at the default temperature: what ``torch.softmax`` and
    ``scipy.special.softmax`` compute without a division."""
    return KernelCall((rng.normal(scale=3.0, size=(n, n)),))


def eight_rows_of_logits(rng: np.random.Generator, n: int) -> KernelCall:
    """Logits (8, n) of spread 3, default temperature: the per-call overhead case."""
    return KernelCall((rng.normal(scale=3.0, size=(8, n)),))


def linear_rows(activation: str) -> Builder:
    """x (256, n), weight (n, n) scaled by 1/sqrt(n), bias (n,), then ``activation``."""

    def build(rng: np.random.Generator, n: int) -> KernelCall:
        x = rng.normal(size=(TARGET_ROWS, n))
        weight, bias = rng.normal(size=(n, n)) / np.sqrt(n), rng.normal(size=n)
        return KernelCall((x, weight, bias), {"activation": activation})

    return build


def batched_regressions(loss: str) -> Builder:
    """B = 256 problems of n samples and 32 features, 200 plain steps of ``loss``.

    X (256, n, 32); y (256, n): linear targets plus noise of 0.1 (``"mse"``), or whether
    they are positive, 0 or 1 (``"logistic"``).
    """

    def build(rng: np.random.Generator, n: int) -> KernelCall:
        features = rng.normal(size=(TARGET_PROBLEMS, n, TARGET_FEATURES))
        true_weights = rng.normal(size=(TARGET_PROBLEMS, TARGET_FEATURES, 1)) / 4
        noise = 0.1 * rng.normal(size=(TARGET_PROBLEMS, n))
        targets = (features @ true_weights)[..., 0] + noise
        if loss == "logistic":
            targets = (targets > 0).astype(np.float64)
        options = {"loss": loss, "lr": 0.05, "steps": TARGET_STEPS, "fit_intercept": True}
        return KernelCall((features, targets), options)

    return build


SOFTMAX_FAMILY = (
    Variant(
        UNIT_TEMPERATURE,
        logits_at_unit_temperature,
        SuiteSizes(quick=(), full=(), gpu=(4096,), targets=(4096,)),
        dtypes=("float32",),
        loops=False,  # a one-core loop over 16M elements says nothing the table asks
    ),
)
"""softmax and log_softmax 4096x4096 float32, against the frameworks' own calls."""

SOFTMAX_OVERHEAD = Variant(
    EIGHT_ROWS,
    eight_rows_of_logits,
    SuiteSizes(quick=(), full=(), gpu=(), tiny=(16,), targets=(16,)),
    dtypes=("float64",),
)
"""softmax on 8x16 float64: the overhead of a call over plain NumPy and SciPy."""

LINEAR = tuple(
    Variant(
        name,
        linear_rows(activation),
        SuiteSizes(quick=(), full=(), gpu=(1024,), targets=(1024,)),
        dtypes=("float32",),
        loops=False,
    )
    for activation, name in LINEAR_VARIANTS.items()
)
"""linear 256x1024 @ 1024x1024 + ReLU or GELU, float32."""

GRADIENT_DESCENT = tuple(
    Variant(
        name,
        batched_regressions(loss),
        SuiteSizes(quick=(), full=(), gpu=(), targets=(512,)),
        dtypes=("float64",),
        loops=loss == "mse",  # the Numba and Python loops fit the MSE only
    )
    for loss, name in DESCENT_VARIANTS.items()
)
"""Batched gradient descent, B=256 n=512 d=32, 200 steps, float64, MSE and logistic."""
