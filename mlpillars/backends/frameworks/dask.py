"""Dask: lazy arrays on the host; computing is waiting, ``persist`` keeps loops shallow, and
the linear algebra Dask lacks or restricts is answered here."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from .base import Framework, StepLoop


class DaskFramework(Framework):
    name = "dask"
    module_name = "dask.array"
    extra = "dask"

    def owns(self, array: object) -> bool:
        return aac.is_dask_array(array)

    def namespace(self) -> ModuleType:
        self.load()
        import array_api_compat.dask.array as xp

        return xp

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        return self.load().from_array(host, chunks="auto")

    def to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array.compute())

    def to_device(self, array: Any, device: Any) -> Any:
        return array

    def synchronize(self, array: Any) -> None:
        # A Dask array is a recipe: "ready" means the recipe has been computed.
        array.compute()

    def materialize(self, *arrays: Any) -> tuple[Any, ...]:
        # Without this, each step of an iterative kernel would recompute every earlier step;
        # one persist call for all of them computes their shared graph once.
        import dask

        return dask.persist(*arrays)

    # -- step loops: every step's state persisted, so the graph stays one step deep --------
    def run_loop(self, loop: StepLoop, state: Any, constants: Any) -> tuple[Any, Any, Any]:
        return super().run_loop(_PersistedSteps(loop, self), state, constants)

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=True, bfloat16=False, eigh=False, inplace=False, gpu=False
        )

    def erf(self, array: Any) -> Any:
        from scipy.special import erf

        return array.map_blocks(lambda block: erf(block).astype(block.dtype), dtype=array.dtype)

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
