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
from typing import Any, TypeVar

from ._movement import move_to
from ._registry import KERNELS
from ._selection import Target, selected_target
from .frameworks import FRAMEWORKS, Framework, framework_of

KernelFunction = TypeVar("KernelFunction", bound=Callable[..., Any])


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

        @functools.wraps(generic)
        def public(*args: Any, backend: str | None = None, **kwargs: Any) -> Any:
            args_list = list(args)
            given = _gather_arrays(slots, args_list, kwargs)
            selected = selected_target(backend)
            target = selected or _target_of_inputs(kernel_name, given)
            float_dtype = None
            for slot, index, value, owner in given:  # arrays first: their dtype is the floats'
                if owner is not None:
                    moved = move_to(value, target) if selected is not None else value
                    _put_back(slot, index, moved, args_list, kwargs)
                    float_dtype = float_dtype or _floating_dtype(moved, target)
            for slot, index, value, owner in given:
                if owner is None:
                    moved = move_to(value, target, float_dtype=float_dtype)
                    _put_back(slot, index, moved, args_list, kwargs)
            xp = target.framework.namespace()
            if offers_fused:
                fused = target.framework.fused(kernel_name)
                return generic(*args_list, xp=xp, fused=fused, **kwargs)
            return generic(*args_list, xp=xp, **kwargs)

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


def _gather_arrays(
    slots: tuple[_ArraySlot, ...], args: list[Any], kwargs: dict[str, Any]
) -> list[_Given]:
    """(slot, index in its list or None, value, owning framework) of every array given.

    A default that is not None (a learning rate of 0.01) counts as given, so that it is
    put on the target backend like a passed value.
    """
    given: list[_Given] = []
    for slot in slots:
        if slot.position is not None and slot.position < len(args):
            value = args[slot.position]
        elif slot.name in kwargs:
            value = kwargs[slot.name]
        elif slot.default is not None and slot.default is not inspect.Parameter.empty:
            value = kwargs[slot.name] = slot.default
        else:
            continue
        if slot.holds_list:
            given += [(slot, i, item, framework_of(item)) for i, item in enumerate(value or ())]
        elif value is not None:
            given.append((slot, None, value, framework_of(value)))
    return [entry for entry in given if entry[2] is not None]


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


def _target_of_inputs(kernel_name: str, given: list[_Given]) -> Target:
    """Follow the inputs: their one namespace and device (Python lists and scalars: NumPy)."""
    owners: dict[str, str] = {}
    for slot, index, _, owner in given:
        if owner is not None and owner.name not in owners:
            owners[owner.name] = _label(slot.name, index)
    if len(owners) > 1:
        found = ", ".join(f"{fw_name} ({label})" for fw_name, label in owners.items())
        raise TypeError(
            f"{kernel_name}: inputs come from different array namespaces: {found}. "
            "Convert them to one namespace, or select a backend (backend=..., "
            "mlpillars.use_backend(...) or MLPILLARS_BACKEND) and they are moved onto it."
        )
    if not owners:
        return Target(framework=FRAMEWORKS["numpy"], device="cpu", spec="numpy")
    framework = FRAMEWORKS[next(iter(owners))]
    devices = {
        _label(slot.name, index): framework.device_of(value)
        for slot, index, value, owner in given
        if owner is framework
    }
    if len({str(device) for device in devices.values()}) > 1:
        found = ", ".join(f"{label} on {device}" for label, device in devices.items())
        raise ValueError(
            f"{kernel_name}: {framework.name} inputs are on different devices ({found}); "
            "move them to one device, or select a backend such as "
            f"backend='{framework.name}:cpu'"
        )
    return Target(framework=framework, device=next(iter(devices.values())), spec=framework.name)


def _floating_dtype(array: Any, target: Target) -> Any:
    """The array's dtype when it is a real floating one, else None."""
    xp = target.framework.namespace()
    return array.dtype if xp.isdtype(array.dtype, "real floating") else None


def _label(name: str, index: int | None) -> str:
    return name if index is None else f"{name}[{index}]"
