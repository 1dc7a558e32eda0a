"""A differential probe of the kernels under the frameworks' transforms: each transformed
call against the same call made eagerly on its backend, and each eager call against an
extended-precision NumPy reference.

Each case draws one public kernel's call (every kernel of ``mlpillars.KERNELS``) on random
or edge inputs: size-1 axes, empty batch axes where the kernel allows them, 0-d arrays
where it allows them, magnitudes of 1e30 and 1e-30 (float32, bfloat16), 1e300 and 1e-300
(float64), data far from zero (1e6 + small noise), zero vectors, attention masks with
rows that may attend to no key, class labels at the bounds 0 and C - 1; in float64,
float32, float16 and bfloat16 (the inputs rounded to the dtype). It runs under

- ``numpy``, ``torch``, ``jax``: eager calls, each against a reference computed from the
  same rounded values in ``np.longdouble`` (float64 for PCA's and least squares' LAPACK
  factorisations), rounded back to the dtype (inf past its range);
- ``torch.compile``: ``torch.compile(fullgraph=True, dynamic=False)``, against torch's
  eager call;
- ``jax.jit``: against JAX's eager call;
- ``jax.vmap``: ``jax.jit(jax.vmap(call))`` over a leading batch axis of the first argument
  (the drawn array and a permutation of its entries), against a Python loop of JAX's eager
  calls (inside ``jit``, as tests/test_transforms.py: JAX's op-by-op vmap costs seconds);
- ``grad``: ``jax.grad`` of the sum of every floating output, in float64, with respect to
  every floating argument (not masks), against torch autograd of the same sum.

Results agree when they pass the tolerance table (:mod:`mlpillars.tolerances`), whose rule
also asks equal infinities and NaN against NaN: a NaN or inf pattern that differs is a
disagreement. An exception is one too (the probe draws only valid calls). Run from the
repository root:

    PYTHONPATH=. python scripts/probe_transforms.py [--seed 0] [--cases 40]
        [--kernels softmax attention ...] [--compile-backend inductor]

It prints each disagreement (kernel, inputs, transform, max error) and their count.
Compiling is slow on a small machine (inductor: 3-25 s a case on two cores); ``--cases``
bounds it, ``--compile-backend aot_eager`` skips code generation, ``--no-compile`` skips it.

Known cases, left out of the comparisons (documented, not bugs):

- attention whose scores (or float mask entries) pass the dtype's range: eagerly on a CPU
  the kernel computes them in range (:mod:`mlpillars.kernels._attention_range`); inside
  ``jax.jit``, ``jax.vmap`` and ``torch.compile`` the values are not read and the output
  is the framework's own attention's, as the kernel's docstring says. Traced results of
  such cases are not compared.
- attention rows whose scores are too large for the dtype to resolve their differences
  (``eps max|s q.k|`` or ``eps max|mask|`` above 1e-3) are held against the reference only
  where resolved (as scripts/probe_probability.py does).
- Gradients are compared where both frameworks give them; a convention at a point where
  the kernel is not differentiable is the kernel's on both (they run the same formula).

Found (2027-01, seeds 0-2, 40 cases each, inductor; 5-50 s a case on two busy cores):
``jax.grad`` of ``pca_fit`` (covariance solver) NaN for data of 1e30 (seed 0, case 26,
bfloat16 X (5, 3), k=1) where torch's autograd is finite: JAX's derivative rule of
``eigh`` divides by ``(1 + w_i) - w_i`` on its diagonal, 0 for eigenvalues past 2 / eps
(float64 variances of 1e20, float32 of 1e8); fixed (JAX's eigh sees the matrix scaled to
order 1), see tests/test_gradients.py. Seeds 1 and 2 then found nothing (a NaN
explained-variance ratio of float64 data of 1e300 was this probe's reference squaring
singular values past the range).
"""

from __future__ import annotations

import argparse
import math
import time
import traceback
import warnings
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ml_dtypes
import numpy as np
import scipy.special

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS
from mlpillars.tolerances import tolerance_for, within_tolerance

LD = np.longdouble
DTYPES = ("float64", "float32", "float16", "bfloat16")
DTYPE_WEIGHTS = (0.4, 0.4, 0.1, 0.1)
TRANSFORMS = ("numpy", "torch", "torch.compile", "jax", "jax.jit", "jax.vmap", "grad")

LARGE = {"float64": 1e300, "float32": 1e30, "bfloat16": 1e30, "float16": 1e4}
TINY = {"float64": 1e-300, "float32": 1e-30, "bfloat16": 1e-30, "float16": 1e-3}
OFFSET = {"float64": (1e6, 1e-3), "float32": (1e6, 1.0), "bfloat16": (10.0, 1.0)}
OFFSET["float16"] = (100.0, 1.0)


@dataclass
class Case:
    """One kernel call.

    Attributes
    ----------
    call : callable
        Arrays of one backend in, a tuple of floating arrays out.
    hosts : list of ndarray
        The call's arrays: floating ones as float64 already rounded to ``dtype`` (they are
        given to the backends in ``dtype``), integer and boolean ones as they are.
    reference : callable or None
        ``hosts`` in, the expected results (longdouble or float64) out.
    wrt : tuple of int
        The arguments differentiated (floating, not masks); empty: no gradient.
    traced_differs : str
        Why traced results are not compared with eager ones ('' where they are).
    resolved : callable or None
        Outputs in, a boolean mask of the entries the reference holds them to.
    """

    kernel: str
    label: str
    dtype: str
    call: Callable[..., tuple[Any, ...]]
    hosts: list[np.ndarray]
    reference: Callable[..., tuple[Any, ...]] | None
    wrt: tuple[int, ...] = (0,)
    traced_differs: str = ""
    resolved: Callable[[list[np.ndarray]], list[np.ndarray]] | None = None


# -- inputs ----------------------------------------------------------------------------------


def rounded(x: Any, dtype: str) -> np.ndarray:
    """``x`` rounded to ``dtype`` (inf past its range), as float64."""
    target = ml_dtypes.bfloat16 if dtype == "bfloat16" else np.dtype(dtype)
    with np.errstate(over="ignore", invalid="ignore"):
        return np.asarray(x, dtype=np.float64).astype(target).astype(np.float64)


def values(rng: np.random.Generator, shape: tuple[int, ...], dtype: str, kind: str) -> np.ndarray:
    """Floating values of one kind, rounded to ``dtype``."""
    noise = rng.standard_normal(shape)
    if kind == "large":
        x = LARGE[dtype] * noise
    elif kind == "tiny":
        x = TINY[dtype] * noise
    elif kind == "offset":
        offset, spread = OFFSET[dtype]
        x = offset + spread * noise
    else:
        x = noise
    return rounded(x, dtype)


def kind_of(rng: np.random.Generator, kinds: tuple[str, ...] = ()) -> str:
    return str(rng.choice(kinds or ("normal", "normal", "large", "tiny", "offset")))


def pick(rng: np.random.Generator, options: list[Any]) -> Any:
    return options[int(rng.integers(0, len(options)))]


# -- references (longdouble) -----------------------------------------------------------------


def _axes(axis: Any, ndim: int) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    return tuple(a % ndim for a in (axis if isinstance(axis, tuple) else (axis,)))


def log_softmax_ref(x: np.ndarray, axis: Any, temperature: float = 1.0) -> np.ndarray:
    x = x.astype(LD)
    if x.size == 0:
        return x
    axes = _axes(axis, x.ndim)
    shifted = (x - x.max(axis=axes, keepdims=True)) / LD(temperature)
    return shifted - np.log(np.exp(shifted).sum(axis=axes, keepdims=True))


def logsumexp_ref(x: np.ndarray, axis: Any, keepdims: bool) -> np.ndarray:
    x = x.astype(LD)
    axes = _axes(axis, x.ndim)
    if x.size == 0:
        shape = [1 if i in axes else n for i, n in enumerate(x.shape)]
        result = np.full(shape, -np.inf, dtype=LD)
        return result if keepdims else np.squeeze(result, axis=axes)
    top = x.max(axis=axes, keepdims=True)
    safe = np.where(np.isfinite(top), top, 0)
    is_max = x == top
    rest = np.where(is_max, 0, np.exp(x - safe)).sum(axis=axes, keepdims=True)
    result = np.log1p(rest + is_max.sum(axis=axes, keepdims=True) - 1) + safe
    result = np.where(np.isfinite(top), result, top)
    return result if keepdims else np.squeeze(result, axis=axes)


def sigmoid_ref(x: np.ndarray) -> np.ndarray:
    with np.errstate(over="ignore"):
        return 1 / (1 + np.exp(-x.astype(LD)))


def cross_entropy_ref(logits: np.ndarray, target: np.ndarray, reduction: str) -> np.ndarray:
    log_probs = log_softmax_ref(logits, -1)
    if target.dtype.kind in "iu":
        losses = -np.take_along_axis(log_probs, target[..., None], axis=-1)[..., 0]
    else:
        losses = -np.where(target == 0, 0, target.astype(LD) * log_probs).sum(axis=-1)
    if reduction == "none":
        return losses
    if reduction == "sum":
        return losses.sum()
    return (losses / losses.size).sum()


def activation_ref(x: np.ndarray, activation: str | None) -> np.ndarray:
    x = x.astype(LD)
    with np.errstate(over="ignore", invalid="ignore"):
        if activation == "relu":
            return np.maximum(x, 0)
        if activation == "gelu":
            erf = scipy.special.erf(np.asarray(x / np.sqrt(LD(2)), dtype=np.float64))
            return 0.5 * x * (1 + erf.astype(LD))
        if activation == "gelu_tanh":
            inner = np.sqrt(LD(2) / LD(np.pi)) * (x + LD(0.044715) * x**3)
            return 0.5 * x * (1 + np.tanh(inner))
        if activation == "sigmoid":
            return sigmoid_ref(x)
        if activation == "tanh":
            return np.tanh(x)
    return x


def linear_ref(x: np.ndarray, w: np.ndarray, b: Any, activation: str | None) -> np.ndarray:
    with np.errstate(over="ignore", invalid="ignore"):
        out = x.astype(LD) @ w.astype(LD)
        if b is not None:
            out = out + b.astype(LD)
    return activation_ref(out, activation)


def normalize_ref(x: np.ndarray, axis: int) -> np.ndarray:
    x = x.astype(LD)
    top = np.max(np.abs(x), axis=axis, keepdims=True, initial=0)
    scaled = x / np.where(top == 0, 1, top)
    norm = np.sqrt((scaled**2).sum(axis=axis, keepdims=True))
    return np.where(top == 0, 0, scaled / np.where(norm == 0, 1, norm))


def cosine_ref(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    unit_a = normalize_ref(np.atleast_2d(a), -1)
    unit_b = normalize_ref(np.atleast_2d(b), -1)
    result = np.clip(unit_a @ unit_b.T, -1, 1)
    if a.ndim == 1:
        result = result[0]
    if b.ndim == 1:
        result = result[..., 0]
    return result


def attention_ref(q, k, v, mask, scale, is_causal) -> tuple[np.ndarray, np.ndarray]:
    """The output, and the largest score magnitude of each row (what rounding moves)."""
    q, k, v = (a.astype(LD) for a in (q, k, v))
    scale = 1 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = np.einsum("...qe,...ke->...qk", q, k) * LD(scale)
    spread = np.einsum("...qe,...ke->...qk", np.abs(q), np.abs(k)) * abs(scale)
    allowed = np.ones(scores.shape, dtype=bool)
    if mask is not None and mask.dtype == bool:
        allowed = allowed & mask
    elif mask is not None:
        scores = scores + mask.astype(LD)
        spread = spread + np.where(np.isfinite(mask), np.abs(mask), 0)
    if is_causal:
        allowed = allowed & np.tril(np.ones(scores.shape[-2:], dtype=bool))
    scores = np.where(allowed, scores, -np.inf)
    top = scores.max(axis=-1, keepdims=True, initial=-np.inf)
    weights = np.exp(scores - np.where(np.isfinite(top), top, 0))
    total = weights.sum(axis=-1, keepdims=True)
    weights = weights / np.where(total == 0, 1, total)
    output = np.einsum("...qk,...kv->...qv", weights, v)
    spread = np.where(np.isfinite(scores), spread, 0).max(axis=-1, initial=0)
    return output, spread


def svd_flip_rows(vt: np.ndarray) -> np.ndarray:
    """scikit-learn's signs: each row's entry of largest magnitude positive."""
    largest = np.take_along_axis(vt, np.argmax(np.abs(vt), axis=1)[:, None], axis=1)
    return vt * np.where(largest < 0, -1.0, 1.0)


def pca_fit_ref(X: np.ndarray, k: int) -> tuple[np.ndarray, ...]:
    mean = X.astype(LD).mean(axis=0)
    centred = np.asarray(X.astype(LD) - mean, dtype=np.float64)
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    with np.errstate(over="ignore"):
        variance = s**2 / (X.shape[0] - 1)  # inf past the range, as the kernel's
    relative = (s / s[0]) ** 2 if s[0] > 0 else np.zeros_like(s)
    ratio = relative / relative.sum() if s[0] > 0 else relative
    return svd_flip_rows(vt)[:k], variance[:k], ratio[:k], s[:k], mean


def pca_ref(X: np.ndarray, k: int, whiten: bool) -> np.ndarray:
    components, variance, *_, mean = pca_fit_ref(X, k)
    projected = np.asarray(X.astype(LD) - mean, dtype=np.float64) @ components.T
    return projected / np.sqrt(variance) if whiten else projected


def least_squares_ref(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    X2 = X[:, None] if X.ndim == 1 else X
    x_mean, y_mean = X2.astype(LD).mean(axis=0), y.astype(LD).mean()
    centred = np.asarray(X2.astype(LD) - x_mean, dtype=np.float64)
    weights = np.linalg.lstsq(centred, np.asarray(y - y_mean, dtype=np.float64), rcond=None)[0]
    bias = y_mean - x_mean @ weights.astype(LD)
    return (weights[0] if X.ndim == 1 else weights), bias


def r_squared_ref(t: np.ndarray, p: np.ndarray) -> np.ndarray:
    t, p = t.astype(LD), p.astype(LD)
    residual = ((t - p) ** 2).sum(axis=-1)
    total = ((t - t.mean(axis=-1, keepdims=True)) ** 2).sum(axis=-1)
    constant = (t == t[..., :1]).all(axis=-1)
    perfect = (t == p).all(axis=-1)
    with np.errstate(divide="ignore", invalid="ignore"):
        value = 1 - residual / total
    return np.where(constant, np.where(perfect, 1.0, 0.0), value)


def descent_ref(X: np.ndarray, y: np.ndarray, lr: float, steps: int, optimizer: str):
    """Full-batch MSE descent in longdouble: weights, bias, loss history."""
    X, y = X.astype(LD), y.astype(LD)
    n, d = X.shape
    w, b = np.zeros(d, dtype=LD), LD(0)
    m, s = np.zeros(d + 1, dtype=LD), np.zeros(d + 1, dtype=LD)
    history = []
    for step in range(steps + 1):
        residual = X @ w + b - y
        history.append((residual**2).mean())
        if step == steps:
            break
        g = np.concatenate([2 / n * (X.T @ residual), [2 * residual.mean()]])
        if optimizer == "adam":
            b1, b2 = LD(0.9), LD(0.999)
            m, s = b1 * m + (1 - b1) * g, b2 * s + (1 - b2) * g * g
            update = (m / (1 - b1 ** (step + 1))) / (np.sqrt(s / (1 - b2 ** (step + 1))) + 1e-8)
        else:
            update = g
        w, b = w - LD(lr) * update[:d], b - LD(lr) * update[d]
    return w, b, np.array(history)


# -- cases -----------------------------------------------------------------------------------


def softmax_family_case(rng: np.random.Generator, dtype: str, kernel: str) -> Case:
    shape = pick(rng, [(3, 5), (1, 1), (0, 4), (4, 1), (2, 3, 4), (), (6,)])
    kind = kind_of(rng)
    x = values(rng, shape, dtype, kind)
    if x.size > 1 and rng.random() < 0.3:  # a tie with the largest entry
        x.reshape(-1)[0] = x.max()
    axes: list[Any] = [None] if not shape else [-1, 0, None] + ([(0, 1)] if len(shape) > 1 else [])
    axis = pick(rng, axes)
    if kernel == "logsumexp":
        if x.size == 0 and axis not in (-1, 1):  # the empty axis is reduced
            axis = 0
        keepdims = bool(rng.random() < 0.3)
        return Case(
            kernel,
            f"x{shape} {kind} axis={axis} keepdims={keepdims}",
            dtype,
            lambda x: (mp.logsumexp(x, axis=axis, keepdims=keepdims),),
            [x],
            lambda x: (logsumexp_ref(x, axis, keepdims),),
        )
    if kernel == "sigmoid":
        return Case(
            kernel,
            f"x{shape} {kind}",
            dtype,
            lambda x: (mp.sigmoid(x),),
            [x],
            lambda x: (sigmoid_ref(x),),
        )
    temperature = float(pick(rng, [1.0, 1.0, 0.5, 1e-3, 1e3]))
    function = getattr(mp, kernel)

    def reference(x: np.ndarray) -> tuple[np.ndarray]:
        log_probs = log_softmax_ref(x, axis, temperature)
        return (np.exp(log_probs) if kernel == "softmax" else log_probs,)

    return Case(
        kernel,
        f"x{shape} {kind} axis={axis} T={temperature:g}",
        dtype,
        lambda x: (function(x, axis=axis, temperature=temperature),),
        [x],
        reference,
    )


def cross_entropy_case(rng: np.random.Generator, dtype: str) -> Case:
    classes = int(pick(rng, [1, 2, 5]))
    batch = pick(rng, [(4,), (1,), (0,), (2, 3)])
    kind = kind_of(rng)
    logits = values(rng, (*batch, classes), dtype, kind)
    reductions = ["none", "sum"] + (["mean"] if math.prod(batch) else [])
    reduction = str(pick(rng, reductions))
    if rng.random() < 0.6:
        target = rng.integers(0, classes, size=batch)
        flat = target.reshape(-1)
        if flat.size:  # the bounds of the class range
            flat[0] = classes - 1
            flat[-1] = 0
        what = "labels"
    else:
        target = rounded(rng.dirichlet(np.ones(classes), size=batch), dtype)
        what = "probabilities"
    return Case(
        "cross_entropy",
        f"logits{logits.shape} {kind} {what} reduction={reduction}",
        dtype,
        lambda z, t: (mp.cross_entropy(z, t, reduction=reduction),),
        [logits, target],
        lambda z, t: (cross_entropy_ref(z, t, reduction),),
        wrt=(0,) if what == "labels" else (0, 1),
    )


def attention_case(rng: np.random.Generator, dtype: str) -> Case:
    heads, lq, lk = int(pick(rng, [1, 2])), int(pick(rng, [1, 3])), int(pick(rng, [1, 4]))
    e, ev = int(pick(rng, [1, 4])), int(pick(rng, [1, 3]))
    batch = pick(rng, [(), (), (2,), (0,)])
    kind = kind_of(rng)
    q = values(rng, (*batch, heads, lq, e), dtype, kind)
    k = values(rng, (*batch, heads, lk, e), dtype, kind)
    v = values(rng, (*batch, heads, lk, ev), dtype, "normal")
    is_causal = bool(rng.random() < 0.3)
    scale = float(pick(rng, [1.0, 1e-3, 30.0])) if rng.random() < 0.3 else None
    mask_kind = str(pick(rng, ["none", "bool", "bool_empty_row", "float", "float_empty_row"]))
    mask = None
    if mask_kind.startswith("bool"):
        mask = rng.random((lq, lk)) < 0.7
        if mask_kind == "bool_empty_row":
            mask[int(rng.integers(0, lq))] = False
    elif mask_kind.startswith("float"):
        mask = rounded(rng.normal(size=(lq, lk)), dtype)
        mask[rng.random((lq, lk)) < 0.3] = -np.inf
        if mask_kind == "float_empty_row":
            mask[int(rng.integers(0, lq))] = -np.inf
    hosts = [q, k, v] + ([mask] if mask is not None else [])

    def call(q: Any, k: Any, v: Any, *rest: Any) -> tuple[Any]:
        return (
            mp.scaled_dot_product_attention(
                q, k, v, mask=rest[0] if rest else None, is_causal=is_causal, scale=scale
            ),
        )

    def reference(q: Any, k: Any, v: Any, *rest: Any) -> tuple[np.ndarray]:
        return (attention_ref(q, k, v, rest[0] if rest else None, scale, is_causal)[0],)

    computed_in = "float32" if dtype in ("float16", "bfloat16") else dtype
    _, spread = attention_ref(q, k, v, mask, scale, is_causal)
    top = float(ml_dtypes.finfo(computed_in).max)
    differs = "scores past the dtype's range" if spread.size and spread.max() > top / 4 else ""
    resolved_rows = spread * float(ml_dtypes.finfo(computed_in).eps) * 4 <= 1e-3

    def resolved(outputs: list[np.ndarray]) -> list[np.ndarray]:
        return [np.broadcast_to(resolved_rows[..., None], outputs[0].shape)]

    return Case(
        "scaled_dot_product_attention",
        f"q{q.shape} k{k.shape} v{v.shape} {kind} mask={mask_kind} causal={is_causal} "
        f"scale={scale}",
        dtype,
        call,
        hosts,
        reference,
        wrt=(0, 1, 2),
        traced_differs=differs,
        resolved=resolved,
    )


ACTIVATIONS = [None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh"]


def linear_case(rng: np.random.Generator, dtype: str) -> Case:
    n_in, n_out = int(pick(rng, [1, 3])), int(pick(rng, [1, 2]))
    shape = pick(rng, [(4, n_in), (1, n_in), (0, n_in), (n_in,), (2, 3, n_in)])
    kind = kind_of(rng)
    x = values(rng, shape, dtype, kind)
    w = values(rng, (n_in, n_out), dtype, "normal")
    b = values(rng, (n_out,), dtype, "normal") if rng.random() < 0.7 else None
    activation = pick(rng, ACTIVATIONS)
    hosts = [x, w] + ([b] if b is not None else [])
    return Case(
        "linear",
        f"x{shape} {kind} w{w.shape} bias={b is not None} activation={activation}",
        dtype,
        lambda x, w, *b: (mp.linear(x, w, b[0] if b else None, activation=activation),),
        hosts,
        lambda x, w, *b: (linear_ref(x, w, b[0] if b else None, activation),),
        wrt=tuple(range(len(hosts))),
    )


def mlp_case(rng: np.random.Generator, dtype: str) -> Case:
    shape = pick(rng, [(4, 3), (1, 3), (0, 3), (3,)])
    kind = kind_of(rng)
    x = values(rng, shape, dtype, kind)
    w1, b1 = values(rng, (3, 5), dtype, "normal"), values(rng, (5,), dtype, "normal")
    w2, b2 = values(rng, (5, 2), dtype, "normal"), values(rng, (2,), dtype, "normal")
    activation = pick(rng, ACTIVATIONS[1:])
    output_activation = pick(rng, [None, None, "sigmoid", "tanh"])

    def call(x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> tuple[Any]:
        return (
            mp.mlp(
                x, [w1, w2], [b1, b2], activation=activation, output_activation=output_activation
            ),
        )

    def reference(x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> tuple[np.ndarray]:
        hidden = linear_ref(x, w1, b1, activation)
        return (linear_ref(hidden, w2, b2, output_activation),)

    return Case(
        "mlp",
        f"x{shape} {kind} activation={activation} output={output_activation}",
        dtype,
        call,
        [x, w1, b1, w2, b2],
        reference,
        wrt=(0, 1, 2, 3, 4),
    )


def with_zero_rows(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    if x.ndim and x.shape[0] and rng.random() < 0.4:
        x[int(rng.integers(0, x.shape[0]))] = 0.0
    return x


def normalize_case(rng: np.random.Generator, dtype: str) -> Case:
    shape = pick(rng, [(3, 4), (1, 1), (0, 4), (3, 1), (5,), (2, 3, 2)])
    kind = kind_of(rng)
    x = with_zero_rows(rng, values(rng, shape, dtype, kind))
    axis = int(pick(rng, [-1, 0]))
    return Case(
        "normalize",
        f"x{shape} {kind} axis={axis}",
        dtype,
        lambda x: (mp.normalize(x, axis=axis),),
        [x],
        lambda x: (normalize_ref(x, axis),),
    )


def cosine_case(rng: np.random.Generator, dtype: str) -> Case:
    d = int(pick(rng, [1, 3]))
    kind = kind_of(rng)
    a = with_zero_rows(rng, values(rng, pick(rng, [(4, d), (1, d), (d,), (0, d)]), dtype, kind))
    b = with_zero_rows(rng, values(rng, pick(rng, [(3, d), (1, d), (d,)]), dtype, kind))
    if a.ndim == 2 and b.ndim == 2 and a.shape[0] and rng.random() < 0.3:
        b[0] = a[0]  # a similarity of exactly 1
    return Case(
        "cosine_similarity",
        f"a{a.shape} b{b.shape} {kind}",
        dtype,
        lambda a, b: (mp.cosine_similarity(a, b),),
        [a, b],
        lambda a, b: (cosine_ref(a, b),),
        wrt=(0, 1),
    )


def pca_data(rng: np.random.Generator, dtype: str) -> tuple[np.ndarray, str]:
    n, d = int(pick(rng, [2, 5, 12])), int(pick(rng, [1, 3]))
    kind = kind_of(rng, ("normal", "normal", "offset", "large", "tiny"))
    spread = np.array([3.0, 1.0, 0.3])[:d]  # distinct variances: axes defined
    x = rng.standard_normal((n, d)) * spread
    if kind == "offset":
        offset, scale = OFFSET[dtype]
        x = offset + scale * x
    elif kind in ("large", "tiny"):
        x = x * (LARGE if kind == "large" else TINY)[dtype]
    return rounded(x, dtype), kind


def pca_case(rng: np.random.Generator, dtype: str, kernel: str) -> Case:
    X, kind = pca_data(rng, dtype)
    k = int(rng.integers(1, min(X.shape) + 1))
    solver = str(pick(rng, ["auto", "svd", "covariance_eigh"]))
    if kernel == "pca_fit":
        return Case(
            kernel,
            f"X{X.shape} {kind} k={k} solver={solver}",
            dtype,
            lambda X: tuple(mp.pca_fit(X, k, solver=solver))[:5],
            [X],
            lambda X: pca_fit_ref(X, k),
        )
    whiten = bool(rng.random() < 0.3)
    return Case(
        kernel,
        f"X{X.shape} {kind} k={k} solver={solver} whiten={whiten}",
        dtype,
        lambda X: (mp.pca(X, k, whiten=whiten, solver=solver),),
        [X],
        lambda X: (pca_ref(X, k, whiten),),
    )


def least_squares_case(rng: np.random.Generator, dtype: str) -> Case:
    n, d = int(pick(rng, [3, 6, 12])), int(pick(rng, [1, 2]))
    kind = kind_of(rng, ("normal", "normal", "offset", "large", "tiny"))
    X, y = least_squares_data(rng, dtype, kind, n, d)
    if d == 1 and rng.random() < 0.4:
        X = X[:, 0]
    return Case(
        "least_squares",
        f"X{X.shape} {kind}",
        dtype,
        lambda X, y: tuple(mp.least_squares(X, y)),
        [X, y],
        least_squares_ref,
        wrt=(0, 1),
    )


def least_squares_data(rng, dtype: str, kind: str, n: int, d: int):
    X = rng.standard_normal((n, d))
    y = X @ rng.standard_normal(d) + 0.3 * rng.standard_normal(n)
    if kind == "offset":
        offset, scale = OFFSET[dtype]
        X, y = offset + scale * X, offset + scale * y
    elif kind in ("large", "tiny"):
        factor = (LARGE if kind == "large" else TINY)[dtype]
        X, y = X * factor, y * factor
    return rounded(X, dtype), rounded(y, dtype)


def r_squared_case(rng: np.random.Generator, dtype: str) -> Case:
    shape = pick(rng, [(5,), (1,), (2, 6), (0, 4)])
    kind = kind_of(rng)
    t = values(rng, shape, dtype, kind)
    p = rounded(t + (np.abs(t) + 1e-300) * 0.1 * rng.standard_normal(shape), dtype)
    if t.size and rng.random() < 0.2:
        t[...] = t.reshape(-1)[0]  # a constant y_true
    return Case(
        "r_squared",
        f"y{shape} {kind}",
        dtype,
        lambda t, p: (mp.r_squared(t, p),),
        [t, p],
        lambda t, p: (r_squared_ref(t, p),),
        wrt=(0, 1),
    )


def gradient_descent_case(rng: np.random.Generator, dtype: str) -> Case:
    n, d = int(pick(rng, [1, 4, 8])), int(pick(rng, [1, 3]))
    kind = kind_of(rng, ("normal", "normal", "tiny", "offset"))
    X, y = least_squares_data(rng, dtype, kind, n, d)
    steps = int(pick(rng, [1, 3, 6]))
    optimizer = str(pick(rng, ["sgd", "adam"]))
    curvature = 2 * float(np.max(np.sum(X**2, axis=1) + 1))  # an lr below it converges
    lr = float(rounded(0.5 / curvature if optimizer == "sgd" else 0.05, dtype))

    def call(X: Any, y: Any) -> tuple[Any, ...]:
        fit = mp.gradient_descent(X, y, lr=lr, steps=steps, optimizer=optimizer)
        return fit.weights, fit.bias, fit.loss_history

    return Case(
        "gradient_descent",
        f"X{X.shape} {kind} lr={lr:.3g} steps={steps} {optimizer}",
        dtype,
        call,
        [X, y],
        lambda X, y: descent_ref(X, y, lr, steps, optimizer),
        wrt=(0, 1),
    )


BUILDERS: dict[str, Callable[[np.random.Generator, str], Case]] = {
    "softmax": lambda rng, dtype: softmax_family_case(rng, dtype, "softmax"),
    "log_softmax": lambda rng, dtype: softmax_family_case(rng, dtype, "log_softmax"),
    "logsumexp": lambda rng, dtype: softmax_family_case(rng, dtype, "logsumexp"),
    "sigmoid": lambda rng, dtype: softmax_family_case(rng, dtype, "sigmoid"),
    "cross_entropy": cross_entropy_case,
    "scaled_dot_product_attention": attention_case,
    "linear": linear_case,
    "mlp": mlp_case,
    "normalize": normalize_case,
    "cosine_similarity": cosine_case,
    "pca": lambda rng, dtype: pca_case(rng, dtype, "pca"),
    "pca_fit": lambda rng, dtype: pca_case(rng, dtype, "pca_fit"),
    "least_squares": least_squares_case,
    "r_squared": r_squared_case,
    "gradient_descent": gradient_descent_case,
}
ALIASES = {"attention": "scaled_dot_product_attention", "activations": "sigmoid"}


# -- backends --------------------------------------------------------------------------------


def to_torch(host: np.ndarray, dtype: str, requires_grad: bool = False) -> Any:
    import torch

    if host.dtype.kind != "f":
        return torch.from_numpy(host.copy())
    tensor = torch.from_numpy(host.astype(np.float64)).to(getattr(torch, dtype))
    return tensor.requires_grad_(True) if requires_grad else tensor


def to_jax(host: np.ndarray, dtype: str) -> Any:
    import jax.numpy as jnp

    if host.dtype.kind != "f":
        return jnp.asarray(host)
    return jnp.asarray(host.astype(ml_dtypes.bfloat16 if dtype == "bfloat16" else dtype))


def to_numpy(host: np.ndarray, dtype: str) -> np.ndarray:
    return host.astype(dtype) if host.dtype.kind == "f" else host


def host(result: Any) -> np.ndarray:
    """A result of any backend as a float64 NumPy array."""
    if hasattr(result, "detach"):  # a torch tensor (bfloat16 has no NumPy dtype)
        import torch

        result = result.detach().cpu().to(dtype=torch.float64).numpy()
    return np.asarray(result).astype(np.float64)


def hosts_of(results: tuple[Any, ...]) -> list[np.ndarray]:
    return [host(result) for result in results]


def permuted(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    """Another batch item like ``x``: its entries in another order."""
    return rng.permutation(x.reshape(-1)).reshape(x.shape)


# -- comparison ------------------------------------------------------------------------------


def difference(
    actual: list[np.ndarray],
    expected: list[np.ndarray],
    dtype: str,
    keep: list[np.ndarray] | None = None,
) -> str:
    """What in ``actual`` disagrees with ``expected`` ('' if nothing), with the max error."""
    if len(actual) != len(expected):
        return f"{len(actual)} results against {len(expected)}"
    tolerance = tolerance_for(dtype)
    found = []
    for index, (got, want) in enumerate(zip(actual, expected, strict=True)):
        want = np.asarray(want, dtype=np.float64)
        if got.shape != want.shape:
            found.append(f"result {index}: shape {got.shape} against {want.shape}")
            continue
        good = within_tolerance(got, want, tolerance)
        if keep is not None:
            good = good | ~keep[index]
        if good.all():
            continue
        bad = ~good
        with np.errstate(invalid="ignore"):
            error = np.abs(got - want)[bad]
        worst = float(np.max(np.nan_to_num(error, nan=np.inf)))
        found.append(
            f"result {index}: {int(bad.sum())}/{bad.size} entries, max error {worst:.3g}, "
            f"e.g. {got[bad][:3]} against {want[bad][:3]}"
        )
    return "; ".join(found)


def reference_of(case: Case) -> list[np.ndarray] | None:
    if case.reference is None:
        return None
    with np.errstate(all="ignore"):
        return [rounded(r, case.dtype) for r in case.reference(*case.hosts)]


class Probe:
    """Runs one case under each transform and collects the disagreements."""

    def __init__(self, transforms: tuple[str, ...], compile_backend: str):
        self.transforms = transforms
        self.compile_backend = compile_backend
        self.found: list[tuple[str, str]] = []  # (transform, text)

    def report(self, transform: str, text: str) -> None:
        if text:
            self.found.append((transform, text))

    def attempt(self, transform: str, function: Callable[[], Any]) -> Any:
        try:
            return function()
        except Exception as error:  # a probe reports every failure
            first_line = (str(error).splitlines() or [""])[0][:200]
            self.report(transform, f"{type(error).__name__}: {first_line}")
            return None

    def run(self, case: Case, rng: np.random.Generator) -> list[tuple[str, str]]:
        self.found = []
        expected = reference_of(case)
        keep = case.resolved(expected) if case.resolved and expected is not None else None

        def against_reference(transform: str, results: list[np.ndarray] | None) -> None:
            if results is not None and expected is not None:
                self.report(transform, difference(results, expected, case.dtype, keep))

        if "numpy" in self.transforms and case.dtype != "bfloat16":
            arrays = [to_numpy(h, case.dtype) for h in case.hosts]
            results = self.attempt("numpy", lambda: hosts_of(case.call(*arrays)))
            against_reference("numpy", results)
        if {"torch", "torch.compile"} & set(self.transforms):
            self.run_torch(case, against_reference)
        if {"jax", "jax.jit", "jax.vmap"} & set(self.transforms):
            self.run_jax(case, rng, against_reference)
        if "grad" in self.transforms and case.wrt:
            self.run_grad(case)
        return self.found

    def run_torch(self, case: Case, against_reference: Callable) -> None:
        import torch

        tensors = [to_torch(h, case.dtype) for h in case.hosts]
        eager = self.attempt("torch", lambda: hosts_of(case.call(*tensors)))
        against_reference("torch", eager)
        if "torch.compile" not in self.transforms or eager is None or case.traced_differs:
            return
        compiled = torch.compile(
            case.call, fullgraph=True, dynamic=False, backend=self.compile_backend
        )
        results = self.attempt("torch.compile", lambda: hosts_of(compiled(*tensors)))
        if results is not None:
            self.report("torch.compile", difference(results, eager, case.dtype))

    def run_jax(self, case: Case, rng: np.random.Generator, against_reference: Callable) -> None:
        import jax
        import jax.numpy as jnp

        arrays = [to_jax(h, case.dtype) for h in case.hosts]
        eager = self.attempt("jax", lambda: hosts_of(case.call(*arrays)))
        against_reference("jax", eager)
        if eager is None or case.traced_differs:
            return
        if "jax.jit" in self.transforms:
            results = self.attempt("jax.jit", lambda: hosts_of(jax.jit(case.call)(*arrays)))
            if results is not None:
                self.report("jax.jit", difference(results, eager, case.dtype))
        if "jax.vmap" not in self.transforms:
            return
        other = permuted(rng, case.hosts[0])
        items = [arrays[0], to_jax(other, case.dtype)]
        loop = self.attempt(
            "jax.vmap", lambda: [hosts_of(case.call(item, *arrays[1:])) for item in items]
        )
        if loop is None:
            return
        looped = [np.stack(results) for results in zip(*loop, strict=True)]
        mapped = jax.jit(jax.vmap(lambda first: case.call(first, *arrays[1:])))
        results = self.attempt("jax.vmap", lambda: hosts_of(mapped(jnp.stack(items))))
        if results is not None:
            self.report("jax.vmap", difference(results, looped, case.dtype))

    def run_grad(self, case: Case) -> None:
        """jax.grad against torch autograd of the sum of every output, in float64."""
        import jax
        import jax.numpy as jnp
        import torch

        def torch_gradients() -> list[np.ndarray]:
            tensors = [
                to_torch(h, "float64", requires_grad=i in case.wrt)
                for i, h in enumerate(case.hosts)
            ]
            total = sum(result.sum() for result in case.call(*tensors))
            chosen = [tensors[i] for i in case.wrt]
            if not total.requires_grad:  # no output entries (an empty axis)
                return [np.zeros(t.shape) for t in chosen]
            gradients = torch.autograd.grad(total, chosen, allow_unused=True)
            return [
                np.zeros(t.shape) if g is None else host(g)
                for t, g in zip(chosen, gradients, strict=True)
            ]

        def jax_gradients() -> list[np.ndarray]:
            arrays = [to_jax(h, "float64") for h in case.hosts]

            def total(*chosen: Any) -> Any:
                full = list(arrays)
                for index, array in zip(case.wrt, chosen, strict=True):
                    full[index] = array
                return sum(jnp.sum(result) for result in case.call(*full))

            argnums = tuple(range(len(case.wrt)))
            gradients = jax.grad(total, argnums=argnums)(*(arrays[i] for i in case.wrt))
            return hosts_of(gradients)

        reference = self.attempt("grad (torch autograd)", torch_gradients)
        ours = self.attempt("grad (jax.grad)", jax_gradients)
        if reference is not None and ours is not None:
            self.report("grad", difference(ours, reference, "float64"))


# -- main ------------------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=40)
    parser.add_argument("--kernels", nargs="*", default=list(BUILDERS))
    parser.add_argument("--transforms", nargs="*", default=list(TRANSFORMS))
    parser.add_argument("--dtypes", nargs="*", default=list(DTYPES))
    parser.add_argument("--compile-backend", default="inductor")
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--verbose", action="store_true", help="print each case as it runs")
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    FRAMEWORKS["jax"].enable_x64()
    import torch._dynamo

    torch._dynamo.config.recompile_limit = 10_000  # one code object, a graph a case
    torch._dynamo.config.accumulated_recompile_limit = 10_000
    kernels = [ALIASES.get(name, name) for name in arguments.kernels]
    unknown = sorted(set(kernels) - set(BUILDERS))
    if unknown:
        parser.error(f"unknown kernels {unknown}; valid: {', '.join(BUILDERS)}")
    transforms = tuple(
        t for t in arguments.transforms if not (arguments.no_compile and t == "torch.compile")
    )
    weights = np.array([DTYPE_WEIGHTS[DTYPES.index(d)] for d in arguments.dtypes])
    rng = np.random.default_rng(arguments.seed)
    probe = Probe(transforms, arguments.compile_backend)
    counts: Counter[tuple[str, str]] = Counter()
    for number in range(arguments.cases):
        name = kernels[number % len(kernels)]
        dtype = str(rng.choice(arguments.dtypes, p=weights / weights.sum()))
        case = BUILDERS[name](rng, dtype)
        start = time.perf_counter()
        try:
            found = probe.run(case, rng)
        except Exception:  # the probe's own failure: show it, go on
            found = [("probe", traceback.format_exc(limit=3))]
        if arguments.verbose:
            print(f"case {number} {name} {dtype} {case.label}: {time.perf_counter() - start:.1f} s")
        for transform, text in found:
            counts[(name, transform)] += 1
            print(f"case {number} {name} [{case.label}] {dtype} {transform}: {text}", flush=True)
    print(f"{sum(counts.values())} disagreements in {arguments.cases} cases")
    for (name, transform), count in sorted(counts.items()):
        print(f"  {name} under {transform}: {count}")


if __name__ == "__main__":
    main()
