"""Tests of qcoreset.budget: parsing bit budgets, raw sizes and their display."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from qcoreset._errors import InputError
from qcoreset.budget import format_bits, parse_budget, raw_bits

N, D = 1797, 64  # digits
RAW = 32 * N * D

UNIT_TABLE = [
    ("8e6", 8_000_000),
    ("1000", 1000),
    ("1_000", 1000),
    ("1.5e3", 1500),
    ("12.9", 12),
    ("1 bit", 1),
    ("2bits", 2),
    ("3 BITS", 3),
    ("2 kbit", 2000),
    ("1Mbit", 1_000_000),
    ("1B", 8),
    ("1.5 B", 12),
    ("3 bytes", 24),
    ("100kB", 800_000),
    ("100KB", 800_000),
    ("100 kB", 800_000),
    (" 100kB ", 800_000),
    ("1KiB", 8192),
    ("1kiB", 8192),
    ("1MB", 8_000_000),
    ("1mB", 8_000_000),
    ("1MiB", 8 * 1024**2),
    ("1GB", 8_000_000_000),
    ("1GiB", 8 * 1024**3),
    ("1TB", 8 * 1000**4),
    ("1TiB", 8 * 1024**4),
    (".5kB", 4000),
    ("1%", math.floor(RAW / 100)),
    ("50 %", RAW // 2),
    ("200%", 2 * RAW),
    ("0.01%", math.floor(Fraction(RAW) / 10_000)),
]


@pytest.mark.parametrize(("text", "bits"), UNIT_TABLE, ids=[t for t, _ in UNIT_TABLE])
def test_unit_table(text, bits):
    assert parse_budget(text, N, D) == bits


@pytest.mark.parametrize(
    ("value", "bits"),
    [(8_000_000, 8_000_000), (8e6, 8_000_000), (1, 1), (1.99, 1), (10**30, 10**30)],
    ids=["int", "float", "one", "float-floor", "huge-int"],
)
def test_numbers_are_bits(value, bits):
    assert parse_budget(value, N, D) == bits


def test_huge_integer_text_is_exact():
    assert parse_budget("123456789012345678901234567890", 1, 1) == 123456789012345678901234567890


def test_result_is_int():
    assert type(parse_budget("1.5kB", N, D)) is int
    assert type(parse_budget("3%", N, D)) is int


@given(
    n=st.integers(1, 10**6),
    d=st.integers(1, 10**4),
    hundredths=st.integers(1, 100_000),
)
def test_percent_is_floor_of_share_of_raw_bits(n, d, hundredths):
    text = f"{hundredths // 100}.{hundredths % 100:02d}%"
    expected = (32 * n * d * hundredths) // 10_000
    if expected < 1:
        with pytest.raises(InputError, match="less than 1 bit"):
            parse_budget(text, n, d)
    else:
        assert parse_budget(text, n, d) == expected


units = st.sampled_from(["", " bits", "B", "kB", "KiB", "MB", "MiB", "GB", "GiB", "%"])
amounts = st.decimals(min_value="0.001", max_value="1e6", places=3, allow_nan=False)


@given(a=amounts, b=amounts, unit=units)
def test_monotone_in_the_number(a, b, unit):
    lo, hi = sorted((a, b))
    try:
        small = parse_budget(f"{lo}{unit}", N, D)
    except InputError:  # below one bit
        return
    assert small <= parse_budget(f"{hi}{unit}", N, D)


def test_units_increase():
    order = ["1bit", "1B", "1kB", "1KiB", "1MB", "1MiB", "1GB", "1GiB"]
    bits = [parse_budget(t, N, D) for t in order]
    assert bits == sorted(bits) and len(set(bits)) == len(bits)


REJECT = [
    ("", "empty"),
    ("   ", "empty"),
    ("abc", "not a number"),
    ("1,000", "1_000"),
    ("1__000", "not a number"),
    ("-1", "positive"),
    ("-5kB", "positive"),
    ("0", "positive"),
    ("0%", "positive"),
    ("nan", "finite"),
    ("inf", "finite"),
    ("-Infinity", "finite"),
    ("1 furlong", "unknown unit"),
    ("1e", "unknown unit"),
    ("100kb", "kB"),
    ("1mb", "MB"),
    ("1Gb", "GB"),
    ("5b", "bits"),
    ("1kib", "KiB"),
    ("0.5", "less than 1 bit"),
    ("0.1B", "less than 1 bit"),
    ("0.000001%", "less than 1 bit"),
]


@pytest.mark.parametrize(("text", "words"), REJECT, ids=[repr(t) for t, _ in REJECT])
def test_rejects_with_a_one_line_message(text, words):
    with pytest.raises(InputError) as info:
        parse_budget(text, N, D)
    msg = str(info.value)
    assert words in msg
    assert "\n" not in msg
    if text.strip():
        assert repr(text) in msg  # names the value


@pytest.mark.parametrize("unit", ["kb", "mb", "gb", "b", "Kb", "Mb"])
def test_lowercase_b_is_ambiguous(unit):
    with pytest.raises(InputError, match="ambiguous"):
        parse_budget(f"10{unit}", N, D)


@pytest.mark.parametrize(
    "value", [True, None, [1], float("nan"), float("inf"), -3, 0, 0.5], ids=repr
)
def test_rejects_bad_python_values(value):
    with pytest.raises(InputError):
        parse_budget(value, N, D)


def test_percent_of_empty_shape_is_rejected():
    with pytest.raises(InputError, match="raw size"):
        parse_budget("50%", 0, 5)


def test_input_error_is_a_value_error():
    with pytest.raises(ValueError):
        parse_budget("x", N, D)


@given(n=st.integers(0, 10**7), d=st.integers(0, 10**5))
def test_raw_bits_is_float32_size(n, d):
    assert raw_bits(n, d) == 32 * n * d


@pytest.mark.parametrize("bad", [(-1, 3), (3, -1), (1.5, 2)], ids=["neg-n", "neg-d", "float"])
def test_raw_bits_rejects_bad_shapes(bad):
    with pytest.raises(InputError):
        raw_bits(*bad)


@pytest.mark.parametrize(
    ("bits", "text"),
    [
        (0, "0 bits (0 B)"),
        (1, "1 bit (0.125 B)"),
        (8, "8 bits (1 B)"),
        (100, "100 bits (12.5 B)"),
        (36_800, "36,800 bits (4.6 kB)"),
        (7_999, "7,999 bits (1 kB)"),
        (8_000_000, "8,000,000 bits (1 MB)"),
        (8 * 10**12, "8,000,000,000,000 bits (1 TB)"),
        (8 * 10**16, "80,000,000,000,000,000 bits (10000 TB)"),
    ],
    ids=lambda v: str(v),
)
def test_format_bits_examples(bits, text):
    assert format_bits(bits) == text


@given(bits=st.integers(8, 10**20))
def test_format_bits_round_trips_to_three_digits(bits):
    text = format_bits(bits)
    m = re.fullmatch(r"([\d,]+) bits \((\S+) (\S+)\)", text)
    assert m is not None
    assert int(m[1].replace(",", "")) == bits
    assert float(m[2]) < 1000 or m[3] == "TB"
    back = parse_budget(f"{m[2]}{m[3]}", 1, 1)
    assert abs(back - bits) <= 0.005 * bits + 1


def test_format_bits_rejects_negative():
    with pytest.raises(InputError):
        format_bits(-1)
