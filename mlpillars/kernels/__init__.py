"""The kernels, by pillar. Each module is the formula in array-API calls.

- linear algebra: :mod:`.linalg` (linear, mlp, cosine_similarity, normalize)
- probability: :mod:`.probability` (softmax, log_softmax, logsumexp, sigmoid, cross_entropy)
"""

from .activations import ACTIVATIONS
from .linalg import cosine_similarity, linear, mlp, normalize
from .probability import cross_entropy, log_softmax, logsumexp, sigmoid, softmax

__all__ = [
    "ACTIVATIONS",
    "cosine_similarity",
    "cross_entropy",
    "linear",
    "log_softmax",
    "logsumexp",
    "mlp",
    "normalize",
    "sigmoid",
    "softmax",
]
