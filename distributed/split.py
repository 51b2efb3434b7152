"""How the rows of one input are dealt to N ranks (``--split``).

Every function here is pure and seeded: all ranks compute the same assignment from the
same ``(n, labels, n_ranks, seed)``, so no rank needs to ask another which rows it holds.

``block``
    Contiguous row blocks of sizes differing by at most one (the order of the file).
``stratified``
    Every class is shuffled and dealt round robin, so each rank sees (almost) the global
    class proportions: the IID setting.
``label-skew:P``
    A row of class ``c`` goes to rank ``c mod N`` with probability ``P``, otherwise to a
    rank drawn uniformly (which may again be ``c mod N``): the non-IID setting, where ranks
    hold very different parts of the data. ``P = 0`` is a random IID split, ``P = 1`` puts
    each class on one rank.
"""

from __future__ import annotations

import numpy as np

from qcoreset._errors import InputError
from qcoreset._validation import check_int

__all__ = ["SPLITS", "parse_split", "block_range", "assign_ranks", "split_rows"]

#: split names accepted by :func:`parse_split`
SPLITS = ("block", "stratified", "label-skew")


def parse_split(text: str) -> tuple[str, float]:
    """Parse ``block``, ``stratified`` or ``label-skew:P`` into ``(name, P)``.

    Raises
    ------
    InputError
        For an unknown split or a probability outside [0, 1].

    Examples
    --------
    >>> parse_split("label-skew:0.8")
    ('label-skew', 0.8)
    """
    name, _, arg = str(text).partition(":")
    if name not in SPLITS:
        raise InputError(
            f"unknown split {text!r}; use block, stratified or label-skew:P (0 <= P <= 1)"
        )
    if name != "label-skew":
        if arg:
            raise InputError(f"split {name!r} takes no parameter, got {text!r}")
        return name, 0.0
    try:
        p = float(arg)
    except ValueError:
        raise InputError(
            f"split {text!r} needs a probability: label-skew:P with 0 <= P <= 1, e.g. "
            "label-skew:0.8"
        ) from None
    if not 0.0 <= p <= 1.0:
        raise InputError(f"label-skew probability {p} is outside [0, 1]")
    return name, p


def block_range(n: int, n_ranks: int, rank: int) -> tuple[int, int]:
    """Rows ``[start, stop)`` of ``rank`` in a block split of ``n`` rows.

    The first ``n % n_ranks`` ranks get one row more.

    Examples
    --------
    >>> [block_range(10, 4, r) for r in range(4)]
    [(0, 3), (3, 6), (6, 8), (8, 10)]
    """
    n = check_int(n, "n", 0)
    n_ranks = check_int(n_ranks, "n_ranks", 1)
    rank = check_int(rank, "rank", 0, n_ranks - 1)
    base, extra = divmod(n, n_ranks)
    start = rank * base + min(rank, extra)
    return start, start + base + (1 if rank < extra else 0)


def assign_ranks(n: int, n_ranks: int, how: str = "block", *, y=None, seed=0) -> np.ndarray:
    """Rank of every row under split ``how``.

    Parameters
    ----------
    n : int
        Rows of the input.
    n_ranks : int
        Ranks of the job.
    how : str
        ``"block"``, ``"stratified"`` or ``"label-skew:P"``.
    y : array-like of shape (n,) or None
        Class labels (required by ``stratified`` and ``label-skew``).
    seed : int
        Seed of the shuffles and draws (every rank must pass the same).

    Returns
    -------
    ndarray of shape (n,), int64

    Raises
    ------
    InputError
        For an unknown split, or a label-based split without labels.
    """
    name, p = parse_split(how)
    n = check_int(n, "n", 0)
    n_ranks = check_int(n_ranks, "n_ranks", 1)
    if name == "block":
        base, extra = divmod(n, n_ranks)
        sizes = np.full(n_ranks, base, dtype=np.int64)
        sizes[:extra] += 1
        return np.repeat(np.arange(n_ranks, dtype=np.int64), sizes)
    if y is None:
        raise InputError(
            f"split {how!r} deals rows by class but the input has no labels; use --split "
            "block, or an input with labels (.npz with y, --label-column, builtin data)"
        )
    y = np.asarray(y)
    if y.shape != (n,):
        raise InputError(f"y has shape {y.shape} but there are {n} rows")
    _, codes = np.unique(y, return_inverse=True)
    codes = codes.reshape(-1).astype(np.int64)
    rng = np.random.default_rng(seed)
    ranks = np.empty(n, dtype=np.int64)
    if name == "stratified":
        offset = 0
        for c in range(int(codes.max(initial=-1)) + 1):  # one step per class
            rows = np.flatnonzero(codes == c)
            rows = rows[rng.permutation(rows.shape[0])]
            ranks[rows] = (offset + np.arange(rows.shape[0])) % n_ranks
            offset += rows.shape[0]
        return ranks
    home = codes % n_ranks
    stay = rng.random(n) < p
    other = rng.integers(0, n_ranks, size=n)
    ranks[:] = np.where(stay, home, other)
    return ranks


def split_rows(n: int, n_ranks: int, how: str = "block", *, y=None, seed=0) -> list[np.ndarray]:
    """Row indices (sorted) of every rank under split ``how``; see :func:`assign_ranks`.

    Examples
    --------
    >>> [r.tolist() for r in split_rows(5, 2)]
    [[0, 1, 2], [3, 4]]
    """
    ranks = assign_ranks(n, n_ranks, how, y=y, seed=seed)
    order = np.argsort(ranks, kind="stable")
    bounds = np.searchsorted(ranks[order], np.arange(n_ranks + 1))
    return [order[bounds[r] : bounds[r + 1]] for r in range(n_ranks)]
