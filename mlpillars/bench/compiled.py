"""Compiled forms of a call: how the harness compiles, times the compilation, and says so
when a compiler cannot trace a kernel.

Two compilers are used. A framework whose module names a ``compiler`` (``jax.jit``) is
timed only in compiled form, through ``Framework.compile``; each compiler of
:data:`COMPILERS` (``torch.compile(fullgraph=True)``) adds its own implementation beside
the eager backend. Either way the first call compiles: its time less one steady call is
the compile time, kept apart from the timed rounds. A call its compiler cannot trace
raises :class:`TraceFailure`, which the runner records with the status ``untraceable``:
never an eager run in the compiled form's place.
"""

from __future__ import annotations

import importlib.util
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .. import ready
from .peers import load_dotted

if TYPE_CHECKING:
    from ..backends import Framework

__all__ = ["COMPILERS", "Compiler", "Prepared", "TraceFailure", "prepare_compiled"]


@dataclass(frozen=True)
class Prepared:
    """A case ready to time.

    Attributes
    ----------
    run : callable
        One call, ending once the result is computed (``ready``).
    outputs : callable
        Result -> the NumPy arrays compared with the reference (the kernel's main output).
    compile_seconds : float or None
        Compilation time (Numba, jax.jit, torch.compile), measured apart from every timed
        round: for a JIT, the first call less one steady call.
    first_call_seconds : float or None
        For a JIT, the first call itself (trace, compile and run).
    notes : str
        e.g. "jax.jit".
    """

    run: Callable[[], Any]
    outputs: Callable[[Any], list[np.ndarray]]
    compile_seconds: float | None = None
    first_call_seconds: float | None = None
    notes: str = ""


class TraceFailure(Exception):
    """A compiler could not trace the call: the case's status is ``untraceable``."""


@dataclass(frozen=True)
class Compiler:
    """A framework's compiler, called by its dotted name as its users call it.

    Attributes
    ----------
    name : str
        The compiler's dotted name (``"torch.compile"``), loaded with importlib when used.
    backend : str
        The backend whose arrays it compiles for (``"torch"``).
    options : dict
        Keyword options of every compile (``fullgraph=True``: a graph break is a failure,
        not a silent fall back to Python).
    trace_errors : tuple of str
        Dotted names of the exceptions that mean "cannot trace this call".
    reset : str
        Dotted name of a function that empties the compiler's caches, called before each
        compile so that every case's compile time is a cold one and no recompile limit is
        reached across cases; empty: none.
    """

    name: str
    backend: str
    options: dict[str, Any] = field(default_factory=dict)
    trace_errors: tuple[str, ...] = ()
    reset: str = ""

    def is_installed(self) -> bool:
        """Whether the compiler's top-level package can be imported (without importing it)."""
        return importlib.util.find_spec(self.name.partition(".")[0]) is not None

    def compile(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` compiled (lazily: the first call traces and compiles)."""
        if self.reset:
            load_dotted(self.reset)()
        return load_dotted(self.name)(function, **self.options)

    def errors(self) -> tuple[type[BaseException], ...]:
        """The exception classes of :attr:`trace_errors`."""
        return tuple(load_dotted(name) for name in self.trace_errors)


TORCH_COMPILE = Compiler(
    "torch.compile",
    backend="torch",
    options={"fullgraph": True},
    trace_errors=("torch._dynamo.exc.TorchDynamoException",),
    reset="torch._dynamo.reset",
)
"""``torch.compile(fullgraph=True)``: Dynamo's errors (``Unsupported``, ...) mean untraceable."""

COMPILERS: tuple[Compiler, ...] = (TORCH_COMPILE,)
"""The compilers that run as implementations of their own beside the eager backend."""


def prepare_compiled(
    framework: Framework | Compiler,
    function: Callable[..., Any],
    arrays: tuple[Any, ...],
    outputs: Callable[[Any], list[np.ndarray]],
) -> Prepared:
    """``function`` compiled by ``framework`` (its module's ``compile``) or by a
    :class:`Compiler`, its first call timed apart.

    Raises
    ------
    TraceFailure
        When the first call raises one of the compiler's trace errors (value checks on
        traced arrays, an untraceable Python construct): never an eager fallback.
    """
    name, errors = _compiler_name_and_errors(framework)
    compiled = framework.compile(function)
    started = time.perf_counter()
    try:
        ready(compiled(*arrays))
    except errors as exc:
        reason = f"{name} cannot trace it: {type(exc).__name__}: {_summary(exc)}"
        raise TraceFailure(reason) from exc
    first_call = time.perf_counter() - started
    steady = _seconds(lambda: ready(compiled(*arrays)))
    return Prepared(
        run=lambda: ready(compiled(*arrays)),
        outputs=outputs,
        compile_seconds=max(first_call - steady, 0.0),
        first_call_seconds=first_call,
        notes=name,
    )


def _compiler_name_and_errors(
    compiler: Framework | Compiler,
) -> tuple[str, tuple[type[BaseException], ...]]:
    if isinstance(compiler, Compiler):
        return compiler.name, compiler.errors()
    return compiler.compiler or compiler.name, compiler.trace_errors()


def _summary(exc: BaseException) -> str:
    """The message's first two lines (Dynamo's say what and why), at most 300 characters."""
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return " ".join(lines[:2])[:300]


def _seconds(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started
