"""CuPy: GPU only; DLPack with torch CUDA, stream synchronisation, its memory pool."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from .._errors import NoGPUError
from .base import Framework, unknown_device


class CuPyFramework(Framework):
    name = "cupy"
    module_name = "cupy"
    extra = "cupy"
    device_kinds = ("0",)
    gpu_capable = True
    requires_gpu = True

    def owns(self, array: object) -> bool:
        return aac.is_cupy_array(array)

    def namespace(self) -> ModuleType:
        self.load()
        import array_api_compat.cupy as xp

        return xp

    # -- devices -------------------------------------------------------------------------
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
            raise unknown_device(self, spec)
        return cupy.cuda.Device(index)

    def is_gpu(self, device: Any) -> bool:
        return True

    # -- moving arrays -------------------------------------------------------------------
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

    def values_known(self, array: Any) -> bool:
        # every CuPy array is on a GPU: reading one syncs the stream (as a CUDA tensor's),
        # so the step loops' per-step reads (every problem still active?) are skipped
        return False

    def device_of(self, array: Any) -> Any:
        return array.device

    def synchronize(self, array: Any) -> None:
        with array.device:
            self.load().cuda.get_current_stream().synchronize()

    # -- what it can do ----------------------------------------------------------------------
    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=True, bfloat16=False, eigh=True, inplace=True, gpu=True
        )

    def erf(self, array: Any) -> Any:
        from cupyx.scipy.special import erf

        # its erf has no half-precision loop and answered float16 in float64 (seen on an
        # H200): computed in float32, the answer keeps the input's dtype
        widened = array.astype("float32") if array.dtype.itemsize < 4 else array
        return erf(widened).astype(array.dtype, copy=False)

    # -- the benchmark record ------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        cupy = self.load()
        if not cupy.cuda.is_available():
            return {
                "version": cupy.__version__,
                "runtime_version": None,
                "reasons": {"runtime_version": "no GPU (cupy.cuda.is_available() is False)"},
            }
        return {
            "version": cupy.__version__,
            "runtime_version": cupy.cuda.runtime.runtimeGetVersion(),
            "driver_version": cupy.cuda.runtime.driverGetVersion(),
        }

    def start_device_peak(self) -> Callable[[], int] | None:
        # CuPy keeps no peak counter. Its default pool keeps freed blocks and only grows, so
        # with its free blocks released first, its total after the block is the peak in use
        # (rounded up to block sizes; current device). The next allocations are slower.
        cupy = self.load()
        if not cupy.cuda.is_available():
            return None
        pool = cupy.get_default_memory_pool()
        pool.free_all_blocks()
        return pool.total_bytes
