"""Run by tests/test_transforms.py in a fresh process whose XLA_FLAGS give JAX two CPU
devices (as two GPUs would be). Every kernel's example call, against the NumPy kernel's
values:

- its arrays on the second device, inside ``jax.jit``: the results on that device;
- its arrays sharded over both devices along their first axis where it divides evenly,
  else replicated, eagerly and inside ``jax.jit``: the results on both devices; and
  calls that make arrays of other shapes beside sharded ones (a causal triangle of odd
  length, a learning rate and a fit's state);
- a sharded array beside one committed to a single device: a ValueError naming the
  kernel and where each input is (JAX's own "incompatible devices" error named neither),
  and beside an uncommitted or a replicated one: computed.

Prints one line per kernel and way; exits 1 at the first failure."""

from __future__ import annotations

import os
import sys

os.environ["XLA_FLAGS"] = "--xla_force_host_platform_device_count=2"
os.environ["JAX_NUM_CPU_DEVICES"] = "2"  # JAX takes this one where both are set

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec

import mlpillars as mp
from mlpillars.bench.catalogue import CATALOGUE
from mlpillars.examples import SMALLEST_SIZE
from mlpillars.testing import assert_close

jax.config.update("jax_enable_x64", True)
DEVICES = jax.devices("cpu")
SECOND = DEVICES[1]
MESH = Mesh(np.array(DEVICES), ("batch",))


def on_second(value):
    if isinstance(value, list):
        return [on_second(item) for item in value]
    return jax.device_put(value, SECOND) if isinstance(value, np.ndarray) else value


def sharded(value):
    if isinstance(value, list):
        return [sharded(item) for item in value]
    if not isinstance(value, np.ndarray):
        return value
    divides = value.ndim and value.shape[0] % len(DEVICES) == 0
    return jax.device_put(value, NamedSharding(MESH, PartitionSpec("batch" if divides else None)))


def arrays_of(result):
    return result if isinstance(result, tuple) else (result,)


def check(name, way, call, place, expected, devices):
    def run(*arrays):
        return mp.KERNELS[name](*arrays, **call.options)

    function = run if way == "eager" else jax.jit(run)
    try:
        result = arrays_of(CATALOGUE[name].main_output(function(*place(list(call.arrays)))))
        for actual, wanted in zip(result, expected, strict=True):
            assert actual.devices() == devices, f"on {actual.devices()}"
            assert_close(actual, wanted)
    except Exception as error:
        print(f"{name} {way}: {type(error).__name__}: {error}")
        sys.exit(1)
    print(f"{name} {way}: on {sorted(str(device) for device in devices)}")


for name, entry in CATALOGUE.items():
    call = entry.example(np.random.default_rng(0), SMALLEST_SIZE + 1)  # even: shards divide
    expected = arrays_of(entry.main_output(mp.KERNELS[name](*call.arrays, **call.options)))
    check(name, "jit on the second device", call, on_second, expected, {SECOND})
    for way in ("eager", "jit"):
        check(name, f"{way} sharded", call, sharded, expected, set(DEVICES))


rng = np.random.default_rng(1)
queries = rng.normal(size=(4, 2, 5, 8))
mask = rng.random(size=(4, 1, 5, 5)) > 0.3
features, targets = rng.normal(size=(8, 18, 3)), rng.normal(size=(8, 18))
EXTRA = {
    "causal attention": (
        lambda q: mp.scaled_dot_product_attention(q, q, q, is_causal=True),
        (queries,),
    ),
    "blocked causal attention": (
        lambda q: mp.scaled_dot_product_attention(q, q, q, is_causal=True, block_size=2),
        (queries,),
    ),
    "masked attention weights": (
        lambda q, m: mp.scaled_dot_product_attention(q, q, q, mask=m, return_weights=True),
        (queries, mask),
    ),
    "gradient_descent default lr": (
        lambda X, y: mp.gradient_descent(X, y, steps=5)[:2],
        (features, targets),
    ),
}
for label, (function, arrays) in EXTRA.items():
    expected = arrays_of(function(*arrays))
    try:
        result = arrays_of(function(*sharded(list(arrays))))
        for actual, wanted in zip(result, expected, strict=True):
            assert actual.devices() == set(DEVICES), f"on {actual.devices()}"
            assert_close(actual, wanted)
    except Exception as error:
        print(f"{label} eager: {type(error).__name__}: {error}")
        sys.exit(1)
    print(f"{label} eager sharded: on {sorted(str(device) for device in DEVICES)}")


x, weight = rng.normal(size=(4, 3)), rng.normal(size=(3, 2))
expected = mp.linear(x, weight)
x_sharded = sharded(x)
for label, placed_weight in {
    "uncommitted": jax.numpy.asarray(weight),
    "replicated": jax.device_put(weight, NamedSharding(MESH, PartitionSpec())),
}.items():
    assert_close(mp.linear(x_sharded, placed_weight), expected)
    print(f"linear beside the {label} weight: computed")
for name, call in {
    "linear": lambda: mp.linear(x_sharded, jax.device_put(weight, SECOND)),
    "cosine_similarity": lambda: mp.cosine_similarity(x_sharded, jax.device_put(x, DEVICES[0])),
}.items():
    try:
        call()
    except ValueError as error:
        assert str(error).startswith(f"{name}: jax inputs are on different devices"), error
        assert "on cpu:0 and cpu:1" in str(error), error
        print(f"{name} beside one device: {error}")
    else:
        print(f"{name}: a sharded array beside one on a single device was not refused")
        sys.exit(1)
