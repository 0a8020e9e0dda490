"""Put back the genres a run replaced, from the journal."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from tagger.state import State
from tagger.tags import TagError, genres_in, read_snapshot
from tagger.writer import FileStamp, WriteError, replace_genre_fields


class UndoError(Exception):
    """There is nothing to undo, or the run named does not exist."""


@dataclass(frozen=True)
class UndoOutcome:
    path: str
    restored: bool
    message: str = ""


def settle_interrupted_writes(state: State) -> None:
    """Decide, from the files themselves, whether each write of a killed run landed.

    Writes are atomic, so each such file holds either the genre fields from
    before or those from after; the journal is brought in line with it.
    """
    for entry in state.pending_entries():
        try:
            current = genres_in(read_snapshot(Path(entry.path)))
        except (TagError, OSError):
            state.journal_failed(entry.id)
            continue
        if current == genres_in(entry.after) and current != genres_in(entry.before):
            stamp = FileStamp.of(Path(entry.path))
            state.journal_done(entry.id, entry.before, stamp.size, stamp.mtime_ns)
        else:
            state.journal_failed(entry.id)


def undoable_run(state: State, run_id: int | None = None, folder: Path | None = None) -> int:
    """The run to undo: ``run_id``, or the newest tagging run not yet undone that wrote something.

    With ``folder``, only runs over that library count: undoing in one library's
    window must not touch another library tagged since.
    """
    runs = {r.id: r for r in state.runs()}
    if run_id is not None:
        run = runs.get(run_id)
        if run is None:
            raise UndoError(f"no run {run_id} (see --history)")
        if run.undone_by is not None:
            raise UndoError(f"run {run_id} was already undone by run {run.undone_by}")
        return run_id
    library = Path(os.path.abspath(folder)) if folder is not None else None
    for run in sorted(runs.values(), key=lambda r: r.id, reverse=True):
        if library is not None and Path(os.path.abspath(run.folder)) != library:
            continue
        if run.kind == "tag" and run.undone_by is None and any(e.state == "done" for e in state.journal(run.id)):
            return run.id
    raise UndoError("nothing to undo: no run has written genres" + (f" in {library}" if library else ""))


def undo_run(state: State, run_id: int) -> tuple[int, list[UndoOutcome]]:
    """Restore the genre fields each file had before run ``run_id``.

    A file whose genre is no longer what the run wrote (changed by hand since)
    is left as it is and reported. The undo is itself a journaled run, so it
    can be undone in turn.

    Returns
    -------
    (int, list of UndoOutcome)
        The id of the undo run, and one outcome per file the run had changed.
    """
    folder = next(r.folder for r in state.runs() if r.id == run_id)
    undo_id = state.start_run("undo", Path(folder), undoes=run_id)
    outcomes = []
    restored = 0
    settle_interrupted_writes(state)
    for entry in state.journal(run_id):
        if entry.state != "done":
            continue
        path = Path(entry.path)
        try:
            current = read_snapshot(path)
        except TagError as exc:
            outcomes.append(UndoOutcome(entry.path, False, str(exc)))
            continue
        except FileNotFoundError:
            outcomes.append(UndoOutcome(entry.path, False, "file no longer exists"))
            continue
        if genres_in(current) != genres_in(entry.after):
            outcomes.append(UndoOutcome(entry.path, False, "genre changed since that run: left as it is"))
            continue
        intent = state.journal_intent(undo_id, path, current, entry.before)
        try:
            previous, stamp = replace_genre_fields(path, entry.before)
        except WriteError as exc:
            state.journal_failed(intent)
            outcomes.append(UndoOutcome(entry.path, False, str(exc)))
            continue
        state.journal_done(intent, previous, stamp.size, stamp.mtime_ns)
        # The user took that genre back: retraining from reviews must not learn it, whichever
        # front end wrote it or undoes it.
        state.remove_label(path)
        restored += 1
        outcomes.append(UndoOutcome(entry.path, True))
    state.mark_undone(run_id, undo_id)
    state.finish_run(undo_id, {"restored": restored, "skipped": len(outcomes) - restored})
    return undo_id, outcomes
