"""`tagger-train distil` end to end: a stand-in teacher on a tiny synthetic data set."""

from __future__ import annotations

import numpy as np
import soundfile

from tagger.model import MODEL_FILE, GenreModel
from tagger.settings import FeatureSettings, ModelSettings
from tagger.training import cli
from tagger.training.fit import build_cnn

RATE = 16000
SECONDS = 5
GENRES = ("clicks", "noise", "tones")  # sorted, as the data set lists them


def _sound(kind: str, rng: np.random.Generator) -> np.ndarray:
    t = np.arange(RATE * SECONDS) / RATE
    if kind == "tones":
        return 0.3 * np.sin(2 * np.pi * rng.uniform(200, 800) * t)
    if kind == "noise":
        return 0.1 * rng.standard_normal(len(t))
    clicks = np.zeros(len(t))
    clicks[:: RATE // 4] = 0.9
    return clicks


def _make_dataset(root, per_genre: int = 4) -> None:
    rng = np.random.default_rng(0)
    for genre in GENRES:
        (root / genre).mkdir(parents=True)
        for i in range(per_genre):
            soundfile.write(root / genre / f"{genre}_{i}.wav", _sound(genre, rng).astype(np.float32), RATE)


def _make_teacher(folder) -> None:
    """An untrained small CNN: distil only needs a model whose last Dense layer is named logits."""
    settings = FeatureSettings()
    folder.mkdir()
    build_cnn(len(GENRES), settings, filters=(4, 8)).save(folder / MODEL_FILE)
    ModelSettings(genres=GENRES, features=settings, min_confidence=0.3, temperature=1.0).save(folder)


def test_distil_writes_a_student_with_the_teachers_genres(tmp_path, capsys):
    _make_dataset(tmp_path / "data")
    _make_teacher(tmp_path / "teacher")
    out = tmp_path / "fast"

    assert cli.main(["distil", str(tmp_path / "data"), "--teacher", str(tmp_path / "teacher"), "--out", str(out),
                     "--crops", "2", "--epochs", "1", "--cache", str(tmp_path / "features.npz")]) == 0

    student = GenreModel.load(str(out))
    assert student.settings.genres == GENRES
    probs = student.predict(np.zeros((2, 250, 96), dtype=np.float32))
    assert probs.shape == (2, len(GENRES))
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-4)
    card = (out / "MODEL_CARD.md").read_text()
    assert "windows/s through the LiteRT copy" in card and "teacher" in card
    assert (tmp_path / "features.npz").is_file()
