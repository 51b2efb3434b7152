"""The planner: exact enumeration of the MECB problem under its error model, and its proxies."""

import numpy as np
import pytest

from qcoreset import BudgetError, QuantizedCoreset, get_quantizer
from qcoreset.payload import payload_nbytes
from qcoreset.planner import (
    PROXIES,
    _plan,
    candidate_bits,
    max_coreset_size,
    plan,
    plan_weight_encoding,
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
    best = (np.inf, None)
    wenc, wbits = plan_weight_encoding("sensitivity", u)
    for s in candidate_bits(quantizer):
        q = q0.with_bits(s)
        for m in range(1, len(X) + 1):
            size = payload_nbytes(d=4, m=m, quantizer=q, weight_encoding=wenc,
                                  weight_bits=wbits, method="sensitivity")
            if 8 * size > budget:
                break
            e = float(prox.error([m])[0]) + q.error_bound_
            if e < best[0] - 1e-12:
                best = (e, (s, m))
    assert p.chosen.predicted_error == pytest.approx(best[0], rel=1e-12)
    assert p.chosen.bits == best[1][0]


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
              quantizer=get_quantizer("fixed", 1).fit(X), method="sensitivity",
              bits_options=range(1, 17), proxy="auto", n_clusters=10,
              rng=np.random.default_rng(0))


def test_max_coreset_size_edge():
    assert max_coreset_size(80, header_bytes=10, row_bits=8) == 0
    assert max_coreset_size(79, header_bytes=10, row_bits=8) == -1
