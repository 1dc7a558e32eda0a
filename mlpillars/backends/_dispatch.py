"""The one wrapper every public kernel goes through.

``@kernel(arrays=("x",))`` turns ``softmax(x, /, axis=-1, *, temperature=1.0, xp)`` (the
formula in ``xp.*`` calls) into the public ``softmax(x, axis=-1, *, temperature=1.0,
backend=None)``. On each call it

1. picks the target: ``backend=`` > ``use_backend`` > ``MLPILLARS_BACKEND`` > the inputs;
2. moves the inputs onto it, or refuses inputs from two namespaces with a TypeError;
3. takes the target's array-API namespace;
4. calls the generic implementation with that namespace as ``xp`` and, when it takes a
   ``fused`` parameter, the target framework's own implementation of the kernel
   (:meth:`Framework.fused`, ``None`` where it has none) as ``fused``. The kernel checks
   and prepares its arguments first, then offers them to ``fused``; so a framework's
   implementation never repeats the kernel's checks, and the kernels name no framework.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from types import ModuleType
from typing import Any, TypeVar

from ._dtypes import is_dtype
from ._movement import move_to
from ._selection import Target, selected_target
from .frameworks import FRAMEWORKS, Framework, framework_of

KernelFunction = TypeVar("KernelFunction", bound=Callable[..., Any])

KERNELS: dict[str, Callable[..., Any]] = {}
"""Every public kernel, by name, in the order they were defined."""

_INJECTED = ("xp", "fused")
"""Parameters of a generic implementation that the dispatch fills in, not the caller."""


def kernel(
    *,
    arrays: tuple[str, ...],
    array_lists: tuple[str, ...] = (),
    register: bool = True,
    name: str | None = None,
) -> Callable[[KernelFunction], KernelFunction]:
    """Make a generic array-API implementation into a public, dispatching kernel.

    Parameters
    ----------
    arrays : tuple of str
        Names of the parameters that hold arrays (``None`` values are skipped).
    array_lists : tuple of str
        Names of the parameters that hold sequences of arrays (e.g. an MLP's weights).
    register : bool
        List the kernel in ``KERNELS`` (the public list that suites and docs come from);
        False for a private helper that only needs the dispatch (e.g. ``PCA.transform``'s).
    name : str, optional
        The name errors give; default the function's own (a private helper's is not the
        one its user called).

    Returns
    -------
    callable
        A decorator. The public function has the generic one's signature without ``xp``
        and ``fused`` and with a keyword-only ``backend=None``; the generic one stays
        reachable as ``public.generic``: called without ``fused`` it is the kernel's own
        formula alone (tests compare frameworks' implementations with it).
    """

    def decorate(generic: KernelFunction) -> KernelFunction:
        kernel_name = name or generic.__name__
        signature = inspect.signature(generic)
        call_signature = signature.replace(
            parameters=[p for p in signature.parameters.values() if p.name not in _INJECTED]
        )
        offers_fused = "fused" in signature.parameters
        backend_parameter = inspect.Parameter(
            "backend", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None"
        )

        slots = _array_slots_of(signature, arrays, array_lists)
        lone_position = _lone_position(slots)

        def run(framework: Framework, args: Any, kwargs: dict[str, Any]) -> Any:
            xp = _NAMESPACES.get(framework.name) or _namespace(framework)
            if offers_fused:  # a caller's own fused= or xp= is refused, as a TypeError
                return generic(*args, xp=xp, fused=framework.fused(kernel_name), **kwargs)
            return generic(*args, xp=xp, **kwargs)

        @functools.wraps(generic)
        def public(*args: Any, backend: str | None = None, **kwargs: Any) -> Any:
            selected = selected_target(backend)
            if selected is None and lone_position is not None and len(args) > lone_position:
                framework = framework_of(args[lone_position])
                if framework is not None:  # one array, nothing selected: nothing to move
                    return run(framework, args, kwargs)
            args_list = list(args)
            given = _gather_arrays(slots, args_list, kwargs)
            if selected is None:
                framework = _place_on_inputs(kernel_name, given, args_list, kwargs)
            else:
                framework = selected.framework
                _move_onto(selected, given, args_list, kwargs)
            return run(framework, args_list, kwargs)

        public_parameters = [*call_signature.parameters.values()]
        var_keyword = [p for p in public_parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
        public_parameters = [p for p in public_parameters if p not in var_keyword]
        public.__signature__ = call_signature.replace(  # type: ignore[attr-defined]
            parameters=[*public_parameters, backend_parameter, *var_keyword]
        )
        public.generic = generic  # type: ignore[attr-defined]
        if register:
            KERNELS[kernel_name] = public
        return public  # type: ignore[return-value]

    return decorate


@dataclass(frozen=True)
class _ArraySlot:
    """Where one array parameter's value sits in a call."""

    name: str
    position: int | None  # its index in *args, when it may be passed positionally
    default: Any
    holds_list: bool


_Given = tuple[_ArraySlot, "int | None", Any, "Framework | None"]


def _array_slots_of(
    signature: inspect.Signature, array_names: tuple[str, ...], list_names: tuple[str, ...]
) -> tuple[_ArraySlot, ...]:
    positional_kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )
    names = list(signature.parameters)
    slots = []
    for name in (*array_names, *list_names):
        parameter = signature.parameters[name]
        position = names.index(name) if parameter.kind in positional_kinds else None
        slots.append(_ArraySlot(name, position, parameter.default, name in list_names))
    return tuple(slots)


def _lone_position(slots: tuple[_ArraySlot, ...]) -> int | None:
    """The position of a kernel's one array parameter, when it has one and it may be
    passed positionally (then a call that passes an array there needs no gathering)."""
    if len(slots) == 1 and not slots[0].holds_list:
        return slots[0].position
    return None


def _gather_arrays(
    slots: tuple[_ArraySlot, ...], args: list[Any], kwargs: dict[str, Any]
) -> list[_Given]:
    """(slot, index in its list or None, value, owning framework) of every array given.

    A default that is not None (a learning rate of 0.01) counts as given, so that it is
    put on the target backend like a passed value.
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
            continue
        if slot.holds_list:
            given += [
                (slot, i, item, framework_of(item))
                for i, item in enumerate(value)
                if item is not None
            ]
        else:
            given.append((slot, None, value, framework_of(value)))
    return given


def _put_back(
    slot: _ArraySlot, index: int | None, value: Any, args: list[Any], kwargs: dict[str, Any]
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


def _place_on_inputs(
    kernel_name: str, given: list[_Given], args: list[Any], kwargs: dict[str, Any]
) -> Framework:
    """No backend selected: the inputs' one framework and device (Python lists and scalars
    alone: NumPy); Python lists and scalars are put there. Returns the framework.

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
            raise _mixed_namespaces(kernel_name, given)
    if framework is None:
        framework = FRAMEWORKS["numpy"]
    if arrays > 1 or (numbers and arrays):
        device = _one_device(kernel_name, framework, given)
    else:
        device = "cpu" if not arrays else None
    if numbers:
        target = Target(framework=framework, device=device, spec=framework.name)
        _move_numbers(target, given, args, kwargs)
    return framework


def _move_onto(
    target: Target, given: list[_Given], args: list[Any], kwargs: dict[str, Any]
) -> None:
    """A backend is selected: every input goes onto it (arrays first: the first floating
    one's dtype is the dtype Python floats take)."""
    float_dtype = None
    xp = _namespace(target.framework)
    for slot, index, value, owner in given:
        if owner is not None:
            moved = move_to(value, target)
            if moved is not value:
                _put_back(slot, index, moved, args, kwargs)
            if float_dtype is None and is_dtype(moved.dtype, "real floating", xp=xp):
                float_dtype = moved.dtype
    _move_numbers(target, given, args, kwargs, float_dtype)


def _move_numbers(
    target: Target,
    given: list[_Given],
    args: list[Any],
    kwargs: dict[str, Any],
    float_dtype: Any = None,
) -> None:
    """Python lists and scalars onto the target; floats take ``float_dtype`` (default: the
    first floating array input's dtype, else the namespace's default float)."""
    if float_dtype is None:
        xp = _namespace(target.framework)
        float_dtype = next(
            (
                value.dtype
                for _, _, value, owner in given
                if owner is not None and is_dtype(value.dtype, "real floating", xp=xp)
            ),
            None,
        )
    for slot, index, value, owner in given:
        if owner is None:
            _put_back(slot, index, move_to(value, target, float_dtype=float_dtype), args, kwargs)


def _one_device(kernel_name: str, framework: Framework, given: list[_Given]) -> Any:
    """The device the framework's inputs share, or raise naming each input's.

    A device that cannot be told (``None``: a JAX tracer under ``jit``, ``vmap`` or
    ``grad``) agrees with any other; it is the transform's business where the traced
    value lives. ``None`` when no input's device can be told.
    """
    device = None
    for _, _, value, owner in given:
        if owner is not framework:
            continue
        array_device = framework.device_of(value)
        if array_device is None:
            continue
        if device is None:
            device = array_device
        elif array_device != device and str(array_device) != str(device):
            raise _mixed_devices(kernel_name, framework, given)
    return device


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
        f"{_label(slot.name, index)} on {framework.device_of(value)}"
        for slot, index, value, owner in given
        if owner is framework
    )
    return ValueError(
        f"{kernel_name}: {framework.name} inputs are on different devices ({found}); "
        "move them to one device, or select a backend such as "
        f"backend='{framework.name}:cpu'"
    )


_NAMESPACES: dict[str, ModuleType] = {}
"""Framework name -> its array-API namespace (by name: ``torch.compile`` traces dict
lookups by strings, not by arbitrary objects)."""


def _namespace(framework: Framework) -> ModuleType:
    """The framework's array-API namespace, looked up once."""
    xp = _NAMESPACES.get(framework.name)
    if xp is None:
        xp = _NAMESPACES[framework.name] = framework.namespace()
    return xp


def _label(name: str, index: int | None) -> str:
    return name if index is None else f"{name}[{index}]"
