"""The loop's rules over a block of steps (:mod:`._descent_blocks`): which of each
problem's steps are taken, where it diverges or converges, and the state after the block.

They give the outcome of :class:`._descent_steps.DescentLoop` step for step: a problem's
steps are taken up to its first stop; a non-finite loss is an untaken step (with
``halt_on_divergence``); the rising counter reads the growth flags the state carries
from the block before. Where they are known to take every step (:func:`_every_step_taken`)
a block skips them.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..backends import device_of, values_at_hand
from ._descent_objectives import MseStatistics
from ._descent_setup import Options
from ._descent_steps import RISING_STEPS, ROUNDOFF_EPS, known_all

WINDOW = RISING_STEPS  # plain steps: no momentum lengthens the window


class BlockProgress(NamedTuple):
    """Loop state, one row per problem."""

    params: Any  # [w - reference, b] (B, p) after the last step taken
    gradient: Any  # (B, p): g at params (StepMap), where the steps read it; else None
    loss: Any  # (B,) at params
    block_losses: Any  # (B, K): each step's loss in the last block (the history's rows)
    growth: Any  # (B, WINDOW - 1) bool: did the loss grow, at the last steps
    diverged: Any  # (B,) bool
    converged: Any  # (B,) bool
    updates: Any  # (B,) steps taken
    finished_after: Any  # (B,) the steps after which it converged or diverged (else steps)


class StepMap(NamedTuple):
    """A plain step of the blocks (:func:`._descent_blocks.step_map`): at parameter rows u
    (B, 1, p), ``g = u @ matrix + offset`` and ``u <- u + scale (g + e mean_row)``, e the
    last column of g (no such term where mean_row is None)."""

    matrix: Any  # A, (B, p, p)
    offset: Any  # a, (B, 1, p)
    scale: Any  # -2 lr, (B, 1, 1)
    mean_row: Any  # [x̄, 0], (B, 1, p), or None without an intercept


class BlockConstants(NamedTuple):
    """What every block reads: the step, and as an affine map (P, c) where the blocks take
    it so (:func:`._descent_blocks.affine_map`), the objective for the losses, and the
    loss at the start (B,)."""

    step: StepMap
    affine: Any  # (P (B, p, p), c (B, 1, p)), or None
    objective: MseStatistics
    initial_loss: Any


def ruled(
    count: Any,
    trajectory: Any,
    gradients: Any,
    losses: Any,
    progress: BlockProgress,
    constants: BlockConstants,
    options: Options,
    *,
    xp: Any,
) -> BlockProgress:
    """The state after the block: each problem's steps up to its first stop taken.
    trajectory and gradients (B, K, p): the rows after each step and their g
    (:class:`StepMap`; None where the steps do not read it); losses (B, K) there."""
    block_steps = losses.shape[1]
    previous = xp.concat([progress.loss[:, None], losses[:, :-1]], axis=1)
    roundoff = ROUNDOFF_EPS * xp.finfo(losses.dtype).eps * xp.abs(previous)
    grew = losses > previous + roundoff
    recent = xp.concat([progress.growth, grew], axis=1)  # (B, WINDOW - 1 + K)
    if _every_step_taken(count, losses, progress, constants, options, xp=xp):
        return progress._replace(
            params=_last_row(trajectory, xp=xp),
            gradient=_last_row(gradients, xp=xp),
            loss=losses[:, -1],
            block_losses=losses,
            growth=recent[:, block_steps:],
            updates=progress.updates + block_steps,
        )
    integers = progress.updates.dtype
    halt = options.halt_on_divergence
    indices = xp.arange(block_steps, dtype=integers, device=device_of(losses))
    within = (indices + count * block_steps) < options.steps  # (K,)
    rising = grew
    for back in range(1, WINDOW):
        rising = rising & recent[:, WINDOW - 1 - back : WINDOW - 1 - back + block_steps]
    non_finite = ~xp.isfinite(losses)
    runaway = rising & (losses > constants.initial_loss[:, None])
    diverging = (non_finite | runaway) & within
    converging = xp.zeros_like(diverging)
    if options.tol is not None:  # with tol, halt holds (runs_in_blocks)
        converging = (xp.abs(previous - losses) < options.tol) & ~diverging & within
    stopping = (diverging | converging) if halt else converging
    stops = xp.astype(stopping, integers)
    started = ~progress.converged & ~progress.diverged if halt else ~progress.converged
    active = started[:, None] & within & (xp.cumulative_sum(stops, axis=1) - stops == 0)
    taken = active & ~non_finite if halt else active
    steps_taken = xp.sum(xp.astype(taken, integers), axis=1)
    rows = (trajectory, gradients)
    params, gradient, loss, block_losses = _kept(rows, losses, taken, steps_taken, progress, xp=xp)
    stopped = xp.any(stopping & active, axis=1)
    steps_active = xp.sum(xp.astype(active, integers), axis=1)
    return BlockProgress(
        params=params,
        gradient=gradient,
        loss=loss,
        block_losses=block_losses,
        growth=recent[:, block_steps:],
        diverged=progress.diverged | xp.any(diverging & active, axis=1),
        converged=progress.converged | xp.any(converging & active, axis=1),
        updates=progress.updates + steps_taken,
        finished_after=xp.where(
            stopped, count * block_steps + steps_active, progress.finished_after
        ),
    )


def _every_step_taken(
    count: Any,
    losses: Any,
    progress: BlockProgress,
    constants: BlockConstants,
    options: Options,
    *,
    xp: Any,
) -> bool:
    """Whether the rules are known, now and for free, to take every step of the block and
    stop no problem, so that :func:`ruled` can skip them (some 30 array calls of its
    40): an eager block on the host (a Python ``count``, readable losses), wholly within
    ``steps``, without ``tol`` (nothing converges), no problem diverged before, and every
    loss at most the problem's loss at the start (finite, so none is non-finite or runs
    away). Most blocks of a converging fit are such; the others take the rules."""
    if options.tol is not None or not isinstance(count, int):
        return False
    if (count + 1) * losses.shape[1] > options.steps or not values_at_hand(losses):
        return False
    below_start = xp.all(losses <= constants.initial_loss[:, None])
    return bool(below_start & ~xp.any(progress.diverged))


def _kept(
    rows: tuple[Any, Any],
    losses: Any,
    taken: Any,
    steps_taken: Any,
    progress: BlockProgress,
    *,
    xp: Any,
) -> tuple[Any, Any, Any, Any]:
    """Each problem's params, gradient and loss after its last step taken (taken steps are
    a prefix of the block), and the block's history rows: the loss while steps are taken,
    then it. ``rows``: the block's trajectory and gradients (B, K, p; or None). The params
    and gradient are new arrays, never views of the rows (a framework's buffers)."""
    trajectory, gradients = rows
    if known_all(taken, xp=xp):  # eager, every step taken
        last_rows = _last_row(trajectory, xp=xp), _last_row(gradients, xp=xp)
        return *last_rows, losses[:, -1], losses
    block_steps = losses.shape[1]
    positions = xp.arange(1, block_steps + 1, dtype=steps_taken.dtype, device=device_of(losses))
    last = positions == steps_taken[:, None]  # (B, K): no column where no step was taken
    zero = xp.zeros((), dtype=losses.dtype, device=device_of(losses))
    moved = steps_taken > 0

    def kept(block_rows: Any, before: Any) -> Any:
        if block_rows is None:
            return None
        chosen = xp.sum(xp.where(last[..., None], block_rows, zero), axis=1)
        return xp.where(moved[:, None], chosen, before)

    params, gradient = kept(trajectory, progress.params), kept(gradients, progress.gradient)
    loss = xp.where(moved, xp.sum(xp.where(last, losses, zero), axis=1), progress.loss)
    return params, gradient, loss, xp.where(taken, losses, loss[:, None])


def _last_row(rows: Any, *, xp: Any) -> Any:
    """The block's last row (B, p) of rows (B, K, p), a new array: never a view of the
    block's (a framework's buffer). Copied by reshape: torch's asarray warns on grad
    tensors. None where rows are None."""
    if rows is None:
        return None
    last = rows[:, -1, :]
    return xp.reshape(last, last.shape, copy=True)
