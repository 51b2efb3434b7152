"""Weight-programming algorithms (strategy objects).

* :class:`OneShotProgramming` draws every device once from the device model's
  programming distribution. This is what AIHWKit does; note that those fitted
  distributions already describe the chips' own iterative programming.
* :class:`ProgramAndVerify` re-programs the devices whose verify read is outside
  a tolerance band, up to ``max_iterations`` rounds (unit cell by unit cell).
* :class:`GDPProgramming` is gradient-descent programming (Buechel et al.,
  arXiv 2305.16647): random inputs go through the tile's normal read path (all
  I/O non-idealities), the MVM error against the digital target gives a
  gradient, and every conductance is updated from it. It corrects deterministic
  errors such as IR drop that per-device verification cannot see. The update
  noise and the learning-rate schedule are modelling choices of this package,
  not figures from the paper.

Each algorithm returns a :class:`ProgrammingResult`; the tile then measures the
relative MVM error the result achieves (``AnalogMatrix.programming_report``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from qcoreset._errors import InputError
from qcoreset._registry import Registry

from .devices import BaseNoiseModel, DeviceState

__all__ = [
    "ProgrammingResult",
    "BaseProgramming",
    "OneShotProgramming",
    "ProgramAndVerify",
    "GDPProgramming",
    "PROGRAMMING_ALGORITHMS",
    "get_programming",
]

ReadFn = Callable[[np.ndarray, np.ndarray], np.ndarray]


@dataclass
class ProgrammingResult:
    """What programming one tile produced."""

    weights: np.ndarray
    """Programmed weights in tile units (converted back from the conductances)."""
    states: list[DeviceState]
    """Programmed conductances and drift parameters, one per conductance slice."""
    params: dict
    """Converter parameters (e.g. ``scale_ratio``) of the programming-time mapping."""
    iterations: int = 0
    """Verify rounds (program-and-verify) or gradient steps (GDP); 0 for one-shot."""
    info: dict = field(default_factory=dict)
    """Algorithm-specific diagnostics (e.g. GDP's error history)."""


def _check(owner: str, name: str, value, *, integer: bool = False, allow_zero: bool = False):
    if integer:
        ok = isinstance(value, (int, np.integer)) and (value >= 0 if allow_zero else value >= 1)
    else:
        ok = isinstance(value, (int, float, np.number)) and np.isfinite(value) and (
            value >= 0 if allow_zero else value > 0
        )
    if not ok:
        kind = "integer" if integer else "number"
        bound = ">= 0" if allow_zero else "> 0"
        raise InputError(f"{owner}.{name} must be a finite {kind} {bound}, got {value!r}")


@dataclass(frozen=True)
class BaseProgramming:
    """Base class of the programming algorithms."""

    name: ClassVar[str] = "base"

    def program(
        self,
        w_target: np.ndarray,
        model: BaseNoiseModel,
        rng: np.random.Generator,
        read: ReadFn | None = None,
    ) -> ProgrammingResult:
        """Program ``w_target`` (tile units) on devices of ``model``.

        Parameters
        ----------
        w_target : ndarray, shape (out, in)
            Target weights of one tile, after weight scaling.
        model : BaseNoiseModel
            The device model.
        rng : numpy.random.Generator
            The programming stream.
        read : callable, optional
            ``read(X, W) -> Y``: the tile's noisy forward with weights ``W``; used by
            algorithms that read the array through its periphery (GDP).

        Returns
        -------
        ProgrammingResult
        """
        raise NotImplementedError


@dataclass(frozen=True)
class OneShotProgramming(BaseProgramming):
    """Statistical one-shot programming: ``g = g_T + sigma(g_T) xi`` for every device."""

    name: ClassVar[str] = "one_shot"

    def program(self, w_target, model, rng, read=None):
        conv = model.converter
        targets, params = conv.to_conductances(w_target)
        states = [model.program(g, rng) for g in targets]
        weights = conv.to_weights([s.g for s in states], params)
        return ProgrammingResult(weights, states, params)


@dataclass(frozen=True)
class ProgramAndVerify(BaseProgramming):
    """Iterative program-and-verify, unit cell by unit cell.

    After a first statistical attempt, every device whose verify read differs from
    its target by more than ``tolerance * (g_max - g_min)`` is programmed again
    (a fresh draw from the device's programming distribution), for at most
    ``max_iterations`` rounds.
    """

    name: ClassVar[str] = "program_verify"

    tolerance: float = 0.02
    """Acceptance band, as a fraction of the conductance range."""
    max_iterations: int = 20
    """Most verify rounds."""
    verify_noise: float = 0.0
    """Standard deviation (uS) of the verify read; 0 is an exact read."""

    def __post_init__(self):
        _check("ProgramAndVerify", "tolerance", self.tolerance)
        _check("ProgramAndVerify", "max_iterations", self.max_iterations, integer=True)
        _check("ProgramAndVerify", "verify_noise", self.verify_noise, allow_zero=True)

    def program(self, w_target, model, rng, read=None):
        conv = model.converter
        targets, params = conv.to_conductances(w_target)
        band = self.tolerance * (conv.g_max - conv.g_min)
        states = []
        rounds = 0
        unconverged = 0
        for g_t in targets:
            g = model.programming_noise(g_t, rng)
            nu = model.drift_coefficients(g_t, rng)
            for it in range(self.max_iterations):
                seen = g
                if self.verify_noise > 0:
                    seen = g + self.verify_noise * rng.standard_normal(g.shape)
                bad = np.abs(seen - g_t) > band
                if not bad.any():
                    break
                rounds = max(rounds, it + 1)
                g[bad] = model.programming_noise(g_t[bad], rng)
            else:
                unconverged += int((np.abs(g - g_t) > band).sum())
            states.append(DeviceState(g, nu))
        weights = conv.to_weights([s.g for s in states], params)
        return ProgrammingResult(
            weights, states, params, rounds, {"devices_outside_tolerance": unconverged}
        )


@dataclass(frozen=True)
class GDPProgramming(BaseProgramming):
    """Gradient-descent programming (GDP) through the tile's read path.

    Starting from ``init``, each step draws ``batch_size`` inputs uniform in
    [-a, a] (``a = input_amplitude``), reads ``Y`` through the tile (all I/O
    non-idealities), forms the error ``E = Y - X W_T^T`` (outputs that saturated the
    ADC are left out) and the gradient ``G = E^T X / batch``, and updates the
    conductances by ``-lr_k G / E[x^2]`` converted to uS (split between the two
    devices of a pair). Each update is realised with relative noise
    ``update_noise``. ``lr_k = learning_rate * lr_decay**k``.
    """

    name: ClassVar[str] = "gdp"

    n_iterations: int = 60
    """Gradient steps."""
    batch_size: int = 256
    """Random inputs per step."""
    learning_rate: float = 0.5
    """Initial step, as a fraction of a full Newton step."""
    lr_decay: float = 0.95
    """Multiplicative decay of the step per iteration."""
    update_noise: float = 0.1
    """Relative standard deviation of each conductance update (a modelling assumption)."""
    input_amplitude: float = 1.0
    """Random inputs are uniform in [-input_amplitude, input_amplitude]."""
    init: BaseProgramming = field(default_factory=OneShotProgramming)
    """Algorithm that provides the starting conductances."""

    def __post_init__(self):
        _check("GDPProgramming", "n_iterations", self.n_iterations, integer=True, allow_zero=True)
        _check("GDPProgramming", "batch_size", self.batch_size, integer=True)
        _check("GDPProgramming", "learning_rate", self.learning_rate)
        _check("GDPProgramming", "lr_decay", self.lr_decay)
        _check("GDPProgramming", "update_noise", self.update_noise, allow_zero=True)
        _check("GDPProgramming", "input_amplitude", self.input_amplitude)
        if self.lr_decay > 1:
            raise InputError(f"GDPProgramming.lr_decay must be <= 1, got {self.lr_decay!r}")
        if not isinstance(self.init, BaseProgramming) or isinstance(self.init, GDPProgramming):
            raise InputError(
                "GDPProgramming.init must be a non-GDP programming algorithm "
                f"(e.g. OneShotProgramming()), got {self.init!r}"
            )

    def program(self, w_target, model, rng, read=None):
        start = self.init.program(w_target, model, rng, read)
        conv = model.converter
        params = start.params
        k = params["scale_ratio"]
        g = [s.g.copy() for s in start.states]
        lo = conv.g_min
        hi = conv.g_max
        n_in = w_target.shape[1]
        history = []
        ex2 = self.input_amplitude**2 / 3.0  # E[x^2] of U(-a, a)
        for it in range(self.n_iterations):
            w_now = conv.to_weights(g, params)
            x = rng.uniform(-self.input_amplitude, self.input_amplitude,
                            size=(self.batch_size, n_in))
            y_ref = x @ w_target.T
            y = read(x, w_now) if read is not None else x @ w_now.T
            err = y - y_ref
            saturated = np.isnan(err)
            if saturated.any():
                err[saturated] = 0.0
            history.append(float(np.linalg.norm(err) / max(np.linalg.norm(y_ref), 1e-30)))
            grad = err.T @ x / self.batch_size
            dg = -(self.learning_rate * self.lr_decay**it / ex2) * grad * k
            if len(g) == 2:
                for sign, gi in ((0.5, g[0]), (-0.5, g[1])):
                    step = sign * dg
                    if self.update_noise > 0:
                        step = step * (1.0 + self.update_noise * rng.standard_normal(step.shape))
                    np.clip(gi + step, lo if lo > 0 else 0.0, hi, out=gi)
            else:
                step = dg
                if self.update_noise > 0:
                    step = step * (1.0 + self.update_noise * rng.standard_normal(step.shape))
                np.clip(g[0] + step, lo, hi, out=g[0])
        states = [DeviceState(gi, s.params) for gi, s in zip(g, start.states, strict=True)]
        weights = conv.to_weights(g, params)
        return ProgrammingResult(
            weights, states, params, self.n_iterations, {"error_history": history}
        )


PROGRAMMING_ALGORITHMS: Registry[type] = Registry("programming algorithm")
"""Programming algorithms by name: ``one_shot``, ``program_verify``, ``gdp``."""
for _cls in (OneShotProgramming, ProgramAndVerify, GDPProgramming):
    PROGRAMMING_ALGORITHMS.register(_cls.name, _cls)


def get_programming(spec) -> BaseProgramming:
    """Return a programming algorithm from an instance or a registered name.

    Raises
    ------
    InputError
        For an unknown name or a wrong type.
    """
    if isinstance(spec, BaseProgramming):
        return spec
    if isinstance(spec, str):
        return PROGRAMMING_ALGORITHMS.get(spec)()
    raise InputError(
        "programming must be a BaseProgramming or a registered name "
        f"({', '.join(PROGRAMMING_ALGORITHMS)}), got {type(spec).__name__}"
    )
