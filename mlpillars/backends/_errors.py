"""Errors raised when a backend cannot be chosen, imported or reached."""

from __future__ import annotations


class UnknownBackendError(ValueError):
    """A backend name that the registry does not know, or a device its framework does not
    have."""


class BackendNotInstalledError(ImportError):
    """A known backend whose framework cannot be imported on this machine."""


class NoGPUError(RuntimeError):
    """A GPU device was asked for but the framework found none."""
