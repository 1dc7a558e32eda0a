"""Bad inputs get a clear TypeError naming the kernel and the argument; complex input is
refused, never cast to real; empty axes and 0-d inputs follow SciPy and torch.

Every error is checked by the start of its message: ``"<kernel>: <argument> ..."``.
"""

from __future__ import annotations

import inspect
import re
import warnings
from dataclasses import replace
from fractions import Fraction
from typing import Any

import numpy as np
import pytest
import scipy.special

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS, KERNELS
from mlpillars.bench.catalogue import entry_for
from mlpillars.examples import SMALLEST_SIZE, call_on_backend
from mlpillars.testing import BackendCase, assert_close

CPU_BACKENDS = ("numpy", "torch", "jax", "dask", "array_api_strict")


def _backend_params(*, with_none: bool) -> list[Any]:
    """``backend=`` values for the CPU backends, each skipped with the reason if missing."""
    params = [pytest.param(None, id="follow-inputs")] if with_none else []
    for name in CPU_BACKENDS:
        missing = not FRAMEWORKS[name].is_installed()
        marks = [pytest.mark.skip(reason=f"{name} is not installed")] if missing else []
        params.append(pytest.param(name, id=name, marks=marks))
    return params


NOT_ARRAYS = {
    "None": None,
    "str": "abc",
    "bytes": b"abc",
    "dict": {"a": 1.0},
    "set": {1.0, 2.0},
    "ragged": [[1.0, 2.0], [3.0]],
    "list-with-None": [1.0, None],
    "list-with-str": [1.0, "a"],
    "object-array": np.array([1.0, "a"], dtype=object),
    "object-array-of-numbers": np.array([1.0, 2.0], dtype=object),
    "text-array": np.array(["a", "b"]),
    "datetime-array": np.array(["2026-01-01"], dtype="datetime64[D]"),
}


@pytest.mark.parametrize("backend", _backend_params(with_none=True))
@pytest.mark.parametrize("value", NOT_ARRAYS.values(), ids=NOT_ARRAYS.keys())
def test_what_is_not_an_array_of_numbers_is_a_type_error_naming_kernel_and_argument(value, backend):
    with pytest.raises(TypeError, match=r"^softmax: x (is|must)") as error:
        mp.softmax(value, backend=backend)
    assert "valid" in str(error.value) or "real numbers" in str(error.value)


@pytest.mark.parametrize("spec", [123, 1.5, ["torch"], b"numpy"])
def test_a_backend_that_is_not_a_string_is_a_type_error(spec):
    with pytest.raises(TypeError, match=r"^softmax: the backend \(from backend=\) must be a str"):
        mp.softmax([1.0, 2.0], backend=spec)
    with pytest.raises(TypeError, match=r"the backend \(from use_backend\) must be a string"):
        with mp.use_backend(spec):
            pass
    with pytest.raises(TypeError, match=r"the backend \(from to_backend\) must be a string"):
        mp.to_backend([1.0], spec)


def test_a_required_array_given_as_none_is_named():
    x, weight = np.ones((2, 3)), np.ones((3, 4))
    with pytest.raises(TypeError, match=r"^linear: weight is required, got None"):
        mp.linear(x, None)
    with pytest.raises(TypeError, match=r"^mlp: weights\[1\] is required, got None"):
        mp.mlp(x, [weight, None])
    with pytest.raises(TypeError, match=r"^mlp: weights must be a list or tuple of arrays"):
        mp.mlp(x, weight)
    with pytest.raises(TypeError, match=r"^cross_entropy: target is required"):
        mp.cross_entropy(x, None)
    expected = x @ weight  # an optional array may be None: no bias
    assert_close(mp.linear(x, weight, None), expected)
    assert_close(mp.mlp(x, [weight], [None]), np.maximum(expected, 0) * 0 + expected)


# -- complex input ----------------------------------------------------------------------------


def _array_arguments(kernel_name: str) -> list[tuple[str, int, int | None]]:
    """(argument name, position, index in its list) of every floating array of the
    kernel's example call."""
    call = entry_for(kernel_name).example_call(SMALLEST_SIZE, "float64")
    names = list(inspect.signature(KERNELS[kernel_name]).parameters)
    found = []
    for position, value in enumerate(call.arrays):
        if isinstance(value, (list, tuple)):
            found += [(f"{names[position]}[{i}]", position, i) for i in range(len(value))]
        elif np.asarray(value).dtype.kind == "f":
            found.append((names[position], position, None))
    return found


COMPLEX_CASES = [
    pytest.param(kernel_name, *argument, id=f"{kernel_name}-{argument[0]}")
    for kernel_name in KERNELS
    for argument in _array_arguments(kernel_name)
]


@pytest.mark.parametrize(("kernel_name", "argument", "position", "index"), COMPLEX_CASES)
def test_complex_input_is_refused_by_every_kernel(kernel_name, argument, position, index):
    call = entry_for(kernel_name).example_call(SMALLEST_SIZE, "float64")
    arrays = [list(value) if isinstance(value, list) else value for value in call.arrays]
    if index is None:
        arrays[position] = arrays[position] + 1j
    else:
        arrays[position][index] = arrays[position][index] + 1j
    pattern = rf"^{kernel_name}: {re.escape(argument)} is complex \(complex128\)"
    with pytest.raises(TypeError, match=pattern) as error:
        KERNELS[kernel_name](*arrays, **call.options)
    assert "never drops an imaginary part" in str(error.value)


@pytest.mark.parametrize("backend", _backend_params(with_none=False))
def test_complex_input_is_refused_on_every_backend(backend):
    host = np.array([[1.0 + 1.0j, 2.0], [0.5, -1.0j]])
    x = mp.to_backend(host, backend)
    for name in ("softmax", "log_softmax", "logsumexp", "sigmoid", "normalize"):
        with pytest.raises(TypeError, match=rf"^{name}: x is complex"):
            KERNELS[name](x)
    with pytest.raises(TypeError, match=r"^softmax: x is complex"):
        mp.softmax([1j, 2.0], backend=backend)  # a Python list of complex numbers too
    with pytest.raises(TypeError, match=r"^linear: weight is complex"):
        mp.linear(mp.to_backend(np.ones((2, 2)), backend), x)


def test_complex_learning_rate_and_pca_transform_input_are_refused(rng: np.random.Generator):
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    with pytest.raises(TypeError, match=r"^gradient_descent: lr is complex"):
        mp.gradient_descent(X, y, lr=np.array(0.1 + 0.1j), steps=2)
    model = mp.PCA(1).fit(X)
    with pytest.raises(TypeError, match=r"^PCA.transform: X is complex"):
        model.transform(X + 1j)


# -- objects NumPy reads ---------------------------------------------------------------------


class _Table:
    """A stand-in for a pandas DataFrame: an object NumPy reads through ``__array__``."""

    def __init__(self, values: np.ndarray) -> None:
        self.values = values

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
        return self.values if dtype is None else self.values.astype(dtype)


@pytest.mark.parametrize("backend", _backend_params(with_none=True))
def test_an_object_numpy_reads_is_read_as_numpy_reads_it(backend):
    values = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 5.0]])
    result = mp.softmax(_Table(values), backend=backend)
    expected_owner = backend or "numpy"
    assert mp.backends.framework_of(result).name == expected_owner
    assert_close(result, scipy.special.softmax(values, axis=-1))
    with pytest.raises(TypeError, match=r"^softmax: x must hold numbers; NumPy reads this _Table"):
        mp.softmax(_Table(np.array([["a", "b"]], dtype=object)), backend=backend)


@pytest.mark.parametrize("backend", _backend_params(with_none=True))
def test_a_pandas_dataframe_is_read_as_numpy_reads_it(backend):
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1.0, 2.0], "b": [3, 4]})
    result = mp.softmax(frame, backend=backend)
    assert mp.backends.framework_of(result).name == (backend or "numpy")
    assert_close(result, scipy.special.softmax(frame.to_numpy(dtype=float), axis=-1))
    with pytest.raises(TypeError, match=r"^softmax: x must hold numbers; NumPy reads this"):
        mp.softmax(pd.DataFrame({"a": ["x", "y"]}), backend=backend)


# -- NumPy's other arrays: byte order, longdouble, np.matrix, masked arrays ------------------


def _swapped(value: Any) -> Any:
    """``value``'s floating arrays in the other byte order (big-endian data read from a
    file on a little-endian machine), lists of them too."""
    if isinstance(value, list):
        return [_swapped(item) for item in value]
    if np.asarray(value).dtype.kind != "f":
        return value
    return value.astype(value.dtype.newbyteorder("S"))


def _host_arrays(result: Any) -> list[np.ndarray]:
    parts = result if isinstance(result, tuple) else (result,)
    return [np.asarray(part.compute() if hasattr(part, "compute") else part) for part in parts]


@pytest.mark.parametrize("on_dask", [False, True], ids=["numpy", "dask"])
@pytest.mark.parametrize("kernel_name", list(KERNELS))
def test_arrays_in_the_other_byte_order_give_the_native_result(kernel_name, on_dask):
    """scipy.special takes them; here two kernels raised from deep inside (the NumPy
    log_softmax's ufunc ``dtype=``, gradient_descent's tolerance lookup of ``'>f8'``)."""
    if on_dask and not FRAMEWORKS["dask"].is_installed():
        pytest.skip("dask is not installed")
    entry = entry_for(kernel_name)
    call = entry.example_call(SMALLEST_SIZE, "float32")
    swapped = [_swapped(value) for value in call.arrays]
    assert not swapped[0].dtype.isnative  # the first argument holds floats in every call
    if on_dask:
        call = call_on_backend(call, "dask")
        swapped = list(call_on_backend(replace(call, arrays=tuple(swapped)), "dask").arrays)
    expected = _host_arrays(entry.main_output(KERNELS[kernel_name](*call.arrays, **call.options)))
    result = _host_arrays(entry.main_output(KERNELS[kernel_name](*swapped, **call.options)))
    for got, wanted in zip(result, expected, strict=True):
        assert got.dtype == wanted.dtype and got.dtype.isnative
        np.testing.assert_array_equal(got, wanted)  # the same computation, on the same values


LONG_DOUBLE = np.dtype(np.longdouble)


@pytest.mark.skipif(LONG_DOUBLE.itemsize == 8, reason="np.longdouble is float64 on this machine")
@pytest.mark.parametrize("kernel_name", list(KERNELS))
def test_longdouble_is_refused_by_every_kernel_naming_the_dtypes_it_computes_in(kernel_name):
    """Some kernels computed it, others failed inside NumPy's linalg or SciPy's erf, and
    gradient_descent crashed with a KeyError: refused alike, as torch, JAX and
    array-api-strict refuse it."""
    call = entry_for(kernel_name).example_call(SMALLEST_SIZE, "float64")
    argument, position, _ = _array_arguments(kernel_name)[0]  # every kernel's first: an array
    arrays = list(call.arrays)
    arrays[position] = arrays[position].astype(np.longdouble)
    pattern = rf"^{kernel_name}: {argument} has dtype {LONG_DOUBLE.name}, which mlpillars"
    with pytest.raises(TypeError, match=pattern) as error:
        KERNELS[kernel_name](*arrays, **call.options)
    assert "float64, float32, float16, bfloat16" in str(error.value)


@pytest.mark.parametrize("backend", _backend_params(with_none=True))
def test_a_masked_array_is_refused_since_its_mask_would_be_lost(backend):
    values = np.ma.masked_array([[1.0, 2.0], [3.0, 4.0]], mask=[[False, True], [False, False]])
    with pytest.raises(TypeError, match=r"^softmax: x is a masked array \(numpy.ma\)"):
        mp.softmax(values, backend=backend)
    with pytest.raises(TypeError, match=r"^linear: weight is a masked array"):
        mp.linear(np.ones((3, 2)), values, backend=backend)


@pytest.mark.parametrize("backend", _backend_params(with_none=True))
def test_a_numpy_matrix_is_read_as_numpy_reads_it(backend):
    """np.matrix's ``*`` multiplies matrices and its reductions stay 2-D: cross_entropy
    and pca_fit gave wrong values and logsumexp raised. It is now read as ``np.asarray``;
    beside integer labels on a selected backend it raised an AttributeError."""
    rng = np.random.default_rng(7)
    logits, labels = rng.normal(size=(6, 4)), rng.integers(0, 4, size=6)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)  # "not the recommended way"
        matrix = np.asmatrix(logits)
    for name in ("logsumexp", "softmax"):
        result = KERNELS[name](matrix, backend=backend)
        assert mp.backends.framework_of(result).name == (backend or "numpy")
        assert backend is not None or type(result) is np.ndarray
        assert_close(result, getattr(scipy.special, name)(logits, axis=-1))
    expected = -scipy.special.log_softmax(logits, axis=-1)[np.arange(6), labels].mean()
    assert_close(mp.cross_entropy(matrix, labels, backend=backend), expected)
    as_list = mp.cross_entropy(logits.tolist(), labels, backend=backend)
    assert_close(as_list, expected)  # float32 on torch: its default float


# -- sparse, nested and meta arrays ----------------------------------------------------------


def _torch_call(kernel_name: str) -> tuple[Any, list[Any], dict[str, Any], str]:
    """torch, the kernel's example arrays as CPU tensors, its options, and the name of its
    first argument (an array in every kernel's example)."""
    torch = pytest.importorskip("torch")
    call = call_on_backend(entry_for(kernel_name).example_call(SMALLEST_SIZE, "float64"), "torch")
    return torch, list(call.arrays), call.options, _array_arguments(kernel_name)[0][0]


@pytest.mark.parametrize("kernel_name", list(KERNELS))
def test_a_sparse_torch_tensor_is_refused_by_every_kernel_with_how_to_densify(kernel_name):
    """torch raised NotImplementedError from inside the formula ("Could not run
    'aten::amax' with arguments from the 'SparseCPU' backend"), naming no kernel."""
    _, arrays, options, argument = _torch_call(kernel_name)
    arrays[0] = arrays[0].to_sparse()
    pattern = rf"^{kernel_name}: {argument} is a sparse tensor \(layout torch.sparse_coo\)"
    with pytest.raises(TypeError, match=pattern) as error:
        KERNELS[kernel_name](*arrays, **options)
    assert f"pass {argument}.to_dense()" in str(error.value)


@pytest.mark.filterwarnings("ignore:Sparse CSR tensor support is in beta")
@pytest.mark.parametrize("backend", [None, "numpy"], ids=["follow-inputs", "numpy"])
def test_csr_and_nested_torch_tensors_are_refused_wherever_they_are_given(backend):
    torch = pytest.importorskip("torch")
    dense = torch.tensor([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    nested = torch.nested.nested_tensor([torch.ones(3), torch.ones(2)], layout=torch.jagged)
    with pytest.raises(
        TypeError, match=r"^softmax: x is a sparse tensor \(layout torch.sparse_csr\)"
    ):
        mp.softmax(dense.to_sparse_csr(), backend=backend)
    with pytest.raises(TypeError, match=r"^linear: weight is a sparse tensor"):
        mp.linear(torch.ones(4, 2), dense.to_sparse_csr(), backend=backend)
    with pytest.raises(TypeError, match=r"^mlp: weights\[1\] is a sparse tensor"):
        mp.mlp(torch.ones(4, 2), [dense[:, :2].T, dense.T.to_sparse()], backend=backend)
    with pytest.raises(TypeError, match=r"^softmax: x is a nested tensor .*to_padded_tensor"):
        mp.softmax(nested, backend=backend)


def _sparse_arrays() -> list[Any]:
    import scipy.sparse as scipy_sparse

    params = []
    values = np.array([[1.0, 0.0, 2.0], [0.0, 3.0, 0.0]])
    params += [
        pytest.param(scipy_sparse.csr_array(values), "csr_array", "toarray", id="scipy-csr"),
        pytest.param(scipy_sparse.coo_matrix(values), "coo_matrix", "toarray", id="scipy-coo"),
    ]
    if FRAMEWORKS["jax"].is_installed():
        import jax.experimental.sparse as jax_sparse

        params.append(
            pytest.param(jax_sparse.BCOO.fromdense(values), "BCOO", "todense", id="jax-bcoo")
        )
    return params


@pytest.mark.parametrize("backend", _backend_params(with_none=True))
@pytest.mark.parametrize(("sparse", "type_name", "densify"), _sparse_arrays())
def test_sparse_arrays_of_other_libraries_are_refused_with_how_to_densify(
    sparse, type_name, densify, backend
):
    """NumPy reads them as object arrays: the error said to convert "columns" to numbers."""
    pattern = rf"^softmax: x is a sparse {type_name}, .* pass x\.{densify}\(\)$"
    with pytest.raises(TypeError, match=pattern):
        mp.softmax(sparse, backend=backend)
    with pytest.raises(TypeError, match=rf"^linear: weight is a sparse {type_name}"):
        mp.linear(np.ones((4, 2)), sparse, backend=backend)


def _leaves(result: Any) -> list[Any]:
    if isinstance(result, (tuple, list)):
        return [leaf for part in result for leaf in _leaves(part)]
    return [result]


@pytest.mark.parametrize("kernel_name", list(KERNELS))
def test_every_kernel_on_meta_tensors_gives_the_shapes_and_dtypes_of_a_cpu_call(kernel_name):
    """A meta tensor has a shape and a dtype, no values (torch's shape inference): eight
    kernels read values for their checks (Tensor.item() cannot be called on meta
    tensors); a meta tensor is now read as a tracer is, its value checks skipped."""
    torch, arrays, options, _ = _torch_call(kernel_name)
    on_cpu = _leaves(KERNELS[kernel_name](*arrays, **options))
    on_meta = _leaves(KERNELS[kernel_name](*_on_meta(arrays, torch), **options))
    assert len(on_meta) == len(on_cpu)
    for meta, cpu in zip(on_meta, on_cpu, strict=True):
        if isinstance(cpu, bool) and kernel_name == "pca_fit":
            # centred_projection: decided from the values where they can be read, True
            # where they cannot (a tracer, a meta tensor, Dask, a GPU): not a shape
            assert meta is True
            continue
        if not isinstance(cpu, torch.Tensor):
            assert meta == cpu  # a Python number (steps run, ...): the same
            continue
        assert meta.device.type == "meta"
        assert (meta.shape, meta.dtype) == (cpu.shape, cpu.dtype)


def _on_meta(value: Any, torch: Any) -> Any:
    if isinstance(value, list):
        return [_on_meta(item, torch) for item in value]
    return value.to("meta") if isinstance(value, torch.Tensor) else value


# -- empty axes and 0-d inputs ---------------------------------------------------------------

EMPTY_SHAPES = [((5, 0), -1), ((0,), -1), ((0, 4), -1), ((0, 4), 0), ((3, 0, 2), 1)]


@pytest.mark.parametrize(("shape", "axis"), EMPTY_SHAPES)
@pytest.mark.parametrize("kernel_name", ["softmax", "log_softmax"])
def test_softmax_of_an_empty_array_is_empty(xp: BackendCase, kernel_name, shape, axis):
    x = xp.asarray(np.zeros(shape))
    result = getattr(mp, kernel_name)(x, axis)
    assert_close(result, np.zeros(shape), like=x)  # torch's answer; SciPy 1.17 raises


@pytest.mark.parametrize("keepdims", [False, True])
@pytest.mark.parametrize(("shape", "axis"), EMPTY_SHAPES)
def test_logsumexp_over_an_empty_axis_is_minus_infinity(xp: BackendCase, shape, axis, keepdims):
    x = xp.asarray(np.zeros(shape))
    expected = scipy.special.logsumexp(np.zeros(shape), axis=axis, keepdims=keepdims)
    assert_close(mp.logsumexp(x, axis, keepdims=keepdims), expected, like=x)


@pytest.mark.parametrize("axis", [-1, 0])
def test_a_0d_input_is_one_entry(xp: BackendCase, axis):
    for value in (1000.0, -3.5, 0.0):
        x = xp.asarray(np.array(value))
        assert_close(mp.softmax(x, axis), scipy.special.softmax(np.array(value)), like=x)
        assert_close(mp.log_softmax(x, axis), scipy.special.log_softmax(value), like=x)
        assert_close(mp.logsumexp(x, axis), scipy.special.logsumexp(value), like=x)
        assert_close(mp.logsumexp(x, axis, keepdims=True), np.array(value), like=x)  # torch
        assert_close(mp.sigmoid(x), scipy.special.expit(value), like=x)


def test_sigmoid_normalize_linear_mlp_cosine_of_zero_rows(xp: BackendCase):
    rows = xp.asarray(np.zeros((0, 3)))
    weight, bias = xp.asarray(np.ones((3, 2))), xp.asarray(np.ones(2))
    assert_close(mp.sigmoid(rows), np.zeros((0, 3)), like=rows)
    assert_close(mp.normalize(rows), np.zeros((0, 3)), like=rows)
    assert_close(mp.linear(rows, weight, bias, activation="gelu"), np.zeros((0, 2)), like=rows)
    assert_close(mp.mlp(rows, [weight, xp.asarray(np.ones((2, 4)))]), np.zeros((0, 4)), like=rows)
    others = xp.asarray(np.ones((2, 3)))
    assert_close(mp.cosine_similarity(rows, others), np.zeros((0, 2)), like=rows)
    assert_close(mp.cosine_similarity(others, rows), np.zeros((2, 0)), like=rows)


def test_cross_entropy_of_zero_samples(xp: BackendCase):
    logits = xp.asarray(np.zeros((0, 3)))
    labels = xp.asarray(np.zeros(0, dtype=np.int64), dtype=None)
    assert_close(mp.cross_entropy(logits, labels, reduction="sum"), np.array(0.0), like=logits)
    assert_close(mp.cross_entropy(logits, labels, reduction="none"), np.zeros(0), like=logits)
    with pytest.raises(ValueError, match=r"^cross_entropy: the mean over zero samples"):
        mp.cross_entropy(logits, labels)
    with pytest.raises(ValueError, match=r"^cross_entropy: logits have 0 classes"):
        mp.cross_entropy(xp.asarray(np.zeros((4, 0))), xp.asarray(np.zeros((4, 0))))
    with pytest.raises(ValueError, match=r"^cross_entropy: logits must have a class axis"):
        mp.cross_entropy(xp.asarray(np.array(1.0)), xp.asarray(np.array(0), dtype=None))


def test_dask_reductions_over_empty_chunks():
    da = pytest.importorskip("dask.array")
    host = np.random.default_rng(3).normal(size=(5, 4))
    x = da.from_array(host, chunks=((2, 0, 3), (4,)))
    assert_close(mp.softmax(x, 0), scipy.special.softmax(host, axis=0), like=x)
    assert_close(mp.log_softmax(x, 0), scipy.special.log_softmax(host, axis=0), like=x)
    assert_close(mp.logsumexp(x, 0), scipy.special.logsumexp(host, axis=0), like=x)
    assert_close(mp.normalize(x, axis=0), host / np.linalg.norm(host, axis=0), like=x)
    unit = host / np.linalg.norm(host, axis=1, keepdims=True)
    assert_close(mp.cosine_similarity(x, x), np.clip(unit @ unit.T, -1, 1), like=x)


def _rows_of_unknown_sizes(da: Any, host: np.ndarray) -> Any:
    """``host`` as a Dask array filtered by a boolean mask: its row sizes are NaN."""
    lazy = da.from_array(host, chunks=(max(1, host.shape[0] // 2), *host.shape[1:]))
    return lazy[da.from_array(np.ones(host.shape[0], dtype=bool), chunks=lazy.chunks[0])]


def test_dask_rows_of_unknown_sizes_are_taken_slice_by_slice():
    """After boolean indexing the row sizes are NaN; the kernels that work slice by slice
    take such arrays (normalize failed in array-api-compat's vector_norm)."""
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(4)
    host, weight, bias = rng.normal(size=(9, 4)), rng.normal(size=(4, 3)), rng.normal(size=3)
    x = _rows_of_unknown_sizes(da, host)
    assert np.isnan(x.shape[0])
    for axis in (0, 1):
        assert_close(mp.softmax(x, axis=axis), scipy.special.softmax(host, axis=axis))
        assert_close(mp.log_softmax(x, axis=axis), scipy.special.log_softmax(host, axis=axis))
        assert_close(mp.logsumexp(x, axis=axis), scipy.special.logsumexp(host, axis=axis))
        unit = host / np.linalg.norm(host, axis=axis, keepdims=True)
        assert_close(mp.normalize(x, axis=axis), unit)
    assert_close(mp.sigmoid(x), scipy.special.expit(host))
    layer = mp.linear(x, da.from_array(weight), da.from_array(bias), activation="relu")
    assert_close(layer, np.maximum(host @ weight + bias, 0))


def test_dask_arrays_of_unknown_sizes_are_refused_by_kernels_that_need_them():
    """The others failed inside Dask or array-api-compat ("cannot convert float NaN to
    integer"), or compared NaN sizes into a misleading message ("the batch sizes B
    disagree (X: nan, y: nan)")."""
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(5)
    X, y = _rows_of_unknown_sizes(da, rng.normal(size=(20, 3))), rng.normal(size=20)
    labels = _rows_of_unknown_sizes(da, rng.integers(0, 3, size=20))
    calls = {  # kernel: (its call, the argument named)
        "pca": (lambda: mp.pca(X, 2), "X"),
        "pca_fit": (lambda: mp.pca_fit(X, 2), "X"),
        "least_squares": (lambda: mp.least_squares(X, _rows_of_unknown_sizes(da, y)), "X"),
        "gradient_descent": (lambda: mp.gradient_descent(X, _rows_of_unknown_sizes(da, y)), "X"),
        "r_squared": (lambda: mp.r_squared(X, X), "y_true"),
        "cross_entropy": (lambda: mp.cross_entropy(X, labels), "logits"),
        "cosine_similarity": (lambda: mp.cosine_similarity(X, X), "a"),
        "scaled_dot_product_attention": (lambda: mp.scaled_dot_product_attention(X, X, X), "q"),
    }
    for name, (call, argument) in calls.items():
        pattern = rf"^{name}: {argument} has sizes not known yet \(shape \(nan, 3\)"
        with pytest.raises(ValueError, match=pattern) as error:
            call()
        assert f"{argument}.compute_chunk_sizes()" in str(error.value)


def test_r_squared_of_data_far_from_zero_of_huge_values_and_of_zero_samples(xp: BackendCase):
    rng = np.random.default_rng(7)
    for offset, scale in ((1e4, 1.0), (0.0, 1e30), (-1e30, 1e25)):
        y_true = xp.asarray(offset + scale * rng.normal(size=(2, 40)))
        y_pred = xp.asarray(xp.to_numpy(y_true) + 0.3 * scale * rng.normal(size=(2, 40)))
        truth, prediction = xp.to_numpy(y_true), xp.to_numpy(y_pred)
        centred = truth - truth.mean(axis=-1, keepdims=True)
        expected = 1 - ((truth - prediction) ** 2).sum(-1) / (centred**2).sum(-1)
        assert_close(mp.r_squared(y_true, y_pred), expected, like=y_true)
    with pytest.raises(ValueError, match=r"^r_squared: .* at least one sample"):
        mp.r_squared(xp.asarray(np.zeros((3, 0))), xp.asarray(np.zeros((3, 0))))
    empty_batch = xp.asarray(np.zeros((0, 4)))
    assert_close(mp.r_squared(empty_batch, empty_batch), np.zeros(0), like=empty_batch)


def exact_r_squared(y_true: np.ndarray, y_pred: np.ndarray) -> float:
    """R^2 of one row in exact rational arithmetic, rounded to float."""
    truth, prediction = ([Fraction(float(v)) for v in row] for row in (y_true, y_pred))
    mean = sum(truth) / len(truth)
    total = sum((t - mean) ** 2 for t in truth)
    residual = sum((t - p) ** 2 for t, p in zip(truth, prediction, strict=True))
    return float(1 - residual / total)


def test_r_squared_near_the_largest_float(xp: BackendCase):
    # y_true - y_true[0] of 1e308 and -1e308 overflows (every backend gave NaN); errors
    # and spreads past 2**126 (float32) had reciprocals that XLA on CPU flushes to zero,
    # scores of 1 or 0 on JAX (exact: -35, 0.99977)
    largest = float(np.finfo(xp.dtype_name).max)
    rows = [
        ([0.6, -0.6], [0.6, -0.15]),
        ([0.03, -0.03, 0.0], [-0.15, 0.15, 0.0]),
        ([0.0, 0.3, 0.15, 0.06], [0.0, 0.303, 0.1515, 0.0606]),
    ]
    for truth, prediction in rows:
        y_true, y_pred = (xp.asarray(np.array(row) * largest) for row in (truth, prediction))
        expected = exact_r_squared(xp.to_numpy(y_true), xp.to_numpy(y_pred))
        assert_close(mp.r_squared(y_true, y_pred), expected, like=y_true)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda x: mp.least_squares(x, x[:, 0], fit_intercept="no"),
            "least_squares: fit_intercept",
        ),
        (lambda x: mp.gradient_descent(x, x[:, 0], fit_intercept="no"), "gradient_descent: fit_i"),
        (lambda x: mp.gradient_descent(x, x[:, 0], halt_on_divergence=None), "halt_on_divergence"),
        (lambda x: mp.pca(x, n_components=1, whiten="no"), "pca: whiten"),
        (lambda x: mp.PCA(1, whiten=1).fit(x), "PCA.fit: whiten"),
        (lambda x: mp.scaled_dot_product_attention(x, x, x, is_causal="no"), "is_causal"),
        (lambda x: mp.scaled_dot_product_attention(x, x, x, enable_gqa=0), "enable_gqa"),
        (lambda x: mp.scaled_dot_product_attention(x, x, x, return_weights="y"), "return_weights"),
    ],
)
def test_a_flag_takes_a_bool_not_whatever_is_truthy(call, message):
    """fit_intercept="no" fitted an intercept and whiten="no" whitened: any truthy value
    was read as True. NumPy's np.True_ is still a bool."""
    x = np.random.default_rng(0).normal(size=(6, 3))
    with pytest.raises(ValueError, match=rf"{message}.* must be True or False, got"):
        call(x)
    assert mp.least_squares(x, x[:, 0], fit_intercept=np.False_).bias == 0.0
