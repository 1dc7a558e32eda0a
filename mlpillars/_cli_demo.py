"""``mlpillars capabilities`` and ``mlpillars demo``: what this machine's backends can do,
and every kernel once on each of them against float64 NumPy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from rich.console import Console
from rich.table import Table
from rich.text import Text

from . import KERNELS, available_backends
from .backends import host_arrays
from .examples import KernelCall, call_on_backend, cast_call
from .tolerances import compare_outputs, tolerance_for

if TYPE_CHECKING:
    from .bench.catalogue.entry import KernelEntry

_CAPABILITY_COLUMNS = ("float64", "float16", "bfloat16", "eigh", "inplace", "gpu")


def capabilities_table() -> Table:
    """Every backend and device on this machine, with versions and capability records."""
    table = Table(title="mlpillars backends on this machine")
    for column in ("backend", "version", "device", *_CAPABILITY_COLUMNS, "note"):
        table.add_column(column)
    for status in available_backends():
        if not status.devices:
            table.add_row(
                status.name, status.version or "-", "-", *["-"] * 6, Text(status.reason or "")
            )
        for device_name, capabilities in status.devices.items():
            flags = capabilities.as_dict()
            marks = ["yes" if flags[column] else "no" for column in _CAPABILITY_COLUMNS]
            table.add_row(
                status.name, status.version, device_name, *marks, Text(status.reason or "")
            )
    return table


@dataclass(frozen=True)
class Agreement:
    """How one backend's result compares with the float64 NumPy reference."""

    max_error: float
    agrees: bool


def run_demo(console: Console, *, size: int) -> int:
    """Run each kernel on every available backend/device/dtype against float64 NumPy."""
    from .bench.catalogue import CATALOGUE  # the example builder of every kernel

    specs = _available_specs()
    missing = sorted(set(KERNELS) - set(CATALOGUE))
    table = Table(
        title=f"max |error| against float64 NumPy, size {size} (✓ = within the tolerance table)"
    )
    table.add_column("kernel")
    for spec in specs:
        table.add_column(f"{spec}\nfloat32   float64", justify="right")
    all_agree = True
    for name, entry in CATALOGUE.items():
        call = entry.example(np.random.default_rng(0), size)
        result = KERNELS[name](*call.arrays, **call.options, backend="numpy")
        reference = host_arrays(entry.main_output(result))
        cells = []
        for spec in specs:
            agreements = [_compare(entry, call, reference, spec, d) for d in ("float32", "float64")]
            all_agree &= all(agreement.agrees for agreement in agreements)
            cells.append("  ".join(map(_cell, agreements)))
        table.add_row(name, *cells)
    console.print(table)
    if missing:
        console.print(f"[yellow]kernels without a demo example: {', '.join(missing)}[/yellow]")
    console.print("all backends agree" if all_agree else "[red]some results disagree[/red]")
    return 0 if all_agree else 1


def _cell(agreement: Agreement) -> str:
    mark = "✓" if agreement.agrees else "[red]✗[/red]"
    return f"{mark} {agreement.max_error:.0e}"


def _available_specs() -> list[str]:
    return [
        f"{status.name}:{device}" for status in available_backends() for device in status.devices
    ]


def _compare(
    entry: KernelEntry, call: KernelCall, reference: list[np.ndarray], spec: str, dtype: str
) -> Agreement:
    """The entry's main output (what the benchmark's gate compares: a fit's arrays, not its
    flags, such as whether its projections centre X, decided apart where values cannot be
    read) on ``spec`` in ``dtype``, against ``reference``."""
    moved = call_on_backend(cast_call(call, dtype), spec)
    result = entry.main_output(KERNELS[entry.kernel](*moved.arrays, **moved.options))
    return Agreement(*compare_outputs(host_arrays(result), reference, tolerance_for(dtype)))
