"""A kernel call's arrays, found by the slots of its signature.

The dispatch (``_dispatch``) gathers them (each with the framework that owns it, screened
for what the kernels cannot compute on), checks a lazy framework's for sizes not known yet
and tidies them (:meth:`Framework.tidied`), and puts a changed value back in the call's
arguments; where they go, :mod:`._placement` decides.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ._values import VALID
from .frameworks import Framework, framework_of


@dataclass(frozen=True)
class ArraySlot:
    """Where one array parameter's value sits in a call."""

    name: str
    position: int | None  # its index in *args, when it may be passed positionally
    default: Any
    holds_list: bool


Given = tuple[ArraySlot, "int | None", Any, "Framework | None"]


def gather_arrays(
    kernel_name: str, slots: tuple[ArraySlot, ...], args: list[Any], kwargs: dict[str, Any]
) -> list[Given]:
    """(slot, index in its list or None, value, owning framework) of every array given.

    A default that is not None (a learning rate of 0.01) counts as given, so that it is
    put on the target backend like a passed value. None is skipped where the parameter
    may be None (its default is None), and refused with a ``TypeError`` where it is
    required (an MLP's ``weights`` entries too; ``biases`` entries may be None).
    """
    given: list[Given] = []
    n_args = len(args)
    for slot in slots:
        position = slot.position
        if position is not None and position < n_args:
            value = args[position]
        elif slot.name in kwargs:
            value = kwargs[slot.name]
        elif slot.default is not None and slot.default is not inspect.Parameter.empty:
            value = kwargs[slot.name] = slot.default
        else:
            continue
        if value is None:
            _check_optional(kernel_name, slot, None)
            continue
        if slot.holds_list:
            if not isinstance(value, (list, tuple)):
                raise _not_a_list(kernel_name, slot, value)
            for i, item in enumerate(value):
                if item is None:
                    _check_optional(kernel_name, slot, i)
                else:
                    given.append((slot, i, item, _owner(kernel_name, slot, i, item)))
        else:
            given.append((slot, None, value, _owner(kernel_name, slot, None, value)))
    return given


def _owner(kernel_name: str, slot: ArraySlot, index: int | None, value: Any) -> Any:
    """The framework that owns ``value`` (None for a number or list), after
    :func:`screen`."""
    framework = framework_of(value)
    if framework is not None and framework.screens_arrays:
        screen(kernel_name, argument_label(slot.name, index), framework, value)
    return framework


def screen(kernel_name: str, label: str, framework: Framework, array: Any) -> None:
    """Raise a ``TypeError`` naming the kernel and ``label`` where ``framework`` says
    the kernels cannot compute on ``array`` (a sparse torch tensor), and what to pass."""
    reason = framework.unsupported(array, label)
    if reason is not None:
        raise TypeError(f"{kernel_name}: {label} is {reason}")


def check_known_sizes(
    kernel_name: str,
    slots: tuple[ArraySlot, ...],
    framework: Framework,
    args: list[Any],
    kwargs: dict[str, Any],
) -> None:
    """Raise a ``ValueError`` naming the first of the call's arrays (of ``framework``)
    whose shape holds a size not known yet (NaN on Dask, None in the array API)."""
    for slot, index, array in _given_arrays(slots, args, kwargs):
        shape = tuple(getattr(array, "shape", ()))
        if framework_of(array) is framework and any(size is None or size != size for size in shape):
            label = argument_label(slot.name, index)
            raise ValueError(
                f"{kernel_name}: {label} has sizes not known yet (shape {shape}, as after "
                f"boolean indexing), which {kernel_name} needs: "
                f"{framework.unknown_sizes_remedy(label)}"
            )


def tidied_inputs(
    slots: tuple[ArraySlot, ...], framework: Framework, args: Any, kwargs: dict[str, Any]
) -> list[Any]:
    """The call's positional arguments with each array of ``framework`` in the form its
    operations compute right (:meth:`Framework.tidied`: a Dask array without empty
    chunks), before the kernel's first operation on it; ``kwargs`` are updated in place."""
    args = list(args)
    for slot, index, array in list(_given_arrays(slots, args, kwargs)):
        if framework.owns(array):
            tidied = framework.tidied(array)
            if tidied is not array:
                put_back(slot, index, tidied, args, kwargs)
    return args


def _given_arrays(
    slots: tuple[ArraySlot, ...], args: Any, kwargs: dict[str, Any]
) -> Iterator[tuple[ArraySlot, int | None, Any]]:
    """(slot, index in its list or None, value) of each value given in the call, None
    values left out."""
    for slot in slots:
        in_args = slot.position is not None and slot.position < len(args)
        value = args[slot.position] if in_args else kwargs.get(slot.name)
        listed = slot.holds_list and isinstance(value, (list, tuple))
        for index, item in enumerate(value) if listed else [(None, value)]:
            if item is not None:
                yield slot, index, item


def put_back(
    slot: ArraySlot, index: int | None, value: Any, args: list[Any], kwargs: dict[str, Any]
) -> None:
    """Put ``value`` in the call's arguments where ``slot`` (its list's entry ``index``)
    held the value it replaces."""
    in_args = slot.position is not None and slot.position < len(args)
    if index is not None:
        items = list(args[slot.position] if in_args else kwargs[slot.name])
        items[index] = value
        value = items
    if in_args:
        args[slot.position] = value
    else:
        kwargs[slot.name] = value


def _check_optional(kernel_name: str, slot: ArraySlot, index: int | None) -> None:
    """Raise unless ``slot`` (or its list's entries) may be None: its default is None."""
    if slot.default is None:
        return
    raise TypeError(
        f"{kernel_name}: {argument_label(slot.name, index)} is required, got None; valid: {VALID}"
    )


def _not_a_list(kernel_name: str, slot: ArraySlot, value: Any) -> TypeError:
    return TypeError(
        f"{kernel_name}: {slot.name} must be a list or tuple of arrays, got {type(value).__name__}"
    )


def argument_label(name: str, index: int | None) -> str:
    """How errors name an argument: ``x``, or ``weights[1]`` for an entry of a list."""
    return name if index is None else f"{name}[{index}]"
