"""Run by tests/test_transforms.py in a fresh process whose XLA_FLAGS give JAX two CPU
devices: every kernel's example call with its arrays on the second device, inside
``jax.jit``, must give the NumPy kernel's values on that device (as a second GPU would).
Prints one line per kernel; exits 1 at the first failure."""

from __future__ import annotations

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"

import jax
import numpy as np

import mlpillars as mp
from mlpillars.bench.catalogue import CATALOGUE
from mlpillars.examples import SMALLEST_SIZE
from mlpillars.testing import assert_close

jax.config.update("jax_enable_x64", True)
SECOND = jax.devices("cpu")[1]


def on_second(value):
    if isinstance(value, list):
        return [on_second(item) for item in value]
    return jax.device_put(value, SECOND) if isinstance(value, np.ndarray) else value


def arrays_of(result):
    return result if isinstance(result, tuple) else (result,)


for name, entry in CATALOGUE.items():
    call = entry.example(np.random.default_rng(0), SMALLEST_SIZE)
    expected = arrays_of(entry.main_output(mp.KERNELS[name](*call.arrays, **call.options)))
    jitted = jax.jit(
        lambda *arrays, _name=name, _options=call.options: mp.KERNELS[_name](*arrays, **_options)
    )
    try:
        result = arrays_of(entry.main_output(jitted(*on_second(list(call.arrays)))))
        for actual, wanted in zip(result, expected, strict=True):
            assert actual.devices() == {SECOND}, f"on {actual.devices()}"
            assert_close(actual, wanted)
    except Exception as error:
        print(f"{name}: {type(error).__name__}: {error}")
        sys.exit(1)
    print(f"{name}: on {SECOND}")
