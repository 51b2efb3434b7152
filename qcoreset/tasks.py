"""Downstream tasks: train a model on a weighted coreset, score it on the full data.

A task knows how to fit one kind of model from weighted rows (``fit``) and how to score
a fitted model on data (``score``, ``extra_scores``). :func:`evaluate_task` fits the task
on a coreset ``(Xc, yc, wc)`` and on the full training data and compares both on the same
data, through the same inference backend.

Registered tasks (:data:`TASKS`)
--------------------------------
``kmeans`` (cost)
    :class:`sklearn.cluster.KMeans` with ``sample_weight``; metric ``kmeans_cost``, the
    mean over the rows of the squared distance to the assigned centre.
``pca`` (cost)
    :class:`WeightedPCA` (weighted mean and covariance, top ``n_components``
    eigenvectors); metric ``reconstruction_error``, the mean over the rows of
    ``||x - x_hat||^2``.
``svm`` (accuracy)
    Weighted standardisation and :class:`LinearSVM` (L2-regularised squared hinge,
    one-vs-rest, the primal objective of :class:`sklearn.svm.LinearSVC`); extra score
    ``hinge_loss``.
``logreg`` (accuracy)
    Weighted standardisation and :class:`sklearn.linear_model.LogisticRegression`; extra
    score ``log_loss``.
``mlp`` (accuracy)
    Weighted standardisation and :class:`sklearn.neural_network.MLPClassifier`, with the
    weights turned into replication counts by stochastic rounding (see
    :func:`replication_counts`) or passed as ``sample_weight``; extra score ``log_loss``.

Cost tasks are compared by ``normalized_cost = coreset / full`` (lower is better, 1 is
"as good as all the data"), accuracy tasks by ``degradation = (full - coreset) / full``.

Weights follow scikit-learn's ``sample_weight`` semantics in the data term: an integer
weight is the same as repeating the row. The penalty of the linear classifiers
(``regularization``) need not: ``C`` is meant for the full data, and a coreset of m rows
standing for n rows (its weights sum to about n) holds the evidence of about
``n_eff = sum(w)**2 / sum(w**2) <= m`` rows (Kish's effective sample size), while the
best penalty of a regularised fit grows as the sample shrinks (as ``1/N`` or
``1/sqrt(N)`` in the usual analyses). With ``r = n_eff / sum(w)`` (at most 1), the
solver gets ``C * r**g``:

``"cv"`` (default)
    g in {0, 1/2, 1} chosen by a 3-fold cross-validation of the weighted accuracy on the
    rows given, folds stratified by class (g = 1/2 when a class has fewer than 3 rows).
    It costs nine extra fits on a coreset and nothing on unit weights (r = 1: one
    candidate), so a full-data model is the plain fit.
``"effective"``
    g = 1: ``C`` per effective row.
``"weight"``
    g = 0: scikit-learn's semantics, ``C`` per unit of weight.

On Fashion-MNIST coresets of 1 % and 0.1 % of the data (``benchmarks/reduction.py``,
median of 5 seeds) ``"cv"`` gives svm / logreg accuracy degradations of 1.90 / 1.95 %
and 6.15 / 6.30 %, against 2.89 / 3.55 % and 8.11 / 7.00 % with ``"weight"``. The best g
depends on the data (where the default ``C`` is already below what the full data
wants, as on digits, a larger g over-regularises), hence the cross-validation. The MLP's
``alpha`` is scikit-learn's per-minibatch penalty and does not depend on the weights.

Inference backends
------------------
Every score does its matrix products through ``backend.linear(W, b, X)`` (``X @ W.T + b``)
and everything else (standardisation, activations, argmin/argmax, the exact k-means and
reconstruction costs) digitally, so that a simulated analog crossbar
(``qcoreset.analog.AnalogBackend``, same interface) can replace :class:`DigitalBackend`.
"""

from __future__ import annotations

import dataclasses
import inspect
import numbers
import time
import warnings
from collections.abc import Callable, Iterator
from typing import Any, ClassVar

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_softmax
from sklearn.base import BaseEstimator, ClassifierMixin, TransformerMixin
from sklearn.cluster import KMeans
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import LinearSVC
from sklearn.utils import check_random_state
from sklearn.utils.validation import check_is_fitted

from ._errors import InputError
from ._registry import Registry
from ._validation import check_data, check_int, check_labels, check_sample_weight

__all__ = [
    "DigitalBackend",
    "WeightedPCA",
    "LinearSVM",
    "replication_counts",
    "Task",
    "KMeansTask",
    "PCATask",
    "SVMTask",
    "LogRegTask",
    "MLPTask",
    "TASKS",
    "register_task",
    "get_task",
    "TaskResult",
    "evaluate_task",
]

# Rows per block so that a float64 block of ``width`` columns stays near 64 MB.
_BLOCK_ELEMENTS = 1 << 23


def _row_blocks(n_rows: int, width: int) -> Iterator[slice]:
    step = max(1, _BLOCK_ELEMENTS // max(1, width))
    for start in range(0, n_rows, step):
        yield slice(start, min(n_rows, start + step))


def _weighted_mean(values: np.ndarray, w: np.ndarray | None) -> float:
    if w is None:
        return float(np.mean(values))
    return float(np.dot(w, values) / w.sum())


# --------------------------------------------------------------------------------------
# Inference backend
# --------------------------------------------------------------------------------------


class DigitalBackend:
    """Exact floating-point inference: ``linear(W, b, X) = X @ W.T + b`` in float64.

    The default backend of every task's ``score``. Analog backends
    (``qcoreset.analog.AnalogBackend``) have the same ``name``, ``stats`` and ``linear``.

    Attributes
    ----------
    name : str
        ``"digital"``.
    stats : dict
        ``mvm_count`` (input vectors) and ``macs`` (multiply-accumulates) so far;
        analog backends also record energy, latency, conversions, ...

    Examples
    --------
    >>> import numpy as np
    >>> DigitalBackend().linear(np.eye(2), np.array([1.0, 0.0]), np.array([[1.0, 2.0]]))
    array([[2., 2.]])
    """

    name = "digital"

    def __init__(self) -> None:
        self.stats: dict = {"mvm_count": 0, "macs": 0}

    def __repr__(self) -> str:
        return "DigitalBackend()"

    def linear(self, W, b, X) -> np.ndarray:
        """Return ``X @ W.T + b`` as float64, computed in row blocks.

        Parameters
        ----------
        W : array-like of shape (n_out, n_in)
            Weight matrix (one row per output).
        b : array-like of shape (n_out,) or None
            Bias added to every row of the result; None for no bias.
        X : array-like of shape (n_samples, n_in)
            Inputs, one per row.

        Returns
        -------
        ndarray of shape (n_samples, n_out), float64

        Raises
        ------
        InputError
            If the shapes do not match.
        """
        W = np.asarray(W, dtype=np.float64)
        X = np.asarray(X)
        if W.ndim != 2 or X.ndim != 2 or W.shape[1] != X.shape[1]:
            raise InputError(
                f"linear needs W (n_out, n_in) and X (n_samples, n_in); got W {W.shape} "
                f"and X {X.shape}"
            )
        if b is not None:
            b = np.asarray(b, dtype=np.float64)
            if b.shape != (W.shape[0],):
                raise InputError(f"bias has shape {b.shape}; expected ({W.shape[0]},)")
        if not np.isfinite(W).all() or (b is not None and not np.isfinite(b).all()):
            raise InputError("linear: W or b contains NaN or infinite values")
        self.stats["mvm_count"] = self.stats.get("mvm_count", 0) + X.shape[0]
        self.stats["macs"] = self.stats.get("macs", 0) + X.shape[0] * W.size
        out = np.empty((X.shape[0], W.shape[0]), dtype=np.float64)
        Wt = W.T
        for rows in _row_blocks(X.shape[0], X.shape[1] + W.shape[0]):
            np.matmul(X[rows].astype(np.float64, copy=False), Wt, out=out[rows])
        if not np.isfinite(out).all():  # NaN/inf in X propagate to the products
            raise InputError("linear: X contains NaN or infinite values")
        if b is not None:
            out += b
        return out


def _check_backend(backend) -> Any:
    if backend is None:
        return DigitalBackend()
    if not callable(getattr(backend, "linear", None)):
        raise InputError(
            f"backend {backend!r} has no linear(W, b, X) method; pass DigitalBackend(), "
            "an analog backend, or None"
        )
    return backend


def _linear(backend, W: np.ndarray, b: np.ndarray | None, X: np.ndarray) -> np.ndarray:
    """``backend.linear`` with the shape of its answer checked."""
    out = np.asarray(backend.linear(W, b, X), dtype=np.float64)
    expected = (X.shape[0], W.shape[0])
    if out.shape != expected:
        name = getattr(backend, "name", type(backend).__name__)
        raise InputError(
            f"backend {name!r} returned shape {out.shape} from linear(W {W.shape}, "
            f"X {X.shape}); expected {expected}"
        )
    return out


# --------------------------------------------------------------------------------------
# Estimators the tasks fit
# --------------------------------------------------------------------------------------


def _weighted_pca(
    X: np.ndarray, w: np.ndarray, r: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Mean, top-``r`` components, their variances and the total variance of weighted rows.

    Variances use frequency weights: the scatter is divided by ``sum(w) - 1`` (by
    ``sum(w)`` when that is at most 1), so integer weights equal repeated rows and unit
    weights reproduce :class:`sklearn.decomposition.PCA`.
    """
    m, d = X.shape
    total = w.sum()
    mean = np.zeros(d)
    for rows in _row_blocks(m, d):
        mean += w[rows] @ X[rows].astype(np.float64, copy=False)
    mean /= total
    denom = total - 1.0 if total > 1.0 else total
    sw = np.sqrt(w)
    if r <= m < d:
        A = sw[:, None] * (X.astype(np.float64, copy=False) - mean)
        _, s, Vt = np.linalg.svd(A, full_matrices=False)
        variances = s**2 / denom
        components = Vt[:r]
        total_variance = float(np.sum(A * A) / denom)
    else:
        scatter = np.zeros((d, d))
        for rows in _row_blocks(m, d):
            A = sw[rows, None] * (X[rows].astype(np.float64, copy=False) - mean)
            scatter += A.T @ A
        cov = scatter / denom
        evals, evecs = np.linalg.eigh(cov)
        variances = np.clip(evals[::-1], 0.0, None)
        components = evecs[:, ::-1].T[:r]
        total_variance = float(np.trace(cov))
    # Deterministic signs, as scikit-learn's svd_flip: largest |entry| of each row > 0.
    pivots = np.argmax(np.abs(components), axis=1)
    signs = np.sign(components[np.arange(r), pivots])
    signs[signs == 0] = 1.0
    return mean, components * signs[:, None], variances[:r].copy(), total_variance


class WeightedPCA(TransformerMixin, BaseEstimator):
    """Principal component analysis with sample weights.

    scikit-learn's :class:`~sklearn.decomposition.PCA` takes no ``sample_weight``. This
    estimator centres the data on the weighted mean and takes the top eigenvectors of the
    weighted covariance ``sum_i w_i (x_i - mu)(x_i - mu)^T / (sum(w) - 1)`` (frequency
    weights: an integer weight equals a repeated row; with unit weights the result is
    scikit-learn's PCA up to the signs of the components, which follow the same
    convention: the largest absolute entry of every component is positive).

    Parameters
    ----------
    n_components : int, default=10
        Number of components kept, between 1 and the number of features.

    Attributes
    ----------
    mean_ : ndarray of shape (n_features,)
        Weighted mean of the training rows.
    components_ : ndarray of shape (n_components, n_features)
        Orthonormal principal axes, by decreasing variance.
    explained_variance_ : ndarray of shape (n_components,)
        Weighted variance along each component.
    explained_variance_ratio_ : ndarray of shape (n_components,)
        ``explained_variance_`` divided by the total weighted variance.
    n_features_in_ : int
        Number of features seen in ``fit``.

    Examples
    --------
    >>> import numpy as np
    >>> X = np.array([[0.0, 0.0], [2.0, 0.0], [4.0, 1.0]])
    >>> pca = WeightedPCA(n_components=1).fit(X, sample_weight=[1, 2, 1])
    >>> pca.mean_
    array([2.  , 0.25])
    >>> pca.inverse_transform(pca.transform(X)).shape
    (3, 2)
    """

    def __init__(self, n_components: int = 10):
        self.n_components = n_components

    def fit(self, X, y=None, sample_weight=None) -> WeightedPCA:
        """Fit the weighted mean and principal axes.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows.
        y : ignored
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative row weights (ones when None).

        Returns
        -------
        self

        Raises
        ------
        InputError
            For invalid data or weights, or ``n_components`` outside [1, n_features].
        """
        X = check_data(X)
        w = check_sample_weight(sample_weight, X.shape[0])
        r = check_int(self.n_components, "n_components", 1, X.shape[1])
        mean, comps, var, total = _weighted_pca(X, w, r)
        self.mean_ = mean
        self.components_ = comps
        self.explained_variance_ = var
        self.explained_variance_ratio_ = var / total if total > 0 else np.zeros_like(var)
        self.n_features_in_ = X.shape[1]
        return self

    def _check_X(self, X, width: int) -> np.ndarray:
        check_is_fitted(self, "components_")
        X = check_data(X)
        if X.shape[1] != width:
            raise InputError(f"X has {X.shape[1]} columns; this PCA expects {width}")
        return X

    def transform(self, X) -> np.ndarray:
        """Project rows on the principal axes: ``(X - mean_) @ components_.T``.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples, n_components)
        """
        X = self._check_X(X, self.n_features_in_)
        return (X.astype(np.float64, copy=False) - self.mean_) @ self.components_.T

    def inverse_transform(self, Z) -> np.ndarray:
        """Map projections back to the feature space: ``Z @ components_ + mean_``.

        Parameters
        ----------
        Z : array-like of shape (n_samples, n_components)

        Returns
        -------
        ndarray of shape (n_samples, n_features)
        """
        Z = self._check_X(Z, self.components_.shape[0])
        return Z @ self.components_ + self.mean_


def _squared_hinge(
    theta: np.ndarray, X: np.ndarray, Y: np.ndarray, w: np.ndarray, C: float
) -> tuple[float, np.ndarray]:
    """Objective and gradient of the one-vs-rest squared-hinge SVM, divided by C*sum(w).

    ``theta`` is the matrix ``[W | b]`` of shape (k, d + 1), raveled;
    ``J = (||W||^2 / (2C) + sum_i w_i sum_k max(0, 1 - Y_ik f_ik)^2) / sum(w)`` with
    ``f = X @ W.T + b``; the intercept is not penalised. The two products with ``X``
    run in ``X``'s dtype (float32 data is not copied to float64).
    """
    k, d = Y.shape[1], X.shape[1]
    T = theta.reshape(k, d + 1)
    W = T[:, :d]
    total = w.sum()
    F = (X @ W.T.astype(X.dtype)).astype(np.float64) + T[:, d]
    H = np.maximum(0.0, 1.0 - Y * F)
    value = (0.5 / C * np.sum(W * W) + np.dot(w, (H * H).sum(axis=1))) / total
    G = (-2.0 / total) * (w[:, None] * Y * H)
    grad = np.empty((k, d + 1))
    grad[:, :d] = (G.T.astype(X.dtype) @ X) + W / (C * total)
    grad[:, d] = G.sum(axis=0)
    return float(value), grad.ravel()


def _svm_preconditioner(X: np.ndarray, w: np.ndarray, C: float, active: float) -> np.ndarray:
    """Inverse square root of an approximate Hessian of the squared-hinge objective.

    ``H0 = diag(1/(C sum w), ..., 0) + 2 active E_w[x~ x~^T]`` with ``x~ = [x, 1]``:
    the exact Hessian when a fraction ``active`` of the rows sits inside the margin.
    L-BFGS on ``theta = u @ H0^(-1/2)`` needs a few times fewer iterations than on
    ``theta`` for correlated features (e.g. pixels), at the cost of one ``d x d``
    second-moment matrix.
    """
    n, d = X.shape
    total = w.sum()
    M = np.zeros((d + 1, d + 1))
    for rows in _row_blocks(n, d):
        Xb = X[rows]
        wb = w[rows].astype(X.dtype)
        M[:d, :d] += (Xb.T * wb) @ Xb
        M[:d, d] += wb @ Xb
    M[d, :d] = M[:d, d]
    M[d, d] = total
    H0 = (2.0 * active / total) * M
    H0[np.arange(d), np.arange(d)] += 1.0 / (C * total)
    evals, evecs = np.linalg.eigh(H0)
    evals = np.maximum(evals, evals[-1] * 1e-10)
    return (evecs / np.sqrt(evals)) @ evecs.T


class LinearSVM(ClassifierMixin, BaseEstimator):
    """Linear SVM with sample weights, trained on the primal objective by L-BFGS.

    Minimises ``||W||^2 / 2 + C sum_i w_i sum_k max(0, 1 - Y_ik (x_i . W_k + b_k))^2``
    with ``Y_ik = +1`` when row ``i`` is of class ``k`` and -1 otherwise (one-vs-rest;
    one output for two classes). This is :class:`sklearn.svm.LinearSVC`'s default
    objective (squared hinge, L2 penalty) except that the intercept is not penalised;
    integer weights equal repeated rows. L-BFGS on this smooth objective, preconditioned
    by an approximate Hessian (up to 2048 features), is much faster than liblinear on
    tens of thousands of dense rows.

    Parameters
    ----------
    C : float, default=1.0
        Inverse regularisation strength (> 0), per unit of weight.
    max_iter : int, default=1000
        Maximum L-BFGS iterations.
    tol : float, default=1e-4
        Stop when the largest gradient entry of the objective divided by ``C * sum(w)``
        is below ``tol``.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        Class labels, sorted.
    coef_ : ndarray of shape (1, n_features) or (n_classes, n_features)
        Weights (one row for two classes, the positive class being ``classes_[1]``).
    intercept_ : ndarray of shape (1,) or (n_classes,)
        Intercepts.
    n_iter_ : int
        L-BFGS iterations run.
    converged_ : bool
        Whether L-BFGS reported convergence.
    n_features_in_ : int
        Number of features seen in ``fit``.
    """

    def __init__(self, C: float = 1.0, max_iter: int = 1000, tol: float = 1e-4):
        self.C = C
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X, y, sample_weight=None) -> LinearSVM:
        """Fit the classifier on weighted rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,)
        sample_weight : array-like of shape (n_samples,) or None

        Returns
        -------
        self

        Raises
        ------
        InputError
            For invalid input, fewer than two classes, or invalid parameters.
        """
        X = check_data(X)
        y = check_labels(y, X.shape[0])
        w = check_sample_weight(sample_weight, X.shape[0])
        C = _positive_float(self.C, "C")
        max_iter = check_int(self.max_iter, "max_iter", 1)
        tol = _positive_float(self.tol, "tol")
        classes, codes = np.unique(y, return_inverse=True)
        if classes.size < 2:
            raise InputError(f"LinearSVM needs at least two classes; y holds only {classes}")
        k = 1 if classes.size == 2 else classes.size
        if k == 1:
            Y = np.where(codes == 1, 1.0, -1.0)[:, None]
        else:
            Y = -np.ones((X.shape[0], k))
            Y[np.arange(X.shape[0]), codes] = 1.0
        d = X.shape[1]
        P = _svm_preconditioner(X, w, C, active=0.3) if d <= 2048 else np.eye(d + 1)

        def objective(u: np.ndarray) -> tuple[float, np.ndarray]:
            value, grad = _squared_hinge((u.reshape(k, d + 1) @ P).ravel(), X, Y, w, C)
            return value, (grad.reshape(k, d + 1) @ P).ravel()

        res = minimize(
            objective,
            np.zeros(k * (d + 1)),
            jac=True,
            method="L-BFGS-B",
            options={"maxiter": max_iter, "gtol": tol, "ftol": 64 * np.finfo(float).eps},
        )
        theta = res.x.reshape(k, d + 1) @ P
        self.classes_ = classes
        self.coef_ = theta[:, :d].copy()
        self.intercept_ = theta[:, d].copy()
        self.n_iter_ = int(res.nit)
        self.converged_ = bool(res.success)
        self.n_features_in_ = d
        return self

    def decision_function(self, X) -> np.ndarray:
        """Decision values ``X @ coef_.T + intercept_`` (1-D for two classes).

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,) or (n_samples, n_classes)
        """
        check_is_fitted(self, "coef_")
        X = check_data(X)
        if X.shape[1] != self.n_features_in_:
            raise InputError(f"X has {X.shape[1]} columns; this model expects "
                             f"{self.n_features_in_}")
        scores = X @ self.coef_.T + self.intercept_
        return scores.ravel() if self.coef_.shape[0] == 1 else scores

    def predict(self, X) -> np.ndarray:
        """Predicted class of every row.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)

        Returns
        -------
        ndarray of shape (n_samples,)
        """
        return _predict_from_scores(self.classes_, self.decision_function(X))


def _predict_from_scores(classes: np.ndarray, scores: np.ndarray) -> np.ndarray:
    if scores.ndim == 1:
        return classes[(scores > 0).astype(np.intp)]
    return classes[np.argmax(scores, axis=1)]


def replication_counts(
    sample_weight,
    *,
    factor: float = 10.0,
    min_rows: int = 2000,
    random_state=None,
) -> tuple[np.ndarray, float]:
    """Integer replication counts whose expectation is proportional to the weights.

    For a learner that takes no ``sample_weight`` (or handles it poorly, like minibatch
    SGD with very unequal weights), the weighted rows are replaced by ``c_j`` copies of
    row ``j`` with ``c_j = floor(w_j s) + Bernoulli(frac(w_j s))`` (stochastic
    rounding). Then ``E[c_j] / s = w_j``: the replicated set's empirical loss divided by
    ``s`` is an unbiased estimate of the weighted loss ``sum_j w_j loss_j`` for every
    model, so minimising it targets the same model.

    The scale is ``s = T / sum(w)`` with ``T = max(m, min(sum(w), max(factor * m,
    min_rows)))`` for ``m`` rows: the replicated set has about ``T`` rows (exactly between
    ``T - m`` and ``T + m``), never more than the data the weights stand for
    (``sum(w)``) nor fewer than ``m``. Unit weights give ``s = 1`` and every count 1.

    Parameters
    ----------
    sample_weight : array-like of shape (m,)
        Non-negative weights, not all zero.
    factor : float, default=10.0
        Target replicated size per coreset row (> 0).
    min_rows : int, default=2000
        Target replicated size at least this (when ``sum(w)`` allows).
    random_state : int, RandomState instance, Generator or None, default=None
        Seeds the Bernoulli draws.

    Returns
    -------
    counts : ndarray of shape (m,), int64
        Copies of every row.
    scale : float
        The factor ``s``; ``counts / s`` estimates the weights without bias.

    Raises
    ------
    InputError
        For invalid weights or parameters.

    Examples
    --------
    >>> counts, s = replication_counts([25.0, 25.0, 50.0], min_rows=10, random_state=0)
    >>> s, counts.tolist()
    (0.3, [7, 8, 15])
    """
    if np.ndim(sample_weight) != 1:
        raise InputError(f"sample_weight must be 1-D, got shape {np.shape(sample_weight)}")
    w = check_sample_weight(sample_weight, len(sample_weight))
    factor = _positive_float(factor, "factor")
    min_rows = check_int(min_rows, "min_rows", 1)
    m, total = w.shape[0], float(w.sum())
    target = max(float(m), min(total, max(factor * m, float(min_rows))))
    scale = target / total
    ws = w * scale
    base = np.floor(ws)
    frac = ws - base
    draws = _as_generator(random_state).random(m)
    return base.astype(np.int64) + (draws < frac), scale


def _as_generator(random_state) -> np.random.Generator:
    if isinstance(random_state, np.random.Generator):
        return random_state
    if isinstance(random_state, np.random.RandomState):
        return np.random.default_rng(random_state.randint(2**31 - 1))
    return np.random.default_rng(random_state)


def _int_seed(random_state) -> int | None:
    """One integer seed from ``random_state`` (None stays None)."""
    if random_state is None:
        return None
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    if isinstance(random_state, numbers.Integral) and not isinstance(random_state, bool):
        return int(random_state)
    try:
        return int(check_random_state(random_state).randint(2**31 - 1))
    except ValueError:
        raise InputError(
            f"random_state must be None, an int, a RandomState or a Generator; got "
            f"{random_state!r}"
        ) from None


def _positive_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a positive number, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value > 0):
        raise InputError(f"{name}={value!r} must be a positive finite number")
    return value


def _nonneg_float(value, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InputError(f"{name} must be a non-negative number, got {value!r}")
    value = float(value)
    if not (np.isfinite(value) and value >= 0):
        raise InputError(f"{name}={value!r} must be a non-negative finite number")
    return value


def _fit_scaler(X: np.ndarray, w: np.ndarray, floor: float) -> StandardScaler:
    """Weighted StandardScaler whose scales are at least ``floor`` x their mean.

    The floor keeps a feature that is (nearly) constant on a small coreset but not on
    the full data (e.g. a border pixel) from being blown up at prediction time.
    """
    # the weighted variance of a constant column can come out a hair below zero (rounding):
    # scikit-learn's scale is then NaN; treat it as the constant column it is (scale 1)
    with np.errstate(invalid="ignore"):
        scaler = StandardScaler().fit(X, sample_weight=w)
    std = np.sqrt(np.maximum(scaler.var_, 0.0))
    level = float(std.mean())
    if floor > 0 and level > 0:
        scaler.scale_ = np.maximum(std, floor * level)
    else:
        scaler.scale_ = np.where(np.isfinite(scaler.scale_), scaler.scale_, 1.0)
    return scaler


# --------------------------------------------------------------------------------------
# Tasks
# --------------------------------------------------------------------------------------


def _param_int(low: int, high: int | None = None) -> Callable[[Any, str], int]:
    return lambda value, name: check_int(value, name, low, high)


def _param_choice(*choices: str) -> Callable[[Any, str], str]:
    def check(value, name):
        if value not in choices:
            raise InputError(f"{name}={value!r} is not valid; choose one of: "
                             f"{', '.join(choices)}")
        return value

    return check


def _param_sizes(value, name: str) -> tuple[int, ...]:
    if isinstance(value, numbers.Integral):
        value = (value,)
    try:
        sizes = tuple(check_int(v, name, 1) for v in value)
    except TypeError:
        raise InputError(f"{name} must be a tuple of positive ints, got {value!r}") from None
    if not sizes:
        raise InputError(f"{name} must hold at least one layer size")
    return sizes


def _param_hwa(value, name: str) -> str | None:
    """None, or an analog target ``PRESET[@T]``, stored as ``preset@time`` (``hwa_standard@1d``).

    ``qcoreset.analog`` is imported only here, when a target is given.
    """
    if value is None:
        return None
    from .analog import format_time, hwa_spec

    preset, t = hwa_spec(value)
    return f"{preset}@{format_time(t)}"


# Hardware-aware training, shared by the classifier tasks: with ``hwa`` set, the plain
# fit is fine-tuned with the noise of that analog preset and time injected.
_HWA_PARAMS = {
    "hwa": (None, _param_hwa),
    "hwa_noise_scale": (2.0, _nonneg_float),
    "hwa_epochs": (None, lambda v, n: None if v is None else check_int(v, n, 1)),
}


_LABEL_HINT = (
    "pass labelled data (y: an .npz with arrays X and y, a CSV with a label column, or a "
    "labelled builtin dataset) and a coreset built with labels"
)


class Task:
    """Base class of a downstream task: fit on weighted rows, score on data.

    Subclasses set the class attributes, the parameter table ``_params`` and implement
    ``_fit`` (clean, validated input) and ``_evaluate`` (one pass through the backend).

    Parameters
    ----------
    **params
        Task parameters (see each subclass); unknown names raise :class:`InputError`.

    Attributes
    ----------
    name : str
        Registry name.
    needs_labels : bool
        Whether ``fit`` and ``score`` need labels.
    kind : str
        ``"cost"`` (lower is better) or ``"accuracy"`` (higher is better).
    metric : str
        Name of the value ``score`` returns.
    params : dict
        The validated parameters, defaults filled in.
    """

    name: ClassVar[str] = ""
    needs_labels: ClassVar[bool] = False
    kind: ClassVar[str] = "cost"
    metric: ClassVar[str] = ""
    _params: ClassVar[dict[str, tuple[Any, Callable[[Any, str], Any]]]] = {}

    def __init__(self, **params):
        unknown = sorted(set(params) - set(self._params))
        if unknown:
            valid = ", ".join(self._params) or "none"
            raise InputError(
                f"unknown parameter{'s' if len(unknown) > 1 else ''} "
                f"{', '.join(map(repr, unknown))} for task {self.name!r}; valid: {valid}"
            )
        self.params: dict[str, Any] = {}
        for key, (default, check) in self._params.items():
            self.params[key] = check(params.get(key, default), key)

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{type(self).__name__}({args})"

    # -- public, validated shell ---------------------------------------------------------

    def _check_y(self, y, n: int, what: str) -> np.ndarray | None:
        if not self.needs_labels:
            return None
        if y is None:
            raise InputError(f"task {self.name!r} needs labels to {what}; {_LABEL_HINT}")
        return check_labels(y, n)

    def fit(self, X, y=None, sample_weight=None, random_state=None) -> Any:
        """Fit the task's model on weighted rows.

        Parameters
        ----------
        X : array-like of shape (n_samples, n_features)
            Training rows (a coreset or the full data).
        y : array-like of shape (n_samples,) or None
            Labels; required when ``needs_labels``.
        sample_weight : array-like of shape (n_samples,) or None
            Non-negative weights with repetition semantics (ones when None).
        random_state : int, RandomState instance, Generator or None
            Seeds every random choice of the fit.

        Returns
        -------
        model
            The fitted model (see the subclass).

        Raises
        ------
        InputError
            For invalid data, missing labels or parameters that do not fit the data.
        """
        X = check_data(X)
        y = self._check_y(y, X.shape[0], "fit")
        w = check_sample_weight(sample_weight, X.shape[0])
        with warnings.catch_warnings():
            # Iterations are bounded on purpose; convergence is reported by converged().
            warnings.simplefilter("ignore", ConvergenceWarning)
            return self._fit(X, y, w, random_state)

    def evaluate(
        self, model, X, y=None, backend=None, sample_weight=None
    ) -> tuple[float, dict[str, float]]:
        """The metric and the extra scores of ``model`` on ``(X, y)``, in one backend pass.

        Parameters
        ----------
        model
            A model returned by ``fit``.
        X : array-like of shape (n_samples, n_features)
        y : array-like of shape (n_samples,) or None
            Labels; required when ``needs_labels``.
        backend : object with ``linear(W, b, X)`` or None
            Where the matrix products run (:class:`DigitalBackend` when None).
        sample_weight : array-like of shape (n_samples,) or None
            Row weights of the averages (plain means when None).

        Returns
        -------
        value : float
            The task's ``metric``.
        extras : dict of str to float
            Further scores (``extra_scores``).

        Raises
        ------
        InputError
            If ``model`` is not a fitted model of this task, its feature count differs
            from ``X``'s, labels are missing, or the backend misbehaves.
        """
        self._check_model(model)
        X = check_data(X)
        y = self._check_y(y, X.shape[0], "score")
        n_in = self._n_features(model)
        if X.shape[1] != n_in:
            raise InputError(
                f"the {self.name} model was fitted on {n_in} features but X has "
                f"{X.shape[1]}; score it on data with the same columns"
            )
        w = None if sample_weight is None else check_sample_weight(sample_weight, X.shape[0])
        value, extras = self._evaluate(model, X, y, w, _check_backend(backend))
        return float(value), {k: float(v) for k, v in extras.items()}

    def score(self, model, X, y=None, backend=None, sample_weight=None) -> float:
        """The task's ``metric`` of ``model`` on ``(X, y)``; see :meth:`evaluate`."""
        return self.evaluate(model, X, y, backend, sample_weight)[0]

    def extra_scores(self, model, X, y=None, backend=None, sample_weight=None) -> dict:
        """Further scores of ``model`` on ``(X, y)`` (may be empty); see :meth:`evaluate`."""
        return self.evaluate(model, X, y, backend, sample_weight)[1]

    def converged(self, model) -> bool:
        """Whether the fit of ``model`` stopped before its iteration limit."""
        return True

    # -- private core (clean input) ------------------------------------------------------

    def _fit(self, X, y, w, random_state) -> Any:
        raise NotImplementedError

    def _evaluate(self, model, X, y, w, backend) -> tuple[float, dict]:
        raise NotImplementedError

    def _check_model(self, model) -> None:
        raise NotImplementedError

    def _n_features(self, model) -> int:
        return int(model.n_features_in_)

    def _not_a_model(self, model) -> InputError:
        return InputError(
            f"{type(model).__name__} is not a fitted {self.name!r} model; use the model "
            f"returned by get_task({self.name!r}).fit(...)"
        )


TASKS: Registry[type[Task]] = Registry("task")


def register_task(name: str, task: type[Task] | None = None, *, replace: bool = False):
    """Register a :class:`Task` subclass under ``name`` (usable as a class decorator).

    Parameters
    ----------
    name : str
        Public name, as used by :func:`get_task` and ``--task``.
    task : type or None
        The class; when None, return a decorator.
    replace : bool, default=False
        Allow replacing an existing registration.
    """
    return TASKS.register(name, task, replace=replace)


def get_task(name: str | Task, **params) -> Task:
    """Build the task registered under ``name`` with ``params``.

    Parameters
    ----------
    name : str or Task
        One of ``TASKS.names()``: ``kmeans``, ``pca``, ``svm``, ``logreg``, ``mlp``. A
        :class:`Task` instance is returned as it is (then ``params`` must be empty).
    **params
        Task parameters (e.g. ``n_clusters=10``, ``C=0.01``).

    Returns
    -------
    Task

    Raises
    ------
    InputError
        For an unknown task name or parameter, or an invalid parameter value.

    Examples
    --------
    >>> get_task("kmeans", n_clusters=5)
    KMeansTask(n_clusters=5, n_init=3, max_iter=300, tol=0.0001)
    """
    if isinstance(name, Task):
        if params:
            raise InputError("pass parameters to get_task only with a task name")
        return name
    return TASKS.get(name)(**params)


@register_task("kmeans")
class KMeansTask(Task):
    """k-means clustering; metric: mean squared distance of the rows to their centre.

    ``fit`` runs :class:`sklearn.cluster.KMeans` (k-means++ with weights, ``n_init``
    restarts) with ``sample_weight`` and returns the fitted ``KMeans``. ``score``
    assigns every row to ``argmin_c ||c||^2 - 2 c.x`` with the products from
    ``backend.linear(-2 C, ||c||^2, X)``, then returns the exact (digital) mean of
    ``||x - c(x)||^2`` over the rows (the inertia divided by the number of rows).

    Parameters
    ----------
    n_clusters : int, default=10
    n_init : int, default=3
        k-means++ restarts; the best is kept.
    max_iter : int, default=300
    tol : float, default=1e-4
        scikit-learn's relative tolerance on the centre shift.
    """

    name = "kmeans"
    kind = "cost"
    metric = "kmeans_cost"
    _params = {
        "n_clusters": (10, _param_int(1)),
        "n_init": (3, _param_int(1)),
        "max_iter": (300, _param_int(1)),
        "tol": (1e-4, _nonneg_float),
    }

    def _fit(self, X, y, w, random_state) -> KMeans:
        k = self.params["n_clusters"]
        if X.shape[0] < k:
            raise InputError(
                f"kmeans with n_clusters={k} needs at least {k} rows; got {X.shape[0]}. "
                "Lower n_clusters or use a larger coreset"
            )
        return KMeans(
            n_clusters=k,
            n_init=self.params["n_init"],
            max_iter=self.params["max_iter"],
            tol=self.params["tol"],
            random_state=_int_seed(random_state),
        ).fit(X, sample_weight=w)

    def _check_model(self, model) -> None:
        if not hasattr(model, "cluster_centers_"):
            raise self._not_a_model(model)

    def _n_features(self, model) -> int:
        return int(model.cluster_centers_.shape[1])

    def converged(self, model) -> bool:
        """Whether the best k-means run stopped before ``max_iter``."""
        return bool(model.n_iter_ < model.max_iter)

    @staticmethod
    def assign(model, X: np.ndarray, backend) -> np.ndarray:
        """Cluster index of every row, with the dot products through ``backend``."""
        C = np.asarray(model.cluster_centers_, dtype=np.float64)
        scores = _linear(backend, -2.0 * C, np.einsum("ij,ij->i", C, C), X)
        return np.argmin(scores, axis=1)

    def _evaluate(self, model, X, y, w, backend):
        labels = self.assign(model, X, backend)
        C = np.asarray(model.cluster_centers_, dtype=np.float64)
        sq = np.empty(X.shape[0])
        for rows in _row_blocks(X.shape[0], X.shape[1]):
            diff = X[rows].astype(np.float64, copy=False) - C[labels[rows]]
            sq[rows] = np.einsum("ij,ij->i", diff, diff)
        return _weighted_mean(sq, w), {}


@register_task("pca")
class PCATask(Task):
    """PCA; metric: mean squared reconstruction error of the rows.

    ``fit`` returns a fitted :class:`WeightedPCA`. ``score`` projects the rows with
    ``z = backend.linear(V, -V mu, X)`` and reconstructs ``mu + z V`` digitally; the
    value is the mean over the rows of ``||x - x_hat||^2``. The extra score
    ``unexplained_variance`` divides it by the mean of ``||x - mean(X)||^2``.

    Parameters
    ----------
    n_components : int, default=10
        Components kept (at most the number of features).
    """

    name = "pca"
    kind = "cost"
    metric = "reconstruction_error"
    _params = {"n_components": (10, _param_int(1))}

    def _fit(self, X, y, w, random_state) -> WeightedPCA:
        r = self.params["n_components"]
        if r > X.shape[1]:
            raise InputError(
                f"pca with n_components={r} needs at least {r} features; X has "
                f"{X.shape[1]}. Pass n_components <= {X.shape[1]}"
            )
        return WeightedPCA(n_components=r).fit(X, sample_weight=w)

    def _check_model(self, model) -> None:
        if not (hasattr(model, "components_") and hasattr(model, "mean_")):
            raise self._not_a_model(model)

    def _n_features(self, model) -> int:
        return int(np.shape(model.components_)[1])

    def _evaluate(self, model, X, y, w, backend):
        V = np.asarray(model.components_, dtype=np.float64)
        mu = np.asarray(model.mean_, dtype=np.float64)
        Z = _linear(backend, V, -(V @ mu), X)
        err = np.empty(X.shape[0])
        spread = np.empty(X.shape[0])
        data_mean = np.zeros(X.shape[1])
        for rows in _row_blocks(X.shape[0], X.shape[1]):
            data_mean += X[rows].sum(axis=0, dtype=np.float64) if w is None else (
                w[rows] @ X[rows].astype(np.float64, copy=False))
        data_mean /= X.shape[0] if w is None else w.sum()
        for rows in _row_blocks(X.shape[0], X.shape[1]):
            Xb = X[rows].astype(np.float64, copy=False)
            diff = Xb - mu - Z[rows] @ V
            err[rows] = np.einsum("ij,ij->i", diff, diff)
            centred = Xb - data_mean
            spread[rows] = np.einsum("ij,ij->i", centred, centred)
        value = _weighted_mean(err, w)
        total = _weighted_mean(spread, w)
        return value, {"unexplained_variance": value / total if total > 0 else 0.0}


class _ClassifierTask(Task):
    """Shared scoring of classifiers: digital preprocessing, then ``backend.linear``.

    Models are :class:`sklearn.pipeline.Pipeline` objects ``[("scaler", ...), ("clf",
    ...)]``; scoring also accepts a bare classifier (no preprocessing).
    """

    needs_labels = True
    kind = "accuracy"
    metric = "accuracy"

    @staticmethod
    def _split(model) -> tuple[Any, Any]:
        if isinstance(model, Pipeline):
            pre = model[:-1] if len(model.steps) > 1 else None
            return pre, model[-1]
        return None, model

    def _fit_pipeline(self, clf, X, y, w, fit_X=None, fit_y=None, fit_w=None) -> Pipeline:
        classes = np.unique(y)
        if classes.size < 2:
            raise InputError(
                f"task {self.name!r} needs at least two classes in the training labels; "
                f"got only {classes.tolist()}"
            )
        scaler = _fit_scaler(X, w, self.params["scale_floor"])
        Xs = scaler.transform(X)
        if fit_X is not None:
            Xs, y, w = fit_X(Xs), fit_y, fit_w
        clf.fit(Xs, y, sample_weight=w)
        return Pipeline([("scaler", scaler), ("clf", clf)])

    def _n_features(self, model) -> int:
        pre, clf = self._split(model)
        return int((pre if pre is not None else clf).n_features_in_)

    def _C(self, X, y, w, random_state, make) -> float:
        """The ``C`` the solver gets (``regularization``; see the module docstring).

        ``make(C)`` returns an unfitted classifier. ``"cv"`` scores the candidates
        ``C * (n_eff / sum(w)) ** g``, g in :data:`_REG_EXPONENTS`, by the weighted
        accuracy of a ``_CV_FOLDS``-fold cross-validation stratified by class (folds
        drawn from ``random_state``; ties go to the smaller g) and returns the best.
        """
        C, mode = self.params["C"], self.params["regularization"]
        ratio = min(1.0, float(w.sum()) / float(np.dot(w, w)))  # n_eff / sum(w)
        if mode == "weight" or ratio > 1.0 - 1e-9:  # e.g. unit weights: C itself
            return C
        if mode == "effective":
            return C * ratio
        candidates = [C * ratio**g for g in _REG_EXPONENTS]
        folds = _stratified_folds(y, _CV_FOLDS, np.random.default_rng(_int_seed(random_state)))
        if folds is None:  # too few rows per class to cross-validate
            return C * ratio**_REG_FALLBACK
        scores = np.zeros(len(candidates))
        for k in range(_CV_FOLDS):
            train, test = folds != k, folds == k
            for i, c in enumerate(candidates):
                pipe = self._fit_pipeline(make(c), X[train], y[train], w[train])
                pred = pipe.predict(X[test])
                scores[i] += np.dot(w[test], pred == y[test])
        return candidates[int(np.argmax(scores))]  # first best: the smallest g

    def _hwa(self, pipe: Pipeline, X, y, w, random_state, *, loss: str,
             alpha: float) -> Pipeline:
        """The fitted pipeline, its classifier fine-tuned for ``params["hwa"]`` when set."""
        target = self.params.get("hwa")
        if target is None:
            return pipe
        from .analog import hwa_finetune

        scaler, clf = pipe[0], pipe[-1]
        tuned = hwa_finetune(
            clf, scaler.transform(X), y, w, target, loss=loss,
            noise_scale=self.params["hwa_noise_scale"], max_iter=self.params["hwa_epochs"],
            alpha=alpha, random_state=_int_seed(random_state),
        )
        return Pipeline([("scaler", scaler), ("clf", tuned)])

    def _inputs(self, model, X: np.ndarray) -> tuple[np.ndarray, Any]:
        pre, clf = self._split(model)
        return (X if pre is None else pre.transform(X)), clf

    def _decision(self, model, X, backend) -> tuple[np.ndarray, np.ndarray]:
        """Decision values (1-D for two classes) and the model's classes."""
        Xs, clf = self._inputs(model, X)
        coef = np.atleast_2d(np.asarray(clf.coef_, dtype=np.float64))
        intercept = np.broadcast_to(
            np.asarray(clf.intercept_, dtype=np.float64), (coef.shape[0],))
        scores = _linear(backend, coef, intercept, Xs)
        return (scores.ravel() if coef.shape[0] == 1 else scores), np.asarray(clf.classes_)

    def _check_model(self, model) -> None:
        _, clf = self._split(model)
        if not all(hasattr(clf, a) for a in ("coef_", "intercept_", "classes_")):
            raise self._not_a_model(model)


def _class_scores(scores: np.ndarray) -> np.ndarray:
    """Per-class scores: binary decision values d become columns [0, d]."""
    if scores.ndim == 1:
        return np.column_stack([np.zeros_like(scores), scores])
    return scores


def _true_class(classes: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Column of every row's class in ``classes``, -1 for labels the model never saw."""
    try:
        pos = np.clip(np.searchsorted(classes, y), 0, classes.size - 1)
        return np.where(classes[pos] == y, pos, -1)
    except TypeError:
        raise InputError(
            f"labels of dtype {y.dtype} cannot be compared with the model's classes "
            f"(dtype {classes.dtype}); pass labels of the kind the model was trained on"
        ) from None


def _accuracy(classes, scores, y, w) -> float:
    return _weighted_mean((_predict_from_scores(classes, scores) == y).astype(float), w)


def _multiclass_hinge(scores: np.ndarray, true: np.ndarray) -> np.ndarray:
    """``max(0, 1 + max_{j != y} f_j - f_y)`` per row (sklearn's ``hinge_loss``).

    Binary decision values d are the scores [0, d], which gives ``max(0, 1 - y d)``
    with y = +-1. A label the model never saw has score 0.
    """
    S = _class_scores(scores)
    rows = np.arange(S.shape[0])
    known = true >= 0
    f_true = np.where(known, S[rows, np.maximum(true, 0)], 0.0)
    others = S.copy()
    others[rows[known], true[known]] = -np.inf
    return np.maximum(0.0, 1.0 + others.max(axis=1) - f_true)


def _log_loss(scores: np.ndarray, true: np.ndarray) -> np.ndarray:
    """``-log softmax(scores)[y]`` per row, with probability eps for unseen labels."""
    logp = log_softmax(_class_scores(scores), axis=1)
    floor = np.log(np.finfo(np.float64).eps)
    picked = logp[np.arange(logp.shape[0]), np.maximum(true, 0)]
    return -np.maximum(np.where(true >= 0, picked, floor), floor)


_SCALE_FLOOR = (0.1, _nonneg_float)
_REGULARIZATION = ("cv", _param_choice("cv", "effective", "weight"))
#: exponents g of the candidates ``C * (n_eff / sum(w)) ** g`` of ``regularization="cv"``
_REG_EXPONENTS = (0.0, 0.5, 1.0)
#: the exponent used when the rows are too few to cross-validate
_REG_FALLBACK = 0.5
_CV_FOLDS = 3


def _stratified_folds(y: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray | None:
    """Fold index of every row, each class dealt round-robin in random order.

    None when some class has fewer than ``k`` rows (a training part would miss it) or
    there are fewer than two classes.
    """
    classes, inverse, counts = np.unique(y, return_inverse=True, return_counts=True)
    if classes.size < 2 or counts.min() < k:
        return None
    folds = np.empty(y.shape[0], dtype=np.intp)
    for j in range(classes.size):
        rows = rng.permutation(np.flatnonzero(inverse == j))
        folds[rows] = (np.arange(rows.size) + rng.integers(k)) % k
    return folds


@register_task("svm")
class SVMTask(_ClassifierTask):
    """Linear SVM; metric: accuracy; extra score ``hinge_loss``.

    ``fit`` standardises the features with the weights (:class:`StandardScaler` fitted
    with ``sample_weight``; each scale at least ``scale_floor`` times the mean scale) and
    fits :class:`LinearSVM` (``solver="lbfgs"``) or :class:`sklearn.svm.LinearSVC`
    (``solver="liblinear"``, slow on large dense data) with the weights. It returns
    ``Pipeline([("scaler", scaler), ("clf", svm)])``: ``model[-1].coef_`` and
    ``model[-1].intercept_`` are the linear layer. ``score`` standardises digitally and
    computes the decision values with ``backend.linear(coef_, intercept_, X_scaled)``.
    ``hinge_loss`` is scikit-learn's (Crammer-Singer form for more than two classes).

    Parameters
    ----------
    C : float, default=0.001
        Inverse regularisation strength per row (see ``regularization``). The default
        gave the best Fashion-MNIST test accuracy of the full-data model among 0.001,
        0.01 and 0.1 (84.4 %) and converges fastest; small data sets (e.g. digits) want
        ~0.01.
    regularization : {"cv", "effective", "weight"}, default="cv"
        How ``C`` carries over to weighted rows: the solver gets ``C * r**g`` with ``r =
        n_eff / sum(w)``, ``n_eff = sum(w)**2 / sum(w**2)``; g chosen by cross-validation
        among 0, 1/2, 1 (``"cv"``), g = 1 (``"effective"``) or g = 0 (``"weight"``,
        scikit-learn's semantics). Unit weights give ``C`` itself in every mode. The
        fitted classifier's ``C`` is the value used.
    max_iter : int, default=500
    tol : float, default=1e-4
    solver : {"lbfgs", "liblinear"}, default="lbfgs"
    scale_floor : float, default=0.1
        Lower bound of each feature's scale, relative to the mean scale (0: none).
    hwa : str or None, default=None
        Analog target ``PRESET[@T]`` of the noise injection (None: plain training).
    hwa_noise_scale : float, default=2.0
        Multiplier on the injected noise.
    hwa_epochs : int or None, default=None
        Fine-tuning epochs (None: 20 for linear models, 10 for the MLP).

    Hardware-aware training (``hwa``): with ``hwa="PRESET@T"`` (e.g.
    ``"hwa_standard@1d"``; ``"PRESET"`` means 1 day) the plain fit is the starting
    point of a fine-tuning with the noise of that analog preset at that time injected
    into every forward pass (:func:`qcoreset.analog.hwa_finetune`), so that the model
    keeps its accuracy on the crossbar. ``qcoreset.analog`` is imported only then.
    """

    name = "svm"
    _params = {
        "C": (0.001, _positive_float),
        "regularization": _REGULARIZATION,
        "max_iter": (500, _param_int(1)),
        "tol": (1e-4, _positive_float),
        "solver": ("lbfgs", _param_choice("lbfgs", "liblinear")),
        "scale_floor": _SCALE_FLOOR,
        **_HWA_PARAMS,
    }

    def _fit(self, X, y, w, random_state) -> Pipeline:
        p = self.params
        seed = _int_seed(random_state)

        def make(C):
            if p["solver"] == "lbfgs":
                return LinearSVM(C=C, max_iter=p["max_iter"], tol=p["tol"])
            return LinearSVC(C=C, max_iter=p["max_iter"], tol=p["tol"], random_state=seed)

        C = self._C(X, y, w, seed, make)
        return self._hwa(self._fit_pipeline(make(C), X, y, w), X, y, w, random_state,
                         loss="hinge", alpha=1.0 / (C * w.sum()))

    def converged(self, model) -> bool:
        """Whether the SVM solver stopped before its iteration limit."""
        clf = self._split(model)[1]
        if hasattr(clf, "converged_"):
            return bool(clf.converged_)
        return bool(np.max(clf.n_iter_) < clf.max_iter)

    def _evaluate(self, model, X, y, w, backend):
        scores, classes = self._decision(model, X, backend)
        true = _true_class(classes, y)
        return _accuracy(classes, scores, y, w), {
            "hinge_loss": _weighted_mean(_multiclass_hinge(scores, true), w)
        }


@register_task("logreg")
class LogRegTask(_ClassifierTask):
    """Logistic regression; metric: accuracy; extra score ``log_loss``.

    ``fit`` standardises the features with the weights (as :class:`SVMTask`) and fits
    :class:`sklearn.linear_model.LogisticRegression` (L-BFGS, multinomial for more than
    two classes) with ``sample_weight``. It returns ``Pipeline([("scaler", scaler),
    ("clf", logreg)])``. ``score`` computes the decision values with
    ``backend.linear(coef_, intercept_, X_scaled)``; ``log_loss`` is the mean of
    ``-log softmax(decision)[y]`` (sigmoid for two classes).

    Parameters
    ----------
    C : float, default=0.01
        Inverse regularisation strength per row (see ``regularization``). The default
        gave the best Fashion-MNIST test accuracy of the full-data model among 0.001,
        0.01, 0.1 and 1 (84.6 %); small data sets (e.g. digits) want ~0.1.
    regularization : {"effective", "weight"}, default="effective"
        As in :class:`SVMTask`.
    max_iter : int, default=100
    tol : float, default=1e-4
    scale_floor : float, default=0.1
        Lower bound of each feature's scale, relative to the mean scale (0: none).
    hwa : str or None, default=None
        Analog target ``PRESET[@T]`` of the noise injection (None: plain training).
    hwa_noise_scale : float, default=2.0
        Multiplier on the injected noise.
    hwa_epochs : int or None, default=None
        Fine-tuning epochs (None: 20 for linear models, 10 for the MLP).

    Hardware-aware training (``hwa``): with ``hwa="PRESET@T"`` (e.g.
    ``"hwa_standard@1d"``; ``"PRESET"`` means 1 day) the plain fit is the starting
    point of a fine-tuning with the noise of that analog preset at that time injected
    into every forward pass (:func:`qcoreset.analog.hwa_finetune`), so that the model
    keeps its accuracy on the crossbar. ``qcoreset.analog`` is imported only then.
    """

    name = "logreg"
    _params = {
        "C": (0.01, _positive_float),
        "regularization": _REGULARIZATION,
        "max_iter": (100, _param_int(1)),
        "tol": (1e-4, _positive_float),
        "scale_floor": _SCALE_FLOOR,
        **_HWA_PARAMS,
    }

    def _fit(self, X, y, w, random_state) -> Pipeline:
        p = self.params
        seed = _int_seed(random_state)

        def make(C):
            return LogisticRegression(C=C, max_iter=p["max_iter"], tol=p["tol"],
                                      random_state=seed)

        C = self._C(X, y, w, seed, make)
        return self._hwa(self._fit_pipeline(make(C), X, y, w), X, y, w, random_state,
                         loss="log_loss", alpha=1.0 / (C * w.sum()))

    def converged(self, model) -> bool:
        """Whether L-BFGS stopped before ``max_iter`` (HWA: the model's ``converged_``)."""
        clf = self._split(model)[1]
        if hasattr(clf, "converged_"):
            return bool(clf.converged_)
        return bool(np.max(clf.n_iter_) < clf.max_iter)

    def _evaluate(self, model, X, y, w, backend):
        scores, classes = self._decision(model, X, backend)
        true = _true_class(classes, y)
        return _accuracy(classes, scores, y, w), {
            "log_loss": _weighted_mean(_log_loss(scores, true), w)
        }


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "identity": lambda z: z,
    "logistic": expit,
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def _mlp_accepts_sample_weight() -> bool:
    return "sample_weight" in inspect.signature(MLPClassifier.fit).parameters


@register_task("mlp")
class MLPTask(_ClassifierTask):
    """Multi-layer perceptron; metric: accuracy; extra score ``log_loss``.

    ``fit`` standardises the features with the weights (as :class:`SVMTask`) and fits
    :class:`sklearn.neural_network.MLPClassifier` (Adam). It returns
    ``Pipeline([("scaler", scaler), ("clf", mlp)])``. ``score`` runs the forward pass
    layer by layer, every layer's product through ``backend.linear(W.T, b, A)`` and the
    activations (the model's ``activation``) digitally, then takes the argmax.

    How the weights enter the fit (``weighting``):

    ``"sample_weight"``
        Pass the weights to ``MLPClassifier.fit`` (scikit-learn >= 1.7); each
        minibatch loss is the weighted mean over the minibatch. A training set of fewer
        than ``min_rows`` rows is tiled (every row repeated the same number of times,
        which leaves the weighted loss unchanged) so that a small coreset still gets
        enough Adam steps per epoch.
    ``"replicate"``
        The fallback for learners without ``sample_weight``. Row ``j`` is repeated
        ``c_j = floor(w_j s) + Bernoulli(frac(w_j s))`` times (stochastic rounding,
        :func:`replication_counts`, seeded by ``random_state``), with ``s`` chosen so
        that the replicated set has about ``min(sum(w), max(replicate_factor * m,
        min_rows))`` rows (at least ``m``). ``E[c_j] / s = w_j``, so the replicated
        loss is an unbiased estimate of the weighted loss and the minibatches are
        ordinary uniform minibatches. Unit weights give every row exactly one copy, so
        the full data is trained as it is.
    ``"auto"``
        ``"sample_weight"`` when the installed ``MLPClassifier.fit`` takes it, else
        ``"replicate"``. On Fashion-MNIST coresets of 240 and 2,400 rows (uniform and
        sensitivity sampling) both give the same accuracy within 0.6 points;
        ``"sample_weight"`` fits a few times faster.

    Parameters
    ----------
    hidden_layer_sizes : tuple of int, default=(100,)
    activation : {"relu", "tanh", "logistic", "identity"}, default="relu"
    alpha : float, default=1e-4
        L2 penalty (scikit-learn's, per minibatch).
    batch_size : int, default=200
    learning_rate_init : float, default=1e-3
    max_iter : int, default=30
        Epochs over the (tiled or replicated) training set.
    tol : float, default=1e-4
    n_iter_no_change : int, default=10
    weighting : {"auto", "replicate", "sample_weight"}, default="auto"
    replicate_factor : float, default=10.0
        Replicated rows per coreset row (``"replicate"``).
    min_rows : int, default=2000
        Rows per epoch at least (tiling or replication), when the weights allow.
    scale_floor : float, default=0.1
        Lower bound of each feature's scale, relative to the mean scale (0: none).
    hwa : str or None, default=None
        Analog target ``PRESET[@T]`` of the noise injection (None: plain training).
    hwa_noise_scale : float, default=2.0
        Multiplier on the injected noise.
    hwa_epochs : int or None, default=None
        Fine-tuning epochs (None: 20 for linear models, 10 for the MLP).

    Hardware-aware training (``hwa``): with ``hwa="PRESET@T"`` (e.g.
    ``"hwa_standard@1d"``; ``"PRESET"`` means 1 day) the plain fit is the starting
    point of a fine-tuning with the noise of that analog preset at that time injected
    into every forward pass (:func:`qcoreset.analog.hwa_finetune`), so that the model
    keeps its accuracy on the crossbar. ``qcoreset.analog`` is imported only then.
    """

    name = "mlp"
    _params = {
        "hidden_layer_sizes": ((100,), _param_sizes),
        "activation": ("relu", _param_choice(*_ACTIVATIONS)),
        "alpha": (1e-4, _nonneg_float),
        "batch_size": (200, _param_int(1)),
        "learning_rate_init": (1e-3, _positive_float),
        "max_iter": (30, _param_int(1)),
        "tol": (1e-4, _positive_float),
        "n_iter_no_change": (10, _param_int(1)),
        "weighting": ("auto", _param_choice("auto", "replicate", "sample_weight")),
        "replicate_factor": (10.0, _positive_float),
        "min_rows": (2000, _param_int(1)),
        "scale_floor": _SCALE_FLOOR,
        **_HWA_PARAMS,
    }

    def weighting_used(self) -> str:
        """``"replicate"`` or ``"sample_weight"``: how ``fit`` uses the weights.

        Raises
        ------
        InputError
            If ``weighting="sample_weight"`` and the installed scikit-learn's
            ``MLPClassifier.fit`` takes no ``sample_weight``.
        """
        mode = self.params["weighting"]
        if mode == "auto":
            return "sample_weight" if _mlp_accepts_sample_weight() else "replicate"
        if mode == "sample_weight" and not _mlp_accepts_sample_weight():
            raise InputError(
                "this scikit-learn's MLPClassifier.fit takes no sample_weight; use "
                "weighting='replicate' (or 'auto')"
            )
        return mode

    def _fit(self, X, y, w, random_state) -> Pipeline:
        p = self.params
        if p["hwa"] is not None and p["activation"] != "relu":
            raise InputError(
                f"hwa needs activation='relu' (the analog MLP is a ReLU network); got "
                f"activation={p['activation']!r}"
            )
        return self._hwa(self._fit_plain(X, y, w, random_state), X, y, w, random_state,
                         loss="log_loss", alpha=p["alpha"] / p["batch_size"])

    def _fit_plain(self, X, y, w, random_state) -> Pipeline:
        p = self.params
        mode = self.weighting_used()
        seed = _int_seed(random_state)
        m = X.shape[0]
        if mode == "replicate":
            counts, _ = replication_counts(
                w, factor=p["replicate_factor"], min_rows=p["min_rows"], random_state=seed)
            idx = np.repeat(np.arange(m), counts)
            fit_w = None
        else:
            # Tiling every row the same number of times leaves the weighted loss as it is
            # and gives a small coreset enough minibatches per epoch.
            idx = np.tile(np.arange(m), -(-p["min_rows"] // m))
            fit_w = w[idx]
        n_rows = idx.size
        clf = MLPClassifier(
            hidden_layer_sizes=p["hidden_layer_sizes"],
            activation=p["activation"],
            alpha=p["alpha"],
            batch_size=min(p["batch_size"], n_rows),
            learning_rate_init=p["learning_rate_init"],
            max_iter=p["max_iter"],
            tol=p["tol"],
            n_iter_no_change=p["n_iter_no_change"],
            random_state=seed,
        )
        if n_rows == m and fit_w is not None:
            return self._fit_pipeline(clf, X, y, w)
        return self._fit_pipeline(
            clf, X, y, w, fit_X=lambda Xs: Xs[idx], fit_y=y[idx], fit_w=fit_w)

    def converged(self, model) -> bool:
        """Whether training stopped before ``max_iter`` epochs (HWA: ``converged_``)."""
        clf = self._split(model)[1]
        if hasattr(clf, "converged_"):
            return bool(clf.converged_)
        return bool(clf.n_iter_ < clf.max_iter)

    def _check_model(self, model) -> None:
        _, clf = self._split(model)
        need = ("coefs_", "intercepts_", "classes_", "activation", "out_activation_")
        if not all(hasattr(clf, a) for a in need):
            raise self._not_a_model(model)

    def _evaluate(self, model, X, y, w, backend):
        A, clf = self._inputs(model, X)
        if clf.out_activation_ not in ("softmax", "logistic"):
            raise InputError(
                f"mlp scoring supports single-label classifiers; this model's output "
                f"activation is {clf.out_activation_!r}")
        act = _ACTIVATIONS[clf.activation]
        layers = list(zip(clf.coefs_, clf.intercepts_, strict=True))
        for i, (coef, intercept) in enumerate(layers):
            A = _linear(backend, np.asarray(coef, dtype=np.float64).T,
                        np.asarray(intercept, dtype=np.float64), A)
            if i < len(layers) - 1:
                A = act(A)
        scores = A.ravel() if A.shape[1] == 1 else A
        classes = np.asarray(clf.classes_)
        true = _true_class(classes, y)
        return _accuracy(classes, scores, y, w), {
            "log_loss": _weighted_mean(_log_loss(scores, true), w)
        }


# --------------------------------------------------------------------------------------
# Coreset vs full data
# --------------------------------------------------------------------------------------


@dataclasses.dataclass
class TaskResult:
    """How a model trained on a coreset compares with one trained on all the data.

    Attributes
    ----------
    task : str
        Task name.
    metric : str
        What the values measure (``kmeans_cost``, ``reconstruction_error``,
        ``accuracy``).
    kind : str
        ``"cost"`` or ``"accuracy"``.
    full_value : float
        Metric of the model trained on all the training data.
    coreset_value : float
        Metric of the model trained on the coreset.
    normalized_cost : float or None
        ``coreset_value / full_value`` for cost tasks, else None.
    degradation : float or None
        ``(full_value - coreset_value) / full_value`` for accuracy tasks, else None.
    extras : dict
        Extra scores as ``full_<name>`` / ``coreset_<name>``, plus ``backend``,
        ``coreset_rows``, ``coreset_weight``, ``full_converged``,
        ``coreset_converged``, ``coreset_fit_seconds`` and (when the full model was
        fitted here) ``full_fit_seconds``.
    seconds : float
        Wall time of the whole evaluation (fits and scores).
    """

    task: str
    metric: str
    kind: str
    full_value: float
    coreset_value: float
    normalized_cost: float | None
    degradation: float | None
    extras: dict
    seconds: float

    def to_dict(self) -> dict:
        """The fields as a JSON-ready dict."""
        return dataclasses.asdict(self)


def _ratio(num: float, den: float) -> float:
    if den != 0:
        return num / den
    return 0.0 if num == 0 else float(np.copysign(np.inf, num))


def _unpack_coreset(coreset) -> tuple[Any, Any, Any]:
    if hasattr(coreset, "points") and hasattr(coreset, "weights"):
        return coreset.points, getattr(coreset, "labels", None), coreset.weights
    try:
        Xc, yc, wc = coreset
    except (TypeError, ValueError):
        raise InputError(
            "coreset must be a tuple (Xc, yc, wc) as returned by fit_resample, or a "
            "Coreset; yc and wc may be None"
        ) from None
    return Xc, yc, wc


def evaluate_task(
    task: Task | str,
    coreset,
    X_train,
    y_train=None,
    X_test=None,
    y_test=None,
    *,
    full_model=None,
    backend=None,
    random_state=None,
    sample_weight=None,
) -> TaskResult:
    """Fit ``task`` on a coreset and on the full data and compare them.

    Cost tasks (``kmeans``, ``pca``) are scored on ``X_train`` (the full data);
    classification tasks on ``(X_test, y_test)``. Both models are scored through the
    same ``backend``.

    Parameters
    ----------
    task : Task or str
        A task or a registered task name (default parameters).
    coreset : tuple (Xc, yc, wc) or Coreset
        Coreset rows, labels (None for unlabelled) and weights (None for ones), e.g.
        from ``QuantizedCoreset.fit_resample``. Weights sum to about ``len(X_train)``.
    X_train : array-like of shape (n_samples, n_features)
        All the training data.
    y_train : array-like of shape (n_samples,) or None
        Its labels (classification tasks, unless ``full_model`` is given).
    X_test, y_test : array-like or None
        Held-out data for classification tasks (ignored by cost tasks).
    full_model : model or None
        A model of this task already fitted on all the training data (e.g. reused across
        budgets); fitted here when None.
    backend : object with ``linear(W, b, X)`` or None
        Inference backend of both scores (:class:`DigitalBackend` when None).
    random_state : int, RandomState instance, Generator or None
        One seed drawn from it is used for both fits, so that both start alike.
    sample_weight : array-like of shape (n_samples,) or None
        Weights of the training rows (weighted input data): used to fit the full model
        and to weight the cost tasks' averages.

    Returns
    -------
    TaskResult

    Raises
    ------
    InputError
        Unknown task, labels missing for a task that needs them, test data missing for a
        classification task, or feature counts that differ between the coreset, the
        data and ``full_model``.

    Examples
    --------
    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(500, 4))
    >>> idx = rng.choice(500, 100, replace=False)
    >>> res = evaluate_task(get_task("pca", n_components=2),
    ...                     (X[idx], None, np.full(100, 5.0)), X, random_state=0)
    >>> res.normalized_cost >= 1.0
    True
    """
    start = time.perf_counter()
    task = get_task(task)
    backend = _check_backend(backend)
    Xc, yc, wc = _unpack_coreset(coreset)
    Xc = check_data(Xc, name="coreset X")
    X_train = check_data(X_train, name="X_train")
    if Xc.shape[1] != X_train.shape[1]:
        raise InputError(
            f"the coreset has {Xc.shape[1]} features but the data has {X_train.shape[1]}; "
            "use a coreset built from this data"
        )
    wc = check_sample_weight(wc, Xc.shape[0])
    w_train = None if sample_weight is None else check_sample_weight(
        sample_weight, X_train.shape[0])
    if task.needs_labels:
        if yc is None:
            raise InputError(
                f"task {task.name!r} needs labels but the coreset has none; {_LABEL_HINT}")
        if y_train is None and full_model is None:
            raise InputError(
                f"task {task.name!r} needs labels but the data has none; {_LABEL_HINT}")
        if X_test is None or y_test is None:
            raise InputError(
                f"task {task.name!r} is scored on held-out data; pass X_test and y_test "
                "(e.g. the dataset's own test split, or a split of the labelled data)"
            )
        X_eval = check_data(X_test, name="X_test")
        y_eval = check_labels(y_test, X_eval.shape[0])
        w_eval = None
    else:
        X_eval, y_eval, w_eval = X_train, None, w_train
    if X_eval.shape[1] != X_train.shape[1]:
        raise InputError(
            f"X_test has {X_eval.shape[1]} features but X_train has {X_train.shape[1]}")

    seed = _int_seed(random_state)
    extras: dict[str, Any] = {
        "backend": getattr(backend, "name", type(backend).__name__),
        "coreset_rows": int(Xc.shape[0]),
        "coreset_weight": float(wc.sum()),
    }
    t0 = time.perf_counter()
    coreset_model = task.fit(Xc, yc, sample_weight=wc, random_state=seed)
    extras["coreset_fit_seconds"] = time.perf_counter() - t0
    if full_model is None:
        t0 = time.perf_counter()
        full_model = task.fit(X_train, y_train, sample_weight=w_train, random_state=seed)
        extras["full_fit_seconds"] = time.perf_counter() - t0

    full_value, full_extras = task.evaluate(full_model, X_eval, y_eval, backend, w_eval)
    cs_value, cs_extras = task.evaluate(coreset_model, X_eval, y_eval, backend, w_eval)
    for key, value in full_extras.items():
        extras[f"full_{key}"] = value
    for key, value in cs_extras.items():
        extras[f"coreset_{key}"] = value
    extras["full_converged"] = task.converged(full_model)
    extras["coreset_converged"] = task.converged(coreset_model)

    if task.kind == "cost":
        normalized, degradation = _ratio(cs_value, full_value), None
    else:
        normalized, degradation = None, _ratio(full_value - cs_value, full_value)
    return TaskResult(
        task=task.name,
        metric=task.metric,
        kind=task.kind,
        full_value=full_value,
        coreset_value=cs_value,
        normalized_cost=normalized,
        degradation=degradation,
        extras=extras,
        seconds=time.perf_counter() - start,
    )
