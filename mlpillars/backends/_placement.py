"""Where a kernel call's arrays are, and putting them where it runs.

The dispatch (``_dispatch``) gathers a call's arrays by the slots of its signature
(:mod:`._call_arrays`), then either follows them (their one framework and device; Python
lists and scalars are put there) or moves every one onto the selected backend.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from ._call_arrays import Given, argument_label, put_back
from ._dtypes import is_dtype
from ._errors import MixedNamespacesError
from ._movement import move_to
from ._selection import Target
from ._values import read_value, unmovable
from .frameworks import FRAMEWORKS, Framework


def place_on_inputs(
    kernel_name: str, given: list[Given], args: list[Any], kwargs: dict[str, Any]
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
    given: list[Given],
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
                label = argument_label(slot.name, index)
                raise unmovable(kernel_name, label, value, target.spec, error) from error
            if moved is not value:
                put_back(slot, index, moved, args, kwargs)
            if float_dtype is None and is_dtype(moved.dtype, "real floating", xp=xp):
                float_dtype = moved.dtype
    _move_numbers(kernel_name, target, given, args, kwargs, float_dtype)


def _is_numpy_scalar(value: Any) -> bool:
    return isinstance(value, np.generic)


def _holds_arrays(given: list[Given]) -> bool:
    """Whether any input is an array (of any framework), not a number or a NumPy scalar."""
    return any(owner is not None and not _is_numpy_scalar(value) for _, _, value, owner in given)


def _numpy_scalars_as_numbers(given: list[Given]) -> list[Given]:
    """``given`` with each NumPy scalar as the Python number it holds, owned by none."""
    as_numbers: list[Given] = []
    for slot, index, value, owner in given:
        if _is_numpy_scalar(value):
            value, owner = value.item(), None
        as_numbers.append((slot, index, value, owner))
    return as_numbers


_MOVE_ERRORS = (TypeError, ValueError, RuntimeError, BufferError)
"""What a framework raises for an array it cannot take (NumPy object arrays on torch)."""


def _first_float_dtype(given: list[Given], xp: ModuleType) -> Any:
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
    given: list[Given],
    args: list[Any],
    kwargs: dict[str, Any],
    float_dtype: Any,
) -> None:
    """Python lists and scalars (and objects NumPy reads, such as pandas DataFrames) onto
    the target; floats take ``float_dtype`` (None: the namespace's default float). What
    cannot be read as numbers raises a ``TypeError`` naming the kernel and the argument."""
    for slot, index, value, owner in given:
        if owner is None:
            label = argument_label(slot.name, index)
            moved = read_value(kernel_name, label, value, target, float_dtype)
            put_back(slot, index, moved, args, kwargs)


def _one_device(kernel_name: str, framework: Framework, given: list[Given]) -> Any:
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


def _mixed_namespaces(kernel_name: str, given: list[Given]) -> MixedNamespacesError:
    owners: dict[str, str] = {}
    for slot, index, _, owner in given:
        if owner is not None and owner.name not in owners:
            owners[owner.name] = argument_label(slot.name, index)
    found = ", ".join(f"{fw_name} ({label})" for fw_name, label in owners.items())
    return MixedNamespacesError(
        f"{kernel_name}: inputs come from different array namespaces: {found}; the arrays "
        f"of {kernel_name}() must use the same namespace. Convert them to one, or select a "
        "backend (backend=..., mlpillars.use_backend(...) or MLPILLARS_BACKEND) and they "
        "are moved onto it."
    )


def _mixed_devices(kernel_name: str, framework: Framework, given: list[Given]) -> ValueError:
    found = ", ".join(
        f"{argument_label(slot.name, index)} on {_where(framework.placement(value))}"
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
