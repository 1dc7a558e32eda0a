"""Which backend a call runs on: keyword > ``use_backend`` context > ``MLPILLARS_BACKEND``.

When none of the three is set, a kernel follows its inputs (see ``_dispatch``).
"""

from __future__ import annotations

import os
import threading
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

_active_contexts = 0
"""How many ``use_backend`` blocks are open, in all threads together: while none is, the
context variable is not read. ``torch.compile`` cannot trace ``ContextVar.get``, so a
kernel compiled outside every block never touches it (and the call saves a lookup)."""
_count_lock = threading.Lock()

_ENVIRONMENT = getattr(os.environ, "_data", None)
"""``os.environ``'s own dict of encoded names and values (CPython): every write through
``os.environ`` (and pytest's ``monkeypatch.setenv``) updates it, and reading it costs a
dict lookup instead of ``os.environ.get``'s microsecond of decoding. ``None`` where the
interpreter has no such dict; then ``os.environ.get`` is read."""

_ENCODED_NAME = os.environ.encodekey(ENV_VARIABLE) if _ENVIRONMENT is not None else None

_parsed_keywords: dict[str, Target] = {}
"""Targets of the ``backend=`` specs seen so far."""

_parsed_environment: tuple[object, Target | None] = (None, None)
"""The last value of ``MLPILLARS_BACKEND`` seen (raw, as stored) and its target."""


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
        The name is not one of the registry's, or the framework has no such device.
    BackendNotInstalledError
        The framework cannot be imported; the message names the pip extra.
    NoGPUError
        A GPU device was asked for and none was found.
    TypeError
        ``spec`` is not a string.
    """
    if not isinstance(spec, str):
        raise TypeError(backend_spec_error(spec, source))
    name, _, device_spec = spec.strip().partition(":")
    name = name.lower().replace("-", "_")
    framework = FRAMEWORKS.get(name)
    if framework is None:
        raise UnknownBackendError(
            f"unknown backend {spec!r} (from {source}); valid names: "
            f"{', '.join(FRAMEWORKS)}, optionally with a device, e.g. {EXAMPLE_SPECS}"
        )
    framework.load()
    try:
        device = framework.resolve_device(device_spec) if device_spec else None
    except ValueError as exc:  # a device the framework does not have, or a bad index
        raise UnknownBackendError(f"{exc} (from {source})") from exc
    if device is None and framework.requires_gpu:
        device = framework.resolve_device(None)  # fail early on a machine without a GPU
    return Target(framework=framework, device=device, spec=spec)


def backend_spec_error(spec: object, source: str) -> str:
    """What is wrong with a backend spec that is not a string."""
    return (
        f"the backend (from {source}) must be a string such as 'numpy', 'torch' or "
        f"'jax:cpu', got {type(spec).__name__} {spec!r}; valid names: {', '.join(FRAMEWORKS)}"
    )


@contextmanager
def use_backend(spec: str) -> Iterator[Target]:
    """Run every kernel called inside the ``with`` block on ``spec``.

    The selection lives in a context variable, so it is private to the thread (and the
    asyncio task) that entered the block. A ``backend=`` keyword still wins over it.
    ``torch.compile`` cannot read a context variable: compile a kernel outside every
    block, or select with ``backend=`` or ``MLPILLARS_BACKEND`` (both traceable).

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
    global _active_contexts
    token = _context_target.set(parse_backend(spec, source="use_backend"))
    with _count_lock:
        _active_contexts += 1
    try:
        yield _context_target.get()
    finally:
        with _count_lock:
            _active_contexts -= 1
        _context_target.reset(token)


def selected_target(keyword: str | None) -> Target | None:
    """The target chosen by keyword, context or environment, strongest first; else ``None``."""
    if keyword is not None:
        return _keyword_target(keyword)
    if _active_contexts:
        context_target = _context_target.get()
        if context_target is not None:
            return context_target
    if _ENVIRONMENT is not None and _ENCODED_NAME not in _ENVIRONMENT:
        return None  # the common call: one lookup, no further call
    return _environment_target()


def _keyword_target(spec: str) -> Target:
    """``backend=spec``, parsed once per spec (a spec that fails to parse raises each time)."""
    target = _parsed_keywords.get(spec)
    if target is None:
        target = _parsed_keywords[spec] = parse_backend(spec, source="backend=")
    return target


def _environment_target() -> Target | None:
    """The target ``MLPILLARS_BACKEND`` names, parsed once per value it takes; else None."""
    global _parsed_environment
    raw = _ENVIRONMENT.get(_ENCODED_NAME) if _ENVIRONMENT is not None else _environment_text()
    if raw is None:
        return None
    last_raw, last_target = _parsed_environment
    if raw == last_raw:
        return last_target
    env_spec = (_environment_text() or "").strip()
    target = parse_backend(env_spec, source=ENV_VARIABLE) if env_spec else None
    _parsed_environment = (raw, target)  # kept only once parsed: a bad value raises each call
    return target


def _environment_text() -> str | None:
    return os.environ.get(ENV_VARIABLE)
