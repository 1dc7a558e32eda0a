"""torch's step loop inside the caller's ``torch.compile``: one ``torch.while_loop``.

Eagerly, torch runs a kernel's step loop as the plain Python loop of
:meth:`.base.Framework.run_loop`. Traced by ``torch.compile``, that loop would unroll:
200 gradient-descent steps became a graph of some 9000 operations, which inductor took
more than a quarter of an hour to compile on this project's 2-core machine, and a loop that
stops early (``tol``) reads a ``bool()`` of an array, which ``fullgraph=True`` refuses.
Here the loop is one ``torch.while_loop`` (a prototype higher-order op of torch 2.4+),
traced once whatever the number of steps (the same MSE call compiled in about 30 s).

As under ``jax.jit`` (see the JAX module), the shapes must be static: the history is a
``(steps + 1, ...)`` buffer whose rows after an early stop repeat the last recorded one,
and ``steps_run`` is a 0-d integer tensor.

``torch.while_loop`` carries tensors only, none aliasing another or a loop input: the
state's ``None`` entries stay outside the carry, and the carried tensors are cloned going
in and coming out of the body (a step may return an array of its state unchanged).
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ._step_loop import StepLoop
from ._trees import leaves, map_leaves


def run_compiled_loop(
    torch: ModuleType, loop: StepLoop, state: Any, constants: Any
) -> tuple[Any, Any, Any]:
    """``loop`` from ``state`` as one ``torch.while_loop``, for a caller's ``torch.compile``.

    Returns
    -------
    state
        The state after the last step run.
    history : tensor, shape (loop.steps + 1, ...)
        ``loop.record`` of the start and after each step; after an early stop the last
        recorded row repeated.
    steps_run : tensor, shape ()
        Steps run.
    """
    first = loop.record(state)
    history = torch.cat([first[None, ...], first.new_zeros((loop.steps, *first.shape))])
    tensors, rebuild = _flattened(state)

    def go_on(count: Any, finished: Any, history: Any, *tensors: Any) -> Any:
        within = count < loop.steps
        return within & ~finished if loop.stops_early else within

    def body(count: Any, finished: Any, history: Any, *tensors: Any) -> tuple[Any, ...]:
        state = loop.step(count, rebuild(tensors), constants)
        row = loop.record(state)[None, ...]
        history = history.index_copy(0, (count + 1).reshape(1), row)
        finished = loop.finished(state) if loop.stops_early else finished
        new_tensors, _ = _flattened(state)
        return (count + 1, finished.clone(), history, *(t.clone() for t in new_tensors))

    start = (
        torch.zeros((), dtype=torch.int64, device=first.device),
        torch.zeros((), dtype=torch.bool, device=first.device),
        history,
        *(t.clone() for t in tensors),
    )
    steps_run, _, history, *tensors = torch.while_loop(go_on, body, start)
    if loop.stops_early:
        rows = torch.arange(loop.steps + 1, device=first.device)
        rows = rows.reshape(-1, *([1] * first.ndim))
        last = history.index_select(0, steps_run.reshape(1))
        history = torch.where(rows <= steps_run, history, last)
    return rebuild(tensors), history, steps_run


def _flattened(tree: Any) -> tuple[list[Any], Any]:
    """The tensors of a tree, in order, and ``rebuild(tensors) -> tree``; the ``None``
    entries stay in the structure."""

    def rebuild(tensors: Any) -> Any:
        remaining = iter(tensors)
        return map_leaves(lambda _: next(remaining), tree)

    return leaves(tree), rebuild
