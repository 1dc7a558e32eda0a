"""Which backend a call runs on: keyword > ``use_backend`` context > ``MLPILLARS_BACKEND``.

When none of the three is set, a kernel follows its inputs (see ``_dispatch``).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from ._errors import UnknownBackendError
from .frameworks import FRAMEWORKS, Framework

ENV_VARIABLE = "MLPILLARS_BACKEND"
EXAMPLE_SPECS = (
    "numpy, torch, torch:cpu, torch:cuda, torch:cuda:1, jax, jax:cpu, jax:gpu, "
    "cupy, cupy:0, dask, array_api_strict"
)


@dataclass(frozen=True)
class Target:
    """A backend and, optionally, one of its devices.

    Attributes
    ----------
    framework : Framework
        The registry entry of the backend.
    device : object or None
        The framework's device object; ``None`` when the spec named no device, in which
        case arrays already on this backend keep their device and others go to its default.
    spec : str
        The text the user gave, e.g. ``"torch:cuda:1"``.
    """

    framework: Framework
    device: Any
    spec: str


_context_target: ContextVar[Target | None] = ContextVar("mlpillars_backend", default=None)


def parse_backend(spec: str, *, source: str) -> Target:
    """Turn ``"name[:device]"`` into a :class:`Target`, importing the framework.

    Parameters
    ----------
    spec : str
        e.g. ``"torch"``, ``"torch:cuda:1"``, ``"jax:gpu"``, ``"cupy:0"``.
    source : str
        Where the spec came from, for error messages (``"backend="``, ``"MLPILLARS_BACKEND"``).

    Raises
    ------
    UnknownBackendError
        The name is not one of the registry's.
    BackendNotInstalledError
        The framework cannot be imported; the message names the pip extra.
    NoGPUError
        A GPU device was asked for and none was found.
    """
    name, _, device_spec = spec.strip().partition(":")
    name = name.lower().replace("-", "_")
    framework = FRAMEWORKS.get(name)
    if framework is None:
        raise UnknownBackendError(
            f"unknown backend {spec!r} (from {source}); valid names: "
            f"{', '.join(FRAMEWORKS)}, optionally with a device, e.g. {EXAMPLE_SPECS}"
        )
    framework.load()
    device = framework.resolve_device(device_spec) if device_spec else None
    if device is None and framework.requires_gpu:
        device = framework.resolve_device(None)  # fail early on a machine without a GPU
    return Target(framework=framework, device=device, spec=spec)


@contextmanager
def use_backend(spec: str) -> Iterator[Target]:
    """Run every kernel called inside the ``with`` block on ``spec``.

    The selection lives in a context variable, so it is private to the thread (and the
    asyncio task) that entered the block. A ``backend=`` keyword still wins over it.

    Parameters
    ----------
    spec : str
        A backend name with an optional device, e.g. ``"torch:cuda"`` or ``"jax:cpu"``.

    Examples
    --------
    >>> import numpy as np, mlpillars as mp
    >>> with mp.use_backend("numpy"):
    ...     mp.softmax(np.zeros(2))
    array([0.5, 0.5])
    """
    token = _context_target.set(parse_backend(spec, source="use_backend"))
    try:
        yield _context_target.get()
    finally:
        _context_target.reset(token)


def selected_target(keyword: str | None) -> Target | None:
    """The target chosen by keyword, context or environment, strongest first; else ``None``."""
    if keyword is not None:
        return parse_backend(keyword, source="backend=")
    context_target = _context_target.get()
    if context_target is not None:
        return context_target
    env_spec = os.environ.get(ENV_VARIABLE, "").strip()
    if env_spec:
        return parse_backend(env_spec, source=ENV_VARIABLE)
    return None
