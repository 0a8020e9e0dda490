"""The shipped model folder gives the predictions recorded when it was shipped.

``tests/data/default_probe.json`` holds the shipped model's id and its
window probabilities on two tracks made here the same way every time. After
shipping a new model, record them again with
``.venv/bin/python tests/test_shipped_model.py``.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audio import make_track  # noqa: E402
from tagger.features import file_windows  # noqa: E402
from tagger.model import GenreModel, ModelError  # noqa: E402
from tagger.training.model_folder import check_predictions  # noqa: E402

PROBE_FILE = Path(__file__).resolve().parent / "data" / "default_probe.json"


def probe_windows(model: GenreModel, folder: Path) -> np.ndarray:
    """Model windows of two synthetic tracks (chords, bass), the same bytes on every run."""
    tracks = [make_track(folder / f"{kind}.wav", seconds=9, channels=1, seed=7, kind=kind)
              for kind in ("chords", "bass")]
    return np.concatenate([file_windows(track, model.settings.features).mels for track in tracks])


def record() -> None:
    """Write the shipped model's id and probe probabilities to ``PROBE_FILE``."""
    shipped = GenreModel.load("default")
    with tempfile.TemporaryDirectory() as folder:
        probabilities = shipped.predict(probe_windows(shipped, Path(folder)))
    rows = np.round(probabilities.astype(np.float64), 7).tolist()
    PROBE_FILE.write_text(json.dumps({"model_id": shipped.model_id, "probabilities": rows}) + "\n", encoding="utf-8")


def test_the_shipped_model_reproduces_its_recorded_predictions(tmp_path: Path) -> None:
    recorded = json.loads(PROBE_FILE.read_text(encoding="utf-8"))
    shipped = GenreModel.load("default")
    assert shipped.model_id == recorded["model_id"], "the shipped model changed: record its probe again"
    windows = probe_windows(shipped, tmp_path)
    expected = np.asarray(recorded["probabilities"], dtype=np.float32)
    check_predictions(shipped.path, windows, expected)
    with pytest.raises(ModelError, match="does not predict"):
        check_predictions(shipped.path, windows, np.roll(expected, 1, axis=1))


if __name__ == "__main__":
    record()
