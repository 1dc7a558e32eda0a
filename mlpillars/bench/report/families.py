"""Which family a case row belongs to: our backends, the loops or a peer library; which
framework computed it; on a CPU or a GPU. Read from the row alone, defensively: a row
written before a field existed is placed by its implementation's name.
"""

from __future__ import annotations

import re
from typing import Any

from ..run_folder import BACKEND, BASELINE, NUMBA, PEER, PYTHON

LOOPS = (NUMBA, PYTHON)
"""The loop baselines, fastest first."""
_GPU = re.compile(r"(^cupy)|:(cuda|gpu|rocm)\b")


def kind_of(row: dict[str, Any]) -> str:
    """``backend``, ``baseline`` or ``peer``: the row's ``kind``, else guessed from its name
    (the loops by name, a dotted name is a peer's function, anything else a backend)."""
    kind = row.get("kind")
    if kind in (BACKEND, BASELINE, PEER):
        return kind
    name = str(row["implementation"])
    if name in LOOPS:
        return BASELINE
    return PEER if "." in name.split(":")[0] else BACKEND


def framework_of(row: dict[str, Any]) -> str:
    """``torch`` for ``torch:cpu`` and for the peer ``torch.nn.functional.linear``; the
    first word of a name without a framework (``numba``, ``sklearn``)."""
    spec = str(row.get("backend") or "") if kind_of(row) != BASELINE else ""
    name = spec or str(row["implementation"])
    return re.split(r"[:. ]", name, maxsplit=1)[0]


def on_gpu(row: dict[str, Any]) -> bool:
    """Whether the row computed on a GPU (``torch:cuda``, ``jax:gpu``, ``cupy``)."""
    spec = str(row.get("backend") or row["implementation"])
    return bool(_GPU.search(spec))
