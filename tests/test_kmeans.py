"""Properties of the private k-means kernels (qcoreset._kmeans)."""

from __future__ import annotations

import itertools
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from qcoreset import _kmeans as km


@pytest.fixture
def rng():
    return np.random.default_rng(20240607)


def _brute_min(X, C):
    D = cdist(np.asarray(X, dtype=np.float64), np.asarray(C, dtype=np.float64), "sqeuclidean")
    return D.min(axis=1), D.argmin(axis=1), D


def _blobs(rng, n=400, d=5, k=4, scale=10.0):
    centres = rng.normal(scale=scale, size=(k, d))
    lab = rng.integers(k, size=n)
    return centres[lab] + rng.normal(size=(n, d))


@pytest.fixture
def small_chunks(monkeypatch):
    """Force many small row blocks so that the chunk boundaries are exercised."""
    monkeypatch.setattr(km, "CHUNK_BYTES", 2048)
    monkeypatch.setattr(km, "MIN_CHUNK_BYTES", 2048)


@pytest.mark.parametrize("dtype", [np.float64, np.float32], ids=["float64", "float32"])
def test_min_sq_distances_match_brute_force(rng, small_chunks, dtype):
    X = _blobs(rng).astype(dtype)
    C = rng.normal(scale=10, size=(7, X.shape[1]))
    d2, lab = km.min_sq_distances(X, C)
    bd2, blab, D = _brute_min(X, C)
    assert d2.dtype == np.float64 and lab.dtype == np.int64
    rtol = 1e-9 if dtype == np.float64 else 1e-4
    scale = (X.astype(np.float64) ** 2).sum(1) + (C**2).sum(1).max()
    assert np.all(np.abs(d2 - bd2) <= rtol * scale)
    # the chosen centre is nearest up to rounding
    assert np.all(D[np.arange(len(X)), lab] - bd2 <= rtol * scale)
    np.testing.assert_allclose(km.row_sq_norms(X), (X.astype(np.float64) ** 2).sum(1), rtol=1e-5)


def test_duplicates_have_zero_distance(rng):
    X = np.repeat(rng.normal(size=(5, 30)).astype(np.float32) * 100 + 1000, 3, axis=0)
    d2, _ = km.min_sq_distances(X, X[::3])
    assert np.all(d2 == 0.0)


def test_assigned_distances_and_weighted_moments(rng, small_chunks):
    X = _blobs(rng)
    C = rng.normal(size=(3, X.shape[1]))
    lab = rng.integers(3, size=len(X))
    np.testing.assert_allclose(
        km.assigned_distances(X, C, lab), np.linalg.norm(X - C[lab], axis=1), rtol=1e-12
    )
    u = rng.uniform(0, 3, size=len(X))
    mean, var = km.weighted_mean_var(X, u)
    np.testing.assert_allclose(mean, np.average(X, axis=0, weights=u), rtol=1e-10)
    np.testing.assert_allclose(var, np.average((X - mean) ** 2, axis=0, weights=u), rtol=1e-10)


def test_kmeans_plusplus_seeds_are_distinct_positive_rows(rng, small_chunks):
    X = _blobs(rng)
    u = rng.uniform(0.5, 2, size=len(X))
    u[rng.choice(len(X), 150, replace=False)] = 0.0
    for seed in range(10):
        idx, d2, lab = km.kmeans_plusplus_seeding(X, 8, u, np.random.default_rng(seed))
        assert len(np.unique(idx)) == 8
        assert np.all(u[idx] > 0)
        bd2, _, _ = _brute_min(X, X[idx])
        np.testing.assert_allclose(d2, bd2, atol=1e-8 * bd2.max())
        np.testing.assert_allclose(((X - X[idx][lab]) ** 2).sum(1), bd2, atol=1e-8 * bd2.max())
    C, idx = km.kmeans_plusplus(X, 8, u, np.random.default_rng(0))
    assert C.dtype == np.float64 and np.array_equal(C, X[idx])


def test_kmeans_plusplus_stops_at_distinct_rows(rng):
    base = rng.normal(size=(3, 4))
    X = np.repeat(base, [5, 1, 7], axis=0)
    idx, d2, _ = km.kmeans_plusplus_seeding(X, 6, np.ones(len(X)), rng)
    assert len(idx) == 3
    assert len(np.unique(X[idx], axis=0)) == 3
    assert np.all(d2 == 0)


def test_kmeans_plusplus_integer_weights_equal_repeated_rows(rng):
    X = _blobs(rng, n=120)
    reps = rng.integers(1, 4, size=len(X))
    Xr = np.repeat(X, reps, axis=0)
    for seed in range(5):
        idx_w, _, _ = km.kmeans_plusplus_seeding(
            X, 6, reps.astype(float), np.random.default_rng(seed)
        )
        idx_r, _, _ = km.kmeans_plusplus_seeding(
            Xr, 6, np.ones(len(Xr)), np.random.default_rng(seed)
        )
        np.testing.assert_array_equal(X[idx_w], Xr[idx_r])


def test_lloyd_integer_weights_equal_repeated_rows(rng, small_chunks):
    X = _blobs(rng, n=150)
    reps = rng.integers(1, 5, size=len(X))
    Xr = np.repeat(X, reps, axis=0)
    C0 = X[rng.choice(len(X), 5, replace=False)]
    Cw, lab_w, inertia_w = km.lloyd(X, C0, reps.astype(float), max_iter=30)
    Cr, lab_r, inertia_r = km.lloyd(Xr, C0, np.ones(len(Xr)), max_iter=30)
    np.testing.assert_allclose(Cw, Cr, rtol=1e-10, atol=1e-10)
    np.testing.assert_array_equal(np.repeat(lab_w, reps), lab_r)
    assert inertia_w == pytest.approx(inertia_r, rel=1e-10)


def test_lloyd_fixed_point_and_descent(rng, small_chunks):
    X = _blobs(rng)
    u = rng.uniform(0, 2, size=len(X))
    C0 = X[:6]
    d0, _, _ = _brute_min(X, C0)
    C, lab, inertia = km.lloyd(X, C0, u, max_iter=200, tol=0.0)
    bd2, blab, _ = _brute_min(X, C)
    assert inertia == pytest.approx(float(u @ bd2), rel=1e-9)
    assert inertia <= float(u @ d0) + 1e-9
    np.testing.assert_array_equal(lab, blab)
    # converged: every centre is the weighted mean of its cell
    for j in np.unique(lab):
        cell = lab == j
        np.testing.assert_allclose(C[j], np.average(X[cell], axis=0, weights=u[cell]), atol=1e-9)


def test_lloyd_relocates_empty_clusters(rng):
    X = _blobs(rng, n=200, k=3)
    C0 = np.vstack([X[:3], np.full((2, X.shape[1]), 1e6)])  # two centres nobody is near
    C, lab, _ = km.lloyd(X, C0, np.ones(len(X)), max_iter=10)
    assert np.isfinite(C).all()
    assert np.abs(C).max() < 1e5
    assert len(np.unique(lab)) == 5


def test_zero_weight_rows_do_not_move_centres(rng):
    X = _blobs(rng, n=200)
    u = np.ones(len(X))
    Xo = np.vstack([X, np.full((5, X.shape[1]), 1e4)])
    uo = np.concatenate([u, np.zeros(5)])
    C0 = X[:4]
    C1, _, i1 = km.lloyd(X, C0, u, max_iter=15)
    C2, _, i2 = km.lloyd(Xo, C0, uo, max_iter=15)
    np.testing.assert_allclose(C1, C2, rtol=1e-12)
    assert i1 == pytest.approx(i2)


@pytest.mark.parametrize(
    "func",
    [
        lambda X, u, r: km.kmeans_plusplus_seeding(X, 10, u, r),
        lambda X, u, r: km.farthest_first(X, 10, u, r),
        lambda X, u, r: km.lloyd(X, X[:10], u, max_iter=3),
        lambda X, u, r: km.min_sq_distances(X, X[:50]),
    ],
    ids=["kmeans++", "farthest-first", "lloyd", "min-distances"],
)
def test_float32_is_never_copied(rng, func):
    X = rng.normal(size=(20000, 100)).astype(np.float32)
    u = np.ones(len(X))
    tracemalloc.start()
    try:
        func(X, u, np.random.default_rng(0))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < X.nbytes / 2, f"peak extra memory {peak} B vs X {X.nbytes} B"


@settings(max_examples=40, deadline=None, derandomize=True)
@given(
    n=st.integers(2, 8),
    k=st.integers(1, 3),
    seed=st.integers(0, 2**32 - 1),
    dup=st.booleans(),
)
def test_farthest_first_is_a_2_approximation(n, k, seed, dup):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 2))
    if dup:
        X[n // 2 :] = X[0]
    u = rng.integers(0, 3, size=n).astype(float)
    if u.sum() == 0:
        u[0] = 1.0
    pos = np.flatnonzero(u > 0)
    k = min(k, len(pos))
    idx, d2, lab = km.farthest_first(X, k, u, rng)
    assert np.all(u[idx] > 0) and len(np.unique(idx)) == len(idx)
    radius = np.sqrt(_brute_min(X[pos], X[idx])[0].max())
    opt = min(
        np.sqrt(_brute_min(X[pos], X[list(c)])[0].max()) for c in itertools.combinations(pos, k)
    )
    assert radius <= 2 * opt + 1e-9
    if len(idx) < k:  # stopped early: every positive row duplicates a centre
        assert radius == 0.0
    np.testing.assert_allclose(d2[pos], _brute_min(X[pos], X[idx])[0], atol=1e-9)
