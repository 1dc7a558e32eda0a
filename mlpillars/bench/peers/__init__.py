"""Peers: what a user would otherwise call for a kernel.

A :class:`Peer` names the library function it calls by its dotted name and loads it with
importlib only when a case runs it, so no framework is imported before then. Its ``adapt``
function lays the example's NumPy arrays out as that function wants them (weights
transposed to the peer's layout, a column of ones appended), outside the timed region; the
harness moves them onto the peer's backend (``"torch:cpu"``), waits on every result with
``mlpillars.ready`` and turns it back into NumPy arrays laid out as the kernel's main
output. The benchmark catalogue (:mod:`mlpillars.bench.catalogue`) says which kernel has
which peers; the adapters live in :mod:`.layers` and :mod:`.models`.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...backends import host_arrays
from ...examples import KernelCall

__all__ = ["Peer", "PeerCall", "load_dotted"]


@dataclass(frozen=True)
class PeerCall:
    """A peer's call, laid out and ready to move onto its backend.

    Attributes
    ----------
    function : callable
        The call timed, on ``arrays`` once they are on the peer's backend.
    arrays : tuple of numpy.ndarray
        Its inputs, as NumPy arrays in the peer's layout.
    outputs : callable
        Result -> the NumPy arrays compared with the kernel's main output, in its order.
    """

    function: Callable[..., Any]
    arrays: tuple[np.ndarray, ...]
    outputs: Callable[[Any], list[np.ndarray]] = host_arrays


@dataclass(frozen=True)
class Peer:
    """A function of another library that does what one kernel does.

    Attributes
    ----------
    name : str
        The implementation's name in the results: the dotted name of the function called,
        or, for a loop of our own around a library function, what it is.
    adapt : callable
        ``adapt(peer, call) -> PeerCall``: loads the function (:meth:`load`) and lays out
        the example call's arrays for it.
    function : str
        Dotted name of the function loaded; empty: ``name``.
    backend : str
        Backend spec the inputs are moved onto, e.g. ``"torch:cpu"``; NumPy for host
        libraries.
    compiled : bool
        Compiled with the backend framework's compiler before timing, as its users would
        call it (``Framework.compile``; the compile time is recorded apart).
    peak_bytes : callable, optional
        ``peak_bytes(call) -> float``: memory one call needs, so that a case which cannot
        fit is skipped with that reason instead of exhausting the machine.
    """

    name: str
    adapt: Callable[[Peer, KernelCall], PeerCall]
    function: str = ""
    backend: str = "numpy:cpu"
    compiled: bool = False
    peak_bytes: Callable[[KernelCall], float] | None = None

    @property
    def dotted_name(self) -> str:
        """The dotted name of the function this peer calls."""
        return self.function or self.name

    def is_installed(self) -> bool:
        """Whether the function's top-level package can be imported (without importing it)."""
        return importlib.util.find_spec(self.dotted_name.partition(".")[0]) is not None

    def load(self, sibling: str | None = None) -> Any:
        """The function this peer calls, or another attribute ``sibling`` of its module
        (``torch.nn.functional.gelu`` for the peer ``torch.nn.functional.linear``)."""
        module_name, _, attribute = self.dotted_name.rpartition(".")
        return load_dotted(f"{module_name}.{sibling or attribute}")


def load_dotted(dotted_name: str) -> Any:
    """The attribute a dotted name such as ``"torch.nn.functional.gelu"`` names, its
    module imported with importlib (so that no framework is named in code)."""
    module_name, _, attribute = dotted_name.rpartition(".")
    return getattr(importlib.import_module(module_name), attribute)
