"""One crossbar tile: the MVM pipeline of DESIGN section 5 (vectorised over the batch).

Per input vector x (a row of the batch), in order:

1. static input range (optional): x <- clip(x, -r, r) / r;
2. noise management: s = max|x| (``abs_max``), max x, a constant, or 1;
3. DAC: levels k = rint(x / (s f) / dx), clipped to +-inp_bound / dx, plus input noise,
   with f the bound-management factor (1, 2, 4, ...);
4. analog MVM with the current (programmed, drifted) tile weights w, |w| <= omega;
5. IR drop, then short-term weight noise (additive or PCM-read), referred to the output;
6. S-shaped output non-linearity, output noise, ADC: rint(y / dy), clip +-out_bound;
7. bound management: input vectors with a clipped output are re-run (fresh noise)
   with f doubled, only those vectors, until nothing clips or f is at its limit;
8. digital rescale: y * s * f, times the weight-scaling factor, the drift
   compensation factor and r.

The arithmetic runs in "level" units (inputs in DAC steps, outputs in ADC steps)
so that quantisation is a bare ``rint``; the weights carry the factor dx / dy.
Formulas and defaults: reference ``analog_aimc.md`` sections 1.1-1.5.
"""

from __future__ import annotations

import numpy as np

from ._rng import BOX_MULLER_MAX, normal
from .config import AnalogConfig
from .devices import DeviceState
from .programming import ProgrammingResult

__all__ = ["AnalogTile", "quantizer_threshold"]


def quantizer_threshold(res: float, bound: float, dtype) -> float:
    """Largest level k with ``k * res <= bound`` in ``dtype`` arithmetic.

    AIHWKit tests ``rint(y / res) * res > bound`` in float32; for its default ADC
    (res = 24/510) level 255 gives 12.000001 > 12, so level 255 already counts as
    clipped. Testing ``level > threshold`` reproduces that exactly.
    """
    dt = np.dtype(dtype).type
    r = dt(res)
    b = dt(bound)
    k = int(np.floor(float(b) / float(r)))
    while dt(k + 1) * r <= b:
        k += 1
    while k > 0 and dt(k) * r > b:
        k -= 1
    return float(k)


class AnalogTile:
    """A programmed crossbar tile (internal; use :class:`~qcoreset.analog.AnalogMatrix`).

    Parameters
    ----------
    w : ndarray, shape (out, in)
        Target weights of this tile, float64, finite.
    config : AnalogConfig
        Validated configuration.
    rng : numpy.random.Generator
        Programming stream of this tile (programming noise, per-column draws,
        drift-compensation baseline).
    """

    def __init__(self, w: np.ndarray, config: AnalogConfig, rng: np.random.Generator):
        self.config = config
        self.io = io = config.forward
        self.dtype = dt = config.np_dtype
        self.out_size, self.in_size = w.shape
        mapping = config.mapping

        # weight scaling (digital): tile stores w / alpha, output is multiplied by alpha
        omega = mapping.weight_scaling_omega
        if omega > 0:
            if mapping.weight_scaling_columnwise:
                amax = np.abs(w).max(axis=1)
                alpha = np.maximum(amax, 1e-30) / omega
                self.w_scale = alpha
                self.w_target = w / alpha[:, None]
            else:
                alpha = max(float(np.abs(w).max()), 1e-30) / omega
                self.w_scale = np.float64(alpha)
                self.w_target = w / alpha
        else:
            self.w_scale = np.float64(1.0)
            self.w_target = w.copy()

        # converter constants, in working precision
        self._q_in = io.inp_step > 0 and not io.is_perfect
        self._q_out = io.out_step > 0 and not io.is_perfect
        f = dt.type
        self._res_in = f(f(io.inp_step / (2 * io.inp_bound)) * f(2 * io.inp_bound)) \
            if self._q_in else f(1.0)
        self._res_out = f(f(io.out_step / (2 * io.out_bound)) * f(2 * io.out_bound)) \
            if self._q_out else f(1.0)
        self._in_clip = f(io.inp_bound / float(self._res_in))
        self._out_clip = f(io.out_bound / float(self._res_out))
        if self._q_out:
            self._bm_thr = f(quantizer_threshold(float(self._res_out), io.out_bound, dt))
        else:
            self._bm_thr = self._out_clip
        # last bound-management factor (the first power of two past a stopping rule)
        f_last = 1
        while not (f_last > io.max_bm_factor or (
            self._q_in and f_last > io.max_bm_res / float(self._res_in)
        )):
            f_last *= 2
        self._f_last = f_last if io.bound_management == "iterative" else 1

        # per-column draws, once (programming stream)
        ratio = float(self._res_in) / float(self._res_out)
        self._lv_ratio = ratio
        if io.out_noise_std > 0:
            sig = np.abs(io.out_noise * (1 + io.out_noise_std * rng.standard_normal(self.out_size)))
            self._out_sigma = (sig / float(self._res_out)).astype(dt)
        else:
            self._out_sigma = f(io.out_noise / float(self._res_out))
        self._nl = None
        if io.out_nonlinearity > 0:
            spread = 1.0
            if io.out_nonlinearity_std > 0:
                spread = 1.0 + io.out_nonlinearity_std * rng.standard_normal(self.out_size)
            n_i = np.abs(io.out_nonlinearity / io.out_bound * spread) * np.ones(self.out_size)
            factor = 1.0
            if io.slope_calibration > 0:
                factor = (1.0 + n_i.mean() * io.slope_calibration * io.out_bound) ** 2
            self._nl = ((n_i * float(self._res_out)).astype(dt), f(factor))
        # largest output-noise sample, in sigmas (bounded for float32, 9 sigma otherwise)
        self._noise_reach = BOX_MULLER_MAX + 0.01 if dt == np.float32 else 9.0
        if io.ir_drop > 0:
            j = np.arange(self.in_size, dtype=np.float64)
            self._ir_p = (1.0 - (1.0 - j / self.in_size) ** 2).astype(dt)

        # programming
        self.programming: ProgrammingResult | None = None
        model = config.noise_model
        if model is not None:
            def read(x, w_try):
                # outputs that saturated the ADC come back as NaN (the converter's
                # overflow flag), so that GDP can leave them out of its gradient
                self._set_weights(w_try)
                xd = np.ascontiguousarray(x, dtype=dt)
                y, _, _ = self._analog(xd, rng)
                y = y.astype(np.float64)
                if not io.is_perfect:
                    full = io.out_bound * self._noise_scale(xd) * self.last_bm_factors
                    y[np.abs(y) >= (1 - 1e-6) * full[:, None]] = np.nan
                return y

            self.programming = config.programming.program(self.w_target, model, rng, read)
            self.w_prog = self.programming.weights
        else:
            self.w_prog = self.w_target
        self._set_weights(self.w_prog)

        self.input_range = (
            config.pre_post.input_range.init_value
            if config.pre_post.input_range.enable else None
        )
        self.t: float | None = None
        self.alpha_dc = np.float64(1.0)
        self._dc_ref = None
        comp = config.drift_compensation
        if comp is not None:
            self._dc_ref = comp.readout(self._readout(rng, perfect=comp.exact_reference))

    # ------------------------------------------------------------------ weights
    def _set_weights(self, w: np.ndarray) -> None:
        dt = self.dtype
        self.w = w
        self._wt = np.ascontiguousarray(w.T, dtype=dt)
        self._wt_lv = np.ascontiguousarray(w.T * self._lv_ratio, dtype=dt)
        io = self.io
        if io.ir_drop > 0 or (io.w_noise > 0 and io.w_noise_type == "pcm_read"):
            self._abs_wt = np.ascontiguousarray(np.abs(w.T), dtype=dt)

    def drift(self, t: float, rng: np.random.Generator) -> None:
        """Move the tile to ``t`` seconds after programming (AIHWKit semantics)."""
        model = self.config.noise_model
        prog = self.programming
        if model is not None and prog is not None:
            conv = model.converter
            if model.reform_pair_at_drift:
                g_now, params = conv.to_conductances(self.w_prog)
            else:
                g_now, params = [s.g for s in prog.states], prog.params
            g_t = [
                model.drift(DeviceState(g, s.params), t, rng)
                for g, s in zip(g_now, prog.states, strict=True)
            ]
            self._set_weights(conv.to_weights(g_t, params))
        self.t = float(t)
        comp = self.config.drift_compensation
        if comp is not None:
            self.alpha_dc = comp.alpha(self._readout(rng, perfect=False), self._dc_ref)

    def _readout(self, rng, *, perfect: bool) -> np.ndarray:
        eye = self.config.drift_compensation.readout_inputs(self.in_size, self.dtype)
        if perfect:
            return eye @ self._wt
        y, _, _ = self._analog(eye, rng)
        return y

    # ------------------------------------------------------------------ forward
    def output_scale(self):
        """Digital factor applied after the ADC: weight scaling x drift compensation x range."""
        scale = self.w_scale * self.alpha_dc
        if self.input_range is not None:
            scale = scale * self.input_range
        return scale

    def forward(self, x: np.ndarray, rng: np.random.Generator):
        """Full tile forward of a batch ``x`` (n, in) in working dtype.

        Returns
        -------
        y : ndarray, shape (n, out)
        activations : int
            Input vectors through the tile, bound-management passes included.
        reruns : int
            Passes that were bound-management re-runs.
        """
        r = self.input_range
        if r is not None:
            x = np.clip(x, -r, r) * self.dtype.type(1.0 / r)
        scale = self.output_scale()
        if np.ndim(scale) == 0:
            return self._analog(x, rng, float(scale))
        y, act, reruns = self._analog(x, rng)
        y *= scale.astype(self.dtype)
        return y, act, reruns

    def _noise_scale(self, x: np.ndarray) -> np.ndarray:
        io = self.io
        nm = io.noise_management
        n = x.shape[0]
        if nm == "abs_max":
            s = np.maximum(x.max(axis=1), -x.min(axis=1))
        elif nm == "max":
            s = x.max(axis=1)
        else:
            value = (io.nm_thres if io.nm_thres > 0 else 1.0) if nm == "constant" else 1.0
            return np.full(n, value, dtype=self.dtype)
        if io.nm_thres > 0:
            s = np.minimum(s, self.dtype.type(io.nm_thres))
        return s.astype(self.dtype, copy=False)

    def _analog(self, x: np.ndarray, rng: np.random.Generator, post: float = 1.0):
        """Analog part: NM, DAC, MVM, non-idealities, ADC, BM; output in tile units x post."""
        io = self.io
        dt = self.dtype
        f = dt.type
        n = x.shape[0]
        out = np.empty((n, self.out_size), dtype=dt)
        if io.is_perfect:
            self.last_bm_factors = np.ones(n, dtype=np.int64)
            np.matmul(x, self._wt, out=out)
            if post != 1.0:
                out *= f(post)
            return out, n, 0
        s = self._noise_scale(x)
        rows = None
        if io.noise_management != "none" and io.inp_noise <= 0:
            zero = s <= 0
            if zero.any():
                out[zero] = 0
                rows = np.flatnonzero(~zero)
        factor = 1
        activations = 0
        reruns = 0
        bm = io.bound_management == "iterative"
        # per input vector: the bound-management factor of its final pass (diagnostics)
        self.last_bm_factors = factors = np.ones(n, dtype=np.int64)
        while True:
            xa = x if rows is None else x[rows]
            sa = s if rows is None else s[rows]
            m = xa.shape[0]
            if m == 0:
                break
            activations += m
            last = (not bm) or factor >= self._f_last
            y, over = self._pass(xa, sa, factor, rng, test=bm, may_skip=bm and not last)
            if not bm or not io.bm_test_negative_bound:
                # negative clipping does not trigger a re-run here, so clip every row
                np.clip(y, -self._out_clip, self._out_clip, out=y)
            elif last and over.any():
                y[over] = np.clip(y[over], -self._out_clip, self._out_clip)
            row_scale = sa * f(factor * post) * self._res_out
            if last or not over.any():
                if rows is None:
                    np.multiply(y, row_scale[:, None], out=out)
                else:
                    y *= row_scale[:, None]
                    out[rows] = y
                break
            done = ~over
            if done.any():
                dst = np.flatnonzero(done) if rows is None else rows[done]
                out[dst] = y[done] * row_scale[done, None]
            rows = np.flatnonzero(over) if rows is None else rows[over]
            reruns += rows.size
            factor *= 2
            factors[rows] = factor
        return out, activations, reruns

    def _clipped(self, y: np.ndarray, thr) -> np.ndarray:
        over = y.max(axis=1) > thr
        if self.io.bm_test_negative_bound:
            over |= y.min(axis=1) < -thr
        return over

    def _pass(self, x, s, factor, rng, *, test: bool, may_skip: bool):
        """One pass of ``x`` at bound-management factor ``factor``.

        Returns the outputs in ADC levels and, if ``test``, the rows with a clipped
        output. With ``may_skip`` (a pass that is not the last one), rows whose
        noise-free output is beyond the bound by more than the largest noise the
        generator can produce are certain to clip: they are marked without drawing
        their noise (their outputs are discarded by the re-run anyway).
        """
        io = self.io
        dt = self.dtype
        f = dt.type
        scale = (f(1.0) / s) / f(factor)
        k = x * scale[:, None]
        if self._q_in:
            k /= self._res_in
            np.rint(k, out=k)
        np.clip(k, -self._in_clip, self._in_clip, out=k)
        if io.inp_noise > 0:
            k += normal(rng, k.shape, dt, io.inp_noise / float(self._res_in))
        y = k @ self._wt_lv
        if io.ir_drop > 0:
            current = np.abs(k) @ self._abs_wt
            a = current * f(self.in_size / io.ir_drop_g_ratio * float(self._res_in))
            c = a * (a * (f(0.05) * a - f(0.2)) + f(0.5))
            y -= f(io.ir_drop) * c * ((k * self._ir_p) @ self._wt_lv)
        if io.w_noise > 0:
            w_lv = f(io.w_noise * self._lv_ratio)
            if io.w_noise_type == "additive_constant":
                sig = np.sqrt(np.einsum("ij,ij->i", k, k)) * w_lv
                y += sig[:, None] * normal(rng, y.shape, dt)
            else:
                sig = np.sqrt((k * k) @ self._abs_wt) * w_lv
                y += sig * normal(rng, y.shape, dt)
        if self._nl is not None:
            n_lv, gain = self._nl
            y = gain * y / (f(1.0) + np.abs(n_lv * y))
        sigma = self._out_sigma
        noisy = np.ndim(sigma) > 0 or sigma > 0
        if may_skip and io.inp_noise == 0 and io.w_noise == 0:
            reach = float(np.max(sigma)) * self._noise_reach + 0.5
            certain = self._clipped(y, self._bm_thr + f(reach))
            if certain.all():
                return y, certain
            if certain.any():
                keep = np.flatnonzero(~certain)
                ys = y[keep]
                self._noise_adc(ys, rng, noisy)
                over = certain
                over[keep] = self._clipped(ys, self._bm_thr)
                y[keep] = ys
                return y, over
        self._noise_adc(y, rng, noisy)
        return y, (self._clipped(y, self._bm_thr) if test else None)

    def _noise_adc(self, y, rng, noisy):
        """Output noise and ADC rounding, in place."""
        if noisy:
            sigma = self._out_sigma
            if np.ndim(sigma) == 0:
                y += normal(rng, y.shape, self.dtype, float(sigma))
            else:
                y += sigma * normal(rng, y.shape, self.dtype)
        if self._q_out:
            np.rint(y, out=y)
