"""Find the audio files of a library."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

# The registry's list, the one list of extensions; importable from here for the library walkers.
from tagger.formats import AUDIO_EXTENSIONS

__all__ = ["AUDIO_EXTENSIONS", "is_audio_path", "scan_library"]


def is_audio_path(path: Path) -> bool:
    """Whether ``path`` has one of the extensions the tagger handles (any case)."""
    return path.suffix.lower() in AUDIO_EXTENSIONS


def scan_library(root: Path) -> Iterator[Path]:
    """Yield the audio files under ``root``, depth first, in sorted order.

    Hidden files and folders (names starting with ".") are skipped. Symbolic
    links to folders are followed once: a link back into a folder already
    being walked is not entered again, so loops end.

    Parameters
    ----------
    root : Path
        Library folder, or a single audio file.

    Yields
    ------
    Path
        Absolute paths of audio files.
    """
    root = Path(os.path.abspath(root))
    if root.is_file():
        if is_audio_path(root):
            yield root
        return
    yield from _walk(root, set())


def _walk(folder: Path, ancestors: set[tuple[int, int]]) -> Iterator[Path]:
    try:
        st = folder.stat()
        with os.scandir(folder) as it:
            entries = sorted(it, key=lambda e: e.name)
    except OSError:
        return
    identity = (st.st_dev, st.st_ino)
    if identity in ancestors:
        return
    ancestors = ancestors | {identity}
    for entry in entries:
        if entry.name.startswith("."):
            continue
        path = folder / entry.name
        try:
            if entry.is_dir():
                yield from _walk(path, ancestors)
            elif entry.is_file() and is_audio_path(path):
                yield path
            elif entry.is_symlink() and not entry.is_file() and is_audio_path(path):
                # A dangling link with an audio name is reported, not hidden.
                yield path
        except OSError:
            # A link that points at itself (ELOOP) is a broken link too: report it, don't hide it.
            if entry.is_symlink() and is_audio_path(path):
                yield path
            continue
