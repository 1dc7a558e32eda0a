"""The trees the backends walk: a step loop's state and constants, a branch's results.

A tree is an array (or any leaf), ``None``, or a (named) tuple of trees. JAX has its own
pytrees; these helpers are for the frameworks that do not (NumPy's groups, torch's
``while_loop`` carry, the both-branches select).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def leaves(tree: Any) -> list[Any]:
    """The non-None leaves of a tree, in order."""
    if isinstance(tree, tuple):
        return [leaf for item in tree for leaf in leaves(item)]
    return [] if tree is None else [tree]


def map_leaves(function: Callable[..., Any], tree: Any, *others: Any) -> Any:
    """``function(leaf, *leaves at the same place in others)`` at every leaf of ``tree``,
    in a tree of ``tree``'s structure (its tuple types kept); ``None`` entries stay None."""
    if tree is None:
        return None
    if isinstance(tree, tuple):
        parts = zip(tree, *others, strict=True)
        mapped = (map_leaves(function, *part) for part in parts)
        return type(tree)(*mapped) if hasattr(tree, "_fields") else tuple(mapped)
    return function(tree, *others)
