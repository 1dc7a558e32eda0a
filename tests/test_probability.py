"""softmax, log_softmax, logsumexp, sigmoid, cross_entropy on every backend/device/dtype."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.special

import mlpillars as mp
from mlpillars.backends import values_at_hand
from mlpillars.testing import BackendCase, assert_close


@pytest.mark.parametrize("axis", [-1, 0])
@pytest.mark.parametrize("temperature", [1.0, 0.5, 3.0])
def test_softmax_matches_scipy(xp: BackendCase, rng: np.random.Generator, axis, temperature):
    logits = xp.asarray(rng.normal(scale=3.0, size=(5, 7)))
    expected = scipy.special.softmax(xp.to_numpy(logits) / temperature, axis=axis)
    result = mp.softmax(logits, axis, temperature=temperature)
    assert_close(result, expected, like=logits)


@pytest.mark.parametrize("temperature", [1.0, 0.25])
def test_log_softmax_matches_scipy(xp: BackendCase, rng: np.random.Generator, temperature):
    logits = xp.asarray(rng.normal(scale=2.0, size=(3, 4, 6)))
    expected = scipy.special.log_softmax(xp.to_numpy(logits) / temperature, axis=-1)
    assert_close(mp.log_softmax(logits, temperature=temperature), expected, like=logits)


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize("axis", [-1, 1])
def test_logsumexp_matches_scipy(xp: BackendCase, rng: np.random.Generator, keepdims, axis):
    x = xp.asarray(rng.normal(scale=5.0, size=(4, 3, 5)))
    expected = scipy.special.logsumexp(xp.to_numpy(x), axis=axis, keepdims=keepdims)
    assert_close(mp.logsumexp(x, axis, keepdims=keepdims), expected, like=x)


SEVERAL_AXES = [None, (0, 2), (2, 0), (-1, 1), (0, 1, 2), (1,), ()]


@pytest.mark.parametrize("axis", SEVERAL_AXES, ids=str)
def test_the_softmax_family_over_several_axes_matches_scipy(
    xp: BackendCase, rng: np.random.Generator, axis
):
    """axis=None (every axis) and tuples of axes, as SciPy and JAX take them."""
    x = xp.asarray(rng.normal(scale=3.0, size=(3, 4, 5)))
    host = xp.to_numpy(x)
    if axis == ():  # SciPy's softmax refuses an empty tuple; each entry is its own slice
        expected_softmax, expected_log = np.ones_like(host), np.zeros_like(host)
    else:
        expected_softmax = scipy.special.softmax(host / 0.5, axis=axis)
        expected_log = scipy.special.log_softmax(host, axis=axis)
    assert_close(mp.softmax(x, axis, temperature=0.5), expected_softmax, like=x)
    assert_close(mp.log_softmax(x, axis), expected_log, like=x)
    for keepdims in (False, True):
        expected = scipy.special.logsumexp(host, axis=axis, keepdims=keepdims)
        assert_close(mp.logsumexp(x, axis, keepdims=keepdims), expected, like=x)


def test_the_softmax_family_over_every_axis_of_0d_and_empty_arrays(xp: BackendCase):
    scalar, empty = xp.asarray(3.0), xp.asarray(np.ones((2, 0)))
    assert_close(mp.softmax(scalar, axis=None), np.asarray(1.0), like=scalar)
    assert_close(mp.logsumexp(scalar, axis=None), np.asarray(3.0), like=scalar)
    assert_close(mp.log_softmax(empty, axis=None), np.ones((2, 0)), like=empty)
    assert_close(mp.logsumexp(empty, axis=None), np.asarray(-np.inf), like=empty)


@pytest.mark.parametrize(
    ("axis", "error", "message"),
    [
        ((0, 0), ValueError, r"axis \(0, 0\) names an axis twice"),
        ((0, -3), ValueError, r"axis \(0, -3\) names an axis twice"),
        ((0, 3), ValueError, "axis 3 is out of range"),
        ((0.5,), TypeError, "axis must be an integer, a tuple of integers or None"),
        ("rows", TypeError, "axis must be an integer, got str"),
        (1.0, TypeError, "axis must be an integer, got float"),
    ],
)
def test_a_bad_axis_names_the_kernel(axis, error, message):
    x = np.ones((2, 3, 4))
    for kernel in (mp.softmax, mp.log_softmax, mp.logsumexp):
        with pytest.raises(error, match=f"^{kernel.__name__}: {message}"):
            kernel(x, axis)
    with pytest.raises(TypeError, match=r"^cross_entropy: axis must be an integer, got NoneType"):
        mp.cross_entropy(np.ones((2, 3)), np.zeros(2, dtype=np.int64), axis=None)


def test_logsumexp_keeps_the_digits_of_a_sum_close_to_one(xp: BackendCase):
    x = xp.asarray([[0.0, -40.0], [3.0, 3.0], [-1e-3, -50.0]])
    expected = [np.log1p(np.exp(-40.0)), 3.0 + np.log(2.0), -1e-3 + np.log1p(np.exp(-49.999))]
    result = mp.logsumexp(x)
    assert_close(result, expected, like=x)
    if xp.dtype_name == "float64":  # the absolute tolerance would pass 0.0 for 4.25e-18
        assert xp.to_numpy(result)[0] == pytest.approx(4.248354255291589e-18, rel=1e-12)


def test_logsumexp_of_infinite_or_nan_slices(xp: BackendCase):
    x = xp.asarray([[np.inf, 0.0], [np.nan, 1.0], [-np.inf, -np.inf]])
    assert_close(mp.logsumexp(x), [np.inf, np.nan, -np.inf], like=x)


def test_logsumexp_of_all_minus_infinity_is_minus_infinity(xp: BackendCase):
    x = xp.asarray([[-np.inf, -np.inf], [0.0, 0.0]])
    assert_close(mp.logsumexp(x), [-np.inf, np.log(2.0)], like=x)


def test_sigmoid_matches_scipy_expit_and_is_stable(xp: BackendCase):
    values = np.array([-1e4, -800.0, -50.0, -2.0, -1.0, 0.0, 1.0, 2.0, 50.0, 800.0, 1e4])
    x = xp.asarray(values)
    assert_close(mp.sigmoid(x), scipy.special.expit(xp.to_numpy(x)), like=x)


def test_softmax_of_huge_logits_and_tiny_temperature_has_no_nan(xp: BackendCase):
    logits = xp.asarray([[1e4, -1e4, 0.0], [-1e4, -1e4 + 1.0, 1e4 - 1.0]])
    for temperature in (1.0, 1e-3, 1e-6):
        probabilities = mp.softmax(logits, temperature=temperature)
        log_probabilities = mp.log_softmax(logits, temperature=temperature)
        assert np.all(np.isfinite(xp.to_numpy(probabilities)))
        assert not np.any(np.isnan(xp.to_numpy(log_probabilities)))
        assert_close(probabilities, [[1.0, 0.0, 0.0], [0.0, 0.0, 1.0]], like=logits)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")
def test_temperatures_below_the_dtypes_normal_numbers_give_the_limit_not_nan(xp: BackendCase):
    """T rounded to 0 in the dtype (float32 logits at 1e-46: 0 / 0 = NaN in every slice),
    or held as a subnormal, which JAX's CPU flushes to 0 (1e-40 in float32, 1e-310 in
    float64): all-NaN results on every backend or on JAX. Reference: float64 (and for
    float64 logits exact IEEE division by the subnormal T, as NumPy computes it)."""
    smallest_normal = float(np.finfo(xp.dtype_name).smallest_normal)
    temperatures = [t for t in (1e-40, 1e-46, 1e-80, 1e-300, 1e-310) if t < smallest_normal]
    host = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, -1.0], [0.0, 1e-30, -5.0]])
    logits = xp.asarray(host)
    rounded = xp.to_numpy(logits).astype(np.float64)  # the dtype's logits, exactly
    for temperature in temperatures:
        with np.errstate(over="ignore"):
            scaled = (rounded - rounded.max(axis=-1, keepdims=True)) / temperature
        expected_log = scaled - np.log(np.exp(scaled).sum(axis=-1, keepdims=True))
        assert_close(mp.softmax(logits, temperature=temperature), np.exp(expected_log), like=logits)
        log_probabilities = xp.to_numpy(mp.log_softmax(logits, temperature=temperature))
        stored = "float32" if xp.dtype_name == "bfloat16" else xp.dtype_name  # its range
        with np.errstate(over="ignore"):
            expected = expected_log.astype(stored).astype(np.float64)  # -inf past the range
        assert not np.isnan(log_probabilities).any(), temperature
        np.testing.assert_array_equal(np.isinf(log_probabilities), np.isinf(expected))
        finite = np.isfinite(expected)
        np.testing.assert_allclose(log_probabilities[finite], expected[finite], rtol=1e-3)


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_with_labels(xp: BackendCase, rng: np.random.Generator, reduction):
    logits = xp.asarray(rng.normal(size=(6, 5)))
    labels_host = np.array([0, 4, 2, 2, 1, 3])
    labels = xp.asarray(labels_host, dtype=None)
    log_probs = scipy.special.log_softmax(xp.to_numpy(logits), axis=-1)
    losses = -log_probs[np.arange(6), labels_host]
    expected = {"mean": losses.mean(), "sum": losses.sum(), "none": losses}[reduction]
    assert_close(mp.cross_entropy(logits, labels, reduction=reduction), expected, like=logits)


@pytest.mark.parametrize("dtype_name", ["uint16", "uint32", "uint64"])
def test_cross_entropy_with_torchs_wide_unsigned_labels(rng, dtype_name):
    # torch has no aminmax for these: the labels' range check raised NotImplementedError
    torch = pytest.importorskip("torch")
    logits = torch.asarray(rng.normal(size=(5, 4)))
    labels = torch.tensor([0, 1, 2, 3, 1])
    expected = -scipy.special.log_softmax(logits.numpy(), axis=-1)[np.arange(5), labels.numpy()]
    unsigned = labels.to(getattr(torch, dtype_name))
    assert_close(mp.cross_entropy(logits, unsigned, reduction="none"), expected, like=logits)
    with pytest.raises(ValueError, match=r"cross_entropy: .*label"):
        mp.cross_entropy(logits, torch.tensor([0, 4, 1, 1, 1]).to(unsigned.dtype))


def test_cross_entropy_with_probabilities_on_first_axis(xp: BackendCase, rng):
    logits = xp.asarray(rng.normal(size=(4, 3)))
    target_host = rng.dirichlet(np.ones(4), size=3).T  # classes on axis 0
    target = xp.asarray(target_host)
    log_probs = scipy.special.log_softmax(xp.to_numpy(logits), axis=0)
    expected = -(xp.to_numpy(target) * log_probs).sum(axis=0)
    result = mp.cross_entropy(logits, target, axis=0, reduction="none")
    assert_close(result, expected, like=logits)


@pytest.mark.parametrize("target_kind", ["labels", "probabilities"])
@pytest.mark.parametrize("reduction", ["mean", "sum"])
def test_cross_entropy_of_losses_near_the_largest_value(xp: BackendCase, target_kind, reduction):
    # float32 losses of 0.9 max and 0.5 max: their sum is past the range, and the mean
    # was inf (torch's F.cross_entropy gives inf too); their mean, 0.47 max, is not
    largest = float(np.finfo(xp.dtype_name).max)
    logits = xp.asarray([[0.0, -0.9 * largest], [0.0, -0.5 * largest], [1.0, 2.0]])
    labels_host = np.array([1, 1, 0])
    target = (
        xp.asarray(labels_host, dtype=None)
        if target_kind == "labels"
        else xp.asarray(np.eye(2)[labels_host])
    )
    losses = -scipy.special.log_softmax(xp.to_numpy(logits), axis=-1)[np.arange(3), labels_host]
    if reduction == "mean":
        expected = math.fsum(losses / 3)
    else:  # past the dtype's range: inf, as the dtype rounds it
        with np.errstate(over="ignore"):
            expected = np.sum(losses).astype(xp.dtype_name)
    result = mp.cross_entropy(logits, target, reduction=reduction)
    assert_close(result, np.asarray(expected), like=logits)


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("target_kind", ["labels", "probabilities"])
def test_a_mean_read_from_losses_near_the_largest_value_warns_of_nothing(
    xp: BackendCase, target_kind
):
    # the plain mean (sum, then divide) overflowed, and NumPy warned of it, before the
    # mean of the halves gave the answer (0.47 max); where the values are not read
    # (Dask, a GPU) both are computed and one chosen, and Dask's computed sum still warns
    logits = xp.asarray([[0.0, -0.9 * float(np.finfo(xp.dtype_name).max)], [0.0, -1e3]] * 2)
    if not values_at_hand(logits):
        pytest.skip("both means are computed where the values are not read")
    labels_host = np.array([1, 1, 1, 1])
    target = (
        xp.asarray(labels_host, dtype=None)
        if target_kind == "labels"
        else xp.asarray(np.eye(2)[labels_host])
    )
    result = mp.cross_entropy(logits, target)
    expected = math.fsum(-scipy.special.log_softmax(xp.to_numpy(logits), axis=-1)[:, 1] / 4)
    assert_close(result, np.asarray(expected), like=logits)


def test_numpy_mean_of_losses_near_the_largest_value_warns_of_nothing():
    # NumPy's own cross-entropy summed the losses first: "overflow encountered in reduce"
    # for a mean it then computed right (3e38)
    logits = np.array([[0.0, -3e38]] * 3, dtype=np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = mp.cross_entropy(logits, np.array([1, 1, 1]))
    assert_close(result, np.float32(3e38), like=logits)


def _losses_past_the_range(largest: float) -> tuple[np.ndarray, np.ndarray]:
    """Logits (4, 2) and labels whose first loss, 1.8 ``largest``, is past the range, the
    others not (0.9 ``largest`` and two small): the mean is 0.675 ``largest``."""
    huge = 0.9 * largest
    return np.array([[huge, -huge], [1.0, 2.0], [0.0, -huge], [3.0, 0.0]]), np.array([1, 0, 1, 1])


def _reference_losses(logits: np.ndarray, labels: np.ndarray, reduction: str, largest: float):
    """float64: ``logsumexp(z) - z_label`` (each term within the range), the mean as the
    exact sum of its terms each divided by the count; beyond ``largest``: inf."""
    with np.errstate(over="ignore"):  # SciPy's gap z - max z: -inf, whose exp is 0
        log_totals = scipy.special.logsumexp(logits, axis=-1)
    picked = logits[np.arange(len(labels)), labels]
    if reduction == "mean":
        return np.asarray(math.fsum(np.concatenate([log_totals, -picked]) / len(labels)))
    with np.errstate(over="ignore"):
        losses = log_totals - picked
        reduced = losses if reduction == "none" else np.sum(losses)
    return np.where(np.abs(reduced) > largest, np.inf, reduced)


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # Dask's, computed
@pytest.mark.parametrize("target_kind", ["labels", "probabilities"])
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_cross_entropy_of_a_loss_itself_past_the_range(xp: BackendCase, target_kind, reduction):
    # float32 logits [0.9 max, -0.9 max] with the label 1: the loss, 1.8 max, is past the
    # range (inf in "none", and the sum inf), but the mean over four samples, 0.675 max,
    # is not: it was inf (torch's F.cross_entropy gives inf too)
    largest = float(np.finfo(xp.dtype_name).max)
    logits_host, labels_host = _losses_past_the_range(largest)
    logits = xp.asarray(logits_host)
    target = (
        xp.asarray(labels_host, dtype=None)
        if target_kind == "labels"
        else xp.asarray(np.eye(2)[labels_host])
    )
    host = xp.to_numpy(logits).astype(np.float64)
    expected = _reference_losses(host, labels_host, reduction, largest)
    with np.errstate(over="ignore"):  # NumPy warns of a loss past the range in "none", "sum"
        result = mp.cross_entropy(logits, target, reduction=reduction)
    assert_close(result, expected, like=logits)


def test_numpy_mean_over_a_loss_past_the_range_warns_of_nothing():
    largest = float(np.finfo(np.float32).max)
    logits, labels = _losses_past_the_range(largest)
    logits = logits.astype(np.float32)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        result = mp.cross_entropy(logits, labels)
    expected = _reference_losses(logits.astype(np.float64), labels, "mean", largest)
    assert_close(result, expected, like=logits)


@pytest.mark.filterwarnings("error")  # NumPy warned of the discarded log-probabilities
@pytest.mark.parametrize("reduction", ["none", "mean"])
def test_cross_entropy_of_probabilities_whose_log_probabilities_are_past_the_range(
    xp: BackendCase, reduction
):
    # logits [0.9 max, -0.9 max]: log_softmax is [0, -inf] in the dtype (the gap is 1.8 max),
    # so -sum t log p was inf for the target [0.9, 0.1] (the loss is 0.18 max) and NaN for
    # [1, 0] (0 * -inf; the loss is 0); torch's F.cross_entropy says the same
    huge = 0.9 * float(np.finfo(xp.dtype_name).max)
    logits_host = np.array([[huge, -huge], [huge, -huge], [-huge, huge], [1.0, 2.0]])
    target_host = np.array([[0.9, 0.1], [1.0, 0.0], [0.25, 0.75], [0.5, 0.5]])
    logits, target = xp.asarray(logits_host), xp.asarray(target_host)
    wide = xp.to_numpy(logits).astype(np.longdouble)  # the gap 1.8 max is finite here
    log_probs = wide - wide.max(axis=-1, keepdims=True)
    log_probs -= np.log(np.exp(log_probs).sum(axis=-1, keepdims=True))
    losses = -(xp.to_numpy(target) * log_probs).sum(axis=-1).astype(np.float64)
    expected = losses if reduction == "none" else math.fsum(losses / 4)
    result = mp.cross_entropy(logits, target, reduction=reduction)
    assert_close(result, np.asarray(expected), like=logits)


def test_cross_entropy_matches_torch():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    logits = torch.from_numpy(rng.normal(size=(8, 10)))
    labels = torch.from_numpy(rng.integers(0, 10, size=8))
    soft = torch.softmax(torch.from_numpy(rng.normal(size=(8, 10))), dim=-1)
    for target in (labels, soft):
        for reduction in ("mean", "sum", "none"):
            expected = torch.nn.functional.cross_entropy(logits, target, reduction=reduction)
            assert_close(mp.cross_entropy(logits, target, reduction=reduction), expected.numpy())


def test_softmax_family_matches_torch_float32():
    torch = pytest.importorskip("torch")
    logits = torch.from_numpy(np.random.default_rng(4).normal(size=(16, 33)).astype(np.float32))
    assert_close(mp.softmax(logits), torch.softmax(logits, -1).numpy(), like=logits)
    assert_close(mp.log_softmax(logits), torch.log_softmax(logits, -1).numpy(), like=logits)
    assert_close(mp.logsumexp(logits), torch.logsumexp(logits, -1).numpy(), like=logits)
    assert_close(mp.sigmoid(logits), torch.sigmoid(logits).numpy(), like=logits)


class TestErrors:
    @pytest.mark.parametrize("temperature", [0.0, -1.0, float("nan"), float("inf")])
    def test_temperature_must_be_positive_and_finite(self, temperature):
        with pytest.raises(ValueError, match=r"softmax: temperature must be a finite number > 0"):
            mp.softmax([1.0, 2.0], temperature=temperature)
        with pytest.raises(ValueError, match=r"log_softmax: temperature"):
            mp.log_softmax([1.0, 2.0], temperature=temperature)

    def test_axis_out_of_range_names_shape(self):
        with pytest.raises(ValueError, match=r"softmax: axis 2 is out of range .* \(2, 3\)"):
            mp.softmax(np.ones((2, 3)), axis=2)

    def test_unknown_reduction_lists_valid(self):
        with pytest.raises(ValueError, match=r"unknown reduction 'avg'.*'mean', 'sum', 'none'"):
            mp.cross_entropy(np.zeros((2, 3)), np.array([0, 1]), reduction="avg")

    def test_label_shape_and_range(self):
        with pytest.raises(ValueError, match=r"integer target must have .* \(2,\); got target"):
            mp.cross_entropy(np.zeros((2, 3)), np.array([0, 1, 2]))
        with pytest.raises(ValueError, match=r"class labels must lie in \[0, 3\).* 0 to 3"):
            mp.cross_entropy(np.zeros((2, 3)), np.array([0, 3]))

    def test_probability_target_shape(self):
        with pytest.raises(ValueError, match=r"probability target must have the logits' shape"):
            mp.cross_entropy(np.zeros((2, 3)), np.full((2, 4), 0.25))


def test_numpy_scalars_are_numbers(rng: np.random.Generator):
    logits = rng.normal(size=(3, 4))
    assert_close(
        mp.softmax(logits, temperature=np.float32(0.5)), mp.softmax(logits, temperature=0.5)
    )
    q, k, v = (rng.normal(size=(2, 5, 4)) for _ in range(3))
    expected = mp.scaled_dot_product_attention(q, k, v, scale=0.25, block_size=2)
    scaled = mp.scaled_dot_product_attention(
        q, k, v, scale=np.float64(0.25), block_size=np.int64(2)
    )
    assert_close(scaled, expected)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=20)
    assert_close(
        mp.gradient_descent(X, y, steps=np.int64(10)).weights,
        mp.gradient_descent(X, y, steps=10).weights,
    )
    with pytest.raises(TypeError, match="softmax: temperature must be a number, got bool"):
        mp.softmax(logits, temperature=np.bool_(True))
