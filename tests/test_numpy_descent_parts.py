"""NumPy's gradient descent in parts of the problems on threads
(``NumPyFramework.fused_gradient_descent``, ``_numpy_descent``).

Reference: the NumPy kernel's own loop on the same problems, in one call (parts turned
off). The steps are the same, so the results agree to a few ulps, not merely within the
tolerance table, and the history has the same rows. The tests force the parts on small
problems (``PART_SECONDS`` tiny, three threads allowed whatever the machine has).
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threadpoolctl import threadpool_info

from mlpillars.backends.frameworks import _descent_fields, _numpy_descent, _numpy_threads
from mlpillars.kernels.descent import GradientDescentResult, gradient_descent
from mlpillars.testing import assert_same_fields, assert_same_values, recorded_fused_calls
from tests.property_support import scaled_examples

B, N, D, STEPS = 7, 40, 3, 40

OPTIONS = {
    "sgd": {"lr": 0.05},
    "l2": {"lr": 0.05, "l2": 0.1},
    "no-intercept": {"lr": 0.1, "fit_intercept": False},
    "statistics-asked": {"lr": 0.05, "mse_method": "statistics"},
    "tol": {"lr": 0.05, "tol": 1e-4},
    "diverging-keeps-updating": {"lr": 5.0, "halt_on_divergence": False},
}


def problems(dtype: str = "float64", *, b: int = B) -> tuple[np.ndarray, np.ndarray]:
    """X (b, N, D) and targets (b, N)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(b, N, D)) + 0.5
    y = np.einsum("bnd,bd->bn", X, rng.normal(size=(b, D))) + rng.normal(scale=0.5, size=(b, N))
    return X.astype(dtype), y.astype(dtype)


@pytest.fixture
def in_parts(monkeypatch):
    """Parts wherever the rules allow them: three threads, any work enough for a part."""
    monkeypatch.setattr(_numpy_threads, "thread_limit", lambda: 3)
    monkeypatch.setattr(_numpy_descent, "PART_SECONDS", 1e-12)


def in_one_call(X, y, **options) -> GradientDescentResult:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(_numpy_descent, "PART_SECONDS", float("inf"))
        return gradient_descent(X, y, **options)


def assert_same_fit(parts: GradientDescentResult, whole: GradientDescentResult) -> None:
    """Field by field: NumPy arrays, dtypes, shapes and values to a few ulps."""
    for name, actual, expected in zip(whole._fields, parts, whole, strict=True):
        assert type(actual) is np.ndarray, name
        assert_same_values(actual, expected, name=name)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_parts_give_one_calls_fit(in_parts, name):
    X, y = problems()
    whole = in_one_call(X, y, steps=STEPS, **OPTIONS[name])
    with recorded_fused_calls("numpy", "gradient_descent") as offers:
        parts = gradient_descent(X, y, steps=STEPS, **OPTIONS[name])
    answered = [offer for offer in offers if offer.answer is not NotImplemented]
    assert len(answered) == 1 and len(offers) == 4  # the call, then each part's own (declined)
    assert_same_fit(parts, whole)


def test_a_part_that_stops_early_repeats_its_last_row(in_parts):
    """With tol, one call's history ends when every problem has stopped; a part whose
    problems stopped sooner is padded with its last row to the longest part's."""
    X, y = problems()
    y[:3] = 0.25  # constant targets: the first part converges within a few steps
    whole = in_one_call(X, y, steps=200, lr=0.05, tol=1e-6)
    parts = gradient_descent(X, y, steps=200, lr=0.05, tol=1e-6)
    assert_same_fit(parts, whole)
    stopped_at = int(whole.steps_run[:3].max())
    assert stopped_at < whole.loss_history.shape[0] - 1
    assert np.all(parts.loss_history[stopped_at + 1 :, :3] == parts.loss_history[stopped_at, :3])


def test_a_diverging_part_is_flagged_and_the_others_are_not(in_parts):
    X, y = problems()
    lr = np.full(B, 0.05)
    lr[-2:] = 5.0
    whole = in_one_call(X, y, steps=STEPS, lr=lr)
    parts = gradient_descent(X, y, steps=STEPS, lr=lr)
    assert_same_fit(parts, whole)
    np.testing.assert_array_equal(parts.diverged, [False] * (B - 2) + [True, True])


def test_a_learning_rate_sweep_shares_the_data_with_every_part(in_parts):
    X, y = problems(b=1)
    rates = np.linspace(0.01, 0.2, 8)
    whole = in_one_call(X[0], y[0], steps=STEPS, lr=rates)
    parts = gradient_descent(X[0], y[0], steps=STEPS, lr=rates)
    assert_same_fit(parts, whole)


def test_float32_stays_float32(in_parts):
    X, y = problems("float32")
    parts = gradient_descent(X, y, steps=STEPS, lr=0.05)
    assert_same_fit(parts, in_one_call(X, y, steps=STEPS, lr=0.05))
    assert parts.weights.dtype == np.float32


@pytest.mark.parametrize(
    "options",
    [
        {"loss": "logistic"},
        {"momentum": 0.9},
        {"optimizer": "adam"},
        {"clip_norm": 1.0},
        {"warmup_steps": 3},
        {"mse_method": "data"},
        {"tol": 1e-3, "halt_on_divergence": False},
    ],
)
def test_fits_whose_steps_hold_the_gil_run_in_one_call(in_parts, options):
    """Their steps are many short calls holding the GIL: two threads measured slower."""
    X, y = problems()
    targets = (y > 0).astype(np.float64) if options.get("loss") == "logistic" else y
    with recorded_fused_calls("numpy", "gradient_descent") as offers:
        gradient_descent(X, targets, steps=5, **{"lr": 0.05, **options})
    assert [offer.answer for offer in offers] == [NotImplemented]


def test_more_parameters_than_samples_run_in_one_call_unless_statistics_are_asked(in_parts):
    X, _ = problems()
    wide = np.concatenate([X] * 20, axis=-1)  # d = 60 > n = 40: "auto" takes the data
    assert _numpy_descent.part_count(wide, np.ones(B), _options()) == 1
    assert _numpy_descent.part_count(wide, np.ones(B), _options(mse_method="statistics")) == 3


def _options(**changes) -> dict:
    options = {
        "loss": "mse",
        "steps": 200,
        "optimizer": "sgd",
        "momentum": 0.0,
        "clip_norm": None,
        "warmup_steps": 0,
        "tol": None,
        "halt_on_divergence": True,
        "mse_method": "auto",
        "fit_intercept": True,
    }
    return {**options, **changes}


def test_part_count_follows_the_work_the_threads_and_the_problems(monkeypatch):
    monkeypatch.setattr(_numpy_threads, "thread_limit", lambda: 8)
    issue_sized = np.empty((256, 512, 32))  # 256 problems of 512 x 32, 200 steps
    seconds = _numpy_descent.parallel_seconds(256, 256, 512, 33, 200)
    assert 0.015 < seconds < 0.03  # about 21 ms of one core's work (module docstring)
    assert _numpy_descent.part_count(issue_sized, np.ones(256), _options()) == 3
    few_steps = _options(steps=20)
    assert _numpy_descent.part_count(issue_sized[:64], np.ones(64), few_steps) == 1
    monkeypatch.setattr(_numpy_descent, "PART_SECONDS", 1e-12)
    assert _numpy_descent.part_count(issue_sized[:5], np.ones(5), _options()) == 5
    shared = issue_sized[:1]  # a sweep over one data set: one Gram
    assert _numpy_descent.parallel_seconds(64, 1, 512, 33, 200) < seconds / 4
    assert _numpy_descent.part_count(shared, np.ones(2), _options()) == 2


def test_no_parts_from_another_thread_or_within_a_part(in_parts):
    X, _ = problems()
    counts: list[int] = []

    def count() -> None:
        counts.append(_numpy_descent.part_count(X, np.ones(B), _options()))

    worker = threading.Thread(target=count)
    worker.start()
    worker.join()
    _numpy_threads.side_by_side([count, count])
    count()
    assert counts == [1, 1, 1, 3]


def test_blas_runs_on_one_thread_in_the_parts_and_is_restored_after(in_parts, monkeypatch):
    def blas_threads() -> list[int]:
        return [info["num_threads"] for info in threadpool_info() if info["user_api"] == "blas"]

    before = blas_threads()
    seen: list[list[int]] = []
    fitted_fields = _descent_fields.fitted_fields

    def recording(*args, **kwargs):
        seen.append(blas_threads())
        return fitted_fields(*args, **kwargs)

    monkeypatch.setattr(_numpy_descent, "fitted_fields", recording)
    gradient_descent(*problems(), steps=STEPS, lr=0.05)
    assert len(seen) == 3 and all(threads == [1] * len(before) for threads in seen)
    assert blas_threads() == before


def test_an_error_in_a_part_is_raised_once_every_part_has_finished(in_parts, monkeypatch):
    finished: list[int] = []
    fitted_fields = _descent_fields.fitted_fields

    def failing_second(features, targets, lr, options):
        result = fitted_fields(features, targets, lr, options)
        finished.append(lr.shape[0])
        if len(finished) == 2:
            raise MemoryError("part two")
        return result

    monkeypatch.setattr(_numpy_descent, "fitted_fields", failing_second)
    with pytest.raises(MemoryError, match="part two"):
        gradient_descent(*problems(), steps=STEPS, lr=0.05)
    assert len(finished) == 3


PROPERTY_CASES = 25
"""Generated fits a run checks (times ``MLPILLARS_PROPERTY_SCALE``)."""


@settings(
    deadline=None,
    max_examples=scaled_examples(PROPERTY_CASES),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_parts_give_one_calls_fit_on_generated_problems(in_parts, data):
    """Any batch (1 to 9 problems), sizes, offset, shared data or targets, per-problem
    rates around the stability limit, early stops and divergence: the parts' fields
    equal one call's."""
    b = data.draw(st.integers(1, 9), label="problems")
    n = data.draw(st.integers(2, 24), label="samples")
    d = data.draw(st.integers(1, 5), label="features")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    offset = data.draw(st.sampled_from([0.0, 3.0, 1e4]), label="offset")
    X = rng.normal(size=(b, n, d)) + offset
    y = rng.normal(size=(b, n)) * data.draw(st.sampled_from([0.0, 1.0, 1e3]), label="y scale")
    rates = rng.uniform(0.0, 2.5, size=b) / np.array([_limit(features) for features in X])
    if data.draw(st.booleans(), label="shared X"):  # unbatched, as a user gives it
        X, rates = X[0], rates[0] * rng.uniform(0.0, 1.0, size=b)
    elif data.draw(st.booleans(), label="shared y"):
        y = y[0]
    options = {
        "steps": data.draw(st.integers(1, 40), label="steps"),
        "fit_intercept": data.draw(st.booleans(), label="intercept"),
        "l2": data.draw(st.sampled_from([0.0, 0.1]), label="l2"),
        "tol": data.draw(st.sampled_from([None, 1e-6]), label="tol"),
        "mse_method": "statistics",
    }
    if options["tol"] is None:
        options["halt_on_divergence"] = data.draw(st.booleans(), label="halt")
    whole = in_one_call(X, y, lr=rates, **options)
    with recorded_fused_calls("numpy", "gradient_descent") as offers:
        parts = gradient_descent(X, y, lr=rates, **options)
    answered = [offer for offer in offers if offer.answer is not NotImplemented]
    assert len(answered) == (b > 1)  # one problem: one part, the kernel's own loop
    # a part decides per call over its own problems whether X needs centring (data far
    # from zero): there the two differ in rounding, within the tolerance table
    assert_same_fields(parts, whole, names=whole._fields)


def _limit(features: np.ndarray) -> float:
    """A problem's largest stable-ish rate scale: the Gram's largest eigenvalue, with the
    intercept's column (lr of 1/L is half the stability limit)."""
    design = np.concatenate([features, np.ones((features.shape[0], 1))], axis=1)
    return float(np.linalg.eigvalsh(2 * design.T @ design / features.shape[0])[-1])
