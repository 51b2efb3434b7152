"""Backends (one ``linear`` method for all inference) and hardware-aware training."""

from dataclasses import replace

import numpy as np
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from qcoreset import InputError
from qcoreset.analog import (
    AnalogBackend,
    DigitalBackend,
    HWALinearClassifier,
    HWAMLPClassifier,
    analog_decision_function,
    analog_predict,
    format_time,
    hwa_fit_linear,
    hwa_fit_mlp,
    hwa_noise_profile,
    hwa_standard,
    parse_backend,
    parse_time,
)

BACKENDS = {
    "digital": lambda: DigitalBackend(),
    "analog_hwa": lambda: AnalogBackend("hwa_standard", t_inference="1d", seed=0),
    "analog_aihwkit": lambda: AnalogBackend("aihwkit_inference", t_inference=3600, seed=0),
    "analog_ideal": lambda: AnalogBackend("ideal", seed=0),
}


@pytest.mark.parametrize("make", list(BACKENDS.values()), ids=list(BACKENDS))
def test_backend_conformance(make, rng):
    be = make()
    assert isinstance(be.name, str) and isinstance(be.stats, dict)
    W = rng.normal(size=(7, 30))
    b = rng.normal(size=7)
    X = rng.normal(size=(50, 30))
    Y = be.linear(W, b, X)
    assert Y.shape == (50, 7) and Y.dtype == np.float64 and np.isfinite(Y).all()
    rel = np.linalg.norm(Y - (X @ W.T + b)) / np.linalg.norm(X @ W.T + b)
    assert rel < 0.2
    assert be.linear(W, None, X).shape == (50, 7)
    assert be.stats["mvm_count"] == 100
    for bad_args in [(W, b, X[:, :5]), (W[0], b, X), (W, b[:3], X),
                     (W, b, np.where(X > 2, np.nan, X))]:
        with pytest.raises(InputError):
            be.linear(*bad_args)


def test_digital_backend_is_exact(rng):
    W, b, X = rng.normal(size=(4, 6)), rng.normal(size=4), rng.normal(size=(9, 6))
    np.testing.assert_allclose(DigitalBackend().linear(W, b, X), X @ W.T + b, rtol=1e-12)


def test_analog_backend_programs_each_matrix_once_and_accumulates(rng):
    be = AnalogBackend("aihwkit_inference", t_inference="1h", seed=1)
    W1, W2 = rng.normal(size=(5, 20)), rng.normal(size=(3, 20))
    X = rng.uniform(-1, 1, (40, 20))
    be.linear(W1, None, X)
    e1 = be.stats["energy_j"]
    be.linear(W1, None, X)
    assert be.stats["programmed_matrices"] == 1
    assert be.stats["energy_j"] > e1 > 0 and be.stats["mvm_count"] == 80
    be.linear(W2, np.zeros(3), X)
    assert be.stats["programmed_matrices"] == 2
    assert be.stats["latency_s"] > 0 and be.stats["tile_activations"] >= 120
    # the same W reads the same programmed chip: the programmed weights do not change
    A = be.matrix(W1)
    assert A.t == 3600.0
    np.testing.assert_array_equal(A.analog_weights(), be.matrix(W1.copy()).analog_weights())


def test_analog_backend_is_deterministic_per_seed(rng):
    W, X = rng.normal(size=(6, 12)), rng.normal(size=(20, 12))
    y1 = AnalogBackend("hwa_standard", seed=5).linear(W, None, X)
    y2 = AnalogBackend("hwa_standard", seed=5).linear(W, None, X)
    y3 = AnalogBackend("hwa_standard", seed=6).linear(W, None, X)
    np.testing.assert_array_equal(y1, y2)
    assert not np.array_equal(y1, y3)


def test_analog_bias_row_when_not_digital(rng):
    cfg = hwa_standard()
    cfg = replace(cfg, mapping=replace(cfg.mapping, digital_bias=False), noise_model=None,
                  drift_compensation=None)
    be = AnalogBackend(cfg, t_inference=0, seed=0)
    W, b, X = rng.normal(size=(4, 10)), rng.normal(size=4), rng.normal(size=(30, 10))
    Y = be.linear(W, b, X)
    assert be.matrix(np.hstack([W, b[:, None]])).shape == (4, 11)
    assert np.linalg.norm(Y - (X @ W.T + b)) / np.linalg.norm(X @ W.T + b) < 0.1


@pytest.mark.parametrize(
    "spec,name",
    [
        ("digital", "digital"),
        ("analog", "analog:hwa_standard@1d"),
        ("analog:aihwkit_inference", "analog:aihwkit_inference@1d"),
        ("analog:hermes@1h", "analog:hermes@1h"),
        ("analog:ideal@3600", "analog:ideal@1h"),
        ("analog:hwa_standard@1y", "analog:hwa_standard@1y"),
        ("analog@1s", "analog:hwa_standard@1s"),
        ("analog:hwa_standard@0", "analog:hwa_standard@0s"),
    ],
)
def test_parse_backend(spec, name):
    assert parse_backend(spec).name == name


@pytest.mark.parametrize(
    "spec,words",
    [
        ("analog:nonexistent@1d", ["nonexistent", "hwa_standard"]),
        ("analog:hwa_standard@-1h", ["negative"]),
        ("analog:hwa_standard@1fortnight", ["unit"]),
        ("analog:hwa_standard@soon", ["time"]),
        ("analog:hwa_standard@", ["no time"]),
        ("analog:", ["preset"]),
        ("quantum", ["unknown backend"]),
    ],
)
def test_parse_backend_errors(spec, words):
    with pytest.raises(InputError) as exc:
        parse_backend(spec)
    for word in words:
        assert word in str(exc.value)


def test_time_round_trip():
    for text, seconds in [("1s", 1), ("90", 90), ("30min", 1800), ("1h", 3600), ("1d", 86400),
                          ("1w", 604800), ("1y", 31536000), ("2.5h", 9000), ("1e3", 1000)]:
        assert parse_time(text) == seconds
        assert parse_time(format_time(seconds)) == seconds
    with pytest.raises(InputError):
        AnalogBackend("hwa_standard", t_inference=-5)


def test_noise_profile_matches_the_preset():
    p0 = hwa_noise_profile("hwa_standard", 1.0)
    p1 = hwa_noise_profile("hwa_standard", 365 * 86400.0)
    u = np.linspace(0, 1, 5)
    assert (p1.weight_sigma(u) > p0.weight_sigma(u)).all()  # more drift noise later
    assert p0.input_scaling == "range" and p0.w_noise_type == "pcm_read"
    assert p0.out_noise == pytest.approx(np.sqrt(0.04**2 + (20 / 254) ** 2 / 12))
    ideal = hwa_noise_profile("ideal", 86400.0)
    assert ideal.out_noise == 0 and ideal.weight_sigma(u).max() == 0


def test_hwa_estimators_are_sklearn_compatible(rng):
    X, y = make_classification(n_samples=300, n_features=10, n_classes=3, n_informative=5,
                               random_state=0)
    sw = rng.uniform(0.5, 2.0, 300)
    lin = hwa_fit_linear(X, y, sw, "aihwkit_inference", 3600, max_iter=5, random_state=0)
    assert isinstance(lin, HWALinearClassifier) and lin.coef_.shape == (3, 10)
    assert lin.score(X, y) > 0.6
    svm = hwa_fit_linear(X, y == 1, loss="hinge", max_iter=5, random_state=0)
    assert svm.coef_.shape == (1, 10) and svm.decision_function(X).shape == (300,)
    mlp = hwa_fit_mlp(X, y, sw, hidden_layer_sizes=(16, 8), max_iter=20, random_state=0)
    assert isinstance(mlp, HWAMLPClassifier)
    assert [c.shape for c in mlp.coefs_] == [(10, 16), (16, 8), (8, 3)]
    assert mlp.predict_proba(X).shape == (300, 3)
    np.testing.assert_allclose(mlp.predict_proba(X).sum(axis=1), 1.0)
    # the analog helpers agree with the digital model on an ideal backend
    ideal_be = AnalogBackend("ideal", seed=0)
    np.testing.assert_allclose(analog_decision_function(lin, X, ideal_be),
                               lin.decision_function(X), rtol=1e-4, atol=1e-4)
    assert (analog_predict(mlp, X, ideal_be) == mlp.predict(X)).mean() > 0.99
    plain = LogisticRegression(max_iter=500).fit(X, y)
    assert (analog_predict(plain, X, ideal_be) == plain.predict(X)).mean() > 0.99
    with pytest.raises(InputError, match="loss"):
        HWALinearClassifier(loss="squared").fit(X, y)
    with pytest.raises(InputError, match="hidden_layer_sizes"):
        HWAMLPClassifier(hidden_layer_sizes=(0,)).fit(X, y)
    with pytest.raises(InputError, match="sample_weight"):
        hwa_fit_linear(X, y, -np.ones(300))


def test_hwa_training_reduces_the_analog_accuracy_drop():
    """MLP on synthetic 5-class data, hwa_standard at 1 day: HWA shrinks the drop.

    The drop is measured from the digital accuracy of the plain model (what a user
    would get without the crossbar) to the analog accuracy of each model.
    """
    profile = hwa_noise_profile("hwa_standard", 86400.0)
    digital_plain, analog_acc = [], {0.0: [], 2.0: []}
    for data_seed in range(3):
        X, y = make_classification(n_samples=4000, n_features=40, n_informative=20,
                                   n_classes=5, class_sep=1.2, random_state=data_seed)
        X = StandardScaler().fit_transform(X)
        Xtr, ytr, Xte, yte = X[:2000], y[:2000], X[2000:], y[2000:]
        for scale in analog_acc:
            model = hwa_fit_mlp(Xtr, ytr, hidden_layer_sizes=(64,), max_iter=100,
                                noise_scale=scale, profile=profile, random_state=0)
            if scale == 0.0:
                digital_plain.append((model.predict(Xte) == yte).mean())
            analog_acc[scale].append(np.mean([
                (analog_predict(model, Xte, AnalogBackend("hwa_standard", "1d", seed=s))
                 == yte).mean()
                for s in (0, 1)
            ]))
    plain = np.mean(digital_plain) - np.mean(analog_acc[0.0])
    hwa = np.mean(digital_plain) - np.mean(analog_acc[2.0])
    assert plain > 0.008  # the problem is hard enough for the drop to matter
    assert hwa < plain - 0.004


def _kmeans_like(rng, n=1500, d=300, k=6):
    """Non-negative, image-like rows around k nearby centres (pixels in [0, 255])."""
    centres = 128 + rng.uniform(-30, 30, (k, d))
    labels = rng.integers(0, k, n)
    X = np.clip(centres[labels] + rng.normal(0, 40, (n, d)), 0, 255)
    C = np.stack([X[labels == j].mean(axis=0) for j in range(k)])
    return X, C


@pytest.mark.parametrize("preset", ["hwa_standard", "aihwkit_inference"])
def test_mapping_makes_nonnegative_data_work(preset, rng):
    """Centring + headroom (hwa_standard) and weight normalisation (aihwkit_inference)."""
    X, C = _kmeans_like(rng)
    W, b = -2.0 * C, np.einsum("ij,ij->i", C, C)
    exact = np.argmin(X @ W.T + b, axis=1)
    mapped = AnalogBackend(preset, "1d", seed=0)
    agree = np.mean(np.argmin(mapped.linear(W, b, X), axis=1) == exact)
    uncentred = AnalogBackend(preset, "1d", seed=0, center_inputs=False)
    agree_uncentred = np.mean(np.argmin(uncentred.linear(W, b, X), axis=1) == exact)
    assert agree > 0.97
    assert agree > agree_uncentred + 0.1
    if preset == "hwa_standard":  # without headroom either, the ADC clips everything
        raw = AnalogBackend(preset, "1d", seed=0, center_inputs=False, output_quantile=None)
        assert np.mean(np.argmin(raw.linear(W, b, X), axis=1) == exact) < 0.5


def test_input_offset_is_exact_on_an_ideal_chip(rng):
    X = rng.uniform(100, 200, (200, 40))
    W, b = rng.normal(size=(5, 40)), rng.normal(size=5)
    be = AnalogBackend("ideal", seed=0)
    Y = be.linear(W, b, X)
    assert np.linalg.norm(Y - (X @ W.T + b)) / np.linalg.norm(X @ W.T + b) < 1e-5
    np.testing.assert_allclose(be.linear(W, b, X[:7]), Y[:7], rtol=1e-6)  # same offset


def test_weight_normalisation_makes_the_scale_irrelevant(rng):
    W, X = rng.uniform(-1, 1, (20, 64)), rng.uniform(-1, 1, (300, 64))
    errs = []
    for s in (1e-3, 1.0, 1e3):
        Y = AnalogBackend("aihwkit_inference", "1h", seed=0).linear(s * W, None, X)
        errs.append(np.linalg.norm(Y - s * X @ W.T) / np.linalg.norm(s * X @ W.T))
    # each scaled W is another matrix, so another programming seed: close, not equal
    assert max(errs) < 0.2 and max(errs) - min(errs) < 0.01


def test_output_headroom_of_the_input_range(rng):
    from qcoreset.analog import AnalogMatrix

    W = rng.uniform(0, 1, (8, 200))
    X = rng.uniform(0, 1, (500, 200))  # coherent: every product is positive
    cfg = hwa_standard()
    plain = AnalogMatrix(W, cfg, seed=0).calibrate_input_range(X)
    head = AnalogMatrix(W, cfg, seed=0).calibrate_input_range(X, output_quantile=0.99)
    r0, r1 = plain._tiles[0][0].input_range, head._tiles[0][0].input_range
    assert r0 == pytest.approx(3.0 * X.std())
    Wn = W / np.abs(W).max(axis=1, keepdims=True)  # omega = 1 per column
    assert r1 > r0
    assert np.quantile(np.abs(X @ Wn.T), 0.99) / r1 == pytest.approx(cfg.forward.out_bound)
    exact = X @ W.T
    err0 = np.linalg.norm(plain.drift(86400).matmat(X) - exact) / np.linalg.norm(exact)
    err1 = np.linalg.norm(head.drift(86400).matmat(X) - exact) / np.linalg.norm(exact)
    assert err1 < 0.5 * err0
    # inputs that do not add up coherently keep AIHWKit's alpha * std
    Z = rng.normal(size=(500, 200))
    same = AnalogMatrix(rng.normal(size=(8, 200)), cfg, seed=0)
    same.calibrate_input_range(Z, output_quantile=0.99)
    assert same._tiles[0][0].input_range == pytest.approx(3.0 * Z.std())


@pytest.mark.parametrize("bad", [0.0, 1.5, -0.1, "high", True])
def test_bad_output_quantile(bad):
    with pytest.raises(InputError, match="output_quantile"):
        AnalogBackend("hwa_standard", output_quantile=bad)
    from qcoreset.analog import AnalogMatrix

    with pytest.raises(InputError, match="output_quantile"):
        AnalogMatrix(np.ones((2, 4)), "hwa_standard").calibrate_input_range(
            np.ones((3, 4)), output_quantile=bad)


def test_hwa_spec_and_finetune_errors(rng):
    from qcoreset.analog import hwa_finetune, hwa_spec

    assert hwa_spec("analog:hermes@1h") == ("hermes", 3600.0)
    assert hwa_spec(" hwa_standard ") == ("hwa_standard", 86400.0)
    for bad in ["nope", "hwa_standard@", "hwa_standard@-1s", 7, None]:
        with pytest.raises(InputError, match="hwa"):
            hwa_spec(bad)
    X, y = rng.normal(size=(60, 5)), rng.integers(0, 3, 60)
    with pytest.raises(InputError, match="coef_"):
        hwa_finetune(StandardScaler().fit(X), X, y)
    lin = LogisticRegression().fit(X, y)
    with pytest.raises(InputError, match="warm_start"):
        hwa_finetune(lin, X[:, :4], y)  # wrong width
    with pytest.raises(InputError, match="warm_start"):
        hwa_finetune(lin, X, (y > 0).astype(int))  # other classes
