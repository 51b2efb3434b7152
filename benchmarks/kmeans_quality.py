"""k-means trained on a reduced payload vs on all the data, and reduce time vs one k-means fit.

For each seed: ``QuantizedCoreset(budget, method, ...)`` reduces the data (construct,
quantize, encode, decode: the whole ``reduce``), ``KMeans(k)`` is fitted on the decoded
weighted coreset and on the full data, and both models' full-data costs are compared.
In the same run, one full-data ``KMeans(n_clusters=k, n_init=1)`` fit is timed, so the
time ratio does not depend on the machine.

Usage::

    python benchmarks/kmeans_quality.py                       # Fashion-MNIST, 1 %, 5 seeds
    python benchmarks/kmeans_quality.py --input builtin:digits --budget 2%

Writes ``benchmarks/results/kmeans_quality-<name>-<budget>-bits_<bits>.csv`` and prints
the table.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
from pathlib import Path

import numpy as np
from sklearn.cluster import KMeans

from qcoreset import QuantizedCoreset, build_coreset, load_input

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", default="builtin:fashion-mnist")
    p.add_argument("--budget", default="1%")
    p.add_argument("--methods", nargs="+", default=["sensitivity", "uniform", "lightweight"])
    p.add_argument("--quantizer", default="fixed")
    p.add_argument("--bits", default="auto",
                   help="'auto' (the planner, as qcoreset reduce) or an int")
    p.add_argument("--no-labels", action="store_true",
                   help="reduce X alone (by default labels travel, as in qcoreset reduce)")
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--n-init", type=int, default=3,
                   help="k-means restarts for the quality comparison (same on both sides)")
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)

    ds = load_input(args.input)
    X = np.ascontiguousarray(ds.X)
    y = None if args.no_labels else ds.y
    bits = args.bits if args.bits == "auto" else int(args.bits)
    n, d = X.shape
    print(f"{ds.name}: {n} x {d} {X.dtype}, budget {args.budget}, k={args.k}, "
          f"{os.cpu_count()} cores")
    rows = []
    for seed in range(args.seeds):
        t0 = time.perf_counter()
        KMeans(n_clusters=args.k, n_init=1, random_state=seed).fit(X)
        t_km1 = time.perf_counter() - t0
        full = KMeans(n_clusters=args.k, n_init=args.n_init, random_state=seed).fit(X)
        cost_full = -full.score(X)
        for method in args.methods:
            t0 = time.perf_counter()
            qc = QuantizedCoreset(budget=args.budget, method=method, quantizer=args.quantizer,
                                  bits=bits, random_state=seed).fit(X, y)
            t_reduce = time.perf_counter() - t0
            t0 = time.perf_counter()
            build_coreset(X, qc.size_, method=method, y=y, random_state=seed)
            t_build = time.perf_counter() - t0
            km = KMeans(n_clusters=args.k, n_init=args.n_init, random_state=seed)
            km.fit(qc.coreset_.astype(X.dtype), sample_weight=qc.coreset_weights_)
            ratio = -km.score(X) / cost_full
            row = {
                "seed": seed, "method": method, "size": qc.size_, "bits": qc.bits_,
                "payload_bits": qc.payload_bits_, "budget_bits": qc.budget_bits_,
                "reduction": qc.reduction_, "cost_ratio": ratio,
                "reduce_seconds": t_reduce, "build_seconds": t_build,
                "kmeans_n_init1_seconds": t_km1,
                "build_vs_kmeans": t_build / t_km1, "reduce_vs_kmeans": t_reduce / t_km1,
            }
            rows.append(row)
            print(f"  seed {seed} {method:<12} m={qc.size_:<6} payload {qc.payload_bits_:>10}"
                  f" <= {qc.budget_bits_}  cost ratio {ratio:.4f}  build {t_build:.3f} s"
                  f"  reduce {t_reduce:.3f} s  k-means(n_init=1) {t_km1:.3f} s")

    print(f"\nmedian over {args.seeds} seeds ({ds.name}, budget {args.budget}, "
          f"{args.quantizer} quantizer, bits {args.bits}, labels {y is not None}, k={args.k}):")
    print(f"{'method':<12} {'size':>6} {'bits':>4} {'reduction':>10} {'cost/full':>10} "
          f"{'build/kmeans':>13} {'reduce/kmeans':>14}")
    for method in args.methods:
        sel = [r for r in rows if r["method"] == method]
        med = {k: float(np.median([r[k] for r in sel])) for k in
               ("size", "bits", "reduction", "cost_ratio", "build_vs_kmeans",
                "reduce_vs_kmeans")}
        print(f"{method:<12} {med['size']:6.0f} {med['bits']:4.0f} {100 * med['reduction']:9.2f}% "
              f"{med['cost_ratio']:10.4f} {med['build_vs_kmeans']:13.3f} "
              f"{med['reduce_vs_kmeans']:14.3f}")
    args.out.mkdir(parents=True, exist_ok=True)
    tag = f"{ds.name}-{args.budget.replace('%', 'pct')}-bits_{args.bits}"
    path = args.out / f"kmeans_quality-{tag}.csv"
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
