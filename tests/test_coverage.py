"""Coverage and written precision at the default threshold: the figures, and `tagger-train evaluate`'s report of them."""

from __future__ import annotations

import csv
import re
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from audio import make_toy_dataset
from tagger.training import cli
from tagger.training import metrics
from tagger.training.coverage import cross_fitted_thresholds, written_at, written_text


def test_written_counts_follow_the_threshold_per_true_genre():
    labels = np.array([0, 0, 0, 1, 1])
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.4, 0.6], [0.2, 0.8], [0.55, 0.45]])

    counts = written_at(labels, probs, 0.6)

    # Genre 0: 3 tracks, 3 reach 0.6 (the third as genre 1, wrongly); genre 1: one of 2 reaches it.
    assert counts.tracks.tolist() == [3, 2] and counts.written.tolist() == [3, 1] and counts.right.tolist() == [2, 1]
    assert counts.balanced_coverage == (3 / 3 + 1 / 2) / 2 and counts.precision == 3 / 4
    assert written_at(labels, probs, 0.95).written.sum() == 0
    assert "written precision 0/0 = -" in written_text(["a", "b"], labels, probs, 0.95)


def test_cross_fitted_thresholds_never_look_at_their_own_split():
    # Split 0 is confidently wrong (0.9, 0.7): chosen on itself, its threshold would be 0.8, not 0.6.
    labels = np.array([0, 0, 1, 1, 0, 0, 1, 1, 0, 1])
    probs = np.array([[0.8, 0.2], [0.3, 0.7], [0.9, 0.1], [0.25, 0.75],
                      [0.95, 0.05], [0.9, 0.1], [0.1, 0.9], [0.2, 0.8], [0.65, 0.35], [0.4, 0.6]])
    groups = np.array([0, 0, 0, 0, 1, 1, 1, 1, 1, 1])

    thresholds = cross_fitted_thresholds(labels, probs, groups)

    others_only = metrics.choose_min_confidence(labels[groups == 1], probs[groups == 1])
    assert np.all(thresholds[groups == 0] == others_only)
    assert others_only < metrics.choose_min_confidence(labels[groups == 0], probs[groups == 0])
    assert np.all(thresholds[groups == 1] == metrics.choose_min_confidence(labels[groups == 0], probs[groups == 0]))
    text = written_text(["a", "b"], labels, probs, thresholds)
    assert text.startswith(f"at each split's threshold chosen on the others ({thresholds.min():.2f}, {thresholds.max():.2f})")
    with pytest.raises(ValueError, match="two or more splits"):
        cross_fitted_thresholds(labels, probs, np.zeros(len(labels), dtype=int))


def test_the_card_leaves_out_the_cross_fitted_figure_when_one_direction_is_scored():
    from tagger.training.protocols import Evaluation
    from tagger.training.transfer import written_report

    labels = np.array([0, 0, 1, 1, 0, 1])
    probs = np.array([[0.9, 0.1], [0.7, 0.3], [0.2, 0.8], [0.4, 0.6], [0.8, 0.2], [0.3, 0.7]])
    evaluation = Evaluation(labels, probs, [f"t{i}" for i in range(6)])
    folds = np.array([0, 1, 0, 1, 0, 1])

    one_direction = written_report(["a", "b"], (evaluation, folds), (evaluation, np.zeros(6, dtype=int)), 0.6)
    two_directions = written_report(["a", "b"], (evaluation, folds), (evaluation, folds), 0.6)

    assert "each direction at the threshold chosen on the other" not in one_direction
    assert "each direction at the threshold chosen on the other" in two_directions
    assert one_direction.count("genre-balanced coverage") == 2 + 1  # the intro sentence names it too


def test_evaluate_reports_what_tagger_batch_would_write(tmp_path, capsys, genre_model, run_cli):
    data = tmp_path / "data"
    make_toy_dataset(data)
    for toy, genre in (("tones", "blues"), ("noise", "metal"), ("clicks", "classical")):  # the model's genres
        (data / toy).rename(data / genre)

    assert cli.main(["evaluate", str(genre_model.path), str(data), "--split", "all",
                     "--plots", str(tmp_path / "plots")]) == 0
    report = capsys.readouterr().out
    assert f"at min_confidence {genre_model.settings.min_confidence:g}: genre-balanced coverage" in report
    # The report names genres as they are written (Blues); the folders use the model's ids (blues).
    per_genre = {genre.lower(): (int(written), int(tracks)) for genre, written, tracks, _right in
                 re.findall(r"(\w+) (\d+)/(\d+) \((\d+) right\)", report.split("written per genre")[1])}

    plan = tmp_path / "plan.csv"
    assert run_cli(data, "--dry-run", "--report", plan).code == 0
    with plan.open(newline="") as f:
        rows = list(csv.DictReader(f))
    would_tag = Counter(Path(row["path"]).parent.name for row in rows if row["status"] == "would-tag")
    assert 0 < sum(would_tag.values()) < 12  # the toy sounds leave some files under the threshold
    assert per_genre == {genre: (would_tag[genre], 4) for genre in ("blues", "classical", "metal")}
