"""Whether torch records an operation for differentiation: the test of the fast paths that
torch refuses, or that lose what a derivative needs, where it does (an ``out=`` product,
a QR factorisation without Q)."""

from __future__ import annotations

from types import ModuleType
from typing import Any


def recorded(torch: ModuleType, *tensors: Any) -> bool:
    """Whether an operation on ``tensors`` is recorded for differentiation: by autograd
    (one requires grad, under grad mode), a ``torch.func`` transform or forward mode (a
    dual level of ``torch.autograd.forward_ad``, whose tensors do not require grad)."""
    if torch.is_grad_enabled() and any(tensor.requires_grad for tensor in tensors):
        return True
    forward_mode = torch.autograd.forward_ad._current_level >= 0  # inside a dual_level
    return forward_mode or torch._C._are_functorch_transforms_active()
