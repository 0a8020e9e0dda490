"""What ``beet genretag`` does: classify items with the engine, journal and apply their genres, or undo.

Every change goes the way beets changes an item (``item.try_write()`` honouring
beets' ``write`` and ``id3v23`` settings, then ``item.store()``), so the
database and the files agree; each is recorded in the tagger's journal before it
is made. A journal snapshot holds the file's own genre fields, as ``tagger-batch``
records them, plus the database's values and the item's id under the keys below.
"""

from __future__ import annotations

import functools
import logging
import os
from collections import Counter
from collections.abc import Iterable, Iterator
from pathlib import Path

from beets import ui
from beets.library import Item, Library

from beetsplug.genretagger.fields import library_values, names_in, set_library_values, values_for
from beetsplug.genretagger.options import TagOptions
from tagger.batch import choose_status
from tagger.cached import classify_cached
from tagger.decision import confidence_text
from tagger.engine import Classification, Classifier, default_workers
from tagger.lock import LibraryBusy, LibraryLock
from tagger.model import GenreModel, ModelError
from tagger.policy import Policy, names_to_write
from tagger.state import JournalEntry, State
from tagger.tags import TagError, read_snapshot, snapshot_for
from tagger.undo import settle_interrupted_writes
from tagger.writer import FileStamp

# Kind of the runs in the tagger's history (``tagger-batch --history``); their folder is beets' library file.
RUN_KIND = "beets"
# Journal snapshot keys beside the file's genre fields; tagger.tags reads and writes only its own keys.
LIBRARY_KEY = "beets:genres"
ITEM_KEY = "beets:item"
KEPT_EXISTING = "has a genre already (-f/--force replaces it)"


class ChangeError(Exception):
    """An item's genre could not be changed; nothing was."""


def library_file(lib: Library) -> Path:
    """beets' library database file, which names its runs in the journal and its lock."""
    return Path(os.path.abspath(os.fsdecode(lib.path)))


@functools.cache
def load_model(name: str) -> GenreModel:
    """The model ``name``, loaded once per process (an import calls the plugin once per album).

    Raises
    ------
    beets.ui.UserError
        No such model, or it cannot be loaded.
    """
    try:
        return GenreModel.load(name, threads=default_workers())
    except ModelError as exc:
        raise ui.UserError(f"genretagger: {exc}") from None


def tag_items(lib: Library, items: Iterable[Item], options: TagOptions, log: logging.Logger) -> Counter[str]:
    """Classify ``items`` and give them genres in the database and their files, as ``options`` say.

    Returns
    -------
    Counter
        Items per outcome: tagged, would-tag, kept-existing, uncertain, unchanged, error.
    """
    items = list(items)
    if not items:
        # An import task whose items were all skipped: nothing to say.
        return Counter()
    model = load_model(options.model)
    state = State()
    try:
        with LibraryLock(library_file(lib)):
            counts = GenretagRun(lib, state, model, options, log).run(items)
    except LibraryBusy as exc:
        raise ui.UserError(f"genretagger: {exc}") from None
    finally:
        state.close()
    note = " (pretend: nothing changed)" if options.pretend else ""
    ui.print_(f"genretag: {len(items)} items: {_counts_text(counts)}{note}")
    return counts


class GenretagRun:
    """One ``beet genretag`` over a list of items (or the items of one import task)."""

    def __init__(self, lib: Library, state: State, model: GenreModel, options: TagOptions,
                 log: logging.Logger) -> None:
        self.lib = lib
        self.state = state
        self.model = model
        self.options = options
        self.log = log
        threshold = model.settings.min_confidence if options.min_confidence is None else options.min_confidence
        self.policy = Policy(overwrite=options.force, dry_run=options.pretend, min_confidence=threshold,
                             top_k=options.count, genre_names=options.genre_names,
                             model_names=model.settings.display_names)
        self.run_id: int | None = None

    def run(self, items: list[Item]) -> Counter[str]:
        """Classify and tag ``items``; the run is journaled unless it only pretends."""
        counts: Counter[str] = Counter()
        if not self.options.pretend:
            settle_interrupted_writes(self.state)
            self.run_id = self.state.start_run(RUN_KIND, library_file(self.lib))
        try:
            for item, result in self._classified(items):
                counts[self._handle(item, result)] += 1
        finally:
            self.state.commit()
            if self.run_id is not None:
                self.state.finish_run(self.run_id, dict(counts))
        return counts

    def _classified(self, items: list[Item]) -> Iterator[tuple[Item, Classification]]:
        by_path = {Path(os.fsdecode(item.path)): item for item in items}
        for result, _stamp in classify_cached(Classifier(self.model), self.state, by_path):
            yield by_path[result.path], result

    def _handle(self, item: Item, result: Classification) -> str:
        """Decide and apply the genre of one item; returns its outcome."""
        if result.decision is None:
            self.log.warning("{}: skipped: {}", item_name(item), result.error or "cannot analyse")
            return "error"
        decision = result.decision
        separator = self.options.separator
        existing = names_in(library_values(item), separator)
        new = names_to_write(decision, self.policy)
        if decision.silent:
            status, message = "uncertain", "silent: nothing to classify"
        else:
            status, message = choose_status(decision, existing, new, self.policy)
        if status not in ("tagged", "would-tag"):
            self.log.info("{}: {}", item_name(item), KEPT_EXISTING if status == "kept-existing" else message)
            return status
        if status == "tagged":
            status = self._apply(item, values_for(new, separator))
        if status != "error":
            ui.print_(f"{item_name(item)}: {_shown(existing, separator)} -> {_shown(new, separator)}"
                      f" ({confidence_text(decision.confidence)})")
        return status

    def _apply(self, item: Item, values: list[str]) -> str:
        try:
            stamp = change_genres(self.state, self.run_id, item, values, self.options.write)
        except ChangeError as exc:
            self.log.warning("{}: skipped: {}", item_name(item), exc)
            return "error"
        # Our own write changed the file's size and mtime: the stored result is still this file's.
        self.state.restamp_result(Path(os.fsdecode(item.path)), self.model.model_id, stamp.size, stamp.mtime_ns)
        return "tagged"


def change_genres(state: State, run_id: int, item: Item, values: list[str], write: bool) -> FileStamp:
    """Give ``item`` the genre ``values`` in beets' database and, with ``write``, in its file.

    The change is journaled under run ``run_id`` before it is made. The file is
    written first and the database only once that worked, so the two agree.

    Returns
    -------
    FileStamp
        The file's size and modification time afterwards.

    Raises
    ------
    ChangeError
        Neither the file nor the database was changed.
    """
    path = Path(os.fsdecode(item.path))
    previous = library_values(item)
    try:
        file_before = read_snapshot(path)
        file_after = snapshot_for(path, values) if write else file_before
    except TagError as exc:
        raise ChangeError(str(exc)) from None
    before = {**file_before, LIBRARY_KEY: previous, ITEM_KEY: [item.id]}
    entry = state.journal_intent(run_id, path, before, {**file_after, LIBRARY_KEY: values, ITEM_KEY: [item.id]})
    set_library_values(item, values)
    if write and not item.try_write():
        set_library_values(item, previous)
        state.journal_failed(entry)
        raise ChangeError("the file's tags could not be written (beets said why above); nothing changed")
    item.store()
    stamp = FileStamp.of(path)
    state.journal_done(entry, before, stamp.size, stamp.mtime_ns)
    return stamp


def undo_last_run(lib: Library, options: TagOptions, log: logging.Logger) -> Counter[str]:
    """Put back the genres the last ``beet genretag`` run (not yet undone) changed in ``lib``.

    An item whose genre changed since that run is left as it is. The undo is a
    journaled run of its own; of ``options`` only ``write`` and ``separator`` count.

    Returns
    -------
    Counter
        Items restored and skipped.

    Raises
    ------
    beets.ui.UserError
        No run to undo, or another run holds the library.
    """
    state = State()
    try:
        with LibraryLock(library_file(lib)):
            counts = _undo(lib, state, _last_run(state, library_file(lib)), options, log)
    except LibraryBusy as exc:
        raise ui.UserError(f"genretagger: {exc}") from None
    finally:
        state.close()
    ui.print_(f"genretag --undo: {_counts_text(counts)}")
    return counts


def _last_run(state: State, library: Path) -> int:
    for run in reversed(state.runs()):
        if run.kind == RUN_KIND and run.folder == str(library) and run.undone_by is None \
                and any(entry.state == "done" for entry in state.journal(run.id)):
            return run.id
    raise ui.UserError("genretagger: nothing to undo: no genretag run has changed genres in this library")


def _undo(lib: Library, state: State, run_id: int, options: TagOptions, log: logging.Logger) -> Counter[str]:
    settle_interrupted_writes(state)
    undo_id = state.start_run("undo", library_file(lib), undoes=run_id)
    counts: Counter[str] = Counter()
    for entry in state.journal(run_id):
        if entry.state == "done":
            counts[_undo_entry(lib, state, undo_id, entry, options, log)] += 1
    state.mark_undone(run_id, undo_id)
    state.finish_run(undo_id, dict(counts))
    return counts


def _undo_entry(lib: Library, state: State, undo_id: int, entry: JournalEntry, options: TagOptions,
                log: logging.Logger) -> str:
    item = lib.get_item(entry.before[ITEM_KEY][0])
    if item is None:
        log.warning("{}: not restored: no longer in the library", entry.path)
        return "skipped"
    if library_values(item) != entry.after[LIBRARY_KEY]:
        log.warning("{}: not restored: its genre changed since that run", item_name(item))
        return "skipped"
    try:
        change_genres(state, undo_id, item, entry.before[LIBRARY_KEY], options.write)
    except ChangeError as exc:
        log.warning("{}: not restored: {}", item_name(item), exc)
        return "skipped"
    changed, restored = entry.after[LIBRARY_KEY], entry.before[LIBRARY_KEY]
    ui.print_(f"{item_name(item)}: {_shown(changed, options.separator)} -> {_shown(restored, options.separator)}")
    return "restored"


def item_name(item: Item) -> str:
    """How an item is named in output: beets' own format, or its file when it has no artist and title.

    beets formats an untagged item as " -  - ", which names nothing the user can find.
    """
    return str(item) if item.artist or item.title else os.fsdecode(item.path)


def _shown(genres: list[str], separator: str) -> str:
    return separator.join(genres) if genres else "(none)"


def _counts_text(counts: Counter[str]) -> str:
    return ", ".join(f"{status} {n}" for status, n in sorted(counts.items())) or "nothing to do"

