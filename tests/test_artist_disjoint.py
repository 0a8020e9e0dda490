"""The artist-disjoint protocol: the artist-filtered lists take turns as the training side."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("keras")

from tagger.training.dataset import LabelledTrack  # noqa: E402
from tagger.training.transfer import artist_disjoint_splits, cross_fitted_probs, split_of  # noqa: E402


def track(genre: str, split: str, kind: str = "full", n: int = 0) -> LabelledTrack:
    return LabelledTrack(Path(f"{genre}/{genre}.{split}.{kind}.{n}.flac"), genre, split, kind, genre)


TRACKS = [
    track("blues", "train"), track("blues", "train", "excerpt"), track("blues", "valid"), track("blues", "valid", n=1),
    track("metal", "train"), track("metal", "valid"), track("metal", "valid", "excerpt"),
    track("jazz", "train"), track("jazz", "train", n=1),         # on the train list only
    track("pop", "train"), track("pop", "valid", "excerpt"),     # nothing of pop on the valid list is scored
]
LABELS = np.asarray([["blues", "metal", "jazz", "pop"].index(t.genre) for t in TRACKS])
EVALUABLE = np.asarray([t.kind == "full" for t in TRACKS])


def test_no_scored_track_shares_a_list_with_its_training_tracks_of_the_same_genre():
    for train, held in artist_disjoint_splits(TRACKS, LABELS, EVALUABLE):
        for i in held:
            same_genre = [j for j in train if LABELS[j] == LABELS[i]]
            assert all(TRACKS[j].split != TRACKS[i].split for j in same_genre)
        assert not set(train) & set(held)


def test_both_lists_are_scored_for_the_genres_on_both_and_only_those():
    splits = artist_disjoint_splits(TRACKS, LABELS, EVALUABLE)
    assert len(splits) == 2
    scored = sorted(i for _, held in splits for i in held)
    assert [TRACKS[i].genre for i in scored] == ["blues", "blues", "blues", "metal", "metal"]
    assert all(EVALUABLE[i] for i in scored)
    # Genres without scored valid tracks still train the head that scores the train list.
    second_train = {TRACKS[j].genre for j in splits[1][0]}
    assert {"jazz", "pop"} <= second_train


def test_a_data_set_without_a_valid_list_has_no_artist_disjoint_split():
    only_train = [t for t in TRACKS if t.split == "train"]
    labels = np.asarray([["blues", "metal", "jazz", "pop"].index(t.genre) for t in only_train])
    assert artist_disjoint_splits(only_train, labels, np.ones(len(only_train), dtype=bool)) == []


def test_each_scored_track_is_traced_to_the_split_that_scored_it():
    splits = artist_disjoint_splits(TRACKS, LABELS, EVALUABLE)
    held = np.sort(np.concatenate([scored for _, scored in splits]))
    which = split_of(held, splits)
    for i, k in zip(held, which):
        assert i in splits[k][1]


def test_a_direction_is_calibrated_by_the_other_direction_only():
    # Direction 0's logits are overconfident and wrong half the time; direction 1's are right and mild.
    rng = np.random.default_rng(0)
    labels = np.asarray([0, 1] * 20)
    direction = np.repeat([0, 1], 20)
    logits = [np.tile(8.0 * np.eye(2)[rng.integers(2)], (3, 1)) if d == 0 else np.tile(np.eye(2)[y], (3, 1))
              for y, d in zip(labels, direction)]
    probs = cross_fitted_probs(logits, labels, direction)
    # Fitted on direction 1 alone (mild and right: a low temperature), direction 0 keeps its overconfidence.
    assert probs[direction == 0].max(axis=1).mean() > 0.99
