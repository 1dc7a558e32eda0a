"""The kernels, by pillar. Each module is the formula in array-API calls.

- linear algebra: :mod:`.linalg` (linear, mlp, cosine_similarity, normalize), :mod:`.pca`
- calculus: :mod:`.descent` (gradient_descent), :mod:`.regression`
  (least_squares, r_squared)
- probability: :mod:`.probability` (softmax, log_softmax, logsumexp, sigmoid, cross_entropy),
  :mod:`.attention` (scaled_dot_product_attention)
"""

from .activations import ACTIVATIONS
from .attention import scaled_dot_product_attention
from .descent import GradientDescentResult, gradient_descent

# Next to gradient_descent, so that KERNELS (in import order) lists the calculus pillar together.
from .regression import LeastSquaresResult, least_squares, r_squared  # isort: skip
from .linalg import cosine_similarity, linear, mlp, normalize
from .pca import PCA, PCAFit, pca_fit  # not the function pca: it would hide the module
from .probability import cross_entropy, log_softmax, logsumexp, sigmoid, softmax

__all__ = [
    "ACTIVATIONS",
    "PCA",
    "GradientDescentResult",
    "LeastSquaresResult",
    "PCAFit",
    "cosine_similarity",
    "cross_entropy",
    "gradient_descent",
    "least_squares",
    "linear",
    "log_softmax",
    "logsumexp",
    "mlp",
    "normalize",
    "pca_fit",
    "r_squared",
    "scaled_dot_product_attention",
    "sigmoid",
    "softmax",
]
