"""qcoreset.analog: simulated analog in-memory-computing (AIMC) inference, numpy only.

A crossbar simulator in the spirit of IBM AIHWKit's inference tiles, without
torch or a C++ build, with explicit ``numpy.random.Generator`` seeding and an
energy/latency count. Nothing in the core package imports it.

Main entry points
-----------------
AnalogMatrix
    ``AnalogMatrix(W, config, seed=...)`` programs W (out x in) onto tiles;
    ``.drift(t)``, ``.matmat(X)`` (= X @ W.T through the pipeline), ``A @ x``,
    ``.stats``.
AnalogConfig, IOParameters, MappingParameter, ...
    Frozen configuration dataclasses with AIHWKit field names; presets
    :func:`aihwkit_inference`, :func:`hwa_standard`, :func:`hermes`, :func:`ideal`.
PCMLikeNoiseModel, HermesNoiseModel, StateIndependentNoiseModel, ReRamCMONoiseModel
    Device models (strategy objects).
OneShotProgramming, ProgramAndVerify, GDPProgramming
    Programming algorithms.
GlobalDriftCompensation, GlobalDriftCompensationWithExactReference, PerColumnDriftCompensation
    Drift compensation.
EnergyModel
    Per-tile-activation energy and latency (peak-utilisation estimate).
AnalogBackend, DigitalBackend, parse_backend
    Inference backends with one method, ``linear(W, b, X) -> X @ W.T + b``.
HWALinearClassifier, HWAMLPClassifier, hwa_fit_linear, hwa_fit_mlp, hwa_finetune
    Hardware-aware training by noise injection (``hwa_finetune`` is what the
    tasks' ``hwa="PRESET@T"`` option runs).
"""

from .backend import (
    AnalogBackend,
    DigitalBackend,
    format_time,
    parse_backend,
    parse_time,
)
from .compensation import (
    DRIFT_COMPENSATIONS,
    BaseDriftCompensation,
    GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference,
    PerColumnDriftCompensation,
)
from .config import (
    PRESETS,
    AnalogConfig,
    InputRangeParameter,
    IOParameters,
    MappingParameter,
    PrePostProcessingParameter,
    aihwkit_inference,
    get_config,
    hermes,
    hwa_standard,
    ideal,
    register_preset,
)
from .devices import (
    NOISE_MODELS,
    BaseConductanceConverter,
    BaseNoiseModel,
    DeviceState,
    HermesNoiseModel,
    PCMLikeNoiseModel,
    ReRamCMONoiseModel,
    SingleDeviceConductanceConverter,
    SinglePairConductanceConverter,
    StateIndependentNoiseModel,
    register_noise_model,
)
from .energy import EnergyModel, MVMStats
from .hwa import (
    HWALinearClassifier,
    HWAMLPClassifier,
    analog_decision_function,
    analog_predict,
    hwa_finetune,
    hwa_fit_linear,
    hwa_fit_mlp,
    hwa_noise_profile,
    hwa_spec,
)
from .matrix import AnalogMatrix, compare_programming, relative_error
from .programming import (
    PROGRAMMING_ALGORITHMS,
    BaseProgramming,
    GDPProgramming,
    OneShotProgramming,
    ProgramAndVerify,
    ProgrammingResult,
)

__all__ = [
    # matrix
    "AnalogMatrix",
    "relative_error",
    "compare_programming",
    # configuration
    "AnalogConfig",
    "IOParameters",
    "MappingParameter",
    "InputRangeParameter",
    "PrePostProcessingParameter",
    "aihwkit_inference",
    "hwa_standard",
    "hermes",
    "ideal",
    "PRESETS",
    "register_preset",
    "get_config",
    # devices
    "BaseNoiseModel",
    "PCMLikeNoiseModel",
    "HermesNoiseModel",
    "StateIndependentNoiseModel",
    "ReRamCMONoiseModel",
    "NOISE_MODELS",
    "register_noise_model",
    "DeviceState",
    "BaseConductanceConverter",
    "SinglePairConductanceConverter",
    "SingleDeviceConductanceConverter",
    # drift compensation
    "BaseDriftCompensation",
    "GlobalDriftCompensation",
    "GlobalDriftCompensationWithExactReference",
    "PerColumnDriftCompensation",
    "DRIFT_COMPENSATIONS",
    # programming
    "BaseProgramming",
    "OneShotProgramming",
    "ProgramAndVerify",
    "GDPProgramming",
    "ProgrammingResult",
    "PROGRAMMING_ALGORITHMS",
    # energy
    "EnergyModel",
    "MVMStats",
    # backends
    "AnalogBackend",
    "DigitalBackend",
    "parse_backend",
    "parse_time",
    "format_time",
    # hardware-aware training
    "HWALinearClassifier",
    "HWAMLPClassifier",
    "hwa_fit_linear",
    "hwa_fit_mlp",
    "hwa_noise_profile",
    "hwa_spec",
    "hwa_finetune",
    "analog_decision_function",
    "analog_predict",
]
