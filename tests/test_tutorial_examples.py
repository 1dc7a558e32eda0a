"""The tutorial's worked examples (shared/seed), with expected values computed here in pure
Python: several of the tutorial's printed numbers are wrong, so none is copied."""

from __future__ import annotations

import math

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.testing import BackendCase, assert_close

TUTORIAL_LOGITS = [2.0, 1.0, 0.1]


def python_softmax(logits: list[float], temperature: float = 1.0) -> list[float]:
    exps = [math.exp((value - max(logits)) / temperature) for value in logits]
    return [value / sum(exps) for value in exps]


def test_softmax_of_the_tutorial_logits(xp: BackendCase):
    logits = xp.asarray(TUTORIAL_LOGITS)
    probabilities = mp.softmax(logits)
    assert_close(probabilities, python_softmax(TUTORIAL_LOGITS), like=logits)
    # the rounded values the issue quotes, which these are
    np.testing.assert_array_equal(np.round(xp.to_numpy(probabilities), 3), [0.659, 0.242, 0.099])


@pytest.mark.parametrize("temperature", [0.1, 0.5, 1.0, 2.0, 5.0])
def test_the_tutorial_temperature_loop(xp: BackendCase, temperature: float):
    logits = xp.asarray(TUTORIAL_LOGITS)
    probabilities = mp.softmax(logits, temperature=temperature)
    assert_close(probabilities, python_softmax(TUTORIAL_LOGITS, temperature), like=logits)


def test_temperature_sharpens_and_flattens():
    max_probabilities = [
        float(np.max(mp.softmax(TUTORIAL_LOGITS, temperature=t))) for t in (0.1, 0.5, 1, 2, 5)
    ]
    assert max_probabilities == sorted(max_probabilities, reverse=True)
    assert max_probabilities[0] > 0.9999 and max_probabilities[-1] < 0.45


def test_the_tutorial_layer_5x3_times_3x2(xp: BackendCase):
    customers = [
        [35, 75000, 24],
        [28, 52000, 12],
        [42, 98000, 36],
        [31, 61000, 18],
        [55, 120000, 48],
    ]
    tutorial_random = np.random.RandomState(42)  # the tutorial: np.random.seed(42); randn
    weights = tutorial_random.randn(3, 2)
    bias = [0.5, -0.3]
    expected = [
        [sum(row[i] * weights[i, j] for i in range(3)) + bias[j] for j in range(2)]
        for row in customers
    ]
    # float32 cannot hold these incomes to 1e-4 relative after cancellation: compare on float64
    if xp.dtype_name == "float32":
        pytest.skip("the tutorial's data mixes 1e5 incomes with ages; float64 example only")
    data, w, b = xp.asarray(np.array(customers, float)), xp.asarray(weights), xp.asarray(bias)
    output = mp.linear(data, w, b)
    assert tuple(output.shape) == (5, 2)
    assert_close(output, expected, like=data)


def test_the_tutorial_layer_keeps_integer_data_working():
    customers = np.array([[35, 75000, 24], [28, 52000, 12]])
    weights = np.random.default_rng(0).normal(size=(3, 2))
    expected = customers.astype(float) @ weights
    np.testing.assert_allclose(mp.linear(customers, weights), expected, rtol=1e-12)


def test_the_tutorial_cosine_similarity(xp: BackendCase):
    user, item = [0.2, 0.8, 0.1], [0.3, 0.7, 0.2]
    dot = sum(u * i for u, i in zip(user, item, strict=True))
    expected = dot / (math.sqrt(sum(u * u for u in user)) * math.sqrt(sum(i * i for i in item)))
    user_array = xp.asarray(user)
    assert_close(mp.cosine_similarity(user_array, xp.asarray(item)), expected, like=user_array)


@pytest.mark.parametrize(
    "predicted",
    [[0.9, 0.05, 0.05], [0.1, 0.6, 0.3], [0.4, 0.3, 0.3]],
    ids=["good", "bad", "unsure"],
)
def test_the_tutorial_cross_entropies(xp: BackendCase, predicted: list[float]):
    # The tutorial passes probabilities; our cross_entropy takes logits, and
    # log_softmax(log p) = log p when p sums to one, so logits = log p reproduces it.
    logits = xp.asarray([math.log(p) for p in predicted])
    true_class_one_hot = xp.asarray([1.0, 0.0, 0.0])
    true_class_label = xp.asarray(np.array(0), dtype=None)
    expected = -math.log(predicted[0])
    assert_close(mp.cross_entropy(logits, true_class_one_hot), expected, like=logits)
    assert_close(mp.cross_entropy(logits, true_class_label), expected, like=logits)
