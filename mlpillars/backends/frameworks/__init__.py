"""One module per framework, each the only place that names its framework.

A new backend is one new module here, with a :class:`~.base.Framework` subclass, plus one
line in :data:`FRAMEWORKS`. Importing this package imports no framework: each class
imports its framework the first time it is used.
"""

from __future__ import annotations

from .array_api_strict import ArrayApiStrictFramework
from .base import Framework
from .cupy import CuPyFramework
from .dask import DaskFramework
from .jax import JaxFramework
from .numpy import NumPyFramework
from .torch import TorchFramework

FRAMEWORKS: dict[str, Framework] = {
    framework.name: framework
    for framework in (
        NumPyFramework(),
        TorchFramework(),
        JaxFramework(),
        CuPyFramework(),
        DaskFramework(),
        ArrayApiStrictFramework(),
    )
}
"""Every backend mlpillars knows, by the name users type."""


def full_float32_products() -> None:
    """Every framework's float32 matrix products at full precision from now on, unless
    the user chose otherwise (:meth:`Framework.full_float32_products`): the benchmark's
    backends then compute at one precision, as its correctness gate asks."""
    for framework in FRAMEWORKS.values():
        framework.full_float32_products()


def one_device_per_cpu() -> None:
    """Every framework's CPU devices one per usable CPU from now on where it runs a program
    on one core of a device, unless the user chose a count
    (:meth:`Framework.one_device_per_cpu`): the benchmark's backends then use the cores
    NumPy's do."""
    for framework in FRAMEWORKS.values():
        framework.one_device_per_cpu()


_OWNER_BY_TYPE: dict[type, Framework | None] = {
    python_type: None for python_type in (bool, int, float, complex, list, tuple, type(None))
}
"""Array type -> its framework; Python's own types are known up front, so that a first
list inside ``torch.compile`` is not put to every framework's test (dynamo cannot trace
them all)."""


def framework_of(array: object) -> Framework | None:
    """The framework that owns ``array``; ``None`` for Python lists and scalars.

    Looked up once per array type (as einops does); only frameworks already imported are
    asked, since an array of a framework cannot exist before the framework is imported.
    """
    owner = _OWNER_BY_TYPE.get(type(array), _NOT_SEEN)
    if owner is _NOT_SEEN:
        owner = _OWNER_BY_TYPE[type(array)] = next(
            (fw for fw in FRAMEWORKS.values() if fw.is_loaded() and fw.owns(array)), None
        )
    return owner  # type: ignore[return-value]


_NOT_SEEN = object()


__all__ = [
    "FRAMEWORKS",
    "Framework",
    "framework_of",
    "full_float32_products",
    "one_device_per_cpu",
]
