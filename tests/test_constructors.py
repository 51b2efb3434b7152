"""Properties of the coreset constructors (qcoreset.constructors)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.spatial.distance import cdist

from qcoreset._errors import InputError
from qcoreset.constructors import (
    CONSTRUCTORS,
    Coreset,
    CoresetConstructor,
    _allocate_by_class,
    _inclusion_probabilities,
    _systematic_sample,
    build_coreset,
    get_constructor,
    register_constructor,
)

METHODS = ["uniform", "sensitivity", "lightweight", "rcc", "kcenter"]
DATA_POINT_METHODS = ["uniform", "sensitivity", "lightweight", "kcenter"]
SAMPLING = {
    "uniform": {},
    "lightweight": {},
    "sensitivity": {"center_correction": False},
}


def hard_data(n=600, d=4, seed=0, n_outliers=6):
    """Imbalanced clusters (95/4/1 %), far outliers, a constant column, duplicated rows."""
    rng = np.random.default_rng(seed)
    n_in = n - n_outliers
    sizes = np.array([0.95, 0.04, 0.01]) * n_in
    sizes = np.maximum(sizes.astype(int), 1)
    sizes[0] += n_in - sizes.sum()
    centres = np.array([[0.0] * d, [8.0] * d, [-6.0, 10.0] + [0.0] * (d - 2)])
    X = np.vstack([c + rng.normal(size=(s, d)) for c, s in zip(centres, sizes, strict=True)])
    direction = rng.normal(size=(n_outliers, d))
    direction /= np.linalg.norm(direction, axis=1, keepdims=True)
    X = np.vstack([X, direction * rng.uniform(200, 400, size=(n_outliers, 1))])
    X[:, -1] = 3.0  # constant column
    X[10:30] = X[0]  # duplicated rows
    X[40:45] = X[-1]  # a duplicated outlier
    y = np.repeat([0, 1, 2], sizes)
    y = np.concatenate([y, rng.integers(0, 3, n_outliers)])
    return X, y


@pytest.fixture(scope="module")
def data():
    return hard_data()


def _cost(P, w, C):
    return float(w @ cdist(P, C, "sqeuclidean").min(axis=1))


# --------------------------------------------------------------------------------------
# Conformance: every constructor through the same checks
# --------------------------------------------------------------------------------------

CASES = [
    pytest.param(dict(), id="plain"),
    pytest.param(dict(weights="int"), id="int-weights"),
    pytest.param(dict(weights="real"), id="real-weights-with-zeros"),
    pytest.param(dict(labels=True), id="class-aware"),
    pytest.param(dict(float32=True), id="float32"),
]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("method", METHODS)
def test_conformance(data, method, case):
    X, y = data
    rng = np.random.default_rng(1)
    u = None
    if case.get("weights") == "int":
        u = rng.integers(1, 4, size=len(X)).astype(float)
    elif case.get("weights") == "real":
        u = rng.uniform(0.1, 3.0, size=len(X))
        u[rng.choice(len(X), 100, replace=False)] = 0.0
        u[-3:] = 0.0  # some outliers have zero weight
    if case.get("float32"):
        X = X.astype(np.float32)
    labels = y if case.get("labels") else None
    size = 40
    kw = dict(method=method, y=labels, sample_weight=u)
    cs = build_coreset(X, size, random_state=3, **kw)
    uu = np.ones(len(X)) if u is None else u
    U = uu.sum()
    m = len(cs)
    d = X.shape[1]

    # shapes and types
    assert isinstance(cs, Coreset)
    assert 1 <= m <= size
    assert cs.points.shape == (m, d) and cs.points.dtype == np.float64
    assert cs.weights.shape == (m,) and cs.weights.dtype == np.float64
    assert cs.indices.shape == (m,) and cs.indices.dtype == np.int64
    assert np.isfinite(cs.weights).all() and (cs.weights >= 0).all()
    assert np.isfinite(cs.points).all()
    assert cs.error_kind in ("proven", "estimate", "exact")
    assert np.isfinite(cs.cs_error) and cs.cs_error >= 0
    assert isinstance(cs.n_clipped, int) and cs.n_clipped >= 0

    # points vs indices
    if method in DATA_POINT_METHODS:
        assert (cs.indices >= 0).all()
        assert len(np.unique(cs.indices)) == m
        np.testing.assert_array_equal(cs.points, X[cs.indices].astype(np.float64))
        assert (uu[cs.indices] > 0).all()  # zero-weight rows are never selected
    else:
        assert (cs.indices == -1).all()

    # labels
    if labels is None:
        assert cs.labels is None
    else:
        assert cs.labels.shape == (m,)
        assert set(np.unique(cs.labels)) <= set(np.unique(y))
        assert set(np.unique(cs.labels)) == set(np.unique(y[uu > 0]))
        ok = cs.indices >= 0
        np.testing.assert_array_equal(cs.labels[ok], y[cs.indices[ok]])

    # weight kinds
    kind = CONSTRUCTORS.get(method).weight_kind
    if kind == "counts" and case.get("weights") in (None, "int"):
        np.testing.assert_array_equal(cs.weights, np.round(cs.weights))
        assert cs.weights.max() <= U
    if kind == "constant" and u is None and labels is None:
        np.testing.assert_allclose(cs.weights, cs.weights[0])
    if kind == "counts":
        assert cs.weights.sum() == pytest.approx(U, rel=1e-12)

    # determinism
    cs2 = build_coreset(X, size, random_state=3, **kw)
    np.testing.assert_array_equal(cs.points, cs2.points)
    np.testing.assert_array_equal(cs.weights, cs2.weights)
    np.testing.assert_array_equal(cs.indices, cs2.indices)
    assert cs.cs_error == cs2.cs_error

    # identity when size >= number of positive-weight rows
    n_pos = int((uu > 0).sum())
    ident = build_coreset(X, n_pos + 5, random_state=0, **kw)
    assert ident.error_kind == "exact" and ident.cs_error == 0.0
    assert sorted(ident.indices) == sorted(np.flatnonzero(uu > 0))
    np.testing.assert_array_equal(ident.points, X[ident.indices].astype(np.float64))
    np.testing.assert_array_equal(ident.weights, uu[ident.indices])


@pytest.mark.parametrize("method", METHODS)
def test_zero_weight_rows_are_invisible(data, method):
    """Rows with weight 0 change nothing: same coreset as with those rows removed."""
    X, _ = data
    rng = np.random.default_rng(5)
    keep = np.ones(len(X), dtype=bool)
    keep[rng.choice(len(X), 80, replace=False)] = False
    keep[-2:] = False
    u = keep.astype(float)
    a = build_coreset(X, 30, method=method, sample_weight=u, random_state=9)
    b = build_coreset(X[keep], 30, method=method, random_state=9)
    np.testing.assert_allclose(a.points, b.points, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(a.weights, b.weights, rtol=1e-9)
    assert a.cs_error == pytest.approx(b.cs_error, rel=1e-9)
    if method in DATA_POINT_METHODS:
        np.testing.assert_array_equal(a.indices, np.flatnonzero(keep)[b.indices])


def test_rcc_drops_empty_clusters_on_few_distinct_rows():
    rng = np.random.default_rng(0)
    X = np.repeat(rng.normal(size=(4, 3)), 25, axis=0)
    for method in ("rcc", "kcenter", "sensitivity"):
        cs = build_coreset(X, 10, method=method, random_state=0)
        assert len(cs) <= 10
        if method == "sensitivity":  # 4 seeds only; clipped centre corrections add mass
            assert cs.weights.sum() >= 100.0 * (1 - 1e-12)
        else:
            assert cs.weights.sum() == pytest.approx(100.0)
            assert len(cs) == 4 and cs.cs_error == pytest.approx(0.0, abs=1e-9)


# --------------------------------------------------------------------------------------
# Sampling constructors: unbiasedness and the standard error
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", list(SAMPLING))
def test_sampling_total_weight_is_unbiased(data, method):
    X, _ = data
    rng = np.random.default_rng(11)
    u = rng.uniform(0.5, 2.0, size=len(X))
    U = u.sum()
    x0 = X[1] + 5.0
    f = ((X - x0) ** 2).sum(1)  # an unbounded test function: sensitive to outliers
    F = u @ f
    tot, est = [], []
    for seed in range(300):
        cs = build_coreset(
            X, 40, method=method, sample_weight=u, random_state=seed, **SAMPLING[method]
        )
        tot.append(cs.weights.sum())
        est.append(cs.weights @ ((cs.points - x0) ** 2).sum(1))
    tot, est = np.array(tot), np.array(est)
    # mean within 4 standard errors of the truth (two-sided ~6e-5 false-alarm rate)
    assert abs(tot.mean() - U) <= 4 * tot.std(ddof=1) / np.sqrt(len(tot)) + 1e-9 * U
    assert abs(est.mean() - F) <= 4 * est.std(ddof=1) / np.sqrt(len(est))


@pytest.mark.parametrize("method", list(SAMPLING))
def test_standard_error_is_calibrated_and_shrinks(data, method):
    """cs_error bounds the spread of the estimate of sum u ||p - c(p)|| and ~ 1/sqrt(m).

    The variance formula sum (1 - pi) y^2 / pi is that of Poisson sampling: for the
    fixed-size design it is conservative (the sample size does not vary), so the observed
    standard deviation must not exceed it by more than Monte-Carlo noise, and it must not be
    absurdly loose either.
    """
    X, _ = data
    mean = X.mean(axis=0)
    est, errs = [], []
    for seed in range(200):
        cs = build_coreset(X, 60, method=method, random_state=seed, **SAMPLING[method])
        errs.append(cs.cs_error)
        est.append(cs.weights @ np.linalg.norm(cs.points - mean, axis=1))
    if method == "sensitivity":  # c(p) is the random bicriteria centre: check the scale only
        assert 0.2 * np.median(errs) <= np.std(est) <= 5 * np.median(errs)
    else:
        assert np.ptp(errs) <= 1e-9 * np.max(errs)  # deterministic for fixed c(p) = mean
        assert 0.2 * errs[0] <= np.std(est, ddof=1) <= 1.25 * errs[0]
    e_small = np.median(
        [
            build_coreset(X, 50, method=method, random_state=s, **SAMPLING[method]).cs_error
            for s in range(9)
        ]
    )
    e_big = np.median(
        [
            build_coreset(X, 200, method=method, random_state=s, **SAMPLING[method]).cs_error
            for s in range(9)
        ]
    )
    # 4x the points: about half the error (finite-population factor makes it a bit smaller)
    assert 0.3 <= e_big / e_small <= 0.6


def test_center_correction_restores_cluster_masses(data):
    X, _ = data
    u = np.random.default_rng(2).integers(1, 4, size=len(X)).astype(float)
    U = u.sum()
    n_unclipped = 0
    for seed in range(40):
        cs = build_coreset(X, 60, sample_weight=u, random_state=seed, n_clusters=5,
                           center_correction=True)
        tot = cs.weights.sum()
        assert tot >= U * (1 - 1e-12)  # clipping can only add mass
        assert len(cs) <= 60
        if cs.n_clipped == 0:
            n_unclipped += 1
            assert tot == pytest.approx(U, rel=1e-12)
    assert n_unclipped > 0
    # without correction no centres are added and nothing is clipped
    cs = build_coreset(X, 60, random_state=0, center_correction=False)
    assert cs.n_clipped == 0 and len(cs) == 60


def test_sensitivity_coreset_tracks_kmeans_cost():
    """|cost_S(C) - cost_P(C)| <= eps cost_P(C), eps = 0.1 at m = 400, outliers + imbalance."""
    from sklearn.cluster import KMeans

    X, _ = hard_data(n=6000, d=6, seed=4, n_outliers=30)
    rng = np.random.default_rng(0)
    C_sets = [X[rng.choice(len(X), k, replace=False)] for k in (2, 3, 5, 10) for _ in range(5)]
    C_sets += [rng.normal(scale=5, size=(k, X.shape[1])) for k in (3, 10)]
    C_sets.append(KMeans(10, n_init=1, random_state=0).fit(X).cluster_centers_)
    full = np.array([_cost(X, np.ones(len(X)), C) for C in C_sets])
    worst = []
    for seed in range(9):
        cs = build_coreset(X, 400, random_state=seed)
        rel = np.abs([_cost(cs.points, cs.weights, C) for C in C_sets] - full) / full
        worst.append(rel.max())
    assert np.median(worst) <= 0.1, worst
    assert max(worst) <= 0.25, worst  # no seed is catastrophically off


# --------------------------------------------------------------------------------------
# Centre summaries: the transport bound
# --------------------------------------------------------------------------------------


@pytest.mark.parametrize("method", ["rcc", "kcenter"])
@pytest.mark.parametrize("weights", ["ones", "int", "real"])
def test_transport_error_matches_brute_force(data, method, weights):
    X, _ = data
    rng = np.random.default_rng(4)
    u = {
        "ones": np.ones(len(X)),
        "int": rng.integers(0, 4, size=len(X)).astype(float),
        "real": rng.uniform(0, 2, size=len(X)),
    }[weights]
    cs = build_coreset(X, 25, method=method, sample_weight=u, random_state=1)
    D = cdist(X, cs.points)
    nearest = D.argmin(axis=1)
    assert cs.error_kind == "proven"
    assert cs.cs_error == pytest.approx(float(u @ D.min(axis=1)), rel=1e-9)
    masses = np.bincount(nearest, weights=u, minlength=len(cs))
    np.testing.assert_allclose(cs.weights, masses, rtol=1e-9)
    if weights != "real":
        assert cs.weights.sum() == u.sum()


def test_rcc_error_beats_kcenter_and_falls_with_m(data):
    X, _ = data
    errs = [build_coreset(X, m, method="rcc", random_state=0).cs_error for m in (5, 20, 80)]
    assert errs[0] > errs[1] > errs[2]


# --------------------------------------------------------------------------------------
# Class-aware allocation
# --------------------------------------------------------------------------------------


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    masses=st.lists(st.floats(0.01, 1000.0), min_size=1, max_size=12),
    extra=st.integers(0, 200),
)
def test_allocation_is_proportional(masses, extra):
    masses = np.array(masses)
    size = len(masses) + extra
    alloc = _allocate_by_class(size, masses)
    quota = size * masses / masses.sum()
    assert alloc.sum() == size
    assert (alloc >= 1).all()
    # beyond the floor of one point, nobody gets more than its quota rounded up
    assert np.all((alloc <= np.ceil(quota)) | (alloc == 1))
    # a heavier class never gets fewer points
    lighter = masses[:, None] < masses[None, :]
    assert np.all(alloc[:, None] <= alloc[None, :], where=lighter)
    if quota.min() >= 1:  # no floor needed: plain largest remainder
        assert np.all(np.abs(alloc - quota) < 1)


@settings(max_examples=60, deadline=None, derandomize=True)
@given(
    caps_masses=st.lists(
        st.tuples(st.integers(1, 30), st.floats(0.01, 100.0)), min_size=1, max_size=8
    ),
    extra=st.integers(0, 100),
)
def test_allocation_respects_caps(caps_masses, extra):
    caps = np.array([c for c, _ in caps_masses])
    masses = np.array([m for _, m in caps_masses])
    size = len(caps) + extra
    alloc = _allocate_by_class(size, masses, caps=caps)
    assert alloc.sum() == min(size, caps.sum())
    assert (alloc >= 1).all() and (alloc <= caps).all()


def test_class_aware_coreset_follows_allocation():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    y = np.repeat(["a", "b", "c", "d"], [700, 200, 90, 10])
    u = np.where(y == "b", 2.0, 1.0)
    cs = build_coreset(X, 50, method="uniform", y=y, sample_weight=u, random_state=0)
    mass = np.array([700, 400, 90, 10], dtype=float)
    expect = _allocate_by_class(50, mass)
    got = np.array([np.sum(cs.labels == c) for c in "abcd"])
    np.testing.assert_array_equal(got, expect)
    for c in "abcd":  # per-class masses are estimated without bias: exactly for uniform
        assert cs.weights[cs.labels == c].sum() == pytest.approx(u[y == c].sum())


def test_class_aware_errors_combine(data):
    X, y = data
    parts = {c: build_coreset(X[y == c], 10, method="rcc", random_state=0) for c in (0, 1)}
    assert parts[0].error_kind == "proven"
    both = build_coreset(X[y < 2], 20, method="rcc", y=y[y < 2], random_state=0)
    assert both.error_kind == "proven" and both.cs_error > 0
    est = build_coreset(X, 30, method="uniform", y=y, random_state=0)
    assert est.error_kind == "estimate"


def test_too_few_points_for_classes(data):
    X, y = data
    with pytest.raises(InputError, match=r"size=2 .*\(3\)"):
        build_coreset(X, 2, y=y)


# --------------------------------------------------------------------------------------
# The fixed-size pi-ps sampler
# --------------------------------------------------------------------------------------


def test_systematic_sampler_inclusion_frequencies():
    score = np.array([0.1, 0.5, 1.0, 2.0, 0.0, 0.3, 8.0, 0.7])
    size = 3
    pi = _inclusion_probabilities(score, size)
    assert pi.sum() == pytest.approx(size)
    assert pi[6] == 1.0 and pi[4] == 0.0
    rng = np.random.default_rng(0)
    n_draws = 20000
    counts = np.zeros(len(score))
    for _ in range(n_draws):
        rows = _systematic_sample(pi, size, rng)
        assert len(rows) == size and len(np.unique(rows)) == size
        counts[rows] += 1
    freq = counts / n_draws
    tol = 4 * np.sqrt(pi * (1 - pi) / n_draws) + 1e-12
    assert np.all(np.abs(freq - pi) <= tol), (freq, pi)


@settings(max_examples=80, deadline=None, derandomize=True)
@given(
    scores=st.lists(st.one_of(st.just(0.0), st.floats(1e-6, 1e6)), min_size=1, max_size=60),
    frac=st.floats(0.0, 1.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_pps_design_properties(scores, frac, seed):
    score = np.array(scores)
    n_pos = int((score > 0).sum())
    if n_pos == 0:
        return
    size = 1 + int(frac * (n_pos - 1))
    pi = _inclusion_probabilities(score, size)
    assert pi.sum() == pytest.approx(size, rel=1e-9)
    assert ((pi >= 0) & (pi <= 1)).all() and (pi[score == 0] == 0).all()
    free = (pi > 0) & (pi < 1)
    if free.any():  # proportional to the score below the cap, and capped rows score higher
        ratio = pi[free] / score[free]
        np.testing.assert_allclose(ratio, ratio[0], rtol=1e-9)
        if (pi == 1).any():
            assert score[pi == 1].min() >= score[free].max()
    rows = _systematic_sample(pi, size, np.random.default_rng(seed))
    assert len(rows) == size and len(np.unique(rows)) == size
    assert (score[rows] > 0).all()


# --------------------------------------------------------------------------------------
# Registry and errors
# --------------------------------------------------------------------------------------


def test_registry_names():
    assert CONSTRUCTORS.names()[:5] == METHODS
    for name in METHODS:
        c = get_constructor(name)
        assert c.name == name and c.weight_kind in ("constant", "counts", "real")
    assert get_constructor("sensitivity", n_clusters=4).get_params() == {
        "n_clusters": 4,
        "center_correction": False,
    }


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(method="nope"), "unknown constructor 'nope'"),
        (dict(method="uniform", n_clusters=3), "no parameter 'n_clusters'"),
        (dict(method="sensitivity", k=3), "no parameter 'k'"),
        (dict(method="sensitivity", n_clusters=0), "n_clusters=0"),
        (dict(method="sensitivity", center_correction="yes"), "center_correction"),
        (dict(method="rcc", tol=-1.0), "tol"),
        (dict(size=0), "size=0"),
        (dict(size=2.5), "size must be an integer"),
        (dict(sample_weight="neg"), "non-negative"),
        (dict(X="nan"), "NaN"),
        (dict(y="short"), "one label per row"),
        (dict(random_state="seed"), "random_state"),
    ],
    ids=[
        "unknown-method",
        "param-of-other-method",
        "unknown-param",
        "bad-n-clusters",
        "bad-bool",
        "bad-tol",
        "size-0",
        "size-float",
        "negative-weight",
        "nan-in-X",
        "bad-y",
        "bad-random-state",
    ],
)
def test_input_errors(data, kwargs, match):
    X, y = data
    kwargs = dict(kwargs)
    size = kwargs.pop("size", 20)
    if kwargs.get("sample_weight") == "neg":
        w = np.ones(len(X))
        w[7] = -1.0
        kwargs["sample_weight"] = w
    if kwargs.pop("X", None) == "nan":
        X = X.copy()
        X[3, 1] = np.nan
    if kwargs.get("y") == "short":
        kwargs["y"] = y[:-1]
    with pytest.raises(InputError, match=match):
        build_coreset(X, size, **kwargs)


def test_register_custom_constructor(data):
    X, _ = data

    class FirstRows(CoresetConstructor):
        name = "first-rows"
        weight_kind = "real"

        def _build(self, X, m, u, rng):
            rows = np.flatnonzero(u > 0)[:m]
            return Coreset(
                X[rows].astype(float),
                u[rows] * u.sum() / u[rows].sum(),
                None,
                rows.astype(np.int64),
                0.0,
                "estimate",
            )

    class TooMany(FirstRows):
        def _build(self, X, m, u, rng):
            cs = super()._build(X, m + 1, u, rng)
            return cs

    with pytest.raises(InputError, match="not a subclass"):
        register_constructor("bad", dict)
    register_constructor("first-rows", FirstRows)
    try:
        with pytest.raises(InputError, match="already registered"):
            register_constructor("first-rows", FirstRows)
        cs = build_coreset(X, 7, method="first-rows")
        np.testing.assert_array_equal(cs.indices, np.arange(7))
        register_constructor("first-rows", TooMany, replace=True)
        with pytest.raises(RuntimeError, match="8 points for a target of 7"):
            build_coreset(X, 7, method="first-rows")
    finally:
        CONSTRUCTORS._items.pop("first-rows", None)


def test_generator_random_state_is_accepted(data):
    X, _ = data
    a = build_coreset(X, 20, random_state=np.random.default_rng(5))
    b = build_coreset(X, 20, random_state=np.random.default_rng(5))
    np.testing.assert_array_equal(a.indices, b.indices)


def test_explicit_class_sizes_are_followed_and_checked():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(1000, 3))
    y = np.repeat(["a", "b", "c"], [700, 290, 10])
    want = {"a": 20, "b": 25, "c": 10}
    cs = build_coreset(X, 60, y=y, class_sizes=want, random_state=0)
    for c, k in want.items():
        assert np.sum(cs.labels == c) == k
    for bad, match in [({"a": 20, "b": 25}, "no entry for class 'c'"),
                       ({"a": 20, "b": 25, "c": 11}, r"class_sizes\['c'\]"),
                       ({"a": 40, "b": 25, "c": 5}, "more than size=60"),
                       ({"a": 20, "b": 25, "c": 5, "z": 1}, "'z'")]:
        with pytest.raises(InputError, match=match):
            build_coreset(X, 60, y=y, class_sizes=bad, random_state=0)
    with pytest.raises(InputError, match="needs class labels"):
        build_coreset(X, 60, class_sizes=want)
