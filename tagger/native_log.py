"""Keep what C libraries print on the process's stderr off the user's terminal.

libsndfile's MP3 decoder (mpg123) writes notes and warnings straight to file
descriptor 2 for every damaged MP3 ("Note: Illegal Audio-MPEG-Header ...",
"Warning: Xing stream size off ..."), from whichever decoder thread meets them:
they cut through the progress bar, name no file, and repeat what the tool's own
one-line error for that file says. No library call turns them off, and with
decoders on several threads fd 2 cannot be switched off around each call.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from pathlib import Path


@contextlib.contextmanager
def native_stderr_to(log: Path) -> Iterator[Path | None]:
    """Point file descriptor 2 at ``log`` (emptied first); ``sys.stderr`` keeps the terminal.

    Everything Python prints (progress bar, messages, tracebacks) goes through
    ``sys.stderr`` and still reaches the user; only what C code writes to fd 2
    lands in ``log``. Both are put back on exit. Yields None, and changes
    nothing, when ``log`` cannot be written.
    """
    try:
        target = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    except OSError:
        yield None
        return
    previous = sys.stderr
    previous.flush()
    terminal = os.dup(2)
    if _writes_to_fd2(previous):
        sys.stderr = open(terminal, "w", buffering=1, encoding=previous.encoding,  # noqa: SIM115
                          errors=previous.errors, closefd=False)
    os.dup2(target, 2)
    os.close(target)
    try:
        yield log
    finally:
        sys.stderr.flush()
        os.dup2(terminal, 2)
        if sys.stderr is not previous:
            sys.stderr.close()
            sys.stderr = previous
        os.close(terminal)


def _writes_to_fd2(stream) -> bool:
    # A stream captured or replaced by the caller (a test, an embedding program) is left alone.
    try:
        return stream.fileno() == 2
    except (AttributeError, OSError, ValueError):
        return False
