"""gradient_descent's two MSE paths (sufficient statistics, data), its loss history against
the direct formula, and its compiled loop (JAX), on every backend/device/dtype.

References: the float64 NumPy loop of test_calculus (one problem at a time), and the
direct formula ``mean((X w + b - y)^2) + l2 |w|^2`` evaluated in float64 on the data and
the weights the kernel returned (the history's last row is the loss of those weights).
"""

from __future__ import annotations

import dataclasses
import warnings

import numpy as np
import pytest

from mlpillars.backends import values_known
from mlpillars.kernels import _descent_reference as reference_module
from mlpillars.kernels import descent as descent_module
from mlpillars.kernels._descent_setup import Options, Setup, uses_statistics
from mlpillars.kernels._descent_statistics import mse_statistics
from mlpillars.kernels.descent import gradient_descent
from mlpillars.testing import BackendCase, assert_close, backend_cases
from mlpillars.tolerances import Tolerance
from tests.test_calculus import CONFIGURATIONS, assert_loop_close, reference_descent

MSE_CONFIGURATIONS = {
    name: options for name, options in CONFIGURATIONS.items() if "loss" not in options
}


OPTIONS = {
    "loss": "mse", "steps": 50, "optimizer": "sgd", "momentum": 0.0, "betas": (0.9, 0.999),
    "eps": 1e-8, "fit_intercept": True, "l2": 0.0, "warmup_steps": 0, "clip_norm": None,
    "tol": None, "halt_on_divergence": True, "mse_method": "auto",
}  # fmt: skip
"""Every option of a fit, as ``Options`` takes them (the defaults of gradient_descent)."""


def direct_loss(X, y, w, b, *, l2=0.0):
    """The direct formula, float64, one problem (X (n, d), y (n,), w (d,), b)."""
    return np.mean((X @ w + b - y) ** 2) + l2 * (w @ w)


def offset_problem(rng, *, n=40, d=3, noise=0.5, offset=0.0):
    """Features with mean ``offset``, targets a linear function of them plus noise."""
    X = rng.normal(size=(n, d)) + offset
    return X, (X - offset) @ rng.normal(size=d) + 0.3 + rng.normal(scale=noise, size=n)


def smoothness(X):
    """L of the MSE with an intercept: 2 * the largest eigenvalue of [X, 1]^T [X, 1] / n."""
    design = np.column_stack([X, np.ones(len(X))])
    return 2 * np.linalg.eigvalsh(design.T @ design / len(X)).max()


# -- the statistics path and the data path against the reference loop ---------------------


@pytest.mark.parametrize("method", ["statistics", "data"])
@pytest.mark.parametrize("name", list(MSE_CONFIGURATIONS))
def test_both_mse_paths_match_the_reference_loop(xp: BackendCase, name, method):
    options = MSE_CONFIGURATIONS[name]
    X_host, y_host = offset_problem(np.random.default_rng(7), n=24, d=3)
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    steps = 6
    result = gradient_descent(X, y, steps=steps, mse_method=method, **options)
    w, b, losses = reference_descent(xp.to_numpy(X), xp.to_numpy(y), steps=steps, **options)
    assert_loop_close(result.weights, w, like=X, xp=xp)
    assert_loop_close(result.bias, b, like=X, xp=xp)
    assert_loop_close(result.loss_history, losses, like=X, xp=xp)
    assert int(result.steps_run) == steps and not bool(result.diverged)


@pytest.mark.parametrize("options", [{}, {"loss": "logistic"}, {"optimizer": "adam", "tol": 1e-6}])
def test_zero_problems_give_empty_results(xp: BackendCase, options):
    """B = 0 (an empty batch from a filter): empty fields of the right shapes (on
    array-api-strict the statistics sliced row 0 of zero rows, an IndexError)."""
    X, y = xp.asarray(np.zeros((0, 5, 2))), xp.asarray(np.zeros((0, 5)))
    fitted = gradient_descent(X, y, steps=4, **options)
    assert tuple(fitted.weights.shape) == (0, 2) and tuple(fitted.bias.shape) == (0,)
    assert tuple(fitted.loss_history.shape)[1:] == (0,)
    assert tuple(fitted.diverged.shape) == tuple(fitted.steps_run.shape) == (0,)


def test_shared_features_with_batched_targets_on_statistics(xp: BackendCase):
    rng = np.random.default_rng(3)
    X_host, targets = rng.normal(size=(30, 2)), rng.normal(size=(3, 30))
    rates = np.array([0.0625, 0.125, 0.25])
    X, y, lr = xp.asarray(X_host), xp.asarray(targets), xp.asarray(rates)
    result = gradient_descent(X, y, lr=lr, steps=8, l2=0.125, mse_method="statistics")
    for index in range(3):
        w, b, losses = reference_descent(
            xp.to_numpy(X), xp.to_numpy(y[index, ...]), lr=rates[index], steps=8, l2=0.125
        )
        assert_loop_close(result.weights[index, ...], w, like=X, xp=xp)
        assert_loop_close(result.bias[index, ...], b, like=X, xp=xp)
        assert_loop_close(result.loss_history[:, index], losses, like=X, xp=xp)


# -- the loss history against the direct formula ------------------------------------------

# (offset, noise, l2): a plain fit, data far from zero (a stable lr is then ~1e-8: the run
# stays far from the optimum), and fits so good that var(y) / loss reaches 1e4 (float32)
# to 1e10 (float64) at the optimum: there the naive quadratic would lose every digit.
HISTORY_CASES = {
    "plain": (0.0, 0.5, 0.25),
    "offset-1e4": (1e4, 0.5, 0.0),
    "near-optimum": (0.0, None, 0.0),
    "offset-1e4-near-optimum": (1e4, None, 0.0),
}


@pytest.mark.parametrize("case", list(HISTORY_CASES))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_history_agrees_with_the_direct_formula(xp: BackendCase, case, fit_intercept):
    check_history_against_the_direct_formula(xp, case, fit_intercept)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("case", list(HISTORY_CASES))
@pytest.mark.parametrize("fit_intercept", [True, False])
def test_history_of_a_second_loop_agrees_with_the_direct_formula(
    monkeypatch, dtype_name, case, fit_intercept
):
    # Without the minimiser solved first, the loop runs again around the first fit's
    # weights where its history needs it: the same code on every backend (JAX's, chosen
    # inside the program: test_jax_jit_runs_the_second_loop_near_the_optimum).
    monkeypatch.setattr(reference_module, "SOLVE_FIRST_BUDGET", 0)
    xp = BackendCase("numpy", "cpu", dtype_name)
    check_history_against_the_direct_formula(xp, case, fit_intercept)


def check_history_against_the_direct_formula(xp: BackendCase, case: str, fit_intercept: bool):
    """The last history row of short and long fits (statistics and data) against the
    direct formula at their weights, to the table's rtol of the loss itself."""
    offset, noise, l2 = HISTORY_CASES[case]
    if noise is None:
        noise = 1e-2 if xp.dtype_name == "float32" else 1e-5
    X_host, y_host = offset_problem(np.random.default_rng(5), noise=noise, offset=offset)
    if not fit_intercept:
        # no intercept to absorb an offset: data that the model can fit
        X_host, y_host = X_host - offset, y_host - 0.3
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    host_X, host_y = xp.to_numpy(X), xp.to_numpy(y)
    lr = 0.9 / smoothness(host_X)
    if not offset:  # at 1e4 one step is all a stable lr allows; elsewhere run to the optimum
        lr = 2.0 ** np.floor(np.log2(lr))
    # The table's rtol, relative to the loss itself: its atol (in units of max(1, |loss|))
    # would excuse any error in a loss far below 1.
    relative = Tolerance(rtol=xp.tolerance.rtol, atol=0.0)
    direct = {}
    for steps in (1, 300):  # (on JAX each count compiles its own loop)
        for method in ("statistics", "data"):
            result = gradient_descent(
                X,
                y,
                lr=xp.asarray(lr),
                steps=steps,
                l2=l2,
                fit_intercept=fit_intercept,
                mse_method=method,
            )
            w, b = xp.to_numpy(result.weights), xp.to_numpy(result.bias)
            expected = direct_loss(host_X, host_y, w, b, l2=l2)
            assert_close(
                result.loss_history[-1], expected, like=X, tolerance=relative, err_msg=method
            )
            direct[method, steps] = expected
    if noise < 1e-3 and not offset:  # the runs did reach the near-perfect fit
        assert direct["statistics", 300] < np.var(host_y) / 1e3


@pytest.mark.parametrize("framework", ["numpy", "torch"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_features_far_from_zero_keep_the_start_of_a_near_perfect_fit(framework, dtype_name):
    # A near-perfect fit is expanded around its minimiser w* before the loop (where the
    # solve's budget allows). With features near 1e4 the start's intercept term there,
    # e = b + x̄^T (0 - w*) - (ȳ - x̄^T w*), is the small difference of terms of ~1e4: in
    # float32 an error of ~1e-3 in e, 2e-4 of the start's loss (the table's rtol: 1e-4).
    # Such a minimiser is not taken: the first and last rows agree with the direct formula.
    pytest.importorskip(framework)
    xp = BackendCase(framework, "cpu", dtype_name)
    noise = 1e-2 if dtype_name == "float32" else 1e-5
    rows = [offset_problem(np.random.default_rng(seed), noise=noise, offset=1e4) for seed in (5, 6)]
    X_host, y_host = (np.stack(arrays).astype(dtype_name) for arrays in zip(*rows, strict=True))
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    lr = 0.9 / max(smoothness(problem.astype(np.float64)) for problem in X_host)
    relative = Tolerance(rtol=xp.tolerance.rtol, atol=0.0)
    for steps in (1, 40):
        result = gradient_descent(X, y, lr=lr, steps=steps, mse_method="statistics")
        weights, bias = xp.to_numpy(result.weights), xp.to_numpy(result.bias)
        X64, y64 = X_host.astype(np.float64), y_host.astype(np.float64)
        direct = [direct_loss(*problem) for problem in zip(X64, y64, weights, bias, strict=True)]
        start = np.mean(y64**2, axis=-1)  # w = 0, b = 0
        assert_close(result.loss_history[0], start, like=X, tolerance=relative)
        assert_close(result.loss_history[-1], np.array(direct), like=X, tolerance=relative)


def test_a_second_loop_keeps_the_minimiser_of_the_problems_it_does_not_choose(monkeypatch):
    # Problem 0 fits almost exactly (expanded around its minimiser before the loop),
    # problem 1 is chosen for a second loop around its weights: problem 0 must keep its
    # expansion there, or its final loss (~1e-10) would carry an error of ~1e-16.
    rng = np.random.default_rng(11)
    (X0, y0), (X1, y1) = offset_problem(rng, noise=1e-5), offset_problem(rng, noise=0.5)
    X, y = np.stack([X0, X1]), np.stack([y0, y1])
    chosen = np.array([False, True])
    monkeypatch.setattr(descent_module, "rows_needing_reference", lambda *a, **k: chosen)
    lr = np.array([0.9 / smoothness(X0), 0.9 / smoothness(X1)])
    result = gradient_descent(X, y, lr=lr, steps=300, mse_method="statistics")
    relative = Tolerance(rtol=1e-9, atol=0.0)
    for problem in (0, 1):
        weights, bias = result.weights[problem], result.bias[problem]
        expected = direct_loss(X[problem], y[problem], weights, bias)
        assert_close(result.loss_history[-1, problem], expected, like=X, tolerance=relative)
    assert direct_loss(X0, y0, result.weights[0], result.bias[0]) < 1e-8


def collinear_problems(rng, *, batch=16, n=64, d=8, factor=2.0, noise=0.0):
    """Problems whose second feature is ``factor`` times the first (a singular Gram; with
    factor 2 exactly: ``X @ (2, -1, 0, ...) == 0``), targets a linear function of them."""
    X = rng.normal(size=(batch, n, d))
    X[..., 1] = factor * X[..., 0]
    y = np.einsum("bnd,bd->bn", X, rng.normal(size=(batch, d))) + 2.0
    return X, y + rng.normal(scale=noise, size=y.shape)


def check_fit_of_the_data_path(xp: BackendCase, X_host, y_host, *, lr, steps):
    """The fit on the statistics against the fit on the data (the loop's tolerance), and
    its history's last row against the direct formula at its weights (the table's rtol
    of the loss itself)."""
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    result = gradient_descent(X, y, lr=lr, steps=steps, mse_method="statistics")
    from_data = gradient_descent(X, y, lr=lr, steps=steps, mse_method="data")
    assert_loop_close(result.weights, xp.to_numpy(from_data.weights), like=X, xp=xp)
    assert_loop_close(result.bias, xp.to_numpy(from_data.bias), like=X, xp=xp)
    weights, bias = xp.to_numpy(result.weights), xp.to_numpy(result.bias)
    host_X, host_y = (xp.to_numpy(array).astype(np.float64) for array in (X, y))
    fits = zip(host_X, host_y, weights, bias, strict=True)
    direct = [direct_loss(*problem) for problem in fits]
    relative = Tolerance(rtol=xp.tolerance.rtol, atol=0.0)
    assert_close(result.loss_history[-1, ...], np.array(direct), like=X, tolerance=relative)


@pytest.mark.parametrize(("seed", "factor"), [(5, 0.1), (9, 7.1), (0, 2.0)])
def test_collinear_features_keep_an_accurate_history(xp: BackendCase, seed, factor):
    # A singular Gram: the minimiser solved before the loop can be any point of a line,
    # as far out along it as rounding puts it (seeds 5 and 9 put one at ~1e8 with this
    # machine's NumPy LAPACK, whose expansion then cancelled: histories of 1e16, wrong
    # weights).
    # (float32 with noise: an exact fit's residuals, 1e-2 of y, carry y's rounding, 1e-5
    # relative, into the direct formula's own loss as 1e-4)
    noise = 0.0 if xp.dtype_name == "float64" else 0.1
    X, y = collinear_problems(np.random.default_rng(seed), factor=factor, noise=noise)
    check_fit_of_the_data_path(xp, X, y, lr=0.01, steps=300)


@pytest.mark.parametrize("framework", ["numpy", "torch"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_weights_far_short_of_the_minimiser_keep_their_digits(framework, dtype_name):
    # Features of 1e-3 whose targets vary by 1: minimisers of ~1e3, solved before the loop
    # (a near-perfect fit), while 40 steps (an lr bound by the intercept's curvature) move
    # the weights by ~1e-2. Expanded around the minimiser they are delta + w*, eps * 1e3
    # off (float32: ~1e-4, 1% of them): the loop runs again around its own weights.
    pytest.importorskip(framework)
    rng = np.random.default_rng(4)
    scaled = rng.normal(size=(4, 40, 2))
    noise = 1e-2 if dtype_name == "float32" else 1e-5
    y = np.einsum("bnd,bd->bn", scaled, rng.normal(size=(4, 2))) + 0.3
    y += rng.normal(scale=noise, size=y.shape)
    X = 1e-3 * scaled
    lr = 0.9 / max(smoothness(problem) for problem in X)
    check_fit_of_the_data_path(BackendCase(framework, "cpu", dtype_name), X, y, lr=lr, steps=40)


@pytest.mark.parametrize("framework", ["numpy", "torch"])
@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
def test_a_run_that_grew_far_keeps_its_start(framework, dtype_name):
    # lr 500 times the stable one, 2 steps (not yet flagged as diverging), features of 1e3
    # around 1e4: the terms around the weights reached dwarf the start's loss. A second
    # loop around them lost the start (float32: the first row 2.4x and 10x off); it is
    # not run where the start would lose digits.
    pytest.importorskip(framework)
    xp = BackendCase(framework, "cpu", dtype_name)
    rngs = [np.random.default_rng(seed) for seed in (1, 2)]
    X_host = np.stack([1e4 + 1e3 * rng.normal(size=(20, 3)) for rng in rngs])
    weights = np.stack([rng.normal(size=3) for rng in rngs])
    y_host = np.einsum("bnd,bd->bn", X_host - 1e4, weights) + 30.0
    lr = 500 / max(smoothness(problem) for problem in X_host)
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    result = gradient_descent(X, y, lr=lr, steps=2, mse_method="statistics")
    assert not np.any(xp.to_numpy(result.diverged))
    start = np.mean(xp.to_numpy(y).astype(np.float64) ** 2, axis=-1)  # w = 0, b = 0
    relative = Tolerance(rtol=xp.tolerance.rtol, atol=0.0)
    assert_close(result.loss_history[0], start, like=X, tolerance=relative)


def test_a_far_off_reference_is_replaced_after_the_loop(monkeypatch):
    # Expanded around a minimiser 1e8 out along the Gram's null direction (2, -1, 0, ...):
    # its terms near the optimum are ~1e16 and cancel; the loop must run again.
    X, y = collinear_problems(np.random.default_rng(3), batch=4)
    null_direction = np.array([2.0, -1.0] + [0.0] * 6)

    def around_a_far_minimiser(statistics, features, targets, l2, *, xp):
        centred = features - features.mean(axis=1, keepdims=True)
        problems = zip(centred, targets, strict=True)
        minimiser = np.stack([np.linalg.lstsq(a, b - b.mean())[0] for a, b in problems])
        far = minimiser + 1e8 * null_direction
        chosen = np.ones(len(far), dtype=bool)
        return reference_module.around_reference(
            statistics, features, targets, far, chosen, l2, xp=xp
        )

    monkeypatch.setattr(descent_module, "around_the_minimum", around_a_far_minimiser)
    xp = BackendCase("numpy", "cpu", "float64")
    check_fit_of_the_data_path(xp, X, y, lr=0.01, steps=300)


@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_statistics_are_those_of_the_centred_data(xp: BackendCase, offset):
    # X^T X / n - mean mean^T cancels every digit of X + 1e4 in float32 (~6 eps 1e8 against
    # variances of 1): such data are centred before the Gram.
    X, y = (xp.asarray(values) for values in offset_batch(offset))
    check_centred_statistics(mse_statistics(X, y, 0.5, True, xp=xp.xp), X, y, xp.to_numpy)


@pytest.mark.parametrize("dtype_name", ["float32", "float64"])
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_jitted_statistics_choose_the_centred_copy_inside_the_program(offset, dtype_name):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    X, y = (jax.numpy.asarray(values, dtype=dtype_name) for values in offset_batch(offset))
    compiled = jax.jit(lambda X, y: mse_statistics(X, y, 0.5, True, xp=jax.numpy))
    check_centred_statistics(compiled(X, y), X, y, np.asarray)


def offset_batch(offset: float) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(4)
    return rng.normal(size=(2, 50, 3)) + offset, rng.normal(size=(2, 50)) + offset


def check_centred_statistics(statistics, X, y, to_numpy) -> None:
    host_X, host_y = to_numpy(X).astype(np.float64), to_numpy(y).astype(np.float64)
    centred_X = host_X - host_X.mean(axis=1, keepdims=True)
    centred_y = host_y - host_y.mean(axis=1, keepdims=True)
    gram = np.swapaxes(centred_X, 1, 2) @ centred_X / 50 + 0.5 * np.eye(3)
    assert_close(statistics.curvature, gram, like=X)
    assert_close(statistics.linear, -np.einsum("bnd,bn->bd", centred_X, centred_y) / 50, like=X)
    assert_close(statistics.offset, centred_y.var(axis=1), like=X)
    assert_close(statistics.feature_mean, host_X.mean(axis=1), like=X)
    assert_close(statistics.target_mean, host_y.mean(axis=1), like=X)


def test_history_of_a_frozen_problem_repeats_its_last_loss_on_statistics(xp: BackendCase):
    X_host, y_host = offset_problem(np.random.default_rng(1), n=20, d=2)
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    lr = xp.asarray([0.0625, 64.0])  # the second diverges in a few steps
    result = gradient_descent(X, y, lr=lr, steps=12, mse_method="statistics")
    assert xp.to_numpy(result.diverged).tolist() == [False, True]
    stopped = int(xp.to_numpy(result.steps_run)[1])
    w, _, losses = reference_descent(xp.to_numpy(X), xp.to_numpy(y), lr=64.0, steps=stopped)
    assert_loop_close(result.weights[1, ...], w, like=X, xp=xp)
    history = xp.to_numpy(result.loss_history)[:, 1]
    assert_loop_close(result.loss_history[: stopped + 1, 1], losses, like=X, xp=xp)
    assert np.all(history[stopped:] == history[stopped])


NUMPY_FAMILY = [
    pytest.param(
        case,
        id=case.id,
        marks=[pytest.mark.skip(reason=case.skip_reason)] if case.skip_reason else [],
    )
    for case in backend_cases(("numpy", "dask", "array_api_strict"))
]
"""The backends whose arithmetic is NumPy's, which warns of overflow (torch and JAX never
do): the warning tests run there only (on JAX, 3,000 eager Adam steps took 8 s a case)."""


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize(
    "options",
    [
        {"mse_method": "statistics"},
        {"mse_method": "statistics", "halt_on_divergence": False},
        {"mse_method": "statistics", "tol": 1e-9},
        {"mse_method": "data"},
        {"mse_method": "data", "halt_on_divergence": False},
        {"loss": "logistic", "halt_on_divergence": False},
        {"optimizer": "adam", "halt_on_divergence": False},
    ],
    ids=repr,
)
@pytest.mark.parametrize("case", NUMPY_FAMILY)
def test_a_diverging_fit_warns_of_nothing_but_its_flag(case: BackendCase, options):
    """Overflow in the loop is the divergence it reports: no NumPy RuntimeWarning leaks
    (blocks of steps run past a problem's stop; torch and JAX never warn)."""
    X_host, y_host = offset_problem(np.random.default_rng(2), n=32, d=4)
    y_host = (y_host > 0).astype(float) if options.get("loss") == "logistic" else y_host
    X, y = case.asarray(np.stack([X_host, X_host])), case.asarray(np.stack([y_host, y_host]))
    # Adam's steps are about lr each whatever the gradient: at 1e6 its loss rose and fell
    # for 2,900 steps before the rule saw it run away; near the range's end, the first
    # step's loss is past it, and the 300 steps go on through inf and NaN
    adam_lr = 1e30 if case.dtype_name == "float32" else 1e300
    lr = case.asarray([0.01, adam_lr if options.get("optimizer") == "adam" else 1e3])
    result = gradient_descent(X, y, lr=lr, steps=300, **options)
    assert case.to_numpy(result.diverged).tolist() == [False, True]


@pytest.mark.filterwarnings("error")
@pytest.mark.parametrize("optimizer", [{"optimizer": "adam"}, {"momentum": 0.9}, {}], ids=repr)
@pytest.mark.parametrize("case", NUMPY_FAMILY)
def test_weights_driven_near_the_largest_float_warn_of_nothing(case: BackendCase, optimizer):
    """Adam at lr 1e300 without halting left finite weights of 1e300, whose sizes in the
    check after the loop (is the history accurate?) overflowed: a RuntimeWarning on NumPy,
    Dask and array-api-strict. Diverged problems are left out of that check."""
    rng = np.random.default_rng(0)
    X, y = case.asarray(rng.normal(size=(10, 2))), case.asarray(rng.normal(size=10))
    lr = case.asarray(1e30 if case.dtype_name == "float32" else 1e300)
    result = gradient_descent(X, y, lr=lr, steps=20, halt_on_divergence=False, **optimizer)
    assert bool(case.to_numpy(result.diverged))


def test_statistics_past_the_dtype_range_fall_back_to_the_data(xp: BackendCase):
    # float32 features of 1e20: their Gram (1e40 x n) is past float32's 3.4e38, every
    # loss was NaN; the steps from the data stay finite. (float64 alike at 1e154.)
    scale = 1e20 if xp.dtype_name == "float32" else 1e154  # squares of 1e308 and more
    X_host, y_host = offset_problem(np.random.default_rng(3), n=16, d=2)
    X, y = xp.asarray(np.stack([X_host, X_host]) * scale), xp.asarray(np.stack([y_host] * 2))
    lr = 0.5 / scale / scale
    with warnings.catch_warnings():
        # where the statistics are read, their overflow warned (NumPy, and each Dask
        # chunk's NumPy fit) of a Gram the fit then left for the data; where they are not,
        # the fit's losses are not finite, and NumPy's warnings say so
        warnings.simplefilter("error" if values_known(X) else "ignore", RuntimeWarning)
        result = gradient_descent(X, y, lr=lr, steps=5, mse_method="statistics")
        diverged = xp.to_numpy(result.diverged)  # Dask's fit runs here
    if not values_known(X):  # a device whose values are not read: flagged, not hidden
        assert np.all(diverged)
        return
    from_data = gradient_descent(X, y, lr=lr, steps=5, mse_method="data")
    assert not np.any(diverged)
    assert_close(result.weights, xp.to_numpy(from_data.weights), like=X)
    assert_close(result.loss_history, xp.to_numpy(from_data.loss_history), like=X)


@pytest.mark.parametrize("method", ["statistics", "auto"])
def test_no_features_fit_the_intercept_alone(xp: BackendCase, method):
    # d = 0: the statistics had nothing to hold (NumPy's matmul raised on a (B, 0, 0) Gram);
    # the data fit b alone: b <- b - 2 lr (b - ȳ), so b_T = ȳ (1 - (1 - 2 lr)^T).
    y_host = np.random.default_rng(4).normal(loc=3.0, size=(2, 10))
    X, y = xp.asarray(np.zeros((2, 10, 0))), xp.asarray(y_host)
    result = gradient_descent(X, y, lr=0.1, steps=7, mse_method=method)
    assert result.weights.shape == (2, 0)
    assert_close(result.bias, y_host.mean(axis=-1) * (1 - 0.8**7), like=X)


# -- choosing the path --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("n", "d", "steps", "method", "in_blocks", "expected"),
    [
        (512, 32, 200, "auto", False, True),
        (32, 32, 200, "auto", False, True),  # n <= d, but p^2 < 2 n p a step
        (16, 64, 200, "auto", False, False),  # p^2 > 2 n p
        (16, 64, 200, "auto", True, True),  # ... but 40 calls a step against 4
        (16, 2048, 100, "auto", True, False),  # arithmetic, not calls
        (512, 32, 1, "auto", True, False),  # one step: the Gram costs more than it saves
        (16, 2048, 100, "statistics", False, True),
        (512, 32, 200, "data", True, False),
    ],
)
def test_when_the_statistics_are_used(n, d, steps, method, in_blocks, expected):
    options = Options(**{**OPTIONS, "steps": steps, "mse_method": method})
    arrays = (np.zeros((1, n, d)), np.zeros((1, n)), np.zeros((1, 1)))
    problems = Setup(*arrays, 1, False, options, np.dtype(np.float64))
    assert uses_statistics(problems, in_blocks=in_blocks) is expected
    logistic = dataclasses.replace(options, loss="logistic")
    logistic_problems = dataclasses.replace(problems, options=logistic)
    assert not uses_statistics(logistic_problems, in_blocks=in_blocks)


def test_unknown_mse_method_is_refused():
    with pytest.raises(ValueError, match=r"^gradient_descent: unknown mse_method 'gram'"):
        gradient_descent(np.ones((4, 2)), np.zeros(4), mse_method="gram")


# -- JAX: the loop compiled, inside the caller's jax.jit too ------------------------------


@pytest.mark.parametrize(
    "options",
    [
        {"lr": 0.0625, "momentum": 0.5},
        {"lr": 0.0625, "optimizer": "adam", "warmup_steps": 2, "clip_norm": 1.0},
        {"lr": 0.0625, "mse_method": "data", "l2": 0.25},
        {"loss": "logistic", "lr": 0.5},
    ],
    ids=["momentum", "adam", "mse-data", "logistic"],
)
@pytest.mark.parametrize("tol", [None, 1e-3])
def test_jax_jit_equals_eager(options, tol):
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    rng = np.random.default_rng(2)
    X_host, y_host = rng.normal(size=(3, 30, 2)), rng.normal(size=(3, 30))
    if options.get("loss") == "logistic":
        y_host = (y_host > 0).astype(np.float64)
    X, y = jax.device_put(X_host), jax.device_put(y_host)
    steps = 40

    def fit(features, targets):  # a result dataclass is no JAX type: return its fields
        return fields_of(gradient_descent(features, targets, steps=steps, tol=tol, **options))

    def fit_generic(features, targets):  # no dispatch: lr must be an array already
        given = {**options, "lr": jax.numpy.asarray(options["lr"])}
        generic = gradient_descent.generic
        return fields_of(generic(features, targets, steps=steps, tol=tol, xp=jax.numpy, **given))

    eager = fit(X, y)
    rows = eager["loss_history"].shape[0]
    compiled_forms = [jax.jit(fit)(X, y)]
    if "momentum" in options:  # the undispatched kernel once: each form compiles anew
        compiled_forms.append(jax.jit(fit_generic)(X, y))
    for compiled in compiled_forms:
        for field in ("weights", "bias"):
            assert_close(compiled[field], np.asarray(eager[field]), like=X, err_msg=field)
        for field in ("diverged", "converged", "steps_run"):
            np.testing.assert_array_equal(compiled[field], eager[field], err_msg=field)
        assert compiled["loss_history"].shape == (steps + 1, 3)
        assert_close(compiled["loss_history"][:rows], np.asarray(eager["loss_history"]), like=X)
        # After an early stop (tol) every problem is frozen: its rows repeat the last.
        padding = np.broadcast_to(np.asarray(eager["loss_history"])[-1], (steps + 1 - rows, 3))
        assert_close(compiled["loss_history"][rows:], padding, like=X)
    if tol is not None:
        assert rows < steps + 1  # the early stop did happen


def test_jax_jit_runs_the_second_loop_near_the_optimum():
    # Under jax.jit the second loop, around the first fit's weights, is chosen inside the
    # program (lax.cond): near the optimum the jitted fit must agree with the eager one,
    # and its history with the direct formula. (The centred copy of X, chosen the same
    # way: test_jitted_statistics_choose_the_centred_copy_inside_the_program.)
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    offset, noise, l2 = HISTORY_CASES["near-optimum"]
    X_host, y_host = offset_problem(np.random.default_rng(5), noise=noise or 1e-5, offset=offset)
    lr = float(0.9 / smoothness(X_host))
    X, y = jax.device_put(X_host), jax.device_put(y_host)

    def fit(features, targets):
        options = {"lr": lr, "steps": 300, "l2": l2, "mse_method": "statistics"}
        return fields_of(gradient_descent(features, targets, **options))

    eager, jitted = fit(X, y), jax.jit(fit)(X, y)
    for field in ("weights", "bias", "loss_history"):
        assert_close(jitted[field], np.asarray(eager[field]), like=X, err_msg=field)
    weights, bias = np.asarray(jitted["weights"]), np.asarray(jitted["bias"])
    expected = direct_loss(X_host, y_host, weights, bias, l2=l2)
    relative = Tolerance(rtol=1e-9, atol=0.0)
    assert_close(jitted["loss_history"][-1], expected, like=X, tolerance=relative)


def fields_of(result):
    return result._asdict()


def test_value_checks_are_skipped_under_jax_jit_only():
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    X, y = jax.device_put(np.ones((4, 2))), jax.device_put(np.array([0.0, 1.0, 2.0, 1.0]))
    with pytest.raises(ValueError, match=r"labels y in \{0, 1\}"):
        gradient_descent(X, y, loss="logistic", steps=2)
    traced = jax.jit(lambda f, t: gradient_descent(f, t, loss="logistic", steps=2).weights)
    assert traced(X, y).shape == (2,)


def _plain_heavy_ball_diverges(design: np.ndarray, y: np.ndarray, lr: float, beta: float) -> bool:
    """The plain heavy-ball loop, 600 steps from zero: does its loss end non-finite or far
    above where it began?"""
    params, velocity = np.zeros(design.shape[1]), np.zeros(design.shape[1])
    start = np.mean(y**2)
    with np.errstate(all="ignore"):
        for _ in range(600):
            gradient = 2 / len(y) * design.T @ (design @ params - y)
            velocity = beta * velocity + gradient
            params = params - lr * velocity
        final = np.mean((design @ params - y) ** 2)
    return not np.isfinite(final) or final > 10 * start


@pytest.mark.parametrize("beta", [0.0, 0.5, 0.9, 0.99])
@pytest.mark.parametrize("fraction_of_limit", [0.5, 0.9, 0.99, 1.05])
def test_divergence_flag_agrees_with_long_runs_of_the_plain_update(beta, fraction_of_limit):
    # Heavy ball on a quadratic converges iff lr < 2 (1 + beta) / L: near that limit a
    # converging run rises above its start for a while (the flag must not fire), above it
    # the loss grows without end (the flag must fire, and the weights stay finite).
    rng = np.random.default_rng(0)
    X = rng.normal(size=(50, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.1 * rng.normal(size=50)
    design = np.c_[X, np.ones(50)]
    curvature = 2 * np.linalg.eigvalsh(design.T @ design / 50).max()
    lr = fraction_of_limit * 2 * (1 + beta) / curvature
    result = gradient_descent(X, y, lr=lr, steps=600, momentum=beta)
    assert bool(result.diverged) == _plain_heavy_ball_diverges(design, y, lr, beta)
    assert bool(result.diverged) == (fraction_of_limit > 1)
    assert np.all(np.isfinite(result.weights))
