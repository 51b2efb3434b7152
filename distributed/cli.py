"""``python -m mpi4py -m qcoreset.distributed reduce ...``: the MPI command line.

Every rank runs this program. The ranks load their own rows (a shard each, or their part
of one input), call :func:`qcoreset.distributed.reduce_distributed`, and the root writes
the container and prints the summary. Exit codes as in ``qcoreset``: 0 success; 2 bad
input or usage (one line on stderr from the root, naming the ranks and the problem; every
rank exits 2); 1 an unexpected failure (the rank prints its traceback and aborts the job).
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import sys
import time

import numpy as np

from qcoreset._errors import InputError, QCoresetError
from qcoreset.cli import _auto_or_int

__all__ = ["main", "build_parser"]

PROG = "qcoreset.distributed"


class _UsageError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status
        self.message = message


class _Parser(argparse.ArgumentParser):
    """ArgumentParser that reports instead of exiting (the root prints, all ranks exit)."""

    def exit(self, status=0, message=None):  # noqa: D401 - argparse API
        raise _UsageError(status, message or "")

    def error(self, message):  # noqa: D401 - argparse API
        raise _UsageError(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")

    def print_help(self, file=None):
        raise _UsageError(0, self.format_help())


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``python -m qcoreset.distributed``."""
    from qcoreset.constructors import CONSTRUCTORS
    from qcoreset.planner import PROXIES
    from qcoreset.quantizers import QUANTIZERS

    from .allocation import ALLOCATIONS, CURVE_FITS

    parser = _Parser(prog=PROG, description="Distributed quantized-coreset reduction over MPI.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    red = sub.add_parser(
        "reduce",
        help="reduce the ranks' data to one .qcs container within a global bit budget",
        description="Each rank reduces its rows to a quantized coreset within its share of "
        "BUDGET; the root writes one file holding every rank's payload.",
    )
    red.add_argument("input", metavar="INPUT", nargs="?",
                     help="data split across the ranks: FILE.npy, FILE.npz, FILE.csv or "
                     "builtin:NAME (omit with --shards)")
    red.add_argument("--budget", "-b", required=True,
                     help="global bit budget: bits (8e6), a size (100kB, 1MiB) or a "
                     "percentage of the float32 size of all rows (1%%)")
    red.add_argument("-o", "--output", help="output file (default: NAME.qcs here)")
    red.add_argument("--split", default="block",
                     help="how INPUT's rows are dealt to the ranks: block, stratified or "
                     "label-skew:P (default: block)")
    red.add_argument("--shards",
                     help="one file per rank instead of INPUT: a glob pattern (sorted, one "
                     "match per rank, e.g. 'part-*.npy') or a pattern with {rank}")
    red.add_argument("--allocation", default="optimal", choices=ALLOCATIONS,
                     help="budget split across ranks (default: optimal)")
    red.add_argument("--task", help="target task (kmeans, pca, svm, logreg, mlp): labels "
                     "travel only when the task needs them (default: whenever INPUT has them)")
    red.add_argument("--method", default="auto", choices=["auto", *CONSTRUCTORS.names()],
                     help="coreset constructor; auto: uniform per class when labels travel "
                     "(--allocation optimal then samples every class on every rank with "
                     "one fraction, at one bit depth), sensitivity without (default: auto)")
    red.add_argument("--quantizer", default="fixed", choices=QUANTIZERS.names(),
                     help="quantizer (default: fixed)")
    red.add_argument("--bits", type=_auto_or_int("bits"), default="auto",
                     help="bits per value, or 'auto' (default: auto)")
    red.add_argument("--proxy", default="auto", choices=["auto", *PROXIES.names()],
                     help="coreset-error proxy of the planner (default: auto)")
    red.add_argument("--n-clusters", type=int, default=10,
                     help="clusters of the bicriteria solution and of the cost rule "
                     "(default: 10)")
    red.add_argument("--label-column", help="CSV column name or index holding class labels")
    red.add_argument("--chunk-rows", type=_auto_or_int("chunk rows"), default="auto",
                     help=".npy rows read at a time; a rank with more rows streams them "
                     "through merge-and-reduce (default: auto, about 32 MB per chunk)")
    red.add_argument("--summary-size", type=_auto_or_int("summary size"), default="auto",
                     help="points per coreset of the merge-and-reduce tree when streaming "
                     "(default: auto, from the rank's share of the budget)")
    red.add_argument("--curve-points", type=int, default=16,
                     help="points of each rank's error curve for --allocation optimal "
                     "(default: 16)")
    red.add_argument("--curve-fits", type=int, default=CURVE_FITS,
                     help="proxy fits each rank averages for its curve; their spread tells "
                     "the root which differences between the ranks' curves are noise "
                     f"(default: {CURVE_FITS})")
    red.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    red.add_argument("--json", action="store_true", help="print one JSON object (root)")
    return parser


# ----------------------------------------------------------------------------------------
# Local data
# ----------------------------------------------------------------------------------------


def _shard_path(pattern: str, rank: int, size: int) -> str:
    if "{rank}" in pattern:
        return pattern.replace("{rank}", str(rank))
    files = sorted(glob.glob(pattern))
    if len(files) != size:
        raise InputError(
            f"--shards {pattern!r} matched {len(files)} files but the job has {size} ranks; "
            "give one file per rank"
        )
    return files[rank]


def _summary_size(args, rows_estimate: int, d: int, size: int) -> int:
    """Points per merge-and-reduce coreset: twice what the rank's equal share could hold at
    4 bits per value, between 4096 and 8 MB of float64 rows."""
    if args.summary_size != "auto":
        if args.summary_size < 1:
            raise InputError(f"--summary-size must be >= 1, got {args.summary_size}")
        return int(args.summary_size)
    from qcoreset.budget import parse_budget

    share = parse_budget(args.budget, max(1, rows_estimate), d) / size
    cap = max(4096, (8 << 20) // (8 * d))
    return int(np.clip(2 * share / (4 * d + 32), 4096, cap))


def _read_npy_rows(path, start, stop, args, rank, size, seed, rows_total):
    """Rows [start, stop) of a .npy file: in memory if one chunk, else streamed."""
    from qcoreset._validation import check_data
    from qcoreset.constructors import resolve_method
    from qcoreset.streaming import StreamingCoreset, default_chunk_rows, iter_npy_chunks, npy_info

    shape, dtype, _, _ = npy_info(path)
    if len(shape) != 2:
        raise InputError(f"{path} has shape {shape}; pass a 2-D array (n_samples, n_features)")
    d = shape[1]
    step = default_chunk_rows(d, dtype.itemsize) if args.chunk_rows == "auto" else \
        int(args.chunk_rows)
    if step < 1:
        raise InputError(f"--chunk-rows must be >= 1, got {step}")
    info = {"source": str(path), "rows": int(stop - start), "streamed": False}
    if stop - start <= step:
        chunk = next(iter_npy_chunks(path, start, stop, step), np.zeros((0, d), dtype))
        if chunk.shape[0] == 0:
            return np.zeros((0, d)), None, None, 0, info
        return check_data(chunk, name=f"{path}"), None, None, stop - start, info
    sc = StreamingCoreset(size=_summary_size(args, rows_total, d, size),
                          method=resolve_method(args.method, False),
                          n_clusters=args.n_clusters, random_state=seed)
    s = start
    for chunk in iter_npy_chunks(path, start, stop, step):
        try:
            sc.partial_fit(chunk)
        except InputError as exc:
            raise InputError(f"{path}, rows {s}-{s + chunk.shape[0] - 1}: {exc}") from None
        s += chunk.shape[0]
    cs = sc.coreset()
    info.update(streamed=True, summary_size=int(cs.points.shape[0]), depth=int(sc.depth_),
                stream_cs_error=float(cs.cs_error) / max(sc.mass_, 1e-300),
                stream_error_kind=cs.error_kind)
    return cs.points, None, cs.weights, stop - start, info


def _load_local(args, rank: int, size: int, seed: int):
    """This rank's (X, y, sample_weight, n_rows, info) as the options say."""
    from qcoreset.datasets import load_input

    from .split import block_range, parse_split, split_rows

    label_col = args.label_column
    if label_col is not None:
        try:
            label_col = int(label_col)
        except ValueError:
            pass
    if args.shards:
        path = _shard_path(args.shards, rank, size)
        if path.lower().endswith(".npy") and label_col is None:
            n = _npy_rows(path)
            return _read_npy_rows(path, 0, n, args, rank, size, seed, n * size)
        ds = load_input(path, label_column=label_col)
        info = {"source": path, "rows": int(ds.n_samples), "streamed": False}
        return ds.X, ds.y, ds.sample_weight, ds.n_samples, info
    parse_split(args.split)
    if args.input.lower().endswith(".npy") and label_col is None and args.split == "block":
        n = _npy_rows(args.input)
        start, stop = block_range(n, size, rank)
        return _read_npy_rows(args.input, start, stop, args, rank, size, seed, n)
    ds = load_input(args.input, label_column=label_col)
    rows = split_rows(ds.n_samples, size, args.split, y=ds.y, seed=args.seed)[rank]
    X = ds.X[rows]
    y = None if ds.y is None else ds.y[rows]
    u = None if ds.sample_weight is None else ds.sample_weight[rows]
    info = {"source": args.input, "rows": int(rows.shape[0]), "streamed": False}
    return X, y, u, int(rows.shape[0]), info


def _npy_rows(path) -> int:
    from qcoreset.streaming import npy_info

    shape = npy_info(path)[0]
    if len(shape) != 2:
        raise InputError(f"{path} has shape {shape}; pass a 2-D array (n_samples, n_features)")
    return shape[0]


def _task_labels(task_name, y, source):
    if task_name is None:
        return y
    from qcoreset.tasks import get_task

    task = get_task(task_name)
    if not task.needs_labels:
        return None
    if y is None:
        raise InputError(
            f"task {task_name!r} needs class labels but {source} has none; pass "
            "--label-column or use kmeans/pca"
        )
    return y


def _check_output(out: str) -> None:
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {out}: folder {folder} does not exist; create it first")
    if os.path.isdir(out):
        raise InputError(f"cannot write {out}: it is a folder; give a file name with -o")


# ----------------------------------------------------------------------------------------
# Main
# ----------------------------------------------------------------------------------------


def _cmd_reduce(args, comm) -> int:
    from qcoreset.payload import write_atomic

    from ._comm import run_agreed
    from .reduce import rank_seed, reduce_distributed

    t0 = time.perf_counter()
    rank, size = comm.Get_rank(), comm.Get_size()
    if args.shards and args.input:
        raise InputError("give INPUT or --shards, not both")
    if not args.shards and not args.input:
        raise InputError("give INPUT (split across the ranks) or --shards PATTERN")
    if args.shards and args.split != "block":
        raise InputError("--split applies to INPUT; with --shards every rank reads its file")
    if args.curve_points < 2:
        raise InputError(f"--curve-points must be >= 2, got {args.curve_points}")
    if args.curve_fits < 1:
        raise InputError(f"--curve-fits must be >= 1, got {args.curve_fits}")
    if args.output:
        out = args.output
    elif args.shards:
        out = "shards.qcs"
    else:
        out = (args.input.split(":", 1)[1] if args.input.startswith("builtin:")
               else os.path.splitext(os.path.basename(args.input))[0]) + ".qcs"
    seed = rank_seed(args.seed, rank)

    def load():
        if rank == 0:
            _check_output(out)
        X, y, u, n_rows, info = _load_local(args, rank, size, seed)
        y = _task_labels(args.task, y, info["source"])
        return X, y, u, n_rows, info

    X, y, u, n_rows, info = run_agreed(comm, load)
    t_load = time.perf_counter()
    res = reduce_distributed(
        X, y, budget=args.budget, sample_weight=u, n_rows=n_rows if n_rows else None,
        comm=comm, allocation=args.allocation, method=args.method, quantizer=args.quantizer,
        bits=args.bits, proxy=args.proxy, n_clusters=args.n_clusters,
        curve_points=args.curve_points, curve_fits=args.curve_fits, random_state=args.seed,
    )

    def write():
        if rank == 0:
            try:
                write_atomic(out, res.payload)
            except OSError as exc:
                raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None

    run_agreed(comm, write)
    infos = comm.gather(info, root=0)  # small per-rank facts for the report
    if rank != 0:
        return 0
    seconds = time.perf_counter() - t0
    result = {
        "ranks": size,
        "budget_bits": res.budget_bits,
        "allocation": res.allocation.tolist(),
        "payload_bits": res.payload_bits.tolist(),
        "total_payload_bits": res.total_payload_bits,
        "coreset_size": int(res.coreset.header["coreset_size"]),
        "seconds": seconds,
        "allocation_rule": args.allocation,
        "available_bits": res.available_bits,
        "file_bits": 8 * len(res.payload),
        "minimum_bits": res.minimum_bits.tolist(),
        "n_rows": res.n_rows.tolist(),
        "n_points": int(res.n_rows.sum()),
        "n_features": int(res.coreset.header["n_features"]),
        "n_classes": int(res.coreset.header["n_classes"]),
        "bits_per_value": [0 if h is None else int(h["bits_per_value"])
                           for h in res.coreset.header["parts"]],
        "part_sizes": [0 if h is None else int(h["coreset_size"])
                       for h in res.coreset.header["parts"]],
        "streamed": [bool(i.get("streamed")) for i in infos],
        "input": args.input if not args.shards else args.shards,
        "split": None if args.shards else args.split,
        "output": out,
        "method": res.method,
        "fraction": res.fraction,
        "quantizer": args.quantizer,
        "task": args.task,
        "seed": args.seed,
        "load_seconds": t_load - t0,
        "timings": res.timings,
    }
    if any(i.get("streamed") for i in infos):
        result["stream"] = [{k: v for k, v in i.items() if k != "source"} for i in infos]
    if args.json:
        print(json.dumps(result))
        return 0
    from qcoreset.budget import format_bits

    print(f"{size} ranks, {result['n_points']} x {result['n_features']} rows in total; "
          f"budget {format_bits(res.budget_bits)} ({args.allocation} allocation)")
    for r in range(size):
        tag = " [streamed]" if result["streamed"][r] else ""
        print(f"  rank {r}: {res.n_rows[r]} rows, allotted {res.allocation[r]} bits, sent "
              f"{res.payload_bits[r]} bits ({result['part_sizes'][r]} points at "
              f"{result['bits_per_value'][r]} bits){tag}")
    print(f"  sent {res.total_payload_bits} bits in total <= {res.available_bits}; file "
          f"{result['file_bits']} bits <= budget {res.budget_bits}")
    print(f"  wrote {out}: {result['coreset_size']} points in {seconds:.2f} s")
    return 0


def _finish(comm, status: int) -> int:
    """Let every rank reach this point (bounded wait), then finalize MPI cleanly, so an
    agreed error ends the job with ``status`` and the root's one line, not an abort."""
    try:
        req = comm.Ibarrier()
        deadline = time.monotonic() + 5.0
        while not req.Test():
            if time.monotonic() > deadline:
                return status
            time.sleep(0.01)
        from mpi4py import MPI

        if not MPI.Is_finalized():
            MPI.Finalize()
    except Exception:  # noqa: BLE001 - exiting anyway
        pass
    return status


def main(argv=None, comm=None) -> int:
    """Run the MPI command line on this rank; returns the exit code.

    Parameters
    ----------
    argv : list of str or None
        Arguments (default ``sys.argv[1:]``).
    comm : mpi4py communicator or None
        Default ``MPI.COMM_WORLD``.
    """
    from ._comm import MPIUnavailableError, get_comm, install_abort_hook

    try:
        comm = get_comm(comm)
    except MPIUnavailableError as exc:
        print(f"{PROG}: error: {exc}", file=sys.stderr)
        return 2
    rank = comm.Get_rank()
    install_abort_hook(comm)
    try:
        args = build_parser().parse_args(argv)
    except _UsageError as exc:
        if rank == 0 and exc.message:
            (sys.stdout if exc.status == 0 else sys.stderr).write(exc.message)
        return _finish(comm, exc.status)
    try:
        status = _cmd_reduce(args, comm)
        sys.stdout.flush()
        return status
    except QCoresetError as exc:
        if rank == 0:
            print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
            sys.stderr.flush()
        return _finish(comm, 2)
    except BrokenPipeError:
        sys.stderr.close()
        return 0
