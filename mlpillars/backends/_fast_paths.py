"""Fast paths: a backend's own implementation of a kernel, registered in this one place.

Each function takes the kernel's arguments plus ``xp`` and returns the result, or
``NotImplemented`` when it cannot honour those arguments (the generic path then runs).
Frameworks are imported inside the functions, only when that backend is already in use.
Tests compare every fast path with the kernel's generic implementation.
"""

from __future__ import annotations
