"""JAX on every core of the host: one CPU device per usable CPU, independent problems
spread over them.

XLA runs a jitted program on one CPU device, and a product of many small matrices (the
Gram matrices of B = 256 regressions of 512 x 32 samples) on one core of it: 10.5 ms there,
where NumPy's parts (:mod:`._numpy_descent`) run on both cores of this project's machine.
How JAX runs on several cores is several devices: XLA's host platform takes a device
count (``JAX_NUM_CPU_DEVICES``, or ``--xla_force_host_platform_device_count`` in
``XLA_FLAGS``), read once when JAX first computes; arrays sharded over those devices
(``NamedSharding``) then run through ``jax.jit`` as one program partitioned by XLA (GSPMD),
each device computing its own share. Independent problems need nothing from each other:
B = 256 MSE fits of 200 steps (float64, jitted) took 25.6 ms on one device and 15.8 ms
over two; the logistic fits 282 and 157 ms (in equal groups,
:func:`._problem_groups.even_group_count`). Arrays on one device compute as before: a
dense layer's products already use every core (Eigen's threads) and took 3.0 ms on one
device, 5.2 ms sharded; softmax took the same either way. So the benchmark spreads only
what a kernel's catalogue entry says holds independent problems.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from types import ModuleType
from typing import Any

DEVICE_COUNT_VARIABLE = "JAX_NUM_CPU_DEVICES"
"""The variable JAX reads its ``jax_num_cpu_devices`` from at import."""

DEVICE_COUNT_FLAG = "--xla_force_host_platform_device_count"
"""The older way to ask for a count, in ``XLA_FLAGS``: a user's choice either way."""

SPREAD_BYTES = 2**20
"""The least of the first array's data a device's share holds (as each of Dask's chunks
in the bench, :data:`.dask.SPREAD_BYTES`): a program over two CPU devices costs about
0.2 ms more a call, which smaller shares did not win back (B = 8 MSE fits of 1024 x 16
float32 samples, 0.5 MiB: 0.33 ms on one device, 0.54 over two; 16 of 512 x 32 float64,
2 MiB: 1.23 -> 1.01)."""

PROBLEMS_AXIS = "problems"
"""The name of the mesh axis the problems are spread along."""


def one_device_per_cpu(count: int) -> None:
    """Ask JAX for ``count`` CPU devices, unless the user chose a count.

    By the variable (which processes started from this one inherit) and, where JAX is
    imported already, by its config; where JAX has computed already its devices are
    fixed, and this process keeps them.
    """
    chosen = DEVICE_COUNT_VARIABLE in os.environ or DEVICE_COUNT_FLAG in os.environ.get(
        "XLA_FLAGS", ""
    )
    if chosen or count < 2:
        return
    os.environ[DEVICE_COUNT_VARIABLE] = str(count)
    jax = sys.modules.get("jax")
    if jax is None:
        return
    try:
        jax.config.update("jax_num_cpu_devices", count)
    except RuntimeError:  # "... should be updated before backends are initialized"
        pass


def spread_problems(jax: ModuleType, arrays: Sequence[Any]) -> tuple[Any, ...]:
    """``arrays`` with the first array's leading axis (the problems), and every array's of
    that length, sharded over the CPU devices; JAX's other arrays (in lists too) replicated
    on them (jit takes committed arguments on one set of devices only); other values as
    they are.

    As they are where the first JAX array is not on one CPU device (a GPU: each is a
    device the user names; arrays sharded already), is 0-d, or where fewer than two CPU
    devices divide its leading axis evenly with :data:`SPREAD_BYTES` of it each.
    """
    found = [array for array in arrays if isinstance(array, jax.Array)]
    if not found or found[0].ndim == 0 or len(found[0].devices()) != 1:
        return tuple(arrays)
    (device,) = found[0].devices()
    if device.platform != "cpu":
        return tuple(arrays)
    problems = found[0].shape[0]
    most = min(problems, found[0].nbytes // SPREAD_BYTES)
    devices = _dividing_devices(jax.devices("cpu")[:most], problems)
    if len(devices) < 2:
        return tuple(arrays)
    mesh = jax.sharding.Mesh(devices, (PROBLEMS_AXIS,))
    spread = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(PROBLEMS_AXIS))
    replicated = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec())

    def held(array: Any) -> Any:
        if isinstance(array, list):  # a kernel's list argument (mlp's layers)
            return [held(item) for item in array]
        if not isinstance(array, jax.Array):
            return array
        spread_here = array.ndim > 0 and array.shape[0] == problems
        return jax.device_put(array, spread if spread_here else replicated)

    return tuple(held(array) for array in arrays)


def _dividing_devices(devices: Sequence[Any], problems: int) -> list[Any]:
    """The most of ``devices`` (from the first) whose count divides ``problems``."""
    for count in range(len(devices), 0, -1):
        if problems % count == 0:
            return list(devices[:count])
    return []
