"""Write genres without ever leaving a half-written file.

mutagen rewrites files in place; a crash, a full disk or a power cut in the
middle would damage the file. Here the change is made to a copy in the same
folder, flushed to disk and checked, and only then swapped in with
``os.replace``, which is atomic: at every moment the file is either exactly
as before or exactly as after.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import stat
from dataclasses import dataclass
from pathlib import Path

from tagger.tags import Snapshot, TagError, genres_in, snapshot_and_length, write_snapshot


class WriteError(Exception):
    """A file was not written; it is unchanged. The message says why."""


class LeftAlone(WriteError):
    """A file deliberately not written: read-only, or changed since it was analysed. Not a failure."""


@dataclass(frozen=True)
class FileStamp:
    """Size and modification time, to notice a file changed behind our back."""

    size: int
    mtime_ns: int

    @classmethod
    def of(cls, path: Path) -> "FileStamp":
        st = os.stat(path)
        return cls(st.st_size, st.st_mtime_ns)


def check_writable(path: Path) -> None:
    """Raise :class:`LeftAlone` when ``path`` or its folder must not be written (:class:`WriteError` when it is gone).

    Permission bits are honoured even for root: a file or folder that the user
    made read-only stays untouched.
    """
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise WriteError("file vanished before writing") from None
    folder = Path(path).parent
    if not st.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(path, os.W_OK):
        raise LeftAlone("read-only file: not written")
    fst = os.stat(folder)
    if not fst.st_mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH) or not os.access(folder, os.W_OK):
        raise LeftAlone("read-only folder: not written (the tagger writes a checked copy beside the file)")


def replace_genre_fields(path: Path, new: Snapshot, expected: FileStamp | None = None,
                         keep_mtime: bool = False) -> tuple[Snapshot, FileStamp]:
    """Atomically set the genre fields of ``path`` to ``new``.

    Parameters
    ----------
    path : Path
        The file; a symbolic link is followed and its target replaced.
    new : Snapshot
        Genre fields to write (see :mod:`tagger.tags`); empty removes the genre.
    expected : FileStamp, optional
        Size and mtime the file had when it was analysed; if it differs now the
        file is left alone.
    keep_mtime : bool
        Give the written file its previous modification time.

    Returns
    -------
    (Snapshot, FileStamp)
        The genre fields the file had before, and its stamp after the write.

    Raises
    ------
    LeftAlone
        When the file is read-only (or its folder is) or changed since ``expected``.
    WriteError
        When nothing was written; the file then has every byte it had.
    """
    target = Path(os.path.realpath(path))
    check_writable(target)
    before_stamp = FileStamp.of(target)
    if expected is not None and before_stamp != expected:
        raise LeftAlone("file changed since it was analysed: not written")
    try:
        before, length = snapshot_and_length(target)
    except TagError as exc:
        raise WriteError(str(exc)) from None
    _remove_stale_copies(target.parent)
    temp = _copy_path(target, os.getpid())
    try:
        shutil.copy2(target, temp)
        write_snapshot(temp, new)
        _verify(temp, new, length)
        if keep_mtime:
            st = os.stat(target)
            os.utime(temp, ns=(st.st_atime_ns, st.st_mtime_ns))
        _fsync(temp)
        if FileStamp.of(target) != before_stamp:
            raise LeftAlone("file changed while it was being written: not written")
        os.replace(temp, target)
        _fsync(target.parent)
    except WriteError:
        _remove(temp)
        raise
    except TagError as exc:
        _remove(temp)
        raise WriteError(str(exc)) from None
    except OSError as exc:
        _remove(temp)
        raise WriteError(f"write failed, file unchanged: {exc.strerror or exc}") from None
    return before, FileStamp.of(target)


def _verify(temp: Path, new: Snapshot, length: float) -> None:
    """Check the copy before it replaces the original: tags parse, genre is right, audio length kept."""
    try:
        written, new_length = snapshot_and_length(temp)
    except TagError as exc:
        raise WriteError(f"written copy failed its check ({exc}): file unchanged") from None
    if genres_in(written) != genres_in(new):
        raise WriteError("written copy failed its check (genre not as written): file unchanged")
    if abs(new_length - length) > 1e-3:
        raise WriteError("written copy failed its check (audio length changed): file unchanged")


def _copy_path(target: Path, pid: int) -> Path:
    """Hidden name of the checked copy: short whatever the file's name, so it always fits NAME_MAX."""
    key = hashlib.sha1(os.fsencode(target.name)).hexdigest()[:12]
    return target.with_name(f".tagger-{key}-{pid}.tmp")


# The names _copy_path gives; the group is the pid of the process that made the copy.
_COPY_NAME = re.compile(r"\.tagger-[0-9a-f]{12}-(\d+)\.tmp")

# Folders this process has already cleared of killed runs' copies. Listing a folder for every
# file written cost 10 ms a write in a folder of 10,000 files; a copy left by a tagger killed
# after the sweep waits, hidden and harmless, for the next process.
_swept_folders: set[Path] = set()


def _remove_stale_copies(folder: Path) -> None:
    """Delete the checked copies that tagger processes since killed left in ``folder``, once per process."""
    if folder in _swept_folders:
        return
    try:
        with os.scandir(folder) as entries:
            copies = [match for entry in entries if (match := _COPY_NAME.fullmatch(entry.name))]
    except OSError:
        return
    for copy in copies:
        if not _alive(int(copy.group(1))):
            _remove(folder / copy.group(0))
    _swept_folders.add(folder)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _remove(path: Path) -> None:
    try:
        os.unlink(path)
    except OSError:
        pass
