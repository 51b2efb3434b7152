"""Splitting a global bit budget across ranks (``--allocation``).

Every rule first reserves each rank's minimum payload ``H_i`` (header plus one row, or one
row per class), so every rank can send something, then splits the rest ``B - sum H_i`` in
whole bytes (payloads are whole bytes, so a bit beyond a multiple of 8 would be wasted):

``optimal``
    Minimise the union's error subject to ``sum_i B_i <= B``, ``H_i <= B_i``, where
    ``E_i`` is rank i's planner-predicted per-unit-weight error curve
    (:func:`qcoreset.planner.error_curve`, a few geometric budgets between ``H_i`` and the
    most rank i could get) and ``U_i`` its data mass. For constructors with proven bounds
    (``rcc``, ``kcenter``) the union's bound is ``sum_i U_i E_i(B_i)``; for the sampling
    constructors ``E_i`` is one standard error of an unbiased estimate, the ranks' estimates
    are independent, and the union's standard error is ``sqrt(sum_i (U_i E_i(B_i))^2)``,
    so ``sum_i U_i^2 E_i(B_i)^2`` is minimised (a Neyman allocation). The squared form
    also stays convex where the finite-population factor makes ``E_i`` itself bend down
    steeply (a rank close to sending all its rows), which the linear sum would over-reward.
    The curves (through :func:`loglog_interpolant`, sampled densely, lower convex
    envelope: :func:`rank_curve`) are convex and non-increasing and the problem is solved
    by :func:`qcoreset.convex.allocate_budget` (cvxpy LP, integer greedy repair; equal to a
    dynamic programme on the same curves).
``equal``
    The rest split equally.
``size``
    The rest split in proportion to the ranks' row counts ``n_i``.
``cost``
    The rest split in proportion to the ranks' local k-means costs (Balcan, Ehrlich and
    Liang, NIPS 2013: the sample of each node is proportional to its local clustering
    cost), computed with weighted k-means++ seeding and a few Lloyd steps.

Ranks without rows (possible with label-based splits) get 0 bits and send nothing.
"""

from __future__ import annotations

import numpy as np

from qcoreset._errors import BudgetError, InputError
from qcoreset._kmeans import kmeans_plusplus_seeding, lloyd
from qcoreset._validation import check_data, check_int, check_sample_weight
from qcoreset.convex import PiecewiseLinear, allocate_budget

__all__ = [
    "ALLOCATIONS",
    "BYTE",
    "curve_budgets",
    "proportional_allocation",
    "optimal_allocation",
    "local_clustering_cost",
    "loglog_interpolant",
    "convex_envelope",
    "rank_curve",
    "combination",
    "check_minimums",
]

#: allocation rules, in the order the benchmark reports them
ALLOCATIONS = ("optimal", "equal", "size", "cost")
#: granularity of every allocation in bits (payloads are whole bytes)
BYTE = 8
#: samples of each interpolated curve before its convex envelope: dense, so that the linear
#: pieces (whose equal slopes leave ties) span a fraction of a percent of a rank's range
GRID_POINTS = 2049
#: constructors whose coreset error is a proven transport bound (errors add linearly)
PROVEN_METHODS = frozenset({"rcc", "kcenter"})


def check_minimums(total: int, minimum, *, framing: int = 0) -> None:
    """Raise :class:`BudgetError` when ``total`` cannot hold every rank's minimum payload.

    The message names the ranks, their minimums and the budget to ask for
    (``sum(minimum) + framing`` bits, ``framing`` being what the budget loses before the
    split).
    """
    minimum = np.asarray(minimum, dtype=np.int64)
    need = int(minimum.sum())
    if need > total:
        per_rank = ", ".join(f"rank {r}: {b}" for r, b in enumerate(minimum.tolist()) if b)
        raise BudgetError(
            f"the budget leaves {total} bits for the ranks' payloads but their smallest "
            f"payloads (header and one row per class) need {need} bits ({per_rank}); raise "
            f"the budget to at least {need + int(framing)} bits"
        )


def curve_budgets(minimum: int, maximum: int, points: int = 16) -> np.ndarray:
    """Geometric grid of whole-byte budgets from ``minimum`` to ``maximum`` (both included).

    Examples
    --------
    >>> curve_budgets(800, 8000, 4).tolist()
    [800, 1720, 3712, 8000]
    """
    minimum = check_int(minimum, "minimum", 0)
    maximum = check_int(maximum, "maximum", minimum)
    points = check_int(points, "points", 2)
    lo = max(minimum, BYTE)
    if maximum <= lo:
        return np.array([maximum], dtype=np.int64)
    grid = np.geomspace(lo, maximum, points)
    grid = minimum + (np.floor((grid - minimum) / BYTE) * BYTE).astype(np.int64)
    grid[0], grid[-1] = minimum, maximum
    return np.unique(grid)


def proportional_allocation(shares, total: int, minimum, *, granularity: int = BYTE):
    """``minimum_i`` plus a share of the rest proportional to ``shares_i``, in whole units.

    Parameters
    ----------
    shares : array-like of shape (n_parts,)
        Non-negative shares (all zero: equal split among parts with ``minimum > 0``).
    total : int
        Budget in bits.
    minimum : array-like of int
        Bits reserved for each part; a part with minimum 0 gets nothing (an empty part).
    granularity : int, default 8
        Bits per unit of the split.

    Returns
    -------
    ndarray of int64
        ``sum <= total``; leftover units go to the largest remainders.

    Raises
    ------
    BudgetError
        When ``sum(minimum) > total``.
    """
    minimum = np.asarray(minimum, dtype=np.int64)
    shares = np.asarray(shares, dtype=np.float64)
    if shares.shape != minimum.shape:
        raise InputError(f"{shares.shape[0]} shares for {minimum.shape[0]} parts")
    if not (np.isfinite(shares).all() and (shares >= 0).all()):
        raise InputError("shares must be finite and non-negative")
    check_minimums(total, minimum)
    live = minimum > 0
    shares = np.where(live, shares, 0.0)
    if not shares.sum() > 0:
        shares = live.astype(np.float64)
    units = (int(total) - int(minimum.sum())) // granularity
    quota = units * shares / shares.sum() if shares.sum() > 0 else np.zeros_like(shares)
    k = np.floor(quota).astype(np.int64)
    short = units - int(k.sum())
    if short > 0:
        order = np.argsort(-(quota - k), kind="stable")
        order = order[live[order]]
        k[order[:short]] += 1
    return minimum + granularity * k


def combination(method: str) -> str:
    """How the ranks' errors add up for coresets built by ``method``.

    ``"sum"`` for constructors with proven transport bounds (``rcc``, ``kcenter``): the
    union's bound is the sum of the ranks' bounds (triangle inequality). ``"quadrature"``
    for the sampling constructors, whose errors are standard errors of independent unbiased
    estimates: the union's standard error is ``sqrt(sum_i (U_i E_i)^2)``.
    """
    return "sum" if method in PROVEN_METHODS else "quadrature"


def optimal_allocation(curves, masses, total: int, minimum, maximum=None, *,
                       granularity: int = BYTE, combine: str = "sum"):
    """Budget split minimising the ranks' combined error over their error curves.

    ``combine="sum"`` minimises ``sum_i masses_i E_i(B_i)``; ``combine="quadrature"``
    minimises ``sum_i (masses_i E_i(B_i))^2`` (the square of the union's standard error:
    a Neyman allocation), see :func:`combination`.

    Parameters
    ----------
    curves : sequence of (budgets, errors) pairs or None
        Each rank's proxy points (None for an empty rank, which gets 0 bits). Points with
        an infinite error (budgets below the rank's minimum) are dropped.
    masses : array-like
        Data mass ``U_i`` of each rank.
    total : int
        Budget in bits for all the payloads.
    minimum, maximum : array-like of int
        Bounds per rank (``maximum`` defaults to ``total``).
    granularity : int, default 8
    combine : {"sum", "quadrature"}

    Returns
    -------
    ndarray of int64
        Bits per rank; ``sum <= total`` and ``minimum <= B_i`` for every non-empty rank.
    """
    if combine not in ("sum", "quadrature"):
        raise InputError(f"combine must be 'sum' or 'quadrature', got {combine!r}")
    n = len(curves)
    minimum = np.asarray(minimum, dtype=np.int64)
    masses = np.asarray(masses, dtype=np.float64)
    maximum = np.full(n, total, dtype=np.int64) if maximum is None else np.asarray(
        maximum, dtype=np.int64)
    check_minimums(total, minimum)
    live = [i for i in range(n) if curves[i] is not None and minimum[i] > 0]
    out = np.zeros(n, dtype=np.int64)
    if not live:
        return out
    funcs = []
    for i in live:
        b, e = (np.asarray(a, dtype=np.float64) for a in curves[i])
        ok = np.isfinite(e)
        if not ok.any():
            raise InputError(f"rank {i} reported no finite point of its error curve")
        hi = int(max(minimum[i], min(maximum[i], total)))
        funcs.append(rank_curve(b[ok], e[ok], int(minimum[i]), hi, combine=combine))
    weights = masses[live] if combine == "sum" else masses[live] ** 2
    bits = allocate_budget(
        funcs, weights, int(total), minimum[live],
        np.maximum(minimum[live], np.minimum(maximum[live], total)), granularity=granularity,
    )
    out[live] = bits
    return out


def loglog_interpolant(budgets, errors):
    """A smooth error curve through a rank's proxy points: linear in log-log coordinates.

    Between two points the curve is the power law ``E(B) = E_j (B / B_j)^(-alpha_j)``
    through them (how coreset errors fall with size); outside the points it is constant.
    :func:`qcoreset.convex.allocate_budget` samples it densely and fits it convex and
    non-increasing. Interpolating the few points, rather than fitting a piecewise-linear
    curve through them directly, keeps the marginal gains strictly decreasing, so ranks
    with similar curves get similar budgets instead of one rank taking every unit a
    tie leaves over.

    Parameters
    ----------
    budgets, errors : array-like of shape (k,)
        Positive budgets (bits) and non-negative errors.

    Returns
    -------
    callable
        ``f(bits) -> errors``, vectorised.
    """
    b = np.asarray(budgets, dtype=np.float64)
    e = np.asarray(errors, dtype=np.float64)
    order = np.argsort(b, kind="stable")
    b, e = b[order], e[order]
    b, first = np.unique(b, return_index=True)
    e = np.minimum.accumulate(e[first])  # non-increasing
    floor = max(float(e.max(initial=0.0)) * 1e-12, 1e-300)
    lb, le = np.log(np.maximum(b, 1.0)), np.log(np.maximum(e, floor))

    def f(bits):
        x = np.log(np.maximum(np.asarray(bits, dtype=np.float64), 1.0))
        return np.exp(np.interp(x, lb, le))

    return f


def convex_envelope(x, y) -> PiecewiseLinear:
    """The greatest convex function below the points ``(x, y)`` (lower convex hull).

    Parameters
    ----------
    x : array-like of shape (k,)
        Strictly increasing abscissae.
    y : array-like of shape (k,)
        Values.

    Returns
    -------
    PiecewiseLinear
        Through the hull's vertices; non-increasing when ``y`` is.

    Examples
    --------
    >>> convex_envelope([0, 1, 2, 3], [4.0, 3.0, 0.5, 0.0]).breakpoints.tolist()
    [0.0, 2.0, 3.0]
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    hull: list[int] = []
    for j in range(x.shape[0]):  # monotone chain; a few thousand points
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            # drop b unless the slope a->b is strictly below the slope b->j
            if (y[b] - y[a]) * (x[j] - x[b]) >= (y[j] - y[b]) * (x[b] - x[a]):
                hull.pop()
            else:
                break
        hull.append(j)
    return PiecewiseLinear(x[hull], y[hull])


def rank_curve(budgets, errors, lo: int, hi: int, *, combine: str = "sum",
               points: int = GRID_POINTS) -> PiecewiseLinear:
    """A rank's convex, non-increasing error curve on ``[lo, hi]`` from its proxy points.

    The points are interpolated in log-log coordinates (:func:`loglog_interpolant`),
    squared for ``combine="quadrature"``, sampled on ``points`` budgets spread linearly
    and geometrically over ``[lo, hi]``, and replaced by their lower convex envelope
    (:func:`convex_envelope`), which the allocation LP takes as it is.
    """
    f = loglog_interpolant(budgets, errors)
    lo, hi = float(lo), float(max(hi, lo))
    half = max(2, points // 2)
    x = np.unique(np.concatenate([np.linspace(lo, hi, half),
                                  np.geomspace(max(lo, 1.0), max(hi, 1.0), half), [lo, hi]]))
    y = f(x) if combine == "sum" else f(x) ** 2
    return convex_envelope(x, np.minimum.accumulate(y))


def local_clustering_cost(X, sample_weight=None, *, n_clusters: int = 10, max_iter: int = 10,
                          random_state=None) -> float:
    """k-means cost of a local constant-factor solution (the ``cost`` allocation's share).

    Weighted k-means++ seeding with ``min(n_clusters, rows)`` centres followed by at most
    ``max_iter`` weighted Lloyd steps; returns ``sum_p u_p d^2(p, C)``.

    Parameters
    ----------
    X : array-like of shape (n, d)
    sample_weight : array-like of shape (n,) or None
    n_clusters, max_iter : int
    random_state : int, Generator or None

    Returns
    -------
    float
    """
    X = check_data(X)
    u = check_sample_weight(sample_weight, X.shape[0])
    k = min(check_int(n_clusters, "n_clusters", 1), int((u > 0).sum()))
    rng = random_state if isinstance(random_state, np.random.Generator) else \
        np.random.default_rng(random_state)
    idx, _, _ = kmeans_plusplus_seeding(X, k, u, rng)
    _, _, inertia = lloyd(X, np.asarray(X[idx], dtype=np.float64), u, max_iter=max_iter)
    return float(inertia)
