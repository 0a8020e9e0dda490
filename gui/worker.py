"""Background threads: classification and tag writing never run on the GUI thread.

Each worker is a QThread whose ``run`` drives the engine; its signals are
emitted from that thread and Qt queues them to the window, so the window only
ever touches its widgets from the GUI thread. Nothing raised in a worker
reaches the terminal: it arrives as a ``failed`` message.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path

from PySide6.QtCore import QThread, Signal

from tagger.batch import BatchRun
from tagger.config import Config
from tagger.engine import default_workers
from tagger.lock import LibraryBusy, LibraryLock
from tagger.model import GenreModel, ModelError
from tagger.state import State
from tagger.undo import UndoError

from tagger.gui.review import policy_for, row_from_outcome

# Niceness added to the threads that classify and write, so that the window's own thread,
# whose work is short but must not wait, gets a core as soon as it needs one.
BACKGROUND_NICENESS = 10

# Rows reach the table at most this often: one insert per batch keeps 20,000 rows smooth.
FLUSH_SECONDS = 0.15


def lower_thread_priority() -> None:
    """Run the calling thread, and the threads it starts from now on, at a lower CPU priority.

    On a 2-core machine the decoders and the model keep both cores busy; at the
    same priority the window's thread waits its turn behind them and the window
    freezes for a tenth of a second at a time. Linux gives each thread its own
    niceness (and new threads inherit it), so only this thread and its
    children are lowered; elsewhere this does nothing.
    """
    if not sys.platform.startswith("linux"):
        return
    thread = threading.get_native_id()
    try:
        os.setpriority(os.PRIO_PROCESS, thread, os.getpriority(os.PRIO_PROCESS, thread) + BACKGROUND_NICENESS)
    except OSError:
        pass  # not permitted here: the run still works, only less smoothly


def _describe(exc: BaseException) -> str:
    """A one-line message for an error the engine did not anticipate."""
    return f"unexpected error: {type(exc).__name__}: {exc}"


class ClassifyWorker(QThread):
    """Load the model (unless given), scan the folder and classify it as a dry run.

    Signals
    -------
    model_ready(object)
        The loaded :class:`GenreModel`, so the window can reuse it for the next run.
    scanned(int)
        Number of audio files found.
    rows_ready(list)
        A batch of :class:`tagger.gui.table_model.TrackRow`, in the order files finished.
    failed(str)
        The run could not start or stopped early (model missing, no audio, library busy...).
    done(bool)
        Always emitted last; True when the run was cancelled.
    """

    model_ready = Signal(object)
    scanned = Signal(int)
    rows_ready = Signal(list)
    failed = Signal(str)
    done = Signal(bool)

    def __init__(self, folder: Path, config: Config, state: State, model: GenreModel | None = None,
                 rescan: bool = False, parent=None, user_genres: Mapping[str, str] | None = None) -> None:
        """``user_genres``: path (as text) -> genre the user chose in an earlier review, shown as a correction."""
        super().__init__(parent)
        self.user_genres = dict(user_genres or {})
        self.folder = folder
        self.config = config
        self.state = state
        self.model = model
        self.rescan = rescan
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        """Start no new file; files already being decoded still finish and are shown."""
        self.cancel_event.set()

    def run(self) -> None:
        lower_thread_priority()
        try:
            self._classify()
        except (ModelError, LibraryBusy) as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the window instead of killing the thread
            self.failed.emit(_describe(exc))
        finally:
            self.done.emit(self.cancel_event.is_set())

    def _classify(self) -> None:
        if self.model is None:
            self.model = GenreModel.load(self.config["model"], threads=default_workers())
            self.model_ready.emit(self.model)
        policy = policy_for(self.config, self.model)
        with LibraryLock(self.folder):
            run = BatchRun(self.folder, self.model, self.state, policy,
                           workers=self.config["workers"] or default_workers(), rescan=self.rescan)
            files = run.files()
            if not files:
                self.failed.emit(f"no audio files found under {self.folder}")
                return
            self.scanned.emit(len(files))
            batch = []
            last_flush = 0.0
            for outcome in run.run(files, self.cancel_event):
                batch.append(row_from_outcome(outcome, run.folder, policy, self.user_genres))
                if time.monotonic() - last_flush >= FLUSH_SECONDS:
                    self.rows_ready.emit(batch)
                    batch, last_flush = [], time.monotonic()
            if batch:
                self.rows_ready.emit(batch)


class TaskWorker(QThread):
    """Run one function (a write, an undo) off the GUI thread.

    The function gets a ``progress`` callable to report each item it finishes.

    Signals
    -------
    progress(object)
        Whatever the function reports.
    succeeded(object)
        Its return value.
    failed(str)
        Why it stopped.
    """

    progress = Signal(object)
    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, function: Callable[[Callable[[object], None]], object], parent=None) -> None:
        super().__init__(parent)
        self._function = function

    def run(self) -> None:
        lower_thread_priority()
        try:
            self.succeeded.emit(self._function(self.progress.emit))
        except (LibraryBusy, UndoError, OSError) as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the window instead of killing the thread
            self.failed.emit(_describe(exc))
