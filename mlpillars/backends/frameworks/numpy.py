"""NumPy: the host, eager and in place; every other framework's data passes through it."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from .base import Framework


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

    def from_foreign(self, array: Any, source: Framework, device: Any) -> Any:
        return source.to_host(array)

    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True, float16=True, bfloat16=False, eigh=True, inplace=True, gpu=False
        )

    def erf(self, array: Any) -> Any:
        from scipy.special import erf

        return erf(array).astype(array.dtype, copy=False)  # scipy computes float16 in float64
