"""``tagger-batch LIB --learn`` (issue 22): learn the library's own genre tags, then fill its untagged files.

Made-up genres on audio made here ("Calm Stuff" = soft chords, "Noise Wall" =
noise bursts, "Low End" = bass tones) that the shipped network's features tell
apart; two or three artists per genre so held-out artists are real.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audio import LEARN_GENRES as GENRES  # noqa: E402
from audio import make_learn_library as make_library  # noqa: E402
from audio import make_track  # noqa: E402
from conftest import tree_hashes  # noqa: E402

def track(path: Path, **tags) -> Path:
    """A 6 s mono track at ``path`` (its folder made), with the given ``make_track`` options and tags."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return make_track(path, seconds=6, rate=22050, channels=1, **tags)


def genres_in(path: Path) -> list[str]:
    from tagger.tags import read_genres

    return read_genres(path)


def test_learn_fills_the_untagged_files_with_the_users_genres_and_changes_no_tagged_file(run_cli, tmp_path):
    truth = make_library(tmp_path / "lib")
    tagged_before = tree_hashes(tmp_path / "lib" / "tagged")
    result = run_cli(tmp_path / "lib", "--learn", "--quiet", "--report", tmp_path / "report.json")
    assert result.code == 0, result.err
    assert tree_hashes(tmp_path / "lib" / "tagged") == tagged_before
    untagged = [path for path in truth if "untagged" in path.parts]
    right = sum(genres_in(path) == [truth[path]] for path in untagged)
    assert right >= 0.75 * len(untagged), {p.name: genres_in(p) for p in untagged}
    # The figures come before anything is written: counts and intervals, never a bare percentage.
    assert "held-out tracks" in result.out and ("95% interval" in result.out or "too few held-out" in result.out)
    assert "min_confidence" in result.out
    rows = json.loads((tmp_path / "report.json").read_text())["files"]
    assert {row["status"] for row in rows if "/tagged/" in row["path"]} <= {"kept-existing", "unchanged"}


def test_the_learned_model_is_listed_with_its_held_out_count_and_reused_while_the_users_tags_are_unchanged(
        run_cli, tmp_path, capsys):
    from tagger.tags import write_genres
    from tagger.training.cli import main as train_main
    from tagger.training.learn import learned_model_name

    truth = make_library(tmp_path / "lib", untagged_per_genre=1)
    first = run_cli(tmp_path / "lib", "--learn", "--quiet")
    assert first.code == 0 and "(saved)" in first.out, first.err
    assert all(genres_in(path) for path in truth)  # the untagged files got a genre
    capsys.readouterr()
    assert train_main(["list"]) == 0
    listing = capsys.readouterr().out
    name = learned_model_name(tmp_path / "lib")
    line = next(line for line in listing.splitlines() if line.startswith(name))
    assert "held-out" in line and "Calm Stuff" in line
    # The genres it wrote are its own predictions, not labels: the library it learned from is unchanged.
    again = run_cli(tmp_path / "lib", "--learn", "--quiet", "--dry-run")
    assert again.code == 0 and "reused" in again.out and "(saved)" not in again.out
    assert "3 files whose genre the tagger wrote itself" in again.out
    # One tag changed by hand: the library is not the one the model learned from any more.
    write_genres(next(p for p, g in truth.items() if "tagged" in p.parts and g == "Low End"), ["Calm Stuff"])
    changed = run_cli(tmp_path / "lib", "--learn", "--quiet", "--dry-run")
    assert changed.code == 0 and "(saved)" in changed.out


def test_learn_from_a_library_with_one_genre_is_a_one_line_error(run_cli, tmp_path):
    make_library(tmp_path / "lib", genres={"Calm Stuff": "chords"})
    before = tree_hashes(tmp_path / "lib")
    result = run_cli(tmp_path / "lib", "--learn", "--quiet")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "only one genre (Calm Stuff)" in result.err and "Traceback" not in result.err
    assert tree_hashes(tmp_path / "lib") == before


def test_learn_refuses_a_model_a_single_file_and_its_options_alone(run_cli, tmp_path):
    truth = make_library(tmp_path / "lib", untagged_per_genre=0)
    assert "leave out --model" in run_cli(tmp_path / "lib", "--learn", "--model", "default").err
    assert "needs a folder" in run_cli(next(iter(truth)), "--learn").err
    assert "--min-per-genre goes with --learn" in run_cli(tmp_path / "lib", "--min-per-genre", "2").err


@pytest.mark.parametrize("right, total, expected", [
    (3, 3, "too few held-out files to measure (3)"),
    (11, 16, "69% of 16 held-out tracks (95% interval 44%-86%)"),
])
def test_accuracy_is_given_with_its_count_and_interval_or_not_at_all(right, total, expected):
    from tagger.training.metrics import accuracy_text

    assert accuracy_text(right, total) == expected


def test_a_threshold_from_few_held_out_tracks_is_conservative_and_says_so():
    import numpy as np

    from tagger.training.retrain import choose_threshold

    labels = np.array([0, 1, 2, 0, 1, 2])
    probs = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.3, 0.6], [0.5, 0.4, 0.1],
                      [0.1, 0.8, 0.1], [0.05, 0.05, 0.9]])
    threshold, note = choose_threshold(labels, probs, 3)
    assert threshold == 0.66  # halfway from chance (1/3) to certainty
    assert "too few held-out files (6" in note and "4 of 6 held-out tracks reach it" in note


def clicks(path: Path, seed: int) -> Path:
    """A click track: a sound none of the made-up genres is made of."""
    import numpy as np

    from audio import write_audio

    rate = 22050
    sound = np.zeros((rate * 6, 1), dtype=np.float32)
    sound[:: rate // (3 + seed % 4), 0] = 0.9
    return write_audio(path, sound, rate)


def test_music_of_a_genre_never_labelled_is_left_uncertain_and_the_card_says_how_often(run_cli, tmp_path):
    from tagger.tags import read_genres
    from tagger.training.learn import learned_model_name
    from tagger.training.model_folder import read_facts
    from tagger.model import user_models_dir

    make_library(tmp_path / "lib", untagged_per_genre=0)
    (tmp_path / "lib" / "untagged").mkdir()
    unknown = [clicks(tmp_path / "lib" / "untagged" / f"clicks_{i}.wav", i) for i in range(4)]
    result = run_cli(tmp_path / "lib", "--learn", "--quiet", "--report", tmp_path / "report.json")
    assert result.code == 0, result.err
    rows = {Path(row["path"]).name: row for row in json.loads((tmp_path / "report.json").read_text())["files"]}
    assert all(rows[path.name]["status"] == "uncertain" for path in unknown), rows
    assert all(read_genres(path) == [] for path in unknown)
    folder = user_models_dir() / learned_model_name(tmp_path / "lib")
    rates = read_facts(folder)["out_of_vocabulary"]
    assert rates["files"] == 18 and rates["confident_with_rule"] <= rates["confident_without_rule"]
    card = (folder / "MODEL_CARD.md").read_text()
    assert f"{rates['confident_with_rule']} of 18 with it" in card and "without the rule" in card
    assert "taught" in result.out and "with it" in result.out


def test_a_window_far_from_every_training_window_says_nothing(tmp_path):
    import numpy as np

    from tagger.novelty import load_novelty
    from tagger.training.novelty_fit import fit_novelty

    rng = np.random.default_rng(0)
    tracks = [rng.normal(0, 1, (10, 4)) + [3 * (i % 2), 0, 0, 0] for i in range(8)]
    rule = fit_novelty(tracks, [f"artist {i // 2}" for i in range(8)], "tags")
    near, far = tracks[0][:2] + 0.01, np.full((1, 4), 40.0)
    probs = np.array([[0.9, 0.1], [0.8, 0.2], [0.99, 0.01]], dtype=np.float32)
    out = rule.apply(np.concatenate([near, far]), probs)
    np.testing.assert_allclose(out, [[0.9, 0.1], [0.8, 0.2], [0.5, 0.5]])
    rule.save(tmp_path)
    again = load_novelty(tmp_path)
    np.testing.assert_array_equal(again.reference, rule.reference)
    assert again.threshold == rule.threshold and again.feature == "tags"


def test_the_rule_is_part_of_the_models_identity_and_a_damaged_one_is_a_one_line_error(tmp_path):
    import shutil

    import numpy as np

    from tagger.model import GenreModel, ModelError, resolve_model
    from tagger.novelty import NOVELTY_FILE
    from tagger.training.novelty_fit import fit_novelty

    folder = tmp_path / "model"
    shutil.copytree(resolve_model("default"), folder)
    plain = GenreModel.load(str(folder))
    rng = np.random.default_rng(0)
    fit_novelty([rng.uniform(0, 1, (5, 50)) for _ in range(4)], ["a", "a", "b", "b"], "tag_probabilities").save(folder)
    # Cached results are keyed by the model id: a rule added must not reuse answers given without it.
    assert GenreModel.load(str(folder)).model_id != plain.model_id
    (folder / NOVELTY_FILE).write_bytes(b"not an npz")
    with pytest.raises(ModelError, match="not a readable novelty file"):
        GenreModel.load(str(folder))


def test_evaluate_scores_a_learned_model_on_files_labelled_by_tag_or_folder_in_the_users_spelling(
        run_cli, tmp_path, capsys):
    from tagger.training.cli import main as train_main
    from tagger.training.learn import learned_model_name

    make_library(tmp_path / "lib", untagged_per_genre=0)
    assert run_cli(tmp_path / "lib", "--learn", "--quiet", "--dry-run").code == 0
    fresh = tmp_path / "fresh"
    for g, (genre, kind) in enumerate(GENRES.items()):
        for i in range(2):  # by tag, spelled otherwise than in the library
            track(fresh / f"{kind}_{i}.flac", seed=500 + 10 * g + i, kind=kind, genre=genre.upper().replace(" ", "-"))
        track(fresh / genre / f"{kind}_folder.flac", seed=600 + g, kind=kind)  # no genre tag: its folder says it
    track(fresh / "polka.flac", seed=700, kind="chords", genre="Polka")
    capsys.readouterr()
    code = train_main(["evaluate", learned_model_name(tmp_path / "lib"), str(fresh), "--plots", str(tmp_path / "p")])
    out = capsys.readouterr().out
    assert code == 0, out
    assert "held-out tracks: 9 (3 genres)" in out and "track accuracy" in out and "Calm Stuff" in out
    assert "genres the model does not know: Polka (1)" in out


def test_evaluate_on_files_of_no_genre_the_model_knows_names_its_genres(run_cli, tmp_path, capsys):
    from tagger.training.cli import main as train_main

    track(tmp_path / "data" / "a.flac", genre="Polka")
    capsys.readouterr()
    assert train_main(["evaluate", "default", str(tmp_path / "data"), "--split", "all"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "with the model's genres: Blues, Classical" in err


def library_with_small_genres(folder: Path) -> dict[Path, str]:
    """The made-up library plus two genres of two files each: Blues (the default model knows it) and Polka."""
    truth = make_library(folder, untagged_per_genre=1)
    for genre, kind in (("Blues", "chords"), ("Polka", "noise")):
        for i in range(2):
            truth[track(folder / "tagged" / f"{genre}_{i}.flac", seed=900 + i, kind=kind, artist=f"{genre} band",
                        genre=genre)] = genre
    return truth


def test_genres_with_too_few_files_are_left_alone_unless_the_default_model_may_answer_them(run_cli, tmp_path):
    library_with_small_genres(tmp_path / "lib")
    alone = run_cli(tmp_path / "lib", "--learn", "--quiet", "--dry-run")
    assert alone.code == 0, alone.err
    assert "left out 'Blues': 2 files" in alone.out and "left out 'Polka': 2 files" in alone.out
    assert "left alone: Blues (--fallback default" in alone.out
    assert "no model here knows them, left alone: Polka" in alone.out
    answered = run_cli(tmp_path / "lib", "--learn", "--quiet", "--dry-run", "--fallback", "default",
                       "--report", tmp_path / "r.json")
    assert answered.code == 0 and "answered by model 'default': Blues" in answered.out
    written = {row["genre"] for row in json.loads((tmp_path / "r.json").read_text())["files"] if row["genre"]}
    assert written <= set(GENRES) | {"Blues"}
    assert "--fallback goes with --learn" in run_cli(tmp_path / "lib", "--fallback", "default").err


def test_the_fallback_model_gives_the_left_out_genres_the_default_models_probability(genre_model, tmp_path):
    import numpy as np

    from tagger.features import file_windows
    from tagger.model import GenreModel
    from tagger.training.fallback import with_fallback
    from tagger.training.learn import learn_library

    library_with_small_genres(tmp_path / "lib")
    learned = GenreModel.load(str(learn_library(tmp_path / "lib", base=str(genre_model.path), log=lambda _: None).path))
    both = with_fallback(learned, genre_model, {"Blues": "blues"})
    assert both.settings.genres[-1] == "blues" and both.settings.display_names["blues"] == "Blues"
    assert both.model_id not in (learned.model_id, genre_model.model_id)
    windows = file_windows(next((tmp_path / "lib" / "untagged").iterdir()), learned.settings.features).mels
    probs, blues = both.predict(windows), genre_model.predict(windows)[:, genre_model.settings.genres.index("blues")]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(probs[:, -1], blues, atol=1e-6)
    np.testing.assert_allclose(probs[:, :-1], learned.predict(windows) * (1 - blues[:, None]), atol=1e-6)
