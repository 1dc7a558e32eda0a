"""gradient_descent's step loop inside ``torch.compile(fullgraph=True)``: one
``torch.while_loop`` (``backends/frameworks/_torch_loops.py``), against the eager loop.

The eager torch loop is itself held to the float64 reference loop (test_calculus); here the
compiled loop must give the same results, with the static shapes of a traced call: the
history has ``steps + 1`` rows, the rows after an early stop repeating the last one.
(Unrolled, as before, 200 steps took inductor over a quarter of an hour to compile, and an
early stop could not trace at all.)
"""

from __future__ import annotations

import numpy as np
import pytest

import mlpillars as mp
from mlpillars.testing import assert_close

torch = pytest.importorskip("torch")

pytestmark = pytest.mark.filterwarnings("ignore:Dynamo detected a call to a `functools.lru_cache`")

CONFIGURATIONS = {
    # tol large enough that every problem stops at step 9 of 30: the padded rows are tested
    "logistic-early-stop": {"loss": "logistic", "lr": 0.5, "steps": 30, "tol": 1e-2},
    "momentum-l2": {"lr": 0.05, "steps": 25, "momentum": 0.9, "l2": 0.1},
    # the schedule's array branch (a tensor step count): warm-up and bias corrections
    "adam-warmup": {"optimizer": "adam", "lr": 0.05, "steps": 10, "warmup_steps": 3},
}


def _problems(loss: str | None) -> tuple[object, object]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(8, 40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + rng.normal(scale=0.5, size=(8, 40))
    if loss == "logistic":
        y = (y > 0).astype(np.float64)
    return torch.from_numpy(X), torch.from_numpy(y)


@pytest.mark.parametrize("name", list(CONFIGURATIONS))
def test_compiled_loop_matches_the_eager_loop(name):
    options = CONFIGURATIONS[name]
    X, y = _problems(options.get("loss"))
    eager = mp.gradient_descent(X, y, **options)
    torch._dynamo.reset()
    compiled = torch.compile(
        lambda X, y: mp.gradient_descent(X, y, **options), fullgraph=True, backend="aot_eager"
    )(X, y)

    rows = options["steps"] + 1
    assert tuple(compiled.loss_history.shape) == (rows, 8)
    recorded = eager.loss_history.shape[0]
    if name == "logistic-early-stop":
        assert recorded < rows and bool(eager.converged.all())
    assert_close(compiled.loss_history[:recorded], eager.loss_history, like=X)
    padding = compiled.loss_history[recorded:]
    assert bool((padding == eager.loss_history[-1]).all()), "rows after the stop repeat the last"
    assert_close(compiled.weights, eager.weights, like=X)
    assert_close(compiled.bias, eager.bias, like=X)
    for flag in ("diverged", "converged", "steps_run"):
        assert torch.equal(getattr(compiled, flag), getattr(eager, flag)), flag
