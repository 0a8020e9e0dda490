"""Genre tags in every supported format, through mutagen.

One abstraction over three tag systems, with each format's quirks kept here:

- ID3 (MP3, WAV, AIFF): the TCON frame. The tag keeps its version: a v2.3
  tag is saved as v2.3 (many players and Windows read only v2.3), where
  several genres are joined by "/"; v2.4 stores them as separate values.
- Vorbis comments (FLAC, Ogg Vorbis, Ogg FLAC, Opus): one GENRE field per genre.
- MP4 (M4A): the ``©gen`` atom, one value per genre. iTunes' numeric
  ``gnre`` atom is also a genre, so it is read, and dropped when ``©gen`` is written.

A *snapshot* is the exact genre fields of a file as JSON-friendly data, so a
journal can put back precisely what was there.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import mutagen
from mutagen.id3 import ID3, TCON, ID3NoHeaderError
from mutagen.mp4 import MP4

Snapshot = dict[str, list]


class TagError(Exception):
    """Tags could not be read or written; the message says why, for the user."""


@dataclass(frozen=True)
class TrackInfo:
    """What the tags say about a track."""

    title: str
    artist: str
    album: str
    genres: list[str]


def _open(path: Path):
    try:
        audio = mutagen.File(str(path))
    except mutagen.MutagenError as exc:
        raise TagError(f"cannot read tags: {_reason(exc)}") from None
    except OSError as exc:
        raise TagError(f"cannot read tags: {exc.strerror or exc}") from None
    if audio is None:
        raise TagError("not a file format whose tags can be read")
    return audio


def _reason(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _kind(audio) -> str:
    if isinstance(audio, MP4):
        return "mp4"
    if isinstance(audio.tags, ID3) or type(audio).__name__ in {"MP3", "WAVE", "AIFF", "EasyMP3"}:
        return "id3"
    return "vorbis"


def read_snapshot(path: Path) -> Snapshot:
    """The exact genre fields of ``path``; empty when it has none."""
    return _snapshot_of(_open(path))


def _snapshot_of(audio) -> Snapshot:
    tags = audio.tags
    if tags is None:
        return {}
    kind = _kind(audio)
    if kind == "id3":
        frame = tags.get("TCON")
        return {"TCON": list(frame.text)} if frame is not None else {}
    if kind == "mp4":
        snap = {}
        if "\xa9gen" in tags:
            snap["\xa9gen"] = [str(v) for v in tags["\xa9gen"]]
        if "gnre" in tags:
            snap["gnre"] = [int(v) for v in tags["gnre"]]
        return snap
    values = tags.get("genre") if hasattr(tags, "get") else None
    return {"GENRE": list(values)} if values else {}


def genres_in(snapshot: Snapshot) -> list[str]:
    """Genre names held in a snapshot, as a player would show them."""
    if "TCON" in snapshot:
        return [g for g in TCON(encoding=3, text=snapshot["TCON"]).genres if g.strip()]
    names = [g for g in snapshot.get("GENRE", []) + snapshot.get("\xa9gen", []) if g.strip()]
    if not names and snapshot.get("gnre"):
        from mutagen._constants import GENRES

        names = [GENRES[n - 1] for n in snapshot["gnre"] if 0 < n <= len(GENRES)]
    return names


def read_genres(path: Path) -> list[str]:
    """Genres currently in the tags of ``path``."""
    return genres_in(read_snapshot(path))


def read_info(path: Path) -> TrackInfo:
    """Title, artist, album and genres of ``path`` (empty strings where missing)."""
    audio = _open(path)
    tags = audio.tags
    kind = _kind(audio)
    keys = {"id3": ("TIT2", "TPE1", "TALB"), "mp4": ("\xa9nam", "\xa9ART", "\xa9alb"),
            "vorbis": ("title", "artist", "album")}[kind]

    def first(key: str) -> str:
        if tags is None or key not in tags:
            return ""
        value = tags[key]
        value = value.text if hasattr(value, "text") else value
        return str(value[0]) if value else ""

    return TrackInfo(*(first(k) for k in keys), genres_in(_snapshot_of(audio)))


def snapshot_and_length(path: Path) -> tuple[Snapshot, float]:
    """The genre fields of ``path`` and its audio's length in seconds as the container states it, in one read."""
    audio = _open(path)
    return _snapshot_of(audio), float(getattr(audio.info, "length", 0.0) or 0.0)


def write_genres(path: Path, genres: list[str]) -> None:
    """Replace the genre of ``path`` with ``genres``, in place, leaving every other tag as it was.

    An empty list removes the genre.
    """
    write_snapshot(path, snapshot_for(path, genres))


def snapshot_for(path: Path, genres: list[str]) -> Snapshot:
    """The genre fields that hold ``genres`` in the format of ``path``."""
    audio = _open(path)
    kind = _kind(audio)
    if not genres:
        return {}
    if kind == "id3" and audio.tags is not None and audio.tags.version[1] != 4:
        # Saved as ID3v2.3, where several values become one "/"-joined text: say so here,
        # so the check after writing and the journal see what the file will really hold.
        return {"TCON": ["/".join(genres)]}
    return {"id3": {"TCON": list(genres)}, "mp4": {"\xa9gen": list(genres)}, "vorbis": {"GENRE": list(genres)}}[kind]


def write_snapshot(path: Path, snapshot: Snapshot) -> None:
    """Make the genre fields of ``path`` exactly ``snapshot``, in place."""
    audio = _open(path)
    kind = _kind(audio)
    try:
        if audio.tags is None:
            if not snapshot:
                return
            audio.add_tags()
        tags = audio.tags
        if kind == "id3":
            version = tags.version[1] if tags.version[1] in (3, 4) else 3
            tags.delall("TCON")
            if snapshot.get("TCON"):
                tags.add(TCON(encoding=3, text=snapshot["TCON"]))
            audio.save(v2_version=version)
        elif kind == "mp4":
            for key in ("\xa9gen", "gnre"):
                if key in snapshot:
                    tags[key] = snapshot[key]
                elif key in tags:
                    del tags[key]
            audio.save()
        else:
            if "genre" in tags:
                del tags["genre"]
            if snapshot.get("GENRE"):
                tags["GENRE"] = snapshot["GENRE"]
            audio.save()
    except (mutagen.MutagenError, ID3NoHeaderError) as exc:
        raise TagError(f"cannot write tags: {_reason(exc)}") from None
    except OSError as exc:
        raise TagError(f"cannot write tags: {exc.strerror or exc}") from None
