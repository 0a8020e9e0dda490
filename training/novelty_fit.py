"""Fit a learned model's abstain rule (:mod:`tagger.novelty`) and measure what it does to unfamiliar music.

The rule's threshold comes from the training windows themselves: each artist's
windows are measured against every other artist's, and the distance that
:data:`KEEP_PERCENTILE` percent of them stay within is the threshold, so a new
artist of a known genre mostly passes. How often music of a genre the model was
never taught still gets a confident answer is measured by leaving each genre
out in turn: a head (and rule) learned on the other genres scores the left-out
genre's files, without and with the rule.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from tagger.head import Head
from tagger.novelty import Novelty, nearest_distances

# Share (percent) of known-genre windows of unseen artists the rule lets through.
KEEP_PERCENTILE = 95.0
# Bounds on the rule's size and fitting time on large libraries (windows, sampled at random).
MAX_REFERENCE_WINDOWS = 20_000
MAX_QUERY_WINDOWS = 4_000
# Genres left out in turn to measure the out-of-vocabulary rate (the largest ones, for time).
MAX_GENRES_LEFT_OUT = 6
# Standard deviations below this count as this (features that never vary must not divide by 0).
MIN_SCALE = 1e-3


def fit_novelty(features: Sequence[np.ndarray], groups: Sequence[str], feature: str, seed: int = 0) -> Novelty:
    """The abstain rule of a head trained on these tracks.

    Parameters
    ----------
    features : sequence of np.ndarray
        Per training track, its windows' features, shape (n_windows, n_features).
    groups : sequence of str
        Per track, its artist (or another grouping): windows are compared across groups only.
    feature : str
        Name of the network output the features are.
    seed : int
        For sampling windows on large libraries.
    """
    rng = np.random.default_rng(seed)
    windows = np.concatenate(features).astype(np.float32)
    ids = {g: i for i, g in enumerate(sorted(set(groups)))}
    window_groups = np.concatenate([np.full(len(f), ids[g]) for f, g in zip(features, groups)])
    centre = windows.mean(axis=0)
    scale = np.maximum(windows.std(axis=0), MIN_SCALE)
    standard = (windows - centre) / scale
    ref = _sample(len(standard), MAX_REFERENCE_WINDOWS, rng)
    query = _sample(len(standard), MAX_QUERY_WINDOWS, rng)
    distances = nearest_distances(standard[query], standard[ref], window_groups[query], window_groups[ref])
    finite = distances[np.isfinite(distances)]
    # One group only: no unseen-artist distances to learn from, so nothing is ever ruled out.
    threshold = float(np.percentile(finite, KEEP_PERCENTILE)) if len(finite) else float("inf")
    return Novelty(feature, centre.astype(np.float32), scale.astype(np.float32), standard[ref], threshold)


def _sample(n: int, most: int, rng: np.random.Generator) -> np.ndarray:
    """Indices of at most ``most`` of ``n`` rows, sorted."""
    return np.arange(n) if n <= most else np.sort(rng.choice(n, size=most, replace=False))


def track_probs(head: Head, features: Sequence[np.ndarray], rule: Novelty | None = None) -> np.ndarray:
    """Each track's probabilities as the tagger computes them (windows averaged, the rule applied if any)."""
    rows = []
    for windows in features:
        probs = head.apply(windows)
        rows.append((probs if rule is None else rule.apply(windows, probs)).mean(axis=0))
    return np.stack(rows) if rows else np.zeros((0, head.n_genres))


@dataclass(frozen=True)
class OutOfVocabulary:
    """How often files of a genre a model was not taught get a confident answer.

    Attributes
    ----------
    files : int
        Files scored by a model that never saw their genre.
    genres_left_out : list of str
    min_confidence : float
        What counts as confident (the model's threshold).
    confident_without, confident_with : int
        Files reaching it without and with the abstain rule.
    """

    files: int
    genres_left_out: list[str]
    min_confidence: float
    confident_without: int
    confident_with: int

    def text(self) -> str:
        """One line for the retrain output and the card."""
        if not self.files:
            return "out-of-vocabulary rate not measured (needs three or more genres)"
        return (f"files of a genre the model was not taught (each of {', '.join(self.genres_left_out)} left out "
                f"in turn, {self.files} files): confident (>= {self.min_confidence:.2f}) "
                f"{self._share(self.confident_without)} without the abstain rule, "
                f"{self._share(self.confident_with)} with it")

    def _share(self, n: int) -> str:
        return f"{n} of {self.files} ({n / self.files:.0%})"

    def facts(self) -> dict:
        """For ``training.json``."""
        return {"files": self.files, "genres_left_out": self.genres_left_out, "min_confidence": self.min_confidence,
                "confident_without_rule": self.confident_without, "confident_with_rule": self.confident_with}


def measure_out_of_vocabulary(features: Sequence[np.ndarray], labels: np.ndarray,
                              names: Sequence[str], train: Callable[[np.ndarray], tuple[Head, Novelty]],
                              temperature: float,
                              min_confidence: float) -> OutOfVocabulary:
    """Leave each genre out in turn; count its files answered at ``min_confidence`` or above.

    Parameters
    ----------
    features : sequence of np.ndarray
        Per track, window features (n_windows, n_features).
    labels : np.ndarray, shape (n_tracks,)
        Genre index of each track.
    names : sequence of str
        Genre names, by index.
    train : callable
        ``train(track_indices)`` -> the head (all genre outputs kept) and abstain rule learned on those tracks.
    temperature, min_confidence : float
        The model's calibration and threshold.
    """
    labels = np.asarray(labels)
    counts = np.bincount(labels, minlength=len(names))
    # With two genres, leaving one out leaves a model of one genre: nothing to measure.
    left_out = [int(g) for g in np.argsort(-counts, kind="stable")[:MAX_GENRES_LEFT_OUT]] if len(names) > 2 else []
    files = without = with_rule = 0
    for genre in left_out:
        taught = np.nonzero(labels != genre)[0]
        unseen = [features[i] for i in np.nonzero(labels == genre)[0]]
        head, rule = train(taught)
        head = head.folded(temperature)
        files += len(unseen)
        without += int((track_probs(head, unseen).max(axis=1) >= min_confidence).sum())
        with_rule += int((track_probs(head, unseen, rule).max(axis=1) >= min_confidence).sum())
    return OutOfVocabulary(files, [names[g] for g in left_out], min_confidence, without, with_rule)

