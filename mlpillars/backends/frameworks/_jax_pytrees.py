"""Results with static fields as JAX pytrees, so that ``jax.jit`` and ``jax.vmap`` return
them whole: the array fields are the tree's leaves, the rest (a count, a solver's name) its
static data (see :data:`mlpillars.backends._registry.STATIC_FIELDS`)."""

from __future__ import annotations

from types import ModuleType
from typing import Any

from .._registry import STATIC_FIELDS

_REGISTERED: set[type] = set()


def register_results(jax: ModuleType) -> None:
    """Register every result class of :data:`STATIC_FIELDS` not registered yet."""
    for result_type, static in STATIC_FIELDS.items():
        if result_type not in _REGISTERED:
            _register(jax, result_type, len(result_type._fields) - len(static))  # type: ignore[attr-defined]
            _REGISTERED.add(result_type)


def _register(jax: ModuleType, result_type: type, n_arrays: int) -> None:
    def flatten(result: Any) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
        return tuple(result[:n_arrays]), tuple(result[n_arrays:])

    def unflatten(static: tuple[Any, ...], arrays: Any) -> Any:
        return result_type(*arrays, *static)

    jax.tree_util.register_pytree_node(result_type, flatten, unflatten)
