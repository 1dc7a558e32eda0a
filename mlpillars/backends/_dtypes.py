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

from ..tolerances import TOLERANCES, dtype_name

HALF_PRECISION = ("float16", "bfloat16")
"""Dtypes whose reductions and exponentials the kernels compute in float32."""

COMPUTED_FLOATING = tuple(TOLERANCES)
"""The floating dtypes the kernels compute in: those of the tolerance table."""

KINDS = (
    "bool",
    "signed integer",
    "unsigned integer",
    "integral",
    "real floating",
    "complex floating",
    "numeric",
)
"""The array API's dtype kinds (``xp.isdtype``). "real floating" here means one of
:data:`COMPUTED_FLOATING`; a namespace's other floating dtypes are of the kind
"byte-swapped" (one of those in the other byte order, as NumPy reads big-endian files)
or "uncomputed floating" (NumPy's longdouble, JAX's float8 types)."""

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
        One of :data:`KINDS`; ``"half"`` for float16 and bfloat16; ``"byte-swapped"`` or
        ``"uncomputed floating"`` (see :data:`KINDS`).
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
    name = dtype_name(dtype)
    if "real floating" in kinds and name not in COMPUTED_FLOATING:
        kinds.remove("real floating")
        swapped = getattr(dtype, "isnative", True) is False
        computed = swapped and dtype_name(xp.result_type(dtype)) in COMPUTED_FLOATING
        kinds.add("byte-swapped" if computed else "uncomputed floating")
    if name in HALF_PRECISION:
        kinds.add("half")
    return frozenset(kinds)
