"""What machine and software a benchmark ran on, so that two runs can be compared honestly.

:func:`environment_record` returns a JSON-serialisable dict; :func:`write_environment` writes it.
Each section is collected on its own: a section that raises becomes ``{"error": "Type: message"}``
and the rest of the record is still written. A field that cannot be known is ``null`` and its
section's ``"reasons"`` dict says why (``{"devices": "no GPU: ..."}``). Framework settings
(threads, TF32, JAX x64) are read when the record is made, so make it in the benchmark's process,
after the benchmark has set them up.

Top-level keys:

``timestamp``
    When the record was made: UTC, ISO 8601.
``hostname``
    ``socket.gethostname()``.
``platform``
    ``os`` and ``kernel_release`` (``platform.system()``/``release()``), ``machine``, the full
    ``platform.platform()`` string, ``python_version``, ``python_implementation``.
``cpu``
    ``model`` and where it came from (``model_source``: ``/proc/cpuinfo``,
    ``platform.processor()`` or ``py-cpuinfo`` where installed), ``logical_cores``
    (``os.cpu_count()``), ``usable_cores`` (the process's CPU affinity), ``physical_cores``
    (distinct core ids in ``/proc/cpuinfo``).
``memory``
    ``total_bytes`` and ``available_bytes`` (``/proc/meminfo``; ``os.sysconf`` elsewhere).
``versions``
    Package name -> version, ``null`` when not installed: mlpillars, every registry backend that
    is installed (imported to ask), and numba, scipy, array-api-compat, array-api-extra,
    pytest-benchmark, scikit-learn, matplotlib, threadpoolctl (from package metadata, not imported).
``frameworks``
    Backend name -> that framework's ``settings()`` (``mlpillars/backends/frameworks/``):
    its version and what changes its results or speed, e.g. torch's threads, TF32 and float32
    matmul precision, JAX's x64 mode, matmul precision, devices and CPU devices (one per
    usable CPU in a benchmark run: ``mlpillars.backends.one_device_per_cpu``), CuPy's CUDA versions.
    A framework that is not installed is ``null``, with the reason.
``gpu``
    ``devices``: name, total memory and compute capability from the first framework that
    sees a GPU, else from ``nvidia-smi``; ``driver_version`` from ``nvidia-smi``.
``blas``
    ``threadpoolctl.threadpool_info()`` after the frameworks above are imported, so every
    BLAS/OpenMP pool the process loads is listed: ``user_api``, ``internal_api`` (openblas, mkl,
    blis, openmp), ``version``, ``num_threads``, ``threading_layer``, ``architecture`` (OpenBLAS's
    core type) where given, and ``filename`` (the library's basename). ``version`` is ``null``,
    with the reason, where threadpoolctl gives none: always for OpenMP (libgomp, libomp,
    libiomp), which has no call that returns its version.
``thread_env``
    ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS``, ``OPENBLAS_CORETYPE``,
    ``OPENBLAS_L2_SIZE``: the value, ``null`` when unset.
``git``
    ``commit`` (``git rev-parse HEAD`` of the tree holding the mlpillars source) and ``dirty``
    (``git status --porcelain`` lists anything, untracked files included); ``null`` outside a
    git checkout.
"""

from __future__ import annotations

import datetime
import functools
import importlib.metadata
import importlib.util
import json
import os
import platform
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

from ..backends import FRAMEWORKS, Framework

THREAD_VARIABLES = (
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "OPENBLAS_NUM_THREADS",
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
)
"""Environment variables that change how many threads BLAS uses, or which kernels."""

DISTRIBUTIONS = (
    "numba",
    "scipy",
    "array-api-compat",
    "array-api-extra",
    "pytest-benchmark",
    "scikit-learn",
    "matplotlib",
    "threadpoolctl",
)
"""Packages whose version is read from their metadata (numba is slow to import)."""

_SUBPROCESS_TIMEOUT_S = 10


def environment_record(frameworks: Collection[str] | None = None) -> dict[str, Any]:
    """Describe this machine and its software (see the module docstring for every key).

    Parameters
    ----------
    frameworks : collection of str, optional
        The backends a run uses (its own and its peers'): only those are imported to
        record their settings (importing torch, JAX, CuPy and Dask takes seconds); the
        others' versions come from their installed metadata. Default: every installed one.
    """
    sections: dict[str, Callable[[], Any]] = {
        "timestamp": lambda: datetime.datetime.now(datetime.timezone.utc).isoformat(),
        "hostname": socket.gethostname,
        "platform": _platform,
        "cpu": _cpu,
        "memory": _memory,
        "versions": _versions,
        "frameworks": lambda: _frameworks(frameworks),
        "gpu": _gpu,
        "blas": _blas,
        "thread_env": lambda: {name: os.environ.get(name) for name in THREAD_VARIABLES},
        "git": _git,
    }
    return {name: _section(collect) for name, collect in sections.items()}


def write_environment(
    path: str | os.PathLike[str], frameworks: Collection[str] | None = None
) -> dict[str, Any]:
    """Write :func:`environment_record` to ``path`` as indented JSON and return it."""
    record = environment_record(frameworks)
    # default=str: an unexpected value from some library must not stop the record being written.
    Path(path).write_text(json.dumps(record, indent=2, default=str) + "\n")
    return record


def _section(collect: Callable[[], Any]) -> Any:
    """Run one section; an exception becomes ``{"error": ...}`` so the record is always made."""
    try:
        return collect()
    except Exception as exc:  # a record with a hole beats no record
        return {"error": f"{type(exc).__name__}: {exc}"}


def _null(section: dict[str, Any], key: str, reason: str) -> dict[str, Any]:
    """Set ``section[key]`` to ``None`` and say why in ``section["reasons"]``."""
    section[key] = None
    section.setdefault("reasons", {})[key] = reason
    return section


# -- machine -------------------------------------------------------------------------------
def _platform() -> dict[str, Any]:
    return {
        "os": platform.system(),
        "kernel_release": platform.release(),
        "machine": platform.machine(),
        "platform": platform.platform(),
        "python_version": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }


def _cpu() -> dict[str, Any]:
    cpuinfo = _read_text("/proc/cpuinfo") or ""
    cpu: dict[str, Any] = {
        "logical_cores": os.cpu_count(),
        "usable_cores": _usable_cores(),
    }
    cpu["model"], cpu["model_source"] = _cpu_model(cpuinfo)
    if cpu["model"] is None:
        _null(cpu, "model", "not in /proc/cpuinfo, platform.processor() or py-cpuinfo")
    core_ids = {
        (block.get("physical id"), block["core id"])
        for block in _cpuinfo_blocks(cpuinfo)
        if "core id" in block
    }
    cpu["physical_cores"] = len(core_ids) or None
    if not core_ids:
        _null(cpu, "physical_cores", "no 'core id' in /proc/cpuinfo")
    return cpu


def _usable_cores() -> int | None:
    """The cores this process may run on (its affinity mask; all of them where there is none)."""
    if hasattr(os, "sched_getaffinity"):  # Linux only
        return len(os.sched_getaffinity(0))
    return os.cpu_count()


def _cpu_model(cpuinfo: str) -> tuple[str | None, str | None]:
    for block in _cpuinfo_blocks(cpuinfo):
        if block.get("model name"):
            return block["model name"], "/proc/cpuinfo"
    if platform.processor():
        return platform.processor(), "platform.processor()"
    if importlib.util.find_spec("cpuinfo") is not None:  # py-cpuinfo: optional, slow
        import cpuinfo as py_cpuinfo

        brand = py_cpuinfo.get_cpu_info().get("brand_raw")
        if brand:
            return brand, "py-cpuinfo"
    return None, None


def _cpuinfo_blocks(cpuinfo: str) -> list[dict[str, str]]:
    """``/proc/cpuinfo`` as one ``{field: value}`` dict per logical CPU."""
    return [
        {
            key.strip(): value.strip()
            for key, _, value in (line.partition(":") for line in block.splitlines())
        }
        for block in cpuinfo.split("\n\n")
        if block.strip()
    ]


def _memory() -> dict[str, Any]:
    meminfo = _read_text("/proc/meminfo")
    if meminfo is not None:
        kib = {
            key: int(value.split()[0])
            for key, _, value in (line.partition(":") for line in meminfo.splitlines())
            if value.strip()
        }
        return {
            "total_bytes": kib["MemTotal"] * 1024,
            "available_bytes": kib.get("MemAvailable", 0) * 1024 or None,
            "source": "/proc/meminfo",
        }
    page = os.sysconf("SC_PAGE_SIZE")
    return {
        "total_bytes": page * os.sysconf("SC_PHYS_PAGES"),
        "available_bytes": page * os.sysconf("SC_AVPHYS_PAGES"),
        "source": "os.sysconf",
    }


# -- software ------------------------------------------------------------------------------
def _versions() -> dict[str, Any]:
    from .. import __version__

    versions: dict[str, Any] = {"mlpillars": __version__}
    for name, framework in FRAMEWORKS.items():
        if framework.is_installed():
            versions[name] = _installed_version(framework)
        else:
            _null(versions, name, "not installed")
    for distribution in DISTRIBUTIONS:
        try:
            versions[distribution] = importlib.metadata.version(distribution)
        except importlib.metadata.PackageNotFoundError:
            _null(versions, distribution, "not installed")
    return versions


def _installed_version(framework: Framework) -> str:
    """The framework's version: its ``__version__`` once imported, else its metadata's."""
    if framework.is_loaded():
        return framework.version()
    top_level = framework.module_name.split(".")[0]
    for distribution in _distributions().get(top_level, []):
        return importlib.metadata.version(distribution)
    return framework.version()


@functools.cache
def _distributions() -> dict[str, list[str]]:
    """Top-level module -> the distributions that install it (a scan of site-packages)."""
    return dict(importlib.metadata.packages_distributions())


def _frameworks(chosen: Collection[str] | None) -> dict[str, Any]:
    """The settings of each installed framework the run uses (imported now if needed), by
    backend name."""
    record: dict[str, Any] = {}
    for name, framework in FRAMEWORKS.items():
        if not framework.is_installed():
            _null(record, name, "not installed")
            continue
        if chosen is not None and name not in chosen:
            _null(record, name, "not used by this run")
            continue
        framework.load()
        record[name] = _section(framework.settings)
    return record


def _gpu() -> dict[str, Any]:
    smi = _nvidia_smi()
    record: dict[str, Any] = {"devices": _framework_gpus() or smi}
    if smi:
        record["driver_version"] = smi[0]["driver_version"]
    else:
        _null(record, "driver_version", "nvidia-smi not found or failed")
    if not record["devices"]:
        _null(record, "devices", "no GPU: no framework sees one and nvidia-smi lists none")
    return record


def _framework_gpus() -> list[dict[str, Any]] | None:
    """The GPUs as the first loaded framework that can describe them sees them."""
    for framework in FRAMEWORKS.values():
        if framework.gpu_capable and framework.is_loaded():
            properties = framework.gpu_properties()
            if properties:
                return properties
    return None


def _nvidia_smi() -> list[dict[str, Any]] | None:
    if shutil.which("nvidia-smi") is None:
        return None
    query = "--query-gpu=name,driver_version,memory.total"
    output = _run(["nvidia-smi", query, "--format=csv,noheader"])
    if not output:
        return None
    fields = ("name", "driver_version", "memory_total")
    return [
        dict(zip(fields, (value.strip() for value in line.split(",")), strict=False))
        for line in output.splitlines()
    ]


def _blas() -> list[dict[str, Any]]:
    import numpy  # noqa: F401  (threadpoolctl only lists libraries already loaded)
    from threadpoolctl import threadpool_info

    return [_pool(pool) for pool in threadpool_info()]


def _pool(info: dict[str, Any]) -> dict[str, Any]:
    """One pool of ``threadpool_info()``: its file's basename for its path, and a reason
    where its version is unknown (always for OpenMP, whose runtimes do not report one)."""
    pool = {key: value for key, value in info.items() if key != "filepath"}
    pool["filename"] = os.path.basename(info.get("filepath", ""))
    if pool.get("version") is None:
        api = pool.get("internal_api")
        why = "an OpenMP runtime does not report its version" if api == "openmp" else ""
        _null(pool, "version", f"threadpoolctl gives none{': ' + why if why else ''}")
    return pool


def _git() -> dict[str, Any]:
    source = Path(__file__).resolve().parents[1]
    commit = _run(["git", "-C", str(source), "rev-parse", "HEAD"])
    if commit is None:
        record = _null({}, "commit", f"{source} is not in a git checkout (or git is missing)")
        return _null(record, "dirty", "not a git checkout")
    status = _run(["git", "-C", str(source), "status", "--porcelain"])
    record = {"commit": commit, "dirty": bool(status)}
    if status is None:
        _null(record, "dirty", "git status failed")
    return record


# -- helpers -------------------------------------------------------------------------------
def _read_text(path: str) -> str | None:
    try:
        return Path(path).read_text()
    except OSError:
        return None


def _run(command: list[str]) -> str | None:
    """A command's stripped stdout; ``None`` when it is missing, fails or hangs."""
    try:
        done = subprocess.run(
            command, capture_output=True, text=True, timeout=_SUBPROCESS_TIMEOUT_S, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip()


if __name__ == "__main__":  # python -m mlpillars.bench.environment [path]
    record = write_environment(sys.argv[1]) if len(sys.argv) > 1 else environment_record()
    print(json.dumps(record, indent=2, default=str))
