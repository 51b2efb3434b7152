"""Convex optimisation for the planner: curve fitting, budget allocation, weight refinement.

Three problems of qcoreset are convex and are solved here with cvxpy, with a solver chosen
from those installed (never a commercial one, see :func:`pick_solver`):

* :func:`fit_convex_decreasing` -- convex regression. Proxy points of an error-vs-budget
  curve are noisy; the planner and the MPI layer need a convex, non-increasing curve
  (a :class:`PiecewiseLinear`), which makes the budget allocation an LP.
* :func:`allocate_budget` -- split a budget across parts (classes of a labelled coreset,
  MPI ranks): minimise ``sum_i masses_i * f_i(B_i)`` subject to ``sum_i B_i <= total`` and
  per-part bounds. LP relaxation (epigraph of the max-of-affine curves), then flooring,
  a greedy fill and a pairwise exchange repair that make the integer answer exactly
  optimal for the (fitted) convex curves. :func:`allocate_budget_dp` is the exact dynamic
  programme used as the reference (and for non-convex curves).
* :func:`refine_weights` -- optional non-negative QP that adjusts coreset weights so that
  per cluster the coreset's mass and first moment match the full data's.

cvxpy is imported lazily (importing it takes about a second), so ``import qcoreset`` stays
fast for commands that never solve anything.

Design notes
------------
Every public function validates its input once and calls a private worker (``_fit_convex``,
``_allocate``, ``_refine``) that assumes clean input. Problems are scaled before they are
handed to a solver (curve values centred and divided by their spread, budgets measured in
units of the allocatable capacity, weights divided by the total data mass, coordinates
centred and divided by the RMS distance to the mean), so that the solvers' absolute
tolerances mean the same thing whatever the units of the caller. Interior-point answers
are accurate to those tolerances only; each solver answer is therefore finished by an
exact step that is kept only when it is no worse: an active-set polish for the two
least-squares problems, and the integer repair (provably optimal) for the allocation.
"""

from __future__ import annotations

import math
import numbers
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np
from scipy import sparse

from ._errors import InputError, QCoresetError
from ._kmeans import min_sq_distances, weighted_mean
from ._validation import check_data, check_int, check_sample_weight

__all__ = [
    "SOLVER_PREFERENCES",
    "SolverError",
    "pick_solver",
    "PiecewiseLinear",
    "fit_convex_decreasing",
    "allocate_budget",
    "allocate_budget_dp",
    "refine_weights",
    "WeightResiduals",
    "weight_residuals",
]


# ----------------------------------------------------------------------------------------
# Solvers
# ----------------------------------------------------------------------------------------


class SolverError(QCoresetError, RuntimeError):
    """No suitable open-source solver is installed, or every installed one failed."""


#: Preferred open-source solvers per problem kind, best first. Only these are ever used:
#: commercial solvers (MOSEK, GUROBI, CPLEX, XPRESS, COPT, KNITRO, ...) never appear here,
#: even when installed and licensed.
SOLVER_PREFERENCES: dict[str, tuple[str, ...]] = {
    # SCIPY is scipy.optimize.linprog, i.e. the HiGHS simplex/IPM bundled with scipy: exact
    # vertices and silent. The HIGHS interface (highspy) solves the same LPs but prints a
    # copyright banner on the C-level stdout the first time a process creates a solver,
    # which would corrupt `--json` output; it comes after CLARABEL (interior point, silent).
    # ECOS: interior point. SCS: first-order, last resort.
    "LP": ("SCIPY", "CLARABEL", "HIGHS", "ECOS", "GLOP", "SCS"),
    # CLARABEL: interior point, accurate to ~1e-10. OSQP/PIQP: ADMM / proximal IPM.
    "QP": ("CLARABEL", "OSQP", "PIQP", "ECOS", "SCS"),
}

_COMMERCIAL = frozenset({"MOSEK", "GUROBI", "CPLEX", "XPRESS", "COPT", "KNITRO", "NAG", "MOREAU"})
if any(_COMMERCIAL.intersection(v) for v in SOLVER_PREFERENCES.values()):  # pragma: no cover
    raise ImportError("a commercial solver slipped into SOLVER_PREFERENCES")

# Tight tolerances: the problems are small and scaled, and the tests compare against exact
# enumeration. Options a solver does not know are never passed to it.
_SOLVER_OPTIONS: dict[str, dict[str, Any]] = {
    "CLARABEL": {"tol_gap_abs": 1e-10, "tol_gap_rel": 1e-10, "tol_feas": 1e-10},
    "OSQP": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iter": 200_000},
    "PIQP": {"eps_abs": 1e-10, "eps_rel": 1e-10},
    "ECOS": {"abstol": 1e-10, "reltol": 1e-10, "feastol": 1e-10},
    "SCS": {"eps_abs": 1e-9, "eps_rel": 1e-9, "max_iters": 200_000},
}


def _cvxpy():
    """Import cvxpy on first use (its import costs about a second)."""
    import cvxpy

    return cvxpy


def _solver_candidates(problem_kind: str) -> list[str]:
    """Installed preferred solvers for ``problem_kind``, best first (validated kind)."""
    if not isinstance(problem_kind, str) or problem_kind.upper() not in SOLVER_PREFERENCES:
        raise InputError(
            f"problem_kind={problem_kind!r} is not known; use one of {sorted(SOLVER_PREFERENCES)}"
        )
    installed = set(_cvxpy().installed_solvers())
    return [s for s in SOLVER_PREFERENCES[problem_kind.upper()] if s in installed]


def pick_solver(problem_kind: str) -> str:
    """Name of the cvxpy solver to use for a kind of problem.

    The first of :data:`SOLVER_PREFERENCES` ``[problem_kind]`` that
    ``cvxpy.installed_solvers()`` reports. Commercial solvers are never chosen.

    Parameters
    ----------
    problem_kind : {"LP", "QP"}
        Linear programme or convex quadratic programme (case-insensitive).

    Returns
    -------
    str
        A cvxpy solver name such as ``"HIGHS"`` or ``"CLARABEL"``.

    Raises
    ------
    InputError
        For an unknown ``problem_kind``.
    SolverError
        When none of the preferred open-source solvers is installed.

    Examples
    --------
    >>> pick_solver("LP") in SOLVER_PREFERENCES["LP"]
    True
    """
    candidates = _solver_candidates(problem_kind)
    if not candidates:
        wanted = ", ".join(SOLVER_PREFERENCES[problem_kind.upper()])
        raise SolverError(
            f"no open-source {problem_kind.upper()} solver is installed for cvxpy "
            f"(looked for {wanted}); install one, e.g. `pip install clarabel highspy`"
        )
    return candidates[0]


def _solve(
    problem, problem_kind: str, *, only: str | None = None, accept_inaccurate: bool = True
) -> str:
    """Solve a cvxpy problem with the preferred solvers in turn; return the one that worked.

    The first solver that reports an optimal status wins. A solver that raises or fails is
    skipped; an "optimal (inaccurate)" answer is kept in reserve while the next solvers are
    tried, and used (with a RuntimeWarning) when none does better and ``accept_inaccurate``.
    ``only`` restricts the attempt to one solver. When every solver fails,
    :class:`SolverError` lists what each said.
    """
    cp = _cvxpy()
    pick_solver(problem_kind)  # clear error when nothing is installed
    candidates = [only] if only is not None else _solver_candidates(problem_kind)
    failures: list[str] = []
    reserve: tuple[str, list] | None = None
    for name in candidates:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", UserWarning)  # cvxpy's "may be inaccurate"
                problem.solve(solver=name, **_SOLVER_OPTIONS.get(name, {}))
        except (cp.error.SolverError, ValueError, ArithmeticError) as exc:
            failures.append(f"{name}: {exc}")
            continue
        if problem.status == cp.OPTIMAL:
            return name
        if problem.status == cp.OPTIMAL_INACCURATE and reserve is None:
            reserve = (name, [v.value for v in problem.variables()])
        failures.append(f"{name}: status {problem.status}")
    if reserve is not None and accept_inaccurate:
        name, values = reserve
        for var, value in zip(problem.variables(), values, strict=True):
            var.value = value
        warnings.warn(
            f"{problem_kind} solved only to reduced accuracy by {name} ({'; '.join(failures)})",
            RuntimeWarning,
            stacklevel=3,
        )
        return name
    raise SolverError(
        f"every installed {problem_kind} solver failed ({'; '.join(failures)}); "
        "this is a bug in qcoreset or a badly scaled input, please report it"
    )


# ----------------------------------------------------------------------------------------
# Piecewise-linear curves and convex regression
# ----------------------------------------------------------------------------------------


def _as_1d_float(values, name: str, *, min_len: int = 1) -> np.ndarray:
    """A finite 1-D float64 array of at least ``min_len`` entries, or a clear InputError."""
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{name} holds non-numeric values; pass numbers only") from None
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise InputError(f"{name} must be 1-D, got shape {arr.shape}")
    if arr.shape[0] < min_len:
        raise InputError(f"{name} has {arr.shape[0]} entries; at least {min_len} needed")
    if not np.isfinite(arr).all():
        i = int(np.argmax(~np.isfinite(arr)))
        raise InputError(f"{name} contains NaN or infinite values (first at index {i})")
    return arr


class PiecewiseLinear:
    """A continuous piecewise-linear function of one variable.

    Linear between ``breakpoints``; beyond the ends it continues with the first segment's
    slope on the left and is constant on the right. For a convex, non-increasing curve
    (what :func:`fit_convex_decreasing` returns) that extension is again convex and
    non-increasing on the whole real line, and equals :meth:`as_max_of_affine` everywhere.

    Parameters
    ----------
    breakpoints : array-like of shape (k,)
        Strictly increasing, finite abscissae (k >= 1).
    values : array-like of shape (k,)
        Finite function values at the breakpoints.

    Attributes
    ----------
    breakpoints : ndarray of shape (k,)
        Read-only copy of the abscissae.
    values : ndarray of shape (k,)
        Read-only copy of the values.
    slopes : ndarray of shape (k - 1,)
        Slope of each segment (empty for k = 1).

    Raises
    ------
    InputError
        For non-finite, mismatched or not strictly increasing input.

    Examples
    --------
    >>> f = PiecewiseLinear([0, 1, 3], [4.0, 2.0, 1.0])
    >>> f([-1, 0.5, 2, 10]).tolist()
    [6.0, 3.0, 1.5, 1.0]
    >>> a, b = f.as_max_of_affine()
    >>> float(np.max(a + b * 2.0))
    1.5
    """

    __slots__ = ("_x", "_v", "_s")

    def __init__(self, breakpoints, values) -> None:
        x = _as_1d_float(breakpoints, "breakpoints")
        v = _as_1d_float(values, "values")
        if x.shape != v.shape:
            raise InputError(
                f"breakpoints has {x.shape[0]} entries but values has {v.shape[0]}; "
                "pass one value per breakpoint"
            )
        if x.shape[0] > 1 and not (np.diff(x) > 0).all():
            i = int(np.argmax(np.diff(x) <= 0))
            raise InputError(
                f"breakpoints must be strictly increasing; breakpoints[{i + 1}]="
                f"{x[i + 1]:g} follows {x[i]:g}"
            )
        s = np.diff(v) / np.diff(x)
        if not np.isfinite(s).all():
            raise InputError("breakpoints are too close for their values (infinite slope)")
        for arr in (x, v, s):
            arr.setflags(write=False)
        self._x, self._v, self._s = x, v, s

    @property
    def breakpoints(self) -> np.ndarray:
        """Strictly increasing abscissae of the breakpoints."""
        return self._x

    @property
    def values(self) -> np.ndarray:
        """Function values at :attr:`breakpoints`."""
        return self._v

    @property
    def slopes(self) -> np.ndarray:
        """Slope of each of the ``k - 1`` segments."""
        return self._s

    def __len__(self) -> int:
        return int(self._x.shape[0])

    def __reduce__(self):
        # Rebuilt through __init__ (validated, read-only arrays), e.g. after an MPI bcast.
        return (type(self), (np.array(self._x), np.array(self._v)))

    def __repr__(self) -> str:
        return (
            f"PiecewiseLinear({len(self)} breakpoints on "
            f"[{self._x[0]:g}, {self._x[-1]:g}], values {self._v[0]:g} .. {self._v[-1]:g})"
        )

    def __call__(self, x):
        """Evaluate the function (vectorised; a scalar in gives a float out).

        Parameters
        ----------
        x : float or array-like
            Where to evaluate.

        Returns
        -------
        float or ndarray of float64
            Linear interpolation between breakpoints, the first segment's line left of
            the first breakpoint, the last value right of the last one.
        """
        xa = np.asarray(x, dtype=np.float64)
        out = np.interp(xa, self._x, self._v)
        if self._s.shape[0]:
            left = xa < self._x[0]
            if np.any(left):
                out = np.where(left, self._v[0] + self._s[0] * (xa - self._x[0]), out)
        return float(out) if out.ndim == 0 else out

    def is_convex_decreasing(self, rtol: float = 1e-9) -> bool:
        """Whether slopes are non-decreasing and the last one is <= 0 (to ``rtol``).

        The tolerance is relative to the largest absolute slope.
        """
        s = self._s
        if s.shape[0] == 0:
            return True
        tol = rtol * float(np.max(np.abs(s)))
        return bool((np.diff(s) >= -tol).all() and s[-1] <= tol)

    def as_max_of_affine(self) -> tuple[np.ndarray, np.ndarray]:
        """Intercepts and slopes of the lines whose maximum is this function.

        Returns
        -------
        a, b : ndarray of shape (k,)
            One line ``a_j + b_j x`` per segment plus the constant line of the right
            extension (for k = 1 only that line). For a convex non-increasing function
            ``f(x) == max_j (a_j + b_j x)`` for every real ``x``; for any other function
            the maximum is only a convex minorant.
        """
        a = np.append(self._v[:-1] - self._s * self._x[:-1], self._v[-1])
        b = np.append(self._s, 0.0)
        return a, b


def fit_convex_decreasing(x, y, weights=None) -> PiecewiseLinear:
    """Least-squares convex, non-increasing fit of points (convex regression).

    Solves, with cvxpy (a QP, solver from :func:`pick_solver` ``("QP")``),

    ``minimise sum_i weights_i * (f(x_i) - y_i)**2``

    over functions f that are piecewise linear with breakpoints at the sorted unique
    ``x``, convex (non-decreasing consecutive slopes) and non-increasing (last slope <= 0).
    The values at the breakpoints are the variables; the convexity constraints are written
    as "each value is at most the interpolation of its neighbours", which is independent of
    the spacing of ``x`` (well conditioned for geometrically spaced budgets).

    Parameters
    ----------
    x : array-like of shape (n,)
        Abscissae (e.g. budgets in bits); duplicates allowed.
    y : array-like of shape (n,)
        Observations (e.g. proxy errors).
    weights : array-like of shape (n,), optional
        Non-negative weights with a positive sum (default: all 1).

    Returns
    -------
    PiecewiseLinear
        The fitted curve; :meth:`PiecewiseLinear.is_convex_decreasing` holds.

    Raises
    ------
    InputError
        For non-finite values, mismatched lengths, negative weights or weights summing to 0.
    SolverError
        When no open-source QP solver is installed or all fail.

    Notes
    -----
    Points sharing an ``x`` are merged into their weighted mean with their summed weight
    (same minimiser). Abscissae whose points all have weight 0 carry no information and are
    dropped from the breakpoints. One distinct ``x`` gives a constant; data that are already
    convex and non-increasing are returned exactly, without calling a solver. The solver's
    answer is repaired so that the shape constraints hold exactly (slopes made monotone,
    then the optimal constant offset re-fitted), which moves it by the solver tolerance
    only. Solvers stop on an absolute tolerance, which limits the relative accuracy of
    close fits to data spanning orders of magnitude; an active-set polish (Lawson-Hanson
    on the hinge basis, warm-started from the solver's kinks, O(k) per step) then finds
    the exact optimum, and is kept only when it is no worse.

    Examples
    --------
    >>> f = fit_convex_decreasing([1, 2, 3, 4], [4.0, 1.0, 1.5, 0.0])
    >>> bool(f.is_convex_decreasing())
    True
    """
    xa = _as_1d_float(x, "x")
    ya = _as_1d_float(y, "y")
    if xa.shape != ya.shape:
        raise InputError(f"x has {xa.shape[0]} entries but y has {ya.shape[0]}")
    if weights is None:
        wa = np.ones_like(xa)
    else:
        wa = _as_1d_float(weights, "weights")
        if wa.shape != xa.shape:
            raise InputError(f"weights has {wa.shape[0]} entries but x has {xa.shape[0]}")
        if (wa < 0).any():
            i = int(np.argmax(wa < 0))
            raise InputError(f"weights must be non-negative; weights[{i}]={wa[i]:g}")
        if not wa.sum() > 0:
            raise InputError("weights sum to zero; at least one point needs a positive weight")
    return _fit_convex(xa, ya, wa)


def _fit_convex(x: np.ndarray, y: np.ndarray, w: np.ndarray) -> PiecewiseLinear:
    """Worker of :func:`fit_convex_decreasing` (clean 1-D float64 input, sum(w) > 0)."""
    xu, inv = np.unique(x, return_inverse=True)
    wsum = np.bincount(inv, weights=w, minlength=xu.shape[0])
    keep = wsum > 0
    ysum = np.bincount(inv, weights=w * y, minlength=xu.shape[0])
    xu, wsum, ybar = xu[keep], wsum[keep], ysum[keep] / wsum[keep]
    k = xu.shape[0]
    if k == 1:
        return PiecewiseLinear(xu, ybar)
    h = np.diff(xu)
    s = np.diff(ybar) / h
    if (np.diff(s) >= 0).all() and s[-1] <= 0:
        return PiecewiseLinear(xu, ybar)

    cp = _cvxpy()
    omega = wsum / wsum.sum()
    centre = float(omega @ ybar)
    spread = float(np.max(np.abs(ybar - centre)))  # > 0: constant data returned above
    z = (ybar - centre) / spread
    # Convexity: v[i+1] <= (h[i+1] v[i] + h[i] v[i+2]) / (h[i] + h[i+1]), i.e. D2 v >= 0,
    # which is slope_i <= slope_{i+1} whatever the spacing; monotone: v[-1] - v[-2] <= 0.
    hl, hr = h[:-1], h[1:]
    rows = np.repeat(np.arange(k - 2), 3)
    cols = (np.arange(k - 2)[:, None] + np.arange(3)).ravel()
    vals = np.column_stack([hr / (hl + hr), -np.ones(k - 2), hl / (hl + hr)]).ravel()
    D2 = sparse.csr_matrix((vals, (rows, cols)), shape=(k - 2, k))
    v = cp.Variable(k)
    constraints = [v[k - 1] <= v[k - 2]]
    if k > 2:
        constraints.append(D2 @ v >= 0)
    problem = cp.Problem(
        cp.Minimize(cp.sum_squares(cp.multiply(np.sqrt(omega), v - z))), constraints
    )
    _solve(problem, "QP")
    start = _repair_convex(xu, z, omega, np.asarray(v.value, dtype=np.float64))
    vz = _active_set_polish(xu, z, omega, start)
    return PiecewiseLinear(xu, centre + spread * vz)


def _objective(v: np.ndarray, z: np.ndarray, omega: np.ndarray) -> float:
    return float(omega @ (v - z) ** 2)


def _repair_convex(x: np.ndarray, z: np.ndarray, omega: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Exactly convex non-increasing version of a solver answer ``v`` (moved by ~its error).

    Slopes are made non-decreasing and non-positive, then the constant offset is re-fitted
    (the optimal one for those slopes).
    """
    h = np.diff(x)
    slopes = np.minimum(np.maximum.accumulate(np.diff(v) / h), 0.0)
    shape = np.concatenate([[0.0], np.cumsum(slopes * h)])
    return shape + float(omega @ (z - shape))


def _kinks(t: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Slope increase at t[1:] (the last one: minus the last slope), length k - 1."""
    slopes = np.append(np.diff(v) / np.diff(t), 0.0)
    return np.diff(slopes)


def _fit_on_kinks(t: np.ndarray, z: np.ndarray, omega: np.ndarray, kinks: np.ndarray):
    """Least-squares fit among functions that bend only at ``t[kinks]``.

    Such a function is linear on [t_0, first kink] (extended), linear between kinks and
    constant after the last kink; it is parameterised by its values at the nodes
    ``[t_0] + t[kinks]`` (hat functions), so the normal equations are tridiagonal and
    well conditioned. Returns the values at all points and the slope increase at each
    kink.
    """
    from scipy.linalg import solveh_banded

    nodes = np.concatenate([[0], kinks]).astype(np.int64)
    r = nodes.shape[0]
    tn = t[nodes]
    seg = np.searchsorted(tn, t, side="right") - 1  # node at or left of each point
    inside = seg < r - 1
    lam = np.zeros_like(t)
    nxt = np.minimum(seg + 1, r - 1)
    lam[inside] = (t[inside] - tn[seg[inside]]) / (tn[nxt[inside]] - tn[seg[inside]])
    a, b = 1.0 - lam, lam
    diag = np.bincount(seg, weights=omega * a * a, minlength=r)
    diag += np.bincount(nxt[inside], weights=(omega * b * b)[inside], minlength=r)
    off = np.bincount(seg[inside], weights=(omega * a * b)[inside], minlength=r)[: r - 1]
    rhs = np.bincount(seg, weights=omega * a * z, minlength=r)
    rhs += np.bincount(nxt[inside], weights=(omega * b * z)[inside], minlength=r)
    if r == 1:
        u = rhs / diag
    else:
        band = np.zeros((2, r))
        band[0, 1:] = off
        band[1] = diag
        u = solveh_banded(band, rhs)
    values = a * u[seg] + b * u[nxt]
    node_slopes = np.append(np.diff(u) / np.diff(tn), 0.0)
    return values, np.diff(node_slopes)


def _active_set_polish(
    x: np.ndarray, z: np.ndarray, omega: np.ndarray, start: np.ndarray
) -> np.ndarray:
    """Exact convex regression by Lawson-Hanson iterations on the hinge basis.

    Every convex non-increasing f on the points is ``c + sum_q delta_q (t_q - t)_+`` with
    ``delta_q >= 0`` (the slope increase at point q >= 1; at the last point, minus the last
    slope), so the fit is a non-negative least-squares problem with a free intercept
    (Meyer's hinge algorithm). Started from the clearly positive kinks of the repaired
    solver answer ``start``, the iterations usually end after a few steps at the exact
    optimum; each costs O(k) (tridiagonal least squares on the current kinks, and the
    hinge gradients by cumulative sums). The answer is kept only when its objective is
    not above the start's, so a stalled iteration can never hurt.
    """
    k = x.shape[0]
    t = (x - x[0]) / (x[-1] - x[0])
    # The solver leaves tiny positive kinks everywhere (interior point); starting from all
    # of them would cost O(k) steps. Start from its clearly positive kinks, dropping those
    # whose least-squares fit bends the wrong way until the fit is convex (at worst no
    # kink: a constant), which is a consistent Lawson-Hanson start.
    delta = _kinks(t, start)
    passive = delta > 1e-6 * float(delta.max(initial=0.0))  # over kinks at t[1:]
    for _ in range(k):
        kinks = np.flatnonzero(passive) + 1
        v, d_fit = _fit_on_kinks(t, z, omega, kinks)
        if (d_fit > 0).all():
            break
        passive[kinks[d_fit <= 0] - 1] = False
    delta = np.zeros(k - 1)
    delta[kinks - 1] = d_fit
    eps = np.finfo(np.float64).eps
    for _ in range(3 * k):
        for _inner in range(k + 1):  # least squares on the passive kinks, stay feasible
            kinks = np.flatnonzero(passive) + 1
            fit, d_fit = _fit_on_kinks(t, z, omega, kinks)
            bad = d_fit <= 0
            if not bad.any():
                v, delta = fit, np.zeros(k - 1)
                delta[kinks - 1] = d_fit
                break
            cur = delta[kinks - 1]
            alpha = float(np.min(cur[bad] / (cur[bad] - d_fit[bad])))
            v = v + alpha * (fit - v)
            new = cur + alpha * (d_fit - cur)
            delta = np.zeros(k - 1)
            delta[kinks - 1] = new
            drop = kinks[new <= eps * (np.abs(cur).max() + eps)] - 1
            passive[drop] = False
            delta[drop] = 0.0
        # Gradient of 0.5 * objective along each hinge (t_q - t)_+, q = 1 .. k-1.
        resid = omega * (z - v)
        c0, c1 = np.cumsum(resid)[:-1], np.cumsum(resid * t)[:-1]
        grad = t[1:] * c0 - c1
        grad[passive] = -np.inf
        q = int(np.argmax(grad))
        if not grad[q] > 10.0 * k * eps * float(np.abs(resid).sum() + eps):
            break
        passive[q] = True
    if _objective(v, z, omega) <= _objective(start, z, omega):
        return v
    return start


# ----------------------------------------------------------------------------------------
# Budget allocation
# ----------------------------------------------------------------------------------------

CurveLike = PiecewiseLinear | Callable[[np.ndarray], Any] | tuple


@dataclass(frozen=True)
class _AllocSpec:
    """Validated allocation problem; part i gets ``lo[i] + g * k[i]`` bits, 0 <= k <= cap."""

    masses: np.ndarray  # (N,) float64 >= 0
    total: int  # budget in bits
    lo: np.ndarray  # (N,) int64 minimum bits
    cap: np.ndarray  # (N,) int64 most units above lo
    g: int  # bits per unit
    capacity: int  # units available: (total - sum(lo)) // g

    @property
    def n_parts(self) -> int:
        return int(self.lo.shape[0])

    def bits(self, i: int, units) -> np.ndarray:
        return self.lo[i] + self.g * np.asarray(units, dtype=np.float64)


def _int_vector(value, name: str, n: int) -> np.ndarray:
    """Scalar or length-``n`` array of non-negative integers as int64."""
    arr = np.asarray(value)
    if arr.dtype.kind == "b" or arr.dtype.kind not in "iuf":
        raise InputError(f"{name} must hold integers (bits), got dtype {arr.dtype}")
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.ndim != 1 or arr.shape[0] != n:
        raise InputError(f"{name} has shape {arr.shape}; pass a scalar or one value per part ({n})")
    if arr.dtype.kind == "f":
        if not np.isfinite(arr).all() or not (arr == np.round(arr)).all():
            i = int(np.argmax(~np.isfinite(arr) | (arr != np.round(arr))))
            raise InputError(f"{name} must hold whole numbers of bits; {name}[{i}]={arr[i]!r}")
    out = arr.astype(np.int64)
    if (out < 0).any():
        i = int(np.argmax(out < 0))
        raise InputError(f"{name} must be non-negative; {name}[{i}]={out[i]}")
    return out


def _check_allocation(curves, masses, total, minimum, maximum, granularity) -> _AllocSpec:
    """Validate the arguments shared by :func:`allocate_budget` and the DP."""
    if isinstance(curves, PiecewiseLinear) or callable(curves) or not isinstance(curves, Sequence):
        raise InputError("curves must be a sequence (list or tuple) with one curve per part")
    n = len(curves)
    if n == 0:
        raise InputError("curves is empty; pass one curve per part")
    m = _as_1d_float(masses, "masses")
    if m.shape[0] == 1 and n > 1:
        m = np.full(n, m[0])
    if m.shape[0] != n:
        raise InputError(f"masses has {m.shape[0]} entries but there are {n} curves")
    if (m < 0).any():
        i = int(np.argmax(m < 0))
        raise InputError(f"masses must be non-negative; masses[{i}]={m[i]:g}")
    total = check_int(total, "total", 0)
    g = check_int(granularity, "granularity", 1)
    lo = _int_vector(minimum, "minimum", n)
    hi = (
        np.full(n, total, dtype=np.int64) if maximum is None else _int_vector(maximum, "maximum", n)
    )
    if (hi < lo).any():
        i = int(np.argmax(hi < lo))
        raise InputError(
            f"maximum[{i}]={hi[i]} bits is below minimum[{i}]={lo[i]} bits; "
            "raise the maximum or lower the minimum"
        )
    need = int(lo.sum())
    if need > total:
        raise InputError(
            f"budget {total} bits is below the {n} part headers of {need} bits in total; "
            f"raise the budget to at least {need}"
        )
    hi = np.minimum(hi, total)
    return _AllocSpec(
        masses=m,
        total=total,
        lo=lo,
        cap=(hi - lo) // g,
        g=g,
        capacity=(total - need) // g,
    )


def _evaluate_curve(curve, bits: np.ndarray, i: int) -> np.ndarray:
    """Values of a callable curve at ``bits`` (vectorised call, else one call per point)."""
    try:
        out = np.asarray(curve(bits), dtype=np.float64)
        if out.shape != bits.shape:
            raise ValueError("shape")
    except Exception:  # scalar-only callables: retry point by point
        try:
            out = np.array([float(curve(float(b))) for b in bits], dtype=np.float64)
        except Exception as exc:
            raise InputError(f"curves[{i}] could not be evaluated: {exc}") from None
    if not np.isfinite(out).all():
        j = int(np.argmax(~np.isfinite(out)))
        raise InputError(f"curves[{i}] is not finite at {bits[j]:g} bits ({out[j]!r})")
    return out


def _unit_grid(cap: int, grid_points: int) -> np.ndarray:
    """Unit counts where a callable curve is sampled: all of them, or a lin+geom mix."""
    if cap + 1 <= grid_points:
        return np.arange(cap + 1, dtype=np.int64)
    half = max(2, grid_points // 2)
    pts = np.concatenate(
        [np.linspace(0, cap, half), np.geomspace(1, cap, grid_points - half), [0, 1, cap]]
    )
    return np.unique(np.round(pts).astype(np.int64))


def _convex_curve(curve, i: int, spec: _AllocSpec, grid_points: int) -> PiecewiseLinear:
    """Turn an accepted curve description into a convex non-increasing PiecewiseLinear."""
    if isinstance(curve, PiecewiseLinear):
        if not curve.is_convex_decreasing():
            raise InputError(
                f"curves[{i}] is not convex and non-increasing; fit it with "
                "fit_convex_decreasing, or use allocate_budget_dp for non-convex curves"
            )
        return curve
    if isinstance(curve, tuple) and len(curve) == 2:
        return fit_convex_decreasing(curve[0], curve[1])
    if callable(curve):
        units = _unit_grid(int(spec.cap[i]), grid_points)
        bits = spec.bits(i, units)
        return _fit_convex(bits, _evaluate_curve(curve, bits, i), np.ones_like(bits))
    raise InputError(
        f"curves[{i}] is a {type(curve).__name__}; pass a PiecewiseLinear, a callable "
        "f(bits) or a pair (budgets, errors) of proxy points"
    )


def allocate_budget(
    curves: Sequence[CurveLike],
    masses,
    total: int,
    minimum,
    maximum=None,
    *,
    granularity: int = 1,
    grid_points: int = 257,
) -> np.ndarray:
    """Split a bit budget across parts to minimise the mass-weighted error.

    Solves ``minimise sum_i masses_i * f_i(B_i)`` subject to ``sum_i B_i <= total`` and
    ``minimum_i <= B_i <= maximum_i``, with ``B_i - minimum_i`` a multiple of
    ``granularity``. Used for per-class budget splits and, by the MPI layer, to split a
    global budget across ranks.

    Method: each ``f_i`` is a convex non-increasing :class:`PiecewiseLinear`, i.e.
    ``f_i(B) = max_k (a_ik + b_ik B)``, so the continuous relaxation is the LP
    ``minimise sum_i masses_i t_i`` s.t. ``t_i >= a_ik + b_ik B_i``, solved with cvxpy
    (:func:`pick_solver` ``("LP")``). The integer answer starts from the LP solution
    floored to whole units; a greedy fill hands the leftover units to the part whose
    ``masses_i * f_i`` decreases most per unit (in runs that stay within one linear piece),
    and a pairwise exchange moves single units from the part that loses least to the part
    that gains most while that strictly helps.

    Parameters
    ----------
    curves : sequence of PiecewiseLinear, callable or (budgets, errors) pairs
        One error-vs-bits curve per part. A :class:`PiecewiseLinear` must be convex and
        non-increasing. A callable ``f(bits)`` (vectorised or scalar) is sampled on the unit
        grid of its part (all units, or ``grid_points`` of them spread linearly and
        geometrically) and fitted with :func:`fit_convex_decreasing`; a pair of arrays
        (proxy budgets and errors, as an MPI rank sends them) is fitted directly.
    masses : array-like of shape (n_parts,) or scalar
        Non-negative weights ``U_i`` of the parts (e.g. their data mass).
    total : int
        Budget in bits.
    minimum : int or array-like of int
        Bits each part needs at least (its header).
    maximum : int or array-like of int, optional
        Most bits a part may get (default and upper limit: ``total``).
    granularity : int, default 1
        Bits per allocation unit (e.g. the bits of one coreset point): every
        ``B_i - minimum_i`` is a multiple of it.
    grid_points : int, default 257
        Samples per callable curve.

    Returns
    -------
    ndarray of shape (n_parts,), int64
        Bits per part. ``sum <= total`` and the bounds hold. Leftover units that no curve
        can use (zero marginal gain) are still handed out, spread evenly over the parts
        with room, so the budget is used up to ``sum(maximum)``.

    Raises
    ------
    InputError
        For invalid input, a non-convex PiecewiseLinear, or an infeasible problem
        (``sum(minimum) > total``, or a ``maximum`` below its ``minimum``).

    Notes
    -----
    **Optimality.** Let ``phi_i(k) = masses_i f_i(minimum_i + granularity k)``. Each
    ``phi_i`` is discretely convex (a convex function restricted to an arithmetic grid),
    so the integer problem is a separable convex resource allocation. After the fill
    either every part is at its maximum or ``sum k_i`` equals the capacity; such a point is
    optimal iff no single-unit exchange improves it (Lagrangian argument: with ``lambda``
    between the largest gain ``phi_i(k_i) - phi_i(k_i + 1)`` and the smallest loss
    ``phi_j(k_j - 1) - phi_j(k_j)``, every ``k_i`` minimises ``phi_i(k) + lambda k`` over its
    box). The exchange loop stops only there, so the result equals the dynamic programme
    :func:`allocate_budget_dp` on the same (fitted) curves, up to the comparison tolerance
    ``1e-12`` times the objective scale. The LP only provides a starting point close to the
    optimum (within one unit per part for an exact LP solution, by Hochbaum's proximity
    theorem), which keeps the number of greedy and exchange steps of order ``n_parts`` for
    any budget size; if every LP solver fails, the greedy starts from the minimums (still
    exact, warns). The optimum is over the fitted curves: a callable is optimised through
    its convex fit.

    Examples
    --------
    >>> f = PiecewiseLinear([0, 10, 20], [1.0, 0.2, 0.0])
    >>> allocate_budget([f, f], masses=[1, 3], total=24, minimum=2).tolist()
    [10, 14]
    """
    spec = _check_allocation(curves, masses, total, minimum, maximum, granularity)
    grid_points = check_int(grid_points, "grid_points", 3)
    fitted = [_convex_curve(c, i, spec, grid_points) for i, c in enumerate(curves)]
    units = _allocate(fitted, spec)
    return spec.lo + spec.g * units


def _allocate(curves: list[PiecewiseLinear], spec: _AllocSpec) -> np.ndarray:
    """Units per part: LP relaxation, flooring, greedy fill, exchange repair."""
    n, C = spec.n_parts, spec.capacity
    if C == 0 or not spec.cap.any():
        return np.zeros(n, dtype=np.int64)
    if int(spec.cap.sum()) <= C:  # everyone gets their maximum (curves are non-increasing)
        return spec.cap.copy()
    try:
        start = _lp_units(curves, spec)
    except SolverError as exc:
        warnings.warn(
            f"LP relaxation failed ({exc}); allocating greedily from the minimums",
            RuntimeWarning,
            stacklevel=3,
        )
        start = np.zeros(n, dtype=np.int64)
    return _integer_repair(curves, spec, start)


def _lp_units(curves: list[PiecewiseLinear], spec: _AllocSpec) -> np.ndarray:
    """Continuous optimum of the scaled LP, floored to whole units and clipped to the box."""
    cp = _cvxpy()
    n, g, C = spec.n_parts, spec.g, spec.capacity
    span = float(g * C)  # B_i = lo_i + span * y_i, sum(y) <= 1
    hi_bits = spec.lo + g * spec.cap
    fscale = max(
        max(abs(c(float(spec.lo[i]))), abs(c(float(hi_bits[i])))) for i, c in enumerate(curves)
    )
    fscale = fscale if fscale > 0 else 1.0
    mscale = float(spec.masses.max()) or 1.0
    rows_a, rows_b, owner = [], [], []
    for i, c in enumerate(curves):
        a, b = c.as_max_of_affine()
        # Keep the lines of the pieces that meet [lo_i, hi_i] (the others never attain the
        # maximum there); piece j covers [x_j, x_{j+1}], the last line covers [x_last, inf).
        x = c.breakpoints
        left = np.append(x, -np.inf)[: a.shape[0]]
        left[0] = -np.inf
        right = np.append(x[1:], np.inf)
        keep = (right >= spec.lo[i]) & (left <= hi_bits[i])
        rows_a.append((a[keep] + b[keep] * spec.lo[i]) / fscale)
        rows_b.append(b[keep] * span / fscale)
        owner.append(np.full(int(keep.sum()), i))
    a_all, b_all = np.concatenate(rows_a), np.concatenate(rows_b)
    own = np.concatenate(owner)
    r = own.shape[0]
    E = sparse.csr_matrix((np.ones(r), (np.arange(r), own)), shape=(r, n))
    y = cp.Variable(n)
    t = cp.Variable(n)
    constraints = [
        E @ t >= a_all + cp.multiply(b_all, E @ y),
        y >= 0,
        y <= spec.cap / C,
        cp.sum(y) <= 1,
    ]
    problem = cp.Problem(cp.Minimize((spec.masses / mscale) @ t), constraints)
    _solve(problem, "LP")
    units = np.floor(np.asarray(y.value, dtype=np.float64) * C + 1e-7)
    return np.clip(units, 0, spec.cap).astype(np.int64)


def _integer_repair(curves: list[PiecewiseLinear], spec: _AllocSpec, k: np.ndarray) -> np.ndarray:
    """Greedy fill and pairwise exchange from ``k`` to an optimal integer allocation."""
    n, C, cap, g = spec.n_parts, spec.capacity, spec.cap, spec.g
    k = k.copy()
    m = spec.masses

    def phi(i: int, units) -> float:
        return float(m[i] * curves[i](float(spec.lo[i] + g * units)))

    def up(i: int) -> float:  # decrease of phi_i from one more unit
        return phi(i, k[i]) - phi(i, k[i] + 1) if k[i] < cap[i] else -np.inf

    def down(i: int) -> float:  # increase of phi_i from one unit less
        return phi(i, k[i] - 1) - phi(i, k[i]) if k[i] > 0 else np.inf

    scale = sum(abs(phi(i, 0)) + abs(phi(i, cap[i])) for i in range(n))
    tol = 1e-12 * scale + 1e-300

    # Numerical overshoot of the LP: take back the cheapest units.
    gains = np.array([up(i) for i in range(n)])
    losses = np.array([down(i) for i in range(n)])
    while int(k.sum()) > C:
        j = int(np.argmin(losses))
        k[j] -= 1
        gains[j], losses[j] = up(j), down(j)

    # Greedy fill in runs along linear pieces (same order as one-unit greedy).
    left = C - int(k.sum())
    while left > 0:
        i = int(np.argmax(gains))
        if gains[i] == -np.inf:
            break  # every part at its maximum
        if gains[i] <= tol:
            _spread_evenly(k, cap, left)
            gains = np.array([up(i) for i in range(n)])
            losses = np.array([down(i) for i in range(n)])
            break
        bits = float(spec.lo[i] + g * k[i])
        x = curves[i].breakpoints
        nxt = int(np.searchsorted(x, bits, side="right"))
        run = math.floor((x[nxt] - bits) / g) if nxt < x.shape[0] else left
        step = int(max(1, min(run, left, cap[i] - k[i])))
        k[i] += step
        left -= step
        gains[i], losses[i] = up(i), down(i)

    # Pairwise exchange until no single-unit move strictly helps (optimality condition).
    for _ in range(10 * (n + C) + 100):
        i1 = int(np.argmax(gains))
        masked = losses.copy()
        masked[i1] = np.inf
        j1 = int(np.argmin(masked))
        j2 = int(np.argmin(losses))
        masked = gains.copy()
        masked[j2] = -np.inf
        i2 = int(np.argmax(masked))
        d1, d2 = gains[i1] - losses[j1], gains[i2] - losses[j2]
        i, j, delta = (i1, j1, d1) if d1 >= d2 else (i2, j2, d2)
        if not delta > tol:
            break
        k[i] += 1
        k[j] -= 1
        gains[i], losses[i] = up(i), down(i)
        gains[j], losses[j] = up(j), down(j)
    return k


def _spread_evenly(k: np.ndarray, cap: np.ndarray, left: int) -> None:
    """Hand ``left`` units out as evenly as the room ``cap - k`` allows (in place)."""
    while left > 0:
        room = cap - k
        open_ = np.flatnonzero(room > 0)
        if open_.size == 0:
            return
        share = max(left // open_.size, 1)
        for i in open_:
            give = int(min(room[i], share, left))
            k[i] += give
            left -= give
            if left == 0:
                return


#: Largest DP table (parts x capacity x units per part) allocate_budget_dp accepts.
_DP_MAX_CELLS = 200_000_000


def allocate_budget_dp(
    curves: Sequence[PiecewiseLinear | Callable[[np.ndarray], Any] | tuple],
    masses,
    total: int,
    minimum,
    maximum=None,
    *,
    granularity: int = 1,
) -> np.ndarray:
    """Exact budget split by dynamic programming over whole units (any curves).

    The reference for :func:`allocate_budget`: same problem, same parameters, but the
    curves are evaluated exactly on the unit grid ``minimum_i + granularity * k`` and need
    not be convex or monotone. Cost ``O(n_parts * capacity * max units per part)`` with
    ``capacity = (total - sum(minimum)) // granularity``: for small instances only.

    Parameters
    ----------
    curves : sequence of PiecewiseLinear, callable or (budgets, errors) pairs
        One curve per part. Callables are called on arrays of bits (or point by point);
        pairs are fitted with :func:`fit_convex_decreasing` exactly as
        :func:`allocate_budget` does.
    masses, total, minimum, maximum, granularity
        As in :func:`allocate_budget`.

    Returns
    -------
    ndarray of shape (n_parts,), int64
        Bits per part minimising ``sum_i masses_i f_i(B_i)`` exactly (ties: fewer units
        to later parts). ``sum <= total`` and the bounds hold.

    Raises
    ------
    InputError
        For invalid or infeasible input, or a table above 2e8 cells (raise
        ``granularity``).

    Examples
    --------
    >>> f = PiecewiseLinear([0, 10, 20], [1.0, 0.2, 0.0])
    >>> allocate_budget_dp([f, f], masses=[1, 3], total=24, minimum=2).tolist()
    [10, 14]
    """
    spec = _check_allocation(curves, masses, total, minimum, maximum, granularity)
    C = spec.capacity
    kmax = np.minimum(spec.cap, C)
    cells = int(spec.n_parts * (C + 1) * (int(kmax.max()) + 1))
    if cells > _DP_MAX_CELLS:
        raise InputError(
            f"the exact DP would need {cells:.3g} table cells (capacity {C} units of "
            f"{spec.g} bits); raise granularity or use allocate_budget"
        )
    tables = []
    for i, c in enumerate(curves):
        if isinstance(c, tuple) and len(c) == 2:
            c = fit_convex_decreasing(c[0], c[1])
        elif not callable(c):
            raise InputError(
                f"curves[{i}] is a {type(c).__name__}; pass a PiecewiseLinear, a callable "
                "f(bits) or a pair (budgets, errors) of proxy points"
            )
        bits = spec.bits(i, np.arange(int(kmax[i]) + 1))
        tables.append(spec.masses[i] * _evaluate_curve(c, bits, i))
    return spec.lo + spec.g * _dp_units(tables, C)


def _dp_units(tables: list[np.ndarray], C: int) -> np.ndarray:
    """Units minimising ``sum_i tables[i][k_i]`` s.t. ``sum k_i <= C`` (exact DP)."""
    n = len(tables)
    best = np.zeros(C + 1)  # best[c]: optimum of the parts so far using at most c units
    choice = np.zeros((n, C + 1), dtype=np.int64)
    for i, phi in enumerate(tables):
        new = np.full(C + 1, np.inf)
        arg = choice[i]
        for k in range(phi.shape[0]):
            cand = best[: C + 1 - k] + phi[k]
            better = cand < new[k:]
            new[k:][better] = cand[better]
            arg[k:][better] = k
        best = new
    units = np.zeros(n, dtype=np.int64)
    c = C
    for i in range(n - 1, -1, -1):
        units[i] = choice[i, c]
        c -= units[i]
    return units


# ----------------------------------------------------------------------------------------
# Coreset weight refinement
# ----------------------------------------------------------------------------------------

#: Temporaries of one row block of X stay below this many bytes.
_BLOCK_BYTES = 64 * 2**20


class WeightResiduals(NamedTuple):
    """Per-cluster mismatch of a weighted coreset, in the units of :func:`refine_weights`.

    ``mass**2 + moment_weight * moment**2`` is the data part of its objective.
    """

    mass: float
    """``sqrt(sum_c (W_c - M_c)**2) / U``."""
    moment: float
    """``sqrt(sum_c ||sum_{j in c} w_j (s_j - xbar) - sum_{p in c} u_p (p - xbar)||**2)``
    divided by ``U sigma``."""


@dataclass(frozen=True)
class _Moments:
    """Scaled statistics of the refinement problem (see :func:`refine_weights`)."""

    labels_points: np.ndarray  # (m,) cluster of each coreset point, 0..K-1
    mass: np.ndarray  # (K,) M_c / U
    moment: np.ndarray  # (K, d) sum_{p in c} u_p (p - xbar) / (U sigma)
    points: np.ndarray  # (m, d) (s_j - xbar) / sigma
    total: float  # U


def _check_refine_input(points, weights, X, sample_weight, assignment_X, assignment_points):
    """Validate the shared input of refine_weights and weight_residuals."""
    S = check_data(points, name="points")
    X = check_data(X, name="X")
    if S.shape[1] != X.shape[1]:
        raise InputError(
            f"points have {S.shape[1]} features but X has {X.shape[1]}; "
            "pass a coreset of the same data"
        )
    m, n = S.shape[0], X.shape[0]
    w0 = _as_1d_float(weights, "weights")
    if w0.shape[0] != m:
        raise InputError(f"weights has {w0.shape[0]} entries but there are {m} points")
    if (w0 < 0).any():
        i = int(np.argmax(w0 < 0))
        raise InputError(f"weights must be non-negative; weights[{i}]={w0[i]:g}")
    u = check_sample_weight(sample_weight, n)
    if (assignment_X is None) != (assignment_points is None):
        raise InputError(
            "pass both assignment_X and assignment_points, or neither (then both X and "
            "the points are assigned to their nearest coreset point)"
        )
    labels = None
    if assignment_X is not None:
        lx, lp = np.asarray(assignment_X), np.asarray(assignment_points)
        for arr, name, size in ((lx, "assignment_X", n), (lp, "assignment_points", m)):
            if arr.ndim != 1 or arr.shape[0] != size:
                raise InputError(
                    f"{name} has shape {arr.shape}; pass one cluster label per row ({size})"
                )
            if arr.dtype.kind == "f" and not np.isfinite(arr).all():
                raise InputError(f"{name} contains NaN or infinite labels")
        try:
            uniq = np.unique(np.concatenate([lx, lp]))
        except TypeError:
            raise InputError("cluster labels must be comparable (e.g. integers)") from None
        labels = (np.searchsorted(uniq, lx), np.searchsorted(uniq, lp), uniq.shape[0])
    return S, w0, X, u, labels


def _moments(S: np.ndarray, X: np.ndarray, u: np.ndarray, labels) -> _Moments:
    """Cluster labels and the scaled masses and centred first moments (chunked over X)."""
    m, d = S.shape
    n = X.shape[0]
    if labels is None:
        _, lab_x = min_sq_distances(X, S)
        # Each point's nearest point is itself, or the first copy of it: min_sq_distances
        # breaks ties towards the lowest index, so exact duplicates (compared in X's dtype,
        # as the distances are) share the first copy's cell.
        _, first, inverse = np.unique(
            np.asarray(S, dtype=X.dtype), axis=0, return_index=True, return_inverse=True
        )
        lab_s = first[inverse.ravel()]
        K = m
    else:
        lab_x, lab_s, K = labels
    U = float(u.sum())
    xbar = weighted_mean(X, u)
    sums = np.zeros((K, d))
    sq = 0.0
    step = max(1, min(n, _BLOCK_BYTES // (d * 8 * 2)))
    for s in range(0, n, step):
        e = min(n, s + step)
        block = np.asarray(X[s:e], dtype=np.float64) - xbar
        ub = u[s:e]
        sq += float(ub @ np.einsum("ij,ij->i", block, block))
        onehot = sparse.csr_matrix((ub, (lab_x[s:e], np.arange(e - s))), shape=(K, e - s))
        sums += onehot @ block
    sigma = math.sqrt(sq / U)
    if not sigma > 0:
        sigma = 1.0  # all rows equal: the moments are 0 and any positive scale will do
    masses = np.bincount(lab_x, weights=u, minlength=K)
    return _Moments(
        labels_points=np.asarray(lab_s, dtype=np.int64),
        mass=masses / U,
        moment=sums / (U * sigma),
        points=(np.asarray(S, dtype=np.float64) - xbar) / sigma,
        total=U,
    )


def refine_weights(
    points,
    weights,
    X,
    sample_weight=None,
    assignment_X=None,
    assignment_points=None,
    *,
    moment_weight: float = 1.0,
    stay_weight: float = 1e-3,
) -> np.ndarray:
    r"""Adjust coreset weights so per-cluster masses and first moments match the data.

    Solves the non-negative QP (cvxpy, :func:`pick_solver` ``("QP")``)

    .. math::

        \min_{w \ge 0}\;
        \sum_c \Big(\frac{W_c(w) - M_c}{U}\Big)^2
        + \lambda \sum_c \Big\lVert
            \frac{\sum_{j \in c} w_j (s_j - \bar x) - \sum_{p \in c} u_p (p - \bar x)}
                 {U \sigma}\Big\rVert_2^2
        + \gamma \Big\lVert \frac{w - w^0}{U} \Big\rVert_2^2

    where ``c`` runs over the clusters, ``W_c(w) = sum_{j in c} w_j`` and
    ``M_c = sum_{p in c} u_p`` are the coreset's and the data's masses of cluster c,
    ``U = sum_p u_p``, ``xbar = sum_p u_p p / U`` the weighted data mean,
    ``sigma = sqrt(sum_p u_p ||p - xbar||**2 / U)`` the RMS distance to it (1 when all rows
    are equal), ``lambda = moment_weight``, ``gamma = stay_weight`` and ``w0 = weights``.
    Dividing by ``U`` and ``U sigma`` makes the three terms dimensionless and comparable;
    centring at ``xbar`` makes the result invariant to translating the data. Clusters with
    no coreset point add a constant and are ignored; a cluster with coreset points but no
    data pulls their weights towards 0.

    Parameters
    ----------
    points : array-like of shape (m, d)
        Coreset points ``s_j`` (e.g. the decoded, quantized values).
    weights : array-like of shape (m,)
        Initial non-negative weights ``w0``.
    X : array-like of shape (n, d)
        The full data ``p`` (float32 is kept as float32; processed in row blocks).
    sample_weight : array-like of shape (n,), optional
        Data weights ``u`` (default 1).
    assignment_X, assignment_points : array-like of shape (n,) and (m,), optional
        Cluster labels of the data rows and of the coreset points (any comparable labels,
        e.g. k-means labels). Pass both or neither; by default every row of ``X`` and every
        coreset point goes to its nearest coreset point (Voronoi cells of the coreset;
        ties to the lowest index, so exact duplicates among the points share a cell).
    moment_weight : float, default 1.0
        ``lambda >= 0``, weight of the first-moment residuals.
    stay_weight : float, default 1e-3
        ``gamma >= 0``, weight of the pull towards the initial weights (with
        ``gamma > 0`` the minimiser is unique).

    Returns
    -------
    ndarray of shape (m,), float64
        The refined weights, all ``>= 0``.

    Raises
    ------
    InputError
        For non-finite or mismatched input, negative weights, or only one assignment.
    SolverError
        When no open-source QP solver is installed or all fail.

    Notes
    -----
    The objective equals ``w^T Q w - 2 q^T w + const`` (in units of ``U``) with ``Q``
    block diagonal over clusters: ``Q_jk = [c_j = c_k] (1 + lambda t_j . t_k) +
    gamma [j = k]`` with ``t_j = (s_j - xbar) / sigma``. ``Q`` is built block by block from
    the coreset points only (O(sum_c m_c**2 d)); ``X`` is read once for the distances
    (row blocks of at most 64 MB of temporaries) and once for the cluster sums (sparse
    one-hot products), so no n x m matrix is ever formed. When every cluster holds a single
    coreset point (the default Voronoi cells of distinct points) the QP is separable and is
    solved in closed form, ``w_j = max(0, q_j / Q_jj)``, without calling a solver.
    Otherwise the interior-point answer is polished by a few active-set steps to an exact
    KKT point (exact zeros, weights accurate to rounding), which is kept only when it is
    no worse.

    Examples
    --------
    >>> X = np.array([[0.0], [1.0], [10.0], [11.0], [12.0]])
    >>> refine_weights([[0.5], [11.0]], [1.0, 1.0], X, stay_weight=0.0).round(6).tolist()
    [2.0, 3.0]
    """
    S, w0, X, u, labels = _check_refine_input(
        points, weights, X, sample_weight, assignment_X, assignment_points
    )
    lam = _nonneg_float(moment_weight, "moment_weight")
    gam = _nonneg_float(stay_weight, "stay_weight")
    return _refine(_moments(S, X, u, labels), w0, lam, gam)


def _nonneg_float(value, name: str) -> float:
    """A finite float >= 0, or a clear InputError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a number, got {value!r}")
    value = float(value)
    if not (math.isfinite(value) and value >= 0):
        raise InputError(f"{name}={value!r} must be finite and >= 0")
    return value


def _refine(mom: _Moments, w0: np.ndarray, lam: float, gam: float) -> np.ndarray:
    """Worker of :func:`refine_weights` (scaled statistics, clean input)."""
    lab = mom.labels_points
    T = mom.points
    m = T.shape[0]
    q = mom.mass[lab] + lam * np.einsum("ij,ij->i", T, mom.moment[lab]) + gam * (w0 / mom.total)
    diag = 1.0 + lam * np.einsum("ij,ij->i", T, T) + gam
    counts = np.bincount(lab)
    if counts.max() == 1:
        return np.maximum(q / diag, 0.0) * mom.total

    # Block-diagonal Q: singletons on the diagonal, dense blocks for shared clusters.
    order = np.argsort(lab, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    rows, cols, vals = [np.arange(m)], [np.arange(m)], [diag]
    single = np.ones(m, dtype=bool)
    for c in np.flatnonzero(counts > 1):
        idx = order[starts[c] : starts[c + 1]]
        single[idx] = False
        block = 1.0 + lam * (T[idx] @ T[idx].T)
        block[np.diag_indices_from(block)] += gam
        rows.append(np.repeat(idx, idx.shape[0]))
        cols.append(np.tile(idx, idx.shape[0]))
        vals.append(block.ravel())
    rows[0], cols[0], vals[0] = rows[0][single], cols[0][single], vals[0][single]
    Q = sparse.csc_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(m, m)
    )
    Q = (Q + Q.T) * 0.5

    cp = _cvxpy()
    w = cp.Variable(m)
    problem = cp.Problem(cp.Minimize(cp.quad_form(w, cp.psd_wrap(Q)) - 2.0 * q @ w), [w >= 0])
    _solve(problem, "QP")
    w_hat = _polish_nonneg_qp(Q, q, np.maximum(np.asarray(w.value, dtype=np.float64), 0.0))
    return w_hat * mom.total


def _polish_nonneg_qp(Q, q: np.ndarray, w: np.ndarray) -> np.ndarray:
    """Exact KKT point of ``min w'Qw - 2q'w, w >= 0`` near a solver answer, if one is found.

    Interior-point answers have no exact zeros and are accurate to the solver tolerance
    only. Guess the support (weights above 1e-7 of the largest), solve ``Q_FF w_F = q_F``
    (sparse, block diagonal), drop weights that come out <= 0, add zero weights whose
    gradient ``(Qw - q)_j`` is negative, and repeat (at most 50 times). A point with
    ``w_F > 0`` and a non-negative gradient off the support satisfies the KKT conditions,
    so it is the optimum (Q is positive definite when ``stay_weight > 0``); it is returned
    when its objective is not above the solver's. Otherwise the solver's answer stands.
    """
    from scipy.sparse.linalg import MatrixRankWarning, spsolve

    def objective(x: np.ndarray) -> float:
        return float(x @ (Q @ x) - 2.0 * q @ x)

    tol = 1e-10 * float(np.abs(q).max() + np.abs(Q @ w).max() + 1e-300)
    free = w > 1e-7 * float(w.max(initial=0.0))
    for _ in range(50):
        idx = np.flatnonzero(free)
        x = np.zeros_like(w)
        if idx.size:
            with warnings.catch_warnings():
                warnings.simplefilter("error", MatrixRankWarning)
                try:
                    x[idx] = spsolve(Q[idx][:, idx].tocsc(), q[idx])
                except (MatrixRankWarning, RuntimeError):
                    return w
            if not np.isfinite(x).all():
                return w
        negative = free & (x <= 0)
        if negative.any():
            free &= ~negative
            continue
        violated = ~free & (Q @ x - q < -tol)
        if not violated.any():
            return x if objective(x) <= objective(w) + tol * float(np.abs(w).sum()) else w
        free |= violated
    return w


def weight_residuals(
    points,
    weights,
    X,
    sample_weight=None,
    assignment_X=None,
    assignment_points=None,
) -> WeightResiduals:
    """Per-cluster mass and first-moment mismatch of a weighted coreset.

    The two data terms of the :func:`refine_weights` objective, with the same clusters,
    centring and scaling (clusters without coreset points included), so
    ``mass**2 + moment_weight * moment**2`` is that objective minus its stay term.

    Parameters
    ----------
    points, weights, X, sample_weight, assignment_X, assignment_points
        As in :func:`refine_weights`.

    Returns
    -------
    WeightResiduals
        ``(mass, moment)``, both dimensionless (0 for a perfect match).

    Raises
    ------
    InputError
        As :func:`refine_weights`.
    """
    S, w0, X, u, labels = _check_refine_input(
        points, weights, X, sample_weight, assignment_X, assignment_points
    )
    mom = _moments(S, X, u, labels)
    K = mom.mass.shape[0]
    w = w0 / mom.total
    lab = mom.labels_points
    mass_c = np.bincount(lab, weights=w, minlength=K) - mom.mass
    moment_c = np.zeros_like(mom.moment)
    np.add.at(moment_c, lab, w[:, None] * mom.points)
    moment_c -= mom.moment
    return WeightResiduals(
        mass=float(np.sqrt(mass_c @ mass_c)),
        moment=float(np.sqrt(np.einsum("ij,ij->", moment_c, moment_c))),
    )
