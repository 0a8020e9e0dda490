"""Genre tags in every supported format, through mutagen.

One abstraction over every tag system of the registry (:mod:`tagger.formats`,
where each system's fields and quirks are declared): read a file's genres and
other facts, snapshot its genre fields, and write them.

A *snapshot* is the exact genre fields of a file as JSON-friendly data, so a
journal can put back precisely what was there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mutagen
from mutagen.id3 import ID3NoHeaderError

from tagger.formats import Snapshot, TagFormat, format_of, format_of_snapshot

__all__ = ["Snapshot", "TagError", "TrackInfo", "genres_in", "read_genres", "read_info", "read_snapshot",
           "snapshot_and_length", "snapshot_for", "write_genres", "write_snapshot"]


class TagError(Exception):
    """Tags could not be read or written; the message says why, for the user."""


@dataclass(frozen=True)
class TrackInfo:
    """What the tags say about a track."""

    title: str
    artist: str
    album: str
    genres: list[str]


def _open(path: Path) -> tuple[Any, TagFormat]:
    """The mutagen file of ``path`` and its tag system."""
    try:
        audio = mutagen.File(str(path))
    except mutagen.MutagenError as exc:
        raise TagError(f"cannot read tags: {_reason(exc)}") from None
    except OSError as exc:
        raise TagError(f"cannot read tags: {exc.strerror or exc}") from None
    if audio is None:
        raise TagError("not a file format whose tags can be read")
    tag_format = format_of(audio)
    if tag_format is None:
        raise TagError(f"tags of {type(audio).__name__} files are not supported")
    return audio, tag_format


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def read_snapshot(path: Path) -> Snapshot:
    """The exact genre fields of ``path``; empty when it has none."""
    return _snapshot_of(*_open(path))


def _snapshot_of(audio: Any, tag_format: TagFormat) -> Snapshot:
    return tag_format.snapshot(audio.tags) if audio.tags is not None else {}


def genres_in(snapshot: Snapshot) -> list[str]:
    """Genre names held in a snapshot, as a player would show them."""
    tag_format = format_of_snapshot(snapshot)
    return tag_format.genres(snapshot) if tag_format is not None else []


def read_genres(path: Path) -> list[str]:
    """Genres currently in the tags of ``path``."""
    return genres_in(read_snapshot(path))


def read_info(path: Path) -> TrackInfo:
    """Title, artist, album and genres of ``path`` (empty strings where missing)."""
    audio, tag_format = _open(path)
    if audio.tags is None:
        return TrackInfo("", "", "", [])
    title, artist, album = (tag_format.first_text(audio.tags, key) for key in tag_format.info_fields)
    return TrackInfo(title, artist, album, tag_format.genres(tag_format.snapshot(audio.tags)))


def snapshot_and_length(path: Path) -> tuple[Snapshot, float]:
    """The genre fields of ``path`` and its audio's length in seconds as the container states it, in one read."""
    audio, tag_format = _open(path)
    return _snapshot_of(audio, tag_format), float(getattr(audio.info, "length", 0.0) or 0.0)


def write_genres(path: Path, genres: list[str]) -> None:
    """Replace the genre of ``path`` with ``genres``, in place, leaving every other tag as it was.

    An empty list removes the genre.
    """
    write_snapshot(path, snapshot_for(path, genres))


def snapshot_for(path: Path, genres: list[str]) -> Snapshot:
    """The genre fields that hold ``genres`` in the format of ``path``."""
    audio, tag_format = _open(path)
    return tag_format.fields_for(audio.tags, genres)


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Make the genre fields of ``path`` exactly ``snapshot``, in place."""
    audio, tag_format = _open(path)
    try:
        if audio.tags is None:
            if not snapshot:
                return
            audio.add_tags()
        tag_format.apply(audio.tags, snapshot)
        tag_format.save(audio)
    except (mutagen.MutagenError, ID3NoHeaderError) as exc:
        raise TagError(f"cannot write tags: {_reason(exc)}") from None
    except OSError as exc:
        raise TagError(f"cannot write tags: {exc.strerror or exc}") from None
