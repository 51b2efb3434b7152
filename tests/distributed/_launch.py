"""Launch ``mpiexec`` from ordinary pytest tests (one subprocess per job, killed on timeout)."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def find_mpiexec() -> str | None:
    """The launcher beside this interpreter (pip MPI wheels), else the one on PATH."""
    here = str(Path(sys.executable).parent)
    return os.environ.get("MPIEXEC") or shutil.which(
        "mpiexec", path=here + os.pathsep + os.environ.get("PATH", "")
    )


def mpi_available() -> bool:
    """Whether mpi4py can load an MPI library and a launcher exists."""
    if find_mpiexec() is None:
        return False
    try:
        from mpi4py import MPI  # noqa: F401
    except (ImportError, RuntimeError):
        return False
    return True


def run_mpi(n: int, *args: str, timeout: float = 60, cwd=None):
    """Run ``mpiexec -n n python -m mpi4py <args>``; returns (rc, stdout, stderr, seconds)."""
    exe = find_mpiexec()
    ver = subprocess.run([exe, "--version"], capture_output=True, text=True).stdout
    extra = ["--oversubscribe"] if ("Open MPI" in ver or "OpenRTE" in ver) else []
    cmd = [exe, *extra, "-n", str(n), sys.executable, "-m", "mpi4py", *args]
    env = dict(os.environ, OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    t0 = time.monotonic()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=env, cwd=cwd, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)  # the whole process group, not only mpiexec
        out, err = proc.communicate()
        raise AssertionError(f"mpiexec timed out after {timeout}s\n{err[-2000:]}") from None
    return proc.returncode, out, err, time.monotonic() - t0
