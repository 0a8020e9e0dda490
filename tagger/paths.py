"""Where the tagger keeps its state and settings (platformdirs, per user)."""

from __future__ import annotations

from pathlib import Path

import platformdirs

APP_NAME = "genre-tagger"


def data_dir() -> Path:
    """The user's data folder: state database, user models, caches."""
    path = Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))
    path.mkdir(parents=True, exist_ok=True)
    return path


def config_dir() -> Path:
    """The user's configuration folder (``config.toml``)."""
    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))
