"""Learning a genre head in NumPy: the softmax layer every model applies after its frozen network.

One library for retrain, fit, transfer and distil: class-balancing weights, a
softmax head fitted with L2 (and the documented stand-in for dropout), and the
temperature folding of :class:`tagger.head.Head`. No TensorFlow: a head is learned with
SciPy's L-BFGS on the network's features, full batch, so the result does not
depend on a seed, a batch size or a learning rate.

Dropout on a softmax layer's inputs acts, to second order, as an L2 penalty
on each input's weights scaled by that input's mean square (Wager, Wang &
Liang 2013, "Dropout training as adaptive regularization"). With the
softmax's curvature bounded by 1/4, dropout at rate p becomes the fixed
penalty ``p / (1 - p) / 4 * mean(x_j^2) * sum_k W_jk^2`` for input j:
:func:`dropout_penalty`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np

from tagger.head import Head, softmax

HEAD_L2 = 1e-3
MAX_ITERATIONS = 300

Progress = Callable[[int, int], None]


class Cancelled(Exception):
    """The user stopped the run."""


def balanced_weights(labels: np.ndarray, groups: np.ndarray | None = None) -> np.ndarray:
    """Sample weight per row: every genre weighs the same and, within a genre, every group the same.

    Parameters
    ----------
    labels : np.ndarray, shape (n,)
        Genre index of each row (window or crop).
    groups : np.ndarray, shape (n,), optional
        Track of each row; without it every row of a genre weighs the same.

    Returns
    -------
    np.ndarray, shape (n,)
        float32 weights with mean 1.
    """
    labels = np.asarray(labels)
    groups = np.arange(len(labels)) if groups is None else np.asarray(groups)
    weights = np.zeros(len(labels), dtype=np.float64)
    for genre in np.unique(labels):
        in_genre = labels == genre
        tracks, counts = np.unique(groups[in_genre], return_counts=True)
        rows_per_track = dict(zip(tracks.tolist(), counts.tolist()))
        weights[in_genre] = [1.0 / (len(tracks) * rows_per_track[t]) for t in groups[in_genre].tolist()]
    return (weights * len(labels) / weights.sum()).astype(np.float32)


def dropout_penalty(x: np.ndarray, weights: np.ndarray, rate: float) -> np.ndarray:
    """Per-input L2 strength that stands in for dropout at ``rate`` on the inputs (see the module docstring).

    Returns
    -------
    np.ndarray, shape (n_features,)
        Penalty on the squared weights of each input; zeros when ``rate`` is 0.
    """
    if not 0.0 <= rate < 1.0:
        raise ValueError(f"dropout rate must be in [0, 1), not {rate}")
    mean_square = (weights[:, None] * np.square(x)).sum(axis=0) / weights.sum()
    return rate / (1.0 - rate) / 4.0 * mean_square


def _objective(x: np.ndarray, onehot: np.ndarray, weights: np.ndarray, penalty: np.ndarray):
    """Weighted mean cross-entropy plus per-input L2, and its gradient, of flattened [W; b]."""
    n_features, n_genres = x.shape[1], onehot.shape[1]
    total = weights.sum()

    def value_and_gradient(params: np.ndarray) -> tuple[float, np.ndarray]:
        w = params[:-n_genres].reshape(n_features, n_genres)
        b = params[-n_genres:]
        probs = softmax(x @ w + b)
        loss = -(weights * np.log(np.maximum((probs * onehot).sum(axis=1), 1e-300))).sum() / total
        loss += float((penalty[:, None] * w * w).sum())
        delta = weights[:, None] * (probs - onehot) / total
        grad_w = x.T @ delta + 2.0 * penalty[:, None] * w
        return loss, np.concatenate([grad_w.ravel(), delta.sum(axis=0)])

    return value_and_gradient


def train_softmax_head(x: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_genres: int, feature: str,
                       l2: float = HEAD_L2, dropout: float = 0.0, standardize: bool = True,
                       max_iterations: int = MAX_ITERATIONS, progress: Progress | None = None,
                       cancel: threading.Event | None = None) -> Head:
    """Fit softmax(x @ W + b) by weighted cross-entropy with L2, full batch (L-BFGS).

    Parameters
    ----------
    x : np.ndarray, shape (n, n_features)
        Features the head reads (one row per window or crop).
    labels : np.ndarray, shape (n,)
        Genre index of each row.
    weights : np.ndarray, shape (n,)
        Sample weights (see :func:`balanced_weights`).
    n_genres : int
    feature : str
        Name of the network output ``x`` comes from; stored in the head.
    l2 : float
        Penalty on the squared weights (as Keras' ``L2(l2)`` on a mean loss).
    dropout : float
        Input dropout rate whose effect :func:`dropout_penalty` adds.
    standardize : bool
        Fit on standardized inputs (the L2 then weighs every input alike), folded back into W and b.
    max_iterations : int
        L-BFGS iterations (each is at least one pass over all rows).
    progress : callable, optional
        ``progress(iteration, max_iterations)`` after each iteration.
    cancel : threading.Event, optional
        When set, the fit stops with :class:`Cancelled`.

    Returns
    -------
    Head
        Reads raw (not standardized) features; temperature 1.
    """
    from scipy.optimize import minimize  # a fifth of a second: not for tagger-train --help

    x = np.asarray(x, dtype=np.float64)
    weights = np.asarray(weights, dtype=np.float64)
    mean = x.mean(axis=0) if standardize else np.zeros(x.shape[1])
    scale = np.maximum(x.std(axis=0), 1e-6) if standardize else np.ones(x.shape[1])
    z = (x - mean) / scale
    onehot = np.eye(n_genres)[np.asarray(labels)]
    penalty = l2 + dropout_penalty(z, weights, dropout)
    iteration = [0]

    def step(_params: np.ndarray) -> None:
        iteration[0] += 1
        if progress:
            progress(iteration[0], max_iterations)
        if cancel is not None and cancel.is_set():
            raise Cancelled()

    fitted = minimize(_objective(z, onehot, weights, penalty), np.zeros((x.shape[1] + 1) * n_genres), jac=True,
                      method="L-BFGS-B", callback=step, options={"maxiter": max_iterations})
    w = fitted.x[:-n_genres].reshape(x.shape[1], n_genres) / scale[:, None]
    b = fitted.x[-n_genres:] - mean @ w
    return Head(w.astype(np.float32), b.astype(np.float32), feature)
