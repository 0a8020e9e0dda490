"""One policy and one status rule for both front ends (tagger.policy), on real files."""

from __future__ import annotations

import os

import numpy as np
import pytest

from conftest import file_hash, remember_prediction
from tagger.config import Config
from tagger.decision import decide
from tagger.genres import display_name
from tagger.policy import Policy, Verdict, genre_verdict, names_to_write, policy_from_config, same_genres
from tagger.settings import ModelSettings

GENRES = ("blues", "hiphop", "jazz", "rock")


def test_the_config_threshold_wins_else_the_models():
    settings = ModelSettings(genres=GENRES, display_names={"jazz": "Jazz Music"}, min_confidence=0.63)
    config = Config()
    config.genre_names = {"rock": "Rock & Roll"}
    policy = policy_from_config(config, settings, dry_run=True)
    assert (policy.min_confidence, policy.dry_run, policy.overwrite, policy.top_k) == (0.63, True, False, 1)
    config.set("min_confidence", 0.2, "command line")
    config.set("top_k", 3, "command line")
    policy = policy_from_config(config, settings)
    assert (policy.min_confidence, policy.dry_run, policy.top_k) == (0.2, False, 3)
    # Names: the config's, else the model's, else the built-in display names.
    decision = decide(np.array([[0.05, 0.3, 0.3, 0.35]]), GENRES, np.zeros(1))
    assert names_to_write(decision, policy) == ["Rock & Roll", "Hip-Hop", "Jazz Music"]


@pytest.mark.parametrize("probabilities,written", [
    ((0.99, 0.01, 0.0, 0.0), ["Blues"]),  # --top-k 3 never writes genres the model all but ruled out
    ((0.1, 0.0999, 0.0, 0.4), ["Rock", "Blues"]),  # exactly 25% of the top one is enough, a hair under is not
    ((0.4, 0.3, 0.2, 0.1), ["Blues", "Hip-Hop", "Jazz"]),  # never more than k
])
def test_top_k_writes_at_most_k_genres_each_a_quarter_as_likely_as_the_top_one(probabilities, written):
    decision = decide(np.array([probabilities]), GENRES, np.zeros(1))
    assert names_to_write(decision, Policy(top_k=3)) == written


@pytest.mark.parametrize("existing,new,confident,verdict", [
    (["Rock/Jazz"], ["Rock", "Jazz"], True, Verdict.UNCHANGED),  # ID3v2.3's joined value
    (["hip hop"], ["Hip-Hop"], False, Verdict.UNCHANGED),  # already there, however unsure
    (["Jazz", "Rock"], ["Rock", "Jazz"], True, Verdict.REPLACE),
    ([], ["Rock"], False, Verdict.UNCERTAIN),
    (["Polka"], ["Rock"], False, Verdict.UNCERTAIN),
    ([], ["Rock"], True, Verdict.FILL),
    (["Polka"], ["Rock"], True, Verdict.REPLACE),
])
def test_the_status_rule(existing, new, confident, verdict):
    assert genre_verdict(existing, new, confident) is verdict
    assert same_genres(existing, new) == (verdict is Verdict.UNCHANGED)


def test_both_front_ends_see_an_id3v23_multi_genre_file_as_already_right(make_library, batch, genre_model, state):
    """The file says "Blues/Classical" in one ID3v2.3 value; the prediction is those two genres."""
    pytest.importorskip("PySide6")
    from tagger.gui.review import row_from_outcome
    from tagger.gui.table_model import SAME

    first, second = genre_model.settings.genres[:2]
    names = [display_name(g, genre_model.settings.display_names) for g in (first, second)]
    folder, paths = make_library(formats=("mp3",), genre="/".join(names), id3_version=3)
    path = paths["mp3"]
    remember_prediction(state, genre_model, path, {first: 0.5, second: 0.375})
    before = file_hash(path)

    outcome = batch(folder, top_k=2, overwrite=True)[path]
    assert (outcome.status, outcome.message) == ("unchanged", "genre already as predicted")
    assert file_hash(path) == before

    table_policy = Policy(top_k=2, overwrite=True, dry_run=True)
    row = row_from_outcome(batch(folder, top_k=2, overwrite=True, dry_run=True)[path], folder, table_policy)
    assert row.current == ["/".join(names)] and row.genres_to_write == names
    assert row.status == SAME and not row.accepted


def test_the_window_does_not_propose_writing_a_read_only_file(make_library, batch):
    pytest.importorskip("PySide6")
    from tagger.gui.review import bulk_accepts, row_from_outcome

    folder, paths = make_library(formats=("flac", "m4a"))
    os.chmod(paths["m4a"], 0o444)
    try:
        policy = Policy(dry_run=True)
        outcomes = batch(folder, dry_run=True)
        rows = {path: row_from_outcome(outcome, folder, policy) for path, outcome in outcomes.items()}
    finally:
        os.chmod(paths["m4a"], 0o644)
    assert rows[paths["flac"]].accepted and rows[paths["flac"]].message == ""
    assert not rows[paths["m4a"]].accepted and rows[paths["m4a"]].message == "read-only file: not written"
    assert rows[paths["m4a"]].status == "skipped"
    # Nor does "Accept shown >= N%", whatever the threshold and the overwrite setting.
    assert not bulk_accepts(rows[paths["m4a"]], 0.0, True) and bulk_accepts(rows[paths["flac"]], 0.0, True)
