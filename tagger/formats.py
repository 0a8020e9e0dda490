"""The format registry: one class per tag system, declaring where it keeps a genre.

As MusicBrainz Picard keeps one class per format and beets' mediafile declares a
field once per storage style, each tag system here says, in one place:

- the file extensions it is found in, and which decoder reads each first;
- the mutagen types it handles;
- the fields that hold a genre, and how they are read, snapshotted and written;
- its quirks:

  - ID3 (MP3, WAV, AIFF): the TCON frame. The tag keeps its version: a v2.3
    tag is saved as v2.3 (many players and Windows read only v2.3), where
    several genres are joined by "/"; v2.4 stores them as separate values.
  - Vorbis comments (FLAC, Ogg Vorbis, Ogg FLAC, Opus): one GENRE field per genre.
  - MP4 (M4A): the ``©gen`` atom, one value per genre. iTunes' numeric ``gnre``
    atom is also a genre, so it is read, and dropped when ``©gen`` is written.
  - ASF (WMA): one ``WM/Genre`` attribute per genre.

The scanner's extension list, the decoder routing (:mod:`tagger.decode`) and the
tag functions (:mod:`tagger.tags`) all derive from :data:`TAG_FORMATS`: adding a
format is adding a class there.
"""

from __future__ import annotations

import enum
from pathlib import Path
from typing import Any, ClassVar

from mutagen._constants import GENRES as ID3V1_GENRES
from mutagen.aiff import AIFF
from mutagen.asf import ASF
from mutagen.flac import FLAC
from mutagen.id3 import ID3, TCON
from mutagen.mp3 import MP3
from mutagen.mp4 import MP4
from mutagen.oggflac import OggFLAC
from mutagen.oggopus import OggOpus
from mutagen.oggspeex import OggSpeex
from mutagen.oggtheora import OggTheora
from mutagen.oggvorbis import OggVorbis
from mutagen.wave import WAVE

# The exact genre fields of a file, keyed by field name; JSON-friendly, so a journal can keep it.
Snapshot = dict[str, list]


class Decoder(enum.Enum):
    """The decoder tried first on a container; FFmpeg reads whatever that one cannot."""

    LIBSNDFILE = "libsndfile"
    # libsndfile hands any .mp3 to mpg123, which prints notes on the user's terminal for a
    # file that is no MPEG audio: only a file that opens like MPEG audio goes there.
    LIBSNDFILE_IF_MPEG = "libsndfile, when the file opens like MPEG audio"
    FFMPEG = "FFmpeg"


class TagFormat:
    """One tag system: a mapping of field names to lists of values, the common case.

    Attributes
    ----------
    name : str
        What the tag system is called, for messages.
    extensions : dict of str to Decoder
        Lower-case file extensions (with the dot) the system is found in, and the
        decoder tried first on each.
    mutagen_types : tuple of type
        mutagen file classes whose tags are of this system.
    fields : dict of str to type
        Fields that hold a genre, the one written first, and the type of their values.
    info_fields : tuple of str
        Fields of the title, the artist and the album.
    """

    name: ClassVar[str]
    extensions: ClassVar[dict[str, Decoder]]
    mutagen_types: ClassVar[tuple[type, ...]]
    fields: ClassVar[dict[str, type]]
    info_fields: ClassVar[tuple[str, str, str]]

    @property
    def genre_field(self) -> str:
        """The field a genre is written to."""
        return next(iter(self.fields))

    def handles(self, audio: Any) -> bool:
        """Whether the mutagen file ``audio`` carries tags of this system."""
        return isinstance(audio, self.mutagen_types)

    def owns(self, snapshot: Snapshot) -> bool:
        """Whether ``snapshot`` holds fields of this system."""
        return any(key in snapshot for key in self.fields)

    def values(self, tags: Any, key: str) -> list:
        """The values of field ``key`` in ``tags``; empty when it is missing."""
        return list(tags[key]) if key in tags else []

    def first_text(self, tags: Any, key: str) -> str:
        """The first value of field ``key`` as text; empty when it is missing."""
        values = self.values(tags, key)
        return str(values[0]) if values else ""

    def snapshot(self, tags: Any) -> Snapshot:
        """The genre fields present in ``tags``, exactly."""
        snap = {}
        for key, kind in self.fields.items():
            values = self.values(tags, key)
            if values:
                snap[key] = [kind(value) for value in values]
        return snap

    def genres(self, snapshot: Snapshot) -> list[str]:
        """Genre names a snapshot of this system holds, as a player would show them."""
        return [name for name in snapshot.get(self.genre_field, []) if name.strip()]

    def fields_for(self, tags: Any, genres: list[str]) -> Snapshot:
        """The genre fields that hold ``genres`` in ``tags`` (None: no tag yet); empty removes the genre."""
        return {self.genre_field: list(genres)} if genres else {}

    def apply(self, tags: Any, snapshot: Snapshot) -> None:
        """Make the genre fields of ``tags`` exactly ``snapshot``, leaving every other field alone."""
        for key in self.fields:
            if key in tags:
                del tags[key]
            if snapshot.get(key):
                tags[key] = snapshot[key]

    def save(self, audio: Any) -> None:
        """Save the tags of the mutagen file ``audio`` to its file."""
        audio.save()


class Id3(TagFormat):
    """ID3v2: TCON frames, in the version the tag already has."""

    name = "ID3"
    extensions = {".mp3": Decoder.LIBSNDFILE_IF_MPEG, ".wav": Decoder.LIBSNDFILE,
                  ".aif": Decoder.LIBSNDFILE, ".aiff": Decoder.LIBSNDFILE}
    mutagen_types = (MP3, WAVE, AIFF)
    fields = {"TCON": str}
    info_fields = ("TIT2", "TPE1", "TALB")

    def handles(self, audio: Any) -> bool:
        # Other containers can carry ID3 too (TrueAudio, DSF); their tags are written the same way.
        return super().handles(audio) or isinstance(audio.tags, ID3)

    def values(self, tags: Any, key: str) -> list:
        frame = tags.get(key)
        return list(frame.text) if frame is not None else []

    def genres(self, snapshot: Snapshot) -> list[str]:
        # mutagen's parser reads what players read: "(17)" references, v2.3 "/"-joined names.
        return [name for name in TCON(encoding=3, text=snapshot.get("TCON", [])).genres if name.strip()]

    def fields_for(self, tags: Any, genres: list[str]) -> Snapshot:
        if genres and tags is not None and tags.version[1] != 4:
            # Saved as ID3v2.3, where several values become one "/"-joined text: say so here,
            # so the check after writing and the journal see what the file will really hold.
            return {"TCON": ["/".join(genres)]}
        return super().fields_for(tags, genres)

    def apply(self, tags: Any, snapshot: Snapshot) -> None:
        tags.delall("TCON")
        if snapshot.get("TCON"):
            tags.add(TCON(encoding=3, text=snapshot["TCON"]))

    def save(self, audio: Any) -> None:
        version = audio.tags.version[1]
        audio.save(v2_version=version if version in (3, 4) else 3)


class VorbisComments(TagFormat):
    """Vorbis comments: one GENRE field per genre (field names are case-insensitive)."""

    name = "Vorbis comments"
    extensions = {".flac": Decoder.LIBSNDFILE, ".ogg": Decoder.LIBSNDFILE, ".oga": Decoder.LIBSNDFILE,
                  ".opus": Decoder.LIBSNDFILE}
    mutagen_types = (FLAC, OggVorbis, OggOpus, OggFLAC, OggSpeex, OggTheora)
    fields = {"GENRE": str}
    info_fields = ("title", "artist", "album")


class Mp4(TagFormat):
    """MP4 atoms: ``©gen`` with one value per genre; iTunes' numeric ``gnre`` is read and dropped on write."""

    name = "MP4"
    extensions = {".m4a": Decoder.FFMPEG, ".mp4": Decoder.FFMPEG}
    mutagen_types = (MP4,)
    fields = {"\xa9gen": str, "gnre": int}
    info_fields = ("\xa9nam", "\xa9ART", "\xa9alb")

    def genres(self, snapshot: Snapshot) -> list[str]:
        names = super().genres(snapshot)
        if names:
            return names
        # gnre numbers the ID3v1 genre list from 1.
        return [ID3V1_GENRES[n - 1] for n in snapshot.get("gnre", []) if 0 < n <= len(ID3V1_GENRES)]


class Asf(TagFormat):
    """ASF (Windows Media): one ``WM/Genre`` attribute per genre."""

    name = "ASF"
    extensions = {".wma": Decoder.FFMPEG}
    mutagen_types = (ASF,)
    fields = {"WM/Genre": str}
    info_fields = ("Title", "Author", "WM/AlbumTitle")


TAG_FORMATS: tuple[TagFormat, ...] = (Id3(), VorbisComments(), Mp4(), Asf())

# Every extension the tagger handles, lower case with the dot.
AUDIO_EXTENSIONS: frozenset[str] = frozenset(ext for tag_format in TAG_FORMATS for ext in tag_format.extensions)

_DECODERS = {ext: decoder for tag_format in TAG_FORMATS for ext, decoder in tag_format.extensions.items()}


def format_of(audio: Any) -> TagFormat | None:
    """The tag system of the mutagen file ``audio``; None when none handles it."""
    return next((tag_format for tag_format in TAG_FORMATS if tag_format.handles(audio)), None)


def format_of_snapshot(snapshot: Snapshot) -> TagFormat | None:
    """The tag system whose fields ``snapshot`` holds; None for an empty snapshot."""
    return next((tag_format for tag_format in TAG_FORMATS if tag_format.owns(snapshot)), None)


def first_decoder(path: Path) -> Decoder:
    """The decoder tried first on ``path``, by its extension (libsndfile for one not registered)."""
    return _DECODERS.get(Path(path).suffix.lower(), Decoder.LIBSNDFILE)
