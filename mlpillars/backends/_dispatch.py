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
from typing import Any, TypeVar

from ._call_arrays import ArraySlot, check_known_sizes, gather_arrays, screen, tidied_inputs
from ._placement import move_onto, namespace, place_on_inputs
from ._registry import KERNELS
from ._selection import backend_spec_error, selected_target
from .frameworks import Framework, framework_of

KernelFunction = TypeVar("KernelFunction", bound=Callable[..., Any])


_INJECTED = ("xp", "fused")
"""Parameters of a generic implementation that the dispatch fills in, not the caller."""

_INJECTED_BY_KERNEL: list[dict[Framework, dict[str, Any]]] = []
"""Each kernel's ``xp`` and ``fused`` per framework, looked up at its first call there."""


def forget_injected() -> None:
    """Look ``xp`` and ``fused`` up again at every kernel's next call: for a test that
    replaces a framework's ``fused`` (:func:`mlpillars.testing.recorded_fused_calls`)."""
    for injected in _INJECTED_BY_KERNEL:
        injected.clear()


def kernel(
    *,
    arrays: tuple[str, ...],
    array_lists: tuple[str, ...] = (),
    register: bool = True,
    name: str | None = None,
    known_sizes: bool = False,
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
    known_sizes : bool
        The kernel needs every array's sizes (it counts samples, compares two arguments'
        shapes, or calls a function that needs them): a lazy array whose sizes are not
        known yet (Dask after boolean indexing) is refused with a ``ValueError`` naming
        it, instead of failing inside the formula. Kernels that work slice by slice leave
        it False and take such arrays.

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

        injected: dict[Framework, dict[str, Any]] = {}  # per framework, made once
        _INJECTED_BY_KERNEL.append(injected)

        def run(framework: Framework, args: Any, kwargs: dict[str, Any]) -> Any:
            if framework.lazy:
                if known_sizes:
                    check_known_sizes(kernel_name, slots, framework, args, kwargs)
                args = tidied_inputs(slots, framework, args, kwargs)
            # a caller's own fused= or xp= is refused, as a TypeError (repeated keyword)
            found = injected.get(framework)
            if found is None:
                found = injected[framework] = _injected(framework, kernel_name, offers_fused)
            return generic(*args, **found, **kwargs)

        @functools.wraps(generic)
        def public(*args: Any, backend: str | None = None, **kwargs: Any) -> Any:
            if backend is not None and type(backend) is not str:
                raise TypeError(f"{kernel_name}: {backend_spec_error(backend, 'backend=')}")
            selected = selected_target(backend)
            if selected is None and lone_position is not None and len(args) > lone_position:
                framework = framework_of(args[lone_position])
                if framework is not None:  # one array, nothing selected: nothing to move
                    if framework.screens_arrays:
                        screen(kernel_name, slots[0].name, framework, args[lone_position])
                    return run(framework, args, kwargs)
            args_list = list(args)
            given = gather_arrays(kernel_name, slots, args_list, kwargs)
            if selected is None:
                framework = place_on_inputs(kernel_name, given, args_list, kwargs)
            else:
                framework = selected.framework
                move_onto(kernel_name, selected, given, args_list, kwargs)
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


def _injected(framework: Framework, kernel_name: str, offers_fused: bool) -> dict[str, Any]:
    """What the dispatch passes a generic implementation on ``framework``: its namespace
    as ``xp`` and, where the implementation takes one, its own ``fused`` implementation.
    Made once per kernel and framework (one lookup a call, where two lookups and a call
    cost 0.4 us of an 8 x 16 softmax's 11)."""
    xp = namespace(framework)
    return {"xp": xp, "fused": framework.fused(kernel_name)} if offers_fused else {"xp": xp}


def _array_slots_of(
    signature: inspect.Signature, array_names: tuple[str, ...], list_names: tuple[str, ...]
) -> tuple[ArraySlot, ...]:
    positional_kinds = (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )
    names = list(signature.parameters)
    slots = []
    for name in (*array_names, *list_names):
        parameter = signature.parameters[name]
        position = names.index(name) if parameter.kind in positional_kinds else None
        slots.append(ArraySlot(name, position, parameter.default, name in list_names))
    return tuple(slots)


def _lone_position(slots: tuple[ArraySlot, ...]) -> int | None:
    """The position of a kernel's one array parameter, when it has one and it may be
    passed positionally (then a call that passes an array there needs no gathering)."""
    if len(slots) == 1 and not slots[0].holds_list:
        return slots[0].position
    return None
