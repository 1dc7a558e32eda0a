"""Figures derived from the case rows: times, rates, speed-ups and the roofs they meet.

One place computes each figure; the sections and the plots only lay them out. How two rows of
one case compare (timed apart, or in alternating rounds) is in :mod:`.pairs`.

Rates come from the work model's counts saved in each row (``flops``, ``bytes``): GFLOP/s
is ``flops / median / 1e9`` and GB/s is ``bytes / median / 1e9``. A kernel is reported by
GFLOP/s when its arithmetic intensity (FLOPs per byte, at its largest size) reaches the
machine's ridge point ``peak GFLOP/s / peak GB/s`` (it can be compute-bound), else by GB/s
(it is memory-bound); without ``peaks.json`` the ridge is taken as :data:`DEFAULT_RIDGE`.

The roof an implementation is held against is the machine's: the highest GEMM rate and the
highest copy bandwidth that any backend reached on that kind of device (CPU, or GPU for a
backend measured on one). A backend's own roof can sit far lower (JAX's eager copy on a CPU
reaches a fraction of NumPy's), and holding it against that would flatter it: the hardware's
limit is what every implementation on it could reach.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..run_folder import BACKEND, OK, PYTHON
from .pairs import NativePair, alternated_rounds, pair_figures
from .stats import Estimate, is_noisy, median_estimate, ratio_estimate

NUMPY = "numpy:cpu"
"""The implementation every speed-up is also measured against."""
DEFAULT_RIDGE = 10.0
"""FLOPs per byte at which a kernel is reported in GFLOP/s when no peaks were measured
(a typical CPU's ridge point: tens of GFLOP/s over a few GB/s per core)."""
GFLOPS, GBPS = "GFLOP/s", "GB/s"

Key = tuple[str, int, str, str]
"""(kernel, size, dtype, variant): the cases whose times may be compared."""
HOST = "numpy:cpu"
"""The backend of the loops (and of a peer row written before rows named their backend)."""


@dataclass(frozen=True)
class Roof:
    """A measured roofline: peak compute and peak memory bandwidth."""

    gflops: float
    gbps: float
    source: str
    gpu: bool = False

    @property
    def ridge(self) -> float:
        """Intensity (FLOP/byte) where the two roofs meet."""
        return self.gflops / self.gbps

    def attainable(self, intensity: float) -> float:
        """GFLOP/s the roofline allows at ``intensity``."""
        return min(self.gflops, intensity * self.gbps)


@dataclass(frozen=True)
class CaseFigures:
    """Everything the report says about one case row."""

    row: dict[str, Any]
    time: Estimate | None
    noisy: bool
    gflops: float | None
    gbps: float | None
    intensity: float | None
    roof: Roof | None
    vs_numpy: Estimate | None
    vs_python: Estimate | None

    @property
    def roof_fraction(self) -> float | None:
        """Achieved GFLOP/s over what the roofline allows at this intensity."""
        if self.gflops is None or self.roof is None or not self.intensity:
            return None
        return self.gflops / self.roof.attainable(self.intensity)


class RunAnalysis:
    """The figures of one run, computed on first use."""

    def __init__(self, rows: list[dict[str, Any]], peaks: dict[str, Any] | None) -> None:
        # a resumed run appends a new row for a case that failed before: the last one counts
        self.rows = list({row["id"]: row for row in rows}.values())
        self.roofs = roofs_from_peaks(peaks)
        self.machine_roof = best_roof(self.roofs, gpu=False)
        self.gpu_roof = best_roof(self.roofs, gpu=True)
        self._by_key: dict[Key, dict[str, dict[str, Any]]] = defaultdict(dict)
        for row in self.rows:
            self._by_key[case_key(row)][row["implementation"]] = row
        self._figures: dict[str, CaseFigures] = {}

    @cached_property
    def kernels(self) -> dict[str, list[dict[str, Any]]]:
        """Rows by kernel, in the order the run met them."""
        grouped: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for row in self.rows:
            grouped[row["kernel"]].append(row)
        return dict(grouped)

    @cached_property
    def implementations(self) -> list[str]:
        """Every implementation of the run, in a fixed order (for the colour map)."""
        return sorted({row["implementation"] for row in self.rows})

    def figures(self, row: dict[str, Any]) -> CaseFigures:
        """The figures of one row (computed once per case id)."""
        if row["id"] not in self._figures:
            self._figures[row["id"]] = self._compute(row)
        return self._figures[row["id"]]

    def metric(self, kernel: str) -> tuple[str, float | None, float]:
        """(GFLOP/s or GB/s, intensity at the largest size, the ridge it was held against:
        the measured one, else :data:`DEFAULT_RIDGE`)."""
        largest = max(self.kernels[kernel], key=lambda row: row["size"])
        intensity = _intensity(largest)
        measured = self.measured_ridge(kernel)
        ridge = DEFAULT_RIDGE if measured is None else measured
        chosen = GFLOPS if intensity is not None and intensity >= ridge else GBPS
        return chosen, intensity, ridge

    def measured_ridge(self, kernel: str) -> float | None:
        """The ridge point (FLOP/byte) of the measured roof ``kernel`` is held against (a
        GPU's for a kernel benchmarked on one), or None where no peaks measured it."""
        roofs = {self.roof_for(row["implementation"]) for row in self.kernels[kernel]}
        roof = self.gpu_roof if self.gpu_roof in roofs else self.machine_roof
        return roof.ridge if roof else None

    def row_for(self, key: Key, implementation: str) -> dict[str, Any] | None:
        """The row of ``implementation`` at ``key``, if the run has one."""
        return self._by_key.get(key, {}).get(implementation)

    def roof_for(self, implementation: str) -> Roof | None:
        """The best GPU roof for a backend measured on a GPU; else the best CPU roof."""
        own = self.roofs.get(implementation)
        return self.gpu_roof if own is not None and own.gpu else self.machine_roof

    def largest_common_size(self, kernel: str, implementations: list[str]) -> Key | None:
        """The largest (size, dtype, variant) at which every one of ``implementations`` ran
        (the main example before variants at equal sizes)."""
        keys = {case_key(row) for row in self.kernels[kernel]}
        shared = [key for key in keys if all(self._ok(key, name) for name in implementations)]
        return max(shared, key=lambda key: (key[1], key[2], not key[3], key[3]), default=None)

    def native_pairs(self, kernel: str) -> list[NativePair]:
        """Each timed row of our kernel beside each timed native call (a peer or a loop) on
        the same backend and at the same (size, dtype, variant)."""
        pairs = []
        for row in self.kernels[kernel]:
            if row.get("kind") != BACKEND or row["status"] != OK:
                continue
            for other in self._by_key[case_key(row)].values():
                if other.get("kind") != BACKEND and other["status"] == OK:
                    if backend_of(other) == backend_of(row):
                        pairs.append(NativePair(row, other, pair_figures(row, other)))
        return pairs

    def _ok(self, key: Key, implementation: str) -> bool:
        row = self.row_for(key, implementation)
        return row is not None and row["status"] == OK

    def alternated_speedup(self, row: dict[str, Any], reference: str) -> Estimate | None:
        """The median of the per-round ratios ``reference / row`` where the two were timed
        in alternating rounds (above 1, ``row`` is faster), else None."""
        other = self._timed(row, reference)
        if other is None or alternated_rounds(other, row) is None:
            return None
        return pair_figures(other, row).ratio

    def _timed(self, row: dict[str, Any], reference: str) -> dict[str, Any] | None:
        """``reference``'s timed row of ``row``'s case, if it is another row."""
        other = self.row_for(case_key(row), reference)
        return None if other is None or other["status"] != OK or other is row else other

    def _speedup(self, row: dict[str, Any], reference: str) -> Estimate | None:
        """``median(reference) / median(row)`` of each case's own rounds (the medians the
        kernel's table prints): above 1, ``row`` is faster."""
        other = self._timed(row, reference)
        return None if other is None else ratio_estimate(other["rounds"], row["rounds"])

    def _compute(self, row: dict[str, Any]) -> CaseFigures:
        roof = self.roof_for(row["implementation"])
        if row["status"] != OK:
            return CaseFigures(row, None, False, None, None, _intensity(row), roof, None, None)
        time = median_estimate(row["rounds"])
        return CaseFigures(
            row=row,
            time=time,
            noisy=is_noisy(row["rounds"]),
            gflops=_rate(row.get("flops"), time.value),
            gbps=_rate(row.get("bytes"), time.value),
            intensity=_intensity(row),
            roof=roof,
            vs_numpy=self._speedup(row, NUMPY),
            vs_python=self._speedup(row, PYTHON),
        )


def case_key(row: dict[str, Any]) -> Key:
    """The (kernel, size, dtype, variant) a row belongs to."""
    return row["kernel"], row["size"], str(row.get("dtype", "")), str(row.get("variant") or "")


def size_label(key: Key) -> str:
    """``"4096 float32"``, or ``"4096 float32 (temperature 1)"`` for a variant."""
    _, size, dtype, variant = key
    return f"{size} {dtype}" + (f" ({variant})" if variant else "")


def backend_of(row: dict[str, Any]) -> str:
    """The backend and kind of device a row computed on, ``"jax:cpu"`` (rows before the
    ``backend`` field: a backend's own name, the host for loops and peers)."""
    if row.get("backend"):
        spec = str(row["backend"])
    else:
        spec = row["implementation"] if row.get("kind") == BACKEND else HOST
    return ":".join(spec.split(":")[:2])  # jax:cpu:0 computes where a jax:cpu peer does


def roofs_from_peaks(peaks: dict[str, Any] | None) -> dict[str, Roof]:
    """The roof of each backend spec measured in ``peaks.json`` (failed ones left out)."""
    if not peaks:
        return {}
    return {
        spec: Roof(entry["gflops"], entry["gbps"], spec, bool(entry.get("gpu")))
        for spec, entry in peaks["backends"].items()
        if "error" not in entry
    }


def best_roof(roofs: dict[str, Roof], *, gpu: bool) -> Roof | None:
    """The highest compute and the highest bandwidth measured on a CPU (or on a GPU)."""
    candidates = [roof for roof in roofs.values() if roof.gpu == gpu]
    if not candidates:
        return None
    fastest = max(candidates, key=lambda roof: roof.gflops)
    widest = max(candidates, key=lambda roof: roof.gbps)
    device = "GPU" if gpu else "CPU"
    return Roof(
        fastest.gflops, widest.gbps, f"best {device}: {fastest.source} / {widest.source}", gpu
    )


def _rate(amount: Any, seconds: float) -> float | None:
    if not isinstance(amount, (int, float)) or amount <= 0 or seconds <= 0:
        return None
    return amount / seconds / 1e9


def _intensity(row: dict[str, Any]) -> float | None:
    flops, moved = row.get("flops"), row.get("bytes")
    if not flops or not moved:
        return None
    ratio = flops / moved
    return ratio if math.isfinite(ratio) else None
