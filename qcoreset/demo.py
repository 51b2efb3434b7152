"""``qcoreset demo``: reduce a dataset, train every task on the coreset, compare, report.

The demo runs the whole pipeline a new user wants to see, on ``builtin:digits`` by default:

1. **plan**: the planner's table of candidate quantizers and bit depths for the budget;
2. **reduce**: the quantized coreset of the training rows (payload vs budget, reduction);
3. **budget sweep**: k-means on coresets at several budgets, planner vs uniform sampling
   sent as float32 (the "error vs budget" curve);
4. **train**: the five tasks (``kmeans``, ``pca``, ``svm``, ``logreg``, ``mlp``) on the
   coreset and on all the training rows;
5. **digital**: both models scored exactly;
6. **analog**: both models scored on the simulated AIMC crossbar
   (:class:`qcoreset.analog.AnalogBackend`), ``hwa_standard`` at several times after
   programming and ``hermes``; energy and latency per inference;
7. **report**: ``report.json``, ``report.md`` and, with matplotlib, three PNG plots.

Classification tasks are trained on a fixed stratified 80/20 split of the input (seeded by
``seed``; the dataset's own test split when it has one): only the training part is reduced,
and accuracies are measured on the held-out rows the coreset never saw. Cost tasks are
trained and scored on all the training rows.

Energy per inference is the backend's energy for scoring the coreset model divided by the
number of rows scored (latency likewise).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from typing import Any, TextIO

import numpy as np

from ._errors import InputError, QCoresetError

__all__ = [
    "DEFAULT_DATA",
    "DEFAULT_BUDGET",
    "DEFAULT_OUT",
    "TASK_NAMES",
    "TABLE_BACKENDS",
    "Progress",
    "run_demo",
    "summary",
    "format_table",
    "render_markdown",
    "write_report",
    "run_cli",
]

DEFAULT_DATA = "builtin:digits"
"""Input of a bare ``qcoreset demo``."""
DEFAULT_BUDGET = "2.5%"
"""Budget of a bare ``qcoreset demo``: 2.5 % of the float32 size of the training rows."""
DEFAULT_OUT = "qcoreset-report"
"""Report folder of a bare ``qcoreset demo``."""
TASK_NAMES = ("kmeans", "pca", "svm", "logreg", "mlp")
"""Tasks the demo trains, in table order."""
TABLE_BACKENDS = (("hwa_standard", "1h"), ("hwa_standard", "1d"), ("hermes", "1d"))
"""(preset, time after programming) of the analog columns of the summary table."""
TIME_GRID = ("1s", "1h", "1d", "1w", "1y")
"""Times after programming of the accuracy-vs-time curves (full mode)."""
ANALOG_PRESETS = ("hwa_standard", "hermes")
"""Analog presets of the accuracy-vs-time curves."""
CURVE_FRACTIONS = (0.005, 0.01, 0.02, 0.05, 0.10)
"""Budgets of the error-vs-budget curve, as fractions of the float32 size (full mode)."""
CURVE_REPEATS = 3
"""Seeds per point of the error-vs-budget curve (full mode); the median is plotted."""
QUICK_TIME_GRID = ("1h", "1d")
QUICK_CURVE_FRACTIONS = (0.01, 0.05)
QUICK_CURVE_REPEATS = 1

PLOT_FILES = ("error_vs_budget.png", "accuracy_vs_time.png", "energy_per_inference.png")
"""Names of the PNG plots in the report folder."""


# --------------------------------------------------------------------------------------
# Progress lines
# --------------------------------------------------------------------------------------


class Progress:
    """Progress lines on a stream (stderr by default): numbered steps and item counters.

    On a terminal, :meth:`items` redraws one counter line in place; elsewhere (pipes,
    files, tests) it prints only the step's closing line, so logs stay short.

    Parameters
    ----------
    stream : text stream or None
        Where lines go (``sys.stderr`` when None).
    n_steps : int
        Number of steps, for the ``[k/n]`` prefix.
    enabled : bool
        When False, nothing is printed.
    """

    def __init__(self, stream: TextIO | None = None, n_steps: int = 7, enabled: bool = True):
        self.stream = sys.stderr if stream is None else stream
        self.n_steps = n_steps
        self.enabled = enabled
        self._k = 0
        self._t0 = time.perf_counter()
        self._tty = bool(getattr(self.stream, "isatty", lambda: False)())

    def line(self, text: str) -> None:
        """Print one line."""
        if self.enabled:
            print(text, file=self.stream, flush=True)

    def step(self, title: str) -> None:
        """Start the next numbered step."""
        self._k += 1
        self._t0 = time.perf_counter()
        self.line(f"[{self._k}/{self.n_steps}] {title}")

    def done(self, text: str, seconds: float | None = None) -> None:
        """Close the current step with ``text`` and its wall time (or ``seconds``)."""
        if seconds is None:
            seconds = time.perf_counter() - self._t0
        self.line(f"      {text} ({seconds:.2f} s)")

    def items(self, seq: Iterable, label: str) -> Iterator:
        """Yield the items of ``seq``, showing ``label i/n`` on a terminal."""
        seq = list(seq)
        n = len(seq)
        for i, item in enumerate(seq, 1):
            if self.enabled and self._tty:
                bar = "#" * (20 * (i - 1) // max(n, 1))
                print(f"\r      {label} [{bar:<20}] {i - 1}/{n}", end="",
                      file=self.stream, flush=True)
            yield item
        if self.enabled and self._tty:
            print(f"\r      {label} [{'#' * 20}] {n}/{n}", file=self.stream, flush=True)


# --------------------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------------------


def _finite(value) -> float | None:
    """A JSON-safe float: None for NaN/inf or None."""
    if value is None:
        return None
    value = float(value)
    return value if math.isfinite(value) else None


def _relative(kind: str, value: float, reference: float) -> float | None:
    """``value / reference`` (cost) or ``(reference - value) / reference`` (accuracy)."""
    if reference == 0:
        return None
    if kind == "cost":
        return _finite(value / reference)
    return _finite((reference - value) / reference)


def _rel_key(kind: str) -> str:
    return "normalized_cost" if kind == "cost" else "degradation"


def _backend_key(preset: str, when: str) -> str:
    return f"{preset}@{when}"


def _split(ds, seed: int):
    """Training and held-out parts: the dataset's own test split, or a stratified 80/20."""
    if ds.X_test is not None and ds.y is not None and ds.y_test is not None:
        return (ds.X, ds.y, ds.sample_weight, ds.X_test, ds.y_test,
                f"the dataset's own test split ({ds.X_test.shape[0]} rows)")
    if ds.y is None:
        return ds.X, None, ds.sample_weight, None, None, "none (the input has no labels)"
    from sklearn.model_selection import train_test_split

    n = ds.X.shape[0]
    _, counts = np.unique(ds.y, return_counts=True)
    strat = ds.y if counts.min() >= 2 else None
    try:
        tr, te = train_test_split(np.arange(n), test_size=0.2, random_state=seed,
                                  stratify=strat)
    except ValueError as exc:
        raise InputError(
            f"cannot hold out 20 % of {n} rows with {counts.size} classes for the "
            f"classification tasks ({exc}); use a larger input"
        ) from None
    w = None if ds.sample_weight is None else ds.sample_weight[tr]
    how = f"stratified 20 % held out ({te.size} rows, seed {seed})"
    if strat is None:
        how = f"20 % held out ({te.size} rows, seed {seed}; a class has one row, not stratified)"
    return ds.X[tr], ds.y[tr], w, ds.X[te], ds.y[te], how


def _check_out_dir(out: str) -> None:
    """Fail early (InputError) when the report folder cannot be created or written."""
    path = os.path.abspath(out)
    if os.path.exists(path):
        if not os.path.isdir(path):
            raise InputError(f"cannot write the report to {out}: it is a file; give a folder "
                             "with --out")
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"cannot write the report to {out}: the folder is not writable; "
                             "choose another --out")
        return
    parent = os.path.dirname(path)
    while not os.path.exists(parent):
        parent = os.path.dirname(parent)
    if not os.path.isdir(parent):
        raise InputError(f"cannot create the report folder {out}: {parent} is a file; choose "
                         "another --out")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"cannot create the report folder {out}: {parent} is not writable; "
                         "choose another --out")


def _score(task, model, X, y, w, backend) -> tuple[float, float, float, int]:
    """(metric, energy in J, latency in s, scored rows) of one pass through ``backend``."""
    before = dict(getattr(backend, "stats", {}) or {})
    value, _ = task.evaluate(model, X, y, backend, w)
    after = getattr(backend, "stats", {}) or {}
    energy = after.get("energy_j", 0.0) - before.get("energy_j", 0.0)
    latency = after.get("latency_s", 0.0) - before.get("latency_s", 0.0)
    return float(value), float(energy), float(latency), int(X.shape[0])


# --------------------------------------------------------------------------------------
# The pipeline
# --------------------------------------------------------------------------------------


def _budget_curve(Xtr, ytr, wtr, *, raw, main_bits, seed, fractions, repeats, full_model,
                  progress) -> dict:
    """k-means normalized cost vs budget, planner (defaults) vs uniform + float32."""
    from .estimator import QuantizedCoreset
    from .tasks import get_task

    task = get_task("kmeans")
    full_value = task.score(full_model, Xtr, None, None, wtr)
    budgets = sorted({max(1, math.floor(f * raw)) for f in fractions} | {int(main_bits)})
    seeds = [seed + r for r in range(repeats)]
    methods = (("planner", {}), ("uniform_float32", {"method": "uniform", "quantizer": "none"}))
    points = []
    jobs = [(b, label, params) for b in budgets for label, params in methods]
    for b, label, params in progress.items(jobs, "budget sweep"):
        values, sizes, bits, payloads, note = [], [], [], [], None
        for s in seeds:
            try:
                qc = QuantizedCoreset(budget=b, random_state=s, **params)
                qc.fit(Xtr, ytr, sample_weight=wtr)
                model = task.fit(qc.coreset_, None, sample_weight=qc.coreset_weights_,
                                 random_state=s)
            except QCoresetError as exc:
                note = str(exc)
                values = []
                break
            values.append(task.score(model, Xtr, None, None, wtr) / full_value)
            sizes.append(int(qc.size_))
            bits.append(int(qc.bits_))
            payloads.append(int(qc.payload_bits_))
        points.append({
            "method": label,
            "budget_bits": int(b),
            "budget_percent": 100.0 * b / raw,
            "coreset_size": sizes[0] if sizes else None,
            "bits_per_value": bits[0] if bits else None,
            "payload_bits": max(payloads) if payloads else None,
            "normalized_cost": _finite(np.median(values)) if values else None,
            "normalized_cost_min": _finite(min(values)) if values else None,
            "normalized_cost_max": _finite(max(values)) if values else None,
            "values": [_finite(v) for v in values],
            "note": note,
        })
    return {
        "task": "kmeans",
        "metric": "normalized_cost",
        "seeds": seeds,
        "planner": "QuantizedCoreset defaults (sensitivity, quantizer and bits 'auto')",
        "uniform_float32": "method='uniform', quantizer='none' (float32 values)",
        "points": points,
    }


def _row_quantizer(row: dict) -> str:
    """A plan row's quantizer, with the rank of a projection: ``fixed`` or ``pca/21``."""
    rank = row.get("rank")
    return row.get("quantizer", "") if rank is None else f"{row['quantizer']}/{rank}"


def run_demo(
    data: str = DEFAULT_DATA,
    budget: str | int | float = DEFAULT_BUDGET,
    *,
    out: str | os.PathLike | None = DEFAULT_OUT,
    seed: int = 0,
    quick: bool = False,
    plots: bool = True,
    threads: int | None = 1,
    progress: Progress | None = None,
) -> dict:
    """Run the demo pipeline and (unless ``out`` is None) write the report folder.

    Parameters
    ----------
    data : str
        Input, as for ``qcoreset reduce``: ``builtin:NAME``, ``.npy``, ``.npz`` or ``.csv``.
    budget : str, int or float
        Bit budget of the coreset payload (bits, a size, or a percentage of the float32
        size of the training rows).
    out : str, path or None
        Report folder (created if needed); None writes nothing.
    seed : int
        Seed of every random choice (split, reduction, model fits, analog devices).
    quick : bool
        Fewer budgets, seeds and times after programming (for smoke tests).
    plots : bool
        Draw the PNG plots when matplotlib is installed.
    threads : int or None
        Threads of the BLAS and OpenMP pools while the demo runs (restored afterwards);
        None leaves them alone. One thread (the default) is the fastest for small data
        on a shared machine, where busy-waiting thread pools slow every fit down many
        times, and gives the same floating-point results on every machine.
    progress : Progress or None
        Where progress lines go; None prints nothing.

    Returns
    -------
    dict
        The report (see ``report.json``): the :func:`summary` fields plus the split, the
        plan table, the budget curve, the analog results at every time, the files
        written and the step timings.

    Raises
    ------
    InputError, BudgetError
        For an unreadable input, an invalid or too small budget, or a report folder that
        cannot be written.

    Examples
    --------
    >>> report = run_demo("builtin:iris", "40%", out=None, quick=True)  # doctest: +SKIP
    >>> sorted(report["tasks"])  # doctest: +SKIP
    ['kmeans', 'logreg', 'mlp', 'pca', 'svm']
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise InputError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    if threads is not None and (isinstance(threads, bool) or not isinstance(
            threads, (int, np.integer)) or threads < 1):
        raise InputError(f"threads must be a positive integer or None, got {threads!r}")
    if threads is None:
        return _run_demo(data, budget, out=out, seed=seed, quick=quick, plots=plots,
                         progress=progress)
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=int(threads)):
        return _run_demo(data, budget, out=out, seed=seed, quick=quick, plots=plots,
                         progress=progress)


def _run_demo(data, budget, *, out, seed, quick, plots, progress) -> dict:
    """Unvalidated core of :func:`run_demo` (thread pools already set)."""
    from . import __version__
    from .analog import AnalogBackend, format_time, parse_time
    from .budget import format_bits, parse_budget, raw_bits
    from .datasets import load_input
    from .estimator import QuantizedCoreset
    from .tasks import DigitalBackend, get_task

    progress = progress or Progress(enabled=False)
    timings: dict[str, float] = {}
    t_start = time.perf_counter()

    # ---- input, split, budget, output folder (all checked before any work) ----
    ds = load_input(data)
    Xtr, ytr, wtr, Xte, yte, split_how = _split(ds, seed)
    n, d = Xtr.shape
    raw = raw_bits(n, d)
    budget_bits = parse_budget(budget, n, d)
    if out is not None:
        _check_out_dir(os.fspath(out))
    labelled = ytr is not None
    times = QUICK_TIME_GRID if quick else TIME_GRID
    grid = sorted({(p, parse_time(t)) for p in ANALOG_PRESETS for t in times}
                  | {(p, parse_time(t)) for p, t in TABLE_BACKENDS})
    progress.line(
        f"qcoreset demo: {ds.name} ({ds.X.shape[0]} x {d}); training rows {n}, "
        f"held out: {split_how}; budget {format_bits(budget_bits)} "
        f"= {100 * budget_bits / raw:.3g} % of float32"
    )

    # ---- 1. plan + 2. reduce (one fit: the plan table is the one the reduction used) ----
    progress.step("plan: candidate quantizers and bit depths for the budget")
    qc = QuantizedCoreset(budget=budget_bits, random_state=seed)
    qc.fit(Xtr, ytr, sample_weight=wtr)
    plan = qc.plan_
    plan_rows = [r.as_dict() for r in plan.rows]
    feasible = sum(r["feasible"] for r in plan_rows)
    progress.line(f"      {'quantizer':>9} {'bits':>4} {'size':>6} {'payload bits':>13} "
                  f"{'predicted error':>16}")
    for r in plan_rows:
        if not r["feasible"]:
            progress.line(f"      {_row_quantizer(r):>9} {r['bits']:>4} {'-':>6} "
                          f"{'does not fit':>13}")
            continue
        mark = "  <- chosen" if r["chosen"] else ""
        pred = "-" if r["predicted_error"] is None else f"{r['predicted_error']:.4g}"
        if r.get("pruned"):
            pred = ">=" + pred
        progress.line(f"      {_row_quantizer(r):>9} {r['bits']:>4} {r['size']:>6} "
                      f"{r['payload_bits']:>13} {pred:>16}{mark}")
    progress.done(f"{feasible} of {len(plan_rows)} candidates fit; proxy {plan.proxy}; "
                  f"chosen {_row_quantizer(plan.chosen.as_dict())} at {plan.chosen.bits} bits "
                  f"x {plan.chosen.size} rows",
                  seconds=qc.timings_["plan"])
    timings["plan"] = float(qc.timings_["plan"])

    progress.step("reduce: quantized coreset of the training rows")
    Xc, wc = qc.coreset_, qc.coreset_weights_
    yc = qc.coreset_labels_
    if yc is not None and ytr is not None:
        yc = yc.astype(ytr.dtype, copy=False)
    progress.done(
        f"{qc.size_} rows x {qc.bits_} bits: payload {qc.payload_bits_:,} <= budget "
        f"{qc.budget_bits_:,} bits; reduction {100 * qc.reduction_:.2f} % vs float32",
        seconds=qc.timings_["total"] - qc.timings_["plan"],
    )
    timings["reduce"] = float(qc.timings_["total"])

    # ---- 3. train every task on the coreset and on all the training rows ----
    progress.step("train: five tasks on the coreset and on all the training rows")
    t0 = time.perf_counter()
    models: dict[str, dict[str, Any]] = {}
    skipped: dict[str, str] = {}
    for name in progress.items(TASK_NAMES, "train"):
        params = {"n_components": max(1, min(10, d - 1))} if name == "pca" else {}
        task = get_task(name, **params)
        if task.needs_labels and not labelled:
            skipped[name] = "the input has no class labels"
            continue
        full = task.fit(Xtr, ytr, sample_weight=wtr, random_state=seed)
        core = task.fit(Xc, yc, sample_weight=wc, random_state=seed)
        models[name] = {"task": task, "full": full, "coreset": core}
    timings["train"] = time.perf_counter() - t0
    progress.done(f"trained {2 * len(models)} models"
                  + (f"; skipped {', '.join(skipped)} (no labels)" if skipped else ""))

    def eval_data(task):
        if task.needs_labels:
            return Xte, yte, None
        return Xtr, None, wtr

    # ---- 4. budget sweep (k-means only: cheap) ----
    progress.step("budget sweep: k-means cost vs budget, planner vs uniform float32")
    t0 = time.perf_counter()
    curve = _budget_curve(
        Xtr, ytr, wtr, raw=raw, main_bits=budget_bits, seed=seed,
        fractions=QUICK_CURVE_FRACTIONS if quick else CURVE_FRACTIONS,
        repeats=QUICK_CURVE_REPEATS if quick else CURVE_REPEATS,
        full_model=models["kmeans"]["full"], progress=progress,
    )
    timings["budget_sweep"] = time.perf_counter() - t0
    progress.done(f"{len(curve['points']) // 2} budgets x 2 methods x "
                  f"{len(curve['seeds'])} seeds")

    # ---- 5. digital evaluation ----
    progress.step("evaluate digitally")
    t0 = time.perf_counter()
    tasks: dict[str, dict] = {}
    for name, mm in models.items():
        task = mm["task"]
        X, y, w = eval_data(task)
        backend = DigitalBackend()
        fv = _score(task, mm["full"], X, y, w, backend)[0]
        cv = _score(task, mm["coreset"], X, y, w, backend)[0]
        tasks[name] = {
            "kind": task.kind,
            "metric": task.metric,
            "scored_on": "training rows" if not task.needs_labels else "held-out rows",
            "scored_rows": int(X.shape[0]),
            "digital": {
                "backend": "digital",
                "metric": task.metric,
                "full_value": _finite(fv),
                "coreset_value": _finite(cv),
                _rel_key(task.kind): _relative(task.kind, cv, fv),
                "energy_j": None,
                "latency_s": None,
            },
            "analog": {},
        }
    timings["digital"] = time.perf_counter() - t0
    progress.done(", ".join(
        f"{k} {v['digital'][_rel_key(v['kind'])]:.3f}" for k, v in tasks.items()
        if v["digital"][_rel_key(v["kind"])] is not None
    ))

    # ---- 6. analog evaluation ----
    progress.step("evaluate on the analog backend (simulated AIMC crossbar)")
    t0 = time.perf_counter()
    vs_time: dict[str, dict[str, list]] = {name: {} for name in models}
    jobs = [(preset, t, name) for preset, t in grid for name in models]
    backends = {(p, t): AnalogBackend(p, t_inference=t, seed=seed) for p, t in grid}
    for preset, t, name in progress.items(jobs, "analog"):
        mm = models[name]
        task = mm["task"]
        X, y, w = eval_data(task)
        be = backends[(preset, t)]
        fv = _score(task, mm["full"], X, y, w, be)[0]
        cv, energy, latency, rows = _score(task, mm["coreset"], X, y, w, be)
        digital = tasks[name]["digital"]
        rec = {
            "backend": be.name,
            "preset": preset,
            "t_inference_s": t,
            "time": format_time(t),
            "metric": task.metric,
            "full_value": _finite(fv),
            "coreset_value": _finite(cv),
            _rel_key(task.kind): _relative(task.kind, cv, fv),
            _rel_key(task.kind) + "_vs_digital": _relative(task.kind, cv,
                                                            digital["full_value"]),
            "energy_j": _finite(energy / rows),
            "latency_s": _finite(latency / rows),
            "energy_total_j": _finite(energy),
        }
        vs_time[name].setdefault(preset, []).append(rec)
        key = _backend_key(preset, format_time(t))
        if (preset, format_time(t)) in TABLE_BACKENDS:
            tasks[name]["analog"][key] = rec
    for name in tasks:  # table order
        tasks[name]["analog"] = {
            _backend_key(p, w): tasks[name]["analog"][_backend_key(p, w)]
            for p, w in TABLE_BACKENDS
        }
    timings["analog"] = time.perf_counter() - t0
    progress.done(f"{len(jobs)} task x backend evaluations on {len(grid)} programmed chips "
                  f"({', '.join(sorted({_backend_key(p, format_time(t)) for p, t in grid}))})")

    import sklearn

    report = {
        "dataset": ds.name,
        "input": data,
        "n_samples": int(ds.X.shape[0]),
        "n_features": int(d),
        "n_train": int(n),
        "n_test": None if Xte is None else int(Xte.shape[0]),
        "split": split_how,
        "budget": str(budget),
        "budget_bits": int(qc.budget_bits_),
        "budget_percent": 100.0 * qc.budget_bits_ / raw,
        "raw_bits": int(raw),
        "payload_bits": int(qc.payload_bits_),
        "reduction": float(qc.reduction_),
        "coreset_size": int(qc.size_),
        "bits_per_value": int(qc.bits_),
        "method": qc.method_,
        "quantizer": qc.quantizer_.name,
        "rank": getattr(qc.quantizer_, "rank_", None),
        "error_bound": _finite(qc.error_bound_),
        "seed": seed,
        "quick": bool(quick),
        "plan": {**plan.as_dict(), "rows": plan_rows},
        "tasks": tasks,
        "skipped_tasks": skipped,
        "analog_vs_time": vs_time,
        "budget_curve": curve,
        "energy_note": "energy_j and latency_s are per inference: the backend's energy "
                       "(latency) for scoring the coreset model divided by the rows scored",
        "versions": {"qcoreset": __version__, "numpy": np.__version__,
                     "scikit-learn": sklearn.__version__},
        "files": [],
        "plots_skipped": None,
        "timings": timings,
    }

    # ---- 7. report folder ----
    timings["total"] = time.perf_counter() - t_start  # before writing the report
    progress.step("report")
    if out is not None:
        write_report(report, out, plots=plots, progress=progress)
        progress.done(f"wrote {', '.join(report['files'])} to {os.fspath(out)}")
    else:
        progress.done("no report folder (out=None)")
    return report


# --------------------------------------------------------------------------------------
# Views of the report
# --------------------------------------------------------------------------------------


def summary(report: dict) -> dict:
    """The ``--json`` object: the headline numbers and every task's results.

    Parameters
    ----------
    report : dict
        A report from :func:`run_demo`.

    Returns
    -------
    dict
        ``dataset``, ``budget_bits``, ``payload_bits``, ``reduction``, ``coreset_size``,
        ``bits_per_value`` and ``tasks``: per task ``kind``, ``metric``, ``digital``
        (``full_value``, ``coreset_value``, ``normalized_cost`` or ``degradation``,
        ``energy_j`` = None) and ``analog`` (the same per backend of
        :data:`TABLE_BACKENDS`, with ``energy_j`` and ``latency_s`` per inference).
    """
    keys = ("dataset", "budget_bits", "payload_bits", "reduction", "coreset_size",
            "bits_per_value")
    out = {k: report[k] for k in keys}
    out["tasks"] = {
        name: {k: t[k] for k in ("kind", "metric", "scored_on", "scored_rows", "digital",
                                 "analog")}
        for name, t in report["tasks"].items()
    }
    if report.get("skipped_tasks"):
        out["skipped_tasks"] = dict(report["skipped_tasks"])
    return out


def _fmt_value(kind: str, v) -> str:
    if v is None:
        return "-"
    return f"{v:.4f}" if kind == "accuracy" else f"{v:.4g}"


def _fmt_rel(kind: str, v) -> str:
    if v is None:
        return "-"
    return f"{v:.3f}" if kind == "cost" else f"{100 * v:.2f} %"


def _fmt_energy(v) -> str:
    if v is None:
        return "-"
    return f"{v * 1e9:.3g} nJ"


def _table_rows(report: dict) -> tuple[list[str], list[list[str]]]:
    keys = [_backend_key(p, t) for p, t in TABLE_BACKENDS]
    header = ["task", "metric", "all data", "coreset", "ratio / degr.", *keys,
              "nJ/inf. hwa_standard", "nJ/inf. hermes"]
    rows = []
    for name, t in report["tasks"].items():
        kind, dig = t["kind"], t["digital"]
        rel = _rel_key(kind)
        cells = [name, t["metric"], _fmt_value(kind, dig["full_value"]),
                 _fmt_value(kind, dig["coreset_value"]), _fmt_rel(kind, dig[rel])]
        for k in keys:
            a = t["analog"][k]
            cells.append(f"{_fmt_value(kind, a['coreset_value'])} ({_fmt_rel(kind, a[rel])})")
        for k in ("hwa_standard@1d", "hermes@1d"):
            e = t["analog"][k]["energy_j"]
            cells.append("-" if e is None else f"{e * 1e9:.3g}")
        rows.append(cells)
    return header, rows


def _headline(report: dict) -> str:
    return (
        f"{report['dataset']}: {report['n_train']} training rows x {report['n_features']}; "
        f"budget {report['budget_bits']:,} bits ({report['budget_percent']:.3g} % of float32); "
        f"payload {report['payload_bits']:,} bits; reduction {100 * report['reduction']:.2f} %; "
        f"coreset {report['coreset_size']} rows x {_row_values(report)}"
    )


def _row_values(report: dict) -> str:
    """``"2 bits per value"`` or ``"21 principal-component coefficients at 3 bits"``."""
    if report.get("rank") is not None:
        return (f"{report['rank']} principal-component coefficients at "
                f"{report['bits_per_value']} bits")
    return f"{report['bits_per_value']} bits per value"


def format_table(report: dict) -> str:
    """The summary table as plain text (what ``qcoreset demo`` prints on stdout).

    Parameters
    ----------
    report : dict
        A report from :func:`run_demo`.

    Returns
    -------
    str
        A headline, the aligned table and a legend, joined by newlines.
    """
    header, rows = _table_rows(report)
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header))]
    lines = [_headline(report), ""]
    lines.append("  ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)).rstrip())
    lines.append("  ".join("-" * w for w in widths))
    for r in rows:
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    lines.append("")
    lines.extend(_legend(report))
    return "\n".join(lines)


def _legend(report: dict) -> list[str]:
    out = [
        "all data / coreset: the metric of the model trained on all the training rows / on "
        "the coreset, computed digitally.",
        "ratio / degr.: for costs the normalized cost = coreset cost / all-data cost (1 = as "
        "good); for accuracies the degradation = (all-data - coreset) / all-data accuracy.",
        "PRESET@T columns: the coreset model's metric on the simulated analog chip T after "
        "programming (in parentheses: ratio / degr. vs the all-data model on the same chip).",
        "nJ/inf.: energy per inference on the chip 1 d after programming, in nJ. Energy per "
        "inference = backend energy for scoring / number of scored rows.",
        f"Cost tasks are scored on the {report['n_train']} training rows; classifiers on "
        f"{report['split']}.",
    ]
    if report.get("skipped_tasks"):
        out.append("Skipped: " + "; ".join(f"{k} ({v})" for k, v in
                                            report["skipped_tasks"].items()) + ".")
    return out


def _interpretation(report: dict) -> list[str]:
    """Two sentences generated from the numbers."""
    tasks = report["tasks"]
    costs = [(k, t["digital"]["normalized_cost"]) for k, t in tasks.items()
             if t["kind"] == "cost" and t["digital"]["normalized_cost"] is not None]
    accs = [(k, t["digital"]["degradation"]) for k, t in tasks.items()
            if t["kind"] == "accuracy" and t["digital"]["degradation"] is not None]
    s1 = (f"The {report['payload_bits']:,}-bit payload ({report['coreset_size']} rows of "
          f"{_row_values(report)}) is {100 * report['reduction']:.2f} % "
          f"smaller than the float32 training data")
    parts = []
    if costs:
        parts.append(" and ".join(f"{k} reaches {v:.3f}x" for k, v in costs)
                     + " the cost of the same model trained on all the data")
    if accs:
        lo = min(accs, key=lambda kv: kv[1])
        hi = max(accs, key=lambda kv: kv[1])
        if hi[1] <= 0:
            parts.append(f"the classifiers lose no test accuracy (changes from "
                         f"{-100 * hi[1]:+.2f} % to {-100 * lo[1]:+.2f} %)")
        else:
            parts.append(f"the classifiers' test accuracy drops by {100 * lo[1]:.2f} % "
                         f"({lo[0]}) to {100 * hi[1]:.2f} % ({hi[0]}) relative to training on "
                         "all the data")
    s1 += ("; trained on it, " + ", and ".join(parts)) if parts else ""
    s1 += "."

    shifts = {}
    energies = {}
    for key in ("hwa_standard@1d", "hermes@1d"):
        worst, e = None, []
        for name, t in tasks.items():
            a, dig = t["analog"][key], t["digital"]
            if a["coreset_value"] is not None and dig["coreset_value"]:
                shift = abs(a["coreset_value"] - dig["coreset_value"]) / abs(dig["coreset_value"])
                if worst is None or shift > worst[1]:
                    worst = (name, shift)
            if a["energy_j"] is not None:
                e.append((name, a["energy_j"]))
        shifts[key], energies[key] = worst, e
    bits = []
    for key in ("hwa_standard@1d", "hermes@1d"):
        if shifts[key] is not None:
            bits.append(f"{100 * shifts[key][1]:.2f} % with {key} (worst: {shifts[key][0]})")
    s2 = ("On the simulated analog chip one day after programming, the coreset models' metrics "
          "move from their digital values by at most " + " and ".join(bits))
    erange = []
    for key in ("hwa_standard@1d", "hermes@1d"):
        if energies[key]:
            lo = min(e for _, e in energies[key])
            hi = max(e for _, e in energies[key])
            near = {
                bound: ", ".join(k for k, e in energies[key] if abs(e - bound) <= 0.01 * bound)
                for bound in (lo, hi)
            }
            erange.append(f"{_fmt_energy(lo)} ({near[lo]}) to {_fmt_energy(hi)} ({near[hi]}) "
                          f"on {key.split('@')[0]}")
    if erange:
        s2 += ", and one inference costs " + " and ".join(erange)
    s2 += "."
    return [s1, s2]


def render_markdown(report: dict) -> str:
    """``report.md``: headline, summary table, two sentences of interpretation, details.

    Parameters
    ----------
    report : dict
        A report from :func:`run_demo` (its ``files`` and ``plots_skipped`` decide the
        plot section).

    Returns
    -------
    str
        Markdown text.
    """
    header, rows = _table_rows(report)
    md = [f"# qcoreset demo: {report['dataset']}", "", _headline(report) + ".", ""]
    md.append("| " + " | ".join(header) + " |")
    md.append("|" + "|".join("---" for _ in header) + "|")
    md.extend("| " + " | ".join(r) + " |" for r in rows)
    md.append("")
    md.append(" ".join(_interpretation(report)))
    md.append("")
    md.extend(f"* {line}" for line in _legend(report))
    md.append(f"* Seed {report['seed']}; qcoreset {report['versions']['qcoreset']}, "
              f"numpy {report['versions']['numpy']}, scikit-learn "
              f"{report['versions']['scikit-learn']}.")
    md.append("")

    md.append("## Plan: candidate quantizers and bit depths")
    md.append("")
    p = report["plan"]
    md.append(f"Constructor {p['method']}, chosen quantizer {p['quantizer']}, coreset-error "
              f"proxy {p['proxy']}. For every quantizer (pca/r: r principal-component "
              "coefficients per row) and bit depth the largest coreset that fits the budget; the "
              "planner keeps the smallest predicted error (per unit weight; ≥ marks depths "
              "skipped because a floor of their prediction already exceeds the choice).")
    md.append("")
    md.append("| quantizer | bits | size | payload bits | coreset error | quantization error | "
              "predicted error | chosen |")
    md.append("|---|---|---|---|---|---|---|---|")
    for r in p["rows"]:
        if not r["feasible"]:
            md.append(f"| {_row_quantizer(r)} | {r['bits']} | - | does not fit | | | | |")
            continue
        f = [("-" if r[k] is None else f"{r[k]:.4g}")
             for k in ("cs_error", "quantization_error", "predicted_error")]
        if r.get("pruned"):
            f[2] = "≥ " + f[2]
        md.append(f"| {_row_quantizer(r)} | {r['bits']} | {r['size']} | {r['payload_bits']:,} "
                  f"| {f[0]} | {f[1]} | {f[2]} | {'yes' if r['chosen'] else ''} |")
    md.append("")

    md.append("## k-means cost vs budget")
    md.append("")
    c = report["budget_curve"]
    md.append(f"Normalized k-means cost (median over seeds {c['seeds']}) of a model trained on "
              "the coreset, scored on all the training rows. planner: "
              f"{c['planner']}; uniform float32: {c['uniform_float32']}.")
    md.append("")
    md.append("| budget bits | % of float32 | method | rows | bits/value | normalized cost |")
    md.append("|---|---|---|---|---|---|")
    for pt in c["points"]:
        val = "does not fit" if pt["normalized_cost"] is None else \
            f"{pt['normalized_cost']:.4f}"
        md.append(f"| {pt['budget_bits']:,} | {pt['budget_percent']:.3g} | {pt['method']} | "
                  f"{pt['coreset_size'] or '-'} | {pt['bits_per_value'] or '-'} | {val} |")
    md.append("")

    md.append("## Analog backend vs time after programming")
    md.append("")
    md.append("| task | preset | time | all data | coreset | energy/inference | "
              "latency/inference |")
    md.append("|---|---|---|---|---|---|---|")
    for name, per in report["analog_vs_time"].items():
        kind = report["tasks"][name]["kind"]
        for preset, recs in per.items():
            for r in recs:
                lat = "-" if r["latency_s"] is None else f"{r['latency_s'] * 1e9:.3g} ns"
                md.append(f"| {name} | {preset} | {r['time']} | "
                          f"{_fmt_value(kind, r['full_value'])} | "
                          f"{_fmt_value(kind, r['coreset_value'])} | "
                          f"{_fmt_energy(r['energy_j'])} | {lat} |")
    md.append("")

    md.append("## Plots")
    md.append("")
    pngs = [f for f in report.get("files", []) if f.endswith(".png")]
    if pngs:
        for f in pngs:
            md.append(f"![{f}]({f})")
            md.append("")
    else:
        md.append(f"No plots: {report.get('plots_skipped') or 'not requested'}.")
        md.append("")
    return "\n".join(md)


# --------------------------------------------------------------------------------------
# Plots (matplotlib, optional)
# --------------------------------------------------------------------------------------


_TIME_TICKS = ((1.0, "1 s"), (60.0, "1 min"), (3600.0, "1 h"), (86400.0, "1 d"),
               (604800.0, "1 w"), (31536000.0, "1 y"))


def _plot_budget_curve(Figure, report: dict, path: str) -> None:
    fig = Figure(figsize=(7, 4.5), layout="constrained")
    ax = fig.add_subplot()
    c = report["budget_curve"]
    styles = {"planner": ("C0", "o", "planner (sensitivity + fixed, bits chosen)"),
              "uniform_float32": ("C1", "s", "uniform sampling, float32")}
    for method, (color, marker, label) in styles.items():
        pts = [p for p in c["points"] if p["method"] == method and p["normalized_cost"]]
        if not pts:
            continue
        x = [p["budget_percent"] for p in pts]
        y = np.array([p["normalized_cost"] for p in pts])
        lo = y - np.array([p["normalized_cost_min"] for p in pts])
        hi = np.array([p["normalized_cost_max"] for p in pts]) - y
        ax.errorbar(x, y, yerr=[lo, hi], color=color, marker=marker, capsize=3, label=label)
    ax.axvline(report["budget_percent"], color="0.5", ls="--", lw=1,
               label=f"demo budget ({report['budget_percent']:.3g} %)")
    ax.axhline(1.0, color="k", lw=0.8)
    ax.set_xscale("log")
    ticks = sorted({p["budget_percent"] for p in c["points"]})
    ax.set_xticks(ticks, [f"{t:.3g}" for t in ticks])
    ax.minorticks_off()
    missing = sorted(p["budget_percent"] for p in c["points"]
                     if p["method"] == "uniform_float32" and p["normalized_cost"] is None)
    if missing:
        ax.text(0.02, 0.97, "uniform float32 does not fit at "
                + ", ".join(f"{m:.3g} %" for m in missing), transform=ax.transAxes,
                fontsize=8, color="C1", va="top")
    ax.set_xlabel("budget (% of the float32 size of the training rows)")
    ax.set_ylabel("k-means cost: coreset model / all-data model")
    ax.set_title(f"k-means error vs bit budget on {report['dataset']}: "
                 "planner vs uniform sampling")
    ax.legend(fontsize=8)
    fig.savefig(path, format="png", dpi=110)


def _plot_vs_time(Figure, report: dict, path: str) -> None:
    names = list(report["analog_vs_time"])
    ncol = min(3, len(names))
    nrow = -(-len(names) // ncol)
    fig = Figure(figsize=(4.2 * ncol, 3.4 * nrow), layout="constrained")
    colors = {"hwa_standard": "C0", "hermes": "C3"}
    for i, name in enumerate(names):
        ax = fig.add_subplot(nrow, ncol, i + 1)
        t = report["tasks"][name]
        for preset, recs in report["analog_vs_time"][name].items():
            x = [r["t_inference_s"] for r in recs]
            ax.plot(x, [r["coreset_value"] for r in recs], marker="o",
                    color=colors.get(preset), label=f"{preset}, coreset model")
            ax.plot(x, [r["full_value"] for r in recs], marker=".", ls="--",
                    color=colors.get(preset), alpha=0.6, label=f"{preset}, all-data model")
        ax.axhline(t["digital"]["coreset_value"], color="k", lw=1,
                   label="digital, coreset model")
        ax.axhline(t["digital"]["full_value"], color="k", lw=1, ls=":",
                   label="digital, all-data model")
        ax.set_xscale("log")
        ticks = [(s, lab) for s, lab in _TIME_TICKS
                 if any(r["t_inference_s"] == s for recs in
                        report["analog_vs_time"][name].values() for r in recs)]
        ax.set_xticks([s for s, _ in ticks], [lab for _, lab in ticks])
        ax.minorticks_off()
        better = "higher" if t["kind"] == "accuracy" else "lower"
        ax.set_title(f"{name}: {t['metric']} ({better} is better)", fontsize=10)
        ax.set_xlabel("time after programming")
    handles, labels = fig.axes[0].get_legend_handles_labels()
    if nrow * ncol > len(names):  # legend in the free panel
        spare = fig.add_subplot(nrow, ncol, nrow * ncol)
        spare.axis("off")
        spare.legend(handles, labels, loc="center", fontsize=9)
    else:
        fig.axes[0].legend(fontsize=7)
    fig.suptitle("Task accuracy (cost for kmeans, pca) vs time after programming, "
                 "analog presets")
    fig.savefig(path, format="png", dpi=100)


def _plot_energy(Figure, report: dict, path: str) -> None:
    fig = Figure(figsize=(7, 4.2), layout="constrained")
    ax = fig.add_subplot()
    names = list(report["tasks"])
    keys = ["hwa_standard@1d", "hermes@1d"]
    width = 0.38
    x = np.arange(len(names))
    top = 0.0
    for j, key in enumerate(keys):
        vals = [(report["tasks"][n]["analog"][key]["energy_j"] or 0.0) * 1e9 for n in names]
        bars = ax.bar(x + (j - 0.5) * width, vals, width, label=key.split("@")[0],
                      color=("C0", "C3")[j])
        ax.bar_label(bars, fmt="%.3g", fontsize=7)
        top = max([top, *vals])
    ax.set_xticks(x, names)
    ax.set_yscale("log")
    ax.set_ylabel("energy per inference (nJ, log scale)")
    ax.set_title("Energy per inference per task on the analog presets (1 d after "
                 "programming)")
    ax.set_xlabel("task (energy for scoring the coreset model / rows scored)")
    if top > 0:
        ax.set_ylim(top=top * 4)  # room for the legend above the bars
    ax.legend(fontsize=8, loc="upper left")
    fig.savefig(path, format="png", dpi=110)


def _draw_plots(report: dict, folder: str) -> list[str]:
    """Write the PNG plots into ``folder``; [] and ``plots_skipped`` without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        report["plots_skipped"] = ("matplotlib is not installed; install the plot extra "
                                   "(pip install 'qcoreset[plot]') to get the PNG plots")
        return []
    drawers = (_plot_budget_curve, _plot_vs_time, _plot_energy)
    for name, draw in zip(PLOT_FILES, drawers, strict=True):
        draw(Figure, report, os.path.join(folder, name))
    return list(PLOT_FILES)


# --------------------------------------------------------------------------------------
# Writing the folder
# --------------------------------------------------------------------------------------


def write_report(report: dict, out: str | os.PathLike, *, plots: bool = True,
                 progress: Progress | None = None) -> list[str]:
    """Write ``report.json``, ``report.md`` and the plots into the folder ``out``.

    Everything is first written to a private staging folder (inside ``out`` when it
    exists, else beside it) and then moved in, ``report.json`` last, or renamed to ``out``
    as a whole; a failure leaves ``out`` as it was (no half-written file). Plots left by
    an earlier run that this run does not draw are removed; other files are kept.

    Parameters
    ----------
    report : dict
        A report from :func:`run_demo`; its ``files`` and ``plots_skipped`` are updated.
    out : str or path
        The report folder (created with its parents if needed).
    plots : bool
        Draw the plots when matplotlib is installed.
    progress : Progress or None
        Where to say that plots were skipped.

    Returns
    -------
    list of str
        The file names written.

    Raises
    ------
    InputError
        When the folder cannot be created or written.
    """
    out = os.path.abspath(os.fspath(out))
    _check_out_dir(out)
    exists = os.path.isdir(out)
    # stage inside an existing folder (it may be the only writable place), else beside it
    where = out if exists else os.path.dirname(out)
    stage = None
    try:
        os.makedirs(where, exist_ok=True)
        stage = tempfile.mkdtemp(prefix=".qcoreset-report-", dir=where)
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(stage, 0o777 & ~mask)
        if plots:
            pngs = _draw_plots(report, stage)
        else:
            pngs = []
            report["plots_skipped"] = "plots were not requested"
        if report["plots_skipped"] and progress is not None:
            progress.line(f"      no plots: {report['plots_skipped']}")
        files = [*pngs, "report.md", "report.json"]
        report["files"] = files
        with open(os.path.join(stage, "report.md"), "w", encoding="utf-8") as fh:
            fh.write(render_markdown(report))
        with open(os.path.join(stage, "report.json"), "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1, allow_nan=False)
            fh.write("\n")
        if not exists:
            os.replace(stage, out)
            stage = None
        else:
            for f in files:  # report.json last
                os.replace(os.path.join(stage, f), os.path.join(out, f))
            for f in PLOT_FILES:
                stale = os.path.join(out, f)
                if f not in files and os.path.isfile(stale):
                    os.unlink(stale)
    except OSError as exc:
        raise InputError(f"cannot write the report to {out}: {exc.strerror or exc}") from None
    finally:
        if stage is not None:
            shutil.rmtree(stage, ignore_errors=True)
    return files


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------


def run_cli(args) -> int:
    """Run ``qcoreset demo`` from parsed arguments; returns the exit code.

    Progress lines go to stderr; stdout gets the summary table, or with ``--json`` one
    JSON object (:func:`summary`).

    Parameters
    ----------
    args : argparse.Namespace
        ``data``, ``budget``, ``out``, ``seed``, ``quick``, ``no_plots``, ``threads``,
        ``json``.

    Returns
    -------
    int
        0 on success (errors are raised as :class:`~qcoreset.QCoresetError`).
    """
    progress = Progress(sys.stderr)
    report = run_demo(args.data, args.budget, out=args.out, seed=args.seed, quick=args.quick,
                      plots=not args.no_plots, threads=args.threads, progress=progress)
    if args.json:
        print(json.dumps(summary(report), allow_nan=False))
        return 0
    print(format_table(report))
    print()
    print(f"Report: {os.path.join(args.out, 'report.md')} (numbers: report.json"
          + (", plots: " + ", ".join(f for f in report["files"] if f.endswith(".png"))
             if report["plots_skipped"] is None else f"; {report['plots_skipped']}")
          + f"); pipeline {report['timings']['total']:.1f} s")
    return 0
