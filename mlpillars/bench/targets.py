"""The goals the ``targets`` suite's cases are held to: issue 9's table, row by row, and
the names and shapes of those cases.

Each :class:`Target` names a case by its kernel and variant (the variants themselves, with
their inputs, are the catalogue's: :mod:`.catalogue.variants`, which takes the names and
sizes from here), our kernel on one backend, what it is measured against (a native call, or
our kernel on NumPy) and the bound. The report reads them (:mod:`.report.targets`; it
imports no kernel, so this module imports none) and says, per target, the measured ratio or
overhead and whether it is met.
"""

from __future__ import annotations

from dataclasses import dataclass

TARGET_ROWS = 256
"""Rows of the linear target: x (256, n) @ weight (n, n)."""
TARGET_PROBLEMS, TARGET_FEATURES, TARGET_STEPS = 256, 32, 200
"""Batched gradient descent target: B problems of n samples and d features, 200 steps."""

UNIT_TEMPERATURE = "temperature 1"
"""softmax and log_softmax 4096x4096 float32 at the default temperature."""
EIGHT_ROWS = "8 rows"
"""softmax on 8x16 float64: the overhead of a call."""
LINEAR_VARIANTS = {
    activation: f"{activation}, {TARGET_ROWS} rows" for activation in ("relu", "gelu")
}
"""linear 256x1024 @ 1024x1024 float32 + ReLU or GELU, by activation."""
DESCENT_VARIANTS = {
    loss: f"{loss}, B={TARGET_PROBLEMS} d={TARGET_FEATURES} {TARGET_STEPS} steps"
    for loss in ("mse", "logistic")
}
"""Batched gradient descent B=256 n=512 d=32 200 steps float64, by loss."""

NUMPY, TORCH, JAX = "numpy:cpu", "torch:cpu", "jax:cpu"
"""Our kernel's backends in the table (a JAX row names its device, ``jax:cpu:0``)."""


@dataclass(frozen=True)
class Target:
    """median(ours) / median(against) at most ``at_most``, or median(ours) -
    median(against) at most ``overhead_at_most`` seconds, for the case of ``kernel``'s
    ``variant``.

    Attributes
    ----------
    ours : str
        The backend our kernel runs on (eager or jitted as the harness times it, not a
        separately compiled form such as ``torch.compile``).
    against : str
        An implementation's name in the run: a native call (``"torch.addmm"``, a loop) or
        our kernel on :data:`NUMPY`.
    """

    kernel: str
    variant: str
    ours: str
    against: str
    at_most: float | None = None
    overhead_at_most: float | None = None

    def is_ours(self, implementation: str) -> bool:
        """Whether an implementation's name is our kernel on :attr:`ours`: ``jax:cpu:0``
        runs on ``jax:cpu``; ``torch.compile:cpu`` is not ``torch:cpu``."""
        return implementation == self.ours or implementation.startswith(self.ours + ":")

    def met_by(self, value: float) -> bool:
        """Whether a measured ratio (or overhead in seconds) meets the bound."""
        if self.overhead_at_most is not None:
            return value <= self.overhead_at_most
        assert self.at_most is not None
        return value < 1 if self.at_most == 1 else value <= self.at_most


_UNIT, _OVERHEAD = UNIT_TEMPERATURE, EIGHT_ROWS
_RELU, _GELU = LINEAR_VARIANTS["relu"], LINEAR_VARIANTS["gelu"]
_MSE, _LOGISTIC = DESCENT_VARIANTS["mse"], DESCENT_VARIANTS["logistic"]

TARGETS: tuple[Target, ...] = (
    Target("softmax", _UNIT, NUMPY, "scipy.special.softmax", at_most=0.67),
    Target("softmax", _UNIT, TORCH, "torch.softmax", at_most=1.05),
    Target("softmax", _UNIT, JAX, "jax.nn.softmax", at_most=1.05),
    Target("log_softmax", _UNIT, TORCH, "torch.log_softmax", at_most=1.05),
    Target("log_softmax", _UNIT, JAX, "jax.nn.log_softmax", at_most=1.05),
    Target("linear", _RELU, TORCH, "torch.addmm", at_most=1.05),
    Target("linear", _GELU, TORCH, "torch.addmm", at_most=1.05),
    Target("linear", _RELU, NUMPY, "plain numpy", at_most=1.05),
    Target("softmax", _OVERHEAD, NUMPY, "plain numpy", overhead_at_most=3e-6),
    Target("gradient_descent", _MSE, NUMPY, "numpy loop over problems", at_most=0.05),
    Target("gradient_descent", _MSE, NUMPY, "numba", at_most=1),
    Target("gradient_descent", _LOGISTIC, NUMPY, "numpy loop over problems", at_most=1),
    *(
        target
        for variant in (_MSE, _LOGISTIC)
        for target in (
            Target("gradient_descent", variant, JAX, NUMPY, at_most=1),
            Target("gradient_descent", variant, TORCH, NUMPY, at_most=1.5),
        )
    ),
)
"""Issue 9's targets table (softmax and log_softmax 4096x4096 float32, softmax 8x16 float64,
linear 256x1024 @ 1024x1024 float32 + ReLU / GELU, gradient descent B=256 n=512 d=32 200
steps float64)."""
