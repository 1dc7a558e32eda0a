"""PyTorch on CPU and CUDA: the arrays the kernels take, devices, DLPack moves, tracing and
CUDA synchronisation, the primitives torch computes its own way, ``torch.compile`` and
step loops, its settings and allocator peak. Its fused kernels are in
:mod:`._torch_fused_paths`."""

from __future__ import annotations

import math
from collections.abc import Callable
from types import ModuleType
from typing import Any

import array_api_compat as aac
import numpy as np

from .._capabilities import Capabilities
from .._errors import NoGPUError
from . import _grouped_loops, _torch_descent, _torch_loops
from ._step_loop import StepLoop
from ._torch_fused_paths import TorchFusedPaths
from ._trees import leaves
from .base import Framework, device_index, unknown_device

_DLPACK_CPU = 1
"""DLPack's device type of host memory (``kDLCPU``)."""

CPU_GROUP_BYTES = 16 * 2**20
"""The data a group of independent problems holds in an eager loop on the CPU (see
:meth:`TorchFramework.run_loop`)."""


def _safe_to_share(host: np.ndarray) -> bool:
    """Whether torch may view ``host``'s buffer: torch.from_dlpack aborts the interpreter on
    negative strides ("Storage size calculation overflowed"), and a view of read-only memory
    would be a writable tensor whose first in-place write crashes the process."""
    return host.flags.writeable and all(stride >= 0 for stride in host.strides)


_STRIDED: list[Any] = []
"""``torch.strided``, the dense tensors' layout, once a tensor has been screened."""


def _under_vmap(torch: ModuleType) -> bool:
    """Whether a ``torch.func.vmap`` is among the active function transforms (``grad``
    alone leaves values readable)."""
    vmap = torch._C._functorch.TransformType.Vmap
    return any(layer.key() == vmap for layer in torch._C._functorch.get_interpreter_stack())


class TorchFramework(TorchFusedPaths, Framework):
    name = "torch"
    thread_pool = "openmp"
    module_name = "torch"
    extra = "torch"
    device_kinds = ("cpu", "cuda")
    gpu_capable = True
    screens_arrays = True

    def owns(self, array: object) -> bool:
        return aac.is_torch_array(array)

    def unsupported(self, array: Any, label: str) -> str | None:
        if _STRIDED and array.layout is _STRIDED[0] and not array.is_nested:
            return None  # a dense tensor: 0.15 us, where importing torch here cost 0.1 more
        import torch  # not self.load(): torch.compile cannot trace importlib

        if not _STRIDED:
            _STRIDED.append(torch.strided)
        if array.is_nested:
            return (
                f"a nested tensor (tensors whose shapes may differ); pass "
                f"{label}.to_padded_tensor(0.0) (with a mask where the kernel takes one), or "
                f"call the kernel on each component"
            )
        if array.layout is not torch.strided:
            return (
                f"a sparse tensor (layout {array.layout}), and the kernels compute on dense "
                f"(strided) tensors: pass {label}.to_dense()"
            )
        return None

    def namespace(self) -> ModuleType:
        self.load()
        import array_api_compat.torch as xp

        return xp

    # -- devices -------------------------------------------------------------------------
    def device_names(self) -> list[str]:
        torch = self.load()
        gpus = torch.cuda.device_count() if torch.cuda.is_available() else 0
        return ["cpu", *(f"cuda:{index}" for index in range(gpus))]

    def resolve_device(self, spec: str | None) -> Any:
        torch = self.load()
        if spec is None:
            return torch.get_default_device()
        if spec == "cpu":
            return torch.device("cpu")
        if spec == "gpu" or spec.startswith("cuda"):
            if not torch.cuda.is_available():
                raise NoGPUError(
                    f"torch:{spec} was asked for but no GPU was found "
                    "(torch.cuda.is_available() is False); use torch:cpu"
                )
            index = device_index(spec)
            if index >= torch.cuda.device_count():
                raise unknown_device(self, spec)
            return torch.device("cuda", index)
        raise unknown_device(self, spec)

    def device_of(self, array: Any) -> Any:
        # the tensor's own attribute: array-api-compat's device() asks each framework in
        # turn whose array it is (3 us of a linear call's 7 us native cost, three times)
        return array.device

    def is_gpu(self, device: Any) -> bool:
        return getattr(device, "type", "cpu") == "cuda"

    # -- moving arrays -------------------------------------------------------------------
    def from_host(self, host: np.ndarray, device: Any) -> Any:
        torch = self.load()
        tensor = None
        if _safe_to_share(host):
            try:
                tensor = torch.from_dlpack(host)  # zero-copy view of the NumPy buffer
            except (BufferError, RuntimeError, TypeError):
                tensor = None
        if tensor is None:
            tensor = torch.from_numpy(np.array(host))  # a writable, C-ordered copy
        return tensor if device is None else tensor.to(device)

    def to_host(self, array: Any) -> np.ndarray:
        array = array.detach().cpu()
        if array.dtype == self.load().bfloat16:  # NumPy has no bfloat16: widen, exactly
            array = array.float()
        return array.numpy()

    def from_dlpack(self, foreign: Any, device: Any) -> Any | None:
        # CuPy -> torch CUDA shares the buffer through DLPack. A host array of another
        # framework goes through NumPy instead (from_host), where its strides and
        # writability can be checked before torch sees it.
        if not hasattr(foreign, "__dlpack__") or not hasattr(foreign, "__dlpack_device__"):
            return None
        if foreign.__dlpack_device__()[0] == _DLPACK_CPU:
            return None
        try:
            tensor = self.load().from_dlpack(foreign)
        except (BufferError, RuntimeError, TypeError, ValueError):
            return None
        return tensor if device is None else tensor.to(device)

    def is_traced(self, array: Any) -> bool:
        import torch  # not self.load(): torch.compile cannot trace importlib

        # a meta tensor has a shape and a dtype but no values, as a tracer; so has a tensor
        # under torch.func.vmap (jacrev, jacfwd), whose value is one per batch entry
        return (
            torch.compiler.is_compiling()
            or array.device.type == "meta"
            or (torch._C._are_functorch_transforms_active() and _under_vmap(torch))
        )

    def values_known(self, array: Any) -> bool:
        # Under torch.compile the values are fake; on CUDA reading them syncs the stream.
        return not self.is_traced(array) and not self.is_gpu(array.device)

    def synchronize(self, array: Any) -> None:
        if self.is_gpu(array.device):
            self.load().cuda.synchronize(array.device)

    # -- what it can do ----------------------------------------------------------------------
    def capabilities(self, device: Any) -> Capabilities:
        return Capabilities(
            float64=True,
            float16=True,
            bfloat16=True,
            eigh=True,
            inplace=True,
            gpu=self.is_gpu(device),
        )

    def erf(self, array: Any) -> Any:
        return self.load().special.erf(array)

    def row_major(self, array: Any) -> Any:
        """Contiguous on the CPU (its batched products ran 1.5-2x faster on a contiguous X^T
        than on a transposed view); on a GPU as it is: cuBLAS reads either layout, and
        device memory is the scarcer."""
        return array.contiguous() if array.device.type == "cpu" else array

    def vecdot(self, a: Any, b: Any, *, xp: ModuleType) -> Any:
        # array-api-compat's vecdot broadcasts, moves axes and multiplies matrices: 90 us
        # for 256 rows of 33 float64, against 19 us for torch's own
        import torch  # not self.load(): torch.compile cannot trace importlib

        return torch.linalg.vecdot(a, b)

    def extremes(self, array: Any, *, xp: ModuleType) -> tuple[Any, Any]:
        # one pass: torch's min and max of int64 labels took 85 us each for 65536, aminmax
        # 18 for both
        import torch  # not self.load(): torch.compile cannot trace importlib

        if array.dtype in (torch.uint16, torch.uint32, torch.uint64):  # no aminmax for them
            array = array.to(torch.int64)  # uint64 past 2**63 turns negative: out of range
        return tuple(torch.aminmax(array))  # type: ignore[return-value]

    def largest_magnitude(self, array: Any, *, xp: ModuleType) -> float:
        # its extremes (one aminmax): one pass and no |x| array, against abs then amax
        # (float32, one run each: (1, 2, 8, 8) 3.0 us against 4.6, (1, 8, 256, 64) 11
        # against 27, (1, 8, 1024, 64) 33 against 61); of the values alone: reading a
        # tensor that requires grad builds its graph and warns
        least, greatest = self.extremes(array.detach(), xp=xp)
        lowest, highest = float(least), float(greatest)
        return max(-lowest, highest) if lowest == lowest and highest == highest else math.nan

    def without_gradient(self, array: Any) -> Any:
        return array.detach()

    def relu(self, array: Any, *, xp: ModuleType) -> Any:
        return array.relu()

    def solve_triangular(self, upper: Any, rhs: Any) -> Any:
        # torch's own triangular solve: it reads only the triangle, and does not check the
        # diagonal (the general solve raises on a singular matrix, a sync on CUDA and a
        # raw LinAlgError under torch.compile; the rank test has flagged such a problem)
        import torch  # not self.load(): torch.compile cannot trace importlib

        return torch.linalg.solve_triangular(upper, rhs, upper=True)

    def compile(self, function: Callable[..., Any]) -> Callable[..., Any]:
        return self.load().compile(function)

    def block_buffers(self) -> Any:
        """A buffer for one fit's blocks: each step one ``baddbmm`` into it
        (``_torch_descent``)."""
        import torch  # not self.load(): torch.compile cannot trace importlib

        return _torch_descent.BlockBuffers(torch)

    # -- step loops ------------------------------------------------------------------------
    def run_loop(self, loop: StepLoop, state: Any, constants: Any) -> tuple[Any, Any, Any]:
        """Eagerly the plain Python loop; traced by ``torch.compile``, one
        ``torch.while_loop`` (see :mod:`._torch_loops`): the full ``(steps + 1, ...)``
        history and a 0-d ``steps_run`` come back, as under ``jax.jit``.

        On the CPU, independent problems whose data exceed :data:`CPU_GROUP_BYTES` run in
        groups of about that much (``_grouped_loops``, as NumPy's smaller ones): a group's
        elementwise work still spans both cores (intra-op threads), its data stay in the
        last-level cache, and its temporaries are half as large. Logistic GD, B=256
        problems of 512 x 32 float64 samples, 200 steps: 1.17-2.1 s in one loop (up to 2300
        page faults a step, as the allocator's state has it), 0.87-1.0 s in two groups,
        1.25 s in four (more calls a step).
        """
        import torch  # not self.load(): torch.compile cannot trace importlib

        if torch.compiler.is_compiling():
            return _torch_loops.run_compiled_loop(torch, loop, state, constants)
        grouped = None
        if all(array.device.type == "cpu" for array in leaves(state)):
            run = super().run_loop
            grouped = _grouped_loops.run_in_groups(run, loop, state, constants, CPU_GROUP_BYTES)
        return super().run_loop(loop, state, constants) if grouped is None else grouped

    # -- the benchmark record ------------------------------------------------------------------
    def settings(self) -> dict[str, Any]:
        torch = self.load()
        record = {
            "version": torch.__version__,
            "num_threads": torch.get_num_threads(),
            "num_interop_threads": torch.get_num_interop_threads(),
            "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
            "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32,
            "matmul_fp32_precision": getattr(torch.backends.cuda.matmul, "fp32_precision", None),
            "float32_matmul_precision": torch.get_float32_matmul_precision(),
            "cuda_available": torch.cuda.is_available(),
            "cuda_version": torch.version.cuda,
        }
        if record["cuda_version"] is None:
            record["reasons"] = {
                "cuda_version": "torch is a CPU build (torch.version.cuda is None)"
            }
        return record

    def gpu_properties(self) -> list[dict[str, Any]] | None:
        torch = self.load()
        if not torch.cuda.is_available():
            return None
        return [
            {
                "name": properties.name,
                "memory_total_bytes": properties.total_memory,
                "compute_capability": f"{properties.major}.{properties.minor}",
            }
            for properties in map(
                torch.cuda.get_device_properties, range(torch.cuda.device_count())
            )
        ]

    def start_device_peak(self) -> Callable[[], int] | None:
        # torch.cuda.max_memory_allocated after reset_peak_memory_stats: bytes held by
        # tensors at the highest point, including those already held when it began.
        torch = self.load()
        if not torch.cuda.is_available():
            return None
        gpus = range(torch.cuda.device_count())
        for index in gpus:
            torch.cuda.reset_peak_memory_stats(index)
        return lambda: sum(torch.cuda.max_memory_allocated(index) for index in gpus)
