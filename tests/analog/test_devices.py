"""One conformance suite for every device model, converter and programming algorithm."""

from dataclasses import replace

import numpy as np
import pytest

from qcoreset import InputError
from qcoreset.analog import (
    NOISE_MODELS,
    PROGRAMMING_ALGORITHMS,
    AnalogMatrix,
    BaseNoiseModel,
    GDPProgramming,
    OneShotProgramming,
    ProgramAndVerify,
    SingleDeviceConductanceConverter,
    SinglePairConductanceConverter,
    aihwkit_inference,
    compare_programming,
)

MODELS = NOISE_MODELS.names()
TIMES = [0.0, 1.0, 3600.0, 86400.0, 365 * 86400.0]


def _model(name) -> BaseNoiseModel:
    return NOISE_MODELS.get(name)()


def _targets(model, rng, shape=(64, 48)):
    w = rng.uniform(-1, 1, shape)
    gs, params = model.converter.to_conductances(w)
    return w, gs, params


@pytest.mark.parametrize("name", MODELS)
def test_converter_round_trip_and_range(name, rng):
    model = _model(name)
    conv = model.converter
    w, gs, params = _targets(model, rng)
    np.testing.assert_allclose(conv.to_weights(gs, params), w, atol=1e-12)
    for g in gs:
        assert g.shape == w.shape
        assert g.min() >= conv.g_min - 1e-12 and g.max() <= conv.g_max + 1e-12


@pytest.mark.parametrize("name", MODELS)
def test_programming_statistics_and_determinism(name, rng):
    model = _model(name)
    _, gs, _ = _targets(model, rng, (200, 200))
    g_t = gs[0]
    s1 = model.program(g_t, np.random.default_rng(1))
    s2 = model.program(g_t, np.random.default_rng(1))
    np.testing.assert_array_equal(s1.g, s2.g)
    assert s1.g.shape == g_t.shape and np.isfinite(s1.g).all()
    assert (s1.g >= 0).all()
    # the spread of a programming attempt is the model's sigma (away from the clip at 0)
    sigma = model.programming_sigma(g_t)
    mid = g_t > 4 * sigma
    z = (s1.g - g_t)[mid] / sigma[mid]
    assert abs(z.std() - 1) < 0.05 and abs(z.mean()) < 0.05
    if s1.params is not None:
        assert s1.params.shape == g_t.shape and np.isfinite(s1.params).all()


@pytest.mark.parametrize("name", MODELS)
def test_drift_is_finite_deterministic_and_changes_conductances(name, rng):
    model = _model(name)
    _, gs, _ = _targets(model, rng)
    state = model.program(gs[0], np.random.default_rng(3))
    for t in TIMES:
        g1 = model.drift(state, t, np.random.default_rng(7))
        g2 = model.drift(state, t, np.random.default_rng(7))
        np.testing.assert_array_equal(g1, g2)
        assert g1.shape == state.g.shape and np.isfinite(g1).all() and (g1 >= 0).all()
    late = model.drift(state, TIMES[-1], np.random.default_rng(7))
    assert not np.allclose(late, state.g)


@pytest.mark.parametrize("name", MODELS)
def test_every_model_runs_the_pipeline(name, rng):
    W = rng.uniform(-1, 1, (48, 80))
    X = rng.uniform(-1, 1, (60, 80))
    cfg = replace(aihwkit_inference(), noise_model=name)
    A = AnalogMatrix(W, cfg, seed=0)
    e0 = A.mvm_error(X)
    e_year = A.drift(365 * 86400.0).mvm_error(X)
    assert 0 < e0 < 0.5 and 0 < e_year < 1.0
    assert A.matmat(X).shape == (60, 48)


@pytest.mark.parametrize("name", MODELS)
def test_models_are_frozen_and_validated(name):
    model = _model(name)
    with pytest.raises(AttributeError):
        model.drift_scale = 2.0  # frozen dataclass
    assert replace(model) == model
    field = "g_max" if hasattr(model, "g_max") else "t_0"
    with pytest.raises(InputError, match=field):
        replace(model, **{field: -1.0})


def test_converters_reject_bad_ranges():
    with pytest.raises(InputError, match="g_min"):
        SinglePairConductanceConverter(g_max=5.0, g_min=6.0)
    with pytest.raises(InputError, match="g_max"):
        SingleDeviceConductanceConverter(g_max=float("nan"))


@pytest.mark.parametrize("name", PROGRAMMING_ALGORITHMS.names())
def test_programming_algorithms_conform(name, rng):
    alg = PROGRAMMING_ALGORITHMS.get(name)()
    model = _model("pcm")
    w = rng.uniform(-1, 1, (32, 64))
    res = alg.program(w, model, np.random.default_rng(0))
    assert res.weights.shape == w.shape and np.isfinite(res.weights).all()
    assert len(res.states) == 2
    again = alg.program(w, model, np.random.default_rng(0))
    np.testing.assert_array_equal(res.weights, again.weights)
    assert np.abs(res.weights - w).max() < 0.5


def test_program_and_verify_and_gdp_beat_one_shot(rng):
    W = rng.uniform(-1, 1, (64, 128))
    cfg = replace(aihwkit_inference(), drift_compensation=None)
    errs = compare_programming(
        W, cfg, [OneShotProgramming(), ProgramAndVerify(), GDPProgramming(n_iterations=40)],
        n_inputs=400, seed=3,
    )
    assert errs["program_verify"] < 0.8 * errs["one_shot"]
    assert errs["gdp"] < 0.8 * errs["one_shot"]


def test_program_and_verify_meets_its_tolerance(rng):
    model = _model("pcm")
    w = rng.uniform(-1, 1, (64, 64))
    alg = ProgramAndVerify(tolerance=0.01, max_iterations=50)
    res = alg.program(w, model, np.random.default_rng(0))
    gs, _ = model.converter.to_conductances(w)
    for g_t, state in zip(gs, res.states, strict=True):
        assert np.abs(state.g - g_t).max() <= 0.01 * model.g_max + 1e-12
    assert res.info["devices_outside_tolerance"] == 0


def test_gdp_error_history_decreases(rng):
    W = rng.uniform(-1, 1, (32, 64))
    A = AnalogMatrix(W, replace(aihwkit_inference(), programming="gdp"), seed=0)
    hist = A.programming_info[0]["info"]["error_history"]
    assert np.mean(hist[-10:]) < 0.7 * hist[0]


@pytest.mark.parametrize(
    "bad,field",
    [
        (lambda: ProgramAndVerify(tolerance=-1), "tolerance"),
        (lambda: ProgramAndVerify(max_iterations=0), "max_iterations"),
        (lambda: GDPProgramming(lr_decay=1.5), "lr_decay"),
        (lambda: GDPProgramming(init=GDPProgramming()), "init"),
    ],
    ids=["tolerance", "max_iterations", "lr_decay", "init"],
)
def test_programming_validation_names_the_field(bad, field):
    with pytest.raises(InputError, match=field):
        bad()
