"""The models a user can pick: shipped ones and those made by ``tagger-train retrain``."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tagger.genres import display_name
from tagger.model import ModelError, shipped_models_dir, user_models_dir
from tagger.settings import SETTINGS_FILE, ModelSettings
from tagger.training.model_folder import read_facts


@dataclass(frozen=True)
class ModelInfo:
    """What ``tagger-train list`` shows of one model.

    Attributes
    ----------
    name : str
    path : Path
    shipped : bool
    genres : list of str
        Names the model writes.
    date : str
        When it was made (ISO date; the file time when not recorded).
    files_used : int or None
    accuracy : float or None
        Track accuracy on held-out tracks, 0-1.
    valid_files : int or None
        How many held-out tracks ``accuracy`` was measured on.
    error : str or None
        Why the model's settings could not be read.
    """

    name: str
    path: Path
    shipped: bool
    genres: list[str]
    date: str
    files_used: int | None
    accuracy: float | None
    valid_files: int | None = None
    error: str | None = None

    @property
    def accuracy_text(self) -> str:
        """Accuracy with its held-out count and 95% interval ("?" when the model's facts do not say)."""
        from tagger.training.metrics import accuracy_text

        if self.accuracy is None or not self.valid_files:
            return "?"
        return accuracy_text(round(self.accuracy * self.valid_files), self.valid_files)


def model_info(path: Path, shipped: bool) -> ModelInfo:
    """Facts about the model folder ``path``."""
    try:
        settings = ModelSettings.load(path)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        return ModelInfo(path.name, path, shipped, [], "", None, None, error=f"unreadable settings ({exc})")
    genres = [display_name(g, settings.display_names) for g in settings.genres]
    facts = read_facts(path)
    date = str(facts.get("created", ""))[:10]
    if not date:
        date = datetime.fromtimestamp((path / SETTINGS_FILE).stat().st_mtime).strftime("%Y-%m-%d")
    return ModelInfo(path.name, path, shipped, genres, date, facts.get("files_used"), facts.get("validation_accuracy"),
                     facts.get("valid_files"))


def list_models() -> list[ModelInfo]:
    """User models first, then shipped ones, each sorted by name."""
    out = []
    for base, shipped in ((user_models_dir(), False), (shipped_models_dir(), True)):
        if base.is_dir():
            for path in sorted(base.iterdir()):
                if not path.name.startswith(".") and (path / SETTINGS_FILE).is_file():
                    out.append(model_info(path, shipped))
    return out


def delete_model(name: str) -> Path:
    """Remove the user model ``name``; returns its former folder.

    Raises
    ------
    ModelError
        For shipped models and unknown names.
    """
    if not name or "/" in name or "\\" in name or name.startswith("."):
        raise ModelError(f"bad model name {name!r}")
    path = user_models_dir() / name
    if not (path / SETTINGS_FILE).is_file():
        if (shipped_models_dir() / name / SETTINGS_FILE).is_file():
            raise ModelError(f"{name!r} is shipped with the tagger and cannot be deleted")
        known = [m.name for m in list_models() if not m.shipped]
        raise ModelError(f"no user model called {name!r} (user models: {', '.join(known) or 'none'})")
    shutil.rmtree(path)
    return path


def format_table(models: list[ModelInfo]) -> str:
    """The models as a text table."""
    rows = [("NAME", "KIND", "DATE", "FILES", "ACCURACY", "GENRES")]
    for m in models:
        if m.error:
            rows.append((m.name, "shipped" if m.shipped else "user", "", "", "", m.error))
            continue
        rows.append((m.name, "shipped" if m.shipped else "user", m.date,
                     "?" if m.files_used is None else str(m.files_used),
                     m.accuracy_text, ", ".join(m.genres)))
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r[:5], widths)) + "  " + r[5] for r in rows)
