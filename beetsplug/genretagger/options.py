"""The plugin's settings: defaults, beets' config.yaml (``genretagger:``), then the command line."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from beets import ui

# Every setting under ``genretagger:`` and its default; a None ``min_confidence`` means the model's own.
DEFAULTS: dict[str, Any] = {
    "auto": False,
    "model": "default",
    "min_confidence": None,
    "force": False,
    "count": 1,
    "separator": ", ",
    "genre_names": {},
}


@dataclass(frozen=True)
class TagOptions:
    """What one ``beet genretag`` (or one import) does.

    Attributes
    ----------
    model : str
        Model name (``tagger-train list``) or path to a model folder.
    min_confidence : float or None
        Probability (0-1) below which a genre is not written; None: the model's threshold.
    force : bool
        Replace genres that are there (default: fill empty ones only).
    count : int
        How many of the most likely genres to give each item.
    separator : str
        Joins several genres in beets versions with a single ``genre`` string.
    genre_names : mapping
        Model genre id -> name to write.
    pretend : bool
        Print what would change; change nothing.
    write : bool
        Write the files' tags too (beets' ``import.write``), not only the database.
    """

    model: str = DEFAULTS["model"]
    min_confidence: float | None = None
    force: bool = False
    count: int = 1
    separator: str = DEFAULTS["separator"]
    genre_names: Mapping[str, str] = field(default_factory=dict)
    pretend: bool = False
    write: bool = True


def read_options(config: Any, write: bool, pretend: bool = False, **overrides: Any) -> TagOptions:
    """Settings in force: ``overrides`` (the command line; None = not given) over ``config``.

    Parameters
    ----------
    config : confuse view
        The plugin's ``genretagger:`` section, defaults already added.
    write : bool
        Whether files are written (``ui.should_write()``).

    Raises
    ------
    beets.ui.UserError
        A setting of the wrong type or out of range, in one line.
    """
    values = {key: config[key].get() for key in DEFAULTS if key != "auto"}
    values.update({key: value for key, value in overrides.items() if value is not None})
    _check(values)
    return TagOptions(model=str(values["model"]), min_confidence=_probability(values["min_confidence"]),
                      force=bool(values["force"]), count=values["count"], separator=values["separator"],
                      genre_names=dict(values["genre_names"] or {}), pretend=pretend, write=write)


def _check(values: dict[str, Any]) -> None:
    count, separator, names = values["count"], values["separator"], values["genre_names"] or {}
    if not isinstance(count, int) or isinstance(count, bool) or count < 1:
        raise ui.UserError(f"genretagger: count must be a whole number of at least 1, not {count!r}")
    if not isinstance(separator, str) or not separator:
        raise ui.UserError(f"genretagger: separator must be some text, not {separator!r}")
    if not isinstance(names, Mapping) or not all(isinstance(v, str) for v in names.values()):
        raise ui.UserError("genretagger: genre_names must map genre ids to names, such as 'hiphop: Hip Hop'")


def _probability(value: Any) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= 1.0:
        raise ui.UserError(f"genretagger: min_confidence must be between 0 and 1, not {value!r}")
    return float(value)
