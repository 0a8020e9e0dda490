"""The user's labelled files: genre tags under a library, or labels stored by the review window.

Genre spellings are merged with :func:`tagger.genres.genre_key` ("Hip Hop",
"hip-hop" and "HipHop" are one genre); the model's genre ids are those keys and
the name written back is the user's most frequent spelling.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from tagger.genres import genre_key, preferred_spellings
from tagger.scan import scan_library
from tagger.tags import TagError, read_info


class LabelError(Exception):
    """The labels cannot train a model; the message says why, for the user."""


@dataclass(frozen=True)
class Label:
    """One labelled file.

    Attributes
    ----------
    path : Path
    genre : str
        Genre key (:func:`genre_key` of the name the user gave).
    name : str
        The name as the user spelled it on this file.
    artist : str
        Artist tag, else the album as ``"album: NAME"`` ("" when neither is there or
        readable); tracks of one artist (album) are kept on one side of the validation split.
    """

    path: Path
    genre: str
    name: str
    artist: str = ""


@dataclass
class LabelSet:
    """Labels ready for training.

    Attributes
    ----------
    labels : list of Label
    spellings : dict
        Genre key -> the user's preferred spelling.
    dropped : dict
        Genre key -> number of files, for genres dropped as too small.
    skipped : list of (Path, str)
        Files that could not be used, with the reason.
    """

    labels: list[Label]
    spellings: dict[str, str]
    dropped: dict[str, int]
    skipped: list[tuple[Path, str]]

    @property
    def genres(self) -> list[str]:
        """Genre keys present, sorted by the name shown to the user."""
        keys = {label.genre for label in self.labels}
        return sorted(keys, key=lambda k: (self.spellings.get(k, k).casefold(), k))

    def counts(self) -> Counter[str]:
        return Counter(label.genre for label in self.labels)


def from_tags(library: Path) -> tuple[list[Label], list[tuple[Path, str]]]:
    """Files under ``library`` whose tags hold a genre (the first one counts).

    Returns
    -------
    labels : list of Label
    skipped : list of (Path, str)
        Files whose tags could not be read, with the reason.
    """
    labels, skipped = [], []
    for path in scan_library(Path(library)):
        try:
            info = read_info(path)
        except TagError as exc:
            skipped.append((path, str(exc)))
            continue
        names = [g.strip() for g in info.genres if g.strip()]
        if names:
            labels.append(Label(path, genre_key(names[0]), names[0], _group_tag(info)))
    return labels, skipped


def _group_tag(info) -> str:
    """Artist, or album when the artist tag is empty: what held-out tracks are grouped by."""
    album = info.album.strip()
    return info.artist.strip() or (f"album: {album}" if album else "")


def group_key(label: Label) -> str:
    """Validation group of a label: its artist (or album), case-insensitive; else the file alone."""
    return label.artist.casefold() if label.artist else f"\0{label.path}"


def from_reviews(library: Path, state=None) -> list[Label]:
    """Labels the review window stored (corrections, accepted suggestions) for files under ``library``."""
    from tagger.state import State

    own = state is None
    state = state or State()
    try:
        rows = list(state.labels(under=Path(os.path.abspath(library))))
    finally:
        if own:
            state.close()
    labels = []
    for path, genre, _source in rows:
        if not genre or not genre.strip():
            continue
        try:
            artist = _group_tag(read_info(Path(path)))
        except TagError:
            artist = ""  # decoding will tell whether the file is usable at all
        labels.append(Label(Path(path), genre_key(genre), genre.strip(), artist))
    return labels


def prepare(labels: Sequence[Label], min_per_genre: int, skipped: Iterable[tuple[Path, str]] = (),
            source: str = "labelled files") -> LabelSet:
    """Merge spellings, drop genres with fewer than ``min_per_genre`` files, check two genres remain.

    Raises
    ------
    LabelError
        When there are no labels, or fewer than two genres are left.
    """
    if not labels:
        raise LabelError(f"no {source} found")
    spellings = preferred_spellings(label.name for label in labels)
    counts = Counter(label.genre for label in labels)
    dropped = {g: n for g, n in counts.items() if n < min_per_genre}
    kept = [label for label in labels if label.genre not in dropped]
    result = LabelSet(kept, spellings, dropped, list(skipped))
    check_genres(result, min_per_genre)
    return result


def check_genres(labels: LabelSet, min_per_genre: int) -> None:
    """Raise :class:`LabelError` unless at least two genres have ``min_per_genre`` files."""
    genres = labels.genres
    if len(genres) >= 2:
        return
    small = ", ".join(f"{labels.spellings.get(g, g)} ({n})" for g, n in sorted(labels.dropped.items()))
    note = f"; too few files (under {min_per_genre}): {small}" if small else ""
    if not genres:
        raise LabelError(f"no genre has {min_per_genre} or more labelled files{note}")
    raise LabelError(f"only one genre ({labels.spellings.get(genres[0], genres[0])}) has {min_per_genre} or more "
                     f"labelled files; a model needs two or more{note}")


def drop_small(labels: LabelSet, min_per_genre: int) -> LabelSet:
    """Drop genres that fell under ``min_per_genre`` files (after unreadable files were removed)."""
    counts = labels.counts()
    small = {g: n for g, n in counts.items() if n < min_per_genre}
    if small:
        labels.labels = [label for label in labels.labels if label.genre not in small]
        labels.dropped.update(small)
    check_genres(labels, min_per_genre)
    return labels


def hold_out(labels: Sequence[Label], fraction: float = 0.25, seed: int = 0) -> list[bool]:
    """Which labels are held out for validation.

    Tracks are grouped by artist (case-insensitive) where the artist tag
    exists, else each track is its own group; groups go whole to one side.
    Stratified: every genre with at least three files in two or more groups
    gets about ``fraction`` of its files held out (at least one), and keeps at
    least two training files.

    Returns
    -------
    list of bool
        True for held-out labels, in the order of ``labels``.
    """
    import numpy as np

    rng = np.random.default_rng(seed)
    group_of = [group_key(label) for label in labels]
    held_groups: set[str] = set()
    by_genre: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        by_genre.setdefault(label.genre, []).append(i)
    for genre in sorted(by_genre, key=lambda g: (len(by_genre[g]), g)):
        members = by_genre[genre]
        groups = sorted({group_of[i] for i in members})
        if len(members) < 3 or len(groups) < 2:
            continue
        target = max(1, int(round(fraction * len(members))))
        held = sum(group_of[i] in held_groups for i in members)
        for g in (groups[k] for k in rng.permutation(len(groups))):
            if held >= target:
                break
            if g in held_groups:
                continue
            size = sum(group_of[i] == g for i in members)
            left = len(members) - held - size
            if left < 2 or (held > 0 and held + size > 2 * target):
                continue
            held_groups.add(g)
            held += size
    return [g in held_groups for g in group_of]
