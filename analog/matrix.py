"""``AnalogMatrix``: a weight matrix programmed onto simulated crossbar tiles."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np

from qcoreset._errors import InputError

from ._rng import as_seed_sequence, child_generator, time_key
from .config import AnalogConfig, get_config
from .energy import MVMStats
from .programming import BaseProgramming, get_programming
from .tile import AnalogTile

__all__ = ["AnalogMatrix", "relative_error", "compare_programming", "check_time"]

_CHUNK_ELEMENTS = 1 << 23  # rows per chunk keep a tile's batch below ~32 MB in float32


def relative_error(y: np.ndarray, y_ref: np.ndarray) -> float:
    """Relative MVM error ``||Y - Y0||_F / ||Y0||_F`` (in float64).

    Examples
    --------
    >>> relative_error(np.array([1.0, 2.0]), np.array([1.0, 2.0]))
    0.0
    """
    y = np.asarray(y, dtype=np.float64)
    y_ref = np.asarray(y_ref, dtype=np.float64)
    if y.shape != y_ref.shape:
        raise InputError(f"y has shape {y.shape} but y_ref has shape {y_ref.shape}")
    denom = float(np.linalg.norm(y_ref))
    if denom == 0:
        raise InputError("y_ref is all zeros; the relative error is undefined")
    return float(np.linalg.norm(y - y_ref)) / denom


def check_time(t, name: str = "t_seconds") -> float:
    """Validate a time after programming, in seconds (finite, >= 0)."""
    if isinstance(t, bool) or not isinstance(t, (int, float, np.integer, np.floating)):
        raise InputError(f"{name} must be a number of seconds, got {t!r}")
    t = float(t)
    if not np.isfinite(t) or t < 0:
        raise InputError(
            f"{name}={t!r} is not a valid time; give seconds >= 0 after programming "
            "(e.g. 3600 for 1 hour)"
        )
    return t


def _check_weights(W) -> np.ndarray:
    try:
        arr = np.asarray(W, dtype=np.float64)
    except (TypeError, ValueError):
        raise InputError("W holds non-numeric values; pass a numeric (out, in) array") from None
    if arr.ndim != 2:
        raise InputError(
            f"W must be 2-D (out_features, in_features), got shape {arr.shape}; "
            "reshape a vector with W.reshape(1, -1)"
        )
    if arr.size == 0:
        raise InputError(f"W is empty (shape {arr.shape}); pass at least one row and column")
    if not np.isfinite(arr).all():
        bad = np.argwhere(~np.isfinite(arr))[0]
        raise InputError(
            f"W contains NaN or infinite values (first at row {bad[0]}, column {bad[1]}); "
            "only finite weights can be programmed"
        )
    return arr.copy()


def _splits(n: int, max_size: int) -> list[slice]:
    """Near-equal chunks (sizes differ by at most one), ``ceil(n / max_size)`` of them."""
    if max_size <= 0 or n <= max_size:
        return [slice(0, n)]
    k = math.ceil(n / max_size)
    base, extra = divmod(n, k)
    out, start = [], 0
    for i in range(k):
        size = base + (1 if i < extra else 0)
        out.append(slice(start, start + size))
        start += size
    return out


class AnalogMatrix:
    """A weight matrix ``W`` (out x in) programmed onto simulated AIMC crossbar tiles.

    ``matmat(X)`` returns ``X @ W.T`` computed through the analog pipeline; ``A @ x``
    does the same for a vector. Programming happens in the constructor;
    :meth:`drift` moves the devices to a time after programming.

    Parameters
    ----------
    W : array_like, shape (out_features, in_features)
        Finite weights.
    config : AnalogConfig or str, default "aihwkit_inference"
        Configuration or preset name (``aihwkit_inference``, ``hwa_standard``,
        ``hermes``, ``ideal``).
    seed : int, SeedSequence, Generator or None
        Seed of all random streams. Programming (per tile), drift (per time) and
        per-read noise use separate streams, so one programmed chip can be read
        many times, and the same seed gives identical outputs for the same calls.

    Attributes
    ----------
    shape : tuple of int
        ``(out_features, in_features)``.
    config : AnalogConfig
        The validated configuration.
    t : float or None
        Seconds since programming of the current state (None: just programmed,
        no drift or read noise applied yet, as in AIHWKit).

    Raises
    ------
    InputError
        For non-2-D, empty, non-numeric or non-finite ``W``, or a bad config.

    Examples
    --------
    >>> import numpy as np
    >>> from qcoreset.analog import AnalogMatrix
    >>> rng = np.random.default_rng(0)
    >>> W = rng.uniform(-1, 1, (64, 128))
    >>> A = AnalogMatrix(W, "aihwkit_inference", seed=1).drift(3600)
    >>> Y = A.matmat(rng.uniform(-1, 1, (10, 128)))
    >>> Y.shape, A.stats.mvm_count
    ((10, 64), 10)
    """

    def __init__(self, W, config="aihwkit_inference", *, seed=None):
        self.config: AnalogConfig = get_config(config)
        self._W = _check_weights(W)
        self.shape = self._W.shape
        self._ss = as_seed_sequence(seed)
        self._read_rng = child_generator(self._ss, 1)
        mapping = self.config.mapping
        self._out_slices = _splits(self.shape[0], mapping.max_output_size)
        self._in_slices = _splits(self.shape[1], mapping.max_input_size)
        self._tiles = [
            [
                AnalogTile(self._W[so, si], self.config, child_generator(self._ss, 0, i, j))
                for j, si in enumerate(self._in_slices)
            ]
            for i, so in enumerate(self._out_slices)
        ]
        rows = mapping.max_input_size or max(s.stop - s.start for s in self._in_slices)
        cols = mapping.max_output_size or max(s.stop - s.start for s in self._out_slices)
        self.physical_tile_shape = (int(rows), int(cols))
        self._tile_energy = self.config.energy.tile_energy(rows, cols)
        self.t: float | None = None
        self._stats = MVMStats()

    # ------------------------------------------------------------------ properties
    @property
    def n_tiles(self) -> int:
        """Number of crossbar tiles the matrix occupies."""
        return len(self._out_slices) * len(self._in_slices)

    @property
    def stats(self) -> MVMStats:
        """Counters since construction (or :meth:`reset_stats`): ``mvm_count``,
        ``tile_activations``, ``adc_conversions``, ``bm_reruns``, ``energy_j``, ``latency_s``."""
        return self._stats

    def reset_stats(self) -> None:
        """Set the counters back to zero."""
        self._stats.reset()

    @property
    def programming_info(self) -> list[dict]:
        """Per tile: the programming algorithm's iterations and diagnostics."""
        info = []
        for row in self._tiles:
            for tile in row:
                prog = tile.programming
                info.append(
                    {"iterations": 0, "info": {}} if prog is None
                    else {"iterations": prog.iterations, "info": prog.info}
                )
        return info

    # ------------------------------------------------------------------ state
    def drift(self, t_seconds: float) -> AnalogMatrix:
        """Move every device to ``t_seconds`` after programming; returns ``self``.

        Applies drift and accumulated read noise (from the programmed state, so
        calls need not be in time order) and recomputes the drift compensation.
        The noise at time ``t`` depends only on the seed and ``t``.

        Raises
        ------
        InputError
            For a negative, non-finite or non-numeric time.
        """
        t = check_time(t_seconds)
        for i, row in enumerate(self._tiles):
            for j, tile in enumerate(row):
                tile.drift(t, child_generator(self._ss, 2, time_key(t), i, j))
        self.t = t
        return self

    def calibrate_input_range(self, X, *, output_quantile: float | None = None) -> AnalogMatrix:
        """Set each tile's static input range from the inputs ``X``.

        Only for configurations with ``pre_post.input_range.enable``; AIHWKit learns
        this range during training, its data initialisation is what is done here:
        ``r = init_std_alpha * std`` of the tile's inputs.

        With a static range and no bound management (``hwa_standard``) a tile's
        outputs are ``(x / r) . w`` with ``|w| <= omega``; inputs that add up
        coherently (non-negative data, a weight row aligned with the data) then
        drive the outputs past ``out_bound`` and the ADC clips them. With
        ``output_quantile=q`` the range is also raised, per tile, until the
        ``q``-quantile of the tile's noise-free ``|output|`` on ``X`` sits at
        ``out_bound``: ``r = max(init_std_alpha * std, quantile_q(|x W_tile^T|) /
        out_bound)``. This trades DAC resolution for output headroom, as the range
        learned in hardware-aware training does.

        Parameters
        ----------
        X : array_like, shape (n, in_features)
            Calibration inputs.
        output_quantile : float in (0, 1] or None
            Quantile of ``|output|`` to fit inside the ADC range (None: off).

        Raises
        ------
        InputError
            If the input range is disabled, for bad ``X`` or a bad quantile.
        """
        rng_cfg = self.config.pre_post.input_range
        if not rng_cfg.enable:
            raise InputError(
                "calibrate_input_range needs config.pre_post.input_range.enable=True"
            )
        if output_quantile is not None and (
            isinstance(output_quantile, bool)
            or not isinstance(output_quantile, (float, int, np.floating))
            or not 0 < output_quantile <= 1
        ):
            raise InputError(
                f"output_quantile must be in (0, 1] or None, got {output_quantile!r}"
            )
        X = self._check_inputs(X)
        bound = self.config.forward.out_bound
        for j, si in enumerate(self._in_slices):
            part = X[:, si]
            r = rng_cfg.init_std_alpha * float(part.std(dtype=np.float64))
            if not r > 0:
                r = float(np.abs(part).max()) or rng_cfg.init_value
            for row in self._tiles:
                tile = row[j]
                r_tile = r
                if output_quantile is not None and not self.config.forward.is_perfect:
                    y = np.abs(part.astype(np.float64, copy=False) @ tile.w_target.T)
                    need = float(np.quantile(y, output_quantile)) / bound
                    r_tile = max(r, need)
                tile.input_range = r_tile
        return self

    def analog_weights(self) -> np.ndarray:
        """The effective weights of the current state, in the units of ``W``.

        Tile weights (programmed, drifted) times the weight-scaling and drift
        compensation factors; I/O effects are not included.
        """
        out = np.empty(self.shape, dtype=np.float64)
        for so, row in zip(self._out_slices, self._tiles, strict=True):
            for si, tile in zip(self._in_slices, row, strict=True):
                scale = np.asarray(tile.w_scale * tile.alpha_dc, dtype=np.float64)
                w = tile.w * (scale[:, None] if scale.ndim else scale)
                out[so, si] = w
        return out

    # ------------------------------------------------------------------ compute
    def _check_inputs(self, X) -> np.ndarray:
        try:
            arr = np.asarray(X)
        except (TypeError, ValueError):
            raise InputError("X could not be read as a numeric array") from None
        if arr.dtype.kind not in "fiub":
            raise InputError(f"X holds non-numeric values (dtype {arr.dtype}); pass numbers")
        if arr.ndim != 2:
            raise InputError(
                f"X must be 2-D (n_samples, {self.shape[1]}), got shape {arr.shape}"
            )
        if arr.shape[1] != self.shape[1]:
            raise InputError(
                f"X has {arr.shape[1]} columns but W has {self.shape[1]} inputs "
                f"(in_features); pass X of shape (n, {self.shape[1]})"
            )
        if not np.isfinite(arr).all():
            bad = np.argwhere(~np.isfinite(arr))[0]
            raise InputError(
                f"X contains NaN or infinite values (first at row {bad[0]}, column {bad[1]}); "
                "remove or impute them first"
            )
        return arr

    def _run(self, X: np.ndarray, rng: np.random.Generator, stats: MVMStats | None):
        dt = self.config.np_dtype
        n = X.shape[0]
        Y = np.empty((n, self.shape[0]), dtype=dt)
        width = max(self.shape)
        step = max(1, _CHUNK_ELEMENTS // width)
        activations = adc = reruns = 0
        single_in = len(self._in_slices) == 1
        for start in range(0, n, step):
            rows = slice(start, min(n, start + step))
            Xc = X[rows]
            parts = [
                np.ascontiguousarray(Xc[:, si], dtype=dt) if not single_in
                else np.ascontiguousarray(Xc, dtype=dt)
                for si in self._in_slices
            ]
            for so, row in zip(self._out_slices, self._tiles, strict=True):
                for j, tile in enumerate(row):
                    y, act, rer = tile.forward(parts[j], rng)
                    if j == 0:
                        Y[rows, so] = y
                    else:
                        Y[rows, so] += y
                    activations += act
                    reruns += rer
                    adc += act * tile.out_size
        if stats is not None:
            stats.mvm_count += n
            stats.tile_activations += activations
            stats.adc_conversions += adc
            stats.bm_reruns += reruns
            energy = self.config.energy
            stats.energy_j += activations * self._tile_energy
            stats.energy_j += energy.digital_energy_per_op_j * adc
            stats.latency_s += energy.latency(activations)
        return Y

    def matmat(self, X) -> np.ndarray:
        """``X @ W.T`` through the analog pipeline.

        Parameters
        ----------
        X : array_like, shape (n_samples, in_features)
            Finite inputs.

        Returns
        -------
        ndarray, shape (n_samples, out_features)
            In the configuration's working dtype (float32 by default).

        Raises
        ------
        InputError
            For wrong shapes or NaN/inf inputs.
        """
        X = self._check_inputs(X)
        return self._run(X, self._read_rng, self._stats)

    def matvec(self, x) -> np.ndarray:
        """``W @ x`` for one vector ``x`` of length in_features."""
        x = np.asarray(x)
        if x.ndim != 1:
            raise InputError(f"x must be 1-D of length {self.shape[1]}, got shape {x.shape}")
        return self.matmat(x[None, :])[0]

    def __matmul__(self, x):
        x = np.asarray(x)
        if x.ndim == 1:
            return self.matvec(x)
        if x.ndim == 2:
            if x.shape[0] != self.shape[1]:
                raise InputError(
                    f"A @ x needs x with {self.shape[1]} rows (in_features), got shape {x.shape}"
                )
            return self.matmat(x.T).T
        raise InputError(f"A @ x needs a 1-D or 2-D x, got shape {x.shape}")

    def mvm_error(self, X=None, *, n_inputs: int = 1000, seed=0) -> float:
        """Relative MVM error ``||Y - X W^T|| / ||X W^T||`` of the current state.

        Uses its own random stream and does not count in :attr:`stats`.

        Parameters
        ----------
        X : array_like, optional
            Inputs; default ``n_inputs`` rows uniform in [-1, 1].
        n_inputs : int
            Rows of the default inputs.
        seed : int
            Seed of the default inputs and of the read noise of this measurement.
        """
        rng = np.random.default_rng(seed)
        if X is None:
            X = rng.uniform(-1.0, 1.0, size=(n_inputs, self.shape[1]))
        X = self._check_inputs(X)
        y = self._run(X, rng, None)
        return relative_error(y, X.astype(np.float64) @ self._W.T)

    def __repr__(self) -> str:
        t = "programmed" if self.t is None else f"t={self.t:g}s"
        return (
            f"AnalogMatrix(shape={self.shape}, config={self.config.name!r}, "
            f"tiles={self.n_tiles}, {t})"
        )


def compare_programming(
    W,
    config="aihwkit_inference",
    algorithms=("one_shot", "program_verify", "gdp"),
    *,
    t_seconds: float | None = None,
    n_inputs: int = 1000,
    seed=0,
) -> dict[str, float]:
    """Relative MVM error each programming algorithm achieves on ``W``.

    Parameters
    ----------
    W : array_like, shape (out, in)
    config : AnalogConfig or str
        Must have a device model.
    algorithms : iterable of str or BaseProgramming
    t_seconds : float, optional
        Measure after drift to this time (default: right after programming).
    n_inputs : int
        Uniform [-1, 1] inputs of the measurement.
    seed : int
        Same seed for every algorithm, so the comparison is paired.

    Returns
    -------
    dict
        Algorithm name -> relative MVM error.
    """
    cfg = get_config(config)
    if cfg.noise_model is None:
        raise InputError("compare_programming needs a config with a noise_model")
    out = {}
    for alg in algorithms:
        prog: BaseProgramming = get_programming(alg)
        A = AnalogMatrix(W, replace(cfg, programming=prog), seed=seed)
        if t_seconds is not None:
            A.drift(t_seconds)
        out[prog.name] = A.mvm_error(n_inputs=n_inputs, seed=seed)
    return out
