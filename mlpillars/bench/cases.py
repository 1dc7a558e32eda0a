"""Suites and the cases they hold: kernel x implementation x size x dtype.

The kernels, their sizes (and their variants' sizes) in each suite, baselines and peers
come from the benchmark catalogue (:mod:`mlpillars.bench.catalogue`); a suite only says
which dtypes, backends, loops and compiled forms to run, on which devices and how long to
time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .. import available_backends
from ..backends import FRAMEWORKS, UnknownBackendError
from . import out_of_core
from .baselines import numba_installed
from .catalogue import CATALOGUE, KernelEntry, entry_for
from .compiled import COMPILERS
from .implementations import (
    NUMBA,
    PYTHON,
    BackendImplementation,
    CompiledImplementation,
    Implementation,
    LoopBaseline,
    PeerImplementation,
)
from .out_of_core import OutOfCorePCA


@dataclass(frozen=True)
class Suite:
    """Which dtypes to run, on which devices, and how long to time each case.

    Each kernel's sizes in the suite are in its catalogue entry (``SuiteSizes``, under the
    suite's name).

    Attributes
    ----------
    name : str
    dtypes : tuple of str
    gpu : bool
        Backends on GPU devices only (the ``gpu`` suite) or on CPU devices only.
    round_seconds : float
        Target total of timed rounds per case; rounds = this / one call, clamped.
    min_rounds, max_rounds : int
    loop_limit_seconds : dict of str to float
        The pure-Python and Numba loops run only where one call is predicted (from the
        sizes that ran) to take less than this; larger sizes are reported as skipped.
    loops : tuple of str
        The loop baselines the suite runs (``"numba"``, ``"python"``).
    compiled : bool
        Whether the compiled forms of :data:`~mlpillars.bench.compiled.COMPILERS`
        (``torch.compile``) run beside the eager backends: seconds of compilation per case.
    backends : tuple of str, optional
        The backends run when none are asked for (default: every available one).
    out_of_core : int
        When > 0, the suite also fits PCA on Dask to a Zarr store of this many times the
        free RAM (:mod:`mlpillars.bench.out_of_core`; skipped, with the reason, where the
        disk has no room); 0: no such case.
    """

    name: str
    dtypes: tuple[str, ...]
    gpu: bool = False
    round_seconds: float = 0.25
    min_rounds: int = 7
    max_rounds: int = 200
    loop_limit_seconds: dict[str, float] = field(default_factory=lambda: {PYTHON: 2.0, NUMBA: 10.0})
    loops: tuple[str, ...] = (NUMBA, PYTHON)
    compiled: bool = False
    backends: tuple[str, ...] | None = None
    out_of_core: int = 0

    def sizes(self, entry: KernelEntry) -> tuple[int, ...]:
        """The sizes of the kernel's main example in this suite; empty when left out."""
        return entry.sizes.of(self.name)

    def points(self, entry: KernelEntry) -> list[Point]:
        """(size, dtype, variant) of every case of the kernel in this suite: its main
        example's sizes in the suite's dtypes, then each variant's in its own dtypes."""
        main = [Point(size, dtype) for dtype in self.dtypes for size in self.sizes(entry)]
        return main + [
            Point(size, dtype, variant.name)
            for variant in entry.variants
            for dtype in variant.dtypes or self.dtypes
            for size in variant.sizes.of(self.name)
        ]


@dataclass(frozen=True)
class Point:
    """Where a kernel is measured: the example's size, the dtype, the variant (``""``: the
    main example)."""

    size: int
    dtype: str
    variant: str = ""


SUITES: dict[str, Suite] = {
    # each kernel's smallest call: the per-call overhead over the native calls (and the
    # harness tests' suite)
    "tiny": Suite("tiny", ("float64",), round_seconds=0.02, min_rounds=10, max_rounds=30),
    "quick": Suite(
        "quick",
        ("float32",),
        round_seconds=0.1,
        min_rounds=7,  # 7 against 7 rounds is the fewest that can reach p < 0.002
        loop_limit_seconds={PYTHON: 1.0, NUMBA: 5.0},
    ),
    "full": Suite(
        "full",
        ("float32", "float64"),
        round_seconds=1.0,
        loop_limit_seconds={PYTHON: 5.0, NUMBA: 30.0},
        compiled=True,
        out_of_core=4,  # issue 12: PCA of a Zarr store of 4x the free RAM, its peak RSS
    ),
    # sized for a lent GPU machine's few minutes: a GPU call at these sizes takes
    # microseconds to milliseconds, so a 0.1 s round still holds tens to thousands of calls
    "gpu": Suite(
        "gpu",
        ("float32",),
        gpu=True,
        round_seconds=0.1,
        loop_limit_seconds={PYTHON: 0.0, NUMBA: 0.0},
        compiled=True,
    ),
    # issue 9's targets table in one run: our kernels against the native calls
    "targets": Suite(
        "targets",
        ("float32",),
        round_seconds=0.5,
        min_rounds=5,  # enough for the ratios' intervals; a gradient-descent call takes seconds
        loops=(NUMBA,),  # the pure-Python loop of 256 regressions would take minutes
        compiled=True,
        backends=("numpy", "torch", "jax"),
    ),
}
"""Every suite, by name."""


@dataclass(frozen=True)
class Case:
    """One kernel, implementation, size and dtype.

    Attributes
    ----------
    kernel : str
        The public kernel's name.
    implementation : Implementation
        What is timed; its ``name`` (``"torch:cpu"``, ``"numba"``, ``"python"``, a peer's
        name such as ``"scipy.special.softmax"``) and ``kind`` (``"backend"``,
        ``"baseline"``, ``"peer"``) go into the results.
    """

    kernel: str
    implementation: Implementation
    size: int
    dtype: str
    variant: str = ""

    @property
    def kind(self) -> str:
        return self.implementation.kind

    @property
    def id(self) -> str:
        variant = f"[{self.variant}]" if self.variant else ""
        return f"{self.kernel}{variant}-{self.implementation.name}-{self.size}-{self.dtype}"

    @property
    def group(self) -> str:
        """Cases compared in one table: one kernel, variant, size and dtype."""
        variant = f" ({self.variant})" if self.variant else ""
        return f"{self.kernel}{variant} size={self.size} {self.dtype}"

    def row_fields(self, suite_name: str) -> dict[str, Any]:
        """The fields that name the case in its results row (``cases.jsonl``)."""
        return {
            "id": self.id,
            "kernel": self.kernel,
            "implementation": self.implementation.name,
            "kind": self.kind,
            "backend": self.implementation.backend,
            "size": self.size,
            "dtype": self.dtype,
            "variant": self.variant,
            "group": self.group,
            "suite": suite_name,
        }


def plan_cases(
    suite: Suite, backends: Sequence[str] | None = None, kernels: Sequence[str] | None = None
) -> list[Case]:
    """Every case of ``suite`` this machine can run, smaller sizes first; at each size the
    implementations on one thread pool next to each other (NumPy's BLAS first), so that a
    run switches pools rarely (see ``measure.SETTLE_SECONDS``).

    Parameters
    ----------
    backends : sequence of str, optional
        Backend names (``numpy``, ``torch``, ...) to include; default the suite's, else
        every available one. The suite's loop baselines and the peers are always included.
    kernels : sequence of str, optional
        Kernel names; default every kernel the suite has sizes for.
    """
    entries = _chosen_entries(suite, kernels)
    specs = backend_specs(suite, backends or suite.backends)
    cases = [
        Case(entry.kernel, implementation, point.size, point.dtype, point.variant)
        for entry in entries
        for point in suite.points(entry)
        for implementation in by_thread_pool(implementations_of(entry, specs, suite, point.variant))
    ]
    return cases + out_of_core_cases(suite, specs, [entry.kernel for entry in entries])


def out_of_core_cases(suite: Suite, specs: Sequence[str], kernels: Sequence[str]) -> list[Case]:
    """The suite's out-of-core PCA case, where it has one and ``pca_fit`` and Dask's CPU
    device are chosen; its size is the multiple of the free RAM."""
    if not suite.out_of_core or out_of_core.KERNEL not in kernels:
        return []
    implementation = OutOfCorePCA(suite.out_of_core)
    if implementation.backend not in specs:
        return []
    return [
        Case(out_of_core.KERNEL, implementation, suite.out_of_core, "float64", out_of_core.VARIANT)
    ]


def backend_specs(suite: Suite, backends: Sequence[str] | None = None) -> list[str]:
    """``backend:device`` for every available device of the chosen backends.

    The ``gpu`` suite takes GPU devices, plus ``numpy:cpu`` as the yardstick.
    """
    unknown = [name for name in backends or () if name not in FRAMEWORKS]
    if unknown:
        raise UnknownBackendError(
            f"unknown backend(s) {', '.join(unknown)}; valid names: {', '.join(FRAMEWORKS)}"
        )
    return [
        f"{status.name}:{device}"
        for status in available_backends(backends)
        for device, capabilities in status.devices.items()
        if capabilities.gpu == suite.gpu or (suite.gpu and status.name == "numpy")
    ]


def missing_backends(suite: Suite, backends: Sequence[str]) -> dict[str, str]:
    """Each requested backend that has no device for ``suite`` here, with the reason."""
    found = {spec.partition(":")[0] for spec in backend_specs(suite, backends)}
    statuses = {status.name: status for status in available_backends(backends)}
    kind = "GPU" if suite.gpu else "CPU"
    return {
        name: statuses[name].reason or f"no {kind} device for the {suite.name} suite"
        for name in backends
        if name not in found
    }


def implementations_of(
    entry: KernelEntry, specs: Sequence[str], suite: Suite, variant: str = ""
) -> list[Implementation]:
    """The backends ``specs``, their compiled forms where the suite has them, then (on CPU
    suites) the kernel's loops (where they cover ``variant``) and installed peers."""
    chosen: list[Implementation] = [BackendImplementation(spec) for spec in specs]
    if suite.compiled:
        chosen += [
            CompiledImplementation(spec, compiler)
            for spec in specs
            for compiler in COMPILERS
            if compiler.backend == spec.partition(":")[0] and compiler.is_installed()
        ]
    if suite.gpu:
        return chosen
    if entry.loops_cover(variant):
        flavours = [f for f in suite.loops if f != NUMBA or numba_installed()]
        chosen += [LoopBaseline(flavour) for flavour in flavours]
    return chosen + [PeerImplementation(peer) for peer in entry.installed_peers()]


def by_thread_pool(implementations: list[Implementation]) -> list[Implementation]:
    """``implementations`` grouped by thread pool, NumPy's BLAS first, each group in its
    given order."""
    return sorted(
        implementations, key=lambda chosen: (chosen.thread_pool != "blas", chosen.thread_pool)
    )


def _chosen_entries(suite: Suite, kernels: Sequence[str] | None) -> list[KernelEntry]:
    if not kernels:
        return [entry for entry in CATALOGUE.values() if suite.points(entry)]
    entries = [entry_for(name) for name in kernels]
    missing = [entry.kernel for entry in entries if not suite.points(entry)]
    if missing:
        raise ValueError(f"suite {suite.name!r} has no sizes for {', '.join(missing)}")
    return entries
