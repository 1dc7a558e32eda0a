"""NumPy's gradient descent: large MSE fits in parts on threads.

Parts on threads
----------------
B problems are independent: a fit of many of them runs as parts of the problems, each part
the kernel on its own thread (``_numpy_threads``), the fields joined after
(``_descent_fields``). The gain is the work that NumPy runs without the GIL: the batched
Gram (``X^T X``, n d^2 multiply-adds a problem) and the blocks' products by each
problem's (p x p) step map; the rest of a step is many short calls that hold the GIL, and
fits made of them (momentum, Adam, the data's loss) measured 0.8-0.94x of one call on two
threads. So only the MSE on its statistics with plain steps (the blocks:
``_descent_blocks``) runs in parts, one more part per :data:`PART_SECONDS` of that work
(:func:`parallel_seconds`), as many as ``_numpy_threads`` allows (none from another
thread than the main one, nor from within a part). Measured, one call against two parts
on this project's 2-core machine (n=512, 200 steps, float64): B=256, d=32 40 -> 21 ms,
with ``tol`` 37.5 -> 28.7 ms; B=128, d=32 20 -> 16.5 ms; B=64, n=2048, d=64 44 -> 35 ms;
below the threshold B=256, d=8 (9.6 against 11.5 ms) and B=512, n=128, d=16 (24 either).

The parts give each problem the values one call gives (the same steps), but for rounding
where the kernel decides once per call, over all its problems or by their number:
whether the statistics need a centred copy of X, whether the loop is expanded around
each problem's minimiser first (``SOLVE_FIRST_BUDGET``) or runs again around a reference,
how far the blocks' rows advance by powers of the step map (``_numpy_blocks``: as far as
every problem's powers are finite).

The buffers of its blocks of steps: ``_numpy_blocks``.
"""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np

from . import _numpy_threads
from ._descent_fields import fitted_fields, joined

GRAM_RATE = 1.4e10
"""Multiply-adds a second of the batched Gram on one core (256 of 512 x 32 float64: 9.3
ms on this project's machine)."""

STEP_SECONDS = 30e-9
STEP_SECONDS_PER_PARAMETER_PAIR = 0.19e-9
"""One problem's step in a block: a (1 x p) by (p x p) product and two updates, about
``STEP_SECONDS + p^2 STEP_SECONDS_PER_PARAMETER_PAIR`` (B = 256, 16 steps: p = 9 277 us,
p = 33 968 us, p = 65 3,287 us)."""

PART_SECONDS = 0.01
"""The work (:func:`parallel_seconds`) that each part beyond the first must bring."""


def gradient_descent(
    features: np.ndarray, targets: np.ndarray, lr: np.ndarray, options: Mapping[str, Any]
) -> tuple[np.ndarray, ...] | Any:
    """The fields of B problems' fits computed in parts on threads, or ``NotImplemented``
    where one call is as fast (see "Parts on threads" above). Arguments and fields as
    ``FusedGradientDescent`` (``mlpillars.kernels._descent_fused``) has them."""
    parts = part_count(features, lr, options)
    if parts == 1:
        return NotImplemented
    batch_size = lr.shape[0]

    def part_of(array: np.ndarray, start: int, stop: int) -> np.ndarray:
        return array[start:stop] if array.shape[0] == batch_size else array[0]  # shared

    calls = [
        functools.partial(
            fitted_fields, *(part_of(a, start, stop) for a in (features, targets, lr)), options
        )
        for start, stop in _numpy_threads.part_bounds(batch_size, parts)
    ]
    with _numpy_threads.one_blas_thread():
        return joined(_numpy_threads.side_by_side(calls))


def part_count(features: np.ndarray, lr: np.ndarray, options: Mapping[str, Any]) -> int:
    """How many parts a fit runs in: 1 but for the MSE on its statistics with plain steps,
    where one per :data:`PART_SECONDS` of :func:`parallel_seconds`, as many as
    ``_numpy_threads.threads_at_hand`` and the problems allow."""
    threads = _numpy_threads.threads_at_hand()
    if threads == 1 or not _runs_in_blocks_on_statistics(features, options):
        return 1
    n, d = features.shape[1:]
    p = d + 1 if options["fit_intercept"] else d
    seconds = parallel_seconds(lr.shape[0], features.shape[0], n, p, int(options["steps"]))
    return max(1, min(threads, lr.shape[0], 1 + int(seconds / PART_SECONDS)))


def parallel_seconds(batch_size: int, grams: int, n: int, p: int, steps: int) -> float:
    """The work of a fit that threads share, in seconds on one core: ``grams`` Grams of
    n x p (1 where X is shared, else B) and B problems' ``steps`` steps of p parameters
    (d, and the bias where there is one)."""
    step = STEP_SECONDS + STEP_SECONDS_PER_PARAMETER_PAIR * p * p
    return grams * n * p * p / GRAM_RATE + batch_size * steps * step


def _runs_in_blocks_on_statistics(features: np.ndarray, options: Mapping[str, Any]) -> bool:
    """Whether the kernel fits on the MSE's statistics in blocks of plain steps: asked
    for, or (``"auto"``) with more samples than parameters, where it chooses them (the
    kernel's own rules, ``uses_statistics`` and ``runs_in_blocks``, as far as they decide
    the time; a wrong guess costs time, not values)."""
    n, d = features.shape[1:]
    method = options["mse_method"]
    on_statistics = method == "statistics" or (method == "auto" and n > d + 1)
    plain = options["optimizer"] == "sgd" and options["momentum"] == 0
    affine = plain and options["clip_norm"] is None and options["warmup_steps"] == 0
    blocks = affine and (options["halt_on_divergence"] or options["tol"] is None)
    return options["loss"] == "mse" and on_statistics and blocks


@contextlib.contextmanager
def quiet_loop() -> Iterator[None]:
    """NumPy's overflow and invalid-value warnings off, for a step loop: a problem's
    overflow is the divergence the loop detects and reports (``diverged``), as it does on
    torch and JAX, which never warn. Blocks of steps also run past a problem's stop and
    drop those steps, whose overflow would warn of nothing the result holds."""
    with np.errstate(over="ignore", invalid="ignore"):
        yield
