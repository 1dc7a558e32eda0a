"""The registry of public kernels, in a module that imports nothing.

The dispatch (:mod:`._dispatch`) fills it; a framework module that runs a kernel on each
block of its own arrays (Dask's blockwise attention) reads it, without an import cycle.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

KERNELS: dict[str, Callable[..., Any]] = {}
"""Every public kernel, by name, in the order they were defined."""

STATIC_FIELDS: dict[type, tuple[str, ...]] = {}
"""Result named tuples with fields that are not arrays (a count, a solver's name): the
class and the names of those fields, in order. A framework whose transforms carry results
as trees of arrays (JAX's pytrees under ``jax.jit`` and ``jax.vmap``) keeps them as static
data. A result whose fields are all arrays needs no entry: a named tuple is a tree."""


def static_fields(*names: str) -> Callable[[type], type]:
    """Class decorator: record the named tuple's non-array fields in :data:`STATIC_FIELDS`.

    The static fields must come last, after every array field.
    """

    def register(result_type: type) -> type:
        fields: tuple[str, ...] = result_type._fields  # type: ignore[attr-defined]
        if fields[len(fields) - len(names) :] != names:
            raise TypeError(f"{result_type.__name__}: static fields {names} must come last")
        STATIC_FIELDS[result_type] = names
        return result_type

    return register
