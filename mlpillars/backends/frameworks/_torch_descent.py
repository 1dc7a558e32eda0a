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
