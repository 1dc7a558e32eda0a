"""NumPy runs gradient descent's independent problems in groups (each in cache): the results
equal one loop over all problems, bit for bit, and the float64 reference loop. JAX groups
them too, inside its jitted loop (one ``lax.map``), and torch on the CPU in larger groups:
the same results as one loop."""

from __future__ import annotations

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.backends.frameworks import _grouped_loops, _problem_groups
from tests.test_calculus import CONFIGURATIONS, reference_descent

PROBLEMS = 40
"""Enough problems for two groups of MIN_GROUP (set to 8 below), not a multiple of it."""


def regressions(
    rng: np.random.Generator, *, labels: bool, problems: int = PROBLEMS
) -> tuple[np.ndarray, np.ndarray]:
    X = rng.normal(size=(problems, 30, 3)) + rng.normal(size=(problems, 1, 3))
    y = (X @ rng.normal(size=(problems, 3, 1)))[..., 0] + 0.5 * rng.normal(size=(problems, 30))
    return X, (y > 0).astype(np.float64) if labels else y


def in_one_group(monkeypatch: pytest.MonkeyPatch, call):
    with monkeypatch.context() as patch:
        patch.setattr(_problem_groups, "MIN_GROUP", 10**9)
        return call()


@pytest.fixture
def small_groups(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_problem_groups, "MIN_GROUP", 8)
    monkeypatch.setattr(_problem_groups, "CACHE_BYTES", 1)  # as many groups as MIN_GROUP allows
    monkeypatch.setattr(_problem_groups, "GROUPING_THRESHOLD", 0)


def assert_identical(grouped, whole) -> None:
    for field in grouped._fields:
        np.testing.assert_array_equal(getattr(grouped, field), getattr(whole, field), field)


@pytest.mark.parametrize("tol", [None, 1e-4])
@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_groups_equal_one_loop(small_groups, monkeypatch, name: str, tol: float | None):
    options = {**CONFIGURATIONS[name], "tol": tol, "steps": 40}
    X, y = regressions(np.random.default_rng(3), labels=options.get("loss") == "logistic")
    grouped = mp.gradient_descent(X, y, **options)
    assert_identical(
        grouped, in_one_group(monkeypatch, lambda: mp.gradient_descent(X, y, **options))
    )
    for problem in (0, PROBLEMS - 1):  # a problem of the first group and of the last
        reference_options = {key: value for key, value in options.items() if key != "tol"}
        w, _, losses = reference_descent(X[problem], y[problem], **reference_options)
        rows = int(grouped.steps_run[problem]) + 1
        np.testing.assert_allclose(grouped.loss_history[:rows, problem], losses[:rows], rtol=1e-9)
        if tol is None:
            np.testing.assert_allclose(grouped.weights[problem], w, rtol=1e-9, atol=1e-12)


def test_groups_that_stop_at_different_steps_repeat_their_last_row(small_groups, monkeypatch):
    # A learning-rate sweep on shared data: the small rates (first group) converge last.
    X, y = regressions(np.random.default_rng(4), labels=False)
    lr = np.geomspace(1e-3, 0.3, PROBLEMS)
    options = {"lr": lr, "steps": 400, "tol": 1e-6}
    grouped = mp.gradient_descent(X[0], y[0], **options)
    whole = in_one_group(monkeypatch, lambda: mp.gradient_descent(X[0], y[0], **options))
    assert_identical(grouped, whole)
    last_group = slice(PROBLEMS - 8, PROBLEMS)
    stopped = int(grouped.steps_run[last_group].max())
    assert stopped < len(grouped.loss_history) - 1  # that group stopped before the others
    np.testing.assert_array_equal(
        grouped.loss_history[stopped:, last_group],
        np.broadcast_to(
            grouped.loss_history[stopped, last_group], (len(grouped.loss_history) - stopped, 8)
        ),
    )


def test_groups_of_cache_size_and_at_least_min_group():
    sizes = lambda groups: [group.stop - group.start for group in groups]  # noqa: E731
    assert sizes(_grouped_loops._groups(31, 10**6)) == [31]  # fewer than 2 x MIN_GROUP: one
    assert sizes(_grouped_loops._groups(64, 8)) == [64]  # tiny problems: one group
    threshold = _problem_groups.GROUPING_THRESHOLD
    assert sizes(_grouped_loops._groups(256, threshold // 256)) == [256]  # in cache: one
    per_problem = _problem_groups.CACHE_BYTES // 16  # 16 problems fill the cache
    assert sizes(_grouped_loops._groups(256, per_problem)) == [16] * 16
    assert sizes(_grouped_loops._groups(256, 10**9)) == [16] * 16  # never below MIN_GROUP
    # torch's groups (given group_bytes): one while the data fit in one group
    assert sizes(_grouped_loops._groups(256, 2**16, group_bytes=2**24)) == [256]
    assert sizes(_grouped_loops._groups(256, 2**17, group_bytes=2**24)) == [128, 128]


# -- torch on the CPU: groups of CPU_GROUP_BYTES, the same results as one loop -------------------


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_torch_groups_equal_one_loop(monkeypatch, loss: str):
    torch = pytest.importorskip("torch")
    from mlpillars.backends.frameworks import torch as torch_framework

    X, y = regressions(np.random.default_rng(6), labels=loss == "logistic")
    arguments = (torch.asarray(X), torch.asarray(y))
    lr, tol = {"mse": (0.3, 1e-4), "logistic": (0.5, 1e-3)}[loss]  # some stop before 60
    options = {"loss": loss, "lr": lr, "steps": 60, "tol": tol, "mse_method": "data"}
    monkeypatch.setattr(_problem_groups, "MIN_GROUP", 8)
    runs = []
    whole_loop = _grouped_loops.run_in_groups
    spy = lambda *args: runs.append(args[-1]) or whole_loop(*args)  # noqa: E731
    monkeypatch.setattr(_grouped_loops, "run_in_groups", spy)
    monkeypatch.setattr(torch_framework, "CPU_GROUP_BYTES", X[0].nbytes * 8)  # 5 groups
    grouped = mp.gradient_descent(*arguments, **options)
    monkeypatch.setattr(torch_framework, "CPU_GROUP_BYTES", 10**12)  # one group
    whole = mp.gradient_descent(*arguments, **options)
    assert runs == [X[0].nbytes * 8, 10**12]
    steps = grouped.steps_run.numpy()
    assert steps.min() < steps.max(), "the problems should stop at different steps"
    for field in grouped._fields:
        actual, expected = getattr(grouped, field).numpy(), getattr(whole, field).numpy()
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15, err_msg=field)


# -- JAX: the same groups, one lax.map over them inside the jitted loop ------------------------


@pytest.fixture
def jax_loops():
    jax = pytest.importorskip("jax")
    from mlpillars.backends import FRAMEWORKS
    from mlpillars.backends.frameworks import _jax_loops

    FRAMEWORKS["jax"].enable_x64()
    _jax_loops.compiled_loop.cache_clear()  # the group count is decided when it compiles
    yield jax
    _jax_loops.compiled_loop.cache_clear()


@pytest.mark.parametrize(  # each case compiles two loops (~10 s): groups that divide the
    # problems (shared data), and groups with a padded last one (logistic problems)
    ("shared_data", "problems"),
    [(True, PROBLEMS), (False, PROBLEMS + 3)],
)
def test_jax_groups_equal_one_loop(
    jax_loops, small_groups, monkeypatch, shared_data: bool, problems: int
):
    # Logistic problems stopping early, each group at its own step; or a learning-rate
    # sweep on shared data (features and targets of one problem, axis 0 of length 1); 43
    # problems: no count of 5 or more divides them, so the last group is padded (group g
    # holds problems g, g + 5, ...: the padding is the last problem repeated, cut after).
    from mlpillars.backends.frameworks import _jax_loops

    X, y = regressions(np.random.default_rng(5), labels=True, problems=problems)
    options = {"loss": "logistic", "lr": 0.5, "steps": 60, "tol": 1e-3}
    if shared_data:
        X, y, options["lr"] = X[0], y[0], np.geomspace(0.05, 5.0, problems)
    jnp = jax_loops.numpy
    arguments = (jnp.asarray(X), jnp.asarray(y))
    options = {**options, "lr": jnp.asarray(options["lr"])}
    calls = []
    spy = lambda *args: calls.append(args[-1]) or grouped_loop(*args)  # noqa: E731
    grouped_loop = _jax_loops._grouped
    monkeypatch.setattr(_jax_loops, "_grouped", spy)
    grouped = mp.gradient_descent(*arguments, **options)
    assert calls == [PROBLEMS // 8]  # five groups of eight (or nine) problems
    _jax_loops.compiled_loop.cache_clear()
    whole = in_one_group(monkeypatch, lambda: mp.gradient_descent(*arguments, **options))
    assert len(calls) == 1
    steps = np.asarray(grouped.steps_run)
    assert steps.min() < steps.max(), "the problems should stop at different steps"
    for field in grouped._fields:
        actual, expected = np.asarray(getattr(grouped, field)), np.asarray(getattr(whole, field))
        np.testing.assert_allclose(actual, expected, rtol=1e-12, atol=1e-15, err_msg=field)
