"""Evaluation protocols: which tracks are held out, and what a held-out evaluation holds.

Light (NumPy only), so ``tagger-train evaluate`` runs without TensorFlow.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from tagger.training.dataset import DatasetError, LabelledTrack, hold_out_groups, select

EVAL_KINDS = ("full", "cut15s")  # 2-3 s excerpts are too short to stand for a track


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
