"""One run at a time per library."""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path

from tagger.paths import data_dir


class LibraryBusy(Exception):
    """Another tagger process is working on the same library."""


class LibraryLock:
    """An exclusive lock on a library folder, held for the life of a run.

    The lock is an advisory ``flock`` on a file in the user's data folder, so
    it disappears with the process that held it, even when that was killed.
    """

    def __init__(self, folder: Path) -> None:
        key = hashlib.sha1(str(Path(folder).resolve()).encode()).hexdigest()[:16]
        locks = data_dir() / "locks"
        locks.mkdir(parents=True, exist_ok=True)
        self.path = locks / f"{key}.lock"
        self.folder = folder
        self._fd: int | None = None

    def __enter__(self) -> "LibraryLock":
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LibraryBusy(f"another tagger run (process {holder}) is working on {self.folder}; "
                              "wait for it to finish") from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None
