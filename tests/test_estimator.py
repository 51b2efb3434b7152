"""QuantizedCoreset and CoresetEstimator: budgets hold, attributes are what a receiver sees."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.linear_model import LogisticRegression

from qcoreset import (
    BudgetError,
    CoresetEstimator,
    EstimatorError,
    InputError,
    PayloadError,
    QuantizedCoreset,
)
from qcoreset.constructors import CONSTRUCTORS
from qcoreset.planner import max_coreset_size
from qcoreset.quantizers import QUANTIZERS

from .conftest import hard_blobs


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(2, 300),
    d=st.integers(1, 12),
    budget=st.integers(200, 60_000),
    method=st.sampled_from(CONSTRUCTORS.names()),
    quantizer=st.sampled_from(["auto", *QUANTIZERS.names()]),
    bits=st.integers(1, 16),
    labelled=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_payload_never_exceeds_budget(n, d, budget, method, quantizer, bits, labelled, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d)) * rng.choice([1e-3, 1, 1e4], d)
    y = rng.integers(0, 3, n) if labelled else None
    qc = QuantizedCoreset(budget=budget, method=method, quantizer=quantizer, bits=bits,
                          random_state=seed)
    try:
        qc.fit(X, y)
    except BudgetError:
        return  # budget below the smallest payload: refused, nothing produced
    assert qc.payload_bits_ == 8 * len(qc.to_bytes()) <= budget
    assert 1 <= qc.size_ <= n
    assert qc.coreset_.shape == (qc.size_, d)
    assert (qc.coreset_weights_ >= 0).all()
    assert qc.size_ <= qc.max_size_
    # sampling constructors fill the planned size exactly
    if y is None and method in ("uniform", "sensitivity", "lightweight"):
        assert qc.size_ == min(qc.max_size_, n)


@settings(max_examples=200, deadline=None)
@given(budget=st.integers(0, 10**6), header=st.integers(1, 5000), row=st.integers(0, 5000))
def test_max_coreset_size_is_the_largest_that_fits(budget, header, row):
    def nbits(m):
        return 8 * (header + (m * row + 7) // 8)

    m = max_coreset_size(budget, header_bytes=header, row_bits=row)
    if nbits(0) > budget:
        assert m < 0
    elif row == 0:
        assert m > 10**12
    else:
        assert nbits(m) <= budget < nbits(m + 1)


def test_attributes_are_the_decoded_payload(rng):
    X, y = hard_blobs(rng, n=800)
    qc = QuantizedCoreset(budget="2%", random_state=0).fit(X, y)
    again = QuantizedCoreset.from_bytes(qc.to_bytes())
    assert np.array_equal(again.coreset_, qc.coreset_)
    assert np.array_equal(again.coreset_weights_, qc.coreset_weights_)
    assert again.coreset_labels_.tolist() == qc.coreset_labels_.tolist()
    assert again.error_bound_ == pytest.approx(qc.error_bound_)
    rows, labels, weights = QuantizedCoreset(budget="2%", random_state=0).fit_resample(X, y)
    assert np.array_equal(rows, qc.coreset_) and np.array_equal(weights, qc.coreset_weights_)
    assert set(labels.tolist()) <= set(y.tolist())


def test_deterministic_for_a_seed(rng):
    X, y = hard_blobs(rng, n=600)
    for method in CONSTRUCTORS.names():
        a = QuantizedCoreset(budget="3%", method=method, random_state=5).fit(X, y).to_bytes()
        b = QuantizedCoreset(budget="3%", method=method, random_state=5).fit(X, y).to_bytes()
        assert a == b, method


def test_error_bound_parts(rng):
    X, _ = hard_blobs(rng, n=600)
    qc = QuantizedCoreset(budget="5%", method="rcc", bits=6, random_state=0).fit(X)
    assert qc.error_kind_ == "proven"
    assert qc.error_bound_ == pytest.approx(qc.cs_error_ + qc.quantization_error_)
    # the quantization term bounds the real rounding of the rows that were sent
    assert qc.quantization_error_ >= 0


def test_budget_above_raw_size_sends_everything(rng):
    X = rng.normal(size=(40, 3))
    qc = QuantizedCoreset(budget="200%", quantizer="none", random_state=0).fit(X)
    assert qc.sent_all_ and qc.size_ == 40 and qc.cs_error_ == 0
    assert np.allclose(qc.coreset_, X, rtol=1e-6)
    assert np.array_equal(qc.coreset_weights_, np.ones(40))


def test_sample_weight_is_carried(rng):
    X = rng.normal(size=(500, 3))
    w = rng.integers(0, 4, 500).astype(float)
    qc = QuantizedCoreset(budget="100%", method="rcc", random_state=0).fit(X, sample_weight=w)
    assert qc.coreset_weights_.sum() == pytest.approx(w.sum())


def test_kmeans_on_coreset_close_to_full(rng):
    X, _ = hard_blobs(rng, n=3000, d=6)
    full = KMeans(4, n_init=3, random_state=0).fit(X)
    est = CoresetEstimator(KMeans(4, n_init=3, random_state=0),
                           QuantizedCoreset(budget="5%", random_state=0)).fit(X)
    assert est.reducer_.payload_bits_ <= est.reducer_.budget_bits_
    cost_core = -est.score(X)
    cost_full = -full.score(X)
    assert cost_core <= 1.10 * cost_full


def test_classifier_on_coreset(rng):
    X, y = hard_blobs(rng, n=2000)
    est = CoresetEstimator(LogisticRegression(max_iter=500),
                           QuantizedCoreset(budget="5%", random_state=0)).fit(X, y)
    assert est.score(X, y) > 0.9
    assert set(est.classes_) <= set(np.unique(y))


def test_estimator_without_sample_weight_is_refused(rng):
    with pytest.raises(EstimatorError, match="sample_weight"):
        CoresetEstimator(PCA(2)).fit(rng.normal(size=(50, 3)))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"budget": 10}, BudgetError, "raise --budget to at least"),
        ({"budget": "50%", "size": 10_000}, InputError, "out of range"),
        ({"budget": 2000, "size": 150}, BudgetError, "does not fit"),
        ({"budget": "50%", "bits": 40}, InputError, "bits=40"),
        ({"method": "nope"}, InputError, "unknown constructor"),
        ({"quantizer": "nope"}, InputError, "unknown quantizer"),
        ({"budget": "lots"}, InputError, "budget"),
        ({"size": "big"}, InputError, "size"),
    ],
    ids=["tiny-budget", "size>n", "size-too-big-for-budget", "bits", "method", "quantizer",
         "budget-text", "size-text"],
)
def test_bad_parameters(rng, kwargs, error, match):
    X = rng.normal(size=(200, 4))
    with pytest.raises(error, match=match):
        QuantizedCoreset(**kwargs).fit(X)


@pytest.mark.parametrize(
    ("X", "kw", "match"),
    [
        (np.array([[1.0, np.nan]]), {}, "NaN"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), {}, "NaN or infinite"),
        (np.ones(5), {}, "2-D"),
        (np.ones((0, 3)), {}, "rows"),
        (np.ones((4, 2)), {"sample_weight": [1, 1, -1, 1]}, "non-negative"),
        (np.ones((4, 2)), {"sample_weight": [1, 1, 1]}, "one weight per row"),
        (np.ones((4, 2)), {"sample_weight": [1, np.nan, 1, 1]}, "NaN"),
        (np.ones((4, 2)), {"y": [1, 2]}, "one label per row"),
        (np.ones((4, 2)), {"y": [0.5, 1.5, 2.0, 3.0]}, "class labels"),
    ],
    ids=["nan", "inf", "1d", "empty", "neg-weight", "weight-length", "nan-weight", "y-length",
         "continuous-y"],
)
def test_bad_data(X, kw, match):
    with pytest.raises(InputError, match=match):
        QuantizedCoreset(budget=10_000).fit(X, **kw)


def test_from_bytes_rejects_garbage():
    with pytest.raises(PayloadError):
        QuantizedCoreset.from_bytes(b"not a payload")


@pytest.mark.parametrize("labelled", [False, True])
def test_refined_weights_fit_the_budget_and_the_data(rng, labelled):
    from .conftest import hard_blobs

    X, y = hard_blobs(rng, n=3000, d=5)
    y = y if labelled else None
    kw = dict(budget="3%", method="sensitivity", random_state=0)
    base = QuantizedCoreset(**kw).fit(X, y)
    ref = QuantizedCoreset(refine_weights=True, **kw).fit(X, y)
    assert ref.payload_bits_ <= ref.budget_bits_
    assert (ref.size_, ref.bits_) == (base.size_, base.bits_)
    np.testing.assert_array_equal(ref.coreset_, base.coreset_)  # same rows, new weights
    assert (ref.coreset_weights_ >= 0).all()
    # the QP matches the total mass better than the sampling weights do
    assert abs(ref.coreset_weights_.sum() - len(X)) <= abs(base.coreset_weights_.sum() - len(X))
    assert QuantizedCoreset.from_bytes(ref.payload_).coreset_weights_.tolist() == \
        ref.coreset_weights_.tolist()


def test_refine_weights_needs_real_weights(rng):
    X = rng.normal(size=(300, 3))
    with pytest.raises(InputError, match="real-valued weights"):
        QuantizedCoreset(method="uniform", refine_weights=True).fit(X)
    with pytest.raises(InputError, match="refine_weights must be"):
        QuantizedCoreset(refine_weights="yes").fit(X)


def test_auto_method_depends_on_labels(rng):
    X, y = hard_blobs(rng, n=3000, d=5)
    unlabelled = QuantizedCoreset(budget="3%", random_state=0).fit(X)
    labelled = QuantizedCoreset(budget="3%", random_state=0).fit(X, y)
    assert unlabelled.method_ == "sensitivity" and labelled.method_ == "uniform"
    assert QuantizedCoreset.from_bytes(labelled.payload_).method_ == "uniform"
    # uniform per class: one weight per class, so no weight bits per row
    for c in np.unique(labelled.coreset_labels_):
        wc = labelled.coreset_weights_[labelled.coreset_labels_ == c]
        assert np.ptp(wc) == 0
    assert labelled.payload_bits_ <= labelled.budget_bits_
    # the same as naming the constructors
    for qc, name, yy in ((unlabelled, "sensitivity", None), (labelled, "uniform", y)):
        named = QuantizedCoreset(budget="3%", method=name, random_state=0).fit(X, yy)
        assert named.payload_ == qc.payload_
    # and the planner resolves "auto" the same way
    from qcoreset.planner import plan

    assert plan(X, "3%", y=y, random_state=0).method == "uniform"
    assert plan(X, "3%", random_state=0).method == "sensitivity"
    explicit = QuantizedCoreset(budget="3%", method="sensitivity", random_state=0).fit(X, y)
    assert explicit.method_ == "sensitivity"


def test_auto_quantizer_sends_principal_components_of_low_rank_data(rng):
    # 2 directions in 60 columns (plus noise, a constant column and duplicated rows): a few
    # coefficients per row carry almost everything, so many more rows fit the budget
    Z = rng.normal(size=(3000, 2)) * [5.0, 3.0]
    Z[:600] += 12.0  # an imbalanced second cluster
    X = Z @ rng.normal(size=(2, 60)) + 0.05 * rng.normal(size=(3000, 60))
    X[:, 7] = 1.0
    X[-50:] = X[:50]
    qc = QuantizedCoreset(budget="1%", n_clusters=4, random_state=0).fit(X)
    assert qc.quantizer_.name == "pca" and qc.plan_.quantizer == "pca"
    # 2 directions hold the variance; the rank is floored at the planner's 4 clusters
    assert qc.header_["rank"] == qc.quantizer_.rank_ == 4
    assert qc.payload_bits_ <= qc.budget_bits_
    fixed = QuantizedCoreset(budget="1%", quantizer="fixed", n_clusters=4,
                             random_state=0).fit(X)
    assert qc.size_ > 3 * fixed.size_
    # the receiver's rows are close to the data: k-means cost within a few percent
    from sklearn.cluster import KMeans

    full = KMeans(2, n_init=3, random_state=0).fit(X)
    core = KMeans(2, n_init=3, random_state=0).fit(qc.coreset_,
                                                   sample_weight=qc.coreset_weights_)
    assert -core.score(X) <= 1.05 * -full.score(X)
    again = QuantizedCoreset.from_bytes(qc.to_bytes())
    assert np.array_equal(again.coreset_, qc.coreset_)
