"""Scalar quantizers with exact bit costs and exact worst-case errors.

Each quantizer is a scikit-learn transformer: ``fit`` learns per-column parameters,
``transform`` quantizes and dequantizes (the row count never changes), ``encode``
turns rows into bits and ``decode`` turns bits back into rows. For every quantizer

* the bit cost is exact: ``encode(X)`` is ``ceil(n_bits(len(X)) / 8)`` bytes and
  ``n_bits(n) == n * value_bits_per_row_``;
* the error is bounded: ``||x - transform(x)||_2 <= row_error_bound(x)`` for every
  row, and ``row_error_bound(x) <= error_bound_`` for rows inside the fitted range;
* ``decode(encode(X), len(X))`` equals ``transform(X)`` exactly (deterministic
  quantizers; the stochastic one when given the same random state).

A column that is constant in the fitted data costs no bits per value: its value is
stored once, as float32, in the quantizer's parameters.

Registered names: ``fixed``, ``stochastic``, ``float``, ``none`` (scalar, one code per
column) and ``pca`` (transform coding: a few quantized principal-component coefficients
per row, the quantized basis in the header).
"""

from __future__ import annotations

import copy
import struct

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.exceptions import NotFittedError
from sklearn.utils import check_random_state
from sklearn.utils.validation import validate_data

from ._bitpack import bits_to_codes, codes_to_bits
from ._errors import InputError, PayloadError
from ._registry import Registry

__all__ = [
    "Quantizer",
    "FixedQuantizer",
    "StochasticQuantizer",
    "FloatQuantizer",
    "NoQuantizer",
    "ProjectionQuantizer",
    "QUANTIZERS",
    "register_quantizer",
    "get_quantizer",
]

QUANTIZERS: Registry[type[Quantizer]] = Registry("quantizer")

_F32_MAX = float(np.finfo(np.float32).max)


def _row_chunks(X, elements: int = 1 << 18, width: int | None = None):
    """(start, length) of row blocks of about ``elements`` values (2 MiB of float64) for
    rows ``width`` wide (default: ``X``'s): bounded memory, and row-wise work whose
    temporaries stay in the cache."""
    step = max(1, elements // max(1, X.shape[1] if width is None else width))
    return [(i, step) for i in range(0, X.shape[0], step)]


def _by_rows(fn, X, width: int | None = None):
    """``fn`` applied to row blocks of ``X``, the results stacked: the same numbers as one
    call on ``X`` (the work is row by row), in bounded memory and faster. ``width``: the
    widest rows the work handles, when wider than ``X``'s."""
    blocks = _row_chunks(X, width=width)
    if len(blocks) <= 1:
        return fn(X)
    return np.concatenate([fn(X[i : i + k]) for i, k in blocks])


def _check_fitted(q) -> None:
    """scikit-learn's NotFittedError unless ``q`` was fitted (a cheap attribute check: the
    planner calls fitted quantizers' methods many times)."""
    if not hasattr(q, "constant_"):
        raise NotFittedError(
            f"This {type(q).__name__} instance is not fitted yet. Call 'fit' with "
            "appropriate arguments before using this estimator."
        )


def _f32_down(v: np.ndarray) -> np.ndarray:
    """Largest float32 values <= v (as float64)."""
    r = v.astype(np.float32)
    over = r.astype(np.float64) > v
    r[over] = np.nextafter(r[over], np.float32(-np.inf))
    return r.astype(np.float64)


def _f32_up(v: np.ndarray) -> np.ndarray:
    """Smallest float32 values >= v (as float64)."""
    r = v.astype(np.float32)
    under = r.astype(np.float64) < v
    r[under] = np.nextafter(r[under], np.float32(np.inf))
    return r.astype(np.float64)


class Quantizer(TransformerMixin, BaseEstimator):
    """Base class: per-column scalar quantizer with exact bit cost and error bound.

    Subclasses implement ``_fit_columns``, ``_codes``, ``_values``,
    ``_coordinate_bounds``, ``_params_bytes`` and ``_params_from``; the base class
    handles constant columns, validation, bit packing and the scikit-learn API.

    Attributes
    ----------
    n_features_in_ : int
        Number of columns seen in ``fit``.
    constant_ : ndarray of bool, shape (n_features,)
        Columns that are constant in the fitted data; they cost no bits.
    constant_values_ : ndarray of float64, shape (n_features,)
        The float32-rounded value of each constant column (NaN elsewhere).
    bits_per_value_ : int
        Bits per non-constant value.
    value_bits_per_row_ : int
        Bits per encoded row, ``bits_per_value_ * codes_per_row_``.
    codes_per_row_ : int
        Codes per encoded row: the number of non-constant columns for the scalar
        quantizers, the rank for :class:`ProjectionQuantizer`.
    error_bound_ : float
        Worst-case ``||x - Q(x)||_2`` over rows inside the fitted range.
    """

    #: registry name, set by subclasses
    name = ""
    #: numeric id written in payload headers
    code = -1
    #: whether ``bits`` is a parameter of this quantizer
    uses_bits = True
    #: inclusive range of valid ``bits``
    bits_range = (1, 32)

    # ------------------------------------------------------------------ sklearn API
    def fit(self, X, y=None):
        """Learn the per-column parameters from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numeric data.
        y : ignored

        Returns
        -------
        self

        Raises
        ------
        InputError
            If ``bits`` is out of range or values exceed the float32 range.
        """
        X = validate_data(self, X, dtype=[np.float64, np.float32])
        self._check_bits()
        lo = X.min(axis=0).astype(np.float64)
        hi = X.max(axis=0).astype(np.float64)
        big = max(-lo.min(), hi.max())
        if big > _F32_MAX:
            raise InputError(f"values up to {big:.3g} exceed the float32 range; rescale the data")
        self.constant_ = lo == hi
        self.constant_values_ = np.where(self.constant_, lo.astype(np.float32), np.nan)
        self._lo_data, self._hi_data = lo, hi
        self._fit_columns(X, lo, hi)
        self._finish_fit(X)
        return self

    def _finish_fit(self, X=None):
        self.codes_per_row_ = self._n_codes()
        self.value_bits_per_row_ = self.bits_per_value_ * self.codes_per_row_
        if getattr(self, "_lo_data", None) is not None:
            self.error_bound_ = self._box_error_bound(self._lo_data, self._hi_data)

    def with_bits(self, bits: int) -> Quantizer:
        """This quantizer fitted to the same data at another bit depth, without the data.

        Every fitted attribute (grid, bit cost, ``error_bound_``) equals what ``fit`` on the
        original data with ``bits`` would give; used by the planner to price every bit
        depth in one pass over the data.

        Raises
        ------
        InputError
            If ``bits`` is out of range.
        """
        _check_fitted(self)
        # a shallow copy shares the bit-independent statistics; everything that depends
        # on the bit depth is recomputed (never modified in place) by _set_bits
        q = copy.copy(self)
        if self.uses_bits:
            q.bits = bits
        q._check_bits()
        q._set_bits()
        q._finish_fit()
        return q


    def _set_bits(self):
        """Derive the bit-dependent attributes from the fitted statistics."""

    def _box_error_bound(self, lo, hi) -> float:
        """Worst-case ``||x - Q(x)||_2`` over the box ``lo <= x <= hi`` of fitted ranges."""
        var = ~self.constant_
        b = np.zeros(self.constant_.size)
        b[var] = self._box_bounds(lo[var], hi[var])
        b[~var] = np.abs(lo[~var] - self.constant_values_[~var])
        return float(np.sqrt(b @ b) * (1.0 + 64 * np.finfo(np.float64).eps))

    def transform(self, X):
        """Quantize and dequantize ``X`` (same shape; values on the quantizer's grid).

        Values outside the fitted range are clipped to it.
        """
        _check_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        return self._values(self._codes(X, self._rng()))

    def encode(self, X) -> bytes:
        """Encode rows to bytes: ``n_bits(len(X))`` bits, padded to a whole byte."""
        _check_fitted(self)
        X = validate_data(self, X, dtype=[np.float64, np.float32], reset=False)
        bits = codes_to_bits(self._codes(X, self._rng()), self.bits_per_value_)
        return np.packbits(bits).tobytes()

    def decode(self, data: bytes, n_rows: int) -> np.ndarray:
        """Decode ``n_rows`` rows from bytes written by :meth:`encode`.

        Raises
        ------
        PayloadError
            If ``data`` is too short for ``n_rows`` rows.
        """
        _check_fitted(self)
        need = self.n_bits(n_rows)
        if len(data) * 8 < need:
            raise PayloadError(
                f"{len(data)} bytes hold fewer than the {need} bits of {n_rows} rows"
            )
        bits = np.unpackbits(np.frombuffer(data, dtype=np.uint8))
        return self._values(self._unpack(bits, n_rows))

    def n_bits(self, n_rows: int) -> int:
        """Exact number of bits ``encode`` spends on ``n_rows`` rows (before byte padding)."""
        _check_fitted(self)
        return int(n_rows) * self.value_bits_per_row_

    def row_error_bound(self, X) -> np.ndarray:
        """Per-row upper bound on ``||x - Q(x)||_2`` for the rows of ``X``.

        Proven for rows inside the fitted range; rows outside it are clipped, and
        their bound includes the clipping distance.
        """
        _check_fitted(self)
        return _by_rows(self._row_error_bound, np.asarray(X))

    def _row_error_bound(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        b = np.empty_like(X)
        var = ~self.constant_
        b[:, var] = self._coordinate_bounds(X[:, var])
        b[:, self.constant_] = np.abs(X[:, self.constant_] - self.constant_values_[self.constant_])
        # relative slack for the rounding of the norm itself (a few ulps)
        return np.sqrt(np.einsum("ij,ij->i", b, b)) * (1.0 + 16 * np.finfo(np.float64).eps)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.allow_nan = False
        return tags

    # ------------------------------------------------------------------ helpers
    def _check_bits(self):
        if not self.uses_bits:
            self.bits_per_value_ = 32
            return
        lo, hi = self.bits_range
        b = self.bits
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not lo <= b <= hi:
            raise InputError(
                f"bits={b!r} is out of range for the {self.name!r} quantizer; "
                f"use an integer in [{lo}, {hi}]"
            )

    def _rng(self):
        return None

    def _prepare(self, X) -> np.ndarray:
        """The part of encoding that does not depend on the bit depth: the non-constant
        columns (the coefficients for a projection). Shared by every :meth:`with_bits`
        copy, so that one preparation serves every depth. ``X`` itself (not a copy) when
        no column is constant: callers never write into it."""
        X = np.asarray(X)
        return X[:, ~self.constant_] if self.constant_.any() else X

    def _codes(self, X, rng, prepared=None) -> np.ndarray:
        """Codes of the rows, shape (n, codes_per_row_), uint64 (``prepared``: the
        :meth:`_prepare` of ``X``, when already known)."""
        return self._column_codes(self._prepare(X) if prepared is None else prepared, rng)

    def _error_rows(self, X: np.ndarray, prepared=None, out=None) -> np.ndarray:
        """``Q(x) - x`` of float64 rows, unvalidated (``prepared``: their :meth:`_prepare`;
        ``out``: a float64 array of ``X``'s shape to write into, or None).

        What :meth:`transform` would change; the planner measures every depth with it.
        """
        return np.subtract(self._values(self._codes(X, self._rng(), prepared)), X, out=out)

    def _values(self, codes: np.ndarray) -> np.ndarray:
        if not self.constant_.any():
            return np.asarray(self._column_values(codes), dtype=np.float64)
        n = codes.shape[0]
        out = np.empty((n, self.constant_.size), dtype=np.float64)
        out[:, self.constant_] = self.constant_values_[self.constant_]
        values = self._column_values(codes)
        # the non-constant columns run by run: slices, not a (slow) boolean column index
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ~self.constant_, [0]]).astype(int)))
        j = 0
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            out[:, start:stop] = values[:, j : j + stop - start]
            j += stop - start
        return out

    def _n_codes(self) -> int:
        """Codes per encoded row (one per non-constant column)."""
        return int((~self.constant_).sum())

    def _unpack(self, bits: np.ndarray, n_rows: int) -> np.ndarray:
        k = self._n_codes()
        flat = bits_to_codes(bits, n_rows * k, self.bits_per_value_)
        return flat.reshape(n_rows, k)

    # header serialisation shared by all quantizers: constant bitmap + constant values
    def _constant_bytes(self) -> bytes:
        bitmap = np.packbits(self.constant_.astype(np.uint8)).tobytes()
        vals = self.constant_values_[self.constant_].astype("<f4").tobytes()
        return bitmap + vals

    def params_bytes(self) -> bytes:
        """The fitted parameters as bytes, as stored in a payload header."""
        _check_fitted(self)
        return self._constant_bytes() + self._params_bytes()

    def params_nbytes(self) -> int:
        """Length of :meth:`params_bytes`."""
        return len(self.params_bytes())

    @classmethod
    def from_params(cls, bits: int, d: int, buf: bytes, offset: int):
        """Rebuild a fitted quantizer from header bytes; returns (quantizer, new offset).

        Raises
        ------
        PayloadError
            If the bytes are too short or inconsistent.
        """
        q = cls(bits=bits) if cls.uses_bits else cls()
        nmap = (d + 7) // 8
        if len(buf) < offset + nmap:
            raise PayloadError("header ends inside the quantizer parameters")
        bitmap = np.frombuffer(buf, dtype=np.uint8, count=nmap, offset=offset)
        const = np.unpackbits(bitmap)[:d].astype(bool)
        offset += nmap
        nconst = int(const.sum())
        if len(buf) < offset + 4 * nconst:
            raise PayloadError("header ends inside the quantizer parameters")
        vals = np.frombuffer(buf, dtype="<f4", count=nconst, offset=offset).astype(np.float64)
        offset += 4 * nconst
        q.n_features_in_ = d
        q.constant_ = const
        q.constant_values_ = np.full(d, np.nan)
        q.constant_values_[const] = vals
        q._check_bits()
        offset = q._params_from(buf, offset)
        q._finish_fit()
        # the data ranges are not in the header: only a grid-wide bound can be given
        q.error_bound_ = q._grid_error_bound()
        return q, offset

    def _grid_error_bound(self) -> float:
        """Worst-case error over the quantizer's own grid range (NaN when unbounded)."""
        return float("nan")

    # ------------------------------------------------------------------ to implement
    def _box_bounds(self, lo, hi):  # pragma: no cover - abstract
        """Per-column worst-case error for values in ``[lo, hi]`` (non-constant columns)."""
        raise NotImplementedError

    def _fit_columns(self, X, lo, hi):  # pragma: no cover - abstract
        raise NotImplementedError

    def _column_codes(self, Xv, rng):  # pragma: no cover - abstract
        raise NotImplementedError

    def _column_values(self, codes):  # pragma: no cover - abstract
        raise NotImplementedError

    def _coordinate_bounds(self, Xv):  # pragma: no cover - abstract
        raise NotImplementedError

    def _params_bytes(self) -> bytes:  # pragma: no cover - abstract
        raise NotImplementedError

    def _params_from(self, buf, offset) -> int:  # pragma: no cover - abstract
        raise NotImplementedError


class FixedQuantizer(Quantizer):
    """Per-column uniform quantizer with ``2**bits`` levels and round-to-nearest.

    Column j is mapped to the grid ``lo_j + k * step_j``, ``k = 0 .. 2**bits - 1``,
    ``step_j = (hi_j - lo_j) / (2**bits - 1)``, where ``[lo_j, hi_j]`` is the fitted
    range widened to float32 numbers. Per coordinate the error is at most
    ``step_j / 2`` (plus the rounding of the float64 arithmetic, which the stated
    bound includes), so ``||x - Q(x)||_2 <= 0.5 * sqrt(sum_j step_j**2)``.

    Parameters
    ----------
    bits : int, default=8
        Bits per value, 1 to 32.

    Attributes
    ----------
    lo_, hi_, step_ : ndarray of shape (n_features,)
        Grid of each column (as float64; ``lo_`` and ``hi_`` are float32 numbers).
    """

    name = "fixed"
    code = 1

    def __init__(self, bits: int = 8):
        self.bits = bits

    def _fit_columns(self, X, lo, hi):
        self.lo_ = np.where(self.constant_, self.constant_values_, _f32_down(lo))
        self.hi_ = np.where(self.constant_, self.constant_values_, _f32_up(hi))
        self._set_bits()


    def _set_bits(self):
        self.bits_per_value_ = int(self.bits)
        self._set_grid()

    def _set_grid(self):
        self.levels_ = (1 << self.bits_per_value_) - 1
        self.step_ = (self.hi_ - self.lo_) / self.levels_
        # rounding slack of lo + k*step in float64, made part of the stated bound
        scale = np.maximum(np.abs(self.lo_), np.abs(self.hi_))
        self._slack = 4.0 * np.spacing(np.maximum(scale, np.finfo(np.float64).tiny))

    def _scaled(self, Xv, out=None):
        """Grid positions ``clip((x - lo) / step, 0, levels)`` of the non-constant columns
        (into ``out`` when given), with those columns' ``lo`` and ``step``."""
        var = ~self.constant_
        lo, step = self.lo_[var], self.step_[var]
        t = np.subtract(Xv, lo, out=out)
        t /= step
        return np.clip(t, 0.0, float(self.levels_), out=t), lo, step

    def _column_codes(self, Xv, rng):
        t, _, _ = self._scaled(Xv)
        return np.rint(t).astype(np.uint64)

    def _column_values(self, codes):
        var = ~self.constant_
        return self.lo_[var] + codes.astype(np.float64) * self.step_[var]

    def _error_rows(self, X, prepared=None, out=None):
        # the arithmetic of _values(_codes(X)) - X, in place on one array
        var = ~self.constant_
        some_const = not var.all()
        t, lo, step = self._scaled(self._prepare(X) if prepared is None else prepared,
                                   out=None if some_const else out)
        np.rint(t, out=t)
        t *= step
        t += lo
        if not some_const:
            t -= X
            return t
        E = np.empty(X.shape) if out is None else out
        E[:, var] = t - X[:, var]
        E[:, ~var] = self.constant_values_[~var] - X[:, ~var]
        return E

    def _coordinate_bounds(self, Xv):
        var = ~self.constant_
        lo, hi = self.lo_[var], self.hi_[var]
        outside = np.maximum(lo - Xv, 0.0) + np.maximum(Xv - hi, 0.0)
        return outside + self.step_[var] / 2 + self._slack[var]

    def _box_bounds(self, lo, hi):
        var = ~self.constant_
        return self._coordinate_bounds(np.broadcast_to(self.lo_[var], (1, int(var.sum()))))[0]

    def _grid_error_bound(self) -> float:
        return self._box_error_bound(self.lo_, self.hi_)

    def _params_bytes(self) -> bytes:
        var = ~self.constant_
        return self.lo_[var].astype("<f4").tobytes() + self.hi_[var].astype("<f4").tobytes()

    def _params_from(self, buf, offset) -> int:
        var = ~self.constant_
        nvar = int(var.sum())
        if len(buf) < offset + 8 * nvar:
            raise PayloadError("header ends inside the quantizer ranges")
        lo = np.frombuffer(buf, dtype="<f4", count=nvar, offset=offset).astype(np.float64)
        hi = np.frombuffer(buf, dtype="<f4", count=nvar, offset=offset + 4 * nvar)
        hi = hi.astype(np.float64)
        if not (np.isfinite(lo).all() and np.isfinite(hi).all() and (hi > lo).all()):
            raise PayloadError("header holds an invalid quantizer range (corrupted file?)")
        self.bits_per_value_ = int(self.bits)
        self.lo_ = self.constant_values_.copy()
        self.hi_ = self.constant_values_.copy()
        self.lo_[var], self.hi_[var] = lo, hi
        self._set_grid()
        return offset + 8 * nvar


class StochasticQuantizer(FixedQuantizer):
    """Unbiased stochastic rounding on the grid of :class:`FixedQuantizer`.

    A value between two grid points rounds up with probability equal to its
    fractional position, so ``E[Q(x)] = x`` for x inside the fitted range. The error
    per coordinate is below ``step_j``, hence ``||x - Q(x)||_2 < sqrt(sum_j step_j**2)``.

    Parameters
    ----------
    bits : int, default=8
        Bits per value, 1 to 32.
    random_state : int, RandomState instance or None, default=None
        Source of the rounding randomness. With an int, every call of ``transform``
        or ``encode`` draws the same rounding for the same input.
    """

    name = "stochastic"
    code = 2

    def __init__(self, bits: int = 8, random_state=None):
        self.bits = bits
        self.random_state = random_state

    def _rng(self):
        return check_random_state(self.random_state)

    _error_rows = Quantizer._error_rows  # rounding draws from the generator

    def _column_codes(self, Xv, rng):
        t, _, _ = self._scaled(Xv)
        base = np.floor(t)
        if rng is None:
            rng = check_random_state(None)
        up = rng.random_sample(t.shape) < (t - base)
        return np.minimum(base + up, float(self.levels_)).astype(np.uint64)

    def _coordinate_bounds(self, Xv):
        var = ~self.constant_
        lo, hi = self.lo_[var], self.hi_[var]
        outside = np.maximum(lo - Xv, 0.0) + np.maximum(Xv - hi, 0.0)
        return outside + self.step_[var] + self._slack[var]

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.non_deterministic = True
        return tags


class FloatQuantizer(Quantizer):
    """Floating-point quantizer: sign, exponent and ``bits`` mantissa bits.

    A value ``x = ±m * 2**E`` (``1 <= m < 2``) keeps ``bits`` fractional bits of
    ``m`` by round-to-nearest-even, so ``|x - Q(x)| <= 2**-(bits+1) * |x|`` and
    ``||x - Q(x)||_2 <= 2**-(bits+1) * ||x||_2`` for rows inside the fitted exponent
    range. Exponents are stored relative to the smallest fitted exponent, in the
    fewest bits that cover the fitted range (exponent code 0 means the value 0).
    Values below the smallest fitted magnitude flush to zero (error ``|x|``, included
    in :meth:`row_error_bound`); values above the largest saturate.

    Parameters
    ----------
    bits : int, default=8
        Mantissa bits, 0 to 52. A value costs ``1 + exponent_bits_ + bits`` bits.

    Attributes
    ----------
    exponent_min_ : int
        Smallest exponent E of a non-zero fitted value (after rounding).
    exponent_bits_ : int
        Bits of the exponent code.
    """

    name = "float"
    code = 3
    bits_range = (0, 52)

    def __init__(self, bits: int = 8):
        self.bits = bits

    def _split(self, Xv):
        """Round to ``bits`` mantissa bits: (sign, exponent E, integer mantissa M)."""
        s = int(self.bits)
        Xv = np.asarray(Xv, dtype=np.float64)
        frac, exp = np.frexp(np.abs(Xv))  # |x| = frac * 2**exp, frac in [0.5, 1)
        mant = np.rint(np.ldexp(frac, s + 1))  # in [2**s, 2**(s+1)]
        carry = mant >= 2.0 ** (s + 1)
        mant = np.where(carry, mant / 2, mant)
        E = exp - 1 + carry
        return np.signbit(Xv), E, mant

    def _fit_columns(self, X, lo, hi):
        var = ~self.constant_
        # smallest non-zero magnitude per column: with the largest one it fixes the
        # exponent range at every mantissa width (rounding is monotone)
        minabs = np.full(int(var.sum()), np.inf)
        for i, step in _row_chunks(X):
            a = np.abs(np.asarray(X[i : i + step][:, var], dtype=np.float64))
            a[a == 0] = np.inf
            minabs = np.minimum(minabs, a.min(axis=0, initial=np.inf))
        self._minabs = minabs
        self._maxabs = np.maximum(np.abs(lo[var]), np.abs(hi[var]))
        self._set_bits()


    def _set_bits(self):
        s = int(self.bits)
        nz = np.isfinite(self._minabs) & (self._maxabs > 0)
        if nz.any():
            _, e_lo, _ = self._split(self._minabs[nz])
            _, e_hi, _ = self._split(self._maxabs[nz])
            emin, emax = int(e_lo.min()), int(e_hi.max())
        else:
            emin = emax = 0
        self.exponent_min_ = emin
        # codes 1 .. 2**e - 1 hold exponents emin .. emin + 2**e - 2; code 0 is zero
        self.exponent_bits_ = int(emax - emin + 1).bit_length()
        self.bits_per_value_ = 1 + self.exponent_bits_ + s

    def _emax(self):
        return self.exponent_min_ + (1 << self.exponent_bits_) - 2

    def _column_codes(self, Xv, rng):
        s = int(self.bits)
        sign, E, mant = self._split(Xv)
        emin, emax = self.exponent_min_, self._emax()
        zero = (Xv == 0) | (E < emin)
        over = E > emax
        mant = np.where(over, 2.0 ** (s + 1) - 1, mant)
        E = np.clip(E, emin, emax)
        ecode = np.where(zero, 0, E - emin + 1).astype(np.uint64)
        mcode = np.where(zero, 0, mant - 2.0**s).astype(np.uint64)
        scode = np.where(zero, False, sign).astype(np.uint64)
        e = self.exponent_bits_
        return (scode << np.uint64(e + s)) | (ecode << np.uint64(s)) | mcode

    def _column_values(self, codes):
        s = int(self.bits)
        e = self.exponent_bits_
        mcode = (codes & np.uint64((1 << s) - 1)).astype(np.float64)
        ecode = ((codes >> np.uint64(s)) & np.uint64((1 << e) - 1)).astype(np.int64)
        sign = (codes >> np.uint64(e + s)) & np.uint64(1)
        E = ecode - 1 + self.exponent_min_
        mag = np.ldexp(mcode + 2.0**s, E - s)
        mag = np.where(ecode == 0, 0.0, mag)
        return np.where(sign == 1, -mag, mag)

    def _coordinate_bounds(self, Xv):
        s = int(self.bits)
        ax = np.abs(Xv)
        _, E, _ = self._split(Xv)
        emin, emax = self.exponent_min_, self._emax()
        inside = np.ldexp(1.0, np.clip(E, -1074, 1023) - s - 1)  # half a mantissa step
        top = np.ldexp(2.0 - 2.0**-s, emax)  # largest magnitude on the grid
        b = np.where(E < emin, ax, np.where(E > emax, ax - top, inside))
        return np.where(Xv == 0, 0.0, b)

    def _box_bounds(self, lo, hi):
        # the bound grows with |x| above 2**emin; below it (flushed to zero) it is < 2**emin
        top = self._coordinate_bounds(np.maximum(np.abs(lo), np.abs(hi))[None, :])[0]
        near0 = np.where((lo <= 0) & (hi >= 0), 0.0, np.minimum(np.abs(lo), np.abs(hi)))
        flush = np.where(near0 < 2.0**self.exponent_min_, 2.0**self.exponent_min_, 0.0)
        return np.maximum(top, flush)

    def _params_bytes(self) -> bytes:
        return struct.pack("<hB", self.exponent_min_, self.exponent_bits_)

    def _params_from(self, buf, offset) -> int:
        if len(buf) < offset + 3:
            raise PayloadError("header ends inside the float quantizer parameters")
        self.exponent_min_, self.exponent_bits_ = struct.unpack_from("<hB", buf, offset)
        if not 1 <= self.exponent_bits_ <= 12:
            raise PayloadError("header holds an invalid exponent width (corrupted file?)")
        self.bits_per_value_ = 1 + self.exponent_bits_ + int(self.bits)
        return offset + 3


class NoQuantizer(Quantizer):
    """Baseline without quantization: values sent as IEEE float32 (32 bits each).

    The only error is float32 rounding, ``|x - Q(x)| <= 2**-24 * |x|`` for normal
    float32 magnitudes (and half the smallest subnormal below them). ``bits`` is
    not a parameter.
    """

    name = "none"
    code = 4
    uses_bits = False
    bits_range = (32, 32)

    def __init__(self):
        pass

    def _fit_columns(self, X, lo, hi):
        self._set_bits()

    def _set_bits(self):
        self.bits_per_value_ = 32

    def _column_codes(self, Xv, rng):
        v = np.clip(Xv, -_F32_MAX, _F32_MAX).astype("<f4")
        return np.ascontiguousarray(v).view("<u4").astype(np.uint64)

    def _column_values(self, codes):
        return codes.astype("<u4").view("<f4").astype(np.float64)

    def _coordinate_bounds(self, Xv):
        ax = np.abs(Xv)
        tiny = float(np.finfo(np.float32).tiny)
        inside = np.where(ax >= tiny, ax * 2.0**-24, 2.0**-150)
        return inside + np.maximum(ax - _F32_MAX, 0.0)

    def _box_bounds(self, lo, hi):
        maxabs = np.maximum(np.abs(lo), np.abs(hi))
        return np.maximum(self._coordinate_bounds(maxabs[None, :])[0], 2.0**-150)

    def _params_bytes(self) -> bytes:
        return b""

    def _params_from(self, buf, offset) -> int:
        self.bits_per_value_ = 32
        return offset


def _ridge_correct(Ftr, ytr, Fte, yte, classes) -> np.ndarray:
    """Which rows of ``Fte`` a least-squares one-vs-rest classifier fitted on ``Ftr`` gets
    right (standardised features, ridge 1e-3 of the mean eigenvalue)."""
    mu = Ftr.mean(axis=0)
    sd = Ftr.std(axis=0)
    sd[sd == 0] = 1.0
    A, B = (Ftr - mu) / sd, (Fte - mu) / sd
    Y = (ytr[:, None] == classes[None, :]).astype(np.float64)
    ym = Y.mean(axis=0)
    G = A.T @ A
    lam = 1e-3 * np.trace(G) / max(G.shape[0], 1) + 1e-12
    W = np.linalg.solve(G + lam * np.eye(G.shape[0]), A.T @ (Y - ym))
    return classes[np.argmax(B @ W + ym, axis=1)] == yte


def _rank_keeping_classes(Z, labels, vecs, ranks, n_rows: int) -> int:
    """The smallest of ``ranks`` whose projection loses no measurable linear class
    separation against the raw columns (see :class:`ProjectionQuantizer`); all of
    ``vecs``' components when none qualifies. ``Z``: centred rows, ``labels`` theirs."""
    sel = np.unique(np.linspace(0, Z.shape[0] - 1, min(Z.shape[0], n_rows)).astype(np.int64))
    Zs, ys = Z[sel], labels[sel]
    classes = np.unique(ys)
    fold = np.arange(sel.size) % 2 == 0
    if classes.size < 2 or min(fold.sum(), (~fold).sum()) < 2:
        return ranks[0]

    def correct(F):
        out = np.empty(sel.size, dtype=bool)
        out[~fold] = _ridge_correct(F[fold], ys[fold], F[~fold], ys[~fold], classes)
        out[fold] = _ridge_correct(F[~fold], ys[~fold], F[fold], ys[fold], classes)
        return out.astype(np.float64)

    raw = correct(Zs)
    for r in ranks:
        diff = correct(Zs @ vecs[:, :r]) - raw
        if diff.mean() >= -2.0 * diff.std() / np.sqrt(diff.size):
            return r
    return vecs.shape[1]


class ProjectionQuantizer(Quantizer):
    """Transform coding: quantized principal-component coefficients of each row.

    ``fit`` centres the non-constant columns on their mean ``mu`` (float32) and takes the
    leading ``rank`` eigenvectors of their covariance (estimated on at most
    ``sample_size`` evenly spaced rows). The basis ``V`` (``d_var x rank``) is quantized
    to ``basis_bits`` per entry on a per-component grid and travels in the header, as
    ``Vq``. A row ``x`` is sent as its coefficients ``c = (x - mu) @ Vq``, each on a
    per-component uniform grid of ``2**bits`` levels over the fitted range of that
    coefficient (as :class:`FixedQuantizer`), and decoded as ``mu + Q(c) @ Vq.T``. A
    row costs ``rank * bits`` bits whatever the number of columns, so at a small budget
    many more rows fit than with a scalar quantizer; the header costs about ``rank *
    d_var * basis_bits`` bits.

    The error of a row is the part of ``x - mu`` outside the span of ``Vq`` (the
    residual, exact per row) plus the rounding of the coefficients mapped back,
    ``||(c - Q(c)) @ Vq.T|| <= ||Vq||_2 * ||c - Q(c)||``; :meth:`row_error_bound` is the
    sum of both, and ``error_bound_`` its maximum over the fitted rows.

    Parameters
    ----------
    bits : int, default=3
        Bits per coefficient, 1 to 32.
    rank : int or "auto", default="auto"
        Principal components sent per row; ``"auto"``: the fewest that hold a share
        ``variance`` of the (sample's) total variance -- and, when ``fit`` is given class
        labels, that keep the classes apart (below). Capped at the number of non-constant
        columns.
    variance : float, default=0.9
        Share of the variance kept by ``rank="auto"``, in (0, 1].
    min_rank : int, default=1
        Fewest components ``rank="auto"`` keeps. For k-means with ``k`` clusters the
        planner passes ``k``: projecting on the leading ``ceil(k / eps)`` principal
        components keeps every k-clustering cost within a factor ``1 + eps`` (the
        projection-cost-preserving sketches of Feldman, Schmidt and Sohler, SODA 2013, and
        Cohen et al., STOC 2015), while fewer than ``k - 1`` components cannot even hold
        the ``k`` cluster means apart.
    basis_bits : int, default=8
        Bits per basis entry in the header, 2 to 32.
    sample_size : int, default=10000
        Rows used to estimate the covariance.

    With labels, ``rank="auto"`` also checks that the projection keeps what separates
    the classes, since a few leading components can hold most of the variance and little
    of the class structure (a curved sheet in many dimensions, say). On up to
    ``CHECK_ROWS`` evenly spaced rows of the covariance sample, split into two alternating
    folds, a least-squares one-vs-rest linear classifier (standardised features, a small
    ridge) is fitted on one fold and scored on the other, both ways, on the raw columns
    and on the projected coefficients. The rank is that of the smallest share among
    ``variance`` and ``CHECK_SHARES`` (those above ``variance``) whose paired accuracy
    difference to the raw columns is not significantly negative (mean >= -2 standard
    errors); when none qualifies, every component is kept.

    Attributes
    ----------
    rank_ : int
        Components sent per row.
    mean_ : ndarray of shape (d_var,)
        Float32 mean of the non-constant columns.
    basis_ : ndarray of shape (d_var, rank_)
        The quantized basis ``Vq`` as decoded.
    lo_, hi_, step_ : ndarray of shape (rank_,)
        Grid of each coefficient.
    explained_variance_ratio_ : float
        Share of the sample's variance in the leading ``rank_`` components (NaN after
        decoding a header).
    """

    name = "pca"
    code = 5
    #: rows of the label check of ``rank="auto"``
    CHECK_ROWS = 1000
    #: variance shares the label check tries after ``variance``
    CHECK_SHARES = (0.95, 0.99, 0.999)

    def __init__(self, bits: int = 3, rank="auto", variance: float = 0.9,
                 min_rank: int = 1, basis_bits: int = 8, sample_size: int = 10000):
        self.bits = bits
        self.rank = rank
        self.variance = variance
        self.min_rank = min_rank
        self.basis_bits = basis_bits
        self.sample_size = sample_size

    # ------------------------------------------------------------------ fitting
    def fit(self, X, y=None):
        """Learn the mean, the basis and the coefficient grid from ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None
            Class labels: with ``rank="auto"`` the rank also keeps the classes apart (see
            the class docstring). Ignored otherwise.

        Returns
        -------
        self
        """
        self._labels = None if y is None else np.asarray(y)
        try:
            return super().fit(X)
        finally:
            del self._labels

    def _check_params(self):
        r = self.rank
        if not (isinstance(r, str) and r == "auto") and (
                isinstance(r, bool) or not isinstance(r, (int, np.integer)) or r < 1):
            raise InputError(f"rank must be 'auto' or a positive integer, got {r!r}")
        v = self.variance
        if isinstance(v, bool) or not isinstance(v, (int, float, np.floating)) \
                or not 0.0 < float(v) <= 1.0:
            raise InputError(f"variance must be in (0, 1], got {v!r}")
        k = self.min_rank
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
            raise InputError(f"min_rank must be a positive integer, got {k!r}")
        b = self.basis_bits
        if isinstance(b, bool) or not isinstance(b, (int, np.integer)) or not 2 <= b <= 32:
            raise InputError(f"basis_bits={b!r} is out of range; use an integer in [2, 32]")
        s = self.sample_size
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 1:
            raise InputError(f"sample_size must be a positive integer, got {s!r}")

    def _fit_columns(self, X, lo, hi):
        self._check_params()
        labels = getattr(self, "_labels", None)
        if labels is not None and (labels.ndim != 1 or labels.shape[0] != X.shape[0]):
            raise InputError(f"y has shape {labels.shape} but X has {X.shape[0]} rows; pass "
                             "one label per row")
        var = ~self.constant_
        nvar = int(var.sum())
        n = X.shape[0]
        rows = np.unique(np.linspace(0, n - 1, min(n, int(self.sample_size))).astype(np.int64))
        mean = np.zeros(nvar)
        for i, step in _row_chunks(X):
            mean += np.asarray(X[i : i + step][:, var], dtype=np.float64).sum(axis=0)
        self.mean_ = (mean / max(n, 1)).astype(np.float32).astype(np.float64)
        Z = np.asarray(X[rows][:, var], dtype=np.float64) - self.mean_
        # scale first: covariances of values near the float range limits would overflow
        scale = float(np.abs(Z).max(initial=0.0))
        if nvar == 0 or scale == 0.0:
            vecs, lam = np.zeros((nvar, 0)), np.zeros(0)
        elif Z.shape[0] < nvar:  # eigenvectors through the smaller Gram matrix
            Zs = Z / scale
            lam, U = np.linalg.eigh(Zs @ Zs.T)
            lam, U = lam[::-1], U[:, ::-1]
            keep = lam > lam[0] * 1e-12
            lam, U = lam[keep], U[:, keep]
            vecs = (Zs.T @ U) / np.sqrt(lam)
        else:
            Zs = Z / scale
            lam, vecs = np.linalg.eigh(Zs.T @ Zs)
            lam, vecs = lam[::-1], vecs[:, ::-1]
        lam = np.clip(lam, 0.0, None)
        total = float(lam.sum())
        if isinstance(self.rank, str):
            share = np.cumsum(lam) / total if total > 0 else np.ones(lam.size)

            def rank_of(v):
                r = int(np.searchsorted(share, float(v) * (1 - 1e-12)) + 1)
                return max(r, int(self.min_rank))

            r = min(rank_of(self.variance), vecs.shape[1])
            if labels is not None and r < vecs.shape[1]:
                shares = [v for v in self.CHECK_SHARES if v > float(self.variance)]
                ranks = sorted({min(rank_of(v), vecs.shape[1]) for v in shares} | {r})
                r = _rank_keeping_classes(Z, labels[rows], vecs, ranks, self.CHECK_ROWS)
        else:
            r = int(self.rank)
        r = max(0, min(r, vecs.shape[1]))
        self.rank_ = r
        self.explained_variance_ratio_ = float(lam[:r].sum() / total) if total > 0 else 1.0
        V = vecs[:, :r]
        self._basis_lo = _f32_down(V.min(axis=0)) if r else np.zeros(0)
        self._basis_hi = _f32_up(V.max(axis=0)) if r else np.zeros(0)
        self._basis_codes = self._quantize_basis(V)
        self._set_basis()
        # coefficient ranges and the largest residual over all fitted rows
        clo, chi = np.full(r, np.inf), np.full(r, -np.inf)
        worst = 0.0
        for i, step in _row_chunks(X):
            Zc = np.asarray(X[i : i + step][:, var], dtype=np.float64) - self.mean_
            C = Zc @ self.basis_
            if r:
                clo = np.minimum(clo, C.min(axis=0))
                chi = np.maximum(chi, C.max(axis=0))
            worst = max(worst, float(self._residuals(Zc, C).max(initial=0.0)))
        self._max_residual = worst
        self.lo_ = _f32_down(clo) if r else np.zeros(0)
        self.hi_ = _f32_up(chi) if r else np.zeros(0)
        self._set_bits()

    def _quantize_basis(self, V):
        levels = (1 << int(self.basis_bits)) - 1
        span = self._basis_hi - self._basis_lo
        safe = np.where(span > 0, span, 1.0)
        return np.rint(np.clip((V - self._basis_lo) / safe * levels, 0, levels)).astype(np.uint64)

    def _set_basis(self):
        levels = (1 << int(self.basis_bits)) - 1
        step = (self._basis_hi - self._basis_lo) / levels
        self.basis_ = self._basis_lo + self._basis_codes.astype(np.float64) * step
        self._basis_norm = float(np.linalg.norm(self.basis_, 2)) if self.basis_.size else 0.0

    def _residuals(self, Z, C):
        """``||z - c @ Vq.T||`` per row (``C = Z @ Vq``)."""
        R = Z - C @ self.basis_.T
        return np.sqrt(np.einsum("ij,ij->i", R, R))

    def _set_bits(self):
        self.bits_per_value_ = int(self.bits)
        levels = (1 << self.bits_per_value_) - 1
        self.levels_ = levels
        self.step_ = (self.hi_ - self.lo_) / levels
        scale = np.maximum(np.abs(self.lo_), np.abs(self.hi_))
        self._slack = 4.0 * np.spacing(np.maximum(scale, np.finfo(np.float64).tiny))

    def _n_codes(self) -> int:
        return int(self.rank_)

    def _finish_fit(self, X=None):
        self.codes_per_row_ = self._n_codes()
        self.value_bits_per_row_ = self.bits_per_value_ * self.codes_per_row_
        if getattr(self, "_max_residual", None) is not None:
            b = float(self._bound(self._max_residual, np.zeros(self.rank_)))
            const = np.abs(self._lo_data - self.constant_values_)[self.constant_]
            self.error_bound_ = float(np.sqrt(b * b + const @ const)
                                      * (1.0 + 32 * np.finfo(np.float64).eps))

    # ------------------------------------------------------------------ coding
    def _bound(self, residual, outside):
        """Bound from residual norms and per-coefficient clipping distances."""
        b = np.asarray(outside) + self.step_ / 2 + self._slack
        q = self._basis_norm * np.sqrt(np.sum(b * b, axis=-1))
        mag = np.abs(self.mean_).sum() + 1.0
        # relative slack for the float64 arithmetic of the projection and its inverse
        return (residual + q) * (1.0 + 1e-12) + 1e-12 * mag * (1.0 + self._basis_norm)

    def _coefficients(self, Xv):
        return _by_rows(lambda B: (np.asarray(B, dtype=np.float64) - self.mean_) @ self.basis_,
                        np.asarray(Xv))

    def _prepare(self, X) -> np.ndarray:
        return self._coefficients(Quantizer._prepare(self, X))

    def _positions(self, C):
        """Grid positions ``clip((c - lo) / step, 0, levels)`` of coefficients (0 where a
        coefficient's range is a single value)."""
        t = np.subtract(C, self.lo_)
        t /= np.where(self.step_ > 0, self.step_, 1.0)
        np.clip(t, 0.0, float(self.levels_), out=t)
        if not (self.step_ > 0).all():
            t[:, self.step_ <= 0] = 0.0
        return t

    def _column_codes(self, C, rng):
        return np.rint(self._positions(C)).astype(np.uint64)

    def _coefficient_values(self, codes):
        """Dequantized coefficients of codes, shape (n, rank_)."""
        return self.lo_ + codes.astype(np.float64) * self.step_

    def _coefficient_errors(self, C):
        """``Q(c) - c`` of coefficients: the arithmetic of ``_coefficient_values(
        _column_codes(C)) - C``, in place on one array."""
        t = self._positions(C)
        np.rint(t, out=t)
        t *= self.step_
        t += self.lo_
        t -= C
        return t

    def _column_values(self, codes):
        return _by_rows(lambda c: self.mean_ + self._coefficient_values(c) @ self.basis_.T,
                        codes, width=self.basis_.shape[0])

    def row_error_bound(self, X) -> np.ndarray:
        """Per-row upper bound on ``||x - Q(x)||_2``: residual outside the basis plus
        coefficient rounding (and clipping) mapped back through the basis."""
        _check_fitted(self)
        return _by_rows(self._row_error_bound, np.asarray(X))

    def _row_error_bound(self, X) -> np.ndarray:
        X = np.asarray(X, dtype=np.float64)
        var = ~self.constant_
        Z = X[:, var] - self.mean_
        C = Z @ self.basis_
        outside = np.maximum(self.lo_ - C, 0.0) + np.maximum(C - self.hi_, 0.0)
        b = self._bound(self._residuals(Z, C), outside)
        const = np.abs(X[:, self.constant_] - self.constant_values_[self.constant_])
        return np.sqrt(b * b + np.einsum("ij,ij->i", const, const)) * (
            1.0 + 16 * np.finfo(np.float64).eps)

    def _box_bounds(self, lo, hi):  # pragma: no cover - replaced by _finish_fit
        raise NotImplementedError

    def _grid_error_bound(self) -> float:
        return float("nan")  # the residual of the data is not in the header

    # ------------------------------------------------------------------ header
    def params_nbytes(self) -> int:
        """Length of :meth:`params_bytes`, computed without packing the basis."""
        _check_fitted(self)
        d = self.constant_.size
        nvar = int((~self.constant_).sum())
        r = self.rank_
        const = (d + 7) // 8 + 4 * (d - nvar)
        return const + 5 + 4 * nvar + 16 * r + (r * nvar * int(self.basis_bits) + 7) // 8

    def _params_bytes(self) -> bytes:
        head = struct.pack("<IB", self.rank_, int(self.basis_bits))
        codes = np.packbits(codes_to_bits(self._basis_codes, int(self.basis_bits))).tobytes()
        return b"".join([
            head, self.mean_.astype("<f4").tobytes(),
            self._basis_lo.astype("<f4").tobytes(), self._basis_hi.astype("<f4").tobytes(),
            codes, self.lo_.astype("<f4").tobytes(), self.hi_.astype("<f4").tobytes(),
        ])

    def _params_from(self, buf, offset) -> int:
        def f32(count):
            nonlocal offset
            if len(buf) < offset + 4 * count:
                raise PayloadError("header ends inside the projection quantizer parameters")
            out = np.frombuffer(buf, dtype="<f4", count=count, offset=offset)
            offset += 4 * count
            return out.astype(np.float64)

        nvar = int((~self.constant_).sum())
        if len(buf) < offset + 5:
            raise PayloadError("header ends inside the projection quantizer parameters")
        r, bb = struct.unpack_from("<IB", buf, offset)
        offset += 5
        if r > nvar or not 2 <= bb <= 32:
            raise PayloadError("header holds an invalid projection rank (corrupted file?)")
        self.rank, self.basis_bits, self.rank_ = int(r), int(bb), int(r)
        self.mean_ = f32(nvar)
        self._basis_lo, self._basis_hi = f32(r), f32(r)
        nbytes = (r * nvar * bb + 7) // 8
        if len(buf) < offset + nbytes:
            raise PayloadError("header ends inside the projection basis")
        bits = np.unpackbits(np.frombuffer(buf, dtype=np.uint8, count=nbytes, offset=offset))
        self._basis_codes = bits_to_codes(bits, r * nvar, bb).reshape(nvar, r)
        offset += nbytes
        self.lo_, self.hi_ = f32(r), f32(r)
        ok = [np.isfinite(a).all() for a in (self.mean_, self._basis_lo, self._basis_hi,
                                             self.lo_, self.hi_)]
        if not all(ok) or (self.hi_ < self.lo_).any() or (self._basis_hi < self._basis_lo).any():
            raise PayloadError("header holds an invalid projection basis (corrupted file?)")
        self.explained_variance_ratio_ = float("nan")
        self._set_basis()
        self._set_bits()
        return offset


for _cls in (FixedQuantizer, StochasticQuantizer, FloatQuantizer, NoQuantizer,
             ProjectionQuantizer):
    QUANTIZERS.register(_cls.name, _cls)


def register_quantizer(name: str, cls: type[Quantizer], *, replace: bool = False) -> None:
    """Register a :class:`Quantizer` subclass under ``name``.

    The class needs a unique integer ``code`` (its id in payload headers).
    """
    QUANTIZERS.register(name, cls, replace=replace)


def get_quantizer(name: str, bits: int | None = None, **params) -> Quantizer:
    """Return an unfitted quantizer by registry name.

    Parameters
    ----------
    name : str
        One of ``QUANTIZERS.names()``.
    bits : int or None
        Bits per value (ignored by ``none``).
    **params
        Further constructor parameters (e.g. ``random_state`` for ``stochastic``).

    Raises
    ------
    InputError
        For an unknown name.
    """
    cls = QUANTIZERS.get(name)
    if cls.uses_bits and bits is not None:
        params["bits"] = bits
    return cls(**params)


def quantizer_by_code(code: int) -> type[Quantizer]:
    """The registered quantizer class with header id ``code``."""
    for _, cls in QUANTIZERS.items():
        if cls.code == code:
            return cls
    raise PayloadError(f"unknown quantizer id {code} in header (corrupted or newer file?)")
