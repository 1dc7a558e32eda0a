"""Special functions the array API standard lacks, answered by each framework."""

from __future__ import annotations

from typing import Any

from .frameworks import framework_of


def erf(x: Any) -> Any:
    """The error function of an array, computed by the array's own framework.

    Parameters
    ----------
    x : array
        Floating-point array of any supported backend.

    Returns
    -------
    array
        ``erf(x)``, same shape, dtype, namespace and device.
    """
    framework = framework_of(x)
    if framework is None:
        raise TypeError(f"erf: expected an array of a supported backend, got {type(x).__name__}")
    return framework.erf(x)
