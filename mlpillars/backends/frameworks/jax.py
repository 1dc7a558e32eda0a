"""JAX on CPU and GPU: device placement, 64-bit mode, ``jax.jit``, its settings and device
peak, and its fused kernels."""

from __future__ import annotations

from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from .._errors import NoGPUError
from .base import Framework, device_index, unknown_device


class JaxFramework(Framework):
    name = "jax"
    module_name = "jax"
    extra = "jax"
    device_kinds = ("cpu", "gpu")
    gpu_capable = True
    compiler = "jax.jit"

    def owns(self, array: object) -> bool:
        return aac.is_jax_array(array)

    def namespace(self) -> ModuleType:
        self.load()
        import jax.numpy as xp

        return xp

    # -- devices -------------------------------------------------------------------------
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
            raise unknown_device(self, spec)
        devices = self._platform_devices(platform)
        if not devices:
            raise NoGPUError(
                f"jax:{spec} was asked for but no GPU was found "
                "(jax.devices('gpu') found none); use jax:cpu"
            )
        index = device_index(spec)
        if index >= len(devices):
            raise unknown_device(self, spec)
        return devices[index]

    def is_gpu(self, device: Any) -> bool:
        return getattr(device, "platform", "cpu") in ("gpu", "cuda", "rocm")

    # -- moving arrays -------------------------------------------------------------------
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

    # -- what it can do ----------------------------------------------------------------------
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

    def compile(self, function: Callable[..., Any]) -> Callable[..., Any]:
        return self.load().jit(function)

    def trace_errors(self) -> tuple[type[BaseException], ...]:
        # value checks (label ranges, divergence halts) on traced arrays raise these
        return (self.load().errors.JAXTypeError, TypeError, ValueError)

    # -- the benchmark record ------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        jax = self.load()
        return {
            "version": jax.__version__,
            "enable_x64": bool(jax.config.jax_enable_x64),
            "default_matmul_precision": jax.config.jax_default_matmul_precision,
            "default_backend": jax.default_backend(),
            "devices": [str(device) for device in jax.devices()],
        }

    def start_device_peak(self) -> Callable[[], int] | None:
        # XLA cannot reset its peak: this is the process's peak so far, the block's peak
        # only when it is the highest the process has seen.
        gpus = [device for device in self.load().devices() if self.is_gpu(device)]
        if not gpus:
            return None
        return lambda: sum(
            (device.memory_stats() or {}).get("peak_bytes_in_use", 0) for device in gpus
        )
