"""A plain (non-editable) install carries the shipped model, its LiteRT copy and the window's assets."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_holds_the_shipped_model_and_assets(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("genre_tagger-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    model = "tagger/resources/models/default/"
    for required in ("model.keras", "settings.json", "MODEL_CARD.md"):
        assert model + required in names
    assert any(n.startswith(model + "model.") and n.endswith(".tflite") for n in names)
    for asset in ("icon.png", "icon.svg", "genre-tagger.desktop"):
        assert "tagger/resources/" + asset in names
    for module in ("tagger/cli.py", "tagger/gui/app.py", "tagger/training/cli.py"):
        assert module in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("tagger-batch", "tagger-gui", "tagger-train"):
        assert script in scripts
