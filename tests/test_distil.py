"""`tagger-train distil` end to end: a stand-in teacher on a tiny synthetic data set."""

from __future__ import annotations

import json

import numpy as np

from audio import TOY_GENRES, make_toy_dataset
from tagger.model import GenreModel
from tagger.settings import FeatureSettings, ModelSettings
from tagger.training import cli
from tagger.training.fit import build_cnn
from tagger.training.keras_network import save_genre_model


def _make_teacher(folder) -> None:
    """An untrained small CNN saved as a model folder: distil reads the feature its head reads."""
    settings = FeatureSettings()
    probe = np.random.default_rng(0).uniform(0, 4, (2, 250, 96)).astype(np.float32)
    save_genre_model(folder, build_cnn(len(TOY_GENRES), settings, filters=(4, 8)),
                     ModelSettings(genres=TOY_GENRES, features=settings, min_confidence=0.3, temperature=1.0),
                     {"kind": "test"}, "# teacher\n", probe)


def test_distil_writes_a_student_with_the_teachers_genres(tmp_path, capsys):
    make_toy_dataset(tmp_path / "data")
    _make_teacher(tmp_path / "teacher")
    out = tmp_path / "fast"

    assert cli.main(["distil", str(tmp_path / "data"), "--teacher", str(tmp_path / "teacher"), "--out", str(out),
                     "--crops", "2", "--epochs", "1", "--cache", str(tmp_path / "features.npz")]) == 0

    student = GenreModel.load(str(out))
    assert student.settings.genres == TOY_GENRES
    probs = student.predict(np.zeros((2, 250, 96), dtype=np.float32))
    assert probs.shape == (2, len(TOY_GENRES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    card = (out / "MODEL_CARD.md").read_text()
    assert "teacher" in card and "windows/s through the LiteRT copy" in capsys.readouterr().out
    facts = json.loads((out / "training.json").read_text())
    assert facts["kind"] == "distil" and facts["genres"] == list(TOY_GENRES)
    assert (tmp_path / "features.npz").is_file()
