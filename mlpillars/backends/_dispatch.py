"""The one wrapper every public kernel goes through.

``@kernel(arrays=("x",))`` turns ``softmax(x, /, axis=-1, *, temperature=1.0, xp)`` (the
formula in ``xp.*`` calls) into the public ``softmax(x, axis=-1, *, temperature=1.0,
backend=None)``. On each call it

1. picks the target: ``backend=`` > ``use_backend`` > ``MLPILLARS_BACKEND`` > the inputs;
2. moves the inputs onto it, or refuses inputs from two namespaces with a TypeError;
3. takes the target's array-API namespace;
4. runs a fast path registered for (kernel, backend) if one accepts the arguments, else
   the generic implementation.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

from ._frameworks import FRAMEWORKS, Framework, framework_of
from ._movement import move_to
from ._selection import Target, selected_target

KernelFunction = TypeVar("KernelFunction", bound=Callable[..., Any])

KERNELS: dict[str, Callable[..., Any]] = {}
"""Every public kernel, by name, in the order they were defined."""

_FAST_PATHS: dict[tuple[str, str], Callable[..., Any]] = {}


def kernel(
    *, arrays: tuple[str, ...], array_lists: tuple[str, ...] = ()
) -> Callable[[KernelFunction], KernelFunction]:
    """Make a generic array-API implementation into a public, dispatching kernel.

    Parameters
    ----------
    arrays : tuple of str
        Names of the parameters that hold arrays (``None`` values are skipped).
    array_lists : tuple of str
        Names of the parameters that hold sequences of arrays (e.g. an MLP's weights).

    Returns
    -------
    callable
        A decorator. The public function has the generic one's signature without ``xp``
        and with a keyword-only ``backend=None``; the generic one stays reachable as
        ``public.generic`` (tests compare fast paths with it).
    """

    def decorate(generic: KernelFunction) -> KernelFunction:
        name = generic.__name__
        signature = inspect.signature(generic)
        call_signature = signature.replace(
            parameters=[p for p in signature.parameters.values() if p.name != "xp"]
        )
        backend_parameter = inspect.Parameter(
            "backend", inspect.Parameter.KEYWORD_ONLY, default=None, annotation="str | None"
        )

        @functools.wraps(generic)
        def public(*args: Any, backend: str | None = None, **kwargs: Any) -> Any:
            bound = call_signature.bind(*args, **kwargs)
            bound.apply_defaults()
            target = _place_inputs(name, bound.arguments, arrays, array_lists, backend)
            xp = target.framework.namespace()
            fast_path = _FAST_PATHS.get((name, target.framework.name))
            if fast_path is not None:
                result = fast_path(*bound.args, xp=xp, **bound.kwargs)
                if result is not NotImplemented:
                    return result
            return generic(*bound.args, xp=xp, **bound.kwargs)

        public_parameters = [*call_signature.parameters.values()]
        var_keyword = [p for p in public_parameters if p.kind is inspect.Parameter.VAR_KEYWORD]
        public_parameters = [p for p in public_parameters if p not in var_keyword]
        public.__signature__ = call_signature.replace(  # type: ignore[attr-defined]
            parameters=[*public_parameters, backend_parameter, *var_keyword]
        )
        public.generic = generic  # type: ignore[attr-defined]
        KERNELS[name] = public
        return public  # type: ignore[return-value]

    return decorate


def register_fast_path(
    kernel_name: str, backend_name: str
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a backend's own implementation of a kernel.

    The function takes the kernel's arguments plus ``xp`` and returns the result, or
    ``NotImplemented`` when it cannot honour those arguments (the generic path then runs).
    """
    if backend_name not in FRAMEWORKS:
        raise ValueError(f"register_fast_path: unknown backend {backend_name!r}")

    def decorate(fast_path: Callable[..., Any]) -> Callable[..., Any]:
        _FAST_PATHS[(kernel_name, backend_name)] = fast_path
        return fast_path

    return decorate


def fast_path_for(kernel_name: str, backend_name: str) -> Callable[..., Any] | None:
    """The fast path registered for (kernel, backend), or ``None``."""
    return _FAST_PATHS.get((kernel_name, backend_name))


def _place_inputs(
    kernel_name: str,
    arguments: dict[str, Any],
    array_names: tuple[str, ...],
    list_names: tuple[str, ...],
    backend: str | None,
) -> Target:
    """Choose the target and move every array argument onto it, in place in ``arguments``."""
    slots = list(_array_slots(arguments, array_names, list_names))
    target = selected_target(backend) or _target_of_inputs(kernel_name, slots)
    for name, index, value in slots:
        moved = move_to(value, target)
        if index is None:
            arguments[name] = moved
        else:
            arguments[name] = [*arguments[name][:index], moved, *arguments[name][index + 1 :]]
    return target


def _array_slots(
    arguments: dict[str, Any], array_names: tuple[str, ...], list_names: tuple[str, ...]
) -> Iterator[tuple[str, int | None, Any]]:
    """(parameter name, index in its list or None, value) for every array argument given."""
    for name in array_names:
        if arguments.get(name) is not None:
            yield name, None, arguments[name]
    for name in list_names:
        for index, value in enumerate(arguments.get(name) or ()):
            if value is not None:
                yield name, index, value


def _target_of_inputs(kernel_name: str, slots: list[tuple[str, int | None, Any]]) -> Target:
    """Follow the inputs: their one namespace and device (Python lists and scalars: NumPy)."""
    owners: dict[str, tuple[Framework, str]] = {}
    for name, index, value in slots:
        framework = framework_of(value)
        if framework is not None and framework.name not in owners:
            owners[framework.name] = (framework, _label(name, index))
    if len(owners) > 1:
        found = ", ".join(f"{fw_name} ({label})" for fw_name, (_, label) in owners.items())
        raise TypeError(
            f"{kernel_name}: inputs come from different array namespaces: {found}. "
            "Convert them to one namespace, or select a backend (backend=..., "
            "mlpillars.use_backend(...) or MLPILLARS_BACKEND) and they are moved onto it."
        )
    if not owners:
        return Target(framework=FRAMEWORKS["numpy"], device="cpu", spec="numpy")
    framework, _ = next(iter(owners.values()))
    devices = {
        _label(name, index): framework.device_of(value)
        for name, index, value in slots
        if framework_of(value) is framework
    }
    distinct = {str(device) for device in devices.values()}
    if len(distinct) > 1:
        found = ", ".join(f"{label} on {device}" for label, device in devices.items())
        raise ValueError(
            f"{kernel_name}: {framework.name} inputs are on different devices ({found}); "
            "move them to one device, or select a backend such as "
            f"backend='{framework.name}:cpu'"
        )
    return Target(framework=framework, device=next(iter(devices.values())), spec=framework.name)


def _label(name: str, index: int | None) -> str:
    return name if index is None else f"{name}[{index}]"
