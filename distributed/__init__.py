"""qcoreset.distributed: MPI reduction across ranks with a global bit budget.

Every rank reduces its own rows to a quantized coreset within its share ``B_i`` of a global
budget ``B``; the shares come from the ranks' error curves (``optimal``) or a baseline rule
(``equal``, ``size``, ``cost``); the root receives the payloads (``Gatherv`` of bytes) and
keeps them, unchanged, in one multi-part ``.qcs`` container that decodes to the union of
the ranks' coresets.

Python::

    from mpi4py import MPI
    from qcoreset.distributed import reduce_distributed

    res = reduce_distributed(X_local, y_local, budget="1%", comm=MPI.COMM_WORLD,
                             random_state=0)
    res.allocation          # bits per rank, on every rank
    res.coreset             # on the root: points, weights, labels of the union

Command line::

    mpiexec -n 4 python -m mpi4py -m qcoreset.distributed reduce builtin:digits \\
        --budget 2% -o digits.qcs --split label-skew:0.9 --json

Only this subpackage imports :mod:`mpi4py`, and only when a communicator is needed; the
splits, allocation rules and the container format work without MPI. Without mpi4py,
:func:`get_comm` raises :class:`MPIUnavailableError` saying how to install it
(``python -m pip install "mpi4py>=4" mpich``).
"""

from ._comm import MPIUnavailableError, RankError, get_comm, install_abort_hook
from .allocation import (
    ALLOCATIONS,
    combination,
    convex_envelope,
    curve_budgets,
    local_clustering_cost,
    loglog_interpolant,
    optimal_allocation,
    proportional_allocation,
    rank_curve,
)
from .container import (
    container_overhead_bits,
    decode_container,
    encode_container,
    read_container_header,
    split_container,
)
from .reduce import DistributedResult, rank_seed, reduce_distributed, reduce_parts
from .split import SPLITS, assign_ranks, block_range, parse_split, split_rows

__all__ = [
    "reduce_distributed",
    "reduce_parts",
    "DistributedResult",
    "rank_seed",
    "RankError",
    "MPIUnavailableError",
    "get_comm",
    "install_abort_hook",
    "ALLOCATIONS",
    "curve_budgets",
    "optimal_allocation",
    "proportional_allocation",
    "local_clustering_cost",
    "loglog_interpolant",
    "combination",
    "convex_envelope",
    "rank_curve",
    "container_overhead_bits",
    "encode_container",
    "decode_container",
    "read_container_header",
    "split_container",
    "SPLITS",
    "parse_split",
    "assign_ranks",
    "block_range",
    "split_rows",
]
