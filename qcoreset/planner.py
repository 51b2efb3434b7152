"""The planner: minimum ML error under a communication budget (MECB).

For a budget of ``B`` bits the payload of a coreset of ``m`` rows quantized at ``s``
bits is ``payload(m, s) = H(s) + m * (d_var * b(s) + b_w)`` (exact, see
:mod:`qcoreset.payload`), so for every candidate bit depth ``s`` the largest size
that fits is ``m*(s)``. For every candidate ``(m*(s), s)`` the planner reports the
per-unit-weight worst-case bound

    bound(m, s) = E_cs(m) / U + Delta(s)

(``Delta(s)`` the quantizer's exact worst-case row error over the fitted data range)
and ranks the candidates by the *predicted* error

    e(m, s) = sqrt( (E_cs(m) / U)^2 * V_s / V + beta(s)^2 )

which models what a model trained on the coreset sees. Models average many coreset
rows (a centre is the mean of its cluster's rows, a linear model fits class moments),
so the rounding error of a row behaves like extra spread of the rows rather than a
worst-case displacement: it inflates every averaging error by ``sqrt(V_s / V)``, the
ratio of the rows' mean squared distance to ``k`` bicriteria centres after and before
quantization at ``s`` bits; only its systematic part ``beta(s)``, the shift of the
clusters' means (mass-weighted like ``E_cs`` and corrected for its sampling noise),
does not average out and stays even when every row is sent. ``V_s``, ``V`` and
``beta(s)`` are measured by quantizing a row sample at every ``s``. The worst case
``Delta(s)`` over-weights quantization: it would always trade rows for bits, while a
few bits per value and more rows are usually better (``benchmarks/reduction.py``
measures the gap to the best pair).

With ``quantizer="auto"`` the candidates are every (quantizer, depth) pair of the
per-column grid ``fixed`` and the transform coder ``pca`` (rows sent as ``r``
principal-component coefficients, the basis in the header), ranked by the same
prediction: what ``pca`` drops outside its ``r`` components is part of its error
``Q(p) - p`` and enters ``V_s`` and ``beta`` like rounding does. Its depths are measured
in the coordinates of its basis (:meth:`QuantizationEffect.at`), which costs
``O(n r^2)`` per depth after one evaluation in the data space.

``E_cs(m)`` comes from a *proxy* chosen by name (:data:`PROXIES`):

``exact``
    Builds the coreset with the chosen constructor at every candidate size and takes
    its reported ``cs_error`` (the slow reference the other proxies are judged by).
``evd``
    Eigenvalue tail of the (weighted) covariance of a row sample: ``c(m) ~ sum_{i>=m}
    lambda_i`` and ``E_cs(m)/U ~ sqrt(c(m))`` (the transport bound of a mass-weighted
    centre summary by Cauchy-Schwarz) up to the participation-ratio dimension ``D`` of
    the spectrum, continued past it as ``c(m) ~ m^(-2/D)`` (the k-means cost decay of
    ``D``-dimensional data): coreset sizes usually exceed the number of columns.
``kcenter``
    Farthest-first traversal of a row sample: the mean distance of the rows to their
    nearest of the first ``m`` centres, for every ``m`` in one pass.
``sampling``
    The importance-sampling standard error ``sqrt((S/m) * sum y^2/q - sum y^2) / U``
    of the constructor's own scores ``q`` (total ``S``) and test function ``y``,
    estimated on a row sample: ``E_cs(m) / U`` falls like ``1 / sqrt(m)``.

``auto`` picks ``sampling`` for the sampling constructors and ``kcenter`` for the
centre summaries.
"""

from __future__ import annotations

import inspect
import time
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import solve_triangular
from sklearn.utils import check_random_state

from ._errors import BudgetError, InputError
from ._kmeans import kmeans_plusplus_seeding, min_sq_distances, weighted_mean
from ._registry import Registry
from ._validation import check_data, check_labels, check_sample_weight
from .budget import parse_budget
from .constructors import (
    CONSTRUCTORS,
    _inclusion_probabilities,
    build_coreset,
    resolve_method,
)
from .payload import payload_nbytes
from .quantizers import QUANTIZERS, Quantizer, get_quantizer

__all__ = [
    "Plan",
    "RowSample",
    "PlanRow",
    "Proxy",
    "PROXIES",
    "register_proxy",
    "candidate_bits",
    "plan",
    "plan_weight_encoding",
    "max_coreset_size",
    "quantization_effect",
    "QuantizationEffect",
    "ErrorCurve",
    "error_curve",
    "class_sizes",
]

PROXIES: Registry[type[Proxy]] = Registry("proxy")

#: bit depths the planner tries for each quantizer
_CANDIDATES = {
    "fixed": tuple(range(1, 17)),
    "stochastic": tuple(range(1, 17)),
    "float": tuple(range(0, 24)),
    "none": (32,),
    # coefficients finer than the 8-bit basis they multiply gain nothing
    "pca": tuple(range(1, 9)),
}


def candidate_bits(quantizer: str) -> tuple[int, ...]:
    """Bit depths the planner considers for ``quantizer`` (1-16 for grids, 0-23 mantissa bits,
    1-8 for the coefficients of ``pca``)."""
    if quantizer in _CANDIDATES:
        return _CANDIDATES[quantizer]
    cls = QUANTIZERS.get(quantizer)
    lo, hi = cls.bits_range
    return tuple(range(lo, min(hi, 16) + 1)) if cls.uses_bits else (32,)


def plan_weight_encoding(method: str, sample_weight: np.ndarray) -> tuple[str, int]:
    """Weight encoding a constructor's output will need at most, known before it runs.

    A constructor declares its ``weight_kind``: ``"constant"`` (equal input weights
    give equal output weights per class), ``"counts"`` (integer input weights give
    integer output weights no larger than their total) or ``"real"``.

    Returns
    -------
    (encoding, bits_per_weight) : tuple
        ``("constant", 0)``, ``("counts", bit_length(floor(U)))`` or ``("float32", 32)``.
    """
    kind = CONSTRUCTORS.get(method).weight_kind
    u = sample_weight
    if kind == "constant" and (u == u[0]).all():
        return "constant", 0
    if kind == "counts" and (u == np.floor(u)).all() and u.sum() < 2**32:
        return "counts", max(1, int(u.sum()).bit_length())
    return "float32", 32


def max_coreset_size(budget_bits: int, *, header_bytes: int, row_bits: int) -> int:
    """Largest m with ``8 * (header_bytes + ceil(m * row_bits / 8)) <= budget_bits``.

    ``header_bytes`` counts everything but the body (header and CRC). Returns -1 when
    not even the header fits, and a huge number when rows cost no bits.
    """
    body_bytes = budget_bits // 8 - header_bytes
    if body_bytes < 0:
        return -1
    if row_bits == 0:
        return int(np.iinfo(np.int64).max)
    return (8 * body_bytes) // row_bits


# ----------------------------------------------------------------------------- proxies


class RowSample:
    """A seeded uniform sample of the positive-weight rows, from which the proxies and
    :class:`QuantizationEffect` estimate on large data.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Validated data.
    u : ndarray of shape (n,)
        Row weights; only rows with ``u > 0`` are sampled.
    rng : numpy.random.Generator
        Draws the rows now and, at first use, the projection and the seedings.
    size : int, default=1000
        Rows sampled (all positive-weight rows when there are fewer).
    project_dim : int, default=64
        Width of the seeded Gaussian random projection :attr:`P` when ``d`` is larger.

    Attributes
    ----------
    X : ndarray of shape (size, d), float64
        The sampled rows.
    u : ndarray of shape (size,)
        Their weights.
    ratio : float
        Positive-weight data rows per sampled row.
    n_pos : int
        Positive-weight rows of the data.
    total : float
        Total weight ``U`` of the data.
    """

    def __init__(self, X, u, rng, *, size: int = 1000, project_dim: int = 64):
        pos = np.flatnonzero(u > 0)
        self.n_pos = int(pos.size)
        self.total = float(u.sum())
        if pos.size > size:
            pos = np.sort(rng.choice(pos, size=size, replace=False))
        self._rows = X[pos]  # in the data's dtype; float64 on first use of X
        self.u = np.asarray(u[pos], dtype=np.float64)
        self.ratio = self.n_pos / max(pos.size, 1)
        self.size, self.project_dim = int(size), int(project_dim)
        self._rng = rng
        self._X = self._P = None
        self._seedings = {}

    @property
    def X(self) -> np.ndarray:
        """The sampled rows, float64."""
        if self._X is None:
            self._X = np.asarray(self._rows, dtype=np.float64)
        return self._X

    @property
    def P(self) -> np.ndarray:
        """The rows after a Gaussian random projection to ``project_dim`` columns (the rows
        themselves when they are not wider): distances on it are those of the rows within
        a small factor (Johnson-Lindenstrauss)."""
        if self._P is None:
            rows = self._rows
            d = rows.shape[1]
            if d > self.project_dim:
                R = self._rng.standard_normal((d, self.project_dim)) / np.sqrt(self.project_dim)
                # float32 data of moderate magnitude is projected in float32: half the work,
                # and no precision the data has is lost
                top = max(-float(rows.min()), float(rows.max())) if rows.size else 0.0
                if not (rows.dtype == np.float32 and 1e-15 < top < 1e15):
                    rows = self.X
                self._P = np.asarray(rows @ R.astype(rows.dtype), dtype=np.float64)
            else:
                self._P = self.X
        return self._P

    def seeding(self, k: int):
        """Weighted k-means++ seeding of :attr:`P` with ``k`` seeds (computed once per ``k``):
        ``(seed indices, squared distances to the nearest seed, assignment)``."""
        if k not in self._seedings:
            self._seedings[k] = kmeans_plusplus_seeding(self.P, k, self.u, self._rng)[:3]
        return self._seedings[k]


class Proxy:
    """Predicts the per-unit-weight coreset error ``E_cs(m) / U`` for many sizes ``m``.

    Parameters
    ----------
    sample_size : int, default=1000
        Rows sampled (uniformly, seeded) to estimate the curve on large data.
    project_dim : int, default=64
        Distances on the sample are computed after a seeded Gaussian random projection
        to this many dimensions when the data has more (Johnson-Lindenstrauss: distances
        are kept within a small factor), which keeps the proxies cheap on wide data.
    """

    name = ""

    def __init__(self, sample_size: int = 1000, project_dim: int = 64):
        self.sample_size = sample_size
        self.project_dim = project_dim

    def fit(self, X, u, *, method: str, n_clusters: int, rng) -> Proxy:
        """Prepare the curve from the data (``X`` clean, ``u`` weights, ``rng`` Generator)."""
        raise NotImplementedError

    def error(self, m) -> np.ndarray:
        """Predicted ``E_cs(m) / U`` for each size in ``m`` (0 where ``m`` covers every row)."""
        raise NotImplementedError

    def _sample(self, X, u, rng) -> RowSample:
        """A :class:`RowSample` of the proxy's size and projection."""
        sample = RowSample(X, u, rng, size=self.sample_size, project_dim=self.project_dim)
        self.n_pos_ = sample.n_pos
        self.total_ = sample.total
        return sample


def _power_tail(m, m0, e0, exponent):
    """Continue ``e(m0) = e0`` as ``e0 * (m0 / m) ** exponent`` for ``m > m0``."""
    return e0 * (m0 / np.maximum(m, 1.0)) ** exponent


def _loglog_slope(k0, e0, k1, e1, default=0.5):
    if e1 > 0 and e0 > e1 and k1 > k0:
        return float(np.log(e0 / e1) / np.log(k1 / k0))
    return default


class ExactProxy(Proxy):
    """Build the coreset at every candidate size and read its ``cs_error`` (slow reference)."""

    name = "exact"

    def fit(self, X, u, *, method, n_clusters, rng):
        self._X, self._u, self._method = X, u, method
        defaults = getattr(CONSTRUCTORS.get(method), "_defaults", {})
        self._params = {"n_clusters": n_clusters} if "n_clusters" in defaults else {}
        self._seed = int(rng.integers(2**31 - 1))
        self.n_pos_ = int((u > 0).sum())
        self.total_ = float(u.sum())
        return self

    def error(self, m):
        m = np.atleast_1d(np.asarray(m, dtype=np.int64))
        out = np.zeros(m.shape, dtype=np.float64)
        for i, mi in enumerate(m):  # one coreset per candidate size: the reference cost
            if 1 <= mi < self.n_pos_:
                cs = build_coreset(self._X, int(mi), method=self._method, sample_weight=self._u,
                                   random_state=self._seed, **self._params)
                out[i] = cs.cs_error / self.total_
        return out


class EVDProxy(Proxy):
    """Eigenvalue tail of the weighted covariance of a row sample (Lu et al.'s EVD proxy)."""

    name = "evd"

    def fit(self, X, u, *, method, n_clusters, rng):
        rs = self._sample(X, u, rng)
        Xs, us = rs.X, rs.u
        w = us / us.sum()
        Z = (Xs - w @ Xs) * np.sqrt(w)[:, None]
        # eigenvalues of Z^T Z through the smaller of the two Gram matrices
        G = Z @ Z.T if Z.shape[0] < Z.shape[1] else Z.T @ Z
        lam = np.clip(np.linalg.eigvalsh(G)[::-1], 0.0, None)
        self._tail = np.concatenate([np.cumsum(lam[::-1])[::-1], [0.0]])  # sum_{j >= i}
        top = lam[0] if lam.size else 0.0
        rank = int((lam > top * 1e-12).sum()) if top > 0 else 0
        # participation-ratio dimension: the tail is used up to it, and continued past it
        # as c(m) ~ m^(-2 / dim), the decay of the k-means cost of dim-dimensional data
        self._dim = float(lam.sum() ** 2 / (lam**2).sum()) if top > 0 else 1.0
        self._m0 = int(max(1, min(rank - 1, np.ceil(self._dim))))
        return self

    def error(self, m):
        m = np.atleast_1d(np.asarray(m, dtype=np.float64))
        m0 = self._m0
        c = self._tail[np.clip(m, 1, m0).astype(np.int64)]
        c = np.where(m > m0, _power_tail(m, m0, self._tail[m0], 2.0 / max(self._dim, 1.0)), c)
        return np.where(m >= self.n_pos_, 0.0, np.sqrt(np.maximum(c, 0.0)))


class KCenterProxy(Proxy):
    """Mean distance to the nearest of the first m farthest-first centres, on a row sample."""

    name = "kcenter"

    def fit(self, X, u, *, method, n_clusters, rng):
        rs = self._sample(X, u, rng)
        Xs, us = rs.P, rs.u
        n = Xs.shape[0]
        steps = max(1, n // 2)
        sqn = np.einsum("ij,ij->i", Xs, Xs)
        mean_dist = np.empty(steps)
        best = np.full(n, np.inf)
        j = int(rng.integers(n))
        w = us / us.sum()
        for k in range(steps):  # one pass over the (projected) sample per centre
            d2 = np.maximum(sqn - 2.0 * (Xs @ Xs[j]) + sqn[j], 0.0)
            np.minimum(best, d2, out=best)
            mean_dist[k] = w @ np.sqrt(best)
            j = int(np.argmax(best))
            if best[j] == 0:
                mean_dist = mean_dist[: k + 1]
                break
        self._curve = mean_dist  # curve[k] = mean distance with k + 1 centres
        k1 = len(mean_dist)
        k0 = max(1, k1 // 2)
        self._exponent = _loglog_slope(k0, mean_dist[k0 - 1], k1, mean_dist[k1 - 1])
        return self

    def error(self, m):
        m = np.atleast_1d(np.asarray(m, dtype=np.float64))
        k1 = len(self._curve)
        inside = self._curve[np.clip(m, 1, k1).astype(np.int64) - 1]
        out = np.where(m > k1, _power_tail(m, k1, self._curve[-1], self._exponent), inside)
        return np.where(m >= self.n_pos_, 0.0, out)


class SamplingProxy(Proxy):
    """Standard error of importance sampling with the constructor's scores, on a row sample.

    With the constructor's scores ``q``, inclusion probabilities ``pi`` proportional to
    ``q`` and capped at 1 (summing to ``m``), and the test function ``y_p = u_p ||p -
    c(p)||`` (``c`` the bicriteria centre for ``sensitivity``, the mean otherwise), the
    Horvitz-Thompson variance of the coreset's estimate of ``sum y`` is
    ``sum (1 - pi) y^2 / pi`` -- the same quantity the constructors report. On a sample
    standing for ``r`` rows each, ``m / r`` rows are drawn and the sum is scaled by ``r``.
    """

    name = "sampling"

    def fit(self, X, u, *, method, n_clusters, rng):
        rs = self._sample(X, u, rng)
        Xs, us, r = rs.P, rs.u, rs.ratio
        if CONSTRUCTORS.get(method).weight_kind == "constant" or method == "lightweight":
            mu = weighted_mean(Xs, us)
            d2 = min_sq_distances(Xs, mu[None, :])[0]
            if method == "lightweight":
                q = 0.5 * us / us.sum() + 0.5 * us * d2 / max(float(us @ d2), 1e-300)
            else:
                q = us.copy()
        else:  # sensitivity scores of a weighted k-means++ bicriteria solution
            k = min(n_clusters, Xs.shape[0])
            _, d2, assign = rs.seeding(k)
            mass = np.bincount(assign, weights=us, minlength=k)
            q = us * d2 / max(float(us @ d2), 1e-300) + us / np.maximum(mass[assign], 1e-300)
        self._q, self._y, self._r = q, us * np.sqrt(d2), r
        return self

    def error(self, m):
        m = np.atleast_1d(np.asarray(m, dtype=np.float64))
        out = np.zeros(m.shape)
        n_s = self._q.shape[0]
        for i, mi in enumerate(m):  # a handful of candidate sizes
            if mi >= self.n_pos_:
                continue
            # the sample's share of the size, with the constructor's capped probabilities
            ms = max(1, min(n_s, int(round(mi / self._r))))
            pi = _inclusion_probabilities(self._q, ms)
            ok = pi > 0
            var = self._r * float(np.sum((1.0 - pi[ok]) * self._y[ok] ** 2 / pi[ok]))
            out[i] = np.sqrt(max(var, 0.0)) / self.total_
        return out


for _cls in (ExactProxy, EVDProxy, KCenterProxy, SamplingProxy):
    PROXIES.register(_cls.name, _cls)


def register_proxy(name: str, cls: type[Proxy], *, replace: bool = False) -> None:
    """Register a :class:`Proxy` subclass under ``name``."""
    PROXIES.register(name, cls, replace=replace)


class QuantizationEffect:
    """How quantizing at each bit depth changes what models see of the data.

    On a uniform sample of the positive-weight rows (at most ``sample_size``), grouped into
    ``k = n_clusters`` clusters by a weighted k-means++ seeding (in a 64-dimensional random
    projection for wider data) with ``c(p)`` the weighted mean of ``p``'s cluster: ``V`` is
    the weighted mean of ``||p - c(p)||^2`` and ``V_s`` that of ``||Q_s(p) - c(p)||^2``;
    ``beta(s)^2 = sum_c (U_c / U)^2 ||mean_c(Q_s(p) - p)||^2`` over the clusters ``c``
    (mass ``U_c``), each squared shift reduced by its own sampling variance (and kept
    non-negative) so that noise on the sample is not mistaken for a systematic shift.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        The data the quantizer was fitted on.
    u : ndarray of shape (n,)
        Row weights.
    quantizer : Quantizer
        Fitted quantizer; it is re-priced at each depth with :meth:`Quantizer.with_bits`.
    n_clusters : int
        Clusters of the spread.
    rng : numpy.random.Generator, int or None
    sample_size : int

    Attributes
    ----------
    V : float
        The sample's spread before quantization.
    """

    def __init__(self, X, u, quantizer: Quantizer, *, n_clusters: int = 10, rng=None,
                 sample_size: int = 1000):
        self.quantizer = quantizer
        sample = RowSample(X, u, np.random.default_rng(rng), size=sample_size, project_dim=64)
        Xs, us = sample.X, sample.u
        k = max(1, min(n_clusters, Xs.shape[0]))
        assign = sample.seeding(k)[2]
        k = int(assign.max()) + 1
        self._U = float(us.sum())
        self._mass = np.bincount(assign, weights=us, minlength=k)
        # weighted one-hot rows (u and u^2) give the clusters' sums in one product
        H = np.zeros((2 * k, Xs.shape[0]))
        H[assign, np.arange(Xs.shape[0])] = us
        H[k + assign, np.arange(Xs.shape[0])] = us * us
        C = (H[:k] @ Xs) / np.maximum(self._mass, 1e-300)[:, None]
        self._D = np.take(C, assign, axis=0)
        np.subtract(Xs, self._D, out=self._D)
        self.V = float(us @ np.einsum("ij,ij->i", self._D, self._D)) / self._U
        self._Xs, self._us, self._assign, self._H, self._k = Xs, us, assign, H, k
        self._prepared = {}
        self._scratch = None

    def at(self, bits: int, quantizer: Quantizer | None = None) -> tuple[float, float]:
        """``(V_s / V, beta(s))`` at ``bits``; ``(1, 0)`` when ``V == 0``.

        ``quantizer`` (fitted on the same data) replaces the one given at construction,
        so that several quantizers are measured on the same sample and clusters.
        """
        if self.V <= 0.0:
            return 1.0, 0.0
        base = self.quantizer if quantizer is None else quantizer
        q = base.with_bits(int(bits)) if base.uses_bits else base
        k, us = self._k, self._us
        if hasattr(base, "basis_"):
            ee, DE, sq, cross = self._projection_terms(base, q)
        else:
            state = self._prepared.get(id(base))
            if state is None:  # the depth-independent part, once per quantizer
                state = self._prepared[id(base)] = (base, base._prepare(self._Xs))
            E = q._error_rows(self._Xs, state[1], out=self._work())
            ee, DE, sq, cross = self._terms(E, self._D)
        Vs = self.V + float(us @ (2.0 * DE + ee)) / self._U
        mass = self._mass
        inv = 1.0 / np.maximum(mass, 1e-300)
        mm = sq * inv * inv  # ||M_c||^2, M_c = the cluster's weighted mean error
        # sum_p u_p^2 ||e_p - M_c||^2, the sampling variance of the cluster's mean shift
        spread = (np.bincount(self._assign, weights=us * us * ee, minlength=k)
                  - 2.0 * cross * inv + self._H[k:].sum(axis=1) * mm)
        ok = mass > 0
        noise = np.where(ok, spread / np.maximum(mass, 1e-300) ** 2, 0.0)
        beta2 = float(np.sum(np.where(ok, (mass / self._U) ** 2 * np.maximum(mm - noise, 0.0),
                                      0.0)))
        return max(Vs, 0.0) / self.V, float(np.sqrt(beta2))

    def _work(self) -> np.ndarray:
        """A scratch array of the sample's shape, reused by every depth's measurement."""
        if self._scratch is None:
            self._scratch = np.empty_like(self._Xs)
        return self._scratch

    def _terms(self, E, D):
        """Per-row ``||e||^2`` and ``d . e`` of errors ``E``, and of the cluster sums ``S = H
        @ E`` (weights ``u`` in rows ``c``, ``u^2`` in rows ``k + c``) the squared norms
        ``||S_c||^2`` and products ``S_c . S_{k+c}``."""
        S = self._H @ E
        k = self._k
        return (np.einsum("ij,ij->i", E, E), np.einsum("ij,ij->i", D, E),
                np.einsum("cj,cj->c", S[:k], S[:k]), np.einsum("cj,cj->c", S[:k], S[k:]))

    def _projection_terms(self, base, q):
        """:meth:`_terms` of a projection quantizer's errors, computed in its rank-r basis.

        With ``Vq = U T`` (``U`` orthonormal) and ``z = x - mu``, the error of a row is
        ``e = a U^T + f``: ``a = Q(c) T^T - z U`` (``z U = c T^-1``) depends on the depth
        through the r coefficients only, and ``f = -(z - (z U) U^T)`` (the residual outside
        the basis, plus the rounding of constant columns) is orthogonal to ``U`` and the
        same at every depth. So ``||e||^2 = ||a||^2 + ||f||^2``, ``d . e = (d U) . a + d .
        f`` and ``H e = (H a) U^T + H f`` with ``H f`` orthogonal to ``U``, so the cluster
        sums' norms and products add up too: after one product of O(n r d), O(n r^2) per
        depth, and neither ``e`` nor ``U`` is ever formed.
        """
        st = self._projection_state(base)
        A = q._coefficient_errors(st.C) @ st.T.T
        A += st.offset
        ee, de, sq, cross = self._terms(A, st.DU)
        return ee + st.ee_f, de + st.de_f, sq + st.sq_f, cross + st.cross_f

    def _projection_state(self, base):
        """The depth-independent part of :meth:`_projection_terms`, once per quantizer."""
        st = self._prepared.get(id(base))
        if st is not None:
            return st
        Xs = self._Xs
        var, const = ~base.constant_, base.constant_
        some_const = bool(const.any())
        # z = x - mu on the non-constant columns (in the work array: needed only here)
        Z = np.subtract(Xs[:, var] if some_const else Xs, base.mean_,
                        out=None if some_const else self._work())
        C = Z @ base.basis_  # the coefficients z Vq (what base._prepare gives)
        # Vq = U T: T (triangular, invertible since Vq has full rank) is all that is needed,
        # z U = c T^-1
        T = np.linalg.qr(base.basis_, mode="r")
        ZU = solve_triangular(T, C.T, trans="T").T if base.rank_ else C
        # d U = z U minus its cluster's mean: no product over the columns
        k = self._k
        DU = ZU - ((self._H[:k] @ ZU) / np.maximum(self._mass, 1e-300)[:, None])[self._assign]
        # e = a U^T + f with a = Q(c) T^T - z U and f = -(z - (z U) U^T) (+ Ec): the
        # fixed part's norms, products with d and cluster sums, all without forming e
        ee_f = np.maximum(np.einsum("ij,ij->i", Z, Z) - np.einsum("ij,ij->i", ZU, ZU), 0.0)
        de_f = np.einsum("ij,ij->i", DU, ZU)
        # H f = (H z U) U^T - H z (+ H Ec): norms and products as differences, without U
        HZ, HZU = self._H @ Z, self._H @ ZU
        sq_f = (np.einsum("cj,cj->c", HZ[:k], HZ[:k]) - np.einsum("cj,cj->c", HZU[:k], HZU[:k]))
        cross_f = (np.einsum("cj,cj->c", HZ[:k], HZ[k:])
                   - np.einsum("cj,cj->c", HZU[:k], HZU[k:]))
        if some_const:  # the rounding of constant columns
            D, Ec = self._D, base.constant_values_[const] - Xs[:, const]
            ee_f += np.einsum("ij,ij->i", Ec, Ec)
            de_f = (de_f - np.einsum("ij,ij->i", D[:, var], Z)
                    + np.einsum("ij,ij->i", D[:, const], Ec))
            HE = self._H @ Ec
            sq_f += np.einsum("cj,cj->c", HE[:k], HE[:k])
            cross_f += np.einsum("cj,cj->c", HE[:k], HE[k:])
        else:
            de_f -= np.einsum("ij,ij->i", self._D, Z)
        us = self._us
        dd = np.einsum("ij,ij->i", self._D, self._D)
        du = np.einsum("ij,ij->i", DU, DU)
        offset = C @ T.T - ZU  # a = (Q(c) - c) T^T + offset
        # coefficients beyond the fitted ranges (clipped; none for rows of the fitted data)
        outside = np.maximum(base.lo_ - C, 0.0) + np.maximum(C - base.hi_, 0.0)
        rows = np.flatnonzero(outside.any(axis=1))
        st = _ProjectionState(
            base=base, C=C, T=T, offset=offset, DU=DU, ee_f=ee_f, de_f=de_f,
            sq_f=np.maximum(sq_f, 0.0), cross_f=cross_f,
            # for the floor: ||d + e||^2 = ||d U + a||^2 + ||d + f||^2 - ||d U||^2
            G=float(us @ du), W=max(float(us @ (dd + 2.0 * de_f + ee_f - du)), 0.0),
            outside_rows=rows, outside=outside[rows],
            offset_norm=np.sqrt(np.einsum("ij,ij->i", offset, offset)))
        self._prepared[id(base)] = st
        return st

    def lower_bound(self, cs_error: float, worst_row_error: float, bits: int | None = None,
                    quantizer: Quantizer | None = None) -> float:
        """A floor of the predicted error at a depth, without quantizing the sample.

        ``sqrt(V_s) >= sqrt(V) - Delta(s)`` (Minkowski, every sampled row lies in the
        fitted range so ``||e_p|| <= Delta(s)``) and ``beta >= 0``, hence
        ``e >= cs_error * max(0, 1 - Delta(s) / sqrt(V))``.

        For a projection quantizer (``quantizer`` fitted, ``bits`` its depth) the floor is
        also taken in its basis (see :meth:`_projection_terms`): ``||d + e||^2 = ||d U +
        a||^2 + ||d_perp + f||^2``, where only ``a_p = r_p T^T + o_p`` depends on the depth
        through the coefficients' rounding ``r_p``, each ``|r_pj|`` at most half a step
        (plus any clipping), so ``||a_p|| <= ||Vq||_2 ||r_p|| + ||o_p||``. With ``G = sum_p
        u_p ||d_p U||^2`` and ``W = sum_p u_p ||d_perp,p + f_p||^2``, Minkowski gives ``U V_s
        >= W + (sqrt(G) - sqrt(sum_p u_p ||a_p||^2))_+^2``: tight at fine depths, whose
        rounding is small. The planner skips the depths whose floor is already above the
        best prediction.
        """
        if self.V <= 0.0:
            return cs_error
        floor = max(0.0, 1.0 - worst_row_error / np.sqrt(self.V))
        if quantizer is not None and hasattr(quantizer, "basis_"):
            st = self._projection_state(quantizer)
            q = quantizer.with_bits(int(bits)) if bits is not None and quantizer.uses_bits \
                else quantizer
            h = q.step_ / 2 + q._slack  # the rounding bound; rows outside the ranges add more
            alpha = q._basis_norm * np.sqrt(h @ h) + st.offset_norm
            if st.outside_rows.size:
                b = st.outside + h
                alpha[st.outside_rows] = (q._basis_norm * np.sqrt(np.einsum("ij,ij->i", b, b))
                                          + st.offset_norm[st.outside_rows])
            a_max = float(self._us @ (alpha * alpha)) * (1.0 + 1e-9)
            inner = max(0.0, np.sqrt(st.G) - np.sqrt(a_max)) ** 2
            floor = max(floor, np.sqrt(max(st.W + inner, 0.0) / (self._U * self.V)))
        return cs_error * floor * (1.0 - 1e-9)


@dataclass
class _ProjectionState:
    """What :meth:`QuantizationEffect._projection_terms` reuses across depths."""

    base: Quantizer  # kept alive, since the state is keyed by its id
    C: np.ndarray
    T: np.ndarray
    offset: np.ndarray
    DU: np.ndarray
    ee_f: np.ndarray
    de_f: np.ndarray
    sq_f: np.ndarray
    cross_f: np.ndarray
    G: float
    W: float
    outside_rows: np.ndarray
    outside: np.ndarray
    offset_norm: np.ndarray


def quantization_effect(X, u, quantizer: Quantizer, bits, *, n_clusters: int = 10, rng=None,
                        sample_size: int = 1000) -> list[tuple[float, float]]:
    """``(V_s / V, beta(s))`` for each bit depth in ``bits`` (see :class:`QuantizationEffect`)."""
    eff = QuantizationEffect(X, u, quantizer, n_clusters=n_clusters, rng=rng,
                             sample_size=sample_size)
    return [eff.at(s) for s in bits]


def _proxy_name(proxy: str, method: str) -> str:
    if proxy != "auto":
        PROXIES.get(proxy)
        return proxy
    return "kcenter" if CONSTRUCTORS.get(method).weight_kind == "counts" else "sampling"


# ----------------------------------------------------------------------------- plan


@dataclass
class PlanRow:
    """One candidate of a plan: a bit depth and the largest size that fits.

    Attributes
    ----------
    bits, size, payload_bits : int
        Bit depth, the largest size that fits and its exact payload.
    quantizer : str
        The quantizer of the row (with ``quantizer="auto"`` the plan mixes several).
    rank : int or None
        Coefficients per row of a projection quantizer (None for scalar quantizers).
    cs_error : float
        The proxy's ``E_cs(size) / U``.
    quantization_error : float
        ``Delta(bits)``, the worst-case row error of the quantizer.
    error_bound : float
        ``cs_error + quantization_error``.
    spread_ratio : float
        ``V_s / V``: how much quantization inflates the rows' spread.
    quantization_bias : float
        ``beta(bits)``: systematic shift of the cluster means.
    predicted_error : float
        ``sqrt(cs_error^2 * spread_ratio + quantization_bias^2)``, what the planner
        minimises (``inf`` when the row does not fit); for a pruned row, a floor of it.
    feasible, chosen : bool
    pruned : bool
        The row's floor was already above the best prediction, so its quantization was
        not measured (``spread_ratio`` and ``quantization_bias`` are NaN).
    """

    bits: int
    size: int
    payload_bits: int
    cs_error: float
    quantization_error: float
    predicted_error: float
    feasible: bool
    chosen: bool = False
    error_bound: float = float("nan")
    spread_ratio: float = 1.0
    quantization_bias: float = 0.0
    pruned: bool = False
    quantizer: str = ""
    rank: int | None = None

    def as_dict(self) -> dict:
        """The row as a JSON-ready dict."""
        def clean(v):
            if isinstance(v, float):
                return float(v) if np.isfinite(v) else None
            return v

        return {k: clean(v) for k, v in self.__dict__.items() if not k.startswith("_")}


@dataclass
class Plan:
    """The planner's table and its choice.

    Attributes
    ----------
    rows : list of PlanRow
        One row per candidate (quantizer, bit depth).
    chosen : PlanRow
        The feasible row with the smallest predicted error.
    budget_bits : int
    method, quantizer, proxy : str
        ``quantizer`` is the chosen row's quantizer.
    seconds : float
        Wall time of planning (proxy + enumeration).
    """

    rows: list[PlanRow]
    chosen: PlanRow
    budget_bits: int
    method: str
    quantizer: str
    proxy: str
    seconds: float
    extras: dict = field(default_factory=dict)

    def as_dict(self) -> dict:
        """The plan as a JSON-ready dict."""
        return {
            "budget_bits": int(self.budget_bits),
            "method": self.method,
            "quantizer": self.quantizer,
            "proxy": self.proxy,
            "chosen_bits": int(self.chosen.bits),
            "chosen_size": int(self.chosen.size),
            "seconds": float(self.seconds),
            "rows": [r.as_dict() for r in self.rows],
        }


def _plan(
    X,
    u,
    *,
    classes,
    budget_bits: int,
    families,
    method: str,
    proxy: str,
    n_clusters: int,
    rng,
    size: int | None = None,
    prune: bool = True,
) -> Plan:
    """Unvalidated core of :func:`plan`.

    ``families`` is a list of ``(quantizer, bit options)``, each quantizer already
    fitted on ``X`` (:func:`fit_quantizers`); every pair is a candidate row.

    With ``size`` given, every bit depth at which that size fits is a candidate (at that
    size). The proxy is skipped when there is nothing to choose. With ``prune``, depths
    whose floor (:meth:`QuantizationEffect.lower_bound`) is above the best prediction so
    far are not quantized; their ``predicted_error`` is that floor and ``pruned`` is set.
    """
    t0 = time.perf_counter()
    n_pos = int((u > 0).sum())
    n_groups = 1 if classes is None else len(classes)
    wenc, wbits = plan_weight_encoding(method, u)
    d = X.shape[1]
    rows = []
    for quantizer, q, bits, header, row_bits in _priced(families, d, wenc, wbits, classes,
                                                         method):
        m_max = min(max_coreset_size(budget_bits, header_bytes=header, row_bits=row_bits), n_pos)
        m = m_max if size is None else (size if size <= m_max else -1)
        feasible = m >= n_groups
        payload = 8 * (header + (max(m, 0) * row_bits + 7) // 8)
        need = 8 * (header + (n_groups * row_bits + 7) // 8)
        rows.append(PlanRow(bits, int(max(m, 0)), int(payload), 0.0, float(q.error_bound_), 0.0,
                            bool(feasible), quantizer=q.name, rank=getattr(q, "rank_", None)))
        rows[-1]._need = (need, m_max, header)
        rows[-1]._q = quantizer
    feasible_rows = [r for r in rows if r.feasible]
    if not feasible_rows:
        need, m_max, header = min(r._need for r in rows)
        what = f"{n_groups} rows (one per class)" if classes is not None else "one row"
        if size is not None and m_max >= n_groups:
            raise BudgetError(
                f"size {size} does not fit the budget of {budget_bits} bits: at most "
                f"{m_max} rows fit; lower --size to {m_max} or raise --budget"
            )
        names = " or ".join(repr(q.name) for q, _ in families)
        raise BudgetError(
            f"budget {budget_bits} bits is below the smallest payload for d={d} with the "
            f"{names} quantizer: {8 * header}-bit header + {what} = {need} bits; "
            f"raise --budget to at least {need} bits"
        )
    name = _proxy_name(proxy, method)
    if len(feasible_rows) > 1:
        prox = PROXIES.get(name)().fit(X, u, method=method, n_clusters=n_clusters, rng=rng)
        effect = QuantizationEffect(X, u, families[0][0], n_clusters=n_clusters, rng=rng)
        sizes = np.array([r.size for r in feasible_rows])
        # the exact proxy builds one coreset per distinct size only
        uniq, inv = np.unique(sizes, return_inverse=True)
        errs = prox.error(uniq)[inv]
    else:
        errs, effect = [float("nan")], None
    for r, e in zip(feasible_rows, errs, strict=True):
        r.cs_error = float(e)
        r.error_bound = float(e) + r.quantization_error
    best_so_far = np.inf
    # most promising first (smallest coreset error), so that the floor prunes the rest
    for r in sorted(feasible_rows, key=lambda r: (r.cs_error, -r.size, r.bits)):
        if effect is None:
            r.predicted_error = r.cs_error
            continue
        floor = effect.lower_bound(r.cs_error, r.quantization_error, r.bits, r._q)
        if prune and floor > best_so_far:
            r.spread_ratio = r.quantization_bias = float("nan")
            r.predicted_error, r.pruned = floor, True
            continue
        r.spread_ratio, r.quantization_bias = effect.at(r.bits, r._q)
        r.predicted_error = float(np.sqrt(r.cs_error**2 * r.spread_ratio
                                          + r.quantization_bias**2))
        best_so_far = min(best_so_far, r.predicted_error)
    for r in rows:
        if not r.feasible:
            r.predicted_error = float("inf")
    best = min(feasible_rows, key=lambda r: (r.predicted_error, -r.size, r.bits))
    best.chosen = True
    return Plan(rows, best, int(budget_bits), method, best.quantizer, name,
                time.perf_counter() - t0)


def _priced(families, d: int, wenc: str, wbits: int, classes, method: str) -> list:
    """Every candidate (quantizer, depth) of ``families`` with its exact price:
    ``(fitted quantizer, quantizer at the depth, bits label, header bytes, row bits)``."""
    out = []
    for base, options in families:
        for s in options:
            q = base.with_bits(s) if base.uses_bits else base
            header = payload_nbytes(d=d, m=0, quantizer=q, weight_encoding=wenc,
                                    weight_bits=wbits, classes=classes, method=method)
            out.append((base, q, int(q.bits_per_value_ if not q.uses_bits else s), header,
                        q.value_bits_per_row_ + wbits))
    return out


#: the quantizers ``quantizer="auto"`` chooses between
AUTO_QUANTIZERS = ("fixed", "pca")


def candidate_options(quantizer: str, bits) -> list:
    """The plan's candidates before any fitting: ``(quantizer name, bit options)`` per
    family, in plan-row order (:func:`fit_quantizers` fits them).

    Raises
    ------
    InputError
        Invalid ``bits``.
    """
    if isinstance(bits, str) and bits != "auto":
        raise InputError(f"bits must be 'auto' or an integer, got {bits!r}")
    names = AUTO_QUANTIZERS if quantizer == "auto" else (quantizer,)
    return [(name, candidate_bits(name) if isinstance(bits, str) else (bits,))
            for name in names]


def fit_quantizers(X, quantizer: str, bits, random_state=None, y=None,
                   n_clusters: int = 10) -> list:
    """The candidate quantizers of a plan, fitted on ``X``, with their bit options.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Validated data.
    quantizer : str
        A name in :data:`~qcoreset.quantizers.QUANTIZERS`, or ``"auto"``: every quantizer
        of :data:`AUTO_QUANTIZERS` (a scalar grid and the projection), so that the plan
        chooses between them.
    bits : "auto" or int
        ``"auto"``: :func:`candidate_bits` of each quantizer; an int fixes the depth.
    random_state : int or None
        Seed of quantizers that take one (``stochastic``).
    y : ndarray of shape (n,) or None
        Class labels, passed to every quantizer's ``fit`` (``pca`` uses them to choose a
        rank that keeps the classes apart).
    n_clusters : int
        Clusters of the planner's model: ``pca`` keeps at least this many components
        (``min_rank``).

    Returns
    -------
    list of (Quantizer, tuple of int)

    Raises
    ------
    InputError
        Unknown quantizer or invalid ``bits``.
    """
    families = []
    for name, options in candidate_options(quantizer, bits):
        cls = QUANTIZERS.get(name)
        params = {}
        signature = inspect.signature(cls.__init__).parameters
        if "random_state" in signature:
            params["random_state"] = random_state
        if "min_rank" in signature:
            params["min_rank"] = int(n_clusters)
        q = get_quantizer(name, options[0] if cls.uses_bits else None, **params).fit(X, y)
        families.append((q, options))
    return families


def _checked_inputs(X, y, sample_weight, method, quantizer, bits, random_state,
                    n_clusters: int = 10):
    """Validated ``(X, u, classes, quantizer families, rng, method)`` of a planning call
    (``method="auto"`` resolved by :func:`~qcoreset.constructors.resolve_method`).
    """
    X = check_data(X)
    n = X.shape[0]
    u = check_sample_weight(sample_weight, n)
    labels = None if y is None else check_labels(y, n)
    method = resolve_method(method, labels is not None)
    families = fit_quantizers(X, quantizer, bits, y=labels, n_clusters=n_clusters)
    classes = None if labels is None else np.unique(labels[u > 0])
    return X, u, classes, families, _plan_rng(random_state), method


def _plan_rng(random_state) -> np.random.Generator:
    """The generator a plan draws from (its proxy's and quantization measurements'
    samples), derived from ``random_state`` (int, RandomState or None)."""
    return np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))


def plan(
    X,
    budget,
    *,
    y=None,
    sample_weight=None,
    method: str = "auto",
    quantizer: str = "auto",
    bits="auto",
    proxy: str = "auto",
    n_clusters: int = 10,
    random_state=None,
    prune: bool = True,
) -> Plan:
    """Choose coreset size and bit depth for a budget: the MECB plan.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    budget : int, float or str
        Bits, a size (``"100kB"``) or a percentage of the float32 size (``"1%"``).
    y : array-like or None
        Class labels (their table enters the header; one row per class is the minimum).
    sample_weight : array-like or None
    method : str, default="auto"
        Coreset constructor; ``"auto"``: ``"uniform"`` with labels, else
        ``"sensitivity"`` (:func:`qcoreset.constructors.resolve_method`).
    quantizer : str, default="auto"
        Quantizer, or ``"auto"`` for every one of :data:`AUTO_QUANTIZERS` (one row per
        quantizer and depth); ``bits="auto"`` tries :func:`candidate_bits`, an int fixes
        it.
    proxy : str
        ``"auto"`` or a name in :data:`PROXIES`.
    n_clusters : int
        Bicriteria clusters for the sampling proxy of ``sensitivity``.
    random_state : int, RandomState or None
    prune : bool, default=True
        Skip measuring quantization at depths that provably cannot be chosen (their
        rows get a floor of the prediction and ``pruned=True``); False measures every
        depth, e.g. to compare proxies over the whole table.

    Returns
    -------
    Plan

    Raises
    ------
    InputError, BudgetError
        For invalid input or a budget that holds no coreset.
    """
    X, u, classes, families, rng, method = _checked_inputs(
        X, y, sample_weight, method, quantizer, bits, random_state, n_clusters)
    budget_bits = parse_budget(budget, *X.shape)
    return _plan(X, u, classes=classes, budget_bits=budget_bits, families=families,
                 method=method, proxy=proxy, n_clusters=n_clusters, rng=rng, prune=prune)


@dataclass
class ErrorCurve:
    """The planner's predicted error as a function of the budget, for one dataset.

    Attributes
    ----------
    budgets : ndarray of int64
        Budgets in bits (sorted, as given).
    errors : ndarray of float64
        Predicted per-unit-weight error of the planner's choice at each budget
        (``inf`` where not even the smallest payload fits).
    bits, sizes : ndarray of int64
        The chosen bit depth and size at each budget (0 where nothing fits).
    minimum_bits : int
        The smallest payload (header plus one row, or one row per class).
    mass : float
        Total weight ``U`` of the data (the allocation multiplies errors by it).
    """

    budgets: np.ndarray
    errors: np.ndarray
    bits: np.ndarray
    sizes: np.ndarray
    minimum_bits: int
    mass: float


def error_curve(
    X,
    budgets,
    *,
    y=None,
    sample_weight=None,
    method: str = "auto",
    quantizer: str = "auto",
    bits="auto",
    proxy: str = "auto",
    n_clusters: int = 10,
    random_state=None,
) -> ErrorCurve:
    """Predicted error of the planner's choice at many budgets, fitting the proxy once.

    This is the local error-vs-budget curve a part of the data (a class, an MPI rank)
    reports so that a global budget can be split between parts
    (:func:`qcoreset.convex.allocate_budget`). Every point equals ``plan(X, b,
    ...).chosen.predicted_error`` for the same proxy fit.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    budgets : sequence of int
        Budgets in bits.
    y, sample_weight, method, quantizer, bits, proxy, n_clusters, random_state
        As in :func:`plan`.

    Returns
    -------
    ErrorCurve
    """
    budgets = np.asarray(budgets, dtype=np.int64).ravel()
    if budgets.size == 0 or (budgets < 0).any():
        raise InputError("budgets must be a non-empty sequence of non-negative bit counts")
    X, u, classes, families, rng, method = _checked_inputs(
        X, y, sample_weight, method, quantizer, bits, random_state, n_clusters)
    d = X.shape[1]
    n_pos = int((u > 0).sum())
    n_groups = 1 if classes is None else len(classes)
    wenc, wbits = plan_weight_encoding(method, u)
    priced = _priced(families, d, wenc, wbits, classes, method)
    depth = [(bits, header, row_bits) for _, _, bits, header, row_bits in priced]
    fitted = [base for base, *_ in priced]
    minimum = min(8 * (h + (n_groups * rb + 7) // 8) for _, h, rb in depth)
    sizes = np.array([[min(max_coreset_size(int(b), header_bytes=h, row_bits=rb), n_pos)
                       for _, h, rb in depth] for b in budgets], dtype=np.int64)
    name = _proxy_name(proxy, method)
    prox = PROXIES.get(name)().fit(X, u, method=method, n_clusters=n_clusters, rng=rng)
    eff = QuantizationEffect(X, u, fitted[0], n_clusters=n_clusters, rng=rng)
    # every candidate: a curve needs them all
    effects = [eff.at(s, q) for (s, _, _), q in zip(depth, fitted, strict=True)]
    ok = sizes >= n_groups
    uniq, inv = np.unique(np.where(ok, sizes, n_groups), return_inverse=True)
    cs = prox.error(uniq)[inv].reshape(sizes.shape)
    ratio = np.array([r for r, _ in effects])
    bias = np.array([b for _, b in effects])
    pred = np.where(ok, np.sqrt(cs * cs * ratio + bias * bias), np.inf)
    best = np.zeros(len(budgets), dtype=np.int64)
    for i in range(len(budgets)):  # the same tie-break as the planner
        keys = [(pred[i, j], -sizes[i, j], depth[j][0]) for j in range(len(depth))]
        best[i] = min(range(len(depth)), key=keys.__getitem__)
    rows = np.arange(len(budgets))
    err = pred[rows, best]
    fits = np.isfinite(err)
    return ErrorCurve(
        budgets=budgets,
        errors=err,
        bits=np.where(fits, np.array([depth[j][0] for j in best]), 0),
        sizes=np.where(fits, sizes[rows, best], 0),
        minimum_bits=int(minimum),
        mass=float(u.sum()),
    )


def class_sizes(
    X,
    labels,
    size: int,
    *,
    sample_weight=None,
    method: str = "auto",
    proxy: str = "auto",
    n_clusters: int = 10,
    random_state=None,
    curve_points: int = 24,
) -> dict:
    """Split ``size`` coreset rows across classes to minimise the total predicted error.

    Each class ``c`` (mass ``U_c``, ``n_c`` positive-weight rows) gets its own proxy curve
    ``E_c(m) / U_c``: the planner's proxy fitted on that class's rows with the class mean
    as the one centre (the spread of a class around its mean is what its moments, and a
    classifier, see; with many centres a class smaller than their number would look
    exact), evaluated at ``curve_points`` geometrically spaced sizes; its greatest convex
    minorant is the curve. The sizes solve

        minimise sum_c U_c * E_c(m_c) / U_c   s.t.  sum_c m_c <= size,  1 <= m_c <= n_c

    with :func:`qcoreset.convex.allocate_budget` (LP + greedy integer repair). Compared
    with sizes proportional to mass, classes whose rows are spread out (large ``E_c``)
    get more rows and tight classes fewer: when ``E_c(m) ~ U_c sigma_c / sqrt(m)`` the
    sizes are ``m_c ~ (U_c sigma_c)^(2/3)``, between proportional sizes and the Neyman
    allocation ``m_c ~ U_c sigma_c`` (which minimises the sum of the classes' variances
    rather than of their standard errors).

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
    labels : array-like of shape (n_samples,)
    size : int
        Total rows, at least the number of classes with positive weight.
    sample_weight : array-like or None
    method, proxy : as in :func:`plan`
    n_clusters : int
        Unused (each class's proxy has one centre); kept for a uniform signature.
    random_state : int, RandomState, Generator or None
    curve_points : int
        Proxy evaluations per class.

    Returns
    -------
    dict
        ``{class label: rows}`` for every class with positive weight; the values sum to
        ``min(size, sum n_c)``.
    """
    from .convex import allocate_budget

    X = check_data(X)
    n = X.shape[0]
    u = check_sample_weight(sample_weight, n)
    labels = check_labels(labels, n)
    method = resolve_method(method, True)
    rng = random_state if isinstance(random_state, np.random.Generator) else \
        np.random.default_rng(check_random_state(random_state).randint(2**31 - 1))
    classes, inverse = np.unique(labels[u > 0], return_inverse=True)
    pos = np.flatnonzero(u > 0)
    caps = np.bincount(inverse, minlength=len(classes)).astype(np.int64)
    if size < len(classes):
        raise InputError(f"size={size} is smaller than the number of classes ({len(classes)})")
    if size >= caps.sum():
        return {c: int(k) for c, k in zip(classes.tolist(), caps, strict=True)}
    name = _proxy_name(proxy, method)
    curves, masses = [], []
    for j in range(len(classes)):  # one proxy per class
        rows = pos[inverse == j]
        uc = u[rows]
        masses.append(float(uc.sum()))
        if caps[j] == 1:
            curves.append((np.array([1.0]), np.array([0.0])))
            continue
        prox = PROXIES.get(name)().fit(X[rows], uc, method=method, n_clusters=1, rng=rng)
        grid = np.unique(np.round(np.geomspace(1, caps[j], curve_points)).astype(np.int64))
        curves.append(_convex_minorant(grid.astype(np.float64), prox.error(grid)))
    alloc = allocate_budget(curves, np.array(masses), int(size), np.ones(len(classes), int),
                            caps)
    return {c: int(k) for c, k in zip(classes.tolist(), alloc, strict=True)}


def _convex_minorant(x: np.ndarray, y: np.ndarray):
    """Greatest convex non-increasing minorant of points, as a PiecewiseLinear (no solver)."""
    from .convex import PiecewiseLinear

    y = np.minimum.accumulate(y)  # a non-increasing envelope first
    hull: list[int] = []
    for i in range(len(x)):  # lower hull, monotone chain
        while len(hull) >= 2:
            a, b = hull[-2], hull[-1]
            if (y[b] - y[a]) * (x[i] - x[a]) >= (y[i] - y[a]) * (x[b] - x[a]):
                hull.pop()
            else:
                break
        hull.append(i)
    return PiecewiseLinear(x[hull], y[hull])
