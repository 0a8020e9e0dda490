"""What the review window does with the engine, without any Qt: rows from outcomes, writing, undo.

Kept apart from the widgets so each step runs in a worker thread and can be
tested on its own; every tag write goes through :func:`tagger.batch.write_with_journal`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from tagger.batch import FileOutcome, write_with_journal
from tagger.config import Config
from tagger.lock import LibraryLock
from tagger.model import GenreModel
from tagger.policy import Policy, names_to_write, policy_from_config
from tagger.state import State
from tagger.tags import TagError, read_genres, read_info, read_snapshot
from tagger.undo import undo_run, undoable_run
from tagger.writer import FileStamp, WriteError

from tagger.gui.table_model import ERROR, NEW, UNCERTAIN, TrackRow


def policy_for(config: Config, model: GenreModel) -> Policy:
    """The dry-run policy the table is filled with: the settings ``tagger-batch`` would use."""
    return policy_from_config(config, model.settings, dry_run=True)


def row_from_outcome(outcome: FileOutcome, folder: Path, policy: Policy) -> TrackRow:
    """A table row for one classified file (reads its tags: call it off the GUI thread).

    Rows the batch tagger would write (empty genre, or a different one when
    overwriting) start accepted, so the review only has to look at the rest.
    """
    path = outcome.path
    row = TrackRow(path, _relative(path, folder), confidence=outcome.confidence, decision=outcome.decision,
                   message=outcome.message)
    try:
        info = read_info(path)
        row.artist, row.title, row.current = info.artist, info.title, info.genres
        row.stamp = FileStamp.of(path)
    except (TagError, OSError) as exc:
        row.status = ERROR
        # A file the engine could not analyse keeps the engine's reason ("empty file (0 bytes)"),
        # which says more than the tag reader's ("file said 4 bytes, read 0 bytes").
        if outcome.status != "error":
            row.message = str(exc) if isinstance(exc, TagError) else f"cannot read file: {exc}"
        return row
    if outcome.status == "error" or outcome.decision is None:
        row.status = ERROR
        return row
    row.model_suggestion = row.suggestion = "; ".join(names_to_write(outcome.decision, policy))
    row.message = ""
    if outcome.decision.silent:
        row.status, row.message = UNCERTAIN, "silent: nothing to classify"
        return row
    row.below_threshold = outcome.decision.confidence < policy.min_confidence
    row.refresh_status()
    if row.below_threshold:
        row.message = f"below {policy.min_confidence:.0%}"
    row.accepted = row.status == NEW or (row.status == "differs" and policy.overwrite)
    if outcome.status == "skipped":  # read-only: the dry run that fills the table knows it will not be written
        row.message, row.accepted = outcome.message, False
    return row


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:  # a single file opened as the "library"
        return path.name


@dataclass(frozen=True)
class WriteResult:
    """One file of a write: the genres now in it, or why it was left unchanged."""

    path: Path
    written: bool
    genres: list[str]
    message: str = ""
    stamp: FileStamp | None = None


def write_rows(state: State, folder: Path, rows: Iterable[tuple[Path, list[str], FileStamp | None]],
               model_id: str | None, keep_mtime: bool,
               progress: Callable[[WriteResult], None] | None = None) -> tuple[int, list[WriteResult]]:
    """Write each file's genres as one journaled, undoable run; a failure does not stop the others.

    Parameters
    ----------
    rows : iterable of (path, genres, stamp at analysis)
        A file whose stamp changed since it was analysed is not written.

    Returns
    -------
    (int, list of WriteResult)
        The run id and one result per file.

    Raises
    ------
    LibraryBusy
        Another tagger run holds the library.
    """
    results = []
    counts: Counter[str] = Counter()
    with LibraryLock(folder):
        run_id = state.start_run("tag", folder)
        try:
            for path, genres, stamp in rows:
                try:
                    before = read_snapshot(path)
                    new_stamp = write_with_journal(state, run_id, path, before, genres, stamp, keep_mtime, model_id)
                    result = WriteResult(path, True, genres, stamp=new_stamp)
                except (TagError, WriteError) as exc:
                    result = WriteResult(path, False, [], str(exc))
                except OSError as exc:
                    result = WriteResult(path, False, [], f"cannot read file: {exc.strerror or exc}")
                counts["tagged" if result.written else "error"] += 1
                if result.written:  # writing a genre confirms it: keep it as a label for retraining
                    state.set_label(path, "; ".join(genres), source="review")
                results.append(result)
                if progress:
                    progress(result)
        finally:
            state.finish_run(run_id, dict(counts))
    return run_id, results


@dataclass(frozen=True)
class UndoSummary:
    """What "Undo last write" did: the run it undid and the genres each file has now."""

    undone_run: int
    restored: list[WriteResult]
    not_restored: list[WriteResult]


def undo_last_write(state: State, folder: Path | None = None) -> UndoSummary:
    """Put back the genres the newest not-yet-undone tagging run (of library ``folder``, when given) replaced.

    Raises
    ------
    tagger.undo.UndoError
        Nothing to undo.
    LibraryBusy
        Another tagger run holds that library.
    """
    target = undoable_run(state, folder=folder)
    run_folder = Path(next(r.folder for r in state.runs() if r.id == target))
    with LibraryLock(run_folder):
        _, outcomes = undo_run(state, target)
    restored, not_restored = [], []
    for outcome in outcomes:
        path = Path(outcome.path)
        if not outcome.restored:
            not_restored.append(WriteResult(path, False, [], outcome.message))
            continue
        try:
            restored.append(WriteResult(path, True, read_genres(path), stamp=FileStamp.of(path)))
        except (TagError, OSError) as exc:
            restored.append(WriteResult(path, True, [], f"restored, but cannot read it back: {exc}"))
    return UndoSummary(target, restored, not_restored)


def unreadable_folder_reason(folder: Path) -> str | None:
    """Why ``folder`` cannot be opened as a library, or None when it can."""
    if not folder.exists():
        return f"{folder} does not exist"
    if not folder.is_dir():
        return f"{folder} is not a folder"
    if not os.access(folder, os.R_OK | os.X_OK):
        return f"{folder} cannot be read (permission denied)"
    return None
