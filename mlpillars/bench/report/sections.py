"""The report's opening sections: the run, its machine, the statistics policy and the
tutorial's claim about NumPy and Python loops (the machine's limits: :mod:`.limits`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from ..run_folder import CASES_FILE, ENVIRONMENT_FILE, PYTHON
from ..text import NONE, ratio_interval, rounds, seconds_interval
from .analysis import NUMPY, RunAnalysis, size_label
from .document import Block, Bullets, Heading, Paragraph, Table
from .load import RunData
from .stats import Estimate, compare_rounds, policy_lines

CLAIM_LOW, CLAIM_HIGH = 50.0, 100.0
"""The tutorial: vectorised NumPy is 50 to 100 times faster than Python loops."""


def overview_section(run: RunData) -> list[Block]:
    """Title, the run's folder and suite, and how many cases ended how."""
    statuses = Counter(row["status"] for row in run.rows)
    suite = (run.plan or {}).get("suite") or run.rows[0].get("suite", "?")
    counts = ", ".join(f"{statuses[name]} {name}" for name in sorted(statuses))
    blocks: list[Block] = [
        Heading(f"Benchmark report: {run.name}", 1),
        Paragraph(
            f"Run folder `{run.path}`, suite **{suite}**: {len(run.rows)} case rows ({counts}). "
            "Times are per call; every figure is computed from the raw timed rounds in "
            f"`{CASES_FILE}`."
        ),
    ]
    if run.warnings:
        blocks.append(Bullets(tuple(f"Note: {warning}" for warning in run.warnings)))
    return blocks


def environment_section(environment: dict[str, Any] | None) -> list[Block]:
    """The machine and software the run measured, so two reports can be compared honestly."""
    blocks: list[Block] = [Heading("Environment", 2)]
    if environment is None:
        return [*blocks, Paragraph(f"No `{ENVIRONMENT_FILE}` in this run: the machine is unknown.")]
    rows = [(name, describe(environment)) for name, describe in _ENVIRONMENT_ROWS]
    gpu_row = next(i for i, (name, _) in enumerate(_ENVIRONMENT_ROWS) if name == "GPU")
    rows[gpu_row:gpu_row] = _framework_rows(environment)
    return [*blocks, Table(("what", "recorded"), tuple(rows))]


def policy_section() -> list[Block]:
    """The statistics policy, stated once."""
    return [Heading("Statistics policy", 2), Bullets(tuple(policy_lines()))]


def claim_section(analysis: RunAnalysis) -> list[Block]:
    """The tutorial's 50-100x claim beside the measured NumPy / Python-loop speed-up."""
    blocks: list[Block] = [
        Heading("The tutorial's claim: NumPy 50 to 100 times faster than Python loops", 2),
        Paragraph(
            f"Per kernel, at the largest size where both `{NUMPY}` and the pure-Python loop "
            f"(`{PYTHON}`) ran: the speed-up is median(Python) / median(NumPy) with its 95% CI, "
            "and the verdict of the significance test between the two."
        ),
    ]
    rows = [_claim_row(analysis, kernel) for kernel in analysis.kernels]
    measured = [row for row in rows if row is not None]
    if not measured:
        return [*blocks, Paragraph("No kernel has both a NumPy and a Python-loop timing.")]
    header = (
        "kernel",
        "size",
        "NumPy",
        "Python loop",
        "NumPy speed-up",
        "rounds",
        "against 50–100×",
        "test",
    )
    blocks.append(Table(header, tuple(measured), "lrrrrrll"))
    within = sum(row[6].startswith("within") for row in measured)
    blocks.append(
        Paragraph(
            f"{within} of {len(measured)} kernels fall within the claimed range. Speed-ups grow "
            "with size (fixed per-call overheads weigh less), so a run of small sizes understates "
            "them; the claim is about arrays large enough that the loop body dominates."
        )
    )
    return blocks


def _claim_row(analysis: RunAnalysis, kernel: str) -> tuple[str, ...] | None:
    key = analysis.largest_common_size(kernel, [NUMPY, PYTHON])
    if key is None:
        return None
    numpy_row, python_row = analysis.row_for(key, NUMPY), analysis.row_for(key, PYTHON)
    assert numpy_row is not None and python_row is not None
    verdict = compare_rounds(python_row["rounds"], numpy_row["rounds"])
    # the test compares the Python loop (candidate) with NumPy (reference)
    test = {"slower": "NumPy faster", "faster": "Python loop faster"}.get(
        verdict.label, verdict.label
    )
    return (
        kernel,
        size_label(key),
        seconds_interval(analysis.figures(numpy_row).time),
        seconds_interval(analysis.figures(python_row).time),
        ratio_interval(verdict.ratio),
        rounds(verdict.ratio),
        _against_claim(verdict.ratio),
        test + (f" ({verdict.note})" if verdict.note else ""),
    )


def _against_claim(speedup: Estimate) -> str:
    if speedup.has_interval:
        low, high, suffix = speedup.low, speedup.high, ""
    else:
        low, high, suffix = speedup.value, speedup.value, " (point estimate, no CI)"
    if high < CLAIM_LOW:
        return "below the claim" + suffix
    if low > CLAIM_HIGH:
        return "above the claim" + suffix
    if low >= CLAIM_LOW and high <= CLAIM_HIGH:
        return "within the claim" + suffix
    return "overlaps the claimed range" + suffix


# -- environment rows ------------------------------------------------------------------------
def _section(environment: dict[str, Any], name: str) -> dict[str, Any]:
    value = environment.get(name)
    return value if isinstance(value, dict) else {}


def _failed(section: dict[str, Any]) -> str | None:
    return f"not recorded ({section['error']})" if "error" in section else None


def _cpu(environment: dict[str, Any]) -> str:
    cpu = _section(environment, "cpu")
    return _failed(cpu) or (
        f"{cpu.get('model')}; {cpu.get('logical_cores')} logical, "
        f"{cpu.get('physical_cores')} physical, {cpu.get('usable_cores')} usable cores"
    )


def _memory(environment: dict[str, Any]) -> str:
    memory = _section(environment, "memory")
    total = memory.get("total_bytes")
    return _failed(memory) or (f"{total / 2**30:.1f} GiB total" if total else NONE)


def _system(environment: dict[str, Any]) -> str:
    system = _section(environment, "platform")
    return _failed(system) or (
        f"{system.get('platform')}; {system.get('python_implementation')} "
        f"{system.get('python_version')}"
    )


def _blas(environment: dict[str, Any]) -> str:
    pools = environment.get("blas")
    if isinstance(pools, dict):
        return _failed(pools) or NONE
    return (
        "; ".join(
            f"{pool.get('internal_api')} {pool.get('version') or 'version unknown'} "
            f"({pool.get('num_threads')} threads"
            + (f", {pool['architecture']}" if pool.get("architecture") else "")
            + (f", {pool['threading_layer']}" if pool.get("threading_layer") else "")
            + f") `{pool.get('filename')}`"
            for pool in pools or []
        )
        or NONE
    )


def _thread_env(environment: dict[str, Any]) -> str:
    variables = _section(environment, "thread_env")
    chosen = [f"{name}={value}" for name, value in variables.items() if value is not None]
    return ", ".join(chosen) or "none set"


def _framework_rows(environment: dict[str, Any]) -> list[tuple[str, str]]:
    """One row per framework in the record: its version, then every setting it recorded."""
    frameworks = _section(environment, "frameworks")
    if "error" in frameworks:
        return [("frameworks", _failed(frameworks) or NONE)]
    reasons = frameworks.get("reasons", {})
    rows = []
    for name, settings in frameworks.items():
        if name == "reasons":
            continue
        if not isinstance(settings, dict) or settings.get("version") is None:
            text = (isinstance(settings, dict) and _failed(settings)) or reasons.get(name)
            rows.append((name, text or "not installed"))
            continue
        details = ", ".join(
            f"{key} {_setting_text(value)}"
            for key, value in settings.items()
            if key not in ("version", "reasons")
        )
        rows.append((name, f"{settings['version']}" + (f": {details}" if details else "")))
    return rows


def _setting_text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(map(str, value)) or NONE
    return NONE if value is None else str(value)


def _gpu(environment: dict[str, Any]) -> str:
    gpu = _section(environment, "gpu")
    devices = gpu.get("devices")
    if not devices:
        return _failed(gpu) or "none" + (
            f" ({gpu['reasons']['devices']})" if "devices" in gpu.get("reasons", {}) else ""
        )
    names = ", ".join(str(device.get("name")) for device in devices)
    return f"{names}; driver {gpu.get('driver_version') or NONE}"


def _versions(environment: dict[str, Any]) -> str:
    versions = _section(environment, "versions")
    return _failed(versions) or ", ".join(
        f"{name} {version}"
        for name, version in versions.items()
        if version is not None and name != "reasons"
    )


def _git(environment: dict[str, Any]) -> str:
    git = _section(environment, "git")
    if not git.get("commit"):
        return _failed(git) or "not a git checkout"
    return f"{git['commit'][:12]}" + (" (uncommitted changes)" if git.get("dirty") else "")


_ENVIRONMENT_ROWS = (
    ("recorded", lambda e: f"{e.get('timestamp', NONE)} on {e.get('hostname', NONE)}"),
    ("CPU", _cpu),
    ("memory", _memory),
    ("system", _system),
    ("BLAS / OpenMP", _blas),
    ("thread variables", _thread_env),
    ("GPU", _gpu),
    ("versions", _versions),
    ("git", _git),
)
