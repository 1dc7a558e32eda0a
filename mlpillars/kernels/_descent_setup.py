"""Gradient descent's set-up: its options checked, its problems given a batch axis.

Shapes and options are checked always (trace-time facts); values (lr >= 0 and finite,
logistic labels in {0, 1}) only where they can be read now (not under ``jax.jit`` or
``torch.compile``, no GPU sync): see :func:`mlpillars.backends.values_known`. Lazy
values (Dask: a read is a compute, a round trip to the scheduler) are checked by
:func:`check_lazy_values` only where the framework's own implementation declined the
problems; its tasks check them where they compute.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from ..backends import values_at_hand, values_known
from ._checks import (
    check_choice,
    check_flag,
    check_int,
    check_number,
    regression_problems,
    shape_text,
)
from ._floating import as_floating, check_real_dtype, widened

GD = "gradient_descent"
LOSSES = ("mse", "logistic")
OPTIMIZERS = ("sgd", "adam")
MSE_METHODS = ("auto", "statistics", "data")


@dataclass(frozen=True)
class Options:
    """The keyword options of ``gradient_descent``, as given (betas as a tuple)."""

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
    mse_method: str


@dataclass(frozen=True)
class Setup:
    """The problem and the options, checked.

    features (1 or B, n, d) and targets (1 or B, n) in one float dtype, float32 for half
    precision (:func:`setup`); lr (B, 1); ``result_dtype`` the inputs' float dtype, that
    of the fit's weights, bias and history.
    """

    features: Any
    targets: Any
    lr: Any
    batch_size: int
    batched: bool
    options: Options
    result_dtype: Any

    @property
    def n_features(self) -> int:
        """d, the number of features."""
        return int(self.features.shape[-1])

    @property
    def n_params(self) -> int:
        """p: the weights, and the bias when there is one."""
        return self.n_features + int(self.options.fit_intercept)


def setup(X: Any, y: Any, lr: Any, options: Options, *, xp: Any) -> Setup:
    """Check the options and the problems; give them a batch axis and one float dtype.

    Half precision is fitted in float32 (its results cast back): float16 features of 11
    over 512 samples sum squares past float16's 65504 in the MSE's statistics (every loss
    was NaN).
    """
    options = checked_options(options)
    X, y = as_floating(X, y, xp=xp, kernel=GD, names=("X", "y"))
    features, targets, batch_size, batched = regression_problems(GD, X, y, lr, xp=xp)
    result_dtype = targets.dtype
    targets = widened(targets, xp=xp)
    features = xp.astype(features, targets.dtype, copy=False)
    check_real_dtype(GD, "lr", lr, xp=xp)
    lr = xp.astype(lr, targets.dtype, copy=False)
    if values_at_hand(lr, targets):
        _check_values(lr, targets, y, options, xp=xp)
    lr_rows = xp.reshape(xp.broadcast_to(xp.reshape(lr, (-1,)), (batch_size,)), (batch_size, 1))
    return Setup(features, targets, lr_rows, batch_size, batched, options, result_dtype)


def check_lazy_values(problems: Setup, y: Any, *, xp: Any) -> None:
    """The value checks :func:`setup` left, on lazy arrays whose values can be computed
    (Dask): one compute for lr, one more for logistic labels. ``y`` is the targets as
    given (errors show its shape)."""
    lr, targets = problems.lr, problems.targets
    if values_known(lr, targets) and not values_at_hand(lr, targets):
        _check_values(lr, targets, y, problems.options, xp=xp)


def _check_values(lr: Any, targets: Any, y: Any, options: Options, *, xp: Any) -> None:
    valid_lr = (lr >= 0) & xp.isfinite(lr)
    if not bool(xp.all(valid_lr)):  # one read (Dask: one compute)
        raise ValueError(
            f"{GD}: lr must be finite and >= 0; got {_offending(lr, valid_lr, xp=xp)} "
            f"(lr: {shape_text(lr)})"
        )
    if options.loss != "logistic":
        return
    labels = (targets == 0) | (targets == 1)
    if not bool(xp.all(labels)):
        raise ValueError(
            f"{GD}: logistic loss needs labels y in {{0, 1}}; got "
            f"{_offending(targets, labels, xp=xp)} (y: {shape_text(y)})"
        )


def _offending(values: Any, valid: Any, *, xp: Any) -> str:
    """The first invalid value, how many there are and where the first is: the range of
    the values said nothing (labels [0, 0.5, 1] range over 0 to 1, a NaN lr "nan to nan")."""
    flat, invalid = xp.reshape(values, (-1,)), xp.reshape(~valid, (-1,))
    first = int(xp.argmax(xp.astype(invalid, xp.int8)))
    count = int(xp.sum(xp.astype(invalid, xp.int32)))
    return f"{float(flat[first])} at flat index {first} ({count} such value{'s' * (count > 1)})"


def checked_options(options: Options) -> Options:
    """The options with their numbers as Python floats and ints (a NumPy scalar such as
    ``np.float64(0.9)`` is strongly typed: on JAX with x64 it made a float32 fit's
    parameters float64, and its loop's carry changed type); raise for one out of range,
    naming it and what would be valid."""
    check_choice(GD, "loss", options.loss, LOSSES)
    check_choice(GD, "optimizer", options.optimizer, OPTIMIZERS)
    check_choice(GD, "mse_method", options.mse_method, MSE_METHODS)
    checked = replace(
        options,
        steps=check_int(GD, "steps", options.steps, minimum=1),
        warmup_steps=check_int(GD, "warmup_steps", options.warmup_steps, minimum=0),
        momentum=check_number(GD, "momentum", options.momentum, low=0.0, high=1.0),
        l2=check_number(GD, "l2", options.l2, low=0.0),
        eps=check_number(GD, "eps", options.eps, low=0.0, allow_low=False),
        betas=tuple(  # type: ignore[arg-type]
            check_number(GD, f"betas[{index}]", beta, low=0.0, high=1.0)
            for index, beta in enumerate(options.betas)
        ),
        clip_norm=_positive_or_none("clip_norm", options.clip_norm),
        tol=_positive_or_none("tol", options.tol),
        fit_intercept=check_flag(GD, "fit_intercept", options.fit_intercept),
        halt_on_divergence=check_flag(GD, "halt_on_divergence", options.halt_on_divergence),
    )
    if checked.optimizer == "adam" and checked.momentum != 0:
        raise ValueError(
            f"{GD}: momentum={options.momentum!r} applies to optimizer='sgd' "
            "only; adam's momentum is betas=(b1, b2)"
        )
    return checked


def _positive_or_none(name: str, value: object) -> float | None:
    return None if value is None else check_number(GD, name, value, low=0.0, allow_low=False)


def betas_pair(betas: Any) -> tuple[float, float]:
    """``betas`` as a tuple (hashable), or raise unless it is a pair."""
    if not isinstance(betas, (tuple, list)) or len(betas) != 2:
        raise ValueError(f"{GD}: betas must be a pair (b1, b2), got {betas!r}")
    return (betas[0], betas[1])


CALL_COST = 2**12
"""A framework call's fixed cost, in multiply-adds of the arithmetic (about 2 us on NumPy
here): what lets the statistics' blocks (about 4 calls a step) beat the data's step loop
(about 40) on small problems even where they do more arithmetic (n <= d)."""


def uses_statistics(setup: Setup, *, in_blocks: bool) -> bool:
    """Whether the MSE runs on the problems' sufficient statistics rather than the data.

    Never without features (d = 0: the data fit the intercept alone). ``"auto"``: where
    that costs less, counting multiply-adds (the Gram, n p^2 once, and p^2
    a step, against the data's 2 n p a step) and, where the statistics' steps run in
    blocks (``in_blocks``), the framework calls a step at :data:`CALL_COST` each.
    8 problems of 16 x 16, 50 steps: the statistics (a singular Gram) in 2.4 ms, the data
    in 6.7; 1 of 16 x 2048, 100 steps: the data in 12 ms, the statistics in 260.
    """
    options = setup.options
    if options.loss != "mse" or options.mse_method == "data" or setup.n_features == 0:
        return False  # no features: nothing to take statistics of (the intercept alone)
    if options.mse_method == "statistics":
        return True
    (grams, n, _), p, steps = setup.features.shape, setup.n_params, options.steps
    statistics = grams * p * p * n + setup.batch_size * p * p * steps  # shared X: one Gram
    data = 2 * setup.batch_size * n * p * steps
    if in_blocks:
        statistics, data = statistics + CALL_COST * 4 * steps, data + CALL_COST * 40 * steps
    return statistics < data
