"""Dask: lazy arrays on the host; computing is waiting, ``persist`` keeps loops shallow, and
the linear algebra Dask lacks or restricts is answered here.

Its own attention and gradient descent (one task per block, the in-memory kernel in each)
are in :mod:`._dask_fused` and :mod:`._dask_descent`; the dense layer's operands, laid out
so that each chunk of x is computed once, in :mod:`._dask_products`; ``.npy`` files and
``dask.distributed`` schedulers in :mod:`._dask_io`.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator, Mapping
from types import ModuleType
from typing import Any, ClassVar

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from . import _dask_chunks, _dask_descent, _dask_fused, _dask_io, _dask_products, _numpy_special
from ._dask_io import from_npy, from_zarr, write_normal_zarr
from .base import Framework, StepLoop

__all__ = ["DaskFramework", "from_npy", "from_zarr", "write_normal_zarr"]


SPREAD_BYTES = 2**20
"""The least data a chunk of :meth:`DaskFramework.held_inputs` holds: smaller inputs stay
one chunk, as a user would keep them (each more chunk is a task per call)."""


class DaskFramework(Framework):
    name = "dask"
    module_name = "dask.array"
    extra = "dask"
    lazy = True

    def owns(self, array: object) -> bool:
        return aac.is_dask_array(array)

    def unknown_sizes_remedy(self, label: str) -> str:
        return (
            f"call {label}.compute_chunk_sizes() first (it computes {label}'s graph), or "
            f"index with sizes Dask knows"
        )

    def namespace(self) -> ModuleType:
        self.load()
        import array_api_compat.dask.array as xp

        return xp

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        # an empty array in one chunk: Dask's "auto" divides by its largest block, 0 for
        # some empty shapes (ZeroDivisionError for (0, 8, 17, 64))
        return self.load().from_array(host, chunks="auto" if host.size else -1)

    def to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array.compute())

    def to_device(self, array: Any, device: Any) -> Any:
        return array

    def synchronize(self, array: Any) -> None:
        # A Dask array is a recipe: "ready" means the recipe has been computed.
        array.compute()

    def synchronize_all(self, arrays: list[Any]) -> None:
        import dask

        dask.compute(*arrays)  # one graph: shared tasks run once

    def materialize(self, *arrays: Any) -> tuple[Any, ...]:
        # Without this, each step of an iterative kernel would recompute every earlier step;
        # one persist call for all of them computes their shared graph once.
        import dask

        return dask.persist(*arrays)

    def held_inputs(self, arrays: tuple[Any, ...], *, problems: bool = False) -> tuple[Any, ...]:
        """Computed where Dask computes (``persist``: on a cluster's workers), with the
        first array's leading axis, and every array's of that length, in at least one
        chunk per thread (workers' threads on a cluster, else the local pool's) where
        each chunk keeps ``SPREAD_BYTES``: a user's data are spread over the workers
        before a call, not shipped in its graph, and one chunk would run on one thread
        (``from_host``'s "auto" chunks are 128 MiB); small data stay one chunk. The leading
        axis is spread whether or not it holds ``problems``: rows are Dask's unit of work."""
        import dask

        client = _dask_io.active_client()
        if client is None:
            threads = dask.system.CPU_COUNT
        else:
            threads = _dask_io.cluster_threads(client) or 1
        lazy = [a for a in arrays if self.owns(a) and a.ndim]
        leading = lazy[0].shape[0] if lazy else 0
        spread = {
            id(a): a.rechunk({0: -(-leading // threads)})
            for a in lazy
            if a.shape[0] == leading
            and leading >= threads
            and len(a.chunks[0]) < threads
            and a.nbytes >= threads * SPREAD_BYTES
        }
        held = iter(dask.persist(*(spread.get(id(a), a) for a in lazy)))
        return tuple(next(held) if self.owns(a) and a.ndim else a for a in arrays)

    def tidied(self, array: Any) -> Any:
        """``array`` with its empty chunks merged away (see :mod:`._dask_chunks`)."""
        return _dask_chunks.tidied(array)

    def reduce_max(self, array: Any, *, axis: int, keepdims: bool, xp: ModuleType) -> Any:
        """Dask's max, also over chunks found empty when computed (:mod:`._dask_chunks`)."""
        return _dask_chunks.reduce_max(array, axis=axis, keepdims=keepdims, xp=xp)

    def layer_operands(self, x: Any, weight: Any, bias: Any) -> tuple[Any, Any, Any]:
        """The weight chunked along its inputs as x, and along its outputs in one chunk
        (the bias with it) where that block stays within a chunk's size, else x's chunks
        made tasks of their own: each chunk of x is computed once (see
        :mod:`._dask_products`)."""
        return _dask_products.layer_operands(x, weight, bias)

    def settings(self) -> dict[str, Any]:
        """The version and the scheduler that computes: a distributed cluster's address,
        workers and threads when a ``Client`` is active, else Dask's local one."""
        import dask

        record: dict[str, Any] = {"version": dask.__version__}
        client = _dask_io.active_client()
        if client is None:
            record["scheduler"] = dask.config.get("scheduler", None) or "threads (local)"
            return record
        workers = client.scheduler_info().get("workers", {})
        record["scheduler"] = f"distributed at {client.scheduler.address}"
        record["workers"] = len(workers)
        record["threads"] = _dask_io.cluster_threads(client)
        record["memory_limit_per_worker"] = sorted(
            {worker.get("memory_limit") for worker in workers.values()}
        )
        return record

    @contextlib.contextmanager
    def scheduler(self, spec: str) -> Iterator[Any]:
        """Compute on a ``dask.distributed`` cluster while the block runs: ``"local:N"``
        starts a ``LocalCluster`` of N one-thread worker processes, anything else is a
        scheduler address; yields the client (see :func:`._dask_io.scheduler`)."""
        with _dask_io.scheduler(spec) as client:
            yield client

    # -- step loops: every step's state persisted, so the graph stays one step deep (gradient
    # descent's fused path runs whole fits per task instead; this is where it declines) ---
    def run_loop(self, loop: StepLoop, state: Any, constants: Any) -> tuple[Any, Any, Any]:
        return super().run_loop(_PersistedSteps(loop, self), state, constants)

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=True, bfloat16=False, eigh=False, inplace=False, gpu=False
        )

    def erf(self, array: Any) -> Any:
        """NumPy's (``_numpy_special``), block by block."""
        return array.map_blocks(_numpy_special.erf, dtype=array.dtype)

    def eigh(self, matrix: Any) -> tuple[Any, Any]:
        # Dask has no eigh: the matrix (a small (d, d) one in practice) is decomposed on
        # NumPy and the result put back on Dask.
        eigenvalues, eigenvectors = np.linalg.eigh(self.to_host(matrix))
        return self.from_host(eigenvalues, None), self.from_host(eigenvectors, None)

    def svd(self, matrix: Any) -> tuple[Any, Any, Any]:
        # Dask's TSQR takes one chunk across the shorter axis; the longer one stays chunked.
        # S and the small square factor are computed at once and kept (each later use would
        # rerun the SVD); the factor as large as the matrix stays lazy.
        import dask

        tall = matrix.shape[0] >= matrix.shape[1]
        U, S, Vh = self.namespace().linalg.svd(_one_chunk_across(matrix), full_matrices=False)
        if tall:
            S, Vh = dask.persist(S, Vh)
        else:
            U, S = dask.persist(U, S)
        return U, S, Vh

    def qr(self, matrix: Any) -> tuple[Any, Any]:
        # Dask's QR is 2-D only: each matrix of a stack is factorised on its own.
        return _each_matrix(self._qr_2d, matrix)

    def solve_triangular(self, upper: Any, rhs: Any) -> Any:
        # Dask's triangular solve is 2-D only: each system of a stack is solved on its own.
        (solution,) = _each_matrix(self._solve_triangular_2d, upper, rhs)
        return solution

    def _qr_2d(self, matrix: Any) -> tuple[Any, Any]:
        Q, R = self.load().linalg.qr(_one_chunk_across(matrix))
        return Q, R

    def _solve_triangular_2d(self, upper: Any, rhs: Any) -> tuple[Any]:
        # The blocked solve pairs the matrix's diagonal blocks with the right-hand side's
        # row chunks: square blocks, and row chunks that match them.
        upper = upper.rechunk({1: upper.chunks[0]})
        rhs = rhs.rechunk({0: upper.chunks[0]})
        return (self.load().linalg.solve_triangular(upper, rhs),)

    # -- fused kernels: called by the kernels with checked, prepared arguments --------------
    fused_kernels: ClassVar[dict[str, str]] = {
        "scaled_dot_product_attention": "fused_attention",
        "gradient_descent": "fused_gradient_descent",
    }

    def fused_attention(
        self,
        q: Any,
        k: Any,
        v: Any,
        mask: Any,
        /,
        *,
        scale: float,
        is_causal: bool,
        enable_gqa: bool,
        exceeds_plain_limit: bool,
        xp: ModuleType,
    ) -> Any:
        """Attention blockwise over the batch and head axes, one task per block, each the
        in-memory kernel on NumPy; takes every call offered (``FusedAttention`` in
        ``mlpillars.kernels._attention_fused``). See :func:`._dask_fused.attention`."""
        return _dask_fused.attention(
            q, k, v, mask, scale=scale, is_causal=is_causal, enable_gqa=enable_gqa
        )

    def fused_gradient_descent(
        self, features: Any, targets: Any, lr: Any, /, *, options: Mapping[str, Any], xp: ModuleType
    ) -> Any:
        """Each chunk of problems (along B) fitted whole by one task, the NumPy kernel on
        its worker: a graph one layer deep whatever ``steps`` is (``FusedGradientDescent``
        in ``mlpillars.kernels._descent_fused``). See :func:`._dask_descent.gradient_descent`
        for the chunks, and for the calls it declines (the per-step path then runs)."""
        return _dask_descent.gradient_descent(features, targets, lr, options)


def _one_chunk_across(matrix: Any) -> Any:
    """The matrix with one chunk across its shorter axis, as Dask's TSQR (and its wide
    twin) wants; the longer axis keeps its chunks."""
    tall = matrix.shape[0] >= matrix.shape[1]
    return matrix.rechunk({1 if tall else 0: -1})


def _each_matrix(routine: Callable[..., tuple[Any, ...]], *stacks: Any) -> tuple[Any, ...]:
    """``routine`` (2-D arrays -> tuple of 2-D arrays) on each matrix of stacks (..., m, n)
    of one leading shape, its results stacked back to that leading shape."""
    import dask.array as da

    leading = stacks[0].shape[:-2]
    if not leading:
        return routine(*stacks)
    flat = [stack.reshape((-1, *stack.shape[-2:])) for stack in stacks]
    per_matrix = [routine(*(stack[i] for stack in flat)) for i in range(flat[0].shape[0])]
    stacked = (da.stack(parts, axis=0) for parts in zip(*per_matrix, strict=True))
    return tuple(part.reshape((*leading, *part.shape[1:])) for part in stacked)


@dataclasses.dataclass(frozen=True)
class _PersistedSteps:
    """``loop`` with each step's state (a NamedTuple of arrays or None) persisted."""

    loop: StepLoop
    framework: DaskFramework

    @property
    def steps(self) -> int:
        return self.loop.steps

    @property
    def stops_early(self) -> bool:
        return self.loop.stops_early

    @property
    def xp(self) -> ModuleType:
        return self.loop.xp

    def step(self, count: Any, state: Any, constants: Any) -> Any:
        stepped = self.loop.step(count, state, constants)
        arrays = iter(self.framework.materialize(*(a for a in stepped if a is not None)))
        return type(stepped)(*(None if a is None else next(arrays) for a in stepped))

    def record(self, state: Any) -> Any:
        return self.loop.record(state)

    def finished(self, state: Any) -> Any:
        return self.loop.finished(state)
