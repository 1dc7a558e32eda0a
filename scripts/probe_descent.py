"""A differential probe of gradient descent on hostile problems: every fast path against the
float64 loop on the data.

Each case draws a batch of MSE problems (B 1-6, n up to 40, d 1-5, float32 or float64), with
features of scale 1e-3 to 1e3 around 0, 1, 1e3 or -1e4, targets a linear function of them
(near-perfect fits included), a learning rate from a tenth to 50 times the stable one, 1 to
200 steps, sometimes a collinear feature, an L2 penalty, no intercept or
``halt_on_divergence=False``, and ``tol`` in float64. Each backend's fit (``mse_method``
"auto": the statistics, their blocks, the minimiser solved first, the second loop) is
compared with ``mse_method="data"`` computed in float64 on the same (rounded) values: the
flags and counts exactly, the weights, bias and history of the problems that did not diverge
to 10 times the tolerance table. Run from the repository root:

    PYTHONPATH=. python scripts/probe_descent.py [--seed 0] [--cases 300] [--jax]

It prints each disagreement and their count. Some are inherent and expected: float32 runs
that diverge stop a step earlier or later than float64 ones (the data path does the same).
It found the six wrong answers fixed on 2026-12-01 (a minimiser whose start cancels, weights
that lost digits to it, a second loop that lost the start, ...); see tests/test_descent.py.
"""

from __future__ import annotations

import argparse
import warnings
from typing import Any

import numpy as np

import mlpillars as mp
from mlpillars.tolerances import TOLERANCES


def problem(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict[str, Any]]:
    """X (B, n, d), y (B, n) in one dtype, and gradient_descent's keywords."""
    batch, n_features = int(rng.integers(1, 7)), int(rng.integers(1, 6))
    n_samples = int(rng.integers(n_features + 2, 40))
    dtype = str(rng.choice(["float64", "float32"]))
    scale, offset = 10.0 ** rng.integers(-3, 4), float(rng.choice([0, 0, 1, 1e3, -1e4]))
    X = offset + scale * rng.normal(size=(batch, n_samples, n_features))
    weights = rng.normal(size=(batch, n_features))
    noise = rng.choice([0, 0.01, 1]) * rng.normal(size=(batch, n_samples))
    y = np.einsum("bnd,bd->bn", X - offset, weights) + rng.normal() + noise
    if rng.random() < 0.2 and n_features > 1:
        X[..., -1] = 2 * X[..., 0]
    design = np.concatenate([X, np.ones((batch, n_samples, 1))], axis=-1)
    curvature = 2 / n_samples * np.einsum("bni,bnj->bij", design, design)
    largest = np.linalg.eigvalsh(curvature)[:, -1].max()
    options = {
        "lr": float(rng.choice([0.1, 0.5, 0.9, 1.5, 3, 50])) / largest,
        "steps": int(rng.integers(1, 200)),
        "tol": None if rng.random() < 0.6 or dtype == "float32" else 10.0 ** rng.integers(-8, -2),
        "l2": float(rng.choice([0, 0, 0.1])),
        "fit_intercept": bool(rng.random() < 0.8),
        "halt_on_divergence": bool(rng.random() < 0.8),
    }
    return X.astype(dtype), y.astype(dtype), options


def disagreements(fit: Any, reference: Any, dtype: str, y_scale: float) -> list[str]:
    """What in ``fit`` disagrees with the float64 ``reference``."""
    found = [
        name
        for name in ("diverged", "converged", "steps_run")
        if not np.array_equal(np.asarray(getattr(fit, name)), np.asarray(getattr(reference, name)))
    ]
    kept = ~np.asarray(reference.diverged)
    tolerance = TOLERANCES[dtype]
    rtol = 10 * tolerance.rtol
    for name, scale in (("weights", 1.0), ("bias", y_scale), ("loss_history", y_scale**2)):
        ours = np.asarray(getattr(fit, name), dtype=np.float64)
        expected = np.asarray(getattr(reference, name))
        if ours.shape != expected.shape:
            found.append(f"{name} shape {ours.shape} against {expected.shape}")
            continue
        if name == "weights":
            ours, expected = ours.T, expected.T  # problems last, as the bias's and history's
        ours, expected = ours[..., kept], expected[..., kept]
        if not np.allclose(ours, expected, rtol=rtol, atol=10 * tolerance.atol * scale):
            worst = np.nanmax(np.abs(ours - expected)) if ours.size else 0.0
            found.append(f"{name} off by {worst:.2e}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--jax", action="store_true", help="fit on JAX too (compiles: slow)")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")  # diverging runs overflow, as they should
    backends = ["numpy", "torch"] + (["jax"] if arguments.jax else [])
    rng, count = np.random.default_rng(arguments.seed), 0
    for case in range(arguments.cases):
        X, y, options = problem(rng)
        host = (X.astype(np.float64), y.astype(np.float64))
        reference = mp.gradient_descent(*host, mse_method="data", **options)
        y_scale = max(1.0, float(np.abs(y).max()))
        for backend in backends:
            arrays = (mp.to_backend(X, backend), mp.to_backend(y, backend))
            fit = mp.backends.host_arrays(tuple(mp.gradient_descent(*arrays, **options)))
            fitted = type(reference)(*fit)
            found = disagreements(fitted, reference, str(X.dtype), y_scale)
            if found:
                count += 1
                print(f"case {case} {backend} {X.dtype} {X.shape} {options}: {'; '.join(found)}")
    print(f"{count} disagreements in {arguments.cases} cases")


if __name__ == "__main__":
    main()
