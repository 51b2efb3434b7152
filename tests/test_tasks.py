"""Downstream tasks: conformance of every task, weight semantics, backends, errors."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.cluster import KMeans
from sklearn.datasets import load_digits
from sklearn.decomposition import PCA
from sklearn.metrics import hinge_loss, log_loss
from sklearn.neural_network import MLPClassifier
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC

import qcoreset.tasks as tasks_mod
from qcoreset._errors import InputError
from qcoreset.tasks import (
    TASKS,
    DigitalBackend,
    KMeansTask,
    LinearSVM,
    Task,
    TaskResult,
    WeightedPCA,
    evaluate_task,
    get_task,
    register_task,
    replication_counts,
)

from .conftest import hard_blobs

# Small, fast parameters per task; the conformance suite runs every registered task.
FAST = {
    "kmeans": {"n_clusters": 3},
    "pca": {"n_components": 2},
    "svm": {},
    "logreg": {"C": 1.0},
    "mlp": {"hidden_layer_sizes": (16,), "max_iter": 40},
}
CLASSIFIERS = [name for name in FAST if get_task(name).needs_labels]


class NoisyBackend:
    """Digital products plus Gaussian noise of ``scale`` x the output's std."""

    name = "noisy"

    def __init__(self, scale=0.5, seed=0):
        self.scale = scale
        self.rng = np.random.default_rng(seed)
        self.stats = {"calls": 0}

    def linear(self, W, b, X):
        self.stats["calls"] += 1
        out = DigitalBackend().linear(W, b, X)
        return out + self.rng.normal(scale=self.scale * (out.std() + 1e-12), size=out.shape)


class CountingBackend(DigitalBackend):
    """The digital backend, counting calls and the rows it multiplied."""

    name = "counting"

    def __init__(self):
        super().__init__()
        self.stats = {"calls": 0, "rows": 0}

    def linear(self, W, b, X):
        self.stats["calls"] += 1
        self.stats["rows"] += len(X)
        return super().linear(W, b, X)


@pytest.fixture(scope="module")
def blobs():
    """Hard synthetic data (imbalance, outliers, constant column, duplicates), split."""
    rng = np.random.default_rng(7)
    X, y = hard_blobs(rng, n=900, d=5)
    perm = rng.permutation(len(X))
    tr, te = perm[:600], perm[600:]
    return X[tr], y[tr], X[te], y[te]


@pytest.fixture(scope="module")
def digits():
    """scikit-learn's bundled digits, a fixed train/test split."""
    X, y = load_digits(return_X_y=True)
    perm = np.random.default_rng(3).permutation(len(X))
    tr, te = perm[:1200], perm[1200:]
    return X[tr], y[tr], X[te], y[te]


def _eval_data(task, data):
    X_tr, y_tr, X_te, y_te = data
    return (X_te, y_te) if task.needs_labels else (X_tr, None)


# --------------------------------------------------------------------------------------
# Conformance: every registered task
# --------------------------------------------------------------------------------------


def test_registry_holds_the_five_tasks():
    assert TASKS.names() == ["kmeans", "pca", "svm", "logreg", "mlp"]
    assert set(FAST) == set(TASKS.names())


@pytest.mark.parametrize("name", TASKS.names(), ids=TASKS.names())
def test_task_conformance(name, blobs):
    task = get_task(name, **FAST[name])
    assert isinstance(task, Task) and task.name == name
    assert task.kind in ("cost", "accuracy") and task.metric
    assert task.needs_labels == (task.kind == "accuracy")
    X_tr, y_tr, _, _ = blobs
    model = task.fit(X_tr, y_tr, random_state=0)
    X_ev, y_ev = _eval_data(task, blobs)
    value = task.score(model, X_ev, y_ev)
    extras = task.extra_scores(model, X_ev, y_ev)
    assert np.isfinite(value) and isinstance(value, float)
    assert all(isinstance(v, float) and np.isfinite(v) for v in extras.values())
    assert task.evaluate(model, X_ev, y_ev) == (value, extras)
    if task.kind == "accuracy":
        assert 0.0 <= value <= 1.0
    else:
        assert value >= 0.0
    # Seeded fits are reproducible.
    again = task.fit(X_tr, y_tr, random_state=0)
    assert task.score(again, X_ev, y_ev) == value
    assert isinstance(task.converged(model), bool)
    # The model's feature count is checked.
    with pytest.raises(InputError, match="features"):
        task.score(model, X_ev[:, :-1], y_ev)
    # Unknown parameters are named.
    with pytest.raises(InputError, match="unknown parameter 'bogus'"):
        get_task(name, bogus=1)


@pytest.mark.parametrize("name", TASKS.names(), ids=TASKS.names())
def test_full_data_as_coreset_is_neutral(name, blobs):
    X_tr, y_tr, X_te, y_te = blobs
    task = get_task(name, **FAST[name])
    res = evaluate_task(task, (X_tr, y_tr, np.ones(len(X_tr))), X_tr, y_tr, X_te, y_te,
                        random_state=1)
    assert isinstance(res, TaskResult)
    assert (res.task, res.metric, res.kind) == (name, task.metric, task.kind)
    if task.kind == "cost":
        assert res.degradation is None
        assert res.normalized_cost == pytest.approx(1.0, rel=1e-9)
    else:
        assert res.normalized_cost is None
        assert res.degradation == pytest.approx(0.0, abs=1e-12)
    assert res.seconds > 0
    assert res.extras["backend"] == "digital"
    assert res.extras["coreset_rows"] == len(X_tr)
    json.dumps(res.to_dict())


@pytest.mark.parametrize("name", TASKS.names(), ids=TASKS.names())
def test_uniform_subsample_is_no_better_and_bounded(name, digits):
    X_tr, y_tr, X_te, y_te = digits
    rng = np.random.default_rng(11)
    m = int(0.3 * len(X_tr))
    idx = rng.choice(len(X_tr), m, replace=False)
    params = {"kmeans": {"n_clusters": 10}, "pca": {"n_components": 10}}.get(name, FAST[name])
    task = get_task(name, **params)
    res = evaluate_task(task, (X_tr[idx], y_tr[idx], np.full(m, len(X_tr) / m)),
                        X_tr, y_tr, X_te, y_te, random_state=0)
    assert res.extras["coreset_weight"] == pytest.approx(len(X_tr))
    if name == "pca":
        # The full-data PCA minimises the full-data reconstruction error exactly.
        assert 1.0 - 1e-9 <= res.normalized_cost <= 1.2
    elif name == "kmeans":
        # k-means optima are local: allow a little luck either way.
        assert 0.97 <= res.normalized_cost <= 1.2
    else:
        assert -0.03 <= res.degradation <= 0.15


def test_evaluate_task_reuses_full_model(digits):
    X_tr, y_tr, X_te, y_te = digits
    task = get_task("logreg", C=0.1)
    idx = np.arange(0, len(X_tr), 4)
    core = (X_tr[idx], y_tr[idx], np.full(len(idx), 4.0))
    fresh = evaluate_task(task, core, X_tr, y_tr, X_te, y_te, random_state=0)
    full = task.fit(X_tr, y_tr, random_state=0)
    reused = evaluate_task(task, core, X_tr, None, X_te, y_te, full_model=full,
                           random_state=0)
    assert "full_fit_seconds" in fresh.extras and "full_fit_seconds" not in reused.extras
    assert reused.full_value == fresh.full_value
    assert reused.degradation == fresh.degradation
    assert reused.extras["full_log_loss"] == fresh.extras["full_log_loss"]


def test_evaluate_task_accepts_a_coreset_object(blobs):
    from qcoreset import build_coreset

    X_tr, _, _, _ = blobs
    cs = build_coreset(X_tr, 120, method="uniform", random_state=0)
    res = evaluate_task(get_task("pca", n_components=2), cs, X_tr, random_state=0)
    assert res.extras["coreset_rows"] == len(cs)
    assert res.normalized_cost >= 1.0 - 1e-9


# --------------------------------------------------------------------------------------
# The digital backend reproduces scikit-learn; every product goes through the backend
# --------------------------------------------------------------------------------------


@settings(max_examples=40, deadline=None)
@given(
    n=st.integers(1, 40), d_in=st.integers(1, 9), d_out=st.integers(1, 6),
    bias=st.booleans(), f32=st.booleans(), seed=st.integers(0, 2**16),
)
def test_digital_linear_is_x_wt_plus_b(n, d_in, d_out, bias, f32, seed):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, d_in)).astype(np.float32 if f32 else np.float64)
    W = rng.normal(size=(d_out, d_in))
    b = rng.normal(size=d_out) if bias else None
    out = DigitalBackend().linear(W, b, X)
    expected = X.astype(np.float64) @ W.T + (0.0 if b is None else b)
    assert out.dtype == np.float64 and out.shape == (n, d_out)
    np.testing.assert_allclose(out, expected, rtol=1e-12, atol=1e-12)


def test_digital_linear_in_blocks_equals_one_product(monkeypatch, rng):
    X = rng.normal(size=(257, 13))
    W, b = rng.normal(size=(3, 13)), rng.normal(size=3)
    whole = DigitalBackend().linear(W, b, X)
    monkeypatch.setattr(tasks_mod, "_BLOCK_ELEMENTS", 40)
    np.testing.assert_allclose(DigitalBackend().linear(W, b, X), whole, rtol=1e-14)


def test_digital_linear_rejects_mismatched_shapes(rng):
    backend = DigitalBackend()
    assert backend.name == "digital" and backend.stats == {"mvm_count": 0, "macs": 0}
    with pytest.raises(InputError, match="n_in"):
        backend.linear(np.ones((2, 3)), None, np.ones((4, 2)))
    with pytest.raises(InputError, match="bias"):
        backend.linear(np.ones((2, 3)), np.ones(3), np.ones((4, 3)))


def test_kmeans_assignment_equals_sklearn_predict(blobs):
    X_tr, _, X_te, _ = blobs
    task = get_task("kmeans", n_clusters=4)
    model = task.fit(X_tr, random_state=0)
    assert isinstance(model, KMeans)
    labels = KMeansTask.assign(model, X_te, DigitalBackend())
    np.testing.assert_array_equal(labels, model.predict(X_te))
    cost = task.score(model, X_te)
    assert cost == pytest.approx(-model.score(X_te) / len(X_te), rel=1e-9)


def test_pca_score_equals_inverse_transform_error(digits):
    X_tr, _, X_te, _ = digits
    task = get_task("pca", n_components=5)
    model = task.fit(X_tr)
    err = np.mean(np.sum((X_te - model.inverse_transform(model.transform(X_te))) ** 2, 1))
    assert task.score(model, X_te) == pytest.approx(err, rel=1e-10)


@pytest.mark.parametrize("name", CLASSIFIERS, ids=CLASSIFIERS)
def test_classifier_scores_equal_sklearn(name, digits):
    X_tr, y_tr, X_te, y_te = digits
    task = get_task(name, **FAST[name])
    model = task.fit(X_tr, y_tr, random_state=0)
    value, extras = task.evaluate(model, X_te, y_te)
    assert value == pytest.approx(model.score(X_te, y_te), abs=1e-15)
    clf = model[-1]
    if name == "svm":
        decision = model.decision_function(X_te)
        assert extras["hinge_loss"] == pytest.approx(
            hinge_loss(y_te, decision, labels=clf.classes_), rel=1e-9)
    else:
        assert extras["log_loss"] == pytest.approx(
            log_loss(y_te, model.predict_proba(X_te), labels=clf.classes_), rel=1e-6)


@pytest.mark.parametrize("name", CLASSIFIERS, ids=CLASSIFIERS)
def test_binary_classifiers_equal_sklearn(name, digits):
    X_tr, y_tr, X_te, y_te = digits
    tr, te = y_tr < 2, y_te < 2
    labels = np.array(["zero", "one"])
    task = get_task(name, **FAST[name])
    model = task.fit(X_tr[tr], labels[y_tr[tr]], random_state=0)
    value, extras = task.evaluate(model, X_te[te], labels[y_te[te]])
    assert value == pytest.approx(model.score(X_te[te], labels[y_te[te]]), abs=1e-15)
    if name == "svm":
        decision = model.decision_function(X_te[te])
        assert extras["hinge_loss"] == pytest.approx(
            hinge_loss(labels[y_te[te]], decision, labels=model[-1].classes_), rel=1e-9)
    else:
        assert extras["log_loss"] == pytest.approx(
            log_loss(labels[y_te[te]], model.predict_proba(X_te[te])), rel=1e-6)


@pytest.mark.parametrize("name", TASKS.names(), ids=TASKS.names())
def test_all_products_go_through_the_backend(name, blobs):
    task = get_task(name, **FAST[name])
    X_tr, y_tr, _, _ = blobs
    X_ev, y_ev = _eval_data(task, blobs)
    model = task.fit(X_tr, y_tr, random_state=0)
    counting = CountingBackend()
    assert task.evaluate(model, X_ev, y_ev, backend=counting) == task.evaluate(
        model, X_ev, y_ev)
    layers = len(model[-1].coefs_) if name == "mlp" else 1
    assert counting.stats["calls"] == layers
    assert counting.stats["rows"] == counting.stats["mvm_count"] == layers * len(X_ev)
    noisy = NoisyBackend(scale=2.0)
    assert task.score(model, X_ev, y_ev, backend=noisy) != task.score(model, X_ev, y_ev)
    assert noisy.stats["calls"] == layers


def test_noisy_backend_is_used_for_both_models(blobs):
    X_tr, y_tr, X_te, y_te = blobs
    counting = CountingBackend()
    res = evaluate_task("svm", (X_tr[::3], y_tr[::3], None), X_tr, y_tr, X_te, y_te,
                        backend=counting, random_state=0)
    assert counting.stats["calls"] == 2 and res.extras["backend"] == "counting"


# --------------------------------------------------------------------------------------
# sample_weight semantics: integer weights equal repeated rows
# --------------------------------------------------------------------------------------


def _repeat(rng, X, y, max_count=4):
    counts = rng.integers(0, max_count + 1, size=len(X))
    counts[:2] = 1  # keep at least two rows
    rep = np.repeat(np.arange(len(X)), counts)
    return counts.astype(float), X[rep], None if y is None else y[rep]


def test_kmeans_integer_weights_equal_repetition(rng):
    centres = np.array([[0.0, 0.0], [20.0, 0.0], [0.0, 20.0]])
    X = np.repeat(centres, 60, axis=0) + rng.normal(size=(180, 2))
    w, Xr, _ = _repeat(rng, X, None)
    task = get_task("kmeans", n_clusters=3, tol=0.0)
    a = task.fit(X, sample_weight=w, random_state=0).cluster_centers_
    b = task.fit(Xr, random_state=0).cluster_centers_
    order = lambda C: C[np.lexsort(C.T)]  # noqa: E731
    np.testing.assert_allclose(order(a), order(b), rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("shape", [(60, 5), (8, 20)], ids=["tall-eigh", "wide-svd"])
def test_weighted_pca_integer_weights_equal_repetition(shape, rng):
    X = rng.normal(size=shape) * np.linspace(1, 5, shape[1])
    w, Xr, _ = _repeat(rng, X, None)
    r = min(3, shape[1])
    a = WeightedPCA(n_components=r).fit(X, sample_weight=w)
    b = WeightedPCA(n_components=r).fit(Xr)
    np.testing.assert_allclose(a.mean_, b.mean_, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(a.explained_variance_, b.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(a.components_, b.components_, atol=1e-8)


@pytest.mark.parametrize("shape", [(200, 6), (12, 30)], ids=["tall-eigh", "wide-svd"])
def test_weighted_pca_with_unit_weights_is_sklearn_pca(shape, rng):
    X = rng.normal(size=shape) @ rng.normal(size=(shape[1], shape[1])) + 4.0
    r = 4
    ours = WeightedPCA(n_components=r).fit(X)
    ref = PCA(n_components=r, svd_solver="full").fit(X)
    np.testing.assert_allclose(ours.mean_, ref.mean_, rtol=1e-12)
    np.testing.assert_allclose(ours.explained_variance_, ref.explained_variance_, rtol=1e-9)
    np.testing.assert_allclose(ours.explained_variance_ratio_, ref.explained_variance_ratio_,
                               rtol=1e-9)
    signs = np.sign(np.sum(ours.components_ * ref.components_, axis=1))
    np.testing.assert_allclose(ours.components_, signs[:, None] * ref.components_, atol=1e-8)
    np.testing.assert_allclose(ours.transform(X), signs * ref.transform(X), atol=1e-8)


def test_weighted_pca_handles_constant_column_and_duplicates(blobs):
    X_tr, _, _, _ = blobs
    pca = WeightedPCA(n_components=5).fit(X_tr)  # rank 4: the last column is constant
    assert pca.explained_variance_[-1] == pytest.approx(0.0, abs=1e-9 * pca.explained_variance_[0])
    np.testing.assert_allclose(pca.components_ @ pca.components_.T, np.eye(5), atol=1e-10)
    np.testing.assert_allclose(pca.inverse_transform(pca.transform(X_tr)), X_tr, atol=1e-8)


@pytest.mark.parametrize("name", ["logreg", "svm"], ids=["logreg", "svm"])
def test_linear_classifiers_integer_weights_close_to_repetition(name, rng, digits):
    X_tr, y_tr, _, _ = digits
    X, y = X_tr[:300], y_tr[:300]
    w, Xr, yr = _repeat(rng, X, y)
    task = get_task(name, C=0.1, tol=1e-8, max_iter=3000, regularization="weight")
    a = task.fit(X, y, sample_weight=w, random_state=0)
    b = task.fit(Xr, yr, random_state=0)
    # Same standardisation (weighted moments == moments of the repeated rows) ...
    np.testing.assert_allclose(a[0].mean_, b[0].mean_, rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(a[0].scale_, b[0].scale_, rtol=1e-10)
    # ... and the same optimum of the same objective, up to the solver's tolerance.
    scale = np.abs(b[-1].coef_).max()
    np.testing.assert_allclose(a[-1].coef_, b[-1].coef_, atol=2e-3 * scale)


@pytest.mark.parametrize("name", ["logreg", "svm"], ids=["logreg", "svm"])
def test_regularization_modes(name, rng, digits):
    X_tr, y_tr, _, _ = digits
    X, y = X_tr[:300], y_tr[:300]
    kw = dict(C=0.1, tol=1e-8, max_iter=3000)
    tasks = {m: get_task(name, regularization=m, **kw) for m in ("cv", "effective", "weight")}
    # Unit weights: C itself in every mode, the same model as scikit-learn's semantics.
    fits = {m: t.fit(X, y, random_state=0) for m, t in tasks.items()}
    for m in ("cv", "effective"):
        assert fits[m][-1].C == 0.1
        np.testing.assert_array_equal(fits[m][-1].coef_, fits["weight"][-1].coef_)
    # Coreset-like weights: "effective" gives C * n_eff / sum(w), so rescaling every
    # weight (m rows standing for 100 m) changes nothing; per unit of weight it does.
    w = rng.uniform(0.5, 3.0, size=300)
    r = w.sum() / np.dot(w, w)  # n_eff / sum(w)
    c = tasks["effective"].fit(X, y, sample_weight=w, random_state=0)
    assert c[-1].C == pytest.approx(0.1 * r, rel=1e-12)
    d = tasks["effective"].fit(X, y, sample_weight=100.0 * w, random_state=0)
    assert d[-1].C * 100.0 == pytest.approx(c[-1].C, rel=1e-12)
    scale = np.abs(c[-1].coef_).max()
    np.testing.assert_allclose(d[-1].coef_, c[-1].coef_, atol=2e-3 * scale)
    e = tasks["weight"].fit(X, y, sample_weight=100.0 * w, random_state=0)
    assert e[-1].C == 0.1
    assert np.abs(e[-1].coef_ - c[-1].coef_).max() > 0.05 * scale


@pytest.mark.parametrize("name", ["logreg", "svm"], ids=["logreg", "svm"])
def test_regularization_cv_picks_the_best_candidate(name, digits):
    """The cross-validated C is the candidate a brute-force pass over the folds picks."""
    from sklearn.metrics import accuracy_score

    from qcoreset.tasks import _CV_FOLDS, _REG_EXPONENTS, _stratified_folds

    X_tr, y_tr, _, _ = digits
    X, y = X_tr[:240], y_tr[:240]
    w = np.full(240, 1437 / 240)  # a uniform coreset of 240 of 1,437 rows ...
    w[y == 3] *= 1.5  # ... with one class weighted up
    r = w.sum() / np.dot(w, w)
    task = get_task(name, C=0.1)
    model = task.fit(X, y, sample_weight=w, random_state=5)
    candidates = [0.1 * r**g for g in _REG_EXPONENTS]
    folds = _stratified_folds(y, _CV_FOLDS, np.random.default_rng(5))
    scores = []
    for c in candidates:
        plain = get_task(name, C=c, regularization="weight")
        total = 0.0
        for k in range(_CV_FOLDS):
            tr, te = folds != k, folds == k
            m = plain.fit(X[tr], y[tr], sample_weight=w[tr], random_state=5)
            total += accuracy_score(y[te], m.predict(X[te]), sample_weight=w[te]) * w[te].sum()
        scores.append(total)
    assert model[-1].C == pytest.approx(candidates[int(np.argmax(scores))], rel=1e-12)
    again = task.fit(X, y, sample_weight=w, random_state=5)
    np.testing.assert_array_equal(again[-1].coef_, model[-1].coef_)


def test_stratified_folds_and_the_small_data_fallback(rng):
    from qcoreset.tasks import _REG_FALLBACK, _stratified_folds

    y = np.repeat([0, 1, 2], [3, 10, 50])
    folds = _stratified_folds(y, 3, rng)
    for c in (0, 1, 2):  # every class in every fold, sizes within one
        counts = np.bincount(folds[y == c], minlength=3)
        assert counts.min() >= 1 and counts.max() - counts.min() <= 1
    assert _stratified_folds(np.repeat([0, 1], [2, 40]), 3, rng) is None
    assert _stratified_folds(np.zeros(10), 3, rng) is None
    # A class of two rows cannot be cross-validated: C * r ** fallback.
    X = rng.normal(size=(42, 4))
    y = np.repeat([0, 1], [2, 40])
    w = np.repeat([5.0, 2.0], [2, 40])
    model = get_task("logreg", C=0.5).fit(X, y, sample_weight=w, random_state=0)
    r = w.sum() / np.dot(w, w)
    assert model[-1].C == pytest.approx(0.5 * r**_REG_FALLBACK, rel=1e-12)


def test_linear_svm_reaches_liblinear_objective(digits):
    X_tr, y_tr, _, _ = digits
    X = StandardScaler().fit_transform(X_tr[:400])
    y = y_tr[:400]
    w = np.random.default_rng(0).uniform(0.5, 2.0, size=len(y))
    C = 0.05

    def objective(coef, intercept):
        classes = np.unique(y)
        Y = np.where(y[:, None] == classes[None, :], 1.0, -1.0)
        H = np.maximum(0.0, 1.0 - Y * (X @ coef.T + intercept))
        return 0.5 * np.sum(coef**2) + C * np.dot(w, np.sum(H**2, axis=1))

    ours = LinearSVM(C=C, tol=1e-8, max_iter=5000).fit(X, y, sample_weight=w)
    ref = LinearSVC(C=C, tol=1e-8, max_iter=20000, intercept_scaling=100.0).fit(
        X, y, sample_weight=w)
    assert ours.converged_
    assert objective(ours.coef_, ours.intercept_) <= objective(ref.coef_, ref.intercept_) * (
        1 + 1e-6)
    assert np.mean(ours.predict(X) == ref.predict(X)) > 0.97


# --------------------------------------------------------------------------------------
# MLP: replication counts and the fallback without sample_weight
# --------------------------------------------------------------------------------------


def test_replication_counts_are_unbiased():
    w = np.array([0.3, 1.0, 2.5, 7.75, 40.0, 123.4])
    seeds = 3000
    draws = np.array([replication_counts(w, min_rows=50, random_state=s)[0]
                      for s in range(seeds)])
    _, s = replication_counts(w, min_rows=50, random_state=0)
    target = w * s
    # Each count is floor or ceil of w*s; its mean is w*s within 5 standard errors.
    assert np.all((draws == np.floor(target)) | (draws == np.ceil(target)))
    frac = target - np.floor(target)
    se = np.sqrt(frac * (1 - frac) / seeds) + 1e-12
    assert np.all(np.abs(draws.mean(axis=0) - target) <= 5 * se)


@settings(max_examples=60, deadline=None)
@given(
    w=st.lists(st.floats(0.0, 1e4, allow_nan=False), min_size=1, max_size=60).filter(
        lambda v: sum(v) > 1e-3),
    factor=st.floats(0.5, 20.0), min_rows=st.integers(1, 5000), seed=st.integers(0, 99),
)
def test_replication_counts_are_bounded(w, factor, min_rows, seed):
    w = np.asarray(w)
    m = len(w)
    counts, s = replication_counts(w, factor=factor, min_rows=min_rows, random_state=seed)
    target = max(m, min(w.sum(), max(factor * m, min_rows)))
    assert s == pytest.approx(target / w.sum())
    assert counts.dtype == np.int64 and np.all(counts >= 0)
    assert target - m <= counts.sum() <= target + m
    assert counts.sum() >= 1
    assert np.all(counts[w == 0] == 0)
    again, _ = replication_counts(w, factor=factor, min_rows=min_rows, random_state=seed)
    np.testing.assert_array_equal(counts, again)


def test_replication_counts_of_unit_weights_are_ones():
    counts, s = replication_counts(np.ones(500), random_state=0)
    assert s == 1.0 and np.all(counts == 1)


def test_mlp_replicate_with_unit_weights_is_the_plain_fit(digits):
    X_tr, y_tr, X_te, _ = digits
    task = get_task("mlp", hidden_layer_sizes=(8,), max_iter=5, weighting="replicate")
    model = task.fit(X_tr, y_tr, random_state=3)
    scaler = model[0]
    plain = MLPClassifier(hidden_layer_sizes=(8,), max_iter=5, batch_size=200,
                          random_state=3)
    with pytest.warns(Warning):
        plain.fit(scaler.transform(X_tr), y_tr)
    np.testing.assert_array_equal(model.predict(X_te), plain.predict(scaler.transform(X_te)))


def test_mlp_weighting_choice(monkeypatch, digits):
    X_tr, y_tr, X_te, y_te = digits
    auto = get_task("mlp")
    monkeypatch.setattr(tasks_mod, "_mlp_accepts_sample_weight", lambda: False)
    assert auto.weighting_used() == "replicate"
    with pytest.raises(InputError, match="weighting='replicate'"):
        get_task("mlp", weighting="sample_weight").weighting_used()
    # The fallback trains a useful model from a weighted coreset.
    task = get_task("mlp", hidden_layer_sizes=(32,), max_iter=30)
    idx = np.arange(0, len(X_tr), 4)
    model = task.fit(X_tr[idx], y_tr[idx], sample_weight=np.full(len(idx), 4.0),
                     random_state=0)
    assert model[-1].n_iter_ >= 1
    assert task.score(model, X_te, y_te) > 0.85


# --------------------------------------------------------------------------------------
# Errors
# --------------------------------------------------------------------------------------


def test_unknown_task_lists_the_names():
    with pytest.raises(InputError, match="unknown task 'ridge'.*kmeans, pca, svm"):
        get_task("ridge")
    with pytest.raises(InputError, match="unknown task"):
        evaluate_task("ridge", (np.ones((3, 2)), None, None), np.ones((5, 2)))


@pytest.mark.parametrize(
    "name, params, match",
    [
        ("kmeans", {"n_clusters": 0}, "n_clusters=0"),
        ("pca", {"n_components": 2.5}, "n_components must be an integer"),
        ("svm", {"C": -1.0}, "C=-1.0"),
        ("svm", {"solver": "sag"}, "lbfgs, liblinear"),
        ("mlp", {"hidden_layer_sizes": ()}, "at least one layer"),
        ("mlp", {"activation": "gelu"}, "relu"),
    ],
    ids=["k0", "pca-float", "C-neg", "solver", "no-layers", "activation"],
)
def test_bad_parameter_values(name, params, match):
    with pytest.raises(InputError, match=match):
        get_task(name, **params)


@pytest.mark.parametrize("name", CLASSIFIERS, ids=CLASSIFIERS)
def test_missing_labels_say_which_task_and_what_to_pass(name, blobs):
    X_tr, y_tr, X_te, y_te = blobs
    task = get_task(name, **FAST[name])
    with pytest.raises(InputError, match=f"task '{name}' needs labels.*pass labelled data"):
        task.fit(X_tr)
    model = task.fit(X_tr, y_tr, random_state=0)
    with pytest.raises(InputError, match=f"task '{name}' needs labels"):
        task.score(model, X_te)
    with pytest.raises(InputError, match="the coreset has none"):
        evaluate_task(task, (X_tr, None, None), X_tr, y_tr, X_te, y_te)
    with pytest.raises(InputError, match="the data has none"):
        evaluate_task(task, (X_tr, y_tr, None), X_tr, None, X_te, y_te)
    with pytest.raises(InputError, match="pass X_test and y_test"):
        evaluate_task(task, (X_tr, y_tr, None), X_tr, y_tr)


def test_feature_count_mismatches(blobs):
    X_tr, y_tr, X_te, y_te = blobs
    with pytest.raises(InputError, match="coreset has 4 features but the data has 5"):
        evaluate_task("pca", (X_tr[:, :4], None, None), X_tr)
    with pytest.raises(InputError, match="X_test has 4 features"):
        evaluate_task("logreg", (X_tr, y_tr, None), X_tr, y_tr, X_te[:, :4], y_te)
    task = get_task("logreg")
    model = task.fit(X_tr, y_tr)
    with pytest.raises(InputError, match="fitted on 5 features but X has 3"):
        evaluate_task(task, (X_tr[:, :3], y_tr, None), X_tr[:, :3], None, X_te[:, :3], y_te,
                      full_model=model)


def test_models_of_other_tasks_and_bad_backends_are_rejected(blobs):
    X_tr, y_tr, X_te, y_te = blobs
    pca_model = get_task("pca", n_components=2).fit(X_tr)
    with pytest.raises(InputError, match="not a fitted 'kmeans' model"):
        get_task("kmeans").score(pca_model, X_tr)
    with pytest.raises(InputError, match="not a fitted 'mlp' model"):
        get_task("mlp").score(get_task("svm").fit(X_tr, y_tr), X_te, y_te)
    with pytest.raises(InputError, match="no linear"):
        get_task("pca").score(pca_model, X_tr, backend=object())

    class Broken(DigitalBackend):
        name = "broken"

        def linear(self, W, b, X):
            return super().linear(W, b, X)[:, :1]

    with pytest.raises(InputError, match="backend 'broken' returned shape"):
        get_task("pca").score(pca_model, X_tr, backend=Broken())


def test_data_that_cannot_fit_the_task(blobs):
    X_tr, y_tr, _, _ = blobs
    with pytest.raises(InputError, match="at least 10 rows"):
        get_task("kmeans").fit(X_tr[:5])
    with pytest.raises(InputError, match="n_components <= 5"):
        get_task("pca").fit(X_tr)
    with pytest.raises(InputError, match="at least two classes"):
        get_task("logreg").fit(X_tr[:10], np.zeros(10))
    with pytest.raises(InputError, match="NaN"):
        get_task("pca", n_components=2).fit(np.full((4, 3), np.nan))
    with pytest.raises(InputError, match="non-negative"):
        get_task("pca", n_components=2).fit(X_tr, sample_weight=-np.ones(len(X_tr)))


@pytest.mark.parametrize("name", CLASSIFIERS, ids=CLASSIFIERS)
def test_labels_the_model_never_saw_count_as_errors(name, blobs):
    X_tr, y_tr, X_te, y_te = blobs
    keep = y_tr < 3  # the coreset misses the rare outlier class 3
    task = get_task(name, **FAST[name])
    model = task.fit(X_tr[keep], y_tr[keep], random_state=0)
    value, extras = task.evaluate(model, X_te, y_te)
    unseen = y_te == 3
    assert unseen.any()
    assert value <= 1.0 - unseen.mean() + 1e-12
    assert all(np.isfinite(v) for v in extras.values())


def test_register_a_new_task(blobs):
    @register_task("mean-distance")
    class MeanDistance(Task):
        """Distance to the weighted mean (a one-centre k-means)."""

        name = "mean-distance"
        metric = "mean_distance"
        _params = {}

        def _fit(self, X, y, w, random_state):
            return KMeans(n_clusters=1, n_init=1).fit(X, sample_weight=w)

        def _check_model(self, model):
            pass

        def _n_features(self, model):
            return model.cluster_centers_.shape[1]

        def _evaluate(self, model, X, y, w, backend):
            return get_task("kmeans", n_clusters=1)._evaluate(model, X, y, w, backend)

    try:
        X_tr = blobs[0]
        res = evaluate_task("mean-distance", (X_tr, None, None), X_tr)
        assert res.normalized_cost == pytest.approx(1.0)
        with pytest.raises(InputError, match="already registered"):
            register_task("mean-distance", MeanDistance)
    finally:
        TASKS._items.pop("mean-distance", None)


def test_scaler_floor_survives_a_constant_column_with_weights():
    from qcoreset.tasks import _fit_scaler

    rng = np.random.default_rng(1)
    X = rng.normal(size=(300, 4))
    X[:, 2] = 0.1  # constant; with these weights its variance rounds to -2e-48
    w = rng.uniform(0.1, 7.3, size=300)
    for floor in (0.1, 0.0):
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            sc = _fit_scaler(X, w, floor)
        assert np.isfinite(sc.scale_).all() and (sc.scale_ > 0).all()
        assert np.isfinite(sc.transform(X)).all()
    assert sc.scale_[2] == 1.0
