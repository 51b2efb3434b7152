"""Drift compensation strategies (AIHWKit ``inference/compensation/drift.py``).

At programming, every tile pushes the read-out inputs (the identity: one-hot
vectors) through its forward pass and keeps ``ref = readout(Y_ref)``. After drift
to ``t`` it repeats the read-out and scales all later outputs by
``alpha = ref / readout(Y_t)`` (digitally, after the ADC).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from qcoreset._errors import InputError
from qcoreset._registry import Registry

__all__ = [
    "BaseDriftCompensation",
    "GlobalDriftCompensation",
    "GlobalDriftCompensationWithExactReference",
    "PerColumnDriftCompensation",
    "DRIFT_COMPENSATIONS",
    "get_drift_compensation",
]


@dataclass(frozen=True)
class BaseDriftCompensation:
    """Base class: read-out inputs, read-out reduction and the correction factor."""

    name: ClassVar[str] = "base"
    exact_reference: ClassVar[bool] = False
    """Whether the baseline read-out uses the perfect (noise-free, unquantised) forward."""

    min_readout: float = 1e-4
    """Floor of the read-out value (AIHWKit clamps at 1e-4), avoids division by zero."""

    def __post_init__(self):
        if not (np.isfinite(self.min_readout) and self.min_readout > 0):
            raise InputError(
                f"{type(self).__name__}.min_readout must be positive, got {self.min_readout!r}"
            )

    def readout_inputs(self, in_size: int, dtype=np.float32) -> np.ndarray:
        """The read-out inputs: one-hot vectors (the identity), shape (in_size, in_size)."""
        return np.eye(in_size, dtype=dtype)

    def readout(self, y: np.ndarray):
        """Reduce the read-out outputs (shape (in_size, out_size)) to the tracked value."""
        raise NotImplementedError

    def alpha(self, y_now: np.ndarray, reference):
        """The output correction factor ``reference / readout(y_now)``."""
        return reference / self.readout(y_now)


@dataclass(frozen=True)
class GlobalDriftCompensation(BaseDriftCompensation):
    """One factor per tile: ``alpha = mean|Y_ref| / mean|Y_t|`` over the one-hot read-out.

    The baseline read-out goes through the full noisy forward, as in AIHWKit's default.
    """

    name: ClassVar[str] = "global"

    def readout(self, y):
        return max(float(np.abs(y).mean(dtype=np.float64)), self.min_readout)


@dataclass(frozen=True)
class GlobalDriftCompensationWithExactReference(GlobalDriftCompensation):
    """As :class:`GlobalDriftCompensation`, but the baseline read-out is noise-free.

    The baseline uses the programmed weights with a perfect forward, which removes
    the bias that a large ``out_noise`` adds to ``mean|Y_ref|``.
    """

    name: ClassVar[str] = "exact_reference"
    exact_reference: ClassVar[bool] = True


@dataclass(frozen=True)
class PerColumnDriftCompensation(BaseDriftCompensation):
    """One factor per output column: ``alpha_i = mean_j|Y_ref[j, i]| / mean_j|Y_t[j, i]|``."""

    name: ClassVar[str] = "per_column"

    def readout(self, y):
        return np.maximum(np.abs(y).mean(axis=0, dtype=np.float64), self.min_readout)


DRIFT_COMPENSATIONS: Registry[type] = Registry("drift compensation")
"""Drift compensations by name: ``global``, ``exact_reference``, ``per_column``."""
for _cls in (
    GlobalDriftCompensation,
    GlobalDriftCompensationWithExactReference,
    PerColumnDriftCompensation,
):
    DRIFT_COMPENSATIONS.register(_cls.name, _cls)


def get_drift_compensation(spec) -> BaseDriftCompensation | None:
    """Return a drift compensation from an instance, a registered name, or None.

    Raises
    ------
    InputError
        For an unknown name or a wrong type.
    """
    if spec is None or isinstance(spec, BaseDriftCompensation):
        return spec
    if isinstance(spec, str):
        if spec.lower() == "none":
            return None
        return DRIFT_COMPENSATIONS.get(spec)()
    raise InputError(
        "drift_compensation must be a BaseDriftCompensation, a registered name "
        f"({', '.join(DRIFT_COMPENSATIONS)}) or None, got {type(spec).__name__}"
    )
