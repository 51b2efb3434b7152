"""Distributed reduction benchmark: allocation rules, bytes per rank, wall time, out-of-core.

Subcommands (results go to ``benchmarks/results/distributed-*``):

``quality``
    Downstream error of the ``optimal`` budget split against the ``equal``, ``size`` and
    ``cost`` baselines, for each dataset, split (``block``, ``label-skew:0.9``), number of
    ranks and task, over seeds. Simulated in one process with
    :func:`qcoreset.distributed.reduce_parts`, which runs the ranks' steps one after the
    other and writes the same bytes as the MPI job (checked in the tests). Labels travel
    (class-aware coresets) and every task is trained on the same merged coreset:
    ``kmeans`` and ``pca`` (normalized cost: the coreset model's cost on all training rows /
    the full model's, lower is better) and ``logreg`` (accuracy degradation on the test
    split, lower is better). The seed drives the split and the reduction. With
    ``--eval-seeds K`` a task whose fit is random (k-means++ seeding) is scored with ``K``
    evaluation seeds and the row holds their mean, which estimates the coreset's expected
    error with a K times smaller variance of the task's own randomness. The constructor
    is the distributed default (``method="auto"``: uniform per class, since labels
    travel), so ``optimal`` is the common-fraction rule; each row of the CSV records the
    constructor, the fraction, every rank's bit depth and the merged coreset's effective
    rows (:func:`effective_rows`), which the allocation controls directly.
``noise``
    How much of a cell's seed-to-seed spread is the task's own randomness: one merged
    coreset evaluated with several evaluation seeds, against several reductions (job
    seeds) evaluated with one.
``mpi``
    Real ``mpiexec`` jobs: Fashion-MNIST at 1 % with 4 ranks (k-means normalized cost of
    the written container), bytes sent per rank, and wall time against the number of
    ranks (the machine's core count is printed: more ranks than cores oversubscribe).
``ooc``
    Out-of-core: a 10,000,000 x 32 float32 ``.npy`` (1.28 GB, generated if missing) reduced
    by ``python -m mpi4py -m qcoreset.distributed reduce`` under ``/usr/bin/time -v``,
    reporting the peak resident memory.

Examples::

    python benchmarks/distributed.py quality                       # quick default
    python benchmarks/distributed.py quality --datasets fashion-mnist --ranks 2 4 8 --seeds 5
    python benchmarks/distributed.py mpi --seeds 3
    python benchmarks/distributed.py ooc --path /tmp/big.npy
    python benchmarks/distributed.py noise --dataset fashion-mnist --split block --ranks 2
    python benchmarks/distributed.py summary benchmarks/results/distributed-quality.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import pickle
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
BUDGETS = {"digits": "5%", "fashion-mnist": "1%"}
RULES = ("optimal", "equal", "size", "cost")


# ----------------------------------------------------------------------------- helpers


def _data(name: str):
    """(X_train, y_train, X_test, y_test) of a builtin dataset."""
    from sklearn.model_selection import train_test_split

    from qcoreset import load_input

    ds = load_input(f"builtin:{name}")
    if ds.X_test is not None:
        return ds.X, ds.y, ds.X_test, ds.y_test
    Xtr, Xte, ytr, yte = train_test_split(ds.X, ds.y, test_size=0.2, random_state=0,
                                          stratify=ds.y)
    return Xtr, ytr, Xte, yte


def _full_model(task_name: str, dataset: str, X, y, cache: Path | None):
    """The task's model on all training rows (cached on disk: the slow part)."""
    from qcoreset.tasks import get_task

    path = None if cache is None else cache / f"full-{dataset}-{task_name}.pkl"
    if path is not None and path.exists():
        with open(path, "rb") as fh:
            return pickle.load(fh)
    t0 = time.perf_counter()
    model = get_task(task_name).fit(X, y, random_state=0)
    print(f"  full {task_name} model on {dataset}: {time.perf_counter() - t0:.1f} s",
          flush=True)
    if path is not None:
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "wb") as fh:
            pickle.dump(model, fh)
    return model


def _evaluate(task_name, dec, X, y, Xte, yte, full, seed):
    from qcoreset.tasks import evaluate_task

    core = (dec.points.astype(X.dtype), dec.labels, dec.weights)
    res = evaluate_task(task_name, core, X, y, Xte, yte, full_model=full, random_state=seed)
    value = res.normalized_cost if res.kind == "cost" else res.degradation
    return float(value), float(res.coreset_value), float(res.full_value)


def effective_rows(labels, weights) -> float:
    """Kish effective sample size of a weighted coreset, summed over its classes.

    ``sum_c (sum_{i in c} w_i)^2 / sum_{i in c} w_i^2``: the number of equally weighted
    rows that would estimate every class's mean as precisely as the coreset does. It equals
    the number of rows when every class's rows carry one weight (what the common-fraction
    rule gives); unequal weights within a class (rows of one class sampled at different
    rates on different ranks) lower it. One class when ``labels`` is None.
    """
    w = np.asarray(weights, dtype=np.float64)
    if labels is None:
        groups = [w]
    else:
        labels = np.asarray(labels)
        groups = [w[labels == c] for c in np.unique(labels)]
    return float(sum(g.sum() ** 2 / np.dot(g, g) for g in groups if g.size))


# Tasks whose fit draws random numbers (k-means++ seeding, MLP initialisation); pca and
# logreg (lbfgs) give the same model for every seed (``noise`` subcommand: sd 0 over 8 seeds).
RANDOM_FIT_TASKS = ("kmeans", "mlp")


def _eval_seeds(seed: int, k: int) -> list[int]:
    """``k`` evaluation seeds of one coreset: ``seed``, then ``seed + 1000 j``."""
    return [seed + 1000 * j for j in range(k)]


def _write_csv(path: Path, rows: list[dict]) -> None:
    if not rows:
        return
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


# ----------------------------------------------------------------------------- quality


def cmd_quality(args) -> None:
    from qcoreset.distributed import reduce_parts, split_rows

    rows = []
    tag = args.tag or "quality"
    for dataset in args.datasets:
        X, y, Xte, yte = _data(dataset)
        budget = args.budget or BUDGETS[dataset]
        full = {t: _full_model(t, dataset, X, y, args.cache) for t in args.tasks}
        print(f"{dataset}: {X.shape[0]} x {X.shape[1]} training rows, budget {budget}",
              flush=True)
        for split in args.splits:
            for n_ranks in args.ranks:
                for seed in range(args.seeds):
                    idx = split_rows(X.shape[0], n_ranks, split, y=y, seed=seed)
                    parts = [(X[i], y[i]) for i in idx]
                    for rule in args.rules:
                        t0 = time.perf_counter()
                        res = reduce_parts(parts, budget=budget, allocation=rule,
                                           random_state=seed)
                        t_red = time.perf_counter() - t0
                        assert (res.payload_bits <= res.allocation).all()
                        assert 8 * len(res.payload) <= res.budget_bits
                        for task in args.tasks:
                            k = args.eval_seeds if task in RANDOM_FIT_TASKS else 1
                            scores = [_evaluate(task, res.coreset, X, y, Xte, yte, full[task],
                                                s) for s in _eval_seeds(seed, k)]
                            value, core_v, full_v = np.mean(scores, axis=0).tolist()
                            rows.append({
                                "dataset": dataset, "split": split, "ranks": n_ranks,
                                "seed": seed, "rule": rule, "task": task, "error": value,
                                "eval_seeds": len(scores),
                                "error_sd": float(np.std([v for v, _, _ in scores], ddof=1))
                                if len(scores) > 1 else "",
                                "coreset_value": core_v, "full_value": full_v,
                                "budget_bits": res.budget_bits,
                                "total_payload_bits": res.total_payload_bits,
                                "file_bits": 8 * len(res.payload),
                                "allocation": " ".join(map(str, res.allocation)),
                                "payload_bits": " ".join(map(str, res.payload_bits)),
                                "coreset_size": int(res.coreset.header["coreset_size"]),
                                "effective_rows": round(effective_rows(
                                    res.coreset.labels, res.coreset.weights), 1),
                                "curve_weight": "" if res.curve_weight is None else " ".join(
                                    f"{w:.3f}" for w in res.curve_weight),
                                "method": res.method,
                                "fraction": "" if res.fraction is None else
                                f"{res.fraction:.6g}",
                                "bits_per_value": " ".join(
                                    "0" if h is None else str(h["bits_per_value"])
                                    for h in res.coreset.header["parts"]),
                                "reduce_seconds": round(t_red, 3),
                            })
                        print(f"  {split:>15} N={n_ranks} seed={seed} {rule:>7}: "
                              + ", ".join(f"{r['task']} {r['error']:.4f}"
                                          for r in rows[-len(args.tasks):])
                              + ("" if res.fraction is None else
                                 f"  level {res.fraction:.4f}")
                              + f"  alloc {res.allocation.tolist()}  ({t_red:.1f} s)",
                              flush=True)
                    _write_csv(RESULTS / f"distributed-{tag}.csv", rows)
    _write_summary(rows, RESULTS / f"distributed-{tag}-summary.json")


def summarize(rows: list[dict]) -> list[dict]:
    """Per cell: every rule's median and seed-to-seed spread; optimal against the baselines.

    The criterion columns compare medians over seeds (``optimal_le_all``: optimal's median
    <= every baseline's, ``optimal_lt_all``: strictly below). Beside them, the paired view
    (the same seed gives every rule the same split and the same evaluation seed):
    optimal's wins / ties / losses against each baseline, and the median paired difference
    to the best baseline with the standard error of the mean paired difference.
    """
    cells: dict = {}
    for r in rows:
        key = (r["dataset"], r["split"], int(r["ranks"]), r["task"])
        cells.setdefault(key, {}).setdefault(r["rule"], {})[int(r["seed"])] = float(r["error"])
    out = []
    for (dataset, split, ranks, task), by_rule in sorted(cells.items()):
        med = {rule: float(np.median(list(v.values()))) for rule, v in by_rule.items()}
        std = {rule: float(np.std(list(v.values()), ddof=1)) if len(v) > 1 else 0.0
               for rule, v in by_rule.items()}
        bases = [r for r in RULES[1:] if r in med]
        cell = {"dataset": dataset, "split": split, "ranks": ranks, "task": task,
                "seeds": len(by_rule.get("optimal", {})),
                **{f"median_{k}": v for k, v in med.items()},
                **{f"std_{k}": v for k, v in std.items()}}
        has = "optimal" in med and bases  # a run of the baselines alone has no verdict
        cell["optimal_le_all"] = bool(has and med["optimal"] <= min(med[b] for b in bases))
        cell["optimal_lt_all"] = bool(has and med["optimal"] < min(med[b] for b in bases))
        opt = by_rule.get("optimal", {})
        for b in bases:
            seeds = sorted(set(opt) & set(by_rule[b]))
            d = np.array([opt[s] - by_rule[b][s] for s in seeds])
            cell[f"wtl_{b}"] = [int((d < 0).sum()), int((d == 0).sum()), int((d > 0).sum())]
        if bases and opt:
            best = min(bases, key=lambda b: med[b])
            seeds = sorted(set(opt) & set(by_rule[best]))
            d = np.array([opt[s] - by_rule[best][s] for s in seeds])
            cell["best_baseline"] = best
            cell["paired_diff_median"] = float(np.median(d))
            cell["paired_diff_se"] = float(np.std(d, ddof=1) / np.sqrt(d.size)) \
                if d.size > 1 else float("nan")
        out.append(cell)
    return out


def summarize_effective(rows: list[dict]) -> list[dict]:
    """Per (dataset, split, ranks): every rule's median effective rows and rows over seeds.

    Rows without an ``effective_rows`` value (CSV files written before it was recorded)
    are skipped; each (rule, seed) counts once, whatever the number of tasks.
    """
    cells: dict = {}
    for r in rows:
        if r.get("effective_rows") in (None, ""):
            continue
        key = (r["dataset"], r["split"], int(r["ranks"]))
        cells.setdefault(key, {}).setdefault(r["rule"], {})[int(r["seed"])] = (
            float(r["effective_rows"]), int(r["coreset_size"]))
    out = []
    for (dataset, split, ranks), by_rule in sorted(cells.items()):
        cell = {"dataset": dataset, "split": split, "ranks": ranks,
                "seeds": max(len(v) for v in by_rule.values())}
        for rule, v in by_rule.items():
            cell[f"effective_{rule}"] = float(np.median([e for e, _ in v.values()]))
            cell[f"rows_{rule}"] = float(np.median([m for _, m in v.values()]))
        out.append(cell)
    return out


def markdown_effective(effective: list[dict]) -> str:
    """The effective-rows summary as a markdown table (``effective (rows)``)."""
    if not effective:
        return ""
    lines = ["| dataset | split | ranks | seeds | " + " | ".join(RULES) + " |",
             "|---|---|---|---|" + "---|" * len(RULES)]
    for c in effective:
        vals = " | ".join(f"{c[f'effective_{r}']:.0f} ({c[f'rows_{r}']:.0f})"
                          if f"effective_{r}" in c else "–" for r in RULES)
        lines.append(f"| {c['dataset']} | {c['split']} | {c['ranks']} | {c['seeds']} | "
                     f"{vals} |")
    return "\n".join(lines) + "\n"


def _write_summary(rows: list[dict], out: Path | None, md: Path | None = None,
                   notes=()) -> None:
    """Print the summaries of ``rows``; write them as JSON (``{"cells", "effective_rows"}``)
    and as markdown (``notes`` as paragraphs above the tables) where asked."""
    summary, effective = summarize(rows), summarize_effective(rows)
    if out is not None:
        Path(out).write_text(json.dumps({"cells": summary, "effective_rows": effective},
                                        indent=1))
    text = markdown_summary(summary)
    if effective:
        text += ("\nEffective rows of the merged coreset (Kish, summed over classes; "
                 "median over seeds), with its rows in parentheses:\n\n"
                 + markdown_effective(effective))
    if md is not None:
        Path(md).write_text("".join(f"{line}\n\n" for line in notes) + text)
    print()
    print(text, end="")


def markdown_summary(summary: list[dict]) -> str:
    """The summary as a markdown table (median +- seed-to-seed standard deviation)."""
    lines = ["| dataset | split | ranks | task | seeds | "
             + " | ".join(RULES) + " | optimal <= all | optimal < all | "
             "optimal W/T/L vs equal, size, cost | paired diff. to best baseline |",
             "|---|---|---|---|---|" + "---|" * len(RULES) + "---|---|---|---|"]
    for s in summary:
        vals = " | ".join(
            f"{s[f'median_{r}']:.4f} ± {s[f'std_{r}']:.4f}" if f"median_{r}" in s else "–"
            for r in RULES)
        wtl = ", ".join("-".join(map(str, s[f"wtl_{b}"])) for b in RULES[1:]
                        if f"wtl_{b}" in s)
        diff = (f"{s['paired_diff_median']:+.4f} (SE {s['paired_diff_se']:.4f}, "
                f"{s['best_baseline']})" if "best_baseline" in s else "–")
        lines.append(f"| {s['dataset']} | {s['split']} | {s['ranks']} | {s['task']} | "
                     f"{s['seeds']} | {vals} | {'yes' if s['optimal_le_all'] else 'no'} | "
                     f"{'yes' if s['optimal_lt_all'] else 'no'} | {wtl} | {diff} |")
    return "\n".join(lines) + "\n"


# ------------------------------------------------------------------------------- noise


def cmd_noise(args) -> None:
    from qcoreset.distributed import reduce_parts, split_rows

    X, y, Xte, yte = _data(args.dataset)
    budget = args.budget or BUDGETS[args.dataset]
    full = _full_model(args.task, args.dataset, X, y, args.cache)
    idx = split_rows(X.shape[0], args.ranks, args.split, y=y, seed=args.seed)
    parts = [(X[i], y[i]) for i in idx]
    k = args.repeats

    def reduce(job_seed):
        return reduce_parts(parts, budget=budget, allocation=args.rule,
                            random_state=job_seed).coreset

    one = reduce(args.seed)  # one coreset, the task's own seeds varied
    eval_seeds = _eval_seeds(args.seed, k)  # every task, to show which are random
    by_eval = [_evaluate(args.task, one, X, y, Xte, yte, full, s)[0] for s in eval_seeds]
    job_seeds = [args.seed + j for j in range(k)]  # the reduction's seeds, one task seed
    by_job = [_evaluate(args.task, one if s == args.seed else reduce(s), X, y, Xte, yte,
                        full, args.seed)[0] for s in job_seeds]
    out = {"dataset": args.dataset, "split": args.split, "ranks": args.ranks,
           "rule": args.rule, "task": args.task, "budget": budget, "split_seed": args.seed,
           "eval_seeds": eval_seeds, "by_eval_seed": by_eval, "job_seeds": job_seeds,
           "by_job_seed": by_job}
    for name, v in (("evaluation seeds, one coreset", by_eval),
                    ("job seeds, one evaluation seed", by_job)):
        print(f"{args.task} over {k} {name}: mean {np.mean(v):.4f}, sd {np.std(v, ddof=1):.4f}"
              f", range {min(v):.4f}-{max(v):.4f}", flush=True)
    tag = f"{args.dataset}-{args.split.replace(':', '')}-{args.ranks}-{args.task}"
    (RESULTS / f"distributed-noise-{tag}.json").write_text(json.dumps(out, indent=1))


# --------------------------------------------------------------------------------- mpi


def _mpiexec() -> str:
    here = str(Path(sys.executable).parent)
    exe = shutil.which("mpiexec", path=here + os.pathsep + os.environ.get("PATH", ""))
    if exe is None:
        sys.exit("mpiexec not found: python -m pip install mpi4py mpich")
    return exe


def _run_reduce(n: int, *args: str, time_v: bool = False):
    """Run the distributed reduce on n ranks; (json result, wall seconds, max RSS kB)."""
    cmd = [_mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", "-m",
           "qcoreset.distributed", "reduce", *args, "--json"]
    if time_v:
        cmd = ["/usr/bin/time", "-v", *cmd]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{proc.stderr[-3000:]}")
    rss = None
    if time_v:
        m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
        rss = int(m.group(1)) if m else None
    return json.loads(proc.stdout.strip().splitlines()[-1]), wall, rss


def cmd_mpi(args) -> None:
    from qcoreset.payload import decode_payload

    print(f"cores: {os.cpu_count()} (ranks beyond this oversubscribe them)", flush=True)
    X, y, Xte, yte = _data(args.dataset)
    full = _full_model("kmeans", args.dataset, X, y, args.cache)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for seed in range(args.seeds):  # quality of real 4-rank jobs
            out = os.path.join(tmp, f"f{seed}.qcs")
            res, wall, _ = _run_reduce(args.quality_ranks, f"builtin:{args.dataset}",
                                       "--budget", args.budget, "-o", out, "--task", "kmeans",
                                       "--seed", str(seed))
            with open(out, "rb") as fh:
                dec = decode_payload(fh.read())
            value, _, _ = _evaluate("kmeans", dec, X, None, None, None, full, seed)
            rows.append({"kind": "quality", "ranks": args.quality_ranks, "seed": seed,
                         "kmeans_normalized_cost": value, "wall_seconds": wall,
                         "seconds": res["seconds"], "budget_bits": res["budget_bits"],
                         "allocation": res["allocation"], "payload_bits": res["payload_bits"],
                         "total_payload_bits": res["total_payload_bits"],
                         "file_bits": res["file_bits"], "coreset_size": res["coreset_size"]})
            print(f"  {args.quality_ranks} ranks seed {seed}: k-means normalized cost "
                  f"{value:.4f}, payload bits per rank {res['payload_bits']} (allotted "
                  f"{res['allocation']}), total {res['total_payload_bits']} <= "
                  f"{res['budget_bits']}, {wall:.1f} s wall", flush=True)
        for n in args.ranks:  # wall time against ranks
            out = os.path.join(tmp, f"t{n}.qcs")
            res, wall, _ = _run_reduce(n, f"builtin:{args.dataset}", "--budget", args.budget,
                                       "-o", out, "--task", "kmeans", "--seed", "0")
            rows.append({"kind": "time", "ranks": n, "seed": 0, "wall_seconds": wall,
                         "seconds": res["seconds"], "load_seconds": res["load_seconds"],
                         "reduce_timings": res["timings"], "budget_bits": res["budget_bits"],
                         "allocation": res["allocation"], "payload_bits": res["payload_bits"],
                         "total_payload_bits": res["total_payload_bits"],
                         "file_bits": res["file_bits"], "coreset_size": res["coreset_size"]})
            print(f"  {n} ranks: {wall:.1f} s wall (mpiexec), {res['seconds']:.1f} s in the "
                  f"program on rank 0 (load {res['load_seconds']:.1f} s, reduction "
                  f"{res['timings']['total']:.1f} s); bytes per rank "
                  f"{[b // 8 for b in res['payload_bits']]}", flush=True)
    (RESULTS / "distributed-mpi.json").write_text(json.dumps(
        {"cores": os.cpu_count(), "dataset": args.dataset, "budget": args.budget,
         "rows": rows}, indent=1))
    q = [r["kmeans_normalized_cost"] for r in rows if r["kind"] == "quality"]
    if q:
        print(f"k-means normalized cost, {args.quality_ranks} ranks: median {np.median(q):.4f}, "
              f"max {max(q):.4f} over {len(q)} seeds")


# --------------------------------------------------------------------------------- ooc


def _make_big(path: Path, n: int, d: int) -> None:
    """Imbalanced Gaussian clusters with 0.1 % far outliers, written in chunks."""
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=10, size=(20, d))
    p = rng.dirichlet(np.full(20, 0.3))
    mm = np.lib.format.open_memmap(path, mode="w+", dtype=np.float32, shape=(n, d))
    step = 500_000
    for s in range(0, n, step):
        e = min(n, s + step)
        k = rng.choice(20, size=e - s, p=p)
        x = centres[k] + rng.normal(size=(e - s, d))
        out = rng.random(e - s) < 1e-3
        x[out] += rng.normal(scale=200, size=(int(out.sum()), d))
        mm[s:e] = x
    mm.flush()
    del mm


def cmd_ooc(args) -> None:
    if not os.path.exists("/usr/bin/time"):
        sys.exit("/usr/bin/time is missing: apt-get install -y time")
    path = Path(args.path)
    if not path.exists():
        print(f"writing {path} ({args.rows} x {args.cols} float32) ...", flush=True)
        _make_big(path, args.rows, args.cols)
    size = path.stat().st_size
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.ranks:
            res, wall, rss = _run_reduce(n, str(path), "--budget", args.budget, "-o",
                                         os.path.join(tmp, f"o{n}.qcs"), time_v=True)
            rows.append({"ranks": n, "input_bytes": size, "budget_bits": res["budget_bits"],
                         "peak_rss_kb": rss, "wall_seconds": wall,
                         "payload_bits": res["payload_bits"], "coreset_size": res["coreset_size"],
                         "stream": res.get("stream")})
            print(f"  {n} rank(s): peak resident memory {rss / 1024:.0f} MB (max over ranks) "
                  f"for a {size / 1e9:.2f} GB input, {wall:.1f} s, {res['coreset_size']} "
                  f"points, {res['total_payload_bits']} bits <= {res['budget_bits']}",
                  flush=True)
    (RESULTS / "distributed-ooc.json").write_text(json.dumps(
        {"cores": os.cpu_count(), "path": str(path), "rows": rows}, indent=1))


def cmd_summary(args) -> None:
    rows = []
    for path in args.csv:
        with open(path) as fh:
            for r in csv.DictReader(fh):
                r["ranks"] = int(r["ranks"])
                r["error"] = float(r["error"])
                rows.append(r)
    _write_summary(rows, args.out, args.md, args.note or [])


def _int_at_least(low: int):
    """argparse type: an integer >= ``low``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
        if value < low:
            raise argparse.ArgumentTypeError(f"{value} must be at least {low}")
        return value
    return parse


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="cmd", required=True)
    q = sub.add_parser("quality", help="optimal vs baseline allocations, downstream error")
    q.add_argument("--datasets", nargs="+", default=["digits", "fashion-mnist"])
    q.add_argument("--splits", nargs="+", default=["block", "label-skew:0.9"])
    q.add_argument("--ranks", nargs="+", type=int, default=[4])
    q.add_argument("--seeds", type=int, default=3)
    q.add_argument("--tasks", nargs="+", default=["kmeans", "pca", "logreg"])
    q.add_argument("--budget", help="budget for every dataset (default: digits 5%%, "
                   "fashion-mnist 1%%)")
    q.add_argument("--eval-seeds", type=_int_at_least(1), default=1,
                   help="score each coreset of a task whose fit is random (kmeans, mlp) with "
                   "this many evaluation seeds and record their mean (default 1)")
    q.add_argument("--tag", help="suffix of the result files (default: quality)")
    q.add_argument("--rules", nargs="+", default=list(RULES), choices=RULES,
                   help="allocation rules to run (default: all four); the summary of "
                   "several CSV files lets a later file's rows replace an earlier one's")
    nz = sub.add_parser("noise", help="spread of one cell: evaluation seeds vs job seeds")
    nz.add_argument("--dataset", default="fashion-mnist")
    nz.add_argument("--split", default="block")
    nz.add_argument("--ranks", type=int, default=2)
    nz.add_argument("--rule", default="equal", choices=RULES)
    nz.add_argument("--task", default="kmeans")
    nz.add_argument("--seed", type=int, default=0, help="seed of the split (and first seeds)")
    nz.add_argument("--repeats", type=_int_at_least(2), default=8)
    nz.add_argument("--budget")
    m = sub.add_parser("mpi", help="real mpiexec runs: quality, bytes per rank, wall time")
    m.add_argument("--dataset", default="fashion-mnist")
    m.add_argument("--budget", default="1%")
    m.add_argument("--quality-ranks", type=int, default=4)
    m.add_argument("--seeds", type=int, default=3)
    m.add_argument("--ranks", nargs="+", type=int, default=[1, 2, 4, 8])
    o = sub.add_parser("ooc", help="out-of-core reduction of a 1.28 GB .npy")
    o.add_argument("--path", default=os.path.join(tempfile.gettempdir(), "qcoreset-big.npy"))
    o.add_argument("--rows", type=int, default=10_000_000)
    o.add_argument("--cols", type=int, default=32)
    o.add_argument("--budget", default="0.1%")
    o.add_argument("--ranks", nargs="+", type=int, default=[1, 2])
    sm = sub.add_parser("summary", help="median table of quality CSV files")
    sm.add_argument("csv", nargs="+")
    sm.add_argument("--out", help="also write the summary as JSON here")
    sm.add_argument("--md", help="also write the summary as a markdown table here")
    sm.add_argument("--note", action="append",
                    help="a paragraph written above the markdown table (repeatable)")
    for p in (q, nz, m):
        p.add_argument("--cache", type=Path,
                       default=Path(tempfile.gettempdir()) / "qcoreset-bench-cache",
                       help="folder for the full-data models (default: a temp folder)")
    args = parser.parse_args(argv)
    RESULTS.mkdir(exist_ok=True)
    {"quality": cmd_quality, "noise": cmd_noise, "mpi": cmd_mpi, "ooc": cmd_ooc,
     "summary": cmd_summary}[args.cmd](args)


if __name__ == "__main__":
    main()
