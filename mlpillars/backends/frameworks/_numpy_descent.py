"""NumPy's buffers for the blocks of gradient descent on the MSE's statistics.

A block of K steps (``mlpillars.kernels._descent_blocks``) writes K parameter rows (B,
K, p) and multiplies them by Q for the losses (B, K, d): two arrays of 0.5-1 MiB a
block, for B = 128-256 problems of 32 features. Where glibc's mmap threshold is fixed (a
process started with ``MALLOC_TRIM_THRESHOLD_`` set, as Dask's workers are; their tasks
keep the heap themselves: ``_worker_heap``), every such array is a fresh mapping and its
pages fault in one by one when first written (about 5 us a fault on the project's VM).
Here both are written into buffers made once a fit, and each step into one more. A fit
of 128 problems (n=512, d=32, 200 steps, float64, one BLAS thread) under that
environment: 5,306 -> 2,387 page faults, 44.5-63.8 -> 35.2-43.6 ms (the rest are the
statistics' arrays, made once); without it (glibc reuses freed blocks) 27 ms either way.

Nothing returned is a view of a buffer that a later block writes: the kernel copies the
parameters it keeps (:func:`mlpillars.kernels._descent_blocks._kept`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np


@contextlib.contextmanager
def quiet_loop() -> Iterator[None]:
    """NumPy's overflow and invalid-value warnings off, for a step loop: a problem's
    overflow is the divergence the loop detects and reports (``diverged``), as it does on
    torch and JAX, which never warn. Blocks of steps also run past a problem's stop and
    drop those steps, whose overflow would warn of nothing the result holds."""
    with np.errstate(over="ignore", invalid="ignore"):
        yield


class BlockBuffers:
    """The buffers of one fit's blocks, made at the first block and again whenever the
    shapes change (the last group of problems of a grouped loop may be smaller)."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}

    def trajectory(
        self, params: np.ndarray, linear_part: np.ndarray, constant_part: np.ndarray, count: int
    ) -> np.ndarray:
        """``count`` affine steps ``theta <- theta - (theta A + a)`` of params (B, p), A
        (B, p, p), a (B, 1, p): the rows after each step, (B, K, p), in a reused buffer."""
        rows = self._buffer("rows", (params.shape[0], count, params.shape[-1]), params.dtype)
        step = self._buffer("step", (params.shape[0], 1, params.shape[-1]), params.dtype)
        previous = params[:, None, :]
        for index in range(count):
            row = rows[:, index : index + 1, :]
            np.matmul(previous, linear_part, out=step)
            step += constant_part
            np.subtract(previous, step, out=row)
            previous = row
        return rows

    def product(self, delta: np.ndarray, curvature: np.ndarray) -> np.ndarray:
        """``delta @ curvature`` of delta (B, K, d), Q (1 or B, d, d), in a reused buffer."""
        shape = (*delta.shape[:-1], curvature.shape[-1])
        return np.matmul(delta, curvature, out=self._buffer("product", shape, delta.dtype))

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        found = self._arrays.get(name)
        if found is None or found.shape != shape or found.dtype != dtype:
            found = self._arrays[name] = np.empty(shape, dtype=dtype)
        return found
