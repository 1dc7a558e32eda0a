"""A differential probe of gradients through the kernels: torch autograd, ``jax.grad`` and
``jax.jit(jax.grad)`` of each kernel against the gradient of the frameworks' own functions.

Each case draws one kernel's inputs at an ordinary or a hostile point (magnitudes 1e-30
to 1e4, ties for the maximum, ``-inf`` logits and masked keys, fully masked rows,
temperatures from 1e-6 to 1e6, zero vectors, relu's kink at 0), in float32 or float64,
and differentiates ``sum(c * f(x))`` for a fixed random cotangent ``c`` (entries where the
reference value is not finite left out). The reference is computed in float64 on the same
rounded values: torch's own functions and their autograd (``F.softmax``,
``F.cross_entropy``, ``F.scaled_dot_product_attention``, ``F.normalize``, ...), JAX's own
(``jax.nn``, ``jax.scipy.special.logsumexp``) under ``jax.grad``, and float64 central
differences of the NumPy kernel for ``pca``. Where the reference gradient is finite, ours
must be finite and within 10 times the tolerance table of it. Run from the repository
root:

    PYTHONPATH=. python scripts/probe_gradients.py [--seed 0] [--cases 200] [--kernels ...]

It prints each disagreement and their count. Conventions at points where a kernel is not
differentiable are written into the references: a zero vector's ``normalize`` and
``cosine_similarity`` (value 0, gradient 0: torch's ``F.normalize`` divides by
``max(||x||, eps)`` and gives ``1 / eps`` there), a fully masked attention row (zeros,
gradient 0), relu at 0 (gradient 0, as torch's ``relu`` and ``jax.nn.relu``).

First run (2027-01, seeds 1 and 2, 260 and 120 cases, about a second a case on two busy
cores): NaN gradients at zero vectors of ``normalize`` and ``cosine_similarity`` on
every backend, and relu's derivative 0.5 at 0 on JAX (``mlp`` of a zero row with zero
biases); both fixed, see tests/test_gradients.py. Beside it, by hand: the sigmoid
formula's gradient at 0 was 0 on torch tensors (torch's public sigmoid is its own, which
this probe differentiates; ``sigmoid.generic`` was wrong), fixed too. Inherent, not
reported: points where the reference itself is not finite (a row of only ``-inf``
logits, a label on a ``-inf`` logit), float32 inputs whose true gradient passes float32's
range (``normalize`` of a subnormal vector: 1 / |x| > 3e38). Not probed here:
``torch.compile`` and ``torch.func`` (tests/test_transforms.py runs one ordinary point
each), ``gradient_descent``.

Found by seed 2 after those fixes: JAX's attention gave NaN gradients for q, k and v
where a float mask forbids every key of a row (q = k = v = ones (1, 1, 3), mask [[-inf]]:
NaN against 0), from the formula's division of the mask by the range multiplier in an
untaken ``where`` branch and from ``jax.nn.dot_product_attention``'s NaN in that row;
fixed, see tests/test_gradients.py. Then: JAX's ``normalize`` of float32 vectors of 1e-30
gave NaN gradients (the true ones are about 1e30: the gradient through the division by the
largest magnitude squares it, 1e-60, which underflows; it cancels exactly, so that factor
now takes no gradient, ``backends.without_gradient``), and JAX's ``cosine_similarity`` of
a (1,)-feature row of 1e-30 the same; fixed, tested there too. Inherent: float32
gradients of ``normalize`` in one dimension (exactly 0) come out as a difference of two
terms of ``1 / |x|``, off by some eps of those.
"""

from __future__ import annotations

import argparse
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS
from mlpillars.tolerances import Tolerance, tolerance_for, within_tolerance

GRADIENT_BACKENDS = ("torch", "jax", "jax.jit")


@dataclass
class Case:
    """One kernel call at one point.

    Attributes
    ----------
    ours : callable
        The kernel's call: arrays of one backend in, one array out.
    arrays : list of ndarray
        Its arguments as float64 (or integer, boolean) NumPy arrays, already rounded to
        ``dtype``.
    wrt : tuple of int
        The floating arguments differentiated.
    torch_reference : callable or None
        The same function from torch's own operations, float64 tensors in.
    jax_reference : callable or None
        The same function from JAX's own, float64 arrays in.
    """

    label: str
    dtype: str
    ours: Callable[..., Any]
    arrays: list[np.ndarray]
    wrt: tuple[int, ...]
    torch_reference: Callable[..., Any] | None = None
    jax_reference: Callable[..., Any] | None = None
    finite_differences: bool = False
    note: dict[str, Any] = field(default_factory=dict)


# -- hostile points --------------------------------------------------------------------------


def scale_of(rng: np.random.Generator, dtype: str) -> float:
    return float(rng.choice([1.0, 1.0, 1e-30, 1e-6, 1e-3, 30.0, 1e3, 1e4]))


def logits(rng: np.random.Generator, shape: tuple[int, ...], dtype: str) -> np.ndarray:
    """Logits of one hostile kind: scaled, tied maxima, -inf entries, large offsets."""
    x = rng.normal(size=shape) * scale_of(rng, dtype)
    kind = rng.choice(["plain", "ties", "minus_inf", "offset", "ties_minus_inf"])
    if kind in ("ties", "ties_minus_inf") and shape[-1] > 1:
        top = np.argmax(x, axis=-1)
        other = (top + 1 + rng.integers(0, shape[-1] - 1, size=top.shape)) % shape[-1]
        np.put_along_axis(x, other[..., None], np.take_along_axis(x, top[..., None], -1), -1)
    if kind in ("minus_inf", "ties_minus_inf"):
        x[rng.random(shape) < 0.3] = -np.inf
        x[..., 0] = np.where(np.isinf(x[..., 0]), 0.0, x[..., 0])  # a finite entry a row
    if kind == "offset":
        x += float(rng.choice([1e3, -1e4, 1e4]))
    return np.asarray(x.astype(dtype), dtype=np.float64)


def rounded(x: np.ndarray, dtype: str) -> np.ndarray:
    return np.asarray(np.asarray(x).astype(dtype), dtype=np.float64)


# -- cases -----------------------------------------------------------------------------------


def softmax_case(rng: np.random.Generator, dtype: str, name: str) -> Case:
    import jax
    import torch

    x = logits(rng, (3, int(rng.integers(2, 6))), dtype)
    temperature = float(rng.choice([1.0, 1.0, 0.5, 1e-3, 1e-6, 1e3, 1e6]))
    functions = {
        "softmax": (mp.softmax, torch.softmax, jax.nn.softmax),
        "log_softmax": (mp.log_softmax, torch.log_softmax, jax.nn.log_softmax),
    }
    ours, torch_own, jax_own = functions[name]
    return Case(
        f"{name} T={temperature:g}",
        dtype,
        lambda x: ours(x, temperature=temperature),
        [x],
        (0,),
        lambda x: torch_own(x / temperature, -1),
        lambda x: jax_own(x / temperature, axis=-1),
    )


def logsumexp_case(rng: np.random.Generator, dtype: str) -> Case:
    import jax
    import torch

    x = logits(rng, (3, int(rng.integers(1, 6))), dtype)
    return Case(
        "logsumexp",
        dtype,
        lambda x: mp.logsumexp(x, axis=-1),
        [x],
        (0,),
        lambda x: torch.logsumexp(x, -1),
        lambda x: jax.scipy.special.logsumexp(x, axis=-1),
    )


def sigmoid_case(rng: np.random.Generator, dtype: str) -> Case:
    import jax
    import torch

    x = rng.normal(size=(8,)) * scale_of(rng, dtype)
    x[:4] = [0.0, 80.0, -80.0, float(rng.choice([-1e4, 1e4, -700.0, 700.0]))]
    x = rounded(x, dtype)
    return Case("sigmoid", dtype, mp.sigmoid, [x], (0,), torch.sigmoid, jax.nn.sigmoid)


def cross_entropy_case(rng: np.random.Generator, dtype: str) -> Case:
    import torch

    n, classes = int(rng.integers(1, 5)), int(rng.integers(1, 6))
    z = logits(rng, (n, classes), dtype)
    reduction = str(rng.choice(["mean", "sum", "none"]))
    if rng.random() < 0.5:
        target = rng.integers(0, classes, size=n)
        finite = np.isfinite(np.take_along_axis(z, target[:, None], -1)[:, 0])
        target = np.where(finite, target, 0)  # a label on a -inf logit: an infinite loss
        kind = "labels"
    else:
        target = rng.dirichlet(np.ones(classes), size=n)
        target[np.isinf(z)] = 0.0  # no probability on a -inf logit
        target = rounded(target / target.sum(-1, keepdims=True), dtype)
        kind = "probabilities"
    return Case(
        f"cross_entropy {kind} {reduction}",
        dtype,
        lambda z, t: mp.cross_entropy(z, t, reduction=reduction),
        [z, target],
        (0,),
        lambda z, t: torch.nn.functional.cross_entropy(z, t, reduction=reduction),
    )


def attention_case(rng: np.random.Generator, dtype: str) -> Case:
    import torch

    lq, lk, e = int(rng.integers(1, 5)), int(rng.integers(1, 5)), int(rng.integers(1, 4))
    scale = scale_of(rng, dtype) if rng.random() < 0.3 else 1.0
    q, k, v = (
        rounded(rng.normal(size=(2, length, e)) * s, dtype)
        for length, s in ((lq, scale), (lk, scale), (lk, 1.0))
    )
    kind = str(rng.choice(["none", "causal", "bool", "float", "bool_empty_row"]))
    mask = None
    if kind in ("bool", "bool_empty_row"):
        mask = rng.random((2, lq, lk)) < 0.6
        if kind == "bool_empty_row":
            mask[int(rng.integers(0, 2)), int(rng.integers(0, lq))] = False
    elif kind == "float":
        mask = rounded(rng.normal(size=(lq, lk)), dtype)
        mask[rng.random((lq, lk)) < 0.3] = -np.inf
    causal = kind == "causal"

    def ours(q: Any, k: Any, v: Any, *rest: Any) -> Any:
        return mp.scaled_dot_product_attention(
            q, k, v, mask=rest[0] if rest else None, is_causal=causal
        )

    def reference(q: Any, k: Any, v: Any, *rest: Any) -> Any:
        allowed = torch.ones(q.shape[0], lq, lk, dtype=torch.bool)
        if causal:
            allowed = allowed & torch.ones(lq, lk, dtype=torch.bool).tril()
        if rest and rest[0].dtype == torch.bool:
            allowed = allowed & rest[0]
        elif rest:
            allowed = allowed & (rest[0] > -math.inf)
        empty = ~allowed.any(-1, keepdim=True)  # rows that may attend to no key: zeros
        float_mask = torch.where(allowed | empty, 0.0, -math.inf).to(q.dtype)
        if rest and rest[0].dtype != torch.bool:
            float_mask = float_mask + torch.where(empty, 0.0, rest[0].clamp(min=-1e300))
        output = torch.nn.functional.scaled_dot_product_attention(q, k, v, attn_mask=float_mask)
        return torch.where(empty, 0.0, output)

    arrays = [q, k, v] + ([mask] if mask is not None else [])
    return Case(f"attention {kind} scale={scale:g}", dtype, ours, arrays, (0, 1, 2), reference)


def zero_rows(rng: np.random.Generator, x: np.ndarray) -> np.ndarray:
    if rng.random() < 0.5:
        x[int(rng.integers(0, x.shape[0]))] = 0.0
    return x


def normalize_case(rng: np.random.Generator, dtype: str) -> Case:
    import torch

    x = zero_rows(rng, rng.normal(size=(3, int(rng.integers(1, 5)))) * scale_of(rng, dtype))
    x = rounded(x, dtype)

    def reference(x: Any) -> Any:
        zero = (x == 0).all(-1, keepdim=True)
        safe = torch.where(zero, 1.0, x)
        return torch.where(zero, 0.0, torch.nn.functional.normalize(safe, eps=1e-300))

    return Case("normalize", dtype, mp.normalize, [x], (0,), reference)


def cosine_case(rng: np.random.Generator, dtype: str) -> Case:
    import torch

    d = int(rng.integers(1, 5))
    a = rounded(zero_rows(rng, rng.normal(size=(3, d)) * scale_of(rng, dtype)), dtype)
    b = rounded(zero_rows(rng, rng.normal(size=(2, d)) * scale_of(rng, dtype)), dtype)
    if rng.random() < 0.3:
        b[0] = a[0]  # a similarity of 1: a maximum, whose gradient is 0

    def reference(a: Any, b: Any) -> Any:
        a_zero, b_zero = (a == 0).all(-1), (b == 0).all(-1)
        zero = a_zero[:, None] | b_zero[None, :]
        a_safe = torch.where(a_zero[:, None], 1.0, a)
        b_safe = torch.where(b_zero[:, None], 1.0, b)
        similarity = torch.nn.functional.cosine_similarity(
            a_safe[:, None, :], b_safe[None, :, :], dim=-1, eps=1e-300
        )
        return torch.where(zero, 0.0, similarity)

    return Case("cosine_similarity", dtype, mp.cosine_similarity, [a, b], (0, 1), reference)


TORCH_ACTIVATIONS = {
    None: lambda torch, x: x,
    "relu": lambda torch, x: torch.relu(x),
    "gelu": lambda torch, x: torch.nn.functional.gelu(x),
    "gelu_tanh": lambda torch, x: torch.nn.functional.gelu(x, approximate="tanh"),
    "sigmoid": lambda torch, x: torch.sigmoid(x),
    "tanh": lambda torch, x: torch.tanh(x),
}


def linear_case(rng: np.random.Generator, dtype: str) -> Case:
    import torch

    activation = rng.choice(list(TORCH_ACTIVATIONS))
    activation = None if activation is None else str(activation)
    x = rng.normal(size=(4, 3)) * float(rng.choice([1.0, 1.0, 1e-3, 30.0]))
    if rng.random() < 0.5:
        x[0] = 0.0  # with a zero bias: every pre-activation of that row at 0
    w, b = rng.normal(size=(3, 2)), rng.normal(size=(2,)) * float(rng.random() < 0.5)
    arrays = [rounded(a, dtype) for a in (x, w, b)]

    def reference(x: Any, w: Any, b: Any) -> Any:
        return TORCH_ACTIVATIONS[activation](torch, x @ w + b)

    return Case(
        f"linear {activation}",
        dtype,
        lambda x, w, b: mp.linear(x, w, b, activation=activation),
        arrays,
        (0, 1, 2),
        reference,
    )


def mlp_case(rng: np.random.Generator, dtype: str) -> Case:
    import torch

    activation = str(rng.choice(["relu", "gelu", "tanh", "sigmoid", "gelu_tanh"]))
    x = rng.normal(size=(4, 3))
    if rng.random() < 0.5:
        x[0] = 0.0
    w1, w2 = rng.normal(size=(3, 5)), rng.normal(size=(5, 2))
    b1, b2 = rng.normal(size=(5,)) * float(rng.random() < 0.5), rng.normal(size=(2,))
    arrays = [rounded(a, dtype) for a in (x, w1, b1, w2, b2)]

    def reference(x: Any, w1: Any, b1: Any, w2: Any, b2: Any) -> Any:
        return TORCH_ACTIVATIONS[activation](torch, x @ w1 + b1) @ w2 + b2

    return Case(
        f"mlp {activation}",
        dtype,
        lambda x, w1, b1, w2, b2: mp.mlp(x, [w1, w2], [b1, b2], activation=activation),
        arrays,
        (0, 1, 2, 3, 4),
        reference,
    )


def regression_data(rng: np.random.Generator, dtype: str) -> tuple[np.ndarray, np.ndarray]:
    n, d = int(rng.integers(4, 12)), int(rng.integers(1, 3))
    offset = float(rng.choice([0.0, 0.0, 10.0, 1e3]))
    X = offset + rng.normal(size=(n, d)) * float(rng.choice([1.0, 1e-2, 1e2]))
    y = (X - offset) @ rng.normal(size=d) + float(rng.choice([0.0, 1.0])) * rng.normal(size=n)
    return rounded(X, dtype), rounded(y, dtype)


def least_squares_case(rng: np.random.Generator, dtype: str) -> Case:
    import torch

    X, y = regression_data(rng, dtype)

    def ours(X: Any, y: Any) -> Any:
        fit = mp.least_squares(X, y)
        return fit.weights.sum() + 0.7 * fit.bias

    def reference(X: Any, y: Any) -> Any:
        centred = X - X.mean(0)
        weights = torch.linalg.solve(centred.mT @ centred, centred.mT @ (y - y.mean()))
        return weights.sum() + 0.7 * (y.mean() - X.mean(0) @ weights)

    return Case("least_squares", dtype, ours, [X, y], (0, 1), reference)


def r_squared_case(rng: np.random.Generator, dtype: str) -> Case:
    _, y = regression_data(rng, dtype)
    prediction = rounded(y + rng.normal(size=y.shape) * float(rng.choice([1e-3, 0.1, 1])), dtype)

    def reference(t: Any, p: Any) -> Any:
        return 1 - ((t - p) ** 2).sum() / ((t - t.mean()) ** 2).sum()

    return Case("r_squared", dtype, mp.r_squared, [y, prediction], (0, 1), reference)


def pca_case(rng: np.random.Generator, dtype: str) -> Case:
    X = rounded(rng.normal(size=(10, 3)) * np.array([3.0, 1.0, 0.3]), dtype)
    solver = str(rng.choice(["svd", "covariance_eigh"]))
    return Case(
        f"pca {solver}",
        dtype,
        lambda X: mp.pca(X, 2, solver=solver),
        [X],
        (0,),
        finite_differences=True,
    )


BUILDERS: dict[str, Callable[[np.random.Generator, str], Case]] = {
    "softmax": lambda rng, dtype: softmax_case(rng, dtype, "softmax"),
    "log_softmax": lambda rng, dtype: softmax_case(rng, dtype, "log_softmax"),
    "logsumexp": logsumexp_case,
    "sigmoid": sigmoid_case,
    "cross_entropy": cross_entropy_case,
    "scaled_dot_product_attention": attention_case,
    "normalize": normalize_case,
    "cosine_similarity": cosine_case,
    "linear": linear_case,
    "mlp": mlp_case,
    "least_squares": least_squares_case,
    "r_squared": r_squared_case,
    "pca": pca_case,
}


# -- gradients -------------------------------------------------------------------------------


def torch_reference(case: Case, cotangent: Callable[[Any], np.ndarray]) -> tuple[Any, list[Any]]:
    """The reference value and gradients, by torch autograd in float64."""
    import torch

    tensors = [torch.tensor(a) for a in case.arrays]
    for index in case.wrt:
        tensors[index].requires_grad_(True)
    value = case.torch_reference(*tensors)
    weights = torch.tensor(cotangent(value.detach().numpy()))
    torch.sum(torch.where(weights != 0, value, 0.0) * weights).backward()
    return value.detach().numpy(), [tensors[i].grad.numpy() for i in case.wrt]


def jax_reference(case: Case, cotangent: Callable[[Any], np.ndarray]) -> list[Any]:
    import jax
    import jax.numpy as jnp

    arrays = [jnp.asarray(a) for a in case.arrays]
    weights = None

    def loss(*chosen: Any) -> Any:
        full = list(arrays)
        for index, array in zip(case.wrt, chosen, strict=True):
            full[index] = array
        value = case.jax_reference(*full)
        return jnp.sum(jnp.where(weights != 0, value, 0.0) * weights)

    weights = jnp.asarray(cotangent(np.asarray(case.jax_reference(*arrays))))
    gradients = jax.grad(loss, argnums=tuple(range(len(case.wrt))))(*(arrays[i] for i in case.wrt))
    return [np.asarray(g) for g in gradients]


def finite_difference(case: Case, cotangent: Callable[[Any], np.ndarray]) -> tuple[Any, list[Any]]:
    value = np.asarray(case.ours(*case.arrays))
    weights = cotangent(value)

    def loss(arrays: list[np.ndarray]) -> float:
        return float(np.sum(np.where(weights != 0, np.asarray(case.ours(*arrays)), 0.0) * weights))

    gradients = []
    for index in case.wrt:
        gradient = np.zeros_like(case.arrays[index])
        for position in np.ndindex(gradient.shape):
            plus, minus = list(case.arrays), list(case.arrays)
            step = 1e-6 * max(1.0, abs(case.arrays[index][position]))
            plus[index], minus[index] = case.arrays[index].copy(), case.arrays[index].copy()
            plus[index][position] += step
            minus[index][position] -= step
            gradient[position] = (loss(plus) - loss(minus)) / (2 * step)
        gradients.append(gradient)
    return value, gradients


def ours_on(backend: str, case: Case, weights: np.ndarray) -> list[np.ndarray]:
    """Our kernel's gradients on ``backend``, in the case's dtype."""
    if backend == "torch":
        import torch

        tensors = [
            torch.tensor(a.astype(case.dtype) if a.dtype == np.float64 else a) for a in case.arrays
        ]
        for index in case.wrt:
            tensors[index].requires_grad_(True)
        value = case.ours(*tensors)
        cot = torch.tensor(weights.astype(case.dtype))
        torch.sum(torch.where(cot != 0, value, 0.0) * cot).backward()
        return [tensors[i].grad.double().numpy() for i in case.wrt]
    import jax
    import jax.numpy as jnp

    arrays = [
        jnp.asarray(a.astype(case.dtype) if a.dtype == np.float64 else a) for a in case.arrays
    ]
    cot = jnp.asarray(weights.astype(case.dtype))

    def loss(*chosen: Any) -> Any:
        full = list(arrays)
        for index, array in zip(case.wrt, chosen, strict=True):
            full[index] = array
        value = case.ours(*full)
        return jnp.sum(jnp.where(cot != 0, value, 0.0) * cot)

    gradient = jax.grad(loss, argnums=tuple(range(len(case.wrt))))
    if backend == "jax.jit":
        gradient = jax.jit(gradient)
    return [np.asarray(g, dtype=np.float64) for g in gradient(*(arrays[i] for i in case.wrt))]


def compare(ours: list[np.ndarray], expected: list[np.ndarray], tolerance: Tolerance) -> str:
    """What in ``ours`` disagrees with ``expected`` where that is finite; '' if nothing."""
    found = []
    for index, (actual, reference) in enumerate(zip(ours, expected, strict=True)):
        finite = np.isfinite(reference)
        if not finite.all():
            continue  # the framework's own gradient is not finite: no claim
        if not np.isfinite(actual).all():
            found.append(
                f"arg {index}: non-finite gradient {actual.ravel()[:6]} "
                f"against {reference.ravel()[:6]}"
            )
        elif not within_tolerance(actual, reference, tolerance).all():
            worst = np.max(np.abs(actual - reference))
            found.append(f"arg {index}: off by {worst:.2e} (scale {np.abs(reference).max():.2e})")
    return "; ".join(found)


def probe(case: Case, rng: np.random.Generator, backends: tuple[str, ...]) -> list[str]:
    def cotangent(value: np.ndarray) -> np.ndarray:
        weights = np.random.default_rng(7).uniform(0.5, 1.5, size=np.shape(value))
        return np.where(np.isfinite(value), weights, 0.0)

    if case.finite_differences:
        value, expected = finite_difference(case, cotangent)
        references = {"float64 differences": expected}
    else:
        value, expected = torch_reference(case, cotangent)
        references = {"torch": expected}
        if case.jax_reference is not None:
            references["jax.nn"] = jax_reference(case, cotangent)
    weights = cotangent(value)
    tolerance = tolerance_for(case.dtype)
    tolerance = Tolerance(10 * tolerance.rtol, 10 * tolerance.atol)
    if case.finite_differences:
        tolerance = Tolerance(max(tolerance.rtol, 1e-6), max(tolerance.atol, 1e-7))
    found = []
    for backend in backends:
        try:
            gradients = ours_on(backend, case, weights)
        except Exception as error:  # a probe reports every failure
            found.append(f"{backend}: {type(error).__name__}: {error}")
            continue
        for source, reference in references.items():
            if text := compare(gradients, reference, tolerance):
                found.append(f"{backend} vs {source}: {text}")
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--cases", type=int, default=200)
    parser.add_argument("--kernels", nargs="*", default=list(BUILDERS))
    parser.add_argument("--backends", nargs="*", default=list(GRADIENT_BACKENDS))
    arguments = parser.parse_args()
    warnings.simplefilter("ignore")
    FRAMEWORKS["jax"].enable_x64()
    rng, count = np.random.default_rng(arguments.seed), 0
    for number in range(arguments.cases):
        name = arguments.kernels[number % len(arguments.kernels)]
        case = BUILDERS[name](rng, str(rng.choice(["float32", "float64"])))
        for line in probe(case, rng, tuple(arguments.backends)):
            count += 1
            shown = np.array2string(case.arrays[0].ravel()[:8], precision=3)
            print(f"case {number} {case.label} {case.dtype} x={shown}: {line}")
    print(f"{count} disagreements in {arguments.cases} cases")


if __name__ == "__main__":
    main()
