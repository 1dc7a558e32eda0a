"""One small class per framework: the only place that names a framework.

Each class says how to import the framework lazily, its array-API namespace, its devices,
how to move an array onto it, how to wait for its asynchronous work, and what it can do.
A framework is imported the first time it is used, never when ``mlpillars`` is imported;
asking which framework owns an array only looks at frameworks already in ``sys.modules``
(as einops does), so it never imports one you did not.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from types import ModuleType
from typing import Any, ClassVar

import array_api_compat as aac
import numpy as np

from ._capabilities import Capabilities
from ._errors import BackendNotInstalledError, NoGPUError


class Framework:
    """A framework that mlpillars can run kernels on (abstract base).

    Subclasses set ``name`` (the backend name users type), ``module_name`` (what is
    imported), ``extra`` (the pip extra that installs it) and implement the hooks.
    """

    name: ClassVar[str]
    module_name: ClassVar[str]
    extra: ClassVar[str]

    # -- importing ---------------------------------------------------------------------
    def is_installed(self) -> bool:
        """Whether the framework can be imported, without importing it."""
        return importlib.util.find_spec(self.module_name.split(".")[0]) is not None

    def is_loaded(self) -> bool:
        """Whether the framework has been imported already (by anyone)."""
        return self.module_name in sys.modules

    def load(self) -> ModuleType:
        """Import the framework, or say which extra installs it."""
        try:
            return importlib.import_module(self.module_name)
        except ImportError as exc:
            raise BackendNotInstalledError(
                f"backend {self.name!r} is not installed ({exc}); install it with: "
                f'pip install "mlpillars[{self.extra}]"'
            ) from exc

    def version(self) -> str:
        """The framework's version string."""
        return str(importlib.import_module(self.module_name.split(".")[0]).__version__)

    # -- arrays and namespace ------------------------------------------------------------
    def owns(self, array: object) -> bool:
        """Whether ``array`` is an array of this framework (framework already imported)."""
        raise NotImplementedError

    def namespace(self) -> ModuleType:
        """The framework's array-API namespace (through array-api-compat)."""
        self.load()
        return aac.array_namespace(self.from_host(np.zeros(1), self.resolve_device(None)))

    # -- devices -------------------------------------------------------------------------
    def device_names(self) -> list[str]:
        """Names of the devices present on this machine (empty when none)."""
        return ["cpu"]

    def resolve_device(self, spec: str | None) -> Any:
        """Turn a device name (``None`` for the default) into a device object."""
        if spec in (None, "cpu"):
            return "cpu"
        raise _unknown_device(self, spec)

    def device_of(self, array: Any) -> Any:
        """The device an array lives on."""
        return aac.device(array)

    def is_gpu(self, device: Any) -> bool:
        """Whether ``device`` is a GPU."""
        return False

    # -- moving arrays -------------------------------------------------------------------
    def from_host(self, host: np.ndarray, device: Any) -> Any:
        """Make an array of this framework on ``device`` from a NumPy array."""
        raise NotImplementedError

    def to_host(self, array: Any) -> np.ndarray:
        """Copy (or view, where zero-copy) an array of this framework into NumPy."""
        return np.asarray(array)

    def from_dlpack(self, foreign: Any, device: Any) -> Any | None:
        """Take a foreign array through DLPack where that is zero-copy; ``None`` if not."""
        return None

    def to_device(self, array: Any, device: Any) -> Any:
        """Move an array of this framework onto another of its devices."""
        return aac.to_device(array, device)

    # -- waiting, capabilities, special functions -----------------------------------------
    def synchronize(self, array: Any) -> None:
        """Block until the asynchronous work that produces ``array`` has finished."""

    def materialize(self, *arrays: Any) -> tuple[Any, ...]:
        """Evaluate lazy arrays now, so that a loop builds on computed values."""
        return arrays

    def capabilities(self, device: Any) -> Capabilities:
        """What the framework can do on ``device``."""
        raise NotImplementedError

    def erf(self, array: Any) -> Any:
        """The error function, elementwise (the array API standard has none)."""
        raise NotImplementedError


def _unknown_device(framework: Framework, spec: str | None) -> ValueError:
    valid = ", ".join(f"{framework.name}:{name}" for name in framework.device_names()) or "none"
    return ValueError(
        f"backend {framework.name!r} has no device {spec!r}; devices on this machine: {valid}"
    )


def _device_index(spec: str) -> int:
    """``'cuda:1'`` -> 1, ``'cuda'`` -> 0."""
    _, _, index = spec.partition(":")
    return int(index) if index else 0


class NumPyFramework(Framework):
    name = "numpy"
    module_name = "numpy"
    extra = "all"

    def owns(self, array: object) -> bool:
        return aac.is_numpy_array(array)

    def namespace(self) -> ModuleType:
        import array_api_compat.numpy as xp

        return xp

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        return host

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=True, bfloat16=False, eigh=True, inplace=True, gpu=False
        )

    def erf(self, array: Any) -> Any:
        from scipy.special import erf

        return erf(array).astype(array.dtype, copy=False)  # scipy computes float16 in float64


class TorchFramework(Framework):
    name = "torch"
    module_name = "torch"
    extra = "torch"

    def owns(self, array: object) -> bool:
        return aac.is_torch_array(array)

    def namespace(self) -> ModuleType:
        self.load()
        import array_api_compat.torch as xp

        return xp

    def device_names(self) -> list[str]:
        torch = self.load()
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return ["cpu", *(f"cuda:{index}" for index in range(gpus))]

    def resolve_device(self, spec: str | None) -> Any:
        torch = self.load()
        if spec is None:
            return torch.get_default_device()
        if spec == "cpu":
            return torch.device("cpu")
        if spec == "gpu" or spec.startswith("cuda"):
            if not torch.cuda.is_available():
                raise NoGPUError(
                    f"torch:{spec} was asked for but no GPU was found "
                    "(torch.cuda.is_available() is False); use torch:cpu"
                )
            index = _device_index(spec)
            if index >= torch.cuda.device_count():
                raise _unknown_device(self, spec)
            return torch.device("cuda", index)
        raise _unknown_device(self, spec)

    def is_gpu(self, device: Any) -> bool:
        return getattr(device, "type", "cpu") == "cuda"

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        torch = self.load()
        try:
            tensor = torch.from_dlpack(host)  # zero-copy view of the NumPy buffer
        except (BufferError, RuntimeError, TypeError):
            tensor = torch.from_numpy(np.array(host))
        return tensor if device is None else tensor.to(device)

    def to_host(self, array: Any) -> np.ndarray:
        array = array.detach().cpu()
        if array.dtype == self.load().bfloat16:  # NumPy has no bfloat16: widen, exactly
            array = array.float()
        return array.numpy()

    def from_dlpack(self, foreign: Any, device: Any) -> Any | None:
        # CuPy <-> torch CUDA and array-api-strict -> torch CPU share buffers through DLPack.
        if not hasattr(foreign, "__dlpack__"):
            return None
        try:
            tensor = self.load().from_dlpack(foreign)
        except (BufferError, RuntimeError, TypeError, ValueError):
            return None
        return tensor if device is None else tensor.to(device)

    def synchronize(self, array: Any) -> None:
        if self.is_gpu(array.device):
            self.load().cuda.synchronize(array.device)

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True,
            float16=True,
            bfloat16=True,
            eigh=True,
            inplace=True,
            gpu=self.is_gpu(device),
        )

    def erf(self, array: Any) -> Any:
        return self.load().special.erf(array)


class JaxFramework(Framework):
    name = "jax"
    module_name = "jax"
    extra = "jax"

    def owns(self, array: object) -> bool:
        return aac.is_jax_array(array)

    def namespace(self) -> ModuleType:
        self.load()
        import jax.numpy as xp

        return xp

    def _platform_devices(self, platform: str) -> list[Any]:
        try:
            return list(self.load().devices(platform))
        except RuntimeError:  # "Unknown backend: 'gpu' requested, but no platforms ..."
            return []

    def device_names(self) -> list[str]:
        return [
            f"{platform}:{device.id}"
            for platform in ("cpu", "gpu")
            for device in self._platform_devices(platform)
        ]

    def resolve_device(self, spec: str | None) -> Any:
        jax = self.load()
        if spec is None:
            return jax.devices()[0]
        platform = spec.partition(":")[0]
        platform = "gpu" if platform == "cuda" else platform
        if platform not in ("cpu", "gpu"):
            raise _unknown_device(self, spec)
        devices = self._platform_devices(platform)
        if not devices:
            raise NoGPUError(
                f"jax:{spec} was asked for but no GPU was found "
                "(jax.devices('gpu') found none); use jax:cpu"
            )
        index = _device_index(spec)
        if index >= len(devices):
            raise _unknown_device(self, spec)
        return devices[index]

    def is_gpu(self, device: Any) -> bool:
        return getattr(device, "platform", "cpu") in ("gpu", "cuda", "rocm")

    def enable_x64(self) -> None:
        """Turn on JAX's 64-bit mode, without which float64 arrays become float32."""
        jax = self.load()
        if not jax.config.read("jax_enable_x64"):
            jax.config.update("jax_enable_x64", True)

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        if host.dtype.itemsize == 8 and host.dtype.kind in "fiuc":
            self.enable_x64()
        return self.load().device_put(host, device)

    def synchronize(self, array: Any) -> None:
        array.block_until_ready()

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True,  # x64 mode is enabled the first time a float64 array is moved in
            float16=True,
            bfloat16=True,
            eigh=True,
            inplace=False,
            gpu=self.is_gpu(device),
        )

    def erf(self, array: Any) -> Any:
        self.load()
        from jax.scipy.special import erf

        return erf(array)


class CuPyFramework(Framework):
    name = "cupy"
    module_name = "cupy"
    extra = "cupy"

    def owns(self, array: object) -> bool:
        return aac.is_cupy_array(array)

    def namespace(self) -> ModuleType:
        self.load()
        import array_api_compat.cupy as xp

        return xp

    def _gpu_count(self) -> int:
        cupy = self.load()
        return cupy.cuda.runtime.getDeviceCount() if cupy.cuda.is_available() else 0

    def device_names(self) -> list[str]:
        return [str(index) for index in range(self._gpu_count())]

    def resolve_device(self, spec: str | None) -> Any:
        cupy = self.load()
        if not cupy.cuda.is_available():
            raise NoGPUError(
                f"cupy{':' + spec if spec else ''} was asked for but no GPU was found "
                "(cupy.cuda.is_available() is False); CuPy runs only on a GPU"
            )
        if spec is None:
            return cupy.cuda.Device()
        index = int(spec.rpartition(":")[2]) if spec.rpartition(":")[2].isdigit() else -1
        if not 0 <= index < self._gpu_count():
            raise _unknown_device(self, spec)
        return cupy.cuda.Device(index)

    def is_gpu(self, device: Any) -> bool:
        return True

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        cupy = self.load()
        with device if device is not None else cupy.cuda.Device():
            return cupy.asarray(host)

    def to_host(self, array: Any) -> np.ndarray:
        return array.get()

    def from_dlpack(self, foreign: Any, device: Any) -> Any | None:
        # torch CUDA -> CuPy is zero-copy through DLPack; host arrays go through from_host.
        if not hasattr(foreign, "__dlpack__") or not hasattr(foreign, "is_cuda"):
            return None
        if not foreign.is_cuda:
            return None
        array = self.load().from_dlpack(foreign)
        return array if device is None else self.to_device(array, device)

    def synchronize(self, array: Any) -> None:
        with array.device:
            self.load().cuda.get_current_stream().synchronize()

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=True, bfloat16=False, eigh=True, inplace=True, gpu=True
        )

    def erf(self, array: Any) -> Any:
        from cupyx.scipy.special import erf

        return erf(array)


class DaskFramework(Framework):
    name = "dask"
    module_name = "dask.array"
    extra = "dask"

    def owns(self, array: object) -> bool:
        return aac.is_dask_array(array)

    def namespace(self) -> ModuleType:
        self.load()
        import array_api_compat.dask.array as xp

        return xp

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        return self.load().from_array(host, chunks="auto")

    def to_host(self, array: Any) -> np.ndarray:
        return np.asarray(array.compute())

    def to_device(self, array: Any, device: Any) -> Any:
        return array

    def synchronize(self, array: Any) -> None:
        # A Dask array is a recipe: "ready" means the recipe has been computed.
        array.compute()

    def materialize(self, *arrays: Any) -> tuple[Any, ...]:
        # Without this, each step of an iterative kernel would recompute every earlier step;
        # one persist call for all of them computes their shared graph once.
        import dask

        return dask.persist(*arrays)

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=True, bfloat16=False, eigh=False, inplace=False, gpu=False
        )

    def erf(self, array: Any) -> Any:
        from scipy.special import erf

        return array.map_blocks(lambda block: erf(block).astype(block.dtype), dtype=array.dtype)


class ArrayApiStrictFramework(Framework):
    name = "array_api_strict"
    module_name = "array_api_strict"
    extra = "strict"

    def owns(self, array: object) -> bool:
        return type(array).__module__.startswith("array_api_strict")

    def namespace(self) -> ModuleType:
        return self.load()

    def device_names(self) -> list[str]:
        return ["cpu"]

    def resolve_device(self, spec: str | None) -> Any:
        if spec in (None, "cpu", "CPU_DEVICE"):
            return self.load().Device("CPU_DEVICE")
        raise _unknown_device(self, spec)

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        return self.load().asarray(host, device=device)

    def to_host(self, array: Any) -> np.ndarray:
        return np.from_dlpack(array)

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=False, bfloat16=False, eigh=True, inplace=True, gpu=False
        )

    def erf(self, array: Any) -> Any:
        from scipy.special import erf

        host = self.to_host(array)
        return self.from_host(erf(host).astype(host.dtype), array.device)


FRAMEWORKS: dict[str, Framework] = {
    framework.name: framework
    for framework in (
        NumPyFramework(),
        TorchFramework(),
        JaxFramework(),
        CuPyFramework(),
        DaskFramework(),
        ArrayApiStrictFramework(),
    )
}
"""Every backend mlpillars knows, by the name users type."""


_OWNER_BY_TYPE: dict[type, Framework | None] = {}


def framework_of(array: object) -> Framework | None:
    """The framework that owns ``array``; ``None`` for Python lists and scalars.

    Looked up once per array type (as einops does); only frameworks already imported are
    asked, since an array of a framework cannot exist before the framework is imported.
    """
    array_type = type(array)
    if array_type not in _OWNER_BY_TYPE:
        _OWNER_BY_TYPE[array_type] = next(
            (fw for fw in FRAMEWORKS.values() if fw.is_loaded() and fw.owns(array)), None
        )
    return _OWNER_BY_TYPE[array_type]
