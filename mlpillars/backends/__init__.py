"""Everything that knows a framework by name: registry, selection, movement, dispatch.

Importing this package imports no framework; each is imported the first time it is used.
"""

from ._availability import BackendStatus, available_backends
from ._capabilities import Capabilities
from ._dataframes import OUTPUTS as DATAFRAME_OUTPUTS
from ._dataframes import feature_names_of, numbers_of_objects, wrapped_output
from ._dispatch import KERNELS, kernel
from ._dtypes import COMPUTED_FLOATING, is_dtype
from ._errors import (
    BackendNotInstalledError,
    MixedNamespacesError,
    NoGPUError,
    UnknownBackendError,
)
from ._gradients import relu, without_gradient
from ._linalg import EighResult, QRResult, SVDResult, eigh, qr, solve_triangular, svd
from ._loops import branch, loops_compiled, run_loop
from ._movement import (
    device_of,
    host_arrays,
    materialize,
    move_to,
    ready,
    to_backend,
    values_at_hand,
    values_in_reach,
    values_known,
    values_readable,
)
from ._registry import static_fields
from ._selection import ENV_VARIABLE, Target, parse_backend, selected_target, use_backend
from ._special import (
    block_buffers,
    erf,
    extremes,
    largest_magnitude,
    layer_operands,
    quiet_arithmetic,
    reduce_max,
    row_major,
    vecdot,
)
from .frameworks import (
    FRAMEWORKS,
    Framework,
    framework_of,
    full_float32_products,
    one_device_per_cpu,
)
from .frameworks._mean_rule import halved_label_losses, mean_of_losses
from .frameworks._rank_rule import dependence_bound, rank_tolerance
from .frameworks.base import StepLoop
from .frameworks.dask import from_npy as dask_from_npy
from .frameworks.dask import from_zarr as dask_from_zarr
from .frameworks.dask import write_normal_zarr as dask_write_normal_zarr

__all__ = [
    "COMPUTED_FLOATING",
    "DATAFRAME_OUTPUTS",
    "ENV_VARIABLE",
    "FRAMEWORKS",
    "KERNELS",
    "BackendNotInstalledError",
    "BackendStatus",
    "Capabilities",
    "EighResult",
    "Framework",
    "MixedNamespacesError",
    "NoGPUError",
    "QRResult",
    "SVDResult",
    "StepLoop",
    "Target",
    "UnknownBackendError",
    "available_backends",
    "block_buffers",
    "branch",
    "dask_from_npy",
    "dask_from_zarr",
    "dask_write_normal_zarr",
    "dependence_bound",
    "device_of",
    "eigh",
    "erf",
    "extremes",
    "feature_names_of",
    "framework_of",
    "full_float32_products",
    "halved_label_losses",
    "host_arrays",
    "is_dtype",
    "kernel",
    "largest_magnitude",
    "layer_operands",
    "loops_compiled",
    "materialize",
    "mean_of_losses",
    "move_to",
    "numbers_of_objects",
    "one_device_per_cpu",
    "parse_backend",
    "qr",
    "quiet_arithmetic",
    "rank_tolerance",
    "ready",
    "reduce_max",
    "relu",
    "row_major",
    "run_loop",
    "selected_target",
    "solve_triangular",
    "static_fields",
    "svd",
    "to_backend",
    "use_backend",
    "values_at_hand",
    "values_in_reach",
    "values_known",
    "values_readable",
    "vecdot",
    "without_gradient",
    "wrapped_output",
]
