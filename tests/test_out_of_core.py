"""Data on disk, bigger than what the kernels hold at once: a Zarr store and a ``.npy`` file
(``mlpillars.dask_from_npy``) opened as Dask arrays, through PCA, cosine similarity, linear
and softmax.

The work runs in a child process, so that its peak resident memory (``ru_maxrss``) is its
own. The data (100 MiB) is written chunk by chunk, and every result is reduced before it is
computed; the peak then has to stay within a bound set by the chunk size (16 chunks of
2.5 MiB = 40 MiB above the process's memory after a warm-up on a small array), far below
the data's size. The answers are checked against NumPy on a sample of rows where a sample
says it, and against the whole data's float64 statistics where they are cheap.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("dask.array")
pytest.importorskip("zarr")

ROWS, FEATURES, CHUNK_ROWS = 200_000, 64, 5_000
CHUNK_BYTES = CHUNK_ROWS * FEATURES * 8
PEAK_BOUND_BYTES = 16 * CHUNK_BYTES
"""What the out-of-core calls may add to the peak: 16 chunks (40 MiB) for 100 MiB of data."""

CHILD = Path(__file__).with_name("out_of_core_child.py")


@pytest.fixture(scope="module")
def measured(tmp_path_factory: pytest.TempPathFactory) -> dict:
    folder = tmp_path_factory.mktemp("out_of_core")
    arguments = [str(folder / "x.zarr"), str(folder / "x.npy"), ROWS, FEATURES, CHUNK_ROWS]
    completed = subprocess.run(
        [sys.executable, str(CHILD), *map(str, arguments)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-3000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_peak_memory_is_bounded_by_the_chunks_not_the_data(measured: dict) -> None:
    added = measured["after"] - measured["before"]
    data_bytes = ROWS * FEATURES * 8
    assert added < PEAK_BOUND_BYTES < data_bytes / 2, (
        f"out-of-core calls added {added / 2**20:.0f} MiB to the peak; bound "
        f"{PEAK_BOUND_BYTES / 2**20:.0f} MiB (16 chunks) for {data_bytes / 2**20:.0f} MiB of data"
    )


def test_answers_from_disk_are_right(measured: dict) -> None:
    import numpy as np

    # Columns of spread 4 ... 0.5 about 1e4: the leading variances are the first scales^2
    # (a sample of 200k rows: within a few percent), from the Zarr store and the memmap alike.
    np.testing.assert_allclose(measured["variances"], measured["expected_variances"], rtol=0.03)
    np.testing.assert_allclose(measured["npy_variances"], measured["variances"], rtol=1e-12)
    # The projection of centred data has mean zero.
    np.testing.assert_allclose(measured["projected_mean"], 0.0, atol=1e-6)
    # Every query row is in the data: its best cosine similarity is itself, 1.
    np.testing.assert_allclose(measured["best"], 1.0, rtol=1e-12)
    # Softmax rows sum to one; the ReLU layer's mean over all rows matches a sample's.
    np.testing.assert_allclose(measured["softmax_rows"], ROWS, rtol=1e-10)
    np.testing.assert_allclose(
        measured["linear_sum"] / ROWS, measured["sample_linear_mean"], rtol=0.05
    )
