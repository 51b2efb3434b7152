"""Properties every quantizer must have: exact bit cost, bounded error, exact round trips."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from sklearn.utils.estimator_checks import parametrize_with_checks

from qcoreset._errors import InputError
from qcoreset.quantizers import QUANTIZERS, FloatQuantizer, get_quantizer

CASES = [
    ("fixed", 1), ("fixed", 3), ("fixed", 8), ("fixed", 16), ("fixed", 32),
    ("stochastic", 1), ("stochastic", 5), ("stochastic", 12),
    ("float", 0), ("float", 2), ("float", 10), ("float", 23), ("float", 52),
    ("none", None),
]
IDS = [f"{n}-{b}" for n, b in CASES]


def make(name, bits):
    params = {"random_state": 0} if name == "stochastic" else {}
    return get_quantizer(name, bits, **params)


@st.composite
def matrices(draw):
    n = draw(st.integers(1, 40))
    d = draw(st.integers(1, 6))
    scale = draw(st.sampled_from([1e-30, 1e-6, 1.0, 1e6, 1e30]))
    elems = st.floats(-1.0, 1.0, allow_nan=False, allow_subnormal=False, width=64)
    X = draw(arrays(np.float64, (n, d), elements=elems)) * scale
    offset = draw(st.sampled_from([0.0, 1.0, -1e3]))
    X = X + offset
    if d > 1 and draw(st.booleans()):
        X[:, draw(st.integers(0, d - 1))] = draw(st.floats(-1e6, 1e6))
    if n > 2 and draw(st.booleans()):
        X[-1] = X[0]
    return X


@pytest.mark.parametrize(("name", "bits"), CASES, ids=IDS)
@settings(max_examples=60, deadline=None)
@given(X=matrices())
def test_error_within_bound_and_round_trip_exact(name, bits, X):
    q = make(name, bits).fit(X)
    T = q.transform(X)
    assert T.shape == X.shape
    err = np.linalg.norm(X - T, axis=1)
    bound = q.row_error_bound(X)
    assert (err <= bound).all()
    assert (bound <= q.error_bound_).all()
    data = q.encode(X)
    assert len(data) == (q.n_bits(len(X)) + 7) // 8
    assert q.n_bits(len(X)) == len(X) * q.bits_per_value_ * int((~q.constant_).sum())
    assert np.array_equal(q.decode(data, len(X)), T)


@pytest.mark.parametrize(("name", "bits"), CASES, ids=IDS)
def test_constant_columns_cost_nothing(name, bits, rng):
    X = rng.normal(size=(50, 4))
    X[:, 1] = 0.1  # not a float32 number: stored rounded, error counted in the bound
    X[:, 3] = -7.0
    q = make(name, bits).fit(X)
    assert q.constant_.tolist() == [False, True, False, True]
    assert q.value_bits_per_row_ == 2 * q.bits_per_value_
    T = q.transform(X)
    assert (T[:, 1] == np.float32(0.1)).all() and (T[:, 3] == -7.0).all()


@pytest.mark.parametrize("name", ["fixed", "float", "none"])
def test_deterministic_quantizers_are_idempotent(name, rng):
    X = rng.normal(size=(200, 3)) * [1.0, 100.0, 1e-3]
    q = make(name, 6 if name != "none" else None).fit(X)
    T = q.transform(X)
    assert np.array_equal(q.transform(T), T)


def test_fixed_error_meets_half_step(rng):
    X = rng.uniform(-5, 5, size=(1000, 3))
    q = make("fixed", 4).fit(X)
    per_coord = np.abs(X - q.transform(X))
    assert (per_coord <= q.step_ / 2 * (1 + 1e-9)).all()
    # the bound is tight: some coordinate comes close to half a step
    assert per_coord.max() > 0.9 * (q.step_ / 2).min()


def test_float_relative_error(rng):
    X = rng.standard_cauchy(size=(500, 4))
    for s in (0, 3, 10):
        q = make("float", s).fit(X)
        rel = np.abs(X - q.transform(X)) / np.abs(X)
        assert (rel <= 2.0 ** -(s + 1)).all()


def test_stochastic_rounding_is_unbiased(rng):
    X = rng.uniform(0, 1, size=(1, 5))
    X = np.vstack([X, [[0.0] * 5], [[1.0] * 5]])
    q = get_quantizer("stochastic", 2).fit(X)
    draws = np.array([
        get_quantizer("stochastic", 2, random_state=s).fit(X).transform(X)[0]
        for s in range(3000)
    ])
    # each draw is one of two grid points step apart: std <= step/2, so 5 standard
    # errors of the mean is 5 * step / (2 * sqrt(3000))
    tol = 5 * q.step_ / (2 * np.sqrt(len(draws)))
    assert (np.abs(draws.mean(axis=0) - X[0]) <= tol).all()
    assert (np.abs(draws - X[0]) < q.step_).all()


def test_stochastic_is_reproducible_with_a_seed(rng):
    X = rng.normal(size=(30, 3))
    a = get_quantizer("stochastic", 3, random_state=7).fit(X)
    assert np.array_equal(a.transform(X), a.transform(X))
    assert np.array_equal(a.decode(a.encode(X), len(X)), a.transform(X))


def test_out_of_range_rows_are_clipped_and_bounded(rng):
    X = rng.normal(size=(100, 2))
    for name in ("fixed", "stochastic", "float", "none"):
        q = make(name, 4 if name != "none" else None).fit(X)
        far = X[:5] * 1e3
        err = np.linalg.norm(far - q.transform(far), axis=1)
        assert (err <= q.row_error_bound(far)).all()


@pytest.mark.parametrize(
    ("name", "bits"), [("fixed", 0), ("fixed", 33), ("stochastic", -1), ("float", 53),
                       ("fixed", 2.5)],
)
def test_bits_out_of_range(name, bits):
    with pytest.raises(InputError, match="out of range"):
        make(name, bits).fit(np.ones((3, 2)) * [[1], [2], [3]])


def test_rejects_values_beyond_float32():
    with pytest.raises(InputError, match="float32 range"):
        make("fixed", 4).fit(np.array([[1.0], [1e300]]))


def test_float_exponent_bits_cover_range():
    X = np.array([[1e-20], [1.0], [1e20], [0.0], [-3.0]])
    q = FloatQuantizer(bits=4).fit(X)
    # 1e-20 = 1.48 * 2**-67 and 1e20 = 1.36 * 2**66: 134 exponents + the zero code
    assert q.exponent_min_ == -67
    assert q.exponent_bits_ == 8
    assert q.bits_per_value_ == 1 + 8 + 4
    assert q.transform(X)[3, 0] == 0.0


def test_registry_lists_all():
    assert QUANTIZERS.names() == ["fixed", "stochastic", "float", "none"]
    with pytest.raises(InputError, match="unknown quantizer"):
        get_quantizer("bogus")


@parametrize_with_checks([make(n, b) for n, b in
                          [("fixed", 8), ("stochastic", 8), ("float", 8), ("none", None)]])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", ["fixed", "stochastic", "float", "none"])
@settings(max_examples=25, deadline=None)
@given(X=matrices(), bits=st.integers(1, 20))
def test_with_bits_equals_a_fresh_fit(name, X, bits):
    base = make(name, 5 if name != "none" else None).fit(X)
    fresh = make(name, bits if name != "none" else None).fit(X)
    moved = base.with_bits(bits)
    assert moved.bits_per_value_ == fresh.bits_per_value_
    assert moved.value_bits_per_row_ == fresh.value_bits_per_row_
    assert moved.params_bytes() == fresh.params_bytes()
    assert moved.error_bound_ == fresh.error_bound_
    assert np.array_equal(moved.transform(X), fresh.transform(X))
