"""The benchmark catalogue: one entry per public kernel, the only table keyed by kernel name.

Each :class:`KernelEntry` holds the kernel's example inputs, its sizes in every suite, its
work model, its loop baselines, its peers and the part of its result that is compared. The
entries live by pillar in :mod:`.linear_algebra`, :mod:`.probability` and
:mod:`.calculus`; everything else (suites, cases, the demo, ``BASELINES``) reads them here.
"""

from __future__ import annotations

from ..baselines import Baseline
from . import calculus, linear_algebra, probability
from .entry import SEED, KernelEntry, SuiteSizes, Variant

__all__ = ["BASELINES", "CATALOGUE", "SEED", "KernelEntry", "SuiteSizes", "Variant", "entry_for"]

CATALOGUE: dict[str, KernelEntry] = {
    entry.kernel: entry
    for entry in (*linear_algebra.ENTRIES, *probability.ENTRIES, *calculus.ENTRIES)
}
"""Every catalogued kernel's entry by its public name (a key of ``mlpillars.KERNELS``),
pillar by pillar."""

BASELINES: dict[str, Baseline] = {
    name: entry.baseline for name, entry in CATALOGUE.items() if entry.baseline is not None
}
"""The loop baselines by kernel name (a view of the catalogue)."""


def entry_for(kernel: str) -> KernelEntry:
    """The catalogue entry of ``kernel``.

    Raises
    ------
    ValueError
        For a name that is not a catalogued public kernel, listing those that are.
    """
    if kernel not in CATALOGUE:
        raise ValueError(f"unknown kernel {kernel!r}; valid: {', '.join(CATALOGUE)}")
    return CATALOGUE[kernel]
