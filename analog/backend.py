"""Inference backends: one method, ``linear(W, b, X) -> X @ W.T + b``.

Downstream tasks run all their matrix products through ``backend.linear``:
k-means assignment (``||c||^2 - 2 c.x`` with the dot products from
``linear(C, None, X)``), linear SVM / logistic decision functions, PCA projection
and every MLP layer (activations stay digital). :class:`DigitalBackend` (the core one from
:mod:`qcoreset.tasks`) computes
in float64; :class:`AnalogBackend` programs each distinct W once onto simulated
crossbars, drifts it to ``t_inference`` and accumulates energy and latency.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

import numpy as np

from qcoreset._errors import InputError
from qcoreset.tasks import DigitalBackend

from ._rng import as_seed_sequence
from .config import PRESETS, AnalogConfig, get_config
from .energy import MVMStats
from .matrix import AnalogMatrix, check_time

__all__ = [
    "DigitalBackend",
    "AnalogBackend",
    "parse_backend",
    "parse_time",
    "format_time",
    "DEFAULT_PRESET",
    "DEFAULT_T_INFERENCE",
]

DEFAULT_PRESET = "hwa_standard"
"""Preset of a bare ``analog`` backend spec."""
DEFAULT_T_INFERENCE = 86400.0
"""Inference time (1 day after programming) of a backend spec without ``@T``."""

_UNITS = {
    "": 1.0, "s": 1.0, "sec": 1.0, "second": 1.0, "seconds": 1.0,
    "m": 60.0, "min": 60.0, "minute": 60.0, "minutes": 60.0,
    "h": 3600.0, "hour": 3600.0, "hours": 3600.0,
    "d": 86400.0, "day": 86400.0, "days": 86400.0,
    "w": 604800.0, "week": 604800.0, "weeks": 604800.0,
    "y": 31536000.0, "year": 31536000.0, "years": 31536000.0,
}
_TIME_RE = re.compile(r"^\s*([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_time(text) -> float:
    """Seconds from a time such as ``1s``, ``3600``, ``30min``, ``1h``, ``1d``, ``1w``, ``1y``.

    A year is 365 days. Numbers without a unit are seconds.

    Raises
    ------
    InputError
        For an unreadable, unknown-unit, negative or non-finite time.

    Examples
    --------
    >>> parse_time("1d"), parse_time("3600"), parse_time("1.5h")
    (86400.0, 3600.0, 5400.0)
    """
    if isinstance(text, (int, float, np.integer, np.floating)) and not isinstance(text, bool):
        return check_time(text, "time")
    match = _TIME_RE.match(str(text))
    if not match:
        raise InputError(
            f"cannot read the time {text!r}; write a number with an optional unit "
            "s, min, h, d, w or y (e.g. 1d, 3600, 1y)"
        )
    value, unit = match.groups()
    if unit.lower() not in _UNITS:
        raise InputError(
            f"unknown time unit {unit!r} in {text!r}; use s, min (or m), h, d, w or y"
        )
    seconds = float(value) * _UNITS[unit.lower()]
    if seconds < 0:
        raise InputError(f"time {text!r} is negative; give a time >= 0 after programming")
    return check_time(seconds, "time")


def format_time(t: float) -> str:
    """Short form of a time in seconds: ``1s``, ``1h``, ``1d``, ``1y``, ``90s``.

    Examples
    --------
    >>> format_time(86400), format_time(31536000), format_time(90)
    ('1d', '1y', '90s')
    """
    t = float(t)
    if t == 0:
        return "0s"
    for unit, size in (("y", 31536000.0), ("w", 604800.0), ("d", 86400.0), ("h", 3600.0),
                       ("min", 60.0)):
        q = t / size
        if q >= 1 and abs(q - round(q)) < 1e-9:
            return f"{round(q)}{unit}"
    return f"{t:g}s"


def _check_linear(W, b, X, ctx: str):
    try:
        W = np.asarray(W, dtype=np.float64)
        X = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError(f"{ctx}: W and X must be numeric arrays") from None
    if W.ndim != 2 or W.size == 0:
        raise InputError(f"{ctx}: W must be a non-empty 2-D (out, in) array, got shape {W.shape}")
    if X.ndim != 2:
        raise InputError(f"{ctx}: X must be 2-D (n, {W.shape[1]}), got shape {X.shape}")
    if X.shape[1] != W.shape[1]:
        raise InputError(
            f"{ctx}: X has {X.shape[1]} columns but W has {W.shape[1]} inputs; "
            f"pass X of shape (n, {W.shape[1]})"
        )
    if not np.isfinite(W).all():
        raise InputError(f"{ctx}: W contains NaN or infinite values; only finite weights work")
    if not np.isfinite(X).all():
        raise InputError(f"{ctx}: X contains NaN or infinite values; remove or impute them")
    if b is not None:
        try:
            b = np.asarray(b, dtype=np.float64)
        except (TypeError, ValueError):
            raise InputError(f"{ctx}: b must be numeric") from None
        if b.ndim == 0:
            b = np.full(W.shape[0], float(b))
        if b.shape != (W.shape[0],):
            raise InputError(
                f"{ctx}: b has shape {b.shape} but W has {W.shape[0]} outputs; "
                f"pass b of shape ({W.shape[0]},) or None"
            )
        if not np.isfinite(b).all():
            raise InputError(f"{ctx}: b contains NaN or infinite values")
    return W, b, X


class AnalogBackend:
    """Inference on simulated AIMC crossbars: ``linear(W, b, X) ~ X @ W.T + b``.

    Each distinct ``W`` (keyed by a hash of its bytes and shape) is programmed
    once, with a seed derived from ``seed`` and that hash, and drifted to
    ``t_inference``; later calls with the same ``W`` read the same programmed
    chip. The bias is added digitally (or as an analog row of ones when
    ``mapping.digital_bias`` is False).

    How a matrix is mapped (all of it digital periphery around the tiles, fixed
    when the matrix is programmed, from the first inputs it sees):

    * **input centring** (``center_inputs``): the mean ``mu`` of the first inputs
      is subtracted from every input and ``W mu`` is added to the bias, so that
      non-negative data (pixels, ReLU activations) do not drive every column
      current the same way and waste the converters' range on a common offset;
    * **weight normalisation**: when the configuration has no weight scaling
      (``mapping.weight_scaling_omega == 0``, e.g. ``aihwkit_inference``), ``W``
      is divided by its largest ``|w|`` before programming and the outputs are
      multiplied back, so the weights fill the normalised range ``[-1, 1]`` the
      periphery is specified for;
    * **input range** (presets with a static range, ``hwa_standard``): each
      tile's range is ``init_std_alpha * std`` of its inputs, raised so that the
      ``output_quantile`` of its noise-free ``|output|`` fits the ADC range (see
      :meth:`AnalogMatrix.calibrate_input_range`); AIHWKit learns this range in
      training instead.

    Parameters
    ----------
    config : str or AnalogConfig, default "hwa_standard"
        Preset name or configuration.
    t_inference : float or str, default 86400 (1 day)
        Time after programming at which inference runs (seconds, or ``"1d"`` etc.).
    seed : int, SeedSequence or None
        Seed of everything random; the same seed gives identical outputs.
    center_inputs : bool, default True
        Subtract the calibration mean from the inputs (digitally).
    output_quantile : float in (0, 1] or None, default 0.99
        Output headroom rule of the static input range (None: AIHWKit's
        ``init_std_alpha * std`` only). On Fashion-MNIST k-means at ``hwa_standard``
        / 1 day, 0.99 gave 98.2 % assignment agreement with digital and 0.999 97.9 %
        (more headroom costs DAC resolution); the classifiers were within 0.6 % of
        digital with either (``benchmarks/results/analog_tasks-fashion-mnist-headroom.log``).

    Attributes
    ----------
    name : str
        ``analog:<preset>@<time>``, e.g. ``analog:hwa_standard@1d``.
    stats : dict
        Totals over all calls: ``mvm_count``, ``tile_activations``,
        ``adc_conversions``, ``bm_reruns``, ``energy_j``, ``latency_s``, plus
        ``programmed_matrices`` and ``tiles``.

    Examples
    --------
    >>> import numpy as np
    >>> be = AnalogBackend("aihwkit_inference", t_inference="1h", seed=0)
    >>> W, X = np.ones((3, 8)) / 8, np.ones((5, 8))
    >>> be.linear(W, np.zeros(3), X).shape, be.name
    ((5, 3), 'analog:aihwkit_inference@1h')
    """

    def __init__(self, config="hwa_standard", t_inference=DEFAULT_T_INFERENCE, seed=None, *,
                 center_inputs=True, output_quantile=0.99):
        self.config: AnalogConfig = get_config(config)
        self.t_inference = parse_time(t_inference)
        if not isinstance(center_inputs, (bool, np.bool_)):
            raise InputError(f"center_inputs must be True or False, got {center_inputs!r}")
        self.center_inputs = bool(center_inputs)
        if output_quantile is not None and (
            isinstance(output_quantile, bool)
            or not isinstance(output_quantile, (int, float, np.floating))
            or not 0 < output_quantile <= 1
        ):
            raise InputError(
                f"output_quantile must be in (0, 1] or None, got {output_quantile!r}"
            )
        self.output_quantile = output_quantile
        self._ss = as_seed_sequence(seed)
        self._cache: dict[str, _Mapped] = {}
        self._totals = MVMStats()

    @property
    def name(self) -> str:
        """``analog:<config name>@<time>``."""
        return f"analog:{self.config.name}@{format_time(self.t_inference)}"

    @property
    def stats(self) -> dict:
        """Counters accumulated over all calls (a new dict each time)."""
        out = self._totals.as_dict()
        out["programmed_matrices"] = len(self._cache)
        out["tiles"] = sum(m.matrix.n_tiles for m in self._cache.values())
        return out

    @staticmethod
    def _key(W: np.ndarray) -> str:
        h = hashlib.sha1(np.ascontiguousarray(W, dtype=np.float64).tobytes())
        h.update(repr(W.shape).encode())
        return h.hexdigest()

    def _mapped(self, W: np.ndarray, X_calibration) -> _Mapped:
        key = self._key(W)
        mapped = self._cache.get(key)
        if mapped is not None:
            return mapped
        sub = int(key[:15], 16)
        ss = np.random.SeedSequence(self._ss.entropy, spawn_key=(*self._ss.spawn_key, sub))
        offset = None
        if self.center_inputs and X_calibration is not None and X_calibration.shape[0] > 0:
            offset = X_calibration.mean(axis=0)
            if not np.any(offset):
                offset = None
        scale = 1.0
        if self.config.mapping.weight_scaling_omega == 0:
            scale = float(np.abs(W).max()) or 1.0
        A = AnalogMatrix(W / scale if scale != 1.0 else W, self.config, seed=ss)
        if self.config.pre_post.input_range.enable and X_calibration is not None:
            Xc = X_calibration if offset is None else X_calibration - offset
            A.calibrate_input_range(Xc, output_quantile=self.output_quantile)
        A.drift(self.t_inference)
        mapped = _Mapped(A, scale, offset, None if offset is None else W @ offset)
        self._cache[key] = mapped
        return mapped

    def matrix(self, W, X_calibration=None) -> AnalogMatrix:
        """The programmed (and drifted) :class:`AnalogMatrix` of ``W``, created on first use.

        It holds ``W / scale`` (``scale`` = max |W| when the configuration has no
        weight scaling, else 1); see the class notes.
        """
        W = np.asarray(W, dtype=np.float64)
        if X_calibration is not None:
            X_calibration = np.asarray(X_calibration, dtype=np.float64)
        return self._mapped(W, X_calibration).matrix

    def linear(self, W, b, X) -> np.ndarray:
        """``X @ W.T + b`` through the crossbar simulator.

        Parameters
        ----------
        W : array_like, shape (out, in)
            Weights; programmed once per distinct matrix.
        b : array_like, shape (out,), or None
            Bias, added digitally.
        X : array_like, shape (n, in)
            Inputs.

        Returns
        -------
        ndarray, shape (n, out), float64

        Raises
        ------
        InputError
            For wrong shapes or NaN/inf values.
        """
        W, b, X = _check_linear(W, b, X, "AnalogBackend.linear")
        if X.shape[0] == 0:
            return np.zeros((0, W.shape[0]))
        analog_bias = b is not None and not self.config.mapping.digital_bias
        if analog_bias:
            W = np.hstack([W, b[:, None]])
            X = np.hstack([X, np.ones((X.shape[0], 1))])
        mapped = self._mapped(W, X)
        A = mapped.matrix
        if mapped.offset is not None:
            X = X - mapped.offset
        A.reset_stats()
        Y = A.matmat(X).astype(np.float64)
        self._totals.add(A.stats)
        if mapped.scale != 1.0:
            Y *= mapped.scale
        if mapped.offset_out is not None:
            Y += mapped.offset_out
        if b is not None and not analog_bias:
            Y += b
        return Y

    def __repr__(self) -> str:
        return (
            f"AnalogBackend(config={self.config.name!r}, "
            f"t_inference={self.t_inference:g}, matrices={len(self._cache)})"
        )


@dataclass
class _Mapped:
    """A programmed matrix with its digital periphery (scale, input offset)."""

    matrix: AnalogMatrix
    scale: float
    offset: np.ndarray | None
    offset_out: np.ndarray | None


def parse_backend(spec: str, *, seed=None):
    """Build a backend from ``digital``, ``analog``, ``analog:PRESET`` or ``analog:PRESET@T``.

    ``T`` is a time after programming such as ``1s``, ``3600``, ``1h``, ``1d``, ``1y``
    (default 1 day); the default preset is ``hwa_standard``.

    Raises
    ------
    InputError
        For an unknown backend or preset, or a bad or negative time.

    Examples
    --------
    >>> parse_backend("analog:hermes@1h").name
    'analog:hermes@1h'
    >>> parse_backend("digital").name
    'digital'
    """
    if not isinstance(spec, str):
        raise InputError(f"backend spec must be a string, got {type(spec).__name__}")
    text = spec.strip()
    if text == "digital":
        return DigitalBackend()
    head, sep, when = text.partition("@")
    kind, colon, preset = head.partition(":")
    if kind != "analog":
        raise InputError(
            f"unknown backend {spec!r}; use digital, analog, analog:PRESET or "
            f"analog:PRESET@T (presets: {', '.join(PRESETS)})"
        )
    preset = preset.strip() if colon else DEFAULT_PRESET
    if not preset:
        raise InputError(f"backend {spec!r} names no preset after 'analog:'; "
                         f"choose one of: {', '.join(PRESETS)}")
    if preset not in PRESETS:
        raise InputError(
            f"unknown analog preset {preset!r} in {spec!r}; choose one of: {', '.join(PRESETS)}"
        )
    if sep and not when.strip():
        raise InputError(f"backend {spec!r} has '@' but no time; write e.g. @1d")
    t = parse_time(when) if sep else DEFAULT_T_INFERENCE
    return AnalogBackend(preset, t_inference=t, seed=seed)
