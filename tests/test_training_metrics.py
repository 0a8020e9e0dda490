"""Pure helpers of training: intervals, calibration, threshold rule, CV folds."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tagger.training import metrics
from tagger.training.dataset import LabelledTrack, id_group


def test_wilson_interval_brackets_the_proportion():
    low, high = metrics.wilson_interval(45, 50)
    assert low < 0.9 < high and 0.78 < low < 0.80 and 0.95 < high < 0.97


def test_perfectly_confident_right_answers_have_no_calibration_error():
    probs = np.eye(3)[[0, 1, 2, 0]]
    assert metrics.expected_calibration_error(np.array([0, 1, 2, 0]), probs) == 0.0


def test_fit_temperature_softens_overconfident_wrong_logits():
    logits = [np.array([[8.0, 0.0]]), np.array([[8.0, 0.0]]), np.array([[0.0, 8.0]])]
    assert metrics.fit_temperature(logits, np.array([0, 1, 1])) > 1.0


def test_min_confidence_keeps_at_least_the_coverage_asked():
    labels = np.array([0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.4, 0.6], [0.45, 0.55], [0.3, 0.7]])
    threshold = metrics.choose_min_confidence(labels, probs, target=1.0, min_coverage=0.5)
    assert np.mean(probs.max(axis=1) >= threshold) >= 0.5


def test_contiguous_folds_cut_each_genre_into_runs_of_ids():
    from tagger.training.transfer import contiguous_folds

    tracks = [LabelledTrack(Path(f"rock.{i:05d}.flac"), "rock", "train", "full", id_group("rock", f"rock.{i:05d}"))
              for i in range(10)]
    folds = contiguous_folds(tracks, n_folds=5)
    assert folds.tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
