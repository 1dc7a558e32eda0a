"""The child process of ``test_out_of_core.py``: writes the data, runs the kernels on it
from disk, prints the peak memory before and after and the answers as one JSON line.

Usage: ``python out_of_core_child.py STORE.zarr FILE.npy ROWS FEATURES CHUNK_ROWS``
"""

import json
import resource
import sys

import dask.array as da
import numpy as np

import mlpillars as mp

store, npy, rows, features, chunk_rows = sys.argv[1:6]
rows, features, chunk_rows = int(rows), int(features), int(chunk_rows)
scales = np.geomspace(4.0, 0.5, features)
generated = da.random.default_rng(0).standard_normal(
    (rows, features), chunks=(chunk_rows, features)
)
(generated * scales + 1e4).to_zarr(store, overwrite=True)
memmap = np.lib.format.open_memmap(npy, mode="w+", dtype=np.float64, shape=(rows, features))
for start in range(0, rows, chunk_rows):
    memmap[start : start + chunk_rows] = np.asarray(da.from_zarr(store)[start : start + chunk_rows])
memmap.flush()
del memmap


def peak():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


small = da.from_array(
    np.random.default_rng(1).normal(size=(4 * chunk_rows, features)), chunks=(chunk_rows, features)
)
mp.pca_fit(small, 3)
mp.PCA(3).fit(small).transform(small).sum().compute()
mp.cosine_similarity(small, small[:5]).sum().compute()
mp.softmax(small).sum().compute()
mp.linear(small, da.ones((features, 8)), da.zeros(8), activation="relu").sum().compute()
before = peak()

x = da.from_zarr(store)
fit = mp.pca_fit(x, 3)
variances = np.asarray(fit.explained_variance)
pca = mp.PCA(3).fit(x)
projected_mean = np.asarray(pca.transform(x).mean(axis=0).compute())
queries = x[:5].compute()
best = np.asarray(mp.cosine_similarity(x, da.from_array(queries)).max(axis=0).compute())
weight = np.random.default_rng(2).normal(size=(features, 8)) / 8
linear_sum = float(
    mp.linear(x - 1e4, da.from_array(weight), da.zeros(8), activation="relu").sum().compute()
)
softmax_rows = float(mp.softmax(x - 1e4).sum().compute())
from_npy = mp.dask_from_npy(npy, chunk_rows=chunk_rows)
npy_variances = np.asarray(mp.pca_fit(from_npy, 3).explained_variance)
after = peak()

sample = np.asarray(x[: 4 * chunk_rows].compute())
print(
    json.dumps(
        {
            "before": before,
            "after": after,
            "variances": variances.tolist(),
            "npy_variances": npy_variances.tolist(),
            "expected_variances": (scales[:3] ** 2).tolist(),
            "projected_mean": projected_mean.tolist(),
            "best": best.tolist(),
            "linear_sum": linear_sum,
            "softmax_rows": softmax_rows,
            "sample_linear_mean": float(np.maximum((sample - 1e4) @ weight, 0).sum() / len(sample)),
        }
    )
)
