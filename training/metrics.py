"""Track-level figures: accuracy with intervals, confusion, calibration.

Pure NumPy functions over arrays of true labels (int, shape (n,)) and
predicted probabilities (float, shape (n, n_genres)).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from tagger.head import softmax

# Two-sided 95% normal quantile.
Z95 = 1.959964


def wilson_interval(successes: int, total: int, z: float = Z95) -> tuple[float, float]:
    """Wilson score interval of a proportion.

    Parameters
    ----------
    successes, total : int
    z : float
        Normal quantile; the default gives a 95% interval.

    Returns
    -------
    (low, high) : tuple of float
        Bounds, 0-1; (0, 1) when ``total`` is 0.
    """
    if total == 0:
        return 0.0, 1.0
    p = successes / total
    denom = 1 + z * z / total
    centre = (p + z * z / (2 * total)) / denom
    half = z * np.sqrt(p * (1 - p) / total + z * z / (4 * total * total)) / denom
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def top_k_hits(labels: np.ndarray, probs: np.ndarray, k: int = 1) -> np.ndarray:
    """Whether each true label is among the ``k`` most probable genres (bool, shape (n,))."""
    ranked = np.argsort(-probs, axis=1, kind="stable")[:, :k]
    return np.any(ranked == np.asarray(labels)[:, None], axis=1)


def confusion_matrix(labels: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """Counts, shape (n_classes, n_classes): rows true genre, columns predicted genre."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(labels), np.asarray(predicted)), 1)
    return matrix


def per_class_recall(matrix: np.ndarray) -> np.ndarray:
    """Recall of each true class (NaN for classes with no tracks)."""
    totals = matrix.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(totals > 0, np.diag(matrix) / np.maximum(totals, 1), np.nan)


def balanced_accuracy(labels: np.ndarray, probs: np.ndarray, k: int = 1) -> float:
    """Mean over the genres present of the top-``k`` accuracy within each genre."""
    hits = top_k_hits(labels, probs, k)
    labels = np.asarray(labels)
    return float(np.mean([hits[labels == c].mean() for c in np.unique(labels)]))


def bootstrap_interval(labels: np.ndarray, probs: np.ndarray, k: int = 1, n_boot: int = 2000,
                       seed: int = 0) -> tuple[float, float]:
    """95% percentile bootstrap interval of :func:`balanced_accuracy`, resampling within genres."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(labels)
    hits = top_k_hits(labels, probs, k)
    by_class = [hits[labels == c] for c in np.unique(labels)]
    stats = [np.mean([rng.choice(h, size=len(h)).mean() for h in by_class]) for _ in range(n_boot)]
    low, high = np.percentile(stats, [2.5, 97.5])
    return float(low), float(high)


def expected_calibration_error(labels: np.ndarray, probs: np.ndarray, n_bins: int = 10) -> float:
    """ECE of the top-1 confidence: bin-weighted mean |accuracy - confidence|, equal-width bins."""
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    error = 0.0
    for b in range(n_bins):
        mask = bins == b
        if mask.any():
            error += mask.mean() * abs(correct[mask].mean() - confidence[mask].mean())
    return float(error)


def track_probs(window_logits: Sequence[np.ndarray], temperature: float = 1.0) -> np.ndarray:
    """Each track's genre probabilities: mean of its windows' softmax(logits / T), shape (n, n_genres)."""
    return np.stack([softmax(w / temperature).mean(axis=0) for w in window_logits])


def fit_temperature(window_logits: Sequence[np.ndarray], labels: np.ndarray) -> float:
    """Temperature minimising the track-level negative log-likelihood.

    The tagger averages window probabilities, so T is fitted on that average,
    not on single windows. Grid search over 0.1-20 (log-spaced): robust with a
    few dozen tracks, where gradient fits can run off.
    """
    grid = np.exp(np.linspace(np.log(0.1), np.log(20.0), 241))
    labels = np.asarray(labels)
    nll = [-np.mean(np.log(track_probs(window_logits, t)[np.arange(len(labels)), labels] + 1e-12)) for t in grid]
    return float(grid[int(np.argmin(nll))])


def choose_min_confidence(labels: np.ndarray, probs: np.ndarray, target: float = 0.9,
                          min_coverage: float = 0.5) -> float:
    """Default confidence below which the tagger writes nothing.

    Rule: the lowest threshold at which the tracks kept are right at least
    ``target`` of the time, but never one that leaves fewer than
    ``min_coverage`` of the tracks tagged. Rounded down to 0.01.

    Parameters
    ----------
    labels : np.ndarray, shape (n,)
    probs : np.ndarray, shape (n, n_genres)
        Calibrated track probabilities of validation tracks.
    target : float
        Wanted precision of written tags, 0-1.
    min_coverage : float
        Least share of tracks that must stay tagged, 0-1.
    """
    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == np.asarray(labels)
    order = np.argsort(-confidence, kind="stable")
    kept_accuracy = np.cumsum(correct[order]) / np.arange(1, len(order) + 1)
    cap = confidence[order][max(0, int(np.ceil(min_coverage * len(order))) - 1)]
    # Smallest threshold whose kept set (all tracks at or above it) reaches the target.
    ok = np.nonzero(kept_accuracy >= target)[0]
    threshold = confidence[order][ok[-1]] if len(ok) else cap
    return float(np.floor(min(threshold, cap) * 100) / 100)


def confusion_text(matrix: np.ndarray, names: Sequence[str]) -> str:
    """Confusion matrix as a fixed-width text table (rows true, columns predicted)."""
    width = max(6, max(len(n) for n in names) + 1)
    lines = ["true \\ pred".ljust(width + 2) + "".join(n[:width - 1].rjust(width) for n in names)]
    for name, row in zip(names, matrix):
        lines.append(name.ljust(width + 2) + "".join(str(v).rjust(width) for v in row))
    return "\n".join(lines)


# Fewest held-out tracks a percentage is given for: below it the 95% interval spans most of 0-100%.
MIN_TRACKS_TO_MEASURE = 5


def accuracy_text(right: int, total: int) -> str:
    """An accuracy with its evidence: ``"93% of 15 held-out tracks (95% interval 70-99%)"``.

    Below :data:`MIN_TRACKS_TO_MEASURE` tracks no percentage is given:
    ``"too few held-out files to measure (3)"``.
    """
    if total < MIN_TRACKS_TO_MEASURE:
        return f"too few held-out files to measure ({total})"
    low, high = wilson_interval(right, total)
    return f"{right / total:.0%} of {total} held-out tracks (95% interval {low:.0%}-{high:.0%})"


def written_precision_text(labels: np.ndarray, probs: np.ndarray, min_confidence: float) -> str:
    """How the held-out tracks a threshold lets through fare: written share and how many of them are right."""
    confidence = probs.max(axis=1)
    kept = confidence >= min_confidence
    right = int((probs.argmax(axis=1)[kept] == np.asarray(labels)[kept]).sum())
    shown = accuracy_text(right, int(kept.sum())).replace("held-out tracks", "written")
    return f"{int(kept.sum())} of {len(labels)} held-out tracks reach it; right: {shown}"
