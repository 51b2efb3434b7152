"""Tests of qcoreset.convex: solver choice, convex regression, budget allocation, weights.

Every cvxpy result is checked against an independent solution: scipy's bounded least
squares for the convex regression and the weight refinement, the exact dynamic programme
(itself checked against brute-force enumeration) for the budget allocation.
"""

from __future__ import annotations

import itertools

import cvxpy
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import lsq_linear

import qcoreset.convex as convex
from qcoreset._errors import InputError
from qcoreset.convex import (
    SOLVER_PREFERENCES,
    PiecewiseLinear,
    SolverError,
    allocate_budget,
    allocate_budget_dp,
    fit_convex_decreasing,
    pick_solver,
    refine_weights,
    weight_residuals,
)

COMMERCIAL = {"MOSEK", "GUROBI", "CPLEX", "XPRESS", "COPT", "KNITRO", "NAG"}
SEEDS = settings(max_examples=40, deadline=None)


# ----------------------------------------------------------------------------------------
# helpers
# ----------------------------------------------------------------------------------------


def random_convex_pl(rng, x_max=80.0, on_grid=False, max_breaks=6):
    """A random convex non-increasing PiecewiseLinear with breakpoints in [0, x_max]."""
    k = int(rng.integers(1, max_breaks + 1))
    x = np.sort(rng.choice(np.arange(int(x_max) + 1), size=k, replace=False)).astype(float)
    if not on_grid:
        x = x + np.sort(rng.uniform(0, 0.9, size=k))
    slopes = np.sort(-rng.exponential(1.0, size=k - 1))
    if k > 1 and rng.random() < 0.3:
        slopes[-1] = 0.0  # a flat tail
    values = np.concatenate([[0.0], np.cumsum(slopes * np.diff(x))]) + rng.uniform(0, 100)
    return PiecewiseLinear(x, values)


def weighted_objective(curves, masses, bits):
    return float(sum(m * f(float(b)) for f, m, b in zip(curves, masses, bits, strict=True)))


def nnls_convex_fit(x, y, w):
    """Independent convex-decreasing least squares: v = c + M delta, delta >= 0 (scipy BVLS).

    Slopes s_l = -sum_{j >= l} delta_j are non-decreasing and <= 0 for any delta >= 0, and
    v_k = v_last - sum_{l >= k} s_l h_l; c = v_last is free.
    """
    xu = np.unique(x)
    k = xu.shape[0]
    h = np.diff(xu)
    M = np.zeros((k, k - 1))
    for row in range(k):
        for col in range(k - 1):
            # delta_col enters s_l for l <= col; v_row collects l = row .. k-2.
            M[row, col] = h[row : col + 1].sum() if col >= row else 0.0
    idx = np.searchsorted(xu, x)
    sw = np.sqrt(w)
    A = np.column_stack([np.ones(x.shape[0]), M[idx]]) * sw[:, None]
    lower = np.r_[-np.inf, np.zeros(k - 1)]
    res = lsq_linear(A, y * sw, bounds=(lower, np.inf), method="bvls", tol=1e-14)
    return float(np.sum((A @ res.x - y * sw) ** 2))


def check_allocation(bits, total, minimum, maximum, granularity):
    n = bits.shape[0]
    lo = np.broadcast_to(np.asarray(minimum), (n,))
    hi = np.full(n, total) if maximum is None else np.minimum(np.broadcast_to(maximum, (n,)), total)
    assert bits.dtype == np.int64
    assert int(bits.sum()) <= total
    assert (bits >= lo).all() and (bits <= hi).all()
    assert ((bits - lo) % granularity == 0).all()


def random_allocation_instance(rng, on_grid=False):
    n = int(rng.integers(2, 6))
    g = int(rng.choice([1, 2, 3, 7]))
    lo = rng.integers(0, 12, size=n)
    total = int(lo.sum() + rng.integers(0, 90))
    maximum = None if rng.random() < 0.5 else lo + rng.integers(0, 45, size=n)
    masses = rng.uniform(0, 3, size=n)
    if rng.random() < 0.2:
        masses[0] = 0.0
    if on_grid:  # breakpoints on the unit grid lo_i + g k
        curves = []
        for i in range(n):
            f = random_convex_pl(rng, x_max=40, on_grid=True)
            curves.append(PiecewiseLinear(lo[i] + g * f.breakpoints, f.values))
    else:
        curves = [random_convex_pl(rng) for _ in range(n)]
    return curves, masses, total, lo, maximum, g


def refine_stacked_lsq(points, w0, X, u, lab_x, lab_p, lam, gam):
    """The refinement objective as one dense stacked least-squares system, solved by BVLS."""
    U = u.sum()
    xbar = (u @ X) / U
    sigma = np.sqrt(u @ ((X - xbar) ** 2).sum(axis=1) / U)
    rows, rhs = [], []
    for c in np.unique(lab_p):
        sel = (lab_p == c).astype(float)
        in_c = lab_x == c
        rows.append(sel / U)
        rhs.append(u[in_c].sum() / U)
        target = (u[in_c] @ (X[in_c] - xbar)) / (U * sigma)
        for t in range(X.shape[1]):
            rows.append(np.sqrt(lam) * sel * (points[:, t] - xbar[t]) / (U * sigma))
            rhs.append(np.sqrt(lam) * target[t])
    m = points.shape[0]
    A = np.vstack([np.array(rows), np.sqrt(gam) * np.eye(m) / U])
    b = np.concatenate([rhs, np.sqrt(gam) * w0 / U])
    res = lsq_linear(A, b, bounds=(0, np.inf), method="bvls", tol=1e-15)
    return res.x, lambda w: float(np.sum((A @ w - b) ** 2))


def blobs(rng, n=400, d=3, k=4):
    centres = rng.normal(scale=5.0, size=(k, d))
    lab = rng.integers(0, k, size=n)
    return centres[lab] + rng.normal(size=(n, d)), lab


# ----------------------------------------------------------------------------------------
# solvers
# ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["LP", "QP", "lp"], ids=["LP", "QP", "lower-case"])
def test_pick_solver_is_installed_and_open_source(kind):
    name = pick_solver(kind)
    assert name in cvxpy.installed_solvers()
    assert name in SOLVER_PREFERENCES[kind.upper()]
    assert name not in COMMERCIAL


def test_preferences_hold_no_commercial_solver():
    for names in SOLVER_PREFERENCES.values():
        assert not COMMERCIAL.intersection(names)


def test_pick_solver_unknown_kind():
    with pytest.raises(InputError, match="not known"):
        pick_solver("MILP")


def test_pick_solver_without_open_source_solver(monkeypatch):
    monkeypatch.setattr(cvxpy, "installed_solvers", lambda: ["MOSEK", "GUROBI"])
    with pytest.raises(SolverError, match="no open-source QP solver"):
        pick_solver("QP")
    with pytest.raises(SolverError):
        fit_convex_decreasing([0, 1, 2], [0.0, 1.0, 0.0])


def test_inaccurate_solver_falls_through(monkeypatch):
    """An inaccurate answer is kept only when no later solver does better (then: warning)."""
    x, y = [0, 1, 2, 3, 4], [3.0, 0.0, 1.0, 0.0, 0.5]
    exact = fit_convex_decreasing(x, y)
    monkeypatch.setitem(convex._SOLVER_OPTIONS, "SCS", {"max_iters": 2})
    monkeypatch.setitem(SOLVER_PREFERENCES, "QP", ("SCS", "CLARABEL"))
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(fit_convex_decreasing(x, y).values, exact.values)
    monkeypatch.setitem(SOLVER_PREFERENCES, "QP", ("SCS",))
    with pytest.warns(RuntimeWarning, match="reduced accuracy by SCS"):
        rough = fit_convex_decreasing(x, y)
    assert rough.is_convex_decreasing()


def test_all_solvers_failing_raise(monkeypatch):
    def fail(self, *args, **kwargs):
        raise cvxpy.error.SolverError("boom")

    monkeypatch.setattr(cvxpy.Problem, "solve", fail)
    with pytest.raises(SolverError, match="CLARABEL: boom"):
        fit_convex_decreasing([0, 1, 2, 3], [3.0, 0.0, 1.0, 0.0])


# ----------------------------------------------------------------------------------------
# PiecewiseLinear
# ----------------------------------------------------------------------------------------


def test_piecewise_linear_evaluation():
    f = PiecewiseLinear([0, 1, 3], [4.0, 2.0, 1.0])
    np.testing.assert_allclose(f([-1, 0, 0.5, 1, 2, 3, 10]), [6, 4, 3, 2, 1.5, 1, 1])
    assert isinstance(f(0.5), float)
    np.testing.assert_allclose(f.slopes, [-2.0, -0.5])
    assert f.is_convex_decreasing()
    assert not PiecewiseLinear([0, 1, 2], [0.0, 1.0, 0.0]).is_convex_decreasing()
    assert not PiecewiseLinear([0, 1], [0.0, 1.0]).is_convex_decreasing()
    g = PiecewiseLinear([5.0], [2.0])
    np.testing.assert_allclose(g([-10, 5, 10]), 2.0)
    assert g.slopes.shape == (0,)
    with pytest.raises(ValueError):
        f.values[0] = 1.0  # read-only


def test_piecewise_linear_pickles():
    """Curves travel between MPI ranks by pickle: same function, still read-only."""
    import pickle

    f = PiecewiseLinear([0, 1, 3], [4.0, 2.0, 1.0])
    g = pickle.loads(pickle.dumps(f))
    x = np.linspace(-2, 5, 15)
    np.testing.assert_array_equal(g(x), f(x))
    assert not g.values.flags.writeable


@pytest.mark.parametrize(
    ("bp", "vals", "match"),
    [
        ([0, 1, 1], [1, 2, 3], "strictly increasing"),
        ([0, 2, 1], [1, 2, 3], "strictly increasing"),
        ([0, 1], [1, 2, 3], "one value per breakpoint"),
        ([0, np.nan], [1, 2], "NaN"),
        ([], [], "at least 1"),
        ([[0, 1]], [[1, 2]], "1-D"),
    ],
    ids=["duplicate", "unsorted", "lengths", "nan", "empty", "2-D"],
)
def test_piecewise_linear_rejects(bp, vals, match):
    with pytest.raises(InputError, match=match):
        PiecewiseLinear(bp, vals)


@SEEDS
@given(st.integers(0, 2**32 - 1))
def test_max_of_affine_reproduces_call(seed):
    rng = np.random.default_rng(seed)
    f = random_convex_pl(rng)
    a, b = f.as_max_of_affine()
    x = np.concatenate(
        [f.breakpoints, np.linspace(f.breakpoints[0] - 20, f.breakpoints[-1] + 20, 301)]
    )
    scale = 1.0 + np.abs(f.values).max()
    np.testing.assert_allclose(np.max(a[:, None] + b[:, None] * x, axis=0), f(x), atol=1e-9 * scale)


# ----------------------------------------------------------------------------------------
# convex regression
# ----------------------------------------------------------------------------------------


def assert_convex_decreasing(f, rtol=1e-9):
    s = f.slopes
    if s.shape[0]:
        tol = rtol * (1.0 + np.abs(s).max())
        assert (np.diff(s) >= -tol).all()
        assert s[-1] <= tol


@SEEDS
@given(st.integers(0, 2**32 - 1))
def test_fit_is_convex_decreasing_and_optimal(seed):
    """Objective equals an independent BVLS solution of the same problem (1e-6 relative)."""
    rng = np.random.default_rng(seed)
    n = int(rng.integers(3, 25))
    x = rng.choice(40, size=n).astype(float)  # duplicates likely
    y = 5.0 / (x + 1.0) + rng.normal(scale=rng.choice([0.01, 0.5, 3.0]), size=n)
    w = rng.uniform(0.1, 2.0, size=n)
    f = fit_convex_decreasing(x, y, w)
    assert_convex_decreasing(f)
    np.testing.assert_array_equal(f.breakpoints, np.unique(x))
    ours = float(w @ (f(x) - y) ** 2)
    reference = nnls_convex_fit(x, y, w)
    assert ours <= reference * (1 + 1e-6) + 1e-12
    assert ours >= reference * (1 - 1e-6) - 1e-12
    # any other convex decreasing candidate is no better: the best constant, a random one
    assert ours <= float(w @ (np.average(y, weights=w) - y) ** 2) * (1 + 1e-9)
    other = random_convex_pl(rng, x_max=40)
    assert ours <= float(w @ (other(x) - y) ** 2) * (1 + 1e-9)


@pytest.mark.parametrize("noise", [1e-4, 0.05], ids=["close-fit", "noisy"])
def test_fit_is_exact_on_ill_scaled_data(noise):
    """Values over three decades, residuals far below their spread: still 1e-6 relative.

    The solver alone is accurate to its absolute tolerance only; the active-set polish
    makes the fit exact.
    """
    rng = np.random.default_rng(136)
    x = rng.uniform(0, 1000, size=120)
    y = 1e3 / np.sqrt(x) * (1 + rng.normal(scale=noise, size=x.shape[0]))
    w = rng.uniform(0.1, 2.0, size=x.shape[0])
    f = fit_convex_decreasing(x, y, w)
    assert_convex_decreasing(f)
    assert float(w @ (f(x) - y) ** 2) == pytest.approx(nnls_convex_fit(x, y, w), rel=1e-6)


def test_fit_returns_convex_decreasing_input_unchanged(rng):
    x = np.sort(rng.uniform(0, 100, size=30))
    y = 3.0 / np.sqrt(x + 1.0)
    f = fit_convex_decreasing(x[::-1], y[::-1])  # order of the points does not matter
    np.testing.assert_array_equal(f.breakpoints, x)
    np.testing.assert_allclose(f.values, y, rtol=1e-12)


def test_fit_matches_the_solver_when_input_is_nearly_convex(rng):
    """Fast path off: a tiny violation goes through the solver and moves values ~1e-9."""
    x = np.arange(20.0)
    y = 3.0 / np.sqrt(x + 1.0)
    y[10] += 1e-9
    f = fit_convex_decreasing(x, y)
    assert_convex_decreasing(f)
    np.testing.assert_allclose(f.values, 3.0 / np.sqrt(x + 1.0), atol=1e-8)


def test_fit_small_inputs():
    np.testing.assert_allclose(fit_convex_decreasing([2.0], [5.0]).values, [5.0])
    one = fit_convex_decreasing([2.0, 2.0, 2.0], [1.0, 2.0, 6.0], [1, 1, 2])
    np.testing.assert_allclose(one.values, [3.75])
    assert one(100.0) == pytest.approx(3.75) and one(-100.0) == pytest.approx(3.75)
    down = fit_convex_decreasing([0, 1], [2.0, 1.0])
    np.testing.assert_allclose(down.values, [2.0, 1.0])
    up = fit_convex_decreasing([0, 1], [1.0, 3.0], [1.0, 3.0])  # increasing: weighted mean
    np.testing.assert_allclose(up.values, [2.5, 2.5], atol=1e-8)


def test_fit_duplicates_equal_weighted_means(rng):
    x = np.repeat(np.arange(8.0), 3)
    y = rng.normal(size=x.shape[0]) + 4.0 / (x + 1.0)
    w = rng.uniform(0.5, 2.0, size=x.shape[0])
    f = fit_convex_decreasing(x, y, w)
    xm = np.arange(8.0)
    wm = np.bincount(x.astype(int), weights=w)
    ym = np.bincount(x.astype(int), weights=w * y) / wm
    g = fit_convex_decreasing(xm, ym, wm)
    np.testing.assert_allclose(f.values, g.values, atol=1e-7)


def test_fit_ignores_zero_weight_points():
    f = fit_convex_decreasing([0, 1, 2, 3], [3.0, 100.0, 1.0, 0.0], [1, 0, 1, 1])
    np.testing.assert_array_equal(f.breakpoints, [0, 2, 3])
    np.testing.assert_allclose(f.values, [3.0, 1.0, 0.0])


def test_fit_is_invariant_to_budget_units(rng):
    """Geometric budgets over six decades: same fit in bits and in Mbit."""
    x = np.geomspace(1e3, 1e9, 40)
    y = 1e3 / np.sqrt(x) * np.exp(rng.normal(scale=0.2, size=x.shape[0]))
    f = fit_convex_decreasing(x, y)
    g = fit_convex_decreasing(x / 1e6, y)
    assert_convex_decreasing(f)
    np.testing.assert_allclose(f.values, g.values, rtol=1e-6, atol=1e-9 * y.max())


@pytest.mark.parametrize(
    ("x", "y", "w", "match"),
    [
        ([0, 1], [1.0], None, "x has 2 entries but y has 1"),
        ([0, np.inf], [1.0, 2.0], None, "NaN or infinite"),
        ([0, 1], [1.0, np.nan], None, "NaN or infinite"),
        ([0, 1], [1.0, 2.0], [1.0, -1.0], "non-negative"),
        ([0, 1], [1.0, 2.0], [0.0, 0.0], "sum to zero"),
        ([0, 1], [1.0, 2.0], [1.0], "weights has 1"),
        ([], [], None, "at least 1"),
        (["a", "b"], [1.0, 2.0], None, "non-numeric"),
    ],
    ids=["lengths", "inf-x", "nan-y", "negative-w", "zero-w", "w-length", "empty", "text"],
)
def test_fit_rejects(x, y, w, match):
    with pytest.raises(InputError, match=match):
        fit_convex_decreasing(x, y, w)


# ----------------------------------------------------------------------------------------
# budget allocation
# ----------------------------------------------------------------------------------------


@SEEDS
@given(st.integers(0, 2**32 - 1), st.booleans())
def test_allocation_equals_dp_optimum(seed, on_grid):
    """LP + floor + greedy + exchange is exactly DP-optimal (proof in the docstring).

    Tolerance: 1e-9 relative to the objective scale (the comparisons use 1e-12).
    """
    rng = np.random.default_rng(seed)
    curves, masses, total, lo, maximum, g = random_allocation_instance(rng, on_grid)
    bits = allocate_budget(curves, masses, total, lo, maximum, granularity=g)
    exact = allocate_budget_dp(curves, masses, total, lo, maximum, granularity=g)
    check_allocation(bits, total, lo, maximum, g)
    check_allocation(exact, total, lo, maximum, g)
    ours = weighted_objective(curves, masses, bits)
    best = weighted_objective(curves, masses, exact)
    scale = 1.0 + sum(m * abs(f.values).max() for f, m in zip(curves, masses, strict=True))
    assert ours == pytest.approx(best, abs=1e-9 * scale)


@pytest.mark.parametrize("seed", range(6))
def test_dp_equals_brute_force_on_non_convex_curves(seed):
    rng = np.random.default_rng(seed)
    n, g = int(rng.integers(2, 4)), int(rng.integers(1, 4))
    lo = rng.integers(0, 5, size=n)
    total = int(lo.sum() + rng.integers(0, 16))
    hi = lo + rng.integers(0, 12, size=n)
    tables = [rng.normal(size=200) for _ in range(n)]
    curves = [lambda b, t=t: t[np.asarray(b, dtype=int)] for t in tables]
    masses = rng.uniform(0, 2, size=n)
    bits = allocate_budget_dp(curves, masses, total, lo, hi, granularity=g)
    check_allocation(bits, total, lo, hi, g)
    ranges = [range(lo[i], min(hi[i], total) + 1, g) for i in range(n)]
    best = min(
        weighted_objective(curves, masses, b) for b in itertools.product(*ranges) if sum(b) <= total
    )
    assert weighted_objective(curves, masses, bits) == pytest.approx(best, abs=1e-12)


@pytest.mark.parametrize(
    "curve",
    [lambda b: 100.0 / (b + 1.0), lambda b: 50.0 / np.sqrt(b + 4.0) + 0.1 * np.maximum(30 - b, 0)],
    ids=["1/(B+1)", "1/sqrt + hinge"],
)
def test_allocation_with_convex_callables_equals_dp(curve):
    """Sampled on every unit, the fit reproduces a convex callable: exact optimum."""
    curves = [curve, lambda b: 2 * curve(b + 5.0), lambda b: curve(2.0 * b)]
    masses, total, lo = [1.0, 0.5, 2.0], 150, [4, 6, 8]
    for g in (1, 3):
        bits = allocate_budget(curves, masses, total, lo, granularity=g)
        exact = allocate_budget_dp(curves, masses, total, lo, granularity=g)
        check_allocation(bits, total, lo, None, g)
        assert weighted_objective(curves, masses, bits) == pytest.approx(
            weighted_objective(curves, masses, exact), rel=1e-9
        )


def test_allocation_with_scalar_only_callable():
    import math

    bits = allocate_budget([lambda b: 10.0 / math.sqrt(b + 1.0)] * 2, [1, 1], 40, 0)
    np.testing.assert_array_equal(bits, [20, 20])


def test_allocation_from_proxy_points_equals_fitted_curves(rng):
    """(budgets, errors) pairs, as MPI ranks send them, are fitted first."""
    pairs = []
    for _ in range(3):
        x = np.geomspace(10, 500, 12)
        pairs.append((x, 30.0 / np.sqrt(x) + rng.normal(scale=0.05, size=x.shape[0])))
    fitted = [fit_convex_decreasing(x, y) for x, y in pairs]
    masses, total, lo = [3.0, 1.0, 2.0], 600, [10, 10, 10]
    bits = allocate_budget(pairs, masses, total, lo)
    exact = allocate_budget_dp(fitted, masses, total, lo)
    assert weighted_objective(fitted, masses, bits) == pytest.approx(
        weighted_objective(fitted, masses, exact), rel=1e-9
    )
    np.testing.assert_array_equal(bits, allocate_budget(fitted, masses, total, lo))


def test_allocation_large_budget(rng):
    """Gigabit budgets, 64 parts: the LP keeps the repair short; DP on coarse units agrees."""
    n, g = 64, 10**7
    curves = []
    for _ in range(n):
        x = np.geomspace(1e5, 2e9, 30)
        curves.append(fit_convex_decreasing(x, rng.uniform(1, 10) * 1e3 / np.sqrt(x)))
    masses = rng.uniform(0.1, 5.0, size=n)
    lo = rng.integers(1000, 5000, size=n)
    total = 10**9
    bits = allocate_budget(curves, masses, total, lo, granularity=g)
    exact = allocate_budget_dp(curves, masses, total, lo, granularity=g)
    check_allocation(bits, total, lo, None, g)
    assert weighted_objective(curves, masses, bits) == pytest.approx(
        weighted_objective(curves, masses, exact), rel=1e-9
    )


def test_allocation_without_lp_solver_is_still_exact(monkeypatch, rng):
    curves, masses, total, lo, maximum, g = random_allocation_instance(rng)

    def broken(*args, **kwargs):
        raise SolverError("no LP today")

    monkeypatch.setattr(convex, "_lp_units", broken)
    with pytest.warns(RuntimeWarning, match="no LP today"):
        bits = allocate_budget(curves, masses, total, lo, maximum, granularity=g)
    exact = allocate_budget_dp(curves, masses, total, lo, maximum, granularity=g)
    assert weighted_objective(curves, masses, bits) == pytest.approx(
        weighted_objective(curves, masses, exact), abs=1e-9
    )


def test_allocation_spreads_useless_bits_evenly():
    flat = PiecewiseLinear([0.0], [1.0])
    bits = allocate_budget([flat] * 3, [1, 1, 1], 100, [10, 10, 10], [100, 100, 35])
    np.testing.assert_array_equal(np.sort(bits), [33, 33, 34])
    bits = allocate_budget([flat] * 3, [1, 1, 1], 100, [10, 10, 10], [100, 100, 25])
    np.testing.assert_array_equal(np.sort(bits), [25, 37, 38])


def test_allocation_edge_cases():
    f = PiecewiseLinear([0, 10, 20], [1.0, 0.2, 0.0])
    np.testing.assert_array_equal(allocate_budget([f, f], [1, 3], 24, 2), [10, 14])
    np.testing.assert_array_equal(allocate_budget([f, f], [1, 3], 4, 2), [2, 2])
    # everything fits under the maxima
    np.testing.assert_array_equal(allocate_budget([f, f], [1, 1], 100, 2, [7, 9]), [7, 9])
    # granularity larger than what is left
    np.testing.assert_array_equal(allocate_budget([f, f], 1.0, 10, 2, granularity=8), [2, 2])
    # a single part takes what it may
    np.testing.assert_array_equal(allocate_budget([f], [1], 50, 0, 30), [30])


@pytest.mark.parametrize("allocate", [allocate_budget, allocate_budget_dp], ids=["lp", "dp"])
def test_allocation_infeasible_budget(allocate):
    f = PiecewiseLinear([0, 10], [1.0, 0.0])
    msg = (
        "budget 10 bits is below the 3 part headers of 12 bits in total; "
        "raise the budget to at least 12"
    )
    with pytest.raises(InputError, match=msg):
        allocate([f, f, f], [1, 1, 1], 10, 4)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"masses": [1, -1]}, "non-negative"),
        ({"masses": [1, np.nan]}, "NaN"),
        ({"masses": [1, 1, 1]}, "3 entries but there are 2 curves"),
        ({"total": -5}, "total=-5"),
        ({"total": 10.5}, "integer"),
        ({"minimum": [1.5, 2]}, "whole numbers"),
        ({"minimum": [-1, 2]}, "non-negative"),
        ({"minimum": [1, 2, 3]}, "one value per part"),
        ({"maximum": [0, 50]}, r"maximum\[0\]=0 bits is below minimum\[0\]=2"),
        ({"granularity": 0}, "granularity=0"),
        ({"curves": []}, "empty"),
        ({"curves": PiecewiseLinear([0], [1])}, "sequence"),
        ({"curves": ["abc", "def"]}, "is a str"),
        ({"curves": [PiecewiseLinear([0, 1, 2], [0, 1, 0])] * 2}, "not convex"),
        ({"curves": [lambda b: np.full(np.shape(b), np.nan)] * 2}, "not finite"),
        ({"curves": [lambda b: 1 / 0] * 2}, "could not be evaluated"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_allocation_rejects(kwargs, match):
    f = PiecewiseLinear([0, 10], [1.0, 0.0])
    args = {"curves": [f, f], "masses": [1, 1], "total": 50, "minimum": 2, "maximum": None}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        allocate_budget(
            args["curves"],
            args["masses"],
            args["total"],
            args["minimum"],
            args["maximum"],
            granularity=kwargs.get("granularity", 1),
        )


def test_dp_accepts_non_convex_curves_and_refuses_huge_tables():
    bump = PiecewiseLinear([0, 5, 10], [0.0, 1.0, 0.0])
    bits = allocate_budget_dp([bump, bump], [1, 1], 10, 0)
    assert weighted_objective([bump, bump], [1, 1], bits) == pytest.approx(0.0)
    with pytest.raises(InputError, match="raise granularity"):
        allocate_budget_dp([bump, bump], [1, 1], 10**9, 0)


# ----------------------------------------------------------------------------------------
# weight refinement
# ----------------------------------------------------------------------------------------


def test_refine_nonnegative_and_reduces_residuals(rng):
    X, _ = blobs(rng, n=600, d=4, k=5)
    u = rng.uniform(0.5, 2.0, size=X.shape[0])
    idx = rng.choice(X.shape[0], size=30, replace=False)
    S = X[idx] + rng.normal(scale=0.05, size=(30, 4))  # "quantized" points
    w0 = np.full(30, u.sum() / 30)
    for labels in (None, "kmeans"):
        if labels is None:
            kw = {}
        else:
            from sklearn.cluster import KMeans

            km = KMeans(5, n_init=2, random_state=0).fit(X)
            kw = {"assignment_X": km.labels_, "assignment_points": km.predict(S)}
        w = refine_weights(S, w0, X, u, **kw)
        assert w.shape == (30,) and (w >= 0).all()
        before = weight_residuals(S, w0, X, u, **kw)
        after = weight_residuals(S, w, X, u, **kw)
        assert after.mass < before.mass
        assert after.mass**2 + after.moment**2 < 0.5 * (before.mass**2 + before.moment**2)


def test_refine_keeps_weights_that_already_match(rng):
    """Exact per-cluster masses and moments: the refined weights equal the initial ones."""
    X, lab = blobs(rng, n=500, d=3, k=4)
    u = rng.uniform(0.5, 1.5, size=X.shape[0])
    mass = np.bincount(lab, weights=u)
    mean = np.array([np.average(X[lab == c], axis=0, weights=u[lab == c]) for c in range(4)])
    offset = rng.normal(scale=0.5, size=(4, 3))
    # two points per cluster, symmetric about the cluster mean, half the mass each
    S = np.vstack([mean + offset, mean - offset])
    lab_p = np.tile(np.arange(4), 2)
    w0 = np.tile(mass / 2, 2)
    assert weight_residuals(S, w0, X, u, lab, lab_p).moment == pytest.approx(0.0, abs=1e-12)
    w = refine_weights(S, w0, X, u, lab, lab_p)
    np.testing.assert_allclose(w, w0, rtol=1e-6)
    # Voronoi cells of the cluster means (Lloyd fixed point) also match exactly
    from sklearn.cluster import KMeans

    km = KMeans(4, n_init=3, random_state=0, tol=0).fit(X, sample_weight=u)
    cells = np.bincount(km.labels_, weights=u, minlength=4)
    centres = np.array(
        [np.average(X[km.labels_ == c], axis=0, weights=u[km.labels_ == c]) for c in range(4)]
    )
    np.testing.assert_allclose(refine_weights(centres, cells, X, u), cells, rtol=1e-6)


@pytest.mark.parametrize("mode", ["clusters", "voronoi", "duplicates"])
def test_refine_matches_scipy_bvls(rng, mode):
    X, lab = blobs(rng, n=120, d=3, k=3)
    u = rng.uniform(0.2, 2.0, size=X.shape[0])
    S = X[rng.choice(X.shape[0], size=9, replace=False)] + rng.normal(scale=0.3, size=(9, 3))
    w0 = rng.uniform(0, 30, size=9)
    lam, gam = 0.7, 1e-2
    if mode == "clusters":
        lab_x, lab_p = lab, rng.integers(0, 3, size=9)
        lab_p[:3] = [0, 1, 2]
        w = refine_weights(S, w0, X, u, lab_x, lab_p, moment_weight=lam, stay_weight=gam)
    else:
        if mode == "duplicates":
            S[5] = S[2]
        d2 = ((X[:, None, :] - S[None]) ** 2).sum(-1)
        lab_x = np.argmin(d2, axis=1)
        lab_p = np.argmin(((S[:, None, :] - S[None]) ** 2).sum(-1), axis=1)
        w = refine_weights(S, w0, X, u, moment_weight=lam, stay_weight=gam)
    ref, objective = refine_stacked_lsq(S, w0, X, u, lab_x, lab_p, lam, gam)
    assert (w >= 0).all()
    assert objective(w) == pytest.approx(objective(ref), rel=1e-9, abs=1e-15)
    np.testing.assert_allclose(w, ref, rtol=1e-6, atol=1e-9 * u.sum())


def test_refine_invariances(rng):
    X, lab = blobs(rng, n=300, d=4, k=3)
    u = rng.uniform(0.5, 2.0, size=X.shape[0])
    S = X[:15] + 0.1
    w0 = rng.uniform(1, 40, size=15)
    w = refine_weights(S, w0, X, u)
    shift = np.array([100.0, -50.0, 3.0, 1e3])
    np.testing.assert_allclose(refine_weights(S + shift, w0, X + shift, u), w, rtol=1e-6)
    np.testing.assert_allclose(refine_weights(S, 3 * w0, X, 3 * u), 3 * w, rtol=1e-9)
    np.testing.assert_allclose(refine_weights(S * 7.0, w0, X * 7.0, u), w, rtol=1e-6)


def test_refine_chunked_float32_equals_float64(monkeypatch, rng):
    X, _ = blobs(rng, n=1000, d=6, k=4)
    S = X[:40]
    w0 = np.full(40, 25.0)
    lab_x = np.argmin(((X[:, None] - S[None]) ** 2).sum(-1), axis=1)
    lab_p = np.arange(40)
    dense = refine_weights(S, w0, X, None, lab_x, lab_p)
    monkeypatch.setattr(convex, "_BLOCK_BYTES", 6 * 8 * 2 * 37)  # 37-row blocks
    chunked = refine_weights(S.astype(np.float32), w0, X.astype(np.float32), None, lab_x, lab_p)
    np.testing.assert_allclose(chunked, dense, rtol=1e-5)


def test_refine_constant_data():
    X = np.ones((10, 2))
    w = refine_weights(np.ones((2, 2)), [1.0, 1.0], X, stay_weight=0.0)
    assert w.sum() == pytest.approx(10.0)  # duplicated points share the cell's mass


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"points": np.zeros((3, 2))}, "points have 2 features but X has 3"),
        ({"weights": [1.0, -1.0, 1.0]}, "non-negative"),
        ({"weights": [1.0, 1.0]}, "weights has 2 entries but there are 3 points"),
        ({"X": np.full((5, 3), np.nan)}, "NaN"),
        ({"sample_weight": -np.ones(5)}, "non-negative"),
        ({"assignment_X": np.zeros(5, int)}, "both"),
        ({"assignment_X": np.zeros(4, int), "assignment_points": np.zeros(3, int)}, "shape"),
        ({"moment_weight": -1.0}, "moment_weight"),
        ({"stay_weight": np.inf}, "stay_weight"),
    ],
    ids=lambda v: v if isinstance(v, str) else None,
)
def test_refine_rejects(kwargs, match):
    args = {
        "points": np.zeros((3, 3)),
        "weights": np.ones(3),
        "X": np.arange(15.0).reshape(5, 3),
        "sample_weight": None,
        "assignment_X": None,
        "assignment_points": None,
    }
    options = {k: kwargs.pop(k) for k in ("moment_weight", "stay_weight") if k in kwargs}
    args.update(kwargs)
    with pytest.raises(InputError, match=match):
        refine_weights(*args.values(), **options)
