"""The .qcs codec: predicted size is the real size, round trips are exact, damage is caught."""

import os

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from qcoreset._errors import BudgetError, PayloadError
from qcoreset.payload import (
    choose_weight_encoding,
    decode_payload,
    encode_payload,
    payload_nbytes,
    read_header,
    write_atomic,
)
from qcoreset.quantizers import get_quantizer


def _payload(rng, name="fixed", bits=5, m=12, d=4, labels=True, weights="real"):
    X = rng.normal(size=(200, d))
    X[:, 0] = 2.0
    q = get_quantizer(name, bits).fit(X)
    w = {"real": rng.random(m) * 10, "counts": rng.integers(1, 500, m).astype(float),
         "constant": np.full(m, 16.5)}[weights]
    y = rng.choice(np.array(["cat", "dog", "eel"]), m) if labels else None
    data = encode_payload(X[:m], w, q, labels=y, n_total=200, total_weight=200.0,
                          method="uniform", source_dtype=X.dtype)
    return X[:m], w, y, q, data


@settings(max_examples=80, deadline=None)
@given(
    name=st.sampled_from(["fixed", "stochastic", "float", "none"]),
    bits=st.integers(1, 20),
    m=st.integers(0, 30),
    d=st.integers(1, 7),
    labels=st.booleans(),
    weights=st.sampled_from(["real", "counts", "constant"]),
    seed=st.integers(0, 2**32 - 1),
)
def test_round_trip_and_predicted_size(name, bits, m, d, labels, weights, seed):
    rng = np.random.default_rng(seed)
    P, w, y, q, data = _payload(rng, name, bits, m, d, labels, weights)
    classes = None if y is None else sorted(set(y.tolist()))
    codes = None if y is None else np.searchsorted(classes, y)
    enc, wbits = choose_weight_encoding(w, codes, 0 if y is None else len(classes))
    assert len(data) == payload_nbytes(d=d, m=m, quantizer=q, weight_encoding=enc,
                                       weight_bits=wbits, classes=classes, method="uniform")
    dec = decode_payload(data)
    order = np.arange(m) if y is None else np.argsort(codes, kind="stable")
    if name != "stochastic":
        assert np.array_equal(dec.points, q.transform(P[order]) if m else dec.points)
    expect_w = w[order] if enc != "float32" else w[order].astype(np.float32).astype(np.float64)
    assert np.array_equal(dec.weights, expect_w)
    if y is not None and m:
        assert dec.labels.tolist() == y[order].tolist()
    h = read_header(data)
    assert h["crc_ok"] and h["size_ok"]
    assert h["coreset_size"] == m and h["n_features"] == d and h["n_total"] == 200


def test_every_single_bit_flip_is_detected(rng):
    *_, data = _payload(rng, m=6, d=3)
    assert len(data) < 400
    for i in range(len(data) * 8):
        bad = bytearray(data)
        bad[i // 8] ^= 1 << (i % 8)
        with pytest.raises(PayloadError):
            decode_payload(bytes(bad))


def test_every_truncation_is_detected(rng):
    *_, data = _payload(rng, m=6, d=3)
    for cut in range(len(data)):
        with pytest.raises(PayloadError):
            decode_payload(data[:cut])
    with pytest.raises(PayloadError, match="trailing"):
        decode_payload(data + b"\0")


def test_foreign_files_are_rejected(tmp_path):
    np.save(tmp_path / "a.npy", np.ones((3, 3)))
    npy = (tmp_path / "a.npy").read_bytes()
    for blob in [b"", b"hello world", npy, b"\x89QCS\x07" + b"0" * 90]:
        with pytest.raises(PayloadError):
            decode_payload(blob)
        with pytest.raises(PayloadError):
            read_header(blob)


def test_read_header_reports_bad_crc(rng):
    *_, data = _payload(rng)
    bad = bytearray(data)
    bad[-6] ^= 0x10
    h = read_header(bytes(bad))
    assert not h["crc_ok"]


def test_budget_is_enforced(rng):
    X = rng.normal(size=(50, 3))
    q = get_quantizer("fixed", 8).fit(X)
    data = encode_payload(X, np.ones(50), q, n_total=50, total_weight=50.0)
    encode_payload(X, np.ones(50), q, n_total=50, total_weight=50.0, budget_bits=8 * len(data))
    with pytest.raises(BudgetError):
        encode_payload(X, np.ones(50), q, n_total=50, total_weight=50.0,
                       budget_bits=8 * len(data) - 1)


def test_labels_cost_no_bits_per_row(rng):
    X = rng.normal(size=(100, 3))
    q = get_quantizer("fixed", 4).fit(X)
    y = rng.integers(0, 3, 100)
    a = encode_payload(X, np.ones(100), q, n_total=100, total_weight=100.0)
    b = encode_payload(X, np.ones(100), q, labels=y, n_total=100, total_weight=100.0)
    # class table "[0, 1, 2]" + three u32 counts + two more per-class constant weights
    assert len(b) - len(a) == len("[0, 1, 2]") + 3 * 4 + 2 * 8


def test_write_atomic_leaves_nothing_on_failure(tmp_path, monkeypatch):
    target = tmp_path / "out.qcs"
    target.write_bytes(b"old")

    def boom(*a, **k):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", boom)
    with pytest.raises(OSError):
        write_atomic(target, b"new data")
    assert target.read_bytes() == b"old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out.qcs"]
    monkeypatch.undo()
    write_atomic(target, b"new data")
    assert target.read_bytes() == b"new data"
