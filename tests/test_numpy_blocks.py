"""NumPy's buffers for the blocks of gradient descent on the MSE's statistics
(``_numpy_blocks``): rows advanced by powers of the step map, buffers kept by the thread
(``_numpy_kept``).

Reference: the rows stepped one at a time, ``u <- u @ P + c``, in float64 (what the
generic blocks do without buffers); the fits' fields against those of new arrays.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlpillars.backends.frameworks import _numpy_kept
from mlpillars.backends.frameworks._numpy_blocks import POWER_LEVELS, BlockBuffers
from mlpillars.backends.frameworks._numpy_kept import KEPT_BYTES
from mlpillars.kernels.descent import gradient_descent
from tests.property_support import scaled_examples

P_SIZE = 5


def step_maps(
    growth: np.ndarray, seed: int = 0, size: int = P_SIZE
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """params (B, p), P (B, p, p) and c (B, 1, p) of B problems, problem b's P a
    rotation-mixed diagonal whose largest |eigenvalue| is ``growth[b]`` (below 1 a
    contraction, as a stable lr gives; above, a diverging one), its others of both signs."""
    rng = np.random.default_rng(seed)
    batch_size = growth.shape[0]
    bases = np.linalg.qr(rng.normal(size=(batch_size, size, size)))[0]
    spectrum = rng.uniform(-1, 1, size=(batch_size, size))
    spectrum[:, 0] = 1.0
    spectrum *= growth[:, None]
    step_matrix = bases @ (spectrum[:, :, None] * np.swapaxes(bases, 1, 2))
    params = rng.normal(size=(batch_size, size))
    return params, step_matrix, rng.normal(size=(batch_size, 1, size))


def stepped_rows(params, step_matrix, step_offset, count) -> np.ndarray:
    """The rows after each of ``count`` single steps, (B, count, p)."""
    row, rows = params[:, None, :], []
    for _ in range(count):
        row = row @ step_matrix + step_offset
        rows.append(row)
    return np.concatenate(rows, axis=1)


def on_a_new_thread(function):
    """What ``function()`` returns, called on a thread started for it (no buffers kept)."""
    answers = []
    thread = threading.Thread(target=lambda: answers.append(function()))
    thread.start()
    thread.join()
    return answers[0]


@pytest.mark.parametrize("count", [1, 2, 3, 5, 8, 9, 16, 17, 29, 64])
def test_rows_by_powers_are_the_stepped_rows(count):
    # contracting, near-neutral and diverging maps: every row within a few ulps of its
    # size, and each power made once for all the blocks of the fit
    growth = np.array([0.3, 0.9, 0.999, 1.0, 1.001, 1.05, 1.5])
    params, step_matrix, step_offset = step_maps(growth)
    buffers = BlockBuffers()
    rows = buffers.affine_rows(params, step_matrix, step_offset, count).copy()
    expected = stepped_rows(params, step_matrix, step_offset, count)
    assert rows.shape == expected.shape == (growth.shape[0], count, P_SIZE)
    sizes = np.max(np.abs(expected), axis=-1, keepdims=True)
    allowed = np.broadcast_to(64 * count * np.finfo(float).eps * sizes, rows.shape)
    np.testing.assert_array_less(np.abs(rows - expected), allowed)
    powers = buffers._powers_of(step_matrix, step_offset)
    assert len(powers) == POWER_LEVELS + 1
    again = buffers.affine_rows(params, step_matrix, step_offset, count)
    assert buffers._powers_of(step_matrix, step_offset) is powers
    np.testing.assert_array_equal(again, rows)


@settings(max_examples=scaled_examples(40), deadline=None)
@given(
    growth=st.lists(st.floats(0.0, 1.6), min_size=0, max_size=5),
    size=st.integers(1, 12),
    count=st.integers(1, 70),
    dtype=st.sampled_from(["float32", "float64"]),
    seed=st.integers(0, 2**16),
)
def test_rows_by_powers_on_generated_maps(growth, size, count, dtype, seed):
    """Any batch (none too), size, block length, dtype and spectral radius up to 1.6 (a
    row grows 1.6^70 = 2e14 times): each row within a few ulps of the largest row so
    far, as the single steps would be rounded."""
    params, step_matrix, step_offset = (
        a.astype(dtype) for a in step_maps(np.array(growth), seed=seed, size=size)
    )
    rows = BlockBuffers().affine_rows(params, step_matrix, step_offset, count)
    wide = (a.astype(np.float64) for a in (params, step_matrix, step_offset))
    expected = stepped_rows(*wide, count)
    scale = np.maximum.accumulate(np.max(np.abs(expected), axis=-1, keepdims=True), axis=1)
    scale = np.maximum(scale, np.max(np.abs(params), axis=-1)[:, None, None])
    allowed = 64 * count * np.finfo(dtype).eps * (scale + np.max(np.abs(step_offset), initial=0))
    assert rows.dtype == np.dtype(dtype) and rows.shape == expected.shape
    np.testing.assert_array_less(np.abs(rows - expected), np.broadcast_to(allowed, rows.shape))


def test_powers_stop_where_one_is_not_finite():
    # a step map that multiplies by 1e100: P^2 is 1e200, P^4 overflows, so the rows
    # advance by P and P^2 only, and stay finite as long as the single steps do
    growth = np.array([0.5, 1e100])
    params, step_matrix, step_offset = step_maps(growth, seed=1)
    buffers = BlockBuffers()
    with np.errstate(over="ignore", invalid="ignore"):
        rows = buffers.affine_rows(params, step_matrix, step_offset, 6)
        expected = stepped_rows(params, step_matrix, step_offset, 6)
    assert len(buffers._powers_of(step_matrix, step_offset)) == 2
    np.testing.assert_array_equal(np.isfinite(rows), np.isfinite(expected))
    assert np.isfinite(expected[1, 2]).all() and not np.isfinite(expected[1, 3]).all()
    finite = np.isfinite(expected)
    np.testing.assert_allclose(rows[finite], expected[finite], rtol=1e-12)


def test_a_thread_keeps_its_buffers_for_the_next_fit():
    params, step_matrix, step_offset = step_maps(np.array([0.5, 0.9, 0.99]))
    first = BlockBuffers().affine_rows(params, step_matrix, step_offset, 10)
    first_rows = first.copy()
    second = BlockBuffers().affine_rows(params[:2], step_matrix[:2], step_offset[:2], 7)
    assert np.shares_memory(first, second)  # a smaller fit in the same bytes

    on_another_thread = on_a_new_thread(
        lambda: BlockBuffers().affine_rows(params, step_matrix, step_offset, 10)
    )
    assert not np.shares_memory(first, on_another_thread)
    np.testing.assert_array_equal(on_another_thread, first_rows)


def test_a_buffer_larger_than_the_limit_is_not_kept(monkeypatch):
    monkeypatch.setattr(_numpy_kept, "_kept", threading.local())  # none kept yet
    monkeypatch.setattr(_numpy_kept, "KEPT_BYTES", 100)
    params, step_matrix, step_offset = step_maps(np.array([0.5, 0.9, 0.99]), seed=2)
    first = BlockBuffers().affine_rows(params, step_matrix, step_offset, 10)
    second = BlockBuffers().affine_rows(params, step_matrix, step_offset, 10)
    assert not np.shares_memory(first, second)
    assert KEPT_BYTES >= 10 * 2**20  # the blocks of the fit (B=256: 14.7 MiB) are kept


def test_kept_buffers_change_no_fit_and_hold_nothing_it_returns():
    # two fits of different sizes on one thread, the second in the first's buffers: each
    # as its own fit in a fresh thread (no buffers kept yet), none of its fields in them
    rng = np.random.default_rng(3)
    X = rng.normal(size=(6, 50, 4)) + 0.5
    y = (X @ rng.normal(size=(6, 4, 1)))[..., 0] + rng.normal(size=(6, 50))
    options = {"lr": 0.05, "steps": 70, "mse_method": "statistics"}
    fits = [gradient_descent(X, y, **options), gradient_descent(X[:4], y[:4], **options)]
    fresh = [
        on_a_new_thread(lambda f=features, t=targets: gradient_descent(f, t, **options))
        for features, targets in ((X, y), (X[:4], y[:4]))
    ]
    kept = _numpy_kept.kept_arrays()
    for fit, reference in zip(fits, fresh, strict=True):
        for field in ("weights", "bias", "loss_history", "steps_run", "diverged", "converged"):
            value = np.asarray(getattr(fit, field))
            np.testing.assert_array_equal(value, getattr(reference, field), field)
            assert not any(np.shares_memory(value, buffer) for buffer in kept.values()), field


def test_a_thread_keeps_at_most_kept_bytes_in_all(monkeypatch):
    # two buffers of 1,200 bytes fit in 3,000; a third is made for its call only, and a
    # kept one that grows past what the others leave is not kept either
    monkeypatch.setattr(_numpy_kept, "_kept", threading.local())
    monkeypatch.setattr(_numpy_kept, "KEPT_BYTES", 3000)
    first, second, third = (_numpy_kept.buffer(name, (150,), np.float64) for name in "abc")
    assert set(_numpy_kept.kept_arrays()) == {"a", "b"}
    assert np.shares_memory(first, _numpy_kept.buffer("a", (10, 15), np.float64))
    assert not np.shares_memory(third, _numpy_kept.buffer("c", (150,), np.float64))
    grown = _numpy_kept.buffer("b", (300,), np.float64)
    assert not np.shares_memory(grown, _numpy_kept.buffer("b", (300,), np.float64))
    assert np.shares_memory(second, _numpy_kept.buffer("b", (150,), np.float64))
