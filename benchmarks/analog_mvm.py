"""Crossbar simulator benchmark: speed, MVM error over time, programming algorithms.

Four tables, all on 256 x 256 weights uniform in [-1, 1] (max |W| = 1):

1. **Faithfulness**: relative MVM error ``||Y - X W^T||_F / ||X W^T||_F`` on the
   reference setup (1,000 inputs uniform in [-1, 1], 5 seeds) next to the AIHWKit
   1.2.0 C++-tile figures (perfect I/O 0 %, default I/O without output noise 1.67 %,
   default I/O 2.80 %, default I/O + PCM at 1 h 10.07 %).
2. **Throughput**: every preset on 10,000 float32 inputs, timed in the same run as
   the plain float32 ``X @ W.T`` (interleaved repetitions; min and median).
3. **MVM error from 1 s to 1 year** after programming, every preset (3 seeds).
4. **Programming**: one-shot vs program-and-verify vs GDP, right after programming
   and after 1 day, per preset.

Usage::

    python benchmarks/analog_mvm.py            # everything (~1-2 min on 2 cores)
    python benchmarks/analog_mvm.py --quick    # fewer repetitions and seeds
    python benchmarks/analog_mvm.py --parts throughput   # only table 2 (a few seconds)

Writes ``benchmarks/results/analog_mvm_*.csv``, ``analog_mvm.json`` and, when
matplotlib is importable, ``analog_mvm_error_vs_time.png``. With ``--parts`` only the
chosen tables run; their CSVs are written and ``analog_mvm_<parts>.json`` holds the
machine, its load average and the chosen tables.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

from qcoreset.analog import (
    PRESETS,
    AnalogMatrix,
    GDPProgramming,
    OneShotProgramming,
    ProgramAndVerify,
    aihwkit_inference,
    compare_programming,
    get_config,
    relative_error,
)

HERE = Path(__file__).resolve().parent
TIMES = [("1s", 1.0), ("1min", 60.0), ("1h", 3600.0), ("1d", 86400.0), ("1w", 604800.0),
         ("30d", 30 * 86400.0), ("1y", 365 * 86400.0)]


def reference_data(seed: int, n_inputs: int):
    rng = np.random.default_rng(seed)
    W = rng.uniform(-1.0, 1.0, (256, 256))
    W /= np.abs(W).max()
    return W, rng.uniform(-1.0, 1.0, (n_inputs, 256))


def reference_config(**forward):
    cfg = aihwkit_inference()
    mapping = replace(cfg.mapping, max_input_size=256, max_output_size=256,
                      weight_scaling_omega=1.0)
    return replace(cfg, mapping=mapping, forward=replace(cfg.forward, **forward))


def program(W, cfg, seed, X=None, t=None):
    A = AnalogMatrix(W, cfg, seed=seed)
    if cfg.pre_post.input_range.enable and X is not None:
        A.calibrate_input_range(X)
    if t is not None:
        A.drift(t)
    return A


def write_csv(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)


def faithfulness(seeds: int) -> list[dict]:
    io_only = replace(reference_config(), noise_model=None, drift_compensation=None)
    cases = [
        ("perfect I/O", replace(io_only, forward=replace(io_only.forward, is_perfect=True)),
         None, 0.0),
        ("default I/O, no out_noise",
         replace(io_only, forward=replace(io_only.forward, out_noise=0.0)), None, 1.67),
        ("default I/O", io_only, None, 2.80),
        ("default I/O + PCM @ 1 h (global drift comp.)", reference_config(), 3600.0, 10.07),
    ]
    rows = []
    for name, cfg, t, target in cases:
        errs = []
        for s in range(seeds):
            W, X = reference_data(s, 1000)
            errs.append(100 * relative_error(program(W, cfg, 1000 + s, t=t).matmat(X), X @ W.T))
        rows.append({"case": name, "aihwkit_1.2.0_pct": target,
                     "qcoreset_pct": round(float(np.mean(errs)), 3),
                     "std_pct": round(float(np.std(errs)), 3),
                     "diff_pp": round(float(np.mean(errs)) - target, 3)})
    return rows


def throughput(reps: int) -> list[dict]:
    rng = np.random.default_rng(0)
    W = rng.uniform(-1.0, 1.0, (256, 256))
    W /= np.abs(W).max()
    X = rng.uniform(-1.0, 1.0, (10000, 256)).astype(np.float32)
    W32 = W.astype(np.float32)
    io_only = replace(aihwkit_inference(), noise_model=None, drift_compensation=None)
    cases = [(f"{name} @1h", get_config(name), 3600.0) for name in PRESETS]
    # AIHWKit's speed setting (default I/O, no device): almost every vector is re-run once
    cases.insert(1, ("aihwkit_inference I/O only", io_only, None))
    rows = []
    for label, cfg, t in cases:
        A = program(W, cfg, 0, X=X, t=t)
        A.matmat(X[:1000])  # warm-up
        X32 = np.ascontiguousarray(X)
        t_mm, t_an = [], []
        for _ in range(reps):
            t0 = time.perf_counter()
            _ = X32 @ W32.T
            t_mm.append(time.perf_counter() - t0)
            A.reset_stats()
            t0 = time.perf_counter()
            A.matmat(X32)
            t_an.append(time.perf_counter() - t0)
        st = A.stats
        rows.append({
            "setting": label,
            "analog_min_s": round(min(t_an), 4),
            "analog_median_s": round(float(np.median(t_an)), 4),
            "matmul_f32_min_s": round(min(t_mm), 4),
            "matmul_f32_median_s": round(float(np.median(t_mm)), 4),
            "ratio_min": round(min(t_an) / min(t_mm), 2),
            "ratio_median": round(float(np.median(t_an) / np.median(t_mm)), 2),
            "inputs_per_s": round(10000 / float(np.median(t_an))),
            "tile_activations": st.tile_activations,
            "bm_reruns": st.bm_reruns,
            "energy_j": st.energy_j,
            "latency_s": st.latency_s,
        })
    return rows


def error_vs_time(seeds: int) -> list[dict]:
    rows = []
    for name in PRESETS:
        cfg = get_config(name)
        for label, t in [("programmed", None), *TIMES]:
            errs = []
            for s in range(seeds):
                W, X = reference_data(s, 1000)
                A = program(W, cfg, 2000 + s, X=X)
                if t is not None:
                    A.drift(t)
                errs.append(100 * relative_error(A.matmat(X), X @ W.T))
            rows.append({"preset": name, "time": label, "t_seconds": 0.0 if t is None else t,
                         "error_pct": round(float(np.mean(errs)), 3),
                         "std_pct": round(float(np.std(errs)), 3)})
    return rows


def programming(seeds: int) -> list[dict]:
    algorithms = [OneShotProgramming(), ProgramAndVerify(), GDPProgramming()]
    rows = []
    for name in ("aihwkit_inference", "hwa_standard", "hermes"):
        cfg = get_config(name)
        for label, t in [("programmed", None), ("1d", 86400.0)]:
            acc = {a.name: [] for a in algorithms}
            for s in range(seeds):
                W, _ = reference_data(s, 10)
                res = compare_programming(W, cfg, algorithms, t_seconds=t, n_inputs=1000,
                                          seed=3000 + s)
                for k, v in res.items():
                    acc[k].append(100 * v)
            rows.append({"preset": name, "time": label,
                         **{f"{k}_pct": round(float(np.mean(v)), 3) for k, v in acc.items()}})
    return rows


def table(rows: list[dict], title: str) -> None:
    print(f"\n{title}")
    keys = list(rows[0])
    widths = [max(len(k), *(len(str(r[k])) for r in rows)) for k in keys]
    print("  ".join(k.ljust(w) for k, w in zip(keys, widths, strict=True)))
    for r in rows:
        print("  ".join(str(r[k]).ljust(w) for k, w in zip(keys, widths, strict=True)))


def plot(rows: list[dict], path: Path) -> str:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return "matplotlib is not importable: no PNG written (pip install matplotlib)"
    fig, ax = plt.subplots(figsize=(6, 4))
    for name in PRESETS:
        pts = [(r["t_seconds"], r["error_pct"]) for r in rows
               if r["preset"] == name and r["time"] != "programmed"]
        ax.plot(*zip(*pts, strict=True), marker="o", label=name)
    ax.set_xscale("log")
    ax.set_xlabel("time after programming (s)")
    ax.set_ylabel("relative MVM error (%)")
    ax.set_title("256 x 256, W and X uniform in [-1, 1]")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    return f"wrote {path}"


PARTS = ("faithfulness", "throughput", "error_vs_time", "programming")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repetitions and seeds")
    p.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS),
                   help="tables to run (default: all)")
    p.add_argument("--out", type=Path, default=HERE / "results")
    args = p.parse_args(argv)
    reps, seeds = (5, 2) if args.quick else (15, 3)
    args.out.mkdir(parents=True, exist_ok=True)
    machine = {"python": platform.python_version(), "numpy": np.__version__,
               "machine": platform.machine(), "cores": os.cpu_count(),
               "load_average": os.getloadavg() if hasattr(os, "getloadavg") else None}
    print(f"qcoreset.analog benchmark on {machine}")

    t0 = time.perf_counter()
    report: dict = {"machine": machine}
    if "faithfulness" in args.parts:
        faith = faithfulness(5)
        table(faith, "1. Relative MVM error vs AIHWKit 1.2.0 (C++ tile), 256x256, 1,000 "
                     "inputs, 5 seeds")
        write_csv(args.out / "analog_mvm_faithfulness.csv", faith)
        report["faithfulness"] = faith
    if "throughput" in args.parts:
        thr = throughput(reps)
        table(thr, f"2. Throughput on 10,000 float32 inputs (256x256), {reps} interleaved "
                   "repetitions vs plain float32 X @ W.T")
        write_csv(args.out / "analog_mvm_throughput.csv", thr)
        report["throughput"] = thr
    if "error_vs_time" in args.parts:
        err = error_vs_time(seeds)
        pivot = []
        for name in PRESETS:
            row = {"preset": name}
            row.update({r["time"]: r["error_pct"] for r in err if r["preset"] == name})
            pivot.append(row)
        table(pivot, f"3. Relative MVM error (%) from programming to 1 year, 1,000 inputs, "
                     f"{seeds} seeds")
        note = plot(err, args.out / "analog_mvm_error_vs_time.png")
        print(f"\n{note}")
        write_csv(args.out / "analog_mvm_error_vs_time.csv", err)
        report["error_vs_time"] = err
        report["plot"] = note
    if "programming" in args.parts:
        prog = programming(seeds)
        table(prog, f"4. Programming algorithms: relative MVM error (%), {seeds} seeds")
        write_csv(args.out / "analog_mvm_programming.csv", prog)
        report["programming"] = prog
    machine["load_average_after"] = (os.getloadavg() if hasattr(os, "getloadavg")
                                     else None)
    report["seconds"] = time.perf_counter() - t0
    stem = "analog_mvm" if set(args.parts) == set(PARTS) else \
        "analog_mvm_" + "_".join(sorted(args.parts))
    with (args.out / f"{stem}.json").open("w") as fh:
        json.dump(report, fh, indent=1)
    print(f"wrote the CSVs and {stem}.json to {args.out} "
          f"in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
