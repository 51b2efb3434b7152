"""Shared set-ups of the analog tests."""

from dataclasses import replace

import numpy as np

from qcoreset.analog import AnalogConfig, IOParameters, MappingParameter, aihwkit_inference


def reference_setup(seed: int, n_inputs: int = 1000):
    """The reference's setup: 256 x 256, W and X uniform in [-1, 1], max|W| = 1."""
    rng = np.random.default_rng(seed)
    W = rng.uniform(-1.0, 1.0, (256, 256))
    W /= np.abs(W).max()
    X = rng.uniform(-1.0, 1.0, (n_inputs, 256))
    return W, X


def reference_config(**forward) -> AnalogConfig:
    """aihwkit_inference() on one 256 x 256 tile, omega = 1 per tile."""
    cfg = aihwkit_inference()
    mapping = replace(cfg.mapping, max_input_size=256, max_output_size=256,
                      weight_scaling_omega=1.0)
    return replace(cfg, mapping=mapping, forward=replace(cfg.forward, **forward))


def io_only(**forward) -> AnalogConfig:
    """Periphery only: no device model, no drift compensation."""
    return replace(reference_config(**forward), noise_model=None, drift_compensation=None)


def plain_io(**forward) -> AnalogConfig:
    """No noise, no management: a bare DAC / ADC chain for quantiser tests."""
    fwd = dict(out_noise=0.0, noise_management="none", bound_management="none")
    fwd.update(forward)
    return AnalogConfig(
        forward=IOParameters(**fwd),
        mapping=MappingParameter(max_input_size=0, max_output_size=0),
        noise_model=None,
        drift_compensation=None,
    )
