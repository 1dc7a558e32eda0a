"""Control flow as backend primitives: each framework runs a kernel's step loop, and
chooses between two computations, its own way."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from .frameworks import FRAMEWORKS, framework_of
from .frameworks.base import StepLoop


def run_loop(loop: StepLoop, state: Any, constants: Any) -> tuple[Any, Any, Any]:
    """Run a kernel's step loop the way the state's framework runs loops.

    An eager Python loop on NumPy, torch, CuPy and array-api-strict; each step's state
    persisted on Dask; one compiled ``lax`` loop on JAX. See
    :meth:`~.frameworks.base.Framework.run_loop` for the arguments and what comes back
    (state, history (steps_run + 1, ...), steps_run).
    """
    framework = next((fw for a in state if (fw := framework_of(a)) is not None), None)
    return (framework or FRAMEWORKS["numpy"]).run_loop(loop, state, constants)


def loops_compiled(array: Any) -> bool:
    """Whether :func:`run_loop` on ``array`` runs one compiled program, whose steps pay no
    per-call cost: always on JAX (``Framework.compiles_loops``), and on a tracer of the
    caller's own compilation (``torch.compile``: one ``torch.while_loop``). There a loop
    rewritten into fewer, larger calls gains nothing and takes longer to compile."""
    framework = framework_of(array)
    return framework is not None and (framework.compiles_loops or framework.is_traced(array))


def branch(
    predicate: Any, if_true: Callable[..., Any], if_false: Callable[..., Any], operands: tuple
) -> Any:
    """``if_true(*operands)`` where the 0-d bool array ``predicate`` holds, else
    ``if_false(*operands)``.

    Eagerly a Python ``if`` (on a GPU after one sync to read ``predicate``); traced by
    ``jax.jit``, ``lax.cond``; elsewhere (``torch.compile``, Dask) both branches and a
    ``where``. Both must return the same structure of arrays: see
    :meth:`~.frameworks.base.Framework.branch`.
    """
    framework = framework_of(predicate) or FRAMEWORKS["numpy"]
    return framework.branch(predicate, if_true, if_false, operands)
