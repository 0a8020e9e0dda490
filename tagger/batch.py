"""A tagging run over a library: the core that both front ends drive.

scan -> (cached result | classify) -> decide what to do -> write with a journal.
"""

from __future__ import annotations

import os
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from tagger.decision import Decision, decide, shown_confidence
from tagger.engine import Classification, Classifier
from tagger.genres import display_name, genre_key
from tagger.model import GenreModel
from tagger.scan import scan_library
from tagger.state import State
from tagger.tags import Snapshot, TagError, genres_in, read_snapshot, snapshot_for
from tagger.undo import settle_interrupted_writes
from tagger.writer import FileStamp, WriteError, replace_genre_fields

STATUSES = ("tagged", "would-tag", "kept-existing", "uncertain", "unchanged", "error")


@dataclass(frozen=True)
class Policy:
    """What a run may write.

    Attributes
    ----------
    overwrite : bool
        Replace genres that are already there (default: only fill empty ones).
    dry_run : bool
        Write nothing; report what would be written.
    min_confidence : float
        Below this probability a file is ``uncertain`` and left alone.
    top_k : int
        How many of the most likely genres to write.
    genre_names : mapping
        Genre id -> name to write, overriding the model's and built-in names.
    keep_mtime : bool
        Give written files back their modification time.
    """

    overwrite: bool = False
    dry_run: bool = False
    min_confidence: float = 0.0
    top_k: int = 1
    genre_names: Mapping[str, str] = field(default_factory=dict)
    keep_mtime: bool = False


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
        return {
            "path": str(self.path), "status": self.status, "genre": self.genre,
            "confidence": None if self.confidence is None else round(self.confidence, 4),
            "top3": self.top3, "previous_genre": self.previous_genre, "message": self.message,
        }


def names_to_write(decision: Decision, model: GenreModel, policy: Policy) -> list[str]:
    """Display names of the genres a decision writes (the top ``policy.top_k``)."""
    return [display_name(g, model.settings.display_names, policy.genre_names)
            for g, _ in decision.top(max(1, policy.top_k))]


def choose_status(decision: Decision, existing: list[str], new: list[str], policy: Policy) -> tuple[str, str]:
    """Status for a classified file, and a short message explaining it."""
    if decision.confidence < policy.min_confidence:
        shown = shown_confidence(decision.confidence)
        return "uncertain", f"confidence {shown:.2f} below {policy.min_confidence:.2f}: not written"
    if existing and not policy.overwrite:
        return "kept-existing", "has a genre already (use --overwrite to replace it)"
    if _genre_keys(existing) == _genre_keys(new):
        return "unchanged", "genre already as predicted"
    return ("would-tag", "dry run: nothing written") if policy.dry_run else ("tagged", "")


def _genre_keys(values: list[str]) -> list[str]:
    # An ID3v2.3 tag holds several genres as one "Rock/Jazz" value.
    return [genre_key(part) for value in values for part in value.split("/")]


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
            to_classify = []
            stamps: dict[Path, FileStamp] = {}
            for path in files:
                if cancel and cancel.is_set():
                    break
                try:
                    stamps[path] = FileStamp.of(path)
                except OSError as exc:
                    yield self._count(FileOutcome(path, "error", message=_stat_reason(exc)))
                    continue
                cached = None if self.rescan else self.state.cached_result(
                    path, self.model.model_id, stamps[path].size, stamps[path].mtime_ns)
                if cached is None:
                    to_classify.append(path)
                else:
                    decision = decide(cached.window_probs, self.model.settings.genres, cached.window_starts,
                                      cached.silent)
                    yield self._count(self._act(Classification(path, decision, cached.duration), stamps[path]))
            for result in self.classifier.classify(to_classify, cancel):
                stamp = stamps[result.path]
                if result.decision is not None:
                    self.state.store_result(result.path, self.model.model_id, stamp.size, stamp.mtime_ns,
                                            result.duration, result.decision)
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
        new = names_to_write(decision, self.model, self.policy)
        common = dict(genre=new[0], confidence=decision.confidence, top3=decision.top_text(3), decision=decision)
        try:
            before = read_snapshot(path)
        except TagError as exc:
            return FileOutcome(path, "error", message=str(exc), **common)
        existing = genres_in(before)
        previous = "; ".join(existing)
        if decision.silent:
            return FileOutcome(path, "uncertain", previous_genre=previous,
                               message="silent: nothing to classify", **common)
        status, message = choose_status(decision, existing, new, self.policy)
        if status != "tagged":
            return FileOutcome(path, status, previous_genre=previous, message=message, **common)
        try:
            write_with_journal(self.state, self.run_id, path, before, new, stamp, self.policy.keep_mtime,
                               self.model.model_id)
        except WriteError as exc:
            return FileOutcome(path, "error", previous_genre=previous, message=str(exc), **common)
        return FileOutcome(path, "tagged", previous_genre=previous, **common)


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


def _stat_reason(exc: OSError) -> str:
    if isinstance(exc, FileNotFoundError):
        return "file not found (dangling link or removed during the run)"
    return f"cannot read file: {exc.strerror or exc}"
