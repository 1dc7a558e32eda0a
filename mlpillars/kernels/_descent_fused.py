"""A framework's own gradient descent: the call it answers, and how the kernel offers it.

The kernel checks and prepares the problems first (:func:`._descent_setup.setup`), so a
framework's implementation raises nothing the kernel would not. It then offers them to
the implementation the dispatch passed in (``fused``), which answers the result's
fields or ``NotImplemented``; the kernel's own loop then runs.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, Protocol

from ._descent_setup import Setup


class FusedGradientDescent(Protocol):
    """The call a framework's ``fused_kernels["gradient_descent"]`` answers.

    Offered every call, after the checks (also for B = 0 and for unbatched calls, as
    one problem).
    """

    def __call__(
        self, features: Any, targets: Any, lr: Any, /, *, options: Mapping[str, Any], xp: Any
    ) -> Any:
        """B problems fitted, or ``NotImplemented`` to decline them.

        Parameters
        ----------
        features : array, shape (B or 1, n, d)
            X in one real floating dtype, n >= 1. A leading 1 with B != 1 is one data set
            shared by every problem (a learning-rate sweep): the implementation must not
            copy it B times.
        targets : array, shape (B or 1, n)
            y in features' dtype, shared as features; labels in {0, 1} for "logistic".
        lr : array, shape (B,)
            Learning rates in features' dtype, >= 0 and finite; B may be 0. These values
            (and the labels) are checked where they are at hand; lazy ones (Dask) are
            not: the implementation checks them where it reads them (its tasks), or, if
            it declines, the kernel checks them after.
        options : mapping
            ``gradient_descent``'s keyword options, checked: ``loss``, ``steps``,
            ``optimizer``, ``momentum``, ``betas`` (a tuple), ``eps``, ``fit_intercept``,
            ``l2``, ``warmup_steps``, ``clip_norm``, ``tol``, ``halt_on_divergence``,
            ``mse_method``; passed on unchanged, they give the kernel's own call.
        xp : namespace
            The arrays' array-API namespace.

        Returns
        -------
        tuple of arrays, or NotImplemented
            ``(weights (B, d), bias (B,), loss_history (steps + 1, B), diverged (B,),
            converged (B,), steps_run (B,))``, in the namespace and on the device of the
            inputs: the values the kernel's own loop gives for these problems (the same
            algorithm, not only within tolerance; an implementation that splits the
            problems into groups may differ in rounding where the kernel decides per call,
            as whether the MSE's statistics need a centred copy of X), weights, bias and
            history in features' dtype, the flags boolean, the counts the namespace's
            default integer dtype.
            The history has the rows the kernel's own loop gives in that namespace: with
            ``tol``, eagerly (NumPy) up to the step after which every problem had stopped;
            where shapes must be known before the values (Dask, as under ``jax.jit``)
            ``steps + 1``, the rows after the loop would have stopped repeating its last.
        """
        ...


def offer(fused: FusedGradientDescent | None, problems: Setup, *, xp: Any) -> Any:
    """The result's fields from ``fused`` (without the B axis for an unbatched call), in
    ``GradientDescentResult``'s order, or ``NotImplemented`` (also when ``fused`` is None).
    """
    if fused is None:
        return NotImplemented
    options = {
        field.name: getattr(problems.options, field.name)
        for field in dataclasses.fields(problems.options)
    }
    lr = xp.reshape(problems.lr, (problems.batch_size,))
    fields = fused(problems.features, problems.targets, lr, options=options, xp=xp)
    if fields is NotImplemented:
        return NotImplemented
    fields = tuple(fields)
    if problems.batched:
        return fields
    history_index = 2
    return tuple(
        field[..., 0] if index == history_index else field[0, ...]
        for index, field in enumerate(fields)
    )
