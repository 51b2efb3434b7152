"""Coresets of data that do not fit in memory: merge-and-reduce over row chunks.

:class:`StreamingCoreset` takes the data chunk by chunk (``partial_fit``) and keeps a
merge-and-reduce tree (Bentley-Saxe / Har-Peled-Mazumdar): a chunk becomes a level-0
coreset of at most ``size`` points; whenever two coresets sit on the same level, their
union (at most ``2 size`` weighted points) is reduced again to ``size`` points one level
up, like a binary counter. After ``c`` chunks at most ``floor(log2 c) + 1`` coresets are
held, so memory stays at ``O(size * log c)`` rows plus one chunk, whatever the data size.
:func:`iter_npy_chunks` reads a ``.npy`` file through a memory map, one chunk at a time,
so that only one chunk is ever resident.

Error composition
-----------------
Coreset errors are additive: the union of summaries of disjoint parts summarises the
union, and for a cost ``cost(P, x) = sum_p u_p f(p, x)`` with ``f`` 1-Lipschitz in ``p``,
reducing a weighted set ``A`` to ``B`` changes the cost by at most the step's ``E_cs``
(in the units of :class:`qcoreset.constructors.Coreset.cs_error`). By the triangle
inequality along the tree, ``|cost(P) - cost(S)| <= sum over all reduce steps of E_step``:

* ``proven`` steps (``rcc``, ``kcenter``: transport bounds) add up exactly to a proven
  bound, ``cs_error_ = sum E_step``;
* ``estimate`` steps (the sampling constructors: unbiased, one standard error each) are
  martingale differences (each step is unbiased given the steps before it), so their
  variances add: ``cs_error_ = sqrt(sum E_step^2)`` is one standard error of the whole;
* a mix reports ``sum(proven) + sqrt(sum estimate^2)`` as an estimate (as per-class
  coresets do in :func:`qcoreset.constructors.build_coreset`).

Multiplicative ``(1 +- eps)``-coresets compose to ``(1 +- eps)^h`` over a tree of height
``h`` (``depth_``), about ``1 + h eps``; that is why the tree is balanced and its height
only ``log2`` of the number of chunks.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator

import numpy as np

from ._errors import InputError
from ._validation import check_data, check_int, check_labels, check_sample_weight
from .constructors import Coreset, build_coreset, constructor_params

__all__ = [
    "StreamingCoreset",
    "merge_reduce",
    "npy_info",
    "iter_npy_chunks",
    "default_chunk_rows",
]

#: bytes of one chunk read by default
CHUNK_BYTES = 32 * 2**20


class _Node:
    """A coreset in the tree plus the error of the subtree it summarises."""

    __slots__ = ("points", "weights", "labels", "indices", "proven", "est_sq", "level")

    def __init__(self, cs: Coreset, proven: float, est_sq: float, level: int):
        self.points = cs.points
        self.weights = cs.weights
        self.labels = cs.labels
        self.indices = cs.indices
        self.proven = proven
        self.est_sq = est_sq
        self.level = level


def _step_error(cs: Coreset) -> tuple[float, float]:
    """(proven, estimate^2) contribution of one reduce step."""
    if cs.error_kind == "proven":
        return float(cs.cs_error), 0.0
    if cs.error_kind == "estimate":
        return 0.0, float(cs.cs_error) ** 2
    return 0.0, 0.0


def _kind(kinds: set[str]) -> str:
    """Error kind of a composition of steps with these (non-exact) kinds."""
    if not kinds:
        return "exact"
    return "proven" if kinds == {"proven"} else "estimate"


class StreamingCoreset:
    """Merge-and-reduce coreset of a stream of row chunks.

    Parameters
    ----------
    size : int, default=10000
        Points per coreset in the tree (and of :meth:`coreset` when reduced).
    method : str, default="sensitivity"
        Constructor of every reduce step (see :data:`qcoreset.CONSTRUCTORS`).
    n_clusters : int, default=10
        Clusters of the bicriteria solution, for constructors that take it.
    method_params : dict or None
        Further constructor parameters.
    random_state : int, Generator or None
        Seeds every reduce step; the result is a function of the seed and the chunks.

    Attributes
    ----------
    n_seen_ : int
        Rows received so far.
    mass_ : float
        Their total weight.
    n_features_in_ : int
        Columns.
    n_chunks_ : int
        Calls of :meth:`partial_fit` with at least one row.
    n_reductions_ : int
        Reduce steps performed (chunk reductions and merges that had to shrink).
    depth_ : int
        Height of the tallest coreset in the tree (0: only chunk coresets).
    cs_error_ : float
        Composed construction error of the current summary (see the module notes), in
        the units of ``sum_p u_p ||p - x||``.
    error_kind_ : str
        ``"exact"`` (nothing was reduced), ``"proven"`` or ``"estimate"``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.random.default_rng(0).normal(size=(10000, 3))
    >>> sc = StreamingCoreset(size=500, random_state=0)
    >>> for start in range(0, 10000, 1000):
    ...     _ = sc.partial_fit(X[start:start + 1000])
    >>> cs = sc.coreset()
    >>> len(cs) <= 500 * (sc.depth_ + 2), round(float(cs.weights.sum()) / 10000, 1)
    (True, 1.0)
    """

    def __init__(self, size=10000, method="sensitivity", n_clusters=10, method_params=None,
                 random_state=None):
        self.size = size
        self.method = method
        self.n_clusters = n_clusters
        self.method_params = method_params
        self.random_state = random_state

    # ------------------------------------------------------------------------------------
    def _start(self, d: int, labelled: bool) -> None:
        self._size = check_int(self.size, "size", 1)
        self._method_params = constructor_params(self.method, self.method_params,
                                                 self.n_clusters)
        rs = self.random_state
        self._rng = rs if isinstance(rs, np.random.Generator) else np.random.default_rng(rs)
        self._levels: dict[int, _Node] = {}
        self._labelled = labelled
        self.n_seen_ = 0
        self.mass_ = 0.0
        self.n_features_in_ = d
        self.n_chunks_ = 0
        self.n_reductions_ = 0
        self.depth_ = 0
        self._kinds: set[str] = set()

    def _reduce(self, X, u, y) -> Coreset:
        seed = int(self._rng.integers(2**31 - 1))
        cs = build_coreset(X, self._size, method=self.method, y=y, sample_weight=u,
                           random_state=seed, **self._method_params)
        if cs.error_kind != "exact":
            self.n_reductions_ += 1
            self._kinds.add(cs.error_kind)
        return cs

    def partial_fit(self, X, y=None, sample_weight=None) -> StreamingCoreset:
        """Add a chunk of rows to the summary.

        Parameters
        ----------
        X : array-like of shape (n_chunk, n_features)
            Finite data; a chunk of 0 rows is ignored.
        y : array-like of shape (n_chunk,) or None
            Labels (give them for every chunk or for none).
        sample_weight : array-like of shape (n_chunk,) or None
            Row weights (default 1).

        Returns
        -------
        self

        Raises
        ------
        InputError
            For invalid data, a chunk whose columns differ from the first chunk's, or
            labels given for some chunks only.
        """
        arr = np.asarray(X) if not hasattr(X, "tocsr") else X
        if getattr(arr, "ndim", 0) == 2 and arr.shape[0] == 0:
            return self
        X = check_data(X)
        n, d = X.shape
        if not hasattr(self, "n_seen_"):
            self._start(d, y is not None)
        elif d != self.n_features_in_:
            raise InputError(
                f"this chunk has {d} columns but the first chunk had {self.n_features_in_}; "
                "every chunk needs the same columns"
            )
        if (y is not None) != self._labelled:
            raise InputError(
                "labels were given for some chunks only; pass y with every chunk or never"
            )
        u = check_sample_weight(sample_weight, n)
        labels = None if y is None else check_labels(y, n)
        cs = self._reduce(X, u, labels)
        cs.indices = np.where(cs.indices >= 0, cs.indices + self.n_seen_, -1)
        node = _Node(cs, *_step_error(cs), level=0)
        self.n_seen_ += n
        self.mass_ += float(u.sum())
        self.n_chunks_ += 1
        while node.level in self._levels:  # binary-counter carry: merge and reduce upwards
            other = self._levels.pop(node.level)
            points = np.concatenate([other.points, node.points])
            weights = np.concatenate([other.weights, node.weights])
            labels = None if node.labels is None else np.concatenate([other.labels,
                                                                       node.labels])
            indices = np.concatenate([other.indices, node.indices])
            red = self._reduce(points, weights, labels)
            red.indices = np.where(red.indices >= 0, indices[np.maximum(red.indices, 0)], -1)
            p, e2 = _step_error(red)
            node = _Node(red, other.proven + node.proven + p, other.est_sq + node.est_sq + e2,
                         level=node.level + 1)
        self._levels[node.level] = node
        self.depth_ = max(self.depth_, node.level)
        return self

    def _nodes(self) -> list[_Node]:
        if not hasattr(self, "n_seen_") or not self._levels:
            raise InputError("the stream is empty: call partial_fit with data first")
        return [self._levels[k] for k in sorted(self._levels)]

    @property
    def cs_error_(self) -> float:
        """Composed construction error of the union of the tree's coresets."""
        nodes = self._nodes()
        return float(sum(n.proven for n in nodes) + np.sqrt(sum(n.est_sq for n in nodes)))

    @property
    def error_kind_(self) -> str:
        """``"exact"``, ``"proven"`` or ``"estimate"`` (see the module notes)."""
        self._nodes()
        return _kind(self._kinds)

    def coreset(self, size: int | None = None) -> Coreset:
        """The current summary of everything seen.

        Parameters
        ----------
        size : int or None
            None: the union of the tree's coresets (at most ``size * (depth_ + 2)``
            points). An int: that union reduced once more to at most this many points
            (one more reduce step in the error).

        Returns
        -------
        Coreset
            Points, weights, labels, global row indices (-1 for synthetic points) and the
            composed ``cs_error`` / ``error_kind``.

        Raises
        ------
        InputError
            If nothing was seen yet.
        """
        nodes = self._nodes()
        points = np.concatenate([n.points for n in nodes])
        weights = np.concatenate([n.weights for n in nodes])
        labels = None if nodes[0].labels is None else np.concatenate([n.labels for n in nodes])
        indices = np.concatenate([n.indices for n in nodes])
        proven = sum(n.proven for n in nodes)
        est_sq = sum(n.est_sq for n in nodes)
        kind = self.error_kind_
        if size is not None:
            m = check_int(size, "size", 1)
            seed = int(self._rng.integers(2**31 - 1))
            red = build_coreset(points, m, method=self.method, y=labels, sample_weight=weights,
                                random_state=seed, **self._method_params)
            p, e2 = _step_error(red)
            proven, est_sq = proven + p, est_sq + e2
            if red.error_kind != "exact":
                kind = _kind(self._kinds | {red.error_kind})
            points, weights, labels = red.points, red.weights, red.labels
            indices = np.where(red.indices >= 0, indices[np.maximum(red.indices, 0)], -1)
        return Coreset(points=points, weights=weights, labels=labels, indices=indices,
                       cs_error=float(proven + np.sqrt(est_sq)), error_kind=kind)


def merge_reduce(chunks: Iterable, size: int = 10000, *, method: str = "sensitivity",
                 final_size: int | None = None, random_state=None, **params) -> Coreset:
    """Merge-and-reduce coreset of an iterable of chunks.

    Parameters
    ----------
    chunks : iterable
        Arrays ``X`` or tuples ``(X, y)`` / ``(X, y, sample_weight)``.
    size : int
        Points per coreset in the tree.
    method : str
        Constructor.
    final_size : int or None
        Reduce the union once more to this many points (see
        :meth:`StreamingCoreset.coreset`).
    random_state : int, Generator or None
    **params
        ``n_clusters`` and further constructor parameters.

    Returns
    -------
    Coreset
    """
    n_clusters = params.pop("n_clusters", 10)
    sc = StreamingCoreset(size=size, method=method, n_clusters=n_clusters,
                          method_params=params or None, random_state=random_state)
    for chunk in chunks:
        if isinstance(chunk, tuple):
            sc.partial_fit(*chunk)
        else:
            sc.partial_fit(chunk)
    return sc.coreset(final_size)


# ----------------------------------------------------------------------------------------
# .npy files in row chunks
# ----------------------------------------------------------------------------------------


def npy_info(path) -> tuple[tuple[int, ...], np.dtype, int, bool]:
    """``(shape, dtype, data offset, fortran_order)`` of a ``.npy`` file, reading its header.

    Raises
    ------
    InputError
        If the file is missing or not a readable numeric ``.npy`` array.
    """
    path = os.fspath(path)
    if not os.path.exists(path):
        raise InputError(f"input file {path!r} does not exist")
    try:
        with open(path, "rb") as fh:
            version = np.lib.format.read_magic(fh)
            if version == (1, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_1_0(fh)
            elif version == (2, 0):
                shape, fortran, dtype = np.lib.format.read_array_header_2_0(fh)
            else:
                raise ValueError(f"unsupported .npy format version {version}")
            offset = fh.tell()
    except (OSError, ValueError, EOFError) as exc:
        raise InputError(f"{path} is not a readable .npy file: {exc}") from None
    if dtype.kind not in "fiub" or dtype.hasobject:
        raise InputError(f"{path} holds {dtype} values; pass a numeric array")
    need = offset + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if os.path.getsize(path) < need:
        raise InputError(f"{path} is truncated: {os.path.getsize(path)} bytes, needs {need}")
    return tuple(int(s) for s in shape), dtype, int(offset), bool(fortran)


def default_chunk_rows(n_features: int, itemsize: int = 4) -> int:
    """Rows per chunk so that a chunk holds about 32 MB."""
    return int(max(1024, CHUNK_BYTES // max(1, n_features * itemsize)))


def iter_npy_chunks(path, start: int = 0, stop: int | None = None,
                    chunk_rows: int | None = None) -> Iterator[np.ndarray]:
    """Rows ``[start, stop)`` of a 2-D ``.npy`` file, ``chunk_rows`` at a time.

    Each chunk is read through its own memory map of just those rows and copied out, so
    the pages of the file never accumulate in the process's resident memory.

    Parameters
    ----------
    path : str or path-like
        A C-ordered 2-D ``.npy`` file.
    start, stop : int
        Row range (``stop`` None: to the end).
    chunk_rows : int or None
        Rows per chunk (default :func:`default_chunk_rows`).

    Yields
    ------
    ndarray of shape (rows, n_features)
        In the file's dtype.

    Raises
    ------
    InputError
        For a missing or unreadable file, a non-2-D or Fortran-ordered array, or a row
        range outside the file.
    """
    shape, dtype, offset, fortran = npy_info(path)
    if len(shape) != 2:
        raise InputError(
            f"{os.fspath(path)} has shape {shape}; pass a 2-D array (n_samples, n_features)"
        )
    if fortran and shape[1] > 1:
        raise InputError(
            f"{os.fspath(path)} is stored in Fortran order, which cannot be read by rows; "
            "save it with np.save(path, np.ascontiguousarray(X))"
        )
    n, d = shape
    stop = n if stop is None else stop
    if not 0 <= start <= stop <= n:
        raise InputError(f"rows [{start}, {stop}) are outside the {n} rows of {path}")
    step = default_chunk_rows(d, dtype.itemsize) if chunk_rows is None else check_int(
        chunk_rows, "chunk_rows", 1)
    row_bytes = d * dtype.itemsize
    for s in range(start, stop, step):
        e = min(stop, s + step)
        mm = np.memmap(path, dtype=dtype, mode="r", offset=offset + s * row_bytes,
                       shape=(e - s, d))
        chunk = np.array(mm)
        del mm
        yield chunk
