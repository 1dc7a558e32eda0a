"""gradient_descent, least_squares and r_squared on every backend/device/dtype.

Expected values come from the plain float64 NumPy loops below, written as the tutorial's
loop (weights and bias kept apart, one problem at a time), never from the tutorial's
printed numbers (it claims lr=0.1 converges on its learning-rate experiment; it diverges).
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.special
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpillars.kernels.descent import GradientDescentResult, gradient_descent
from mlpillars.kernels.regression import least_squares, r_squared
from mlpillars.testing import BackendCase, assert_close
from mlpillars.tolerances import Tolerance

TUTORIAL_X = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
TUTORIAL_Y = np.array([2.1, 3.9, 6.2, 7.8, 10.1])
TUTORIAL_RATES = np.array([0.0001, 0.001, 0.01, 0.1, 1.0])
# Iterating compounds a step's round-off over the steps: looser than one kernel call.
LOOP_TOLERANCE = {"float64": Tolerance(rtol=1e-8, atol=1e-10), "float32": Tolerance(3e-4, 3e-5)}


# -- the reference: the tutorial's loop, one problem, float64 -------------------------------


def reference_loss(X, y, w, b, *, loss="mse", l2=0.0):
    z = X @ w + b
    if loss == "mse":
        data = np.mean((z - y) ** 2)
    else:
        data = np.mean(np.logaddexp(0.0, z) - y * z)
    return data + l2 * (w @ w)


def reference_gradient(X, y, w, b, *, loss="mse", l2=0.0):
    z = X @ w + b
    if loss == "mse":
        errors, scale = z - y, 2.0 / len(y)
    else:
        errors, scale = scipy.special.expit(z) - y, 1.0 / len(y)
    return scale * (X.T @ errors) + 2 * l2 * w, scale * np.sum(errors)


def reference_descent(
    X,
    y,
    *,
    loss="mse",
    lr=0.01,
    steps=100,
    optimizer="sgd",
    momentum=0.0,
    betas=(0.9, 0.999),
    eps=1e-8,
    fit_intercept=True,
    l2=0.0,
    warmup_steps=0,
    clip_norm=None,
):
    """(weights, bias, losses) of plain gradient descent on one problem, from zero."""
    X = np.asarray(X, dtype=np.float64)
    X = X[:, None] if X.ndim == 1 else X
    y = np.asarray(y, dtype=np.float64)
    w, b = np.zeros(X.shape[1]), 0.0
    velocity_w, velocity_b = np.zeros_like(w), 0.0  # sgd velocity, or adam's first moment
    square_w, square_b = np.zeros_like(w), 0.0
    losses = [reference_loss(X, y, w, b, loss=loss, l2=l2)]
    for step in range(steps):
        grad_w, grad_b = reference_gradient(X, y, w, b, loss=loss, l2=l2)
        grad_b = grad_b if fit_intercept else 0.0
        if clip_norm is not None:
            norm = np.sqrt(grad_w @ grad_w + grad_b**2)
            if norm > clip_norm:
                grad_w, grad_b = grad_w * clip_norm / norm, grad_b * clip_norm / norm
        rate = lr * min(1.0, (step + 1) / warmup_steps) if warmup_steps else lr
        if optimizer == "sgd":
            velocity_w = momentum * velocity_w + grad_w
            velocity_b = momentum * velocity_b + grad_b
            w, b = w - rate * velocity_w, b - rate * velocity_b
        else:
            beta1, beta2 = betas
            velocity_w = beta1 * velocity_w + (1 - beta1) * grad_w
            velocity_b = beta1 * velocity_b + (1 - beta1) * grad_b
            square_w = beta2 * square_w + (1 - beta2) * grad_w**2
            square_b = beta2 * square_b + (1 - beta2) * grad_b**2
            correction1, correction2 = 1 - beta1 ** (step + 1), 1 - beta2 ** (step + 1)
            w = w - rate * (velocity_w / correction1) / (np.sqrt(square_w / correction2) + eps)
            b = b - rate * (velocity_b / correction1) / (np.sqrt(square_b / correction2) + eps)
        losses.append(reference_loss(X, y, w, b, loss=loss, l2=l2))
    return w, b, np.array(losses)


def assert_loop_close(actual, expected, *, like, xp: BackendCase, err_msg=""):
    assert_close(
        actual, expected, like=like, tolerance=LOOP_TOLERANCE[xp.dtype_name], err_msg=err_msg
    )


def regression_data(rng, n=24, d=3, *, labels=False):
    X = rng.normal(size=(n, d))
    scores = X @ rng.normal(size=d) + 0.3
    if labels:  # overlapping classes: the unpenalised optimum is finite
        return X, (scores + rng.normal(scale=1.5, size=n) > 0).astype(np.float64)
    return X, scores + rng.normal(scale=0.5, size=n)


# -- the tutorial ---------------------------------------------------------------------------


def test_tutorial_learning_rate_sweep_is_one_batched_call(xp: BackendCase):
    X, y = xp.asarray(TUTORIAL_X), xp.asarray(TUTORIAL_Y)
    lr = xp.asarray(TUTORIAL_RATES)
    steps = 50  # the tutorial's
    result = gradient_descent(X, y, lr=lr, steps=steps, fit_intercept=False)

    assert xp.to_numpy(result.diverged).tolist() == [False, False, False, True, True]
    assert xp.to_numpy(result.converged).tolist() == [False] * 5
    weights, history = xp.to_numpy(result.weights), xp.to_numpy(result.loss_history)
    assert weights.shape == (5, 1) and history.shape == (steps + 1, 5)
    assert np.all(np.isfinite(weights)) and np.all(np.isfinite(history))
    host_X, host_y = xp.to_numpy(X), xp.to_numpy(y)
    for index, rate in enumerate(TUTORIAL_RATES[:3]):
        w, _, losses = reference_descent(host_X, host_y, lr=rate, steps=steps, fit_intercept=False)
        assert_loop_close(result.weights[index, ...], w, like=X, xp=xp)
        assert_loop_close(result.loss_history[:, index], losses, like=X, xp=xp)
    # lr = 0.1 and 1.0 exceed 2/L (L = 2 mean(x^2) = 22): the loss grows from step 1 and
    # the third rise in a row stops them, holding the finite weights of step 3.
    assert xp.to_numpy(result.steps_run).tolist() == [steps] * 3 + [3, 3]
    for index, rate in ((3, 0.1), (4, 1.0)):
        w, _, losses = reference_descent(host_X, host_y, lr=rate, steps=3, fit_intercept=False)
        assert np.all(np.diff(losses) > 0)
        assert_loop_close(result.weights[index, ...], w, like=X, xp=xp)
        assert_loop_close(
            result.loss_history[:, index], np.r_[losses, [losses[-1]] * (steps - 3)], like=X, xp=xp
        )
    assert_close(result.bias, np.zeros(5), like=X)


def tutorial_regression():
    """The tutorial's data: np.random.seed(42), X (100, 3), y = X @ w + 0.5 noise."""
    tutorial_random = np.random.RandomState(42)  # the np.random.seed(42) stream
    X = tutorial_random.randn(100, 3)
    return X, X @ np.array([2.5, -1.3, 0.8]) + tutorial_random.randn(100) * 0.5


def test_tutorial_linear_regression_closed_form_and_descent_agree(xp: BackendCase):
    X_host, y_host = tutorial_regression()
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    host_X, host_y = xp.to_numpy(X), xp.to_numpy(y)

    closed = least_squares(X, y)
    solution, *_ = np.linalg.lstsq(np.column_stack([host_X, np.ones(100)]), host_y, rcond=None)
    assert_close(closed.weights, solution[:3], like=X)
    assert_close(closed.bias, solution[3], like=X)

    # 2 / L = 0.73 for this data: lr = 0.5 converges in 20 steps (lr = 0.01: see below).
    descent = gradient_descent(X, y, lr=0.5, steps=20)
    gap = Tolerance(rtol=1e-4, atol=1e-4)
    assert_close(descent.weights, solution[:3], like=X, tolerance=gap)
    assert_close(descent.bias, solution[3], like=X, tolerance=gap)

    predictions = host_X @ solution[:3] + solution[3]
    expected_r2 = 1 - np.sum((host_y - predictions) ** 2) / np.sum((host_y - host_y.mean()) ** 2)
    assert_close(r_squared(y, X @ closed.weights + closed.bias), expected_r2, like=X)
    assert_close(
        r_squared(y, X @ descent.weights + descent.bias), expected_r2, like=X, tolerance=gap
    )
    assert 0.96 < expected_r2 < 0.98  # noise 0.5 against a signal of norm ~2.9


def test_tutorial_learning_rate_reaches_the_closed_form():
    # The tutorial's lr = 0.01: its 500 steps leave the weights ~4e-3 short, 800 reach 1e-4.
    X, y = tutorial_regression()
    closed = least_squares(X, y)
    tutorial = gradient_descent(X, y, lr=0.01, steps=500)
    longer = gradient_descent(X, y, lr=0.01, steps=800)
    assert 1e-3 < np.abs(tutorial.weights - closed.weights).max() < 1e-2
    np.testing.assert_allclose(longer.weights, closed.weights, atol=1e-4)
    np.testing.assert_allclose(longer.bias, closed.bias, atol=1e-4)


# -- every option against the reference loop ----------------------------------------------

# Rates are binary fractions: a Python float lr becomes an array of the namespace's default
# float (torch: float32) before it meets the data, exact only for such values.
CONFIGURATIONS = {
    "sgd": {"lr": 0.0625},
    "no-intercept": {"lr": 0.0625, "fit_intercept": False},
    "momentum": {"lr": 0.03125, "momentum": 0.75},
    "adam": {"lr": 0.0625, "optimizer": "adam"},
    "warmup": {"lr": 0.125, "warmup_steps": 3},
    "clip": {"lr": 0.125, "clip_norm": 0.5},
    "l2": {"lr": 0.0625, "l2": 0.25},
    "logistic": {"loss": "logistic", "lr": 0.5, "momentum": 0.5, "l2": 0.015625},
    "logistic-adam": {"loss": "logistic", "lr": 0.125, "optimizer": "adam", "clip_norm": 0.25},
}


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_matches_reference_loop(xp: BackendCase, name):
    options = CONFIGURATIONS[name]
    X_host, y_host = regression_data(
        np.random.default_rng(7), labels=options.get("loss") == "logistic"
    )
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    steps = 5  # past the warm-up's 3
    result = gradient_descent(X, y, steps=steps, **options)
    w, b, losses = reference_descent(xp.to_numpy(X), xp.to_numpy(y), steps=steps, **options)
    assert_loop_close(result.weights, w, like=X, xp=xp)
    assert_loop_close(result.bias, b, like=X, xp=xp)
    assert_loop_close(result.loss_history, losses, like=X, xp=xp)
    assert not bool(result.diverged) and int(result.steps_run) == steps
    if "clip_norm" in options:  # the clip is active: the unclipped run differs
        unclipped, *_ = reference_descent(
            xp.to_numpy(X), xp.to_numpy(y), steps=steps, **{**options, "clip_norm": None}
        )
        assert not np.allclose(unclipped, w, rtol=1e-3)


def test_batched_problems_and_shared_data(xp: BackendCase):
    rng = np.random.default_rng(11)
    X_host = rng.normal(size=(3, 15, 2))
    y_host = rng.normal(size=(3, 15))
    rates = np.array([0.01, 0.05, 0.1])
    X, y, lr = xp.asarray(X_host), xp.asarray(y_host), xp.asarray(rates)

    batched = gradient_descent(X, y, lr=lr, steps=6, momentum=0.3)
    shared_X = gradient_descent(X[0, ...], y, lr=lr, steps=6, momentum=0.3)  # X (n, d)
    shared_y = gradient_descent(X, y[0, ...], lr=0.0625, steps=6, momentum=0.25)  # y (n,)
    for index in range(3):
        host_X, host_y = xp.to_numpy(X[index, ...]), xp.to_numpy(y[index, ...])
        w, b, _ = reference_descent(host_X, host_y, lr=rates[index], steps=6, momentum=0.3)
        assert_loop_close(batched.weights[index, ...], w, like=X, xp=xp)
        assert_loop_close(batched.bias[index, ...], b, like=X, xp=xp)
        w, b, _ = reference_descent(
            xp.to_numpy(X[0, ...]), host_y, lr=rates[index], steps=6, momentum=0.3
        )
        assert_loop_close(shared_X.weights[index, ...], w, like=X, xp=xp)
        w, b, _ = reference_descent(
            host_X, xp.to_numpy(y[0, ...]), lr=0.0625, steps=6, momentum=0.25
        )
        assert_loop_close(shared_y.bias[index, ...], b, like=X, xp=xp)
    assert tuple(batched.loss_history.shape) == (7, 3)
    assert tuple(batched.steps_run.shape) == (3,)


def test_unbatched_shapes_and_one_dimensional_x(xp: BackendCase):
    X, y = xp.asarray(TUTORIAL_X), xp.asarray(TUTORIAL_Y)
    result = gradient_descent(X, y, lr=0.01, steps=3)
    assert isinstance(result, GradientDescentResult)
    with pytest.raises(AttributeError):
        result.weights = None  # type: ignore[misc]
    shapes = {name: tuple(field.shape) for name, field in result._asdict().items()}
    assert shapes == {
        "weights": (1,),
        "bias": (),
        "loss_history": (4,),
        "diverged": (),
        "converged": (),
        "steps_run": (),
    }
    column = gradient_descent(xp.asarray(TUTORIAL_X[:, None]), y, lr=0.01, steps=3)
    assert_close(result.weights, xp.to_numpy(column.weights), like=X)


def test_python_lists_and_integer_features_as_in_the_tutorial():
    result = gradient_descent([1, 2, 3, 4, 5], TUTORIAL_Y.tolist())  # lr=0.01, steps=100
    w, b, _ = reference_descent(TUTORIAL_X, TUTORIAL_Y, lr=0.01, steps=100)
    assert result.weights.dtype == np.float64
    np.testing.assert_allclose(result.weights, w, rtol=1e-12)
    np.testing.assert_allclose(result.bias, b, rtol=1e-12)


# -- divergence and convergence -------------------------------------------------------------


@pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")
def test_overflowing_step_keeps_the_last_finite_weights(xp: BackendCase):
    X, y = xp.asarray(TUTORIAL_X), xp.asarray(TUTORIAL_Y)
    # The second problem's first step overflows the loss: weights ~4e31 (float32) or
    # ~4e201 (float64), squared.
    lr = xp.asarray([0.01, 1e30 if xp.dtype_name == "float32" else 1e200])
    result = gradient_descent(X, y, lr=lr, steps=3, fit_intercept=False)
    assert xp.to_numpy(result.diverged).tolist() == [False, True]
    assert xp.to_numpy(result.steps_run).tolist() == [3, 0]
    assert_close(result.weights[1, ...], [0.0], like=X)
    history = xp.to_numpy(result.loss_history)
    assert np.all(np.isfinite(history)) and np.all(history[:, 1] == history[0, 1])


@pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")
def test_without_halting_the_raw_trajectory_is_returned(xp: BackendCase):
    X, y = xp.asarray(TUTORIAL_X), xp.asarray(TUTORIAL_Y)
    lr = xp.asarray([0.01, 1.0])
    raw = gradient_descent(X, y, lr=lr, steps=6, fit_intercept=False, halt_on_divergence=False)
    assert xp.to_numpy(raw.diverged).tolist() == [False, True]
    assert xp.to_numpy(raw.steps_run).tolist() == [6, 6]
    w, _, losses = reference_descent(
        xp.to_numpy(X), xp.to_numpy(y), lr=1.0, steps=6, fit_intercept=False
    )
    assert abs(w[0]) > 1e7  # the error grows by (1 - lr L) = -21 per step
    assert_loop_close(raw.weights[1, ...], w, like=X, xp=xp)
    assert_loop_close(raw.loss_history[:, 1], losses, like=X, xp=xp)

    huge = 1e30 if xp.dtype_name == "float32" else 1e200  # inf weights on the second step
    runaway = gradient_descent(
        X, y, lr=xp.asarray(huge), steps=3, fit_intercept=False, halt_on_divergence=False
    )
    assert bool(runaway.diverged) and not np.isfinite(xp.to_numpy(runaway.weights)).all()


@pytest.mark.parametrize("shared", ["X", "y", "X and y", "lr", "X and lr"])
def test_a_leading_1_is_shared_by_the_batch_as_numpy_broadcasts(xp: BackendCase, shared):
    """X (1, n, d) beside lr (B,) raised "the batch sizes B disagree (X: 1, lr: 4)"."""
    rng = np.random.default_rng(7)
    X, y, lr = rng.normal(size=(3, 12, 2)), rng.normal(size=(3, 12)), np.array([0.01, 0.05, 0.1])
    given = {
        "X": X[:1] if "X" in shared else X,
        "y": y[:1] if "y" in shared else y,
        "lr": lr[:1] if "lr" in shared else lr,
    }
    broadcast = [np.broadcast_to(given[name], full.shape) for name, full in (("X", X), ("y", y))]
    expected = reference_descent_batch(*broadcast, np.broadcast_to(given["lr"], (3,)), steps=20)
    fit = gradient_descent(
        *(xp.asarray(given[name]) for name in ("X", "y")), lr=xp.asarray(given["lr"]), steps=20
    )
    assert xp.to_numpy(fit.weights).shape == (3, 2)
    for problem, (weights, _, losses) in enumerate(expected):
        assert_loop_close(fit.weights[problem, ...], weights, like=fit.weights, xp=xp)
        assert_loop_close(fit.loss_history[:, problem], losses, like=fit.weights, xp=xp)


def reference_descent_batch(X, y, lr, *, steps):
    """reference_descent of each problem of a batch."""
    return [reference_descent(X[i], y[i], lr=float(lr[i]), steps=steps) for i in range(len(lr))]


@pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")
def test_without_halting_tol_leaves_a_diverged_problem_running_in_any_batch(xp: BackendCase):
    """With tol, the loop ended once every problem was flagged: a diverged problem stopped
    after 3 steps alone (or in a Dask chunk, or under jax.vmap) but ran all 12 beside a
    converging one. It keeps updating, as halt_on_divergence=False says, in any batch."""
    X, y = xp.asarray(TUTORIAL_X), xp.asarray(TUTORIAL_Y)
    options = {"steps": 12, "tol": 1e-12, "fit_intercept": False, "halt_on_divergence": False}
    together = gradient_descent(X, y, lr=xp.asarray([0.01, 1.0]), **options)
    alone = gradient_descent(X, y, lr=xp.asarray([1.0]), **options)
    assert xp.to_numpy(together.steps_run).tolist() == [12, 12]
    assert xp.to_numpy(alone.steps_run).tolist() == [12]
    assert xp.to_numpy(alone.diverged).tolist() == [True]
    w, _, losses = reference_descent(
        xp.to_numpy(X), xp.to_numpy(y), lr=1.0, steps=12, fit_intercept=False
    )
    for fit, column in ((together, 1), (alone, 0)):
        assert_loop_close(fit.weights[column, ...], w, like=X, xp=xp)
        assert_loop_close(fit.loss_history[:, column], losses, like=X, xp=xp)


@pytest.mark.filterwarnings("ignore:(overflow|invalid value) encountered:RuntimeWarning")
def test_without_halting_tol_gives_each_problem_its_own_fit_in_chunks_and_under_vmap():
    """Dask's chunks of one problem and jax.vmap run a loop per problem: they ended the
    diverged problem's after 3 steps where the NumPy batch ran it to 12."""
    da = pytest.importorskip("dask.array")
    jax = pytest.importorskip("jax")
    options = {"steps": 12, "tol": 1e-12, "fit_intercept": False, "halt_on_divergence": False}
    X = np.broadcast_to(np.reshape(TUTORIAL_X, (-1, 1)), (2, len(TUTORIAL_X), 1)).copy()
    y = np.broadcast_to(TUTORIAL_Y, (2, *TUTORIAL_Y.shape)).copy()
    lr = np.array([0.01, 1.0])
    batch = gradient_descent(X, y, lr=lr, **options)
    chunked = gradient_descent(
        da.from_array(X, chunks=(1, -1, -1)), da.from_array(y, chunks=(1, -1)),
        lr=da.from_array(lr, chunks=1), **options,
    )  # fmt: skip
    jnp = jax.numpy
    data = jnp.asarray(TUTORIAL_X, dtype=jnp.float32), jnp.asarray(TUTORIAL_Y, dtype=jnp.float32)
    mapped = jax.vmap(lambda rate: gradient_descent(*data, lr=rate, **options))(
        jnp.asarray(lr, dtype=jnp.float32)
    )
    for fit in (chunked, mapped):
        assert np.asarray(fit.steps_run).tolist() == [12, 12]
        np.testing.assert_allclose(np.asarray(fit.weights), batch.weights, rtol=1e-5)


@pytest.mark.parametrize(
    ("options", "steps"),
    [({"lr": 0.125, "momentum": 0.875}, 16), ({"lr": 0.25, "optimizer": "adam"}, 8)],
    ids=["momentum", "adam"],
)
def test_converging_momentum_and_adam_are_not_flagged(xp: BackendCase, options, steps):
    # Heavy ball and Adam oscillate: the loss rises three steps in a row (steps 13-15 and
    # 6-8), but far below where it started; neither run is diverging.
    X_host, y_host = regression_data(np.random.default_rng(5), n=30, d=2)
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    result = gradient_descent(X, y, steps=steps, **options)
    _, _, losses = reference_descent(xp.to_numpy(X), xp.to_numpy(y), steps=steps, **options)
    rises = np.diff(losses) > 0
    assert np.any(rises[:-2] & rises[1:-1] & rises[2:])
    assert not bool(result.diverged)
    assert_loop_close(result.loss_history, losses, like=X, xp=xp)


def test_tol_stops_each_problem_and_ends_the_loop(xp: BackendCase):
    X, y = xp.asarray(TUTORIAL_X), xp.asarray(TUTORIAL_Y)
    rates, tol = np.array([0.02, 0.03, 0.04]), 1e-3
    result = gradient_descent(X, y, lr=xp.asarray(rates), steps=500, tol=tol, fit_intercept=False)
    host_X, host_y = xp.to_numpy(X), xp.to_numpy(y)
    stops = []
    for rate in rates:
        _, _, losses = reference_descent(host_X, host_y, lr=rate, steps=50, fit_intercept=False)
        stops.append(int(np.argmax(np.abs(np.diff(losses)) < tol)) + 1)
    assert stops == [10, 6, 4]
    assert xp.to_numpy(result.steps_run).tolist() == stops
    assert xp.to_numpy(result.converged).tolist() == [True] * 3
    history = xp.to_numpy(result.loss_history)
    # Dask's lazy history has its rows before computing: steps + 1, the last one repeated
    rows = 500 + 1 if xp.backend == "dask" else max(stops) + 1
    assert history.shape == (rows, 3)
    assert np.all(history[max(stops) :] == history[max(stops)])
    for index, rate in enumerate(rates):
        w, _, _ = reference_descent(
            host_X, host_y, lr=rate, steps=stops[index], fit_intercept=False
        )
        assert_loop_close(result.weights[index, ...], w, like=X, xp=xp)


def test_logistic_loss_is_finite_for_huge_logits(xp: BackendCase):
    X = xp.asarray([[1e3], [1e3], [-2e3]])
    y = xp.asarray([1.0, 0.0, 1.0])  # one step: logits -3.3e6 for the first, a label 1
    result = gradient_descent(X, y, loss="logistic", lr=10.0, steps=3, fit_intercept=False)
    history = xp.to_numpy(result.loss_history)
    assert np.all(np.isfinite(history)) and np.all(np.isfinite(xp.to_numpy(result.weights)))
    _, _, losses = reference_descent(
        xp.to_numpy(X), xp.to_numpy(y), loss="logistic", lr=10.0, steps=1, fit_intercept=False
    )
    assert losses[1] > 1e3  # logits of 1e6: a naive log(sigmoid) would give inf
    assert_loop_close(result.loss_history[:2], losses, like=X, xp=xp)


def test_logistic_terms_keep_relative_accuracy_at_extreme_logits(xp: BackendCase):
    # The objective's softplus (through the loss) and sigmoid (its error term) against
    # SciPy in float64, relative, where a naive 1 / (1 + exp(-z)) underflows to 0 or
    # rounds to 1: each term to the table's rtol of its own size.
    from mlpillars.kernels._descent_objectives import _logistic_loss_and_error

    # down to exp(z) the smallest normal number (JAX on CPU flushes subnormals to zero)
    finfo = np.finfo(xp.dtype_name)
    lowest, highest = float(np.log(finfo.tiny)) + 1.0, float(np.log(finfo.max))
    host = np.array([lowest, -40.0, -1.0, -1e-300, 0.0, 1e-8, 2.5, 40.0, highest])
    logits = xp.asarray(host)[:, None]  # one sample per problem: the loss is its softplus
    loss, error = _logistic_loss_and_error(logits, xp.xp.zeros_like(logits), xp=xp.xp)
    z = xp.to_numpy(logits)[:, 0].astype(np.float64)
    relative = Tolerance(rtol=xp.tolerance.rtol, atol=0.0)
    assert_close(loss, np.logaddexp(0.0, z), like=logits, tolerance=relative)
    assert_close(error[:, 0], scipy.special.expit(z), like=logits, tolerance=relative)


@pytest.mark.parametrize("n", [7, 513])
def test_logistic_loss_over_many_samples_keeps_relative_accuracy(xp: BackendCase, rng, n):
    # The log1p terms are summed by pairwise folds of prod(1 + t) (odd lengths carry one
    # out: 7 carries at two folds, 513 at the first of three): a mean over samples of
    # mixed size, and one of a near-perfect fit whose every term is tiny (exp(-30): the
    # loss must keep its digits, not round to 0). One sample: the test above.
    from mlpillars.kernels._descent_objectives import _logistic_loss_and_error

    labels = (rng.random((3, n)) > 0.5).astype(np.float64)
    mixed = rng.normal(scale=8.0, size=n)
    fitted = np.where(labels[1] > 0, 1.0, -1.0) * rng.uniform(28.0, 32.0, size=n)
    host = np.stack([mixed, fitted, rng.normal(size=n)])
    logits, targets = xp.asarray(host), xp.asarray(labels)
    loss, _ = _logistic_loss_and_error(logits, targets, xp=xp.xp)
    z = xp.to_numpy(logits).astype(np.float64)
    # softplus(z) - y z = log1p(exp(-|z|)) + (max(z, 0) - y z): the second term is exactly
    # 0 for a fitted sample, where logaddexp(0, z) - y z would cancel to a few digits
    terms = np.log1p(np.exp(-np.abs(z))) + (np.maximum(z, 0.0) - labels * z)
    expected = [math.fsum(row) / n for row in terms]
    relative = Tolerance(rtol=xp.tolerance.rtol, atol=0.0)
    assert_close(loss, np.array(expected), like=logits, tolerance=relative)


# -- scikit-learn ----------------------------------------------------------------------------


def test_logistic_regression_matches_scikit_learn(xp: BackendCase):
    linear_model = pytest.importorskip("sklearn.linear_model")
    X_host, y_host = regression_data(np.random.default_rng(3), n=120, d=2, labels=True)
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    # No penalty: C=inf (scikit-learn 1.8 deprecates penalty=None in its favour).
    model = linear_model.LogisticRegression(C=np.inf, tol=1e-10, max_iter=10_000)
    model.fit(xp.to_numpy(X), xp.to_numpy(y))
    result = gradient_descent(X, y, loss="logistic", lr=2.0, momentum=0.5, steps=150)
    assert not bool(result.diverged)
    close = Tolerance(rtol=1e-5, atol=1e-6) if xp.dtype_name == "float64" else Tolerance(1e-3, 1e-4)
    assert_close(result.weights, model.coef_[0], like=X, tolerance=close)
    assert_close(result.bias, model.intercept_[0], like=X, tolerance=close)


def test_r_squared_matches_scikit_learn(xp: BackendCase):
    metrics = pytest.importorskip("sklearn.metrics")
    rng = np.random.default_rng(2)
    y_true, y_pred = xp.asarray(rng.normal(size=(2, 9))), xp.asarray(rng.normal(size=(2, 9)))
    expected = [
        metrics.r2_score(xp.to_numpy(y_true[i, ...]), xp.to_numpy(y_pred[i, ...])) for i in range(2)
    ]
    assert_close(r_squared(y_true, y_pred), expected, like=y_true)
    constant = xp.asarray([3.0, 3.0, 3.0])
    assert_close(r_squared(constant, constant), 1.0, like=constant)
    assert_close(r_squared(constant, xp.asarray([3.0, 3.0, 4.0])), 0.0, like=constant)


# -- least squares -------------------------------------------------------------------------


@pytest.mark.parametrize("fit_intercept", [True, False])
def test_least_squares_batched_matches_lstsq(xp: BackendCase, fit_intercept):
    rng = np.random.default_rng(9)
    X, y = xp.asarray(rng.normal(size=(3, 12, 2))), xp.asarray(rng.normal(size=(3, 12)))
    shared = xp.asarray(rng.normal(size=(12, 2)))
    batched = least_squares(X, y, fit_intercept=fit_intercept)
    right_hand_sides = least_squares(shared, y, fit_intercept=fit_intercept)
    for index in range(3):
        for features, result in ((X[index, ...], batched), (shared, right_hand_sides)):
            design = xp.to_numpy(features)
            design = np.column_stack([design, np.ones(12)]) if fit_intercept else design
            solution, *_ = np.linalg.lstsq(design, xp.to_numpy(y[index, ...]), rcond=None)
            assert_close(result.weights[index, ...], solution[:2], like=X)
            assert_close(result.bias[index, ...], solution[2] if fit_intercept else 0.0, like=X)


# -- properties ------------------------------------------------------------------------------


@st.composite
def convex_problems(draw):
    seed = draw(st.integers(0, 2**32 - 1))
    n, d = draw(st.integers(3, 20)), draw(st.integers(1, 4))
    return regression_data(np.random.default_rng(seed), n=n, d=d)


@settings(max_examples=25, deadline=None)
@given(problem=convex_problems(), fraction=st.floats(0.05, 0.99))
def test_small_steps_never_increase_the_loss(problem, fraction):
    X, y = problem
    design = np.column_stack([X, np.ones(len(y))])
    smoothness = 2 * np.linalg.eigvalsh(design.T @ design / len(y)).max()  # L of the MSE
    result = gradient_descent(X, y, lr=fraction / smoothness, steps=30)
    history = result.loss_history
    assert np.all(np.diff(history) <= 1e-12 * history[:-1])
    assert not result.diverged


@settings(max_examples=15, deadline=None)
@given(
    seed=st.integers(0, 2**32 - 1),
    batch=st.integers(1, 4),
    optimizer=st.sampled_from(["sgd", "adam"]),
    loss=st.sampled_from(["mse", "logistic"]),
)
def test_batched_equals_separate_calls(seed, batch, optimizer, loss):
    rng = np.random.default_rng(seed)
    problems = [regression_data(rng, n=10, d=2, labels=loss == "logistic") for _ in range(batch)]
    X = np.stack([features for features, _ in problems])
    y = np.stack([targets for _, targets in problems])
    rates = rng.uniform(0.001, 0.2, size=batch)
    batched = gradient_descent(X, y, lr=rates, steps=15, optimizer=optimizer, loss=loss, tol=1e-6)
    for index in range(batch):
        alone = gradient_descent(
            X[index], y[index], lr=rates[index], steps=15, optimizer=optimizer, loss=loss, tol=1e-6
        )
        np.testing.assert_allclose(batched.weights[index], alone.weights, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(batched.bias[index], alone.bias, rtol=1e-10, atol=1e-12)
        assert batched.steps_run[index] == alone.steps_run
        assert batched.converged[index] == alone.converged


# -- errors --------------------------------------------------------------------------------

X_OK, Y_OK = np.ones((4, 2)), np.zeros(4)


@pytest.mark.parametrize(
    ("arguments", "options", "error", "message"),
    [
        (
            (np.ones((4, 2)), np.zeros(5)),
            {},
            ValueError,
            r"same number of samples.*\(4, 2\).*\(5,\)",
        ),
        (
            (np.ones((2, 4, 2, 1)), np.zeros(4)),
            {},
            ValueError,
            r"X must be 1-D or 2-D or 3-D, got 4-D",
        ),
        (
            (np.ones((3, 4, 2)), np.zeros((2, 4))),
            {},
            ValueError,
            r"batch sizes B disagree \(X: 3, y: 2\)",
        ),
        ((X_OK, Y_OK), {"lr": [0.1, 0.2]}, None, None),
        ((np.ones((3, 4, 2)), Y_OK), {"lr": [0.1, 0.2]}, ValueError, r"B disagree \(X: 3, lr: 2\)"),
        ((X_OK, Y_OK), {"lr": np.ones((2, 2))}, ValueError, r"lr must be 0-D or 1-D, got 2-D"),
        ((X_OK, Y_OK), {"lr": -0.1}, ValueError, r"lr must be finite and >= 0.*-0.1"),
        ((X_OK, Y_OK), {"loss": "hinge"}, ValueError, r"unknown loss 'hinge'.*'mse', 'logistic'"),
        ((X_OK, Y_OK), {"optimizer": "rmsprop"}, ValueError, r"unknown optimizer 'rmsprop'"),
        ((X_OK, Y_OK), {"steps": 0}, ValueError, r"steps must be an integer >= 1, got 0"),
        ((X_OK, Y_OK), {"steps": 2.5}, ValueError, r"steps must be an integer >= 1"),
        ((X_OK, Y_OK), {"momentum": -0.5}, ValueError, r"momentum must lie in \[0, 1\), got -0.5"),
        ((X_OK, Y_OK), {"momentum": 1.0}, ValueError, r"momentum must lie in \[0, 1\)"),
        (
            (X_OK, Y_OK),
            {"momentum": 0.9, "optimizer": "adam"},
            ValueError,
            r"momentum=0.9 applies to optimizer='sgd' only",
        ),
        ((X_OK, Y_OK), {"l2": -1.0}, ValueError, r"l2 must lie in \[0, inf\), got -1.0"),
        ((X_OK, Y_OK), {"l2": "big"}, TypeError, r"l2 must be a number, got str"),
        ((X_OK, Y_OK), {"warmup_steps": -1}, ValueError, r"warmup_steps must be an integer >= 0"),
        ((X_OK, Y_OK), {"clip_norm": 0.0}, ValueError, r"clip_norm must lie in \(0, inf\)"),
        ((X_OK, Y_OK), {"tol": -1e-3}, ValueError, r"tol must lie in \(0, inf\)"),
        ((X_OK, Y_OK), {"betas": (0.9,)}, ValueError, r"betas must be a pair"),
        ((X_OK, Y_OK), {"betas": (0.9, 1.0)}, ValueError, r"betas\[1\] must lie in \[0, 1\)"),
        ((X_OK, Y_OK), {"eps": 0.0}, ValueError, r"eps must lie in \(0, inf\)"),
        (
            (X_OK, np.array([0.0, 1.0, 2.0, 1.0])),
            {"loss": "logistic"},
            ValueError,
            r"labels y in \{0, 1\}; got 2.0 at flat index 2 \(1 such value\) \(y: \(4,\)\)",
        ),
        (  # the range of the labels, "0.0 to 1.0", did not show what was wrong
            (X_OK, np.array([0.0, 0.5, 1.0, 0.25])),
            {"loss": "logistic"},
            ValueError,
            r"labels y in \{0, 1\}; got 0.5 at flat index 1 \(2 such values\)",
        ),
        (  # "values from nan to nan"
            (X_OK, Y_OK),
            {"lr": [0.1, np.nan]},
            ValueError,
            r"lr must be finite and >= 0; got nan at flat index 1 \(1 such value\) \(lr: \(2,\)\)",
        ),
        ((X_OK, Y_OK), {"fit_intercept": "no"}, ValueError, r"fit_intercept must be True or False"),
        ((X_OK, Y_OK), {"halt_on_divergence": None}, ValueError, r"halt_on_divergence must be"),
        ((X_OK, Y_OK), {"fit_intercept": np.False_}, None, None),  # NumPy's bool is a bool
    ],
)
def test_gradient_descent_errors(arguments, options, error, message):
    if error is None:  # a valid call among the invalid ones: shared X, lr (B,)
        fit = gradient_descent(*arguments, steps=1, **options)
        assert fit.weights.shape == ((2, 2) if "lr" in options else (2,))
        return
    with pytest.raises(error, match=rf"^gradient_descent: .*{message}"):
        gradient_descent(*arguments, **{"steps": 1, **options})


def test_least_squares_errors():
    with pytest.raises(ValueError, match=r"least_squares: X is rank-deficient"):
        least_squares(np.column_stack([np.arange(5.0), 2 * np.arange(5.0)]), np.arange(5.0))
    with pytest.raises(ValueError, match=r"least_squares: X is rank-deficient.*constant"):
        least_squares(np.column_stack([np.arange(5.0), np.ones(5)]), np.arange(5.0))
    with pytest.raises(
        ValueError, match=r"least_squares: X has 2 samples for 2 features and an intercept"
    ):
        least_squares(np.ones((2, 2)), np.zeros(2))
    with pytest.raises(ValueError, match=r"least_squares: X and y must have the same number"):
        least_squares(np.ones((4, 2)), np.zeros(3))
    with pytest.raises(ValueError, match=r"r_squared: y_true and y_pred must have one shape"):
        r_squared(np.ones(3), np.ones(4))
