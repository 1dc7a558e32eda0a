"""Implementations a benchmark case can time: a backend through the public kernel, the
Numba and pure-Python loop baselines, and the peers a user would otherwise call.

``prepare`` does everything that must stay outside the timed region: inputs cast to the
case's dtype and built on the target device, JIT compilation (timed on its own), and a
``run`` callable whose every call ends with the backend's own wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import KERNELS, ready
from ..backends import host_arrays
from ..examples import KernelCall, call_on_backend
from .peers import Peer

PYTHON = "python"
NUMBA = "numba"


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
        JIT compilation time (Numba, jax.jit), measured apart from every timed round.
    notes : str
        e.g. "jax.jit" or "eager: <why jit could not trace>".
    """

    run: Callable[[], Any]
    outputs: Callable[[Any], list[np.ndarray]]
    compile_seconds: float | None = None
    notes: str = ""


def main_output(kernel: str, result: Any) -> Any:
    """The part of a kernel's result that implementations are compared on."""
    if kernel == "gradient_descent":
        return (result.weights, result.bias) if hasattr(result, "weights") else result
    return result


def prepare_backend(kernel: str, call: KernelCall, spec: str) -> Prepared:
    """The public kernel on ``spec`` (e.g. ``"torch:cpu"``), inputs already on the device."""
    arrays = call_on_backend(call, spec).arrays
    public = KERNELS[kernel]

    def run_eager() -> Any:
        return ready(main_output(kernel, public(*arrays, **call.options)))

    if spec.partition(":")[0] == "jax":
        return _prepare_jax_jit(kernel, arrays, call.options, run_eager)
    return Prepared(run=run_eager, outputs=host_arrays)


def _prepare_jax_jit(
    kernel: str, arrays: tuple[Any, ...], options: dict[str, Any], run_eager: Callable[[], Any]
) -> Prepared:
    """jax.jit the public kernel when it traces; kernels with Python-level checks on values
    (label ranges, divergence halts) cannot be traced and run eagerly instead."""
    import jax

    jitted = jax.jit(lambda *inputs: main_output(kernel, KERNELS[kernel](*inputs, **options)))
    started = time.perf_counter()
    try:
        ready(jitted(*arrays))
    except (jax.errors.JAXTypeError, TypeError, ValueError) as exc:
        reason = f"eager (jax.jit cannot trace it: {type(exc).__name__})"
        return Prepared(run=run_eager, outputs=host_arrays, notes=reason)
    first_call = time.perf_counter() - started
    steady = _seconds(lambda: ready(jitted(*arrays)))
    return Prepared(
        run=lambda: ready(jitted(*arrays)),
        outputs=host_arrays,
        compile_seconds=max(first_call - steady, 0.0),
        notes="jax.jit",
    )


def prepare_baseline(kernel: str, call: KernelCall, flavour: str) -> Prepared:
    """The Numba or pure-Python loop baseline of ``kernel``."""
    from .baselines import BASELINES

    baseline = BASELINES[kernel]
    if flavour == NUMBA:
        compile_seconds = baseline.compile_numba(*call.arrays, **call.options)
        function = baseline.numba
    else:
        compile_seconds, function = None, baseline.python
    return Prepared(
        run=lambda: function(*call.arrays, **call.options),
        outputs=host_arrays,
        compile_seconds=compile_seconds,
    )


def prepare_peer(peer: Peer, call: KernelCall) -> Prepared:
    """A peer library's function on NumPy/CPU inputs."""
    peer_run = peer.prepare(call)
    return Prepared(run=peer_run.run, outputs=peer_run.outputs)


def _seconds(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started
