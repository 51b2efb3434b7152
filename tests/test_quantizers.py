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
    ("pca", 1), ("pca", 3), ("pca", 12),
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
    assert q.n_bits(len(X)) == len(X) * q.bits_per_value_ * q.codes_per_row_
    assert np.array_equal(q.decode(data, len(X)), T)


SCALAR = [(n, b) for n, b in CASES if n != "pca"]


@pytest.mark.parametrize(("name", "bits"), SCALAR, ids=[f"{n}-{b}" for n, b in SCALAR])
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
    assert QUANTIZERS.names() == ["fixed", "stochastic", "float", "none", "pca"]
    with pytest.raises(InputError, match="unknown quantizer"):
        get_quantizer("bogus")


@parametrize_with_checks([make(n, b) for n, b in
                          [("fixed", 8), ("stochastic", 8), ("float", 8), ("none", None),
                           ("pca", 3)]])
def test_sklearn_estimator_checks(estimator, check):
    check(estimator)


@pytest.mark.parametrize("name", ["fixed", "stochastic", "float", "none", "pca"])
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


@pytest.mark.parametrize(("name", "bits"), CASES, ids=IDS)
@settings(max_examples=25, deadline=None)
@given(X=matrices())
def test_error_rows_are_exactly_what_transform_changes(name, bits, X):
    # the planner measures every depth with _error_rows: it must be the encoder's rounding
    q = make(name, bits).fit(X)
    want = q.transform(X) - X
    prepared = q._prepare(X)
    assert np.array_equal(q._error_rows(X, prepared), want)
    out = np.full(X.shape, np.nan)
    got = q._error_rows(X, prepared, out=out)
    assert np.array_equal(got, want)
    if name == "pca":  # the planner measures its depths on the coefficients
        assert np.array_equal(q._coefficient_errors(prepared),
                              q._coefficient_values(q._column_codes(prepared, None)) - prepared)


# ---------------------------------------------------------------- projection (pca)


def low_rank(rng, n=400, d=30, r=4, noise=0.01):
    """Rows near an r-dimensional subspace, with a constant column and duplicated rows."""
    X = rng.normal(size=(n, r)) @ rng.normal(size=(r, d)) * 3.0 + noise * rng.normal(size=(n, d))
    X[:, 5] = 2.5
    X[-20:] = X[:20]
    return X


def test_pca_rank_follows_the_variance_share(rng):
    X = low_rank(rng)
    q = get_quantizer("pca", 4, variance=0.99).fit(X)
    assert q.rank_ == 4  # four directions hold all but the noise
    assert q.explained_variance_ratio_ >= 0.99
    assert q.value_bits_per_row_ == 4 * 4  # the row cost does not depend on d
    assert q.constant_[5] and (q.transform(X)[:, 5] == 2.5).all()
    small = get_quantizer("pca", 4, variance=0.3).fit(X)
    assert 1 <= small.rank_ < 4


def test_pca_error_shrinks_with_bits_and_rank(rng):
    X = low_rank(rng, noise=0.0)
    errs = []
    for bits in (2, 6, 12):
        q = get_quantizer("pca", bits, rank=4, basis_bits=16).fit(X)
        errs.append(np.linalg.norm(X - q.transform(X), axis=1).max())
    assert errs[0] > errs[1] > errs[2]
    partial = get_quantizer("pca", 12, rank=2, basis_bits=16).fit(X)
    # two of four directions leave a residual far above the rounding error
    assert np.linalg.norm(X - partial.transform(X), axis=1).mean() > 10 * errs[2]


def test_pca_payload_round_trip_and_header(rng):
    from qcoreset.payload import decode_payload, encode_payload, payload_nbytes, read_header

    X = low_rank(rng)
    q = get_quantizer("pca", 5, rank=3).fit(X)
    w = rng.uniform(1, 3, size=60)
    data = encode_payload(X[:60], w, q, n_total=400, total_weight=400.0)
    assert len(data) == payload_nbytes(d=30, m=60, quantizer=q, weight_encoding="float32",
                                       weight_bits=32)
    dec = decode_payload(data)
    assert np.array_equal(dec.points, q.transform(X[:60]))
    assert dec.header["quantizer"] == "pca" and dec.header["value_bits_per_row"] == 15
    assert dec.quantizer.rank_ == 3
    assert np.array_equal(dec.quantizer.basis_, q.basis_)
    assert read_header(data)["crc_ok"]


def test_pca_header_corruption_is_reported(rng):
    from qcoreset._errors import PayloadError
    from qcoreset.payload import decode_payload, encode_payload

    X = low_rank(rng)
    q = get_quantizer("pca", 5, rank=3).fit(X)
    data = encode_payload(X[:10], np.ones(10), q, n_total=400, total_weight=400.0)
    with pytest.raises(PayloadError):
        decode_payload(data[: len(data) // 2])


@pytest.mark.parametrize("params", [{"rank": 0}, {"rank": 2.5}, {"variance": 0.0},
                                    {"variance": 1.5}, {"basis_bits": 1},
                                    {"sample_size": 0}])
def test_pca_rejects_bad_parameters(params, rng):
    with pytest.raises(InputError):
        get_quantizer("pca", 3, **params).fit(rng.normal(size=(20, 4)))


def test_pca_on_constant_data_sends_no_bits():
    q = get_quantizer("pca", 3).fit(np.ones((10, 3)))
    assert q.rank_ == 0 and q.value_bits_per_row_ == 0
    assert np.array_equal(q.transform(np.ones((2, 3))), np.ones((2, 3)))


@pytest.mark.parametrize("basis_bits", [2, 5, 8, 13])
def test_pca_header_size_is_computed_exactly(rng, basis_bits):
    X = low_rank(rng, n=120, d=17)
    q = get_quantizer("pca", 3, basis_bits=basis_bits, rank=5).fit(X)
    assert q.params_nbytes() == len(q.params_bytes())


def test_pca_rank_keeps_what_separates_the_classes(rng):
    # two loud directions without class information and a quiet one that holds it
    n = 3000
    y = rng.choice(3, size=n, p=[0.6, 0.3, 0.1])
    Z = np.column_stack([rng.normal(0, 10, n), rng.normal(0, 8, n),
                         1.5 * y + rng.normal(0, 0.3, n)])
    X = Z @ np.linalg.qr(rng.normal(size=(12, 3)))[0].T + 0.01 * rng.normal(size=(n, 12))
    X[:, 2] = 4.0
    blind = get_quantizer("pca", 4).fit(X)
    assert blind.rank_ == 2  # 90 % of the variance without the class direction
    told = get_quantizer("pca", 4).fit(X, y)
    assert told.rank_ >= 3
    # the kept basis carries the class direction: class means stay apart after coding
    T = told.transform(X)
    means = np.array([T[y == c].mean(axis=0) for c in range(3)])
    assert np.linalg.norm(means[1] - means[0]) > 1.0
    # where the loud directions hold the classes, labels change nothing
    y2 = (Z[:, 0] > 0).astype(int)
    assert get_quantizer("pca", 4).fit(X, y2).rank_ == blind.rank_


def test_pca_rejects_labels_of_the_wrong_length(rng):
    with pytest.raises(InputError, match="one label per row"):
        get_quantizer("pca", 3).fit(rng.normal(size=(20, 4)), np.zeros(19))


def test_pca_min_rank_floors_the_automatic_rank(rng):
    X = low_rank(rng, r=4)
    assert get_quantizer("pca", 3, variance=0.5).fit(X).rank_ < 4
    q = get_quantizer("pca", 3, variance=0.5, min_rank=7).fit(X)
    assert q.rank_ == 7
    assert get_quantizer("pca", 3, min_rank=100).fit(X).rank_ == 29  # capped: d_var = 29
    with pytest.raises(InputError, match="min_rank"):
        get_quantizer("pca", 3, min_rank=0).fit(X)


@pytest.mark.parametrize("name", ["fixed", "float", "none", "pca"])
def test_decoding_places_every_column_with_several_constant_runs(name, rng):
    # decoding writes the non-constant columns run by run: constants at the edges, in runs
    X = rng.normal(size=(50, 9))
    for j, v in ((0, 1.5), (2, -3.0), (3, 0.25), (8, 7.0)):
        X[:, j] = v
    q = make(name, 4 if name in ("fixed", "pca") else (10 if name == "float" else None)).fit(X)
    codes = q._codes(X, q._rng())
    want = np.empty(X.shape)
    want[:, q.constant_] = q.constant_values_[q.constant_]
    want[:, ~q.constant_] = q._column_values(codes)
    assert q.constant_.sum() == 4
    assert np.array_equal(q._values(codes), want)
    assert np.array_equal(q.decode(q.encode(X), len(X)), want)
