"""What a backend can do on one device, as a plain record."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(frozen=True)
class Capabilities:
    """Capability record of one backend on one device.

    Attributes
    ----------
    float64, float16, bfloat16 : bool
        Whether arrays of that dtype can be created and computed with.
    eigh : bool
        Whether the namespace has ``linalg.eigh``.
    inplace : bool
        Whether arrays may be updated in place (JAX and Dask arrays may not).
    gpu : bool
        Whether the device is a GPU.
    """

    float64: bool
    float16: bool
    bfloat16: bool
    eigh: bool
    inplace: bool
    gpu: bool

    def as_dict(self) -> dict[str, bool]:
        """Return the record as a ``{name: bool}`` dictionary."""
        return asdict(self)
