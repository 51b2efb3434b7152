"""scikit-learn style estimators: :class:`QuantizedCoreset` and :class:`CoresetEstimator`."""

from __future__ import annotations

import numbers
import time

import numpy as np
from sklearn.base import BaseEstimator, MetaEstimatorMixin, clone
from sklearn.utils import check_random_state
from sklearn.utils.metaestimators import available_if
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from ._errors import EstimatorError, InputError
from ._validation import check_data, check_int, check_labels, check_sample_weight
from .budget import parse_budget, raw_bits
from .constructors import CONSTRUCTORS, build_coreset, constructor_params, resolve_method
from .payload import decode_payload, encode_payload
from .planner import _plan, class_sizes, fit_quantizers
from .quantizers import QUANTIZERS

__all__ = ["QuantizedCoreset", "CoresetEstimator"]


class QuantizedCoreset(BaseEstimator):
    """Weighted coreset of the data, quantized and encoded within a bit budget.

    ``fit`` builds a coreset with a constructor (``method``), quantizes its rows with
    a quantizer (``quantizer``, ``bits``), encodes everything into a ``.qcs`` payload
    of at most ``budget`` bits and decodes it again: the fitted attributes are exactly
    what a receiver of the payload sees.

    Parameters
    ----------
    budget : int, float or str, default="1%"
        Bit budget of the payload: bits (``8e6``), a size (``"100kB"``, ``"1MiB"``) or
        a percentage of the data's float32 size (``"1%"``).
    method : str, default="auto"
        Coreset constructor, one of ``qcoreset.constructors.CONSTRUCTORS.names()``, or
        ``"auto"``: ``"uniform"`` (per class) when ``y`` is given, ``"sensitivity"``
        otherwise (:func:`qcoreset.constructors.resolve_method` says why).
    quantizer : str, default="auto"
        Quantizer, one of ``qcoreset.quantizers.QUANTIZERS.names()``, or ``"auto"``: the
        plan chooses between a per-column grid (``fixed``) and transform coding of the
        rows' principal-component coefficients (``pca``), whichever predicts the
        smaller error (:data:`qcoreset.planner.AUTO_QUANTIZERS`).
    bits : "auto" or int, default="auto"
        Bits per value (mantissa bits for ``float``; ignored by ``none``). ``"auto"``
        lets the planner (:mod:`qcoreset.planner`) choose the bit depth whose largest
        fitting coreset has the smallest predicted error bound.
    size : "auto" or int, default="auto"
        Coreset size. ``"auto"`` takes the largest size whose payload fits the budget
        at the chosen bit depth.
    proxy : str, default="auto"
        Proxy of the coreset error the planner uses (``"auto"``, ``"sampling"``,
        ``"kcenter"``, ``"evd"``, ``"exact"``); see :data:`qcoreset.planner.PROXIES`.
    n_clusters : int, default=10
        Clusters of the bicriteria solution, for constructors that take it.
    method_params : dict or None, default=None
        Further constructor parameters (e.g. ``{"max_iter": 50}`` for ``rcc``).
    class_allocation : {"optimal", "mass"}, default="optimal"
        With labels: how the coreset's rows are split across classes. ``"optimal"``
        minimises the total predicted error (:func:`qcoreset.planner.class_sizes`: classes
        whose rows are spread out get more rows); ``"mass"`` gives each class rows in
        proportion to its weight.
    refine_weights : bool, default=False
        Re-fit the weights of the quantized coreset rows to the full data with
        :func:`qcoreset.convex.refine_weights` (a non-negative QP matching the mass and
        first moment of every cell around up to ``n_clusters`` k-means++ seeds drawn among
        the coreset rows, per class) before encoding. Needs a constructor with real-valued
        weights (``sensitivity``, ``lightweight``). Off by default: ``benchmarks/reduction.py``
        measures it.
    random_state : int, RandomState instance or None, default=None
        Seeds every random choice (sampling, k-means++, stochastic rounding).

    Attributes
    ----------
    coreset_ : ndarray of shape (size_, n_features)
        Decoded (dequantized) coreset rows.
    coreset_labels_ : ndarray of shape (size_,) or None
        Their labels when ``y`` was given.
    coreset_weights_ : ndarray of shape (size_,)
        Their weights (they sum to about the total input weight).
    size_ : int
        Rows in the coreset.
    bits_ : int
        Bits per quantized value.
    method_ : str
        The constructor used (``method`` with ``"auto"`` resolved).
    payload_ : bytes
        The encoded payload.
    payload_bits_ : int
        ``8 * len(payload_)``; never above ``budget_bits_``.
    budget_bits_ : int
        The budget in bits.
    reduction_ : float
        ``1 - payload_bits_ / (32 * n_samples * n_features)``.
    cs_error_ : float
        Coreset-construction error per unit weight, ``E_cs / U``: for ``rcc`` and
        ``kcenter`` the proven transport bound ``sum_p u_p ||p - c(p)|| / U``; for the
        sampling constructors one standard error of the coreset's estimate of a
        1-Lipschitz cost, per unit weight (an estimate, not a bound); 0 when the whole
        data was sent.
    quantization_error_ : float
        Largest proven ``||s - Q(s)||_2`` over the coreset rows.
    error_bound_ : float
        ``cs_error_ + quantization_error_``: for losses that are 1-Lipschitz in the
        data point, ``|cost(P) - cost(S')| / U`` is at most this (with the caveat of
        ``cs_error_`` for sampling constructors).
    error_kind_ : str
        ``"proven"``, ``"estimate"`` or ``"exact"`` (whole data sent).
    sent_all_ : bool
        True when the budget held every row, so the data itself was sent.
    quantizer_ : Quantizer
        The fitted quantizer.
    plan_ : Plan
        The planner's table of candidate quantizers and bit depths, and its choice.
    timings_ : dict
        Wall time in seconds of ``quantizers`` (fitting the candidate quantizers to the
        data: grids, the principal components of ``pca``), ``plan`` (proxy and
        enumeration), ``build`` (the coreset constructor), ``encode`` (quantize, encode,
        decode) and ``total``.
    n_features_in_ : int
        Columns of ``X``.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from qcoreset import QuantizedCoreset
    >>> X, y = load_digits(return_X_y=True)
    >>> qc = QuantizedCoreset(budget="2%", random_state=0).fit(X, y)
    >>> qc.payload_bits_ <= qc.budget_bits_
    True
    """

    def __init__(
        self,
        budget="1%",
        method="auto",
        quantizer="auto",
        bits="auto",
        size="auto",
        proxy="auto",
        n_clusters=10,
        method_params=None,
        class_allocation="optimal",
        refine_weights=False,
        random_state=None,
    ):
        self.budget = budget
        self.method = method
        self.quantizer = quantizer
        self.bits = bits
        self.size = size
        self.proxy = proxy
        self.n_clusters = n_clusters
        self.method_params = method_params
        self.class_allocation = class_allocation
        self.refine_weights = refine_weights
        self.random_state = random_state

    # -------------------------------------------------------------------------
    def fit(self, X, y=None, sample_weight=None):
        """Build, quantize, encode and decode the coreset of ``X``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Finite numeric data.
        y : array-like of shape (n_samples,) or None
            Class labels. When given, the coreset is built per class (sizes from
            ``class_allocation``) and the labels travel in the payload.
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative weights of the rows (default 1).

        Returns
        -------
        self

        Raises
        ------
        InputError
            For invalid data, labels, weights or parameters.
        BudgetError
            When the budget cannot hold the header and one row per class, or a
            fixed ``size`` does not fit.
        """
        t0 = time.perf_counter()
        X = check_data(X)
        n, d = X.shape
        u = check_sample_weight(sample_weight, n)
        labels = None if y is None else check_labels(y, n)
        if labels is not None and labels.dtype.kind == "f" and (labels != np.round(labels)).any():
            raise InputError(
                f"y holds {len(np.unique(labels))} distinct non-integer values; qcoreset "
                "carries class labels, not regression targets: pass class labels or omit y"
            )
        budget_bits = parse_budget(self.budget, n, d)
        if self.quantizer != "auto":
            QUANTIZERS.get(self.quantizer)
        method = resolve_method(self.method, labels is not None)
        method_params = constructor_params(method, self.method_params, self.n_clusters)
        if self.class_allocation not in ("optimal", "mass"):
            raise InputError(
                f"class_allocation must be 'optimal' or 'mass', got {self.class_allocation!r}")
        if not isinstance(self.refine_weights, (bool, np.bool_)):
            raise InputError(f"refine_weights must be True or False, got {self.refine_weights!r}")
        if self.refine_weights and CONSTRUCTORS.get(method).weight_kind != "real":
            raise InputError(
                f"refine_weights needs real-valued weights, but {method!r} sends "
                f"{CONSTRUCTORS.get(method).weight_kind} weights; use method="
                "'sensitivity' or 'lightweight'")
        n_pos = int((u > 0).sum())
        n_groups = 1 if labels is None else len(np.unique(labels[u > 0]))
        auto_size = isinstance(self.size, str) and self.size == "auto"
        if not auto_size:
            if isinstance(self.size, str) or not isinstance(self.size, numbers.Real):
                raise InputError(f"size must be 'auto' or an integer, got {self.size!r}")
            m = check_int(self.size, "size", max(1, n_groups), n_pos)

        rs = check_random_state(self.random_state)
        build_seed = int(rs.randint(2**31 - 1))
        round_seed = int(rs.randint(2**31 - 1))
        t_quant = time.perf_counter()
        n_clusters = method_params.get("n_clusters", check_int(self.n_clusters,
                                                               "n_clusters", 1))
        families = fit_quantizers(X, self.quantizer, self.bits, random_state=round_seed,
                                  y=labels, n_clusters=n_clusters)
        t_quant = time.perf_counter() - t_quant
        classes = None if labels is None else np.unique(labels[u > 0])
        self.plan_ = _plan(
            X, u, classes=classes, budget_bits=budget_bits, families=families,
            method=method, proxy=self.proxy, n_clusters=n_clusters,
            rng=np.random.default_rng(build_seed), size=None if auto_size else m,
        )
        chosen = self.plan_.chosen
        quant = chosen._q.with_bits(chosen.bits) if chosen._q.uses_bits else chosen._q
        m = chosen.size

        t_build = time.perf_counter()
        sizes = None
        if labels is not None and self.class_allocation == "optimal":
            sizes = class_sizes(X, labels, m, sample_weight=u, method=method,
                                proxy=self.proxy, random_state=np.random.default_rng(build_seed))
        coreset = build_coreset(
            X, m, method=method, y=labels, sample_weight=u,
            random_state=build_seed, class_sizes=sizes, **method_params,
        )
        if self.refine_weights and coreset.error_kind != "exact":
            coreset.weights = _refined_weights(coreset, quant, X, u, labels,
                                               method_params.get("n_clusters", 10),
                                               np.random.default_rng(build_seed))
        t_encode = time.perf_counter()
        total = float(u.sum())
        cs_error = coreset.cs_error / total
        q_error = float(quant.row_error_bound(coreset.points).max(initial=0.0))
        payload = encode_payload(
            coreset.points, coreset.weights, quant, labels=coreset.labels, classes=classes,
            n_total=n, total_weight=total, method=method, source_dtype=X.dtype,
            budget_bits=budget_bits, rng=check_random_state(round_seed),
            cs_error=cs_error, quantization_error=q_error,
        )
        self._set_from_payload(payload)
        self.n_features_in_ = d
        self.budget_bits_ = budget_bits
        self.cs_error_ = cs_error
        self.quantization_error_ = q_error
        self.error_bound_ = cs_error + q_error
        self.error_kind_ = coreset.error_kind
        self.n_clipped_ = int(getattr(coreset, "n_clipped", 0))
        self.sent_all_ = coreset.error_kind == "exact"
        self.max_size_ = int(chosen.size)
        self.reduction_ = 1.0 - self.payload_bits_ / raw_bits(n, d)
        t_end = time.perf_counter()
        self.timings_ = {"quantizers": t_quant, "plan": self.plan_.seconds,
                         "build": t_encode - t_build,
                         "encode": t_end - t_encode, "total": t_end - t0}
        self.fit_seconds_ = t_end - t0
        return self

    def _set_from_payload(self, payload: bytes):
        dec = decode_payload(payload)
        self.payload_ = payload
        self.payload_bits_ = 8 * len(payload)
        self.coreset_ = dec.points
        self.coreset_weights_ = dec.weights
        self.coreset_labels_ = dec.labels
        self.size_ = dec.header["coreset_size"]
        self.bits_ = dec.header["bits_per_value"]
        self.method_ = dec.header["method"]
        self.quantizer_ = dec.quantizer
        self.header_ = dec.header
        return dec

    def fit_resample(self, X, y=None, sample_weight=None):
        """Fit and return the coreset as ``(rows, labels, weights)``.

        ``labels`` is None when ``y`` is None. Train any estimator on the result with
        ``est.fit(rows, labels, sample_weight=weights)``.
        """
        self.fit(X, y, sample_weight)
        return self.coreset_, self.coreset_labels_, self.coreset_weights_

    def to_bytes(self) -> bytes:
        """The ``.qcs`` payload."""
        check_is_fitted(self, "payload_")
        return self.payload_

    @classmethod
    def from_bytes(cls, data: bytes) -> QuantizedCoreset:
        """Rebuild a fitted estimator from a payload (what the receiver sees).

        Raises
        ------
        PayloadError
            If the payload is truncated, corrupted or foreign.
        """
        self = cls.__new__(cls)
        dec = decode_payload(data)
        h = dec.header
        cls.__init__(
            self, budget=8 * len(data), method=h["method"], quantizer=h["quantizer"],
            bits=h["bits"], size=h["coreset_size"],
        )
        self._set_from_payload(bytes(data))
        self.n_features_in_ = h["n_features"]
        self.budget_bits_ = 8 * len(data)
        self.cs_error_ = h["cs_error"]
        self.quantization_error_ = h["quantization_error"]
        self.error_bound_ = h["error_bound"]
        self.reduction_ = 1.0 - self.payload_bits_ / raw_bits(h["n_total"], h["n_features"])
        return self


def _refined_weights(coreset, quant, X, u, labels, n_clusters: int, rng) -> np.ndarray:
    """Weights of the quantized coreset rows re-fitted to the data's cell masses and moments.

    Cells (per class when there are labels): the nearest of up to ``n_clusters`` weighted
    k-means++ seeds drawn among the class's coreset rows, so every cell holds at least one
    coreset row and no data mass is left without a row to carry it. One pass over the
    data per class.
    """
    from ._kmeans import kmeans_plusplus_seeding, min_sq_distances
    from .convex import refine_weights

    points = quant.transform(coreset.points)
    cell_X = np.full(X.shape[0], -1, dtype=np.int64)
    cell_P = np.empty(points.shape[0], dtype=np.int64)
    if labels is None:
        groups = [(np.arange(X.shape[0]), np.arange(points.shape[0]))]
    else:
        groups = [(np.flatnonzero(labels == c), np.flatnonzero(coreset.labels == c))
                  for c in np.unique(coreset.labels)]
    offset = 0
    for rows, pts in groups:  # one step per class
        k = max(1, min(n_clusters, int((coreset.weights[pts] > 0).sum())))
        seeds = pts[kmeans_plusplus_seeding(points[pts], k, coreset.weights[pts], rng)[0]]
        C = points[seeds]
        cell_P[pts] = offset + min_sq_distances(points[pts], C)[1]
        cell_X[rows] = offset + min_sq_distances(X[rows], C)[1]
        offset += C.shape[0]
    keep = cell_X >= 0  # rows of a class without coreset rows (zero weight) stay out
    return refine_weights(points, coreset.weights, X[keep], u[keep], cell_X[keep], cell_P)


def _estimator_has(attr):
    def check(self):
        if hasattr(self, "estimator_"):
            return hasattr(self.estimator_, attr)
        return hasattr(self.estimator, attr)

    return check


class CoresetEstimator(MetaEstimatorMixin, BaseEstimator):
    """Fit any scikit-learn estimator on a weighted quantized coreset of the data.

    ``fit(X, y)`` reduces the data with ``reducer`` (a :class:`QuantizedCoreset`),
    then calls ``estimator.fit(rows, labels, sample_weight=weights)``. Prediction,
    transformation and scoring go to the fitted estimator.

    Parameters
    ----------
    estimator : estimator object
        Its ``fit`` must accept ``sample_weight`` (KMeans, LogisticRegression,
        LinearSVC, SVC, Ridge, ...).
    reducer : QuantizedCoreset or None, default=None
        The reduction; None means ``QuantizedCoreset()``.

    Attributes
    ----------
    estimator_ : estimator
        The estimator fitted on the coreset.
    reducer_ : QuantizedCoreset
        The fitted reduction (payload size, error bound, ...).

    Raises
    ------
    EstimatorError
        From ``fit``, when the estimator's ``fit`` takes no ``sample_weight``.
    """

    def __init__(self, estimator, reducer=None):
        self.estimator = estimator
        self.reducer = reducer

    def fit(self, X, y=None, sample_weight=None, **fit_params):
        """Reduce ``X`` (and ``y``) to a coreset and fit the estimator on it.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None
        sample_weight : array-like of shape (n_samples,) or None
            Weights of the input rows; the coreset weights carry them.
        **fit_params
            Passed on to the estimator's ``fit``.

        Returns
        -------
        self
        """
        if not has_fit_parameter(self.estimator, "sample_weight"):
            name = type(self.estimator).__name__
            raise EstimatorError(
                f"{name}.fit takes no sample_weight, so it would ignore the coreset weights; "
                "use an estimator whose fit accepts sample_weight (KMeans, LogisticRegression, "
                "LinearSVC, ...) or train on fit_resample's rows yourself"
            )
        reducer = QuantizedCoreset() if self.reducer is None else self.reducer
        self.reducer_ = clone(reducer)
        Xc, yc, wc = self.reducer_.fit_resample(X, y, sample_weight)
        # hand the coreset over in the input's float dtype, so that the fitted estimator
        # later accepts the same kind of data (e.g. KMeans fitted on float64 rejects float32)
        dtype = getattr(X, "dtype", None)
        if dtype is not None and np.dtype(dtype) == np.float32:
            Xc = Xc.astype(np.float32)
        self.estimator_ = clone(self.estimator)
        if yc is None:
            self.estimator_.fit(Xc, sample_weight=wc, **fit_params)
        else:
            self.estimator_.fit(Xc, yc, sample_weight=wc, **fit_params)
        self.n_features_in_ = self.reducer_.n_features_in_
        if hasattr(self.estimator_, "classes_"):
            self.classes_ = self.estimator_.classes_
        return self

    @available_if(_estimator_has("predict"))
    def predict(self, X):
        """Predict with the estimator fitted on the coreset."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict(X)

    @available_if(_estimator_has("predict_proba"))
    def predict_proba(self, X):
        """Class probabilities from the estimator fitted on the coreset."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.predict_proba(X)

    @available_if(_estimator_has("decision_function"))
    def decision_function(self, X):
        """Decision function of the estimator fitted on the coreset."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.decision_function(X)

    @available_if(_estimator_has("transform"))
    def transform(self, X):
        """Transform with the estimator fitted on the coreset."""
        check_is_fitted(self, "estimator_")
        return self.estimator_.transform(X)

    @available_if(_estimator_has("score"))
    def score(self, X, y=None, sample_weight=None):
        """Score of the estimator fitted on the coreset, on the data given here."""
        check_is_fitted(self, "estimator_")
        if sample_weight is None:
            return self.estimator_.score(X, y)
        return self.estimator_.score(X, y, sample_weight=sample_weight)
