"""Dtype tests at the cost of a dict lookup, for the dispatch and the kernels' checks.

``xp.isdtype`` costs about a microsecond on NumPy and the dtype's name (``"float16"``)
more; a kernel asks the same few questions of the same few dtypes on every call. Each
answer is computed once per namespace, dtype and question, then remembered. The answers
are facts about dtypes, so they are as valid under ``jax.jit`` and ``torch.compile`` as
eagerly.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

from ..tolerances import dtype_name

HALF_PRECISION = ("float16", "bfloat16")
"""Dtypes whose reductions and exponentials the kernels compute in float32."""

KINDS = (
    "bool",
    "signed integer",
    "unsigned integer",
    "integral",
    "real floating",
    "complex floating",
    "numeric",
)
"""The array API's dtype kinds (``xp.isdtype``)."""

_kinds_of: dict[str, dict[Any, frozenset[str]]] = {}
"""namespace name -> dtype -> every kind the dtype is of (``"half"`` for float16 and
bfloat16).

Per namespace, since dtypes of two namespaces may compare with an error (an
array-api-strict dtype against a NumPy one raises) and hash alike; by name, since
``torch.compile`` cannot trace a module as a dict key."""


def is_dtype(dtype: Any, kind: str, *, xp: ModuleType) -> bool:
    """``xp.isdtype(dtype, kind)``, remembered.

    Parameters
    ----------
    dtype : dtype
        A dtype of the namespace ``xp``.
    kind : str
        One of :data:`KINDS`, or ``"half"`` for float16 and bfloat16.
    xp : module
        The array-API namespace the dtype belongs to.
    """
    dtypes = _kinds_of.get(xp.__name__)
    if dtypes is None:
        dtypes = _kinds_of[xp.__name__] = {}
    kinds = dtypes.get(dtype)
    if kinds is None:
        kinds = dtypes[dtype] = _kinds(dtype, xp)
    return kind in kinds


def _kinds(dtype: Any, xp: ModuleType) -> frozenset[str]:
    kinds = {kind for kind in KINDS if xp.isdtype(dtype, kind)}
    if dtype_name(dtype) in HALF_PRECISION:
        kinds.add("half")
    return frozenset(kinds)
