"""Peer adapters for the model-fitting kernels: PCA, gradient descent, least squares, R^2.

Each adapter is ``adapt(peer, call) -> PeerCall``: it loads the peer's function and lays
the example's NumPy arrays out for it, outside the timed region. Outputs are compared only
where the peer defines them as the kernel does.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...examples import KernelCall
from . import Peer, PeerCall

PCA_FIT_ATTRIBUTES = (
    "components_",
    "explained_variance_",
    "explained_variance_ratio_",
    "singular_values_",
    "mean_",
)
"""scikit-learn's PCA attributes in the order of the pca_fit kernel's main output; the
components share the kernel's sign convention (largest absolute entry of a row positive)."""


def pca_projection(peer: Peer, call: KernelCall) -> PeerCall:
    """A scikit-learn-style PCA class: ``fit_transform`` with the covariance solver."""
    estimator, components = peer.load(), call.options["n_components"]
    return PeerCall(
        lambda data: estimator(components, svd_solver="covariance_eigh").fit_transform(data),
        call.arrays[:1],
    )


def pca_fitted_attributes(peer: Peer, call: KernelCall) -> PeerCall:
    """A scikit-learn-style PCA class: ``fit``, then the attributes :data:`PCA_FIT_ATTRIBUTES`."""
    estimator, components = peer.load(), call.options["n_components"]
    return PeerCall(
        lambda data: estimator(components, svd_solver="covariance_eigh").fit(data),
        call.arrays[:1],
        outputs=lambda fitted: [np.asarray(getattr(fitted, name)) for name in PCA_FIT_ATTRIBUTES],
    )


def gradient_descent_per_problem(peer: Peer, call: KernelCall) -> PeerCall:
    """Plain batch gradient descent, one problem at a time, with the peer's matrix-vector
    product (``numpy.dot``) inside each step: the loop a user writes around NumPy.

    The gradient of the mean loss with respect to the linear predictions ``z = Xw + b`` is
    ``2 (z - y) / n`` for ``"mse"`` and ``(sigmoid(z) - y) / n`` for ``"logistic"``.
    Inputs: X (B, n, d), y (B, n); outputs the weights (B, d) and intercepts (B,).
    """
    dot = peer.load()
    lr, steps = call.options["lr"], call.options["steps"]
    fit_intercept = call.options.get("fit_intercept", True)
    loss = call.options.get("loss", "mse")
    if loss not in ("mse", "logistic"):
        raise ValueError(f"{peer.name}: no loss {loss!r} (mse, logistic)")

    def solve_each_problem(features: Any, targets: Any) -> tuple[np.ndarray, np.ndarray]:
        weights = np.zeros(features.shape[::2], dtype=features.dtype)  # (B, d)
        biases = np.zeros(features.shape[0], dtype=features.dtype)  # (B,)
        for problem in range(features.shape[0]):
            x, y = features[problem], targets[problem]
            w, b = np.zeros(x.shape[1], dtype=x.dtype), x.dtype.type(0)
            for _ in range(steps):
                predictions = dot(x, w) + b
                if loss == "mse":
                    residual = (2 / len(y)) * (predictions - y)
                else:
                    residual = (1 / (1 + np.exp(-predictions)) - y) / len(y)
                w = w - lr * dot(x.T, residual)
                if fit_intercept:
                    b = b - lr * residual.sum()
            weights[problem], biases[problem] = w, b
        return weights, biases

    return PeerCall(solve_each_problem, call.arrays[:2])


def lstsq_with_ones_column(peer: Peer, call: KernelCall) -> PeerCall:
    """A general least-squares solver (``numpy.linalg.lstsq``) on X with a column of ones
    appended for the intercept; its last coefficient is the intercept.

    Inputs: X (n, d), y (n,); outputs the weights (d,) and the intercept ().
    """
    lstsq = peer.load()
    features, targets = call.arrays[:2]
    fit_intercept = call.options.get("fit_intercept", True)
    if fit_intercept:
        features = np.column_stack([features, np.ones(len(features), features.dtype)])

    def weights_and_intercept(solution: np.ndarray) -> list[np.ndarray]:
        if not fit_intercept:
            return [solution, np.zeros((), solution.dtype)]
        return [solution[:-1], np.asarray(solution[-1])]

    return PeerCall(
        lambda design, y: lstsq(design, y, rcond=None)[0],
        (features, targets),
        outputs=weights_and_intercept,
    )


def linear_regression_fit(peer: Peer, call: KernelCall) -> PeerCall:
    """A scikit-learn-style regression class: ``fit``, then ``coef_`` and ``intercept_``.

    Inputs: X (n, d), y (n,); outputs the weights (d,) and the intercept ().
    """
    estimator = peer.load()
    fit_intercept = call.options.get("fit_intercept", True)
    return PeerCall(
        lambda X, y: estimator(fit_intercept=fit_intercept).fit(X, y),
        call.arrays[:2],
        outputs=lambda fitted: [np.asarray(fitted.coef_), np.asarray(fitted.intercept_)],
    )


def r2_score_per_row(peer: Peer, call: KernelCall) -> PeerCall:
    """scikit-learn's ``r2_score``, which scores each column (output) with
    ``multioutput="raw_values"``: the kernel's rows (..., n) are passed as columns (n, rows).

    Both give 1 for a constant, perfectly predicted row and 0 for a constant, imperfectly
    predicted one (``force_finite=True``, the default).
    """
    r2_score = peer.load()
    truth, predictions = call.arrays[:2]
    leading = truth.shape[:-1]
    columns = tuple(
        np.ascontiguousarray(array.reshape(-1, array.shape[-1]).T) for array in (truth, predictions)
    )
    return PeerCall(
        lambda y_true, y_pred: r2_score(y_true, y_pred, multioutput="raw_values"),
        columns,
        outputs=lambda scores: [np.asarray(scores).reshape(leading)],
    )
