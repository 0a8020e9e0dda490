"""`tagger-train fit` end to end on a tiny synthetic data set."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest

from audio import make_toy_dataset
from tagger.model import GenreModel
from tagger.training import cli


def test_fit_writes_a_loadable_model(tmp_path, capsys):
    make_toy_dataset(tmp_path / "data")
    out = tmp_path / "model"

    assert cli.main(["fit", str(tmp_path / "data"), "--out", str(out), "--epochs", "1", "--seed", "3"]) == 0

    model = GenreModel.load(str(out))
    assert model.settings.genres == ("clicks", "noise", "tones")
    assert (out / "MODEL_CARD.md").read_text().startswith("# ")
    facts = json.loads((out / "training.json").read_text())
    assert facts["kind"] == "fit" and facts["files_used"] > 0 and 0 <= facts["validation_accuracy"] <= 1
    assert model.runtime == "litert" and model.head.n_genres == 3
    probs = model.predict(np.zeros((2, 250, 96), dtype=np.float32))
    assert probs.shape == (2, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, rtol=1e-5)

    # Scoring the model on tracks it trained on is flagged, so no one mistakes it for a held-out figure.
    capsys.readouterr()
    assert cli.main(["evaluate", str(out), str(tmp_path / "data"), "--split", "all",
                     "--plots", str(tmp_path / "plots")]) == 0
    report = capsys.readouterr().out
    assert "were used to train this model" in report
    assert "track accuracy" in report and (tmp_path / "plots" / "confusion.png").is_file()


def test_evaluate_without_matplotlib_prints_the_figures_and_names_the_extra(tmp_path, capsys, monkeypatch,
                                                                               genre_model):
    make_toy_dataset(tmp_path / "data")
    for toy, genre in (("tones", "blues"), ("noise", "metal")):  # genres of the shipped model
        (tmp_path / "data" / toy).rename(tmp_path / "data" / genre)
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # as in an install without genre-tagger[train]
    assert cli.main(["evaluate", str(genre_model.path), str(tmp_path / "data"), "--split", "all",
                     "--plots", str(tmp_path / "plots")]) == 0
    report = capsys.readouterr().out
    assert "track accuracy" in report and "genre-tagger[train]" in report
    assert not (tmp_path / "plots").exists()


def test_fit_reports_a_missing_folder_in_one_line(tmp_path, capsys):
    assert cli.main(["fit", str(tmp_path / "nowhere"), "--out", str(tmp_path / "m")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no such folder" in err


@pytest.mark.parametrize("option", ["--frequency-stride", "--temporal-frequency-stride"])
def test_fit_refuses_a_frequency_stride_below_one_in_one_line(tmp_path, capsys, option):
    make_toy_dataset(tmp_path / "data")
    assert cli.main(["fit", str(tmp_path / "data"), "--out", str(tmp_path / "m"), option, "0"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and option in err


def test_fit_never_replaces_a_folder_that_holds_something_else(tmp_path, capsys):
    make_toy_dataset(tmp_path / "data")
    music = tmp_path / "music"
    music.mkdir()
    (music / "song.flac").write_bytes(b"not a model")
    assert cli.main(["fit", str(tmp_path / "data"), "--out", str(music), "--epochs", "1"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not a model folder" in err
    assert (music / "song.flac").read_bytes() == b"not a model"
