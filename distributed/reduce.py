"""Distributed reduction: every rank sends a quantized coreset, the budgets sum to at most B.

:func:`reduce_distributed` is called by every rank of a communicator with its local
arrays. The ranks

1. validate their data and agree (an error on any rank is raised on every rank, naming it);
2. share ``(rows, features, mass)`` (``Allgather``) and parse the global budget ``B``
   (a percentage is of the float32 size of all ranks' rows);
3. take the container framing off the budget (:func:`container_overhead_bits`) and share
   their minimum payloads ``H_i`` (header plus one row, or one row per class);
4. split the rest by the allocation rule (:mod:`qcoreset.distributed.allocation`). For
   ``optimal`` with a constant-weight constructor (``uniform``, what ``method="auto"``
   means with labels) each rank sends, for every candidate bit depth, its header bytes
   and bits per row, and its rows per class (``Allgather`` of a float64 buffer); the root
   computes, for every depth, the largest sampling fraction common to all ranks whose
   exact payloads fit (:func:`~qcoreset.distributed.allocation.fraction_allocation`) and
   broadcasts the rows every rank would send there; every rank measures the planner's
   sampling error and quantization effect at those sizes (``Gather``); the root picks
   the depth of least predicted union error (:func:`union_errors`) and broadcasts the
   budgets, the depth and the fraction (``Bcast``). For ``optimal`` with the other
   constructors each rank fits its planner proxy ``curve_fits`` times and sends its mean
   error curve at ``curve_points`` budgets common to all ranks, with the curve's standard
   error; the root pools the curves
   (:func:`~qcoreset.distributed.allocation.shrink_curves`: only differences beyond the
   noise survive), solves the convex allocation (a predicted gain below 0.1 % keeps the
   mass-proportional split) and broadcasts the integer budgets;
5. reduce locally with :class:`qcoreset.QuantizedCoreset` at ``budget = B_i`` (the encoder
   refuses to exceed it), or, for the common fraction, sample every class at that
   fraction and encode at the common depth, and send the payload bytes to the root
   (``Gatherv`` of uint8);
6. the root frames the payloads, unchanged, as one container and decodes it: the union of
   the ranks' coresets with their own grids and labels.

So ``8 len(payload_i) <= B_i`` and ``sum_i B_i + framing <= B`` hold for the bytes sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from qcoreset._errors import BudgetError, InputError
from qcoreset._validation import check_data, check_int, check_labels, check_sample_weight
from qcoreset.budget import parse_budget
from qcoreset.constructors import build_coreset, constructor_params, resolve_method
from qcoreset.estimator import QuantizedCoreset
from qcoreset.payload import DecodedPayload, encode_payload
from qcoreset.planner import (
    PROXIES,
    QuantizationEffect,
    _plan_rng,
    _priced,
    _proxy_name,
    candidate_options,
    error_curve,
    fit_quantizers,
    plan_weight_encoding,
)

from ._comm import RankError, agree, get_comm, run_agreed
from .allocation import (
    ALLOCATIONS,
    BYTE,
    CURVE_FITS,
    TIE_TOLERANCE,
    check_minimums,
    class_multipliers,
    combination,
    curve_budgets,
    fraction_allocation,
    local_clustering_cost,
    optimal_allocation,
    proportional_allocation,
    shrink_curves,
    summarize_fits,
    uses_fraction_rule,
)
from .container import container_overhead_bits, decode_container, encode_container

__all__ = ["DistributedResult", "reduce_distributed", "reduce_parts", "rank_seed", "union_errors"]


@dataclass
class DistributedResult:
    """Outcome of :func:`reduce_distributed` on one rank.

    Attributes
    ----------
    rank, n_ranks : int
        This rank and the communicator size.
    allocation_rule : str
        ``optimal``, ``equal``, ``size`` or ``cost``.
    budget_bits : int
        The global budget ``B``.
    available_bits : int
        ``B`` minus the container framing, in whole bytes: what the ranks split.
    allocation : ndarray of int64, shape (n_ranks,)
        Bits allotted to every rank (the same on all ranks).
    payload_bits : ndarray of int64, shape (n_ranks,)
        Bits every rank sent (``<= allocation``).
    minimum_bits : ndarray of int64
        Every rank's smallest possible payload (0 for a rank without rows).
    n_rows : ndarray of int64
        Rows of data every rank summarises.
    masses : ndarray of float64
        Data mass of every rank.
    payload : bytes or None
        On the root: the container with all payloads (:mod:`.container`); else None.
    coreset : DecodedPayload or None
        On the root: the decoded union (points, weights, labels, merged header).
    local : QuantizedCoreset, list or None
        This rank's fitted reduction (None for a rank without rows); from
        :func:`reduce_parts`, the list of every part's.
    curves : list or None
        On the root, for ``optimal``: every rank's pooled ``(budgets, errors)`` points,
        the curves the allocation minimised over (None for an empty rank).
    raw_curves : list or None
        On the root, for ``optimal``: what every rank sent, ``(budgets, errors,
        log_stderr)``: the geometric mean of its ``curve_fits`` proxy fits and the
        standard error of the mean log error.
    curve_weight : ndarray or None
        On the root, for ``optimal``: how much of its own curve each rank kept
        (:attr:`~qcoreset.distributed.allocation.ShrunkCurves.own_weight`).
    method : str
        The constructor every rank used (``"auto"`` resolved: ``"uniform"`` with labels,
        ``"sensitivity"`` without).
    fraction : float or None
        For ``optimal`` with a constant-weight constructor: the level ``t`` every class
        reached; class ``c`` is sampled on every rank with the fraction ``t g_c`` (up to
        one row), ``g_c`` its multiplier (1 without labels).
    class_multipliers : dict or None
        With ``fraction`` and labels: every class's multiplier ``g_c``
        (:func:`~qcoreset.distributed.allocation.class_multipliers`).
    depth_errors : ndarray or None
        On the root, with ``fraction``: the predicted error of the union at every
        candidate (quantizer, depth) in plan-row order (:func:`union_errors`; NaN where
        the candidate does not fit, and everywhere when only one fits); every rank
        quantizes at the smallest.
    timings : dict
        Wall seconds of the phases on this rank (``validate``, ``allocate``, ``reduce``,
        ``gather``, ``total``).
    """

    rank: int
    n_ranks: int
    allocation_rule: str
    budget_bits: int
    available_bits: int
    allocation: np.ndarray
    payload_bits: np.ndarray
    minimum_bits: np.ndarray
    n_rows: np.ndarray
    masses: np.ndarray
    payload: bytes | None = None
    coreset: DecodedPayload | None = None
    local: QuantizedCoreset | list | None = None
    curves: list | None = None
    raw_curves: list | None = None
    curve_weight: np.ndarray | None = None
    method: str = ""
    fraction: float | None = None
    class_multipliers: dict | None = None
    depth_errors: np.ndarray | None = None
    timings: dict = field(default_factory=dict)

    @property
    def total_payload_bits(self) -> int:
        """Bits sent by all ranks together (``<= available_bits``)."""
        return int(self.payload_bits.sum())

    @property
    def file_bits(self) -> int:
        """Bits of the container: the payloads plus the framing (``<= budget_bits``)."""
        return self.total_payload_bits + container_overhead_bits(self.n_ranks)


def rank_seed(seed: int, rank: int) -> int:
    """The seed of ``rank``'s random choices, derived from the job's ``seed``.

    Examples
    --------
    >>> rank_seed(0, 1) != rank_seed(0, 2)
    True
    """
    ss = np.random.SeedSequence(int(seed), spawn_key=(int(rank),))
    return int(ss.generate_state(1, dtype=np.uint32)[0] & 0x7FFFFFFF)


def _fit_seeds(seed: int, fits: int) -> list[int]:
    """Seeds of a rank's proxy fits: its own seed first, then ones derived from it."""
    return [int(seed)] + [
        int(np.random.SeedSequence(int(seed), spawn_key=(k,)).generate_state(
            1, dtype=np.uint32)[0] & 0x7FFFFFFF) for k in range(1, fits)]


def _local_input(X, y, sample_weight, n_rows):
    """Validated local arrays; a rank may hold no rows (shape (0, d))."""
    arr = X if hasattr(X, "shape") else np.asarray(X)
    if getattr(arr, "ndim", None) == 2 and arr.shape[0] == 0:
        if arr.shape[1] == 0:
            raise InputError("X has no columns")
        return None, None, None, 0, int(arr.shape[1]), 0.0
    X = check_data(X)
    n, d = X.shape
    u = check_sample_weight(sample_weight, n)
    labels = None if y is None else check_labels(y, n)
    rows = n if n_rows is None else check_int(n_rows, "n_rows", 1)
    return X, labels, u, rows, d, float(u.sum())


# The per-rank steps, shared by the MPI collective and the in-process simulation.


@dataclass
class _Params:
    allocation: str
    method: str
    quantizer: str
    bits: object
    proxy: str
    n_clusters: int
    curve_points: int
    curve_fits: int

    def curve_kw(self, y, u, seed) -> dict:
        return dict(y=y, sample_weight=u, method=self.method, quantizer=self.quantizer,
                    bits=self.bits, proxy=self.proxy, n_clusters=self.n_clusters,
                    random_state=seed)


def _check_params(allocation, curve_points, curve_fits, **kw) -> _Params:
    if allocation not in ALLOCATIONS:
        raise InputError(f"unknown allocation {allocation!r}; use one of {', '.join(ALLOCATIONS)}")
    resolve_method(kw["method"], False)  # an unknown name fails before any work
    return _Params(allocation=allocation,
                   curve_points=check_int(curve_points, "curve_points", 2, 1000),
                   curve_fits=check_int(curve_fits, "curve_fits", 1, 1000), **kw)


def _stats(local) -> list:
    """This rank's row of the shared table: rows, features, mass, labelled, classes."""
    Xl, yl, ul, rows, d, mass = local
    groups = 0 if Xl is None else len(_class_counts(yl, ul))
    return [rows, d, mass, 0.0 if yl is None else 1.0, groups]


def _check_table(table: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """(rows, masses, live, d) from the (rows, d, mass, labelled, classes) table of all
    ranks."""
    size = table.shape[0]
    n_all = table[:, 0].astype(np.int64)
    d_all = table[:, 1].astype(np.int64)
    live = n_all > 0
    if not live.any():
        raise RankError({r: "holds no rows" for r in range(size)})
    ref = int(np.argmax(live))
    d_ref = int(d_all[ref])
    wrong = {int(r): f"has {d_all[r]} features but rank {ref} has {d_ref}; every rank needs "
             "the same columns" for r in range(size) if d_all[r] != d_ref}
    if wrong:
        raise RankError(wrong)
    labelled = table[live, 3]
    if labelled.min() != labelled.max():
        raise RankError({int(r): "has no labels while other ranks have some; give labels on "
                         "every rank or on none" for r in np.flatnonzero(live)
                         if table[r, 3] == 0})
    return n_all, table[:, 2].copy(), live, d_ref


def _budgets(budget, n_total: int, d: int, size: int) -> tuple[int, int]:
    """(B, bits the payloads may use: B minus the framing, in whole bytes)."""
    budget_bits = parse_budget(budget, n_total, d)
    available = (budget_bits - container_overhead_bits(size)) // BYTE * BYTE
    if available <= 0:
        raise BudgetError(
            f"budget {budget_bits} bits does not even hold the {container_overhead_bits(size)}"
            f"-bit framing of {size} payloads; raise the budget"
        )
    return budget_bits, available


def _class_counts(yl, ul) -> np.ndarray:
    """Positive-weight rows of each class (sorted labels), or of all rows without labels."""
    pos = ul > 0
    if yl is None:
        return np.array([int(pos.sum())], dtype=np.int64)
    _, counts = np.unique(yl[pos], return_counts=True)
    return counts.astype(np.int64)


def _local_seeds(seed) -> tuple[int, int]:
    """The rank's (coreset, rounding) seeds, drawn as :class:`qcoreset.QuantizedCoreset`
    draws them."""
    rs = np.random.RandomState(seed)
    build_seed = int(rs.randint(2**31 - 1))
    return build_seed, int(rs.randint(2**31 - 1))


def _local_families(Xl, yl, params: _Params, seed) -> list | None:
    """The planner's quantizer families ``(fitted quantizer, bit options)`` on this rank
    (None for a rank without rows), fitted once for every step that prices, measures or
    encodes with them.

    Fitted as :func:`qcoreset.planner.plan` and :class:`qcoreset.QuantizedCoreset` fit
    them: with the labels (``pca`` chooses a rank that keeps the classes apart) and the
    planner's ``n_clusters``; a quantizer that takes a seed gets the rank's rounding seed.
    """
    if Xl is None:
        return None
    return fit_quantizers(Xl, params.quantizer, params.bits,
                          random_state=_local_seeds(seed)[1], y=yl,
                          n_clusters=params.n_clusters)


def _candidates(families) -> list:
    """The candidate (fitted quantizer at its depth) list of ``families``, in plan-row
    order."""
    out = []
    for q0, options in families:
        out.extend(q0.with_bits(s) if q0.uses_bits else q0 for s in options)
    return out


def _price_table(Xl, yl, ul, families,
                 params: _Params) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(header bytes, bits per row) of every candidate depth, and the class counts.

    The planner's own pricing (:func:`qcoreset.payload.payload_nbytes` with ``m = 0``, the
    weight encoding the constructor will need): a payload of ``m`` rows at candidate ``j``
    has exactly ``8 (header_j + ceil(m row_bits_j / 8))`` bits. ``families`` are the
    rank's fitted quantizer families (:func:`_local_families`).
    """
    priced = _priced_candidates(Xl, yl, ul, families, params)
    return (np.array([p[3] for p in priced], dtype=np.int64),
            np.array([p[4] for p in priced], dtype=np.int64), _class_counts(yl, ul))


def _priced_candidates(Xl, yl, ul, families, params: _Params) -> list:
    """The planner's priced candidates of this rank: ``(fitted quantizer, quantizer at the
    depth, bits, header bytes, row bits)`` in plan-row order."""
    classes = None if yl is None else np.unique(yl[ul > 0])
    wenc, wbits = plan_weight_encoding(params.method, ul)
    return _priced(families, Xl.shape[1], wenc, wbits, classes, params.method)


def _local_minimum(Xl, yl, ul, families, params: _Params) -> int:
    """Smallest payload: header plus one row per class at the cheapest candidate."""
    if Xl is None:
        return 0
    heads, rbits, counts = _price_table(Xl, yl, ul, families, params)
    return int((8 * (heads + (counts.shape[0] * rbits + 7) // 8)).min())


def _n_candidates(params: _Params) -> int:
    """Candidates (quantizer, depth) of a plan with ``params``: the same on every rank."""
    return sum(len(options) for _, options in candidate_options(params.quantizer, params.bits))


def _local_fraction_table(Xl, yl, ul, families, n_cand: int, n_groups: int,
                          params: _Params) -> np.ndarray:
    """(2 n_cand + n_groups,) buffer: the header bytes of every candidate depth, its bits
    per row, then the rank's class counts (NaN-padded; all NaN for a rank without rows).
    """
    buf = np.full(2 * n_cand + n_groups, np.nan)
    if Xl is None:
        return buf
    heads, rbits, counts = _price_table(Xl, yl, ul, families, params)
    if heads.shape[0] != n_cand:
        raise RuntimeError(f"{heads.shape[0]} candidate depths, expected {n_cand}")
    buf[:n_cand], buf[n_cand:2 * n_cand] = heads, rbits
    buf[2 * n_cand:2 * n_cand + counts.shape[0]] = counts
    return buf


def _local_depth_terms(Xl, yl, ul, families, sizes, params: _Params, seed) -> np.ndarray:
    """(n_cand, 3): at every candidate depth, the planner's measurements of this rank's
    rows at the size the common fraction gives it there.

    Column 0 is the sampling proxy's standard error per unit weight at that size, columns
    1-2 the depth's spread ratio and quantization shift
    (:meth:`qcoreset.planner.QuantizationEffect.at`): what :func:`qcoreset.planner.plan`
    measures, with its seeds, on the rank's rows. NaN where the candidate does not fit
    (``sizes < 0``), for a rank without rows, and everywhere when at most one candidate
    fits (nothing to choose).
    """
    sizes = np.asarray(sizes, dtype=np.int64)
    out = np.full((sizes.shape[0], 3), np.nan)
    fits = sizes >= 0
    if Xl is None or fits.sum() <= 1:
        return out
    priced = _priced_candidates(Xl, yl, ul, families, params)
    rng = _plan_rng(seed)
    proxy = PROXIES.get(_proxy_name(params.proxy, params.method))().fit(
        Xl, ul, method=params.method, n_clusters=params.n_clusters, rng=rng)
    effect = QuantizationEffect(Xl, ul, families[0][0], n_clusters=params.n_clusters,
                                rng=rng)
    uniq, inv = np.unique(sizes[fits], return_inverse=True)
    out[fits, 0] = proxy.error(uniq)[inv]
    for j in np.flatnonzero(fits):
        base, _, bits, _, _ = priced[j]
        out[j, 1:] = effect.at(bits, base)
    return out


def union_errors(terms, masses) -> np.ndarray:
    """The planner's predicted error of the union of the ranks' coresets, per candidate.

    ``terms[i, j]`` is rank i's ``(e_ij, s_ij, b_ij)`` at candidate j
    (:func:`_local_depth_terms`): the standard error per unit weight of its sample, the
    spread ratio and the quantization shift. The ranks sample independently, so the
    union's standard error per unit weight is ``sqrt(sum_i (U_i e_ij)^2 s_ij) / U``; the
    shifts of one depth point the same way on every rank (the grids round the same
    columns alike), so they add by mass, ``sum_i U_i b_ij / U``. The prediction is
    :func:`qcoreset.planner.plan`'s ``sqrt(error^2 spread + shift^2)`` with these, and
    for one rank it is the plan's own. NaN where no rank has a measurement.

    Parameters
    ----------
    terms : ndarray of shape (n_ranks, n_candidates, 3)
        NaN rows for ranks without rows and candidates that do not fit.
    masses : array-like of shape (n_ranks,)
        The ranks' data masses ``U_i``.

    Returns
    -------
    ndarray of shape (n_candidates,)
    """
    terms = np.asarray(terms, dtype=np.float64)
    w = np.asarray(masses, dtype=np.float64)[:, None] / float(np.sum(masses))
    has = ~np.isnan(terms[..., 0])
    var = np.where(has, (w * np.nan_to_num(terms[..., 0])) ** 2
                   * np.nan_to_num(terms[..., 1]), 0.0).sum(axis=0)
    shift = np.where(has, w * np.nan_to_num(terms[..., 2]), 0.0).sum(axis=0)
    return np.where(has.any(axis=0), np.sqrt(var + shift ** 2), np.nan)


def _local_class_stats(Xl, yl, ul):
    """(classes, rows, mass, weighted sums, weighted squared norms) of the rank's
    positive-weight classes, for :func:`~qcoreset.distributed.allocation.class_multipliers`;
    None for a rank without rows or labels."""
    if Xl is None or yl is None:
        return None
    pos = ul > 0
    classes, inv = np.unique(yl[pos], return_inverse=True)
    k = classes.shape[0]
    X = np.asarray(Xl[pos], dtype=np.float64)
    u = ul[pos]
    sums = np.zeros((k, X.shape[1]))
    np.add.at(sums, inv, u[:, None] * X)
    squares = np.bincount(inv, weights=u * np.einsum("ij,ij->i", X, X), minlength=k)
    return (classes.tolist(), np.bincount(inv, minlength=k).tolist(),
            np.bincount(inv, weights=u, minlength=k).tolist(), sums, squares.tolist())


def _multiplier_table(stats) -> dict | None:
    """``{class: g_c}`` over all ranks (None without labels)."""
    if not any(st is not None for st in stats):
        return None
    table = {}
    for st, g in zip(stats, class_multipliers(stats), strict=True):
        if st is not None:
            table.update(zip(st[0], g.tolist(), strict=True))
    return table


def _depth_splits(allbuf: np.ndarray, n_cand: int, available: int, n_all, stats) -> list:
    """The root's common-fraction split (see
    :func:`~qcoreset.distributed.allocation.fraction_allocation`) with every rank at
    candidate ``j``, for every ``j``: None where not even one row per class fits.
    ``stats`` are the ranks' class moments (None without labels: one fraction for all
    rows).

    Raises
    ------
    BudgetError
        When no candidate fits (the cheapest one's message).
    """
    heads = np.nan_to_num(allbuf[:, :n_cand]).astype(np.int64)
    rbits = np.nan_to_num(allbuf[:, n_cand:2 * n_cand]).astype(np.int64)
    counts = [c[~np.isnan(c)].astype(np.int64) for c in allbuf[:, 2 * n_cand:]]
    scale = None
    if any(st is not None for st in stats):
        scale = [np.ones(0) if g is None else g for g in class_multipliers(stats)]
    shares = np.asarray(n_all, dtype=np.float64)
    groups = np.array([int((c > 0).sum()) for c in counts], dtype=np.int64)
    splits, failures = [], []
    for j in range(n_cand):
        try:
            splits.append(fraction_allocation(counts, heads[:, j], rbits[:, j],
                                              int(available), scale=scale, shares=shares))
        except BudgetError as exc:
            splits.append(None)  # keyed by what one row per class needs at this candidate
            need = int(np.sum(np.where(groups > 0, 8 * (heads[:, j]
                                                          + (groups * rbits[:, j] + 7) // 8), 0)))
            failures.append((need, str(exc)))
    if all(sp is None for sp in splits):
        raise BudgetError(min(failures)[1])
    return splits


def _split_sizes(splits: list, n_ranks: int) -> np.ndarray:
    """(n_ranks, n_candidates) rows every rank sends at every candidate's split (-1 where
    the candidate does not fit)."""
    sizes = np.full((n_ranks, len(splits)), -1, dtype=np.int64)
    for j, sp in enumerate(splits):
        if sp is not None:
            sizes[:, j] = [int(np.sum(r)) for r in sp.rows]
    return sizes


def _choose_depth(splits: list, terms, masses) -> tuple[int, np.ndarray]:
    """The candidate every rank quantizes at: the smallest predicted union error
    (:func:`union_errors`), ties to more rows, then the coarser candidate; the only one
    that fits when there is one. Returns it and every candidate's predicted error."""
    errors = union_errors(terms, masses)
    fits = [j for j, sp in enumerate(splits) if sp is not None]
    if len(fits) == 1:
        return fits[0], errors
    rows = {j: sum(int(np.sum(r)) for r in splits[j].rows) for j in fits}
    best = min(fits, key=lambda j: (np.inf if np.isnan(errors[j]) else errors[j],
                                    -rows[j], j))
    return best, errors


def _local_fraction_payload(Xl, yl, ul, families, bits: int, candidate: int, rows,
                            params: _Params, seed):
    """Sample every class with its rows at the common fraction, encode at the common depth
    (candidate ``candidate`` of the rank's ``families``).

    The seeds are drawn as :class:`qcoreset.QuantizedCoreset` draws them; the returned
    estimator is rebuilt from the payload (what the root decodes).
    """
    if Xl is None:
        return None, b""
    build_seed, round_seed = _local_seeds(seed)
    quant = _candidates(families)[candidate]
    rows = np.asarray(rows, dtype=np.int64)[:_class_counts(yl, ul).shape[0]]
    classes = None if yl is None else np.unique(yl[ul > 0])
    sizes = None if classes is None else dict(zip(classes.tolist(), rows.tolist(),
                                                  strict=True))
    coreset = build_coreset(Xl, int(rows.sum()), method=params.method, y=yl,
                            sample_weight=ul, random_state=build_seed, class_sizes=sizes,
                            **constructor_params(params.method, None, params.n_clusters))
    total = float(ul.sum())
    payload = encode_payload(
        coreset.points, coreset.weights, quant, labels=coreset.labels, classes=classes,
        n_total=Xl.shape[0], total_weight=total, method=params.method,
        source_dtype=Xl.dtype, budget_bits=int(bits), rng=np.random.RandomState(round_seed),
        cs_error=coreset.cs_error / total,
        quantization_error=float(quant.row_error_bound(coreset.points).max(initial=0.0)),
    )
    return QuantizedCoreset.from_bytes(payload), payload


def _curve_grid(minimums, maximums, live, points: int) -> np.ndarray:
    """Budgets at which every rank reports its curve: one grid, so the root can pool them.

    From the largest minimum (every rank has a coreset there) to the largest maximum.
    """
    return curve_budgets(int(minimums[live].max()), int(maximums[live].max()), points)


def _bootstrap_rows(labels, n: int, rng: np.random.Generator) -> np.ndarray:
    """Row indices of a bootstrap resample, stratified by class (class counts kept)."""
    if labels is None:
        return rng.integers(0, n, size=n)
    order = np.argsort(labels, kind="stable")
    starts = np.flatnonzero(np.r_[True, labels[order][1:] != labels[order][:-1]])
    sizes = np.diff(np.r_[starts, n])
    offset = np.repeat(starts, sizes)
    return order[offset + np.floor(rng.random(n) * np.repeat(sizes, sizes)).astype(np.int64)]


def _local_curve(Xl, yl, ul, grid, params: _Params, seed) -> np.ndarray:
    """(3, curve_points) buffer: budgets, mean errors, log standard errors; NaN-padded.

    With ``curve_fits = K >= 2`` the rank fits its proxy on ``K`` bootstrap resamples of
    its rows (stratified by class; seeds derived from the rank seed): their spread is what
    another block of the same distribution, fitted with another seed, would report. With
    ``K = 1``: one fit on the rows themselves, spread unknown (NaN). An error is NaN where
    the budget holds no coreset.
    """
    buf = np.full((3, params.curve_points), np.nan)
    if Xl is not None:
        seeds = _fit_seeds(seed, params.curve_fits)
        if len(seeds) == 1:
            fits = error_curve(Xl, grid, **params.curve_kw(yl, ul, seeds[0])).errors[None]
        else:
            rows = []
            for s in seeds:
                idx = _bootstrap_rows(yl, Xl.shape[0], np.random.default_rng(s))
                rows.append(error_curve(Xl[idx], grid, **params.curve_kw(
                    None if yl is None else yl[idx], ul[idx], s)).errors)
            fits = np.stack(rows)
        errors, se = summarize_fits(fits)
        k = grid.shape[0]
        buf[0, :k] = grid
        buf[1, :k] = np.where(np.isfinite(errors), errors, np.nan)
        buf[2, :k] = se
    return buf


def _local_cost(Xl, ul, params: _Params, seed) -> float:
    if Xl is None:
        return 0.0
    return local_clustering_cost(Xl, ul, n_clusters=params.n_clusters, random_state=seed)


def _curves_from(allbuf: np.ndarray, live: np.ndarray) -> list:
    """Every rank's (budgets, errors, log_stderr); NaN errors back to inf."""
    curves = []
    for r in range(allbuf.shape[0]):
        ok = ~np.isnan(allbuf[r, 0])
        e = allbuf[r, 1, ok]
        curves.append((allbuf[r, 0, ok], np.where(np.isnan(e), np.inf, e), allbuf[r, 2, ok])
                      if live[r] else None)
    return curves


def _split(params: _Params, curves, costs, n_all, live, masses, available, minimums,
           maximums):
    """The allocation rule (on the root): (bits per rank, pooled curves or None)."""
    if params.allocation == "optimal":
        pooled = shrink_curves(curves)
        return optimal_allocation(pooled.curves, masses, available, minimums, maximums,
                                  combine=combination(params.method),
                                  tolerance=TIE_TOLERANCE), pooled
    shares = {"equal": live.astype(np.float64), "size": n_all.astype(np.float64),
              "cost": costs}[params.allocation]
    return proportional_allocation(shares, available, minimums), None


def _local_payload(Xl, yl, ul, bits: int, params: _Params, seed):
    if Xl is None:
        return None, b""
    qc = QuantizedCoreset(budget=int(bits), method=params.method, quantizer=params.quantizer,
                          bits=params.bits, proxy=params.proxy, n_clusters=params.n_clusters,
                          random_state=seed).fit(Xl, yl, sample_weight=ul)
    payload = qc.to_bytes()
    if 8 * len(payload) > bits:  # the encoder guarantees it; never trust blindly
        raise RuntimeError(f"payload of {8 * len(payload)} bits exceeds {bits}")
    return qc, payload


def reduce_parts(
    parts,
    *,
    budget,
    allocation: str = "optimal",
    method: str = "auto",
    quantizer: str = "fixed",
    bits="auto",
    proxy: str = "auto",
    n_clusters: int = 10,
    curve_points: int = 16,
    curve_fits: int = CURVE_FITS,
    random_state: int = 0,
) -> DistributedResult:
    """The distributed reduction of ``parts`` simulated in one process (no MPI).

    Runs exactly the per-rank steps of :func:`reduce_distributed` one part after the
    other, so the container it returns equals the one an MPI job with ``len(parts)`` ranks
    writes for the same seed. For benchmarks and tests.

    Parameters
    ----------
    parts : sequence
        One entry per rank: an array ``X``, or a tuple ``(X, y)`` or ``(X, y, sample_weight)``.
    budget, allocation, method, quantizer, bits, proxy, n_clusters, curve_points, curve_fits
        As in :func:`reduce_distributed`.
    random_state : int
        Seed of the job (rank i uses :func:`rank_seed` ``(seed, i)``).

    Returns
    -------
    DistributedResult
        As on the root of the MPI job (``rank == 0``); ``local`` is the list of the
        parts' fitted :class:`QuantizedCoreset` (None for empty parts).

    Raises
    ------
    RankError
        Naming the parts whose data or reduction failed.
    BudgetError
        When the budget cannot hold every part's header.
    """
    t0 = time.perf_counter()
    params = _check_params(allocation, curve_points, curve_fits, method=method,
                           quantizer=quantizer, bits=bits, proxy=proxy, n_clusters=n_clusters)
    size = len(parts)
    if size == 0:
        raise InputError("parts is empty; pass one array (or tuple) per rank")
    seeds = [rank_seed(check_int(random_state, "random_state", 0), r) for r in range(size)]

    def each(fn, *args_per_part):
        out, errors = [], {}
        for r in range(size):
            try:
                out.append(fn(r, *(a[r] for a in args_per_part)))
            except Exception as exc:  # noqa: BLE001 - reported per part below
                errors[r] = str(exc)
                out.append(None)
        if errors:
            raise RankError(errors)
        return out

    tuples = [p if isinstance(p, tuple) else (p,) for p in parts]
    local = each(lambda r, t: _local_input(t[0], t[1] if len(t) > 1 else None,
                                           t[2] if len(t) > 2 else None, None), tuples)
    table = np.array([_stats(loc) for loc in local], dtype=np.float64)
    n_all, masses, live, d = _check_table(table)
    params.method = resolve_method(method, bool(table[live, 3].max() > 0))
    fraction = allocation == "optimal" and uses_fraction_rule(params.method)
    budget_bits, available = _budgets(budget, int(n_all.sum()), d, size)
    families = each(lambda r, loc: _local_families(loc[0], loc[1], params, seeds[r]), local)
    minimums = np.array(each(lambda r, loc, fam: _local_minimum(loc[0], loc[1], loc[2], fam,
                                                                params), local, families),
                        dtype=np.int64)
    check_minimums(available, minimums, framing=budget_bits - available)
    maximums = np.where(live, available - (minimums.sum() - minimums), 0)
    curves = costs = split = None
    if fraction:
        groups, n_cand = int(table[:, 4].max()), _n_candidates(params)
        allbuf = np.stack(each(lambda r, loc, fam: _local_fraction_table(
            loc[0], loc[1], loc[2], fam, n_cand, groups, params), local, families))
        stats = each(lambda r, loc: _local_class_stats(loc[0], loc[1], loc[2]), local)
        splits = _depth_splits(allbuf, n_cand, available, n_all, stats)
        sizes = _split_sizes(splits, size)
        terms = np.stack(each(lambda r, loc, fam: _local_depth_terms(
            loc[0], loc[1], loc[2], fam, sizes[r], params, seeds[r]), local, families))
        candidate, depth_errors = _choose_depth(splits, terms, masses)
        split = splits[candidate]
        alloc, pooled = split.allocation, None
    else:
        if allocation == "optimal":
            grid = _curve_grid(minimums, maximums, live, params.curve_points)
            allbuf = np.stack(each(lambda r, loc: _local_curve(loc[0], loc[1], loc[2], grid,
                                                               params, seeds[r]), local))
            curves = _curves_from(allbuf, live)
        elif allocation == "cost":
            costs = np.array(each(lambda r, loc: _local_cost(loc[0], loc[2], params,
                                                             seeds[r]), local))
        alloc, pooled = _split(params, curves, costs, n_all, live, masses, available,
                               minimums, maximums)
    t_alloc = time.perf_counter()
    if split is not None:
        fitted = each(lambda r, loc, fam: _local_fraction_payload(
            loc[0], loc[1], loc[2], fam, alloc[r], candidate, split.rows[r], params,
            seeds[r]), local, families)
    else:
        fitted = each(lambda r, loc: _local_payload(loc[0], loc[1], loc[2], alloc[r], params,
                                                    seeds[r]), local)
    t_reduce = time.perf_counter()
    payloads = [p for _, p in fitted]
    result = DistributedResult(
        rank=0, n_ranks=size, allocation_rule=allocation, budget_bits=int(budget_bits),
        available_bits=int(available), allocation=alloc,
        payload_bits=np.array([8 * len(p) for p in payloads], dtype=np.int64),
        minimum_bits=minimums, n_rows=n_all, masses=masses,
        local=[qc for qc, _ in fitted], method=params.method,
    )
    if split is not None:
        result.fraction = split.level
        result.class_multipliers = _multiplier_table(stats)
        result.depth_errors = depth_errors
    if pooled is not None:
        result.curves, result.raw_curves = pooled.curves, curves
        result.curve_weight = pooled.own_weight
    result.payload = encode_container(payloads, n_all.tolist())
    result.coreset = decode_container(result.payload)
    t_end = time.perf_counter()
    result.timings = {"allocate": t_alloc - t0, "reduce": t_reduce - t_alloc,
                      "total": t_end - t0}
    return result


def reduce_distributed(
    X,
    y=None,
    *,
    budget,
    sample_weight=None,
    n_rows: int | None = None,
    comm=None,
    root: int = 0,
    allocation: str = "optimal",
    method: str = "auto",
    quantizer: str = "fixed",
    bits="auto",
    proxy: str = "auto",
    n_clusters: int = 10,
    curve_points: int = 16,
    curve_fits: int = CURVE_FITS,
    random_state: int | None = None,
) -> DistributedResult:
    """Reduce the ranks' local data to one coreset under a global bit budget (collective).

    Every rank of ``comm`` must call it with the same parameters and its own data.

    Parameters
    ----------
    X : array-like of shape (n_i, d)
        This rank's rows (``n_i = 0`` allowed: the rank sends nothing). May be a weighted
        summary of more rows (e.g. :class:`qcoreset.streaming.StreamingCoreset`), with
        ``sample_weight`` its weights and ``n_rows`` the rows it stands for.
    y : array-like of shape (n_i,) or None
        Class labels; they travel in the payloads. Give them on every rank or on none.
    budget : int, float or str
        Global budget: bits, a size (``"1MiB"``) or a percentage of the float32 size of
        all ranks' rows (``"1%"``).
    sample_weight : array-like of shape (n_i,) or None
        Row weights (default 1).
    n_rows : int or None
        Rows of data ``X`` stands for (default ``n_i``); used by percentage budgets, the
        ``size`` rule and the container's row counts.
    comm : mpi4py communicator or None
        Default ``MPI.COMM_WORLD``.
    root : int
        Rank that receives the payloads and returns the merged coreset.
    allocation : {"optimal", "equal", "size", "cost"}
        How the budget is split (see :mod:`qcoreset.distributed.allocation`).
    method : str
        Coreset constructor, as in :class:`qcoreset.QuantizedCoreset`; ``"auto"`` (the
        default) is ``"uniform"`` per class with labels and ``"sensitivity"`` without
        (:func:`qcoreset.constructors.resolve_method`). With a constant-weight constructor
        ``optimal`` samples every class on every rank with one common fraction, and every
        rank quantizes at one common depth (:attr:`DistributedResult.depth_errors`).
    quantizer, bits, proxy, n_clusters
        As in :class:`qcoreset.QuantizedCoreset`; the quantizer defaults to ``"fixed"``.
    curve_points : int
        Points of each rank's error curve for ``optimal``.
    curve_fits : int
        Proxy fits each rank averages for its curve (``optimal``), each on a bootstrap
        resample of its rows; their spread tells the root which differences between the
        ranks' curves are noise (see :mod:`qcoreset.distributed.allocation`). 1: one fit
        on the rows themselves, curves taken as they are.
    random_state : int or None
        Seed of the job; rank i uses :func:`rank_seed` ``(seed, i)``. None: the root
        draws a seed and broadcasts it.

    Returns
    -------
    DistributedResult
        ``allocation`` and ``payload_bits`` on every rank; ``payload`` (the container
        bytes) and ``coreset`` (its decoded union) on the root.

    Raises
    ------
    RankError
        On every rank, when any rank's data, labels or reduction failed; the message
        names the ranks and their problems.
    BudgetError
        On every rank, when the budget cannot hold every rank's header.
    MPIUnavailableError
        When mpi4py is missing and no ``comm`` was given.
    """
    t0 = time.perf_counter()
    comm = get_comm(comm)
    rank, size = comm.Get_rank(), comm.Get_size()
    params = _check_params(allocation, curve_points, curve_fits, method=method,
                           quantizer=quantizer, bits=bits, proxy=proxy, n_clusters=n_clusters)
    root = check_int(root, "root", 0, size - 1)
    if random_state is None:
        random_state = comm.bcast(
            int(np.random.SeedSequence().generate_state(1)[0]) if rank == root else None,
            root=root,
        )
    seed = rank_seed(check_int(random_state, "random_state", 0), rank)

    # 1-2: validate and share the shapes -------------------------------------------------
    loc = run_agreed(comm, _local_input, X, y, sample_weight, n_rows)
    Xl, yl, ul = loc[:3]
    stats = np.array(_stats(loc), dtype=np.float64)
    table = np.empty((size, stats.shape[0]), dtype=np.float64)
    comm.Allgather(stats, table)
    n_all, masses, live, d_ref = _check_table(table)  # same table, same verdict everywhere
    params.method = resolve_method(method, bool(table[live, 3].max() > 0))
    fraction = allocation == "optimal" and uses_fraction_rule(params.method)
    budget_bits, available = _budgets(budget, int(n_all.sum()), d_ref, size)
    t_valid = time.perf_counter()

    # 3: minimum payloads ----------------------------------------------------------------
    families = run_agreed(comm, _local_families, Xl, yl, params, seed)
    mine = np.array([run_agreed(comm, _local_minimum, Xl, yl, ul, families, params)],
                    dtype=np.int64)
    minimums = np.empty(size, dtype=np.int64)
    comm.Allgather(mine, minimums)
    check_minimums(available, minimums, framing=budget_bits - available)
    maximums = np.where(live, available - (minimums.sum() - minimums), 0)

    # 4: allocation ----------------------------------------------------------------------
    curves = costs = allbuf = depth_errors = None
    groups = int(table[:, 4].max())
    error = pooled = None
    if fraction:
        n_cand = _n_candidates(params)
        buf = run_agreed(comm, _local_fraction_table, Xl, yl, ul, families, n_cand, groups,
                         params)
        allbuf = np.empty((size, buf.shape[0]), dtype=np.float64)
        comm.Allgather(buf, allbuf)
        # class labels and moments: a small mixed object, gathered pickled
        stats = comm.gather(run_agreed(comm, _local_class_stats, Xl, yl, ul), root=root)
        # the root prices every candidate depth; the ranks measure themselves at its sizes
        sizes = np.zeros((size, n_cand), dtype=np.int64)
        if rank == root:
            try:
                splits = _depth_splits(allbuf, n_cand, available, n_all, stats)
                sizes[:] = _split_sizes(splits, size)
            except Exception as exc:  # noqa: BLE001 - sent to every rank below
                error = f"the allocation failed on the root: {type(exc).__name__}: {exc}"
        agree(comm, error)
        comm.Bcast(sizes, root=root)
        mine = np.ascontiguousarray(run_agreed(comm, _local_depth_terms, Xl, yl, ul, families,
                                               sizes[rank], params, seed))
        terms = np.empty((size, n_cand, 3), dtype=np.float64) if rank == root else None
        comm.Gather(mine, terms, root=root)
    elif allocation == "optimal":
        grid = _curve_grid(minimums, maximums, live, params.curve_points)
        buf = run_agreed(comm, _local_curve, Xl, yl, ul, grid, params, seed)
        allbuf = np.empty((size, 3, params.curve_points), dtype=np.float64)
        comm.Allgather(buf, allbuf)
        curves = _curves_from(allbuf, live)
    elif allocation == "cost":
        costs = np.empty(size, dtype=np.float64)
        comm.Allgather(np.array([run_agreed(comm, _local_cost, Xl, ul, params, seed)]), costs)
    alloc = np.zeros(size, dtype=np.int64)
    # fraction rule: the fraction, the candidate depth, then rows per class of every rank
    choice = np.zeros(3 + size * groups, dtype=np.int64)
    level = np.zeros(1, dtype=np.float64)
    if rank == root:
        try:
            if fraction:
                candidate, depth_errors = _choose_depth(splits, terms, masses)
                split = splits[candidate]
                alloc[:] = split.allocation
                choice[:3] = (split.numerator, split.denominator, candidate)
                level[0] = split.level
                for r, rows_r in enumerate(split.rows):
                    choice[3 + r * groups:3 + r * groups + rows_r.shape[0]] = rows_r
            else:
                alloc[:], pooled = _split(params, curves, costs, n_all, live, masses,
                                          available, minimums, maximums)
        except Exception as exc:  # noqa: BLE001 - sent to every rank below
            error = f"the allocation failed on the root: {type(exc).__name__}: {exc}"
    agree(comm, error)
    comm.Bcast(alloc, root=root)
    if fraction:
        comm.Bcast(choice, root=root)
        comm.Bcast(level, root=root)
    t_alloc = time.perf_counter()

    # 5: local reduction -----------------------------------------------------------------
    if fraction:
        mine = choice[3 + rank * groups:3 + (rank + 1) * groups]
        qc, payload = run_agreed(comm, _local_fraction_payload, Xl, yl, ul, families,
                                 int(alloc[rank]), int(choice[2]), mine, params, seed)
    else:
        qc, payload = run_agreed(comm, _local_payload, Xl, yl, ul, int(alloc[rank]), params,
                                 seed)
    t_reduce = time.perf_counter()

    # 6: gather the bytes ----------------------------------------------------------------
    from mpi4py import MPI  # the communicator exists, so mpi4py is importable

    counts = np.empty(size, dtype=np.int64)
    comm.Allgather(np.array([len(payload)], dtype=np.int64), counts)
    send = np.frombuffer(payload, dtype=np.uint8) if payload else np.zeros(0, dtype=np.uint8)
    recv = None
    if rank == root:
        displs = np.concatenate([[0], np.cumsum(counts)[:-1]])
        recvbuf = np.empty(int(counts.sum()), dtype=np.uint8)
        recv = [recvbuf, counts.tolist(), displs.tolist(), MPI.BYTE]
    comm.Gatherv(send, recv, root=root)
    payload_bits = 8 * counts
    result = DistributedResult(
        rank=rank, n_ranks=size, allocation_rule=allocation, budget_bits=int(budget_bits),
        available_bits=int(available), allocation=alloc, payload_bits=payload_bits,
        minimum_bits=minimums, n_rows=n_all, masses=masses, local=qc, method=params.method,
    )
    if fraction:
        result.fraction = float(level[0])
        if rank == root:
            result.class_multipliers = _multiplier_table(stats)
            result.depth_errors = depth_errors

    def merge():
        if rank != root:
            return
        if (payload_bits > alloc).any() or int(payload_bits.sum()) > available:
            raise RuntimeError("a payload exceeds its allocation")  # unreachable
        data = recv[0].tobytes()
        bounds = np.concatenate([[0], np.cumsum(counts)])
        parts = [data[bounds[r] : bounds[r + 1]] for r in range(size)]
        result.payload = encode_container(parts, n_all.tolist())
        result.coreset = decode_container(result.payload)
        if pooled is not None:
            result.curves, result.raw_curves = pooled.curves, curves
            result.curve_weight = pooled.own_weight

    run_agreed(comm, merge)  # a failure on the root ends every rank alike
    t_end = time.perf_counter()
    result.timings = {"validate": t_valid - t0, "allocate": t_alloc - t_valid,
                      "reduce": t_reduce - t_alloc, "gather": t_end - t_reduce,
                      "total": t_end - t0}
    return result
