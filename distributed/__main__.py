"""``mpiexec -n N python -m mpi4py -m qcoreset.distributed reduce INPUT --budget B ...``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
