r"""Principal component analysis: the kernels ``pca`` and ``pca_fit``, and the class ``PCA``.

For data X (n, d) with column means :math:`\mu`, the principal axes are the eigenvectors
of the sample covariance, largest eigenvalue first. Two solvers, as scikit-learn's:

- ``"covariance_eigh"``: :math:`C = (X_c^\top X_c - n\,r r^\top) / (n - 1)` with
  :math:`X_c = X - \mathbf{1}\mu^\top` and :math:`r` the mean of :math:`X_c` (round-off: the
  corrected two-pass formula), a (d, d) matrix, then ``eigh(C)``; eigenvalues that round-off
  makes negative are clipped to 0. The textbook :math:`X^\top X - n\,\mu\mu^\top` would
  cancel every digit the mean has above the spread (data of mean 1e8 and variance 3 would
  get variances of 16 and 0), so the Gram is of the centred data. One pass over X for
  :math:`\mu`, one for the Gram: the solver for tall data, and for Dask, where X stays
  chunked (the centred chunks are made as the Gram consumes them) and only C is decomposed
  (on NumPy, through ``backends.eigh``). Eager backends hold one centred copy of X.
- ``"svd"`` (or ``"full"``, scikit-learn's name for it): the thin SVD
  :math:`X - \mathbf{1}\mu^\top = U S V_h`, for wide data; :math:`\lambda_i = s_i^2 / (n - 1)`.
  X is centred in two passes (:math:`\mu`, then the mean of :math:`X - \mathbf{1}\mu^\top`,
  the mean's rounding); on Dask each is a pass over X, and the SVD (TSQR) a third.
- ``"auto"``: ``"covariance_eigh"`` when d <= 1000 and n >= 10 d, else ``"svd"``
  (scikit-learn's rule; where scikit-learn would go randomized, ``"svd"`` runs).

Signs are scikit-learn's (``svd_flip(u_based_decision=False)``): in each component the
entry of largest absolute value is positive, so results equal scikit-learn's ``PCA``, not
only up to sign.

``n_components`` is scikit-learn's: an int k, None for min(n, d), a float f in (0, 1),
which keeps the fewest leading components whose variance ratios sum to more than f (1
where the data have no variance, as scikit-learn), or ``"mle"``, where n >= d: the k in
[1, d - 1] that Minka's MLE of the dimension chooses from all d variances
(:mod:`mlpillars.kernels._pca_mle`), 0 where no rank has its variances above
scikit-learn's floor of 1e-15 (constant data, one feature), as scikit-learn. That number
sets the result's shape, so a float or ``"mle"`` needs the data's values: inside
``jax.jit``, ``jax.vmap`` or ``torch.compile`` it raises ``ValueError`` (pass an int
there); on Dask they are computed. float16 and bfloat16 data are fitted and projected in
float32, the results cast back.

``PCA`` also holds scikit-learn's probabilistic model of the fit (``noise_variance_``,
``get_covariance``, ``get_precision``, ``score_samples``, ``score``): the data as Gaussian
with the kept variances along the components and the mean of the others across the rest
(:mod:`mlpillars.kernels._pca_model`).
"""

from __future__ import annotations

from ._pca_estimator import PCA, NotFittedError
from ._pca_fit import SOLVERS, PCAFit, resolve_solver
from ._pca_kernels import pca, pca_fit

__all__ = ["PCA", "SOLVERS", "NotFittedError", "PCAFit", "pca", "pca_fit", "resolve_solver"]
