"""JAX on every core: one CPU device per CPU for the benchmark, independent problems sharded
over them (``mlpillars.backends.frameworks._jax_devices``), and JAX's groups of problems in
counts that keep each device's problems on it (``_problem_groups.even_group_count``).

The test session has two CPU devices (``tests/conftest.py`` asks for them unless the
caller chose a count), whatever the machine's cores.
"""

from __future__ import annotations

import os
import subprocess
import sys
import types

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlpillars as mp
from mlpillars.backends import FRAMEWORKS
from mlpillars.backends.frameworks import _jax_devices
from mlpillars.backends.frameworks._descent_fields import FIELDS
from mlpillars.backends.frameworks._problem_groups import MIN_GROUP, even_group_count, group_count
from mlpillars.testing import assert_same_fields
from tests.property_support import scaled_examples

jax = pytest.importorskip("jax")


@pytest.mark.parametrize(
    ("batch_size", "count", "expected"),
    [
        (256, 1, 1),  # one group: nothing to split
        (256, 9, 16),  # 9 groups would pad 256 to 261
        (256, 16, 16),
        (250, 9, 10),
        (251, 9, 9),  # 251 is prime: no even count, padded as before
        (64, 3, 4),  # 4 groups of 16 (MIN_GROUP)
        (48, 2, 2),
        (40, 3, 3),  # 4 or 5 groups would hold fewer than MIN_GROUP problems
    ],
)
def test_even_group_count(batch_size: int, count: int, expected: int) -> None:
    found = even_group_count(batch_size, count)
    assert found == expected
    if found != count:
        assert batch_size % found == 0 and batch_size // found >= MIN_GROUP


# -- asking for the devices ------------------------------------------------------------------
class _Config:
    def __init__(self, error: Exception | None = None) -> None:
        self.updates: list[tuple[str, object]] = []
        self.error = error

    def update(self, name: str, value: object) -> None:
        if self.error is not None:
            raise self.error
        self.updates.append((name, value))


@pytest.fixture
def imported_jax(monkeypatch: pytest.MonkeyPatch) -> _Config:
    """A stand-in for an imported JAX whose config records updates (the session's own JAX
    must keep its devices); no device count chosen in the environment."""
    config = _Config()
    monkeypatch.setitem(sys.modules, "jax", types.SimpleNamespace(config=config))
    monkeypatch.delenv(_jax_devices.DEVICE_COUNT_VARIABLE, raising=False)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    return config


def test_one_device_per_cpu_asks_by_variable_and_config(imported_jax: _Config) -> None:
    _jax_devices.one_device_per_cpu(4)
    assert os.environ[_jax_devices.DEVICE_COUNT_VARIABLE] == "4"
    assert imported_jax.updates == [("jax_num_cpu_devices", 4)]


def test_one_device_per_cpu_leaves_a_computing_jax_its_devices(
    imported_jax: _Config,
) -> None:
    imported_jax.error = RuntimeError("should be updated before backends are initialized")
    _jax_devices.one_device_per_cpu(2)  # no error: this process keeps its devices
    assert os.environ[_jax_devices.DEVICE_COUNT_VARIABLE] == "2"


@pytest.mark.parametrize(
    "chosen",
    [
        {_jax_devices.DEVICE_COUNT_VARIABLE: "1"},
        {"XLA_FLAGS": "--xla_cpu_enable_fast_math=false --xla_force_host_platform_device_count=3"},
    ],
)
def test_one_device_per_cpu_keeps_the_users_count(
    imported_jax: _Config, monkeypatch: pytest.MonkeyPatch, chosen: dict[str, str]
) -> None:
    for name, value in chosen.items():
        monkeypatch.setenv(name, value)
    _jax_devices.one_device_per_cpu(8)
    assert imported_jax.updates == []
    assert os.environ.get(_jax_devices.DEVICE_COUNT_VARIABLE) == chosen.get(
        _jax_devices.DEVICE_COUNT_VARIABLE
    )


def test_one_cpu_asks_for_nothing(imported_jax: _Config) -> None:
    _jax_devices.one_device_per_cpu(1)
    assert imported_jax.updates == []
    assert _jax_devices.DEVICE_COUNT_VARIABLE not in os.environ


# -- spreading problems ----------------------------------------------------------------------
@pytest.fixture
def cpu_devices() -> list[object]:
    FRAMEWORKS["jax"].enable_x64()
    devices = jax.devices("cpu")
    if len(devices) < 2:
        pytest.fail(
            "the test session has one JAX CPU device: tests/conftest.py asks for two "
            f"({_jax_devices.DEVICE_COUNT_VARIABLE}) unless a count was chosen before"
        )
    return devices


def _spread(*arrays: object) -> tuple[object, ...]:
    return FRAMEWORKS["jax"].held_inputs(arrays, problems=True)


def _rows(problems: int, mebibytes: float) -> np.ndarray:
    """(problems, m) float64 ones of about ``mebibytes`` MiB in all."""
    return np.ones((problems, max(1, int(mebibytes * 2**17 / max(problems, 1)))))


def test_problems_spread_over_the_cpu_devices(cpu_devices: list[object]) -> None:
    features = jax.device_put(np.ones((6, 512, 128)), cpu_devices[0])  # 3 MiB
    targets = jax.device_put(np.ones((6, 512)), cpu_devices[0])
    shared = jax.device_put(np.ones((1, 5)), cpu_devices[0])
    rate = jax.device_put(np.asarray(0.1), cpu_devices[0])
    listed = jax.device_put(np.ones(3), cpu_devices[0])
    held = _spread(features, targets, shared, rate, 0.5, None, [listed, 2])
    assert held[4:6] == (0.5, None)
    assert held[6][1] == 2 and held[6][0].sharding.is_fully_replicated
    spread = held[0].sharding
    shares = min(len(cpu_devices), 3)  # at least SPREAD_BYTES (1 MiB) a device
    most = max(count for count in range(1, shares + 1) if 6 % count == 0)
    assert spread.device_set == set(cpu_devices[:most])
    assert spread.spec == jax.sharding.PartitionSpec(_jax_devices.PROBLEMS_AXIS)
    assert held[1].sharding == spread
    for replicated in (*held[2:4], held[6][0]):
        assert replicated.sharding.is_fully_replicated
        assert replicated.sharding.device_set == spread.device_set
    for before, after in zip((features, targets, shared, rate), held[:4], strict=True):
        np.testing.assert_array_equal(np.asarray(after), np.asarray(before))


@pytest.mark.parametrize(
    "host",
    [np.ones(()), _rows(1, 4), _rows(0, 4), _rows(8, 1.5)],
    ids=["0-d", "one problem", "no problems", "under 1 MiB a device"],
)
def test_what_cannot_spread_stays(cpu_devices: list[object], host: np.ndarray) -> None:
    array = jax.device_put(host, cpu_devices[0])
    (held,) = _spread(array)
    assert held is array


def test_two_mebibytes_spread(cpu_devices: list[object]) -> None:
    (held,) = _spread(jax.device_put(_rows(8, 2), cpu_devices[0]))
    assert len(held.sharding.device_set) == 2


def test_without_problems_nothing_moves(cpu_devices: list[object]) -> None:
    array = jax.device_put(_rows(8, 4), cpu_devices[0])
    assert FRAMEWORKS["jax"].held_inputs((array,))[0] is array


def test_spread_arrays_stay_as_they_are(cpu_devices: list[object]) -> None:
    (spread,) = _spread(jax.device_put(_rows(8, 4), cpu_devices[0]))
    assert len(spread.sharding.device_set) > 1
    (again,) = _spread(spread)
    assert again is spread


def test_problems_that_no_device_count_divides_stay(cpu_devices: list[object]) -> None:
    odd = len(cpu_devices) * 2 + 1
    if any(odd % count == 0 for count in range(2, len(cpu_devices) + 1)):
        pytest.skip(f"{odd} problems divide over some of {len(cpu_devices)} devices")
    array = jax.device_put(_rows(odd, 2 * odd), cpu_devices[0])
    assert _spread(array)[0] is array


# -- gradient descent on spread problems ------------------------------------------------------
def _regressions(loss: str, problems: int, samples: int, features: int) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(17)
    X = rng.normal(size=(problems, samples, features)) + 3.0
    scores = np.einsum("bnd,bd->bn", X - 3.0, rng.normal(size=(problems, features)))
    y = scores + rng.normal(scale=0.5, size=scores.shape)
    return X, (y > 0).astype(np.float64) if loss == "logistic" else y


@pytest.mark.parametrize(
    ("loss", "problems", "samples", "options"),
    [
        # at least 1 MiB of features a device (SPREAD_BYTES)
        ("mse", 8, 4096, {"lr": 0.02, "steps": 30}),
        ("mse", 6, 4096, {"lr": 0.02, "steps": 30, "tol": 1e-6, "l2": 0.1}),
        # 64 problems of 512 x 32 samples: 8.5 MiB, JAX's loop in groups (even ones)
        ("logistic", 64, 512, {"lr": 0.5, "steps": 12}),
        ("logistic", 64, 512, {"lr": 0.5, "steps": 12, "tol": 1e-3}),
    ],
)
def test_gradient_descent_on_spread_problems(
    cpu_devices: list[object], loss: str, problems: int, samples: int, options: dict
) -> None:
    """Jitted on problems spread over the devices: the one-device fit's values, the
    inputs' sharding kept, and no problem's data moved between devices (a padded group
    count gathered every problem onto every device)."""
    X, y = _regressions(loss, problems, samples, 32 if loss == "logistic" else 11)
    if loss == "logistic":  # JAX's loop in groups, as many as divide the problems
        count = group_count(problems, (X[0].nbytes + y[0].nbytes) * 2)  # X and X^T
        assert count > 1 and problems % even_group_count(problems, count) == 0

    def fit(features: object, targets: object) -> object:
        return mp.gradient_descent(features, targets, loss=loss, **options)

    fitted = jax.jit(fit)
    on_one = fitted(*(jax.device_put(a, cpu_devices[0]) for a in (X, y)))
    features, targets = _spread(*(jax.device_put(a, cpu_devices[0]) for a in (X, y)))
    assert len(features.sharding.device_set) == 2
    spread = fitted(features, targets)
    assert spread.weights.sharding.is_equivalent_to(features.sharding, 2)
    assert_same_fields(spread, on_one, names=FIELDS)
    reference = mp.gradient_descent(X, y, loss=loss, **options)
    np.testing.assert_allclose(np.asarray(spread.weights), reference.weights, rtol=1e-9, atol=1e-12)
    program = fitted.lower(features, targets).compile().as_text()
    assert "all-gather" not in program and "all-to-all" not in program


def test_the_cpu_devices_are_one_backend(cpu_devices: list[object]) -> None:
    """The harness benchmarks each device name: the CPU devices share the host's cores, so
    only the first is named (a run measured ``jax:cpu:0`` and ``jax:cpu:1`` side by side)."""
    framework = FRAMEWORKS["jax"]
    assert [name for name in framework.device_names() if name.startswith("cpu")] == ["cpu:0"]
    assert framework.resolve_device("cpu:1") == cpu_devices[1]
    (status,) = mp.backends.available_backends(["jax"])
    assert status.devices.keys() == {"cpu:0"}


DEVICES_SCRIPT = """
import mlpillars.backends as backends
from mlpillars.backends.frameworks._numpy_threads import thread_limit
from mlpillars.bench.environment import environment_record
backends.one_device_per_cpu()
import jax
record = environment_record(["jax"])["frameworks"]["jax"]
print(thread_limit(), len(jax.devices("cpu")), record["cpu_devices"])
"""


@pytest.mark.parametrize("threads", [None, "1"])
def test_the_benchmark_gives_jax_one_device_per_cpu(threads: str | None) -> None:
    """What ``mlpillars bench`` does first, in a fresh process: as many CPU devices as
    NumPy's parts may use threads (``OMP_NUM_THREADS`` counts), in the environment record."""
    environment = {
        name: value
        for name, value in os.environ.items()
        if name not in (_jax_devices.DEVICE_COUNT_VARIABLE, "XLA_FLAGS", "OMP_NUM_THREADS")
    }
    if threads is not None:
        environment["OMP_NUM_THREADS"] = threads
    done = subprocess.run(
        [sys.executable, "-c", DEVICES_SCRIPT], env=environment, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    limit, devices, recorded = map(int, done.stdout.split())
    assert devices == recorded == limit
    if threads == "1":
        assert devices == 1


PROPERTY_CASES = 4
"""Generated fits a run checks (times ``MLPILLARS_PROPERTY_SCALE``): each compiles twice,
about 2 s a case on a 2-core machine."""


@settings(
    deadline=None,
    max_examples=scaled_examples(PROPERTY_CASES),
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_spread_problems_give_one_devices_fit_on_generated_problems(cpu_devices, data):
    """Any even batch, sizes, offset, loss, options, in cache-sized groups or one loop:
    jitted on problems sharded over two devices, the fields of the fit on one device, the
    sharding kept, and no collective in the program."""
    from mlpillars.backends.frameworks import _jax_loops, _problem_groups

    b = 2 * data.draw(st.integers(1, 12), label="problems / 2")
    n = data.draw(st.integers(2, 40), label="samples")
    d = data.draw(st.integers(1, 6), label="features")
    loss = data.draw(st.sampled_from(["mse", "logistic"]), label="loss")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**16), label="seed"))
    X = rng.normal(size=(b, n, d)) + data.draw(st.sampled_from([0.0, 3.0]), label="offset")
    y = rng.normal(size=(b, n))
    if loss == "logistic":
        y = (y > 0).astype(np.float64)
    options = {
        "loss": loss,
        "lr": data.draw(st.sampled_from([0.01, 0.1, 0.5]), label="lr"),
        "steps": data.draw(st.integers(1, 30), label="steps"),
        "fit_intercept": data.draw(st.booleans(), label="intercept"),
        "l2": data.draw(st.sampled_from([0.0, 0.1]), label="l2"),
        "tol": data.draw(st.sampled_from([None, 1e-4]), label="tol"),
    }
    grouped = data.draw(st.booleans(), label="in groups of 2")
    mesh = jax.sharding.Mesh(cpu_devices[:2], (_jax_devices.PROBLEMS_AXIS,))
    spread = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("problems"))

    def fit(features: object, targets: object) -> object:
        return mp.gradient_descent(features, targets, **options)

    with pytest.MonkeyPatch.context() as patch:
        if grouped:  # as many groups as two problems each allow
            patch.setattr(_problem_groups, "MIN_GROUP", 2)
            patch.setattr(_problem_groups, "CACHE_BYTES", 1)
            patch.setattr(_problem_groups, "GROUPING_THRESHOLD", 0)
        _jax_loops.compiled_loop.cache_clear()  # the groups are decided when it compiles
        try:
            fitted = jax.jit(fit)
            one = fitted(*(jax.device_put(a, cpu_devices[0]) for a in (X, y)))
            features, targets = (jax.device_put(a, spread) for a in (X, y))
            both = fitted(features, targets)
            program = fitted.lower(features, targets).compile().as_text()
        finally:
            _jax_loops.compiled_loop.cache_clear()
    assert both.weights.sharding.is_equivalent_to(spread, 2)
    assert_same_fields(both, one, names=FIELDS)
    assert "all-gather" not in program and "all-to-all" not in program
