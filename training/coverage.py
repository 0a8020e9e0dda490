"""What the tagger would write at a confidence threshold: per-genre coverage and written precision.

A track is written when its top genre's probability reaches the threshold
(as ``tagger-batch`` does with ``--min-confidence``); coverage of a genre is
the share of its tracks that get any genre written, precision the share of
written genres that are right. A model can be right on most tracks and still
write little of one genre, so the report gives both per genre, and their
genre-balanced mean (every genre counts the same, however many tracks it has).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tagger.training import metrics


@dataclass(frozen=True)
class Written:
    """Counts of what is written at one threshold, per true genre.

    Attributes
    ----------
    genres : np.ndarray, shape (g,)
        Indices of the true genres present, ascending.
    tracks, written, right : np.ndarray, shape (g,)
        Per genre: its tracks, how many of them get a genre written, how many
        of those get their own genre.
    """

    genres: np.ndarray
    tracks: np.ndarray
    written: np.ndarray
    right: np.ndarray

    @property
    def balanced_coverage(self) -> float:
        """Mean over genres of the share of their tracks written, 0-1."""
        return float(np.mean(self.written / self.tracks))

    @property
    def precision(self) -> float:
        """Share of written tracks whose written genre is right, 0-1 (NaN when nothing is written)."""
        total = int(self.written.sum())
        return float(self.right.sum() / total) if total else float("nan")


def written_at(labels: np.ndarray, probs: np.ndarray, threshold: float | np.ndarray) -> Written:
    """What is written at ``threshold``.

    Parameters
    ----------
    labels : np.ndarray, shape (n,)
        True genre index of each track.
    probs : np.ndarray, shape (n, n_genres)
        Track probabilities as the tagger computes them (temperature applied).
    threshold : float or np.ndarray, shape (n,)
        Least top-genre probability that is written, 0-1; one per track when
        each track's threshold was chosen without it (:func:`cross_fitted_thresholds`).
    """
    labels = np.asarray(labels)
    is_written = probs.max(axis=1) >= np.asarray(threshold)
    is_right = is_written & (probs.argmax(axis=1) == labels)
    genres, tracks = np.unique(labels, return_counts=True)
    return Written(genres, tracks, np.asarray([is_written[labels == g].sum() for g in genres]),
                   np.asarray([is_right[labels == g].sum() for g in genres]))


def cross_fitted_thresholds(labels: np.ndarray, probs: np.ndarray, groups: np.ndarray) -> np.ndarray:
    """Each track's threshold, chosen as the shipped one is but on the other groups' tracks only.

    Parameters
    ----------
    labels : np.ndarray, shape (n,)
    probs : np.ndarray, shape (n, n_genres)
    groups : np.ndarray, shape (n,)
        Which split scored each track (a CV fold, an artist-disjoint direction).

    Returns
    -------
    np.ndarray, shape (n,)
        Threshold per track (:func:`tagger.training.metrics.choose_min_confidence`), 0-1.

    Raises
    ------
    ValueError
        With fewer than two groups: a lone split has no others to choose on.
    """
    if len(np.unique(groups)) < 2:
        raise ValueError("a threshold can only be cross-fitted over two or more splits")
    thresholds = np.zeros(len(labels))
    for group in np.unique(groups):
        others = groups != group
        thresholds[groups == group] = metrics.choose_min_confidence(labels[others], probs[others])
    return thresholds


def written_text(genre_names: Sequence[str], labels: np.ndarray, probs: np.ndarray,
                 threshold: float | np.ndarray) -> str:
    """Two lines: genre-balanced coverage and written precision (95% Wilson) at ``threshold``, then per genre."""
    counts = written_at(labels, probs, threshold)
    where = (f"min_confidence {threshold:g}" if np.ndim(threshold) == 0 else
             "each split's threshold chosen on the others (" + ", ".join(f"{t:.2f}" for t in np.unique(threshold)) + ")")
    total, right = int(counts.written.sum()), int(counts.right.sum())
    low, high = metrics.wilson_interval(right, total)
    precision = f"{counts.precision:.1%}" if total else "-"
    per_genre = ", ".join(f"{genre_names[g]} {w}/{n} ({r} right)"
                          for g, n, w, r in zip(counts.genres, counts.tracks, counts.written, counts.right))
    return (f"at {where}: genre-balanced coverage {counts.balanced_coverage:.1%}, "
            f"written precision {right}/{total} = {precision} (95% Wilson {low:.1%}-{high:.1%})\n"
            f"written per genre (tracks written/tracks): {per_genre}")
