"""``optimal`` for constant-weight constructors: one sampling fraction for all ranks."""

from fractions import Fraction

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.datasets import load_digits

from qcoreset._errors import BudgetError
from qcoreset.distributed import container_overhead_bits, rank_seed, reduce_parts
from qcoreset.distributed.allocation import (
    class_multipliers,
    class_rows,
    common_fraction,
    fraction_allocation,
    fraction_payload_bits,
    uses_fraction_rule,
)
from qcoreset.distributed.reduce import union_errors
from qcoreset.planner import candidate_bits, plan
from qcoreset.quantizers import get_quantizer


def _brute_force_fraction(counts, heads, rbits, total):
    """Largest f in {0} and every k / n_rc whose floor-rule payloads fit (or None)."""
    fracs = {Fraction(0)} | {Fraction(k, int(n)) for c in counts for n in c
                            for k in range(1, int(n) + 1)}
    best = None
    for f in sorted(fracs):
        bits = sum(fraction_payload_bits(c, h, b, f.numerator, f.denominator)
                   for c, h, b in zip(counts, heads, rbits, strict=True))
        if bits <= total:
            best = f
    return best


def _next_fraction(counts, f):
    fracs = [Fraction(k, int(n)) for c in counts for n in c for k in range(2, int(n) + 1)]
    later = [g for g in fracs if g > f]
    return min(later) if later else None


def _check_against_brute_force(counts, heads, rbits, total):
    res = common_fraction(counts, heads, rbits, total)
    bf = _brute_force_fraction(counts, heads, rbits, total)
    if bf is None:
        assert res is None
        return None
    f = Fraction(res.numerator, res.denominator)
    assert f == bf
    nxt = _next_fraction(counts, f)
    m_total = []
    for c, rows in zip(counts, res.rows, strict=True):
        c = np.asarray(c)
        lo = class_rows(c, f.numerator, f.denominator)
        hi = lo if nxt is None else class_rows(c, nxt.numerator, nxt.denominator)
        assert (lo <= rows).all() and (rows <= hi).all()  # within one step of f
        assert (rows >= 1).all() and (rows <= c).all()
        m_total.append(int(rows.sum()))
    exact = [0 if not m else 8 * (h + (m * b + 7) // 8)
             for m, h, b in zip(m_total, heads, rbits, strict=True)]
    assert res.payload_bits.tolist() == exact
    assert res.payload_bits.sum() <= total
    return res


# ranks missing classes, imbalanced classes, a class of one row, an empty rank
CASES = [
    ([[100], [50]], [10, 10], [8, 8]),
    ([[40, 3, 1], [7], [12, 12]], [30, 25, 28], [13, 13, 9]),
    ([[1, 1, 1], [200, 1], []], [50, 40, 0], [64, 64, 0]),
    ([[5, 9, 30], [30, 9, 5], [1]], [21, 21, 19], [7, 11, 3]),
]


@pytest.mark.parametrize("counts,heads,rbits", CASES, ids=["two", "skewed", "ones", "mixed"])
def test_common_fraction_equals_brute_force_over_budgets(counts, heads, rbits):
    least = sum(fraction_payload_bits(c, h, b, 0, 1)
                for c, h, b in zip(counts, heads, rbits, strict=True))
    most = sum(fraction_payload_bits(c, h, b, 1, 1)
               for c, h, b in zip(counts, heads, rbits, strict=True))
    assert common_fraction(counts, heads, rbits, least - 8) is None
    seen = []
    for total in np.unique(np.linspace(least, most + 40, 60).astype(int)):
        res = _check_against_brute_force(counts, heads, rbits, int(total))
        seen.append(Fraction(res.numerator, res.denominator))
    assert seen == sorted(seen) and seen[-1] == 1  # more budget, never a smaller fraction


@settings(max_examples=60, deadline=None)
@given(st.data())
def test_fraction_allocation_properties(data):
    ranks = data.draw(st.integers(1, 4))
    counts = [data.draw(st.lists(st.integers(1, 25), min_size=0 if r else 1, max_size=4))
              for r in range(ranks)]
    heads = [data.draw(st.integers(5, 60)) if c else 0 for c in counts]
    rbits = [data.draw(st.integers(1, 70)) if c else 0 for c in counts]
    least = sum(fraction_payload_bits(c, h, b, 0, 1)
                for c, h, b in zip(counts, heads, rbits, strict=True))
    most = sum(fraction_payload_bits(c, h, b, 1, 1)
               for c, h, b in zip(counts, heads, rbits, strict=True))
    total = 8 * (data.draw(st.integers(least, most + 30)) // 8)
    if total < least:
        with pytest.raises(BudgetError, match="raise the budget"):
            fraction_allocation(counts, heads, rbits, total)
        return
    _check_against_brute_force(counts, heads, rbits, total)
    out = fraction_allocation(counts, heads, rbits, total)
    assert (out.payload_bits <= out.allocation).all()
    assert out.allocation.sum() <= total
    assert (out.allocation % 8 == 0).all()
    for c, a in zip(counts, out.allocation, strict=True):
        assert (a == 0) == (len(c) == 0)  # an empty rank gets nothing


def test_identical_ranks_at_an_exact_budget_get_equal_rows():
    counts = [[30, 20, 10]] * 3
    heads, rbits = [40] * 3, [24] * 3
    total = sum(fraction_payload_bits(c, 40, 24, 1, 2) for c in counts)
    out = fraction_allocation(counts, heads, rbits, total)
    assert (out.numerator, out.denominator) == (1, 2)
    assert all(r.tolist() == [15, 10, 5] for r in out.rows)
    assert out.allocation.tolist() == out.payload_bits.tolist()


def test_the_rule_follows_the_weight_kind():
    assert uses_fraction_rule("uniform")
    assert not any(uses_fraction_rule(m) for m in ("sensitivity", "lightweight", "rcc",
                                                   "kcenter"))


def _labelled_parts(seed=0):
    """Three ranks: imbalanced classes, a missing class, a class of one row, duplicated
    rows, a constant column, an outlier."""
    rng = np.random.default_rng(seed)

    def block(counts):
        y = np.repeat(np.arange(len(counts)), counts)
        X = rng.normal(size=(y.shape[0], 6)) + 3.0 * y[:, None]
        return X, y

    X0, y0 = block([300, 60, 10, 1])
    X0[:40] = X0[40]  # duplicated rows
    X0[:, 5] = 2.0  # a constant column on this rank
    X1, y1 = block([20, 200, 0, 5])
    X1[3] += 60.0  # an outlier
    X2, y2 = block([150, 0, 80, 40])
    keep = y1 != 2
    return [(X0, y0), (X1[keep], y1[keep]), (X2, y2)]


def _pooled_rms(parts):
    """Root mean squared distance of every class's rows (all ranks) to its mean."""
    X = np.concatenate([X for X, _ in parts])
    y = np.concatenate([y for _, y in parts])
    return {int(c): float(np.sqrt(((X[y == c] - X[y == c].mean(0)) ** 2).sum(1).mean()))
            for c in np.unique(y)}


def _pooled_multipliers(parts):
    """The single-node class sizes m_c ~ (N_c R_c)^(2/3) as fractions: (R_c^2 / N_c)^(1/3)."""
    counts = np.bincount(np.concatenate([y for _, y in parts]))
    return {c: np.cbrt(r * r / counts[c]) for c, r in _pooled_rms(parts).items()}


def test_class_multipliers_are_the_pooled_single_node_fractions():
    parts = _labelled_parts()
    rms = _pooled_multipliers(parts)
    stats = []
    for X, y in parts:
        classes, inv = np.unique(y, return_inverse=True)
        sums = np.stack([X[y == c].sum(0) for c in classes])
        sq = [float((X[y == c] ** 2).sum()) for c in classes]
        stats.append((classes.tolist(), np.bincount(inv).tolist(),
                      np.bincount(inv).astype(float).tolist(), sums, sq))
    g = class_multipliers(stats + [None])
    assert g[-1] is None
    top = max(rms.values())
    for (_, y), gr in zip(parts, g[:-1], strict=True):
        for c, v in zip(np.unique(y), gr, strict=True):  # the same on every rank
            assert v == pytest.approx(rms[int(c)] / top, rel=1e-9)
    # one rank holding everything gets the same multipliers
    X = np.concatenate([X for X, _ in parts])
    y = np.concatenate([y for _, y in parts])
    classes, inv = np.unique(y, return_inverse=True)
    one = class_multipliers([(classes.tolist(), np.bincount(inv).tolist(),
                              np.bincount(inv).astype(float).tolist(),
                              np.stack([X[y == c].sum(0) for c in classes]),
                              [float((X[y == c] ** 2).sum()) for c in classes])])[0]
    assert np.allclose(one, [rms[int(c)] / top for c in classes])


def _level_rows(counts, scale, t):
    """Rows of every class at level t: one plus the rows k >= 2 with k / (n g) <= t."""
    return [np.array([1 + sum(1 for k in range(2, n + 1)
                              if (k / n if g == 1.0 else k / (n * g)) <= t)
                      for n, g in zip(c, sc, strict=True)], dtype=np.int64)
            for c, sc in zip(counts, scale, strict=True)]


@pytest.mark.parametrize("counts,heads,rbits", CASES[1:], ids=["skewed", "ones", "mixed"])
def test_scaled_fraction_equals_brute_force_over_levels(counts, heads, rbits):
    rng = np.random.default_rng(len(counts))
    scale = [rng.uniform(0.2, 1.0, len(c)) for c in counts]
    levels = sorted({0.0} | {(k / n if g == 1.0 else k / (n * g)) for c, sc in
                             zip(counts, scale, strict=True)
                             for n, g in zip(c, sc, strict=True) for k in range(1, n + 1)})

    def price(rows):
        return sum(0 if not len(r) else 8 * (h + (int(r.sum()) * b + 7) // 8)
                   for r, h, b in zip(rows, heads, rbits, strict=True))

    least, most = price(_level_rows(counts, scale, 0.0)), price(_level_rows(counts, scale, 1e9))
    for total in np.unique(np.linspace(least, most, 40).astype(int)):
        res = common_fraction(counts, heads, rbits, int(total), scale)
        best = max(t for t in levels if price(_level_rows(counts, scale, t)) <= total)
        assert res.level == pytest.approx(best, rel=1e-12)
        later = [t for t in levels if t > best]
        lo = _level_rows(counts, scale, best)
        hi = _level_rows(counts, scale, later[0]) if later else lo
        for a, r, b in zip(lo, res.rows, hi, strict=True):
            assert (a <= r).all() and (r <= b).all()
        assert res.payload_bits.sum() == price(res.rows) <= total


@pytest.mark.parametrize("budget", ["5%", "10%", "25%", "200%"])
def test_reduce_parts_common_fraction_budgets_and_weights(budget):
    parts = _labelled_parts()
    res = reduce_parts(parts, budget=budget, random_state=3)
    assert res.method == "uniform" and res.fraction is not None and res.curves is None
    assert (res.payload_bits <= res.allocation).all()
    assert res.allocation.sum() <= res.available_bits
    assert res.file_bits <= res.budget_bits and 8 * len(res.payload) == res.file_bits
    t, g = res.fraction, res.class_multipliers
    want = _pooled_multipliers(parts)
    assert all(g[c] == pytest.approx(want[c] / max(want.values())) for c in want)
    dec = res.coreset
    start = 0
    for (_, y), qc in zip(parts, res.local, strict=True):
        classes, n = np.unique(y, return_counts=True)
        m = np.array([(qc.coreset_labels_ == c).sum() for c in classes])
        assert ((m >= 1) & (m <= n)).all()
        for c, nc, mc in zip(classes, n, m, strict=True):
            f = min(1.0, t * g[int(c)])  # the class's fraction, the same on every rank
            assert mc == 1 or abs(mc - f * nc) <= 1 + 1e-9
            w = qc.coreset_weights_[qc.coreset_labels_ == c]
            assert np.allclose(w, nc / mc)  # uniform: one weight per class and rank
        k = qc.size_
        assert np.array_equal(dec.points[start:start + k], qc.coreset_)
        start += k
    if budget == "200%":
        assert np.allclose(dec.weights, 1.0)
    again = reduce_parts(parts, budget=budget, random_state=3)
    assert again.payload == res.payload


def test_equal_weights_across_ranks_when_the_level_is_complete():
    rng = np.random.default_rng(1)
    y = np.repeat([0, 1, 2], [30, 20, 10])
    X = rng.normal(size=(60, 4)) * (1 + y[:, None]) + 5 * y[:, None]
    parts = [(X, y), (X.copy(), y)]  # duplicated rows: the same data on both ranks
    for budget in ("25%", "45%", "70%"):
        first = reduce_parts(parts, budget=budget, bits=4, random_state=0)
        rows = [np.array([(qc.coreset_labels_ == c).sum() for c in range(3)])
                for qc in first.local]
        low = np.minimum(*rows)  # a partial tie adds rows to rank 0 first
        rb = 4 * 4
        heads = [len(qc.payload_) - (qc.size_ * rb + 7) // 8 for qc in first.local]
        avail = sum(8 * (h + (int(low.sum()) * rb + 7) // 8) for h in heads)
        res = reduce_parts(parts, budget=avail + container_overhead_bits(2), bits=4,
                           random_state=0)
        dec = res.coreset
        for c, n in ((0, 30), (1, 20), (2, 10)):
            w = dec.weights[dec.labels == c]
            assert np.allclose(w, n / low[c])  # one weight for the class on both ranks


def test_every_rank_quantizes_at_the_depth_of_least_predicted_union_error():
    parts = _labelled_parts(2)
    res = reduce_parts(parts, budget="5%", random_state=7)
    errors = res.depth_errors
    assert errors.shape == (len(candidate_bits("fixed")),)
    assert np.isfinite(errors).sum() > 1  # a real choice
    best = candidate_bits("fixed")[int(np.nanargmin(errors))]
    assert [qc.bits_ for qc in res.local] == [best] * len(parts)
    assert (res.payload_bits <= res.allocation).all()


def test_union_errors_pool_the_ranks_as_one_sample():
    e, s, b = 0.3, 1.2, 0.1
    one = union_errors([[[e, s, b]]], [5.0])
    assert one[0] == pytest.approx(np.sqrt(e * e * s + b * b))  # the planner's formula
    # equal ranks: half the sampling variance per unit weight, the same shift
    two = union_errors([[[e, s, b]], [[e, s, b]]], [5.0, 5.0])
    assert two[0] == pytest.approx(np.sqrt(e * e * s / 2 + b * b))
    # unequal masses weight both terms; a rank without rows adds nothing
    mixed = union_errors([[[e, s, b]], [[2 * e, 1.0, 3 * b]], [[np.nan] * 3]], [1.0, 3.0, 0.0])
    assert mixed[0] == pytest.approx(np.sqrt((0.25 * e) ** 2 * s + (0.75 * 2 * e) ** 2
                                             + (0.25 * b + 0.75 * 3 * b) ** 2))
    # a candidate no rank measured (it does not fit) has no prediction
    assert np.isnan(union_errors([[[np.nan] * 3, [e, s, b]]], [1.0])[0])


def test_one_rank_quantizes_at_the_planners_depth():
    X, y = load_digits(return_X_y=True)
    for budget in ("3%", "5%", "20%"):
        res = reduce_parts([(X, y)], budget=budget, random_state=3)
        chosen = plan(X, int(res.available_bits), y=y, quantizer="fixed",
                      random_state=rank_seed(3, 0)).chosen
        assert res.local[0].bits_ == chosen.bits


def test_depth_does_not_depend_on_how_many_ranks_hold_the_rows():
    # planned rank by rank at its share, 8 parts of digits chose 1 bit, fewer chose 2
    # (each rank's own sampling error looks sqrt(8) times larger than its part of the
    # union's); the union planned as one sample keeps the single-node depth
    X, y = load_digits(return_X_y=True)
    depths = set()
    for n in (1, 2, 4, 8):
        parts = [(X[i::n], y[i::n]) for i in range(n)]
        res = reduce_parts(parts, budget="4%", random_state=0)
        depths |= {qc.bits_ for qc in res.local}
        assert (res.payload_bits <= res.allocation).all()
    assert len(depths) == 1


def test_labelled_pca_ranks_are_the_planners():
    # classes apart only along a low-variance column: the label-aware rank keeps it
    rng = np.random.default_rng(0)
    n, d = 4000, 30
    y = rng.integers(0, 2, n)
    X = rng.normal(size=(n, d)) * np.r_[np.linspace(10, 3, d - 1), 0.3]
    X[:, -1] += y
    X = X.astype(np.float32)
    parts = [(X[: n // 2], y[: n // 2]), (X[n // 2 :], y[n // 2 :])]
    blind = get_quantizer("pca", 4).fit(parts[0][0]).rank_
    aware = [get_quantizer("pca", 4).fit(Xr, yr).rank_ for Xr, yr in parts]
    assert blind < min(aware)  # the case the labels decide
    opt = reduce_parts(parts, budget="2%", quantizer="pca", random_state=0)
    size = reduce_parts(parts, budget="2%", quantizer="pca", allocation="size",
                        random_state=0)
    assert opt.fraction is not None
    assert [qc.quantizer_.rank_ for qc in opt.local] == aware
    assert [qc.quantizer_.rank_ for qc in size.local] == aware
    assert (opt.payload_bits <= opt.allocation).all()


def test_real_weight_constructors_keep_the_curves():
    parts = _labelled_parts()
    res = reduce_parts(parts, budget="6%", method="sensitivity", curve_fits=2,
                       random_state=0)
    assert res.method == "sensitivity" and res.fraction is None and res.curves is not None
    assert (res.payload_bits <= res.allocation).all()
    unlabelled = reduce_parts([X for X, _ in parts], budget="6%", curve_fits=2,
                              random_state=0)
    assert unlabelled.method == "sensitivity" and unlabelled.fraction is None


def test_unlabelled_uniform_uses_one_fraction_and_empty_ranks_send_nothing():
    rng = np.random.default_rng(0)
    parts = [rng.normal(size=(n, 3)) for n in (400, 90, 0, 7)]
    res = reduce_parts(parts, budget="8%", method="uniform", random_state=0)
    t = res.fraction
    assert res.class_multipliers is None and 0 < t < 1
    assert res.allocation[2] == 0 and res.payload_bits[2] == 0
    assert (res.payload_bits <= res.allocation).all()
    assert res.allocation.sum() <= res.available_bits
    for X, qc in zip(parts, res.local, strict=True):
        if qc is not None:
            floor = max(1, int(np.floor(t * X.shape[0] + 1e-9)))
            assert qc.size_ in (floor, floor + 1)
