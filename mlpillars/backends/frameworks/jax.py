"""JAX on CPU and GPU: device placement, 64-bit mode, the primitives JAX computes its own
way, ``jax.jit`` and branches in a program, step loops as one compiled ``lax`` loop, its
settings and device peak. Its fused kernels are in :mod:`._jax_fused_paths`."""

from __future__ import annotations

import os
from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from .._errors import NoGPUError
from . import _jax_devices, _jax_loops, _jax_pytrees, _numpy_threads
from ._jax_fused_paths import JaxFusedPaths
from .base import Framework, StepLoop, device_index, unknown_device

MATMUL_PRECISION_VARIABLE = "JAX_DEFAULT_MATMUL_PRECISION"
"""The variable JAX reads its ``jax_default_matmul_precision`` from at import."""


class JaxFramework(JaxFusedPaths, Framework):
    name = "jax"
    module_name = "jax"
    thread_pool = "xla"
    extra = "jax"
    device_kinds = ("cpu", "gpu")
    gpu_capable = True
    compiler = "jax.jit"
    compiles_loops = True

    def owns(self, array: object) -> bool:
        return aac.is_jax_array(array)

    def load(self) -> ModuleType:
        """Import JAX; the first time, register the result classes as pytrees."""
        jax = super().load()
        if not self._results_registered:
            _jax_pytrees.register_results(jax)
            self._results_registered = True
        return jax

    _results_registered = False

    def namespace(self) -> ModuleType:
        self.load()
        import jax.numpy as xp

        return xp

    # -- devices -------------------------------------------------------------------------
    def _platform_devices(self, platform: str) -> list[Any]:
        try:
            return list(self.load().devices(platform))
        except RuntimeError:  # "Unknown backend: 'gpu' requested, but no platforms ..."
            return []

    def device_names(self) -> list[str]:
        """Each GPU, and the first CPU device only: JAX's CPU devices (``JAX_NUM_CPU_DEVICES``,
        :mod:`._jax_devices`) share the host's cores, so the others are no other hardware
        to benchmark (``jax:cpu:1`` still resolves)."""
        cpus = self._platform_devices("cpu")[:1]
        return [f"cpu:{device.id}" for device in cpus] + [
            f"gpu:{device.id}" for device in self._platform_devices("gpu")
        ]

    def resolve_device(self, spec: str | None) -> Any:
        jax = self.load()
        if spec is None:
            return jax.devices()[0]
        platform = spec.partition(":")[0]
        platform = "gpu" if platform == "cuda" else platform
        if platform not in ("cpu", "gpu"):
            raise unknown_device(self, spec)
        devices = self._platform_devices(platform)
        if not devices:
            raise NoGPUError(
                f"jax:{spec} was asked for but no GPU was found "
                "(jax.devices('gpu') found none); use jax:cpu"
            )
        index = device_index(spec)
        if index >= len(devices):
            raise unknown_device(self, spec)
        return devices[index]

    def device_of(self, array: Any) -> Any:
        """The device the array is committed to; None where it is committed to none (JAX
        moves it where a computation needs it: ``jnp.ones(3)``), to several (sharded or
        replicated) or is a tracer. New arrays beside it are then left uncommitted too, and
        JAX places them: committed to the array's sharding they failed ("incompatible
        devices", or an axis not divisible by the mesh), and committed to the default
        device beside a sharded array as well."""
        devices = self.placement(array)
        return devices[0] if devices is not None and len(devices) == 1 else None

    def placement(self, array: Any) -> Any:
        """The devices a committed array is on, one or several (sharded or replicated),
        as a tuple; None for an uncommitted array or a tracer, which JAX places beside
        any. jit takes committed arguments only on one set of devices ("Received
        incompatible devices for jitted computation")."""
        if self.is_traced(array) or not array.committed:
            return None
        return tuple(sorted(array.devices(), key=lambda device: device.id))

    def is_gpu(self, device: Any) -> bool:
        return getattr(device, "platform", "cpu") in ("gpu", "cuda", "rocm")

    def _runs_on_gpu(self, array: Any) -> bool:
        """Whether a computation on ``array`` runs on a GPU: its device's, or for a
        tracer or an uncommitted array, JAX's default backend's."""
        device = self.device_of(array)
        if device is not None:
            return self.is_gpu(device)
        return self.load().default_backend() in ("gpu", "cuda", "rocm")

    # -- moving arrays -------------------------------------------------------------------
    def enable_x64(self) -> None:
        """Turn on JAX's 64-bit mode, without which float64 arrays become float32."""
        jax = self.load()
        if not jax.config.read("jax_enable_x64"):
            jax.config.update("jax_enable_x64", True)

    def from_host(self, host: np.ndarray, device: Any) -> Any:
        if host.dtype.itemsize == 8 and host.dtype.kind in "fiuc":
            self.enable_x64()
        return self.load().device_put(host, device)

    def held_inputs(self, arrays: tuple[Any, ...], *, problems: bool = False) -> tuple[Any, ...]:
        """Independent problems (``problems``) on one CPU device sharded over the CPU
        devices (:func:`._jax_devices.spread_problems`), as a user who wants every core
        holds them; anything else as it is."""
        return _jax_devices.spread_problems(self.load(), arrays) if problems else arrays

    def is_traced(self, array: Any) -> bool:
        import jax

        return isinstance(array, jax.core.Tracer)

    def values_known(self, array: Any) -> bool:
        # A tracer under jit/vmap/grad has no values; a GPU array's would need a sync.
        if self.is_traced(array):
            return False
        return not any(self.is_gpu(device) for device in array.devices())

    def synchronize(self, array: Any) -> None:
        array.block_until_ready()

    # -- what it can do ----------------------------------------------------------------------
    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True,  # x64 mode is enabled the first time a float64 array is moved in
            float16=True,
            bfloat16=True,
            eigh=True,
            inplace=False,
            gpu=self.is_gpu(device),
        )

    def erf(self, array: Any) -> Any:
        self.load()
        from jax.scipy.special import erf

        return erf(array)

    def eigh(self, matrix: Any) -> tuple[Any, Any]:
        """``jnp.linalg.eigh`` of the matrix divided by a power of two near its largest
        magnitude, the eigenvalues multiplied back (exact, barring subnormals).

        JAX's derivative rule forms ``1 / (w_j - w_i)`` as ``1 / ((I + w_j) - w_i) - I``,
        the identity keeping the diagonal's division from 0: for an eigenvalue past
        ``2 / eps`` (float64 variances of 1e20, float32 of 1e8) ``1 + w_i - w_i`` is 0
        there, and every gradient NaN. Scaled, the eigenvalues are of order 1. The scale
        takes no gradient: eigenvectors do not change with it, eigenvalues scale with it."""
        jax = self.load()
        xp = self.namespace()
        magnitude = xp.max(xp.abs(matrix), axis=(-2, -1), keepdims=True, initial=0.0)
        magnitude = jax.lax.stop_gradient(magnitude)
        usable = (magnitude > 0) & xp.isfinite(magnitude)
        exponent = xp.frexp(xp.where(usable, magnitude, xp.ones_like(magnitude)))[1]
        unit = xp.ldexp(xp.ones_like(magnitude), exponent)
        eigenvalues, eigenvectors = xp.linalg.eigh(matrix / unit)
        return eigenvalues * unit[..., 0], eigenvectors

    def without_gradient(self, array: Any) -> Any:
        return self.load().lax.stop_gradient(array)

    def relu(self, array: Any, *, xp: ModuleType) -> Any:
        return self.load().nn.relu(array)

    def compile(self, function: Callable[..., Any]) -> Callable[..., Any]:
        return self.load().jit(function)

    def trace_errors(self) -> tuple[type[BaseException], ...]:
        # value checks (label ranges, divergence halts) on traced arrays raise these
        return (self.load().errors.JAXTypeError, TypeError, ValueError)

    def branch_in_program(
        self,
        predicate: Any,
        if_true: Callable[..., Any],
        if_false: Callable[..., Any],
        operands: tuple[Any, ...],
    ) -> Any:
        """``lax.cond`` (traced, or on a GPU): the program runs one branch (under ``vmap``
        JAX turns it into a select)."""
        return self.load().lax.cond(predicate, if_true, if_false, *operands)

    # -- step loops: one compiled lax loop ------------------------------------------------
    def run_loop(self, loop: StepLoop, state: Any, constants: Any) -> tuple[Any, Any, Any]:
        """The whole loop as one jitted program (see :mod:`._jax_loops`: ``lax.while_loop``
        or ``fori_loop``, independent problems in cache-sized groups). The history is a
        preallocated ``(steps + 1, ...)`` buffer.

        Called eagerly, the buffer is cut to ``steps_run + 1`` rows and ``steps_run`` is an
        int, as in the eager loop. Traced inside the caller's ``jax.jit`` (``steps_run``
        is then a tracer) the shapes must be static: the full buffer comes back, its rows
        after an early stop repeating the last recorded row, and ``steps_run`` is a 0-d
        integer array.
        """
        steps_run, state, history = _jax_loops.compiled_loop(self.load())(loop, state, constants)
        if isinstance(steps_run, self.load().core.Tracer):
            return state, history, steps_run
        count = int(steps_run)
        return state, history[: count + 1], count

    # -- the benchmark record ------------------------------------------------------------------
    def one_device_per_cpu(self) -> None:
        """As many CPU devices as NumPy's parts may use threads (the usable CPUs,
        ``OMP_NUM_THREADS``, at most 8), unless the user chose a count: see
        :mod:`._jax_devices`."""
        _jax_devices.one_device_per_cpu(_numpy_threads.thread_limit())

    def full_float32_products(self) -> None:
        """``"highest"`` matmul precision unless set: on a GPU JAX's default is TF32-like
        (about 1e-3 relative on an H200, outside the float32 tolerance; torch's and CuPy's
        default is full float32). By the variable JAX reads at import, which the harness's
        child processes inherit, and in the config where JAX is imported already."""
        if os.environ.get(MATMUL_PRECISION_VARIABLE):
            return
        os.environ[MATMUL_PRECISION_VARIABLE] = "highest"
        if self.is_loaded():
            jax = self.load()
            if jax.config.jax_default_matmul_precision is None:
                jax.config.update("jax_default_matmul_precision", "highest")

    def settings(self) -> dict[str, Any]:
        jax = self.load()
        return {
            "version": jax.__version__,
            "enable_x64": bool(jax.config.jax_enable_x64),
            "default_matmul_precision": jax.config.jax_default_matmul_precision,
            "default_backend": jax.default_backend(),
            "devices": [str(device) for device in jax.devices()],
            "cpu_devices": len(self._platform_devices("cpu")),
        }

    def start_device_peak(self) -> Callable[[], int] | None:
        # XLA cannot reset its peak: this is the process's peak so far, the block's peak
        # only when it is the highest the process has seen.
        gpus = [device for device in self.load().devices() if self.is_gpu(device)]
        if not gpus:
            return None
        return lambda: sum(
            (device.memory_stats() or {}).get("peak_bytes_in_use", 0) for device in gpus
        )
