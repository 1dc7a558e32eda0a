"""NumPy's buffers for the blocks of steps of gradient descent on the MSE's statistics
(``mlpillars.kernels._descent_blocks``), and the powers of the step map its rows advance by.

Rows by powers
--------------
A block of K plain steps ``u <- u P + c`` of B problems is K batched (1, p) by (p, p)
products, and NumPy pays a BLAS call per problem in each: 128 problems of p = 33 on one
thread take 25 us for one row each, 55 us for eight. So the rows double, then advance
eight at a time: rows ``[r, r + w)`` are rows ``[r - w, r)`` times ``P^w`` plus ``c_w``
(:meth:`BlockBuffers.affine_rows`), the powers ``P^2, P^4, P^8`` made once a fit (three
(B, p, p) products, 0.65 ms for 128 problems of p = 33). A block of 29 rows: 1.26 ->
0.58 ms.

Buffers kept from fit to fit
----------------------------
A block writes K parameter rows (B, K, p) and their product by ``[Q, h, x̄]`` for the losses
(B, K, p), and the powers are three (B, p, p) arrays: 0.5-1 MiB each for B = 128-256
problems of 32 features, whose pages would fault in afresh at every fit. Each thread keeps
them for its next fit (``_numpy_kept``). 128 problems (n=512, d=32, 200 steps, float64),
page faults a fit after the first: 1,049 with plain steps, 2,015 with the powers made
afresh, under 30 with the buffers kept. (Where glibc's mmap threshold is fixed, as in Dask's
workers, which set ``MALLOC_TRIM_THRESHOLD_``: ``_worker_heap``.)

Nothing returned is a view of a buffer: the kernel copies the parameters it keeps
(:func:`mlpillars.kernels._descent_block_rules._kept`), and its losses are new arrays.
A thread runs one fit at a time, so no two fits share a buffer.
"""

from __future__ import annotations

import math

import numpy as np

from . import _numpy_kept

POWER_LEVELS = 3
"""Powers ``P^(2^j)`` of a fit's step map, j = 1 to this, by which a block's rows
advance: ``2^POWER_LEVELS`` rows a product at most."""


class BlockBuffers:
    """The buffers of one fit's blocks (kept by the thread for the next fit, see the
    module), and the powers of its step map. A step is one affine map, two calls; by its
    gradient (torch's way) it would be four to six: B=256 n=512 d=32 200 steps float64
    took 1.2-1.3x the time so, the two threads of a fit in parts contending for the GIL at
    each call."""

    steps_by_gradient = False

    block_values_scale = 4
    """Blocks of up to 4 x ``BLOCK_VALUES`` parameter values (2^19: 4 MiB of float64 rows)
    where no problem stops early: each block's rules and losses, and the doubling of its
    first eight rows, are paid fewer times. 200 steps float64, side by side, 2^17 against
    2^19: B=256 n=512 d=32 (a part of 128 problems in 2 blocks of 100 steps, not 7 of 29) 0.87x,
    B=1024 n=128 d=16 0.84x, B=64 and B=32 (d=8) 0.96-0.99x."""

    def __init__(self) -> None:
        self._arrays: dict[str, np.ndarray] = {}
        self._powers: tuple[np.ndarray, list[tuple[np.ndarray, np.ndarray]]] | None = None

    def affine_rows(
        self, params: np.ndarray, step_matrix: np.ndarray, step_offset: np.ndarray, count: int
    ) -> np.ndarray:
        """``count`` affine steps ``u <- u P + c`` of params (B, p), P (B, p, p), c (B, 1, p):
        the rows after each step, (B, K, p), in a buffer. The first row is a step; then
        each product takes the rows computed, up to ``w = 2^POWER_LEVELS`` of them, to as
        many further rows by ``P^w`` (:meth:`_powers_of`)."""
        rows = self._buffer("rows", (params.shape[0], count, params.shape[-1]), params.dtype)
        powers = self._powers_of(step_matrix, step_offset)
        np.matmul(params[:, None, :], step_matrix, out=rows[:, :1, :])
        rows[:, :1, :] += step_offset
        done, level = 1, 0
        while done < count:
            if level + 1 < len(powers) and 2 ** (level + 1) <= done:
                level += 1
            width = 2**level
            taken = min(width, count - done)
            power, offset = powers[level]
            new_rows = rows[:, done : done + taken, :]
            np.matmul(rows[:, done - width : done - width + taken, :], power, out=new_rows)
            new_rows += offset
            done += taken
        return rows

    def product(self, rows: np.ndarray, matrix: np.ndarray) -> np.ndarray:
        """``rows @ matrix`` of rows (B, K, p), matrix (B, p, m), in a buffer."""
        shape = (*rows.shape[:-1], matrix.shape[-1])
        return np.matmul(rows, matrix, out=self._buffer("product", shape, rows.dtype))

    def _powers_of(
        self, step_matrix: np.ndarray, step_offset: np.ndarray
    ) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(P^w, c_w)`` for w = 1, 2, 4, ... 2^POWER_LEVELS, ``c_w = c (I + P + ... +
        P^(w-1))``: w steps in one map, made at the fit's first block (each group's, in
        a grouped loop). Only as far as every power of every problem is finite: a map
        that grows a problem's parameters past the dtype's range in w steps (a huge lr)
        would turn rows to inf or NaN that w single steps keep finite."""
        if self._powers is not None and self._powers[0] is step_matrix:
            return self._powers[1]
        batch_size, size = step_matrix.shape[0], step_matrix.shape[-1]
        matrices = self._buffer("powers", (POWER_LEVELS, batch_size, size, size), step_matrix.dtype)
        offsets = self._buffer("offsets", (POWER_LEVELS, batch_size, 1, size), step_matrix.dtype)
        powers = [(step_matrix, step_offset)]
        with np.errstate(over="ignore", invalid="ignore"):
            for squared, doubled in zip(matrices, offsets, strict=True):
                power, offset = powers[-1]
                np.matmul(power, power, out=squared)
                np.matmul(offset, power, out=doubled)
                doubled += offset
                if not (_all_finite(squared) and _all_finite(doubled)):
                    break
                powers.append((squared, doubled))
        self._powers = (step_matrix, powers)
        return powers

    def _buffer(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
        """The fit's array ``name`` of this shape and dtype: the thread's kept one
        (``_numpy_kept``), taken again at the fit's next block."""
        found = self._arrays.get(name)
        if found is None or found.shape != shape or found.dtype != dtype:
            found = self._arrays[name] = _numpy_kept.buffer(f"blocks.{name}", shape, dtype)
        return found


def _all_finite(array: np.ndarray) -> bool:
    """Whether every element is finite, from their sum (one pass, no (B, p, p) mask): a
    sum of finite values may still overflow, which only drops a power that was fine."""
    return math.isfinite(np.add.reduce(array, axis=None))
