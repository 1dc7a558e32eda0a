"""Implementations a benchmark case can time: a backend through the public kernel, the
Numba and pure-Python loop baselines, and the peers a user would otherwise call.

``prepare`` does everything that must stay outside the timed region: inputs cast to the
case's dtype and built on the target device, JIT compilation (timed on its own), and a
``run`` callable whose every call ends with the backend's own wait.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from .. import KERNELS, ready, to_backend
from ..backends import framework_of
from ..backends._movement import _arrays_in
from ..examples import KernelCall
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


def host_arrays(result: Any) -> list[np.ndarray]:
    """Every array in ``result`` (tuples, lists, dataclasses), as NumPy."""
    return [
        np.asarray(framework.to_host(leaf))
        if (framework := framework_of(leaf))
        else np.asarray(leaf)
        for leaf in _arrays_in(result)
    ]


def cast_call(call: KernelCall, dtype: str) -> KernelCall:
    """The call with every floating array in ``dtype`` (integer arrays as they are)."""
    return replace(call, arrays=tuple(_cast(value, dtype) for value in call.arrays))


def _cast(value: Any, dtype: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [_cast(item, dtype) for item in value]
    return value.astype(dtype) if np.asarray(value).dtype.kind == "f" else value


def prepare_backend(kernel: str, call: KernelCall, spec: str) -> Prepared:
    """The public kernel on ``spec`` (e.g. ``"torch:cpu"``), inputs already on the device."""
    arrays = tuple(_to_spec(value, spec) for value in call.arrays)
    public = KERNELS[kernel]

    def run_eager() -> Any:
        return ready(main_output(kernel, public(*arrays, **call.options)))

    if spec.partition(":")[0] == "jax":
        return _prepare_jax_jit(kernel, arrays, call.options, run_eager)
    return Prepared(run=run_eager, outputs=host_arrays)


def _to_spec(value: Any, spec: str) -> Any:
    if isinstance(value, (list, tuple)):
        return [_to_spec(item, spec) for item in value]
    return to_backend(value, spec)


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
