"""Labelled tracks of a training data set: one subfolder per genre.

A data set is ``DATA_DIR/<genre>/<file>`` with any audio format the tagger
reads. When ``DATA_DIR/MANIFEST.tsv`` exists (the GTZAN subset has one), its
``split`` and ``kind`` columns are used; otherwise every track is ``train`` and
``full``.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from tagger.scan import AUDIO_EXTENSIONS

MANIFEST_FILE = "MANIFEST.tsv"

# GTZAN file names end in a five-digit clip id; clips of one artist mostly
# have consecutive ids, so blocks of ids approximate artist groups.
_ID_PATTERN = re.compile(r"\.(\d{5})(?:\.|$)")


class DatasetError(Exception):
    """The data set is missing or unusable; the message says why, for the user."""


@dataclass(frozen=True)
class LabelledTrack:
    """One audio file with its genre.

    Attributes
    ----------
    path : Path
        Audio file.
    genre : str
        Name of the genre folder it lies in.
    split : str
        ``"train"`` or ``"valid"`` (from the manifest; ``"train"`` without one).
    kind : str
        ``"full"``, ``"cut15s"`` or ``"excerpt"`` (``"full"`` without a manifest).
    group : str
        Tracks that probably share an artist share a group: ``<genre>.<block>``
        for blocks of consecutive GTZAN ids, else the file's own stem.
    """

    path: Path
    genre: str
    split: str
    kind: str
    group: str


def id_group(genre: str, stem: str, block: int = 10) -> str:
    """Group name of a file: its genre and block of ``block`` consecutive GTZAN ids.

    Parameters
    ----------
    genre : str
    stem : str
        File name without its extension, e.g. ``"blues.00042"``.
    block : int
        Ids per block.

    Returns
    -------
    str
        ``"blues.4"`` for ``blues.00042`` with blocks of 10; the stem itself
        when it holds no GTZAN id.
    """
    match = _ID_PATTERN.search(stem + ".")
    return f"{genre}.{int(match.group(1)) // block}" if match else f"{genre}.{stem}"


def read_manifest(data_dir: Path) -> dict[str, dict[str, str]]:
    """Rows of ``MANIFEST.tsv`` keyed by their ``file`` column; empty when there is none."""
    path = Path(data_dir) / MANIFEST_FILE
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        return {row["file"]: row for row in csv.DictReader(handle, delimiter="\t")}


def list_tracks(data_dir: Path, block: int = 10) -> list[LabelledTrack]:
    """Every audio file under the genre subfolders of ``data_dir``, sorted by path.

    Parameters
    ----------
    data_dir : Path
        Folder holding one subfolder per genre.
    block : int
        GTZAN ids per group, see :func:`id_group`.

    Raises
    ------
    DatasetError
        When the folder is missing or holds fewer than two genres with audio.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetError(f"{data_dir}: no such folder")
    manifest = read_manifest(data_dir)
    tracks = []
    for genre_dir in sorted(p for p in data_dir.iterdir() if p.is_dir()):
        for path in sorted(genre_dir.iterdir()):
            if path.suffix.lower() not in AUDIO_EXTENSIONS or not path.is_file():
                continue
            row = manifest.get(f"{genre_dir.name}/{path.name}", {})
            tracks.append(LabelledTrack(
                path=path, genre=genre_dir.name, split=row.get("split", "train"),
                kind=row.get("kind", "full"), group=id_group(genre_dir.name, _stem(path), block),
            ))
    if len(genres_of(tracks)) < 2:
        raise DatasetError(f"{data_dir}: needs at least two genre subfolders holding audio files")
    return tracks


def _stem(path: Path) -> str:
    """File name up to its first dot after the id: ``blues.00010.excerpt.flac`` -> ``blues.00010``."""
    match = _ID_PATTERN.search(path.name)
    return path.name[:match.end(1)] if match else path.stem


def genres_of(tracks: Iterable[LabelledTrack]) -> tuple[str, ...]:
    """Sorted genre names present in ``tracks``."""
    return tuple(sorted({t.genre for t in tracks}))


def hold_out_groups(tracks: Sequence[LabelledTrack], fraction: float = 0.2) -> list[LabelledTrack]:
    """Mark about ``fraction`` of each genre's groups ``valid``, the rest ``train``.

    For data sets without a manifest split. Groups are taken whole, so no
    group (probable artist) is on both sides; every genre with at least two
    groups gets at least one held-out group. Deterministic: the last groups
    in name order are held out.

    Parameters
    ----------
    tracks : sequence of LabelledTrack
    fraction : float
        Share of each genre's groups to hold out, 0-1.
    """
    held = set()
    for genre in genres_of(tracks):
        groups = sorted({t.group for t in tracks if t.genre == genre})
        if len(groups) >= 2:
            count = min(len(groups) - 1, max(1, round(fraction * len(groups))))
            held.update(groups[-count:])
    return [replace(t, split="valid" if t.group in held else "train") for t in tracks]


def select(tracks: Sequence[LabelledTrack], splits: Iterable[str] | None = None,
           kinds: Iterable[str] | None = None) -> list[LabelledTrack]:
    """Tracks whose split and kind are among those given (``None`` keeps all)."""
    splits = None if splits is None else set(splits)
    kinds = None if kinds is None else set(kinds)
    return [t for t in tracks if (splits is None or t.split in splits) and (kinds is None or t.kind in kinds)]


TRAINED_ON_FILE = "trained_on.txt"


def track_key(track: LabelledTrack) -> str:
    """``<genre>/<file name>``: names a track the same way whatever folder the data set sits in."""
    return f"{track.genre}/{track.path.name}"


def write_trained_on(model_dir: Path, tracks: Iterable[LabelledTrack]) -> None:
    """List beside a model the tracks it was trained on, so no one scores it on them by mistake."""
    keys = sorted(track_key(t) for t in tracks)
    (Path(model_dir) / TRAINED_ON_FILE).write_text("\n".join(keys) + "\n", encoding="utf-8")


def read_trained_on(model_dir: Path) -> set[str]:
    """Keys of the tracks a model was trained on (empty when it does not say)."""
    path = Path(model_dir) / TRAINED_ON_FILE
    return set(path.read_text(encoding="utf-8").split()) if path.is_file() else set()
