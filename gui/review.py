"""What the review window does with the engine, without any Qt: rows from outcomes, writing, undo.

Kept apart from the widgets so each step runs in a worker thread and can be
tested on its own; every tag write goes through :func:`tagger.batch.write_with_journal`.
"""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tagger.batch import FileOutcome, write_with_journal
from tagger.config import Config
from tagger.lock import LibraryLock
from tagger.model import GenreModel
from tagger.policy import Policy, names_to_write, policy_from_config, same_genres
from tagger.state import State
from tagger.tags import TagError, genres_in, read_genres, read_info, read_snapshot
from tagger.undo import undo_run, undoable_run
from tagger.writer import FileStamp, LeftAlone, WriteError

from tagger.gui.table_model import DIFFERS, ERROR, NEW, SAME, SKIPPED, UNCERTAIN, TrackRow


# The label source of genres the user accepted, corrected or wrote in the window.
REVIEW_SOURCE = "review"


def policy_for(config: Config, model: GenreModel) -> Policy:
    """The dry-run policy the table is filled with: the settings ``tagger-batch`` would use."""
    return policy_from_config(config, model.settings, dry_run=True)


def row_from_outcome(outcome: FileOutcome, folder: Path, policy: Policy,
                     user_genres: Mapping[str, str] | None = None) -> TrackRow:
    """A table row for one classified file (reads its tags: call it off the GUI thread).

    Rows the batch tagger would write (empty genre, or a different one when
    overwriting) start accepted, so the review only has to look at the rest.

    Parameters
    ----------
    user_genres : mapping, optional
        Path (as text) -> genre the user chose in an earlier review (see :func:`review_labels`);
        a choice that differs from the model's is shown as the row's correction.
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
        row.status, row.model_note = UNCERTAIN, "silent: nothing to classify"
        return row
    row.below_threshold = outcome.decision.confidence < policy.min_confidence
    if row.below_threshold:
        row.model_note = f"below {policy.min_confidence:.0%}"
    row.suggestion = (user_genres or {}).get(str(path), row.suggestion)
    row.refresh_status()
    row.accepted = (row.status == NEW or (row.status == DIFFERS and policy.overwrite)
                    or (row.corrected and row.status != SAME))
    if outcome.status == "skipped":  # read-only: the dry run that fills the table knows it will not be written
        row.status, row.message, row.accepted = SKIPPED, outcome.message, False
    return row


def review_labels(state: State, folder: Path) -> dict[str, str]:
    """Path (as text) -> genre of the labels the user gave in the window for files under ``folder``."""
    return {path: genre for path, genre, source in state.labels(folder) if source == REVIEW_SOURCE}


def bulk_accepts(row: TrackRow, threshold: float, may_replace: bool) -> bool:
    """Whether "Accept shown >= N%" ticks ``row``: the policy ``tagger-batch`` writes by.

    A suggestion that fills an empty genre is taken; one that would replace the user's
    own genre only when ``may_replace`` (the overwrite setting, or the user asking for
    "differs" rows explicitly); a file that already holds the suggestion never.

    Parameters
    ----------
    threshold : float
        Lowest model confidence taken, as a probability (0-1).
    """
    if not row.can_accept or row.confidence is None or row.confidence < threshold or row.status == SAME:
        return False
    return not row.current or may_replace


def _relative(path: Path, folder: Path) -> str:
    try:
        return str(path.relative_to(folder))
    except ValueError:  # a single file opened as the "library"
        return path.name


@dataclass(frozen=True)
class WriteResult:
    """One file of a write: the genres now in it, or why it was left unchanged.

    Attributes
    ----------
    previous : list of str
        The genres the file held before (what a write replaced).
    already_right : bool
        The file held the genres already, so it was left untouched (same bytes, same mtime).
    left_alone : bool
        Deliberately not written (read-only, or changed since it was analysed): skipped, not failed.
    """

    path: Path
    written: bool
    genres: list[str]
    message: str = ""
    stamp: FileStamp | None = None
    previous: list[str] = field(default_factory=list)
    already_right: bool = False
    left_alone: bool = False


@dataclass(frozen=True)
class WriteCounts:
    """How many files a write fills, replaces and leaves alone, for the question before it and the result after."""

    new: int
    replaced: list[tuple[str, str]]
    already_right: int

    @classmethod
    def of(cls, changes: Iterable[tuple[list[str], list[str]]]) -> WriteCounts:
        """Count (genres before, genres after) pairs of the files to write or written."""
        new, replaced, already_right = 0, [], 0
        for before, after in changes:
            if before and same_genres(before, after):
                already_right += 1
            elif before:
                replaced.append(("; ".join(before), "; ".join(after)))
            else:
                new += 1
        return cls(new, replaced, already_right)

    def describe(self, shown: int = 3) -> str:
        """E.g. "2 new, 1 replaced (Chill Stuff -> Jazz), 4 skipped as already right"; the first ``shown`` named."""
        parts = [f"{self.new} new", f"{len(self.replaced)} replaced"]
        if self.replaced:
            named = ", ".join(f"{old} -> {new}" for old, new in self.replaced[:shown])
            more = len(self.replaced) - shown
            parts[-1] += f" ({named}{f', and {more} more' if more > 0 else ''})"
        parts.append(f"{self.already_right} skipped as already right")
        return ", ".join(parts)


def write_rows(state: State, folder: Path, rows: Iterable[tuple[Path, list[str], FileStamp | None]],
               model_id: str | None, keep_mtime: bool,
               progress: Callable[[WriteResult], None] | None = None) -> tuple[int, list[WriteResult]]:
    """Write each file's genres as one journaled, undoable run; a failure does not stop the others.

    A file that already holds the genres is not written at all (its bytes and
    modification time stay as they are) and comes back ``already_right``.

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
                result = _write_one(state, run_id, path, genres, stamp, keep_mtime, model_id)
                counts[_count_key(result)] += 1
                if result.written:  # writing a genre confirms it: keep it as a label for retraining
                    state.set_label(path, "; ".join(genres), source=REVIEW_SOURCE)
                results.append(result)
                if progress:
                    progress(result)
        finally:
            state.finish_run(run_id, dict(counts))
    return run_id, results


def _count_key(result: WriteResult) -> str:
    """The run-history status of one write result, in tagger-batch's words."""
    if result.written:
        return "tagged"
    if result.already_right:
        return "unchanged"
    return "skipped" if result.left_alone else "error"


def _write_one(state: State, run_id: int, path: Path, genres: list[str], stamp: FileStamp | None,
               keep_mtime: bool, model_id: str | None) -> WriteResult:
    """Write one file's genres, unless it holds them already; errors come back as an unwritten result."""
    try:
        before = read_snapshot(path)
        previous = genres_in(before)
        if previous and same_genres(previous, genres):
            return WriteResult(path, False, previous, f"already {'; '.join(previous)}: not rewritten",
                               previous=previous, already_right=True)
        new_stamp = write_with_journal(state, run_id, path, before, genres, stamp, keep_mtime, model_id)
        return WriteResult(path, True, genres, stamp=new_stamp, previous=previous)
    except LeftAlone as exc:
        return WriteResult(path, False, [], str(exc), left_alone=True)
    except (TagError, WriteError) as exc:
        return WriteResult(path, False, [], str(exc))
    except OSError as exc:
        return WriteResult(path, False, [], f"cannot read file: {exc.strerror or exc}")


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
    state.commit()
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
