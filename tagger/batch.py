"""A tagging run over a library: the core that both front ends drive.

scan -> (cached result | classify) -> decide what to do -> write with a journal.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from tagger.decision import Decision, confidence_text, shown_confidence
from tagger.cached import classify_cached
from tagger.engine import Classification, Classifier
from tagger.model import GenreModel
from tagger.policy import Policy, Verdict, genre_verdict, names_to_write, same_genres, threshold_text, top_text
from tagger.scan import scan_library
from tagger.state import State
from tagger.tags import Snapshot, TagError, genres_in, read_snapshot, snapshot_for
from tagger.undo import settle_interrupted_writes
from tagger.writer import FileStamp, LeftAlone, WriteError, check_writable, replace_genre_fields

STATUSES = ("tagged", "would-tag", "kept-existing", "uncertain", "unchanged", "skipped", "error")


@dataclass(frozen=True)
class FileOutcome:
    """What happened to one file; one row of the report."""

    path: Path
    status: str
    genre: str = ""
    confidence: float | None = None
    top3: str = ""
    previous_genre: str = ""
    message: str = ""
    decision: Decision | None = None

    def report_row(self) -> dict[str, object]:
        # Rounded down like every confidence shown, so the row's two decimals are those of its top3.
        confidence = None if self.confidence is None else shown_confidence(self.confidence, decimals=4)
        return {
            "path": str(self.path), "status": self.status, "genre": self.genre, "confidence": confidence,
            "top3": self.top3, "previous_genre": self.previous_genre, "message": self.message,
        }


def choose_status(decision: Decision, existing: list[str], new: list[str], policy: Policy,
                  own_run: int | None = None) -> tuple[str, str]:
    """Status for a classified file, and a short message explaining it.

    Parameters
    ----------
    existing, new : list of str
        Genres in the file now, and those the decision would write.
    own_run : int, optional
        The run that wrote ``existing``, when that genre is the tagger's own.
    """
    verdict = genre_verdict(existing, new, decision.confidence >= policy.min_confidence)
    if verdict is Verdict.UNCERTAIN:
        return "uncertain", (f"confidence {confidence_text(decision.confidence)} below "
                             f"{threshold_text(policy.min_confidence)}: not written")
    if verdict is Verdict.UNCHANGED:
        return "unchanged", "genre already as predicted"
    if verdict is Verdict.REPLACE and not policy.overwrite:
        if own_run is None:
            return "kept-existing", "has a genre already (use --overwrite to replace it)"
        return "kept-existing", (f"the tagger's own genre from run {own_run}, but the model now says "
                                 f"{'; '.join(new)} (use --overwrite to re-tag)")
    if policy.dry_run:
        own = "" if own_run is None else f", would re-tag the tagger's own genre from run {own_run}"
        return "would-tag", f"dry run: nothing written{own}"
    return "tagged", "" if own_run is None else f"re-tagged: the genre was the tagger's own, from run {own_run}"


class BatchRun:
    """Tag every audio file under a folder.

    Parameters
    ----------
    folder : Path
        Library folder (or a single file).
    model : GenreModel
    state : State
        Cache, journal and labels.
    policy : Policy
    workers : int, optional
        Decode threads.
    rescan : bool
        Ignore cached results and analyse every file again.
    """

    def __init__(self, folder: Path, model: GenreModel, state: State, policy: Policy,
                 workers: int | None = None, rescan: bool = False) -> None:
        self.folder = Path(os.path.abspath(folder))
        self.model = model
        self.state = state
        self.policy = policy
        self.classifier = Classifier(model, workers)
        self.rescan = rescan
        self.counts: Counter[str] = Counter()
        self.run_id: int | None = None
        self._last_writes: dict[str, tuple[int, str, Snapshot]] | None = None

    def files(self) -> list[Path]:
        """The audio files the run covers, in order."""
        return list(scan_library(self.folder))

    def run(self, files: list[Path] | None = None, cancel: threading.Event | None = None,
            on_outcome: Callable[[FileOutcome], None] | None = None) -> Iterator[FileOutcome]:
        """Process the files, yielding one outcome per file as it is done."""
        files = self.files() if files is None else files
        if not self.policy.dry_run:
            settle_interrupted_writes(self.state)
            self.run_id = self.state.start_run("tag", self.folder)
        try:
            for result, stamp in classify_cached(self.classifier, self.state, files, self.rescan, cancel):
                if stamp is None:
                    yield self._count(FileOutcome(result.path, "error", message=result.error))
                else:
                    yield self._count(self._act(result, stamp))
        finally:
            self.state.commit()
            if self.run_id is not None:
                self.state.finish_run(self.run_id, dict(self.counts))

    def _count(self, outcome: FileOutcome) -> FileOutcome:
        self.counts[outcome.status] += 1
        return outcome

    def _act(self, result: Classification, stamp: FileStamp) -> FileOutcome:
        path = result.path
        if result.decision is None:
            return FileOutcome(path, "error", message=result.error or "cannot analyse")
        decision = result.decision
        new = names_to_write(decision, self.policy)
        common = dict(genre=new[0], confidence=decision.confidence, top3=top_text(decision, self.policy),
                      decision=decision)
        try:
            before = read_snapshot(path)
        except TagError as exc:
            return FileOutcome(path, "error", message=str(exc), **common)
        existing = genres_in(before)
        common["previous_genre"] = "; ".join(existing)
        if decision.silent:
            return FileOutcome(path, "uncertain", message="silent: nothing to classify", **common)
        status, message = choose_status(decision, existing, new, self.policy, self._own_run(path, existing))
        if status == "would-tag":
            status, message = _predicted_write(path, message)
        if status != "tagged":
            return FileOutcome(path, status, message=message, **common)
        try:
            write_with_journal(self.state, self.run_id, path, before, new, stamp, self.policy.keep_mtime,
                               self.model.model_id)
        except WriteError as exc:
            return FileOutcome(path, _unwritten_status(exc), message=str(exc), **common)
        return FileOutcome(path, "tagged", message=message, **common)

    def _own_run(self, path: Path, existing: list[str]) -> int | None:
        """The run that wrote ``existing`` into ``path``, when the genre there is the tagger's own."""
        if not existing:
            return None
        if self._last_writes is None:  # read once per run, and only when some file has a genre
            self._last_writes = self.state.last_writes()
        last = self._last_writes.get(str(path))
        if last is None:
            return None
        run_id, kind, written = last
        return run_id if kind == "tag" and same_genres(genres_in(written), existing) else None


def _predicted_write(path: Path, message: str) -> tuple[str, str]:
    """A dry run's status and message for a file it would write: what a real run would meet."""
    try:
        check_writable(Path(os.path.realpath(path)))
    except WriteError as exc:
        return _unwritten_status(exc), str(exc)
    return "would-tag", message


def _unwritten_status(exc: WriteError) -> str:
    """``skipped`` for a file deliberately left alone (read-only, changed meanwhile), else ``error``."""
    return "skipped" if isinstance(exc, LeftAlone) else "error"


def write_with_journal(state: State, run_id: int, path: Path, before: Snapshot, genres: list[str],
                       stamp: FileStamp | None = None, keep_mtime: bool = False,
                       model_id: str | None = None) -> FileStamp:
    """Write ``genres`` into ``path`` atomically, journaled under run ``run_id`` so it can be undone.

    Parameters
    ----------
    before : Snapshot
        The genre fields as they were read when the decision was made.
    stamp : FileStamp, optional
        Size and mtime at analysis; the file is left alone if it changed since.
    model_id : str, optional
        Model whose cached result is kept valid after the write.

    Returns
    -------
    FileStamp
        The file's size and mtime after the write.

    Raises
    ------
    WriteError
        The file was not written and is unchanged.
    """
    after = snapshot_for(path, genres)
    entry = state.journal_intent(run_id, path, before, after)
    try:
        previous, new_stamp = replace_genre_fields(path, after, stamp, keep_mtime)
    except WriteError:
        state.journal_failed(entry)
        raise
    state.journal_done(entry, previous, new_stamp.size, new_stamp.mtime_ns)
    if model_id:
        state.restamp_result(path, model_id, new_stamp.size, new_stamp.mtime_ns)
    return new_stamp
