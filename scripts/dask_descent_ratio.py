"""Gradient descent on a 2-worker Dask LocalCluster against the NumPy kernel (issue 12, item 2).

B=256 problems (``--batch``), n=512, d=32, 200 steps, float64, MSE and logistic; the
target is Dask within 1.5x of NumPy. The cluster has ``--workers`` processes of one thread
each (Dask sets their BLAS to one thread); NumPy runs in this process with its BLAS
threads. Dask's inputs are chunked along B into one chunk per worker, two ways:

- "persisted": the data already on the workers (``client.persist``), as a cluster's data
  would be;
- "from host": ``dask.array.from_array`` of the NumPy arrays, shipped with each call.

A Dask round is the kernel call and one ``dask.compute`` of all six fields. The cluster is
started twice: with Dask's worker environment as it comes, and without its
``MALLOC_TRIM_THRESHOLD_=65536``, which turns off glibc's adaptive mmap threshold, so that
every array above 128 KiB (here each step's (b, n) arrays) is a fresh ``mmap`` and its
page faults (NumPy's loop measured about 2x slower under it). Each
implementation runs ``--rounds`` times, interleaved; the minimum is kept (the host is
shared: the minimum is the least disturbed round), the median printed beside it.
``uptime`` is printed before and after. Run from the repository root, with this checkout
first on the path (an installed mlpillars elsewhere would be timed instead):

    PYTHONPATH=. python scripts/dask_descent_ratio.py [--rounds 5] [--workers 2]

The issue's second target, Dask faster than NumPy for B=4096 where there are more cores
than NumPy uses (its logistic fit runs its elementwise work on one; its MSE fit runs in two
parts on two): ``--batch 4096 --rounds 2 --losses mse,logistic --environments dask`` (a
logistic NumPy round takes about 10-20 s).

``--floor`` adds what no graph can go below on the cluster: "direct fits", one task a
worker fitting its chunk (scattered to it first) with NumPy, submitted and gathered as
futures (no graph, no fields to cut); the same fits timed inside their tasks (the slower
worker's); and a trivial task's round trip.
"""

from __future__ import annotations

import argparse
import logging
import os
import statistics
import time
import warnings
from collections.abc import Callable
from typing import Any

import dask
import numpy as np

import mlpillars as mp

B, N, D, STEPS = 256, 512, 32, 200  # B: the default of --batch
LR = {"mse": 0.05, "logistic": 0.5}


def problems(loss: str, batch: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(batch, N, D))
    scores = np.einsum("bnd,bd->bn", X, rng.normal(size=(batch, D))) + 0.3
    noisy = scores + rng.normal(scale=0.5, size=(batch, N))
    return X, (noisy > 0).astype(np.float64) if loss == "logistic" else noisy


def dask_fit(X: Any, y: Any, loss: str) -> tuple[np.ndarray, ...]:
    import dask

    result = mp.gradient_descent(X, y, loss=loss, lr=LR[loss], steps=STEPS)
    return dask.compute(*result)  # a NamedTuple: its six fields at once


def implementations(
    loss: str, client: Any, workers: int, batch: int
) -> dict[str, Callable[[], Any]]:
    import dask.array as da

    X, y = problems(loss, batch)
    per_chunk = -(-batch // workers)
    chunked = (da.from_array(X, chunks=(per_chunk, N, D)), da.from_array(y, chunks=(per_chunk, N)))
    persisted = client.persist(list(chunked))
    client.wait_for_workers(workers)
    return {
        "numpy": lambda: mp.gradient_descent(X, y, loss=loss, lr=LR[loss], steps=STEPS),
        "dask persisted": lambda: dask_fit(*persisted, loss),
        "dask from host": lambda: dask_fit(*chunked, loss),
    }


def floor_implementations(
    loss: str, client: Any, batch: int, inside: list[float]
) -> dict[str, Callable[[], Any]]:
    """The floor's rows (see ``--floor``); the fits' own times are appended to ``inside``."""
    X, y = problems(loss, batch)
    workers = list(client.scheduler_info()["workers"])
    bounds = np.linspace(0, batch, len(workers) + 1).astype(int)
    chunks = [
        (client.scatter(X[start:stop], workers=[w]), client.scatter(y[start:stop], workers=[w]), w)
        for start, stop, w in zip(bounds[:-1], bounds[1:], workers, strict=True)
    ]

    def direct_fits() -> None:
        futures = [
            client.submit(timed_fit, features, targets, loss, workers=[w], pure=False)
            for features, targets, w in chunks
        ]
        inside.append(max(client.gather(futures)))

    return {"direct fits": direct_fits, "round trip": lambda: client.submit(abs, -1).result()}


def timed_fit(features: np.ndarray, targets: np.ndarray, loss: str) -> float:
    """Seconds of one NumPy fit on a worker, its heap kept as the kernel's tasks keep it."""
    from mlpillars.backends.frameworks._worker_heap import heap_kept

    with heap_kept():
        start = time.perf_counter()
        mp.gradient_descent(features, targets, loss=loss, lr=LR[loss], steps=STEPS)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--batch", type=int, default=B, help="problems")
    parser.add_argument("--losses", default="mse,logistic")
    parser.add_argument("--environments", default="dask,no-trim", help="dask and/or no-trim")
    parser.add_argument("--floor", action="store_true", help="add the cluster's floor")
    arguments = parser.parse_args()
    import distributed  # noqa: F401  (sets its loggers' levels on import: quieten them after)

    logging.getLogger("distributed").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message="Sending large graph")
    print("mlpillars from", os.path.dirname(mp.__file__))
    print("uptime before:", os.popen("uptime").read().strip())
    environment = dask.config.get("distributed.nanny.pre-spawn-environ")
    without_trim = {k: v for k, v in environment.items() if k != "MALLOC_TRIM_THRESHOLD_"}
    chosen = arguments.environments.split(",")
    losses = arguments.losses.split(",")
    for label, worker_environment in (("dask's env", environment), ("no trim", without_trim)):
        if label.split("'")[0].replace(" ", "-") not in chosen:
            continue
        with dask.config.set({"distributed.nanny.pre-spawn-environ": worker_environment}):
            measure(label, arguments, losses)
    print("uptime after: ", os.popen("uptime").read().strip())


def measure(label: str, arguments: argparse.Namespace, losses: list[str]) -> None:
    """Time each implementation on a fresh cluster of ``--workers`` one-thread processes."""
    import distributed

    rounds, workers, batch = arguments.rounds, arguments.workers, arguments.batch

    with (
        distributed.LocalCluster(
            n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        for loss in losses:
            found = implementations(loss, client, workers, batch)
            expected = found["numpy"]()
            for name in ("dask persisted", "dask from host"):  # a warm-up, and the check
                weights = found[name]()[0]
                np.testing.assert_allclose(weights, expected.weights, rtol=1e-12, atol=1e-14)
            inside: list[float] = []
            if arguments.floor:
                found.update(floor_implementations(loss, client, batch, inside))
                found["direct fits"]()  # warm-ups
                found["round trip"]()
                inside.clear()
            times: dict[str, list[float]] = {name: [] for name in found}
            for _ in range(rounds):
                for name, run in found.items():
                    start = time.perf_counter()
                    run()
                    times[name].append(time.perf_counter() - start)
            best = {name: min(values) for name, values in times.items()}
            for name, values in times.items():
                print(
                    f"{label:10s} {loss:9s} {name:15s} min {best[name]:7.3f} s  median "
                    f"{statistics.median(values):7.3f} s  ratio to numpy "
                    f"{best[name] / best['numpy']:5.2f}x"
                )
            if inside:
                print(
                    f"{label:10s} {loss:9s} {'fits inside':15s} min {min(inside):7.3f} s  median "
                    f"{statistics.median(inside):7.3f} s  ratio to numpy "
                    f"{min(inside) / best['numpy']:5.2f}x"
                )


if __name__ == "__main__":
    main()
