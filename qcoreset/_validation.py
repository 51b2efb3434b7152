"""Input validation shared by the public API (one place, one message style)."""

from __future__ import annotations

import numbers

import numpy as np

from ._errors import InputError

__all__ = ["check_data", "check_sample_weight", "check_labels", "check_int"]


def check_data(X, *, name: str = "X", min_samples: int = 1) -> np.ndarray:
    """Return ``X`` as a finite 2-D float32 or float64 array (no copy when already one).

    Integer and boolean arrays become float64, except 8- and 16-bit integers, which
    float32 holds exactly.

    Raises
    ------
    InputError
        For non-numeric, empty, non-2-D data or NaN/inf values.
    """
    if hasattr(X, "toarray") or hasattr(X, "tocsr"):
        raise InputError(f"{name} is a sparse matrix; pass a dense array (X.toarray())")
    try:
        arr = np.asarray(X)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{name} could not be read as an array: {exc}") from None
    if arr.dtype.kind in "iub":
        small = arr.dtype.kind == "b" or arr.dtype.itemsize <= 2
        arr = arr.astype(np.float32 if small else np.float64)
    elif arr.dtype.kind == "f":
        if arr.dtype not in (np.float32, np.float64):
            arr = arr.astype(np.float64)
    else:
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError):
            raise InputError(
                f"{name} holds non-numeric values (dtype {arr.dtype}); pass numbers only"
            ) from None
    if arr.ndim != 2:
        raise InputError(
            f"{name} must be 2-D (n_samples, n_features), got shape {arr.shape}; "
            "reshape 1-D data with X.reshape(-1, 1)"
        )
    if arr.shape[0] < min_samples:
        raise InputError(f"{name} has {arr.shape[0]} rows; at least {min_samples} needed")
    if arr.shape[1] == 0:
        raise InputError(f"{name} has no columns (shape {arr.shape})")
    # Chunked so that a large memory-mapped array is not materialised twice.
    step = max(1, (1 << 24) // max(1, arr.shape[1]))
    for start in range(0, arr.shape[0], step):
        block = arr[start : start + step]
        if not np.isfinite(block).all():
            bad = np.argwhere(~np.isfinite(block))[0]
            raise InputError(
                f"{name} contains NaN or infinite values (first at row {start + bad[0]}, "
                f"column {bad[1]}); remove or impute them first"
            )
    return arr


def check_sample_weight(sample_weight, n_samples: int) -> np.ndarray:
    """Return float64 weights of length ``n_samples`` (ones when None).

    Raises
    ------
    InputError
        For wrong length, negative, NaN/inf weights or weights that are all zero.
    """
    if sample_weight is None:
        return np.ones(n_samples, dtype=np.float64)
    try:
        w = np.asarray(sample_weight, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("sample_weight holds non-numeric values; pass numbers only") from None
    if w.ndim == 0:
        w = np.full(n_samples, float(w))
    if w.ndim != 1 or w.shape[0] != n_samples:
        raise InputError(
            f"sample_weight has shape {w.shape} but X has {n_samples} rows; "
            "pass one weight per row"
        )
    if not np.isfinite(w).all():
        raise InputError("sample_weight contains NaN or infinite values")
    if (w < 0).any():
        i = int(np.argmax(w < 0))
        raise InputError(f"sample_weight must be non-negative; row {i} has weight {w[i]:g}")
    if not w.sum() > 0:
        raise InputError("sample_weight sums to zero; at least one row needs a positive weight")
    return w


def check_labels(y, n_samples: int) -> np.ndarray:
    """Return labels as a 1-D array of length ``n_samples``.

    Raises
    ------
    InputError
        For wrong shape or length, or float labels that are NaN.
    """
    arr = np.asarray(y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr.ravel()
    if arr.ndim != 1 or arr.shape[0] != n_samples:
        raise InputError(
            f"y has shape {arr.shape} but X has {n_samples} rows; pass one label per row"
        )
    if arr.dtype.kind == "f" and not np.isfinite(arr).all():
        raise InputError("y contains NaN or infinite labels")
    if arr.dtype.kind == "O":
        arr = arr.astype(str)
    return arr


def check_int(value, name: str, low: int, high: int | None = None) -> int:
    """Return ``value`` as an int in ``[low, high]`` or raise a clear InputError."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        if isinstance(value, numbers.Real) and float(value).is_integer():
            value = int(value)
        else:
            raise InputError(f"{name} must be an integer, got {value!r}")
    value = int(value)
    if value < low or (high is not None and value > high):
        rng = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise InputError(f"{name}={value} is out of range; use a value in {rng}")
    return value
