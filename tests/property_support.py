"""What the property tests share: strategies for inputs, the clear-error rule, the check
against a reference, and one hypothesis test per CPU backend with its own number of cases.

See tests/test_properties.py for the rule every generated call must follow.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS, framework_of
from mlpillars.testing import assert_close
from mlpillars.tolerances import dtype_name

CPU_BACKENDS = ("numpy", "torch", "jax", "dask", "array_api_strict")
EXAMPLES = {"numpy": 30, "torch": 20, "array_api_strict": 20, "dask": 8, "jax": 5}
"""Cases per kernel and backend. JAX compiles each operation per shape (about 0.5 s a
case here) and Dask builds a graph per call; the module stays within about a minute on
a shared 2-core machine."""

SCALE_VARIABLE = "MLPILLARS_PROPERTY_SCALE"
"""Multiply every backend's number of cases, e.g. ``MLPILLARS_PROPERTY_SCALE=10`` to
search longer than CI does."""


def scaled_examples(cases: float) -> int:
    """``cases`` times ``MLPILLARS_PROPERTY_SCALE`` (:data:`SCALE_VARIABLE`), at least 2."""
    return max(2, round(cases * float(os.environ.get(SCALE_VARIABLE, "1"))))


BASE_SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    print_blob=True,
)


def per_backend(
    namespace: dict[str, Any], check_kernel: Callable[[str, Any], None], share: float = 1.0
) -> None:
    """Add ``test_<name>_<backend>`` to ``namespace`` (a test module's globals) for each
    CPU backend: a hypothesis test calling ``check_kernel(backend, data)``, with
    ``share * EXAMPLES[backend]`` cases (a slow kernel takes a share below 1); skipped
    with the reason where the backend is missing."""
    base_name = check_kernel.__name__.removeprefix("check_")
    for backend in CPU_BACKENDS:
        run = _bound(check_kernel, backend)
        run.__name__ = run.__qualname__ = f"test_{base_name}_{backend}"
        cases = scaled_examples(share * EXAMPLES[backend])
        test = settings(BASE_SETTINGS, max_examples=cases)(given(data=st.data())(run))
        if not FRAMEWORKS[backend].is_installed():
            test = pytest.mark.skip(reason=f"{backend} is not installed")(test)
        namespace[run.__name__] = test


def _bound(check_kernel: Callable[[str, Any], None], backend: str) -> Callable[[Any], None]:
    def run(data: st.DataObject) -> None:
        check_kernel(backend, data)

    return run


EXPONENTS = {"float64": 30, "float32": 30, "float16": 2}
"""Largest |exponent| of a generated scale (values of magnitude 10**exponent)."""
OFFSETS = {
    "float64": (0.0, 1.0, -1e4, 1e8, -1e30),
    "float32": (0.0, 1.0, 1e4, -1e30),
    "float16": (0.0, 1.0, -100.0),
}
INTEGERS = ("int32", "int64")


def float_dtypes(backend: str) -> list[str]:
    framework = FRAMEWORKS[backend]
    capabilities = framework.capabilities(framework.resolve_device("cpu"))
    return ["float64", "float32"] + (["float16"] if capabilities.float16 else [])


@st.composite
def host_values(
    draw: st.DrawFn,
    shape: tuple[int, ...],
    dtype: str,
    *,
    exponents: tuple[int, int] | None = None,
    offset: bool | tuple[float, ...] = True,
) -> np.ndarray:
    """Values ``offset + 10**e * N(0, 1)`` of ``shape`` in ``dtype`` (integers: -1000..1000)."""
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    if dtype in INTEGERS:
        return rng.integers(-1000, 1000, size=shape).astype(dtype)
    limit = EXPONENTS[dtype]
    low, high = exponents if exponents is not None else (-limit, limit)
    scale = 10.0 ** draw(st.integers(max(low, -limit), min(high, limit)))
    offsets = offset if isinstance(offset, tuple) else OFFSETS[dtype] if offset else (0.0,)
    shift = draw(st.sampled_from(offsets))
    return (shift + scale * rng.standard_normal(shape)).astype(dtype)


def shapes(min_dims: int = 0, max_dims: int = 3, max_side: int = 4) -> st.SearchStrategy:
    return st.lists(st.integers(0, max_side), min_size=min_dims, max_size=max_dims).map(tuple)


def on_backend(data: st.DataObject, host: np.ndarray, backend: str) -> Any:
    """``host`` on ``backend``; on Dask in chunks of a drawn size (possibly several)."""
    array = mp.to_backend(host, backend)
    if backend == "dask" and host.ndim:
        chunks = tuple(data.draw(st.integers(1, max(1, side))) for side in host.shape)
        array = array.rechunk(chunks)
    return array


def outcome(kernel_name: str, names: tuple[str, ...], call: Callable[[], Any]) -> Any:
    """The call's result, or its error if that is a clear one (else the test fails)."""
    try:
        return call()
    except (TypeError, ValueError) as error:
        text = str(error)
        assert text.startswith(f"{kernel_name}: "), f"error without the kernel's name: {text}"
        assert any(name in text for name in names), f"error naming no argument: {text}"
        return error


def check(result: Any, expected: Any, backend: str, like: Any = None, error: str = "") -> None:
    """A result where one is due (else the error matching ``error``), on the backend,
    with no NaN where the reference has none, within tolerance of the reference."""
    if error:
        assert isinstance(result, Exception), "an invalid call gave a result"
        assert re.search(error, str(result)), str(result)
        return
    assert not isinstance(result, Exception), f"a valid call raised: {result}"
    assert framework_of(result).name == backend
    host = np.asarray(framework_of(result).to_host(result), dtype=np.float64)
    expected = representable(np.asarray(expected, dtype=np.float64), result.dtype)
    if not np.isnan(expected).any():
        assert not np.isnan(host).any(), f"NaN from finite input: {host}"
    assert_close(result, expected, like=like)


def representable(expected: np.ndarray, dtype: Any) -> np.ndarray:
    """``expected`` with what lies beyond the result dtype's range as the infinity of its
    sign: a float16 log-probability of -3e5 cannot be held, -inf is the right answer."""
    largest = float(np.finfo(dtype_name(dtype)).max)
    return np.where(np.abs(expected) > largest, np.copysign(np.inf, expected), expected)


def f64(values: np.ndarray) -> np.ndarray:
    """A float64 copy, for a reference (``float32_array * 1.0`` stays float32: NEP 50)."""
    return np.asarray(values, dtype=np.float64)


def floating(host: np.ndarray) -> bool:
    return host.dtype.kind == "f"
