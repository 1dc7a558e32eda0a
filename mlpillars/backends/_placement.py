"""Where a kernel call's arrays are, and putting them where it runs.

The dispatch (``_dispatch``) gathers a call's arrays by the slots of its signature, then
either follows them (their one framework and device; Python lists and scalars are put
there) or moves every one onto the selected backend.
"""

from __future__ import annotations

import inspect
from collections.abc import Iterator
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from ._dtypes import is_dtype
from ._movement import move_to
from ._selection import Target
from ._values import VALID, read_value, unmovable
from .frameworks import FRAMEWORKS, Framework, framework_of


@dataclass(frozen=True)
class ArraySlot:
    """Where one array parameter's value sits in a call."""

    name: str
    position: int | None  # its index in *args, when it may be passed positionally
    default: Any
    holds_list: bool


_Given = tuple[ArraySlot, "int | None", Any, "Framework | None"]


def gather_arrays(
    kernel_name: str, slots: tuple[ArraySlot, ...], args: list[Any], kwargs: dict[str, Any]
) -> list[_Given]:
    """(slot, index in its list or None, value, owning framework) of every array given.

    A default that is not None (a learning rate of 0.01) counts as given, so that it is
    put on the target backend like a passed value. None is skipped where the parameter
    may be None (its default is None), and refused with a ``TypeError`` where it is
    required (an MLP's ``weights`` entries too; ``biases`` entries may be None).
    """
    given: list[_Given] = []
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
        screen(kernel_name, _label(slot.name, index), framework, value)
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
            label = _label(slot.name, index)
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
                _put_back(slot, index, tidied, args, kwargs)
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


def _put_back(
    slot: ArraySlot, index: int | None, value: Any, args: list[Any], kwargs: dict[str, Any]
) -> None:
    in_args = slot.position is not None and slot.position < len(args)
    if index is not None:
        items = list(args[slot.position] if in_args else kwargs[slot.name])
        items[index] = value
        value = items
    if in_args:
        args[slot.position] = value
    else:
        kwargs[slot.name] = value


def place_on_inputs(
    kernel_name: str, given: list[_Given], args: list[Any], kwargs: dict[str, Any]
) -> Framework:
    """No backend selected: the inputs' one framework and device (Python lists and scalars
    alone: NumPy); Python lists and scalars are put there. Returns the framework.

    NumPy scalars (``np.float64(0.01)``, ``np.int64(2)``) beside another framework's
    arrays are Python numbers, as torch's own operators take them (a float takes the
    arrays' dtype); beside NumPy's they are NumPy's, as NumPy takes them.

    The common call (arrays of one framework, no lists) costs a loop over the inputs: the
    devices are read only when there are several arrays to compare or numbers to place.
    """
    framework = None
    arrays = numbers = 0
    for _, _, _, owner in given:
        if owner is None:
            numbers += 1
            continue
        arrays += 1
        if framework is None:
            framework = owner
        elif owner is not framework:
            if not any(_is_numpy_scalar(value) for _, _, value, _ in given):
                raise _mixed_namespaces(kernel_name, given)
            return place_on_inputs(kernel_name, _numpy_scalars_as_numbers(given), args, kwargs)
    if framework is None:
        framework = FRAMEWORKS["numpy"]
    if arrays > 1 or (numbers and arrays):
        device = _one_device(kernel_name, framework, given)
    else:
        device = "cpu" if not arrays else None
    if numbers:
        target = Target(framework=framework, device=device, spec=framework.name)
        float_dtype = _first_float_dtype(given, namespace(framework))
        _move_numbers(kernel_name, target, given, args, kwargs, float_dtype)
    return framework


def move_onto(
    kernel_name: str,
    target: Target,
    given: list[_Given],
    args: list[Any],
    kwargs: dict[str, Any],
) -> None:
    """A backend is selected: every input goes onto it (arrays first: the first floating
    one's dtype is the dtype Python floats take; NumPy scalars beside arrays are Python
    numbers, unless the backend is NumPy; alone, they keep their dtype)."""
    if target.framework is not FRAMEWORKS["numpy"] and _holds_arrays(given):
        given = _numpy_scalars_as_numbers(given)
    float_dtype = None
    xp = namespace(target.framework)
    for slot, index, value, owner in given:
        if owner is not None:
            try:
                moved = move_to(value, target)
            except _MOVE_ERRORS as error:
                label = _label(slot.name, index)
                raise unmovable(kernel_name, label, value, target.spec, error) from error
            if moved is not value:
                _put_back(slot, index, moved, args, kwargs)
            if float_dtype is None and is_dtype(moved.dtype, "real floating", xp=xp):
                float_dtype = moved.dtype
    _move_numbers(kernel_name, target, given, args, kwargs, float_dtype)


def _is_numpy_scalar(value: Any) -> bool:
    return isinstance(value, np.generic)


def _holds_arrays(given: list[_Given]) -> bool:
    """Whether any input is an array (of any framework), not a number or a NumPy scalar."""
    return any(owner is not None and not _is_numpy_scalar(value) for _, _, value, owner in given)


def _numpy_scalars_as_numbers(given: list[_Given]) -> list[_Given]:
    """``given`` with each NumPy scalar as the Python number it holds, owned by none."""
    as_numbers: list[_Given] = []
    for slot, index, value, owner in given:
        if _is_numpy_scalar(value):
            value, owner = value.item(), None
        as_numbers.append((slot, index, value, owner))
    return as_numbers


_MOVE_ERRORS = (TypeError, ValueError, RuntimeError, BufferError)
"""What a framework raises for an array it cannot take (NumPy object arrays on torch)."""


def _first_float_dtype(given: list[_Given], xp: ModuleType) -> Any:
    """The dtype of the first floating array among ``given``, arrays of ``xp``'s
    framework already (None where there is none)."""
    return next(
        (
            value.dtype
            for _, _, value, owner in given
            if owner is not None and is_dtype(value.dtype, "real floating", xp=xp)
        ),
        None,
    )


def _move_numbers(
    kernel_name: str,
    target: Target,
    given: list[_Given],
    args: list[Any],
    kwargs: dict[str, Any],
    float_dtype: Any,
) -> None:
    """Python lists and scalars (and objects NumPy reads, such as pandas DataFrames) onto
    the target; floats take ``float_dtype`` (None: the namespace's default float). What
    cannot be read as numbers raises a ``TypeError`` naming the kernel and the argument."""
    for slot, index, value, owner in given:
        if owner is None:
            label = _label(slot.name, index)
            moved = read_value(kernel_name, label, value, target, float_dtype)
            _put_back(slot, index, moved, args, kwargs)


def _one_device(kernel_name: str, framework: Framework, given: list[_Given]) -> Any:
    """The device the framework's inputs share, or raise naming each input's.

    Inputs are compared by :meth:`Framework.placement` (a JAX array sharded over two
    devices is on both). A placement that cannot be told (``None``: a JAX tracer under
    ``jit``, ``vmap`` or ``grad``, an uncommitted JAX array) agrees with any other; it
    is the transform's (or JAX's) business where that value lives. ``None`` when no
    input's device can be told.
    """
    device = placement = None
    for _, _, value, owner in given:
        if owner is not framework:
            continue
        array_placement = framework.placement(value)
        if array_placement is None:
            continue
        if placement is None:
            placement, device = array_placement, framework.device_of(value)
        elif array_placement != placement and str(array_placement) != str(placement):
            raise _mixed_devices(kernel_name, framework, given)
    return device


def _check_optional(kernel_name: str, slot: ArraySlot, index: int | None) -> None:
    """Raise unless ``slot`` (or its list's entries) may be None: its default is None."""
    if slot.default is None:
        return
    raise TypeError(
        f"{kernel_name}: {_label(slot.name, index)} is required, got None; valid: {VALID}"
    )


def _not_a_list(kernel_name: str, slot: ArraySlot, value: Any) -> TypeError:
    return TypeError(
        f"{kernel_name}: {slot.name} must be a list or tuple of arrays, got {type(value).__name__}"
    )


def _mixed_namespaces(kernel_name: str, given: list[_Given]) -> TypeError:
    owners: dict[str, str] = {}
    for slot, index, _, owner in given:
        if owner is not None and owner.name not in owners:
            owners[owner.name] = _label(slot.name, index)
    found = ", ".join(f"{fw_name} ({label})" for fw_name, label in owners.items())
    return TypeError(
        f"{kernel_name}: inputs come from different array namespaces: {found}. "
        "Convert them to one namespace, or select a backend (backend=..., "
        "mlpillars.use_backend(...) or MLPILLARS_BACKEND) and they are moved onto it."
    )


def _mixed_devices(kernel_name: str, framework: Framework, given: list[_Given]) -> ValueError:
    found = ", ".join(
        f"{_label(slot.name, index)} on {_where(framework.placement(value))}"
        for slot, index, value, owner in given
        if owner is framework
    )
    return ValueError(
        f"{kernel_name}: {framework.name} inputs are on different devices ({found}); "
        "move them to one device (beside an array on several, onto those), or select a "
        f"backend such as backend='{framework.name}:cpu'"
    )


def _where(placement: Any) -> str:
    """A placement as an error shows it: ``cpu:0``, ``cpu:0 and cpu:1`` (a JAX array on
    both), ``any device`` (None: JAX places it)."""
    if placement is None:
        return "any device"
    if isinstance(placement, tuple):
        return " and ".join(str(device) for device in placement)
    return str(placement)


NAMESPACES: dict[str, ModuleType] = {}
"""Framework name -> its array-API namespace (by name: ``torch.compile`` traces dict
lookups by strings, not by arbitrary objects)."""


def namespace(framework: Framework) -> ModuleType:
    """The framework's array-API namespace, looked up once."""
    xp = NAMESPACES.get(framework.name)
    if xp is None:
        xp = NAMESPACES[framework.name] = framework.namespace()
    return xp


def _label(name: str, index: int | None) -> str:
    return name if index is None else f"{name}[{index}]"
