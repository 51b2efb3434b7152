"""Configuration of the crossbar simulator: frozen dataclasses and presets.

Field names follow AIHWKit's (``IOParameters``, ``MappingParameter``,
``InferenceRPUConfig``), so ``forward.out_noise`` or
``mapping.weight_scaling_omega`` mean what they mean there. Change a preset with
:func:`dataclasses.replace`::

    from dataclasses import replace
    cfg = aihwkit_inference()
    cfg = replace(cfg, forward=replace(cfg.forward, out_noise=0.0))

Every field is validated in ``__post_init__``; a bad value raises
:class:`~qcoreset.InputError` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from qcoreset._errors import InputError
from qcoreset._registry import Registry

from .compensation import BaseDriftCompensation, GlobalDriftCompensation, get_drift_compensation
from .devices import BaseNoiseModel, HermesNoiseModel, PCMLikeNoiseModel, get_noise_model
from .energy import EnergyModel
from .programming import BaseProgramming, OneShotProgramming, get_programming

__all__ = [
    "IOParameters",
    "MappingParameter",
    "InputRangeParameter",
    "PrePostProcessingParameter",
    "AnalogConfig",
    "aihwkit_inference",
    "hwa_standard",
    "hermes",
    "ideal",
    "PRESETS",
    "register_preset",
    "get_config",
]

_NM = {
    "absmax": "abs_max",
    "max": "max",
    "constant": "constant",
    "none": "none",
}
_BM = {"iterative": "iterative", "none": "none"}
_WNOISE = {
    "none": "none",
    "additiveconstant": "additive_constant",
    "additive": "additive_constant",
    "pcmread": "pcm_read",
}


def _canon(owner: str, name: str, value, table: dict) -> str:
    key = str(value).split(".")[-1].replace("_", "").replace("-", "").lower()
    if not isinstance(value, str) and not hasattr(value, "name") or key not in table:
        choices = ", ".join(sorted(set(table.values())))
        raise InputError(f"{owner}.{name}={value!r} is not known; choose one of: {choices}")
    return table[key]


def _number(owner: str, name: str, value, *, low=None, positive=False, nonneg=False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise InputError(f"{owner}.{name} must be a number, got {value!r}")
    value = float(value)
    if not np.isfinite(value):
        raise InputError(f"{owner}.{name} must be finite, got {value!r}")
    if positive and value <= 0:
        raise InputError(f"{owner}.{name} must be > 0, got {value!r}")
    if nonneg and value < 0:
        raise InputError(f"{owner}.{name} must be >= 0, got {value!r}")
    if low is not None and value < low:
        raise InputError(f"{owner}.{name} must be >= {low}, got {value!r}")
    return value


def _int(owner: str, name: str, value, *, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InputError(f"{owner}.{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def _bool(owner: str, name: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise InputError(f"{owner}.{name} must be True or False, got {value!r}")
    return bool(value)


def _resolution(res: float) -> float:
    """AIHWKit's convention: res <= 1 is a resolution, res > 1 a number of steps."""
    return 1.0 / res if res > 1.0 else res


@dataclass(frozen=True)
class IOParameters:
    """Forward-pass periphery: DAC, ADC, noise, bound and noise management.

    Defaults are AIHWKit's ``IOParameters()`` (7-bit DAC, 9-bit ADC, output bound 12,
    output noise 0.06, abs-max noise management, iterative bound management).
    Inputs and outputs are in normalised units: weights scaled to max |w| = 1 and
    inputs to [-1, 1].
    """

    is_perfect: bool = False
    """Exact floating-point MVM (no DAC/ADC/noise); device noise still applies."""
    inp_res: float = 1.0 / 126
    """DAC resolution (<= 1) or number of steps (> 1); step = res * 2 * inp_bound."""
    inp_bound: float = 1.0
    """DAC range +-inp_bound (must be 1 with noise management)."""
    inp_noise: float = 0.0
    """Gaussian noise added to each input after the DAC."""
    out_res: float = 1.0 / 510
    """ADC resolution (<= 1) or number of steps (> 1); step = res * 2 * out_bound."""
    out_bound: float = 12.0
    """ADC range +-out_bound."""
    out_noise: float = 0.06
    """Gaussian noise added to each output before the ADC, per MVM."""
    out_noise_std: float = 0.0
    """Column-to-column relative spread of out_noise, drawn once at programming."""
    w_noise: float = 0.0
    """Short-term (read) weight noise, referred to the output."""
    w_noise_type: str = "none"
    """``none``, ``additive_constant`` (w_noise ||x||) or ``pcm_read`` (w_noise sqrt(sum|w|x^2))."""
    ir_drop: float = 0.0
    """Scale of the IR-drop model (0 = off)."""
    ir_drop_g_ratio: float = 1.0 / 0.35 / 5e-6
    """Wire conductance over g_max in the IR-drop model."""
    out_nonlinearity: float = 0.0
    """Strength of the S-shaped output non-linearity (1 halves the output at out_bound)."""
    out_nonlinearity_std: float = 0.0
    """Column-to-column relative spread of out_nonlinearity, drawn once."""
    slope_calibration: float = 0.0
    """Fraction of out_bound where the non-linearity's mean slope is calibrated to 1 (0 = off)."""
    noise_management: str = "abs_max"
    """Input scaling per vector: ``abs_max``, ``max`` (for non-negative inputs: a vector
    whose max is <= 0 gives 0, as in AIHWKit), ``constant`` or ``none``."""
    nm_thres: float = 0.0
    """Scale for ``constant`` noise management (0 means 1); cap for ``abs_max``/``max``."""
    bound_management: str = "iterative"
    """``iterative``: re-run clipped input vectors with inputs halved; ``none``."""
    max_bm_factor: int = 1000
    """Stop bound management once the input reduction factor exceeds this."""
    max_bm_res: float = 0.25
    """Stop bound management once the reduction factor exceeds max_bm_res / DAC step."""
    bm_test_negative_bound: bool = True
    """Whether outputs clipped at -out_bound also trigger bound management."""

    def __post_init__(self):
        o = "forward"
        s = object.__setattr__
        s(self, "is_perfect", _bool(o, "is_perfect", self.is_perfect))
        s(self, "bm_test_negative_bound",
          _bool(o, "bm_test_negative_bound", self.bm_test_negative_bound))
        for name in ("inp_res", "out_res", "inp_noise", "out_noise", "out_noise_std", "w_noise",
                     "ir_drop", "out_nonlinearity", "out_nonlinearity_std", "slope_calibration",
                     "nm_thres"):
            s(self, name, _number(o, name, getattr(self, name), nonneg=True))
        for name in ("inp_bound", "out_bound", "ir_drop_g_ratio", "max_bm_res"):
            s(self, name, _number(o, name, getattr(self, name), positive=True))
        s(self, "max_bm_factor", _int(o, "max_bm_factor", self.max_bm_factor, low=1))
        s(self, "noise_management", _canon(o, "noise_management", self.noise_management, _NM))
        s(self, "bound_management", _canon(o, "bound_management", self.bound_management, _BM))
        s(self, "w_noise_type", _canon(o, "w_noise_type", self.w_noise_type, _WNOISE))
        if self.noise_management != "none" and self.inp_bound != 1.0:
            raise InputError(
                f"forward.inp_bound={self.inp_bound} but noise_management="
                f"{self.noise_management!r} needs inp_bound == 1; set inp_bound=1.0 or "
                "noise_management='none'"
            )
        if self.w_noise > 0 and self.w_noise_type == "none":
            raise InputError(
                f"forward.w_noise={self.w_noise} has no effect with w_noise_type='none'; "
                "set w_noise_type='additive_constant' or 'pcm_read' (or w_noise=0)"
            )
        if self.slope_calibration > 0 and self.out_nonlinearity == 0:
            raise InputError(
                f"forward.slope_calibration={self.slope_calibration} needs out_nonlinearity > 0"
            )

    @property
    def inp_step(self) -> float:
        """DAC step in input units (0: no quantisation)."""
        return _resolution(self.inp_res) * 2.0 * self.inp_bound

    @property
    def out_step(self) -> float:
        """ADC step in output units (0: no quantisation)."""
        return _resolution(self.out_res) * 2.0 * self.out_bound


@dataclass(frozen=True)
class MappingParameter:
    """How a logical matrix is mapped onto tiles (AIHWKit ``MappingParameter``)."""

    max_input_size: int = 512
    """Rows (inputs) per tile; larger matrices are split (0 = never split)."""
    max_output_size: int = 512
    """Columns (outputs) per tile; larger matrices are split (0 = never split)."""
    weight_scaling_omega: float = 0.0
    """Scale weights so max|w| = omega per tile (or per column); 0 = off."""
    weight_scaling_columnwise: bool = False
    """Weight scaling per output column instead of per tile."""
    digital_bias: bool = True
    """Add the bias digitally (False: the bias is an extra analog input row of ones)."""

    def __post_init__(self):
        o = "mapping"
        s = object.__setattr__
        s(self, "max_input_size", _int(o, "max_input_size", self.max_input_size, low=0))
        s(self, "max_output_size", _int(o, "max_output_size", self.max_output_size, low=0))
        s(self, "weight_scaling_omega",
          _number(o, "weight_scaling_omega", self.weight_scaling_omega, nonneg=True))
        s(self, "weight_scaling_columnwise",
          _bool(o, "weight_scaling_columnwise", self.weight_scaling_columnwise))
        s(self, "digital_bias", _bool(o, "digital_bias", self.digital_bias))


@dataclass(frozen=True)
class InputRangeParameter:
    """Static input range r: inputs are clipped to [-r, r] and divided by r before the DAC.

    AIHWKit learns r during hardware-aware training; here r is calibrated from
    data with :meth:`AnalogMatrix.calibrate_input_range` as ``init_std_alpha *
    std(x)`` per tile (AIHWKit's data initialisation), or stays ``init_value``.
    """

    enable: bool = False
    """Use a static input range."""
    init_value: float = 3.0
    """Range used before (or without) calibration."""
    init_std_alpha: float = 3.0
    """Calibrated range = init_std_alpha * std of the tile's inputs."""

    def __post_init__(self):
        o = "pre_post.input_range"
        object.__setattr__(self, "enable", _bool(o, "enable", self.enable))
        object.__setattr__(self, "init_value",
                           _number(o, "init_value", self.init_value, positive=True))
        object.__setattr__(self, "init_std_alpha",
                           _number(o, "init_std_alpha", self.init_std_alpha, positive=True))


@dataclass(frozen=True)
class PrePostProcessingParameter:
    """Digital pre/post-processing around the tile (AIHWKit ``PrePostProcessingParameter``)."""

    input_range: InputRangeParameter = field(default_factory=InputRangeParameter)
    """Static input range (clip and scale before the DAC)."""

    def __post_init__(self):
        if not isinstance(self.input_range, InputRangeParameter):
            raise InputError(
                "pre_post.input_range must be an InputRangeParameter, got "
                f"{type(self.input_range).__name__}"
            )


@dataclass(frozen=True)
class AnalogConfig:
    """Complete configuration of the crossbar simulator (AIHWKit ``InferenceRPUConfig``).

    Examples
    --------
    >>> from dataclasses import replace
    >>> cfg = aihwkit_inference()
    >>> cfg.forward.out_bound
    12.0
    >>> replace(cfg, noise_model=None).noise_model is None
    True
    """

    forward: IOParameters = field(default_factory=IOParameters)
    """Forward-pass periphery (DAC, ADC, noise, noise and bound management)."""
    mapping: MappingParameter = field(default_factory=MappingParameter)
    """Tiling, weight scaling and bias."""
    noise_model: BaseNoiseModel | None = field(default_factory=PCMLikeNoiseModel)
    """Device model (programming noise, drift, read noise); None keeps the weights exact."""
    drift_compensation: BaseDriftCompensation | None = field(
        default_factory=GlobalDriftCompensation
    )
    """Drift compensation applied after drift (None: off)."""
    programming: BaseProgramming = field(default_factory=OneShotProgramming)
    """Weight-programming algorithm."""
    energy: EnergyModel = field(default_factory=EnergyModel)
    """Energy and latency model."""
    pre_post: PrePostProcessingParameter = field(default_factory=PrePostProcessingParameter)
    """Digital pre/post-processing (static input range)."""
    dtype: str = "float32"
    """Working precision of the pipeline: ``float32`` (default, as AIHWKit) or ``float64``."""
    name: str = "custom"
    """Label used in backend names and reports."""

    def __post_init__(self):
        s = object.__setattr__
        checks = (
            ("forward", IOParameters),
            ("mapping", MappingParameter),
            ("energy", EnergyModel),
            ("pre_post", PrePostProcessingParameter),
        )
        for name, cls in checks:
            if not isinstance(getattr(self, name), cls):
                raise InputError(
                    f"AnalogConfig.{name} must be a {cls.__name__}, got "
                    f"{type(getattr(self, name)).__name__}"
                )
        s(self, "noise_model", get_noise_model(self.noise_model))
        s(self, "drift_compensation", get_drift_compensation(self.drift_compensation))
        s(self, "programming", get_programming(self.programming))
        if str(self.dtype) not in ("float32", "float64"):
            raise InputError(
                f"AnalogConfig.dtype must be 'float32' or 'float64', got {self.dtype!r}"
            )
        s(self, "dtype", str(self.dtype))
        if not isinstance(self.name, str) or not self.name:
            raise InputError(f"AnalogConfig.name must be a non-empty string, got {self.name!r}")

    @property
    def np_dtype(self) -> np.dtype:
        """The working dtype as a numpy dtype."""
        return np.dtype(self.dtype)


# --------------------------------------------------------------------------- presets

PRESETS: Registry = Registry("analog preset")
"""Preset factories by name: ``aihwkit_inference``, ``hwa_standard``, ``hermes``, ``ideal``."""


def register_preset(name: str, factory=None, *, replace: bool = False):
    """Register a function returning an :class:`AnalogConfig` (usable as a decorator)."""
    return PRESETS.register(name, factory, replace=replace)


@register_preset("aihwkit_inference")
def aihwkit_inference() -> AnalogConfig:
    """AIHWKit's ``InferenceRPUConfig()`` defaults.

    ``IOParameters()`` (7-bit DAC, 9-bit ADC, out_bound 12, out_noise 0.06, abs-max
    noise management, iterative bound management), ``MappingParameter()`` (512 x 512
    tiles, no weight scaling, digital bias), ``PCMLikeNoiseModel()``,
    ``GlobalDriftCompensation()``, statistical one-shot programming.
    """
    return AnalogConfig(name="aihwkit_inference")


@register_preset("hwa_standard")
def hwa_standard() -> AnalogConfig:
    """The "standard AIMC crossbar model" of Rasch et al. (arXiv 2302.08469).

    AIHWKit's ``StandardHWATrainingPreset``: 8-bit DAC and ADC (254 steps),
    out_bound 10, out_noise 0.04, PCM-read short-term weight noise 0.0175, IR drop
    1.0, constant noise management (1.0) without bound management, a static input
    range (calibrated from data, 3 std), weight scaling omega = 1 per column,
    512-row tiles without an output split, PCM device model, global drift
    compensation.
    """
    return AnalogConfig(
        forward=IOParameters(
            inp_res=254, out_res=254, out_bound=10.0, out_noise=0.04,
            w_noise=0.0175, w_noise_type="pcm_read", ir_drop=1.0,
            noise_management="constant", nm_thres=1.0, bound_management="none",
        ),
        mapping=MappingParameter(
            max_input_size=512, max_output_size=0,
            weight_scaling_omega=1.0, weight_scaling_columnwise=True,
        ),
        pre_post=PrePostProcessingParameter(InputRangeParameter(enable=True)),
        name="hwa_standard",
    )


@register_preset("hermes")
def hermes() -> AnalogConfig:
    """The 64-core PCM chip (Le Gallo et al., Nat. Electron. 2023) as a simulator setting.

    256 x 256 cores, 8-bit inputs and outputs (254 steps), ``HermesNoiseModel()``
    (two devices per weight), weight scaling omega = 1 per column, global drift
    compensation, the chip's 1-phase energy figures. The chip's output range and
    output-noise level are not in the sources we read: out_bound 10, out_noise 0.04
    and abs-max / iterative management are borrowed from AIHWKit's
    ``StandardIOParameters`` (an assumption).
    """
    return AnalogConfig(
        forward=IOParameters(inp_res=254, out_res=254, out_bound=10.0, out_noise=0.04),
        mapping=MappingParameter(
            max_input_size=256, max_output_size=256,
            weight_scaling_omega=1.0, weight_scaling_columnwise=True,
        ),
        noise_model=HermesNoiseModel(),
        name="hermes",
    )


@register_preset("ideal")
def ideal() -> AnalogConfig:
    """Exact floating-point MVM on 256 x 256 tiles: no converters, noise or drift.

    Energy and latency are still counted, so it gives the cost of a perfect chip.
    """
    return AnalogConfig(
        forward=IOParameters(is_perfect=True),
        mapping=MappingParameter(max_input_size=256, max_output_size=256),
        noise_model=None,
        drift_compensation=None,
        name="ideal",
    )


def get_config(spec) -> AnalogConfig:
    """Return an :class:`AnalogConfig` from an instance or a preset name.

    Raises
    ------
    InputError
        For an unknown preset name (the message lists the presets) or a wrong type.
    """
    if isinstance(spec, AnalogConfig):
        return spec
    if isinstance(spec, str):
        return PRESETS.get(spec)()
    raise InputError(
        f"config must be an AnalogConfig or a preset name ({', '.join(PRESETS)}), "
        f"got {type(spec).__name__}"
    )
