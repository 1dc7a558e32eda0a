"""Several axes as one: ``axis=None`` (every axis) or a tuple of axes, as SciPy's and JAX's
softmax and logsumexp take them.

The reduced axes are moved last and merged into one (a transpose and a reshape, both known
while tracing), the one-axis kernel computes along it, and its result is given back the
input's layout: :meth:`MergedAxes.spread` for softmax's shape, :meth:`MergedAxes.reduced`
for a reduction's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..backends import device_of, framework_of
from ._checks import check_axis, is_integer, shape_text


def several_axes(axis: object) -> bool:
    """Whether ``axis`` names several axes (None or a tuple) rather than one integer."""
    return axis is None or isinstance(axis, tuple)


@dataclass(frozen=True)
class MergedAxes:
    """An array whose ``axes`` were moved last and merged into one: ``array``."""

    array: Any
    shape: tuple[int, ...]  # the input's
    axes: tuple[int, ...]  # the merged ones, in increasing order

    def spread(self, result: Any, *, xp: Any) -> Any:
        """A result of ``array``'s shape in the input's shape and axis order."""
        order = (*_kept_axes(len(self.shape), self.axes), *self.axes)
        unmerged = _reshaped(result, tuple(self.shape[i] for i in order), xp=xp)
        if order == tuple(range(len(order))):
            return unmerged
        return xp.permute_dims(unmerged, tuple(order.index(i) for i in range(len(order))))

    def reduced(self, result: Any, keepdims: bool, *, xp: Any) -> Any:
        """A reduction of ``array`` along its last axis in the input's shape without the
        merged axes, or with length 1 there when ``keepdims``."""
        if not keepdims:
            return result
        kept_shape = tuple(1 if i in self.axes else size for i, size in enumerate(self.shape))
        return _reshaped(result, kept_shape, xp=xp)


def merged_axes(kernel_name: str, x: Any, axis: tuple[Any, ...] | None, *, xp: Any) -> MergedAxes:
    """x with the axes ``axis`` names (None: all) moved last and merged into one axis.

    Raises
    ------
    TypeError
        For an entry of the tuple that is not an integer.
    ValueError
        For an axis out of range or named twice, or x of sizes not known yet (a Dask
        array after boolean indexing), which the merge's reshape needs.
    """
    shape = tuple(x.shape)
    axes = _checked_axes(kernel_name, x, axis)
    _check_known_sizes(kernel_name, x, axis)
    kept = _kept_axes(len(shape), axes)
    order = (*kept, *axes)
    moved = x if order == tuple(range(len(order))) else xp.permute_dims(x, order)
    merged_shape = (*[shape[i] for i in kept], math.prod([shape[i] for i in axes]))  # lists: dynamo
    return MergedAxes(_reshaped(moved, merged_shape, xp=xp), shape, axes)


def _check_known_sizes(kernel_name: str, x: Any, axis: tuple[Any, ...] | None) -> None:
    """Raise a ``ValueError`` where x's shape holds a size not known yet (NaN on Dask,
    None in the array API): merging several axes into one reshapes x, which needs them.
    The remedy is x's framework's (an x of sizes unknown has one: only lazy frameworks
    make such arrays)."""
    if all(size is not None and size == size for size in x.shape):
        return
    remedy = framework_of(x).unknown_sizes_remedy("x")
    raise ValueError(
        f"{kernel_name}: axis={axis!r} reduces x over several axes merged into one, which "
        f"needs x's sizes, not known yet (x: {shape_text(x)}, as after boolean indexing): "
        f"pass one integer axis, or {remedy}"
    )


def _reshaped(array: Any, shape: tuple[int, ...], *, xp: Any) -> Any:
    """``array`` in ``shape``; an empty one made anew (it holds no values), as Dask's
    reshape refuses some empty shapes ((0, 2) to (0,))."""
    if math.prod(shape) == 0:
        return zeros_like_of_shape(array, shape, xp=xp)
    return xp.reshape(array, shape)


def zeros_like_of_shape(like: Any, shape: tuple[int, ...], *, xp: Any) -> Any:
    """``xp.zeros(shape)`` in ``like``'s dtype and device. An empty shape is made flat and
    reshaped: Dask's zeros of some empty shapes ((0, 8, 17, 64)) divide by zero choosing
    their chunks."""
    if math.prod(shape) != 0:
        return xp.zeros(shape, dtype=like.dtype, device=device_of(like))
    return xp.reshape(xp.zeros((0,), dtype=like.dtype, device=device_of(like)), shape)


def _kept_axes(ndim: int, axes: tuple[int, ...]) -> tuple[int, ...]:
    return tuple(i for i in range(ndim) if i not in axes)


def _checked_axes(kernel_name: str, x: Any, axis: tuple[Any, ...] | None) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(x.ndim))
    for entry in axis:
        if not is_integer(entry):
            raise TypeError(
                f"{kernel_name}: axis must be an integer, a tuple of integers or None; got {axis!r}"
            )
    axes = tuple(check_axis(kernel_name, "x", x, entry) for entry in axis)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{kernel_name}: axis {axis!r} names an axis twice (x: {shape_text(x)})")
    return tuple(sorted(axes)) if x.ndim else ()
