"""linear, mlp, normalize, cosine_similarity on every backend/device/dtype."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import scipy.special

import mlpillars as mp
from mlpillars.testing import BackendCase, assert_close

NUMPY_ACTIVATIONS = {
    None: lambda z: z,
    "relu": lambda z: np.maximum(z, 0.0),
    "gelu": lambda z: 0.5 * z * (1.0 + scipy.special.erf(z / math.sqrt(2.0))),
    "gelu_tanh": lambda z: 0.5 * z * (1 + np.tanh(math.sqrt(2 / math.pi) * (z + 0.044715 * z**3))),
    "sigmoid": scipy.special.expit,
    "tanh": np.tanh,
}


@pytest.mark.parametrize("activation", list(NUMPY_ACTIVATIONS))
def test_linear_matches_numpy(xp: BackendCase, rng: np.random.Generator, activation):
    x, weight, bias = (xp.asarray(rng.normal(size=shape)) for shape in [(6, 5), (5, 3), (3,)])
    pre_activation = xp.to_numpy(x) @ xp.to_numpy(weight) + xp.to_numpy(bias)
    expected = NUMPY_ACTIVATIONS[activation](pre_activation)
    assert_close(mp.linear(x, weight, bias, activation=activation), expected, like=x)


def test_linear_without_bias_on_batched_and_single_inputs(xp: BackendCase, rng):
    weight = xp.asarray(rng.normal(size=(4, 2)))
    for shape in [(4,), (2, 3, 4)]:
        x = xp.asarray(rng.normal(size=shape))
        assert_close(mp.linear(x, weight), xp.to_numpy(x) @ xp.to_numpy(weight), like=x)


def test_mlp_matches_numpy(xp: BackendCase, rng: np.random.Generator):
    sizes = [7, 16, 8, 3]
    weights = [xp.asarray(rng.normal(size=pair) / 3) for pair in itertools.pairwise(sizes)]
    biases = [xp.asarray(rng.normal(size=n)) for n in sizes[1:]]
    x = xp.asarray(rng.normal(size=(5, 7)))
    hidden = xp.to_numpy(x)
    for layer, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        hidden = hidden @ xp.to_numpy(weight) + xp.to_numpy(bias)
        hidden = np.tanh(hidden) if layer < 2 else scipy.special.expit(hidden)
    result = mp.mlp(x, weights, biases, activation="tanh", output_activation="sigmoid")
    assert_close(result, hidden, like=x)


def test_mlp_without_biases_uses_relu_between_layers(xp: BackendCase, rng):
    weights = [xp.asarray(rng.normal(size=pair)) for pair in [(4, 6), (6, 2)]]
    x = xp.asarray(rng.normal(size=(3, 4)))
    hidden = np.maximum(xp.to_numpy(x) @ xp.to_numpy(weights[0]), 0.0)
    assert_close(mp.mlp(x, weights), hidden @ xp.to_numpy(weights[1]), like=x)


def test_normalize_matches_numpy_and_keeps_zero_vectors(xp: BackendCase, rng):
    values = rng.normal(size=(4, 5))
    values[2] = 0.0
    x = xp.asarray(values)
    host = xp.to_numpy(x)
    norms = np.linalg.norm(host, axis=0, keepdims=True)
    assert_close(mp.normalize(x, axis=0), host / norms, like=x)
    row_norms = np.linalg.norm(host, axis=1, keepdims=True)
    expected_rows = np.divide(host, row_norms, out=np.zeros_like(host), where=row_norms > 0)
    assert_close(mp.normalize(x), expected_rows, like=x)


def test_normalize_does_not_overflow(xp: BackendCase):
    x = xp.asarray([[3e30, 4e30], [3e-30, 4e-30]])
    assert_close(mp.normalize(x), [[0.6, 0.8], [0.6, 0.8]], like=x)


def test_normalize_and_cosine_near_the_largest_float(xp: BackendCase):
    # 1 / 9e37 is subnormal in float32: a compiler that divides by multiplying with the
    # reciprocal and flushes subnormals (XLA on CPU) gave zeros here.
    largest = float(np.finfo(xp.dtype_name).max)
    x = xp.asarray([[0.9 * largest, 0.6 * largest, 0.0], [0.3 * largest, -0.3 * largest, 1.0]])
    expected = np.array([[0.9, 0.6, 0.0], [0.3, -0.3, 0.0]])
    expected /= np.linalg.norm(expected, axis=1, keepdims=True)
    assert_close(mp.normalize(x), expected, like=x)
    assert_close(mp.cosine_similarity(x, x), expected @ expected.T, like=x)


def test_cosine_similarity_matches_scipy(xp: BackendCase, rng: np.random.Generator):
    from scipy.spatial.distance import cdist

    a, b = xp.asarray(rng.normal(size=(5, 8))), xp.asarray(rng.normal(size=(3, 8)))
    expected = 1.0 - cdist(xp.to_numpy(a), xp.to_numpy(b), metric="cosine")
    assert_close(mp.cosine_similarity(a, b), expected, like=a)


def test_cosine_similarity_of_zero_vectors_is_zero_and_shapes_follow_inputs(xp: BackendCase):
    a = xp.asarray([[0.0, 0.0, 0.0], [1.0, 2.0, 2.0]])
    b = xp.asarray([1.0, 0.0, 0.0])
    assert_close(mp.cosine_similarity(a, b), [0.0, 1.0 / 3.0], like=a)
    assert_close(mp.cosine_similarity(b, a), [0.0, 1.0 / 3.0], like=a)
    assert_close(mp.cosine_similarity(b, b), 1.0, like=a)
    assert_close(mp.cosine_similarity(a, a), [[0.0, 0.0], [0.0, 1.0]], like=a)


def test_linear_matches_torch_functional_linear():
    torch = pytest.importorskip("torch")
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(8, 5, generator=generator)
    weight = torch.randn(5, 4, generator=generator)
    bias = torch.randn(4, generator=generator)
    expected = torch.nn.functional.gelu(torch.nn.functional.linear(x, weight.T, bias))
    assert_close(mp.linear(x, weight, bias, activation="gelu"), expected.numpy(), like=x)
    expected_tanh = torch.nn.functional.gelu(x @ weight, approximate="tanh")
    assert_close(mp.linear(x, weight, activation="gelu_tanh"), expected_tanh.numpy(), like=x)


def test_cosine_similarity_matches_torch():
    torch = pytest.importorskip("torch")
    a = torch.randn(6, 16, dtype=torch.float64)
    b = torch.randn(4, 16, dtype=torch.float64)
    expected = torch.nn.functional.cosine_similarity(a[:, None, :], b[None, :, :], dim=-1)
    assert_close(mp.cosine_similarity(a, b), expected.numpy(), like=a)


def test_normalize_of_a_scalar_names_the_valid_ranks_briefly(xp: BackendCase):
    # the message once listed all 32 ranks: "x must be 1-D or 2-D or ... or 32-D"
    message = r"^normalize: x must be 1-D to 32-D, got 0-D \(x: \(\)\)$"
    with pytest.raises(ValueError, match=message):
        mp.normalize(xp.asarray(np.array(3.0)))


def test_integer_inputs_become_the_namespace_default_float():
    result = mp.linear(np.array([[1, 2]]), np.array([[1], [1]]))
    assert result.dtype == np.float64
    np.testing.assert_array_equal(result, [[3.0]])


class TestShapeErrors:
    def test_linear_feature_mismatch_names_both_shapes(self):
        message = (
            r"linear: x has 784 features but weight expects 128 "
            r"\(x: \(32, 784\), weight: \(128, 10\)\)"
        )
        with pytest.raises(ValueError, match=message):
            mp.linear(np.zeros((32, 784)), np.zeros((128, 10)))

    def test_linear_bias_and_weight_rank(self):
        with pytest.raises(ValueError, match=r"bias must have shape \(10,\).*bias: \(5,\)"):
            mp.linear(np.zeros((2, 3)), np.zeros((3, 10)), np.zeros(5))
        with pytest.raises(ValueError, match=r"linear: weight must be 2-D, got 1-D"):
            mp.linear(np.zeros((2, 3)), np.zeros(3))

    def test_unknown_activation_lists_valid(self):
        with pytest.raises(ValueError, match=r"unknown activation 'swish'.*'relu', 'gelu'"):
            mp.linear(np.zeros((2, 3)), np.zeros((3, 1)), activation="swish")

    def test_mlp_names_the_layer(self):
        weights = [np.zeros((4, 8)), np.zeros((6, 2))]
        with pytest.raises(
            ValueError,
            match=r"mlp: layer 0 output has 8 features but weights\[1\] expects 6 "
            r"\(layer 0 output: \(3, 8\), weights\[1\]: \(6, 2\)\)",
        ):
            mp.mlp(np.zeros((3, 4)), weights)

    def test_mlp_counts(self):
        with pytest.raises(ValueError, match=r"mlp: got 2 weight matrices but 1 biases"):
            mp.mlp(np.zeros((3, 4)), [np.zeros((4, 8)), np.zeros((8, 2))], [np.zeros(8)])
        with pytest.raises(ValueError, match=r"mlp: weights is empty"):
            mp.mlp(np.zeros((3, 4)), [])

    def test_cosine_similarity_feature_mismatch(self):
        with pytest.raises(ValueError, match=r"a has 3 features but b has 4 .*\(a: \(2, 3\)"):
            mp.cosine_similarity(np.zeros((2, 3)), np.zeros((5, 4)))
        with pytest.raises(ValueError, match=r"cosine_similarity: a must be 1-D or 2-D, got 3-D"):
            mp.cosine_similarity(np.zeros((2, 3, 4)), np.zeros((5, 4)))
