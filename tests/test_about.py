"""The About box takes the model's accuracy from its training facts (training.json), never from the card's prose."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

from tagger.gui.about import about_html
from tagger.model import GenreModel


def test_the_about_box_shows_the_accuracy_training_json_records(genre_model, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(genre_model.path, folder)
    facts = json.loads((folder / "training.json").read_text(encoding="utf-8"))
    facts.update(validation_accuracy=0.7771, valid_files=42, validation_protocol="5-fold CV")
    (folder / "training.json").write_text(json.dumps(facts), encoding="utf-8")
    (folder / "MODEL_CARD.md").write_text("# A card\n\nTrack accuracy: 12.5%\n", encoding="utf-8")
    text = about_html(GenreModel.load(str(folder)), "model")
    assert "Accuracy on 42 held-out files: 77.7% (5-fold CV)" in text
    assert "12.5%" not in text


def test_without_training_json_the_about_box_says_there_is_no_figure(genre_model, tmp_path: Path) -> None:
    folder = tmp_path / "model"
    shutil.copytree(genre_model.path, folder)
    (folder / "training.json").unlink()
    text = about_html(GenreModel.load(str(folder)), "model")
    assert "no recorded accuracy figure" in text and "%" not in text
