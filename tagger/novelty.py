"""Abstain on music unlike anything a learned model was trained on (``novelty.npz`` in a model folder).

A head learned on a few genres gives every input one of them, often at 0.99:
country called "Loud", pop called "Oldies". The rule here works on the features
the head reads: a window whose features are farther (standardised Euclidean
distance) from every training window than ``threshold`` says nothing, its
genre probabilities becoming uniform. A track made mostly of such windows then
has a low confidence and is left ``uncertain`` by the usual ``min_confidence``.
The threshold is chosen on training windows of held-out artists (see
:mod:`tagger.training.novelty_fit`), so music of known genres passes.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

NOVELTY_FILE = "novelty.npz"
# Query windows per distance block: bounds the (block, n_reference) matrix to a few MB.
_BLOCK = 256


class NoveltyError(Exception):
    """A novelty file is unreadable or malformed; the message says why."""


@dataclass(frozen=True)
class Novelty:
    """Distance-to-training abstain rule.

    Attributes
    ----------
    feature : str
        Network output the rule reads (a key of the network's layout).
    centre, scale : np.ndarray, shape (n_features,)
        Standardisation of the features (training mean and standard deviation).
    reference : np.ndarray, shape (n_reference, n_features)
        Standardised training windows, float32.
    threshold : float
        Largest distance (standardised units) to the nearest reference window at which a window still counts.
    """

    feature: str
    centre: np.ndarray
    scale: np.ndarray
    reference: np.ndarray
    threshold: float

    def standardise(self, features: np.ndarray) -> np.ndarray:
        """Features in the reference's units, float32, shape (n, n_features)."""
        return ((np.asarray(features, np.float32) - self.centre) / self.scale).astype(np.float32)

    def distances(self, features: np.ndarray) -> np.ndarray:
        """Distance of each window's features to the nearest reference window, shape (n,)."""
        return nearest_distances(self.standardise(features), self.reference)

    def apply(self, features: np.ndarray, probs: np.ndarray) -> np.ndarray:
        """``probs`` (n, n_genres) with the rows of windows beyond ``threshold`` made uniform."""
        far = self.distances(features) > self.threshold
        out = np.array(probs, dtype=np.float32, copy=True)
        out[far] = 1.0 / out.shape[1]
        return out

    def save(self, model_dir: Path) -> Path:
        """Write ``novelty.npz`` into ``model_dir``; returns its path."""
        path = Path(model_dir) / NOVELTY_FILE
        with open(path, "wb") as handle:
            np.savez(handle, feature=np.str_(self.feature), centre=self.centre.astype(np.float32),
                     scale=self.scale.astype(np.float32), reference=self.reference.astype(np.float32),
                     threshold=np.float64(self.threshold))
        return path


def nearest_distances(queries: np.ndarray, reference: np.ndarray, query_groups: np.ndarray | None = None,
                      reference_groups: np.ndarray | None = None) -> np.ndarray:
    """Euclidean distance of each query row to its nearest reference row, shape (n_queries,).

    With groups (int arrays, one per row), a reference row of the query's own group is never its
    neighbour: how far a new artist's windows lie from everyone else's. Inf where no row is left.
    """
    queries = np.asarray(queries, np.float32)
    reference = np.asarray(reference, np.float32)
    reference_sq = (reference ** 2).sum(axis=1)
    out = np.full(len(queries), np.inf, dtype=np.float32)
    if len(reference) == 0:
        return out
    for start in range(0, len(queries), _BLOCK):
        block = queries[start:start + _BLOCK]
        squared = (block ** 2).sum(axis=1)[:, None] + reference_sq[None, :] - 2 * block @ reference.T
        if query_groups is not None:
            squared[query_groups[start:start + _BLOCK, None] == reference_groups[None, :]] = np.inf
        out[start:start + _BLOCK] = np.sqrt(np.maximum(squared.min(axis=1), 0.0))
    return out


def load_novelty(model_dir: Path) -> Novelty | None:
    """The rule stored in ``model_dir`` (None when the folder has none: the shipped model, older learned ones).

    Raises
    ------
    NoveltyError
        When the file is there but unreadable or its arrays do not fit together.
    """
    path = Path(model_dir) / NOVELTY_FILE
    if not path.exists():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            rule = Novelty(str(data["feature"]), np.asarray(data["centre"], np.float32),
                           np.asarray(data["scale"], np.float32), np.asarray(data["reference"], np.float32),
                           float(data["threshold"]))
    except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise NoveltyError(f"{path}: not a readable novelty file ({exc})") from None
    width = rule.centre.shape
    if rule.scale.shape != width or rule.reference.ndim != 2 or rule.reference.shape[1:] != width:
        raise NoveltyError(f"{path}: centre {width}, scale {rule.scale.shape} and reference "
                           f"{rule.reference.shape} do not fit together")
    return rule
