"""Errors raised when a backend cannot be chosen, imported or reached."""

from __future__ import annotations


class UnknownBackendError(ValueError):
    """A backend name that the registry does not know, or a device its framework does not
    have."""


class BackendNotInstalledError(ImportError):
    """A known backend whose framework cannot be imported on this machine."""


class MixedNamespacesError(TypeError, ValueError):
    """A call's arrays come from different array namespaces (NumPy beside torch): a
    ``TypeError`` (arrays of the wrong type) that is also the ``ValueError`` scikit-learn's
    array-API estimators raise for it (``check_same_namespace``)."""


class NoGPUError(RuntimeError):
    """A GPU device was asked for but the framework found none."""
