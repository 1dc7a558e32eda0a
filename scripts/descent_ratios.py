"""Batched gradient descent against per-problem loops: the issue-9 ratios, side by side.

B=256 problems, n=512, d=32, 200 steps, float64, MSE and logistic. Each implementation
runs ``--rounds`` times, interleaved, and the minimum is kept (the host is shared: the
minimum is the least disturbed round); each timed call follows warm calls filling
``SETTLE_SECONDS`` after the previous one, as the harness's cases do (another library's
idle threads spin meanwhile). JAX is timed jitted after a warm-up; its compile
time (first call) is printed apart; its problems are held sharded over one CPU device per
CPU, as the bench holds them (``JAX_NUM_CPU_DEVICES=1`` for one device). Run from the
repository root:

    python scripts/descent_ratios.py [--rounds 5]

For the "before" figures, run the same script with an older mlpillars first on the path.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS, one_device_per_cpu
from mlpillars.bench.baselines import numba_models
from mlpillars.bench.measure import SETTLE_SECONDS

B, N, D, STEPS = 256, 512, 32, 200
LR = {"mse": 0.05, "logistic": 0.5}


def problems(loss: str) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(B, N, D))
    scores = np.einsum("bnd,bd->bn", X, rng.normal(size=(B, D))) + 0.3
    noisy = scores + rng.normal(scale=0.5, size=(B, N))
    return X, (noisy > 0).astype(np.float64) if loss == "logistic" else noisy


def numpy_loop(X: np.ndarray, y: np.ndarray, loss: str) -> tuple[np.ndarray, np.ndarray]:
    """The per-problem loop: plain NumPy GD, one problem at a time (no history)."""
    weights, biases, lr = np.zeros((B, D)), np.zeros(B), LR[loss]
    scale = (2.0 if loss == "mse" else 1.0) / N
    for problem in range(B):
        x, t = X[problem], y[problem]
        w, b = np.zeros(D), 0.0
        for _ in range(STEPS):
            z = x @ w + b
            error = z - t if loss == "mse" else 1.0 / (1.0 + np.exp(-z)) - t
            w = w - lr * scale * (x.T @ error)
            b = b - lr * scale * error.sum()
        weights[problem], biases[problem] = w, b
    return weights, biases


def implementations(loss: str, X: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], Any]]:
    found: dict[str, Callable[[], Any]] = {
        "numpy loop": lambda: numpy_loop(X, y, loss),
        "ours numpy": lambda: mp.gradient_descent(X, y, loss=loss, lr=LR[loss], steps=STEPS),
    }
    if loss == "mse":
        numba_models.gradient_descent(X[:1, :8], y[:1, :8], lr=0.1, steps=1)  # compile
        found["numba loop"] = lambda: numba_models.gradient_descent(X, y, lr=LR[loss], steps=STEPS)
    import torch

    Xt, yt = torch.asarray(X), torch.asarray(y)
    lr_t = torch.asarray(LR[loss], dtype=torch.float64)
    found["ours torch"] = lambda: mp.gradient_descent(Xt, yt, loss=loss, lr=lr_t, steps=STEPS)
    found.update(_jax(loss, X, y))
    return found


def _jax(loss: str, X: np.ndarray, y: np.ndarray) -> dict[str, Callable[[], Any]]:
    import jax

    jax.config.update("jax_enable_x64", True)
    # held as the bench holds them: the problems sharded over the CPU devices (one per CPU,
    # asked for in main before JAX first computes)
    Xj, yj = FRAMEWORKS["jax"].held_inputs((jax.device_put(X), jax.device_put(y)), problems=True)

    def fit(features: Any, targets: Any) -> Any:
        result = mp.gradient_descent(features, targets, loss=loss, lr=LR[loss], steps=STEPS)
        return result.weights, result.bias, result.loss_history

    jitted = jax.jit(fit)
    started = time.perf_counter()
    try:
        jax.block_until_ready(jitted(Xj, yj))
    except Exception as error:  # report and time the eager call instead
        print(f"  jax.jit failed ({type(error).__name__}: {str(error)[:120]}); JAX eager only")
        return {"ours jax eager": lambda: jax.block_until_ready(fit(Xj, yj))}
    print(f"  jax.jit compile + first call: {time.perf_counter() - started:.2f} s")
    return {"ours jax jit": lambda: jax.block_until_ready(jitted(Xj, yj))}


def measure(loss: str, rounds: int) -> None:
    X, y = problems(loss)
    print(f"{loss}: B={B} n={N} d={D} steps={STEPS} float64, min of {rounds} rounds")
    candidates = implementations(loss, X, y)
    best = dict.fromkeys(candidates, float("inf"))
    previous_ended = time.perf_counter()
    for _ in range(rounds):
        for name, run in candidates.items():
            while time.perf_counter() - previous_ended < SETTLE_SECONDS:
                run()  # the previous implementation's idle workers stop spinning meanwhile
            started = time.perf_counter()
            run()
            previous_ended = time.perf_counter()
            best[name] = min(best[name], previous_ended - started)
    loop, ours = best["numpy loop"], best["ours numpy"]
    for name, seconds in best.items():
        print(
            f"  {name:15s} {seconds * 1e3:9.1f} ms   loop/this {loop / seconds:6.2f}x"
            f"   this/ours-numpy {seconds / ours:6.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--loss", choices=["mse", "logistic", "both"], default="both")
    arguments = parser.parse_args()
    one_device_per_cpu()  # as `mlpillars bench` does, unless JAX_NUM_CPU_DEVICES is set
    print(f"mlpillars from {mp.__file__}")
    for loss in ("mse", "logistic") if arguments.loss == "both" else (arguments.loss,):
        measure(loss, arguments.rounds)


if __name__ == "__main__":
    main()
