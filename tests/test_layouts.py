"""Memory layouts chosen for speed: ``backends.row_major`` and gradient descent's data
objective, which holds X transposed where loops run eagerly. Same values either way."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from mlpillars.backends import row_major
from mlpillars.kernels._descent_objectives import DataObjective
from mlpillars.testing import BackendCase, assert_close


def test_row_major_keeps_the_values_of_a_transposed_view(xp: BackendCase, rng):
    values = rng.normal(size=(3, 5, 4))
    transposed = xp.xp.matrix_transpose(xp.asarray(values))
    laid_out = row_major(transposed)
    assert_close(laid_out, np.swapaxes(values, 1, 2), like=transposed)
    if xp.backend == "numpy":
        assert laid_out.flags.c_contiguous and not transposed.flags.c_contiguous
    if xp.backend == "torch":
        # contiguous on the CPU; on a GPU the view as it is (cuBLAS reads either layout)
        on_cpu = xp.device_name == "cpu"
        assert laid_out.is_contiguous() == on_cpu and not transposed.is_contiguous()


def test_row_major_copies_nothing_already_in_order(rng):
    values = rng.normal(size=(4, 3))
    assert row_major(values) is values


def _reference(features, targets, params, loss):
    """Loss (B,) and gradient (B, d + 1) of the data objective with an intercept, float64."""
    logits = np.einsum("bnd,bd->bn", features, params[:, :-1]) + params[:, -1:]
    if loss == "mse":
        error, value = logits - targets, np.mean((logits - targets) ** 2, axis=-1)
        scale = 2.0
    else:
        error = 1.0 / (1.0 + np.exp(-logits)) - targets
        value = np.mean(np.logaddexp(0.0, logits) - targets * logits, axis=-1)
        scale = 1.0
    n = features.shape[-2]
    gradient = scale / n * np.einsum("bn,bnd->bd", error, features)
    return value, np.concatenate([gradient, scale / n * error.sum(-1, keepdims=True)], axis=-1)


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_data_objective_in_either_layout_matches_the_formula(xp: BackendCase, rng, loss):
    features, params = rng.normal(size=(3, 20, 4)), rng.normal(size=(3, 5))
    targets = (rng.random(size=(3, 20)) < 0.5).astype(float)
    options = SimpleNamespace(loss=loss, fit_intercept=True, l2=0.0)
    expected_loss, expected_gradient = _reference(features, targets, params, loss)
    given = [xp.asarray(array) for array in (features, targets, params)]
    held = DataObjective.of(given[0], given[1], xp=xp.xp)
    as_given = DataObjective(given[0], given[1])
    eager = xp.backend in ("numpy", "torch", "cupy", "dask", "array_api_strict")
    assert (held.features is None) == eager  # JAX compiles its loops: X as given
    for objective in (held, as_given):
        value, gradient = objective.loss_and_gradient(given[2], options, xp=xp.xp)
        assert_close(value, expected_loss, like=given[1][:, 0])
        assert_close(gradient, expected_gradient, like=given[2])
