"""Configuration dataclasses, presets and bad input."""

from dataclasses import FrozenInstanceError, replace

import numpy as np
import pytest

from qcoreset import InputError
from qcoreset.analog import (
    PRESETS,
    AnalogConfig,
    AnalogMatrix,
    EnergyModel,
    HermesNoiseModel,
    InputRangeParameter,
    IOParameters,
    MappingParameter,
    PCMLikeNoiseModel,
    aihwkit_inference,
    get_config,
    hermes,
    hwa_standard,
    ideal,
)


def test_aihwkit_defaults():
    cfg = aihwkit_inference()
    f = cfg.forward
    assert (f.inp_res, f.out_res, f.out_bound, f.out_noise) == (1 / 126, 1 / 510, 12.0, 0.06)
    assert (f.noise_management, f.bound_management) == ("abs_max", "iterative")
    assert (f.max_bm_factor, f.max_bm_res) == (1000, 0.25)
    assert f.ir_drop_g_ratio == pytest.approx(5.714e5, rel=1e-3)
    m = cfg.mapping
    assert (m.max_input_size, m.max_output_size, m.weight_scaling_omega) == (512, 512, 0.0)
    assert m.digital_bias and not m.weight_scaling_columnwise
    assert isinstance(cfg.noise_model, PCMLikeNoiseModel) and cfg.noise_model.g_max == 25.0
    assert cfg.noise_model.t_0 == 20.0 and cfg.noise_model.t_read == 250e-9
    assert f.inp_step == pytest.approx(2 / 126) and f.out_step == pytest.approx(24 / 510)


def test_hwa_standard_hermes_ideal():
    h = hwa_standard().forward
    assert (h.inp_step, h.out_step) == (pytest.approx(2 / 254), pytest.approx(20 / 254))
    assert (h.out_bound, h.out_noise, h.w_noise, h.w_noise_type) == (10.0, 0.04, 0.0175,
                                                                    "pcm_read")
    assert (h.ir_drop, h.noise_management, h.bound_management) == (1.0, "constant", "none")
    assert hwa_standard().mapping.weight_scaling_columnwise
    assert hwa_standard().pre_post.input_range.enable
    hc = hermes()
    assert (hc.mapping.max_input_size, hc.mapping.max_output_size) == (256, 256)
    assert isinstance(hc.noise_model, HermesNoiseModel) and hc.noise_model.g_max == 20.7
    assert ideal().forward.is_perfect and ideal().noise_model is None
    assert set(PRESETS) >= {"aihwkit_inference", "hwa_standard", "hermes", "ideal"}
    for name in PRESETS:
        assert get_config(name).name == name


def test_configs_are_frozen_and_changed_with_replace():
    cfg = aihwkit_inference()
    with pytest.raises(FrozenInstanceError):
        cfg.forward.out_noise = 0.0
    quiet = replace(cfg, forward=replace(cfg.forward, out_noise=0.0))
    assert quiet.forward.out_noise == 0.0 and cfg.forward.out_noise == 0.06
    assert replace(cfg, noise_model="hermes").noise_model == HermesNoiseModel()
    assert replace(cfg, drift_compensation="per_column").drift_compensation.name == "per_column"
    assert replace(cfg, programming="gdp").programming.name == "gdp"
    assert IOParameters(noise_management="AbsMax").noise_management == "abs_max"
    assert IOParameters(w_noise=0.01, w_noise_type="PCM_READ").w_noise_type == "pcm_read"


@pytest.mark.parametrize(
    "make,field",
    [
        (lambda: IOParameters(inp_bound=2.0), "inp_bound"),
        (lambda: IOParameters(out_bound=-1.0), "out_bound"),
        (lambda: IOParameters(out_noise=float("nan")), "out_noise"),
        (lambda: IOParameters(w_noise=0.02), "w_noise"),
        (lambda: IOParameters(noise_management="loudest"), "noise_management"),
        (lambda: IOParameters(bound_management="shift"), "bound_management"),
        (lambda: IOParameters(max_bm_factor=0), "max_bm_factor"),
        (lambda: IOParameters(slope_calibration=0.5), "slope_calibration"),
        (lambda: IOParameters(is_perfect="yes"), "is_perfect"),
        (lambda: MappingParameter(max_input_size=-4), "max_input_size"),
        (lambda: MappingParameter(weight_scaling_omega=-1.0), "weight_scaling_omega"),
        (lambda: InputRangeParameter(init_value=0.0), "init_value"),
        (lambda: AnalogConfig(dtype="float16"), "dtype"),
        (lambda: AnalogConfig(noise_model="memristor"), "memristor"),
        (lambda: AnalogConfig(forward=MappingParameter()), "forward"),
        (lambda: AnalogConfig(programming="magic"), "magic"),
        (lambda: EnergyModel(n_cores=0), "n_cores"),
        (lambda: EnergyModel(energy_per_tile_mvm_j=-1.0), "energy_per_tile_mvm_j"),
        (lambda: HermesNoiseModel(num_devices=3), "num_devices"),
        (lambda: HermesNoiseModel(num_devices=1, g_max=20.0), "g_max"),
        (lambda: get_config("nonexistent"), "nonexistent"),
    ],
    ids=lambda v: v if isinstance(v, str) else "",
)
def test_bad_configuration_names_the_field(make, field):
    with pytest.raises(InputError, match=field):
        make()


def test_noise_management_needs_unit_input_bound_message():
    with pytest.raises(InputError) as exc:
        IOParameters(inp_bound=2.0)
    msg = str(exc.value)
    assert "inp_bound=2.0" in msg and "noise_management" in msg and "inp_bound=1.0" in msg
    assert IOParameters(inp_bound=2.0, noise_management="none").inp_bound == 2.0


@pytest.mark.parametrize(
    "W,field",
    [
        (np.ones(5), "2-D"),
        (np.zeros((0, 3)), "empty"),
        (np.array([[1.0, np.nan]]), "NaN"),
        (np.array([[1.0, np.inf]]), "NaN or infinite"),
        (np.array([["a", "b"]]), "non-numeric"),
    ],
    ids=["1d", "empty", "nan", "inf", "strings"],
)
def test_bad_weights_name_the_field(W, field):
    with pytest.raises(InputError, match="W") as exc:
        AnalogMatrix(W, "ideal")
    assert field in str(exc.value)


@pytest.mark.parametrize(
    "X,field",
    [
        (np.ones((3, 5)), "columns"),
        (np.ones(4), "2-D"),
        (np.array([[0.0, np.nan, 0.0, 0.0]]), "NaN"),
        (np.array([[0.0, -np.inf, 0.0, 0.0]]), "NaN or infinite"),
    ],
    ids=["columns", "1d", "nan", "inf"],
)
def test_bad_inputs_name_the_field(X, field):
    A = AnalogMatrix(np.ones((2, 4)), "ideal")
    with pytest.raises(InputError, match="X") as exc:
        A.matmat(X)
    assert field in str(exc.value)


@pytest.mark.parametrize("t", [-1.0, float("nan"), float("inf"), "1h", None])
def test_bad_times_are_rejected(t):
    A = AnalogMatrix(np.ones((2, 4)), "aihwkit_inference")
    with pytest.raises(InputError, match="t_seconds"):
        A.drift(t)


def test_input_range_calibration_needs_it_enabled():
    with pytest.raises(InputError, match="input_range"):
        AnalogMatrix(np.ones((2, 4)), "aihwkit_inference").calibrate_input_range(np.ones((3, 4)))
