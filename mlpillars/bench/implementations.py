"""What a benchmark case times: a backend through the public kernel, a loop baseline
(Numba or pure Python), or a peer library's function.

Each implementation says itself whether a case should be skipped
(:meth:`Implementation.skip`: a loop predicted to be too slow, a peer that cannot fit in
memory) and prepares everything that must stay outside the timed region
(:meth:`Implementation.prepare`): inputs cast and built on the target device, compilation
timed on its own, and a ``run`` callable whose every call ends with the backend's own wait.
"""

from __future__ import annotations

import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import ready
from ..backends import FRAMEWORKS, Framework, host_arrays, to_backend
from ..examples import KernelCall, call_on_backend
from .memory import available_host_bytes
from .peers import Peer
from .run_folder import BACKEND, BASELINE, NUMBA, PEER, PYTHON
from .work import Work

if TYPE_CHECKING:
    from .cases import Case, Suite
    from .catalogue import KernelEntry
    from .results import ResultsLog

__all__ = [
    "MEMORY_SHARE",
    "NUMBA",
    "PYTHON",
    "BackendImplementation",
    "Implementation",
    "LoopBaseline",
    "PeerImplementation",
    "Prepared",
    "Skip",
    "loop_estimate",
    "prepare_compiled",
]

MEMORY_SHARE = 0.5
"""A peer whose estimated peak exceeds this share of the available memory is skipped."""


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
        Compilation time (Numba, jax.jit), measured apart from every timed round.
    notes : str
        e.g. "jax.jit" or "eager (jax.jit cannot trace it: TypeError)".
    """

    run: Callable[[], Any]
    outputs: Callable[[Any], list[np.ndarray]]
    compile_seconds: float | None = None
    notes: str = ""


@dataclass(frozen=True)
class Skip:
    """Why a case is not run, and the figures behind that (extra fields of its row)."""

    reason: str
    details: dict[str, Any] = field(default_factory=dict)


class Implementation(ABC):
    """One way of computing a kernel. ``name`` and ``kind`` are the row's fields."""

    kind: ClassVar[str]

    @property
    @abstractmethod
    def name(self) -> str:
        """e.g. ``"torch:cpu"``, ``"numba"``, ``"scipy.special.softmax"``."""

    def skip(
        self, case: Case, *, call: KernelCall, work: Work, suite: Suite, log: ResultsLog
    ) -> Skip | None:
        """Why ``case`` should not run here, or None to run it."""
        return None

    @abstractmethod
    def prepare(self, entry: KernelEntry, call: KernelCall) -> Prepared:
        """Everything before the timed calls, for ``entry``'s kernel on NumPy ``call``."""


@dataclass(frozen=True)
class BackendImplementation(Implementation):
    """The public kernel on one backend and device, e.g. ``"torch:cpu"``; compiled with
    the framework's compiler where the harness times it so (``Framework.compiler``)."""

    spec: str
    kind: ClassVar[str] = BACKEND

    @property
    def name(self) -> str:
        return self.spec

    def prepare(self, entry: KernelEntry, call: KernelCall) -> Prepared:
        arrays = call_on_backend(call, self.spec).arrays
        kernel, options, main_output = entry.function, call.options, entry.main_output

        def main_result(*inputs: Any) -> Any:
            return main_output(kernel(*inputs, **options))

        framework = FRAMEWORKS[self.spec.partition(":")[0]]
        if framework.compiler is None:
            return Prepared(run=lambda: ready(main_result(*arrays)), outputs=host_arrays)
        return prepare_compiled(framework, main_result, arrays, host_arrays)


@dataclass(frozen=True)
class LoopBaseline(Implementation):
    """The kernel's Numba (``"numba"``) or pure-Python (``"python"``) loop."""

    flavour: str
    kind: ClassVar[str] = BASELINE

    @property
    def name(self) -> str:
        return self.flavour

    def skip(
        self, case: Case, *, call: KernelCall, work: Work, suite: Suite, log: ResultsLog
    ) -> Skip | None:
        """Skip where one call is predicted to exceed the suite's limit for this loop."""
        limit = suite.loop_limit_seconds.get(self.flavour)
        estimate = None if limit is None else loop_estimate(case, work, log)
        if estimate is None or estimate <= limit:
            return None
        return Skip(
            f"{self.flavour} loop predicted to take {estimate:.3g} s per call (power law "
            f"fitted to the sizes that ran), over the suite's {limit} s",
            {"estimate_seconds": estimate},
        )

    def prepare(self, entry: KernelEntry, call: KernelCall) -> Prepared:
        baseline = entry.baseline
        if baseline is None:
            raise ValueError(f"{entry.kernel} has no loop baseline")
        arrays, options = call.arrays, call.options
        if self.flavour == NUMBA:
            compile_seconds, function = baseline.compile_numba(*arrays, **options), baseline.numba
        else:
            compile_seconds, function = None, baseline.python
        return Prepared(
            run=lambda: function(*arrays, **options),
            outputs=host_arrays,
            compile_seconds=compile_seconds,
        )


@dataclass(frozen=True)
class PeerImplementation(Implementation):
    """A peer library's function, on its own backend (NumPy for host libraries)."""

    peer: Peer
    kind: ClassVar[str] = PEER

    @property
    def name(self) -> str:
        return self.peer.name

    def skip(
        self, case: Case, *, call: KernelCall, work: Work, suite: Suite, log: ResultsLog
    ) -> Skip | None:
        """Skip where the peer's estimated peak memory cannot fit."""
        needed = self.peer.peak_bytes(call) if self.peer.peak_bytes else 0.0
        available = available_host_bytes()
        if needed <= MEMORY_SHARE * available:
            return None
        return Skip(
            f"would need about {needed / 2**30:.1f} GiB (it holds every score), over "
            f"{MEMORY_SHARE:.0%} of the {available / 2**30:.1f} GiB available"
        )

    def prepare(self, entry: KernelEntry, call: KernelCall) -> Prepared:
        peer_call = self.peer.adapt(self.peer, call)
        arrays = tuple(to_backend(array, self.peer.backend) for array in peer_call.arrays)
        function, outputs = peer_call.function, peer_call.outputs
        if self.peer.compiled:
            framework = FRAMEWORKS[self.peer.backend.partition(":")[0]]
            return prepare_compiled(framework, function, arrays, outputs)
        return Prepared(run=lambda: ready(function(*arrays)), outputs=outputs)


def prepare_compiled(
    framework: Framework,
    function: Callable[..., Any],
    arrays: tuple[Any, ...],
    outputs: Callable[[Any], list[np.ndarray]],
) -> Prepared:
    """``function`` compiled with ``framework.compile`` where it traces, else eager.

    The first call compiles; the compile time is that call less one steady call. A
    function with Python-level checks on values (label ranges, divergence halts) cannot
    be traced (``framework.trace_errors()``) and runs eagerly, with a note saying why.
    """
    compiled = framework.compile(function)
    started = time.perf_counter()
    try:
        ready(compiled(*arrays))
    except framework.trace_errors() as exc:
        reason = f"eager ({framework.compiler} cannot trace it: {type(exc).__name__})"
        return Prepared(run=lambda: ready(function(*arrays)), outputs=outputs, notes=reason)
    first_call = time.perf_counter() - started
    steady = _seconds(lambda: ready(compiled(*arrays)))
    return Prepared(
        run=lambda: ready(compiled(*arrays)),
        outputs=outputs,
        compile_seconds=max(first_call - steady, 0.0),
        notes=framework.compiler or "",
    )


def loop_estimate(case: Case, work: Work, log: ResultsLog) -> float | None:
    """Seconds per call at ``case.size``, from a power law ``t = a * size**b`` fitted to
    the smaller sizes of this kernel, implementation and dtype that ran.

    With one smaller size the time is scaled by the work model's FLOPs instead (``work``
    is the case's own); with none there is no estimate.
    """
    measured = sorted(
        (row["size"], row["median"], row["flops"])
        for row in log.rows
        if row["kernel"] == case.kernel
        and row["implementation"] == case.implementation.name
        and row["dtype"] == case.dtype
        and row.get("status") == "ok"
        and row["size"] < case.size
    )
    if not measured:
        return None
    if len(measured) == 1:
        _, seconds, flops = measured[0]
        return seconds * work.flops / flops
    sizes, seconds, _ = zip(*measured, strict=True)
    exponent, log_scale = np.polyfit(np.log(sizes), np.log(seconds), 1)
    return float(np.exp(log_scale) * case.size**exponent)


def _seconds(function: Callable[[], Any]) -> float:
    started = time.perf_counter()
    function()
    return time.perf_counter() - started
