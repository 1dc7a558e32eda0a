"""Issue 9's targets on a GPU: our kernels against the frameworks' own calls, ratios in one run.

For each case the candidates run interleaved, ``--rounds`` rounds; a round times enough
calls (then one device sync) to last about 20 ms, and the best round's time a call is kept
(the least disturbed). Printed: each candidate's time a call, ours / native, and the
largest difference of our answer from the native one. Cases:

- softmax and log_softmax of 4096 x 4096 float32 (``torch.softmax``, jitted
  ``jax.nn.softmax``, ``cupyx.scipy.special.softmax``);
- linear 256 x 1024 @ 1024 x 1024 + ReLU / GELU float32 (``addmm`` + activation);
- attention q, k, v (2, 8, 1024, 64) float32 (``scaled_dot_product_attention``, jitted
  ``jax.nn.dot_product_attention``);
- gradient descent, B=256 n=512 d=32, 200 steps, MSE and logistic, float32 and float64:
  ours on each GPU backend (JAX jitted) against ours on NumPy (the CPU).

A candidate that fails prints its error and the run goes on. ``--device cpu`` runs the
same cases on the CPU builds (to check the script itself where there is no GPU):

    PYTHONPATH=. python scripts/gpu_ratios.py [--rounds 7] [--device cuda|cpu]
"""

from __future__ import annotations

import argparse
import time
import traceback
from collections.abc import Callable
from typing import Any

import numpy as np

import mlpillars as mp

Candidates = dict[str, Callable[[], Any]]
B, N, D, STEPS = 256, 512, 32, 200
LR = {"mse": 0.05, "logistic": 0.5}


def _torch(device: str) -> Any:
    import torch

    return torch, torch.device(device)


def _jax(device: str) -> Any:
    import jax

    jax.config.update("jax_enable_x64", True)
    return jax, jax.devices("gpu" if device == "cuda" else "cpu")[0]


def _sync_all() -> None:
    """Wait for every framework's queued work (what is not imported is skipped)."""
    import sys

    if "torch" in sys.modules:
        import torch

        if torch.cuda.is_available():
            torch.cuda.synchronize()
    if "cupy" in sys.modules:
        import cupy

        cupy.cuda.Device().synchronize()


def _blocked(function: Callable[[], Any]) -> Callable[[], Any]:
    def run() -> Any:
        result = function()
        mp.ready(result)
        return result

    return run


def softmax_candidates(device: str, log: bool) -> Candidates:
    rng = np.random.default_rng(0)
    host = rng.normal(size=(4096, 4096)).astype(np.float32)
    ours = mp.log_softmax if log else mp.softmax
    found: Candidates = {}
    torch, where = _torch(device)
    xt = torch.asarray(host, device=where)
    native = torch.log_softmax if log else torch.softmax
    found["ours torch"] = lambda: ours(xt)
    found["torch native"] = lambda: native(xt, -1)
    jax, jdev = _jax(device)
    xj = jax.device_put(host, jdev)
    jnative = jax.jit(jax.nn.log_softmax if log else jax.nn.softmax)
    jours = jax.jit(ours)
    found["ours jax jit"] = lambda: jours(xj)
    found["jax native jit"] = lambda: jnative(xj)
    if device == "cuda":
        import cupy
        import cupyx.scipy.special as special

        xc = cupy.asarray(host)
        cnative = special.log_softmax if log else special.softmax
        found["ours cupy"] = lambda: ours(xc)
        found["cupy native"] = lambda: cnative(xc, axis=-1)
    return found


def linear_candidates(device: str, activation: str) -> Candidates:
    rng = np.random.default_rng(1)
    x = rng.normal(size=(256, 1024)).astype(np.float32)
    w = (rng.normal(size=(1024, 1024)) / 32).astype(np.float32)
    b = rng.normal(size=1024).astype(np.float32)
    torch, where = _torch(device)
    xt, wt, bt = (torch.asarray(a, device=where) for a in (x, w, b))
    act = torch.relu if activation == "relu" else torch.nn.functional.gelu
    found: Candidates = {
        "ours torch": lambda: mp.linear(xt, wt, bt, activation=activation),
        "torch native": lambda: act(torch.addmm(bt, xt, wt)),
    }
    jax, jdev = _jax(device)
    xj, wj, bj = (jax.device_put(a, jdev) for a in (x, w, b))
    jact = jax.nn.relu if activation == "relu" else (lambda z: jax.nn.gelu(z, approximate=False))
    jours = jax.jit(lambda x_, w_, b_: mp.linear(x_, w_, b_, activation=activation))
    jnative = jax.jit(lambda x_, w_, b_: jact(x_ @ w_ + b_))
    found["ours jax jit"] = lambda: jours(xj, wj, bj)
    found["jax native jit"] = lambda: jnative(xj, wj, bj)
    return found


def attention_candidates(device: str) -> Candidates:
    rng = np.random.default_rng(2)
    q, k, v = (rng.normal(size=(2, 8, 1024, 64)).astype(np.float32) for _ in range(3))
    torch, where = _torch(device)
    qt, kt, vt = (torch.asarray(a, device=where) for a in (q, k, v))
    sdpa = torch.nn.functional.scaled_dot_product_attention
    found: Candidates = {
        "ours torch": lambda: mp.scaled_dot_product_attention(qt, kt, vt),
        "torch native": lambda: sdpa(qt, kt, vt),
    }
    jax, jdev = _jax(device)
    qj, kj, vj = (jax.device_put(a, jdev) for a in (q, k, v))
    jours = jax.jit(mp.scaled_dot_product_attention)
    # jax.nn.dot_product_attention takes (B, L, H, E)
    jnative = jax.jit(
        lambda a, b_, c: jax.nn.dot_product_attention(
            a.transpose(0, 2, 1, 3), b_.transpose(0, 2, 1, 3), c.transpose(0, 2, 1, 3)
        ).transpose(0, 2, 1, 3)
    )
    found["ours jax jit"] = lambda: jours(qj, kj, vj)
    found["jax native jit"] = lambda: jnative(qj, kj, vj)
    if device == "cuda":
        import cupy

        qc, kc, vc = (cupy.asarray(a) for a in (q, k, v))
        found["ours cupy"] = lambda: mp.scaled_dot_product_attention(qc, kc, vc)
    return found


def descent_candidates(device: str, loss: str, dtype: str) -> Candidates:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(B, N, D))
    scores = np.einsum("bnd,bd->bn", X, rng.normal(size=(B, D))) + 0.3
    noisy = scores + rng.normal(scale=0.5, size=(B, N))
    y = (noisy > 0).astype(np.float64) if loss == "logistic" else noisy
    X, y = X.astype(dtype), y.astype(dtype)

    def fit(features: Any, targets: Any) -> Any:
        result = mp.gradient_descent(features, targets, loss=loss, lr=LR[loss], steps=STEPS)
        return result.weights, result.bias, result.loss_history

    found: Candidates = {"ours numpy (CPU)": lambda: fit(X, y)}
    torch, where = _torch(device)
    Xt, yt = torch.asarray(X, device=where), torch.asarray(y, device=where)
    found["ours torch"] = lambda: fit(Xt, yt)
    jax, jdev = _jax(device)
    Xj, yj = jax.device_put(X, jdev), jax.device_put(y, jdev)
    jitted = jax.jit(fit)
    found["ours jax jit"] = lambda: jitted(Xj, yj)
    if device == "cuda":
        import cupy

        Xc, yc = cupy.asarray(X), cupy.asarray(y)
        found["ours cupy"] = lambda: fit(Xc, yc)
    return found


def _host(result: Any) -> np.ndarray:
    first = result[0] if isinstance(result, tuple) else result
    if hasattr(first, "get"):  # CuPy
        first = first.get()
    if hasattr(first, "detach"):
        first = first.detach().cpu()
    return np.asarray(first, dtype=np.float64)


def _per_call(run: Callable[[], Any], rounds: int) -> float:
    """Seconds a call: the best of ``rounds`` rounds of about 20 ms each."""
    started = time.perf_counter()
    run()
    _sync_all()
    once = max(time.perf_counter() - started, 1e-6)
    calls = max(1, min(1000, int(0.02 / once)))
    best = float("inf")
    for _ in range(rounds):
        started = time.perf_counter()
        for _ in range(calls):
            run()
        _sync_all()
        best = min(best, (time.perf_counter() - started) / calls)
    return best


def measure(title: str, make: Callable[[], Candidates], rounds: int) -> None:
    print(f"\n## {title}", flush=True)
    try:
        candidates = {name: _blocked(run) for name, run in make().items()}
    except Exception:
        print("  setup failed:\n" + traceback.format_exc(limit=3), flush=True)
        return
    answers: dict[str, np.ndarray] = {}
    for name, run in list(candidates.items()):
        started = time.perf_counter()
        try:
            answers[name] = _host(run())  # warm-up: compiles, plans, caches
            _sync_all()
        except Exception as error:
            print(f"  {name}: FAILED {type(error).__name__}: {str(error)[:300]}", flush=True)
            del candidates[name]
            continue
        print(f"  {name}: first call {time.perf_counter() - started:.3f} s", flush=True)
    best = dict.fromkeys(candidates, float("inf"))
    for _ in range(rounds):
        for name, run in candidates.items():
            best[name] = min(best[name], _per_call(run, 1))
    for name, seconds in best.items():
        backend = name.split()[1]
        native = next((n for n in best if n.split()[0] != "ours" and backend in n), None)
        reference = native or "ours numpy (CPU)"
        ratio = ""
        if name.startswith("ours") and name != reference and reference in best:
            ratio = f"/{reference.split()[1]} {seconds / best[reference]:6.2f}x"
        differs = ""
        if (
            reference in answers
            and name in answers
            and answers[name].shape == answers[reference].shape
        ):
            largest = np.max(np.abs(answers[name] - answers[reference]), initial=0)
            differs = f"max|diff| from {reference}: {largest:.2e}"
        print(f"  {name:18s} {seconds * 1e3:10.3f} ms  {ratio:20s} {differs}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--device", choices=["cuda", "cpu"], default="cuda")
    arguments = parser.parse_args()
    device, rounds = arguments.device, arguments.rounds
    print(f"mlpillars from {mp.__file__}; device {device}; best of {rounds} rounds")
    measure("softmax 4096x4096 float32", lambda: softmax_candidates(device, False), rounds)
    measure("log_softmax 4096x4096 float32", lambda: softmax_candidates(device, True), rounds)
    for activation in ("relu", "gelu"):
        measure(
            f"linear 256x1024x1024 + {activation} float32",
            lambda a=activation: linear_candidates(device, a),
            rounds,
        )
    measure("attention (2, 8, 1024, 64) float32", lambda: attention_candidates(device), rounds)
    for dtype in ("float32", "float64"):
        for loss in ("mse", "logistic"):
            measure(
                f"gradient descent {loss} B={B} n={N} d={D} {STEPS} steps {dtype}",
                lambda lo=loss, dt=dtype: descent_candidates(device, lo, dt),
                max(3, rounds // 2),
            )


if __name__ == "__main__":
    main()
