"""Bit budgets: parse what a user types (``8e6``, ``100kB``, ``1MiB``, ``1%``) into bits.

Plain numbers are bits. A size suffix ending in an upper-case ``B`` means bytes; a lone
lower-case ``b`` (``kb``, ``Mb``) is rejected because it could mean bits or bytes. A
percentage is a share of the input's float32 size, :func:`raw_bits`.
"""

from __future__ import annotations

import math
import numbers
import re
from decimal import Decimal, InvalidOperation
from fractions import Fraction

from ._errors import InputError
from ._validation import check_int

__all__ = ["parse_budget", "raw_bits", "format_bits"]

# Bits per unit, keyed by the lower-cased unit. Byte units must end in an upper-case "B".
_BIT_UNITS = {
    "": 1,
    "bit": 1,
    "bits": 1,
    "kbit": 1000,
    "kbits": 1000,
    "mbit": 1000**2,
    "mbits": 1000**2,
    "gbit": 1000**3,
    "gbits": 1000**3,
    "tbit": 1000**4,
    "tbits": 1000**4,
    "byte": 8,
    "bytes": 8,
}
_BYTE_UNITS = {
    "b": 8,
    "kb": 8 * 1000,
    "kib": 8 * 1024,
    "mb": 8 * 1000**2,
    "mib": 8 * 1024**2,
    "gb": 8 * 1000**3,
    "gib": 8 * 1024**3,
    "tb": 8 * 1000**4,
    "tib": 8 * 1024**4,
}
_CANONICAL = {
    "b": "B",
    "kb": "kB",
    "kib": "KiB",
    "mb": "MB",
    "mib": "MiB",
    "gb": "GB",
    "gib": "GiB",
    "tb": "TB",
    "tib": "TiB",
}
_BYTE_WORD = {
    "b": "bytes",
    "kb": "kilobytes",
    "kib": "kibibytes",
    "mb": "megabytes",
    "mib": "mebibytes",
    "gb": "gigabytes",
    "gib": "gibibytes",
    "tb": "terabytes",
    "tib": "tebibytes",
}
_BIT_SUGGEST = {"b": "bits", "kb": "kbit", "mb": "Mbit", "gb": "Gbit", "tb": "Tbit"}
_DIGITS = r"\d+(?:_\d+)*"
_BUDGET = re.compile(
    rf"\s*(?P<num>[+-]?(?:(?:{_DIGITS}(?:\.(?:{_DIGITS})?)?|\.{_DIGITS})(?:e[+-]?\d+)?"
    r"|nan|inf(?:inity)?))\s*(?P<unit>[a-z%]*)\s*",
    re.IGNORECASE,
)
_HELP = "e.g. 8e6 (bits), 100kB, 1MiB or 1%"


def raw_bits(n_samples: int, n_features: int) -> int:
    """Size of an ``n_samples x n_features`` float32 array in bits.

    Parameters
    ----------
    n_samples, n_features : int
        Shape of the data (non-negative).

    Returns
    -------
    int
        ``32 * n_samples * n_features``.

    Raises
    ------
    InputError
        If a size is negative or not an integer.

    Examples
    --------
    >>> raw_bits(1797, 64)
    3680256
    """
    n = check_int(n_samples, "n_samples", 0)
    d = check_int(n_features, "n_features", 0)
    return 32 * n * d


def parse_budget(text: str | int | float, n_samples: int, n_features: int) -> int:
    """Turn a budget such as ``"8e6"``, ``"100 kB"``, ``"1MiB"`` or ``"1%"`` into bits.

    Parameters
    ----------
    text : str, int or float
        The budget. Numbers without a unit are bits (``8e6``, ``1000``, ``1_000``). Units:
        ``bit``/``bits``; bytes ``B``; ``kB``/``KB`` (1000 B), ``KiB`` (1024 B), ``MB``,
        ``MiB``, ``GB``, ``GiB``, ``TB``, ``TiB``; SI bit multiples ``kbit``, ``Mbit``,
        ``Gbit``, ``Tbit``.
        Whitespace between number and unit is allowed. ``P%`` is P percent of
        :func:`raw_bits` ``(n_samples, n_features)``.
    n_samples, n_features : int
        Shape of the input data; used only by percentages.

    Returns
    -------
    int
        The budget in bits, rounded down; at least 1. Budgets above the raw data size are
        allowed.

    Raises
    ------
    InputError
        For an empty, non-numeric, negative, zero, NaN or infinite budget, an unknown or
        ambiguous unit (``kb``: bits or bytes?), or a budget that rounds down to 0 bits.

    Examples
    --------
    >>> parse_budget("100kB", 1797, 64)
    800000
    >>> parse_budget("1KiB", 1797, 64)
    8192
    >>> parse_budget("1%", 1797, 64)
    36802
    """
    raw = raw_bits(n_samples, n_features)
    if isinstance(text, bool) or not isinstance(text, (str, numbers.Real)):
        raise InputError(f"budget must be a number or a string like 100kB, got {text!r}")
    if isinstance(text, numbers.Real):
        value, unit, num, shown = _number_value(text), "", repr(text), repr(text)
    else:
        shown = repr(text)
        value, num, unit = _split(text, shown)
    if value.is_nan() or value.is_infinite():
        raise InputError(f"budget {shown} is not a finite number; give a size, {_HELP}")
    if value <= 0:
        raise InputError(f"budget {shown} must be positive; give a size, {_HELP}")
    if unit == "%":
        bits = math.floor(Fraction(value) * raw / 100)
        if bits < 1:
            raise InputError(
                f"budget {shown} of the raw size ({raw} bits for {n_samples} x {n_features} "
                f"float32) is less than 1 bit; use a larger percentage or a size such as 8e6"
            )
        return bits
    bits = math.floor(Fraction(value) * _unit_bits(unit, num, shown))
    if bits < 1:
        raise InputError(f"budget {shown} is less than 1 bit; use at least 1 bit, {_HELP}")
    return bits


def format_bits(bits: int) -> str:
    """Human-readable size: the exact bit count and the size in SI bytes.

    Parameters
    ----------
    bits : int
        A non-negative number of bits.

    Returns
    -------
    str
        For example ``"36,800 bits (4.6 kB)"``.

    Raises
    ------
    InputError
        If ``bits`` is negative or not an integer.

    Examples
    --------
    >>> format_bits(36800)
    '36,800 bits (4.6 kB)'
    >>> format_bits(1)
    '1 bit (0.125 B)'
    """
    bits = check_int(bits, "bits", 0)
    size = bits / 8
    units = ("B", "kB", "MB", "GB", "TB")
    for unit in units:
        if float(f"{size:.3g}") < 1000 or unit == units[-1]:
            break
        size /= 1000
    shown = f"{size:.3g}" if size < 999.5 else f"{size:.0f}"  # no exponent beyond TB
    return f"{bits:,} bit{'' if bits == 1 else 's'} ({shown} {unit})"


def _number_value(x) -> Decimal:
    if isinstance(x, numbers.Integral):
        return Decimal(int(x))
    return Decimal(float(x))


def _split(text: str, shown: str) -> tuple[Decimal, str, str]:
    if not text.strip():
        raise InputError(f"budget is empty; give a size, {_HELP}")
    m = _BUDGET.fullmatch(text)
    if m is None:
        hint = " (write 1000 or 1_000, not 1,000)" if "," in text else ""
        raise InputError(f"budget {shown} is not a number with an optional unit{hint}; {_HELP}")
    try:
        value = Decimal(m["num"])
    except InvalidOperation:
        raise InputError(f"budget {shown} is not a valid number; {_HELP}") from None
    return value, m["num"], m["unit"]


def _unit_bits(unit: str, num: str, shown: str) -> int:
    key = unit.lower()
    if key in _BIT_UNITS:
        return _BIT_UNITS[key]
    if key in _BYTE_UNITS:
        if unit.endswith("B"):
            return _BYTE_UNITS[key]
        raise InputError(
            f"budget {shown}: unit {unit!r} is ambiguous (b could mean bits or bytes); "
            f"write {num}{_CANONICAL[key]} for {_BYTE_WORD[key]}"
            + (f" or {num} {_BIT_SUGGEST[key]} for bits" if key in _BIT_SUGGEST else "")
        )
    raise InputError(
        f"budget {shown} has unknown unit {unit!r}; "
        "use bits, B, kB, KiB, MB, MiB, GB, GiB, TB, TiB or %"
    )
