"""torch's buffers for the blocks of gradient descent on the MSE's statistics.

A block of K steps (``mlpillars.kernels._descent_blocks``) is K steps of the B problems'
parameter rows; torch takes each by its gradient, ``u <- u + scale (g + e mean_row)`` with
``g = u @ A + a``: one ``torch.addcmul`` (two with an intercept) and one
``torch.baddbmm``, written into their rows of two buffers made once a fit, (K, B, 1, p),
whose rows the block reads as (B, K, p) views. Each step's ``g`` is the one its loss
reads: the block then needs no product for its losses, which took as long as 9 of its 16
steps (torch's small batched float64 products are slow here: a step of 256 problems of
33 parameters 49 us on two threads, NumPy's of 128 on one 32 us; an elementwise call
3.5 us). B=256 n=512 d=32 200 steps float64 on the CPU, side by side: 0.94x the time
of one affine step a step and the block's losses by a product (21 rounds).

Measured and not taken (2026-12-02, 256 problems of p = 33, float64, this project's
2-core machine): NumPy's rows by powers of the step map (``_numpy_blocks``) gain nothing
here: torch's ``baddbmm`` of 1 row a problem took 35-45 us, of 2 rows 80-120 us, of 8
rows 140-380 us (a (B, 8, p) view of a (B, K, p) buffer as its output: 700 us), so 8
rows by a power cost about what 8 single steps do, and the losses then need a product. A step as
``(u[:, :, None] * P).sum(1)`` took 62-68 us, ``torch.einsum`` 56 us. Parts of the
problems on two threads, as NumPy's fits run (``_numpy_descent``), with one intra-op
thread each: 28.9 ms fastest, 40.1 ms median, against 30.8 and 40.1 ms in one call, and
slower still where the parts' OpenMP teams met the main thread's. A heap kept by
``mallopt`` (no page faults at all, against 1,800-2,300 a fit) took the ratio to
NumPy's fit from 1.89-1.95x to 1.72-1.88x: not taken, since ``mallopt`` is the whole
process's (and turns glibc's adaptive thresholds off for good). What is left of the fit is
torch's batched Gram (MKL, 8.2-9.7 ms on two threads; NumPy's OpenBLAS 9.7 ms on one),
208 of these steps, and some 40 calls a block.

The Gram is where torch's MKL is slow on that machine's CPU (an AMD EPYC, Zen 3), not
the formula (2026-12-02, both on one thread, minimum of 9): 256 products X^T X of
512 x 32 float64 took 21.2 ms against OpenBLAS's 8.0 (2.7x), in every layout tried
(``X.mT @ X`` 21.2 ms, on a transposed copy 18.5 ms plus the copy, the 512 rows in 2 to
16 parts summed 21.5-59 ms, ``torch.einsum`` no faster), and unchanged by
``MKL_DEBUG_CPU_TYPE=5`` or ``MKL_ENABLE_INSTRUCTIONS=AVX2``; one 1024^3 float64 GEMM
runs at parity (34.8 against 37.9 GFLOP/s). The fit's target against NumPy's (1.5x)
waits on that product.

Where the products must be recorded for differentiation (a tensor that requires grad
under grad mode, a ``torch.func`` transform, a forward-mode dual level) an ``out=``
product is refused by torch: the steps then make new tensors.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ._torch_derivatives import recorded


class BlockBuffers:
    """The buffers of one fit's blocks, made at the first block and again whenever the
    shapes change (the second loop of a fit expanded around a reference)."""

    steps_by_gradient = True

    def __init__(self, torch: ModuleType) -> None:
        self._torch = torch
        self._buffers: dict[str, Any] = {}
        self._step_views: list[tuple[Any, Any, Any]] = []

    def gradient_rows(
        self,
        params: Any,
        gradient: Any,
        matrix: Any,
        offset: Any,
        scale: Any,
        mean_row: Any,
        count: int,
    ) -> tuple[Any, Any]:
        """``count`` steps ``u <- u + scale (g + e mean_row)``, ``g = u @ A + a`` (e: g's
        last column; no such term where mean_row is None) from params and their g (B, p),
        A (B, p, p), a and mean_row (B, 1, p), scale (B, 1, 1): the rows after each step
        and their g, each (B, K, p), views of reused buffers."""
        torch = self._torch
        coupling = None if mean_row is None else scale * mean_row
        row, row_gradient = params[:, None, :], gradient[:, None, :]
        operands = (params, gradient, matrix, offset, scale, coupling)
        if recorded(torch, *(operand for operand in operands if operand is not None)):
            rows, gradients = [], []
            for _ in range(count):
                row = torch.addcmul(row, scale, row_gradient)
                if coupling is not None:
                    row = torch.addcmul(row, coupling, row_gradient[..., -1:])
                row_gradient = torch.baddbmm(offset, row, matrix)
                rows.append(row)
                gradients.append(row_gradient)
            return torch.cat(rows, dim=1), torch.cat(gradients, dim=1)
        rows, gradients, steps = self._steps((count, *row.shape), params)
        last_column = row_gradient[..., -1:]
        for row_after, gradient_after, last_column_after in steps:
            torch.addcmul(row, scale, row_gradient, out=row_after)
            if coupling is not None:
                row_after.addcmul_(coupling, last_column)
            torch.baddbmm(offset, row_after, matrix, out=gradient_after)
            row, row_gradient, last_column = row_after, gradient_after, last_column_after
        return rows[:, :, 0, :].permute(1, 0, 2), gradients[:, :, 0, :].permute(1, 0, 2)

    def _steps(self, shape: tuple[int, ...], like: Any) -> tuple[Any, Any, list[tuple]]:
        """The two buffers (K, B, 1, p) and, for each step, the views it writes: its row,
        its g and g's last column (made with the buffers: a view costs about 1.5 us, some
        five of them a step)."""
        rows = self._buffers.get("rows")
        if rows is None or rows.shape != shape or rows.dtype != like.dtype:
            rows, gradients = (
                self._torch.empty(shape, dtype=like.dtype, device=like.device) for _ in range(2)
            )
            self._buffers = {"rows": rows, "gradients": gradients}
            views = (rows.unbind(0), gradients.unbind(0), gradients[..., -1:].unbind(0))
            self._step_views = list(zip(*views, strict=True))
        return self._buffers["rows"], self._buffers["gradients"], self._step_views
