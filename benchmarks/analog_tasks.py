"""Downstream tasks on simulated analog crossbars, trained on a 1 % budget coreset.

For each seed the data are reduced with ``QuantizedCoreset(budget, random_state=seed)``
(labels travel, as with ``qcoreset reduce``), every task's model is fitted on the
weighted coreset, and scored digitally and on every analog preset at every time after
programming (``AnalogBackend(preset, t, seed=seed)``). The classifiers (svm, logreg,
mlp) are also fine-tuned with hardware-aware training for each preset and time
(``get_task(name, hwa="PRESET@T")``) and scored on that same preset and time.

Per row (seed, task, preset, time, plain/HWA):

* ``coreset_digital`` / ``coreset_analog``: the coreset model's metric (test accuracy
  for classifiers; full-data k-means cost or PCA reconstruction error) digitally and
  on the crossbar; ``analog_change`` = analog - digital for accuracies (negative is a
  loss), analog / digital for costs;
* ``full_analog``, ``normalized_cost`` (coreset / full, both analog, cost tasks) and
  ``degradation`` ((full - coreset) / full, both analog, classifiers): the
  :func:`qcoreset.tasks.evaluate_task` quantities on that backend, with the full-data
  model fitted once (first seed, plain training) and reused;
* ``assignment_agreement`` (k-means): fraction of the full data whose analog-assigned
  centre is the digital one;
* ``energy_per_inference_j``, ``latency_per_inference_s``: backend energy and latency
  of the coreset model divided by the number of inputs scored.

The digital row of each task comes from :func:`qcoreset.tasks.evaluate_task` itself
(its coreset model is kept); the analog rows reuse the fitted models (``evaluate_task``
would refit the same deterministic coreset model for every backend) and call
``task.evaluate`` with the backend, which is the scoring ``evaluate_task`` does. The
HWA models are the plain coreset model fine-tuned by
:func:`qcoreset.analog.hwa_finetune` with the loss and penalty the task's ``hwa``
option uses (``tests/test_tasks_hwa.py`` checks that both give the same model), so
the plain fit is not repeated for every target. The ``ideal`` preset has no noise to
train against: it gets no HWA rows.

Usage::

    python benchmarks/analog_tasks.py                  # Fashion-MNIST, 5 seeds, everything
    python benchmarks/analog_tasks.py --quick          # digits, 1 seed, 1 day: seconds
    python benchmarks/analog_tasks.py --seeds 0 1 2 --tasks svm kmeans \\
        --presets hwa_standard --times 1d 1y

Writes ``benchmarks/results/analog_tasks-<dataset>[-<tag>].csv`` (every row),
``...-summary.csv`` (medians over the seeds), ``.log`` (what is printed) and, when
matplotlib is importable, a ``.png``.
"""

from __future__ import annotations

import argparse
import csv
import os
import pickle
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from qcoreset import QuantizedCoreset, load_input
from qcoreset.analog import PRESETS, AnalogBackend, format_time, hwa_finetune, parse_time
from qcoreset.tasks import TASKS, DigitalBackend, KMeansTask, evaluate_task, get_task

HERE = Path(__file__).resolve().parent
CLASSIFIERS = ("svm", "logreg", "mlp")
# Task parameters per dataset: small data sets want weaker regularisation (see tasks.py).
TASK_PARAMS = {
    "digits": {"svm": {"C": 0.01}, "logreg": {"C": 0.1}},
}
DEFAULT_PRESETS = ["aihwkit_inference", "hwa_standard", "hermes", "ideal"]
DEFAULT_TIMES = ["1s", "1h", "1d", "1y"]


class Tee:
    """Print to stdout and keep the text for the log file."""

    def __init__(self):
        self.lines: list[str] = []

    def __call__(self, text: str = "") -> None:
        print(text, flush=True)
        self.lines.append(text)


def split(ds):
    """(X_train, y_train, X_test, y_test): the dataset's test split, or 20 % held out."""
    if ds.X_test is not None:
        return ds.X, ds.y, ds.X_test, ds.y_test
    from sklearn.model_selection import train_test_split

    Xtr, Xte, ytr, yte = train_test_split(ds.X, ds.y, test_size=0.2, random_state=0,
                                          stratify=ds.y)
    return Xtr, ytr, Xte, yte


def cached(path: Path | None, make, *args, **kwargs):
    """``make(*args, **kwargs)``, pickled at ``path`` (read back when there); None: no cache."""
    if path is not None and path.exists():
        with path.open("rb") as fh:
            return pickle.load(fh)
    obj = make(*args, **kwargs)
    if path is not None:
        tmp = path.with_suffix(f".{os.getpid()}.tmp")
        with tmp.open("wb") as fh:
            pickle.dump(obj, fh)
        os.replace(tmp, path)
    return obj


class KeepModel:
    """Keeps (and caches) the model ``task.fit`` returns: evaluate_task's coreset fit."""

    def __init__(self, task, path: Path | None):
        self.model = None
        self._fit = task.fit
        self._path = path
        task.fit = self

    def __call__(self, *args, **kwargs):
        self.model = cached(self._path, self._fit, *args, **kwargs)
        return self.model


def hwa_model(task, model, coreset, target, seed, epochs):
    """``model`` fine-tuned for ``target`` as ``get_task(task.name, hwa=target)`` does."""
    from sklearn.pipeline import Pipeline

    Xc, yc, wc = coreset
    wc = np.ones(Xc.shape[0]) if wc is None else np.asarray(wc, dtype=np.float64)
    p = task.params
    if task.name == "mlp":
        loss, alpha = "log_loss", p["alpha"] / p["batch_size"]
    else:
        loss = "hinge" if task.name == "svm" else "log_loss"
        alpha = 1.0 / (p["C"] * wc.sum())
    scaler, clf = model[0], model[-1]
    tuned = hwa_finetune(clf, scaler.transform(Xc), yc, wc, target, loss=loss,
                         noise_scale=p["hwa_noise_scale"], max_iter=epochs, alpha=alpha,
                         random_state=seed)
    return Pipeline([("scaler", scaler), ("clf", tuned)])


def kmeans_measure(model, X, backend):
    """k-means on ``backend``: (cost, energy and latency per input, assignment)."""
    before = dict(backend.stats)
    labels = KMeansTask.assign(model, X, backend)
    after = backend.stats
    C = np.asarray(model.cluster_centers_, dtype=np.float64)
    cost = float(np.mean(np.einsum("ij,ij->i", X - C[labels], X - C[labels])))
    n = X.shape[0]
    return (cost, (after["energy_j"] - before.get("energy_j", 0.0)) / n,
            (after["latency_s"] - before.get("latency_s", 0.0)) / n, labels)


def measure(task, model, X, y, backend):
    """(metric, energy per input, latency per input) of ``model`` on ``backend``."""
    before = dict(backend.stats)
    value, _ = task.evaluate(model, X, y, backend)
    after = backend.stats
    n = X.shape[0]
    energy = (after.get("energy_j", 0.0) - before.get("energy_j", 0.0)) / n
    latency = (after.get("latency_s", 0.0) - before.get("latency_s", 0.0)) / n
    return value, energy, latency


def run_seed(seed, ds_name, data, tasks, presets, times, hwa_modes, full_models, args, log):
    Xtr, ytr, Xte, yte = data
    t0 = time.perf_counter()
    qc = QuantizedCoreset(budget=args.budget, random_state=seed)
    coreset = qc.fit_resample(Xtr, ytr)
    log(f"seed {seed}: coreset {qc.size_} rows x {qc.bits_} bits, payload "
        f"{qc.payload_bits_} <= {qc.budget_bits_} bits ({time.perf_counter() - t0:.1f} s)")
    params = TASK_PARAMS.get(ds_name, {})
    rows = []
    eval_rows = np.arange(Xtr.shape[0])
    if args.eval_rows and args.eval_rows < Xtr.shape[0]:
        eval_rows = np.sort(np.random.default_rng(0).choice(Xtr.shape[0], args.eval_rows,
                                                            replace=False))
    cache = args.cache
    if cache is not None:
        cache.mkdir(parents=True, exist_ok=True)

    def key(*parts):
        if cache is None:
            return None
        return cache / ("-".join([ds_name, args.budget.replace("%", "pct"),
                                  *map(str, parts)]) + ".pkl")

    for name in tasks:
        task = get_task(name, **params.get(name, {}))
        cls = task.kind == "accuracy"
        X_eval, y_eval = (Xte, yte) if cls else (Xtr[eval_rows], None)
        t1 = time.perf_counter()
        if name not in full_models:
            full_models[name] = cached(key("full", name, args.full_seed), task.fit, Xtr,
                                       ytr if cls else None, random_state=args.full_seed)
        full = full_models[name]
        keeper = KeepModel(task, key("coreset", name, seed))
        res = evaluate_task(task, coreset, Xtr, ytr, Xte, yte, full_model=full,
                            backend=DigitalBackend(), random_state=seed)
        model = keeper.model
        digital = task.score(model, X_eval, y_eval)
        base = {"seed": seed, "task": name, "metric": res.metric,
                "coreset_rows": int(qc.size_), "bits": int(qc.bits_)}
        rows.append({**base, "preset": "digital", "time": "-", "training": "plain",
                     "coreset_digital": digital, "coreset_analog": digital,
                     "analog_change": 0.0 if cls else 1.0, "full_analog": res.full_value,
                     "normalized_cost": res.normalized_cost, "degradation": res.degradation,
                     "assignment_agreement": 1.0 if name == "kmeans" else None,
                     "energy_per_inference_j": None, "latency_per_inference_s": None,
                     "fit_seconds": res.extras["coreset_fit_seconds"]})
        digital_assign = (KMeansTask.assign(model, X_eval, DigitalBackend())
                          if name == "kmeans" else None)
        for preset in presets:
            for t in times:
                modes = hwa_modes if name in CLASSIFIERS and preset != "ideal" else ["plain"]
                for mode in modes:
                    be = AnalogBackend(preset, t_inference=t, seed=seed)
                    fit_s = 0.0
                    if mode == "plain":
                        m, dig = model, digital
                    else:
                        target = f"{preset}@{format_time(t)}"
                        t2 = time.perf_counter()
                        m = cached(key("hwa", name, seed, target, args.hwa_epochs),
                                   hwa_model, task, model, coreset, target, seed,
                                   args.hwa_epochs)
                        fit_s = time.perf_counter() - t2
                        dig = task.score(m, X_eval, y_eval)
                    agree = None
                    if name == "kmeans":  # one analog pass: assignment, cost and energy
                        value, energy, latency, labels = kmeans_measure(m, X_eval, be)
                        agree = float(np.mean(labels == digital_assign))
                    else:
                        value, energy, latency = measure(task, m, X_eval, y_eval, be)
                    full_value = task.score(full, X_eval, y_eval, backend=be)
                    rows.append({
                        **base, "preset": preset, "time": format_time(t), "training": mode,
                        "coreset_digital": dig, "coreset_analog": value,
                        "analog_change": (value - dig) if cls else value / dig,
                        "full_analog": full_value,
                        "normalized_cost": None if cls else value / full_value,
                        "degradation": (full_value - value) / full_value if cls else None,
                        "assignment_agreement": agree,
                        "energy_per_inference_j": energy,
                        "latency_per_inference_s": latency,
                        "fit_seconds": fit_s,
                    })
        log(f"  {name}: {len(presets) * len(times)} backends in "
            f"{time.perf_counter() - t1:.1f} s")
    return rows


def fmt(v, digits=4):
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}g}" if abs(v) < 1e-3 and v != 0 else f"{v:.{digits}f}"
    return str(v)


def summarize(rows):
    """Medians over the seeds per (task, preset, time, training)."""
    keys = []
    groups: dict = {}
    for r in rows:
        k = (r["task"], r["preset"], r["time"], r["training"])
        if k not in groups:
            keys.append(k)
            groups[k] = []
        groups[k].append(r)
    out = []
    num = ["coreset_digital", "coreset_analog", "analog_change", "full_analog",
           "normalized_cost", "degradation", "assignment_agreement",
           "energy_per_inference_j", "latency_per_inference_s", "fit_seconds"]
    for k in keys:
        g = groups[k]
        row = {"task": k[0], "metric": g[0]["metric"], "preset": k[1], "time": k[2],
               "training": k[3], "seeds": len(g)}
        for f in num:
            vals = [r[f] for r in g if r[f] is not None]
            row[f] = float(np.median(vals)) if vals else None
        out.append(row)
    return out


def print_table(summary, log):
    cols = [("task", 6), ("preset", 17), ("time", 4), ("training", 8), ("coreset_digital", 10),
            ("coreset_analog", 10), ("analog_change", 10), ("normalized_cost", 9),
            ("degradation", 9), ("assignment_agreement", 9), ("energy_per_inference_j", 10)]
    head = ["task", "preset", "time", "training", "digital", "analog", "change",
            "norm.cost", "degrad.", "k-m agree", "J/inference"]
    log("  ".join(h.ljust(w) for h, (_, w) in zip(head, cols, strict=True)))
    for r in summary:
        log("  ".join(fmt(r[c]).ljust(w) for c, w in cols))


def done_when(summary, log):
    """The acceptance bars on hwa_standard at 1 day (medians over the seeds).

    True or False; None when the run measured none of them (no hwa_standard at 1 day).
    """
    by = {(r["task"], r["preset"], r["time"], r["training"]): r for r in summary}
    if not any(k[1:3] == ("hwa_standard", "1d") for k in by):
        return None
    log("\nAcceptance on hwa_standard (PCM, global drift compensation) at 1 day, medians:")
    ok_all = True
    for name in CLASSIFIERS:
        plain = by.get((name, "hwa_standard", "1d", "plain"))
        if plain is None:
            continue
        hwa = by.get((name, "hwa_standard", "1d", "hwa"))
        line = (f"  {name:6s} plain: digital {plain['coreset_digital']:.4f} analog "
                f"{plain['coreset_analog']:.4f} (change {plain['analog_change']:+.4f})")
        best = abs(plain["analog_change"])
        if hwa is not None:
            line += (f"; HWA: digital {hwa['coreset_digital']:.4f} analog "
                     f"{hwa['coreset_analog']:.4f} (change {hwa['analog_change']:+.4f}, "
                     f"vs plain digital {hwa['coreset_analog'] - plain['coreset_digital']:+.4f})")
            best = min(best, abs(hwa["analog_change"]))
        ok = best <= 0.02
        ok_all &= ok
        log(line + f"  -> within 2 %: {'yes' if ok else 'NO'}")
    km = by.get(("kmeans", "hwa_standard", "1d", "plain"))
    if km is not None:
        ok = km["assignment_agreement"] >= 0.98
        ok_all &= ok
        log(f"  kmeans assignment agreement {km['assignment_agreement']:.4f} "
            f"(cost analog/digital {km['analog_change']:.4f}) -> >= 98 %: "
            f"{'yes' if ok else 'NO'}")
    return ok_all


def plot(summary, path, times):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not importable: no PNG written"
    tasks = sorted({r["task"] for r in summary}, key=list(TASKS.names()).index)
    fig, axes = plt.subplots(1, len(tasks), figsize=(3.2 * len(tasks), 3.2), squeeze=False)
    secs = [parse_time(t) for t in times]
    for ax, name in zip(axes[0], tasks, strict=True):
        for preset in sorted({r["preset"] for r in summary if r["preset"] != "digital"}):
            for mode, style in (("plain", "-"), ("hwa", "--")):
                pts = [(parse_time(r["time"]), r["coreset_analog"]) for r in summary
                       if r["task"] == name and r["preset"] == preset
                       and r["training"] == mode]
                if pts:
                    pts.sort()
                    ax.plot(*zip(*pts, strict=True), style, marker="o",
                            label=f"{preset} {mode}")
        dig = [r["coreset_digital"] for r in summary
               if r["task"] == name and r["preset"] == "digital"]
        if dig:
            ax.axhline(dig[0], color="k", lw=0.8, label="digital")
        ax.set_xscale("log")
        ax.set_xticks(secs, times)
        ax.set_title(name)
    axes[0][0].legend(fontsize=6)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return f"wrote {path}"


def write_csv(path, rows):
    with open(path, "w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--input", default=None,
                   help="dataset (default builtin:fashion-mnist; builtin:digits with --quick)")
    p.add_argument("--budget", default="1%")
    p.add_argument("--seeds", type=int, nargs="+", default=None,
                   help="seeds (default 0 1 2 3 4; 0 with --quick)")
    p.add_argument("--tasks", nargs="+", default=list(TASKS.names()),
                   choices=list(TASKS.names()))
    p.add_argument("--presets", nargs="+", default=DEFAULT_PRESETS, choices=list(PRESETS))
    p.add_argument("--times", nargs="+", default=None,
                   help="times after programming (default 1s 1h 1d 1y; 1d with --quick)")
    p.add_argument("--hwa", choices=["both", "plain", "hwa"], default="both",
                   help="classifiers with plain training, hardware-aware training or both")
    p.add_argument("--hwa-epochs", type=int, default=None,
                   help="HWA fine-tuning epochs (default: the tasks' defaults; 5 with --quick)")
    p.add_argument("--quick", action="store_true",
                   help="digits, seed 0, 1 day, short HWA: a smoke run in seconds")
    p.add_argument("--eval-rows", type=int, default=None,
                   help="score kmeans/pca on this many training rows (seeded sample; "
                   "default: all)")
    p.add_argument("--full-seed", type=int, default=0,
                   help="seed of the full-data models, fitted once and shared by all seeds")
    p.add_argument("--cache", type=Path, default=None,
                   help="folder for pickled fitted models, shared between runs")
    p.add_argument("--tag", default="", help="suffix of the output file names")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    if args.quick:
        args.input = args.input or "builtin:digits"
        args.seeds = args.seeds or [0]
        args.times = args.times or ["1d"]
        args.hwa_epochs = args.hwa_epochs or 5
    args.input = args.input or "builtin:fashion-mnist"
    args.seeds = args.seeds if args.seeds is not None else [0, 1, 2, 3, 4]
    times = [parse_time(t) for t in (args.times or DEFAULT_TIMES)]
    time_names = [format_time(t) for t in times]
    hwa_modes = {"both": ["plain", "hwa"], "plain": ["plain"], "hwa": ["hwa"]}[args.hwa]
    args.out.mkdir(parents=True, exist_ok=True)

    log = Tee()
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE,
                                capture_output=True, text=True).stdout.strip()
    except OSError:
        commit = "?"
    log(f"python {' '.join(sys.argv)}")
    log(f"commit {commit}, python {platform.python_version()}, numpy {np.__version__}, "
        f"{os.cpu_count()} cores, load average {os.getloadavg()}")
    ds = load_input(args.input)
    data = split(ds)
    log(f"{ds.name}: train {data[0].shape}, test {data[2].shape}; budget {args.budget}; "
        f"seeds {args.seeds}; tasks {args.tasks}; presets {args.presets}; times "
        f"{time_names}; training {hwa_modes}")
    t0 = time.perf_counter()
    rows, full_models = [], {}
    for seed in args.seeds:
        rows += run_seed(seed, ds.name, data, args.tasks, args.presets, times, hwa_modes,
                         full_models, args, log)
    summary = summarize(rows)
    log(f"\nMedians over {len(args.seeds)} seed(s); accuracy tasks: test accuracy "
        "(change = analog - digital); cost tasks: cost (change = analog / digital, "
        "normalized cost = coreset / full on the same backend)")
    print_table(summary, log)
    ok = done_when(summary, log)
    stem = f"analog_tasks-{ds.name}" + (f"-{args.tag}" if args.tag else "")
    note = plot(summary, args.out / f"{stem}.png", time_names)
    log(f"\n{note}")
    log(f"total {time.perf_counter() - t0:.0f} s; load average {os.getloadavg()}")
    write_csv(args.out / f"{stem}.csv", rows)
    write_csv(args.out / f"{stem}-summary.csv", summary)
    (args.out / f"{stem}.log").write_text("\n".join(log.lines) + "\n")
    if ok is not None:
        log(f"acceptance bars {'met' if ok else 'NOT met'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
