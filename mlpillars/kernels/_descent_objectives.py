"""Gradient descent's objectives: each problem's loss (B,) and gradient (B, p) at params.

Params hold one row per problem, ``theta = [w, b]`` (b only with an intercept).

- :class:`DataObjective` reads the data every step: logits ``X w + b`` for all problems
  in one batched product, the gradient ``e^T X`` in another; the bias's gradient is a sum
  (no column of ones is ever appended to X).
- :class:`MseStatistics` is the MSE from the problem's sufficient statistics, computed
  once (:mod:`._descent_statistics`): each step is O(d^2) per problem, not O(n d).

Both are NamedTuples of arrays, so that a compiled loop carries them as its constants.
"""

from __future__ import annotations

from typing import Any, NamedTuple

from ..backends import device_of, loops_compiled, row_major, vecdot


class DataObjective(NamedTuple):
    """MSE or logistic loss from the data: features (1 or B, n, d), targets (1 or B, n).

    Where loops run eagerly X is held transposed, row-major where the framework lays
    arrays out (one copy per call, :func:`mlpillars.backends.row_major`), and ``features``
    is None: both of a step's products, ``w^T X^T`` and ``e^T X``, then read it along its
    rows. For B=256 problems of 512 x 32 float64 samples torch's batched products took
    2.4 + 4.4 ms a step on X as given, 1.8 + 2.1 on X^T so held (logistic GD, 200 steps:
    2.2 -> 1.55 s); NumPy's 63 + 55 against 56 + 53 us for a group of 16 problems.
    Compiled (JAX, ``torch.compile``) X stays as given and ``X w`` a column: XLA lays
    out data itself, and ran that form faster (370 against 430 ms).
    """

    features: Any  # X (1 or B, n, d), or None where transposed_features holds it
    targets: Any
    transposed_features: Any = None  # X^T (1 or B, d, n), row-major

    @classmethod
    def of(cls, features: Any, targets: Any, *, xp: Any) -> DataObjective:
        """The objective of features (1 or B, n, d) and targets (1 or B, n)."""
        if loops_compiled(features):
            return cls(features, targets)
        return cls(None, targets, row_major(xp.matrix_transpose(features)))

    def loss_and_gradient(self, params: Any, options: Any, *, xp: Any) -> tuple[Any, Any]:
        """Loss (B,) and gradient (B, p) at params (B, p), L2 penalty included."""
        transposed = self.transposed_features
        features = self.features if transposed is None else xp.matrix_transpose(transposed)
        n_samples, n_features = features.shape[-2:]
        weights = params[:, :n_features]
        if transposed is None:  # X as given (compiled): X w, a column
            logits = (features @ weights[..., None])[..., 0]  # (B, n)
        else:  # w^T X^T: a row times the row-major copy
            logits = (weights[:, None, :] @ transposed)[:, 0, :]
        if options.fit_intercept:
            logits = logits + params[:, n_features:]
        if options.loss == "mse":
            error = logits - self.targets
            loss = xp.mean(error * error, axis=-1)
            scale = 2.0 / n_samples
        else:
            loss, error = _logistic_loss_and_error(logits, self.targets, xp=xp)
            scale = 1.0 / n_samples
        # e^T X rather than X^T e: no framework need transpose (torch copied X^T each step).
        gradient = scale * (error[:, None, :] @ features)[:, 0, :]
        if options.l2:
            loss = loss + options.l2 * xp.sum(weights * weights, axis=-1)
            gradient = gradient + (2 * options.l2) * weights
        if not options.fit_intercept:
            return loss, gradient
        bias_gradient = scale * xp.sum(error, axis=-1, keepdims=True)
        return loss, xp.concat([gradient, bias_gradient], axis=-1)


def _logistic_loss_and_error(logits: Any, targets: Any, *, xp: Any) -> tuple[Any, Any]:
    """Mean of ``softplus(z) - y z`` (B,) and ``sigmoid(z) - y`` (B, n).

    From ``t = exp(-|z|)`` in (0, 1], the one ``exp`` a sample: ``softplus(z) = max(z, 0)
    + log1p(t)`` and ``sigmoid(z) = (1 if z >= 0 else t) / (1 + t)``. Finite for any
    finite z, and both keep their relative accuracy where tiny (z = -700: the sigmoid is
    1e-304, not 0). The loss sums ``max(z, 0) - y z`` (never negative for labels in
    {0, 1}) and the ``log1p`` terms apart, the latter as :func:`_log1p_sum`.
    """
    # 0-d arrays, not Python scalars: array-api-compat's torch functions of a Python
    # scalar and an array do not trace under torch.compile
    zero = xp.zeros((), dtype=logits.dtype, device=device_of(logits))
    one = xp.ones((), dtype=logits.dtype, device=device_of(logits))
    tail = xp.exp(-xp.abs(logits))
    margins = xp.sum(xp.maximum(logits, zero) - targets * logits, axis=-1)
    loss = (margins + _log1p_sum(tail, xp=xp)) / logits.shape[-1]
    sigmoid = xp.where(logits >= zero, one, tail) / (one + tail)
    return loss, sigmoid - targets


FOLDS = 3
"""Pairwise folds of :func:`_log1p_sum`: a folded entry is ``prod(1 + t) - 1`` over 2**3 = 8
samples, at most 2**8 (no overflow even in float16). On NumPy float64 the loss of 16
problems of 512 samples (a cache-sized group) took 151 us a step with 3 folds, 153-155 with
2 or 4, 175 with none, 295 with 9 (each fold is four calls)."""


def _log1p_sum(tail: Any, *, xp: Any) -> Any:
    """``sum(log1p(t), axis=-1)`` for t (B, n) in [0, 1], with n / 8 logarithms, not n.

    ``log1p(a) + log1p(b) = log1p(a + b (1 + a))``: the sum is folded pairwise
    (:data:`FOLDS` times: halves of the last axis, an odd one out carried apart) into
    entries ``prod(1 + t) - 1``, each computed from non-negative terms (no cancellation:
    about 2 eps relative a fold), then one ``log1p`` each. A tiny t keeps its digits
    (1e-300 adds exactly), which ``log(prod(1 + t))`` would lose. NumPy's float64
    ``log1p`` is scalar code, about 16 ns a value here (torch's 3 ns).
    """
    carried = None
    for _ in range(FOLDS):
        length = tail.shape[-1]
        if length < 2:
            break
        half = length // 2
        if length % 2:
            last = tail[..., length - 1]
            carried = last if carried is None else carried + last * (1 + carried)
        first = tail[..., :half]
        tail = first + tail[..., half : 2 * half] * (1 + first)
    total = xp.sum(xp.log1p(tail), axis=-1)
    return total if carried is None else total + xp.log1p(carried)


class MseStatistics(NamedTuple):
    r"""The MSE (with its L2 penalty) as a quadratic in the weights, per problem.

    With an intercept the data are centred: for ``delta = w - reference``,

    .. math::
        L(w, b) = \delta^T Q \delta + 2 h^T \delta + c + e^2, \quad
        e = b + \bar x^T \delta - \bar y',

    where ``Q = X_c^T X_c / n + l2 I`` (X_c: X less its column means), ``e`` is the mean
    residual (the intercept separates from the weights) and ``h``, ``c``, ``ȳ'`` hold the
    rest, expanded around ``reference`` (None: around w = 0, where ``h = -X_c^T y / n``
    and ``c = var(y)``). Without an intercept nothing is centred and there is no ``e``.
    """

    curvature: Any  # Q, (1 or B, d, d)
    linear: Any  # h, (B, d)
    offset: Any  # c, (B,)
    feature_mean: Any  # x̄, (1 or B, d); None without an intercept
    target_mean: Any  # ȳ' = ȳ - x̄^T reference, (B,); None without an intercept
    reference: Any  # (B, d) or None

    def loss_and_gradient(self, params: Any, options: Any, *, xp: Any) -> tuple[Any, Any]:
        """Loss (B,) and gradient (B, p) at params (B, p), L2 penalty included."""
        n_features = self.curvature.shape[-1]
        delta = params[:, :n_features]
        if self.reference is not None:
            delta = delta - self.reference
        # Q is symmetric: Q delta is delta^T Q, a row times a matrix, which torch's batched
        # product runs 3.7x faster than a matrix times a column (256 33x33 float64).
        half_gradient = (delta[:, None, :] @ self.curvature)[:, 0, :] + self.linear
        loss = vecdot(delta, half_gradient + self.linear, xp=xp) + self.offset
        if not options.fit_intercept:
            return loss, 2 * half_gradient
        mean_residual = params[:, n_features] + vecdot(self.feature_mean, delta, xp=xp)
        mean_residual = mean_residual - self.target_mean
        half_gradient = half_gradient + self.feature_mean * mean_residual[:, None]
        gradient = xp.concat([half_gradient, mean_residual[:, None]], axis=-1)
        return loss + mean_residual * mean_residual, 2 * gradient

    def gradient_map(self, batch_size: int, *, xp: Any) -> tuple[Any, Any]:
        """``A`` (B, p, p) and ``a`` (B, 1, p) with ``g = u @ A + a`` at parameter rows
        ``u = [delta, b]`` (B, K, p): ``Q delta + h`` and, with an intercept, the mean
        residual ``e``: ``A = [[Q, x̄], [0, 1]]``, ``a = [h, -ȳ']``.

        Half the gradient is ``g + e [x̄, 0]`` (:meth:`loss_and_gradient`). ``g`` itself
        is what :meth:`losses` reads: the gradient's ``x̄ e`` term is as large as x̄ is
        far from 0 (features near 1e4: 1e4 times e), and taking it back out of the
        gradient would leave its rounding in the loss.
        """
        curvature = self.curvature
        n_features = curvature.shape[-1]
        curvature = xp.broadcast_to(curvature, (batch_size, n_features, n_features))
        linear = xp.broadcast_to(self.linear, (batch_size, n_features))[:, None, :]
        if self.feature_mean is None:
            return curvature, linear
        mean = xp.broadcast_to(self.feature_mean, (batch_size, n_features))[:, :, None]
        shift = xp.broadcast_to(self.target_mean, (batch_size,))[:, None, None]
        weight_rows = xp.concat([curvature, mean], axis=-1)  # (B, d, p)
        bias_row = xp.concat([xp.zeros_like(linear), xp.ones_like(shift)], axis=-1)
        matrix = xp.concat([weight_rows, bias_row], axis=1)
        return matrix, xp.concat([linear, -shift], axis=-1)

    def losses(self, rows: Any, products: Any, *, xp: Any, offset: Any = None) -> Any:
        """Losses (B, K) at K parameter rows ``u = [delta, b]`` of each problem (B, K, p),
        from ``g = [g_w, e]`` there (:meth:`gradient_map`), ``g_w = Q delta + h``:
        ``delta^T g_w + h^T delta + c + e^2``, which is :meth:`loss_and_gradient`'s
        ``delta^T Q delta + 2 h^T delta + c + e^2`` with no product of its own.

        ``products`` (B, K, p) is g, or ``u @ A`` where ``offset`` (a, (B, 1, p)) is given:
        a is then added to the terms that read it, not to the (B, K, p) products (a pass
        over them: 85 us of a block of 128 problems' 29 rows on NumPy)."""
        n_features = self.curvature.shape[-1]
        delta = rows[..., :n_features]
        linear = self.linear[:, None, :]
        mean_residual = products[..., n_features:]  # (B, K, 1); empty without an intercept
        if offset is not None:
            linear = linear + offset[..., :n_features]
            mean_residual = mean_residual + offset[..., n_features:]
        loss = vecdot(delta, products[..., :n_features], xp=xp) + vecdot(delta, linear, xp=xp)
        loss = loss + self.offset[:, None]
        if self.feature_mean is None:
            return loss
        return loss + mean_residual[..., 0] * mean_residual[..., 0]
