"""Moving arrays between backends and devices, and waiting for asynchronous work."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

import array_api_compat as aac
import numpy as np

from ._selection import Target, parse_backend
from .frameworks import framework_of

if TYPE_CHECKING:
    from .frameworks.base import Framework


def move_to(array: Any, target: Target, *, float_dtype: Any = None) -> Any:
    """Put ``array`` (an array of any backend, or a Python list or scalar) onto ``target``.

    Arrays already on the target backend and device are returned as they are. Between
    backends, DLPack is used where it shares memory (NumPy -> torch CPU, torch CUDA <-> CuPy);
    otherwise the data goes through host memory. Python floats become ``float_dtype`` when
    given (the dtype of the call's array inputs), else the namespace's default float.
    """
    framework = target.framework
    source = framework_of(array)
    if source is framework:
        if target.device is None or framework.device_of(array) == target.device:
            return array
        return framework.to_device(array, target.device)
    if source is None:  # a Python list or scalar
        dtype = float_dtype if float_dtype is not None and _holds_floats(array) else None
        # no device known (none named, or the inputs are traced): the namespace's default,
        # which on JAX is uncommitted: inside jax.jit of arrays on another device, a
        # number committed to the first device made the trace fail ("incompatible devices")
        return framework.namespace().asarray(array, dtype=dtype, device=target.device)
    device = target.device if target.device is not None else framework.resolve_device(None)
    return framework.from_foreign(array, source, device)


def device_of(array: Any) -> Any:
    """The device to make new arrays on beside ``array`` (``device=`` of ``xp.zeros`` and
    the like): its device, or None where no one device fits arrays of every shape (a JAX
    array sharded or replicated over several devices: JAX then places the new arrays; a
    tracer). Kernels call this, not ``array_api_compat.device``, whose answer for such a
    JAX array is its sharding, which a new array of another shape cannot take."""
    framework = framework_of(array)
    return aac.device(array) if framework is None else framework.device_of(array)


def _holds_floats(value: Any) -> bool:
    """Whether a Python scalar or (nested) list holds floats, told by the types alone,
    which ``torch.compile`` can trace (it cannot trace NumPy's ``dtype.kind``)."""
    if isinstance(value, (bool, int)):
        return False
    if isinstance(value, float):
        return True
    if isinstance(value, (list, tuple)):
        return any(_holds_floats(item) for item in value)
    return np.asarray(value).dtype.kind == "f"  # anything else NumPy reads


def to_backend(array: Any, spec: str) -> Any:
    """Move an array onto a backend and device named like ``MLPILLARS_BACKEND``.

    Parameters
    ----------
    array : array_like
        An array of any supported backend, or a Python list or scalar.
    spec : str
        e.g. ``"numpy"``, ``"torch:cuda"``, ``"jax:cpu"``.

    Returns
    -------
    array
        The same values as an array of that backend, on that device.
    """
    return move_to(array, parse_backend(spec, source="to_backend"))


def ready(result: Any) -> Any:
    """Wait until every array in ``result`` has been computed; return ``result``.

    Walks tuples, lists, dicts and dataclasses. Calls the owning backend's own wait:
    ``torch.cuda.synchronize``, JAX's ``block_until_ready``, CuPy's stream synchronize,
    Dask's ``compute`` (of all its arrays in the result at once, so that tasks they share
    run once). NumPy and array-api-strict compute eagerly and need none.
    """
    arrays = _arrays_in(result)
    if len(arrays) == 1:  # the common result, one array: no grouping (0.5 us a call)
        framework = framework_of(arrays[0])
        if framework is not None:
            framework.synchronize(arrays[0])
        return result
    by_framework: dict[str, tuple[Framework, list[Any]]] = {}
    for array in arrays:
        framework = framework_of(array)
        if framework is not None:
            by_framework.setdefault(framework.name, (framework, []))[1].append(array)
    for framework, arrays in by_framework.values():
        framework.synchronize_all(arrays)
    return result


def host_arrays(result: Any) -> list[np.ndarray]:
    """Every array and number in ``result`` as NumPy, in order (tuples, lists, dicts and
    dataclasses are walked; text and None are left out)."""
    host = []
    for leaf in _arrays_in(result):
        framework = framework_of(leaf)
        if framework is not None:
            host.append(np.asarray(framework.to_host(leaf)))
        elif isinstance(leaf, (int, float, complex)):
            host.append(np.asarray(leaf))
    return host


def _arrays_in(value: Any) -> list[Any]:
    if isinstance(value, (tuple, list)):
        return [array for item in value for array in _arrays_in(item)]
    if isinstance(value, dict):
        return [array for item in value.values() for array in _arrays_in(item)]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _arrays_in([getattr(value, field.name) for field in dataclasses.fields(value)])
    return [value]


def materialize(*arrays: Any) -> Any:
    """Evaluate lazy arrays now and return them (Dask: ``persist``; eager backends: as is).

    Iterative kernels (gradient descent) call this on their state each step, so a lazy
    backend's task graph does not grow with the number of steps. Several arrays are
    evaluated together, sharing the work they have in common.

    Returns
    -------
    array or tuple of arrays
        One array for one argument, else a tuple in the same order.
    """
    framework = next((fw for a in arrays if (fw := framework_of(a)) is not None), None)
    evaluated = arrays if framework is None else framework.materialize(*arrays)
    return evaluated[0] if len(arrays) == 1 else tuple(evaluated)


def values_known(*arrays: Any) -> bool:
    """Whether every array's values can be read now, cheaply (not a tracer, no GPU sync).

    Kernels check values (lr >= 0, labels in range, finite inputs) only where this
    holds, so that they work inside ``jax.jit`` and ``torch.compile`` and do not stall a
    GPU stream; see :meth:`Framework.values_known`. Python scalars and lists: True.
    """
    for array in arrays:
        framework = framework_of(array)
        if framework is not None and not framework.values_known(array):
            return False
    return True


def values_at_hand(*arrays: Any) -> bool:
    """Whether every array's values can be read now for free: :func:`values_known`, and
    not lazy (a Dask array's read is a compute). For reads a loop would make at every
    step, which on Dask would be a round trip to the scheduler each."""
    for array in arrays:
        framework = framework_of(array)
        if framework is not None and (framework.lazy or not framework.values_known(array)):
            return False
    return True


def values_in_reach(*arrays: Any) -> bool:
    """Whether every array's values can be read now at the cost of a device sync at most:
    none is a tracer, none is lazy (a Dask array's read is a compute). For a read that
    makes an eager call's result the same on a GPU as on the host (a history cut where
    its loop stopped, a branch whose two results differ in shape). Python scalars: True."""
    for array in arrays:
        framework = framework_of(array)
        if framework is not None and not framework.values_in_reach(array):
            return False
    return True


def values_readable(*arrays: Any) -> bool:
    """Whether every array's values can be read at all (none is a tracer of ``jax.jit`` or
    ``torch.compile``), if need be at the cost of a GPU sync: for a kernel whose result's
    shape depends on values. Python scalars and lists: True."""
    for array in arrays:
        framework = framework_of(array)
        if framework is not None and framework.is_traced(array):
            return False
    return True
