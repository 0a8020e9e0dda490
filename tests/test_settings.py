"""A model's settings.json (tagger.settings): read exactly, and unknown keys refused by name."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from audio import make_track
from tagger.model import GenreModel, ModelError, shipped_models_dir
from tagger.settings import SETTINGS_FILE, FeatureSettings, ModelSettings, SettingsError

SHIPPED = shipped_models_dir() / "default"


def test_settings_round_trip_exactly():
    settings = ModelSettings(genres=("a", "b"), features=FeatureSettings(n_mels=64, max_windows=7),
                             display_names={"a": "A!"}, min_confidence=0.5, temperature=0.25)
    assert ModelSettings.from_json(settings.to_json()) == settings
    shipped = ModelSettings.load(SHIPPED)
    assert ModelSettings.from_json(shipped.to_json()) == shipped


@pytest.mark.parametrize("where,key", [((), "colour"), (("features",), "hop"), (("features",), "n_mel")])
def test_unknown_key_is_an_error_naming_it(where, key):
    data = json.loads(ModelSettings.load(SHIPPED).to_json())
    section = data
    for name in where:
        section = section[name]
    section[key] = 1
    with pytest.raises(SettingsError, match=rf"^unknown key '{'.'.join(where + (key,))}' in settings\.json$"):
        ModelSettings.from_json(json.dumps(data))


def model_with_settings_key(folder: Path, key: str) -> Path:
    """The shipped model with one unknown key added to its settings (weights linked, not copied)."""
    folder.mkdir()
    for weights in SHIPPED.iterdir():
        if weights.name != SETTINGS_FILE:
            os.symlink(weights, folder / weights.name)
    data = json.loads((SHIPPED / SETTINGS_FILE).read_text(encoding="utf-8"))
    data["features"][key] = 2
    (folder / SETTINGS_FILE).write_text(json.dumps(data), encoding="utf-8")
    return folder


def test_a_model_with_an_unknown_setting_is_refused_in_one_line(tmp_path, run_cli):
    model = model_with_settings_key(tmp_path / "odd", "window_overlap")
    with pytest.raises(ModelError, match=r"unknown key 'features\.window_overlap' in settings\.json"):
        GenreModel.load(str(model))
    music = tmp_path / "music"
    music.mkdir()
    song = make_track(music / "song.flac", seconds=3, channels=1)
    before = song.read_bytes()

    result = run_cli(music, "--model", model, "--min-confidence", "0")
    assert result.code == 2
    lines = result.err.strip().splitlines()
    assert len(lines) == 1 and "'features.window_overlap'" in lines[0] and "Traceback" not in result.err
    assert song.read_bytes() == before
