"""Evaluation protocols and baselines: which tracks are held out, how heads are scored on them.

- ``fit``'s held-out split (the manifest's artist-filtered ``valid`` list);
- the shipped recipe's protocols on frozen features: 5-fold CV over contiguous
  GTZAN ids, the artist-disjoint split used both ways, the (overstated)
  window-level random split, and a logistic-regression baseline.

No TensorFlow: the heads are NumPy (:mod:`tagger.training.heads`), so
``tagger-train evaluate`` and the protocols run in the lean install.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tagger.head import Head
from tagger.training import heads, metrics
from tagger.training.dataset import DatasetError, LabelledTrack, hold_out_groups, select

EVAL_KINDS = ("full", "cut15s")  # 2-3 s excerpts are too short to stand for a track
N_FOLDS = 5
# The shipped head: L2 on its weights, and the stand-in for dropout 0.5 on its tag-probability inputs.
HEAD_L2 = 1e-3
HEAD_DROPOUT = 0.5
# The network output the shipped head reads (musicnn's MSD tag probabilities).
TAG_FEATURE = "tag_probabilities"


@dataclass(frozen=True)
class Evaluation:
    """Track-level results on held-out tracks.

    Attributes
    ----------
    labels : np.ndarray, shape (n,)
        True genre index of each track.
    probs : np.ndarray, shape (n, n_genres)
        Calibrated track probabilities.
    names : list of str
        Track file names, for the record.
    """

    labels: np.ndarray
    probs: np.ndarray
    names: list[str]


def held_out_split(tracks: Sequence[LabelledTrack]) -> tuple[list[LabelledTrack], list[LabelledTrack]]:
    """Training tracks and held-out evaluation tracks.

    Uses the manifest's ``valid`` split when it has any track long enough to
    evaluate; else holds out whole id-groups per genre. Excerpts of the
    held-out side are neither trained on nor evaluated.
    """
    if not select(tracks, ["valid"], EVAL_KINDS):
        tracks = hold_out_groups(tracks)
    train, held = select(tracks, ["train"]), select(tracks, ["valid"], EVAL_KINDS)
    if not held:
        raise DatasetError("no tracks can be held out for evaluation (each genre needs two or more groups)")
    return train, held


def contiguous_folds(tracks: Sequence[LabelledTrack], n_folds: int = N_FOLDS) -> np.ndarray:
    """Fold of each track: within each (genre, split), tracks sorted by GTZAN id are cut into ``n_folds`` runs.

    Returns
    -------
    np.ndarray, shape (n_tracks,)
        int fold indices, 0 to ``n_folds - 1``.
    """
    folds = np.zeros(len(tracks), dtype=np.int64)
    cells: dict[tuple[str, str], list[int]] = {}
    for i, t in enumerate(tracks):
        cells.setdefault((t.genre, t.split), []).append(i)
    for members in cells.values():
        members.sort(key=lambda i: tracks[i].path.name)
        for rank, i in enumerate(members):
            folds[i] = rank * n_folds // len(members)
    return folds


@dataclass
class Embedded:
    """Embeddings of every track's windows.

    Attributes
    ----------
    windows : list of np.ndarray
        Per track, (n_windows, dim): the windows the tagger scores.
    crops : list of np.ndarray
        Per track, (CROPS_PER_TRACK, dim): augmented training crops.
    """

    windows: list[np.ndarray]
    crops: list[np.ndarray]

    def rows(self) -> np.ndarray:
        """Every track's windows then crops, track by track, shape (n, dim): the order of :func:`track_inputs`."""
        return np.concatenate([np.concatenate([w, c]) for w, c in zip(self.windows, self.crops)])


def training_set(data: Embedded, labels: np.ndarray, chosen: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Windows and crops of the chosen tracks, their labels and genre-balancing sample weights."""
    x = np.concatenate([np.concatenate([data.windows[i], data.crops[i]]) for i in chosen])
    y = np.concatenate([np.full(len(data.windows[i]) + len(data.crops[i]), labels[i]) for i in chosen])
    return x, y, heads.balanced_weights(y)


def train_head(x: np.ndarray, y: np.ndarray, weights: np.ndarray, n_genres: int) -> Head:
    """The shipped recipe's head on tag probabilities (all on one 0-1 scale, so not standardized).

    L2 1e-3 and the stand-in for dropout 0.5 on its inputs (:mod:`tagger.training.heads`).
    """
    return heads.train_softmax_head(x, y, weights, n_genres, TAG_FEATURE, l2=HEAD_L2, dropout=HEAD_DROPOUT,
                                    standardize=False)


def cross_validate(data: Embedded, labels: np.ndarray, folds: np.ndarray, n_genres: int) -> list[np.ndarray | None]:
    """Out-of-fold window logits of every track (head trained on the other folds)."""
    out: list[np.ndarray | None] = [None] * len(labels)
    for k in range(folds.max() + 1):
        head = train_head(*training_set(data, labels, np.nonzero(folds != k)[0]), n_genres)
        for i in np.nonzero(folds == k)[0]:
            out[i] = head.logits(data.windows[i])
    return out


def cross_fitted_probs(logits: Sequence[np.ndarray], labels: np.ndarray, folds: np.ndarray) -> np.ndarray:
    """Track probabilities with each fold's temperature fitted on the other folds only."""
    probs = np.zeros((len(labels), logits[0].shape[1]))
    for k in np.unique(folds):
        others, own = np.nonzero(folds != k)[0], np.nonzero(folds == k)[0]
        t = metrics.fit_temperature([logits[i] for i in others], labels[others])
        probs[own] = metrics.track_probs([logits[i] for i in own], t)
    return probs


def artist_disjoint_splits(tracks: Sequence[LabelledTrack], labels: np.ndarray,
                           evaluable: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The artist-filtered split used both ways, as (training tracks, scored tracks) index pairs.

    1. Train on the manifest's ``train`` list, score its ``valid`` tracks.
    2. Train on the ``valid`` list plus the ``train``-list tracks of genres that
       have no scored ``valid`` tracks, score the ``train``-list tracks of the
       genres that do.

    The two lists are artist-disjoint, so no scored track's artist is among
    the tracks its head was trained on; together the two directions score
    every track of the genres on both lists (a genre on one list only has no
    artist-disjoint figure). A direction with nothing to score is left out.
    """
    split = np.asarray([t.split for t in tracks])
    on_valid = np.isin(labels, labels[(split == "valid") & evaluable])
    directions = (
        (split == "train", (split == "valid") & evaluable),
        ((split == "valid") | ~on_valid, (split == "train") & on_valid & evaluable),
    )
    return [(np.nonzero(train)[0], np.nonzero(held)[0]) for train, held in directions if held.any()]


def cv_splits(folds: np.ndarray, evaluable: np.ndarray) -> list[tuple[np.ndarray, np.ndarray]]:
    """The contiguous-id folds as (training tracks, scored tracks) index pairs."""
    return [(np.nonzero(folds != k)[0], np.nonzero((folds == k) & evaluable)[0]) for k in range(folds.max() + 1)]


def split_protocol(data: Embedded, labels: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]],
                   n_genres: int) -> tuple[np.ndarray, list[np.ndarray]]:
    """One head per (training, scored) pair; returns the scored tracks in order and their window logits."""
    held_all, logits_all = [], []
    for train, held in splits:
        head = train_head(*training_set(data, labels, train), n_genres)
        held_all.append(held)
        logits_all += [head.logits(data.windows[i]) for i in held]
    held = np.concatenate(held_all)
    order = np.argsort(held, kind="stable")
    return held[order], [logits_all[i] for i in order]


def split_of(held: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]]) -> np.ndarray:
    """For each scored track in ``held``, the index of the split in ``splits`` that scored it."""
    which = np.full(len(held), -1)
    for k, (_, scored) in enumerate(splits):
        which[np.isin(held, scored)] = k
    return which


def random_window_accuracy(data: Embedded, labels: np.ndarray, evaluable: np.ndarray, n_genres: int,
                           seed: int) -> float:
    """Window accuracy under a random 5-fold split of windows, ignoring tracks: the overstated figure."""
    chosen = np.nonzero(evaluable)[0]
    x = np.concatenate([data.windows[i] for i in chosen])
    y = np.concatenate([np.full(len(data.windows[i]), labels[i]) for i in chosen])
    fold = np.random.default_rng(seed).integers(N_FOLDS, size=len(y))
    hits = 0
    for k in range(N_FOLDS):
        train = fold != k
        head = train_head(x[train], y[train], heads.balanced_weights(y[train]), n_genres)
        hits += int((head.logits(x[~train]).argmax(axis=1) == y[~train]).sum())
    return hits / len(y)


def logistic_baseline(data: Embedded, labels: np.ndarray, splits: Sequence[tuple[np.ndarray, np.ndarray]],
                      columns: slice) -> np.ndarray:
    """Track probabilities of balanced logistic regression on one embedding part, no augmentation.

    One classifier per (training, scored) pair of ``splits``; rows of tracks never scored stay zero.
    """
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    probs = np.zeros((len(labels), labels.max() + 1))
    for train, held in splits:
        x = np.concatenate([data.windows[i][:, columns] for i in train])
        y = np.concatenate([np.full(len(data.windows[i]), labels[i]) for i in train])
        clf = make_pipeline(StandardScaler(), LogisticRegression(C=0.1, class_weight="balanced", max_iter=2000))
        clf.fit(x, y)
        for i in held:
            probs[i, clf.classes_] = clf.predict_proba(data.windows[i][:, columns]).mean(axis=0)
    return probs
