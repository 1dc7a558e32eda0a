"""The registry of public kernels, in a module that imports nothing.

The dispatch (:mod:`._dispatch`) fills it; a framework module that runs a kernel on each
block of its own arrays (Dask's blockwise attention) reads it, without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

KERNELS: dict[str, Callable[..., Any]] = {}
"""Every public kernel, by name, in the order they were defined."""
