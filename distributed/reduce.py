"""Distributed reduction: every rank sends a quantized coreset, the budgets sum to at most B.

:func:`reduce_distributed` is called by every rank of a communicator with its local
arrays. The ranks

1. validate their data and agree (an error on any rank is raised on every rank, naming it);
2. share ``(rows, features, mass)`` (``Allgather``) and parse the global budget ``B``
   (a percentage is of the float32 size of all ranks' rows);
3. take the container framing off the budget (:func:`container_overhead_bits`) and share
   their minimum payloads ``H_i`` (header plus one row, or one row per class);
4. split the rest by the allocation rule (:mod:`qcoreset.distributed.allocation`): for
   ``optimal`` each rank sends ``curve_points`` points of its planner error curve
   (``Allgather`` of a fixed-size float64 buffer), the root solves the convex allocation
   and broadcasts the integer budgets (``Bcast``);
5. reduce locally with :class:`qcoreset.QuantizedCoreset` at ``budget = B_i`` (the encoder
   refuses to exceed it) and send the payload bytes to the root (``Gatherv`` of uint8);
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
from qcoreset.estimator import QuantizedCoreset
from qcoreset.payload import DecodedPayload
from qcoreset.planner import error_curve

from ._comm import RankError, agree, get_comm, run_agreed
from .allocation import (
    ALLOCATIONS,
    BYTE,
    check_minimums,
    curve_budgets,
    local_clustering_cost,
    optimal_allocation,
    proportional_allocation,
)
from .container import container_overhead_bits, decode_container, encode_container

__all__ = ["DistributedResult", "reduce_distributed", "rank_seed"]


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
    local : QuantizedCoreset or None
        This rank's fitted reduction (None for a rank without rows).
    curves : list or None
        On the root, for ``optimal``: every rank's ``(budgets, errors)`` proxy points.
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
    local: QuantizedCoreset | None = None
    curves: list | None = None
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
    method: str = "sensitivity",
    quantizer: str = "fixed",
    bits="auto",
    proxy: str = "auto",
    n_clusters: int = 10,
    curve_points: int = 16,
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
    method, quantizer, bits, proxy, n_clusters
        As in :class:`qcoreset.QuantizedCoreset`.
    curve_points : int
        Points of each rank's error curve for ``optimal``.
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
    if allocation not in ALLOCATIONS:
        raise InputError(f"unknown allocation {allocation!r}; use one of {', '.join(ALLOCATIONS)}")
    root = check_int(root, "root", 0, size - 1)
    curve_points = check_int(curve_points, "curve_points", 2, 1000)
    if random_state is None:
        random_state = comm.bcast(
            int(np.random.SeedSequence().generate_state(1)[0]) if rank == root else None,
            root=root,
        )
    seed = rank_seed(check_int(random_state, "random_state", 0), rank)

    # 1-2: validate and share the shapes -------------------------------------------------
    Xl, yl, ul, rows, d, mass = run_agreed(comm, _local_input, X, y, sample_weight, n_rows)
    stats = np.array([rows, d, mass, 0.0 if yl is None else 1.0], dtype=np.float64)
    table = np.empty((size, 4), dtype=np.float64)
    comm.Allgather(stats, table)
    n_all = table[:, 0].astype(np.int64)
    d_all = table[:, 1].astype(np.int64)
    masses = table[:, 2].copy()
    live = n_all > 0
    if not live.any():
        raise RankError({r: "holds no rows" for r in range(size)})
    d_ref = int(d_all[np.argmax(live)])
    wrong = {int(r): f"has {d_all[r]} features but rank {int(np.argmax(live))} has {d_ref}; "
             "every rank needs the same columns" for r in range(size) if d_all[r] != d_ref}
    if wrong:
        raise RankError(wrong)
    labelled = table[live, 3]
    if labelled.min() != labelled.max():
        raise RankError({int(r): "has no labels while other ranks have some; give labels on "
                         "every rank or on none" for r in np.flatnonzero(live)
                         if table[r, 3] == 0})
    budget_bits = parse_budget(budget, int(n_all.sum()), d_ref)
    available = (budget_bits - container_overhead_bits(size)) // BYTE * BYTE
    if available <= 0:
        raise BudgetError(
            f"budget {budget_bits} bits does not even hold the {container_overhead_bits(size)}"
            f"-bit framing of {size} payloads; raise the budget"
        )
    t_valid = time.perf_counter()

    # 3: minimum payloads ----------------------------------------------------------------
    curve_kw = dict(y=yl, sample_weight=ul, method=method, quantizer=quantizer, bits=bits,
                    proxy=proxy, n_clusters=n_clusters, random_state=seed)

    def minimum():
        if Xl is None:
            return 0
        return int(error_curve(Xl, [available], **curve_kw).minimum_bits)

    mine = np.array([run_agreed(comm, minimum)], dtype=np.int64)
    minimums = np.empty(size, dtype=np.int64)
    comm.Allgather(mine, minimums)
    check_minimums(available, minimums, framing=budget_bits - available)
    maximums = np.where(live, available - (minimums.sum() - minimums), 0)

    # 4: allocation ----------------------------------------------------------------------
    curves = None
    if allocation == "optimal":
        def local_curve():
            buf = np.full((2, curve_points), np.nan)
            if Xl is not None:
                grid = curve_budgets(int(minimums[rank]), int(maximums[rank]), curve_points)
                c = error_curve(Xl, grid, **curve_kw)
                buf[0, : grid.shape[0]] = grid
                buf[1, : grid.shape[0]] = np.where(np.isfinite(c.errors), c.errors, np.nan)
            return buf

        buf = run_agreed(comm, local_curve)
        allbuf = np.empty((size, 2, curve_points), dtype=np.float64)
        comm.Allgather(buf, allbuf)
        curves = []
        for r in range(size):
            ok = ~np.isnan(allbuf[r, 0])
            curves.append((allbuf[r, 0, ok], allbuf[r, 1, ok]) if live[r] else None)
    shares = None
    if allocation == "cost":
        def local_cost():
            if Xl is None:
                return np.zeros(1)
            return np.array([local_clustering_cost(Xl, ul, n_clusters=n_clusters,
                                                   random_state=seed)])

        costs = np.empty(size, dtype=np.float64)
        comm.Allgather(run_agreed(comm, local_cost), costs)
        shares = costs
    elif allocation == "size":
        shares = n_all.astype(np.float64)
    elif allocation == "equal":
        shares = live.astype(np.float64)

    alloc = np.zeros(size, dtype=np.int64)
    error = None
    if rank == root:
        try:
            if allocation == "optimal":
                alloc[:] = optimal_allocation(curves, masses, available, minimums, maximums)
            else:
                alloc[:] = proportional_allocation(shares, available, minimums)
        except Exception as exc:  # noqa: BLE001 - sent to every rank below
            error = f"the allocation failed on the root: {type(exc).__name__}: {exc}"
    agree(comm, error)
    comm.Bcast(alloc, root=root)
    t_alloc = time.perf_counter()

    # 5: local reduction -----------------------------------------------------------------
    def local_reduce():
        if Xl is None:
            return None, b""
        qc = QuantizedCoreset(budget=int(alloc[rank]), method=method, quantizer=quantizer,
                              bits=bits, proxy=proxy, n_clusters=n_clusters,
                              random_state=seed).fit(Xl, yl, sample_weight=ul)
        payload = qc.to_bytes()
        if 8 * len(payload) > alloc[rank]:  # the encoder guarantees it; never trust blindly
            raise RuntimeError(f"payload of {8 * len(payload)} bits exceeds {alloc[rank]}")
        return qc, payload

    qc, payload = run_agreed(comm, local_reduce)
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
    if (payload_bits > alloc).any() or int(payload_bits.sum()) > available:
        raise RuntimeError("a payload exceeds its allocation")  # unreachable by construction
    result = DistributedResult(
        rank=rank, n_ranks=size, allocation_rule=allocation, budget_bits=int(budget_bits),
        available_bits=int(available), allocation=alloc, payload_bits=payload_bits,
        minimum_bits=minimums, n_rows=n_all, masses=masses, local=qc,
    )
    if rank == root:
        data = recv[0].tobytes()
        parts, off = [], 0
        for c in counts:
            parts.append(data[off : off + int(c)])
            off += int(c)
        result.payload = encode_container(parts, n_all.tolist())
        result.coreset = decode_container(result.payload)
        result.curves = curves
        assert 8 * len(result.payload) <= budget_bits
    t_end = time.perf_counter()
    result.timings = {"validate": t_valid - t0, "allocate": t_alloc - t_valid,
                      "reduce": t_reduce - t_alloc, "gather": t_end - t_reduce,
                      "total": t_end - t0}
    return result
