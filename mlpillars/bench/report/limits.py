"""The machine's limits: the peaks measured in ``peaks.json`` (the roofline's roofs), or,
without them, what is left out and how to measure them."""

from __future__ import annotations

from ..run_folder import BACKEND, PEAKS_FILE
from ..text import NONE, number
from .analysis import DEFAULT_RIDGE, NUMPY, Roof, RunAnalysis
from .document import Block, Heading, Paragraph, Table
from .load import RunData


def peaks_section(run: RunData, analysis: RunAnalysis) -> list[Block]:
    """The measured GEMM and copy peaks per backend (the roofline's roofs)."""
    blocks: list[Block] = [Heading("Machine limits (measured peaks)", 2)]
    if run.peaks is None:
        return [
            *blocks,
            Paragraph(_no_peaks_note(run, analysis)),
        ]
    rows = []
    for spec, entry in run.peaks["backends"].items():
        if "error" in entry:
            rows.append((spec, NONE, NONE, NONE, NONE, f"failed: {entry['error']}"))
            continue
        matmul, copy = entry.get("matmul", {}), entry.get("copy", {})
        rows.append(
            (
                spec,
                str(entry.get("device", NONE)),
                f"{number(entry['gflops'])} (n = {matmul.get('size', '?')})",
                f"{number(entry['gbps'])} ({copy.get('bytes', 0) / 2**20:.0f} MiB)",
                number(entry["gflops"] / entry["gbps"]),
                f"copy by {copy.get('method', '?')}",
            )
        )
    header = ("backend", "device", "GEMM GFLOP/s", "copy GB/s", "ridge FLOP/byte", "note")
    blocks.append(Table(header, tuple(rows), "llrrrl"))
    method = run.peaks.get("method", {})
    blocks.append(
        Paragraph(
            f"GEMM: {method.get('matmul', '?')}. Copy: {method.get('copy', '?')}. "
            f"Statistic: {method.get('statistic', '?')}. Measured {run.peaks.get('measured', '?')}."
        )
    )
    roofs = (analysis.machine_roof, analysis.gpu_roof)
    blocks += [Paragraph(_machine_roof_note(roof)) for roof in roofs if roof is not None]
    return blocks


def _no_peaks_note(run: RunData, analysis: RunAnalysis) -> str:
    """What is left out without peaks, and the command (or the Python line) that measures
    them for the run's backends."""
    backends = [row for row in analysis.rows if row.get("kind") == BACKEND]
    specs = sorted(
        {str(row.get("backend") or row["implementation"]) for row in backends},
        key=lambda spec: (spec != NUMPY, spec),
    )
    line = (
        f"from mlpillars.bench.peaks import write_peaks; "
        f"write_peaks({str(run.path / PEAKS_FILE)!r}, {specs or [NUMPY]!r})"
    )
    return (
        f"No `{PEAKS_FILE}` in this run: the roofline and the fractions of peak are left out, "
        f"and each kernel's rates are chosen against an assumed ridge point of "
        f"{number(DEFAULT_RIDGE)} FLOP/byte. To measure the peaks (about ten seconds), run "
        f"`mlpillars bench --resume --out {run.path}`: a `mlpillars bench` run measures them "
        "when its folder has none, and with every case finished it times no case again (it "
        "records the environment again). Or, touching no other file of the run: "
        f'`python -c "{line}"`. Then make the report again.'
    )


def _machine_roof_note(roof: Roof) -> str:
    device = "GPU" if roof.gpu else "CPU"
    return (
        f"Roof that every implementation on a {device} is held against ({roof.source}): "
        f"{number(roof.gflops)} GFLOP/s, {number(roof.gbps)} GB/s, ridge {number(roof.ridge)} "
        "FLOP/byte: the machine's limit, whichever backend reached it."
    )
