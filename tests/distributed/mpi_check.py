"""Checks of :func:`reduce_distributed` run inside an MPI job (launched by test_mpi.py).

Every assertion failure aborts the job (``python -m mpi4py``), so the launching test sees a
non-zero exit code. The root prints one JSON line with what it measured.
"""

import json
import sys

import numpy as np
from mpi4py import MPI
from sklearn.datasets import load_digits

from qcoreset.distributed import (
    ALLOCATIONS,
    reduce_distributed,
    reduce_parts,
    split_rows,
)
from qcoreset.distributed.allocation import TIE_TOLERANCE, loglog_envelope
from qcoreset.payload import decode_payload

comm = MPI.COMM_WORLD
rank, size = comm.Get_rank(), comm.Get_size()
X, y = load_digits(return_X_y=True)
X = X.astype(np.float32)
X[:, 5] = 3.0  # a constant column
rows = split_rows(X.shape[0], size, "label-skew:0.9", y=y, seed=1)[rank]
Xl, yl = X[rows], y[rows]
if rank == 0:  # duplicated rows and an outlier on the root
    Xl = np.concatenate([Xl, Xl[:20], Xl[:1] + 80.0])
    yl = np.concatenate([yl, yl[:20], yl[:1]])
report = {"ranks": size, "rules": {}}
budget = "3%"
objective = {}
for rule in ALLOCATIONS:  # sensitivity sampling: curves for optimal
    res = reduce_distributed(Xl, yl, budget=budget, allocation=rule, random_state=7, comm=comm,
                             method="sensitivity")
    everyone = comm.allgather(res.allocation.tolist())
    assert all(a == everyone[0] for a in everyone), everyone
    assert (res.payload_bits <= res.allocation).all()
    assert res.total_payload_bits <= res.available_bits
    assert res.file_bits <= res.budget_bits
    local = comm.gather(None if res.local is None else
                        (res.local.coreset_, res.local.coreset_weights_, res.local.coreset_labels_),
                        root=0)
    if rank == 0:
        assert 8 * len(res.payload) == res.file_bits
        dec = decode_payload(res.payload)
        assert np.array_equal(dec.points, np.concatenate([p for p, _, _ in local]))
        assert np.array_equal(dec.weights, np.concatenate([w for _, w, _ in local]))
        assert np.array_equal(dec.labels, np.concatenate([lab for _, _, lab in local]))
        for r, (_, _, lab) in enumerate(local):  # every rank's labels are its own classes
            mine = set(np.unique(y[split_rows(X.shape[0], size, "label-skew:0.9", y=y,
                                              seed=1)[r]]).tolist())
            assert set(np.unique(lab).tolist()) <= mine
        assert dec.header["total_weight"] == res.masses.sum()
        assert dec.header["n_total"] == res.n_rows.sum()
        if rule in ("optimal", "cost"):  # one process, same steps: the same bytes
            parts = []
            for r, idx in enumerate(split_rows(X.shape[0], size, "label-skew:0.9", y=y,
                                               seed=1)):
                Xp, yp = X[idx], y[idx]
                if r == 0:
                    Xp = np.concatenate([Xp, Xp[:20], Xp[:1] + 80.0])
                    yp = np.concatenate([yp, yp[:20], yp[:1]])
                parts.append((Xp, yp))
            sim = reduce_parts(parts, budget=budget, allocation=rule, random_state=7,
                               method="sensitivity")
            assert sim.payload == res.payload
            assert np.array_equal(sim.allocation, res.allocation)
        if rule == "optimal":
            fitted = [loglog_envelope(b, e) for b, e in res.curves]
        objective[rule] = res.allocation
        report["rules"][rule] = {"allocation": res.allocation.tolist(),
                                 "payload_bits": res.payload_bits.tolist(),
                                 "budget_bits": res.budget_bits,
                                 "available_bits": res.available_bits,
                                 "coreset_size": int(dec.header["coreset_size"])}
if rank == 0:
    masses = res.masses
    # sensitivity sampling: standard errors add in quadrature (see allocation.combination)
    value = {rule: float(sum((m * float(f(b))) ** 2
                             for m, f, b in zip(masses, fitted, a, strict=True)))
             for rule, a in objective.items()}
    report["objective"] = value
    # optimal up to its tie tolerance (then it keeps the size split), plus the sampling
    assert all(value["optimal"] <= v * (1 + TIE_TOLERANCE + 1e-4) for v in value.values()), \
        value

# labels and the default constructor (uniform per class): one sampling fraction
fr = reduce_distributed(Xl, yl, budget=budget, random_state=5, comm=comm)
assert fr.method == "uniform" and fr.fraction is not None
assert (fr.payload_bits <= fr.allocation).all() and fr.file_bits <= fr.budget_bits
assert fr.allocation.sum() <= fr.available_bits
if rank == 0:
    parts = []
    for r, idx in enumerate(split_rows(X.shape[0], size, "label-skew:0.9", y=y, seed=1)):
        Xp, yp = X[idx], y[idx]
        if r == 0:
            Xp = np.concatenate([Xp, Xp[:20], Xp[:1] + 80.0])
            yp = np.concatenate([yp, yp[:20], yp[:1]])
        parts.append((Xp, yp))
    sim = reduce_parts(parts, budget=budget, random_state=5)
    assert sim.payload == fr.payload and sim.fraction == fr.fraction
    report["fraction"] = fr.fraction

# determinism: the same seed gives the same bytes
a = reduce_distributed(Xl, yl, budget=budget, random_state=3, comm=comm)
b = reduce_distributed(Xl, yl, budget=budget, random_state=3, comm=comm)
if rank == 0:
    assert a.payload == b.payload
    report["deterministic"] = True

# a rank without rows sends nothing and the rest still decodes
if size > 1:
    Xe = Xl if rank < size - 1 else Xl[:0]
    ye = yl if rank < size - 1 else yl[:0]
    res = reduce_distributed(Xe, ye, budget=budget, random_state=0, comm=comm)
    assert res.allocation[-1] == 0 and res.payload_bits[-1] == 0
    if rank == 0:
        dec = decode_payload(res.payload)
        assert dec.header["part_payload_bits"][-1] == 0
        report["empty_rank"] = res.allocation.tolist()
if rank == 0:
    print(json.dumps(report))
    sys.stdout.flush()
