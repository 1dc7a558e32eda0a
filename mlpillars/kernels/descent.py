"""Gradient descent for linear and logistic regression, B problems at once.

The tutorial's loop, ``w = w - lr * dL/dw`` from ``w = 0``, with MSE loss
``mean((Xw + b - y)^2)`` and gradient ``(2/n) X^T (Xw + b - y)``. Here it runs B
problems at once (a learning-rate sweep is one call), each problem frozen by an
``xp.where`` mask once it converges or diverges: no item assignment, no loop over problems.

Weights and bias travel together as one parameter row per problem, ``theta = [w, b]``;
the L2 penalty leaves the bias out. The closed form of the same linear regression is
:func:`.regression.least_squares`.

The parts: :mod:`._descent_setup` (options, shapes, value checks),
:mod:`._descent_objectives` (loss and gradient from the data, or from the MSE's
sufficient statistics of :mod:`._descent_statistics`, expanded around a reference by
:mod:`._descent_reference`), :mod:`._descent_steps` (the state and one step). The loop
itself is the backend's (:func:`mlpillars.backends.run_loop`): an eager Python loop on
NumPy, torch and CuPy, one compiled ``lax`` loop on JAX.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..backends import (
    branch,
    kernel,
    loops_compiled,
    quiet_arithmetic,
    run_loop,
    values_at_hand,
)
from ._descent_blocks import descend_in_blocks, runs_in_blocks
from ._descent_fused import FusedGradientDescent, offer
from ._descent_objectives import DataObjective, MseStatistics
from ._descent_reference import around_reference, around_the_minimum, rows_needing_reference
from ._descent_setup import (
    LOSSES,
    OPTIMIZERS,
    Options,
    Setup,
    betas_pair,
    check_lazy_values,
    setup,
    uses_statistics,
)
from ._descent_statistics import mse_statistics, overflowed
from ._descent_steps import RISING_STEPS, DescentLoop, Progress, start

__all__ = ["LOSSES", "OPTIMIZERS", "RISING_STEPS", "GradientDescentResult", "gradient_descent"]


class GradientDescentResult(NamedTuple):
    """What :func:`gradient_descent` returns, in the input's namespace and on its device.

    A named tuple, so a pytree wherever JAX (``jax.jit``, ``jax.vmap``) or torch
    (``torch.compile``) carry results: return it from a jitted function as it is.

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
        is ``steps``, or fewer with ``tol`` when every problem stopped earlier. Traced
        inside the caller's own ``jax.jit`` the row count must be static: there it is
        always ``steps + 1``, the rows after an early stop repeating the last one (every
        problem is frozen by then), and ``steps_run`` tells where each problem stopped;
        so it is on Dask, whose lazy arrays need their shapes before computing.
    diverged : bool array, shape (B,) or ()
        The loss became non-finite, or grew ``RISING_STEPS`` (3) steps in a row to above
        its value at the zero start; with momentum beta (or Adam's b1), 3 + ceil(3 / (1 -
        beta)) steps in a row (33 at 0.9), since a converging heavy-ball run rises for a
        while near its stability limit.
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


@kernel(arrays=("X", "y", "lr"), known_sizes=True)
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
    mse_method: str = "auto",
    xp: Any,
    fused: FusedGradientDescent | None = None,
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
        (1-D) has a leading axis B; the unbatched ones, and a leading axis of 1 (as NumPy
        broadcasts), are shared, so X (n, d) or (1, n, d) with lr (B,) is a learning-rate
        sweep on one data set. A Python float first becomes an array
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
        loop ends early when every problem has stopped (checked each step): converged, or
        diverged and halted (with ``halt_on_divergence=False`` a diverged problem keeps
        updating to ``steps``, in any batch, as it would alone).
    halt_on_divergence : bool
        True: a diverging problem stops updating and keeps its last weights with a finite
        loss. False: it keeps updating (weights may become inf or NaN), still flagged.
        Either way the flag is the report: the loop's overflow raises no NumPy
        ``RuntimeWarning`` (torch and JAX raise none either).
    mse_method : {"auto", "statistics", "data"}
        How the MSE's loss and gradient are computed; the results agree within the
        tolerance table. ``"statistics"``: from each problem's sufficient statistics
        (centred Gram ``X_c^T X_c``, ``X_c^T y``, means), computed once, so that a step
        costs O(d^2) per problem instead of O(n d); the loss history stays as accurate
        as the direct formula (see :mod:`._descent_reference`). ``"data"``: from X and
        y at every step. ``"auto"``: statistics where they cost less: when n > d over
        enough steps, or, for plain steps (run in blocks), small problems whatever n and
        d, whose cost is the framework's calls more than arithmetic. Ignored for the
        logistic loss (always the data), without features (d = 0), and where the
        statistics overflow the dtype (eagerly: float32 features of 1e20 square past its
        range; the data's steps do not). From the data, an eager loop on NumPy or torch
        (CPU) holds one transposed, row-major copy of X for the call (its products read
        it along its rows: torch's ran 1.5-2x faster).

    Notes
    -----
    Half precision (float16, bfloat16) is fitted in float32, its weights, bias and history
    cast back: float16 features of 11 over 512 samples sum squares past its range.

    Traceable: inside ``jax.jit`` (and the other transforms the dispatch follows) the
    value checks (lr >= 0 and finite, labels in {0, 1}) are skipped, since the values
    are not known at trace time; on JAX the whole loop is one ``lax`` loop. On Dask the
    chunks' tasks check them when they compute (a bad lr or label raises then, naming
    the chunk's values), so the call computes nothing where Dask computes.

    Returns
    -------
    GradientDescentResult
        weights (B, d), bias (B,), loss_history (rows, B), diverged (B,), converged (B,),
        steps_run (B,); without B when no input is batched. See its attributes.
    """
    options = Options(
        loss=loss,
        steps=steps,
        optimizer=optimizer,
        momentum=momentum,
        betas=betas_pair(betas),
        eps=eps,
        fit_intercept=fit_intercept,
        l2=l2,
        warmup_steps=warmup_steps,
        clip_norm=clip_norm,
        tol=tol,
        halt_on_divergence=halt_on_divergence,
        mse_method=mse_method,
    )
    problems = setup(X, y, lr, options, xp=xp)
    if (fields := offer(fused, problems, xp=xp)) is not NotImplemented:
        fitted = GradientDescentResult(*fields)  # the framework's own (:mod:`._descent_fused`)
    else:
        check_lazy_values(problems, y, xp=xp)
        fitted = _fit(problems, xp=xp)
    return _narrowed(fitted, problems.result_dtype, xp=xp)


def _fit(problems: Setup, *, xp: Any) -> GradientDescentResult:
    """The fit of checked problems: from the data, or from the MSE's statistics where they
    cost less and are finite (eagerly: float32 features of 1e20 overflow the Gram)."""
    options = problems.options  # checked: its numbers Python floats and ints
    if not uses_statistics(problems, in_blocks=_in_blocks(problems)):
        return _from_data(problems, xp=xp)
    # read where at hand: statistics past the range are dropped for the data, unwarned
    with quiet_arithmetic(problems.features, when=values_at_hand(problems.features)):
        around_zero = mse_statistics(
            problems.features, problems.targets, options.l2, options.fit_intercept, xp=xp
        )
    if overflowed(around_zero, xp=xp):
        return _from_data(problems, xp=xp)
    statistics = around_the_minimum(
        around_zero, problems.features, problems.targets, options.l2, xp=xp
    )
    fitted = _descend(statistics, problems, xp=xp)
    rows = rows_needing_reference(
        statistics, around_zero, fitted[1], fitted[0].params, fitted[0].diverged, xp=xp
    )

    def descend_again(progress: Progress, history: Any, steps_run: Any) -> tuple[Any, ...]:
        weights, chosen = progress.params[:, : problems.n_features], rows
        if statistics.reference is not None:  # the other rows keep their minimiser (or 0)
            weights = xp.where(rows[:, None], weights, statistics.reference)
            chosen = xp.ones_like(rows)
        expanded = around_reference(
            around_zero, problems.features, problems.targets, weights, chosen, options.l2, xp=xp
        )
        return _descend(expanded, problems, xp=xp)

    # Eagerly a Python if; traced, the program runs the second loop only where needed.
    fitted = branch(xp.any(rows), descend_again, lambda *kept: kept, fitted)
    return _result(*fitted, problems, xp=xp)


def _from_data(problems: Setup, *, xp: Any) -> GradientDescentResult:
    objective = DataObjective.of(problems.features, problems.targets, xp=xp)
    return _result(*_descend(objective, problems, xp=xp), problems, xp=xp)


def _narrowed(fitted: GradientDescentResult, dtype: Any, *, xp: Any) -> GradientDescentResult:
    """The fit's weights, bias and history in ``dtype`` (half precision, fitted in float32;
    the same dtype: as they are)."""
    if fitted.weights.dtype == dtype:
        return fitted
    weights, bias, history = (
        xp.astype(field, dtype) for field in (fitted.weights, fitted.bias, fitted.loss_history)
    )
    return fitted._replace(weights=weights, bias=bias, loss_history=history)


def _descend(objective: Any, problems: Setup, *, xp: Any) -> tuple[Progress, Any, Any]:
    """Run the loop on ``objective``: (final state, loss history, steps run); plain steps
    on the MSE's statistics in blocks of affine steps (:mod:`._descent_blocks`), unless
    the loop is compiled whole anyway (JAX: the blocks measured slower there, 68 ms
    against 53, and compiled in 3.2 s against 1.7)."""
    if isinstance(objective, MseStatistics) and _in_blocks(problems):
        return descend_in_blocks(objective, problems, xp=xp)
    progress, constants = start(objective, problems.lr, problems.n_params, problems.options, xp=xp)
    return run_loop(DescentLoop(problems.options, xp), progress, constants)


def _in_blocks(problems: Setup) -> bool:
    """Whether a fit on the MSE's statistics would run in blocks of steps."""
    return runs_in_blocks(problems.options) and not loops_compiled(problems.lr)


def _result(
    progress: Progress, history: Any, steps_run: Any, problems: Setup, *, xp: Any
) -> GradientDescentResult:
    del steps_run  # each problem's own count is progress.updates
    weights = progress.params[:, : problems.n_features]
    if problems.options.fit_intercept:
        bias = progress.params[:, problems.n_features]
    else:
        bias = xp.zeros_like(progress.loss)
    fields = (weights, bias, history, progress.diverged, progress.converged, progress.updates)
    if not problems.batched:
        fields = tuple(field[..., 0] if field is history else field[0, ...] for field in fields)
    return GradientDescentResult(*fields)
