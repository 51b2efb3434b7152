"""Weighted k-means++ seeding, weighted Lloyd iterations and farthest-first traversal.

Private, unvalidated kernels shared by the coreset constructors. Every function assumes a
clean 2-D float32 or float64 array ``X`` (finite values) and float64 weights ``u >= 0`` with a
positive sum; the public shells in :mod:`qcoreset.constructors` validate input once.

Design notes
------------
* Squared distances use the expansion ``||x||^2 - 2 x.c + ||c||^2`` so that the heavy part is a
  BLAS matrix-vector or matrix-matrix product in ``X``'s own dtype. ``X`` is never converted:
  float32 data stays float32 and only row blocks (or n-vectors) are ever copied, so the extra
  memory stays far below the size of ``X``.
* Results that are n-vectors (squared distances, assignments, weights) are float64 / int64.
* The expansion suffers from cancellation: squared distances below a rounding-noise floor
  ``_floor_rtol(d, dtype) * (||x||^2 + ||c||^2)`` are reported as exactly 0, so that duplicated
  rows are recognised as duplicates (k-means++ and farthest-first then stop early instead of
  choosing a copy of an existing centre).
* Row blocks are sized so that temporaries stay below ``CHUNK_BYTES`` (64 MB) and, for small
  data, below an eighth of the size of ``X``.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse

__all__ = [
    "CHUNK_BYTES",
    "row_sq_norms",
    "min_sq_distances",
    "assigned_distances",
    "weighted_mean",
    "weighted_mean_var",
    "kmeans_plusplus",
    "kmeans_plusplus_seeding",
    "lloyd",
    "farthest_first",
]

#: Budget in bytes for the temporaries of one row block.
CHUNK_BYTES = 64 * 2**20
#: Smallest block budget (below this, per-block overhead dominates).
MIN_CHUNK_BYTES = 2**20


def _chunk_rows(X: np.ndarray, row_bytes: int) -> int:
    """Rows per block so that the temporaries of one block (``row_bytes`` per row) stay
    below ``CHUNK_BYTES`` and, for small data, below an eighth of ``X`` (but >= 1 MB)."""
    budget = max(MIN_CHUNK_BYTES, min(CHUNK_BYTES, X.nbytes // 8))
    return int(max(1, min(max(X.shape[0], 1), budget // max(1, row_bytes))))


def _floor_rtol(n_features: int, dtype: np.dtype) -> float:
    """Relative rounding-noise level of the distance expansion for ``n_features`` columns."""
    return 4.0 * float(np.finfo(dtype).eps) * float(np.sqrt(n_features))


def row_sq_norms(X: np.ndarray) -> np.ndarray:
    """Squared Euclidean norm of every row.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
        Data.

    Returns
    -------
    ndarray of shape (n,), float64
        ``||x_i||^2`` for every row (computed in ``X``'s dtype, block by block).
    """
    n, d = X.shape
    out = np.empty(n, dtype=np.float64)
    step = _chunk_rows(X, d * X.itemsize * 2)
    for s in range(0, n, step):
        b = X[s : s + step]
        out[s : s + step] = np.einsum("ij,ij->i", b, b)
    return out


def _sq_dist_to_point(
    X: np.ndarray, c: np.ndarray, x_sq: np.ndarray, c_sq: float, rtol: float
) -> np.ndarray:
    """Squared distances of every row of ``X`` to one point ``c`` (one BLAS pass over X)."""
    # c must have X's dtype, otherwise numpy would upcast (copy) all of X.
    dots = X @ np.asarray(c, dtype=X.dtype)
    d2 = x_sq - 2.0 * dots
    d2 += c_sq
    d2[d2 <= rtol * (x_sq + c_sq)] = 0.0
    return d2


def _block_sq_distances(
    Xb: np.ndarray, Ct: np.ndarray, xb_sq: np.ndarray, c_sq: np.ndarray, rtol: float
) -> np.ndarray:
    """(rows, k) squared distances of a row block to all centres (``Ct`` = centres.T)."""
    d2 = np.asarray(Xb @ Ct, dtype=np.float64)
    d2 *= -2.0
    d2 += xb_sq[:, None]
    d2 += c_sq[None, :]
    d2[d2 <= rtol * (xb_sq[:, None] + c_sq[None, :])] = 0.0
    return d2


def min_sq_distances(
    X: np.ndarray,
    C: np.ndarray,
    x_sq: np.ndarray | None = None,
    *,
    c_sq: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Squared distance of every row to its nearest centre, and that centre's index.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
        Data.
    C : ndarray of shape (k, d)
        Centres (k >= 1); cast to ``X``'s dtype for the products.
    x_sq : ndarray of shape (n,), optional
        Precomputed :func:`row_sq_norms` of ``X``.
    c_sq : ndarray of shape (k,), optional
        Precomputed squared norms of ``C``.

    Returns
    -------
    d2 : ndarray of shape (n,), float64
        ``min_j ||x_i - c_j||^2`` (clipped at 0; values below rounding noise are 0).
    labels : ndarray of shape (n,), int64
        ``argmin_j`` (lowest index on ties).
    """
    n, d = X.shape
    if x_sq is None:
        x_sq = row_sq_norms(X)
    Cx = np.ascontiguousarray(C, dtype=X.dtype)
    if c_sq is None:
        c_sq = row_sq_norms(np.asarray(C, dtype=np.float64))
    k = Cx.shape[0]
    rtol = _floor_rtol(d, X.dtype)
    Ct = Cx.T
    d2 = np.empty(n, dtype=np.float64)
    labels = np.empty(n, dtype=np.int64)
    step = _chunk_rows(X, k * (X.itemsize + 8 * 3))
    for s in range(0, n, step):
        e = min(n, s + step)
        block = _block_sq_distances(X[s:e], Ct, x_sq[s:e], c_sq, rtol)
        lab = np.argmin(block, axis=1)
        labels[s:e] = lab
        d2[s:e] = block[np.arange(e - s), lab]
    return d2, labels


def _assign_accumulate(
    X: np.ndarray, C: np.ndarray, u: np.ndarray, x_sq: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Nearest-centre assignment fused with the weighted per-cluster sums (one pass over X).

    Returns ``(d2, labels, sums, masses)`` with ``sums[j] = sum_{label=j} u_i x_i`` (float64).
    """
    n, d = X.shape
    k = C.shape[0]
    Cx = np.ascontiguousarray(C, dtype=X.dtype)
    c_sq = row_sq_norms(np.asarray(C, dtype=np.float64))
    rtol = _floor_rtol(d, X.dtype)
    Ct = Cx.T
    d2 = np.empty(n, dtype=np.float64)
    labels = np.empty(n, dtype=np.int64)
    sums = np.zeros((k, d), dtype=np.float64)
    step = _chunk_rows(X, k * (X.itemsize + 8 * 3) + d * 8)
    for s in range(0, n, step):
        e = min(n, s + step)
        block = _block_sq_distances(X[s:e], Ct, x_sq[s:e], c_sq, rtol)
        lab = np.argmin(block, axis=1)
        labels[s:e] = lab
        d2[s:e] = block[np.arange(e - s), lab]
        # Weighted one-hot (k x rows) times the block: sum of u*x per cluster in O(rows*d).
        onehot = sparse.csr_matrix((u[s:e], (lab, np.arange(e - s))), shape=(k, e - s))
        sums += onehot @ np.asarray(X[s:e], dtype=np.float64)
    masses = np.bincount(labels, weights=u, minlength=k)
    return d2, labels, sums, masses


def assigned_distances(X: np.ndarray, C: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """Exact Euclidean distance of every row to its assigned centre.

    Computed from differences (no expansion), block by block in float64.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Data.
    C : ndarray of shape (k, d)
        Centres.
    labels : ndarray of shape (n,), int
        Index into ``C`` for every row.

    Returns
    -------
    ndarray of shape (n,), float64
        ``||x_i - C[labels_i]||``.
    """
    n, d = X.shape
    C64 = np.asarray(C, dtype=np.float64)
    out = np.empty(n, dtype=np.float64)
    step = _chunk_rows(X, d * 8 * 3)
    for s in range(0, n, step):
        target = C64[0] if C64.shape[0] == 1 else C64[labels[s : s + step]]
        diff = np.asarray(X[s : s + step], dtype=np.float64) - target
        out[s : s + step] = np.sqrt(np.einsum("ij,ij->i", diff, diff))
    return out


def weighted_mean(X: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Weighted column means, block by block in float64.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Data.
    u : ndarray of shape (n,), float64
        Non-negative weights with a positive sum.

    Returns
    -------
    ndarray of shape (d,), float64
        ``sum_i u_i x_i / sum_i u_i``.
    """
    n, d = X.shape
    step = _chunk_rows(X, d * 8 * 2)
    mean = np.zeros(d, dtype=np.float64)
    for s in range(0, n, step):
        mean += u[s : s + step] @ np.asarray(X[s : s + step], dtype=np.float64)
    return mean / float(u.sum())


def weighted_mean_var(X: np.ndarray, u: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weighted column means and (population) variances, block by block in float64.

    Parameters
    ----------
    X : ndarray of shape (n, d)
        Data.
    u : ndarray of shape (n,), float64
        Non-negative weights with a positive sum.

    Returns
    -------
    mean : ndarray of shape (d,), float64
    var : ndarray of shape (d,), float64
    """
    n, d = X.shape
    total = float(u.sum())
    step = _chunk_rows(X, d * 8 * 2)
    mean = weighted_mean(X, u)
    var = np.zeros(d, dtype=np.float64)
    for s in range(0, n, step):
        diff = np.asarray(X[s : s + step], dtype=np.float64) - mean
        var += u[s : s + step] @ (diff * diff)
    var /= total
    return mean, var


def _draw(p: np.ndarray, rng: np.random.Generator) -> int:
    """One index drawn with probability proportional to ``p >= 0`` (``p.sum() > 0``)."""
    cum = np.cumsum(p)
    i = int(np.searchsorted(cum, rng.random() * cum[-1], side="right"))
    if i >= p.shape[0]:  # rounding at the top end: take the last positive entry
        i = int(np.flatnonzero(p)[-1])
    return i


def kmeans_plusplus_seeding(
    X: np.ndarray,
    k: int,
    u: np.ndarray,
    rng: np.random.Generator,
    *,
    x_sq: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted k-means++ (D^2) seeding that also returns the final assignment.

    The first seed is drawn with probability proportional to ``u``, every further seed with
    probability proportional to ``u_i * d^2(x_i, seeds)``. The minimum distances are updated
    incrementally: one pass over ``X`` per seed. Seeding stops early when every positive-weight
    row coincides with a seed (all ``u * d^2`` are 0), so fewer than ``k`` seeds can come back.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
        Data.
    k : int
        Number of seeds wanted, ``1 <= k <= count(u > 0)``.
    u : ndarray of shape (n,), float64
        Non-negative row weights; rows with ``u == 0`` are never chosen.
    rng : numpy.random.Generator
        Source of randomness.
    x_sq : ndarray of shape (n,), optional
        Precomputed :func:`row_sq_norms` of ``X``.

    Returns
    -------
    indices : ndarray of shape (k',), int64
        Row indices of the seeds, ``k' <= k``.
    d2 : ndarray of shape (n,), float64
        Squared distance of every row to its nearest seed.
    labels : ndarray of shape (n,), int64
        Index (into ``indices``) of every row's nearest seed.
    """
    n, d = X.shape
    if x_sq is None:
        x_sq = row_sq_norms(X)
    rtol = _floor_rtol(d, X.dtype)
    indices = np.empty(k, dtype=np.int64)
    first = _draw(u, rng)
    indices[0] = first
    d2 = _sq_dist_to_point(X, X[first], x_sq, x_sq[first], rtol)
    d2[first] = 0.0
    labels = np.zeros(n, dtype=np.int64)
    n_seeds = 1
    for j in range(1, k):
        p = u * d2
        if not p.sum() > 0:
            break
        i = _draw(p, rng)
        indices[j] = i
        new = _sq_dist_to_point(X, X[i], x_sq, x_sq[i], rtol)
        new[i] = 0.0  # a seed is its own nearest seed, whatever the rounding
        closer = new < d2
        closer[i] = True
        d2[closer] = new[closer]
        labels[closer] = j
        n_seeds += 1
    return indices[:n_seeds], d2, labels


def kmeans_plusplus(
    X: np.ndarray,
    k: int,
    u: np.ndarray,
    rng: np.random.Generator,
    *,
    x_sq: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Weighted k-means++ seeding.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
        Data.
    k : int
        Number of centres, ``1 <= k <= count(u > 0)``.
    u : ndarray of shape (n,), float64
        Non-negative row weights (integer weights behave like repeated rows).
    rng : numpy.random.Generator
        Source of randomness.
    x_sq : ndarray of shape (n,), optional
        Precomputed :func:`row_sq_norms` of ``X``.

    Returns
    -------
    centres : ndarray of shape (k', d), float64
        The seeds (data rows); ``k' < k`` only when the data have fewer distinct
        positive-weight rows than ``k``.
    indices : ndarray of shape (k',), int64
        Their row indices in ``X``.
    """
    indices, _, _ = kmeans_plusplus_seeding(X, k, u, rng, x_sq=x_sq)
    return np.asarray(X[indices], dtype=np.float64), indices


def lloyd(
    X: np.ndarray,
    centres: np.ndarray,
    u: np.ndarray,
    max_iter: int = 20,
    tol: float = 1e-4,
    *,
    x_sq: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, float]:
    """Weighted Lloyd iterations from given initial centres.

    Each iteration assigns every row to its nearest centre and moves each centre to the
    ``u``-weighted mean of its rows (one fused pass over ``X``). A cluster that becomes empty
    is moved to the positive-weight row farthest from its current centre. Iteration stops
    after ``max_iter`` steps, when the assignment no longer changes, or when the total squared
    centre shift is at most ``tol`` times the mean weighted column variance (scikit-learn's
    convention). A final assignment step makes ``labels`` the nearest-centre assignment of
    the returned centres.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
        Data.
    centres : ndarray of shape (k, d)
        Initial centres.
    u : ndarray of shape (n,), float64
        Non-negative row weights; integer weights behave exactly like repeated rows.
    max_iter : int, default=20
        Maximum number of update steps (0 only assigns).
    tol : float, default=1e-4
        Relative tolerance on the centre shift.
    x_sq : ndarray of shape (n,), optional
        Precomputed :func:`row_sq_norms` of ``X``.

    Returns
    -------
    centres : ndarray of shape (k, d), float64
        Final centres.
    labels : ndarray of shape (n,), int64
        Nearest-centre assignment of every row to the final centres.
    inertia : float
        ``sum_i u_i * min_j ||x_i - c_j||^2`` for the final centres.
    """
    if x_sq is None:
        x_sq = row_sq_norms(X)
    C = np.array(centres, dtype=np.float64, copy=True)
    pos = u > 0
    tol_abs = 0.0
    if tol > 0 and max_iter > 0:
        _, var = weighted_mean_var(X, u)
        tol_abs = float(tol * var.mean())
    prev_labels = None
    for _ in range(max_iter):
        d2, labels, sums, masses = _assign_accumulate(X, C, u, x_sq)
        if prev_labels is not None and np.array_equal(labels[pos], prev_labels[pos]):
            break
        prev_labels = labels
        new = C.copy()
        full = masses > 0
        new[full] = sums[full] / masses[full][:, None]
        empty = np.flatnonzero(~full)
        if empty.size:
            far = np.where(pos, d2, -1.0)
            n_take = min(empty.size, int(pos.sum()))
            rows = np.argpartition(far, far.shape[0] - n_take)[far.shape[0] - n_take :]
            rows = rows[np.argsort(-far[rows], kind="stable")]
            new[empty[:n_take]] = np.asarray(X[rows], dtype=np.float64)
        shift = float(((new - C) ** 2).sum())
        C = new
        if shift <= tol_abs:
            break
    d2, labels = min_sq_distances(X, C, x_sq)
    return C, labels, float(u @ d2)


def farthest_first(
    X: np.ndarray,
    k: int,
    u: np.ndarray,
    rng: np.random.Generator,
    *,
    x_sq: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Farthest-first traversal (Gonzalez) over the positive-weight rows.

    The first centre is a uniformly random positive-weight row; each next centre is the
    positive-weight row farthest from the centres chosen so far (one pass over ``X`` per
    centre). The traversal stops early when that distance is 0, i.e. every remaining row
    duplicates a centre. The k-centre radius it reaches is at most twice the optimum.

    Parameters
    ----------
    X : ndarray of shape (n, d), float32 or float64
        Data.
    k : int
        Number of centres wanted, ``1 <= k <= count(u > 0)``.
    u : ndarray of shape (n,), float64
        Non-negative row weights; rows with ``u == 0`` are never chosen.
    rng : numpy.random.Generator
        Source of randomness.
    x_sq : ndarray of shape (n,), optional
        Precomputed :func:`row_sq_norms` of ``X``.

    Returns
    -------
    indices : ndarray of shape (k',), int64
        Row indices of the centres in the order chosen, ``k' <= k``.
    d2 : ndarray of shape (n,), float64
        Squared distance of every row to its nearest centre.
    labels : ndarray of shape (n,), int64
        Index (into ``indices``) of every row's nearest centre.
    """
    n, d = X.shape
    if x_sq is None:
        x_sq = row_sq_norms(X)
    rtol = _floor_rtol(d, X.dtype)
    pos = u > 0
    pos_rows = np.flatnonzero(pos)
    indices = np.empty(k, dtype=np.int64)
    first = int(pos_rows[rng.integers(pos_rows.shape[0])])
    indices[0] = first
    d2 = _sq_dist_to_point(X, X[first], x_sq, x_sq[first], rtol)
    d2[first] = 0.0
    labels = np.zeros(n, dtype=np.int64)
    n_centres = 1
    for j in range(1, k):
        i = int(np.argmax(np.where(pos, d2, -1.0)))
        if not d2[i] > 0:
            break
        indices[j] = i
        new = _sq_dist_to_point(X, X[i], x_sq, x_sq[i], rtol)
        new[i] = 0.0  # a centre is its own nearest centre, whatever the rounding
        closer = new < d2
        closer[i] = True
        d2[closer] = new[closer]
        labels[closer] = j
        n_centres += 1
    return indices[:n_centres], d2, labels
