"""Hardware-aware (HWA) training by noise injection, numpy and scikit-learn only.

The models are trained (or fine-tuned from a plain scikit-learn fit) with the
noise they will meet on the crossbar injected into every forward pass, so they
learn decisions that survive it (Rasch et al., arXiv 2302.08469). The noise is
matched to a preset at the target inference time by :func:`hwa_noise_profile`:

* weight noise ``sigma_w / a = c0 + c1 u + c2 u^2`` with ``u = |w| / a`` and ``a``
  the row's max |w| (AIHWKit's POLY weight modifier); the coefficients are fitted
  to the simulator itself: a probe matrix is programmed with the preset's device
  model and programming algorithm, drifted to ``t_inference`` and drift-compensated,
  and the RMS weight error is measured per |w| bin;
* output noise ``a r sqrt(out_noise^2 + dy^2 / 12 + w_noise^2 sum_j |w_j / a| (x_j / r)^2)``
  with ``r`` the input scale (static input range or per-vector max |x|) and ``dy``
  the ADC step: additive output noise, ADC rounding and PCM-read noise;
* inputs are clipped to the static input range when the preset has one, and each
  row's weights are clipped to ``clip_sigma`` standard deviations so that the
  per-row max |w| that sets the analog scale is not set by a few outliers.

Gradients are taken at the perturbed weights (straight-through), as in AIHWKit.
The fitted estimators expose scikit-learn's attributes (``coef_``/``intercept_``,
``coefs_``/``intercepts_``), so the same code evaluates them digitally or with
``backend.linear`` (see :func:`analog_decision_function`).
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from qcoreset._errors import InputError
from qcoreset._validation import check_data, check_sample_weight

from .config import IOParameters, get_config
from .matrix import AnalogMatrix, check_time

__all__ = [
    "HWANoiseProfile",
    "hwa_noise_profile",
    "HWALinearClassifier",
    "HWAMLPClassifier",
    "hwa_fit_linear",
    "hwa_fit_mlp",
    "hwa_spec",
    "hwa_finetune",
    "analog_decision_function",
    "analog_predict",
]


@dataclass(frozen=True)
class HWANoiseProfile:
    """Noise a preset adds at a given time, in the form the trainers inject it."""

    weight_poly: tuple[float, float, float]
    """sigma_w / a = c0 + c1 u + c2 u^2, u = |w| / a, a = max |w| of the row."""
    out_noise: float
    """Output noise in units of a * r, ADC rounding included."""
    w_noise: float
    """Short-term weight-noise strength (0 if none)."""
    w_noise_type: str
    """``none``, ``additive_constant`` or ``pcm_read``."""
    input_scaling: str
    """``range`` (static input range), ``abs_max`` (per vector) or ``constant``."""
    input_range_alpha: float
    """Static range = alpha * std of the inputs (``range`` scaling only)."""
    constant_scale: float
    """Input scale for ``constant`` scaling."""
    t_inference: float
    """Seconds after programming the profile refers to."""
    out_bound: float = 10.0
    """ADC range in normalised output units (for the static-range headroom rule)."""
    max_input_size: int = 0
    """Rows per tile (0: one tile); the headroom rule is applied per input slice."""
    output_quantile: float | None = 0.99
    """Headroom rule of the static range, as in :class:`AnalogBackend` (None: off)."""
    center_inputs: bool = True
    """Inputs are centred before the DAC, as in :class:`AnalogBackend`."""

    def weight_sigma(self, u: np.ndarray) -> np.ndarray:
        """sigma_w / a at u = |w| / a (clipped at 0)."""
        c0, c1, c2 = self.weight_poly
        return np.maximum(c0 + c1 * u + c2 * u * u, 0.0)


def hwa_noise_profile(config="hwa_standard", t_inference=86400.0, *, seed=0,
                      center_inputs=True, output_quantile=0.99) -> HWANoiseProfile:
    """Measure the noise of ``config`` at ``t_inference`` for noise-injection training.

    Parameters
    ----------
    config : str or AnalogConfig
        Preset name or configuration.
    t_inference : float
        Seconds after programming.
    seed : int
        Seed of the probe.
    center_inputs, output_quantile
        The mapping the models will be run with (see :class:`AnalogBackend`);
        the trainers reproduce its input scale.

    Returns
    -------
    HWANoiseProfile

    Examples
    --------
    >>> p = hwa_noise_profile("hwa_standard", 86400)
    >>> bool(0 < p.weight_sigma(np.array([1.0]))[0] < 0.2)
    True
    """
    cfg = get_config(config)
    t = check_time(t_inference, "t_inference")
    io = cfg.forward
    poly = (0.0, 0.0, 0.0)
    if cfg.noise_model is not None:
        rng = np.random.default_rng(seed)
        n_in = 256
        base = np.linspace(-1.0, 1.0, n_in)
        W = np.stack([rng.permutation(base) for _ in range(64)])
        probe = replace(cfg, forward=IOParameters(is_perfect=True))
        A = AnalogMatrix(W, probe, seed=seed).drift(t)
        err = A.analog_weights() - W
        u = np.abs(W).ravel()
        e2 = (err**2).ravel()
        edges = np.linspace(0.0, 1.0, 17)
        centres, rms = [], []
        for lo, hi in zip(edges[:-1], edges[1:], strict=True):
            sel = (u >= lo) & (u <= hi)
            if sel.any():
                centres.append(u[sel].mean())
                rms.append(np.sqrt(e2[sel].mean()))
        V = np.vander(np.asarray(centres), 3, increasing=True)
        poly = tuple(float(c) for c in np.linalg.lstsq(V, np.asarray(rms), rcond=None)[0])
    if io.is_perfect:
        out_noise, w_noise, w_type = 0.0, 0.0, "none"
    else:
        step = io.out_step
        out_noise = float(np.sqrt(io.out_noise**2 + step**2 / 12.0))
        w_noise, w_type = float(io.w_noise), io.w_noise_type
    rng_cfg = cfg.pre_post.input_range
    if rng_cfg.enable:
        scaling = "range"
    elif io.noise_management in ("abs_max", "max"):
        scaling = "abs_max"
    else:
        scaling = "constant"
    const = io.nm_thres if (io.noise_management == "constant" and io.nm_thres > 0) else 1.0
    return HWANoiseProfile(
        weight_poly=poly,
        out_noise=out_noise,
        w_noise=w_noise,
        w_noise_type=w_type,
        input_scaling=scaling,
        input_range_alpha=rng_cfg.init_std_alpha,
        constant_scale=const,
        t_inference=t,
        out_bound=float(io.out_bound),
        max_input_size=int(cfg.mapping.max_input_size),
        output_quantile=output_quantile,
        center_inputs=bool(center_inputs),
    )


# --------------------------------------------------------------------------- noisy layer


_RANGE_EVERY = 8
"""Steps between two re-estimates of a layer's static input range during training."""


def _input_scale(profile: HWANoiseProfile, x: np.ndarray, W: np.ndarray, amax: np.ndarray,
                 state: dict | None = None):
    """Per-row (n, 1) input scale r, the centred inputs the crossbar sees, and their offset.

    Mirrors :class:`AnalogBackend`: inputs centred on their mean (the offset is
    restored digitally), a static range ``alpha * std`` raised so that the
    ``output_quantile`` of each tile's ``|output|`` fits ``out_bound`` (the
    largest over the input slices), or a per-vector max |x|. ``state`` (one dict
    per layer) keeps the static range for ``_RANGE_EVERY`` steps.
    """
    mu = x.mean(axis=0) if profile.center_inputs and x.shape[0] > 1 else 0.0
    xc = x - mu
    if profile.input_scaling == "range":
        if state is not None and state.get("age", _RANGE_EVERY) < _RANGE_EVERY:
            r = state["r"]
            state["age"] += 1
        else:
            r = max(profile.input_range_alpha * float(xc.std()), 1e-12)
            if profile.output_quantile is not None:
                Wn = W / amax
                d = x.shape[1]
                step = profile.max_input_size or d
                for part in np.array_split(np.arange(d), -(-d // step)):
                    y = np.abs(xc[:, part] @ Wn[:, part].T)
                    r = max(r, float(np.quantile(y, profile.output_quantile))
                            / profile.out_bound)
            if state is not None:
                state["r"], state["age"] = r, 1
        return np.full((x.shape[0], 1), r), np.clip(xc, -r, r), mu
    if profile.input_scaling == "abs_max":
        return np.maximum(np.abs(xc).max(axis=1, keepdims=True), 1e-12), xc, mu
    return np.full((x.shape[0], 1), profile.constant_scale), xc, mu


def _noisy_linear(x, W, b, profile, rng, scale, state=None):
    """Forward of one layer with injected noise; returns (z, x_seen, W_used)."""
    amax = np.maximum(np.abs(W).max(axis=1, keepdims=True), 1e-12)
    r, xc, mu = _input_scale(profile, x, W, amax, state)
    x_seen = xc + mu
    if scale <= 0:
        return x_seen @ W.T + b, x_seen, W
    u = np.abs(W) / amax
    W_used = W + (amax * profile.weight_sigma(u) * scale) * rng.standard_normal(W.shape)
    # the noisy crossbar sees the centred inputs; the offset W mu is added digitally
    z = xc @ W_used.T + (b + mu @ W.T if np.ndim(mu) else b)
    var = np.full(z.shape, profile.out_noise**2)
    if profile.w_noise > 0:
        xr = xc / r
        if profile.w_noise_type == "pcm_read":
            var += profile.w_noise**2 * ((xr * xr) @ u.T)
        else:
            var += profile.w_noise**2 * (xr * xr).sum(axis=1, keepdims=True)
    z += (r * amax.T) * np.sqrt(var) * rng.standard_normal(z.shape) * scale
    return z, x_seen, W_used


def _clip_rows(W: np.ndarray, clip_sigma: float | None) -> None:
    if clip_sigma is None:
        return
    lim = clip_sigma * W.std(axis=1, keepdims=True)
    np.clip(W, -lim, lim, out=W)


class _Adam:
    def __init__(self, params, lr):
        self.lr = lr
        self.m = [np.zeros_like(p) for p in params]
        self.v = [np.zeros_like(p) for p in params]
        self.t = 0

    def step(self, params, grads):
        self.t += 1
        b1, b2, eps = 0.9, 0.999, 1e-8
        for p, g, m, v in zip(params, grads, self.m, self.v, strict=True):
            m *= b1
            m += (1 - b1) * g
            v *= b2
            v += (1 - b2) * g * g
            mh = m / (1 - b1**self.t)
            vh = v / (1 - b2**self.t)
            p -= self.lr * mh / (np.sqrt(vh) + eps)


def _softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _loss_grad(z, y_idx, n_classes, loss, sw):
    """Gradient of the weighted mean loss w.r.t. the logits z."""
    n = z.shape[0]
    wn = (sw / sw.sum())[:, None]
    if n_classes == 2:
        t = y_idx[:, None].astype(float)
        if loss == "log_loss":
            p = 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))
            return (p - t) * wn
        s = 2 * t - 1
        marg = np.maximum(0.0, 1 - s * z)
        return -2 * s * marg * wn
    if loss == "log_loss":
        g = _softmax(z)
        g[np.arange(n), y_idx] -= 1
        return g * wn
    s = -np.ones_like(z)
    s[np.arange(n), y_idx] = 1
    marg = np.maximum(0.0, 1 - s * z)
    return -2 * s * marg * wn


def _resolve_profile(config, t_inference, profile):
    if profile is not None:
        if not isinstance(profile, HWANoiseProfile):
            raise InputError(f"profile must be an HWANoiseProfile, got {type(profile).__name__}")
        return profile
    return hwa_noise_profile(config, t_inference)


def _check_xy(X, y, sample_weight):
    X = check_data(X, name="X").astype(np.float64, copy=False)
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != X.shape[0]:
        raise InputError(f"y must be 1-D with {X.shape[0]} labels, got shape {y.shape}")
    classes, y_idx = np.unique(y, return_inverse=True)
    if classes.size < 2:
        raise InputError(f"y has {classes.size} class; at least 2 classes are needed")
    sw = check_sample_weight(sample_weight, X.shape[0])
    return X, classes, y_idx, sw


def _check_common(est):
    name = type(est).__name__
    for attr in ("max_iter", "batch_size"):
        v = getattr(est, attr)
        if not isinstance(v, (int, np.integer)) or v < 1:
            raise InputError(f"{name}.{attr} must be a positive integer, got {v!r}")
    for attr in ("alpha", "noise_scale"):
        v = getattr(est, attr)
        if not np.isfinite(v) or v < 0:
            raise InputError(f"{name}.{attr} must be >= 0, got {v!r}")
    if not (np.isfinite(est.learning_rate_init) and est.learning_rate_init > 0):
        raise InputError(f"{name}.learning_rate_init must be > 0, got {est.learning_rate_init!r}")
    if est.clip_sigma is not None and not est.clip_sigma > 0:
        raise InputError(f"{name}.clip_sigma must be > 0 or None, got {est.clip_sigma!r}")


# --------------------------------------------------------------------------- linear


class HWALinearClassifier(ClassifierMixin, BaseEstimator):
    """Linear classifier (logistic or squared hinge) trained with analog noise injection.

    Binary problems have one output (``coef_`` of shape (1, d)), as in scikit-learn;
    multi-class log loss is multinomial and hinge is one-vs-rest.

    Parameters
    ----------
    loss : {"log_loss", "hinge"}
        Logistic regression or linear SVM (squared hinge).
    config : str or AnalogConfig, default "hwa_standard"
        Preset whose noise is injected.
    t_inference : float, default 86400
        Inference time (seconds after programming) the noise is matched to.
    noise_scale : float, default 2.0
        Multiplier on the injected noise (0 gives plain training with the same solver).
        Training with about twice the hardware's noise gave the best analog accuracy
        in our synthetic measurements (5-class, 40-feature problems on hwa_standard at
        1 day; see ``tests/analog/test_backend.py``).
    alpha : float, default 1e-4
        L2 penalty.
    clip_sigma : float or None, default 2.5
        Clip each row's weights to this many standard deviations after every step.
    max_iter : int, default 40
        Epochs.
    batch_size : int, default 128
    learning_rate_init : float, default 0.01
        Adam step, relative to the scale of the initial weights.
    warm_start_plain : bool, default True
        Start from a plain scikit-learn fit (LogisticRegression / LinearSVC) with
        the same sample weights (HWA fine-tuning).
    profile : HWANoiseProfile, optional
        Precomputed noise profile (skips :func:`hwa_noise_profile`).
    random_state : int, RandomState or None
    warm_start : fitted linear classifier, optional
        A model with ``coef_``, ``intercept_`` and the same ``classes_`` (e.g. a
        :class:`sklearn.svm.LinearSVC` fitted on the same data) to fine-tune;
        used instead of ``warm_start_plain``.

    Attributes
    ----------
    coef_ : ndarray, shape (1, d) or (n_classes, d)
    intercept_ : ndarray
    classes_ : ndarray
    profile_ : HWANoiseProfile
    n_iter_ : int
        Epochs run (always ``max_iter``: the schedule is fixed).
    converged_ : bool
        Whether the weights stayed finite over the whole schedule (there is no
        tolerance-based stop).
    """

    def __init__(
        self, loss="log_loss", *, config="hwa_standard", t_inference=86400.0, noise_scale=2.0,
        alpha=1e-4, clip_sigma=2.5, max_iter=40, batch_size=128, learning_rate_init=0.01,
        warm_start_plain=True, profile=None, random_state=None, warm_start=None,
    ):
        self.loss = loss
        self.config = config
        self.t_inference = t_inference
        self.noise_scale = noise_scale
        self.alpha = alpha
        self.clip_sigma = clip_sigma
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.warm_start_plain = warm_start_plain
        self.profile = profile
        self.random_state = random_state
        self.warm_start = warm_start

    def fit(self, X, y, sample_weight=None):
        """Fit on (X, y) with optional sample weights; returns self."""
        if self.loss not in ("log_loss", "hinge"):
            raise InputError(f"loss must be 'log_loss' or 'hinge', got {self.loss!r}")
        _check_common(self)
        X, classes, y_idx, sw = _check_xy(X, y, sample_weight)
        rng = check_random_state(self.random_state)
        gen = np.random.default_rng(rng.randint(0, 2**31 - 1))
        profile = _resolve_profile(self.config, self.t_inference, self.profile)
        n, d = X.shape
        k = 1 if classes.size == 2 else classes.size
        W, b = self._init(X, y_idx, sw, classes, k, gen)
        lr = self.learning_rate_init * max(float(np.abs(W).max()), 1e-3)
        opt = _Adam([W, b], lr)
        sw_norm = sw / sw.mean()
        state: dict = {}
        for _ in range(self.max_iter):
            order = gen.permutation(n)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                z, xs, _ = _noisy_linear(
                    X[idx], W, b, profile, gen, self.noise_scale, state
                )
                g = _loss_grad(z, y_idx[idx], classes.size, self.loss, sw_norm[idx])
                gW = g.T @ xs + self.alpha * W
                opt.step([W, b], [gW, g.sum(axis=0)])
                _clip_rows(W, self.clip_sigma)
        self.coef_ = W
        self.intercept_ = b
        self.classes_ = classes
        self.profile_ = profile
        self.n_features_in_ = d
        self.n_iter_ = int(self.max_iter)
        self.converged_ = bool(np.isfinite(W).all() and np.isfinite(b).all())
        return self

    def _init(self, X, y_idx, sw, classes, k, gen):
        d = X.shape[1]
        ws = self.warm_start
        if ws is not None:
            coef = getattr(ws, "coef_", None)
            if (coef is None or np.shape(coef) != (k, d)
                    or not np.array_equal(np.asarray(getattr(ws, "classes_", [])), classes)):
                raise InputError(
                    f"warm_start must be a fitted linear model with coef_ of shape {(k, d)} "
                    f"and classes_ {classes.tolist()}"
                )
            W = np.array(coef, dtype=np.float64)
            b = np.broadcast_to(np.asarray(ws.intercept_, dtype=np.float64), (k,)).copy()
            _clip_rows(W, self.clip_sigma)
            return W, b
        if not self.warm_start_plain:
            return np.zeros((k, d)), np.zeros(k)
        if self.loss == "log_loss":
            from sklearn.linear_model import LogisticRegression

            base = LogisticRegression(max_iter=1000)
        else:
            from sklearn.svm import LinearSVC

            base = LinearSVC(max_iter=5000)
        base.fit(X, y_idx, sample_weight=sw)
        W = np.array(base.coef_, dtype=np.float64).reshape(k, d)
        b = np.array(base.intercept_, dtype=np.float64).reshape(k)
        _clip_rows(W, self.clip_sigma)
        return W, b

    def decision_function(self, X):
        """Decision values (n,) for two classes, (n, n_classes) otherwise."""
        check_is_fitted(self, "coef_")
        X = check_data(X, name="X")
        z = X @ self.coef_.T + self.intercept_
        return z.ravel() if z.shape[1] == 1 else z

    def predict(self, X):
        """Predicted class labels."""
        z = self.decision_function(X)
        idx = (z > 0).astype(int) if z.ndim == 1 else z.argmax(axis=1)
        return self.classes_[idx]


# --------------------------------------------------------------------------- MLP


class HWAMLPClassifier(ClassifierMixin, BaseEstimator):
    """ReLU multilayer perceptron trained with analog noise injection in every layer.

    Attributes follow :class:`sklearn.neural_network.MLPClassifier` (``coefs_`` of
    shape (in, out) per layer, ``intercepts_``, ``classes_``, ``out_activation_``),
    so an analog forward is ``h = relu(backend.linear(coefs_[i].T, intercepts_[i], h))``.
    Sample weights weight each example's loss.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default (64,)
    config, t_inference, noise_scale, alpha, clip_sigma, max_iter, batch_size,
    learning_rate_init, profile, random_state
        As in :class:`HWALinearClassifier` (``learning_rate_init`` is the absolute
        Adam step here; ``max_iter`` defaults to 100 epochs).
    warm_start : MLPClassifier or HWAMLPClassifier, optional
        A fitted ReLU network of the same architecture to fine-tune.

    Attributes
    ----------
    coefs_, intercepts_, classes_, n_layers_, n_outputs_, out_activation_
        As in :class:`sklearn.neural_network.MLPClassifier`.
    activation : str
        Always ``"relu"`` (class attribute, for code written against MLPClassifier).
    profile_ : HWANoiseProfile
    n_iter_ : int
        Epochs run (always ``max_iter``: the schedule is fixed).
    converged_ : bool
        Whether the weights stayed finite over the whole schedule.
    """

    activation = "relu"

    def __init__(
        self, hidden_layer_sizes=(64,), *, config="hwa_standard", t_inference=86400.0,
        noise_scale=2.0, alpha=1e-4, clip_sigma=2.5, max_iter=100, batch_size=128,
        learning_rate_init=1e-3, warm_start=None, profile=None, random_state=None,
    ):
        self.hidden_layer_sizes = hidden_layer_sizes
        self.config = config
        self.t_inference = t_inference
        self.noise_scale = noise_scale
        self.alpha = alpha
        self.clip_sigma = clip_sigma
        self.max_iter = max_iter
        self.batch_size = batch_size
        self.learning_rate_init = learning_rate_init
        self.warm_start = warm_start
        self.profile = profile
        self.random_state = random_state

    def fit(self, X, y, sample_weight=None):
        """Fit on (X, y) with optional sample weights; returns self."""
        _check_common(self)
        sizes = tuple(self.hidden_layer_sizes)
        if not sizes or any(not isinstance(h, (int, np.integer)) or h < 1 for h in sizes):
            raise InputError(
                f"hidden_layer_sizes must be positive integers, got {self.hidden_layer_sizes!r}"
            )
        X, classes, y_idx, sw = _check_xy(X, y, sample_weight)
        rng = check_random_state(self.random_state)
        gen = np.random.default_rng(rng.randint(0, 2**31 - 1))
        profile = _resolve_profile(self.config, self.t_inference, self.profile)
        n, d = X.shape
        k = 1 if classes.size == 2 else classes.size
        dims = (d, *sizes, k)
        Ws, bs = self._init(dims, gen)
        params = [p for pair in zip(Ws, bs, strict=True) for p in pair]
        opt = _Adam(params, self.learning_rate_init)
        sw_norm = sw / sw.mean()
        n_layers = len(Ws)
        states: list[dict] = [{} for _ in range(n_layers)]
        for _ in range(self.max_iter):
            order = gen.permutation(n)
            for start in range(0, n, self.batch_size):
                idx = order[start : start + self.batch_size]
                h = X[idx]
                cache = []
                for li in range(n_layers):
                    z, xs, W_used = _noisy_linear(h, Ws[li], bs[li], profile, gen,
                                                  self.noise_scale, states[li])
                    cache.append((xs, W_used, z))
                    h = np.maximum(z, 0.0) if li < n_layers - 1 else z
                g = _loss_grad(h, y_idx[idx], classes.size, "log_loss", sw_norm[idx])
                grads = [None] * (2 * n_layers)
                for li in range(n_layers - 1, -1, -1):
                    xs, W_used, z = cache[li]
                    if li < n_layers - 1:
                        g = g * (z > 0)
                    grads[2 * li] = g.T @ xs + self.alpha * Ws[li]
                    grads[2 * li + 1] = g.sum(axis=0)
                    g = g @ W_used
                opt.step(params, grads)
                for W in Ws:
                    _clip_rows(W, self.clip_sigma)
        self.coefs_ = [W.T.copy() for W in Ws]
        self.intercepts_ = [b.copy() for b in bs]
        self.classes_ = classes
        self.n_layers_ = n_layers + 1
        self.n_outputs_ = k
        self.out_activation_ = "logistic" if k == 1 else "softmax"
        self.n_iter_ = int(self.max_iter)
        self.converged_ = bool(all(np.isfinite(W).all() for W in Ws))
        self.profile_ = profile
        self.n_features_in_ = d
        return self

    def _init(self, dims, gen):
        ws = self.warm_start
        if ws is not None:
            coefs = getattr(ws, "coefs_", None)
            shapes = list(zip(dims[:-1], dims[1:], strict=True))
            if coefs is None or [c.shape for c in coefs] != shapes:
                raise InputError(f"warm_start must be a fitted MLP with layer shapes {shapes}")
            if getattr(ws, "activation", "relu") != "relu":
                raise InputError(
                    f"warm_start has activation={ws.activation!r}; HWA training supports "
                    "ReLU networks only"
                )
            return [c.T.copy() for c in coefs], [b.copy() for b in ws.intercepts_]
        Ws, bs = [], []
        for fan_in, fan_out in zip(dims[:-1], dims[1:], strict=True):
            bound = np.sqrt(6.0 / (fan_in + fan_out))
            Ws.append(gen.uniform(-bound, bound, (fan_out, fan_in)))
            bs.append(gen.uniform(-bound, bound, fan_out))
        return Ws, bs

    def _forward(self, X):
        h = X
        for i, (W, b) in enumerate(zip(self.coefs_, self.intercepts_, strict=True)):
            h = h @ W + b
            if i < len(self.coefs_) - 1:
                h = np.maximum(h, 0.0)
        return h

    def predict_proba(self, X):
        """Class probabilities, shape (n, n_classes)."""
        check_is_fitted(self, "coefs_")
        z = self._forward(check_data(X, name="X"))
        if z.shape[1] == 1:
            p = 1.0 / (1.0 + np.exp(-z[:, 0]))
            return np.column_stack([1 - p, p])
        return _softmax(z)

    def predict(self, X):
        """Predicted class labels."""
        return self.classes_[self.predict_proba(X).argmax(axis=1)]


# --------------------------------------------------------------------------- helpers


def hwa_fit_linear(X, y, sample_weight=None, config="hwa_standard", t_inference=86400.0,
                   *, loss="log_loss", random_state=None, **params) -> HWALinearClassifier:
    """Fit an :class:`HWALinearClassifier` matched to ``config`` at ``t_inference``.

    Parameters
    ----------
    X : array_like, shape (n, d)
    y : array_like, shape (n,)
    sample_weight : array_like, shape (n,), optional
        Coreset weights.
    config : str or AnalogConfig
    t_inference : float
        Seconds after programming.
    loss : {"log_loss", "hinge"}
    random_state : int or None
    **params
        Other :class:`HWALinearClassifier` parameters.

    Returns
    -------
    HWALinearClassifier
        Fitted.
    """
    est = HWALinearClassifier(loss, config=config, t_inference=t_inference,
                              random_state=random_state, **params)
    return est.fit(X, y, sample_weight=sample_weight)


def hwa_fit_mlp(X, y, sample_weight=None, config="hwa_standard", t_inference=86400.0,
                *, hidden_layer_sizes=(64,), random_state=None, **params) -> HWAMLPClassifier:
    """Fit an :class:`HWAMLPClassifier` matched to ``config`` at ``t_inference``.

    Parameters are as in :func:`hwa_fit_linear`, plus ``hidden_layer_sizes``.

    Returns
    -------
    HWAMLPClassifier
        Fitted.
    """
    est = HWAMLPClassifier(hidden_layer_sizes, config=config, t_inference=t_inference,
                           random_state=random_state, **params)
    return est.fit(X, y, sample_weight=sample_weight)


def hwa_spec(spec) -> tuple[str, float]:
    """Preset and inference time of an HWA target such as ``"hwa_standard@1d"``.

    Accepts ``PRESET``, ``PRESET@T`` and the backend forms ``analog``,
    ``analog:PRESET`` and ``analog:PRESET@T`` (default preset ``hwa_standard``,
    default time 1 day).

    Returns
    -------
    preset : str
    t_inference : float
        Seconds after programming.

    Raises
    ------
    InputError
        For anything that is not a string naming a known preset and a valid time.

    Examples
    --------
    >>> hwa_spec("hermes@1h"), hwa_spec("analog")
    (('hermes', 3600.0), ('hwa_standard', 86400.0))
    """
    from .backend import DEFAULT_PRESET, DEFAULT_T_INFERENCE, parse_time
    from .config import PRESETS

    if not isinstance(spec, str) or not spec.strip():
        raise InputError(
            f"hwa must be a preset with an optional time such as 'hwa_standard@1d', "
            f"got {spec!r}"
        )
    text = spec.strip()
    if text == "analog" or text.startswith(("analog:", "analog@")):
        text = text[len("analog"):].lstrip(":")
        text = text if text and not text.startswith("@") else DEFAULT_PRESET + text
    preset, sep, when = text.partition("@")
    preset = preset.strip()
    if preset not in PRESETS:
        raise InputError(
            f"hwa={spec!r}: unknown analog preset {preset!r}; choose one of: "
            f"{', '.join(PRESETS)} (optionally with @TIME, e.g. hwa_standard@1d)"
        )
    if sep and not when.strip():
        raise InputError(f"hwa={spec!r} has '@' but no time; write e.g. {preset}@1d")
    try:
        t = parse_time(when) if sep else DEFAULT_T_INFERENCE
    except InputError as exc:
        raise InputError(f"hwa={spec!r}: {exc}") from None
    return preset, t


def hwa_finetune(model, X, y, sample_weight=None, target="hwa_standard@1d", *,
                 loss="log_loss", noise_scale=2.0, max_iter=None, alpha=1e-4,
                 random_state=None):
    """Fine-tune a fitted linear model or ReLU MLP with noise injection for ``target``.

    The model's weights are the starting point (a plain fit on the same data);
    training then continues with the noise of ``target`` (a preset at a time,
    :func:`hwa_spec`) injected into every forward pass.

    Parameters
    ----------
    model : fitted classifier
        Anything with ``coef_``/``intercept_``/``classes_`` (linear SVM,
        logistic regression) or ``coefs_``/``intercepts_`` (ReLU MLP).
    X : array_like, shape (n, d)
        The (preprocessed) training inputs the model was fitted on.
    y : array_like, shape (n,)
    sample_weight : array_like, shape (n,), optional
        Coreset weights.
    target : str
        ``PRESET@T``, e.g. ``"hwa_standard@1d"``.
    loss : {"log_loss", "hinge"}
        Loss of a linear model (``hinge`` is the squared hinge of a linear SVM).
    noise_scale : float
        Multiplier on the injected noise.
    max_iter : int or None
        Epochs (default 20 for a linear model, 10 for an MLP: fine-tuning from a
        converged plain fit needs few).
    alpha : float
        L2 penalty on the mean loss.
    random_state : int or None

    Returns
    -------
    HWALinearClassifier or HWAMLPClassifier
        Fitted.

    Raises
    ------
    InputError
        For a model of another kind, a bad target or bad data.
    """
    config, t = hwa_spec(target)
    if hasattr(model, "coefs_"):
        sizes = tuple(int(c.shape[1]) for c in model.coefs_[:-1])
        est = HWAMLPClassifier(
            sizes, config=config, t_inference=t, noise_scale=noise_scale, alpha=alpha,
            max_iter=10 if max_iter is None else max_iter, warm_start=model,
            random_state=random_state,
        )
    elif hasattr(model, "coef_"):
        est = HWALinearClassifier(
            loss, config=config, t_inference=t, noise_scale=noise_scale, alpha=alpha,
            max_iter=20 if max_iter is None else max_iter, warm_start=model,
            random_state=random_state,
        )
    else:
        raise InputError(
            f"{type(model).__name__} has neither coef_ nor coefs_; HWA fine-tuning needs a "
            "fitted linear model or MLP"
        )
    return est.fit(X, y, sample_weight=sample_weight)


def analog_decision_function(model, X, backend) -> np.ndarray:
    """Decision values of a fitted linear model or MLP computed with ``backend.linear``.

    Works for anything with ``coef_``/``intercept_`` (LogisticRegression, LinearSVC,
    HWALinearClassifier) or ``coefs_``/``intercepts_`` (MLPClassifier with ReLU,
    HWAMLPClassifier); activations are computed digitally.

    Returns
    -------
    ndarray
        (n,) for a single output, (n, n_outputs) otherwise (pre-activation logits).
    """
    X = np.asarray(X, dtype=np.float64)
    if hasattr(model, "coefs_"):
        act = getattr(model, "activation", "relu")
        if act != "relu":
            raise InputError(f"analog MLP forward supports activation='relu', got {act!r}")
        h = X
        n = len(model.coefs_)
        for i, (W, b) in enumerate(zip(model.coefs_, model.intercepts_, strict=True)):
            h = backend.linear(np.asarray(W).T, b, h)
            if i < n - 1:
                h = np.maximum(h, 0.0)
        z = h
    elif hasattr(model, "coef_"):
        z = backend.linear(np.atleast_2d(model.coef_), np.atleast_1d(model.intercept_), X)
    else:
        raise InputError(
            f"{type(model).__name__} has neither coef_ nor coefs_; fit a linear model or MLP"
        )
    return z.ravel() if z.shape[1] == 1 else z


def analog_predict(model, X, backend) -> np.ndarray:
    """Class predictions of a fitted linear model or MLP through ``backend``."""
    z = analog_decision_function(model, X, backend)
    idx = (z > 0).astype(int) if z.ndim == 1 else z.argmax(axis=1)
    return np.asarray(model.classes_)[idx]
