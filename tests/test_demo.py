"""``qcoreset demo``: the report's fields and their ranges, rendering without matplotlib,
determinism, atomic writing and one-line errors for bad input."""

import contextlib
import io
import json
import math
import os
import subprocess
import sys

import numpy as np
import pytest

from qcoreset import demo, parse_budget
from qcoreset.cli import main
from tests.conftest import hard_blobs

SUMMARY_KEYS = ("dataset", "budget_bits", "payload_bits", "reduction", "coreset_size",
                "bits_per_value", "tasks")
TABLE_KEYS = [f"{p}@{t}" for p, t in demo.TABLE_BACKENDS]


def _run_cli(*argv):
    """Run ``main`` in-process; return (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(list(argv))
    return code, out.getvalue(), err.getvalue()


@pytest.fixture(scope="module")
def digits_run(tmp_path_factory):
    """One quick demo on builtin:digits through the CLI, with matplotlib unimportable."""
    folder = tmp_path_factory.mktemp("demo") / "report"
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sys.modules, "matplotlib", None)
        mp.setitem(sys.modules, "matplotlib.figure", None)
        code, stdout, stderr = _run_cli("demo", "--quick", "--json", "--out", str(folder))
    assert code == 0, stderr
    with open(folder / "report.json", encoding="utf-8") as fh:
        report = json.load(fh)
    return {"folder": folder, "stdout": stdout, "stderr": stderr, "report": report}


def _check_result(kind, res, *, analog):
    assert math.isfinite(res["full_value"]) and math.isfinite(res["coreset_value"])
    if kind == "accuracy":
        assert 0.0 <= res["full_value"] <= 1.0 and 0.0 <= res["coreset_value"] <= 1.0
        assert res["full_value"] > 0
        assert res["degradation"] == pytest.approx(
            (res["full_value"] - res["coreset_value"]) / res["full_value"])
        assert res["degradation"] <= 1.0
    else:
        assert res["full_value"] > 0 and res["coreset_value"] > 0
        assert res["normalized_cost"] == pytest.approx(res["coreset_value"] / res["full_value"])
    if analog:
        assert res["energy_j"] > 0 and math.isfinite(res["energy_j"])
        assert res["latency_s"] > 0 and math.isfinite(res["latency_s"])
    else:
        assert res["energy_j"] is None


def test_json_stdout_is_one_summary_object(digits_run):
    lines = digits_run["stdout"].strip().splitlines()
    assert len(lines) == 1
    summary = json.loads(lines[0])
    assert tuple(summary) == SUMMARY_KEYS
    assert summary == demo.summary(digits_run["report"])
    # progress goes to stderr, one numbered line per step
    for k in range(1, 8):
        assert f"[{k}/7]" in digits_run["stderr"]


def test_report_fields_in_valid_ranges(digits_run):
    r = digits_run["report"]
    n_train = 1797 - math.ceil(0.2 * 1797)
    assert r["dataset"] == "digits" and r["n_train"] == n_train and r["n_test"] == 1797 - n_train
    assert r["raw_bits"] == 32 * n_train * 64
    assert r["budget_bits"] == parse_budget(demo.DEFAULT_BUDGET, n_train, 64)
    assert r["budget_bits"] == int(0.025 * r["raw_bits"])
    assert 0 < r["payload_bits"] <= r["budget_bits"]
    assert r["reduction"] == pytest.approx(1 - r["payload_bits"] / r["raw_bits"])
    assert 0.95 <= r["reduction"] < 1
    assert 1 <= r["coreset_size"] <= n_train
    chosen = [row for row in r["plan"]["rows"] if row["chosen"]]
    assert len(chosen) == 1
    assert (chosen[0]["bits"], chosen[0]["size"]) == (r["bits_per_value"], r["coreset_size"])
    assert all(row["payload_bits"] <= r["budget_bits"] for row in r["plan"]["rows"]
               if row["feasible"])
    assert list(r["tasks"]) == list(demo.TASK_NAMES)
    for name, t in r["tasks"].items():
        assert t["kind"] == ("cost" if name in ("kmeans", "pca") else "accuracy")
        assert t["scored_rows"] == (n_train if t["kind"] == "cost" else 1797 - n_train)
        _check_result(t["kind"], t["digital"], analog=False)
        assert list(t["analog"]) == TABLE_KEYS
        for key, res in t["analog"].items():
            assert res["backend"] == f"analog:{key}"
            _check_result(t["kind"], res, analog=True)
    # coarse quality guards at the default budget (the demo's targets are 1.05 and 5 %)
    assert r["tasks"]["kmeans"]["digital"]["normalized_cost"] < 1.2
    for name in ("svm", "logreg", "mlp"):
        assert r["tasks"][name]["digital"]["degradation"] < 0.1
    # PCA on all the training rows is the best rank-10 fit of those rows: a coreset's
    # PCA cannot beat it when both are scored on them.
    assert r["tasks"]["pca"]["digital"]["normalized_cost"] >= 1 - 1e-9
    # an MLP has more crossbar work per row than a single linear layer
    for key in TABLE_KEYS:
        assert (r["tasks"]["mlp"]["analog"][key]["energy_j"]
                > r["tasks"]["logreg"]["analog"][key]["energy_j"])


def test_budget_curve_respects_budgets(digits_run):
    curve = digits_run["report"]["budget_curve"]
    raw = digits_run["report"]["raw_bits"]
    budgets = {p["budget_bits"] for p in curve["points"]}
    assert digits_run["report"]["budget_bits"] in budgets
    assert {int(f * raw) for f in demo.QUICK_CURVE_FRACTIONS} <= budgets
    for p in curve["points"]:
        assert p["method"] in ("planner", "uniform_float32")
        if p["normalized_cost"] is None:
            assert p["note"]
            continue
        assert p["normalized_cost"] > 0.9
        assert p["payload_bits"] <= p["budget_bits"]
        assert p["bits_per_value"] == 32 if p["method"] == "uniform_float32" else \
            p["bits_per_value"] < 32


def test_report_renders_without_matplotlib(digits_run):
    folder, r = digits_run["folder"], digits_run["report"]
    assert sorted(os.listdir(folder)) == ["report.json", "report.md"]
    assert r["files"] == ["report.md", "report.json"]
    assert "matplotlib is not installed" in r["plots_skipped"]
    md = (folder / "report.md").read_text(encoding="utf-8")
    assert "matplotlib is not installed" in md
    for name in demo.TASK_NAMES:
        assert f"| {name} |" in md
    assert f"{r['payload_bits']:,}-bit payload" in md  # the generated interpretation
    assert "Energy per inference = backend energy for scoring / number of scored rows" in md
    assert not any(n.startswith(".qcoreset-report-") for n in os.listdir(folder.parent))


def test_deterministic_and_same_as_api(digits_run):
    again = json.loads(json.dumps(demo.run_demo(out=None, quick=True, seed=0)))
    first = digits_run["report"]
    again["plan"].pop("seconds"), first["plan"].pop("seconds")
    for key in ("payload_bits", "coreset_size", "bits_per_value", "tasks", "analog_vs_time",
                "budget_curve", "plan"):
        assert again[key] == first[key], key


def test_text_table_and_plots_with_matplotlib(digits_run, tmp_path):
    pytest.importorskip("matplotlib")
    report = json.loads(json.dumps(digits_run["report"]))
    files = demo.write_report(report, tmp_path / "rep", plots=True)
    assert files[:3] == list(demo.PLOT_FILES)
    for f in demo.PLOT_FILES:
        data = (tmp_path / "rep" / f).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "![error_vs_budget.png](error_vs_budget.png)" in md


def test_text_table(digits_run):
    text = demo.format_table(digits_run["report"])
    for name in demo.TASK_NAMES:
        assert any(line.startswith(name + " ") for line in text.splitlines())
    assert "hermes@1d" in text and "reduction" in text


def test_rewrite_removes_stale_plots_and_failed_write_keeps_old(digits_run, tmp_path,
                                                               monkeypatch):
    folder = tmp_path / "rep"
    folder.mkdir()
    (folder / "accuracy_vs_time.png").write_bytes(b"old")
    (folder / "notes.txt").write_text("mine")
    report = json.loads(json.dumps(digits_run["report"]))
    demo.write_report(report, folder, plots=False)
    assert sorted(os.listdir(folder)) == ["notes.txt", "report.json", "report.md"]
    before = (folder / "report.json").read_bytes()

    def broken(report):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(demo, "render_markdown", broken)
    with pytest.raises(demo.InputError, match="No space left"):
        demo.write_report(report, folder, plots=False)
    assert (folder / "report.json").read_bytes() == before
    # no staging folder left behind
    assert sorted(os.listdir(tmp_path)) == ["rep"]
    assert sorted(os.listdir(folder)) == ["notes.txt", "report.json", "report.md"]


def test_unlabelled_input_skips_classifiers(tmp_path, rng):
    X, _ = hard_blobs(rng, n=600, d=6)
    np.save(tmp_path / "blobs.npy", X)
    report = demo.run_demo(str(tmp_path / "blobs.npy"), "10%", out=tmp_path / "rep",
                           quick=True, plots=False, seed=3)
    assert list(report["tasks"]) == ["kmeans", "pca"]
    assert set(report["skipped_tasks"]) == {"svm", "logreg", "mlp"}
    assert report["payload_bits"] <= report["budget_bits"]
    for t in report["tasks"].values():
        _check_result("cost", t["digital"], analog=False)
    md = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    assert "Skipped: svm" in md
    assert json.loads((tmp_path / "rep" / "report.json").read_text())["dataset"] == "blobs"


@pytest.mark.parametrize(
    "argv, message",
    [
        (["--data", "builtin:nope"], "nope"),
        (["--budget", "100"], "budget"),
        (["--budget=-3%"], "budget"),
        (["--seed", "-1"], "seed"),
        (["--threads", "0"], "threads"),
    ],
    ids=["unknown-dataset", "budget-below-header", "negative-budget", "negative-seed",
         "zero-threads"],
)
def test_bad_input_exits_2_without_output(tmp_path, argv, message):
    out = tmp_path / "rep"
    code, stdout, stderr = _run_cli("demo", "--quick", "--out", str(out), *argv)
    assert code == 2
    lines = stderr.strip().splitlines()
    assert lines[-1].startswith("qcoreset demo: error:") and message in lines[-1]
    assert "Traceback" not in stderr and stdout == ""
    assert not out.exists()


def test_unwritable_out_exits_2(tmp_path):
    blocker = tmp_path / "file.txt"
    blocker.write_text("x")
    for out in (blocker, blocker / "rep"):
        code, stdout, stderr = _run_cli("demo", "--quick", "--out", str(out))
        assert code == 2
        assert stderr.count("\n") == 1 and "cannot" in stderr and str(blocker) in stderr
    assert blocker.read_text() == "x"


def test_cli_subprocess_one_line_error(tmp_path):
    proc = subprocess.run(
        [sys.executable, "-m", "qcoreset", "demo", "--data", "missing.npy", "--out",
         str(tmp_path / "rep")], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2
    assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr
    assert not (tmp_path / "rep").exists()


def test_progress_redraws_on_a_terminal():
    class Tty(io.StringIO):
        def isatty(self):
            return True

    stream = Tty()
    p = demo.Progress(stream, n_steps=2)
    p.step("first")
    assert list(p.items(range(3), "work")) == [0, 1, 2]
    p.done("ok")
    text = stream.getvalue()
    assert text.startswith("[1/2] first\n") and "\r" in text and "3/3" in text
    quiet = io.StringIO()
    q = demo.Progress(quiet)
    assert list(q.items("ab", "x")) == ["a", "b"] and quiet.getvalue() == ""
