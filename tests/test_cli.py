"""The command line: JSON contracts, exit codes and one-line errors for every bad input."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from qcoreset.cli import main


def run(*args, cwd=None):
    """Run the CLI in a subprocess (as a user would) and return (code, stdout, stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "qcoreset", *args], capture_output=True, text=True,
        cwd=cwd, timeout=120,
    )
    return proc.returncode, proc.stdout, proc.stderr


def test_reduce_builtin_json_and_inspect(tmp_path):
    out = tmp_path / "d.qcs"
    code, stdout, stderr = run("reduce", "builtin:digits", "--budget", "1%", "-o", str(out),
                               "--json")
    assert code == 0, stderr
    res = json.loads(stdout)
    for key in ["n_points", "n_features", "coreset_size", "bits_per_value", "payload_bits",
                "budget_bits", "reduction", "method", "quantizer", "error_bound", "seconds"]:
        assert key in res
    assert res["n_points"] == 1797 and res["n_features"] == 64
    assert res["payload_bits"] <= res["budget_bits"] == int(0.01 * 32 * 1797 * 64)
    assert res["payload_bits"] == 8 * out.stat().st_size
    assert res["reduction"] == pytest.approx(1 - res["payload_bits"] / (32 * 1797 * 64))
    code, stdout, stderr = run("inspect", str(out), "--json")
    assert code == 0, stderr
    head = json.loads(stdout)
    assert head["crc_ok"] is True
    assert head["coreset_size"] == res["coreset_size"] and head["n_total"] == 1797
    assert res["method"] == head["method"] != "auto"  # the constructor "auto" resolved to


def test_reduce_with_the_pca_quantizer(tmp_path):
    out = tmp_path / "p.qcs"
    code, stdout, stderr = run("reduce", "builtin:digits", "--budget", "2%", "-o", str(out),
                               "--quantizer", "pca", "--json")
    assert code == 0, stderr
    res = json.loads(stdout)
    assert res["quantizer"] == "pca" and res["payload_bits"] <= res["budget_bits"]
    code, stdout, stderr = run("inspect", str(out), "--json")
    assert code == 0, stderr
    head = json.loads(stdout)
    assert head["quantizer"] == "pca" and 1 <= head["rank"] < 64
    assert head["value_bits_per_row"] == head["rank"] * head["bits_per_value"]
    code, stdout, _ = run("plan", "builtin:digits", "--budget", "2%")
    assert code == 0 and "fixed" in stdout and "pca/" in stdout  # auto: both quantizers


def test_reduce_human_output_and_default_name(tmp_path):
    code, stdout, stderr = run("reduce", "builtin:iris", "--budget", "20%", cwd=tmp_path)
    assert code == 0, stderr
    assert (tmp_path / "iris.qcs").exists()
    assert "payload" in stdout and "reduction" in stdout


def test_budget_above_raw_is_legal_and_said(tmp_path, capsys):
    X = np.random.default_rng(0).normal(size=(30, 2))
    np.save(tmp_path / "x.npy", X)
    assert main(["reduce", str(tmp_path / "x.npy"), "--budget", "150%",
                 "-o", str(tmp_path / "x.qcs")]) == 0
    out = capsys.readouterr().out
    assert "sent all 30 rows" in out and "raw float32 size" in out


def _bad_inputs(tmp_path):
    good = tmp_path / "good.npy"
    np.save(good, np.random.default_rng(0).normal(size=(50, 3)))
    nan = tmp_path / "nan.npy"
    np.save(nan, np.array([[1.0, np.nan], [2.0, 3.0]]))
    one_d = tmp_path / "one.npy"
    np.save(one_d, np.arange(5.0))
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    text = tmp_path / "text.csv"
    text.write_text("a,b\n1,2\n3,x\n")
    labelled = tmp_path / "lab.csv"
    labelled.write_text("a,b,c\n1,2,0\n3,4,1\n5,6,1\n")
    qcs = tmp_path / "ok.qcs"
    assert main(["reduce", str(good), "--budget", "50%", "-o", str(qcs)]) == 0
    data = qcs.read_bytes()
    trunc = tmp_path / "trunc.qcs"
    trunc.write_bytes(data[:-7])
    corrupt = tmp_path / "corrupt.qcs"
    bad = bytearray(data)
    bad[len(bad) // 2] ^= 4
    corrupt.write_bytes(bytes(bad))
    foreign = tmp_path / "foreign.qcs"
    foreign.write_bytes(good.read_bytes())
    g = str(good)
    return [
        ("nan", ["reduce", str(nan), "--budget", "50%"], "NaN"),
        ("1d", ["reduce", str(one_d), "--budget", "50%"], "2-D"),
        ("empty-csv", ["reduce", str(empty), "--budget", "50%"], "empty"),
        ("text-csv", ["reduce", str(text), "--budget", "50%"], "not a number"),
        ("no-label-col", ["reduce", str(labelled), "--budget", "50%", "--label-column", "zz"],
         "zz"),
        ("tiny-budget", ["reduce", g, "--budget", "64"], "raise --budget"),
        ("bad-budget", ["reduce", g, "--budget", "-3"], "budget"),
        ("bad-unit", ["reduce", g, "--budget", "5 parsecs"], "unit"),
        ("size-range", ["reduce", g, "--budget", "50%", "--size", "999"], "size"),
        ("size-zero", ["reduce", g, "--budget", "50%", "--size", "0"], "size"),
        ("bits-range", ["reduce", g, "--budget", "50%", "--bits", "0"], "bits"),
        ("missing-file", ["reduce", str(tmp_path / "nope.npy"), "--budget", "1%"], "nope.npy"),
        ("unknown-builtin", ["reduce", "builtin:mnist9", "--budget", "1%"], "mnist9"),
        ("bad-method", ["reduce", g, "--budget", "1%", "--method", "magic"], "magic"),
        ("no-budget", ["reduce", g], "budget"),
        ("out-dir-missing", ["reduce", g, "--budget", "50%", "-o",
                             str(tmp_path / "no" / "x.qcs")], "does not exist"),
        ("truncated", ["inspect", str(trunc)], "truncated"),
        ("corrupted", ["inspect", str(corrupt)], "corrupted"),
        ("foreign", ["inspect", str(foreign)], "not a qcoreset payload"),
        ("missing-qcs", ["inspect", str(tmp_path / "none.qcs")], "none.qcs"),
    ]


def test_every_bad_input_exits_2_with_one_line(tmp_path):
    for name, args, needle in _bad_inputs(tmp_path):
        before = set(os.listdir(tmp_path))
        code, stdout, stderr = run(*args, cwd=tmp_path)
        lines = stderr.strip().splitlines()
        assert code == 2, (name, stderr)
        assert len(lines) == 1, (name, stderr)
        assert "Traceback" not in stderr
        assert needle.lower() in lines[0].lower(), (name, lines[0])
        assert set(os.listdir(tmp_path)) == before, name  # nothing half-written


def test_missing_fashion_mnist_gives_install_hint(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("QCORESET_FASHION_MNIST_DIR", str(tmp_path))
    assert main(["reduce", "builtin:fashion-mnist", "--budget", "1%"]) == 2
    err = capsys.readouterr().err
    assert "apt-get install -y dataset-fashion-mnist" in err


@pytest.mark.parametrize(
    ("weights", "needle"),
    [([1.0, -1.0, 1.0], "non-negative"), ([1.0, np.nan, 1.0], "NaN"), ([1.0, 1.0], "one weight")],
    ids=["negative", "nan", "length"],
)
def test_bad_sample_weight_in_npz(tmp_path, capsys, weights, needle):
    path = tmp_path / "w.npz"
    np.savez(path, X=np.arange(6.0).reshape(3, 2), sample_weight=np.array(weights))
    assert main(["reduce", str(path), "--budget", "100%", "-o", str(tmp_path / "w.qcs")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and needle in err[0]
    assert not (tmp_path / "w.qcs").exists()


def test_sample_weight_from_npz_is_used(tmp_path, capsys):
    path = tmp_path / "w.npz"
    rng = np.random.default_rng(0)
    np.savez(path, X=rng.normal(size=(100, 2)), sample_weight=rng.integers(1, 5, 100))
    out = tmp_path / "w.qcs"
    assert main(["reduce", str(path), "--budget", "50%", "--method", "rcc", "-o", str(out),
                 "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    from qcoreset import decode_payload

    dec = decode_payload(out.read_bytes())
    total = float(np.load(path)["sample_weight"].sum())
    assert dec.weights.sum() == pytest.approx(total) and res["coreset_size"] == len(dec.weights)


def test_plan_json_rows(tmp_path):
    code, stdout, stderr = run("plan", "builtin:digits", "--budget", "2%", "--json")
    assert code == 0, stderr
    res = json.loads(stdout)
    rows = [r for r in res["rows"] if r["feasible"]]
    assert sum(r["chosen"] for r in res["rows"]) == 1
    assert all(r["payload_bits"] <= res["budget_bits"] for r in rows)
    chosen = next(r for r in rows if r["chosen"])
    assert chosen["predicted_error"] == min(r["predicted_error"] for r in rows)
    for key in ("bits", "size", "payload_bits", "predicted_error", "chosen"):
        assert key in chosen


def test_evaluate_json(tmp_path):
    out = tmp_path / "d.qcs"
    assert main(["reduce", "builtin:digits", "--budget", "5%", "-o", str(out)]) == 0
    for task, key in [("kmeans", "normalized_cost"), ("logreg", "degradation")]:
        code, stdout, stderr = run("evaluate", "builtin:digits", str(out), "--task", task,
                                   "--json")
        assert code == 0, stderr
        res = json.loads(stdout)
        for k in ("task", "metric", "full_value", "coreset_value", key, "seconds"):
            assert k in res
        if key == "normalized_cost":
            assert res[key] >= 0.99
        else:
            assert -1 <= res[key] <= 1


def test_evaluate_bad_inputs(tmp_path):
    X = np.random.default_rng(0).normal(size=(200, 3))
    np.save(tmp_path / "x.npy", X)
    np.save(tmp_path / "x4.npy", np.hstack([X, X[:, :1]]))
    qcs = tmp_path / "x.qcs"
    assert main(["reduce", str(tmp_path / "x.npy"), "--budget", "20%", "-o", str(qcs)]) == 0
    cases = [
        (["evaluate", str(tmp_path / "x.npy"), str(qcs), "--task", "nope"], "unknown task"),
        (["evaluate", str(tmp_path / "x.npy"), str(qcs), "--task", "svm"], "labels"),
        (["evaluate", str(tmp_path / "x4.npy"), str(qcs), "--task", "kmeans"], "features"),
        (["evaluate", str(tmp_path / "x.npy"), str(qcs), "--task", "kmeans", "--backend",
          "analog:nope"], "nope"),
        (["evaluate", str(tmp_path / "x.npy"), str(qcs), "--task", "kmeans", "--backend",
          "analog@-5s"], "time"),
        (["plan", str(tmp_path / "x.npy"), "--budget", "20%", "--task", "logreg"], "labels"),
    ]
    for args, needle in cases:
        code, stdout, stderr = run(*args)
        lines = stderr.strip().splitlines()
        assert code == 2, (args, stderr)
        assert len(lines) == 1 and needle in lines[0].lower(), (args, stderr)


def test_holdout_keeps_test_rows_out_of_the_coreset(tmp_path, capsys):
    held = tmp_path / "held.qcs"
    seen = tmp_path / "seen.qcs"
    assert main(["reduce", "builtin:breast_cancer", "--budget", "5%", "--holdout", "0.25",
                 "-o", str(held), "--json"]) == 0
    res = json.loads(capsys.readouterr().out)
    n_train = 569 - int(np.ceil(0.25 * 569))
    assert res["n_points"] == n_train and res["holdout"] == 0.25
    assert res["payload_bits"] <= res["budget_bits"] == int(0.05 * 32 * n_train * 30)
    assert main(["reduce", "builtin:breast_cancer", "--budget", "5%", "-o", str(seen)]) == 0
    capsys.readouterr()
    assert main(["evaluate", "builtin:breast_cancer", str(held), "--task", "logreg",
                 "--holdout", "0.25", "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["coreset_saw_test_rows"] is False and out.err == ""
    assert main(["evaluate", "builtin:breast_cancer", str(seen), "--task", "logreg",
                 "--json"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["coreset_saw_test_rows"] is True
    assert "--holdout 0.2" in out.err and len(out.err.strip().splitlines()) == 1


@pytest.mark.parametrize(("value", "needle"), [("1.5", "invalid fraction"),
                                             ("x", "invalid fraction"),
                                             ("0.2", "own test split")])
def test_bad_holdout(tmp_path, value, needle):
    rng = np.random.default_rng(0)
    data = tmp_path / "split.npz"
    np.savez(data, X=rng.normal(size=(300, 3)), y=rng.integers(0, 2, 300),
             X_test=rng.normal(size=(50, 3)), y_test=rng.integers(0, 2, 50))
    out = tmp_path / "o.qcs"
    code, _, err = run("reduce", str(data), "--holdout", value, "--budget", "20%", "-o",
                       str(out))
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
    assert not out.exists()
