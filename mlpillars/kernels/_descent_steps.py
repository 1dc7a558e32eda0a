"""Gradient descent's loop: the state, one step of every problem, and its checks.

:class:`DescentLoop` is what :func:`mlpillars.backends.run_loop` runs: an eager Python
loop on NumPy, torch and CuPy, one compiled ``lax`` loop on JAX. So a step is written
for both: no Python ``bool`` of an array, no item assignment, and the step's index
``count`` may be a Python int or a 0-d integer array.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, NamedTuple

import array_api_extra as xpx

from ..backends import device_of, values_at_hand
from ._descent_setup import Options

RISING_STEPS = 3
"""A loss that grows this many steps in a row, to above its starting value, is diverging
(plain gradient descent; with momentum the window is longer, see :func:`rising_window`).

The tutorial's post-mortem rule; the "above its start" part keeps the oscillation of a
converging momentum or Adam run (loss rising a few steps, but far below where it began)
from being flagged."""


def rising_window(options: Options) -> int:
    """Steps in a row the loss must grow (above its start) to count as diverging.

    ``RISING_STEPS`` for plain steps; with a momentum beta (heavy-ball ``momentum``, or
    Adam's ``b1``) ``RISING_STEPS + ceil(RISING_STEPS / (1 - beta))``, the momentum's
    memory: a converging heavy-ball run near its stability limit 2(1 + beta)/L rises above
    its start for a while (measured on a quadratic: up to 5 steps in a row at beta 0.5, 15
    at 0.9, 24 at 0.99, at 0.999 of the limit), while a diverging one rises for hundreds.
    """
    beta = options.betas[0] if options.optimizer == "adam" else options.momentum
    if beta == 0:
        return RISING_STEPS
    return RISING_STEPS + math.ceil(RISING_STEPS / (1.0 - beta))


ROUNDOFF_EPS = 1000
"""A rise below ``1000 * eps * |loss|`` is round-off near the optimum, not growth."""


class Progress(NamedTuple):
    """Loop state, one row per problem: params (B, p), the rest (B,) unless noted."""

    params: Any
    first_moment: Any  # sgd: velocity (B, p), None without momentum; adam: m (B, p)
    second_moment: Any  # adam: s (B, p); sgd: None
    loss: Any
    gradient: Any  # (B, p), at params
    rising: Any  # steps in a row the loss has grown
    diverged: Any
    converged: Any
    updates: Any


class Constants(NamedTuple):
    """What every step reads: the objective, lr (B, 1) and the loss at the start (B,)."""

    objective: Any
    lr: Any
    initial_loss: Any


def start(
    objective: Any, lr: Any, n_params: int, options: Options, *, xp: Any
) -> tuple[Progress, Constants]:
    """The state at w = 0, b = 0 and the loop's constants.

    Returns
    -------
    progress : Progress
    constants : Constants
    """
    batch_size = lr.shape[0]
    device = device_of(lr)
    params = xp.zeros((batch_size, n_params), dtype=lr.dtype, device=device)
    loss, gradient = objective.loss_and_gradient(params, options, xp=xp)
    uses_first_moment = options.optimizer == "adam" or options.momentum > 0
    no_problem = xp.zeros((batch_size,), dtype=xp.bool, device=device)
    integral = xpx.default_dtype(xp, "integral", device=device)
    no_steps = xp.zeros((batch_size,), dtype=integral, device=device)
    progress = Progress(
        params=params,
        first_moment=xp.zeros_like(params) if uses_first_moment else None,
        second_moment=xp.zeros_like(params) if options.optimizer == "adam" else None,
        loss=loss,
        gradient=gradient,
        rising=no_steps,
        diverged=no_problem,
        converged=no_problem,
        updates=no_steps,
    )
    return progress, Constants(objective, lr, loss)


@dataclass(frozen=True)
class DescentLoop:
    """The loop of :func:`.descent.gradient_descent`, hashable by its options."""

    options: Options
    xp: Any

    @property
    def steps(self) -> int:
        return self.options.steps

    @property
    def stops_early(self) -> bool:
        return self.options.tol is not None

    rows_independent = True  # each problem's row is its own fit

    def record(self, progress: Progress) -> Any:
        """The history's row: each problem's loss (B,)."""
        return progress.loss

    def finished(self, progress: Progress) -> Any:
        """0-d bool: no problem moves again (:func:`all_stopped`)."""
        return all_stopped(progress, self.options, xp=self.xp)

    def step(self, count: Any, progress: Progress, constants: Constants) -> Progress:
        """One update of every active problem, then the divergence and convergence checks."""
        xp, options = self.xp, self.options
        halt = options.halt_on_divergence
        active = ~progress.converged & ~progress.diverged if halt else ~progress.converged
        rate, correction1, correction2 = _schedule(count, options, constants.lr.dtype, xp=xp)
        direction, first, second = _direction(progress, options, correction1, correction2, xp=xp)
        params = progress.params - (rate * constants.lr) * direction
        if not known_all(active, xp=xp):
            params = _where_rows(active, params, progress.params, xp=xp)
        loss, gradient = constants.objective.loss_and_gradient(params, options, xp=xp)

        roundoff = ROUNDOFF_EPS * xp.finfo(loss.dtype).eps * xp.abs(progress.loss)
        grew = active & (loss > progress.loss + roundoff)
        rising = xp.where(grew, progress.rising + 1, xp.zeros_like(progress.rising))
        non_finite = ~xp.isfinite(loss)
        runaway = (rising >= rising_window(options)) & (loss > constants.initial_loss)
        diverged = progress.diverged | (active & (non_finite | runaway))
        converged = progress.converged
        if options.tol is not None:
            small_change = xp.abs(progress.loss - loss) < options.tol
            converged = converged | (active & ~diverged & small_change)
        # Halting, a problem whose loss just became non-finite takes its step back.
        taken = active & ~non_finite if halt else active
        if known_all(taken, xp=xp):  # eager, every row updated: no row to take back
            return Progress(
                params,
                first,
                second,
                loss,
                gradient,
                rising,
                diverged,
                converged,
                progress.updates + 1,
            )
        return Progress(
            params=_where_rows(taken, params, progress.params, xp=xp),
            first_moment=_where_rows(taken, first, progress.first_moment, xp=xp),
            second_moment=_where_rows(taken, second, progress.second_moment, xp=xp),
            loss=xp.where(taken, loss, progress.loss),
            gradient=_where_rows(taken, gradient, progress.gradient, xp=xp),
            rising=rising,
            diverged=diverged,
            converged=converged,
            updates=progress.updates + xp.astype(taken, progress.updates.dtype),
        )


def all_stopped(progress: Any, options: Options, *, xp: Any) -> Any:
    """0-d bool: every problem has converged, or diverged and halted. With
    ``halt_on_divergence=False`` a diverged problem keeps updating: the loop then runs on
    while it does, so that each problem's fit is the same whatever the batch it is in (a
    loop that ended once every problem was flagged froze a diverged one early alone, in a
    Dask chunk or under ``jax.vmap``, and let it run on beside a converging one)."""
    stopped = progress.converged
    if options.halt_on_divergence:
        stopped = stopped | progress.diverged
    return xp.all(stopped)


def _schedule(count: Any, options: Options, dtype: Any, *, xp: Any) -> tuple[Any, Any, Any]:
    """Step ``count``'s warm-up factor and Adam's two bias corrections.

    Python floats for a Python int ``count``; 0-d arrays of ``dtype`` for an array one
    (a compiled loop's counter), so that they do not promote the state's dtype.
    """
    warmup, (beta1, beta2) = options.warmup_steps, options.betas
    if isinstance(count, int):
        rate = min(1.0, (count + 1) / warmup) if warmup else 1.0
        return rate, 1 - beta1 ** (count + 1), 1 - beta2 ** (count + 1)
    taken = xp.astype(count + 1, dtype)
    one = xp.ones((), dtype=dtype, device=device_of(count))
    rate = xp.minimum(one, taken / warmup) if warmup else one
    power = xp.asarray([beta1, beta2], dtype=dtype, device=device_of(count)) ** taken
    return rate, 1 - power[0], 1 - power[1]


def _where_rows(mask: Any, new: Any, old: Any, *, xp: Any) -> Any:
    """``new`` in the problems (rows) where mask (B,) holds, else ``old``; None stays None."""
    return None if new is None else xp.where(mask[:, None], new, old)


def known_all(mask: Any, *, xp: Any) -> bool:
    """Whether mask (B,) is known, now and for free, to hold in every row: an eager loop on
    the host (never a tracer, a GPU sync or a Dask compute). Most steps update every
    problem; where they all do, the step skips its ``where`` calls, each a new (B, p)
    array (B=256, p=33: 15-25 us a call on NumPy inside the loop, 3 us for the check)."""
    return values_at_hand(mask) and bool(xp.all(mask))


def _direction(
    progress: Progress, options: Options, correction1: Any, correction2: Any, *, xp: Any
) -> tuple[Any, Any, Any]:
    """The step direction and the new moments (sgd: velocity or None, None; adam: m, s)."""
    gradient = _clipped(progress.gradient, options.clip_norm, xp=xp)
    if options.optimizer == "sgd":
        if progress.first_moment is None:
            return gradient, None, None
        velocity = options.momentum * progress.first_moment + gradient
        return velocity, velocity, None
    beta1, beta2 = options.betas
    first = beta1 * progress.first_moment + (1 - beta1) * gradient
    second = beta2 * progress.second_moment + (1 - beta2) * gradient**2
    first_unbiased = first / correction1
    second_unbiased = second / correction2
    return first_unbiased / (xp.sqrt(second_unbiased) + options.eps), first, second


def _clipped(gradient: Any, clip_norm: float | None, *, xp: Any) -> Any:
    """Scale each problem's gradient row to norm <= clip_norm (no division by a zero norm)."""
    if clip_norm is None:
        return gradient
    norm = xp.linalg.vector_norm(gradient, axis=-1, keepdims=True)
    return gradient * (clip_norm / xp.clip(norm, min=clip_norm))
