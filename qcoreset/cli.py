"""The ``qcoreset`` command line.

Exit codes: 0 success; 2 bad input or usage (one line on stderr naming the problem
and the fix); 1 unexpected failure.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np

from ._errors import InputError, QCoresetError

__all__ = ["main", "build_parser"]

PROG = "qcoreset"


class _Parser(argparse.ArgumentParser):
    """ArgumentParser whose usage errors are one line and exit code 2."""

    def error(self, message):  # noqa: D401 - argparse API
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _auto_or_int(what: str):
    """argparse type for options that take 'auto' or a whole number."""

    def parse(text: str):
        if text == "auto":
            return "auto"
        try:
            return int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(
                f"invalid {what} {text!r}: use 'auto' or a whole number"
            ) from None

    return parse


def _add_reduction_options(parser, constructors, quantizers, proxies) -> None:
    """Options shared by ``reduce`` and ``plan``."""
    parser.add_argument("--method", default="auto", choices=["auto", *constructors.names()],
                        help="coreset constructor (default: auto = uniform per class with "
                             "labels, sensitivity without)")
    parser.add_argument("--quantizer", default="auto", choices=["auto", *quantizers.names()],
                        help="quantizer; auto: the plan chooses between a per-column grid "
                        "(fixed) and principal-component transform coding (pca) (default: auto)")
    parser.add_argument("--proxy", default="auto", choices=["auto", *proxies.names()],
                        help="coreset-error proxy of the planner (default: auto)")
    parser.add_argument("--n-clusters", type=int, default=10,
                        help="clusters of the sensitivity bicriteria solution (default: 10)")
    parser.add_argument("--label-column",
                        help="CSV column name or index (CSV/.npy) holding class labels")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``qcoreset`` command."""
    from .constructors import CONSTRUCTORS
    from .planner import PROXIES
    from .quantizers import QUANTIZERS

    parser = _Parser(
        prog=PROG,
        description="Quantized coresets that fit a bit budget.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    red = sub.add_parser(
        "reduce",
        help="reduce a dataset to a quantized coreset payload (.qcs) within a bit budget",
        description="Build a weighted coreset, quantize it and write a .qcs payload of at "
        "most BUDGET bits.",
    )
    red.add_argument(
        "input",
        metavar="INPUT",
        help="data: FILE.npy, FILE.npz (arrays X, optional y and sample_weight), FILE.csv, "
        "or builtin:NAME "
        "(digits, breast_cancer, iris, wine, fashion-mnist)",
    )
    red.add_argument(
        "--budget", "-b", required=True,
        help="bit budget: bits (8e6), a size (100kB, 1MiB) or a percentage of the "
        "float32 size (1%%)",
    )
    red.add_argument("-o", "--output", help="output file (default: NAME.qcs here)")
    _add_reduction_options(red, CONSTRUCTORS, QUANTIZERS, PROXIES)
    red.add_argument("--bits", type=_auto_or_int("bits"), default="auto",
                     help="bits per value, or 'auto' for the planner's choice; mantissa bits "
                     "for 'float'; ignored by 'none' (default: auto)")
    red.add_argument("--size", type=_auto_or_int("size"), default="auto",
                     help="coreset rows, or 'auto' for the most that fit (default: auto)")
    red.add_argument("--holdout", type=_fraction, metavar="FRACTION",
                     help="reduce only the rows that 'evaluate --holdout FRACTION' trains on "
                     "(a seeded split), so that classification scores use rows the coreset "
                     "never saw; for INPUT without its own test split")
    red.set_defaults(func=_cmd_reduce)

    pl = sub.add_parser(
        "plan",
        help="show the planner's table: the largest coreset and predicted error per bit depth",
        description="For every candidate bit depth, the largest coreset that fits the budget "
        "and its predicted error bound (coreset proxy + quantization bound); marks the choice.",
    )
    pl.add_argument("input", metavar="INPUT", help="data, as for 'reduce'")
    pl.add_argument("--budget", "-b", required=True, help="bit budget, as for 'reduce'")
    pl.add_argument("--task", help="target task (kmeans, pca, svm, logreg, mlp): labels are "
                    "planned for only when the task needs them")
    _add_reduction_options(pl, CONSTRUCTORS, QUANTIZERS, PROXIES)
    pl.set_defaults(func=_cmd_plan)

    ev = sub.add_parser(
        "evaluate",
        help="train a task's model on a .qcs coreset and on all the data, and compare them",
        description="Fit the task's model on the decoded coreset (with its weights) and on all "
        "of INPUT, score both on the full data (costs) or on the test split (accuracies), and "
        "report the normalized cost or the accuracy degradation.",
    )
    ev.add_argument("input", metavar="INPUT", help="the data the coreset was built from")
    ev.add_argument("coreset", metavar="CORESET", help="a .qcs payload")
    ev.add_argument("--task", required=True, help="kmeans, pca, svm, logreg or mlp")
    ev.add_argument("--backend", default="digital",
                    help="digital, or analog[:PRESET][@T] such as analog:hwa_standard@1d "
                    "(default: digital)")
    ev.add_argument("--hwa", nargs="?", const=True, default=None, metavar="PRESET@T",
                    help="train svm/logreg/mlp hardware-aware: noise injection for the analog "
                    "PRESET at time T, e.g. hwa_standard@1d (without a value: the preset and "
                    "time of an analog --backend)")
    ev.add_argument("--holdout", type=_fraction, default=0.2, metavar="FRACTION",
                    help="share of INPUT held out for classification scores when INPUT has no "
                    "test split of its own (default: 0.2; reduce with the same --holdout)")
    ev.add_argument("--label-column", help="CSV column name or index holding class labels")
    ev.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.set_defaults(func=_cmd_evaluate)

    dm = sub.add_parser(
        "demo",
        help="reduce a dataset, train five tasks on the coreset and on all the data, "
        "evaluate them digitally and on the analog backend, and write a report",
        description="The whole pipeline on one dataset: plan, reduce, train kmeans, pca, svm, "
        "logreg and mlp on the coreset and on all the training rows, score them digitally and "
        "on the simulated analog chip (hwa_standard 1 h and 1 d after programming, hermes), "
        "print a summary table and write report.json, report.md and PNG plots (with "
        "matplotlib) to --out. Progress goes to stderr.",
    )
    dm.add_argument("--data", default="builtin:digits",
                    help="input, as for 'reduce' (default: builtin:digits)")
    dm.add_argument("--budget", "-b", default="2.5%",
                    help="bit budget of the payload, as for 'reduce'; a percentage is of the "
                    "training rows' float32 size (default: 2.5%%)")
    dm.add_argument("--out", "-o", default="qcoreset-report",
                    help="report folder (default: ./qcoreset-report)")
    dm.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    dm.add_argument("--quick", action="store_true",
                    help="fewer budgets, seeds and times after programming (a smoke test)")
    dm.add_argument("--no-plots", action="store_true", help="do not draw the PNG plots")
    dm.add_argument("--threads", type=int, default=1,
                    help="BLAS/OpenMP threads while the demo runs (default: 1, the fastest "
                    "for small data on a shared machine)")
    dm.add_argument("--json", action="store_true",
                    help="print the summary as one JSON object")
    dm.set_defaults(func=_cmd_demo)

    ins = sub.add_parser(
        "inspect",
        help="show the header of a .qcs payload and check its CRC",
        description="Print the header fields of a .qcs payload and whether its CRC32 matches.",
    )
    ins.add_argument("file", metavar="FILE", help="a .qcs payload")
    ins.add_argument("--json", action="store_true", help="print one JSON object")
    ins.set_defaults(func=_cmd_inspect)
    return parser


def _label_column(text):
    if text is None:
        return None
    try:
        return int(text)
    except ValueError:
        return text


def _cmd_reduce(args) -> int:
    from .budget import format_bits, raw_bits
    from .datasets import load_input
    from .estimator import QuantizedCoreset
    from .payload import write_atomic

    t0 = time.perf_counter()
    ds = load_input(args.input, label_column=_label_column(args.label_column))
    out = args.output or f"{ds.name}.qcs"
    folder = os.path.dirname(os.path.abspath(out))
    if not os.path.isdir(folder):
        raise InputError(f"cannot write {out}: folder {folder} does not exist; create it first")
    if os.path.isdir(out):
        raise InputError(f"cannot write {out}: it is a folder; give a file name with -o")
    qc = QuantizedCoreset(
        budget=args.budget, method=args.method, quantizer=args.quantizer, bits=args.bits,
        size=args.size, proxy=args.proxy, n_clusters=args.n_clusters, random_state=args.seed,
    )
    X, y, u = ds.X, ds.y, ds.sample_weight
    if args.holdout is not None:
        if ds.X_test is not None:
            raise InputError(f"{args.input} has its own test split; reduce it without --holdout")
        rows = _holdout_rows(ds, args.holdout)[0]
        X, y, u = X[rows], None if y is None else y[rows], None if u is None else u[rows]
    qc.fit(X, y, sample_weight=u)
    try:
        write_atomic(out, qc.to_bytes())
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror or exc}") from None
    seconds = time.perf_counter() - t0
    n, d = X.shape
    raw = raw_bits(n, d)
    result = {
        "input": args.input,
        "output": out,
        "n_points": n,
        "n_features": d,
        "n_classes": 0 if qc.coreset_labels_ is None else int(qc.header_["n_classes"]),
        "coreset_size": int(qc.size_),
        "bits_per_value": int(qc.bits_),
        "payload_bits": int(qc.payload_bits_),
        "budget_bits": int(qc.budget_bits_),
        "raw_bits": int(raw),
        "reduction": float(qc.reduction_),
        "method": qc.method_,
        "quantizer": qc.quantizer_.name,
        "error_bound": float(qc.error_bound_),
        "cs_error": float(qc.cs_error_),
        "quantization_error": float(qc.quantization_error_),
        "error_kind": qc.error_kind_,
        "sent_all": bool(qc.sent_all_),
        "seed": args.seed,
        "holdout": args.holdout,
        "seconds": seconds,
    }
    if args.json:
        print(json.dumps(result))
        return 0
    labels = f", labels of {result['n_classes']} classes" if result["n_classes"] else ""
    held = f" (after holding out {100 * args.holdout:g}%)" if args.holdout else ""
    print(f"{ds.name}: {n} x {d}{labels}{held}; budget {format_bits(qc.budget_bits_)}")
    if qc.sent_all_:
        print(f"  the budget holds every row: sent all {n} rows, quantized, with their weights")
    if qc.budget_bits_ >= raw:
        print(f"  note: the budget is at or above the raw float32 size ({format_bits(raw)})")
    print(
        f"  coreset: {qc.size_} rows by {qc.method_}, {qc.bits_} bits per value "
        f"({_quantizer_text(qc.quantizer_)})"
    )
    print(
        f"  payload: {format_bits(qc.payload_bits_)} <= budget; "
        f"reduction {100 * qc.reduction_:.2f}% vs float32"
    )
    print(
        f"  error bound per unit weight: {qc.error_bound_:.4g} "
        f"(coreset {qc.cs_error_:.4g} [{qc.error_kind_}] + quantization "
        f"{qc.quantization_error_:.4g})"
    )
    print(f"  wrote {out} in {seconds:.2f} s")
    return 0


def _quantizer_text(q) -> str:
    """``"fixed quantizer"`` or ``"pca quantizer, 82 coefficients per row"``."""
    rank = getattr(q, "rank_", None)
    return f"{q.name} quantizer" + ("" if rank is None else f", {rank} coefficients per row")


def _task_labels(task_name, ds):
    """Labels to plan or reduce with for a target task (None when the task needs none)."""
    if task_name is None:
        return ds.y
    from .tasks import get_task

    task = get_task(task_name)
    if not task.needs_labels:
        return None
    if ds.y is None:
        raise InputError(
            f"task {task_name!r} needs class labels but {ds.source} has none; "
            "pass --label-column or use kmeans/pca"
        )
    return ds.y


def _cmd_plan(args) -> int:
    from .budget import format_bits
    from .datasets import load_input
    from .planner import plan

    t0 = time.perf_counter()
    ds = load_input(args.input, label_column=_label_column(args.label_column))
    y = _task_labels(args.task, ds)
    p = plan(ds.X, args.budget, y=y, sample_weight=ds.sample_weight, method=args.method,
             quantizer=args.quantizer, proxy=args.proxy, n_clusters=args.n_clusters,
             random_state=args.seed)
    seconds = time.perf_counter() - t0
    result = {"input": args.input, "n_points": int(ds.X.shape[0]),
              "n_features": int(ds.X.shape[1]), "task": args.task, **p.as_dict(),
              "plan_seconds": float(p.seconds), "seconds": seconds}
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{ds.name}: {ds.X.shape[0]} x {ds.X.shape[1]}; budget {format_bits(p.budget_bits)}; "
          f"{p.method} + {args.quantizer} quantizer, proxy {p.proxy}")
    print(f"  {'quantizer':>9} {'bits':>4} {'size':>8} {'payload bits':>13} {'coreset err':>11} "
          f"{'worst quant':>11} {'spread x':>9} {'q shift':>9} {'predicted':>10}")
    for r in p.rows:
        if not r.feasible:
            print(f"  {_row_quantizer(r):>9} {r.bits:>4} {'-':>8} {'does not fit':>13}")
            continue
        mark = "  <- chosen" if r.chosen else ""
        if r.pruned:
            spread, shift, pred = "-", "-", f">={r.predicted_error:.4g}"
        else:
            spread, shift = f"{r.spread_ratio:.4g}", f"{r.quantization_bias:.3g}"
            pred = f"{r.predicted_error:.4g}"
        print(f"  {_row_quantizer(r):>9} {r.bits:>4} {r.size:>8} {r.payload_bits:>13} "
              f"{r.cs_error:>11.4g} "
              f"{r.quantization_error:>11.4g} {spread:>9} {shift:>9} {pred:>10}{mark}")
    print("  predicted = sqrt(coreset err^2 * spread x + q shift^2); worst-case bound = "
          "coreset err + worst quant;\n  '>=' marks depths skipped because a floor of their "
          "prediction already exceeds the choice")
    print(f"  planned in {p.seconds:.3f} s")
    return 0


def _row_quantizer(row) -> str:
    """A plan row's quantizer, with the rank of a projection: ``fixed`` or ``pca/82``."""
    return row.quantizer if row.rank is None else f"{row.quantizer}/{row.rank}"


def _read_bytes(path: str) -> bytes:
    """The bytes of ``path``; an unreadable file is a one-line InputError."""
    try:
        with open(path, "rb") as fh:
            return fh.read()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror or exc}") from None


def _holdout_rows(ds, fraction: float):
    """(train rows, test rows) of INPUT: a seeded split, stratified when every class has 2+."""
    from sklearn.model_selection import train_test_split

    strat = None
    if ds.y is not None:
        _, counts = np.unique(ds.y, return_counts=True)
        strat = ds.y if counts.min() >= 2 else None
    try:
        return train_test_split(np.arange(ds.X.shape[0]), test_size=fraction, random_state=0,
                                stratify=strat)
    except ValueError as exc:
        raise InputError(f"cannot hold out {fraction:g} of {ds.name}: {exc}") from None


def _holdout(ds, fraction: float = 0.2):
    """(X_train, y_train, X_test, y_test, how): the dataset's own test split, or a held-out part."""
    if ds.X_test is not None:
        return ds.X, ds.y, ds.X_test, ds.y_test, "dataset test split"
    if ds.y is None:
        return ds.X, None, None, None, "none"
    tr, te = _holdout_rows(ds, fraction)
    return (ds.X[tr], ds.y[tr], ds.X[te], ds.y[te],
            f"{100 * fraction:g}% held out of INPUT (seed 0)")


def _fraction(text):
    """argparse type: a fraction strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"invalid fraction {text!r}: use a number in (0, 1)")
    return value


def _backend(spec: str):
    if spec == "digital":
        from .tasks import DigitalBackend

        return DigitalBackend()
    if spec.split(":")[0].split("@")[0] != "analog":
        raise InputError(f"unknown backend {spec!r}; use digital or analog[:PRESET][@T]")
    from .analog import parse_backend

    return parse_backend(spec)


def _hwa_target(args, task, backend) -> str | None:
    """The ``hwa`` task parameter from ``--hwa`` (None when not given)."""
    if args.hwa is None:
        return None
    if "hwa" not in task.params:
        raise InputError(
            f"--hwa applies to the trained classifiers (svm, logreg, mlp), not to task "
            f"{args.task!r}; drop --hwa"
        )
    if args.hwa is not True:
        return args.hwa
    name = getattr(backend, "name", "digital")
    if not name.startswith("analog:"):
        raise InputError(
            "--hwa without a value takes the preset and time of an analog --backend; give "
            "them, e.g. --hwa hwa_standard@1d, or use --backend analog:PRESET@T"
        )
    return name[len("analog:"):]


def _cmd_evaluate(args) -> int:
    from .datasets import load_input
    from .payload import decode_payload
    from .tasks import evaluate_task, get_task

    t0 = time.perf_counter()
    task = get_task(args.task)
    backend = _backend(args.backend)
    hwa = _hwa_target(args, task, backend)
    if hwa is not None:
        task = get_task(args.task, hwa=hwa)
    ds = load_input(args.input, label_column=_label_column(args.label_column))
    dec = decode_payload(_read_bytes(args.coreset))
    d_core, d_data = dec.header["n_features"], ds.X.shape[1]
    if d_core != d_data:
        raise InputError(
            f"the coreset has {d_core} features but {args.input} has {d_data}; evaluate a "
            "coreset against the data it was built from"
        )
    if task.needs_labels:
        if ds.y is None:
            raise InputError(
                f"task {args.task!r} needs class labels but {args.input} has none; pass "
                "--label-column or use kmeans/pca"
            )
        if dec.labels is None:
            raise InputError(
                f"task {args.task!r} needs class labels but {args.coreset} carries none; "
                "reduce labelled data (builtin datasets, --label-column, or y in .npz)"
            )
        Xtr, ytr, Xte, yte, how = _holdout(ds, args.holdout)
    else:
        Xtr, ytr, Xte, yte, how = ds.X, None, None, None, "full data"
    saw_test = (task.needs_labels and ds.X_test is None
                and int(dec.header["n_total"]) == ds.X.shape[0])
    if saw_test:
        print(f"{PROG}: warning: {args.coreset} was reduced from all {ds.X.shape[0]} rows of "
              f"{args.input}, including the held-out rows it is scored on; reduce with "
              f"--holdout {args.holdout:g} for an unbiased score", file=sys.stderr)
    labels = dec.labels
    if labels is not None and ds.y is not None:
        labels = labels.astype(ds.y.dtype, copy=False)
    res = evaluate_task(task, (dec.points.astype(ds.X.dtype), labels, dec.weights),
                        Xtr, ytr, Xte, yte, backend=backend, random_state=args.seed)
    result = {
        "task": res.task,
        "metric": res.metric,
        "full_value": res.full_value,
        "coreset_value": res.coreset_value,
        ("normalized_cost" if res.kind == "cost" else "degradation"):
            res.normalized_cost if res.kind == "cost" else res.degradation,
        "backend": getattr(backend, "name", args.backend),
        "hwa": task.params.get("hwa"),
        "scored_on": how,
        "coreset_saw_test_rows": bool(saw_test),
        "coreset_size": int(dec.header["coreset_size"]),
        "payload_bits": int(dec.header["payload_bits"]),
        **{k: v for k, v in res.extras.items() if isinstance(v, (int, float, str, bool))},
    }
    stats = getattr(backend, "stats", {}) or {}
    for key in ("energy_j", "latency_s"):
        if key in stats:
            result[key] = float(stats[key])
    result["seconds"] = time.perf_counter() - t0
    if args.json:
        print(json.dumps(result))
        return 0
    name = "normalized cost" if res.kind == "cost" else "degradation"
    value = result.get("normalized_cost", result.get("degradation"))
    print(f"{res.task} on {ds.name} ({result['backend']}; scored on {how}):")
    if result["hwa"] is not None:
        print(f"  both models trained hardware-aware for {result['hwa']}")
    print(f"  {res.metric}: all data {res.full_value:.6g}, coreset {res.coreset_value:.6g}; "
          f"{name} {value:.4f}")
    for key in ("energy_j", "latency_s"):
        if key in result:
            print(f"  {key}: {result[key]:.4g}")
    print(f"  in {result['seconds']:.2f} s")
    return 0


def _cmd_demo(args) -> int:
    from .demo import run_cli

    return run_cli(args)


def _cmd_inspect(args) -> int:
    from .payload import read_header

    data = _read_bytes(args.file)
    header = read_header(data)
    header = {"file": args.file, **header}
    if args.json:
        print(json.dumps(header))
    else:
        for key, value in header.items():
            if key == "classes" and value is not None and len(value) > 20:
                value = f"{value[:20]} ... ({len(value)} classes)"
            print(f"{key:>20}: {value}")
    if not header["crc_ok"] or not header["size_ok"]:
        what = "CRC32 mismatch" if not header["crc_ok"] else "length does not match the header"
        print(f"{PROG} inspect: error: {args.file}: {what}: the file is corrupted or truncated; "
              "re-create or re-send it", file=sys.stderr)
        return 2
    return 0


def main(argv=None) -> int:
    """Run the command line; returns the exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except QCoresetError as exc:
        print(f"{PROG} {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # output piped into e.g. head, which stopped reading
        sys.stderr.close()
        return 0
    except MemoryError:
        print(f"{PROG} {args.command}: error: out of memory; use a smaller input or budget",
              file=sys.stderr)
        return 1


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
