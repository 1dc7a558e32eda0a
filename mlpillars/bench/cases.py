"""Suites and the cases they hold: kernel x implementation x size x dtype.

The kernels come from the public API (``mlpillars.KERNELS``) and their example inputs from
``mlpillars.examples``; a suite only says which sizes and dtypes to run and how long to time.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Sequence
from dataclasses import dataclass, field

from .. import KERNELS, available_backends
from ..backends import FRAMEWORKS, UnknownBackendError
from ..examples import EXAMPLES
from .implementations import NUMBA, PYTHON
from .peers import peers_for

_SOFTMAX_FAMILY = ("softmax", "log_softmax", "logsumexp", "sigmoid", "normalize")


@dataclass(frozen=True)
class Suite:
    """Which sizes and dtypes to run, and how long to time each case.

    Attributes
    ----------
    sizes : dict of str to tuple of int
        The size argument of ``mlpillars.examples`` builders, per kernel, ascending.
    dtypes : tuple of str
    gpu : bool
        Backends on GPU devices only (the ``gpu`` suite) or on CPU devices only.
    round_seconds : float
        Target total of timed rounds per case; rounds = this / one call, clamped.
    min_rounds, max_rounds : int
    loop_limit_seconds : dict of str to float
        The pure-Python and Numba loops run only where one call is predicted (from the
        sizes that ran) to take less than this; larger sizes are reported as skipped.
    """

    name: str
    sizes: dict[str, tuple[int, ...]]
    dtypes: tuple[str, ...]
    gpu: bool = False
    round_seconds: float = 0.25
    min_rounds: int = 7
    max_rounds: int = 200
    loop_limit_seconds: dict[str, float] = field(default_factory=lambda: {PYTHON: 2.0, NUMBA: 10.0})


def _sizes(matrix: tuple[int, ...], elementwise: tuple[int, ...], **others: tuple[int, ...]):
    sizes = {"linear": matrix, "mlp": matrix, "cosine_similarity": matrix}
    sizes |= {name: elementwise for name in _SOFTMAX_FAMILY}
    return sizes | others


SUITES: dict[str, Suite] = {
    "tiny": Suite(
        "tiny",
        {"softmax": (16, 32), "linear": (8, 16)},
        ("float32",),
        round_seconds=0.02,
        min_rounds=10,
        max_rounds=30,
    ),
    "quick": Suite(
        "quick",
        _sizes(
            (32, 64, 256),
            (64, 256, 1024),
            cross_entropy=(256, 4096, 65536),
            scaled_dot_product_attention=(32, 64, 256),
            gradient_descent=(64, 256, 1024),
            pca=(250, 1000, 10000),
        ),
        ("float32",),
        round_seconds=0.1,
        min_rounds=7,  # 7 against 7 rounds is the fewest that can reach p < 0.002
        loop_limit_seconds={PYTHON: 1.0, NUMBA: 5.0},
    ),
    "full": Suite(
        "full",
        _sizes(
            (32, 64, 128, 256, 1024, 4096),
            (64, 256, 1024, 4096),
            cross_entropy=(256, 4096, 65536, 1048576),
            scaled_dot_product_attention=(32, 64, 256, 1024, 4096, 16384),
            gradient_descent=(64, 256, 1024, 16384, 131072),
            pca=(250, 1000, 10000, 100000, 1000000),
        ),
        ("float32", "float64"),
        round_seconds=1.0,
        loop_limit_seconds={PYTHON: 5.0, NUMBA: 30.0},
    ),
    "gpu": Suite(
        "gpu",
        _sizes(
            (256, 1024, 4096, 8192),
            (1024, 4096, 16384),
            cross_entropy=(65536, 1048576, 16777216),
            scaled_dot_product_attention=(1024, 4096, 16384),
            gradient_descent=(1024, 16384, 131072),
            pca=(10000, 100000, 1000000),
        ),
        ("float32",),
        gpu=True,
        round_seconds=0.5,
        loop_limit_seconds={PYTHON: 0.0, NUMBA: 0.0},
    ),
}
"""Every suite, by name."""


@dataclass(frozen=True)
class Case:
    """One kernel, implementation, size and dtype.

    Attributes
    ----------
    implementation : str
        A backend spec with device (``"torch:cpu"``), ``"numba"``, ``"python"``, or a peer's
        name (``"scipy.special.softmax"``).
    kind : str
        ``"backend"``, ``"baseline"`` or ``"peer"``.
    """

    kernel: str
    implementation: str
    kind: str
    size: int
    dtype: str

    @property
    def id(self) -> str:
        return f"{self.kernel}-{self.implementation}-{self.size}-{self.dtype}"

    @property
    def group(self) -> str:
        """Cases compared in one table: one kernel, size and dtype."""
        return f"{self.kernel} size={self.size} {self.dtype}"


def plan_cases(
    suite: Suite, backends: Sequence[str] | None = None, kernels: Sequence[str] | None = None
) -> list[Case]:
    """Every case of ``suite`` this machine can run, smaller sizes first.

    Parameters
    ----------
    backends : sequence of str, optional
        Backend names (``numpy``, ``torch``, ...) to include; default every available one.
        The Numba and Python baselines and the peers are always included.
    kernels : sequence of str, optional
        Kernel names; default every kernel the suite has sizes for.
    """
    chosen_kernels = _checked_kernels(suite, kernels)
    specs = backend_specs(suite, backends)
    return [
        Case(kernel, implementation, kind, size, dtype)
        for kernel in chosen_kernels
        for dtype in suite.dtypes
        for size in suite.sizes[kernel]
        for implementation, kind in _implementations(kernel, specs, suite)
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
        for status in available_backends()
        if backends is None or status.name in backends
        for device, capabilities in status.devices.items()
        if capabilities.gpu == suite.gpu or (suite.gpu and status.name == "numpy")
    ]


def _checked_kernels(suite: Suite, kernels: Sequence[str] | None) -> list[str]:
    chosen = list(kernels) if kernels else [name for name in suite.sizes if name in KERNELS]
    unknown = [name for name in chosen if name not in KERNELS or name not in EXAMPLES]
    if unknown:
        raise ValueError(f"unknown kernel(s) {', '.join(unknown)}; valid: {', '.join(KERNELS)}")
    missing = [name for name in chosen if name not in suite.sizes]
    if missing:
        raise ValueError(f"suite {suite.name!r} has no sizes for {', '.join(missing)}")
    return chosen


def _implementations(kernel: str, specs: list[str], suite: Suite) -> list[tuple[str, str]]:
    from .baselines import BASELINES

    chosen = [(spec, "backend") for spec in specs]
    if kernel in BASELINES and not suite.gpu:
        if importlib.util.find_spec("numba") is not None:
            chosen.append((NUMBA, "baseline"))
        chosen.append((PYTHON, "baseline"))
    if not suite.gpu:
        chosen += [(peer.name, "peer") for peer in peers_for(kernel)]
    return chosen
