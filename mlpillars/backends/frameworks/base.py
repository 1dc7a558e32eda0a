"""The base class of every framework: the hooks a framework module fills in.

A framework module (``numpy.py``, ``torch.py``, ...) is the one place that names its
framework. Its class says how to import it lazily, its array-API namespace, its devices,
how to move arrays onto it, how to wait for its asynchronous work, what it can do, its
settings for the benchmark record, its device-memory peak, how to compile a function, how
it runs a step loop (:class:`StepLoop`, in :mod:`._step_loop`), its own (fused)
implementations of kernels, the linear algebra it lacks, and a value gradients do not
flow through (:meth:`Framework.without_gradient`). The base class holds the
defaults that suit an eager CPU framework with the whole array API.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.util
import sys
from collections.abc import Callable
from types import ModuleType
from typing import Any, ClassVar

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from .._errors import BackendNotInstalledError
from ._step_loop import StepLoop
from ._trees import map_leaves

__all__ = ["Framework", "StepLoop", "device_index", "unknown_device"]

_NOT_LOOKED_UP = object()


class Framework:
    """A framework that mlpillars can run kernels on (abstract base).

    Subclasses set ``name`` (the backend name users type), ``module_name`` (what is
    imported), ``extra`` (the pip extra that installs it) and implement the hooks.

    Attributes
    ----------
    device_kinds : tuple of str
        Every kind of device the framework can have, as in a backend spec (``"cpu"``,
        ``"cuda"``); the tests run on each, skipping those this machine lacks.
    device_dtypes : dict of str to tuple of str
        The float dtypes the tests run a device kind in, where not all (a stand-in device).
    gpu_capable : bool
        Whether the framework can run on a GPU (a missing GPU is then worth a word).
    requires_gpu : bool
        Whether it runs only on a GPU (then selecting it fails early without one).
    compiler : str or None
        The compiler the benchmark harness times the backend with (``"jax.jit"``); None
        when the harness times it eagerly.
    lazy : bool
        Whether its arrays are computed only when asked (Dask): a read is then a compute,
        worth it for a value check but not at every step of a loop.
    thread_pool : str
        The pool of worker threads its CPU work runs on: NumPy's BLAS (``"blas"``) for
        NumPy and the frameworks that compute with it (Dask's chunks, array-api-strict),
        torch's OpenMP workers, XLA's. Idle workers spin a while after their work, taking
        cores from another pool's: the benchmark lets them stop before timing a case on
        another pool (:mod:`mlpillars.bench.measure`).
    compiles_loops : bool
        Whether :meth:`run_loop` always compiles the whole loop into one program (JAX): a
        step's array calls then cost nothing apart, and a kernel gains nothing from
        rewriting its loop into fewer, larger calls (see :func:`loops_compiled`).
    fused_kernels : dict of str to str
        Kernel name -> name of the method that is the framework's own implementation of
        it (see :meth:`fused`).
    screens_arrays : bool
        Whether some arrays it owns are of a kind the kernels cannot compute on (torch's
        sparse and nested tensors): the dispatch then asks :meth:`unsupported` of each.
    """

    name: ClassVar[str]
    module_name: ClassVar[str]
    extra: ClassVar[str]
    device_kinds: ClassVar[tuple[str, ...]] = ("cpu",)
    device_dtypes: ClassVar[dict[str, tuple[str, ...]]] = {}
    gpu_capable: ClassVar[bool] = False
    requires_gpu: ClassVar[bool] = False
    compiler: ClassVar[str | None] = None
    lazy: ClassVar[bool] = False
    thread_pool: ClassVar[str] = "blas"
    compiles_loops: ClassVar[bool] = False
    fused_kernels: ClassVar[dict[str, str]] = {}
    screens_arrays: ClassVar[bool] = False

    def __init__(self) -> None:
        self._fused_found: dict[str, Callable[..., Any] | None] = {}

    def unknown_sizes_remedy(self, label: str) -> str:
        """How a user gives ``label`` with its sizes known, for the error of a kernel
        that needs them (only lazy frameworks have arrays of unknown sizes)."""
        return f"give {label} with its sizes known"

    def unsupported(self, array: Any, label: str) -> str | None:
        """Why the kernels cannot compute on ``array`` (given as ``label``) and what to
        pass instead, or None where they can (every array, unless :attr:`screens_arrays`)."""
        return None

    # -- importing ---------------------------------------------------------------------
    def is_installed(self) -> bool:
        """Whether the framework can be imported, without importing it."""
        return importlib.util.find_spec(self.module_name.split(".")[0]) is not None

    def is_loaded(self) -> bool:
        """Whether the framework has been imported already (by anyone)."""
        return self.module_name in sys.modules

    def load(self) -> ModuleType:
        """Import the framework, or say which extra installs it."""
        # Already imported: no importlib, which torch.compile cannot trace (and a lookup is
        # cheaper than an import).
        module = sys.modules.get(self.module_name)
        if module is not None:
            return module
        try:
            return importlib.import_module(self.module_name)
        except ImportError as exc:
            raise BackendNotInstalledError(
                f"backend {self.name!r} is not installed ({exc}); install it with: "
                f'pip install "mlpillars[{self.extra}]"'
            ) from exc

    def version(self) -> str:
        """The framework's version string."""
        return str(importlib.import_module(self.module_name.split(".")[0]).__version__)

    # -- arrays and namespace ------------------------------------------------------------
    def owns(self, array: object) -> bool:
        """Whether ``array`` is an array of this framework (framework already imported)."""
        raise NotImplementedError

    def namespace(self) -> ModuleType:
        """The framework's array-API namespace (through array-api-compat)."""
        self.load()
        return aac.array_namespace(self.from_host(np.zeros(1), self.resolve_device(None)))

    # -- devices -------------------------------------------------------------------------
    def device_names(self) -> list[str]:
        """Names of the devices present on this machine (empty when none)."""
        return ["cpu"]

    def resolve_device(self, spec: str | None) -> Any:
        """Turn a device name (``None`` for the default) into a device object."""
        if spec in (None, "cpu"):
            return "cpu"
        raise unknown_device(self, spec)

    def device_of(self, array: Any) -> Any:
        """The device an array lives on."""
        return aac.device(array)

    def placement(self, array: Any) -> Any:
        """Where ``array`` is, as the dispatch compares a call's inputs: inputs whose
        placements differ (neither None) are refused. Its device by default; None where
        it agrees with any (a tracer); see JAX's for arrays on several devices."""
        return self.device_of(array)

    def is_gpu(self, device: Any) -> bool:
        """Whether ``device`` is a GPU."""
        return False

    # -- moving arrays -------------------------------------------------------------------
    def from_host(self, host: np.ndarray, device: Any) -> Any:
        """Make an array of this framework on ``device`` from a NumPy array."""
        raise NotImplementedError

    def to_host(self, array: Any) -> np.ndarray:
        """Copy (or view, where zero-copy) an array of this framework into NumPy."""
        return np.asarray(array)

    def from_dlpack(self, foreign: Any, device: Any) -> Any | None:
        """Take a foreign array through DLPack where that is zero-copy; ``None`` if not."""
        return None

    def from_foreign(self, array: Any, source: Framework, device: Any) -> Any:
        """Take an array of another framework: shared through DLPack where possible, else
        through host memory."""
        shared = self.from_dlpack(array, device)
        if shared is not None:
            return shared
        return self.from_host(np.require(source.to_host(array), requirements="C"), device)

    def to_device(self, array: Any, device: Any) -> Any:
        """Move an array of this framework onto another of its devices."""
        return aac.to_device(array, device)

    # -- waiting and evaluating ------------------------------------------------------------
    def synchronize(self, array: Any) -> None:
        """Block until the asynchronous work that produces ``array`` has finished."""

    def synchronize_all(self, arrays: list[Any]) -> None:
        """:meth:`synchronize` for several arrays of this framework, of one result (Dask
        computes them at once: work they share, such as gradient descent's fits, runs
        once)."""
        for array in arrays:
            self.synchronize(array)

    def materialize(self, *arrays: Any) -> tuple[Any, ...]:
        """Evaluate lazy arrays now, so that a loop builds on computed values."""
        return arrays

    def held_inputs(self, arrays: tuple[Any, ...], *, problems: bool = False) -> tuple[Any, ...]:
        """A call's inputs (arrays of this framework, lists of them, other values) as a
        user would hold them before calling a kernel: the benchmark harness times the call
        on these. ``problems``: the first array's leading axis holds independent problems
        (gradient descent's B). Eager frameworks: as they are; JAX and Dask: see theirs."""
        return arrays

    def is_traced(self, array: Any) -> bool:
        """Whether ``array`` has no values to read at all: a tracer under ``jax.jit`` or
        ``torch.compile``, a torch tensor on the meta device. A GPU array's values can be
        read (at the cost of a sync)."""
        return False

    def values_known(self, array: Any) -> bool:
        """Whether reading ``array``'s values now is possible and cheap.

        False for a tracer (``jax.jit``, ``torch.compile``) and where reading would force
        a device sync in the hot path (a CUDA tensor). Kernels check values (lr >= 0,
        labels in range) only where this holds; shapes and dtypes are always checked.
        """
        return True

    def values_in_reach(self, array: Any) -> bool:
        """Whether ``array``'s values can be read now at the cost of a device sync at most:
        not a tracer, and the framework not lazy (a Dask array's read is a compute)."""
        return not (self.lazy or self.is_traced(array))

    def tidied(self, array: Any) -> Any:
        """``array`` (one of this framework's, given to a kernel) in the form the
        framework's operations compute right (the same values): as it is, except where
        an operation of the framework goes wrong on a valid array (Dask: empty chunks).
        The dispatch applies it to each input of a lazy framework."""
        return array

    def reduce_max(self, array: Any, *, axis: int, keepdims: bool, xp: ModuleType) -> Any:
        """``xp.max(array, axis=axis, keepdims=keepdims)`` of an array with no axis of
        length 0, by a reduction that takes every valid array (Dask's own max fails on an
        empty chunk)."""
        return xp.max(array, axis=axis, keepdims=keepdims)

    def layer_operands(self, x: Any, weight: Any, bias: Any) -> tuple[Any, Any, Any]:
        """``(x, weight, bias)`` laid out for ``x @ weight + bias`` (see
        :func:`mlpillars.backends.layer_operands`): as they are, but on Dask."""
        return x, weight, bias

    def vecdot(self, a: Any, b: Any, *, xp: ModuleType) -> Any:
        """``xp.vecdot(a, b)`` of real arrays, over the last axis (broadcast), by the
        framework's fastest equivalent (see :func:`mlpillars.backends.vecdot`)."""
        return xp.vecdot(a, b)

    def extremes(self, array: Any, *, xp: ModuleType) -> tuple[Any, Any]:
        """The least and the greatest element of a non-empty array, as two 0-d arrays (see
        :func:`mlpillars.backends.extremes`)."""
        return xp.min(array), xp.max(array)

    def largest_magnitude(self, array: Any, *, xp: ModuleType) -> float:
        """``max |x|`` of a non-empty array whose values are known, as a Python float (NaN
        where it holds one; see :func:`mlpillars.backends.largest_magnitude`)."""
        return float(xp.max(xp.abs(array)))

    def row_major(self, array: Any) -> Any:
        """``array`` laid out row-major (C order), copied if it is not, where the framework's
        products gain from it; unchanged elsewhere (see :func:`mlpillars.backends.row_major`)."""
        return array

    def without_gradient(self, array: Any) -> Any:
        """``array``, through which the framework's automatic differentiation passes no
        gradient (see :func:`mlpillars.backends.without_gradient`): itself by default,
        for a framework without one."""
        return array

    def quiet_arithmetic(self) -> contextlib.AbstractContextManager[Any]:
        """A context in which the framework's arithmetic does not warn of overflow or
        invalid values (see :func:`mlpillars.backends.quiet_arithmetic`): none by default,
        for a framework whose arithmetic never warns (torch, JAX) or warns where no
        context of the caller's reaches (Dask, at compute time in its workers)."""
        return contextlib.nullcontext()

    def relu(self, array: Any, *, xp: ModuleType) -> Any:
        """``max(x, 0)`` elementwise, with derivative 0 at 0 where the framework
        differentiates (see :func:`mlpillars.backends.relu`): ``maximum`` by default, for
        a framework without automatic differentiation."""
        return xp.maximum(array, xp.zeros_like(array))

    def block_buffers(self) -> Any:
        """A new holder of the framework's reused buffers for one fit's blocks of gradient
        descent (see :func:`mlpillars.backends.block_buffers`), or None."""
        return None

    # -- what it can do ----------------------------------------------------------------------
    def capabilities(self, device: Any) -> Capabilities:
        """What the framework can do on ``device``."""
        raise NotImplementedError

    def fused(self, kernel_name: str) -> Callable[..., Any] | None:
        """The framework's own implementation of a kernel, or ``None``.

        The dispatch hands it to the kernel (as its ``fused`` argument), which calls it
        after its own checks with arguments it has prepared; the call each kernel makes
        is documented with the kernel (attention: ``FusedAttention`` in
        ``mlpillars.kernels._attention_fused``). It returns the result, or
        ``NotImplemented`` for arguments it cannot honour (the generic formula then runs).
        """
        found = self._fused_found.get(kernel_name, _NOT_LOOKED_UP)
        if found is _NOT_LOOKED_UP:  # once per kernel: every call dispatches through here
            method = self.fused_kernels.get(kernel_name)
            found = self._fused_found[kernel_name] = (
                None if method is None else getattr(self, method)
            )
        return found

    # -- compiling -------------------------------------------------------------------------
    def compile(self, function: Callable[..., Any]) -> Callable[..., Any]:
        """``function`` compiled by the framework's compiler (e.g. ``jax.jit``)."""
        raise NotImplementedError(f"{self.name} has no compiler")

    def trace_errors(self) -> tuple[type[BaseException], ...]:
        """Exceptions that mean a function cannot be traced by :meth:`compile`."""
        return ()

    # -- step loops (gradient descent) -------------------------------------------------------
    def run_loop(self, loop: StepLoop, state: Any, constants: Any) -> tuple[Any, Any, Any]:
        """Run ``loop`` from ``state``: up to ``loop.steps`` steps, stopping early when asked.

        The default is a plain Python loop, eager and op by op (NumPy, torch, CuPy,
        array-api-strict): after step k (from 0) it records ``loop.record(state)``, and
        with ``loop.stops_early`` it ends once ``loop.finished(state)`` holds (read with
        ``bool()``, so it needs readable values).

        Parameters
        ----------
        loop : StepLoop
            The step, what to record and when to stop (see :class:`StepLoop`).
        state : NamedTuple of arrays (None entries allowed)
            The loop state before the first step.
        constants : NamedTuple (nested NamedTuples, arrays or None)
            Arrays the steps read and never change (the problem's data).

        Returns
        -------
        state
            The state after the last step run.
        history : array, shape (steps_run + 1, ...)
            ``loop.record`` of the start and after each step, stacked along axis 0.
        steps_run : int
            Steps run: ``loop.steps``, or fewer after an early stop. (A compiled loop
            traced inside the caller's own compilation returns a 0-d integer array and a
            history of ``loop.steps + 1`` rows; see the framework's override.)
        """
        history = [loop.record(state)]
        for count in range(loop.steps):
            state = loop.step(count, state, constants)
            history.append(loop.record(state))
            if loop.stops_early and bool(loop.finished(state)):
                break
        return state, loop.xp.stack(history, axis=0), len(history) - 1

    def branch(
        self,
        predicate: Any,
        if_true: Callable[..., Any],
        if_false: Callable[..., Any],
        operands: tuple[Any, ...],
    ) -> Any:
        """``if_true(*operands)`` where the 0-d bool array ``predicate`` holds, else
        ``if_false(*operands)``.

        Both must return the same structure: (named) tuples of arrays of equal shapes and
        dtypes, None in the same places, so that a compiling framework can branch inside
        its program. ``predicate`` is read wherever it has a value, a GPU array's at the
        cost of one sync (an eager call's operands, such as a loss history cut where its
        loop stopped, may differ in shape between the branches, which only a Python ``if``
        allows), and one branch runs; a tracer (``jax.jit``, ``torch.compile``) or a lazy
        array (Dask: reading is a compute) goes to :meth:`branch_in_program`.
        """
        if self.values_in_reach(predicate):
            return if_true(*operands) if bool(predicate) else if_false(*operands)
        return self.branch_in_program(predicate, if_true, if_false, operands)

    def branch_in_program(
        self,
        predicate: Any,
        if_true: Callable[..., Any],
        if_false: Callable[..., Any],
        operands: tuple[Any, ...],
    ) -> Any:
        """:meth:`branch` where ``predicate`` cannot be read: both branches, then ``where``
        array by array (a framework with control flow in its programs overrides this)."""
        xp = self.namespace()
        chosen, other = if_true(*operands), if_false(*operands)
        return map_leaves(lambda a, b: xp.where(predicate, a, b), chosen, other)

    # -- the benchmark record ------------------------------------------------------------------
    def one_device_per_cpu(self) -> None:
        """Have one CPU device per usable CPU from now on where the framework runs a
        program on one core of a device, unless the user chose a count (JAX: see its
        own); others do nothing."""

    def full_float32_products(self) -> None:
        """Have float32 matrix products computed at full float32 precision from now on,
        unless the user chose otherwise (the harness's comparisons are then of one
        precision; a framework whose default is full precision does nothing)."""

    def settings(self) -> dict[str, Any]:
        """Settings that change results or speed (threads, precision), for the record."""
        return {"version": self.version()}

    def gpu_properties(self) -> list[dict[str, Any]] | None:
        """Name, memory and compute capability of each GPU it sees; ``None`` if it cannot
        tell."""
        return None

    def start_device_peak(self) -> Callable[[], int] | None:
        """Reset the GPU allocator's peak counter; return how to read the peak (bytes) after.

        ``None`` when the framework sees no GPU or keeps no such counter.
        """
        return None

    # -- special functions and linear algebra --------------------------------------------------
    def erf(self, array: Any) -> Any:
        """The error function, elementwise (the array API standard has none)."""
        raise NotImplementedError

    def eigh(self, matrix: Any) -> tuple[Any, Any]:
        """Eigenvalues (ascending) and eigenvectors (columns) of symmetric matrices."""
        eigenvalues, eigenvectors = self.namespace().linalg.eigh(matrix)
        return eigenvalues, eigenvectors

    def svd(self, matrix: Any) -> tuple[Any, Any, Any]:
        """Thin SVD ``U, S, Vh`` of a matrix (singular values descending)."""
        U, S, Vh = self.namespace().linalg.svd(matrix, full_matrices=False)
        return U, S, Vh

    def qr(self, matrix: Any) -> tuple[Any, Any]:
        """Reduced QR ``Q, R`` of a stack of matrices (..., m, n): Q (..., m, k), R (..., k, n)."""
        Q, R = self.namespace().linalg.qr(matrix)
        return Q, R

    def solve_triangular(self, upper: Any, rhs: Any) -> Any:
        """X with ``upper @ X = rhs``: upper (..., d, d) upper triangular, rhs (..., d, k)."""
        # The array API has no triangular solve; the general one gives the same X, only
        # without using the zeros (a framework with a triangular routine may override).
        return self.namespace().linalg.solve(upper, rhs)


def unknown_device(framework: Framework, spec: str | None) -> ValueError:
    """The error for a device the framework does not have, listing those it has."""
    valid = ", ".join(f"{framework.name}:{name}" for name in framework.device_names()) or "none"
    return ValueError(
        f"backend {framework.name!r} has no device {spec!r}; devices on this machine: {valid}"
    )


def device_index(spec: str) -> int:
    """``'cuda:1'`` -> 1, ``'cuda'`` -> 0."""
    _, _, index = spec.partition(":")
    return int(index) if index else 0
