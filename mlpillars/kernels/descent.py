"""Gradient descent for linear and logistic regression, B problems at once.

The tutorial's loop, ``w = w - lr * dL/dw`` from ``w = 0``, with MSE loss
``mean((Xw + b - y)^2)`` and gradient ``(2/n) X^T (Xw + b - y)``. Here it runs B
problems at once (a learning-rate sweep is one call), each problem frozen by an
``xp.where`` mask once it converges or diverges: no item assignment, no loop over problems.

Weights and bias travel together as one parameter row per problem, ``theta = [w, b]``,
against the design ``A = [X, 1]``; the L2 penalty masks the bias out. The closed form
of the same linear regression is :func:`.regression.least_squares`.

Read top-down: the result and the kernel, then its set-up (options, shapes), then the
loop (one step, its direction, the loss and gradient), then the result's assembly.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import array_api_compat as aac
import array_api_extra as xpx

from ..backends import kernel, materialize
from ._checks import (
    as_floating,
    check_choice,
    check_int,
    check_number,
    check_real_dtype,
    regression_problems,
    shape_text,
)
from .probability import stable_sigmoid

_GD = "gradient_descent"
LOSSES = ("mse", "logistic")
OPTIMIZERS = ("sgd", "adam")
RISING_STEPS = 3
"""A loss that grows this many steps in a row, to above its starting value, is diverging.

The tutorial's post-mortem rule; the "above its start" part keeps the oscillation of a
converging momentum or Adam run (loss rising a few steps, but far below where it began)
from being flagged."""
_ROUNDOFF_EPS = 1000
"""A rise below ``1000 * eps * |loss|`` is round-off near the optimum, not growth."""


@dataclass(frozen=True)
class GradientDescentResult:
    """What :func:`gradient_descent` returns, in the input's namespace and on its device.

    Shapes for B batched problems of d features; an unbatched call drops the B axis.

    Attributes
    ----------
    weights : array, shape (B, d) or (d,)
        The weights each problem ended with (the last ones with a finite loss for a
        problem that diverged, unless ``halt_on_divergence=False``).
    bias : array, shape (B,) or ()
        The intercepts; zeros when ``fit_intercept=False``.
    loss_history : array, shape (loop_steps + 1, B) or (loop_steps + 1,)
        Row k is each problem's loss (with the L2 penalty) at the weights it held after k
        loop steps: row 0 is the loss at the zero start, the last row the loss of the
        returned weights. A frozen problem's rows repeat its final loss. ``loop_steps``
        is ``steps``, or fewer with ``tol`` when every problem stopped earlier.
    diverged : bool array, shape (B,) or ()
        The loss became non-finite, or grew ``RISING_STEPS`` (3) steps in a row to above
        its value at the zero start.
    converged : bool array, shape (B,) or ()
        With ``tol``: the loss changed by less than ``tol`` in one step (and did not diverge).
    steps_run : integer array, shape (B,) or ()
        Updates applied to each problem's returned weights: ``steps``, or fewer when it
        converged or diverged first (a step whose loss was non-finite is taken back and
        not counted).
    """

    weights: Any
    bias: Any
    loss_history: Any
    diverged: Any
    converged: Any
    steps_run: Any


@kernel(arrays=("X", "y", "lr"))
def gradient_descent(
    X: Any,
    y: Any,
    /,
    *,
    loss: str = "mse",
    lr: Any = 0.01,
    steps: int = 100,
    optimizer: str = "sgd",
    momentum: float = 0.0,
    betas: tuple[float, float] = (0.9, 0.999),
    eps: float = 1e-8,
    fit_intercept: bool = True,
    l2: float = 0.0,
    warmup_steps: int = 0,
    clip_norm: float | None = None,
    tol: float | None = None,
    halt_on_divergence: bool = True,
    xp: Any,
) -> GradientDescentResult:
    r"""Fit linear (``"mse"``) or logistic regression by full-batch gradient descent.

    .. math::
        L_{mse}(w, b) = \tfrac{1}{n}\lVert Xw + b - y\rVert^2 + \lambda\lVert w\rVert^2,
        \quad \nabla_w = \tfrac{2}{n} X^T(Xw + b - y) + 2\lambda w

        L_{logistic}(w, b) = \tfrac{1}{n}\textstyle\sum_i \mathrm{softplus}(z_i) - y_i z_i
        + \lambda\lVert w\rVert^2, \quad z = Xw + b, \quad
        \nabla_w = \tfrac{1}{n} X^T(\sigma(z) - y) + 2\lambda w

    with ``softplus(z) = max(z, 0) + log1p(exp(-|z|))``, finite for any finite z. The
    bias b gets no penalty. Weights and bias start at zero. Step k (from 0) uses
    ``lr_k = lr * min(1, (k + 1) / warmup_steps)`` and the gradient g, first scaled to
    a norm of at most ``clip_norm`` (one norm over weights and bias of each problem):

    - ``"sgd"`` (heavy ball): ``v = momentum * v + g``; ``theta -= lr_k * v``.
    - ``"adam"``: ``m = b1 m + (1 - b1) g``, ``s = b2 s + (1 - b2) g^2``,
      ``theta -= lr_k * (m / (1 - b1^(k+1))) / (sqrt(s / (1 - b2^(k+1))) + eps)``.

    Parameters
    ----------
    X : array, shape (B, n, d), (n, d) or (n,)
        Features; a 1-D X is one feature, (n, 1). Use (B, n, 1) for B one-feature problems.
    y : array, shape (B, n) or (n,)
        Targets; for ``"logistic"``, labels in {0, 1}.
    loss : {"mse", "logistic"}
    lr : float or array, shape () or (B,)
        Learning rate(s) >= 0. B problems are solved when any of X (3-D), y (2-D) and lr
        (1-D) has a leading axis B; the unbatched ones are shared, so X (n, d) with lr (B,)
        is a learning-rate sweep on one data set. A Python float first becomes an array
        of the namespace's default float (float32 for torch) and then takes X's dtype:
        for float64 torch data give lr as a float64 array to keep all its digits.
    steps : int
        Update steps, >= 1.
    optimizer : {"sgd", "adam"}
    momentum : float
        Heavy-ball momentum in [0, 1), sgd only.
    betas : (float, float)
        Adam's decay rates b1, b2 in [0, 1).
    eps : float
        Adam's denominator guard, > 0.
    fit_intercept : bool
        Learn a bias b; else b = 0.
    l2 : float
        Penalty weight lambda >= 0 on ``||w||^2`` (not on b).
    warmup_steps : int
        Linear learning-rate warm-up over this many steps (0: none).
    clip_norm : float, optional
        Largest gradient norm per problem, > 0.
    tol : float, optional
        A problem stops updating once one step changes its loss by less than tol; the
        loop ends early when every problem has converged or diverged (checked each step).
    halt_on_divergence : bool
        True: a diverging problem stops updating and keeps its last weights with a finite
        loss. False: it keeps updating (weights may become inf or NaN), still flagged.

    Returns
    -------
    GradientDescentResult
        weights (B, d), bias (B,), loss_history (rows, B), diverged (B,), converged (B,),
        steps_run (B,); without B when no input is batched. See its attributes.
    """
    options = _Options(
        loss=loss,
        steps=steps,
        optimizer=optimizer,
        momentum=momentum,
        betas=betas,
        eps=eps,
        fit_intercept=fit_intercept,
        l2=l2,
        warmup_steps=warmup_steps,
        clip_norm=clip_norm,
        tol=tol,
        halt_on_divergence=halt_on_divergence,
    )
    setup = _setup(X, y, lr, options, xp=xp)
    progress = _start(setup, xp=xp)
    history = [progress.loss]
    for step in range(steps):
        progress = _materialized(_step(progress, step, setup, history[0], xp=xp))
        history.append(progress.loss)
        if tol is not None and bool(xp.all(progress.diverged | progress.converged)):
            break
    return _result(progress, xp.stack(history, axis=0), setup, xp=xp)


# -- set-up -------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Options:
    """The keyword options of :func:`gradient_descent`, as given."""

    loss: str
    steps: int
    optimizer: str
    momentum: float
    betas: tuple[float, float]
    eps: float
    fit_intercept: bool
    l2: float
    warmup_steps: int
    clip_norm: float | None
    tol: float | None
    halt_on_divergence: bool


@dataclass(frozen=True)
class _Setup:
    """The problem and the options, checked: design (1 or B, n, p), targets (1 or B, n)."""

    design: Any
    targets: Any
    lr: Any  # (B, 1)
    penalty_mask: Any  # (p,): 1 on the weights, 0 on the bias
    batch_size: int
    batched: bool
    n_features: int
    options: _Options


@dataclass(frozen=True)
class _Progress:
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


def _setup(X: Any, y: Any, lr: Any, options: _Options, *, xp: Any) -> _Setup:
    _check_options(options)
    X, y = as_floating(X, y, xp=xp, kernel=_GD, names=("X", "y"))
    features, targets, batch_size, batched = regression_problems(_GD, X, y, lr, xp=xp)
    features = xp.astype(features, targets.dtype)
    check_real_dtype(_GD, "lr", lr, xp=xp)
    lr = xp.astype(lr, targets.dtype)
    if not bool(xp.all(lr >= 0)) or not bool(xp.all(xp.isfinite(lr))):
        raise ValueError(
            f"gradient_descent: lr must be finite and >= 0; got lr: {shape_text(lr)} with "
            f"values from {float(xp.min(lr))} to {float(xp.max(lr))}"
        )
    if options.loss == "logistic" and not bool(xp.all((targets == 0) | (targets == 1))):
        raise ValueError(
            "gradient_descent: logistic loss needs labels y in {0, 1}; got values from "
            f"{float(xp.min(targets))} to {float(xp.max(targets))} (y: {shape_text(y)})"
        )
    n_features = features.shape[-1]
    if options.fit_intercept:
        features = xp.concat([features, xp.ones_like(features[..., :1])], axis=-1)
    device = aac.device(features)
    penalty_mask = xp.astype(
        xp.arange(features.shape[-1], device=device) < n_features, targets.dtype
    )
    lr_rows = xp.reshape(xp.broadcast_to(xp.reshape(lr, (-1,)), (batch_size,)), (batch_size, 1))
    return _Setup(
        features, targets, lr_rows, penalty_mask, batch_size, batched, n_features, options
    )


def _check_options(options: _Options) -> None:
    check_choice("gradient_descent", "loss", options.loss, LOSSES)
    check_choice("gradient_descent", "optimizer", options.optimizer, OPTIMIZERS)
    check_int(_GD, "steps", options.steps, minimum=1)
    check_int(_GD, "warmup_steps", options.warmup_steps, minimum=0)
    check_number(_GD, "momentum", options.momentum, low=0.0, high=1.0)
    check_number(_GD, "l2", options.l2, low=0.0)
    check_number(_GD, "eps", options.eps, low=0.0, allow_low=False)
    if options.optimizer == "adam" and options.momentum != 0:
        raise ValueError(
            f"gradient_descent: momentum={options.momentum!r} applies to optimizer='sgd' "
            "only; adam's momentum is betas=(b1, b2)"
        )
    betas = options.betas
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"gradient_descent: betas must be a pair (b1, b2), got {betas!r}")
    for index, beta in enumerate(betas):
        check_number(_GD, f"betas[{index}]", beta, low=0.0, high=1.0)
    for name in ("clip_norm", "tol"):
        if getattr(options, name) is not None:
            check_number(_GD, name, getattr(options, name), low=0.0, allow_low=False)


# -- the loop -----------------------------------------------------------------------------


def _start(setup: _Setup, *, xp: Any) -> _Progress:
    shape = (setup.batch_size, setup.design.shape[-1])
    device = aac.device(setup.targets)
    params = xp.zeros(shape, dtype=setup.targets.dtype, device=device)
    loss, gradient = _loss_and_gradient(params, setup, xp=xp)
    options = setup.options
    uses_first_moment = options.optimizer == "adam" or options.momentum > 0
    no_problem = xp.zeros(shape[:1], dtype=xp.bool, device=device)
    no_steps = xp.zeros(shape[:1], dtype=xpx.default_dtype(xp, "integral", device=device))
    return _Progress(
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


def _step(
    progress: _Progress, step: int, setup: _Setup, initial_loss: Any, *, xp: Any
) -> _Progress:
    """One update of every active problem, then the divergence and convergence checks."""
    options = setup.options
    halt = options.halt_on_divergence
    active = ~progress.converged & ~progress.diverged if halt else ~progress.converged
    direction, first, second = _direction(progress, step, options, xp=xp)
    warmup = options.warmup_steps
    step_lr = setup.lr * (min(1.0, (step + 1) / warmup) if warmup else 1.0)
    params = _where_rows(active, progress.params - step_lr * direction, progress.params, xp=xp)
    loss, gradient = _loss_and_gradient(params, setup, xp=xp)

    roundoff = _ROUNDOFF_EPS * xp.finfo(loss.dtype).eps * xp.abs(progress.loss)
    grew = active & (loss > progress.loss + roundoff)
    rising = xp.where(grew, progress.rising + 1, xp.zeros_like(progress.rising))
    non_finite = ~xp.isfinite(loss)
    runaway = (rising >= RISING_STEPS) & (loss > initial_loss)
    diverged = progress.diverged | (active & (non_finite | runaway))
    converged = progress.converged
    if options.tol is not None:
        small_change = xp.abs(progress.loss - loss) < options.tol
        converged = converged | (active & ~diverged & small_change)
    # Halting, a problem whose loss just became non-finite takes its step back.
    taken = active & ~non_finite if halt else active
    return _Progress(
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


def _where_rows(mask: Any, new: Any, old: Any, *, xp: Any) -> Any:
    """``new`` in the problems (rows) where mask (B,) holds, else ``old``; None stays None."""
    return None if new is None else xp.where(mask[:, None], new, old)


def _direction(
    progress: _Progress, step: int, options: _Options, *, xp: Any
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
    first_unbiased = first / (1 - beta1 ** (step + 1))
    second_unbiased = second / (1 - beta2 ** (step + 1))
    return first_unbiased / (xp.sqrt(second_unbiased) + options.eps), first, second


def _clipped(gradient: Any, clip_norm: float | None, *, xp: Any) -> Any:
    """Scale each problem's gradient row to norm <= clip_norm (no division by a zero norm)."""
    if clip_norm is None:
        return gradient
    norm = xp.linalg.vector_norm(gradient, axis=-1, keepdims=True)
    return gradient * (clip_norm / xp.clip(norm, min=clip_norm))


def _loss_and_gradient(params: Any, setup: _Setup, *, xp: Any) -> tuple[Any, Any]:
    """Each problem's loss (B,) and gradient (B, p) at params (B, p)."""
    n_samples = setup.design.shape[-2]
    logits = (setup.design @ params[..., None])[..., 0]  # (B, n)
    if setup.options.loss == "mse":
        residual = logits - setup.targets
        data_loss = xp.mean(residual**2, axis=-1)
        error, scale = residual, 2.0 / n_samples
    else:
        softplus = xp.maximum(logits, 0.0) + xp.log1p(xp.exp(-xp.abs(logits)))
        data_loss = xp.mean(softplus - setup.targets * logits, axis=-1)
        error, scale = stable_sigmoid(logits, xp=xp) - setup.targets, 1.0 / n_samples
    data_gradient = scale * (xp.matrix_transpose(setup.design) @ error[..., None])[..., 0]
    l2 = setup.options.l2
    if not l2:
        return data_loss, data_gradient
    penalised = params * setup.penalty_mask
    return data_loss + l2 * xp.sum(penalised**2, axis=-1), data_gradient + 2 * l2 * penalised


def _materialized(progress: _Progress) -> _Progress:
    """Every state array evaluated now, so a lazy backend's graph stays one step deep."""
    names = [field.name for field in dataclasses.fields(progress)]
    evaluated = materialize(*(getattr(progress, name) for name in names))
    evaluated = evaluated if len(names) > 1 else (evaluated,)
    return _Progress(**dict(zip(names, evaluated, strict=True)))


def _result(progress: _Progress, history: Any, setup: _Setup, *, xp: Any) -> GradientDescentResult:
    weights = progress.params[:, : setup.n_features]
    if setup.options.fit_intercept:
        bias = progress.params[:, setup.n_features]
    else:
        bias = xp.zeros_like(progress.loss)
    fields = (weights, bias, history, progress.diverged, progress.converged, progress.updates)
    if not setup.batched:
        fields = tuple(field[..., 0] if field is history else field[0, ...] for field in fields)
    return GradientDescentResult(*fields)
