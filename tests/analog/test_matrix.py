"""AnalogMatrix: numpy-like API, tiling, scaling, stats."""

from dataclasses import replace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import qcoreset.analog.matrix as matrix_mod
from qcoreset.analog import (
    AnalogMatrix,
    MappingParameter,
    aihwkit_inference,
    hwa_standard,
    ideal,
    relative_error,
)
from qcoreset.analog.matrix import _splits


def _small_tiles(cfg, rows=16, cols=8):
    return replace(cfg, mapping=replace(cfg.mapping, max_input_size=rows, max_output_size=cols))


@settings(max_examples=25, deadline=None)
@given(
    out=st.integers(1, 40), inp=st.integers(1, 50), n=st.integers(1, 12),
    seed=st.integers(0, 2**16),
)
def test_ideal_tiles_with_digital_accumulation_are_exact(out, inp, n, seed):
    rng = np.random.default_rng(seed)
    W = rng.normal(size=(out, inp))
    X = rng.normal(size=(n, inp))
    A = AnalogMatrix(W, replace(_small_tiles(ideal()), dtype="float64"), seed=0)
    np.testing.assert_allclose(A.matmat(X), X @ W.T, rtol=1e-10, atol=1e-10)
    assert A.n_tiles == -(-inp // 16) * -(-out // 8)


@pytest.mark.parametrize("n,m", [(10, 4), (512, 512), (513, 512), (1000, 256), (7, 0)])
def test_splits_are_near_equal(n, m):
    parts = _splits(n, m)
    sizes = [p.stop - p.start for p in parts]
    assert sum(sizes) == n and max(sizes) - min(sizes) <= 1
    assert all(s <= m for s in sizes) or m == 0
    assert parts[0].start == 0
    assert all(a.stop == b.start for a, b in zip(parts[:-1], parts[1:], strict=True))


def test_matmul_operator_and_matvec(rng):
    W = rng.uniform(-1, 1, (20, 30))
    A = AnalogMatrix(W, "ideal", seed=0)
    x = rng.uniform(-1, 1, 30)
    X = rng.uniform(-1, 1, (30, 5))
    np.testing.assert_allclose(A @ x, W @ x, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(A @ X, W @ X, rtol=1e-5, atol=1e-5)
    assert (A @ x).shape == (20,) and (A @ X).shape == (20, 5)
    assert A.shape == (20, 30)
    assert "AnalogMatrix(shape=(20, 30)" in repr(A)


def test_tiled_noisy_matrix_keeps_error_small(rng):
    W = rng.uniform(-1, 1, (100, 300))
    X = rng.uniform(-1, 1, (200, 300))
    cfg = _small_tiles(replace(aihwkit_inference(), noise_model=None, drift_compensation=None),
                       rows=128, cols=64)
    A = AnalogMatrix(W, cfg, seed=0)
    assert A.n_tiles == 3 * 2
    err = relative_error(A.matmat(X), X @ W.T)
    assert 0.005 < err < 0.06


def test_weight_scaling_handles_any_weight_magnitude(rng):
    W = rng.uniform(-1, 1, (32, 64))
    X = rng.uniform(-1, 1, (100, 64))
    base = replace(aihwkit_inference(), noise_model=None, drift_compensation=None)
    for columnwise in (False, True):
        cfg = replace(base, mapping=replace(base.mapping, weight_scaling_omega=1.0,
                                            weight_scaling_columnwise=columnwise))
        errs = [relative_error(AnalogMatrix(W * s, cfg, seed=1).matmat(X), X @ (W * s).T)
                for s in (1e-3, 1.0, 1e3)]
        assert max(errs) - min(errs) < 1e-3


def test_input_range_calibration(rng):
    W = rng.uniform(-1, 1, (10, 40))
    X = rng.normal(2.0, 5.0, (300, 40))
    A = AnalogMatrix(W, hwa_standard(), seed=0).calibrate_input_range(X)
    r = A._tiles[0][0].input_range
    assert r == pytest.approx(3.0 * X.std(), rel=1e-6)
    err_cal = relative_error(A.matmat(X), X @ W.T)
    B = AnalogMatrix(W, hwa_standard(), seed=0)  # uncalibrated: range 3.0 clips the inputs
    assert err_cal < 0.5 * relative_error(B.matmat(X), X @ W.T)


def test_stats_counters_and_reset(rng):
    A = AnalogMatrix(rng.uniform(-1, 1, (8, 16)), "hermes", seed=0)
    A.matmat(rng.uniform(-1, 1, (30, 16)))
    A.matmat(rng.uniform(-1, 1, (20, 16)))
    st_ = A.stats
    assert st_.mvm_count == 50 and st_["mvm_count"] == 50
    assert st_.tile_activations >= 50 and st_.energy_j > 0 and st_.latency_s > 0
    assert set(st_.as_dict()) == {"mvm_count", "tile_activations", "adc_conversions",
                                  "bm_reruns", "energy_j", "latency_s"}
    A.mvm_error(n_inputs=10)  # diagnostics are not counted
    assert A.stats.mvm_count == 50
    A.reset_stats()
    assert A.stats.mvm_count == 0 and A.stats.energy_j == 0.0


def test_chunked_batches_match_unchunked(rng, monkeypatch):
    W = rng.uniform(-1, 1, (8, 16))
    X = rng.uniform(-1, 1, (100, 16))
    cfg = replace(ideal(), dtype="float64")
    full = AnalogMatrix(W, cfg, seed=0).matmat(X)
    monkeypatch.setattr(matrix_mod, "_CHUNK_ELEMENTS", 16 * 7)
    np.testing.assert_allclose(AnalogMatrix(W, cfg, seed=0).matmat(X), full, rtol=1e-12)


def test_zero_inputs_give_zero_outputs(rng):
    A = AnalogMatrix(rng.uniform(-1, 1, (8, 16)), "aihwkit_inference", seed=0)
    X = rng.uniform(-1, 1, (5, 16))
    X[2] = 0.0
    Y = A.matmat(X)
    assert (Y[2] == 0).all() and (Y[[0, 1, 3, 4]] != 0).any()


def test_drift_times_need_not_be_ordered(rng):
    W = rng.uniform(-1, 1, (16, 16))
    A = AnalogMatrix(W, "aihwkit_inference", seed=3)
    w_day = A.drift(86400).analog_weights()
    A.drift(1.0)
    np.testing.assert_array_equal(A.drift(86400).analog_weights(), w_day)
    assert A.t == 86400.0


def test_mapping_without_split(rng):
    cfg = replace(ideal(), mapping=MappingParameter(max_input_size=0, max_output_size=0))
    A = AnalogMatrix(rng.uniform(-1, 1, (300, 700)), cfg)
    assert A.n_tiles == 1 and A.physical_tile_shape == (700, 300)


@pytest.mark.parametrize("module", ["matrix", "config", "energy", "backend", "hwa"])
def test_docstring_examples_run(module):
    import doctest
    import importlib

    mod = importlib.import_module(f"qcoreset.analog.{module}")
    result = doctest.testmod(mod, optionflags=doctest.ELLIPSIS)
    assert result.failed == 0 and result.attempted > 0


def test_noise_does_not_depend_on_the_thread_count(monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    import qcoreset.analog._rng as rng_mod

    a = rng_mod.normal(np.random.default_rng(5), (3000, 400))
    monkeypatch.setattr(rng_mod, "_POOL", ThreadPoolExecutor(1))
    b = rng_mod.normal(np.random.default_rng(5), (3000, 400))
    np.testing.assert_array_equal(a, b)
    z = a.astype(np.float64)
    assert abs(z.mean()) < 0.01 and abs(z.std() - 1) < 0.01
    assert np.abs(z).max() <= rng_mod.BOX_MULLER_MAX
