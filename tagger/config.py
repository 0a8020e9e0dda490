"""User settings: built-in defaults < config file < command line.

The config file is TOML in the user's config folder::

    [tagger]
    model = "default"
    min_confidence = 0.4
    overwrite = false
    workers = 2
    top_k = 1
    keep_mtime = false

    [genre_names]
    hiphop = "Hip Hop"

Both front ends read it; the window's settings dialog writes it.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagger.paths import config_dir

CONFIG_FILE = "config.toml"

# Option -> (type, default). A None default means "decided elsewhere" (by the model or the machine).
OPTIONS: dict[str, tuple[type, Any]] = {
    "model": (str, "default"),
    "min_confidence": (float, None),
    "overwrite": (bool, False),
    "workers": (int, None),
    "top_k": (int, 1),
    "keep_mtime": (bool, False),
}


class ConfigError(Exception):
    """The config file is unreadable or holds a bad value."""


@dataclass
class Config:
    """Settings in force, and where each came from."""

    values: dict[str, Any] = field(default_factory=lambda: {k: d for k, (_, d) in OPTIONS.items()})
    sources: dict[str, str] = field(default_factory=lambda: {k: "default" for k in OPTIONS})
    genre_names: dict[str, str] = field(default_factory=dict)
    genre_names_source: str = "default"

    def __getitem__(self, key: str) -> Any:
        return self.values[key]

    def set(self, key: str, value: Any, source: str) -> None:
        self.values[key] = value
        self.sources[key] = source


def config_path() -> Path:
    return config_dir() / CONFIG_FILE


def load_config(path: Path | None = None) -> Config:
    """Read the config file (a missing file means all defaults).

    Raises
    ------
    ConfigError
        When the file is not valid TOML or holds an unknown option or a value
        of the wrong type.
    """
    path = path or config_path()
    config = Config()
    if not path.is_file():
        return config
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: {exc}") from None
    for key, value in data.get("tagger", {}).items():
        if key not in OPTIONS:
            raise ConfigError(f"{path}: unknown option [tagger] {key} (known: {', '.join(OPTIONS)})")
        kind = OPTIONS[key][0]
        if kind is float and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise ConfigError(f"{path}: [tagger] {key} must be {kind.__name__}, not {value!r}")
        config.set(key, value, str(path))
    names = data.get("genre_names", {})
    if not all(isinstance(v, str) for v in names.values()):
        raise ConfigError(f"{path}: [genre_names] values must be strings")
    if names:
        config.genre_names = dict(names)
        config.genre_names_source = str(path)
    return config


def save_config(config: Config, path: Path | None = None) -> Path:
    """Write the settings that differ from the defaults (used by the window)."""
    path = path or config_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = ["[tagger]"]
    for key, (_, default) in OPTIONS.items():
        value = config.values[key]
        if value is not None and value != default:
            lines.append(f"{key} = {_toml_value(value)}")
    if config.genre_names:
        lines += ["", "[genre_names]"]
        lines += [f"{_toml_value(k)} = {_toml_value(v)}" for k, v in sorted(config.genre_names.items())]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    escaped = str(value).replace("\\", "\\\\").replace('"', '\\"')
    return f'"{escaped}"'
