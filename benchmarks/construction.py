"""Time and peak memory of each coreset constructor vs n, beside a full-data k-means.

Every measurement runs in a fresh subprocess that loads the data (float32 ``.npy``),
runs one job and reports the wall time and the peak extra memory: the larger of the
growth of the peak resident set and the peak of numpy's traced allocations. In the
same run, ``sklearn.cluster.KMeans(n_clusters=10, n_init=1)`` on the full data gives
the reference time, so the table shows ratios that do not depend on the machine's
speed.

Usage::

    python benchmarks/construction.py                  # synthetic 1e4..1e6 x 64 + Fashion-MNIST
    python benchmarks/construction.py --quick          # small sizes only (a minute)

Writes ``benchmarks/results/construction.csv`` and ``.json`` and prints the table.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
JOBS_DEFAULT = ["kmeans-full", "uniform", "lightweight", "sensitivity", "kcenter", "rcc",
                "reduce-1%"]


def make_synthetic(n: int, d: int, path: Path, seed: int = 0) -> None:
    """Imbalanced Gaussian clusters (70/20/9/1 %) with 0.1 % far outliers, float32, in chunks."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=8.0, size=(4, d)).astype(np.float32)
    probs = np.array([0.70, 0.20, 0.09, 0.01])
    X = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    step = 200_000
    for start in range(0, n, step):
        k = min(step, n - start)
        lab = rng.choice(4, size=k, p=probs)
        block = centres[lab] + rng.standard_normal((k, d), dtype=np.float32)
        out = rng.random(k) < 1e-3
        block[out] = rng.normal(scale=200.0, size=(int(out.sum()), d))
        X[start : start + k] = block
    X.flush()
    del X


def worker(path: str, job: str, m: int, seed: int) -> dict:
    """Run one job on the data at ``path``; returns seconds and peak memory growth."""
    import resource
    import tracemalloc

    from sklearn.cluster import KMeans

    from qcoreset import QuantizedCoreset, build_coreset

    X = np.load(path)
    _ = float(X[:: max(1, len(X) // 1000)].sum())  # touch
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    tracemalloc.start()
    t0 = time.perf_counter()
    info = {}
    if job == "kmeans-full":
        km = KMeans(n_clusters=10, n_init=1, random_state=seed).fit(X)
        info["n_iter"] = int(km.n_iter_)
    elif job.startswith("reduce-"):
        qc = QuantizedCoreset(budget=job.split("-", 1)[1], random_state=seed).fit(X)
        info["coreset_size"] = int(qc.size_)
        info["payload_bits"] = int(qc.payload_bits_)
    else:
        c = build_coreset(X, m, method=job, random_state=seed)
        info["coreset_size"] = int(len(c.weights))
    seconds = time.perf_counter() - t0
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    # RSS growth misses memory reused from earlier peaks; numpy's own allocations are
    # traced exactly. Report the larger of the two.
    extra = max(peak - base, traced_peak)
    return {"seconds": seconds, "peak_extra_bytes": int(extra), "rss_growth_bytes":
            int(max(0, peak - base)), "numpy_peak_bytes": int(traced_peak),
            "input_bytes": int(X.nbytes), **info}


def run_job(path: Path, job: str, m: int, seed: int, timeout: float) -> dict:
    cmd = [sys.executable, __file__, "--worker", str(path), job, str(m), str(seed)]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timeout>{timeout:.0f}s"}
    if proc.returncode != 0:
        return {"error": proc.stderr.strip().splitlines()[-1][:80]}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    p.add_argument("--d", type=int, default=64)
    p.add_argument("--m", type=int, default=1000, help="coreset size for the constructors")
    p.add_argument("--jobs", nargs="+", default=JOBS_DEFAULT)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=600.0)
    p.add_argument("--quick", action="store_true", help="sizes 1e4 and 1e5 only")
    p.add_argument("--no-fashion", action="store_true")
    p.add_argument("--out", type=Path, default=HERE / "results")
    p.add_argument("--worker", nargs=4, metavar=("PATH", "JOB", "M", "SEED"),
                   help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.worker:
        path, job, m, seed = args.worker
        print(json.dumps(worker(path, job, int(m), int(seed))))
        return 0

    sizes = [s for s in args.sizes if s <= 100_000] if args.quick else args.sizes
    args.out.mkdir(parents=True, exist_ok=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="qcoreset-bench-") as tmp:
        datasets = []
        for n in sizes:
            path = Path(tmp) / f"synthetic-{n}x{args.d}.npy"
            make_synthetic(n, args.d, path, seed=args.seed)
            datasets.append((f"synthetic {n}x{args.d}", path))
        if not args.no_fashion:
            try:
                from qcoreset.datasets import load_input

                ds = load_input("builtin:fashion-mnist")
                path = Path(tmp) / "fashion.npy"
                np.save(path, np.ascontiguousarray(ds.X, dtype=np.float32))
                datasets.append(("fashion-mnist 60000x784", path))
                del ds
            except Exception as exc:  # noqa: BLE001 - optional dataset
                print(f"(Fashion-MNIST skipped: {exc})")
        for name, path in datasets:
            ref = None
            for job in args.jobs:
                print(f"  {name:<26} {job:<12} ...", end="", flush=True)
                res = run_job(path, job, args.m, args.seed, args.timeout)
                if job == "kmeans-full" and "seconds" in res:
                    ref = res["seconds"]
                row = {"dataset": name, "job": job, "m": args.m if job in
                       ("uniform", "lightweight", "sensitivity", "kcenter", "rcc") else "",
                       **res}
                if "seconds" in res:
                    row["time_vs_kmeans"] = res["seconds"] / ref if ref else float("nan")
                    row["peak_over_input"] = ((res["input_bytes"] + res["peak_extra_bytes"])
                                              / res["input_bytes"])
                    print(f" {res['seconds']:8.3f} s  x{row['time_vs_kmeans']:.3f} of k-means"
                          f"  peak extra {res['peak_extra_bytes'] / 2**20:7.1f} MiB")
                else:
                    print(f" {res['error']}")
                rows.append(row)

    cols = ["dataset", "job", "m", "coreset_size", "seconds", "time_vs_kmeans",
            "peak_extra_bytes", "rss_growth_bytes", "numpy_peak_bytes", "input_bytes",
            "peak_over_input", "n_iter", "payload_bits", "error"]
    with open(args.out / "construction.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, extrasaction="ignore")
        w.writeheader()
        w.writerows(rows)
    meta = {"cores": os.cpu_count(), "python": sys.version.split()[0],
            "numpy": np.__version__, "rows": rows}
    (args.out / "construction.json").write_text(json.dumps(meta, indent=1))

    print(f"\nmachine: {os.cpu_count()} cores; time relative to KMeans(10, n_init=1) on the "
          "same data in this run; peak = (input + peak growth) / input")
    print(f"{'dataset':<26} {'job':<12} {'m':>6} {'seconds':>9} {'x k-means':>10} "
          f"{'peak extra MiB':>15} {'peak/input':>10}")
    for r in rows:
        if "seconds" not in r:
            print(f"{r['dataset']:<26} {r['job']:<12} {str(r['m']):>6} {r['error']:>9}")
            continue
        print(f"{r['dataset']:<26} {r['job']:<12} {str(r['m']):>6} {r['seconds']:9.3f} "
              f"{r['time_vs_kmeans']:10.3f} {r['peak_extra_bytes'] / 2**20:15.1f} "
              f"{r['peak_over_input']:10.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
