"""Plain gradient descent on the MSE's statistics, a block of steps at a time.

On a quadratic loss a plain step (sgd without momentum, warm-up or clipping) is affine in
the parameters (:func:`step_map`). A block of K steps is then K products and additions;
the K losses come from the rows and ``g = u @ A + a`` there (:meth:`MseStatistics.losses`),
and the loop's rules (divergence, convergence, freezing:
:class:`._descent_steps.DescentLoop`) are applied to the whole block in array operations,
with the same outcome step for step: the same history, flags and counts, up to rounding.
A step of :class:`DescentLoop` is some 40 array calls, each paying a framework's per-call
cost; here a step is two or three and a block some 40 more, or about a dozen where the
rules are known to take every step (:mod:`._descent_block_rules`: most blocks of a fit
without ``tol``; B=256 n=512 d=32 200 steps float64, side by side: NumPy 0.87x, torch
0.93x of the time with the rules in every block).

Two ways to take the steps, by the framework's buffers (:func:`mlpillars.backends.block_buffers`):

- As one affine map ``u <- u @ P + c`` (:func:`affine_map`), a product and an addition a
  step, then ``g`` of the block's K rows in one product (NumPy, and every framework
  without buffers). NumPy's buffers advance the rows eight at a time, by powers of P
  made once a fit (``_numpy_blocks``).
- By the gradient, ``u <- u + scale (g + e mean_row)`` with ``g = u @ A + a`` the step's
  product (torch): each step's ``g`` is the one its loss reads, so a block needs no
  product for its losses. torch's small batched products are slow for their
  multiplications (a block's losses took as long as 9 of its 16 steps); its elementwise
  calls are cheap (3.5 us). NumPy takes the affine way: its calls cost more than its
  products there, and the threads of a fit in parts contend for the GIL at each call.

The blocks step ``u = [w - reference, b]``, not ``[w, b]``: ``g`` then comes from the
quadratic's terms at ``w - reference``, small near the optimum, and so does the loss
taken from it (it keeps the digits :mod:`._descent_reference` sized).

The rules need the loss before each step, which for an active problem is the loss after
the previous step (an untaken step, one whose loss was not finite, ends a problem's
activity); the rising counter needs the last ``RISING_STEPS - 1`` growth flags, which the
state carries from block to block. Steps past ``steps`` in the last block are computed
and left out, as are a frozen problem's (its parameters stay).

Which calls run this way: :func:`runs_in_blocks`. Not with ``tol`` while diverged
problems keep updating (``halt_on_divergence=False``: a rare pairing, left to the step
loop, whose rules for it the blocks' have not been tested against). Nor
where the loop is compiled whole (JAX, ``torch.compile``: see ``descent._descend``). The
gain is the per-call cost saved: torch MSE (B=256, n=512, d=32, 200 steps) 136-155 ->
70-105 ms when the blocks came; on NumPy the batched (p x p) product is most of a step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import array_api_extra as xpx

from ..backends import block_buffers, device_of, run_loop, values_in_reach
from ._descent_block_rules import WINDOW, BlockConstants, BlockProgress, StepMap, ruled
from ._descent_objectives import MseStatistics
from ._descent_setup import Options, Setup
from ._descent_steps import Progress, all_stopped

BLOCK_STEPS = 16
"""Steps a block runs at most where problems may stop early (``tol``), or where a batch is
large: its ~40 array calls (the losses and the rules: about 1 ms on NumPy for B=256,
d=32, float64) are paid once per block. torch measured 8 steps 20% slower, 32 no faster;
NumPy the same from 8 to 32."""

BLOCK_VALUES = 2**17
"""Parameter values (B x K x p) a block may hold where no problem stops early: a small
batch runs longer blocks, fewer of them (8 problems of 17 parameters, 50 steps: one block
instead of four, 3.2 -> 2.0 ms on NumPy). 256 problems of 33 keep blocks of 16. A
framework's buffers may hold more (``block_values_scale``: NumPy's, whose rows advance by
powers of the step map, 4)."""


def runs_in_blocks(options: Options) -> bool:
    """Whether a fit on the MSE's statistics runs as blocks of affine steps."""
    plain = options.optimizer == "sgd" and options.momentum == 0
    affine = plain and options.clip_norm is None and options.warmup_steps == 0
    return affine and (options.halt_on_divergence or options.tol is None)


def descend_in_blocks(
    statistics: MseStatistics, problems: Setup, *, xp: Any
) -> tuple[Progress, Any, Any]:
    """The fit of :func:`.descent.gradient_descent` on ``statistics``, in blocks.

    Returns
    -------
    progress : Progress
        Its params, loss, flags and counts (no moments, no gradient).
    history : array, shape (loop_steps + 1, B)
        As the step loop's.
    steps_run : int or 0-d array
        Blocks run.
    """
    options = problems.options
    buffers = block_buffers(problems.lr)
    values = BLOCK_VALUES * getattr(buffers, "block_values_scale", 1)
    block_steps = block_length(problems.lr.shape[0], problems.n_params, options, values)
    state, constants = _start(statistics, problems, block_steps, buffers, xp=xp)
    loop = BlockLoop(options, xp, block_steps, buffers)
    state, history, blocks_run = run_loop(loop, state, constants)
    history = _history(history, state, options, block_steps, xp=xp)
    params = state.params
    if statistics.reference is not None:
        params = _shifted(params, statistics.reference, xp=xp)
    progress = Progress(
        params=params,
        first_moment=None,
        second_moment=None,
        loss=state.loss,
        gradient=None,
        rising=None,
        diverged=state.diverged,
        converged=state.converged,
        updates=state.updates,
    )
    return progress, history, blocks_run


def block_length(
    batch_size: int, n_params: int, options: Options, values: int | None = None
) -> int:
    """Steps a block runs: :data:`BLOCK_STEPS`, or, where the loop does not stop early, as
    many as ``values`` parameter values allow (default :data:`BLOCK_VALUES`); the blocks
    then share ``steps`` evenly (the last runs past it by fewer steps than there are
    blocks)."""
    values = BLOCK_VALUES if values is None else values
    longest = BLOCK_STEPS
    if options.tol is None:
        longest = max(BLOCK_STEPS, values // (batch_size * n_params or 1))
    blocks = -(-options.steps // longest)
    return -(-options.steps // blocks)


def step_map(statistics: MseStatistics, lr: Any, *, xp: Any) -> StepMap:
    """The blocks' step at parameter rows ``u = [w - reference, b]`` (B, 1, p):
    ``u <- u + scale (g + e mean_row)`` for ``g = u @ A + a``
    (:meth:`MseStatistics.gradient_map`), ``e`` its last column and ``mean_row = [x̄, 0]``
    where there is an intercept: ``u - lr * gradient``, the gradient
    ``2 (g + e [x̄, 0])``."""
    batch_size = lr.shape[0]
    matrix, offset = statistics.gradient_map(batch_size, xp=xp)
    scale = -2 * lr[:, :, None]  # (B, 1, 1)
    if statistics.feature_mean is None:
        return StepMap(matrix, offset, scale, None)
    mean = xp.broadcast_to(statistics.feature_mean, (batch_size, matrix.shape[-1] - 1))
    mean_row = xp.concat([mean, xp.zeros_like(mean[:, :1])], axis=-1)[:, None, :]
    return StepMap(matrix, offset, scale, mean_row)


def affine_map(step: StepMap, *, xp: Any) -> tuple[Any, Any]:
    """The step as one affine map ``u <- u @ P + c``: ``P = I + scale (A + A_e mean_row)``
    (B, p, p), A_e the column of A that gives e, and ``c = scale (a + a_e mean_row)``
    (B, 1, p). One new (B, p, p) array, the rest in place where the framework allows it
    (each new array of this size costs page faults on NumPy: 256 of 33 x 33 float64 are
    2.2 MB)."""
    matrix, offset = step.matrix, step.offset
    if step.mean_row is None:
        step_matrix, step_offset = step.scale * matrix, step.scale * offset
    else:
        step_matrix = matrix[:, :, -1:] * step.mean_row
        step_matrix += matrix
        step_matrix *= step.scale
        step_offset = offset[:, :, -1:] * step.mean_row
        step_offset += offset
        step_offset *= step.scale
    step_matrix += xp.eye(matrix.shape[-1], dtype=matrix.dtype, device=device_of(matrix))
    return step_matrix, step_offset


def _start_params(statistics: MseStatistics, problems: Setup, *, xp: Any) -> Any:
    """The blocks' parameter rows ``u = [w - reference, b]`` (B, p) at w = 0, b = 0.

    The blocks step ``u``, not ``[w, b]``: the gradient then comes from the quadratic's
    terms at ``w - reference``, small near the optimum, and so does the loss taken from
    it (it keeps the digits :mod:`._descent_reference` sized); :func:`descend_in_blocks`
    adds the reference back."""
    lr = problems.lr
    shape = (lr.shape[0], problems.n_params)
    params = xp.zeros(shape, dtype=lr.dtype, device=device_of(lr))
    if statistics.reference is None:
        return params
    return _shifted(params, -statistics.reference, xp=xp)


def _shifted(params: Any, shift: Any, *, xp: Any) -> Any:
    """params (B, p) with ``shift`` (B, d) added to the weights (the first d columns)."""
    n_features = shift.shape[-1]
    weights = params[:, :n_features] + shift
    return xp.concat([weights, params[:, n_features:]], axis=-1)


def _start(
    statistics: MseStatistics, problems: Setup, block_steps: int, buffers: Any, *, xp: Any
) -> tuple[BlockProgress, BlockConstants]:
    """The state at w = 0, b = 0 and the blocks' constants (the step as an affine map
    unless the framework's ``buffers`` step by the gradient)."""
    options, by_gradient = problems.options, _by_gradient(buffers)
    params = _start_params(statistics, problems, xp=xp)
    step = step_map(statistics, problems.lr, xp=xp)
    gradient = params[:, None, :] @ step.matrix + step.offset  # (B, 1, p)
    loss = statistics.losses(params[:, None, :], gradient, xp=xp)[:, 0]
    batch_size, device = params.shape[0], device_of(params)
    integers = xpx.default_dtype(xp, "integral", device=device)
    no_problem = xp.zeros((batch_size,), dtype=xp.bool, device=device)
    progress = BlockProgress(
        params=params,
        gradient=gradient[:, 0, :] if by_gradient else None,
        loss=loss,
        block_losses=xp.broadcast_to(loss[:, None], (batch_size, block_steps)),
        growth=xp.zeros((batch_size, WINDOW - 1), dtype=xp.bool, device=device),
        diverged=no_problem,
        converged=no_problem,
        updates=xp.zeros((batch_size,), dtype=integers, device=device),
        finished_after=xp.full((batch_size,), options.steps, dtype=integers, device=device),
    )
    affine = None if by_gradient else affine_map(step, xp=xp)
    return progress, BlockConstants(step, affine, statistics, loss)


def _by_gradient(buffers: Any) -> bool:
    """Whether the framework's buffers take each step by its gradient (torch)."""
    return buffers is not None and buffers.steps_by_gradient


@dataclass(frozen=True)
class BlockLoop:
    """The blocks as a :class:`mlpillars.backends.run_loop` loop, hashable by its options;
    ``buffers``: the framework's, reused from block to block
    (:func:`mlpillars.backends.block_buffers`), or None."""

    options: Options
    xp: Any
    block_steps: int
    buffers: Any = None

    @property
    def steps(self) -> int:
        return -(-self.options.steps // self.block_steps)

    @property
    def stops_early(self) -> bool:
        return self.options.tol is not None

    rows_independent = True

    def record(self, progress: BlockProgress) -> Any:
        """The block's history rows, (B, K)."""
        return progress.block_losses

    def finished(self, progress: BlockProgress) -> Any:
        """0-d bool: no problem moves again (:func:`._descent_steps.all_stopped`)."""
        return all_stopped(progress, self.options, xp=self.xp)

    def step(self, count: Any, progress: BlockProgress, constants: BlockConstants) -> Any:
        """K more steps of every active problem, then the loop's rules over them."""
        xp, buffers, step, objective = self.xp, self.buffers, constants.step, constants.objective
        if _by_gradient(buffers):
            start = (progress.params, progress.gradient)
            trajectory, gradients = buffers.gradient_rows(*start, *step, self.block_steps)
            losses = objective.losses(trajectory, gradients, xp=xp)
        else:  # the affine steps do not read g: the losses take it less its offset
            trajectory, gradients = self._affine_rows(progress.params, *constants.affine), None
            products = self._product(trajectory, step.matrix)
            losses = objective.losses(trajectory, products, xp=xp, offset=step.offset)
        return ruled(count, trajectory, gradients, losses, progress, constants, self.options, xp=xp)

    def _affine_rows(self, params: Any, step_matrix: Any, step_offset: Any) -> Any:
        """The rows (B, K, p) after each of the block's steps ``u <- u @ P + c``."""
        if self.buffers is not None:
            return self.buffers.affine_rows(params, step_matrix, step_offset, self.block_steps)
        row, rows = params[:, None, :], []
        for _ in range(self.block_steps):
            row = row @ step_matrix + step_offset
            rows.append(row)
        return self.xp.concat(rows, axis=1)

    def _product(self, rows: Any, matrix: Any) -> Any:
        """``rows @ matrix`` (B, K, p), into the framework's buffer where it has one."""
        return rows @ matrix if self.buffers is None else self.buffers.product(rows, matrix)


def _history(
    blocks: Any, progress: BlockProgress, options: Options, block_steps: int, *, xp: Any
) -> Any:
    """The loop's (blocks_run + 1, B, K) records as the step loop's history (rows, B).

    Row r is the loss after r steps. Past a problem's stop its rows are its final loss
    (a loop stopped early repeats its last record, a whole block); eagerly the rows end
    where the step loop would have stopped: when every problem had.
    """
    count, batch_size = blocks.shape[0], blocks.shape[1]
    rows = xp.reshape(xp.permute_dims(blocks, (0, 2, 1)), (count * block_steps, batch_size))
    last = min(count * block_steps, block_steps + options.steps)
    rows = rows[block_steps - 1 : last, ...]  # the start, then each step
    if options.tol is None:
        return rows
    after = xp.arange(rows.shape[0], dtype=progress.finished_after.dtype, device=device_of(rows))
    rows = xp.where(after[:, None] > progress.finished_after, progress.loss, rows)
    if not values_in_reach(progress.finished_after):  # a GPU's: one sync, as the loop's
        return rows
    # the step loop checks after every step: with no problem at all, it stops after one
    finished = progress.finished_after
    return rows[: (int(xp.max(finished)) if finished.shape[0] else 1) + 1, ...]
