"""What a benchmark case times: a backend through the public kernel (compiled where its
framework's module names a compiler, ``jax.jit``), its compiled form by another compiler
(``torch.compile``), a loop baseline (Numba or pure Python), or a peer library's function.

Each implementation says itself whether a case should be skipped
(:meth:`Implementation.skip`: a loop predicted to be too slow, a peer that cannot fit in
memory) and prepares everything that must stay outside the timed region
(:meth:`Implementation.prepare`): inputs cast and built on the target device, compilation
timed on its own, and a ``run`` callable whose every call ends with the backend's own wait.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np

from .. import ready
from ..backends import FRAMEWORKS, host_arrays, to_backend
from ..examples import KernelCall, call_on_backend
from .compiled import Compiler, Prepared, TraceFailure, prepare_compiled
from .memory import available_host_bytes
from .peers import Peer
from .run_folder import BACKEND, BASELINE, NUMBA, PEER, PYTHON, SKIPPED, UNTRACEABLE
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
    "CompiledImplementation",
    "Implementation",
    "LoopBaseline",
    "PeerImplementation",
    "Prepared",
    "Skip",
    "TraceFailure",
    "loop_estimate",
    "prepare_compiled",
]
HOST = "numpy:cpu"
"""The backend spec of the loops and host libraries: they compute on NumPy arrays."""

MEMORY_SHARE = 0.5
"""A peer whose estimated peak exceeds this share of the available memory is skipped."""


@dataclass(frozen=True)
class Skip:
    """Why a case is not run, and the figures behind that (extra fields of its row).

    ``status`` is the row's: ``skipped``, or ``untraceable`` for a compiled form known
    (from a smaller case of the run) not to trace.
    """

    reason: str
    details: dict[str, Any] = field(default_factory=dict)
    status: str = SKIPPED


class Implementation(ABC):
    """One way of computing a kernel. ``name`` and ``kind`` are the row's fields."""

    kind: ClassVar[str]

    @property
    @abstractmethod
    def name(self) -> str:
        """e.g. ``"torch:cpu"``, ``"numba"``, ``"scipy.special.softmax"``."""

    @property
    def backend(self) -> str:
        """The backend spec it computes on: our kernels are compared with the peers and
        loops of the same one (the native calls)."""
        return HOST

    @property
    def thread_pool(self) -> str:
        """The worker threads its CPU work runs on: its backend framework's
        (``Framework.thread_pool``)."""
        return FRAMEWORKS[self.backend.partition(":")[0]].thread_pool

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

    @property
    def backend(self) -> str:
        return self.spec

    def skip(
        self, case: Case, *, call: KernelCall, work: Work, suite: Suite, log: ResultsLog
    ) -> Skip | None:
        """Untraceable where a smaller case of this kernel failed to trace already."""
        return earlier_trace_failure(case, log)

    def prepare(self, entry: KernelEntry, call: KernelCall) -> Prepared:
        framework = FRAMEWORKS[self.spec.partition(":")[0]]
        arrays = framework.held_inputs(
            call_on_backend(call, self.spec).arrays, problems=entry.holds_problems(call)
        )
        main_result = _kernel_call(entry, call)
        if framework.compiler is None:
            return Prepared(run=lambda: ready(main_result(*arrays)), outputs=host_arrays)
        return prepare_compiled(framework, main_result, arrays, host_arrays)


@dataclass(frozen=True)
class CompiledImplementation(Implementation):
    """The public kernel on one backend and device, compiled by ``compiler`` (e.g.
    ``torch.compile`` on ``torch:cpu``, named ``"torch.compile:cpu"``)."""

    spec: str
    compiler: Compiler
    kind: ClassVar[str] = BACKEND

    @property
    def name(self) -> str:
        return f"{self.compiler.name}:{self.spec.partition(':')[2]}"

    @property
    def backend(self) -> str:
        return self.spec

    def skip(
        self, case: Case, *, call: KernelCall, work: Work, suite: Suite, log: ResultsLog
    ) -> Skip | None:
        """Untraceable where a smaller case of this kernel failed to trace already (a
        failed trace costs seconds)."""
        return earlier_trace_failure(case, log)

    def prepare(self, entry: KernelEntry, call: KernelCall) -> Prepared:
        arrays = call_on_backend(call, self.spec).arrays
        return prepare_compiled(self.compiler, _kernel_call(entry, call), arrays, host_arrays)


def earlier_trace_failure(case: Case, log: ResultsLog) -> Skip | None:
    """An ``untraceable`` verdict for ``case`` when the run already found its kernel
    untraceable by this implementation (at another size, dtype or variant)."""
    for row in log.rows:
        if (
            row.get("status") == UNTRACEABLE
            and row["kernel"] == case.kernel
            and row["implementation"] == case.implementation.name
        ):
            where = f"size {row['size']} {row.get('dtype', '')} {row.get('variant', '')}"
            return Skip(f"{row['reason']} (at {where.strip()})", status=UNTRACEABLE)
    return None


def _kernel_call(entry: KernelEntry, call: KernelCall) -> Callable[..., Any]:
    """The public kernel on the call's arrays, its options fixed (static for a compiler),
    returning its main output."""
    kernel, options, main_output = entry.function, call.options, entry.main_output

    def main_result(*inputs: Any) -> Any:
        return main_output(kernel(*inputs, **options))

    return main_result


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

    @property
    def backend(self) -> str:
        return self.peer.backend

    def prepare(self, entry: KernelEntry, call: KernelCall) -> Prepared:
        peer_call = self.peer.adapt(self.peer, call)
        arrays = tuple(to_backend(array, self.peer.backend) for array in peer_call.arrays)
        function, outputs = peer_call.function, peer_call.outputs
        if self.peer.compiled:
            framework = FRAMEWORKS[self.peer.backend.partition(":")[0]]
            return prepare_compiled(framework, function, arrays, outputs)
        return Prepared(run=lambda: ready(function(*arrays)), outputs=outputs)


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
        and row.get("variant", "") == case.variant
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
