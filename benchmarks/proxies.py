"""Planner proxies against the ``exact`` reference: the choice each makes and what it costs.

For each dataset and budget, every proxy plans the same reduction (sensitivity
constructor, fixed quantizer). Reported per proxy: the chosen bit depth and size, the
planning time, the Spearman rank correlation of its predicted errors with those of the
``exact`` proxy over the candidate depths, and the true k-means error (normalized cost -
1, k = 10) of the coreset built at the chosen pair, median over seeds.

Usage::

    python benchmarks/proxies.py
    python benchmarks/proxies.py --datasets digits --budgets 2% --seeds 2

Writes ``benchmarks/results/proxies.csv``.
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from scipy.stats import spearmanr

from qcoreset import QuantizedCoreset
from qcoreset.planner import PROXIES, plan
from qcoreset.tasks import evaluate_task, get_task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from reduction import load  # noqa: E402  (the same datasets and splits)

HERE = Path(__file__).resolve().parent


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+", default=["digits", "imbalanced", "manifold"])
    p.add_argument("--budgets", nargs="+", default=["10%", "2%", "0.5%"])
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    proxies = ["exact", *[n for n in PROXIES.names() if n != "exact"]]
    rows = []
    for dname in args.datasets:
        Xtr = load(dname)[0]
        print(f"\n== {dname}: {Xtr.shape[0]} x {Xtr.shape[1]}; {os.cpu_count()} cores")
        task = get_task("kmeans")
        for seed in range(args.seeds):
            full = task.fit(Xtr, None, random_state=seed)
            for budget in args.budgets:
                ref = None
                for name in proxies:
                    t0 = time.perf_counter()
                    pl = plan(Xtr, budget, proxy=name, random_state=seed, prune=False)
                    seconds = time.perf_counter() - t0
                    pred = np.array([r.predicted_error for r in pl.rows if r.feasible])
                    if name == "exact":
                        ref = pred
                    rho = float(spearmanr(pred, ref).statistic) if len(pred) > 2 else 1.0
                    qc = QuantizedCoreset(budget=budget, bits=pl.chosen.bits,
                                          random_state=seed).fit(Xtr)
                    with warnings.catch_warnings():
                        warnings.simplefilter("ignore")
                        res = evaluate_task(task, (qc.coreset_.astype(Xtr.dtype), None,
                                                   qc.coreset_weights_), Xtr,
                                            full_model=full, random_state=seed)
                    rows.append({"dataset": dname, "budget": budget, "seed": seed,
                                 "proxy": name, "bits": pl.chosen.bits,
                                 "size": pl.chosen.size, "plan_seconds": seconds,
                                 "spearman_vs_exact": rho,
                                 "kmeans_error": res.normalized_cost - 1.0})
                    print(f"  seed {seed} {budget:>5} {name:<9} bits {pl.chosen.bits:>2} "
                          f"size {pl.chosen.size:>6}  {seconds:6.3f} s  rho {rho:+.2f}  "
                          f"kmeans error {res.normalized_cost - 1.0:+.4f}", flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    with open(args.out / "proxies.csv", "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    print("\nmedian over seeds")
    print(f"{'dataset':<12} {'budget':>6} {'proxy':<9} {'bits':>4} {'plan s':>8} "
          f"{'rho':>6} {'kmeans err':>10}")
    keys = sorted({(r["dataset"], r["budget"], r["proxy"]) for r in rows},
                  key=lambda k: (k[0], -float(k[1][:-1]), proxies.index(k[2])))
    for key in keys:
        sel = [r for r in rows if (r["dataset"], r["budget"], r["proxy"]) == key]
        med = {f: float(np.median([r[f] for r in sel]))
               for f in ("bits", "plan_seconds", "spearman_vs_exact", "kmeans_error")}
        print(f"{key[0]:<12} {key[1]:>6} {key[2]:<9} {med['bits']:>4.0f} "
              f"{med['plan_seconds']:>8.3f} {med['spearman_vs_exact']:>+6.2f} "
              f"{med['kmeans_error']:>+10.4f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
