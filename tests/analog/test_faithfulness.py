"""Faithfulness to AIHWKit's C++ inference tile and the stated properties of the pipeline."""

import math
from dataclasses import replace

import numpy as np
import pytest

from qcoreset.analog import (
    AnalogMatrix,
    GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference,
    PerColumnDriftCompensation,
    ideal,
    relative_error,
)
from qcoreset.analog.tile import quantizer_threshold

from ._helpers import io_only, plain_io, reference_config, reference_setup

# AIHWKit 1.2.0 C++ tile figures (reference analog_aimc.md section 6.4), in percent.
REFERENCE_FIGURES = {
    "perfect": (io_only(is_perfect=True), None, 0.0),
    "default_io_no_out_noise": (io_only(out_noise=0.0), None, 1.67),
    "default_io": (io_only(), None, 2.80),
    "default_io_pcm_1h": (reference_config(), 3600.0, 10.07),
}


@pytest.mark.parametrize("case", list(REFERENCE_FIGURES), ids=list(REFERENCE_FIGURES))
def test_relative_mvm_error_matches_aihwkit(case):
    cfg, t, target = REFERENCE_FIGURES[case]
    errors = []
    for seed in range(5):
        W, X = reference_setup(seed)
        A = AnalogMatrix(W, cfg, seed=1000 + seed)
        if t is not None:
            A.drift(t)
        errors.append(100 * relative_error(A.matmat(X), X @ W.T))
    assert abs(np.mean(errors) - target) <= 0.2, (case, np.mean(errors), target)


@pytest.mark.parametrize("inp_res", [1 / 126, 254, 1 / 14], ids=["7bit", "8bit-steps", "4bit"])
def test_dac_steps_exactly_as_configured(rng, inp_res):
    cfg = plain_io(inp_res=inp_res, out_res=0.0)
    step = cfg.forward.inp_step
    x = rng.uniform(-1.3, 1.3, (400, 8))
    A = AnalogMatrix(np.eye(8), cfg, seed=0)
    y = A.matmat(x).astype(np.float64)
    levels = y / step
    np.testing.assert_allclose(levels, np.rint(levels), atol=1e-3)
    expected = np.clip(np.rint(x / step) * step, -1.0, 1.0)
    np.testing.assert_allclose(y, expected, atol=1e-6)
    # every level between the bounds is reachable and none beyond
    assert np.abs(levels).max() == pytest.approx(1.0 / step, abs=1e-3)


@pytest.mark.parametrize("out_res,bound", [(1 / 510, 12.0), (254, 10.0)], ids=["9bit", "8bit"])
def test_adc_steps_exactly_as_configured(rng, out_res, bound):
    cfg = plain_io(inp_res=0.0, out_res=out_res, out_bound=bound, inp_bound=30.0)
    step = cfg.forward.out_step
    x = rng.uniform(-1.5 * bound, 1.5 * bound, (400, 8))
    y = AnalogMatrix(np.eye(8), cfg, seed=0).matmat(x).astype(np.float64)
    expected = np.clip(np.rint(x / step) * step, -bound, bound)
    np.testing.assert_allclose(y, expected, atol=1e-4)
    inside = np.abs(x) < bound - step
    np.testing.assert_allclose((y / step)[inside], np.rint(y / step)[inside], atol=1e-3)


def test_bm_threshold_reproduces_float32_quirk():
    # AIHWKit computes the ADC step as float32(1/510) * 24; level 255 times it is
    # 12.000001 > 12 in float32, so level 255 already counts as clipped.
    f = np.float32
    assert quantizer_threshold(float(f(1 / 510) * f(24.0)), 12.0, np.float32) == 254
    assert quantizer_threshold(float(f(1 / 254) * f(20.0)), 10.0, np.float32) == 127
    assert quantizer_threshold(24 / 510, 12.0, np.float64) in (254, 255)


def test_bound_management_reruns_only_clipped_vectors_and_never_leaves_a_clip(rng):
    cfg = io_only()
    W, X = reference_setup(3, n_inputs=300)
    W[0] = 1.0  # a row whose output keeps clipping for the all-positive vectors
    X[:20] = rng.uniform(0.9, 1.0, (20, 256))  # sum ~ 243 > 12 * 16: clips to the end
    A = AnalogMatrix(W, cfg, seed=5)
    Y = A.matmat(X).astype(np.float64)
    tile = A._tiles[0][0]
    f = tile.last_bm_factors
    s = np.abs(X).max(axis=1)
    io = cfg.forward
    levels = Y / (s * f * io.out_step)[:, None]
    thr = float(tile._bm_thr)
    assert thr == 254
    f_last = tile._f_last
    assert f_last == 16  # 0.25 / (2/126) = 15.75 -> factors 1, 2, 4, 8, 16
    has_passes_left = f < f_last
    assert has_passes_left.any() and (f > 1).any()
    # nothing clipped where a pass was left
    assert np.abs(levels[has_passes_left]).max() <= thr + 1e-3
    # vectors at the last factor may clip, to exactly the bound
    at_last = ~has_passes_left
    assert at_last.any()
    assert np.isclose(np.abs(Y[at_last]).max(axis=1), io.out_bound * s[at_last] * f_last,
                      rtol=1e-5).all()
    # per-vector re-runs: one activation per pass of each vector
    passes = np.log2(f).astype(int) + 1
    assert A.stats.tile_activations == passes.sum()
    assert A.stats.bm_reruns == passes.sum() - len(X)


def test_negative_clipping_without_bm_test_is_clipped_not_rerun(rng):
    cfg = io_only(bm_test_negative_bound=False)
    X = rng.uniform(0.9, 1.0, (10, 64))
    A = AnalogMatrix(-np.ones((4, 64)), cfg, seed=0)
    Y = A.matmat(X)
    assert A.stats.bm_reruns == 0
    expected = np.broadcast_to(-12.0 * np.abs(X).max(axis=1)[:, None], Y.shape)
    np.testing.assert_allclose(Y, expected, rtol=1e-5)


@pytest.mark.parametrize(
    "comp",
    [GlobalDriftCompensation(), GlobalDriftCompensationWithExactReference(),
     PerColumnDriftCompensation()],
    ids=["global", "exact_reference", "per_column"],
)
def test_drift_compensation_restores_mean_output_scale(comp):
    W, X = reference_setup(7, n_inputs=400)
    Y0 = X @ W.T
    cfg = replace(reference_config(), drift_compensation=comp)
    A = AnalogMatrix(W, cfg, seed=11).drift(365 * 86400.0)
    ratio = np.abs(A.matmat(X)).mean() / np.abs(Y0).mean()
    assert abs(ratio - 1.0) < 0.03
    per_col = np.abs(A.matmat(X)).mean(axis=0) / np.abs(Y0).mean(axis=0)
    assert abs(np.median(per_col) - 1.0) < 0.05
    uncompensated = AnalogMatrix(W, replace(cfg, drift_compensation=None), seed=11)
    raw = np.abs(uncompensated.drift(365 * 86400.0).matmat(X)).mean() / np.abs(Y0).mean()
    assert raw < 0.9  # PCM drift lowers conductances; compensation undoes it


def test_energy_and_latency_scale_with_tile_activations(rng):
    cfg = ideal()  # no bound management: one activation per vector and tile
    X1 = rng.uniform(-1, 1, (100, 256))
    A1 = AnalogMatrix(rng.uniform(-1, 1, (256, 256)), cfg, seed=0)
    A4 = AnalogMatrix(rng.uniform(-1, 1, (512, 512)), cfg, seed=0)
    A1.matmat(X1)
    A4.matmat(np.hstack([X1, X1]))
    assert A1.n_tiles == 1 and A4.n_tiles == 4
    assert A4.stats.tile_activations == 4 * A1.stats.tile_activations == 400
    assert A4.stats.energy_j == pytest.approx(4 * A1.stats.energy_j)
    assert A1.stats.energy_j == pytest.approx(100 * cfg.energy.energy_per_tile_mvm_j)
    assert A1.stats.latency_s == pytest.approx(math.ceil(100 / 64) * 133e-9)
    # bound-management passes are charged too
    A = AnalogMatrix(*reference_setup(1, n_inputs=200)[:1], io_only(), seed=0)
    A.matmat(reference_setup(1, n_inputs=200)[1])
    st = A.stats
    assert st.tile_activations == st.mvm_count + st.bm_reruns > st.mvm_count
    assert st.energy_j == pytest.approx(st.tile_activations * 13.4e-9)
    assert st.adc_conversions == st.tile_activations * 256


def test_same_seed_identical_outputs_and_separate_streams():
    W, X = reference_setup(2, n_inputs=50)
    cfg = reference_config()
    a = AnalogMatrix(W, cfg, seed=42).drift(3600)
    b = AnalogMatrix(W, cfg, seed=42).drift(3600)
    np.testing.assert_array_equal(a.matmat(X), b.matmat(X))
    np.testing.assert_array_equal(a.matmat(X), b.matmat(X))
    c = AnalogMatrix(W, cfg, seed=43).drift(3600)
    assert not np.array_equal(a.analog_weights(), c.analog_weights())
    # reads do not touch the programming stream; each read has fresh noise
    fresh = AnalogMatrix(W, cfg, seed=42)
    used = AnalogMatrix(W, cfg, seed=42)
    used.matmat(X)
    used.matmat(X)
    np.testing.assert_array_equal(fresh.analog_weights(), used.analog_weights())
    np.testing.assert_array_equal(fresh.drift(60).analog_weights(), used.drift(60).analog_weights())
    y1, y2 = fresh.matmat(X), fresh.matmat(X)
    assert not np.array_equal(y1, y2)


def test_float64_option_matches_float32_statistically():
    W, X = reference_setup(4, n_inputs=300)
    e32 = relative_error(AnalogMatrix(W, io_only(), seed=1).matmat(X), X @ W.T)
    cfg64 = replace(io_only(), dtype="float64")
    y64 = AnalogMatrix(W, cfg64, seed=1).matmat(X)
    assert y64.dtype == np.float64
    assert abs(relative_error(y64, X @ W.T) - e32) < 0.002


def test_s_shaped_nonlinearity_halves_the_output_at_the_bound():
    cfg = plain_io(inp_res=0.0, out_res=0.0, inp_bound=30.0, out_bound=12.0,
                   out_nonlinearity=1.0)
    x = np.array([[12.0, -12.0, 6.0, 0.0]])
    y = AnalogMatrix(np.eye(4), cfg, seed=0).matmat(x).astype(np.float64)
    np.testing.assert_allclose(y, x / (1 + np.abs(x) / 12.0), rtol=1e-6)


def test_ir_drop_follows_the_polynomial_model():
    n, ratio = 64, 5000.0
    cfg = plain_io(inp_res=0.0, out_res=0.0, out_bound=100.0, ir_drop=1.0,
                   ir_drop_g_ratio=ratio)
    y = AnalogMatrix(np.ones((1, n)), cfg, seed=0).matmat(np.ones((1, n)))[0, 0]
    a = n / ratio * n  # n / g_ratio * sum_j |w_j| |x_j|
    c = a * (a * (0.05 * a - 0.2) + 0.5)
    j = np.arange(n)
    expected = n - c * np.sum(1 - (1 - j / n) ** 2)
    assert y == pytest.approx(expected, rel=1e-5)
    assert y < n


@pytest.mark.parametrize("kind", ["additive_constant", "pcm_read"])
def test_short_term_weight_noise_has_the_stated_variance(rng, kind):
    cfg = replace(plain_io(inp_res=0.0, out_res=0.0, out_bound=1e3, w_noise=0.05,
                           w_noise_type=kind), dtype="float64")
    W = rng.uniform(-1, 1, (3, 32))
    x = rng.uniform(-1, 1, 32)
    A = AnalogMatrix(W, cfg, seed=0)
    Y = A.matmat(np.tile(x, (4000, 1)))
    std = (Y - W @ x).std(axis=0)
    if kind == "additive_constant":
        expected = 0.05 * np.linalg.norm(x) * np.ones(3)
    else:
        expected = 0.05 * np.sqrt(np.abs(W) @ x**2)
    np.testing.assert_allclose(std, expected, rtol=0.06)
