"""Every kernel on a real ``dask.distributed`` cluster, against the float64 NumPy reference.

A ``LocalCluster`` of two worker processes (one thread and a bounded memory each) is
started once for the module; a ``Client`` to it becomes Dask's default scheduler, so the
kernels' ``compute``/``persist`` calls run on its workers, as they would for a user's own
cluster. The inputs are split into several chunks so the tasks are spread over both.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from mlpillars import KERNELS
from mlpillars.backends import host_arrays
from mlpillars.bench.catalogue import CATALOGUE
from mlpillars.examples import SMALLEST_SIZE, KernelCall
from mlpillars.tolerances import compare_outputs, tolerance_for

distributed = pytest.importorskip("distributed")
da = pytest.importorskip("dask.array")

WORKER_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

SIZE = 2 * SMALLEST_SIZE
"""Large enough for every example (the regressions need 17 samples) and for two chunks."""


@pytest.fixture(scope="module")
def client() -> Iterator[Any]:
    with (
        distributed.LocalCluster(
            n_workers=2,
            threads_per_worker=1,
            processes=True,
            memory_limit="1GiB",
            dashboard_address=None,
        ) as cluster,
        distributed.Client(cluster) as client,
    ):
        yield client


def _cluster_workers(client: Any) -> set[str]:
    """The addresses of the cluster's two workers. On a loaded machine (CI's test workers
    beside the cluster's) a worker's heartbeat can be late and the scheduler list it
    again only after it reconnects: a CI run read an empty list there. Wait for both."""
    client.wait_for_workers(2, timeout=60)
    return set(client.scheduler_info()["workers"])


def _chunked(value: Any) -> Any:
    """A NumPy array as a Dask array in two chunks along its first axis (lists: each)."""
    if isinstance(value, (list, tuple)):
        return [_chunked(item) for item in value]
    array = np.asarray(value)
    if array.ndim == 0 or array.shape[0] < 2:
        return da.from_array(array)
    return da.from_array(array, chunks=((array.shape[0] + 1) // 2, *array.shape[1:]))


@pytest.mark.parametrize("name", list(CATALOGUE))
def test_every_kernel_runs_on_the_cluster_and_agrees(client: Any, name: str) -> None:
    entry = CATALOGUE[name]
    call: KernelCall = entry.example_call(SIZE, "float64")
    reference = host_arrays(
        entry.main_output(KERNELS[name](*call.arrays, **call.options, backend="numpy"))
    )
    with distributed.get_task_stream(client) as tasks:
        result = KERNELS[name](*(_chunked(a) for a in call.arrays), **call.options)
        computed = host_arrays(entry.main_output(result))
    assert tasks.data, f"{name}: no task ran on the cluster's workers"
    workers = {task["worker"] for task in tasks.data}
    assert workers <= _cluster_workers(client)
    max_error, agrees = compare_outputs(computed, reference, tolerance_for("float64"))
    assert agrees, f"{name} on the cluster: max |error| {max_error:.2e} against NumPy"


@pytest.mark.parametrize("loss", ["mse", "logistic"])
def test_gradient_descent_fits_each_chunk_on_a_worker(client: Any, loss: str) -> None:
    rng = np.random.default_rng(4)
    X = rng.normal(size=(16, 50, 4))
    y = np.einsum("bnd,bd->bn", X, rng.normal(size=(16, 4))) + rng.normal(size=(16, 50))
    targets = (y > 0).astype(np.float64) if loss == "logistic" else y
    rates = np.geomspace(0.01, 0.5, 16)
    expected = KERNELS["gradient_descent"](X, targets, lr=rates, loss=loss, steps=200)
    with distributed.get_task_stream(client) as call_tasks:
        result = KERNELS["gradient_descent"](
            da.from_array(X, chunks=(4, 50, 4)),
            da.from_array(targets, chunks=(4, 50)),
            lr=da.from_array(rates, chunks=4),
            loss=loss,
            steps=200,
        )
    assert not call_tasks.data, "the call ran tasks (a round trip) before the compute"
    with distributed.get_task_stream(client) as tasks:
        weights, history, steps_run = client.compute(
            [result.weights, result.loss_history, result.steps_run], sync=True
        )
    fits = [task for task in tasks.data if "descend_in_memory-" in str(task["key"])]
    assert len(fits) == 4, "one task per chunk of 4 problems"
    assert {task["worker"] for task in fits} <= _cluster_workers(client)
    np.testing.assert_allclose(weights, expected.weights, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(history, expected.loss_history, rtol=1e-13, atol=1e-15)
    np.testing.assert_array_equal(steps_run, expected.steps_run)


def test_gradient_descent_reads_learning_rates_held_by_the_cluster(client: Any) -> None:
    # persisted rates are data on the workers: the fits' tasks depend on their chunks (a
    # local compute could not read them)
    rng = np.random.default_rng(5)
    X, y = rng.normal(size=(6, 30, 3)), rng.normal(size=(6, 30))
    rates = np.linspace(0.01, 0.2, 6)
    persisted = client.persist(da.from_array(rates, chunks=4))
    expected = KERNELS["gradient_descent"](X, y, lr=rates, steps=20)
    result = KERNELS["gradient_descent"](
        da.from_array(X, chunks=(3, 30, 3)), da.from_array(y), lr=persisted, steps=20
    )
    assert distributed.futures_of(result.weights), "the rates' chunks are the fits' inputs"
    weights, history = client.compute([result.weights, result.loss_history], sync=True)
    np.testing.assert_allclose(weights, expected.weights, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(history, expected.loss_history, rtol=1e-13, atol=1e-15)


def test_scheduler_local_n_starts_a_cluster_the_record_describes(monkeypatch) -> None:
    from mlpillars.backends import FRAMEWORKS

    dask_framework = FRAMEWORKS["dask"]
    scheduler_before = dask_framework.settings()["scheduler"]
    for name in WORKER_VARIABLES:  # unset: the nanny sets them here, to 1, for its worker
        monkeypatch.delenv(name, raising=False)
    with dask_framework.scheduler("local:1") as cluster_client:
        assert [os.environ.get(name) for name in WORKER_VARIABLES] == [None] * 3  # set back
        worker_values = cluster_client.run(lambda: os.environ.get("OMP_NUM_THREADS"))
        assert list(worker_values.values()) == ["1"]
        settings = dask_framework.settings()
        assert settings["scheduler"] == f"distributed at {cluster_client.scheduler.address}"
        assert (settings["workers"], settings["threads"]) == (1, 1)
        x = np.arange(12.0).reshape(3, 4)
        with distributed.get_task_stream(cluster_client) as tasks:
            result = np.asarray(KERNELS["softmax"](da.from_array(x, chunks=(1, 4))).compute())
        assert tasks.data
        exp = np.exp(x - x.max(axis=1, keepdims=True))
        np.testing.assert_allclose(result, exp / exp.sum(axis=1, keepdims=True), rtol=1e-15)
    assert dask_framework.settings()["scheduler"] == scheduler_before


def test_held_inputs_are_spread_over_the_workers_and_persisted(client: Any) -> None:
    from mlpillars.backends import FRAMEWORKS
    from mlpillars.backends.frameworks import dask as dask_module

    dask_framework = FRAMEWORKS["dask"]
    rng = np.random.default_rng(6)
    X, y, w = rng.normal(size=(9, 5, 3)), rng.normal(size=(9, 5)), rng.normal(size=(3, 3))
    given = (da.from_array(X), da.from_array(y), da.from_array(w), 0.5, [da.from_array(w)])
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(dask_module, "SPREAD_BYTES", 8)  # these small arrays count as large
        held = dask_framework.held_inputs(given)
    assert held[0].chunks[0] == (5, 4) and held[1].chunks[0] == (5, 4)  # 2 workers' threads
    assert held[2].chunks == ((3,), (3,)) and held[3] == 0.5 and held[4] is given[4]
    for array in held[:3]:
        assert distributed.futures_of(array), "persisted on the workers"
    for array, expected in zip(held[:3], (X, y, w), strict=True):
        np.testing.assert_array_equal(array.compute(), expected)
    (small,) = dask_framework.held_inputs((da.from_array(X),))  # below SPREAD_BYTES a chunk
    assert small.chunks == ((9,), (5,), (3,)) and distributed.futures_of(small)
