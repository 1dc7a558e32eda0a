"""Step loops as a backend primitive: each framework runs a kernel's loop its own way."""

from __future__ import annotations

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
