"""Linear algebra: linear layers, the MLP, cosine similarity and normalisation.

The tutorial's layer is ``output = input @ weights + bias``: x is (batch, in), weight is
(in, out), as in the tutorial (note: torch.nn.Linear stores the transpose, (out, in)).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from ..backends import kernel, layer_operands, reduce_max, without_gradient
from ._checks import check_axis, check_ndim, is_empty, shape_text
from ._floating import as_floating, as_floating_array, narrowed, widened
from ._fused import FusedCosineSimilarity, FusedLinear, FusedNormalize
from ._magnitudes import shrink_factors
from .activations import activation_function

_ONE_AXIS_OR_MORE = tuple(range(1, 33))
"""The ranks ``normalize`` takes: 1 to 32 (NumPy 1's limit on axes)."""


@kernel(arrays=("x", "weight", "bias"))
def linear(
    x: Any,
    weight: Any,
    bias: Any = None,
    *,
    activation: str | Callable[[Any], Any] | None = None,
    xp: Any,
    fused: FusedLinear | None = None,
) -> Any:
    r"""A dense layer: ``activation(x @ weight + bias)``.

    Parameters
    ----------
    x : array, shape (..., in)
        Inputs; a single sample may be 1-D.
    weight : array, shape (in, out)
    bias : array, shape (out,), optional
    activation : {None, "relu", "gelu", "gelu_tanh", "sigmoid", "tanh"} or callable
        None is the identity. "gelu" is the exact, erf-based GELU (torch's default);
        "gelu_tanh" is the tanh approximation (JAX's default).

    Returns
    -------
    array, shape (..., out)

    Notes
    -----
    Where the framework has its own dense layer (its ``fused_kernels``), it computes the
    checked arguments (:class:`._fused.FusedLinear`); ``linear.generic(x, weight, xp=xp)``
    is the formula alone. The formula's operands are laid out by their framework
    (:func:`mlpillars.backends.layer_operands`): on Dask, so that each chunk of x is
    computed (read from a store) once, whatever the weight's chunks.
    """
    apply_activation = activation_function("linear", activation, xp=xp)
    x, weight, bias = as_floating(
        x, weight, bias, xp=xp, kernel="linear", names=("x", "weight", "bias")
    )
    _check_layer("linear", x, "x", weight, "weight", bias, "bias")
    return _layer(x, weight, bias, activation, apply_activation, fused, xp=xp)


@kernel(arrays=("x",), array_lists=("weights", "biases"))
def mlp(
    x: Any,
    weights: Sequence[Any],
    biases: Sequence[Any] | None = None,
    *,
    activation: str | Callable[[Any], Any] | None = "relu",
    output_activation: str | Callable[[Any], Any] | None = None,
    xp: Any,
    fused: FusedLinear | None = None,
) -> Any:
    r"""A multi-layer perceptron: :func:`linear` layers, ``activation`` between them.

    .. math:: h_0 = x, \quad h_{i+1} = f(h_i W_i + b_i), \quad
              \text{output} = g(h_{L-1} W_{L-1} + b_{L-1})

    Parameters
    ----------
    x : array, shape (..., in)
    weights : sequence of arrays, shapes (in, h1), (h1, h2), ..., (h_{L-1}, out)
    biases : sequence of arrays or None, shapes (h1,), ..., (out,), optional
        One per layer (an entry may be None); None for no biases at all.
    activation : str or callable or None
        f, applied after every layer but the last.
    output_activation : str or callable or None
        g, applied after the last layer.

    Returns
    -------
    array, shape (..., out)

    Notes
    -----
    Each layer is computed as :func:`linear` computes it, by the framework's own dense
    layer where it has one.
    """
    if len(weights) == 0:
        raise ValueError("mlp: weights is empty; give at least one (in, out) weight matrix")
    biases = list(biases) if biases is not None else [None] * len(weights)
    if len(biases) != len(weights):
        raise ValueError(
            f"mlp: got {len(weights)} weight matrices but {len(biases)} biases; "
            "give one bias per layer (None for a layer without bias) or biases=None"
        )
    hidden = activation_function("mlp", activation, xp=xp)
    last = activation_function("mlp", output_activation, xp=xp)
    hidden_state = as_floating_array(x, xp=xp, kernel="mlp", name="x")
    for layer, (weight, bias) in enumerate(zip(weights, biases, strict=True)):
        input_name = "x" if layer == 0 else f"layer {layer - 1} output"
        hidden_state, weight, bias = as_floating(
            hidden_state,
            weight,
            bias,
            xp=xp,
            kernel="mlp",
            names=(input_name, f"weights[{layer}]", f"biases[{layer}]"),
        )
        _check_layer(
            "mlp", hidden_state, input_name, weight, f"weights[{layer}]", bias, f"biases[{layer}]"
        )
        is_last = layer == len(weights) - 1
        hidden_state = _layer(
            hidden_state,
            weight,
            bias,
            output_activation if is_last else activation,
            last if is_last else hidden,
            fused,
            xp=xp,
        )
    return hidden_state


@kernel(arrays=("x",))
def normalize(x: Any, /, *, axis: int = -1, xp: Any, fused: FusedNormalize | None = None) -> Any:
    r"""Scale each vector along ``axis`` to unit L2 norm; zero vectors stay zero.

    .. math:: \hat{x} = x / \lVert x \rVert_2 \quad (\hat{x} = 0 \text{ where } x = 0)

    The vector is first divided by its largest absolute value, so the squares cannot
    overflow (float32 vectors with entries near 1e20 still normalise correctly). float16
    and bfloat16 are computed in float32 and cast back: float16's sum of the scaled
    squares passes 65504 past 65504 entries, and some backends flush its subnormals.

    Parameters
    ----------
    x : array, any shape with at least one dimension
    axis : int

    Returns
    -------
    array, same shape as x
    """
    x = as_floating_array(x, xp=xp, kernel="normalize", name="x")
    check_ndim("normalize", "x", x, _ONE_AXIS_OR_MORE)
    axis = check_axis("normalize", "x", x, axis)
    wide = widened(x, xp=xp)
    if fused is not None and not is_empty(wide):
        unit = fused(wide, axis=axis, xp=xp, scaled=_unit_vectors)
        if unit is not NotImplemented:
            return narrowed(unit, x, xp=xp)
    return narrowed(_unit_vectors(wide, axis, xp=xp), x, xp=xp)


@kernel(arrays=("a", "b"), known_sizes=True)  # array-api-compat's Dask clip
def cosine_similarity(
    a: Any, b: Any, /, *, xp: Any, fused: FusedCosineSimilarity | None = None
) -> Any:
    r"""Pairwise cosine similarity between the rows of ``a`` and of ``b``.

    .. math:: S_{ij} = \frac{a_i \cdot b_j}{\lVert a_i\rVert \lVert b_j\rVert}
              \quad (0 \text{ when either vector is zero})

    Parameters
    ----------
    a : array, shape (n, d) or (d,)
    b : array, shape (m, d) or (d,)

    Returns
    -------
    array, shape (n, m)
        With a 1-D argument its axis is dropped: (d,), (m, d) -> (m,); (d,), (d,) -> ().
        Values are clipped to [-1, 1] against round-off. float16 and bfloat16 are
        computed in float32 and cast back, as :func:`normalize`.
    """
    a, b = as_floating(a, b, xp=xp, kernel="cosine_similarity", names=("a", "b"))
    check_ndim("cosine_similarity", "a", a, (1, 2))
    check_ndim("cosine_similarity", "b", b, (1, 2))
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(
            f"cosine_similarity: a has {a.shape[-1]} features but b has {b.shape[-1]} "
            f"(a: {shape_text(a)}, b: {shape_text(b)}); both need the same last dimension"
        )
    a_rows = widened(a if a.ndim == 2 else xp.expand_dims(a, axis=0), xp=xp)
    b_rows = widened(b if b.ndim == 2 else xp.expand_dims(b, axis=0), xp=xp)
    similarity = NotImplemented
    if fused is not None and not (is_empty(a_rows) or is_empty(b_rows)):
        similarity = fused(a_rows, b_rows, xp=xp, scaled=_unit_vectors)
    if similarity is NotImplemented:
        a_unit, b_unit = _unit_vectors(a_rows, -1, xp=xp), _unit_vectors(b_rows, -1, xp=xp)
        similarity = xp.clip(a_unit @ xp.matrix_transpose(b_unit), -1.0, 1.0)
    if b.ndim == 1:
        similarity = similarity[:, 0]
    if a.ndim == 1:
        similarity = similarity[0, ...]
    return narrowed(similarity, a, xp=xp)


def _layer(
    x: Any,
    weight: Any,
    bias: Any,
    activation: str | Callable[[Any], Any] | None,
    apply_activation: Callable[[Any], Any],
    fused: FusedLinear | None,
    *,
    xp: Any,
) -> Any:
    """``activation(x @ weight + bias)`` of checked arguments: the framework's own layer
    where it takes them (a callable activation applied after it), else the formula."""
    if fused is not None:
        name = None if callable(activation) else activation
        output = fused(x, weight, bias, activation=name, xp=xp)
        if output is not NotImplemented:
            return apply_activation(output) if callable(activation) else output
    return apply_activation(_affine(x, weight, bias, xp=xp))


def _affine(x: Any, weight: Any, bias: Any, *, xp: Any) -> Any:
    """``x @ weight + bias``, its operands laid out by their framework so that each chunk
    of x is computed once (Dask; :func:`mlpillars.backends.layer_operands`)."""
    x, weight, bias = layer_operands(x, weight, bias)
    product = x @ weight
    return product if bias is None else product + bias


def _unit_vectors(x: Any, axis: int, *, xp: Any) -> Any:
    """``x / ||x||`` along ``axis`` (zero vectors zero, with gradient zero), x divided by
    its largest magnitude first (brought into range where that passes
    ``_magnitudes.HUGE``).

    A zero vector's norm is taken of 1, and its unit vector chosen apart (a "double
    where"): ``sqrt``'s derivative at 0 is infinite, and the 0 a ``where`` gives it made a
    NaN gradient, which a loss over a batch passes on to every weight that made x.

    The largest magnitude passes no gradient (:func:`~mlpillars.backends.without_gradient`):
    the unit vector does not depend on the scale it is divided by, so that scale's
    gradient cancels exactly, and computing it overflowed: JAX's derivative of ``x / s``
    is ``-x * s**-2``, inf at ``s = 3e-30`` in float32, which made float32 vectors of
    1e-30 NaN gradients (truly about 1e30)."""
    if is_empty(x):  # empty in, empty out (Dask cannot reduce an empty chunk)
        return xp.zeros_like(x)
    largest = without_gradient(reduce_max(xp.abs(x), axis=axis, keepdims=True, xp=xp))
    shrink = shrink_factors(largest, xp=xp)
    if shrink is not None:
        x, largest = x * shrink, largest * shrink
    nonzero_largest = xp.where(largest == 0, xp.ones_like(largest), largest)
    scaled = x / nonzero_largest  # at most 1 in magnitude: the squares cannot overflow
    squares = xp.sum(scaled * scaled, axis=axis, keepdims=True)  # lazy sizes too
    is_zero = squares == 0
    norm = xp.sqrt(xp.where(is_zero, xp.ones_like(squares), squares))
    return xp.where(is_zero, xp.zeros_like(scaled), scaled / norm)


def _check_layer(
    kernel_name: str,
    x: Any,
    x_name: str,
    weight: Any,
    weight_name: str,
    bias: Any,
    bias_name: str,
) -> None:
    """Shapes of one layer: x (..., in), weight (in, out), bias (out,) or broadcastable."""
    check_ndim(kernel_name, weight_name, weight, (2,))
    if x.ndim == 0:
        raise ValueError(
            f"{kernel_name}: {x_name} must have at least one dimension (features), got a scalar"
        )
    fan_in, fan_out = weight.shape
    if x.shape[-1] != fan_in:
        raise ValueError(
            f"{kernel_name}: {x_name} has {x.shape[-1]} features but {weight_name} expects "
            f"{fan_in} ({x_name}: {shape_text(x)}, {weight_name}: {shape_text(weight)}); "
            f"{weight_name} must be (in, out) = ({x.shape[-1]}, out)"
        )
    if bias is not None and (bias.ndim > 1 or (bias.ndim == 1 and bias.shape[0] != fan_out)):
        raise ValueError(
            f"{kernel_name}: {bias_name} must have shape ({fan_out},) to match {weight_name}'s "
            f"{fan_out} outputs; got {bias_name}: {shape_text(bias)}, "
            f"{weight_name}: {shape_text(weight)}"
        )
