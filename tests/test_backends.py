"""The backends layer: selection, movement, errors, capabilities, lazy imports."""

from __future__ import annotations

import pathlib
import subprocess
import sys
import threading

import numpy as np
import pytest

import mlpillars as mp
from mlpillars import backends
from mlpillars.backends import FRAMEWORKS, framework_of
from mlpillars.testing import BackendCase, assert_close
from mlpillars.tolerances import dtype_name

INSTALLED_CPU_SPECS = [
    f"{name}:cpu"
    for name in ("numpy", "torch", "jax", "dask", "array_api_strict")
    if FRAMEWORKS[name].is_installed()
]


def test_importing_mlpillars_imports_no_framework():
    code = (
        "import sys, mlpillars, mlpillars.kernels, mlpillars.testing;"
        "print(sorted(m for m in ('torch', 'jax', 'cupy', 'dask', 'array_api_strict', 'numba')"
        " if m in sys.modules))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "[]"


def test_results_follow_inputs(xp: BackendCase):
    x = xp.asarray([[2.0, 1.0, 0.1]])
    result = mp.softmax(x)
    assert framework_of(result) is xp.framework
    assert str(xp.framework.device_of(result)) == str(xp.framework.device_of(x))


def test_every_kernel_keeps_its_inputs_on_array_api_strict_device1():
    """array-api-strict's "device1" plays a GPU (no value is read there, as on CUDA) and
    refuses any operation mixing devices: every kernel's example call with its arrays
    there gives NumPy's values, on that device."""
    strict = pytest.importorskip("array_api_strict")
    from mlpillars.bench.catalogue import CATALOGUE
    from mlpillars.examples import SMALLEST_SIZE

    device = strict.Device("device1")

    def there(value):
        if isinstance(value, list):
            return [there(item) for item in value]
        return strict.asarray(value, device=device) if isinstance(value, np.ndarray) else value

    for name, entry in CATALOGUE.items():
        call = entry.example(np.random.default_rng(0), SMALLEST_SIZE)
        expected = entry.main_output(mp.KERNELS[name](*call.arrays, **call.options))
        result = entry.main_output(mp.KERNELS[name](*there(list(call.arrays)), **call.options))
        as_tuples = (part if isinstance(part, tuple) else (part,) for part in (result, expected))
        for actual, wanted in zip(*as_tuples, strict=True):
            assert actual.device == device, f"{name}: on {actual.device}"
            assert_close(actual, wanted, err_msg=name)


def test_python_lists_count_as_numpy():
    result = mp.softmax([2.0, 1.0, 0.1])
    assert isinstance(result, np.ndarray) and result.dtype == np.float64


@pytest.mark.parametrize("spec", INSTALLED_CPU_SPECS)
def test_backend_keyword_moves_inputs_and_results(spec: str):
    logits = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])
    result = mp.softmax(logits, backend=spec)
    framework = FRAMEWORKS[spec.partition(":")[0]]
    assert framework_of(result) is framework
    assert_close(result, np.exp(logits) / np.exp(logits).sum(-1, keepdims=True))


def test_environment_variable_selects_backend(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("torch")
    monkeypatch.setenv("MLPILLARS_BACKEND", "torch")
    result = mp.softmax(np.ones((2, 3)))
    assert type(result).__module__ == "torch" and type(result).__name__ == "Tensor"


def test_selection_order_keyword_over_context_over_environment(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("torch")
    pytest.importorskip("array_api_strict")
    monkeypatch.setenv("MLPILLARS_BACKEND", "array_api_strict")
    x = np.ones(3)
    assert framework_of(mp.softmax(x)).name == "array_api_strict"
    with mp.use_backend("torch"):
        assert framework_of(mp.softmax(x)).name == "torch"
        assert framework_of(mp.softmax(x, backend="numpy")).name == "numpy"
    assert framework_of(mp.softmax(x)).name == "array_api_strict"


def test_use_backend_is_private_to_its_thread():
    pytest.importorskip("torch")
    seen_in_thread: list[str] = []
    entered, checked = threading.Event(), threading.Event()

    def other_thread() -> None:
        entered.wait(timeout=10)
        seen_in_thread.append(framework_of(mp.softmax(np.ones(2))).name)
        checked.set()

    worker = threading.Thread(target=other_thread)
    worker.start()
    with mp.use_backend("torch"):
        entered.set()
        checked.wait(timeout=10)
        assert framework_of(mp.softmax(np.ones(2))).name == "torch"
    worker.join()
    assert seen_in_thread == ["numpy"]


def test_selection_ends_with_its_block_even_when_nested_or_left_by_an_error():
    pytest.importorskip("array_api_strict")
    x = np.ones(3)
    with pytest.raises(RuntimeError, match="left"):
        with mp.use_backend("array_api_strict"):
            with mp.use_backend("numpy"):
                assert framework_of(mp.softmax(x)).name == "numpy"
            assert framework_of(mp.softmax(x)).name == "array_api_strict"
            raise RuntimeError("left")
    assert framework_of(mp.softmax(x)).name == "numpy"
    assert backends._selection._active_contexts == 0


def test_each_new_value_of_the_environment_variable_is_followed(monkeypatch: pytest.MonkeyPatch):
    pytest.importorskip("array_api_strict")
    x = np.ones(3)
    for value, expected in [("array_api_strict", "array_api_strict"), ("numpy", "numpy")] * 2:
        monkeypatch.setenv("MLPILLARS_BACKEND", value)
        assert framework_of(mp.softmax(x)).name == expected
    monkeypatch.setenv("MLPILLARS_BACKEND", "  ")
    assert framework_of(mp.softmax(x)).name == "numpy"
    monkeypatch.delenv("MLPILLARS_BACKEND")
    assert framework_of(mp.softmax(x)).name == "numpy"


@pytest.mark.parametrize("spec", INSTALLED_CPU_SPECS)
def test_remembered_dtype_answers_are_the_namespaces_own(spec: str):
    xp = FRAMEWORKS[spec.partition(":")[0]].namespace()
    names = ("bool", "int8", "int64", "uint8", "float16", "float32", "float64", "complex64")
    kinds = (*backends._dtypes.KINDS,)
    for dtype in [getattr(xp, name) for name in names if hasattr(xp, name)]:
        dtype = xp.empty(1, dtype=dtype).dtype  # the dtype object arrays carry
        for kind in kinds:
            assert backends.is_dtype(dtype, kind, xp=xp) == xp.isdtype(dtype, kind), (dtype, kind)
        expected_half = str(dtype).endswith(("float16", "bfloat16"))
        assert backends.is_dtype(dtype, "half", xp=xp) == expected_half, dtype


@pytest.mark.parametrize("spec", INSTALLED_CPU_SPECS)
def test_remembered_dtype_names_are_the_dtypes_own(spec: str):
    xp = FRAMEWORKS[spec.partition(":")[0]].namespace()
    names = ("bool", "int8", "int64", "uint8", "float16", "float32", "float64", "complex64")
    for name in [name for name in names if hasattr(xp, name)]:
        dtype = xp.empty(1, dtype=getattr(xp, name)).dtype
        if dtype != getattr(xp, name):  # JAX without x64: int64 arrays are int32
            continue
        assert dtype_name(dtype) == dtype_name(dtype) == name  # the second one remembered
    # equal dtypes of other types keep their own names (numpy.dtype("float64") == float)
    assert (dtype_name(np.dtype("float64")), dtype_name(float)) == ("float64", "float")
    assert dtype_name(np.float32) == "float32"


def test_mixed_namespaces_are_refused_without_a_backend_and_moved_with_one():
    torch = pytest.importorskip("torch")
    x, weight = np.ones((2, 3)), torch.ones(3, 4, dtype=torch.float64)
    with pytest.raises(TypeError, match=r"linear: .*different array namespaces.*numpy \(x\)"):
        mp.linear(x, weight)
    with pytest.raises(TypeError, match=r"torch \(weight\)"):
        mp.linear(x, weight)
    result = mp.linear(x, weight, backend="torch")
    assert isinstance(result, torch.Tensor)
    assert_close(result, np.full((2, 4), 3.0))


def test_mixed_namespaces_in_a_list_argument_are_named_with_their_index():
    torch = pytest.importorskip("torch")
    with pytest.raises(TypeError, match=r"torch \(weights\[1\]\)"):
        mp.mlp(np.ones((2, 3)), [np.ones((3, 3)), torch.ones(3, 1, dtype=torch.float64)])


def test_unknown_backend_lists_valid_names():
    with pytest.raises(
        backends.UnknownBackendError,
        match=r"unknown backend 'tensorflow' \(from backend=\); valid names: numpy, torch, "
        r"jax, cupy, dask, array_api_strict, optionally with a device, e.g. .*torch:cuda:1",
    ):
        mp.softmax([1.0], backend="tensorflow")


def test_unknown_device_lists_the_devices_present():
    pytest.importorskip("torch")
    with pytest.raises(ValueError, match=r"backend 'torch' has no device 'tpu'.*torch:cpu"):
        mp.softmax([1.0], backend="torch:tpu")


def test_unknown_backend_in_environment_and_context(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MLPILLARS_BACKEND", "mxnet")
    with pytest.raises(backends.UnknownBackendError, match=r"'mxnet' \(from MLPILLARS_BACKEND\)"):
        mp.softmax([1.0])
    with pytest.raises(backends.UnknownBackendError, match=r"'theano' \(from use_backend\)"):
        with mp.use_backend("theano"):
            pass


def test_backend_not_installed_names_the_extra(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(FRAMEWORKS["jax"], "module_name", "jax_is_not_installed_here")
    with pytest.raises(
        backends.BackendNotInstalledError,
        match=r"backend 'jax' is not installed .*pip install \"mlpillars\[jax\]\"",
    ):
        mp.softmax([1.0], backend="jax")
    status = {entry.name: entry for entry in mp.available_backends()}["jax"]
    assert not status.available
    assert status.reason == 'not installed: pip install "mlpillars[jax]"'


@pytest.mark.parametrize("spec", ["torch:cuda", "torch:cuda:1", "jax:gpu", "cupy", "cupy:0"])
def test_gpu_without_gpu_says_no_gpu_was_found(spec: str):
    framework = FRAMEWORKS[spec.partition(":")[0]]
    if not framework.is_installed():
        pytest.skip(f"{framework.name} is not installed")
    if any(framework.is_gpu(framework.resolve_device(name)) for name in _gpu_names(framework)):
        pytest.skip("this machine has a GPU")
    with pytest.raises(backends.NoGPUError, match=r"no GPU was found"):
        mp.softmax([1.0], backend=spec)


def _gpu_names(framework: backends.Framework) -> list[str]:
    return [name for name in framework.device_names() if name != "cpu" and "cpu" not in name]


def test_available_backends_reports_every_backend_with_capabilities():
    statuses = {status.name: status for status in mp.available_backends()}
    assert list(statuses) == list(FRAMEWORKS)
    numpy_status = statuses["numpy"]
    assert numpy_status.available and numpy_status.version == np.__version__
    assert numpy_status.devices["cpu"].float64 and not numpy_status.devices["cpu"].gpu
    if "dask" in statuses and statuses["dask"].available:
        assert statuses["dask"].devices["cpu"].eigh is False
    if "jax" in statuses and statuses["jax"].available:
        assert all(not caps.inplace for caps in statuses["jax"].devices.values())
    cupy = statuses["cupy"]
    if not cupy.available:
        assert cupy.reason and ("not installed" in cupy.reason or "no GPU" in cupy.reason)


def test_numpy_to_torch_cpu_is_zero_copy():
    torch = pytest.importorskip("torch")
    host = np.arange(6.0).reshape(2, 3)
    tensor = mp.to_backend(host, "torch:cpu")
    assert isinstance(tensor, torch.Tensor)
    assert tensor.data_ptr() == host.ctypes.data


@pytest.mark.parametrize("source", INSTALLED_CPU_SPECS)
@pytest.mark.parametrize("destination", INSTALLED_CPU_SPECS)
def test_to_backend_round_trips_values_and_dtype(source: str, destination: str):
    values = np.arange(6.0, dtype=np.float64).reshape(2, 3)
    moved = mp.to_backend(mp.to_backend(values, source), destination)
    assert framework_of(moved).name == destination.partition(":")[0]
    assert_close(moved, values)
    assert str(moved.dtype).endswith("float64")


@pytest.mark.parametrize("destination", INSTALLED_CPU_SPECS)
def test_to_backend_keeps_zero_dimensional_arrays(destination: str):
    moved = mp.to_backend(mp.to_backend(np.array(3.0), INSTALLED_CPU_SPECS[-1]), destination)
    assert tuple(moved.shape) == ()
    assert_close(moved, 3.0)


def _hostile_layouts(tmp_path) -> dict[str, np.ndarray]:
    """NumPy arrays whose buffers a careless DLPack move would crash on or write into."""
    values = np.arange(12.0).reshape(3, 4)
    read_only = values.copy()
    read_only.flags.writeable = False
    mapped = np.lib.format.open_memmap(tmp_path / "x.npy", "w+", np.float64, (3, 4))
    mapped[:] = values
    return {
        "flipped": np.flip(values),  # negative strides on both axes
        "reversed rows": values[::-1],
        "reversed columns, every other": values[:, ::-2],
        "every other column": values[:, ::2],
        "read-only": read_only,
        "memory-mapped": mapped,
        "fortran order": np.asfortranarray(values),
    }


@pytest.mark.parametrize("destination", INSTALLED_CPU_SPECS)
def test_moves_survive_any_strides_and_read_only_inputs(destination: str, tmp_path):
    for layout, host in _hostile_layouts(tmp_path).items():
        moved = mp.to_backend(host, destination)
        assert_close(moved, np.array(host), err_msg=layout)
        through_strict = mp.to_backend(mp.to_backend(host, "array_api_strict"), destination)
        assert_close(through_strict, np.array(host), err_msg=f"{layout} via array_api_strict")
        expected = mp.softmax(np.array(host))
        assert_close(mp.softmax(host, backend=destination), expected, err_msg=layout)


def test_a_read_only_input_is_copied_not_shared_with_torch():
    pytest.importorskip("torch")
    read_only = np.ones(3)
    read_only.flags.writeable = False
    tensor = mp.to_backend(read_only, "torch")
    tensor[0] = 5.0  # a view would write into read-only memory
    assert read_only[0] == 1.0
    writable = np.ones(3)
    mp.to_backend(writable, "torch")[0] = 5.0
    assert writable[0] == 5.0  # writable, positive strides: still shared, no copy


def test_jax_keeps_float64():
    pytest.importorskip("jax")
    result = mp.softmax(np.array([2.0, 1.0, 0.1]), backend="jax")
    assert str(result.dtype) == "float64"


def test_ready_waits_and_returns_its_argument(xp: BackendCase):
    x = xp.asarray([1.0, 2.0])
    result = (mp.softmax(x), [mp.sigmoid(x)])
    assert mp.ready(result) is result


def test_capabilities_command_lists_backends(capsys: pytest.CaptureFixture[str]):
    from mlpillars.cli import main

    assert main(["capabilities"]) == 0
    output = capsys.readouterr().out
    for name in FRAMEWORKS:
        assert name in output
    assert "float64" in output


def test_capabilities_prints_the_pip_extra_of_a_missing_backend(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
):
    from mlpillars import _cli_demo, cli
    from mlpillars.backends import BackendStatus

    missing = BackendStatus(
        "jax", available=False, reason='not installed: pip install "mlpillars[jax]"'
    )
    monkeypatch.setattr(_cli_demo, "available_backends", lambda: [missing])
    monkeypatch.setenv("COLUMNS", "200")
    assert cli.main(["capabilities"]) == 0
    assert 'pip install "mlpillars[jax]"' in capsys.readouterr().out  # not eaten as markup


def test_python_floats_take_the_dtype_of_the_array_inputs():
    x, weight = np.ones((2, 3), np.float32), np.ones((3, 2), np.float32)
    assert mp.linear(x, weight, [0.5, 0.25]).dtype == np.float32
    torch = pytest.importorskip("torch")
    x64 = torch.ones(2, 3, dtype=torch.float64)
    result = mp.linear(x64, torch.ones(3, 2, dtype=torch.float64), [0.1, 0.2])
    assert result.dtype == torch.float64
    assert_close(result, np.array([[3.1, 3.2], [3.1, 3.2]]), tolerance=mp.TOLERANCES["float64"])


def test_numpy_scalars_are_numbers_beside_any_frameworks_arrays(xp: BackendCase):
    """As torch's and JAX's own operators take them: ``np.float64(0.1)`` as a torch fit's
    lr was refused as a NumPy array, and NumPy's strongly typed scalars as options made
    a JAX float32 fit's parameters float64 (its loop's carry changed type)."""
    X = xp.asarray([[[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    y = xp.asarray([[1.0, 2.0, 3.0]])
    sgd = {"momentum": np.float64(0.5), "l2": np.float64(0.1), "clip_norm": np.float32(10.0)}
    adam = {"optimizer": "adam", "betas": (np.float64(0.8), np.float32(0.99))}
    for options in (sgd, adam):
        options = {**options, "eps": np.float64(1e-7), "tol": np.float64(1e-12)}
        options["warmup_steps"] = np.int64(1)
        as_numbers = {k: v.item() if isinstance(v, np.generic) else v for k, v in options.items()}
        as_numbers["betas"] = tuple(float(beta) for beta in options.get("betas", (0.9, 0.999)))
        expected = mp.gradient_descent(X, y, lr=0.1, steps=np.int64(6), **as_numbers)
        fitted = mp.gradient_descent(X, y, lr=np.float64(0.1), steps=np.int64(6), **options)
        for field, expected_field in zip(fitted, expected, strict=True):
            assert framework_of(field) is xp.framework and field.dtype == expected_field.dtype
            np.testing.assert_array_equal(xp.to_numpy(field), xp.to_numpy(expected_field))
    x, weight = xp.asarray([[1.0, 2.0]]), xp.asarray([[1.0], [3.0]])
    shifted = mp.linear(x, weight, np.float32(0.5))  # NumPy: float32 stays
    assert framework_of(shifted) is xp.framework and shifted.dtype == xp.dtype
    assert_close(shifted, np.array([[7.5]]), tolerance=xp.tolerance)
    x_host, weight_host = (xp.to_numpy(a).astype(xp.dtype_name) for a in (x, weight))
    on_selected = mp.linear(x_host, weight_host, np.float32(0.5), backend=xp.spec)
    assert framework_of(on_selected) is xp.framework and on_selected.dtype == xp.dtype
    alone = mp.sigmoid(np.dtype(xp.dtype_name).type(0.5), backend=xp.spec)  # no array beside
    assert framework_of(alone) is xp.framework and alone.dtype == xp.dtype
    loss = mp.cross_entropy(xp.asarray([0.0, 0.0, 0.0, 0.0]), np.int64(2))
    assert_close(loss, np.asarray(np.log(4.0)), tolerance=xp.tolerance)


def test_materialize_evaluates_several_lazy_arrays_together():
    da = pytest.importorskip("dask.array")
    lazy = da.ones(4, chunks=2) * 2
    doubled, tripled = backends.materialize(lazy * 2, lazy * 3)
    assert_close(doubled, np.full(4, 4.0))
    assert_close(tripled, np.full(4, 6.0))
    assert len(doubled.dask) == len(doubled.chunks[0])  # persisted: one task per chunk
    assert backends.materialize(np.ones(2)) is not None


def test_unregistered_kernel_dispatches_but_is_not_listed():
    torch = pytest.importorskip("torch")

    @backends.kernel(arrays=("x", "shift"), register=False)
    def _shifted(x, shift, /, *, xp):
        return x + xp.astype(shift, x.dtype)

    assert "_shifted" not in backends.KERNELS and "_shifted" not in mp.KERNELS
    assert_close(_shifted([1.0, 2.0], np.ones(2)), np.array([2.0, 3.0]))
    with pytest.raises(TypeError, match=r"_shifted: .* numpy \(x\), torch \(shift\)"):
        _shifted(np.zeros(2), torch.ones(2))
    moved = _shifted(np.zeros(2), torch.ones(2), backend="torch")
    assert isinstance(moved, torch.Tensor)
    assert_close(moved, np.ones(2))


# -- layering (the import-linter contracts are in tests/test_layering.py) ----------------------

PACKAGE = pathlib.Path(mp.__file__).parent


def test_importing_the_backends_package_imports_no_kernel():
    # The parent package's __init__ imports the kernels (they are the public API), so it is
    # replaced by an empty package to see what mlpillars.backends alone imports.
    code = (
        "import sys, types; package = types.ModuleType('mlpillars');"
        f"package.__path__ = [{str(PACKAGE)!r}]; sys.modules['mlpillars'] = package;"
        "import mlpillars.backends;"
        "print(sorted(m for m in sys.modules if m.startswith('mlpillars.kernels')))"
    )
    output = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert output.returncode == 0, output.stderr
    assert output.stdout.strip() == "[]"
