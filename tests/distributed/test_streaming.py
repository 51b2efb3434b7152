"""Merge-and-reduce (qcoreset.streaming) and chunked .npy reading."""

import numpy as np
import pytest

from qcoreset import InputError
from qcoreset.streaming import StreamingCoreset, iter_npy_chunks, merge_reduce, npy_info


@pytest.fixture(scope="module")
def data():
    rng = np.random.default_rng(0)
    centres = rng.normal(scale=8, size=(6, 4))
    k = rng.choice(6, size=6000, p=[0.5, 0.3, 0.1, 0.05, 0.04, 0.01])  # imbalanced
    X = centres[k] + rng.normal(size=(6000, 4))
    X[:5] += 100.0  # far outliers
    X[100:150] = X[200]  # duplicated rows
    X[:, 3] = 2.0  # constant column
    return X, k


def _stream(X, y=None, *, size, chunk, method="kcenter", seed=0):
    sc = StreamingCoreset(size=size, method=method, random_state=seed)
    for s in range(0, X.shape[0], chunk):
        sc.partial_fit(X[s : s + chunk], None if y is None else y[s : s + chunk])
    return sc


def test_tree_shape_and_memory(data):
    X, _ = data
    sc = _stream(X, size=100, chunk=500)
    assert sc.n_chunks_ == 12 and sc.n_seen_ == 6000
    assert sc.depth_ == int(np.log2(12))
    cs = sc.coreset()
    # binary counter: one coreset per set bit of the chunk count (12 = 0b1100)
    assert len(cs) <= 100 * bin(12).count("1")


@pytest.mark.parametrize("method", ["kcenter", "rcc"])
def test_proven_error_bound_holds_for_lipschitz_costs(data, method):
    X, _ = data
    sc = _stream(X, size=120, chunk=700, method=method)
    cs = sc.coreset()
    assert cs.error_kind == "proven" and sc.error_kind_ == "proven"
    assert cs.weights.sum() == pytest.approx(X.shape[0])  # cell masses are exact
    rng = np.random.default_rng(1)
    for x in rng.normal(scale=10, size=(25, 4)):  # f(p) = ||p - x|| is 1-Lipschitz
        full = np.linalg.norm(X - x, axis=1).sum()
        core = cs.weights @ np.linalg.norm(cs.points - x, axis=1)
        assert abs(full - core) <= cs.cs_error * (1 + 1e-9)


def test_final_reduce_adds_one_step(data):
    X, _ = data
    sc = _stream(X, size=200, chunk=1000)
    union = sc.coreset()
    small = sc.coreset(size=50)
    assert len(small) <= 50 and small.cs_error >= union.cs_error


def test_sampling_errors_add_in_quadrature(data):
    X, _ = data
    sc = _stream(X, size=300, chunk=1500, method="sensitivity", seed=2)
    cs = sc.coreset()
    assert cs.error_kind == "estimate" and cs.cs_error > 0
    assert abs(cs.weights.sum() / X.shape[0] - 1) < 0.1


def test_labels_travel_and_every_class_survives(data):
    X, k = data
    sc = _stream(X, k, size=120, chunk=1000, method="rcc")
    cs = sc.coreset()
    assert set(np.unique(cs.labels)) == set(np.unique(k))
    for c in np.unique(k):  # cluster masses per class are exact for rcc
        assert cs.weights[cs.labels == c].sum() == pytest.approx((k == c).sum())


def test_deterministic_and_functional_form_agree(data):
    X, _ = data
    a = _stream(X, size=150, chunk=800, method="sensitivity", seed=5).coreset()
    b = merge_reduce((X[s : s + 800] for s in range(0, 6000, 800)), 150,
                     method="sensitivity", random_state=5)
    assert np.array_equal(a.points, b.points) and np.array_equal(a.weights, b.weights)


def test_indices_point_at_source_rows(data):
    X, _ = data
    cs = _stream(X, size=100, chunk=600, method="sensitivity").coreset()
    rows = cs.indices[cs.indices >= 0]
    assert rows.size and np.array_equal(cs.points[cs.indices >= 0], X[rows])


def test_stream_rejects_bad_chunks(data):
    X, k = data
    sc = StreamingCoreset(size=10)
    with pytest.raises(InputError, match="empty"):
        sc.coreset()
    sc.partial_fit(X[:100])
    with pytest.raises(InputError, match="columns"):
        sc.partial_fit(X[:100, :3])
    with pytest.raises(InputError, match="labels"):
        sc.partial_fit(X[:100], k[:100])
    bad = X[:100].copy()
    bad[3, 1] = np.nan
    with pytest.raises(InputError, match="NaN"):
        sc.partial_fit(bad)
    sc.partial_fit(X[:0])  # an empty chunk is ignored
    assert sc.n_seen_ == 100


def test_npy_chunks_round_trip(tmp_path, data):
    X, _ = data
    path = tmp_path / "x.npy"
    np.save(path, X.astype(np.float32))
    shape, dtype, offset, fortran = npy_info(path)
    assert shape == X.shape and dtype == np.float32 and not fortran and offset > 0
    chunks = list(iter_npy_chunks(path, 1000, 4321, chunk_rows=700))
    assert [c.shape[0] for c in chunks] == [700] * 4 + [521]
    assert np.array_equal(np.concatenate(chunks), X[1000:4321].astype(np.float32))


def test_npy_chunks_reject_bad_files(tmp_path):
    with pytest.raises(InputError, match="does not exist"):
        list(iter_npy_chunks(tmp_path / "missing.npy"))
    np.save(tmp_path / "f.npy", np.asfortranarray(np.ones((5, 3))))
    with pytest.raises(InputError, match="Fortran"):
        list(iter_npy_chunks(tmp_path / "f.npy"))
    np.save(tmp_path / "v.npy", np.ones(5))
    with pytest.raises(InputError, match="2-D"):
        list(iter_npy_chunks(tmp_path / "v.npy"))
    np.save(tmp_path / "t.npy", np.ones((100, 3)))
    raw = (tmp_path / "t.npy").read_bytes()
    (tmp_path / "t.npy").write_bytes(raw[:-50])
    with pytest.raises(InputError, match="truncated"):
        npy_info(tmp_path / "t.npy")
    (tmp_path / "g.npy").write_bytes(b"garbage")
    with pytest.raises(InputError, match="not a readable"):
        npy_info(tmp_path / "g.npy")
