"""mlpillars: ML math kernels written once against the Python array API.

Every kernel follows its inputs (NumPy in, NumPy out; a torch CUDA tensor in, a torch CUDA
tensor out) unless a backend is selected: ``backend=`` on the call, the
``use_backend(...)`` context manager, or the ``MLPILLARS_BACKEND`` environment variable,
strongest first. Importing mlpillars imports no framework.
"""

from .backends import KERNELS as _KERNELS
from .backends import (
    BackendNotInstalledError,
    NoGPUError,
    UnknownBackendError,
    available_backends,
    dask_from_npy,
    ready,
    to_backend,
    use_backend,
)
from .kernels import (
    PCA,
    GradientDescentResult,
    LeastSquaresResult,
    PCAFit,
    cosine_similarity,
    cross_entropy,
    gradient_descent,
    least_squares,
    linear,
    log_softmax,
    logsumexp,
    mlp,
    normalize,
    pca_fit,
    r_squared,
    scaled_dot_product_attention,
    sigmoid,
    softmax,
)
from .kernels.pca import pca
from .tolerances import TOLERANCES

__version__ = "0.1.0"

KERNELS = dict(_KERNELS)
"""Every public kernel by name: the list that suites and docs are generated from."""

__all__ = [
    "KERNELS",
    "PCA",
    "TOLERANCES",
    "BackendNotInstalledError",
    "GradientDescentResult",
    "LeastSquaresResult",
    "NoGPUError",
    "PCAFit",
    "UnknownBackendError",
    "available_backends",
    "cosine_similarity",
    "cross_entropy",
    "dask_from_npy",
    "gradient_descent",
    "least_squares",
    "linear",
    "log_softmax",
    "logsumexp",
    "mlp",
    "normalize",
    "pca",
    "pca_fit",
    "r_squared",
    "ready",
    "scaled_dot_product_attention",
    "sigmoid",
    "softmax",
    "to_backend",
    "use_backend",
]
