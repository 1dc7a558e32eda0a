"""JAX's step loops: one jitted program, its problems in cache-sized groups.

The loop is ``lax.while_loop`` when it may stop early (its stop test runs inside the
program, never as a Python ``bool``), else ``lax.fori_loop`` over a fixed count
(reverse-differentiable). The history is a preallocated ``(steps + 1, ...)`` buffer; after
an early stop its rows repeat the last recorded one (every problem is frozen there).

A loop whose problems are independent (``StepLoop.rows_independent``) and whose data
exceed the cache runs as ``lax.map`` over groups of problems, each group's whole loop in
turn (as NumPy's groups, :mod:`._grouped_loops`, and with the same sizes,
:mod:`._problem_groups`): XLA fuses a step's elementwise work, so what is left of a step
over B = 256 logistic problems of 512 x 32 float64 samples is reading those 32 MiB twice;
a group's 4 MiB are read from the cache. The rows are padded to a whole number of equal
groups by repeating the last problem (``lax.map`` needs equal shapes), and cut again.

Group g of G holds problems g, g + G, g + 2G, ...: problems sharded in blocks over several
devices (:mod:`._jax_devices`) then split every group evenly over them, and XLA runs each
device's share of a group on that device with nothing moved between them. Groups of
neighbouring problems put each group on one device, and XLA gathered every problem's data
onto every device first (a lax.map over a sharded axis); so did padding, so the count is
one that needs none where one near the cache's exists
(:func:`._problem_groups.even_group_count`). On one device the two layouts took the same
time (282 and 284 ms, B = 256 logistic problems, 200 steps).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from types import ModuleType
from typing import Any

from ._problem_groups import (
    even_group_count,
    group_count,
    owned_by_problems,
    problems_and_bytes,
)
from ._step_loop import StepLoop


@functools.cache
def compiled_loop(jax: ModuleType) -> Callable[..., Any]:
    """``run(loop, state, constants) -> (steps_run, state, history)``, jitted with the loop
    static: compiled once per kind of loop (its options) and input shapes."""

    def run(loop: StepLoop, state: Any, constants: Any) -> tuple[Any, Any, Any]:
        if not getattr(loop, "rows_independent", False):
            return _one_loop(jax, loop, state, constants)
        batch_size, bytes_per_problem = problems_and_bytes(state, constants)
        count = even_group_count(batch_size, group_count(batch_size, bytes_per_problem))
        if count == 1:
            return _one_loop(jax, loop, state, constants)
        return _grouped(jax, loop, state, constants, batch_size, count)

    return jax.jit(run, static_argnums=0)


def _one_loop(jax: ModuleType, loop: StepLoop, state: Any, constants: Any) -> tuple[Any, ...]:
    """(steps_run, state, history (steps + 1, ...)) of one ``lax`` loop over every problem."""
    jnp = jax.numpy
    first = loop.record(state)
    history = jnp.zeros((loop.steps + 1, *first.shape), first.dtype).at[0].set(first)

    def advance(count: Any, state: Any, history: Any) -> tuple[Any, Any]:
        state = loop.step(count, state, constants)
        return state, history.at[count + 1].set(loop.record(state))

    if not loop.stops_early:
        state, history = jax.lax.fori_loop(
            0, loop.steps, lambda count, carry: advance(count, *carry), (state, history)
        )
        return jnp.asarray(loop.steps), state, history

    def go_on(carry: tuple[Any, ...]) -> Any:
        count, _, _, finished = carry
        return (count < loop.steps) & ~finished

    def body(carry: tuple[Any, ...]) -> tuple[Any, ...]:
        count, state, history, _ = carry
        state, history = advance(count, state, history)
        return count + 1, state, history, loop.finished(state)

    start = (jnp.asarray(0), state, history, jnp.asarray(False))
    steps_run, state, history, _ = jax.lax.while_loop(go_on, body, start)
    rows = jnp.reshape(jnp.arange(loop.steps + 1), (-1,) + (1,) * first.ndim)
    return steps_run, state, jnp.where(rows <= steps_run, history, history[steps_run])


def _grouped(
    jax: ModuleType, loop: StepLoop, state: Any, constants: Any, batch_size: int, count: int
) -> tuple[Any, Any, Any]:
    """``_one_loop`` over ``count`` equal groups of problems, one after the other; group g
    holds problems g, g + count, ... (see the module's notes)."""
    jnp = jax.numpy
    leaves, tree = jax.tree_util.tree_flatten((state, constants))
    size = -(-batch_size // count)  # ceil: the last problem repeated to fill the groups
    owned = [index for index, leaf in enumerate(leaves) if owned_by_problems(leaf, batch_size)]

    def grouped(leaf: Any) -> Any:
        padding = count * size - batch_size
        if padding:
            leaf = jnp.concatenate([leaf, jnp.repeat(leaf[-1:], padding, axis=0)])
        return jnp.moveaxis(jnp.reshape(leaf, (size, count, *leaf.shape[1:])), 1, 0)

    def one_group(group_leaves: list[Any]) -> tuple[Any, Any, Any]:
        replaced = list(leaves)
        for index, leaf in zip(owned, group_leaves, strict=True):
            replaced[index] = leaf
        group_state, group_constants = jax.tree_util.tree_unflatten(tree, replaced)
        return _one_loop(jax, loop, group_state, group_constants)

    steps_run, states, histories = jax.lax.map(one_group, [grouped(leaves[i]) for i in owned])
    state = jax.tree_util.tree_map(lambda leaf: _ungrouped(jnp, leaf, batch_size), states)
    histories = jnp.moveaxis(histories, 0, 1)  # (steps + 1, count, size, ...)
    history = _ungrouped(jnp, histories, batch_size, axis=1)
    return jnp.max(steps_run), state, history


def _ungrouped(jnp: ModuleType, leaf: Any, batch_size: int, *, axis: int = 0) -> Any:
    """(..., count, size, ...) at ``axis`` back to (..., batch_size, ...) in the problems'
    order (problem i * count + g is row i of group g), padding cut."""
    leaf = jnp.moveaxis(leaf, axis, axis + 1)  # (..., size, count, ...)
    shape = leaf.shape
    merged = jnp.reshape(leaf, (*shape[:axis], shape[axis] * shape[axis + 1], *shape[axis + 2 :]))
    return merged[(slice(None),) * axis + (slice(0, batch_size),)]
