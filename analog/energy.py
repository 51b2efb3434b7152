"""Energy and latency accounting from the 64-core PCM chip figures.

The default constants are derived (reference ``analog_aimc.md`` section 2.1) from
the chip's primary figures, 63.1 TOPS at 9.76 TOPS/W in the 1-phase read mode and
16.1 TOPS at 2.48 TOPS/W in the 4-phase mode, for 64 cores of 256 x 256 and 8-bit
I/O: about 13.4 nJ and 133 ns per 256 x 256 core MVM (1-phase) and 52.8 nJ and
521 ns (4-phase). They are **peak-utilisation** figures: every tile activation
(one input vector through one tile, one bound-management pass) is charged the
full core cost, whatever fraction of the core the matrix fills, and latency
assumes all cores run in parallel. Digital work (accumulation of partial sums,
scaling, activation functions, data movement) is not included unless
``digital_energy_per_op_j`` is set. Scaling the cost linearly with the number
of cells for other tile sizes is an assumption, not a measured figure.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

import numpy as np

from qcoreset._errors import InputError

__all__ = ["EnergyModel", "MVMStats"]


@dataclass(frozen=True)
class EnergyModel:
    """Per-tile-activation energy and latency (overridable; defaults: 1-phase chip mode).

    Examples
    --------
    >>> EnergyModel().energy_per_tile_mvm_j
    1.34e-08
    >>> EnergyModel.precise().latency_per_tile_mvm_s
    5.21e-07
    """

    energy_per_tile_mvm_j: float = 13.4e-9
    """Energy of one MVM on a reference-size core, joules (derived, 1-phase mode)."""
    latency_per_tile_mvm_s: float = 133e-9
    """Duration of one MVM on a core, seconds (derived, 1-phase mode)."""
    reference_rows: int = 256
    """Rows (inputs) of the core the figures refer to."""
    reference_cols: int = 256
    """Columns (outputs) of the core the figures refer to."""
    scale_with_tile_size: bool = True
    """Scale the energy linearly with the tile's cell count (an assumption)."""
    n_cores: int = 64
    """Cores working in parallel (latency divides the activations among them)."""
    digital_energy_per_op_j: float = 0.0
    """Energy per digital output operation (accumulate / rescale), joules; 0 = not modelled."""
    mode: str = "1-phase"
    """Label of the chip read mode the figures come from."""

    def __post_init__(self):
        for name in ("energy_per_tile_mvm_j", "latency_per_tile_mvm_s", "digital_energy_per_op_j"):
            value = getattr(self, name)
            if not (np.isfinite(value) and value >= 0):
                raise InputError(f"EnergyModel.{name} must be finite and >= 0, got {value!r}")
        for name in ("reference_rows", "reference_cols", "n_cores"):
            value = getattr(self, name)
            if not isinstance(value, (int, np.integer)) or value < 1:
                raise InputError(f"EnergyModel.{name} must be a positive integer, got {value!r}")

    @classmethod
    def fast(cls) -> EnergyModel:
        """The chip's 1-phase (low-precision, fast) read mode: 13.4 nJ, 133 ns per core MVM."""
        return cls()

    @classmethod
    def precise(cls) -> EnergyModel:
        """The chip's 4-phase (high-precision) read mode: 52.8 nJ, 521 ns per core MVM."""
        return cls(energy_per_tile_mvm_j=52.8e-9, latency_per_tile_mvm_s=521e-9, mode="4-phase")

    def tile_energy(self, rows: int, cols: int) -> float:
        """Energy of one activation of a ``rows`` x ``cols`` tile, joules."""
        if not self.scale_with_tile_size:
            return self.energy_per_tile_mvm_j
        cells = self.reference_rows * self.reference_cols
        return self.energy_per_tile_mvm_j * (rows * cols) / cells

    def latency(self, activations: int) -> float:
        """Latency of ``activations`` tile MVMs spread over ``n_cores`` cores, seconds."""
        if activations <= 0:
            return 0.0
        return math.ceil(activations / self.n_cores) * self.latency_per_tile_mvm_s


@dataclass
class MVMStats:
    """Counters of an :class:`~qcoreset.analog.AnalogMatrix` (or a backend).

    ``mvm_count`` counts input vectors through the whole matrix; ``tile_activations``
    counts input vectors through one tile, one per bound-management pass;
    ``adc_conversions`` counts converted outputs; ``bm_reruns`` counts the extra
    passes caused by bound management.
    """

    mvm_count: int = 0
    """Logical matrix-vector products."""
    tile_activations: int = 0
    """Tile MVMs including bound-management re-runs."""
    adc_conversions: int = 0
    """Output conversions (used columns x tile activations)."""
    bm_reruns: int = 0
    """Tile MVMs that were re-runs caused by a clipped output."""
    energy_j: float = 0.0
    """Estimated energy, joules (peak-utilisation estimate)."""
    latency_s: float = 0.0
    """Estimated latency, seconds (peak-utilisation estimate)."""

    def as_dict(self) -> dict:
        """The counters as a plain dict."""
        return asdict(self)

    def __getitem__(self, key: str):
        if key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        return getattr(self, key)

    def reset(self) -> None:
        """Set every counter back to zero."""
        for f in fields(self):
            setattr(self, f.name, type(getattr(self, f.name))(0))

    def add(self, other: MVMStats) -> None:
        """Accumulate ``other`` into this object."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
