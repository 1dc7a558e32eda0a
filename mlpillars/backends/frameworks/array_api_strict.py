"""array-api-strict: the standard and nothing more, to catch non-portable code."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import numpy as np

from .._capabilities import Capabilities
from . import _numpy_special
from .base import Framework, unknown_device


class ArrayApiStrictFramework(Framework):
    name = "array_api_strict"
    module_name = "array_api_strict"
    extra = "strict"

    def owns(self, array: object) -> bool:
        return type(array).__module__.startswith("array_api_strict")

    def namespace(self) -> ModuleType:
        return self.load()

    def resolve_device(self, spec: str | None) -> Any:
        if spec in (None, "cpu", "CPU_DEVICE"):
            return self.load().Device("CPU_DEVICE")
        raise unknown_device(self, spec)

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        return self.load().asarray(host, device=device)

    def to_host(self, array: Any) -> np.ndarray:
        return np.from_dlpack(array)

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=False, bfloat16=False, eigh=True, inplace=True, gpu=False
        )

    def erf(self, array: Any) -> Any:
        """NumPy's (``_numpy_special``), on a host copy."""
        return self.from_host(_numpy_special.erf(self.to_host(array)), array.device)
