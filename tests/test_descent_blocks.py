"""Plain gradient descent on the MSE's statistics in blocks of affine steps
(``mlpillars.kernels._descent_blocks``) against the step-by-step loop it replaces.

The step loop (``DescentLoop``) is the reference: both run the same updates, so flags and
counts must be equal and every float agree within the loop tolerance, including where
problems stop in the middle of a block, the last block runs past ``steps``, and the fit
runs a second time near the optimum. The step loop itself is checked against the float64
reference loop in ``test_calculus`` and ``test_descent``.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlpillars.backends import device_of, values_at_hand
from mlpillars.kernels import _descent_block_rules as rules_module
from mlpillars.kernels import _descent_blocks as blocks_module
from mlpillars.kernels import _descent_reference as reference_module
from mlpillars.kernels import descent as descent_module
from mlpillars.kernels._descent_blocks import (
    BLOCK_STEPS,
    BLOCK_VALUES,
    block_length,
    runs_in_blocks,
)
from mlpillars.kernels._descent_reference import around_reference
from mlpillars.kernels._descent_setup import Options
from mlpillars.kernels._descent_statistics import mse_statistics
from mlpillars.kernels.descent import gradient_descent
from mlpillars.testing import BackendCase
from tests.property_support import scaled_examples
from tests.test_calculus import assert_loop_close
from tests.test_descent import OPTIONS, direct_loss, offset_problem, smoothness

FIELDS = ("weights", "bias", "loss_history")
EXACT_FIELDS = ("diverged", "converged", "steps_run")


def problems(seed: int, *, b: int = 6, n: int = 40, d: int = 3, offset: float = 0.0, noise=0.5):
    rng = np.random.default_rng(seed)
    pairs = [offset_problem(rng, n=n, d=d, noise=noise, offset=offset) for _ in range(b)]
    return np.stack([X for X, _ in pairs]), np.stack([y for _, y in pairs])


def limits(X: np.ndarray) -> np.ndarray:
    """Each problem's stability limit of lr, 2 / L."""
    return np.array([2 / smoothness(features) for features in X])


TOL = {"float32": 1e-4, "float64": 1e-7}
"""A loss change that means convergence: well above the dtype's rounding of the loss."""

HUGE = {"float32": 1e12, "float64": 1e100}
"""A multiple of the stability limit whose loss overflows at the second step (finite at
the first): a non-finite step inside a block, taken back, before the rising rule fires."""

CASES = {
    # stops (tol) in different blocks, one never; steps not a whole number of blocks
    "tol across blocks": ({"tol": "tol", "steps": 2 * BLOCK_STEPS + 5}, [0.05, 0.2, 0.5, 0.9]),
    # two converge, two diverge: one growing finitely past its start (step 7), one not
    # finite at its second step (taken back: one step run)
    "divergence halts": ({"steps": 3 * BLOCK_STEPS}, [0.5, 0.9, 1.02, "huge"]),
    "divergence halts, tol": ({"steps": 3 * BLOCK_STEPS, "tol": "tol"}, [0.5, 0.9, 1.02, "huge"]),
    "divergence goes on": ({"steps": BLOCK_STEPS + 3, "halt_on_divergence": False}, [0.5, 1.1]),
    "no intercept, l2": ({"steps": 20, "fit_intercept": False, "l2": 0.25}, [0.3, 0.6]),
    # every block's steps all taken (the rules skipped) but the last, past ``steps``
    "every step taken": ({"steps": 2 * BLOCK_STEPS + 5}, [0.3, 0.6, 0.9]),
    "fewer steps than a block": ({"steps": 5}, [0.3, 0.6]),
    "one step": ({"steps": 1}, [0.3, 0.6]),
}


LONG_BLOCK_CASES = ["divergence halts", "divergence goes on", "no intercept, l2"]
"""Cases without ``tol``: their small batches run in one long block by default."""


@pytest.fixture(autouse=True)
def _blocks_of_block_steps(monkeypatch):
    """Blocks of :data:`BLOCK_STEPS` steps, so that a few small problems still run in
    several (the tests of long blocks set the default back)."""
    monkeypatch.setattr(blocks_module, "BLOCK_VALUES", 0)


JAX_CASE = "divergence halts, tol"
"""JAX runs the step loop by choice (``loops_compiled``); its blocks, which every case
compiles anew (5-14 s), are checked on one case in float64: an early stop inside a
compiled loop."""


def skip_most_on_jax(xp: BackendCase, case: str = "") -> None:
    if xp.backend == "jax" and (case != JAX_CASE or xp.dtype_name != "float64"):
        pytest.skip(f"JAX runs the step loop; its blocks are checked on {JAX_CASE!r} only")


def fit_both(monkeypatch, X, y, lr, options):
    """The fit in blocks (also on JAX, which runs the step loop by choice) and the fit
    step by step."""
    with monkeypatch.context() as patched:
        patched.setattr(descent_module, "loops_compiled", lambda array: False)
        blocks = gradient_descent(X, y, lr=lr, **options)
    with monkeypatch.context() as patched:
        patched.setattr(descent_module, "runs_in_blocks", lambda options: False)
        steps = gradient_descent(X, y, lr=lr, **options)
    return blocks, steps


def assert_same_fit(blocks, steps, *, like, xp: BackendCase) -> None:
    for field in EXACT_FIELDS:
        np.testing.assert_array_equal(
            xp.to_numpy(getattr(blocks, field)), xp.to_numpy(getattr(steps, field)), err_msg=field
        )
    assert blocks.loss_history.shape == steps.loss_history.shape
    for field in FIELDS:
        expected = xp.to_numpy(getattr(steps, field))
        actual = xp.to_numpy(getattr(blocks, field))
        finite = np.isfinite(expected)
        np.testing.assert_array_equal(np.isfinite(actual), finite, err_msg=field)
        # compared where finite (an infinite entry would widen the absolute tolerance)
        masked = xp.asarray(np.where(finite, actual, 0.0))
        assert_loop_close(masked, np.where(finite, expected, 0.0), like=like, xp=xp, err_msg=field)


@pytest.mark.parametrize("case", list(CASES))
def test_blocks_equal_the_step_loop(xp: BackendCase, monkeypatch, case):
    skip_most_on_jax(xp, case)
    options, fractions = CASES[case]
    X_host, y_host = problems(3, b=len(fractions))
    fractions = [HUGE[xp.dtype_name] if f == "huge" else f for f in fractions]
    lr_host = np.asarray(fractions) * limits(X_host)
    X, y, lr = xp.asarray(X_host), xp.asarray(y_host), xp.asarray(lr_host)
    options = {"mse_method": "statistics", **options}
    if "tol" in options:
        options["tol"] = TOL[xp.dtype_name]
    blocks, steps = fit_both(monkeypatch, X, y, lr, options)
    assert_same_fit(blocks, steps, like=X, xp=xp)
    diverged = xp.to_numpy(steps.diverged)
    if case.startswith("divergence halts"):
        assert diverged.tolist() == [False, False, True, True]
        stopped = xp.to_numpy(steps.steps_run)[2:]
        assert np.all(stopped % BLOCK_STEPS != 0)  # inside a block
        assert stopped[1] == 1  # not finite at step 2 (too soon for the rising rule)
    if case == "tol across blocks":
        assert len(set(xp.to_numpy(steps.steps_run).tolist())) > 2


@pytest.mark.parametrize(
    ("fractions", "options", "expected"),
    [
        ([0.3, 0.6, 0.9], {}, [True, True, False]),  # the last block runs past steps
        ([0.3, 0.6, 0.9], {"steps": 3 * BLOCK_STEPS}, [True, True, True]),
        ([0.3, 0.6, 0.9], {"tol": 1e-12}, [False, False, False]),
        ([0.3, 1.2], {}, [False, False, False]),  # past its start at step 3, diverged
        ([0.3, 1.2], {"halt_on_divergence": False}, [False, False, False]),
    ],
)
def test_rules_skipped_only_where_every_step_is_taken(monkeypatch, fractions, options, expected):
    # An eager block whose losses are all finite and at most their start, with no tol and
    # no problem diverged before, takes every step: the rules are skipped there only.
    answers = []
    every_step_taken = rules_module._every_step_taken

    def recorded(*args, **kwargs):
        answers.append(every_step_taken(*args, **kwargs))
        return answers[-1]

    monkeypatch.setattr(rules_module, "_every_step_taken", recorded)
    X, y = problems(3, b=len(fractions))
    lr = np.asarray(fractions) * limits(X)
    options = {"mse_method": "statistics", "steps": 2 * BLOCK_STEPS + 5, **options}
    gradient_descent(X, y, lr=lr, **options)
    assert answers == expected


@pytest.mark.parametrize("case", LONG_BLOCK_CASES)
def test_long_blocks_equal_the_step_loop(xp: BackendCase, monkeypatch, case):
    # Without tol no problem ends the loop early: a small batch runs all its steps in one
    # block, whose rules see every stop (divergence) inside it.
    skip_most_on_jax(xp)
    monkeypatch.setattr(blocks_module, "BLOCK_VALUES", BLOCK_VALUES)
    options, fractions = CASES[case]
    X_host, y_host = problems(3, b=len(fractions))
    fractions = [HUGE[xp.dtype_name] if f == "huge" else f for f in fractions]
    X, y = xp.asarray(X_host), xp.asarray(y_host)
    lr = xp.asarray(np.asarray(fractions) * limits(X_host))
    options = {"mse_method": "statistics", **options}
    every_option = Options(**{**OPTIONS, **options})
    n_params = X_host.shape[-1] + int(every_option.fit_intercept)
    assert block_length(len(fractions), n_params, every_option) == options["steps"]
    blocks, steps = fit_both(monkeypatch, X, y, lr, options)
    assert_same_fit(blocks, steps, like=X, xp=xp)


@pytest.mark.parametrize(
    ("batch_size", "n_params", "steps", "tol", "expected"),
    [
        (256, 33, 200, None, 16),  # 13 blocks of 16
        (8, 17, 50, None, 50),  # one block
        (8, 17, 50, 1e-6, 13),  # 4 blocks with tol, 52 steps computed, not 64
        (8, 17, 10_000, None, 910),  # 11 blocks, each within BLOCK_VALUES
        (1, 1, 5, None, 5),
    ],
)
def test_block_length(batch_size, n_params, steps, tol, expected, monkeypatch):
    monkeypatch.setattr(blocks_module, "BLOCK_VALUES", BLOCK_VALUES)
    options = Options(**{**OPTIONS, "steps": steps, "tol": tol})
    length = block_length(batch_size, n_params, options)
    assert length == expected
    blocks = -(-steps // length)
    assert blocks * length - steps < blocks  # the last block runs past steps by < blocks
    assert length <= max(BLOCK_STEPS, BLOCK_VALUES // (batch_size * n_params))


def test_block_length_of_more_values(monkeypatch):
    # NumPy's blocks hold 4 x BLOCK_VALUES: the fit in 2 blocks a part of 128
    # problems (not 7), in 4 where one call fits all 256 (not 13)
    monkeypatch.setattr(blocks_module, "BLOCK_VALUES", BLOCK_VALUES)
    options = Options(**{**OPTIONS, "steps": 200})
    assert block_length(128, 33, options, 4 * BLOCK_VALUES) == 100
    assert block_length(128, 33, options) == 29
    assert block_length(256, 33, options, 4 * BLOCK_VALUES) == 50
    assert block_length(256, 33, options) == 16


@pytest.mark.parametrize(
    ("backend", "scale"), [("numpy", 4), ("torch", 1), ("array_api_strict", 1)]
)
def test_the_blocks_hold_what_the_buffers_ask(backend, scale, monkeypatch):
    module = pytest.importorskip(backend)
    monkeypatch.setattr(blocks_module, "BLOCK_VALUES", BLOCK_VALUES)
    asked, original = [], blocks_module.block_length

    def recorded(*args):
        asked.append(args[3])
        return original(*args)

    monkeypatch.setattr(blocks_module, "block_length", recorded)
    X, y = (module.asarray(a) for a in problems(4, b=3))
    gradient_descent(X, y, lr=0.05, steps=30, mse_method="statistics")
    assert asked == [scale * BLOCK_VALUES]


NEAR_OPTIMUM = {"float32": 1e-2, "float64": 1e-5}
"""Noise small enough that the fit's losses call for the second loop (around its weights)."""


@pytest.mark.parametrize("case", ["centred copy", "second loop", "minimiser first"])
def test_blocks_on_the_statistics_of_hard_data(xp: BackendCase, monkeypatch, case):
    # Features near 1e4 (the statistics centre a copy of X), and a near-exact fit: the loop
    # runs around each problem's minimiser from the start, or (its solve turned off) again
    # around the first fit's weights. Each objective runs in blocks.
    skip_most_on_jax(xp)
    if case == "centred copy":
        X_host, y_host = problems(5, b=2, offset=1e4)
    else:
        X_host, y_host = problems(5, b=2, noise=NEAR_OPTIMUM[xp.dtype_name])
    if case == "second loop":
        monkeypatch.setattr(reference_module, "SOLVE_FIRST_BUDGET", 0)
    lr_host = 0.45 * limits(X_host)
    X, y, lr = xp.asarray(X_host), xp.asarray(y_host), xp.asarray(lr_host)
    in_blocks, around_reference = descent_module.descend_in_blocks, []

    def recorded(statistics, *args, **kwargs):
        around_reference.append(statistics.reference is not None)
        return in_blocks(statistics, *args, **kwargs)

    monkeypatch.setattr(descent_module, "descend_in_blocks", recorded)
    blocks, steps = fit_both(monkeypatch, X, y, lr, {"steps": 300, "mse_method": "statistics"})
    assert_same_fit(blocks, steps, like=X, xp=xp)
    if xp.backend == "dask":  # Dask fits each chunk in the NumPy kernel, out of sight here
        return
    if case == "centred copy":
        assert len(around_reference) == 1
    elif case == "second loop" or not values_at_hand(lr):
        # on a GPU (device1 plays one) no solve first: it would read the loss at w*
        assert around_reference == [False, True]
    else:
        assert around_reference == [True]


def test_shared_data_learning_rate_sweep(xp: BackendCase, monkeypatch):
    skip_most_on_jax(xp)
    X_host, y_host = offset_problem(np.random.default_rng(2), n=30, d=2)
    lr_host = np.array([0.25, 0.5, 0.99, 1.5]) * 2 / smoothness(X_host)
    X, y, lr = xp.asarray(X_host), xp.asarray(y_host), xp.asarray(lr_host)
    options = {"steps": BLOCK_STEPS + 9, "tol": TOL[xp.dtype_name], "mse_method": "statistics"}
    blocks, steps = fit_both(monkeypatch, X, y, lr, options)
    assert_same_fit(blocks, steps, like=X, xp=xp)


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({}, True),
        ({"tol": 1e-6}, True),
        ({"halt_on_divergence": False}, True),
        ({"halt_on_divergence": False, "tol": 1e-6}, False),  # the stop falls inside a block
        ({"momentum": 0.5}, False),
        ({"optimizer": "adam"}, False),
        ({"clip_norm": 1.0}, False),
        ({"warmup_steps": 3}, False),
        ({"l2": 0.5, "fit_intercept": False}, True),
    ],
)
def test_which_fits_run_in_blocks(changes, expected):
    assert runs_in_blocks(Options(**{**OPTIONS, **changes})) is expected


def test_compiled_loops_run_step_by_step(monkeypatch):
    # JAX compiles the whole loop: there the step loop is faster and compiles sooner.
    jax = pytest.importorskip("jax")
    jax.config.update("jax_enable_x64", True)
    X_host, y_host = problems(4, b=2)
    in_blocks, calls = descent_module.descend_in_blocks, []

    def recorded(*args, **kwargs):
        calls.append(type(args[0].curvature).__module__)
        return in_blocks(*args, **kwargs)

    monkeypatch.setattr(descent_module, "descend_in_blocks", recorded)
    gradient_descent(jax.device_put(X_host), jax.device_put(y_host), steps=20)
    assert calls == []
    gradient_descent(X_host, y_host, steps=20)
    assert calls == ["numpy"]


def fits_with_buffers(monkeypatch, framework_class, X, y, lr) -> tuple:
    """The buffers the framework made, its fit with them, a fit in which every problem
    steps in every block, and the fit of new arrays (no buffers): problems that stop
    in different blocks, two of them diverging."""
    made, original = [], framework_class.block_buffers

    def recorded(self):
        made.append(original(self))
        return made[-1]

    options = {"steps": 3 * BLOCK_STEPS + 5, "tol": TOL["float64"], "mse_method": "statistics"}
    monkeypatch.setattr(framework_class, "block_buffers", recorded)
    reused = gradient_descent(X, y, lr=lr, **options)
    every_step = gradient_descent(X[:3], y[:3], lr=lr[:3], steps=2 * BLOCK_STEPS)
    monkeypatch.setattr(framework_class, "block_buffers", lambda self: None)
    return made, reused, every_step, gradient_descent(X, y, lr=lr, **options)


@pytest.mark.parametrize("grouped", [False, True], ids=["one loop", "groups of problems"])
def test_numpy_buffers_give_the_fit_of_new_arrays(monkeypatch, grouped):
    # NumPy writes each block's rows and products into buffers its thread keeps; what the
    # loop keeps from a block (the params) is a copy, never a view of a buffer the next
    # block writes. In groups (forced small here), each group reuses them in turn. Its
    # rows advance by powers of the step map (``_numpy_blocks``): the same steps, rounded
    # in another order.
    from mlpillars.backends.frameworks import _problem_groups
    from mlpillars.backends.frameworks.numpy import NumPyFramework

    if grouped:
        monkeypatch.setattr(_problem_groups, "GROUPING_THRESHOLD", 0)
        monkeypatch.setattr(_problem_groups, "CACHE_BYTES", 1)
        monkeypatch.setattr(_problem_groups, "MIN_GROUP", 3)
    X, y = problems(6, b=7)
    lr = np.array([0.05, 0.2, 0.5, 0.9, 0.99, 1.02, HUGE["float64"]]) * limits(X)
    made, reused, every_step, fresh = fits_with_buffers(monkeypatch, NumPyFramework, X, y, lr)
    assert len(made) == 2 and all({"rows", "product"} <= set(m._arrays) for m in made)
    # the params after a block where every problem stepped: a view of the rows, but copied
    assert not np.shares_memory(every_step.weights, made[1]._arrays["rows"])
    for field in EXACT_FIELDS:
        np.testing.assert_array_equal(getattr(reused, field), getattr(fresh, field), field)
    for field in FIELDS:
        np.testing.assert_allclose(getattr(reused, field), getattr(fresh, field), rtol=1e-13)
    assert len(set(fresh.steps_run.tolist())) > 2 and bool(np.any(fresh.diverged))


def test_torch_buffer_gives_the_fit_of_new_tensors(monkeypatch):
    # torch takes each step by its gradient (an addcmul and a baddbmm a step) into buffers
    # made once a fit; the params kept from a block are a copy, never a view of the buffer
    # the next block writes. New tensors (no buffers) take the steps as one affine map.
    torch = pytest.importorskip("torch")
    from mlpillars.backends.frameworks.torch import TorchFramework

    X, y = (torch.asarray(a) for a in problems(6, b=7))
    lr = torch.asarray(np.array([0.05, 0.2, 0.5, 0.9, 0.99, 1.02, 1e100]) * limits(X.numpy()))
    made, reused, every_step, fresh = fits_with_buffers(monkeypatch, TorchFramework, X, y, lr)
    assert len(made) == 2 and set(made[1]._buffers) == {"rows", "gradients"}
    kept = every_step.weights.untyped_storage().data_ptr()
    assert all(kept != b.untyped_storage().data_ptr() for b in made[1]._buffers.values())
    for field in EXACT_FIELDS:
        np.testing.assert_array_equal(getattr(reused, field), getattr(fresh, field), field)
    for field in FIELDS:  # the same steps, rounded in another order
        np.testing.assert_allclose(getattr(reused, field), getattr(fresh, field), rtol=1e-13)
    assert len(set(fresh.steps_run.tolist())) > 2 and bool(torch.any(fresh.diverged))


@pytest.mark.parametrize("mode", ["autograd", "forward"])
def test_torch_blocks_differentiate_through_their_steps(mode):
    # out= products are not recorded for differentiation: there the steps make new tensors
    torch = pytest.importorskip("torch")
    X_host, y_host = problems(8, b=3)
    X, y = torch.asarray(X_host), torch.asarray(y_host)
    direction = torch.asarray(np.random.default_rng(1).normal(size=X_host.shape))
    options = {"lr": 0.1, "steps": 2 * BLOCK_STEPS + 3, "mse_method": "statistics"}

    def final_loss(features):
        return gradient_descent(features, y, **options).loss_history[-1].sum()

    if mode == "autograd":
        features = X.clone().requires_grad_()
        final_loss(features).backward()
        derivative = torch.sum(features.grad * direction)
    else:
        import torch.autograd.forward_ad as forward_ad

        with forward_ad.dual_level():
            dual = forward_ad.make_dual(X, direction)
            derivative = forward_ad.unpack_dual(final_loss(dual)).tangent
    step = 1e-6
    expected = (final_loss(X + step * direction) - final_loss(X - step * direction)) / (2 * step)
    np.testing.assert_allclose(float(derivative), float(expected), rtol=1e-5)


@pytest.mark.parametrize("offset", [0.0, 1e4], ids=["centred data", "features near 1e4"])
@pytest.mark.parametrize("fit_intercept", [True, False], ids=["intercept", "no intercept"])
@pytest.mark.parametrize("expanded", [False, True], ids=["around 0", "around a reference"])
def test_a_block_step_is_a_gradient_step(xp: BackendCase, fit_intercept, offset, expanded):
    # At parameter rows u = [w - reference, b], g = u @ A + a gives the loss at [w, b]
    # (against the direct formula in float64), and a step, by the gradient (torch's way)
    # or as one affine map (NumPy's), is u - lr * gradient. Near 1e4 a g that held the
    # gradient's x̄ e term (1e4 e) would leave that term's rounding in the loss.
    skip_most_on_jax(xp)
    if xp.backend == "dask":
        pytest.skip("Dask fits each chunk with the NumPy kernel")
    X_host, y_host = problems(7, b=3, offset=offset)
    params = np.random.default_rng(1).normal(size=(3, X_host.shape[-1] + int(fit_intercept)))
    options = {"fit_intercept": fit_intercept, "l2": 0.1}
    check_block_step(xp, X_host, y_host, params, 0.3 * limits(X_host), options, expanded)


STEP_CASES = 25
"""Generated problems a run checks per backend (times ``MLPILLARS_PROPERTY_SCALE``)."""


@pytest.mark.parametrize("backend", ["numpy", "torch", "array_api_strict"])
@settings(
    deadline=None,
    max_examples=scaled_examples(STEP_CASES),
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(data=st.data())
def test_a_block_step_is_a_gradient_step_on_generated_problems(backend, data):
    """Any batch, sizes, offset, target scale, rates, params, intercept, penalty and
    expansion: the block step's loss and both ways of its step agree with the direct
    formula and the statistics' gradient (float64; NumPy's and the generic affine way,
    torch's by the gradient)."""
    pytest.importorskip(backend)
    b = data.draw(st.integers(1, 6), label="problems")
    n = data.draw(st.integers(2, 30), label="samples")
    d = data.draw(st.integers(1, 6), label="features")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    offset = data.draw(st.sampled_from([0.0, -5.0, 1e4]), label="offset")
    X = rng.normal(size=(b, n, d)) * data.draw(st.sampled_from([1e-3, 1.0, 30.0]), label="scale")
    X = X + offset
    y = rng.normal(size=(b, n)) * data.draw(st.sampled_from([0.0, 1.0, 1e3]), label="y scale")
    options = {
        "fit_intercept": data.draw(st.booleans(), label="intercept"),
        "l2": data.draw(st.sampled_from([0.0, 0.1]), label="l2"),
    }
    params = rng.normal(size=(b, d + int(options["fit_intercept"])))
    params *= data.draw(st.sampled_from([1e-3, 1.0, 1e2]), label="params scale")
    fractions = rng.uniform(0.0, 1.5, size=b)
    expanded = data.draw(st.booleans(), label="around a reference")
    xp = BackendCase(backend, "cpu", "float64")
    check_block_step(xp, X, y, params, fractions * limits(X), options, expanded)


def check_block_step(xp, X_host, y_host, params_host, lr_host, options, expanded) -> None:
    """The loss from g at ``params_host`` (B, p) against the direct formula, and one step
    (by the gradient, as one affine map) against ``params - lr * gradient``."""
    batch, n_features = X_host.shape[0], X_host.shape[-1]
    fit_intercept, l2 = options["fit_intercept"], options["l2"]
    X, y, params = (xp.asarray(a) for a in (X_host, y_host, params_host))
    lr = xp.asarray(np.asarray(lr_host)[:, None])
    statistics = mse_statistics(X, y, l2, fit_intercept, xp=xp.xp)
    rows = params
    if expanded:  # around weights near the params
        near = xp.asarray(params_host[:, :n_features] + 0.01)
        everywhere = xp.xp.ones((batch,), dtype=xp.xp.bool, device=device_of(X))
        statistics = around_reference(statistics, X, y, near, everywhere, l2, xp=xp.xp)
        rows = blocks_module._shifted(params, -statistics.reference, xp=xp.xp)
    step = blocks_module.step_map(statistics, lr, xp=xp.xp)
    gradient_rows = rows[:, None, :] @ step.matrix + step.offset

    bias = params_host[:, -1] if fit_intercept else np.zeros(batch)
    direct = [
        direct_loss(*problem, w[:n_features], b, l2=l2)
        for *problem, w, b in zip(X_host, y_host, params_host, bias, strict=True)
    ]
    losses = statistics.losses(rows[:, None, :], gradient_rows, xp=xp.xp)[:, 0]
    assert_loop_close(losses, np.array(direct), like=X, xp=xp)
    products = rows[:, None, :] @ step.matrix  # g less its offset: NumPy's blocks
    losses = statistics.losses(rows[:, None, :], products, xp=xp.xp, offset=step.offset)
    assert_loop_close(losses[:, 0], np.array(direct), like=X, xp=xp)

    every_option = Options(**{**OPTIONS, **options})
    _, gradient = statistics.loss_and_gradient(params, every_option, xp=xp.xp)
    stepped = xp.to_numpy(rows - lr * gradient)
    direction = gradient_rows
    if step.mean_row is not None:
        direction = direction + gradient_rows[..., -1:] * step.mean_row
    by_gradient = (rows[:, None, :] + step.scale * direction)[:, 0, :]
    step_matrix, step_offset = blocks_module.affine_map(step, xp=xp.xp)
    affine = (rows[:, None, :] @ step_matrix + step_offset)[:, 0, :]
    assert_loop_close(by_gradient, stepped, like=X, xp=xp)
    assert_loop_close(affine, stepped, like=X, xp=xp)
