"""Dask: lazy arrays on the host; computing is waiting, ``persist`` keeps loops shallow, and
the linear algebra Dask lacks or restricts is answered here."""

from __future__ import annotations

from types import ModuleType
from typing import Any

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from .base import Framework


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

    def eigh(self, matrix: Any) -> tuple[Any, Any]:
        # Dask has no eigh: the matrix (a small (d, d) one in practice) is decomposed on
        # NumPy and the result put back on Dask.
        eigenvalues, eigenvectors = np.linalg.eigh(self.to_host(matrix))
        return self.from_host(eigenvalues, None), self.from_host(eigenvectors, None)

    def svd(self, matrix: Any) -> tuple[Any, Any, Any]:
        # Dask's TSQR takes one chunk across the shorter axis; the longer one stays chunked.
        # S and the small square factor are computed at once and kept (each later use would
        # rerun the SVD); the factor as large as the matrix stays lazy.
        import dask

        tall = matrix.shape[0] >= matrix.shape[1]
        rechunked = matrix.rechunk({1 if tall else 0: -1})
        U, S, Vh = self.namespace().linalg.svd(rechunked, full_matrices=False)
        if tall:
            S, Vh = dask.persist(S, Vh)
        else:
            U, S = dask.persist(U, S)
        return U, S, Vh
