"""What a small call costs over the framework's own: issue 9's per-call overhead, side by side.

Each case is our public kernel beside the native call it answers for, on inputs small
enough that the call's cost is its Python and dispatch work (8 x 16 and 16 x 16 float64,
attention (1, 2, 8, 8) float32), plus torch's cross-entropy at 65536 x 10 float32. Times
are thread CPU time (other processes on the shared host do not count), the minimum of
``--rounds`` rounds of many calls, the implementations interleaved; torch runs on one
thread. Run from the repository root, with the checkout to measure first on the path:

    PYTHONPATH=. python scripts/call_overhead.py [--rounds 25]

For a before/after, run it with an older checkout on the path (``git worktree add``).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import mlpillars as mp

Pair = tuple[Callable[[], Any], Callable[[], Any]]


def numpy_cases() -> dict[str, Pair]:
    import scipy.special

    rng = np.random.default_rng(0)
    x, w, b = rng.normal(size=(8, 16)), rng.normal(size=(16, 16)), rng.normal(size=16)
    logits, labels = rng.normal(size=(16, 16)), rng.integers(0, 16, size=16)

    def plain_softmax() -> Any:  # the "plain NumPy": max, exp, sum, divide
        exp_shifted = np.exp(x - x.max(axis=-1, keepdims=True))
        return exp_shifted / exp_shifted.sum(axis=-1, keepdims=True)

    def plain_logsumexp() -> Any:  # max, then log(sum(exp(x - max)))
        row_max = logits.max(axis=-1, keepdims=True)
        return (row_max + np.log(np.exp(logits - row_max).sum(axis=-1, keepdims=True)))[..., 0]

    def plain_unit(rows: np.ndarray) -> np.ndarray:
        return rows / np.linalg.norm(rows, axis=-1, keepdims=True)

    return {
        "numpy softmax 8x16 vs plain": (lambda: mp.softmax(x), plain_softmax),
        "numpy softmax 8x16 vs scipy": (
            lambda: mp.softmax(x),
            lambda: scipy.special.softmax(x, axis=-1),
        ),
        "numpy linear+relu 8x16x16": (
            lambda: mp.linear(x, w, b, activation="relu"),
            lambda: np.maximum(x @ w + b, 0),
        ),
        "numpy logsumexp 16x16 vs scipy": (
            lambda: mp.logsumexp(logits),
            lambda: scipy.special.logsumexp(logits, axis=-1),
        ),
        "numpy logsumexp 16x16 vs plain": (lambda: mp.logsumexp(logits), plain_logsumexp),
        "numpy normalize 16x16 vs plain": (
            lambda: mp.normalize(logits),
            lambda: logits / np.linalg.norm(logits, axis=-1, keepdims=True),
        ),
        "numpy cosine_similarity 8x16, 16x16 vs plain": (
            lambda: mp.cosine_similarity(x, logits),
            lambda: plain_unit(x) @ plain_unit(logits).T,
        ),
        "numpy r_squared 8x16 vs plain": (
            lambda: mp.r_squared(x, logits[:8]),
            lambda: (
                1 - ((x - logits[:8]) ** 2).sum(-1) / ((x - x.mean(-1, keepdims=True)) ** 2).sum(-1)
            ),
        ),
        "numpy cross_entropy 16x16 vs plain": (
            lambda: mp.cross_entropy(logits, labels),
            lambda: -scipy.special.log_softmax(logits, axis=-1)[np.arange(16), labels].mean(),
        ),
    }


def torch_cases() -> dict[str, Pair]:
    import torch

    torch.set_num_threads(1)
    functional = torch.nn.functional
    rng = np.random.default_rng(0)
    x, w, b = (torch.asarray(rng.normal(size=s)) for s in ((8, 16), (16, 16), (16,)))
    q, k, v = (torch.randn(1, 2, 8, 8) for _ in range(3))
    logits, labels = torch.asarray(rng.normal(size=(16, 16))), torch.randint(0, 16, (16,))
    wide = torch.asarray(rng.normal(size=(65536, 10)).astype(np.float32))
    wide_labels = torch.randint(0, 10, (65536,))
    return {
        "torch linear+relu 8x16x16": (
            lambda: mp.linear(x, w, b, activation="relu"),
            lambda: torch.relu(torch.addmm(b, x, w)),
        ),
        "torch softmax 8x16": (lambda: mp.softmax(x), lambda: torch.softmax(x, -1)),
        "torch attention (1,2,8,8) f32": (
            lambda: mp.scaled_dot_product_attention(q, k, v),
            lambda: functional.scaled_dot_product_attention(q, k, v),
        ),
        "torch logsumexp 16x16": (
            lambda: mp.logsumexp(logits),
            lambda: torch.logsumexp(logits, -1),
        ),
        "torch cross_entropy 16x16": (
            lambda: mp.cross_entropy(logits, labels),
            lambda: functional.cross_entropy(logits, labels),
        ),
        "torch cross_entropy 65536x10 f32": (
            lambda: mp.cross_entropy(wide, wide_labels),
            lambda: functional.cross_entropy(wide, wide_labels),
        ),
    }


def per_call(run: Callable[[], Any]) -> float:
    """Thread seconds per call over about 10 ms of calls."""
    started = time.thread_time()
    run()
    calls = max(1, min(2000, int(0.01 / max(time.thread_time() - started, 1e-7))))
    started = time.thread_time()
    for _ in range(calls):
        run()
    return (time.thread_time() - started) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=25)
    arguments = parser.parse_args()
    print(f"mlpillars from {mp.__file__}; thread time, min of {arguments.rounds} rounds")
    cases = {**numpy_cases(), **torch_cases()}
    best = {name: [float("inf"), float("inf")] for name in cases}
    for _ in range(arguments.rounds):
        for name, pair in cases.items():
            for side, run in enumerate(pair):
                best[name][side] = min(best[name][side], per_call(run))
    for name, (ours, native) in best.items():
        print(
            f"  {name:36s} ours {ours * 1e6:9.1f} us  native {native * 1e6:9.1f} us  "
            f"overhead {(ours - native) * 1e6:+8.1f} us  ratio {ours / native:5.2f}x"
        )


if __name__ == "__main__":
    main()
