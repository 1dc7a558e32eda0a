"""One kernel's entry in the benchmark catalogue, and the sizes several kernels share."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

from ...examples import KernelCall, cast_call
from ..baselines import Baseline
from ..peers import Peer
from ..work import Work

SEED = 20261125
"""Every benchmark input comes from a generator of this seed: the same inputs each run."""


@dataclass(frozen=True)
class SuiteSizes:
    """The size arguments of a kernel's example builder in each suite, ascending.

    An empty tuple leaves the kernel out of that suite. Every kernel is in the quick suite;
    ``tiny`` holds each kernel's smallest call (per-call overhead against the native calls),
    ``targets`` the sizes of issue 9's targets table (variants only, so far).
    """

    quick: tuple[int, ...]
    full: tuple[int, ...]
    gpu: tuple[int, ...]
    tiny: tuple[int, ...] = ()
    targets: tuple[int, ...] = ()

    def of(self, suite: str) -> tuple[int, ...]:
        """The sizes for the suite called ``suite``."""
        if suite not in self.suite_names():
            raise KeyError(f"no sizes for suite {suite!r}; known: {', '.join(self.suite_names())}")
        return getattr(self, suite)

    @classmethod
    def suite_names(cls) -> tuple[str, ...]:
        return tuple(field.name for field in fields(cls))


MATRIX_SIZES = SuiteSizes(
    quick=(32, 64, 256),
    full=(32, 64, 128, 256, 1024, 4096),
    gpu=(256, 1024, 4096, 8192),
    tiny=(8,),
)
"""Square (n, n) problems: linear, mlp, cosine similarity."""

ELEMENTWISE_SIZES = SuiteSizes(
    quick=(64, 256, 1024), full=(64, 256, 1024, 4096), gpu=(1024, 4096, 16384), tiny=(16,)
)
"""One pass over an (n, n) or (n, 64) array: the softmax family, sigmoid, normalize."""


@dataclass(frozen=True)
class Variant:
    """Another example of a kernel: other shapes or options than its main example.

    A case is (kernel, variant, size, dtype); the main example is the variant ``""``.

    Attributes
    ----------
    name : str
        e.g. ``"relu, 256 rows"``: the row's ``variant`` field and part of the case id.
    example : callable
        ``example(rng, size) -> KernelCall``, float64 NumPy inputs as the main example's.
    sizes : SuiteSizes
        Its sizes in each suite (empty: not in that suite).
    dtypes : tuple of str
        The dtypes it runs in whatever the suite's (a target states its dtype); empty: the
        suite's.
    loops : bool
        Whether the kernel's loop baselines run on it: they cover it (they have a
        supported subset) and they are worth their time there.
    """

    name: str
    example: Callable[[np.random.Generator, int], KernelCall]
    sizes: SuiteSizes
    dtypes: tuple[str, ...] = ()
    loops: bool = True


def whole_result(result: Any) -> Any:
    """The kernel's result as it is: every array in it is compared."""
    return result


def no_problems(call: KernelCall) -> bool:
    """The call's inputs hold no axis of independent problems."""
    return False


@dataclass(frozen=True)
class KernelEntry:
    """Everything the benchmark knows about one public kernel.

    Attributes
    ----------
    kernel : str
        The public kernel's name (a key of ``mlpillars.KERNELS``).
    example : callable
        ``example(rng, size) -> KernelCall``: float64 NumPy inputs (a builder of
        :mod:`mlpillars.examples`).
    sizes : SuiteSizes
        The ``size`` argument of ``example`` in each suite.
    work : callable
        ``work(call, itemsize) -> Work``: the FLOPs and bytes of one call (a model of
        :mod:`mlpillars.bench.work`).
    baseline : Baseline or None
        The pure-Python and Numba loops, where they exist.
    peers : tuple of Peer
        What a user would otherwise call.
    main_output : callable
        Result -> the part of it that implementations are compared on (arrays, or a tuple
        of arrays); baselines and peers return exactly that part.
    variants : tuple of Variant
        Other examples (the targets' shapes, options and dtypes), each with its own sizes.
    holds_problems : callable
        ``holds_problems(call) -> bool``: whether the call's first input's leading axis
        holds independent problems (gradient descent's B), which a backend's held inputs
        may spread over its devices (``Framework.held_inputs``).
    """

    kernel: str
    example: Callable[[np.random.Generator, int], KernelCall]
    sizes: SuiteSizes
    work: Callable[[KernelCall, int], Work]
    baseline: Baseline | None = None
    peers: tuple[Peer, ...] = ()
    main_output: Callable[[Any], Any] = whole_result
    variants: tuple[Variant, ...] = ()
    holds_problems: Callable[[KernelCall], bool] = no_problems

    @property
    def function(self) -> Callable[..., Any]:
        """The public kernel, looked up when used (so that a test can stand in for it)."""
        from ... import KERNELS

        return KERNELS[self.kernel]

    def example_call(self, size: int, dtype: str, variant: str = "") -> KernelCall:
        """The example's (or ``variant``'s) inputs at ``size`` cast to ``dtype``, the same
        on every call."""
        example = self.variant(variant).example if variant else self.example
        return cast_call(example(np.random.default_rng(SEED), size), dtype)

    def variant(self, name: str) -> Variant:
        """The variant called ``name``.

        Raises
        ------
        KeyError
            For a name that is not one of this kernel's variants.
        """
        for variant in self.variants:
            if variant.name == name:
                return variant
        raise KeyError(f"{self.kernel} has no variant {name!r}")

    def loops_cover(self, variant: str) -> bool:
        """Whether the loop baselines exist and cover ``variant`` (``""``: the main example)."""
        return self.baseline is not None and (not variant or self.variant(variant).loops)

    def work_of(self, call: KernelCall, dtype: str) -> Work:
        """The work of one call with ``call``'s arrays in ``dtype``."""
        return self.work(call, np.dtype(dtype).itemsize)

    def installed_peers(self) -> list[Peer]:
        """The peers whose library is installed here."""
        return [peer for peer in self.peers if peer.is_installed()]
