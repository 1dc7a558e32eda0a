"""float16 and bfloat16: the tolerance table's half-precision rows, on every backend whose
capability record has the dtype (the others are skipped with that reason)."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special

import mlpillars as mp
from mlpillars.testing import BackendCase, assert_close, backend_cases


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "half" in metafunc.fixturenames:
        cases = backend_cases(dtypes=("float16", "bfloat16"))
        metafunc.parametrize(
            "half",
            [
                pytest.param(
                    case,
                    id=case.id,
                    marks=[pytest.mark.skip(reason=case.skip_reason)] if case.skip_reason else [],
                )
                for case in cases
            ],
        )


def test_softmax_family_in_half_precision(half: BackendCase, rng: np.random.Generator):
    logits = half.asarray(rng.normal(scale=3.0, size=(4, 9)))
    host = half.to_numpy(logits)
    assert_close(mp.softmax(logits), scipy.special.softmax(host, axis=-1), like=logits)
    assert_close(mp.log_softmax(logits), scipy.special.log_softmax(host, axis=-1), like=logits)
    assert_close(mp.sigmoid(logits), scipy.special.expit(host), like=logits)


def test_huge_half_precision_logits_and_tiny_temperature_have_no_nan(half: BackendCase):
    logits = half.asarray(
        [[6e4, -6e4, 0.0], [-6e4, 1.0, 6e4]]
        if half.dtype_name == "float16"
        else [[3e38, -3e38, 0.0], [-3e38, 1.0, 3e38]]
    )
    for temperature in (1.0, 1e-6):
        assert_close(mp.softmax(logits, temperature=temperature), [[1, 0, 0], [0, 0, 1]])


def test_linear_with_exact_gelu_in_half_precision(half: BackendCase, rng: np.random.Generator):
    x, weight = half.asarray(rng.normal(size=(5, 8))), half.asarray(rng.normal(size=(8, 3)) / 3)
    pre_activation = half.to_numpy(x) @ half.to_numpy(weight)
    expected = 0.5 * pre_activation * (1 + scipy.special.erf(pre_activation / math.sqrt(2)))
    assert_close(mp.linear(x, weight, activation="gelu"), expected, like=x)


@pytest.mark.parametrize("mse_method", ["statistics", "data"])
def test_gradient_descent_in_half_precision(half: BackendCase, rng, mse_method):
    """NumPy's (and Dask's) float16 fit raised TypeError from numpy.linalg ("float16 is
    unsupported in linalg"): the minimiser solved before the loop is solved in float32."""
    X = half.asarray(rng.normal(size=(16, 2)))
    y = half.asarray(rng.normal(size=16))
    fitted = mp.gradient_descent(X, y, lr=0.1, steps=20, mse_method=mse_method)
    on_float64 = mp.gradient_descent(
        half.to_numpy(X).astype(np.float64), half.to_numpy(y).astype(np.float64), lr=0.1, steps=20
    )
    assert_close(fitted.weights, on_float64.weights, like=X)
    assert_close(fitted.loss_history, on_float64.loss_history, like=X)


@pytest.mark.parametrize("mse_method", ["statistics", "data"])
def test_gradient_descent_on_features_whose_squares_pass_half_range(
    half: BackendCase, rng, mse_method
):
    """float16 features of 30 over 128 samples: their Gram sums squares to 1.2e5, past
    float16's 65504 (every loss was NaN, every problem flagged diverged). Half precision
    is fitted in float32, its results cast back."""
    X = half.asarray(30 * rng.normal(size=(3, 128, 2)))
    y = half.asarray(rng.normal(size=(3, 128)))
    fitted = mp.gradient_descent(X, y, lr=1e-4, steps=20, mse_method=mse_method)
    host = [half.to_numpy(array).astype(np.float64) for array in (X, y)]
    on_float64 = mp.gradient_descent(*host, lr=1e-4, steps=20, mse_method="data")
    assert not np.any(half.to_numpy(fitted.diverged))
    assert_close(fitted.weights, on_float64.weights, like=X)
    assert_close(fitted.loss_history, on_float64.loss_history, like=X)


def test_cross_entropy_in_half_precision(half: BackendCase, rng: np.random.Generator):
    logits = half.asarray(rng.normal(size=(6, 4)))
    labels = half.asarray(np.array([0, 3, 1, 2, 2, 0]), dtype=None)
    log_probs = scipy.special.log_softmax(half.to_numpy(logits), axis=-1)
    expected = -log_probs[np.arange(6), [0, 3, 1, 2, 2, 0]].mean()
    assert_close(mp.cross_entropy(logits, labels), expected, like=logits)


@pytest.mark.filterwarnings("ignore:overflow encountered in cast:RuntimeWarning")  # "none"
@pytest.mark.parametrize("reduction", ["mean", "none"])
def test_cross_entropy_mean_over_a_loss_past_half_range(half: BackendCase, reduction):
    # logits [0.9 max, -0.9 max] with the label 1: the loss, 1.8 max, is past the dtype's
    # range (bfloat16: float32's too, where it is computed), the mean of four samples,
    # 0.675 max, is not; the mean was inf in bfloat16 (torch's F.cross_entropy too)
    largest = _LARGEST[half.dtype_name]
    huge = 0.9 * largest
    logits = half.asarray([[huge, -huge], [1.0, 2.0], [0.0, -huge], [3.0, 0.0]])
    labels = half.asarray(np.array([1, 0, 1, 1]), dtype=None)
    host = half.to_numpy(logits).astype(np.float64)
    losses = scipy.special.logsumexp(host, axis=-1) - host[np.arange(4), [1, 0, 1, 1]]
    expected = losses.mean() if reduction == "mean" else np.where(losses > largest, np.inf, losses)
    assert_close(mp.cross_entropy(logits, labels, reduction=reduction), expected, like=logits)


_LARGEST = {"float16": 65504.0, "bfloat16": (2 - 2**-7) * 2.0**127}
"""Each half dtype's largest finite value (NumPy has no bfloat16)."""


@pytest.mark.parametrize("path", [{}, {"block_size": 2}, {"return_weights": True}])
def test_attention_scores_beyond_half_range_are_computed_in_float32(
    half: BackendCase, rng: np.random.Generator, path: dict
):
    # q . k reaches about 1e6: beyond float16's 65504, so scores held in float16 overflow
    q, k = (half.asarray(rng.normal(scale=300.0, size=(2, 6, 8))) for _ in range(2))
    v = half.asarray(rng.normal(size=(2, 6, 8)))
    expected = mp.scaled_dot_product_attention(
        *(half.to_numpy(array) for array in (q, k, v)), **path
    )
    result = mp.scaled_dot_product_attention(q, k, v, **path)
    if path.get("return_weights"):
        assert_close(result[1], expected[1], like=q)
        result, expected = result[0], expected[0]
    assert_close(result, expected, like=q)


def test_r_squared_of_a_constant_target_sees_a_one_ulp_miss(half: BackendCase):
    # R^2 of a constant y_true is 1 only for an exact prediction. A miss of one ulp (float16
    # in [1/8, 1/4): 2**-13) squares to below the smallest subnormal: it must still count.
    target = half.asarray([0.15625, 0.15625])
    ulp = float(half.xp.finfo(target.dtype).eps) / 8  # the spacing in [1/8, 1/4)
    missed = half.asarray([0.15625, 0.15625 + ulp])
    assert half.to_numpy(missed)[1] - half.to_numpy(target)[1] == ulp  # held exactly
    assert_close(mp.r_squared(target, missed), 0.0, like=target)
    assert_close(mp.r_squared(target, target), 1.0, like=target)


def test_r_squared_of_errors_whose_squares_overflow(half: BackendCase):
    # Errors of about 300 against a spread of about 1: each squared error is beyond
    # float16's 65504, while SS_res / SS_tot (about 5.1e4 here) is not. bfloat16 holds the
    # squares; its row checks the same rule at its own precision.
    target = half.asarray([0.125, -0.125, 0.625, 0.125, -0.5])
    prediction = half.asarray([34.5, 82.0, 33.0, -130.0, 90.5])
    y_true, y_pred = half.to_numpy(target), half.to_numpy(prediction)
    expected = 1 - np.sum((y_true - y_pred) ** 2) / np.sum((y_true - y_true.mean()) ** 2)
    assert -65504 < expected < -1e4
    assert_close(mp.r_squared(target, prediction), expected, like=target)
    assert_close(mp.r_squared(target[None, :], prediction[None, :]), [expected], like=target)


def test_normalize_and_cosine_of_long_or_tiny_half_precision_vectors(half: BackendCase):
    # 70,000 entries: the sum of squares of the scaled vector passed float16's 65504 (zeros
    # on every backend); entries of 3e-5 and 6e-5 are float16 subnormals (NaN on JAX)
    ones = half.asarray(np.ones((1, 70_000)))
    assert_close(mp.normalize(ones), np.full((1, 70_000), 70_000**-0.5), like=ones)
    assert_close(mp.cosine_similarity(ones, ones), [[1.0]], like=ones)
    tiny = half.asarray([[3e-5, 6e-5], [6e-5, 3e-5]])
    host = half.to_numpy(tiny).astype(np.float64)
    unit = host / np.linalg.norm(host, axis=1, keepdims=True)
    assert_close(mp.normalize(tiny), unit, like=tiny)
    assert_close(mp.cosine_similarity(tiny, tiny), unit @ unit.T, like=tiny)


def test_r_squared_of_tiny_half_precision_values(half: BackendCase):
    # values of about 1e-5: float16 subnormals, whose scaled sums JAX gave as NaN
    rng = np.random.default_rng(9)
    y_true = half.asarray(1e-5 * rng.normal(size=8))
    y_pred = half.asarray(half.to_numpy(y_true).astype(np.float64) * 1.1)
    truth, prediction = (half.to_numpy(a).astype(np.float64) for a in (y_true, y_pred))
    expected = 1 - np.sum((truth - prediction) ** 2) / np.sum((truth - truth.mean()) ** 2)
    assert_close(mp.r_squared(y_true, y_pred), expected, like=y_true)
