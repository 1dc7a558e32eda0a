"""The layout of a run folder: what ``mlpillars bench`` writes and ``mlpillars report`` reads.

The runner, the results log, the peaks and the report all take the folder's file names and
the case rows' statuses, kinds and checked fields from here, so that the writers and the
reader cannot drift apart. Pure Python on purpose: the report imports this module and must
reach neither the backends nor the kernels through it.

A run folder (default ``reports/<run-id>/``) holds

- :data:`PLAN_FILE`: the suite, backends, kernels and processes asked for (what ``--resume``
  finishes and ``--rerun-disturbed`` measures again);
- :data:`PLANNED_FILE`: the ids of the cases that plan makes here, written whenever a run
  starts or resumes (what the report counts an unfinished run's missing cases against);
- :data:`ENVIRONMENT_FILE`: the machine and software record of the run's first session, which
  the report reads; each later session (``--resume``, ``--rerun-disturbed``) that measures
  something writes its own, ``environment-<n>.json`` (:func:`environment_file`, n as in
  ``benchmark-<n>.json``), and the bench warns where it differs from the first in what bears
  on timings (versions, threads and thread variables, BLAS pools, CPU);
- :data:`CASES_FILE`: one case row per line, on disk as soon as the case finishes;
- :data:`PEAKS_FILE`: the machine's measured peaks (layout in :mod:`mlpillars.bench.peaks`),
  measured by a new run (one left in its folder is replaced) and kept by a resumed one;
- ``benchmark-<n>.json`` (:func:`benchmark_file`): pytest-benchmark's own JSON of session n,
  every round kept, so ``pytest-benchmark compare`` works on it;
- after ``mlpillars report``: :data:`REPORT_FILES` and the charts in :data:`PLOTS_FOLDER`.

A case row (one line of :data:`CASES_FILE`) is a JSON object with

- ``id``, ``kernel``, ``implementation``, ``size``, ``status``: always (:data:`REQUIRED_FIELDS`);
- ``kind`` (one of :data:`KINDS`), ``dtype``, ``group``, ``suite``, ``started``, ``finished``;
- ``variant``: the name of another example of the kernel (other shapes or options, e.g.
  ``"relu, 256 rows"``), empty for its main example; a case is (kernel, variant, size, dtype);
- ``backend``: the backend spec the implementation computes on (``"torch:cpu"``; the host
  NumPy spec ``"numpy:cpu"`` for the loops); our kernels are compared with the peers and
  loops of the same ``backend`` (the native calls);
- ``flops``, ``bytes``: the work model's counts of one call;
- ``rounds`` (every timed round, in seconds) and ``median``: when the status is :data:`OK`;
- ``compile_seconds``, ``first_call_seconds``, ``notes``: compilation (Numba, ``jax.jit``,
  ``torch.compile``), timed apart from the rounds: the first call less one steady call, and
  the first call itself;
- ``peak_host_bytes``, ``peak_host_increase_bytes``, ``host_memory_method``,
  ``device_peak_bytes``: the memory meter's readings of the checked call;
- ``max_abs_error``, ``correct``: the comparison with the float64 NumPy reference, and
  ``max_rel_error``, ``tolerance_fraction``, ``rtol``, ``atol``: how close it came, against
  which tolerance (:func:`mlpillars.tolerances.error_fields`; absent in older runs);
- ``reason`` (and ``traceback`` for an error), ``estimate_seconds`` (a skipped slow loop):
  why a case was not timed; a compiled form that its compiler cannot trace has the status
  :data:`UNTRACEABLE` (never an eager run in its place);
- ``load`` and ``disturbed``: when the status is :data:`OK`, the machine's load over the case
  (its wall time, this process's CPU time and cores, the other processes' CPU time and average
  cores, the window averaged over, the CPU count, the limit, the 1-minute load average; see
  :func:`mlpillars.bench.disturbance.case_load`) and whether it was measured on a busy machine
  (:func:`mlpillars.bench.disturbance.is_busy`; absent in older runs);
- ``alternated``: the case timed again in rounds alternating with earlier cases of its group
  (:mod:`mlpillars.bench.interleaved`: a native call with our kernel's cases, our kernel on
  torch or JAX with our NumPy case where a target holds it to that): a list of ``{"with":
  the earlier case's id, "with_rounds": [...], "rounds": [...]}`` (``rounds``: this case's),
  seconds per call, round ``i`` of the two timed side by side; absent where none ran near
  its speed (and in older runs);
- ``processes`` and ``process_medians``: in a run of ``--processes N``, how many fresh
  processes' rounds were pooled into ``rounds``, and each one's median.

A case may have several rows: ``--resume`` appends a new row for a case that failed, and
``--rerun-disturbed`` for a case measured on a busy machine. The last row of an id is the
case's row (:func:`latest_rows`); the earlier ones stay in the file, as measured.

A run of ``--processes N`` holds one run folder per process under :data:`PROCESSES_FOLDER`
(``processes/1/``, ...), each written as above by a fresh ``mlpillars bench``; its own
:data:`CASES_FILE` pools their rows, one per case, rewritten after each process.
"""

from __future__ import annotations

from typing import Any

# -- files ---------------------------------------------------------------------------------------
PLAN_FILE = "plan.json"
PLANNED_FILE = "planned.json"
ENVIRONMENT_FILE = "environment.json"
"""The first session's environment record (the report's); later ones: :func:`environment_file`."""
ENVIRONMENT_FILES = "environment-*.json"
"""Glob pattern of the environment records of the sessions after the first."""
CASES_FILE = "cases.jsonl"
PEAKS_FILE = "peaks.json"
BENCHMARK_FILES = "benchmark-*.json"
"""Glob pattern of every session's pytest-benchmark JSON (see :func:`benchmark_file`)."""
REPORT_FILES = {"md": "report.md", "html": "report.html"}
"""Report format -> the file ``mlpillars report`` writes into the run folder."""
PLOTS_FOLDER = "plots"
"""Sub-folder of the report's PNG charts."""
PROCESSES_FOLDER = "processes"
"""Sub-folder of a ``--processes N`` run: one run folder per fresh process, ``1`` to ``N``."""

PEAKS_FORMAT = "mlpillars-peaks/1"
"""The ``"format"`` tag of a :data:`PEAKS_FILE` record."""

# -- case rows -----------------------------------------------------------------------------------
OK, WRONG, SKIPPED, ERROR = "ok", "wrong", "skipped", "error"
UNTRACEABLE = "untraceable"
STATUSES = (OK, WRONG, SKIPPED, ERROR, UNTRACEABLE)
"""Every case row's ``status``: timed, a wrong result (not timed), skipped, failed, or a
compiled form (``jax.jit``, ``torch.compile``) that cannot trace the kernel (not timed)."""

BACKEND, BASELINE, PEER = "backend", "baseline", "peer"
KINDS = (BACKEND, BASELINE, PEER)
"""A row's ``kind``: a backend spec, a loop baseline, or a peer library's function."""

PYTHON, NUMBA = "python", "numba"
"""The ``implementation`` names of the pure-Python and the Numba loop baselines."""

REQUIRED_FIELDS: dict[str, type] = {
    "id": str,
    "kernel": str,
    "implementation": str,
    "size": int,
    "status": str,
}
"""Fields every case row has, with their JSON type."""
NUMERIC_FIELDS = (
    "flops",
    "bytes",
    "median",
    "compile_seconds",
    "first_call_seconds",
    "estimate_seconds",
)
"""Fields that, when present and not null, are numbers."""


def benchmark_file(session: int) -> str:
    """The pytest-benchmark JSON of session ``session`` (1 for the first run, 2 after one
    ``--resume``, ...)."""
    return f"benchmark-{session}.json"


def environment_file(session: int) -> str:
    """The environment record of session ``session``: :data:`ENVIRONMENT_FILE` for the first,
    ``environment-<n>.json`` for a later one (numbered as :func:`benchmark_file`)."""
    return ENVIRONMENT_FILE if session == 1 else f"environment-{session}.json"


def needs_rerun(row: dict[str, Any]) -> bool:
    """Whether ``--resume`` runs this case again: only a case that failed (an error).

    A wrong or skipped case ran to its verdict, which another run would repeat.
    """
    return row.get("status") == ERROR


def finished_ids(rows: list[dict[str, Any]]) -> set[str]:
    """The ids of the cases whose latest row is not an error (:func:`needs_rerun`): those
    ``--resume`` leaves out, and the summary and the report count as finished."""
    return {row["id"] for row in latest_rows(rows) if not needs_rerun(row)}


def missing_cases(planned: list[str], rows: list[dict[str, Any]]) -> list[str]:
    """The planned case ids (``PLANNED_FILE``'s ``"cases"``) that ``rows`` have not finished:
    never measured (a run interrupted or killed), or ended in an error, which ``--resume``
    runs again."""
    finished = finished_ids(rows)
    return [case for case in planned if case not in finished]


def is_disturbed(row: dict[str, Any]) -> bool:
    """Whether a row's timings were measured on a busy machine (``--rerun-disturbed`` measures
    it again): a timed row whose ``disturbed`` is true."""
    return row.get("status") == OK and row.get("disturbed") is True


def latest_rows(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The last row of each case id, in the order the ids first appear."""
    return list({row["id"]: row for row in rows}.values())


def validate_peaks(peaks: Any) -> str | None:
    """What is wrong with a :data:`PEAKS_FILE` content, or ``None`` when it has its layout.

    The layout is in :mod:`mlpillars.bench.peaks`: a :data:`PEAKS_FORMAT` tag and, per backend
    spec, either an ``"error"`` or positive ``"gflops"`` and ``"gbps"``.
    """
    if not isinstance(peaks, dict) or peaks.get("format") != PEAKS_FORMAT:
        return f"not a peaks record (expected 'format': {PEAKS_FORMAT!r})"
    if not isinstance(peaks.get("backends"), dict):
        return "has no 'backends' object"
    for spec, entry in peaks["backends"].items():
        if not isinstance(entry, dict):
            return f"backend {spec!r}: expected an object"
        if "error" in entry:
            continue
        for key in ("gflops", "gbps"):
            value = entry.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
                return f"backend {spec!r}: {key!r} is not a positive number"
    return None
