"""ML error vs bit budget: the planner's choice against fixed recipes, and its oracle gap.

For each dataset, budget (a percentage of the training set's float32 size), seed and
method, the training data is reduced to a payload within the budget; every task is
trained on the decoded coreset and compared with the same model trained on all the
training data: ``normalized_cost`` (k-means, PCA: full-data cost ratio) or
``degradation`` ((full - coreset) / full test accuracy: svm, logreg, mlp). Tasks
that need no labels are reduced without labels (labels would cost header bits).

Methods: ``planner`` (the defaults: ``method="auto"`` -- sensitivity sampling without
labels, uniform sampling per class with labels, rows split across classes by
``class_allocation="optimal"`` --, ``quantizer="auto"``: the per-column grid or
principal-component transform coding, bits and size chosen by the planner),
``uniform@planner-bits`` / ``sensitivity@planner-bits`` (the other constructor at the
planner's bits), ``planner+refine`` (sensitivity with ``refine_weights=True``),
``planner/mass-classes`` (labelled tasks: class sizes proportional to mass),
``uniform+f32`` and ``sensitivity+f32`` (float32 values), ``rcc@8``. The **oracle
gap** compares the planner's pick with the best of a grid of (size, bits) pairs that fit
the budget (the largest size at each bit depth in ``--grid-bits`` with the per-column grid,
and in ``--grid-pca-bits`` with transform coding), all measured on the same task.

Usage::

    python benchmarks/reduction.py                       # all datasets, 5 seeds
    python benchmarks/reduction.py --datasets digits --seeds 2 --tasks kmeans logreg
    python benchmarks/reduction.py --timing-only --datasets fashion-mnist   # planner time
    python benchmarks/reduction.py --plans-only     # the planner's choices, to compare code

Writes ``benchmarks/results/reduction.csv``, ``reduction-summary.csv``,
``reduction-oracle.csv`` and ``reduction-<dataset>.png`` (when matplotlib is present).
"""

from __future__ import annotations

import argparse
import csv
import os
import pickle
import sys
import time
import warnings
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from qcoreset import BudgetError, QuantizedCoreset, load_input
from qcoreset.tasks import evaluate_task, get_task

HERE = Path(__file__).resolve().parent
ALL_TASKS = ["kmeans", "pca", "svm", "logreg", "mlp"]


# ----------------------------------------------------------------------------- data


def _split(X, y, seed=0):
    return train_test_split(X, y, test_size=0.2, random_state=seed, stratify=y)


def synthetic_imbalanced(n=20_000, d=32, seed=0):
    """Five Gaussian clusters with 60/25/10/4/1 % of the rows; labels are the clusters."""
    rng = np.random.default_rng(seed)
    p = np.array([0.60, 0.25, 0.10, 0.04, 0.01])
    y = rng.choice(5, size=n, p=p)
    centres = rng.normal(scale=3.0, size=(5, d))
    X = centres[y] + rng.normal(size=(n, d))
    return X.astype(np.float32), y


def synthetic_outliers(n=20_000, d=32, seed=0):
    """Three overlapping clusters plus 0.5 % far outliers (50x the spread), labelled."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 3, size=n)
    centres = rng.normal(scale=2.0, size=(3, d))
    X = centres[y] + rng.normal(size=(n, d))
    out = rng.random(n) < 0.005
    X[out] = rng.normal(scale=50.0, size=(int(out.sum()), d))
    return X.astype(np.float32), y


def synthetic_manifold(n=20_000, d=100, seed=0):
    """A 2-D curved sheet (Swiss roll) embedded non-linearly in 100 dimensions, 5 classes."""
    rng = np.random.default_rng(seed)
    t = rng.uniform(1.5 * np.pi, 4.5 * np.pi, size=n)
    h = rng.uniform(0.0, 10.0, size=n)
    base = np.stack([t * np.cos(t), h, t * np.sin(t)], axis=1)
    W = rng.normal(size=(3, d)) / np.sqrt(3)
    X = np.tanh(base @ W / 5.0) * 10 + 0.05 * rng.normal(size=(n, d))
    y = np.digitize(t, np.linspace(1.5 * np.pi, 4.5 * np.pi, 6)[1:-1])
    return X.astype(np.float32), y


def load(name):
    """(X_train, y_train, X_test, y_test) of a benchmark dataset."""
    if name == "fashion-mnist":
        ds = load_input("builtin:fashion-mnist")
        return np.ascontiguousarray(ds.X), ds.y, np.ascontiguousarray(ds.X_test), ds.y_test
    if name == "digits":
        ds = load_input("builtin:digits")
        Xtr, Xte, ytr, yte = _split(ds.X, ds.y)
        return Xtr, ytr, Xte, yte
    gen = {"imbalanced": synthetic_imbalanced, "outliers": synthetic_outliers,
           "manifold": synthetic_manifold}[name]
    X, y = gen()
    Xtr, Xte, ytr, yte = _split(X, y)
    return Xtr, ytr, Xte, yte


# ----------------------------------------------------------------------------- methods


def reducers(budget, seed, planner_bits, planner_method, labelled=False,
             planner_quantizer="fixed", quantizer="auto"):
    """The methods compared at one budget, besides the planner itself.

    ``rcc@8`` and the ``grid@`` pairs use the per-column grid (``fixed``); the
    ``@planner-bits`` rows use the planner's quantizer and depth; ``planner+refine`` and
    ``planner/mass-classes`` the planner's ``quantizer`` option.
    """
    out = {
        "planner+refine": QuantizedCoreset(budget=budget, method="sensitivity",
                                           quantizer=quantizer, refine_weights=True,
                                           random_state=seed),
        "uniform+f32": QuantizedCoreset(budget=budget, method="uniform", quantizer="none",
                                        random_state=seed),
        "sensitivity+f32": QuantizedCoreset(budget=budget, method="sensitivity",
                                            quantizer="none", random_state=seed),
        "rcc@8": QuantizedCoreset(budget=budget, method="rcc", quantizer="fixed", bits=8,
                                  random_state=seed, method_params={"max_iter": 10}),
    }
    if labelled:
        out["planner/mass-classes"] = QuantizedCoreset(budget=budget, class_allocation="mass",
                                                       quantizer=quantizer, random_state=seed)
    for other in ("uniform", "sensitivity"):
        if other != planner_method:
            out[f"{other}@planner-bits"] = QuantizedCoreset(
                budget=budget, method=other, quantizer=planner_quantizer, bits=planner_bits,
                random_state=seed)
    return out


def error_of(res):
    """One number per result, lower is better: normalized cost - 1, or degradation."""
    return res.normalized_cost - 1.0 if res.kind == "cost" else res.degradation


def make_task(args, tname):
    """The task with the parameters given by ``--task-params``."""
    return get_task(tname, **args.task_params.get(tname, {}))


def _task_params(items):
    """``["svm:regularization=weight", ...]`` -> ``{"svm": {"regularization": "weight"}}``."""
    out = {}
    for item in items:
        try:
            tname, kv = item.split(":", 1)
            key, value = kv.split("=", 1)
        except ValueError:
            raise SystemExit(f"--task-params: expected TASK:KEY=VALUE, got {item!r}") from None
        for conv in (int, float):
            try:
                value = conv(value)
                break
            except ValueError:
                pass
        out.setdefault(tname, {})[key] = value
    return out


def _full_model(args, dname, tname, seed, Xtr, ytr):
    """The task's model on all the training data (from --cache when it is there)."""
    task = make_task(args, tname)
    extra = "".join(f"-{k}={v}" for k, v in sorted(args.task_params.get(tname, {}).items()))
    path = None if args.cache is None else args.cache / f"{dname}-{tname}{extra}-seed{seed}.pkl"
    if path is not None and path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    t0 = time.perf_counter()
    model = task.fit(Xtr, ytr if task.needs_labels else None, random_state=seed)
    print(f"  seed {seed}: full-data {tname} fitted in {time.perf_counter() - t0:.1f} s",
          flush=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path.with_suffix(".tmp"), "wb") as fh:
            pickle.dump(model, fh)
        os.replace(path.with_suffix(".tmp"), path)
    return model


def _read_partial(path: Path):
    """Rows already measured by an interrupted run (``--resume``)."""
    if not path.exists():
        return []
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    for r in rows:
        for k in ("seed", "size", "bits", "payload_bits", "budget_bits", "sent_all"):
            r[k] = int(r[k])
        for k in ("reduction", "full_value", "coreset_value", "error", "plan_seconds",
                  "build_seconds"):
            r[k] = float(r[k])
        for k in ("normalized_cost", "degradation"):
            r[k] = float(r[k]) if r[k] not in ("", "None") else None
    return rows


def _append_partial(path: Path, rows):
    new = not path.exists()
    with open(path, "a", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        if new:
            w.writeheader()
        w.writerows(rows)


def run(args):
    args.out.mkdir(parents=True, exist_ok=True)
    partial = args.out / "reduction-partial.csv"
    if not args.resume and partial.exists():
        partial.unlink()
    rows = _read_partial(partial)
    first = {get_task(t).needs_labels: t for t in reversed(args.tasks)}
    done = {(r["dataset"], r["budget"], r["seed"], first[get_task(r["task"]).needs_labels])
            for r in rows}
    for dname in args.datasets:
        try:
            Xtr, ytr, Xte, yte = load(dname)
        except Exception as exc:  # noqa: BLE001 - Fashion-MNIST is optional
            print(f"{dname}: skipped ({exc})")
            continue
        n, d = Xtr.shape
        print(f"\n== {dname}: train {n} x {d}, test {len(Xte)}; {os.cpu_count()} cores")
        full = {}
        for seed in range(args.seeds):
            for tname in args.tasks:
                if args.one_full_model and tname in full:
                    continue
                full[tname] = _full_model(args, dname, tname, seed, Xtr, ytr)
            for budget in args.budgets:
                for labelled in (False, True):
                    tasks = [t for t in args.tasks if get_task(t).needs_labels == labelled]
                    if not tasks:
                        continue
                    key = (dname, budget, seed, tasks[0])
                    if key in done:
                        continue
                    y_fit = ytr if labelled else None
                    try:
                        planner = QuantizedCoreset(budget=budget, quantizer=args.quantizer,
                                                   random_state=seed).fit(
                            Xtr, y_fit)
                    except BudgetError as exc:
                        print(f"  {budget}: {exc}")
                        continue
                    cand = {"planner": planner}
                    others = reducers(budget, seed, planner.bits_, planner.method_, labelled,
                                      planner.quantizer_.name, args.quantizer)
                    for mname, qc in others.items():
                        if mname == "rcc@8" and planner.size_ > args.skip_rcc_above:
                            continue
                        if args.methods is None or mname in args.methods:
                            cand[mname] = qc
                    for s in args.grid_bits:
                        cand[f"grid@{s}"] = QuantizedCoreset(budget=budget, quantizer="fixed",
                                                             bits=s, random_state=seed)
                    for s in args.grid_pca_bits:
                        cand[f"grid-pca@{s}"] = QuantizedCoreset(
                            budget=budget, quantizer="pca", bits=s, random_state=seed)
                    for mname, qc in cand.items():
                        try:
                            if mname != "planner":
                                qc.fit(Xtr, y_fit)
                        except BudgetError:
                            continue
                        core = (qc.coreset_.astype(Xtr.dtype), qc.coreset_labels_,
                                qc.coreset_weights_)
                        for tname in tasks:
                            task = make_task(args, tname)
                            with warnings.catch_warnings():
                                warnings.simplefilter("ignore")
                                res = evaluate_task(task, core, Xtr, ytr, Xte, yte,
                                                    full_model=full[tname], random_state=seed)
                            row = {
                                "dataset": dname, "budget": budget, "seed": seed,
                                "method": mname, "task": tname, "size": qc.size_,
                                "quantizer": qc.quantizer_.name,
                                "bits": qc.bits_, "payload_bits": qc.payload_bits_,
                                "budget_bits": qc.budget_bits_,
                                "reduction": qc.reduction_, "metric": res.metric,
                                "full_value": res.full_value,
                                "coreset_value": res.coreset_value,
                                "normalized_cost": res.normalized_cost,
                                "degradation": res.degradation, "error": error_of(res),
                                "plan_seconds": qc.timings_["plan"],
                                "build_seconds": qc.timings_["build"],
                                "sent_all": int(qc.sent_all_),
                            }
                            rows.append(row)
                    group = [r for r in rows if r["task"] in tasks and (
                        r["dataset"], r["budget"], r["seed"]) == (dname, budget, seed)]
                    if group:
                        _append_partial(partial, group)
                    msg = ", ".join(f"{r['method']}={r['error']:+.4f}" for r in rows[-len(cand)
                                    * len(tasks):] if r["task"] == tasks[0])
                    print(f"  seed {seed} budget {budget} ({'labelled' if labelled else 'X only'}"
                          f"; {tasks[0]} error): {msg}", flush=True)
    return rows


def oracle_gaps(rows):
    """Per (dataset, budget, seed, task): the planner's error against the best grid pair."""
    out = []
    keys = sorted({(r["dataset"], r["budget"], r["seed"], r["task"]) for r in rows})
    for key in keys:
        sel = [r for r in rows if (r["dataset"], r["budget"], r["seed"], r["task"]) == key]
        grid = [r for r in sel if r["method"].startswith("grid")]
        pick = [r for r in sel if r["method"] == "planner"]
        if grid and pick:
            best = min(grid + pick, key=lambda r: r["error"])
            out.append({
                "dataset": key[0], "budget": key[1], "seed": key[2], "task": key[3],
                "planner_bits": pick[0]["bits"], "planner_error": pick[0]["error"],
                "oracle_bits": best["bits"], "oracle_error": best["error"],
                "gap": pick[0]["error"] - best["error"],
            })
    return out


def summarise(rows, out: Path):
    oracle = oracle_gaps(rows)
    out.mkdir(parents=True, exist_ok=True)
    if rows:
        with open(out / "reduction.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    keys = sorted({(r["dataset"], r["budget"], r["task"], r["method"]) for r in rows},
                  key=lambda k: (k[0], -float(k[1].rstrip("%")), k[2], k[3]))
    summary = []
    for dset, budget, task, method in keys:
        sel = [r for r in rows if (r["dataset"], r["budget"], r["task"], r["method"])
               == (dset, budget, task, method)]
        summary.append({
            "dataset": dset, "budget": budget, "task": task, "method": method,
            "seeds": len(sel), "size": int(np.median([r["size"] for r in sel])),
            "bits": int(np.median([r["bits"] for r in sel])),
            "quantizer": max(sorted({r.get("quantizer", "") for r in sel}),
                             key=[r.get("quantizer", "") for r in sel].count),
            "reduction": float(np.median([r["reduction"] for r in sel])),
            "median_error": float(np.median([r["error"] for r in sel])),
            "plan_seconds": float(np.median([r["plan_seconds"] for r in sel])),
            "build_seconds": float(np.median([r["build_seconds"] for r in sel])),
        })
    if summary:
        with open(out / "reduction-summary.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(summary[0]))
            w.writeheader()
            w.writerows(summary)
    if oracle:
        with open(out / "reduction-oracle.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(oracle[0]))
            w.writeheader()
            w.writerows(oracle)

    print("\nmedian over seeds; error = normalized cost - 1 (kmeans, pca) or accuracy "
          "degradation (svm, logreg, mlp); lower is better")
    print(f"{'dataset':<14} {'budget':>6} {'task':<7} {'method':<22} {'size':>6} {'bits':>4} "
          f"{'quant':>5} {'reduction':>9} {'error':>8}")
    for s in summary:
        if s["method"].startswith("grid"):
            continue
        print(f"{s['dataset']:<14} {s['budget']:>6} {s['task']:<7} {s['method']:<22} "
              f"{s['size']:>6} {s['bits']:>4} {s['quantizer']:>5} {100 * s['reduction']:8.2f}% "
              f"{s['median_error']:+8.4f}")
    if oracle:
        print("\noracle gap (planner error - best grid error), median over seeds:")
        groups = sorted({(o["dataset"], o["budget"], o["task"]) for o in oracle})
        for g in groups:
            sel = [o for o in oracle if (o["dataset"], o["budget"], o["task"]) == g]
            print(f"  {g[0]:<14} {g[1]:>6} {g[2]:<7} gap {np.median([o['gap'] for o in sel]):+.4f}"
                  f"  (planner bits {int(np.median([o['planner_bits'] for o in sel]))}, "
                  f"best bits {int(np.median([o['oracle_bits'] for o in sel]))})")
    built = [r for r in rows if r["method"] == "planner" and not r["sent_all"]]
    for dset in sorted({r["dataset"] for r in built}):
        sel = [r for r in built if r["dataset"] == dset]
        ratio = np.median([r["plan_seconds"] / max(r["build_seconds"], 1e-9) for r in sel])
        print(f"planner time / coreset construction time, {dset} (median over the budgets "
              f"where a coreset was built): {ratio:.3f}")
    _plot(summary, out)


def _plot(summary, out: Path):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("(matplotlib not installed: no PNG)")
        return
    for dset in sorted({s["dataset"] for s in summary}):
        tasks = sorted({s["task"] for s in summary if s["dataset"] == dset})
        fig, axes = plt.subplots(1, len(tasks), figsize=(4 * len(tasks), 3.4), squeeze=False)
        for ax, task in zip(axes[0], tasks, strict=True):
            methods = sorted({s["method"] for s in summary if s["dataset"] == dset
                              and s["task"] == task and not s["method"].startswith("grid")})
            for method in methods:
                sel = sorted((s for s in summary if (s["dataset"], s["task"], s["method"])
                              == (dset, task, method)), key=lambda s: float(s["budget"][:-1]))
                ax.plot([float(s["budget"][:-1]) for s in sel],
                        [s["median_error"] for s in sel], marker="o", label=method)
            ax.set_xscale("log")
            ax.set_xlabel("budget (% of float32 size)")
            ax.set_ylabel("normalized cost - 1" if task in ("kmeans", "pca") else "degradation")
            ax.set_title(f"{dset}: {task}")
            ax.grid(alpha=0.3)
        axes[0][0].legend(fontsize=7)
        fig.tight_layout()
        fig.savefig(out / f"reduction-{dset}.png", dpi=110)
        plt.close(fig)


def timing(args) -> int:
    """Planner time against coreset construction time only (no tasks are trained).

    For every dataset, budget, seed and labelling (without and with labels), one default
    ``QuantizedCoreset`` fit; prints ``plan`` and ``build`` seconds and their ratio, and
    the median ratio over the fits where a coreset was built (not every row sent), also
    against everything else the reduction does (fitting the quantizers, the constructor,
    encoding).
    """
    ratios, whole = [], []
    for dname in args.datasets:
        Xtr, ytr, _, _ = load(dname)
        for budget in args.budgets:
            for labelled in (False, True):
                for seed in range(args.seeds):
                    try:
                        qc = QuantizedCoreset(budget=budget, quantizer=args.quantizer,
                                              random_state=seed).fit(
                            Xtr, ytr if labelled else None)
                    except BudgetError as exc:
                        print(f"{dname} {budget}: {exc}")
                        break
                    t = qc.timings_
                    ratio = t["plan"] / max(t["build"], 1e-9)
                    rest = t["quantizers"] + t["build"] + t["encode"]
                    if not qc.sent_all_:
                        ratios.append(ratio)
                        whole.append(t["plan"] / max(rest, 1e-9))
                    print(f"{dname} {budget} {'labelled' if labelled else 'X only'} seed {seed}: "
                          f"{qc.quantizer_.name} {qc.bits_} bits x {qc.size_} rows; plan "
                          f"{t['plan']:.3f} s, build {t['build']:.3f} s, ratio {ratio:.3f}; "
                          f"quantizer fitting + build + encoding {rest:.3f} s", flush=True)
    if ratios:
        print(f"planner time / coreset construction time: median {np.median(ratios):.3f} "
              f"over {len(ratios)} fits (max {max(ratios):.3f})")
        print(f"planner time / (quantizer fitting + construction + encoding): median "
              f"{np.median(whole):.3f} (max {max(whole):.3f})")
    return 0


def plans(args) -> int:
    """The planner's choice for every dataset, budget, labelling and seed (no tasks).

    One line per default ``QuantizedCoreset`` fit: quantizer, bit depth, size and the
    predicted error (full precision), so that two versions of the code can be compared
    line by line (every result of the benchmark depends on the plan only through these).
    """
    for dname in args.datasets:
        Xtr, ytr, _, _ = load(dname)
        for budget in args.budgets:
            for labelled in (False, True):
                for seed in range(args.seeds):
                    key = f"{dname} {budget} {'labelled' if labelled else 'X-only'} seed {seed}"
                    try:
                        qc = QuantizedCoreset(budget=budget, quantizer=args.quantizer,
                                              random_state=seed).fit(
                            Xtr, ytr if labelled else None)
                    except BudgetError as exc:
                        print(f"{key}: {exc}", flush=True)
                        continue
                    c = qc.plan_.chosen
                    print(f"{key}: {c.quantizer} {c.bits} bits x {c.size} rows, predicted "
                          f"{c.predicted_error!r}", flush=True)
    return 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--datasets", nargs="+",
                   default=["digits", "fashion-mnist", "imbalanced", "outliers", "manifold"])
    p.add_argument("--budgets", nargs="+", default=["10%", "1%", "0.1%"])
    p.add_argument("--tasks", nargs="+", default=ALL_TASKS)
    p.add_argument("--seeds", type=int, default=5)
    p.add_argument("--grid-bits", type=int, nargs="*", default=[1, 2, 3, 4, 6, 8, 12, 16],
                   help="bit depths of the oracle grid (none: no grid, no oracle gap)")
    p.add_argument("--quantizer", default="auto",
                   help="the planner's quantizer option (default auto: fixed grid or pca; "
                   "fixed: the per-column grid only)")
    p.add_argument("--grid-pca-bits", type=int, nargs="*", default=[],
                   help="further oracle grid pairs with the pca quantizer at these depths")
    p.add_argument("--methods", nargs="+",
                   help="methods besides the planner and the grid (default: all of "
                   "planner+refine, uniform+f32, sensitivity+f32, rcc@8, planner/mass-classes, "
                   "uniform@planner-bits, sensitivity@planner-bits)")
    p.add_argument("--skip-rcc-above", type=int, default=3000,
                   help="skip rcc@8 when the coreset would have more rows (k-means with that "
                   "many centres takes minutes)")
    p.add_argument("--one-full-model", action="store_true",
                   help="fit each task on all the data once (seed 0) and compare every seed's "
                   "coresets with it (saves the full-data fits on large data)")
    p.add_argument("--task-params", nargs="*", default=[], metavar="TASK:KEY=VALUE",
                   help="task parameters, e.g. svm:regularization=weight logreg:C=0.1")
    p.add_argument("--cache", type=Path,
                   help="folder for the full-data models (reused by later runs)")
    p.add_argument("--resume", action="store_true",
                   help="keep the rows of an interrupted run (OUT/reduction-partial.csv) and "
                   "measure only what is missing")
    p.add_argument("--timing-only", action="store_true",
                   help="measure only the planner's time against the construction time of the "
                   "default reduction (no tasks)")
    p.add_argument("--plans-only", action="store_true",
                   help="print the planner's choice for every dataset, budget, labelling "
                   "and seed (no tasks), to compare versions of the code")
    p.add_argument("--summarise-only", action="store_true",
                   help="print and save the summary of OUT/reduction-partial.csv without "
                   "measuring anything")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    args.task_params = _task_params(args.task_params)
    if args.timing_only:
        return timing(args)
    if args.plans_only:
        return plans(args)
    if args.summarise_only:
        rows = _read_partial(args.out / "reduction-partial.csv")
        if not rows:
            print(f"no rows in {args.out / 'reduction-partial.csv'}")
            return 1
    else:
        rows = run(args)
    summarise(rows, args.out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
