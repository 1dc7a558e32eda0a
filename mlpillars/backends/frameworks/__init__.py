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


_OWNER_BY_TYPE: dict[type, Framework | None] = {}


def framework_of(array: object) -> Framework | None:
    """The framework that owns ``array``; ``None`` for Python lists and scalars.

    Looked up once per array type (as einops does); only frameworks already imported are
    asked, since an array of a framework cannot exist before the framework is imported.
    """
    array_type = type(array)
    if array_type not in _OWNER_BY_TYPE:
        _OWNER_BY_TYPE[array_type] = next(
            (fw for fw in FRAMEWORKS.values() if fw.is_loaded() and fw.owns(array)), None
        )
    return _OWNER_BY_TYPE[array_type]


__all__ = ["FRAMEWORKS", "Framework", "framework_of"]
