"""Read the datasets qcoreset works on: ``.npy``, ``.npz``, ``.csv`` and ``builtin:NAME``.

:func:`load_input` is the one entry point the command line and the examples use; it turns
an input spec into a validated :class:`Dataset`. Built-in datasets live in the
:data:`BUILTINS` registry: the small datasets bundled with scikit-learn and Fashion-MNIST
as installed by the Debian package ``dataset-fashion-mnist``.
"""

from __future__ import annotations

import csv
import gzip
import math
import numbers
import os
import pathlib
import warnings
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from ._errors import InputError
from ._validation import check_data, check_labels, check_sample_weight

__all__ = [
    "BUILTINS",
    "Dataset",
    "fashion_mnist_dir",
    "load_fashion_mnist",
    "load_input",
    "register_builtin",
]

SUPPORTED = "supported inputs: .npy, .npz, .csv, builtin:NAME"

FASHION_MNIST_ENV = "QCORESET_FASHION_MNIST_DIR"
FASHION_MNIST_DEFAULT_DIR = pathlib.Path("/usr/share/datasets/fashion-mnist")
FASHION_MNIST_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
_IDX_IMAGES_MAGIC = 0x00000803
_IDX_LABELS_MAGIC = 0x00000801


@dataclass(repr=False)
class Dataset:
    """A validated dataset: features, optional labels and an optional own test split.

    Parameters
    ----------
    X : ndarray of shape (n_samples, n_features)
        Features; validated by ``check_data`` (2-D, finite, float32 or float64). May be a
        read-only memory map when loaded from ``.npy`` with ``mmap=True``.
    y : ndarray of shape (n_samples,) or None
        Labels: integers, floats, or strings (CSV label columns that are not numbers).
    name : str
        Short name: ``"digits"``, ``"fashion-mnist"``, or the file stem.
    source : str
        The input spec as given to :func:`load_input`.
    X_test : ndarray of shape (n_test, n_features) or None
        The dataset's own test split, where one exists (Fashion-MNIST's t10k set).
    y_test : ndarray of shape (n_test,) or None
        Labels of ``X_test``.
    sample_weight : ndarray of shape (n_samples,) or None
        Non-negative row weights (a ``.npz`` array ``sample_weight``), or None for ones.

    Raises
    ------
    InputError
        If any array fails validation or the shapes do not match.
    """

    X: np.ndarray
    y: np.ndarray | None
    name: str
    source: str
    X_test: np.ndarray | None = None
    y_test: np.ndarray | None = None
    sample_weight: np.ndarray | None = None

    def __post_init__(self) -> None:
        self.X = check_data(self.X)
        if self.y is not None:
            self.y = check_labels(self.y, self.X.shape[0])
        if self.sample_weight is not None:
            self.sample_weight = check_sample_weight(self.sample_weight, self.X.shape[0])
        if self.X_test is not None:
            self.X_test = check_data(self.X_test, name="X_test")
            if self.X_test.shape[1] != self.X.shape[1]:
                raise InputError(
                    f"X_test has {self.X_test.shape[1]} features but X has {self.X.shape[1]}; "
                    "the test split must have the same columns"
                )
        if self.y_test is not None:
            if self.X_test is None:
                raise InputError("y_test given without X_test; pass both or neither")
            self.y_test = check_labels(self.y_test, self.X_test.shape[0])

    @property
    def n_samples(self) -> int:
        """Number of rows of ``X``."""
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        """Number of columns of ``X``."""
        return int(self.X.shape[1])

    def __repr__(self) -> str:
        parts = [f"name={self.name!r}", f"source={self.source!r}", f"X={_describe(self.X)}"]
        parts.append(f"y={_describe(self.y)}")
        if self.X_test is not None:
            parts.append(f"X_test={_describe(self.X_test)}")
            parts.append(f"y_test={_describe(self.y_test)}")
        return f"Dataset({', '.join(parts)})"


def _describe(arr: np.ndarray | None) -> str:
    if arr is None:
        return "None"
    return f"<{arr.dtype} {'x'.join(map(str, arr.shape))}>"


# --------------------------------------------------------------------------- entry point


def load_input(
    spec: str | os.PathLike,
    *,
    label_column: str | int | None = None,
    mmap: bool = True,
    header: bool | None = None,
) -> Dataset:
    """Load a dataset from a file or a built-in name.

    Parameters
    ----------
    spec : str or path-like
        ``builtin:NAME`` (see :data:`BUILTINS`), or the path of a ``.npy``, ``.npz`` or
        ``.csv`` file. A ``.npz`` file holds the array ``X`` and optionally ``y``,
        ``sample_weight``, ``X_test`` and ``y_test``.
    label_column : str or int, optional
        The column that holds the labels, split off as ``y``. An int index (negative counts
        from the end) for ``.npy`` and ``.csv``; a header name for ``.csv``. A string of
        digits that is not a header name is read as an index. Not allowed for ``.npz``
        (which carries ``y``) or built-in datasets. Labels become int64 when every value
        is a whole number, float64 when every value is a number, else (CSV) strings.
    mmap : bool, default=True
        Memory-map ``.npy`` files read-only instead of reading them into memory (only when no
        label column is split off and the data is already float32/float64).
    header : bool, optional
        Whether a ``.csv`` file starts with a header row. By default a header is detected
        when any field of the first row is not a number.

    Returns
    -------
    Dataset
        Validated features, labels and, for Fashion-MNIST, its own test split.

    Raises
    ------
    InputError
        For a missing file, a directory, an unsupported extension, an unknown built-in,
        unreadable or non-numeric data, NaN/inf values, empty data, or labels that do not
        match the rows. The message names the problem and the fix.

    Examples
    --------
    >>> ds = load_input("builtin:iris")
    >>> ds.X.shape, ds.y.shape
    ((150, 4), (150,))
    """
    text = os.fspath(spec)
    if not isinstance(text, str):
        text = os.fsdecode(text)
    if text.startswith("builtin:"):
        if label_column is not None:
            raise InputError(
                f"label_column={label_column!r} cannot be used with {text!r}: built-in "
                "datasets carry their labels; drop the label column option"
            )
        return _load_builtin(text)

    path = pathlib.Path(text)
    if not path.exists():
        hint = ""
        if _canonical_builtin(text) in BUILTINS:
            hint = f" (did you mean builtin:{text}?)"
        raise InputError(f"input file {text!r} does not exist{hint}; {SUPPORTED}")
    if path.is_dir():
        raise InputError(f"input {text!r} is a directory, not a file; {SUPPORTED}")
    suffix = path.suffix.lower()
    reader = _READERS.get(suffix)
    if reader is None:
        shown = suffix or "no extension"
        raise InputError(f"input {text!r} has an unsupported file type ({shown}); {SUPPORTED}")
    X, y = reader(path, label_column=label_column, mmap=mmap, header=header)
    extra = {}
    if isinstance(X, tuple):  # npz with its own test split
        X, extra = X
    return Dataset(X=X, y=y, name=path.stem, source=text, **extra)


# --------------------------------------------------------------------------- .npy / .npz


def _read_npy(path: pathlib.Path, *, label_column, mmap: bool, header):
    if not _starts_with(path, (b"\x93NUMPY",)):
        raise InputError(f"{path} is not a .npy file (no NUMPY magic); save it with np.save")
    try:
        arr = np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError(
                f"{path} holds Python objects (pickled); save a numeric array instead"
            ) from None
        raise InputError(f"{path} is not a readable .npy file: {exc}") from None
    except (OSError, EOFError) as exc:
        raise InputError(f"{path} is not a readable .npy file: {exc}") from None
    if not isinstance(arr, np.ndarray):
        raise InputError(f"{path} is not a .npy array file; {SUPPORTED}")
    _require_numeric(arr, str(path))
    if label_column is None:
        return arr, None
    if arr.ndim != 2:
        raise InputError(
            f"{path} has shape {arr.shape}; a label column needs a 2-D array (n_samples, "
            "n_features + 1)"
        )
    if isinstance(label_column, str) and not _is_int_text(label_column):
        raise InputError(
            f"label_column={label_column!r}: a .npy file has no column names; pass an "
            "integer column index"
        )
    col = _resolve_index(label_column, arr.shape[1], str(path))
    y = _labels_from_numbers(np.asarray(arr[:, col]))
    X = np.delete(np.asarray(arr), col, axis=1)
    return X, y


def _read_npz(path: pathlib.Path, *, label_column, mmap: bool, header):
    if label_column is not None:
        raise InputError(
            f"label_column={label_column!r} cannot be used with a .npz file: its labels are "
            "the array 'y'; drop the label column option"
        )
    if not _starts_with(path, (b"PK\x03\x04", b"PK\x05\x06")):
        raise InputError(f"{path} is not a .npz file (not a zip archive); save it with np.savez")
    try:
        with np.load(path, allow_pickle=False) as npz:
            if not hasattr(npz, "files"):
                raise InputError(f"{path} is not a .npz archive; {SUPPORTED}")
            keys = list(npz.files)
            if "X" not in keys:
                found = ", ".join(repr(k) for k in keys) or "none"
                raise InputError(
                    f"{path} has no array 'X' (arrays found: {found}); save it with "
                    "np.savez(path, X=X, y=y)"
                )
            wanted = ("X", "y", "X_test", "y_test", "sample_weight")
            arrays = {k: npz[k] for k in wanted if k in keys}
    except InputError:
        raise
    except ValueError as exc:
        if "allow_pickle" in str(exc):
            raise InputError(
                f"{path} holds Python object arrays; save X and y as numeric or string arrays"
            ) from None
        raise InputError(f"{path} is not a readable .npz file: {exc}") from None
    except (OSError, EOFError, zlib.error, zipfile.BadZipFile) as exc:
        raise InputError(f"{path} is not a readable .npz file: {exc}") from None
    _require_numeric(arrays["X"], f"{path}: X")
    extra = {}
    if "X_test" in arrays:
        _require_numeric(arrays["X_test"], f"{path}: X_test")
        extra = {"X_test": arrays["X_test"], "y_test": arrays.get("y_test")}
    elif "y_test" in arrays:
        raise InputError(f"{path} has 'y_test' but no 'X_test'; save both or neither")
    if "sample_weight" in arrays:
        _require_numeric(arrays["sample_weight"], f"{path}: sample_weight")
        extra["sample_weight"] = arrays["sample_weight"]
    return (arrays["X"], extra), arrays.get("y")


def _starts_with(path: pathlib.Path, magics: tuple[bytes, ...]) -> bool:
    try:
        with open(path, "rb") as fh:
            head = fh.read(max(map(len, magics)))
    except OSError as exc:
        raise InputError(f"{path} cannot be read: {exc}") from None
    return head.startswith(magics)


def _require_numeric(arr: np.ndarray, what: str) -> None:
    if arr.dtype.kind not in "biuf":
        raise InputError(
            f"{what} has non-numeric dtype {arr.dtype}; save the features as a numeric array"
        )


def _labels_from_numbers(col: np.ndarray) -> np.ndarray:
    """Integer labels when every value is a whole number, else the values unchanged."""
    if col.dtype.kind == "f" and np.isfinite(col).all() and (col == np.round(col)).all():
        return col.astype(np.int64)
    return col


# --------------------------------------------------------------------------- .csv


def _read_csv(path: pathlib.Path, *, label_column, mmap: bool, header):
    where = str(path)
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            first = next((row for row in reader if not _blank(row)), None)
            first_line = reader.line_num
    except UnicodeDecodeError as exc:
        raise _not_utf8(where, exc) from None
    except csv.Error as exc:
        raise InputError(f"{where}: malformed CSV: {exc}") from None
    if first is None:
        raise InputError(f"{where} is empty; a CSV needs at least one data row")
    names = [f.strip() for f in first]
    auto = header is None
    if auto:
        header = not all(_is_number(f) for f in first)
    n_cols = len(first)
    label_idx = _csv_label_index(label_column, names if header else None, n_cols, where)
    # A headerless file with a text label column (UCI's iris.data) also has a non-number in
    # its first row. When the label column was given by index and it holds the only
    # non-numbers of the first row, call the row a header only if its label does not occur
    # among the data's labels.
    ambiguous = (
        auto
        and header
        and label_idx is not None
        and not (isinstance(label_column, str) and label_column.strip() in names)
        and all(_is_number(f) for j, f in enumerate(first) if j != label_idx)
    )
    if ambiguous:
        X, y = _csv_parse(path, False, first_line, n_cols, label_idx, None)
        rest = {str(v).strip() for v in y[1:]}
        if X.shape[0] == 1 or str(y[0]).strip() not in rest:
            X, y = X[1:], y[1:]
    else:
        X, y = _csv_parse(path, header, first_line, n_cols, label_idx, names if header else None)
    if X.shape[0] == 0:
        raise InputError(f"{where} has a header row but no data rows; add data below the header")
    if label_idx is not None:
        y = _labels_from_text(y)
    return X, y


def _csv_parse(path, header: bool, first_line: int, n_cols: int, label_idx, names):
    try:
        return _csv_fast(path, first_line if header else 0, n_cols, label_idx)
    except (ValueError, UnicodeDecodeError):
        # loadtxt does not say which line of the file is bad; re-read with the csv module,
        # which either names the bad line/cell or parses what loadtxt would not.
        return _csv_slow(path, header, n_cols, label_idx, names)


def _csv_fast(path, skip: int, n_cols: int, label_idx: int | None):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "input contained no data"
        if label_idx is None:
            X = np.loadtxt(
                path,
                delimiter=",",
                comments=None,
                quotechar='"',
                skiprows=skip,
                dtype=np.float64,
                ndmin=2,
                encoding="utf-8-sig",
            )
            if X.shape[0] and X.shape[1] != n_cols:
                raise ValueError("column count changed")
            return X, None
        # A structured row type keeps loadtxt's column-count check (usecols would drop it)
        # and reads the label column as text.
        dtype = np.dtype(
            [
                ("a", np.float64, (label_idx,)),
                ("y", object),
                ("b", np.float64, (n_cols - label_idx - 1,)),
            ]
        )
        rec = np.loadtxt(
            path,
            delimiter=",",
            comments=None,
            quotechar='"',
            skiprows=skip,
            dtype=dtype,
            ndmin=1,
            encoding="utf-8-sig",
        )
    X = np.hstack([rec["a"], rec["b"]]) if rec.shape[0] else np.empty((0, n_cols - 1))
    return X, rec["y"]


def _csv_slow(path, header: bool, n_cols: int, label_idx: int | None, names):
    where = str(path)
    rows: list[list[float]] = []
    labels: list[str] = []
    skipped_header = not header
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.reader(fh)
            for row in reader:
                if _blank(row):
                    continue
                if not skipped_header:
                    skipped_header = True
                    continue
                line = reader.line_num
                if len(row) != n_cols:
                    raise InputError(
                        f"{where} line {line}: {len(row)} fields but the first row has "
                        f"{n_cols}; every row needs the same number of comma-separated fields"
                    )
                values = []
                for j, cell in enumerate(row):
                    if j == label_idx:
                        labels.append(cell)
                        continue
                    try:
                        values.append(float(cell))
                    except ValueError:
                        col = f"column {j + 1}" + (f" ({names[j]!r})" if names else "")
                        raise InputError(
                            f"{where} line {line}, {col}: value {cell!r} is not a number; "
                            "feature columns must be numeric (pass label_column for a text "
                            "label column)"
                        ) from None
                rows.append(values)
    except UnicodeDecodeError as exc:
        raise _not_utf8(where, exc) from None
    except csv.Error as exc:
        raise InputError(f"{where}: malformed CSV: {exc}") from None
    n_feat = n_cols - (label_idx is not None)
    X = np.array(rows, dtype=np.float64).reshape(len(rows), n_feat)
    return X, (np.array(labels, dtype=object) if label_idx is not None else None)


def _csv_label_index(label_column, names: list[str] | None, n_cols: int, where: str):
    if label_column is None:
        return None
    if isinstance(label_column, str):
        if names is not None and label_column.strip() in names:
            key = label_column.strip()
            if names.count(key) > 1:
                raise InputError(
                    f"label column {key!r} appears {names.count(key)} times in the header of "
                    f"{where}; pass its integer index instead"
                )
            return names.index(key)
        if not _is_int_text(label_column):
            if names is None:
                raise InputError(
                    f"label_column={label_column!r} is a name but {where} has no header row; "
                    "pass an integer column index"
                )
            raise InputError(
                f"label column {label_column!r} not found in the header of {where}; "
                f"columns are: {', '.join(repr(n) for n in names)}"
            )
    return _resolve_index(label_column, n_cols, where)


def _labels_from_text(values: np.ndarray) -> np.ndarray:
    """CSV labels: int64 if every value is an integer, float64 if every value is a number,
    otherwise strings (whitespace stripped)."""
    text = [str(v).strip() for v in values]
    try:
        return np.array([int(v) for v in text], dtype=np.int64)
    except (ValueError, OverflowError):
        pass
    try:
        return np.array([float(v) for v in text], dtype=np.float64)
    except ValueError:
        return np.array(text, dtype=str)


def _blank(row: list[str]) -> bool:
    """An empty line, or one holding only spaces."""
    return not row or (len(row) == 1 and not row[0].strip())


def _not_utf8(where: str, exc: UnicodeDecodeError) -> InputError:
    return InputError(f"{where} is not UTF-8 text ({exc.reason}); save it as UTF-8 CSV")


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_int_text(text: str) -> bool:
    try:
        int(text)
    except ValueError:
        return False
    return True


def _resolve_index(label_column, n_cols: int, where: str) -> int:
    if isinstance(label_column, numbers.Integral) and not isinstance(label_column, bool):
        idx = int(label_column)
    elif isinstance(label_column, str) and _is_int_text(label_column):
        idx = int(label_column)
    else:
        raise InputError(f"label_column must be a column index or name, got {label_column!r}")
    if not -n_cols <= idx < n_cols:
        raise InputError(
            f"label_column={idx} is out of range for {where} with {n_cols} columns; "
            f"use an index in [{-n_cols}, {n_cols - 1}]"
        )
    return idx % n_cols


_READERS: dict[str, Callable] = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv}


# --------------------------------------------------------------------------- built-ins


def fashion_mnist_dir() -> pathlib.Path:
    """Directory holding the Fashion-MNIST idx files.

    Returns
    -------
    pathlib.Path
        ``$QCORESET_FASHION_MNIST_DIR`` when set and non-empty, else
        ``/usr/share/datasets/fashion-mnist`` (where the Debian package
        ``dataset-fashion-mnist`` installs them).
    """
    env = os.environ.get(FASHION_MNIST_ENV, "")
    return pathlib.Path(env) if env else FASHION_MNIST_DEFAULT_DIR


def load_fashion_mnist(directory: str | os.PathLike | None = None) -> Dataset:
    """Load Fashion-MNIST from its idx files (gzip-compressed or not).

    Parameters
    ----------
    directory : str or path-like, optional
        Where the four idx files are; default :func:`fashion_mnist_dir`.

    Returns
    -------
    Dataset
        ``X``: the 60000 training images as float32 rows of 784 pixel values in 0..255,
        ``y``: int64 class labels 0..9; ``X_test``/``y_test``: the 10000 t10k images.

    Raises
    ------
    InputError
        If a file is missing (the message says how to install it), or a file is corrupt,
        has the wrong magic number, or its size does not match its header.
    """
    folder = pathlib.Path(directory) if directory is not None else fashion_mnist_dir()
    paths = {}
    for key, stem in FASHION_MNIST_FILES.items():
        found = [folder / (stem + ".gz"), folder / stem]
        path = next((p for p in found if p.is_file()), None)
        if path is None:
            raise InputError(
                f"Fashion-MNIST file {stem}.gz not found in {folder}; install it with "
                "`apt-get update && apt-get install -y dataset-fashion-mnist`, or set "
                f"{FASHION_MNIST_ENV} to a directory holding the four idx files"
            )
        paths[key] = path
    X = _read_idx(paths["train_images"], _IDX_IMAGES_MAGIC)
    y = _read_idx(paths["train_labels"], _IDX_LABELS_MAGIC)
    X_test = _read_idx(paths["test_images"], _IDX_IMAGES_MAGIC)
    y_test = _read_idx(paths["test_labels"], _IDX_LABELS_MAGIC)
    for imgs, labs, a, b in (
        (X, y, "train_images", "train_labels"),
        (X_test, y_test, "test_images", "test_labels"),
    ):
        if imgs.shape[0] != labs.shape[0]:
            raise InputError(
                f"Fashion-MNIST files disagree: {paths[a].name} has {imgs.shape[0]} images "
                f"but {paths[b].name} has {labs.shape[0]} labels; reinstall the dataset"
            )
    if X.shape[1:] != X_test.shape[1:]:
        raise InputError(
            f"Fashion-MNIST train images are {X.shape[1:]} but test images are "
            f"{X_test.shape[1:]}; reinstall the dataset"
        )
    return Dataset(
        X=X.reshape(X.shape[0], -1).astype(np.float32),
        y=y.astype(np.int64),
        name="fashion-mnist",
        source="builtin:fashion-mnist",
        X_test=X_test.reshape(X_test.shape[0], -1).astype(np.float32),
        y_test=y_test.astype(np.int64),
    )


def _read_idx(path: pathlib.Path, magic: int) -> np.ndarray:
    """Read one idx file of unsigned bytes, checking the magic number and the size."""
    fix = "reinstall dataset-fashion-mnist or replace the file"
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as fh:
                raw = fh.read()
        else:
            raw = path.read_bytes()
    except (OSError, EOFError, zlib.error) as exc:
        raise InputError(f"{path} is corrupt or not gzip data ({exc}); {fix}") from None
    if len(raw) < 4:
        raise InputError(f"{path} is truncated ({len(raw)} bytes); {fix}")
    seen = int.from_bytes(raw[:4], "big")
    if seen != magic:
        raise InputError(f"{path} has idx magic number 0x{seen:08x}, expected 0x{magic:08x}; {fix}")
    ndim = magic & 0xFF
    start = 4 + 4 * ndim
    if len(raw) < start:
        raise InputError(f"{path} is truncated inside its header ({len(raw)} bytes); {fix}")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = math.prod(dims)
    if len(raw) - start != expected:
        raise InputError(
            f"{path} holds {len(raw) - start} data bytes but its header {dims} needs "
            f"{expected}; {fix}"
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=start).reshape(dims)


def _sklearn_loader(name: str) -> Callable[[], Dataset]:
    def load() -> Dataset:
        import sklearn.datasets

        X, y = getattr(sklearn.datasets, f"load_{name}")(return_X_y=True)
        return Dataset(
            X=np.asarray(X, dtype=np.float32),
            y=np.asarray(y, dtype=np.int64),
            name=name,
            source=f"builtin:{name}",
        )

    load.__name__ = f"load_{name}"
    load.__doc__ = f"Load scikit-learn's bundled ``{name}`` dataset (X float32, y int64)."
    return load


#: Built-in datasets: public name -> function returning a :class:`Dataset`.
BUILTINS: dict[str, Callable[[], Dataset]] = {
    "digits": _sklearn_loader("digits"),
    "breast_cancer": _sklearn_loader("breast_cancer"),
    "iris": _sklearn_loader("iris"),
    "wine": _sklearn_loader("wine"),
    "fashion-mnist": load_fashion_mnist,
}

_ALIASES = {"fashion_mnist": "fashion-mnist", "breast-cancer": "breast_cancer"}


def register_builtin(
    name: str, loader: Callable[[], Dataset], *, replace: bool = False
) -> Callable[[], Dataset]:
    """Make ``builtin:NAME`` load the dataset returned by ``loader()``.

    Parameters
    ----------
    name : str
        The public name, used as ``builtin:NAME``.
    loader : callable
        Called with no arguments; returns a :class:`Dataset`.
    replace : bool, default=False
        Allow replacing an existing entry.

    Returns
    -------
    callable
        ``loader``, so this can be used as ``register_builtin("x", f)`` in module code.

    Raises
    ------
    InputError
        If ``name`` is already registered and ``replace`` is False.
    """
    if not replace and name in BUILTINS:
        raise InputError(f"built-in dataset {name!r} is already registered; pass replace=True")
    BUILTINS[name] = loader
    return loader


def _canonical_builtin(name: str) -> str:
    key = name.strip().lower()
    return _ALIASES.get(key, key)


def _load_builtin(spec: str) -> Dataset:
    raw = spec[len("builtin:") :]
    name = _canonical_builtin(raw)
    loader = BUILTINS.get(name)
    if loader is None:
        raise InputError(
            f"unknown built-in dataset {raw!r}; choose one of: {', '.join(BUILTINS)} "
            "(e.g. builtin:digits)"
        )
    ds = loader()
    ds.source = spec
    return ds
