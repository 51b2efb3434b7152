"""The one door to MPI: lazy mpi4py import, abort hook, and error agreement across ranks."""

from __future__ import annotations

import sys
import traceback
from collections.abc import Callable
from typing import Any

from qcoreset._errors import QCoresetError

__all__ = [
    "MPIUnavailableError",
    "RankError",
    "get_comm",
    "install_abort_hook",
    "agree",
    "run_agreed",
]

INSTALL_HINT = (
    "install MPI for Python with 'python -m pip install \"mpi4py>=4\" mpich' (laptops, CI) or "
    "'python -m pip install mpi4py' on top of a cluster's MPI, then launch with "
    "'mpiexec -n N python -m mpi4py -m qcoreset.distributed ...'"
)


class MPIUnavailableError(QCoresetError, ImportError):
    """mpi4py or an MPI library is not installed."""


class RankError(QCoresetError, ValueError):
    """One or more ranks rejected their input; raised on every rank alike.

    Attributes
    ----------
    errors : dict
        ``{rank: message}`` of the ranks that failed.
    """

    def __init__(self, errors: dict[int, str]):
        self.errors = dict(sorted(errors.items()))
        super().__init__("; ".join(f"rank {r}: {m}" for r, m in self.errors.items()))


def _mpi():
    try:
        from mpi4py import MPI
    except ImportError:
        raise MPIUnavailableError(f"mpi4py is not installed; {INSTALL_HINT}") from None
    except RuntimeError as exc:  # mpi4py present, libmpi missing
        raise MPIUnavailableError(f"no MPI library could be loaded ({exc}); {INSTALL_HINT}") \
            from None
    return MPI


def get_comm(comm=None):
    """The communicator to use: ``comm``, or ``MPI.COMM_WORLD`` when None.

    Raises
    ------
    MPIUnavailableError
        When mpi4py or its MPI library is missing (the message says how to install them).
    """
    if comm is not None:
        return comm
    return _mpi().COMM_WORLD


def install_abort_hook(comm=None) -> None:
    """Make an uncaught exception on any rank abort the whole job instead of hanging it.

    Installs a :data:`sys.excepthook` that prints the traceback (prefixed with the rank)
    and calls ``comm.Abort(1)``, so that ranks blocked in a collective are killed too.
    Only installed when the communicator has more than one rank.
    """
    comm = get_comm(comm)
    if comm.Get_size() <= 1:
        return
    rank = comm.Get_rank()

    def hook(exctype, value, tb):
        text = "".join(traceback.format_exception(exctype, value, tb))
        sys.stderr.write(f"[rank {rank}] uncaught exception, aborting the MPI job:\n{text}")
        sys.stderr.flush()
        comm.Abort(1)

    sys.excepthook = hook


def _describe(exc: BaseException) -> str:
    if isinstance(exc, QCoresetError):
        return str(exc)
    return f"{type(exc).__name__}: {exc}"


def agree(comm, error: str | None) -> None:
    """Collective: raise :class:`RankError` on every rank if any rank passes an error.

    Every rank must call it at the same point (it is an ``allgather`` of the messages).
    """
    errors = comm.allgather(error)
    bad = {r: e for r, e in enumerate(errors) if e is not None}
    if bad:
        raise RankError(bad)


def run_agreed(comm, fn: Callable[..., Any], *args, **kwargs) -> Any:
    """Run ``fn`` locally, then :func:`agree`: its result, or RankError on every rank.

    Any exception of ``fn`` (a user error or a bug) is reported with the rank's number,
    so no rank is left waiting in a later collective. ``KeyboardInterrupt`` and
    ``SystemExit`` are not caught.
    """
    error, result = None, None
    try:
        result = fn(*args, **kwargs)
    except Exception as exc:  # noqa: BLE001 - reported to every rank, then re-raised there
        error = _describe(exc)
        if not isinstance(exc, QCoresetError):  # a bug: keep its traceback for the report
            sys.stderr.write(f"[rank {comm.Get_rank()}] " + traceback.format_exc())
            sys.stderr.flush()
    agree(comm, error)
    return result
