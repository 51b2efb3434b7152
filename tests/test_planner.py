"""The planner: exact enumeration of the MECB problem under its error model, and its proxies."""

import numpy as np
import pytest

from qcoreset import BudgetError, InputError, QuantizedCoreset, get_quantizer
from qcoreset.payload import payload_nbytes
from qcoreset.planner import (
    PROXIES,
    _plan,
    candidate_bits,
    class_sizes,
    error_curve,
    fit_quantizers,
    max_coreset_size,
    plan,
    plan_weight_encoding,
    quantization_effect,
)

from .conftest import hard_blobs


@pytest.mark.parametrize("proxy", ["sampling", "kcenter", "evd"])
@pytest.mark.parametrize("quantizer", ["fixed", "float"])
def test_plan_equals_brute_force(rng, proxy, quantizer):
    X, y = hard_blobs(rng, n=600, d=4)
    u = np.ones(len(X))
    budget = 9_000
    p = plan(X, budget, method="sensitivity", quantizer=quantizer, proxy=proxy, random_state=3)
    # brute force over every (m, s) that fits, with the same proxy curve and quantizer bounds
    q0 = get_quantizer(quantizer, candidate_bits(quantizer)[0]).fit(X)
    prox = PROXIES.get(p.proxy)().fit(
        X, u, method="sensitivity", n_clusters=10,
        rng=np.random.default_rng(np.random.RandomState(3).randint(2**31 - 1)))
    # the quantization terms depend on the bit depth only: take them from the plan's rows
    effect = {r.bits: (r.spread_ratio, r.quantization_bias) for r in p.rows if r.feasible}
    best = (np.inf, None)
    wenc, wbits = plan_weight_encoding("sensitivity", u)
    for s in candidate_bits(quantizer):
        q = q0.with_bits(s)
        for m in range(1, len(X) + 1):
            size = payload_nbytes(d=4, m=m, quantizer=q, weight_encoding=wenc,
                                  weight_bits=wbits, method="sensitivity")
            if 8 * size > budget:
                break
            ratio, bias = effect[q.bits_per_value_ if not q.uses_bits else s]
            e = np.sqrt(float(prox.error([m])[0]) ** 2 * ratio + bias**2)
            if e < best[0] - 1e-12:
                best = (e, (s, m))
    assert p.chosen.predicted_error == pytest.approx(best[0], rel=1e-12)
    assert p.chosen.bits == best[1][0]
    for r in p.rows:
        if r.feasible:
            assert r.error_bound == pytest.approx(r.cs_error + r.quantization_error)


def test_quantization_effect_vanishes_on_the_grid_and_shrinks_with_bits(rng):
    # integer data 0..15 with every value present: the 4-bit grid holds it exactly
    X = rng.integers(0, 16, size=(800, 5)).astype(float)
    X[:16, :] = np.arange(16)[:, None]
    X[:, 4] = 7.0  # a constant column costs nothing and is exact
    u = np.ones(len(X))
    q = get_quantizer("fixed", 4).fit(X)
    (ratio, bias), = quantization_effect(X, u, q, [4], rng=0)
    assert ratio == pytest.approx(1.0, abs=1e-12) and bias == 0.0
    # on continuous data with a far outlier the spread added by rounding falls with the bits
    Y, _ = hard_blobs(rng, n=1200, d=6)
    qy = get_quantizer("fixed", 1).fit(Y)
    eff = quantization_effect(Y, np.ones(len(Y)), qy, [1, 2, 4, 8, 12, 16], rng=1)
    excess = np.array([abs(r - 1.0) for r, _ in eff])
    bias = np.array([b for _, b in eff])
    assert excess[-1] < 1e-3 and (np.diff(excess) < 0).all()
    assert (np.diff(bias) <= 0).all()
    # float32 values sent as float32 change nothing
    Y32 = Y.astype(np.float32)
    qn = get_quantizer("none").fit(Y32)
    assert quantization_effect(Y32, np.ones(len(Y)), qn, [32], rng=2) == [(1.0, 0.0)]


def test_planner_prefers_few_bits_when_rounding_averages_out(rng):
    # many rows of smooth data: a few bits per value and many rows predict less error
    # than the worst-case bound's choice of many bits and few rows
    X, _ = hard_blobs(rng, n=4000, d=8)
    p = plan(X, "2%", random_state=0)
    by_bound = min((r for r in p.rows if r.feasible), key=lambda r: r.error_bound)
    assert p.chosen.bits <= by_bound.bits
    assert p.chosen.size >= by_bound.size


def test_chosen_payload_fits_and_is_the_largest(rng):
    X, y = hard_blobs(rng, n=1500, d=6)
    for budget in (3_000, 20_000, 150_000):
        p = plan(X, budget, y=y, random_state=0)
        for r in p.rows:
            if r.feasible:
                assert r.payload_bits <= budget
        qc = QuantizedCoreset(budget=budget, random_state=0).fit(X, y)
        assert qc.bits_ == qc.plan_.chosen.bits
        assert qc.size_ <= qc.plan_.chosen.size
        assert qc.payload_bits_ <= budget


def test_proxies_are_non_increasing_and_zero_when_all_rows_fit(rng):
    X, _ = hard_blobs(rng, n=800, d=5)
    u = np.ones(len(X))
    m = np.array([1, 2, 5, 10, 50, 100, 300, 799, 800, 5000])
    for name in ["sampling", "kcenter", "evd"]:
        prox = PROXIES.get(name)().fit(X, u, method="sensitivity", n_clusters=10,
                                       rng=np.random.default_rng(0))
        e = prox.error(m)
        assert np.all(np.diff(e) <= 1e-12), name
        assert e[-1] == 0 and e[-2] == 0 and e[0] > 0


@pytest.mark.parametrize("method", ["sensitivity", "uniform", "lightweight"])
def test_sampling_proxy_tracks_the_exact_errors(rng, method):
    X, _ = hard_blobs(rng, n=4000, d=6)
    u = np.ones(len(X))
    sizes = np.array([50, 200, 800])
    kw = dict(method=method, n_clusters=10)
    exact = PROXIES.get("exact")().fit(X, u, rng=np.random.default_rng(1), **kw).error(sizes)
    approx = PROXIES.get("sampling")().fit(X, u, rng=np.random.default_rng(1), **kw).error(sizes)
    ratio = approx / exact
    assert np.all((ratio > 0.5) & (ratio < 2.0)), ratio


def test_fixed_size_picks_among_fitting_bits(rng):
    X, _ = hard_blobs(rng, n=500, d=3)
    qc = QuantizedCoreset(budget=20_000, size=100, random_state=0).fit(X)
    assert qc.size_ == 100
    assert all(r.size == 100 for r in qc.plan_.rows if r.feasible)
    with pytest.raises(BudgetError, match="does not fit"):
        QuantizedCoreset(budget=3_000, size=400, random_state=0).fit(X)


def test_budget_below_everything(rng):
    X, _ = hard_blobs(rng, n=1000, d=8)
    with pytest.raises(BudgetError, match="raise --budget to at least"):
        _plan(X, np.ones(1000), classes=None, budget_bits=100,
              families=[(get_quantizer("fixed", 1).fit(X), range(1, 17))],
              method="sensitivity", proxy="auto", n_clusters=10,
              rng=np.random.default_rng(0))


def test_max_coreset_size_edge():
    assert max_coreset_size(80, header_bytes=10, row_bits=8) == 0
    assert max_coreset_size(79, header_bytes=10, row_bits=8) == -1


@pytest.mark.parametrize("labelled", [False, True])
def test_error_curve_matches_plan_at_every_budget(rng, labelled):
    X, y = hard_blobs(rng, n=900, d=5)
    y = y if labelled else None
    budgets = [1_500, 4_000, 12_000, 60_000, 400_000]
    c = error_curve(X, budgets, y=y, random_state=7)
    assert c.mass == pytest.approx(len(X))
    for b, e, s, m in zip(budgets, c.errors, c.bits, c.sizes, strict=True):
        if b < c.minimum_bits:
            assert np.isinf(e) and m == 0
            with pytest.raises(BudgetError):
                plan(X, b, y=y, random_state=7)
            continue
        p = plan(X, b, y=y, random_state=7)
        assert (p.chosen.bits, p.chosen.size) == (s, m)
        assert p.chosen.predicted_error == pytest.approx(e, rel=1e-12)
    fin = np.isfinite(c.errors)
    assert (np.diff(c.errors[fin]) <= 1e-12).all()  # more budget never predicts more error


def test_class_sizes_follow_the_spread_of_each_class(rng):
    # equal masses; class 1 is ten times as spread out as class 0 and gets more rows
    X = np.vstack([rng.normal(size=(2000, 4)), 10.0 * rng.normal(size=(2000, 4)) + 50.0])
    y = np.repeat([0, 1], 2000)
    sizes = class_sizes(X, y, 200, random_state=0)
    assert sum(sizes.values()) == 200 and set(sizes) == {0, 1}
    # the optimal split of sum_c sigma_c / sqrt(m_c) is m_c ~ sigma_c^(2/3): 10^(2/3) = 4.6
    assert 3.0 < sizes[1] / sizes[0] < 6.5


def test_class_sizes_bounds_and_tiny_classes(rng):
    X, y = hard_blobs(rng, n=3000, d=5)  # classes of 2700/270/25/5 rows, the last far out
    caps = np.bincount(y)
    for size in (4, 40, 400, 5000):
        sizes = class_sizes(X, y, size, random_state=1)
        alloc = np.array([sizes[c] for c in range(4)])
        assert alloc.sum() == min(size, caps.sum())
        assert (alloc >= 1).all() and (alloc <= caps).all()
    # the five far outliers are worth sending whole long before the big class is
    assert class_sizes(X, y, 100, random_state=1)[3] == caps[3]
    with pytest.raises(InputError, match="smaller than the number of classes"):
        class_sizes(X, y, 3)


def test_class_allocation_mass_keeps_proportional_sizes(rng):
    X, y = hard_blobs(rng, n=3000, d=5)
    opt = QuantizedCoreset(budget="5%", random_state=0).fit(X, y)
    mass = QuantizedCoreset(budget="5%", class_allocation="mass", random_state=0).fit(X, y)
    assert opt.size_ == mass.size_
    for qc in (opt, mass):
        assert qc.payload_bits_ <= qc.budget_bits_
    from qcoreset.constructors import _allocate_by_class

    got = np.bincount(mass.coreset_labels_.astype(int), minlength=4)
    expect = _allocate_by_class(mass.size_, np.bincount(y).astype(float), caps=np.bincount(y))
    np.testing.assert_array_equal(got, expect)
    with pytest.raises(InputError, match="class_allocation"):
        QuantizedCoreset(class_allocation="equal").fit(X, y)


@pytest.mark.parametrize("quantizer", ["fixed", "auto"])
@pytest.mark.parametrize("budget", ["0.5%", "3%", "20%"])
def test_pruning_never_changes_the_choice(rng, budget, quantizer):
    if quantizer == "fixed":
        X, _ = hard_blobs(rng, n=3000, d=6)
    else:  # digits (constant columns, a few rows): pca and fixed depths are both pruned
        from sklearn.datasets import load_digits

        X = load_digits().data
    u = np.ones(len(X))
    kw = dict(classes=None, budget_bits=int(float(budget[:-1]) / 100 * 32 * X.size),
              families=fit_quantizers(X, quantizer, "auto"), method="sensitivity",
              proxy="sampling", n_clusters=10)
    fast = _plan(X, u, rng=np.random.default_rng(5), **kw)
    full = _plan(X, u, rng=np.random.default_rng(5), prune=False, **kw)
    pruned = set()
    assert (fast.chosen.bits, fast.chosen.size) == (full.chosen.bits, full.chosen.size)
    assert fast.chosen.predicted_error == full.chosen.predicted_error
    for a, b in zip(fast.rows, full.rows, strict=True):
        assert not b.pruned
        if a.pruned:  # the floor is a floor, and above the choice
            pruned.add(a.quantizer)
            assert a.predicted_error <= b.predicted_error * (1 + 1e-12)
            assert a.predicted_error > fast.chosen.predicted_error
        else:
            assert a.predicted_error == b.predicted_error
    if quantizer == "auto" and budget != "20%":
        assert pruned == {"fixed", "pca"}


def test_auto_plan_holds_every_quantizers_rows_and_picks_the_best(rng):
    X, y = hard_blobs(rng, n=1500, d=12)
    kw = dict(method="sensitivity", random_state=4, prune=False)
    auto = plan(X, "3%", **kw)
    parts = [plan(X, "3%", quantizer=name, **kw) for name in ("fixed", "pca")]
    assert [r.quantizer for r in auto.rows] == [r.quantizer for p in parts for r in p.rows]
    for a, b in zip(auto.rows, [r for p in parts for r in p.rows], strict=True):
        assert (a.bits, a.size, a.payload_bits) == (b.bits, b.size, b.payload_bits)
        assert a.predicted_error == pytest.approx(b.predicted_error, rel=1e-12)
    best = min(parts, key=lambda p: p.chosen.predicted_error)
    assert auto.chosen.predicted_error == pytest.approx(best.chosen.predicted_error, rel=1e-12)
    assert auto.quantizer == auto.chosen.quantizer == best.quantizer
    assert all(r.rank is None for r in parts[0].rows)
    assert all(r.rank == parts[1].rows[0].rank for r in parts[1].rows)


def test_auto_error_curve_matches_plan(rng):
    X, _ = hard_blobs(rng, n=1200, d=10)
    budgets = [4_000, 20_000, 80_000]
    curve = error_curve(X, budgets, method="sensitivity", random_state=2)
    for b, e, s, m in zip(budgets, curve.errors, curve.bits, curve.sizes, strict=True):
        p = plan(X, b, method="sensitivity", random_state=2, prune=False)
        assert e == pytest.approx(p.chosen.predicted_error, rel=1e-9)
        assert (s, m) == (p.chosen.bits, p.chosen.size)


def test_projection_terms_equal_the_direct_computation(rng):
    # the planner measures pca depths in the basis coordinates: it must agree with
    # quantizing the rows and measuring in the data space
    from qcoreset.planner import QuantizationEffect

    X, _ = hard_blobs(rng, n=1500, d=20)
    X[:, 4] = 0.1  # constant column (not a float32 number: a fixed rounding error)
    q = get_quantizer("pca", 3, variance=0.8).fit(X)

    class Plain:  # the same quantizer, seen without its basis: the generic path
        uses_bits = True

        def _prepare(self, X):
            return q._prepare(X)

        def with_bits(self, b):
            return q.with_bits(b)

    eff = QuantizationEffect(X, rng.uniform(0.5, 2.0, len(X)), q, rng=1)
    for s in (1, 2, 4, 8):
        fast, direct = eff.at(s, q), eff.at(s, Plain())
        assert fast == pytest.approx(direct, rel=1e-9, abs=1e-12)


@pytest.mark.parametrize("variance", [0.5, 0.9, 0.999])
def test_projection_floor_is_below_every_depth(rng, variance):
    # the floor lets the planner skip pca depths: it must never exceed the prediction
    from qcoreset.planner import QuantizationEffect

    X, _ = hard_blobs(rng, n=2000, d=30)
    X[:, 7] = 0.1  # a constant column whose value is not a float32 number
    q = get_quantizer("pca", 3, variance=variance).fit(X)
    u = rng.uniform(0.2, 3.0, len(X))
    eff = QuantizationEffect(X, u, q, rng=7, sample_size=700)
    for s in candidate_bits("pca"):
        ratio, bias = eff.at(s, q)
        for cs in (1e-3, 0.7, 40.0):
            floor = eff.lower_bound(cs, q.with_bits(s).error_bound_, s, q)
            assert 0.0 <= floor <= np.sqrt(cs * cs * ratio + bias * bias) * (1 + 1e-12)
    # rows beyond the fitted coefficient ranges are clipped: the basis floor counts that
    # (the worst-case floor holds for the fitted rows only)
    part = get_quantizer("pca", 3, variance=variance).fit(X[:300])
    eff = QuantizationEffect(X, u, part, rng=7, sample_size=700)
    assert eff._projection_state(part).outside_rows.size > 0
    for s in (1, 4, 8):
        ratio, bias = eff.at(s, part)
        floor = eff.lower_bound(1.0, np.inf, s, part)  # the basis floor alone
        assert floor <= np.sqrt(ratio + bias * bias) * (1 + 1e-12)
    # without far outliers to stretch the coefficient ranges, the floor at fine depths is
    # close to the prediction (what makes it prune)
    X = rng.normal(size=(2000, 5)) @ rng.normal(size=(5, 30)) + 0.3 * rng.normal(size=(2000, 30))
    q = get_quantizer("pca", 3, variance=variance).fit(X)
    eff = QuantizationEffect(X, u, q, rng=7, sample_size=700)
    ratio, _ = eff.at(8, q)
    assert eff.lower_bound(1.0, q.with_bits(8).error_bound_, 8, q) > 0.9 * np.sqrt(ratio)
