"""Plain gradient descent on the MSE's statistics, a block of steps at a time.

On a quadratic loss a plain step (sgd without momentum, warm-up or clipping) is affine in
the parameters: ``theta <- theta - lr * grad(theta) = theta P + c`` (:func:`step_map`). A
block of K steps is then K products by P (two calls a step); the K losses come from the
statistics' formula at once (one product), and the loop's rules (divergence,
convergence, freezing: :class:`._descent_steps.DescentLoop`) are applied to the whole
block in array operations, with the same outcome step for step: the same history, flags
and counts, up to rounding. A step of :class:`DescentLoop` is some 40 array calls, each
paying a framework's per-call cost; here a step is two and a block some 40 more, or about
a dozen where the rules are known to take every step (:mod:`._descent_block_rules`:
most blocks of a fit without ``tol``; B=256 n=512 d=32 200 steps float64, side by side:
NumPy 0.87x, torch 0.93x of the time with the rules in every block).

The rules need the loss before each step, which for an active problem is the loss after
the previous step (an untaken step, one whose loss was not finite, ends a problem's
activity); the rising counter needs the last ``RISING_STEPS - 1`` growth flags, which the
state carries from block to block. Steps past ``steps`` in the last block are computed
and left out, as are a frozen problem's (its parameters stay).

Which calls run this way: :func:`runs_in_blocks`. Not with ``tol`` while diverged
problems keep updating (``halt_on_divergence=False``): there the loop's early stop, when
every problem is flagged, falls inside a block while unfrozen problems still move. Nor
where the loop is compiled whole (JAX, ``torch.compile``: see ``descent._descend``). The
gain is the per-call cost saved: torch MSE (B=256, n=512, d=32, 200 steps) 136-155 ->
70-105 ms; on NumPy the batched (p x p) product is most of a step, and both take the same.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import array_api_extra as xpx

from ..backends import block_buffers, device_of, run_loop, values_in_reach, vecdot
from ._descent_block_rules import WINDOW, BlockConstants, BlockProgress, ruled
from ._descent_objectives import MseStatistics
from ._descent_setup import Options, Setup
from ._descent_steps import Progress

BLOCK_STEPS = 16
"""Steps a block runs at most where problems may stop early (``tol``), or where a batch is
large: its ~40 array calls (the losses and the rules: about 1 ms on NumPy for B=256,
d=32, float64) are paid once per block. torch measured 8 steps 20% slower, 32 no faster;
NumPy the same from 8 to 32."""

BLOCK_VALUES = 2**17
"""Parameter values (B x K x p) a block may hold where no problem stops early: a small
batch runs longer blocks, fewer of them (8 problems of 17 parameters, 50 steps: one block
instead of four, 3.2 -> 2.0 ms on NumPy). 256 problems of 33 keep blocks of 16."""


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
    block_steps = block_length(problems.lr.shape[0], problems.n_params, options)
    state, constants = _start(statistics, problems, block_steps, xp=xp)
    loop = BlockLoop(options, xp, block_steps, block_buffers(problems.lr))
    state, history, blocks_run = run_loop(loop, state, constants)
    history = _history(history, state, options, block_steps, xp=xp)
    progress = Progress(
        params=state.params,
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


def block_length(batch_size: int, n_params: int, options: Options) -> int:
    """Steps a block runs: :data:`BLOCK_STEPS`, or, where the loop does not stop early, as
    many as :data:`BLOCK_VALUES` allow; the blocks then share ``steps`` evenly (the last
    runs past it by fewer steps than there are blocks)."""
    longest = BLOCK_STEPS
    if options.tol is None:
        longest = max(BLOCK_STEPS, BLOCK_VALUES // (batch_size * n_params or 1))
    blocks = -(-options.steps // longest)
    return -(-options.steps // blocks)


def step_map(statistics: MseStatistics, lr: Any, *, xp: Any) -> tuple[Any, Any]:
    """``P`` (B, p, p) and ``c`` (B, 1, p) with ``theta - lr * gradient = theta @ P + c``
    at the parameter rows theta = [w, b] (B, 1, p): ``P = I - A`` and ``c = -a`` for
    ``lr * gradient = theta @ A + a``.

    The gradient is the statistics' formula expanded: half of it is ``Q delta + h + x̄ e``
    for w and ``e = b + x̄^T w - (ȳ' + x̄^T reference)`` for b, ``delta = w - reference``.
    """
    curvature = statistics.curvature
    batch_size, n_features = lr.shape[0], curvature.shape[-1]
    curvature = xp.broadcast_to(curvature, (batch_size, n_features, n_features))
    constant = xp.broadcast_to(statistics.linear, (batch_size, n_features))
    if statistics.reference is not None:
        constant = constant - (statistics.reference[:, None, :] @ curvature)[:, 0, :]
    scale = -2 * lr[:, :, None]  # (B, 1, 1): minus the step's
    if statistics.feature_mean is None:
        return _plus_identity(scale * curvature, xp=xp), scale * constant[:, None, :]
    mean = xp.broadcast_to(statistics.feature_mean, (batch_size, n_features))
    shift = xp.broadcast_to(statistics.target_mean, (batch_size,))
    if statistics.reference is not None:
        shift = shift + vecdot(mean, statistics.reference, xp=xp)
    shift = shift[:, None]
    # A / (2 lr) = [[Q + x̄ x̄^T, x̄], [x̄^T, 1]]: [Q, 0] plus x̄ [x̄, 1], then the row [x̄, 1],
    # scaled in place where the framework allows it (each new (B, p, p) array costs page
    # faults on NumPy: 256 of 33 x 33 float64 are 2.2 MB). (array-api-extra's ``at`` would
    # add Q into one array, but does not trace under torch.compile.)
    row = xp.concat([mean, xp.ones_like(shift)], axis=-1)  # (B, p)
    weight_rows = xp.concat([curvature, xp.zeros_like(mean[:, :, None])], axis=-1)
    weight_rows += mean[:, :, None] * row[:, None, :]
    step_matrix = xp.concat([weight_rows, row[:, None, :]], axis=1)
    step_matrix *= scale
    constant_row = xp.concat([constant - mean * shift, -shift], axis=-1)[:, None, :]
    return _plus_identity(step_matrix, xp=xp), scale * constant_row


def _plus_identity(scaled: Any, *, xp: Any) -> Any:
    """``I + scaled`` (B, p, p), in place where the framework allows it."""
    size = scaled.shape[-1]
    scaled += xp.eye(size, dtype=scaled.dtype, device=device_of(scaled))
    return scaled


def _start(
    statistics: MseStatistics, problems: Setup, block_steps: int, *, xp: Any
) -> tuple[BlockProgress, BlockConstants]:
    """The state at w = 0, b = 0 and the blocks' constants."""
    lr, options = problems.lr, problems.options
    batch_size, device = lr.shape[0], device_of(lr)
    params = xp.zeros((batch_size, problems.n_params), dtype=lr.dtype, device=device)
    projection = statistics.projection(batch_size, xp=xp)
    loss = statistics.losses(params[:, None, :], projection, xp=xp)[:, 0]
    integers = xpx.default_dtype(xp, "integral", device=device)
    no_problem = xp.zeros((batch_size,), dtype=xp.bool, device=device)
    progress = BlockProgress(
        params=params,
        loss=loss,
        block_losses=xp.broadcast_to(loss[:, None], (batch_size, block_steps)),
        growth=xp.zeros((batch_size, WINDOW - 1), dtype=xp.bool, device=device),
        diverged=no_problem,
        converged=no_problem,
        updates=xp.zeros((batch_size,), dtype=integers, device=device),
        finished_after=xp.full((batch_size,), options.steps, dtype=integers, device=device),
    )
    step_matrix, step_offset = step_map(statistics, lr, xp=xp)
    return progress, BlockConstants(step_matrix, step_offset, statistics, projection, loss)


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
        """0-d bool: every problem has converged or diverged."""
        return self.xp.all(progress.diverged | progress.converged)

    def step(self, count: Any, progress: BlockProgress, constants: BlockConstants) -> Any:
        """K more steps of every active problem, then the loop's rules over them."""
        xp, buffers = self.xp, self.buffers
        objective, projection = constants.objective, constants.projection
        if buffers is None:
            params, rows = progress.params[:, None, :], []
            for _ in range(self.block_steps):
                params = params @ constants.step_matrix + constants.step_offset
                rows.append(params)
            trajectory = xp.concat(rows, axis=1)  # (B, K, p)
            losses = objective.losses(trajectory, projection, xp=xp)
        else:
            parts = (constants.step_matrix, constants.step_offset)
            trajectory = buffers.trajectory(progress.params, *parts, self.block_steps)
            losses = objective.losses(trajectory, projection, xp=xp, product=buffers.product)
        return ruled(count, trajectory, losses, progress, constants, self.options, xp=xp)


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
