"""array-api-strict: the standard and nothing more, to catch non-portable code."""

from __future__ import annotations

from types import ModuleType
from typing import Any, ClassVar

import numpy as np

from .._capabilities import Capabilities
from . import _numpy_descent, _numpy_special
from .base import Framework, StepLoop, unknown_device


class ArrayApiStrictFramework(Framework):
    name = "array_api_strict"
    module_name = "array_api_strict"
    extra = "strict"
    # array-api-strict's second device plays a GPU where there is none: its arrays cannot
    # be combined with CPU_DEVICE ones (as torch's CUDA tensors cannot with CPU ones), and
    # reading their values counts as a device sync (``values_known``), so the tests run
    # there take the paths a GPU takes
    device_kinds = ("cpu", "device1")
    # device1 in float64 only: where an array is made does not depend on the dtype, and
    # CI's time is the limit (float32's own branches run on CPU_DEVICE)
    device_dtypes: ClassVar[dict[str, tuple[str, ...]]] = {"device1": ("float64",)}

    def owns(self, array: object) -> bool:
        return type(array).__module__.startswith("array_api_strict")

    def namespace(self) -> ModuleType:
        return self.load()

    def resolve_device(self, spec: str | None) -> Any:
        if spec in (None, "cpu", "CPU_DEVICE"):
            return self.load().Device("CPU_DEVICE")
        if spec in ("device1", "device2"):
            return self.load().Device(spec)
        raise unknown_device(self, spec)

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        return self.load().asarray(host, device=device)

    def to_host(self, array: Any) -> np.ndarray:
        return np.from_dlpack(array)

    def values_known(self, array: Any) -> bool:
        """False on device1 and device2, the stand-ins for a GPU (reading would sync)."""
        return array.device == self.resolve_device("cpu")

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=False, bfloat16=False, eigh=True, inplace=True, gpu=False
        )

    def quiet_arithmetic(self) -> Any:
        """The overflow and invalid-value warnings of the NumPy underneath off."""
        return np.errstate(over="ignore", invalid="ignore")

    def erf(self, array: Any) -> Any:
        """NumPy's (``_numpy_special``), on a host copy."""
        return self.from_host(_numpy_special.erf(self.to_host(array)), array.device)

    def run_loop(self, loop: StepLoop, state: Any, constants: Any) -> tuple[Any, Any, Any]:
        """The eager loop, without the overflow warnings of the NumPy underneath
        (``_numpy_descent.quiet_loop``)."""
        with _numpy_descent.quiet_loop():
            return super().run_loop(loop, state, constants)
