"""qcoreset.distributed: MPI reduction across ranks with a global bit budget.

Only this subpackage imports :mod:`mpi4py`, and only when a function needs it. It is
installed as ``qcoreset.distributed``; nothing in the core package imports it.
"""

__all__: list[str] = []
