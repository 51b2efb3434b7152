"""Tests of qcoreset.datasets: reading .npy, .npz, .csv and built-in datasets."""

from __future__ import annotations

import gzip
import pathlib
import struct

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from qcoreset._errors import InputError
from qcoreset.datasets import (
    BUILTINS,
    FASHION_MNIST_ENV,
    Dataset,
    fashion_mnist_dir,
    load_input,
    register_builtin,
)


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


def _write_csv(path: pathlib.Path, rows, header=None) -> pathlib.Path:
    lines = [",".join(header)] if header is not None else []
    lines += [",".join(str(v) for v in row) for row in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


# --------------------------------------------------------------------------- .npy


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("mmap", [True, False], ids=["mmap", "load"])
def test_npy_round_trip(tmp_path, rng, dtype, mmap):
    X = rng.normal(size=(40, 7)).astype(dtype)
    np.save(tmp_path / "data.npy", X)
    ds = load_input(str(tmp_path / "data.npy"), mmap=mmap)
    assert ds.X.dtype == dtype
    np.testing.assert_array_equal(ds.X, X)
    assert ds.y is None and ds.X_test is None
    assert (ds.name, ds.source) == ("data", str(tmp_path / "data.npy"))
    assert (ds.n_samples, ds.n_features) == (40, 7)


def test_npy_accepts_pathlike_and_upper_case_suffix(tmp_path, rng):
    X = rng.normal(size=(5, 2))
    np.save(tmp_path / "A.npy", X)
    (tmp_path / "A.npy").rename(tmp_path / "A.NPY")
    np.testing.assert_array_equal(load_input(tmp_path / "A.NPY").X, X)


def test_npy_integer_data_becomes_float(tmp_path, rng):
    X = rng.integers(0, 100, size=(10, 3))
    np.save(tmp_path / "ints.npy", X)
    ds = load_input(str(tmp_path / "ints.npy"))
    assert ds.X.dtype.kind == "f"
    np.testing.assert_array_equal(ds.X, X)


@pytest.mark.parametrize("col", [0, 2, -1, "1"], ids=["first", "middle", "last", "digit-str"])
def test_npy_label_column(tmp_path, rng, col):
    X = rng.normal(size=(30, 4))
    y = rng.integers(0, 3, size=30)
    idx = int(col) % 5
    data = np.insert(X, idx, y, axis=1)
    np.save(tmp_path / "d.npy", data)
    ds = load_input(str(tmp_path / "d.npy"), label_column=col)
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    assert ds.y.dtype == np.int64


def test_npy_non_integer_label_column_stays_float(tmp_path, rng):
    data = rng.normal(size=(10, 3))
    np.save(tmp_path / "d.npy", data)
    ds = load_input(str(tmp_path / "d.npy"), label_column=-1)
    assert ds.y.dtype == np.float64
    np.testing.assert_array_equal(ds.y, data[:, -1])


@pytest.mark.parametrize(
    ("array", "label_column", "words"),
    [
        (np.arange(5.0), None, "2-D"),
        (np.zeros((3, 2, 2)), None, "2-D"),
        (np.array([["a", "b"], ["c", "d"]]), None, "non-numeric"),
        (np.array([[1.0, np.nan], [0.0, 1.0]]), None, "NaN"),
        (np.array([[1.0, np.inf]]), None, "NaN or infinite"),
        (np.zeros((0, 3)), None, "0 rows"),
        (np.zeros((4, 3)), 3, "out of range"),
        (np.zeros((4, 3)), -4, "out of range"),
        (np.zeros((4, 3)), "label", "no column names"),
        (np.zeros(4), 0, "2-D"),
        (np.zeros((4, 1)), 0, "no columns"),
        (np.array([[1.0, 2.0], [3.0, np.nan]]), 1, "NaN"),
    ],
    ids=[
        "1-D",
        "3-D",
        "strings",
        "nan",
        "inf",
        "empty",
        "col-too-big",
        "col-too-small",
        "col-name",
        "1-D-with-label",
        "only-label",
        "nan-label",
    ],
)
def test_npy_bad_inputs(tmp_path, array, label_column, words):
    np.save(tmp_path / "bad.npy", array)
    with pytest.raises(InputError, match=words):
        load_input(str(tmp_path / "bad.npy"), label_column=label_column)


def test_npy_pickled_objects_rejected(tmp_path):
    np.save(tmp_path / "obj.npy", np.array([[{"a": 1}]], dtype=object), allow_pickle=True)
    with pytest.raises(InputError, match="objects"):
        load_input(str(tmp_path / "obj.npy"))


def test_npy_garbage_file_rejected(tmp_path):
    (tmp_path / "junk.npy").write_bytes(b"this is not numpy")
    with pytest.raises(InputError, match="not a .npy file"):
        load_input(str(tmp_path / "junk.npy"))


# --------------------------------------------------------------------------- .npz


def test_npz_round_trip_with_and_without_y(tmp_path, rng):
    X = rng.normal(size=(20, 3)).astype(np.float32)
    y = np.array(["a", "b"] * 10)
    np.savez(tmp_path / "xy.npz", X=X, y=y)
    np.savez_compressed(tmp_path / "x.npz", X=X)
    ds = load_input(str(tmp_path / "xy.npz"))
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    assert load_input(str(tmp_path / "x.npz")).y is None


def test_npz_own_test_split(tmp_path, rng):
    X, Xt = rng.normal(size=(20, 3)), rng.normal(size=(5, 3))
    y, yt = rng.integers(0, 2, 20), rng.integers(0, 2, 5)
    np.savez(tmp_path / "s.npz", X=X, y=y, X_test=Xt, y_test=yt)
    ds = load_input(str(tmp_path / "s.npz"))
    np.testing.assert_array_equal(ds.X_test, Xt)
    np.testing.assert_array_equal(ds.y_test, yt)


def test_npz_missing_X_lists_keys(tmp_path):
    np.savez(tmp_path / "nox.npz", data=np.zeros((2, 2)), labels=np.zeros(2))
    with pytest.raises(InputError, match="no array 'X'") as info:
        load_input(str(tmp_path / "nox.npz"))
    assert "'data'" in str(info.value) and "'labels'" in str(info.value)


def test_npz_rejects_label_column(tmp_path):
    np.savez(tmp_path / "xy.npz", X=np.zeros((2, 2)), y=np.zeros(2))
    with pytest.raises(InputError, match="'y'"):
        load_input(str(tmp_path / "xy.npz"), label_column=0)


@pytest.mark.parametrize(
    ("arrays", "words"),
    [
        ({"X": np.zeros((4, 2)), "y": np.zeros(3)}, "one label per row"),
        ({"X": np.zeros((4, 2)), "y": np.array([0, 1, 2, np.nan])}, "NaN"),
        ({"X": np.array([["x"]])}, "non-numeric"),
        ({"X": np.zeros((4, 2)), "y_test": np.zeros(3)}, "X_test"),
        ({"X": np.zeros((4, 2)), "X_test": np.zeros((3, 5))}, "features"),
        ({"X": np.array([{"a": 1}], dtype=object)}, "object"),
    ],
    ids=["y-length", "y-nan", "X-strings", "y_test-alone", "X_test-width", "object"],
)
def test_npz_bad_inputs(tmp_path, arrays, words):
    np.savez(tmp_path / "bad.npz", **arrays)
    with pytest.raises(InputError, match=words):
        load_input(str(tmp_path / "bad.npz"))


def test_npz_garbage_file_rejected(tmp_path):
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 broken zip")
    with pytest.raises(InputError, match="npz"):
        load_input(str(tmp_path / "junk.npz"))


# --------------------------------------------------------------------------- .csv


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    X=hnp.arrays(
        np.float64,
        hnp.array_shapes(min_dims=2, max_dims=2, min_side=1, max_side=6),
        elements=st.floats(-1e12, 1e12, allow_nan=False, allow_subnormal=False),
    ),
    header=st.booleans(),
)
def test_csv_round_trip_property(tmp_path, X, header):
    path = tmp_path / "prop.csv"
    names = ",".join(f"f{j}" for j in range(X.shape[1]))
    np.savetxt(path, X, delimiter=",", fmt="%.17g", header=names if header else "", comments="")
    ds = load_input(str(path))
    np.testing.assert_array_equal(ds.X, X)
    assert ds.y is None


@pytest.mark.parametrize("header", [True, False], ids=["header", "no-header"])
@pytest.mark.parametrize("position", [0, 2, -1], ids=["first", "middle", "last"])
@pytest.mark.parametrize("labels", ["int", "str", "float"])
def test_csv_label_column_round_trip(tmp_path, rng, header, position, labels):
    X = rng.normal(size=(25, 3)).round(6)
    if labels == "int":
        y = rng.integers(-2, 5, size=25)
    elif labels == "str":
        y = rng.choice(np.array(["cat", "dog", "bird with space"]), size=25)
    else:
        y = rng.normal(size=25).round(4)
    rows = [[*map(repr, map(float, row))] for row in X]
    idx = position % 4
    for row, label in zip(rows, y, strict=True):
        row.insert(idx, str(label))
    names = ["a", "b", "c"]
    names.insert(idx, "target")
    path = _write_csv(tmp_path / "lab.csv", rows, names if header else None)
    ds = load_input(str(path), label_column="target" if header else position)
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)
    assert ds.X.dtype == np.float64
    assert ds.y.dtype.kind == {"int": "i", "str": "U", "float": "f"}[labels]
    if header:
        assert load_input(str(path), label_column=position).y.tolist() == ds.y.tolist()


def test_csv_headerless_text_labels_keep_the_first_row(tmp_path):
    # UCI iris.data style: no header, a text label in the last column.
    rows = [[5.1, 3.5, "setosa"], [4.9, 3.0, "setosa"], [7.0, 3.2, "versicolor"]]
    ds = load_input(str(_write_csv(tmp_path / "iris.csv", rows)), label_column=-1)
    assert ds.n_samples == 3
    assert ds.y.tolist() == ["setosa", "setosa", "versicolor"]


def test_csv_numeric_names_header_with_text_labels(tmp_path):
    # pandas DataFrame(X).assign(label=y).to_csv(index=False)
    rows = [[0.5, 0.25, "cat"], [1.5, 2.0, "dog"], [1.0, 0.0, "cat"]]
    ds = load_input(str(_write_csv(tmp_path / "p.csv", rows, ["0", "1", "label"])), label_column=-1)
    assert ds.n_samples == 3
    assert ds.y.tolist() == ["cat", "dog", "cat"]


def test_csv_explicit_header_flag(tmp_path):
    path = _write_csv(tmp_path / "h.csv", [[1, 2], [3, 4], [5, 6]])
    assert load_input(str(path), header=True).n_samples == 2
    assert load_input(str(path), header=False).n_samples == 3


def test_csv_tolerates_bom_blank_lines_spaces_quotes_and_crlf(tmp_path):
    text = '\ufeff"x 1", y2 ,cls\r\n\r\n1.5, 2 ,a\r\n   \r\n 3,4.25,"b"\r\n\r\n'
    path = tmp_path / "messy.csv"
    path.write_bytes(text.encode("utf-8"))
    ds = load_input(str(path), label_column="cls")
    np.testing.assert_array_equal(ds.X, [[1.5, 2.0], [3.0, 4.25]])
    assert ds.y.tolist() == ["a", "b"]
    quoted = tmp_path / "quoted.csv"
    quoted.write_text('"x 1",y2\n1,0\n2,1\n')
    assert load_input(str(quoted), label_column="x 1").y.tolist() == [1, 2]


def test_csv_underscore_numbers_fall_back_to_slow_path(tmp_path):
    path = _write_csv(tmp_path / "u.csv", [["1_000", "2"], ["3", "4"]])
    np.testing.assert_array_equal(load_input(str(path)).X, [[1000.0, 2.0], [3.0, 4.0]])


def test_csv_bad_cell_names_line_column_and_value(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("a,b,c\n1,2,3\n\n4,oops,6\n")
    with pytest.raises(InputError) as info:
        load_input(str(path))
    msg = str(info.value)
    assert "line 4" in msg and "column 2" in msg and "'b'" in msg and "'oops'" in msg


def test_csv_bad_cell_with_label_column(tmp_path):
    path = tmp_path / "bad.csv"
    path.write_text("1,2,x\n3,?,y\n")
    with pytest.raises(InputError, match=r"line 2, column 2: value '\?'"):
        load_input(str(path), label_column=2)


@pytest.mark.parametrize(
    ("text", "label_column", "line"),
    [
        ("a,b\n1,2\n3\n", None, 3),
        ("1,2\n3,4,5\n", None, 2),
        ("1,2,c\n\n3,4,d,5\n", -1, 3),
        ("1,2,c\n3,d\n", -1, 2),
    ],
    ids=["short", "long", "long-with-label", "short-with-label"],
)
def test_csv_ragged_rows_name_the_line(tmp_path, text, label_column, line):
    path = tmp_path / "rag.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=f"line {line}: .*same number"):
        load_input(str(path), label_column=label_column)


@pytest.mark.parametrize(
    ("text", "words"),
    [
        ("", "empty"),
        ("\n  \n", "empty"),
        ("a,b,c\n", "no data rows"),
        ("1,nan\n2,3\n", "NaN"),
        ("1,inf\n", "NaN or infinite"),
    ],
    ids=["empty", "blank", "header-only", "nan", "inf"],
)
def test_csv_bad_files(tmp_path, text, words):
    path = tmp_path / "bad.csv"
    path.write_text(text)
    with pytest.raises(InputError, match=words):
        load_input(str(path))


@pytest.mark.parametrize(
    ("header", "label_column", "words"),
    [
        (["a", "b"], "c", "not found.*'a', 'b'"),
        (None, "c", "no header row"),
        (["a", "b"], 5, "out of range"),
        (["a", "a", "b"], "a", "appears 2 times"),
        (["a", "b"], 1.5, "column index or name"),
        (["a", "b"], True, "column index or name"),
    ],
    ids=["unknown-name", "name-no-header", "index", "duplicate", "float", "bool"],
)
def test_csv_bad_label_column(tmp_path, header, label_column, words):
    rows = [[1] * (len(header) if header else 2)] * 2
    path = _write_csv(tmp_path / "l.csv", rows, header)
    with pytest.raises(InputError, match=words):
        load_input(str(path), label_column=label_column)


def test_csv_label_length_is_rows(tmp_path):
    path = _write_csv(tmp_path / "y.csv", [[1, 2, 0], [3, 4, 1]], ["a", "b", "y"])
    ds = load_input(str(path), label_column="y")
    assert ds.y.shape == (ds.n_samples,)


def test_csv_not_utf8(tmp_path):
    (tmp_path / "latin.csv").write_bytes("a,b\n1,\xe9\n".encode("latin-1"))
    with pytest.raises(InputError, match="UTF-8"):
        load_input(str(tmp_path / "latin.csv"))


def test_csv_large_file_fast_path(tmp_path, rng):
    X = rng.normal(size=(5000, 20)).round(5)
    y = rng.choice(np.array(["u", "v"]), size=5000)
    rows = [[*map(str, row), label] for row, label in zip(X, y, strict=True)]
    path = _write_csv(tmp_path / "big.csv", rows)
    ds = load_input(str(path), label_column=-1)
    np.testing.assert_array_equal(ds.X, X)
    np.testing.assert_array_equal(ds.y, y)


# --------------------------------------------------------------------------- paths


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="does not exist.*supported inputs: .npy"):
        load_input(str(tmp_path / "nope.npy"))


def test_bare_builtin_name_gets_a_hint(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(InputError, match="did you mean builtin:digits"):
        load_input("digits")


def test_directory(tmp_path):
    with pytest.raises(InputError, match="directory.*supported inputs"):
        load_input(str(tmp_path))


@pytest.mark.parametrize("name", ["data.txt", "data.csv.gz", "data"], ids=["txt", "gz", "none"])
def test_unsupported_extension(tmp_path, name):
    (tmp_path / name).write_text("1,2\n")
    with pytest.raises(InputError, match=r"unsupported file type.*\.npy, \.npz, \.csv, builtin"):
        load_input(str(tmp_path / name))


# --------------------------------------------------------------------------- built-ins

SKLEARN = {"digits": (1797, 64), "breast_cancer": (569, 30), "iris": (150, 4), "wine": (178, 13)}


@pytest.mark.parametrize("name", list(SKLEARN))
def test_sklearn_builtins(name):
    ds = load_input(f"builtin:{name}")
    assert ds.X.shape == SKLEARN[name]
    assert ds.X.dtype == np.float32
    assert ds.y.dtype.kind == "i" and ds.y.shape == (ds.n_samples,)
    assert (ds.name, ds.source) == (name, f"builtin:{name}")
    assert ds.X_test is None


def test_builtins_registry_names():
    assert {"digits", "breast_cancer", "iris", "wine", "fashion-mnist"} <= set(BUILTINS)


def test_unknown_builtin_lists_names():
    with pytest.raises(InputError, match="unknown built-in.*digits.*fashion-mnist"):
        load_input("builtin:mnist-but-wrong")


def test_builtin_rejects_label_column():
    with pytest.raises(InputError, match="carry their labels"):
        load_input("builtin:iris", label_column=0)


def test_register_builtin(monkeypatch):
    monkeypatch.setattr("qcoreset.datasets.BUILTINS", dict(BUILTINS))
    from qcoreset import datasets

    def tiny():
        return Dataset(X=np.eye(3), y=None, name="tiny", source="builtin:tiny")

    datasets.register_builtin("tiny", tiny)
    assert load_input("builtin:tiny").n_features == 3
    with pytest.raises(InputError, match="already registered"):
        datasets.register_builtin("tiny", tiny)
    assert register_builtin is datasets.register_builtin


# --------------------------------------------------------------------------- Fashion-MNIST


def _idx(magic: int, arr: np.ndarray) -> bytes:
    return struct.pack(">I", magic) + struct.pack(f">{arr.ndim}I", *arr.shape) + arr.tobytes()


def _fake_fashion(folder: pathlib.Path, rng, n_train=12, n_test=5, side=4, compress=True):
    parts = {
        "train-images-idx3-ubyte": (0x803, rng.integers(0, 256, (n_train, side, side))),
        "train-labels-idx1-ubyte": (0x801, rng.integers(0, 10, n_train)),
        "t10k-images-idx3-ubyte": (0x803, rng.integers(0, 256, (n_test, side, side))),
        "t10k-labels-idx1-ubyte": (0x801, rng.integers(0, 10, n_test)),
    }
    out = {}
    for stem, (magic, arr) in parts.items():
        arr = arr.astype(np.uint8)
        data = _idx(magic, arr)
        if compress:
            (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / stem).write_bytes(data)
        out[stem] = arr
    return out


@pytest.mark.parametrize("compress", [True, False], ids=["gz", "raw"])
@pytest.mark.parametrize("spec", ["builtin:fashion-mnist", "builtin:fashion_mnist"])
def test_fake_fashion_mnist(tmp_path, rng, monkeypatch, spec, compress):
    parts = _fake_fashion(tmp_path, rng, compress=compress)
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
    assert fashion_mnist_dir() == tmp_path
    ds = load_input(spec)
    assert ds.name == "fashion-mnist" and ds.source == spec
    assert ds.X.dtype == np.float32 and ds.X.shape == (12, 16)
    np.testing.assert_array_equal(ds.X, parts["train-images-idx3-ubyte"].reshape(12, 16))
    np.testing.assert_array_equal(ds.y, parts["train-labels-idx1-ubyte"])
    np.testing.assert_array_equal(ds.X_test, parts["t10k-images-idx3-ubyte"].reshape(5, 16))
    np.testing.assert_array_equal(ds.y_test, parts["t10k-labels-idx1-ubyte"])
    assert ds.y.dtype == np.int64


def test_fashion_mnist_missing_gives_install_hint(tmp_path, monkeypatch):
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
    with pytest.raises(InputError) as info:
        load_input("builtin:fashion-mnist")
    msg = str(info.value)
    assert "apt-get update && apt-get install -y dataset-fashion-mnist" in msg
    assert FASHION_MNIST_ENV in msg and str(tmp_path) in msg


def test_fashion_mnist_dir_default(monkeypatch):
    monkeypatch.delenv(FASHION_MNIST_ENV, raising=False)
    assert fashion_mnist_dir() == pathlib.Path("/usr/share/datasets/fashion-mnist")
    monkeypatch.setenv(FASHION_MNIST_ENV, "")
    assert fashion_mnist_dir() == pathlib.Path("/usr/share/datasets/fashion-mnist")


@pytest.mark.parametrize(
    ("stem", "payload", "words"),
    [
        ("train-images-idx3-ubyte", _idx(0x801, np.zeros(12, np.uint8)), "magic number"),
        ("train-labels-idx1-ubyte", _idx(0x803, np.zeros((12, 4, 4), np.uint8)), "magic number"),
        ("train-images-idx3-ubyte", _idx(0x803, np.zeros((12, 4, 4), np.uint8))[:-3], "data bytes"),
        ("train-images-idx3-ubyte", b"\x00\x00\x08\x03\x00\x00", "truncated"),
        ("t10k-labels-idx1-ubyte", b"\x00\x00", "truncated"),
        ("train-labels-idx1-ubyte", _idx(0x801, np.zeros(11, np.uint8)), "11 labels"),
        ("t10k-images-idx3-ubyte", _idx(0x803, np.zeros((5, 3, 3), np.uint8)), "test images"),
    ],
    ids=["images-magic", "labels-magic", "short", "header", "tiny", "count", "image-size"],
)
def test_fashion_mnist_corrupt_files(tmp_path, rng, monkeypatch, stem, payload, words):
    _fake_fashion(tmp_path, rng)
    (tmp_path / f"{stem}.gz").write_bytes(gzip.compress(payload))
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
    with pytest.raises(InputError, match=words):
        load_input("builtin:fashion-mnist")


@pytest.mark.parametrize(
    "blob", [b"not gzip at all", gzip.compress(b"x" * 100)[:-10]], ids=["not-gzip", "cut"]
)
def test_fashion_mnist_broken_gzip(tmp_path, rng, monkeypatch, blob):
    _fake_fashion(tmp_path, rng)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").write_bytes(blob)
    monkeypatch.setenv(FASHION_MNIST_ENV, str(tmp_path))
    with pytest.raises(InputError, match="corrupt"):
        load_input("builtin:fashion-mnist")


def test_real_fashion_mnist_if_installed(monkeypatch):
    monkeypatch.delenv(FASHION_MNIST_ENV, raising=False)
    folder = fashion_mnist_dir()
    if not (folder / "train-images-idx3-ubyte.gz").is_file():
        pytest.skip("dataset-fashion-mnist is not installed")
    ds = load_input("builtin:fashion-mnist")
    assert ds.X.shape == (60000, 784) and ds.X.dtype == np.float32
    assert ds.y.shape == (60000,) and ds.X_test.shape == (10000, 784)
    assert ds.y_test.shape == (10000,)


# --------------------------------------------------------------------------- Dataset


def test_dataset_validates():
    with pytest.raises(InputError, match="one label per row"):
        Dataset(X=np.zeros((3, 2)), y=np.zeros(2), name="t", source="t")
    with pytest.raises(InputError, match="X_test has 3 features"):
        Dataset(X=np.zeros((3, 2)), y=None, name="t", source="t", X_test=np.zeros((1, 3)))
    with pytest.raises(InputError, match="without X_test"):
        Dataset(X=np.zeros((3, 2)), y=None, name="t", source="t", y_test=np.zeros(1))
    with pytest.raises(InputError, match="NaN"):
        Dataset(X=[[np.nan]], y=None, name="t", source="t")


def test_dataset_repr_is_short():
    ds = Dataset(X=np.zeros((1000, 50)), y=np.zeros(1000, int), name="t", source="t.npy")
    text = repr(ds)
    assert "1000x50" in text and len(text) < 200
