"""Helpers for testing kernels on every backend, device and dtype.

``backend_cases`` plays the part of scikit-learn's
``yield_namespace_device_dtype_combinations``: every known backend x device x float dtype,
each with the reason it must be skipped on this machine (or ``None``). ``assert_close``
checks, like SciPy's ``xp_assert_close``, the namespace, device, dtype and shape of a
result before comparing its values with the tolerance table.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .backends import FRAMEWORKS, Framework, framework_of
from .backends._dispatch import forget_injected
from .backends._errors import BackendNotInstalledError, NoGPUError
from .tolerances import Tolerance, absolute_tolerance, dtype_name, tolerance_for, within_tolerance

TEST_BACKENDS_VARIABLE = "MLPILLARS_TEST_BACKENDS"
FLOAT_DTYPES = ("float32", "float64")


@dataclass(frozen=True)
class BackendCase:
    """One backend, device and dtype to run a test on.

    Attributes
    ----------
    backend : str
        Backend name, e.g. ``"torch"``.
    device_name : str
        Device as in a backend spec, e.g. ``"cpu"``, ``"cuda"``.
    dtype_name : str
        ``"float32"`` or ``"float64"``.
    skip_reason : str or None
        Why this case cannot run here (backend not installed, no GPU), else None.
    """

    backend: str
    device_name: str
    dtype_name: str
    skip_reason: str | None = None

    @property
    def id(self) -> str:
        """A test id such as ``torch-cpu-float32``."""
        return f"{self.backend}-{self.device_name}-{self.dtype_name}"

    @property
    def spec(self) -> str:
        """The backend spec, e.g. ``"torch:cuda"``."""
        return f"{self.backend}:{self.device_name}"

    @property
    def framework(self) -> Framework:
        return FRAMEWORKS[self.backend]

    @property
    def xp(self) -> Any:
        """The backend's array-API namespace."""
        return self.framework.namespace()

    @property
    def device(self) -> Any:
        """The backend's device object."""
        return self.framework.resolve_device(self.device_name)

    @property
    def dtype(self) -> Any:
        """The backend's dtype object."""
        return getattr(self.xp, self.dtype_name)

    @property
    def tolerance(self) -> Tolerance:
        return tolerance_for(self.dtype_name)

    def asarray(self, values: Any, *, dtype: Any = "case") -> Any:
        """``values`` as an array of this backend on this device.

        Floating values take the case's dtype (``dtype="case"``); pass ``dtype=None`` to
        keep NumPy's dtype (e.g. integer labels).
        """
        host = np.asarray(values)
        if dtype != "case" or host.dtype.kind != "f":
            return self.framework.from_host(np.require(host, requirements="C"), self.device)
        if self.dtype_name == "bfloat16":  # NumPy has none: round on the backend itself
            array = self.framework.from_host(host.astype(np.float32), self.device)
            return self.xp.astype(array, self.dtype)
        return self.framework.from_host(host.astype(self.dtype_name), self.device)

    def to_numpy(self, array: Any) -> np.ndarray:
        """A float64 NumPy copy of an array of this backend (the reference's input)."""
        return np.asarray(self.framework.to_host(array), dtype=np.float64)


def backend_cases(
    backends: Sequence[str] | None = None, dtypes: Sequence[str] = FLOAT_DTYPES
) -> Iterator[BackendCase]:
    """Every backend x device x dtype, each with its skip reason on this machine.

    Parameters
    ----------
    backends : sequence of str, optional
        Restrict to these backend names; default: the comma-separated names in the
        ``MLPILLARS_TEST_BACKENDS`` variable, or every known backend.
    dtypes : sequence of str
        Float dtype names.
    """
    chosen = list(backends or _backends_from_environment() or FRAMEWORKS)
    unknown = [name for name in chosen if name not in FRAMEWORKS]
    if unknown:
        raise ValueError(
            f"unknown test backends {unknown}; valid names are {', '.join(FRAMEWORKS)}"
        )
    for backend in chosen:
        framework = FRAMEWORKS[backend]
        for device_name in framework.device_kinds:
            reason = _skip_reason(framework, device_name)
            tested = framework.device_dtypes.get(device_name, dtypes)
            for dtype in (dtype for dtype in dtypes if dtype in tested):
                dtype_reason = reason or _dtype_skip_reason(framework, device_name, dtype)
                yield BackendCase(backend, device_name, dtype, dtype_reason)


def assert_close(
    actual: Any,
    expected: Any,
    *,
    like: Any = None,
    tolerance: Tolerance | None = None,
    err_msg: str = "",
) -> None:
    """Assert ``actual`` matches a NumPy reference, and stayed where its input was.

    Parameters
    ----------
    actual : array
        A kernel's result, of any backend.
    expected : array_like
        The reference values (normally computed in float64 NumPy).
    like : array, optional
        An input of the kernel: ``actual`` must have its namespace, device and dtype.
    tolerance : Tolerance, optional
        Default: the table's entry for ``actual``'s dtype.
    err_msg : str
        Appended to the failure message.
    """
    framework = framework_of(actual)
    assert framework is not None, f"result is not an array of a known backend: {type(actual)}"
    if like is not None:
        like_framework = framework_of(like)
        assert framework is like_framework, (
            f"result left the input's namespace: {framework.name} != {like_framework.name}"
        )
        assert str(framework.device_of(actual)) == str(framework.device_of(like)), (
            f"result left the input's device: {framework.device_of(actual)} != "
            f"{framework.device_of(like)}"
        )
        assert dtype_name(actual.dtype) == dtype_name(like.dtype), (
            f"result dtype {dtype_name(actual.dtype)} != input dtype {dtype_name(like.dtype)}"
        )
    actual_host = np.asarray(framework.to_host(actual))
    expected_host = np.asarray(expected)
    assert actual_host.shape == expected_host.shape, (
        f"shape {actual_host.shape} != expected {expected_host.shape}. {err_msg}"
    )
    tolerance = tolerance or tolerance_for(actual.dtype)
    passes = within_tolerance(actual_host, expected_host, tolerance)
    if not np.all(passes):
        message = _mismatch_message(actual_host, expected_host, passes, tolerance, err_msg)
        raise AssertionError(message)


@dataclass(frozen=True)
class FusedCall:
    """One call a kernel made of a framework's own implementation, and its answer (the
    result, or ``NotImplemented`` for arguments it left to the generic formula)."""

    args: tuple[Any, ...]
    kwargs: dict[str, Any]
    answer: Any


def assert_same_values(actual: np.ndarray, expected: np.ndarray, *, name: str) -> None:
    """Two NumPy results of the same algorithm, equal: dtype and shape, floating values to
    a few ulps (of each value, and of the largest finite one near zero), the rest exactly."""
    assert actual.dtype == expected.dtype, f"{name}: {actual.dtype} != {expected.dtype}"
    assert actual.shape == expected.shape, f"{name}: {actual.shape} != {expected.shape}"
    if actual.dtype.kind == "f":
        ulps = 64 * np.finfo(actual.dtype).eps
        scale = np.max(np.abs(expected[np.isfinite(expected)]), initial=1.0)
        np.testing.assert_allclose(actual, expected, rtol=ulps, atol=ulps * scale, err_msg=name)
    else:
        np.testing.assert_array_equal(actual, expected, err_msg=name)


def assert_same_fields(actual: Any, expected: Any, *, names: Sequence[str]) -> None:
    """Two results of the same computation made differently (in parts, over several
    devices), field by field as NumPy arrays: shapes, dtypes, flags and counts equal, the
    same entries finite, floats within the tolerance table (float64's: rounding may differ
    where a part decides for itself, or where XLA compiles a device's share for its shapes)."""
    tolerance = tolerance_for("float64")
    for name in names:
        got, wanted = np.asarray(getattr(actual, name)), np.asarray(getattr(expected, name))
        assert got.shape == wanted.shape and got.dtype == wanted.dtype, name
        if got.dtype.kind != "f":
            np.testing.assert_array_equal(got, wanted, err_msg=name)
            continue
        finite = np.isfinite(wanted)
        np.testing.assert_array_equal(np.isfinite(got), finite, err_msg=name)
        np.testing.assert_allclose(
            got[finite], wanted[finite], rtol=tolerance.rtol, atol=tolerance.atol, err_msg=name
        )


@contextlib.contextmanager
def recorded_fused_calls(backend: str, kernel_name: str) -> Iterator[list[FusedCall]]:
    """The calls that kernels make of ``backend``'s own ``kernel_name`` implementation
    (:meth:`Framework.fused`) while the block runs; none where no kernel offers one.

    Raises
    ------
    AssertionError
        Where the framework has no implementation of ``kernel_name`` of its own.
    """
    framework = FRAMEWORKS[backend]
    implementation = framework.fused(kernel_name)
    assert implementation is not None, f"{backend} has no {kernel_name} of its own"
    calls: list[FusedCall] = []

    def recording(*args: Any, **kwargs: Any) -> Any:
        answer = implementation(*args, **kwargs)
        calls.append(FusedCall(args, kwargs, answer))
        return answer

    outer = vars(framework).get("fused")  # a recording around this one, if any
    others = framework.fused

    def fused(name: str) -> Any:
        return recording if name == kernel_name else others(name)

    framework.fused = fused  # type: ignore[method-assign]
    forget_injected()  # the dispatch looks implementations up once per framework
    try:
        yield calls
    finally:
        if outer is None:
            del framework.fused  # the instance's attribute: the class's method shows again
        else:
            framework.fused = outer  # type: ignore[method-assign]
        forget_injected()


def _mismatch_message(
    actual: np.ndarray, expected: np.ndarray, passes: np.ndarray, tolerance: Tolerance, note: str
) -> str:
    """What failed, as ``assert_allclose`` says it: how many elements, the worst one."""
    actual, expected = actual.astype(np.float64), expected.astype(np.float64)
    with np.errstate(invalid="ignore"):
        errors = np.where(passes, 0.0, np.abs(actual - expected))
    worst = np.unravel_index(np.nanargmax(np.where(np.isnan(errors), np.inf, errors)), errors.shape)
    return (
        f"not within the tolerance rtol={tolerance.rtol:g}, atol={tolerance.atol:g} x "
        f"max(1, max|expected|) ({absolute_tolerance(expected, tolerance):.3g}): "
        f"{int(np.size(passes) - np.count_nonzero(passes))} of {np.size(passes)} elements; "
        f"worst at {tuple(int(i) for i in worst)}: actual {float(actual[worst])!r}, "
        f"expected {float(expected[worst])!r}. {note}"
    )


def _backends_from_environment() -> list[str]:
    text = os.environ.get(TEST_BACKENDS_VARIABLE, "")
    return [name.strip() for name in text.split(",") if name.strip()]


def _dtype_skip_reason(framework: Framework, device_name: str, dtype: str) -> str | None:
    capabilities = framework.capabilities(framework.resolve_device(device_name))
    if getattr(capabilities, dtype, True):
        return None
    return f"{framework.name} on {device_name} has no {dtype} (its capability record says so)"


def _skip_reason(framework: Framework, device_name: str) -> str | None:
    if not framework.is_installed():
        return f'{framework.name} is not installed (pip install "mlpillars[{framework.extra}]")'
    try:
        framework.load()
        framework.resolve_device(device_name)
    except (BackendNotInstalledError, NoGPUError) as exc:
        return str(exc)
    return None
