"""MPI jobs launched with mpiexec from plain pytest (few and small: each launch costs seconds)."""

import json
from pathlib import Path

import numpy as np
import pytest

from qcoreset.distributed.allocation import TIE_TOLERANCE
from qcoreset.payload import decode_payload, read_header

from ._launch import mpi_available, run_mpi

pytestmark = pytest.mark.skipif(not mpi_available(), reason="mpi4py/mpiexec not installed")

HERE = Path(__file__).resolve().parent
MODULE = ("-m", "qcoreset.distributed", "reduce")


def test_api_in_an_mpi_job():
    n = 4
    rc, out, err, _ = run_mpi(n, str(HERE / "mpi_check.py"), timeout=120)
    assert rc == 0, err[-3000:]
    report = json.loads(out.strip().splitlines()[-1])
    assert report["ranks"] == n and report["deterministic"]
    for rule in report["rules"].values():
        assert all(p <= a for p, a in zip(rule["payload_bits"], rule["allocation"], strict=True))
        assert sum(rule["allocation"]) <= rule["available_bits"] < rule["budget_bits"]
    objective = report["objective"]
    assert objective["optimal"] <= min(objective.values()) * (1 + TIE_TOLERANCE + 1e-4)
    assert report["empty_rank"][-1] == 0


def test_api_on_one_rank_in_process():
    from mpi4py import MPI

    from qcoreset.distributed import reduce_distributed

    rng = np.random.default_rng(0)
    X = rng.normal(size=(500, 5))
    res = reduce_distributed(X, budget=20000, comm=MPI.COMM_SELF, random_state=0)
    assert res.payload_bits[0] <= res.allocation[0] <= res.available_bits
    assert 8 * len(res.payload) <= 20000
    assert decode_payload(res.payload).points.shape == res.local.coreset_.shape


def _cli(n, tmp_path, *args, timeout=90):
    return run_mpi(n, *MODULE, *args, timeout=timeout, cwd=tmp_path)


@pytest.fixture
def shards(tmp_path):
    rng = np.random.default_rng(0)
    for r in range(4):
        X = rng.normal(size=(300, 6)).astype(np.float32) + 5 * r
        np.save(tmp_path / f"part-{r}.npy", X)
    return tmp_path


def test_cli_label_skew_reproducible_from_the_seed(tmp_path):
    from qcoreset import QuantizedCoreset
    from qcoreset.distributed import container_overhead_bits, rank_seed, split_rows
    from qcoreset.distributed.container import split_container

    rng = np.random.default_rng(0)
    y = rng.choice(4, size=800, p=[0.55, 0.3, 0.1, 0.05])
    X = rng.normal(size=(800, 5)) + 4.0 * y[:, None]
    X[:30] = X[30]  # duplicated rows
    np.savez(tmp_path / "data.npz", X=X, y=y)
    rc, out, err, _ = _cli(2, tmp_path, "data.npz", "--budget", "4%", "-o", "d.qcs",
                           "--split", "label-skew:0.9", "--task", "logreg", "--seed", "4",
                           "--method", "sensitivity", "--json")
    assert rc == 0, err[-3000:]
    res = json.loads(out)
    assert res["ranks"] == 2 and res["n_points"] == 800
    assert all(p <= a for p, a in zip(res["payload_bits"], res["allocation"], strict=True))
    assert res["total_payload_bits"] == sum(res["payload_bits"]) <= res["available_bits"]
    assert res["file_bits"] == res["total_payload_bits"] + container_overhead_bits(2)
    assert res["file_bits"] <= res["budget_bits"]
    data = (tmp_path / "d.qcs").read_bytes()
    dec = decode_payload(data)
    assert dec.points.shape == (res["coreset_size"], 5) and read_header(data)["crc_ok"]
    # every part is exactly what its rank computes from the seed: a deterministic job
    parts, _, _ = split_container(data)
    for r, rows in enumerate(split_rows(800, 2, "label-skew:0.9", y=y, seed=4)):
        qc = QuantizedCoreset(budget=res["allocation"][r], method="sensitivity", quantizer="fixed",
                              random_state=rank_seed(4, r))
        assert qc.fit(X[rows], y[rows]).to_bytes() == parts[r]
        assert set(np.unique(qc.coreset_labels_)) <= set(np.unique(y[rows]))


def test_cli_streams_a_large_npy_in_process(tmp_path):
    from mpi4py import MPI

    from qcoreset.distributed.cli import main

    rng = np.random.default_rng(0)
    np.save(tmp_path / "big.npy", rng.normal(size=(3000, 6)).astype(np.float32))
    out = tmp_path / "s.qcs"
    argv = ["reduce", str(tmp_path / "big.npy"), "--budget", "3%", "--chunk-rows", "400",
            "--summary-size", "150", "--allocation", "cost", "-o", str(out), "--json"]
    assert main(argv, comm=MPI.COMM_SELF) == 0
    dec = decode_payload(out.read_bytes())
    assert dec.header["n_total"] == 3000 and dec.header["n_parts"] == 1
    assert 8 * out.stat().st_size <= int(0.03 * 32 * 3000 * 6)


def _assert_fails(rc, err, seconds, *needles):
    assert rc != 0
    assert seconds < 30
    for needle in needles:
        assert needle in err, err[-2000:]


def test_faults_missing_bad_and_nan_shards_name_their_ranks(shards):
    bad = np.load(shards / "part-1.npy")
    bad[7, 2] = np.nan
    np.save(shards / "part-1.npy", bad)
    (shards / "part-2.npy").unlink()
    (shards / "part-3.npy").write_bytes(b"not an array")
    rc, out, err, sec = _cli(4, shards, "--shards", "part-{rank}.npy", "--budget", "5%",
                             "-o", "f.qcs")
    _assert_fails(rc, err, sec, "rank 1:", "NaN", "rank 2:", "does not exist", "rank 3:",
                  "not a readable")
    assert "rank 0:" not in err and not (shards / "f.qcs").exists()


def test_fault_shape_mismatch(shards):
    np.save(shards / "part-2.npy", np.ones((50, 5), dtype=np.float32))
    rc, out, err, sec = _cli(4, shards, "--shards", "part-*.npy", "--budget", "5%",
                             "-o", "f.qcs")
    _assert_fails(rc, err, sec, "rank 2:", "5 features", "6")
    assert not (shards / "f.qcs").exists()


def test_fault_budget_below_the_headers(shards):
    rc, out, err, sec = _cli(4, shards, "--shards", "part-*.npy", "--budget", "2000",
                             "-o", "f.qcs")
    _assert_fails(rc, err, sec, "rank 0:", "rank 3:", "raise the budget to at least")
    assert not (shards / "f.qcs").exists()


def test_cli_labelled_default_is_one_fraction_and_deterministic(tmp_path):
    from qcoreset.distributed import reduce_parts, split_rows
    rng = np.random.default_rng(1)
    y = rng.choice(3, size=600, p=[0.6, 0.3, 0.1])
    X = rng.normal(size=(600, 4)) + 3.0 * y[:, None]
    X[:25] = X[25]  # duplicated rows
    np.savez(tmp_path / "data.npz", X=X, y=y)
    args = ("data.npz", "--budget", "6%", "--split", "label-skew:0.9", "--task", "logreg",
            "--seed", "2", "--json")
    rc, out, err, _ = _cli(2, tmp_path, *args, "-o", "a.qcs")
    assert rc == 0, err[-3000:]
    rc, _, err, _ = _cli(2, tmp_path, *args, "-o", "b.qcs")
    assert rc == 0, err[-3000:]
    res = json.loads(out)
    assert res["method"] == "uniform"
    assert all(p <= a for p, a in zip(res["payload_bits"], res["allocation"], strict=True))
    assert sum(res["allocation"]) <= res["available_bits"]
    data = (tmp_path / "a.qcs").read_bytes()
    assert data == (tmp_path / "b.qcs").read_bytes()
    parts = [(X[i], y[i]) for i in split_rows(600, 2, "label-skew:0.9", y=y, seed=2)]
    sim = reduce_parts(parts, budget="6%", random_state=2)
    assert sim.payload == data and sim.allocation.tolist() == res["allocation"]
    t, g = sim.fraction, sim.class_multipliers
    assert res["fraction"] == t
    dec = decode_payload(data)
    for c in range(3):  # one weight per class and rank: rows within one of t g_c n_rc
        n = [int((yp == c).sum()) for _, yp in parts]
        w = np.unique(dec.weights[dec.labels == c])
        assert all(any(abs(k / v - min(1.0, t * g[c]) * k) <= 1 + 1e-6 or k / v == 1
                       for k in n if k) for v in w)
