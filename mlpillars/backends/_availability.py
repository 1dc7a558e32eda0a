"""Which backends and devices this machine has, and why a missing one is missing."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from ._capabilities import Capabilities
from ._errors import BackendNotInstalledError, NoGPUError
from .frameworks import FRAMEWORKS, Framework


@dataclass(frozen=True)
class BackendStatus:
    """One backend on this machine.

    Attributes
    ----------
    name : str
        The backend name, e.g. ``"torch"``.
    available : bool
        Whether at least one device can run kernels.
    version : str or None
        The framework's version, when installed.
    devices : dict of str to Capabilities
        Each usable device, by name (``"cpu"``, ``"cuda:0"``, ``"gpu:0"``), with its record.
    reason : str or None
        Why the backend (or its GPU) is missing, e.g. ``not installed: pip install ...``.
    """

    name: str
    available: bool
    version: str | None = None
    devices: dict[str, Capabilities] = field(default_factory=dict)
    reason: str | None = None


def available_backends(names: Sequence[str] | None = None) -> list[BackendStatus]:
    """Report every known backend (or those ``names``): importable or not, its devices and
    capabilities.

    This imports each installed framework asked about (it is the one call that has to):
    several seconds for torch, JAX, CuPy and Dask together, so name the ones you need.

    Returns
    -------
    list of BackendStatus
        One entry per backend, in registry order.
    """
    chosen = FRAMEWORKS if names is None else {n: f for n, f in FRAMEWORKS.items() if n in names}
    return [_status_of(framework) for framework in chosen.values()]


def _status_of(framework: Framework) -> BackendStatus:
    if not framework.is_installed():
        return BackendStatus(
            framework.name,
            available=False,
            reason=f'not installed: pip install "mlpillars[{framework.extra}]"',
        )
    try:
        framework.load()
        version = framework.version()
        devices = {
            name: framework.capabilities(framework.resolve_device(name))
            for name in framework.device_names()
        }
    except BackendNotInstalledError as exc:
        return BackendStatus(framework.name, available=False, reason=str(exc))
    except NoGPUError as exc:
        return BackendStatus(framework.name, available=False, version=version, reason=str(exc))
    reason = None
    if not devices:
        reason = "no GPU found (GPU-only backend)"
    elif not any(capabilities.gpu for capabilities in devices.values()):
        reason = "no GPU found" if framework.gpu_capable else None
    return BackendStatus(framework.name, bool(devices), version, devices, reason)
