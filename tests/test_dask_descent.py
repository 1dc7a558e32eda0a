"""Gradient descent on Dask: each chunk of problems (along B) fitted whole by one task, the
NumPy kernel on its worker (``DaskFramework.fused_gradient_descent``).

Reference: the NumPy kernel itself on the same problems. The algorithm is the same, so
the results must agree to a few ulps, not merely within the tolerance table. The
LocalCluster runs are in test_dask_distributed.py.
"""

from __future__ import annotations

import contextlib
from typing import Any

import numpy as np
import pytest

from mlpillars.backends import FRAMEWORKS
from mlpillars.kernels.descent import GradientDescentResult, gradient_descent
from mlpillars.testing import FusedCall, assert_same_values, recorded_fused_calls

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

KERNEL = "gradient_descent"
B, N, D = 7, 40, 3

OPTIONS = {
    "mse-sgd": {"lr": 0.05},
    "mse-momentum-l2-warmup": {"lr": 0.05, "momentum": 0.8, "l2": 0.1, "warmup_steps": 4},
    "mse-adam-data": {"lr": 0.05, "optimizer": "adam", "mse_method": "data"},
    "mse-no-intercept-clip": {"lr": 0.1, "fit_intercept": False, "clip_norm": 0.5},
    "mse-diverging": {"lr": 5.0},
    "logistic-sgd": {"loss": "logistic", "lr": 0.5},
    "logistic-adam": {"loss": "logistic", "lr": 0.1, "optimizer": "adam", "l2": 0.01},
    "logistic-momentum": {"loss": "logistic", "lr": 0.5, "momentum": 0.9},
}


def problems(dtype: str = "float64", *, b: int = B) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """X (b, N, D), real targets (b, N) and labels (b, N)."""
    rng = np.random.default_rng(11)
    X = rng.normal(size=(b, N, D)) + 0.5
    scores = np.einsum("bnd,bd->bn", X, rng.normal(size=(b, D))) + 0.3
    y = scores + rng.normal(scale=0.5, size=(b, N))
    labels = (scores + rng.normal(scale=1.5, size=(b, N)) > 0).astype(np.float64)
    return X.astype(dtype), y.astype(dtype), labels.astype(dtype)


def assert_same_fit(lazy: GradientDescentResult, eager: GradientDescentResult) -> None:
    """The Dask result, computed, equals NumPy's to a few ulps, field by field (dtypes and
    shapes too; the history may have more rows, repeating its last)."""
    computed = dask.compute(*lazy)
    for name, actual, expected in zip(eager._fields, computed, eager, strict=True):
        assert actual.dtype == expected.dtype, name
        if name == "loss_history" and actual.shape != expected.shape:
            rows = expected.shape[0]
            assert np.all(actual[rows:] == actual[rows - 1]), "extra rows repeat the last"
            actual = actual[:rows]
        assert_same_values(actual, expected, name=name)


def in_memory_tasks(result: GradientDescentResult) -> int:
    """Tasks of the layer that runs the fits."""
    layers = result.weights.dask.layers
    counts = [len(layer) for name, layer in layers.items() if name.startswith("descend_in_memory-")]
    return sum(counts)


def recorded_offers() -> contextlib.AbstractContextManager[list[FusedCall]]:
    """The calls the kernel makes of Dask's gradient descent while the block runs: their
    arguments and what it answered."""
    return recorded_fused_calls("dask", KERNEL)


class RecordedComputes:
    """What Dask's local schedulers compute while the block runs: each graph's key names
    (``graphs``) and the keys of the tasks run (``tasks``)."""

    def __enter__(self) -> RecordedComputes:
        from dask.callbacks import Callback

        graphs, tasks = self.graphs, self.tasks = [], []

        class Recording(Callback):
            def _start(self, dsk: Any) -> None:
                graphs.append({key[0] if isinstance(key, tuple) else key for key in dsk})

            def _pretask(self, key: Any, dsk: Any, state: Any) -> None:
                tasks.append(key)

        self._callback = Recording()
        self._callback.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._callback.__exit__(*exc_info)


@pytest.mark.parametrize("name", list(OPTIONS))
def test_chunked_problems_give_numpys_fit(name):
    options = OPTIONS[name]
    X, y, labels = problems()
    targets = labels if options.get("loss") == "logistic" else y
    eager = gradient_descent(X, targets, steps=40, **options)
    with recorded_offers() as offers:
        lazy = gradient_descent(
            da.from_array(X, chunks=(3, N, D)),
            da.from_array(targets, chunks=(2, N)),
            steps=40,
            **options,
        )
    assert len(offers) == 1 and offers[0].answer is not NotImplemented
    assert lazy.weights.chunks[0] == (B,)  # a small answer: the fits joined, one chunk
    assert in_memory_tasks(lazy) == 3
    assert_same_fit(lazy, eager)
    if name == "mse-diverging":
        assert bool(np.all(eager.diverged))


def test_large_answers_stay_chunked_as_the_problems(monkeypatch):
    from mlpillars.backends.frameworks import _dask_descent

    X, y, _ = problems()
    eager = gradient_descent(X, y, steps=40, tol=1e-6)
    chunked = da.from_array(X, chunks=(3, N, D)), da.from_array(y, chunks=(2, N))
    for joined_bytes, batch_chunks in ((0, (3, 3, 1)), (_dask_descent.JOINED_BYTES, (B,))):
        monkeypatch.setattr(_dask_descent, "JOINED_BYTES", joined_bytes)
        lazy = gradient_descent(*chunked, steps=40, tol=1e-6)
        assert lazy.weights.chunks == (batch_chunks, (D,))
        assert lazy.loss_history.chunks == ((41,), batch_chunks)
        assert lazy.steps_run.chunks == (batch_chunks,)
        assert in_memory_tasks(lazy) == 3
        assert_same_fit(lazy, eager)


def test_tol_history_has_steps_plus_one_rows_repeating_the_last():
    X, y, _ = problems()
    lr = np.linspace(0.02, 0.2, B)
    eager = gradient_descent(X, y, lr=lr, steps=400, tol=1e-6)
    lazy = gradient_descent(
        da.from_array(X, chunks=(2, N, D)),
        da.from_array(y),
        lr=da.from_array(lr),
        steps=400,
        tol=1e-6,
    )
    assert eager.loss_history.shape[0] < 401 and bool(np.all(eager.converged))
    assert lazy.loss_history.shape == (401, B)
    assert_same_fit(lazy, eager)


@pytest.mark.parametrize("rates_in", ["tasks", "graph"])
def test_learning_rate_sweep_reads_the_shared_data_whole_in_each_task(rates_in, monkeypatch):
    # "tasks": the rates, held here, go into the fits' tasks as values; "graph": too large
    # a graph to compute here (or data on a cluster), they are chunks the fits depend on.
    from mlpillars.backends.frameworks import _dask_descent

    if rates_in == "graph":
        monkeypatch.setattr(_dask_descent, "HOST_RATE_TASKS", 0)
    X, y, _ = problems()
    rates = np.geomspace(1e-3, 0.5, 9)
    eager = gradient_descent(X[0], y[0], lr=rates, steps=60, momentum=0.5)
    with recorded_offers() as offers:
        lazy = gradient_descent(
            da.from_array(X[0], chunks=(10, D)),
            da.from_array(y[0], chunks=10),
            lr=(lazy_rates := da.from_array(rates, chunks=4)),
            steps=60,
            momentum=0.5,
        )
    features, targets, lr = offers[0].args
    assert (features.shape, targets.shape, lr.shape) == ((1, N, D), (1, N), (9,))
    assert lazy.weights.chunks == ((9,), (D,))  # three fits, joined
    assert in_memory_tasks(lazy) == 3
    assert (lazy_rates.name in lazy.weights.dask.layers) == (rates_in == "graph")
    assert_same_fit(lazy, eager)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_unbatched_call_drops_the_batch_axis(dtype):
    X, y, labels = problems(dtype)
    for loss, targets in (("mse", y[0]), ("logistic", labels[0])):
        eager = gradient_descent(X[0], targets, loss=loss, steps=30, lr=0.1)
        lazy = gradient_descent(
            da.from_array(X[0], chunks=(20, D)), da.from_array(targets), loss=loss, steps=30, lr=0.1
        )
        assert (lazy.weights.shape, lazy.bias.shape, lazy.loss_history.shape) == ((D,), (), (31,))
        assert in_memory_tasks(lazy) == 1
        assert_same_fit(lazy, eager)


def test_float32_batches_stay_float32():
    X, y, _ = problems("float32")
    eager = gradient_descent(X, y, steps=30, optimizer="adam", lr=0.05)
    lazy = gradient_descent(
        da.from_array(X, chunks=(4, N, D)), da.from_array(y), steps=30, optimizer="adam", lr=0.05
    )
    assert lazy.weights.dtype == np.float32 and lazy.loss_history.dtype == np.float32
    assert_same_fit(lazy, eager)


@pytest.mark.parametrize("tol", [None, 1e-3])
def test_no_problems_give_empty_fields(tol):
    X, y, _ = problems(b=0)
    eager = gradient_descent(X, y, steps=5, tol=tol)
    lazy = gradient_descent(da.from_array(X), da.from_array(y), steps=5, tol=tol)
    assert lazy.weights.shape == (0, D) and lazy.loss_history.shape == (6, 0)
    assert_same_fit(lazy, eager)


def test_graph_is_one_task_per_chunk_whatever_the_steps():
    X, y, _ = problems()
    chunked = da.from_array(X, chunks=(3, N, D)), da.from_array(y, chunks=(3, N))
    sizes = {}
    for steps in (1, 10, 300):
        result = gradient_descent(*chunked, steps=steps, loss="mse", lr=0.05)
        sizes[steps] = len(result.weights.__dask_graph__())
        assert in_memory_tasks(result) == 3
    assert len(set(sizes.values())) == 1, sizes
    single = gradient_descent(da.from_array(X), da.from_array(y), steps=300)
    assert single.weights.numblocks == (1, 1) and in_memory_tasks(single) == 1


def test_a_problem_too_large_for_a_task_takes_the_per_step_path():
    X, y, _ = problems(b=1)
    eager = gradient_descent(X, y, steps=4)
    chunked = da.from_array(X, chunks=(1, 10, D))  # 960 bytes each, 80 per row block
    with dask.config.set({"array.chunk-size": "512B"}), recorded_offers() as offers:
        lazy = gradient_descent(chunked, da.from_array(y, chunks=(1, 10)), steps=4)
    assert offers[0].answer is NotImplemented
    assert in_memory_tasks(lazy) == 0
    computed = dask.compute(lazy.weights, lazy.loss_history)
    np.testing.assert_allclose(computed[0], eager.weights, rtol=1e-12)
    np.testing.assert_allclose(computed[1], eager.loss_history, rtol=1e-12)


def test_inputs_with_unknown_chunk_sizes_are_declined():
    from mlpillars.backends.frameworks import _dask_descent

    X, y, _ = problems()
    unknown = da.from_array(X)[da.from_array(np.ones(B, dtype=bool))]  # B chunks: NaN
    options = {"steps": 3}
    answer = _dask_descent.gradient_descent(unknown, da.from_array(y), da.ones(B), options)
    assert answer is NotImplemented


def test_an_inherited_backend_setting_does_not_send_blocks_back_to_dask(monkeypatch):
    X, y, _ = problems()
    monkeypatch.setenv("MLPILLARS_BACKEND", "dask")
    lazy = gradient_descent(da.from_array(X, chunks=(4, N, D)), da.from_array(y), steps=10)
    monkeypatch.delenv("MLPILLARS_BACKEND")
    assert_same_fit(lazy, gradient_descent(X, y, steps=10))


def test_a_step_reads_no_dask_values():
    # The eager loop skips its where calls when every row is known to update; on Dask
    # that read would be a compute at every step of the per-step path: it is not made.
    from mlpillars.backends import values_at_hand, values_known
    from mlpillars.kernels._descent_steps import known_all

    mask = da.ones(4, dtype=bool)
    with RecordedComputes() as computes:
        assert values_known(mask) and not values_at_hand(mask)
        assert not known_all(mask, xp=FRAMEWORKS["dask"].namespace())
    assert len(computes.graphs) == 0
    assert known_all(np.ones(4, dtype=bool), xp=FRAMEWORKS["numpy"].namespace())


def unaligned(array: np.ndarray) -> np.ndarray:
    """A copy of ``array`` whose data start one byte past an aligned address, as a chunk
    deserialized on a worker can (bytes and booleans are aligned anywhere)."""
    raw = np.empty(array.nbytes + 1, dtype=np.uint8)
    copy = np.frombuffer(raw[1:].data, dtype=array.dtype).reshape(array.shape)
    copy[...] = array
    assert copy.flags.aligned == (array.itemsize == 1)
    return copy


def test_unaligned_blocks_are_computed_on_aligned_copies(monkeypatch):
    # NumPy runs unaligned arrays without BLAS (a chunk's fit measured 1.75x slower).
    from mlpillars.backends._registry import KERNELS
    from mlpillars.backends.frameworks import _dask_descent, _dask_fused

    seen: list[bool] = []
    for name in ("gradient_descent", "scaled_dot_product_attention"):
        kernel = KERNELS[name]

        def recording(*arrays: Any, _kernel: Any = kernel, **options: Any) -> Any:
            given = [*arrays, options.get("lr"), options.get("mask")]
            seen.extend(a.flags.aligned for a in given if isinstance(a, np.ndarray))
            return _kernel(*arrays, **options)

        monkeypatch.setitem(KERNELS, name, recording)
    X, y, _ = problems()
    lr = np.full(B, 0.05)
    options = {"loss": "mse", "steps": 5}
    fitted = _dask_descent._descend_in_memory(
        unaligned(X), unaligned(y), unaligned(lr), options=options, rows=6
    )
    expected = gradient_descent(X, y, lr=lr, steps=5)
    np.testing.assert_array_equal(fitted[0], expected.weights)
    np.testing.assert_array_equal(fitted[2], expected.loss_history)
    q = np.random.default_rng(3).normal(size=(2, 3, 5, 4))
    mask = np.tril(np.ones((5, 5), dtype=bool))[None, None]
    options = {"scale": 0.5, "is_causal": False, "enable_gqa": False}
    attended = _dask_fused._attend_in_memory(*(unaligned(a) for a in (q, q, q, mask)), **options)
    np.testing.assert_array_equal(attended, _dask_fused._attend_in_memory(q, q, q, mask, **options))
    assert len(seen) == 3 + 4 + 4 and all(seen), seen


@pytest.mark.parametrize(
    ("loss", "lr", "message"),
    [
        ("mse", -0.1, r"lr must be finite and >= 0; got -0.1 at flat index 0 .*\(lr: \([13],\)\)"),
        ("mse", np.inf, r"lr must be finite and >= 0"),
        ("logistic", 0.1, r"logistic loss needs labels y in \{0, 1\}; got \S+ at flat index"),
    ],
)
def test_bad_values_raise_when_the_tasks_compute_not_at_the_call(loss, lr, message):
    X, y, _ = problems()  # y is real-valued: not labels
    chunked = da.from_array(X, chunks=(3, N, D)), da.from_array(y, chunks=(3, N))
    with RecordedComputes() as computes:
        lazy = gradient_descent(*chunked, lr=lr, loss=loss)
    # lr alone is computed, in this process (on a cluster: no round trip)
    assert all(not graph & {array.name for array in chunked} for graph in computes.graphs)
    with pytest.raises(ValueError, match=rf"^gradient_descent: {message}"):
        dask.compute(*lazy)


def test_bad_values_raise_at_the_call_on_the_per_step_path():
    X, y, _ = problems(b=1)
    chunked = da.from_array(X, chunks=(1, 10, D)), da.from_array(y, chunks=(1, 10))
    with dask.config.set({"array.chunk-size": "512B"}), recorded_offers() as offers:
        with pytest.raises(ValueError, match=r"^gradient_descent: lr must be finite and >= 0"):
            gradient_descent(*chunked, lr=-1.0, steps=2)
        with pytest.raises(ValueError, match=r"labels y in \{0, 1\}.*\(y: \(1, 40\)\)"):
            gradient_descent(*chunked, loss="logistic", steps=2)
    assert [offer.answer for offer in offers] == [NotImplemented, NotImplemented]


def test_ready_computes_a_results_arrays_at_once_so_the_fits_run_once():
    from mlpillars import ready

    X, y, _ = problems()
    lazy = gradient_descent(da.from_array(X, chunks=(4, N, D)), da.from_array(y), steps=5)
    with RecordedComputes() as computes:
        assert ready(lazy) is lazy
    fits_run = [key for key in computes.tasks if str(key[0]).startswith("descend_in_memory-")]
    assert sorted(fits_run) == sorted(set(fits_run)) and len(fits_run) == 2, fits_run


def test_held_inputs_without_a_cluster_are_persisted_in_the_local_pool() -> None:
    from dask.system import CPU_COUNT

    from mlpillars.backends.frameworks.dask import SPREAD_BYTES

    rows = CPU_COUNT * (SPREAD_BYTES // 8 // 3 + 1)  # at least SPREAD_BYTES a chunk
    X = np.arange(rows * 3.0).reshape(rows, 3)
    (held,) = FRAMEWORKS["dask"].held_inputs((da.from_array(X),))
    assert len(held.chunks[0]) == CPU_COUNT
    assert len(held.__dask_graph__()) == CPU_COUNT  # the chunks' data, no tasks left
    np.testing.assert_array_equal(held.compute(), X)
