"""Loop baselines: a pure-Python loop and a Numba ``@njit`` loop per kernel.

A :class:`Baseline` holds both for one public kernel, with the same arguments where they
make sense. The benchmark catalogue (:mod:`mlpillars.bench.catalogue`) says which kernel has
which baseline, and offers them by kernel name as ``BASELINES``::

    from mlpillars.bench.catalogue import BASELINES
    baseline = BASELINES["softmax"]
    baseline.python(x, temperature=0.5)          # lists and floats inside the loops
    seconds = baseline.compile_numba(x, temperature=0.5)   # compile, apart from any timing
    baseline.numba(x, temperature=0.5)           # compiled already: runs only

Supported subset (both implementations; anything else raises ``ValueError`` or
``TypeError``):

============================  ==============================================================
kernel                        subset
============================  ==============================================================
linear                        x (..., in), weight (in, out), bias (out,) or None; activation
                              by name (None, relu, gelu, gelu_tanh, sigmoid, tanh), no
                              callables
mlp                           as linear for every layer
softmax, log_softmax          last axis only (any leading shape); temperature
cross_entropy                 class axis last; integer labels (...) or probabilities
                              (..., C); reduction mean / sum / none
cosine_similarity             as the kernel: (n, d) or (d,) against (m, d) or (d,)
scaled_dot_product_attention  q (..., L, E), k (..., S, E), v (..., S, Ev) with equal
                              leading dimensions (no broadcasting, no GQA); mask (L, S) or
                              (..., L, S), boolean (True = attend) or additive; is_causal
                              (top-left, may combine with mask); scale; no dropout
gradient_descent              loss="mse"; X (n, d) with y (n,), or B problems X (B, n, d)
                              with y (B, n); one scalar lr; sgd without momentum, no l2,
                              tol, warm-up, clipping or halt on divergence; returns
                              (weights (..., d), intercept (...)) instead of a result object
pca                           X (n, d); returns the projection (n, k) (no whiten, no
                              solver choice); centred covariance by loops, eigenvectors by
                              a cyclic Jacobi loop (no LAPACK), signs as scikit-learn
pca_fit                       X (n, d); as pca, returns (components, explained_variance,
                              explained_variance_ratio, singular_values, mean) instead of
                              a PCAFit
least_squares                 X (n, d) with y (n,), or B problems X (B, n, d) with y (B, n);
                              fit_intercept; modified Gram-Schmidt QR of the centred X;
                              returns (weights (..., d), intercept (...))
r_squared                     y_true and y_pred of one shape (..., n); along the last axis
============================  ==============================================================

Dtypes: the Python loops compute in Python floats (float64) and return float64 arrays;
they take arrays, convert them once with ``.tolist()`` before the loops and build the
result once after (part of each call: O(input) at C speed). The Numba loops take float32
or float64 (integers become float64) and return the same dtype; their accumulators start
from ``dtype.type(0)`` and their constants are cast to the dtype, so float32 is summed in
float32 like the array backends (sequential sums: no pairwise summation, no FMA), not
silently in float64 as a loop starting from ``s = 0.0`` would be. The Numba loops run on
one thread with IEEE semantics (no ``parallel=True``, no ``fastmath``, which would let
LLVM reorder sums and assume no inf, breaking the ``-inf`` masks).

Compilation: Numba is imported only when ``.numba`` is first used. The cores use
``cache=False``, so each process compiles, and ``compile_numba`` measures the real compile
time from Numba's own compile events (the one run it makes on the example arguments is
not counted). Call it with arguments of each dtype to be timed, before any timed round;
a kernel whose cores another kernel compiled already (mlp runs linear's core) reports 0.0.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Baseline", "numba_installed"]


@dataclass(frozen=True)
class Baseline:
    """The two loop implementations of one kernel.

    Attributes
    ----------
    name : str
        The public kernel's name, e.g. ``"softmax"``.
    python : callable
        The pure-Python loop: arrays in, float64 NumPy arrays out.
    subset : str
        What the baselines support of the kernel's arguments.
    numba_module : str
        The submodule of this package that holds the Numba version, under ``name``.
    compile_seconds : dict of str to float
        Compile time of each argument signature compiled by :meth:`compile_numba`.
    """

    name: str
    python: Callable[..., Any]
    subset: str
    numba_module: str
    compile_seconds: dict[str, float] = field(default_factory=dict, compare=False)

    @classmethod
    def of(cls, python: Callable[..., Any], subset: str) -> Baseline:
        """The baseline whose pure-Python loop is ``python``.

        The kernel's name is the function's, and the Numba loop of the same name lies in
        the sibling ``numba_*`` module of its ``python_*`` module.
        """
        module = python.__module__.rpartition(".")[2]
        return cls(python.__name__, python, subset, module.replace("python_", "numba_", 1))

    @property
    def numba(self) -> Callable[..., Any]:
        """The Numba loop (imports Numba on first use): arrays in, input-dtype arrays out.

        Raises ``ModuleNotFoundError`` when Numba is not installed (see
        :func:`numba_installed`).
        """
        module = importlib.import_module(f"{__name__}.{self.numba_module}")
        return getattr(module, self.name)

    def compile_numba(self, *args: Any, **kwargs: Any) -> float:
        """Compile the Numba loop for these arguments' types; return the compile seconds.

        Runs the Numba version once on the arguments (use small ones) and returns the
        time Numba spent compiling during that run: 0.0 when every signature was compiled
        already. The run itself is not counted, nor is importing Numba.

        Parameters
        ----------
        *args, **kwargs
            Example arguments, as for :attr:`numba`.

        Returns
        -------
        float
            Seconds of compilation, also stored in :attr:`compile_seconds`.
        """
        numba_function = self.numba
        from numba.core import event

        with event.install_recorder("numba:compile") as recorder:
            numba_function(*args, **kwargs)
        seconds = _outermost_seconds(recorder.buffer)
        if seconds > 0.0:
            self.compile_seconds[argument_signature(args, kwargs)] = seconds
        return seconds


def numba_installed() -> bool:
    """Whether Numba can be imported here (checked without importing it)."""
    return importlib.util.find_spec("numba") is not None


def argument_signature(args: tuple[Any, ...], kwargs: dict[str, Any]) -> str:
    """A short text of the arguments' types, e.g. ``"float32[2d], float32[2d]"``."""

    def describe(value: Any) -> str:
        if isinstance(value, np.ndarray):
            return f"{value.dtype}[{value.ndim}d]"
        if isinstance(value, (list, tuple)):
            return "[" + ", ".join(map(describe, value)) + "]"
        return type(value).__name__

    described = [describe(value) for value in args]
    described += [f"{name}={describe(value)}" for name, value in sorted(kwargs.items())]
    return ", ".join(described)


def _outermost_seconds(records: Iterable[tuple[float, Any]]) -> float:
    """Total time inside outermost ``numba:compile`` events (nested compiles of callees
    happen inside their caller's compile and are not counted twice)."""
    depth, started, total = 0, 0.0, 0.0
    for timestamp, compile_event in records:
        if compile_event.is_start:
            depth += 1
            if depth == 1:
                started = timestamp
        else:
            depth -= 1
            if depth == 0:
                total += timestamp - started
    return total
