"""The tagger's memory, one SQLite database in the user's data folder.

- ``results``: window probabilities per file and model, keyed by path, size
  and mtime, so an unchanged file is never decoded twice with the same model.
- ``runs`` and ``journal``: every genre change, written before the change is
  made, with the exact fields before and after, so a run can be undone and a
  killed run resumed.
- ``labels``: genres the user confirmed or corrected, for retraining.

The schema carries a version (``PRAGMA user_version``). Opening a database from an
older tagger upgrades it in place through :data:`MIGRATIONS`, all in one transaction,
so it is either fully upgraded or exactly as it was; one from a newer tagger is refused.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.decision import Decision
from tagger.paths import data_dir
from tagger.tags import Snapshot

# The tables as they were when versions began. IF NOT EXISTS: a database made before then
# (version 0) already has them, rows and all, and is only stamped version 1.
_TABLES_V1 = (
    """CREATE TABLE IF NOT EXISTS results (
    path TEXT NOT NULL, model_id TEXT NOT NULL, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    duration REAL NOT NULL, n_genres INTEGER NOT NULL, probs BLOB NOT NULL, starts BLOB NOT NULL,
    silent INTEGER NOT NULL, analysed_at REAL NOT NULL, PRIMARY KEY (path, model_id))""",
    """CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, kind TEXT NOT NULL, folder TEXT NOT NULL, started REAL NOT NULL,
    finished REAL, counts TEXT, undoes INTEGER, undone_by INTEGER)""",
    """CREATE TABLE IF NOT EXISTS journal (
    id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL REFERENCES runs(id), path TEXT NOT NULL,
    before TEXT NOT NULL, after TEXT NOT NULL, state TEXT NOT NULL, size INTEGER, mtime_ns INTEGER,
    at REAL NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS journal_run ON journal(run_id)",
    """CREATE TABLE IF NOT EXISTS labels (
    path TEXT PRIMARY KEY, genre TEXT NOT NULL, source TEXT NOT NULL, updated REAL NOT NULL)""",
)


def _create_tables_v1(db: sqlite3.Connection) -> None:
    for statement in _TABLES_V1:
        db.execute(statement)


def _widen_stored_probabilities_v2(db: sqlite3.Connection) -> None:
    # Window probabilities were stored as float16: 0.9999 read back as 1.0, so a cached result could
    # cross a threshold that the fresh one did not, and a dry run promise what the real run then did
    # not write. They are float32 from version 2; the stored ones are widened, not recomputed.
    rows = db.execute("SELECT rowid, probs FROM results").fetchall()
    for rowid, probs in rows:
        wide = np.frombuffer(probs, dtype=np.float16).astype(np.float32).tobytes()
        db.execute("UPDATE results SET probs=? WHERE rowid=?", (wide, rowid))


# (version, step): each step takes a database at the version before it to its version, using
# ``db.execute`` only (``executescript`` would commit half an upgrade). Released steps are never
# edited: a schema change is a new step at the end.
MIGRATIONS: list[tuple[int, Callable[[sqlite3.Connection], None]]] = [
    (1, _create_tables_v1),
    (2, _widen_stored_probabilities_v2),
]


class StateError(Exception):
    """The state database cannot be used by this tagger; the message says why, in one line."""


def _db_path(path: Path | str) -> str | bytes:
    """A path as stored: text, or its raw bytes when the name is not UTF-8 (SQLite text must be)."""
    text = str(path)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return os.fsencode(text)
    return text


def _from_db(value: str | bytes) -> str:
    return os.fsdecode(value) if isinstance(value, bytes) else value


def _upgrade(db: sqlite3.Connection, path: Path) -> None:
    """Bring the database at ``path`` to the latest version of :data:`MIGRATIONS`, all or nothing.

    Raises
    ------
    StateError
        When the database is newer than this code, or a step fails (it is then unchanged).
    """
    latest = MIGRATIONS[-1][0]
    # IMMEDIATE: a second tagger opening the same old database waits here, then finds it upgraded.
    db.execute("BEGIN IMMEDIATE")
    try:
        version = db.execute("PRAGMA user_version").fetchone()[0]
        if version > latest:
            raise StateError(f"{path}: state database version {version} is from a newer genre-tagger "
                             f"(this one reads up to {latest}); update genre-tagger to use it")
        for target, step in MIGRATIONS:
            if target > version:
                step(db)
        db.execute(f"PRAGMA user_version = {latest:d}")
        db.execute("COMMIT")
    except BaseException as exc:
        if db.in_transaction:  # SQLite rolls back by itself after some errors (a full disk)
            db.execute("ROLLBACK")
        if isinstance(exc, sqlite3.Error):
            # SQLite's messages are one line.
            raise StateError(f"{path}: could not upgrade the state database to version {latest} "
                             f"({exc}); it is unchanged") from None
        raise


@dataclass(frozen=True)
class CachedResult:
    """Window probabilities stored for one file and model."""

    duration: float
    window_probs: np.ndarray
    window_starts: np.ndarray
    silent: bool


@dataclass(frozen=True)
class RunInfo:
    """One row of ``tagger-batch --history``."""

    id: int
    kind: str
    folder: str
    started: float
    finished: float | None
    counts: dict[str, int]
    undoes: int | None
    undone_by: int | None


@dataclass(frozen=True)
class JournalEntry:
    """One genre change: the fields before and after, and the file's stamp after."""

    id: int
    path: str
    before: Snapshot
    after: Snapshot
    state: str
    size: int | None
    mtime_ns: int | None


class State:
    """Access to the state database; safe to share between threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = Path(path) if path else data_dir() / "state.sqlite3"
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30, isolation_level=None)
        self._lock = threading.RLock()
        self._pending = 0
        try:
            _upgrade(self._db, self.path)
        except StateError:
            self._db.close()
            raise
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("BEGIN")

    def close(self) -> None:
        with self._lock:
            self._db.execute("COMMIT")
            self._db.close()

    def commit(self) -> None:
        """Make everything so far durable."""
        with self._lock:
            self._db.execute("COMMIT")
            self._db.execute("BEGIN")
            self._pending = 0

    def _write(self, sql: str, args: tuple, durable: bool = False) -> int:
        with self._lock:
            cursor = self._db.execute(sql, args)
            self._pending += 1
            if durable or self._pending >= 200:
                self.commit()
            return cursor.lastrowid

    # -- results -------------------------------------------------------------------------------
    def cached_result(self, path: Path, model_id: str, size: int, mtime_ns: int) -> CachedResult | None:
        with self._lock:
            row = self._db.execute(
                "SELECT duration, n_genres, probs, starts, silent FROM results"
                " WHERE path=? AND model_id=? AND size=? AND mtime_ns=?",
                (_db_path(path), model_id, size, mtime_ns)).fetchone()
        if row is None:
            return None
        duration, n_genres, probs, starts, silent = row
        window_probs = np.frombuffer(probs, dtype=np.float32).reshape(-1, n_genres).copy()
        return CachedResult(duration, window_probs, np.frombuffer(starts, dtype=np.float32).copy(), bool(silent))

    def store_result(self, path: Path, model_id: str, size: int, mtime_ns: int, duration: float,
                     decision: Decision) -> None:
        self._write(
            "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?)",
            (_db_path(path), model_id, size, mtime_ns, duration, decision.window_probs.shape[1],
             decision.window_probs.astype(np.float32).tobytes(),
             decision.window_starts.astype(np.float32).tobytes(), int(decision.silent), time.time()))

    def restamp_result(self, path: Path, model_id: str, size: int, mtime_ns: int) -> None:
        """Keep a result valid after our own write changed the file's size and mtime."""
        self._write("UPDATE results SET size=?, mtime_ns=? WHERE path=? AND model_id=?",
                    (size, mtime_ns, _db_path(path), model_id))

    # -- runs and journal ----------------------------------------------------------------------
    def start_run(self, kind: str, folder: Path, undoes: int | None = None) -> int:
        return self._write("INSERT INTO runs (kind, folder, started, undoes) VALUES (?,?,?,?)",
                           (kind, _db_path(folder), time.time(), undoes), durable=True)

    def finish_run(self, run_id: int, counts: dict[str, int]) -> None:
        self._write("UPDATE runs SET finished=?, counts=? WHERE id=?",
                    (time.time(), json.dumps(counts, sort_keys=True), run_id), durable=True)

    def journal_intent(self, run_id: int, path: Path, before: Snapshot, after: Snapshot) -> int:
        """Record a change before it is made; durable when this returns."""
        return self._write(
            "INSERT INTO journal (run_id, path, before, after, state, at) VALUES (?,?,?,?,'pending',?)",
            (run_id, _db_path(path), json.dumps(before), json.dumps(after), time.time()), durable=True)

    def journal_done(self, entry_id: int, before: Snapshot, size: int, mtime_ns: int) -> None:
        self._write("UPDATE journal SET state='done', before=?, size=?, mtime_ns=? WHERE id=?",
                    (json.dumps(before), size, mtime_ns, entry_id), durable=True)

    def journal_failed(self, entry_id: int) -> None:
        self._write("UPDATE journal SET state='failed' WHERE id=?", (entry_id,), durable=True)

    def pending_entries(self) -> list[JournalEntry]:
        """Changes announced but never confirmed: their process died mid-write."""
        with self._lock:
            rows = self._db.execute(
                "SELECT id, path, before, after, state, size, mtime_ns FROM journal WHERE state='pending'").fetchall()
        return [JournalEntry(r[0], _from_db(r[1]), json.loads(r[2]), json.loads(r[3]), r[4], r[5], r[6]) for r in rows]

    def journal(self, run_id: int) -> list[JournalEntry]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, path, before, after, state, size, mtime_ns FROM journal WHERE run_id=? ORDER BY id",
                (run_id,)).fetchall()
        return [JournalEntry(r[0], _from_db(r[1]), json.loads(r[2]), json.loads(r[3]), r[4], r[5], r[6]) for r in rows]

    def last_writes(self) -> dict[str, tuple[int, str, Snapshot]]:
        """For every file a run ever changed: (run id, run kind, genre fields written) of its newest change."""
        with self._lock:
            rows = self._db.execute(
                "SELECT j.path, j.run_id, r.kind, j.after FROM journal j JOIN runs r ON r.id = j.run_id"
                " WHERE j.state='done' ORDER BY j.id").fetchall()
        return {_from_db(r[0]): (r[1], r[2], json.loads(r[3])) for r in rows}

    def runs(self) -> list[RunInfo]:
        with self._lock:
            rows = self._db.execute(
                "SELECT id, kind, folder, started, finished, counts, undoes, undone_by FROM runs ORDER BY id").fetchall()
        return [RunInfo(r[0], r[1], _from_db(r[2]), r[3], r[4], json.loads(r[5]) if r[5] else {}, r[6], r[7]) for r in rows]

    def mark_undone(self, run_id: int, undo_run_id: int) -> None:
        self._write("UPDATE runs SET undone_by=? WHERE id=?", (undo_run_id, run_id), durable=True)

    # -- labels --------------------------------------------------------------------------------
    def set_label(self, path: Path, genre: str, source: str) -> None:
        self._write("INSERT OR REPLACE INTO labels VALUES (?,?,?,?)", (_db_path(path), genre, source, time.time()))

    def remove_label(self, path: Path) -> None:
        self._write("DELETE FROM labels WHERE path=?", (_db_path(path),))

    def labels(self, under: Path | None = None) -> Iterator[tuple[str, str, str]]:
        """(path, genre, source) of the user's labels, optionally only those under a folder."""
        with self._lock:
            rows = self._db.execute("SELECT path, genre, source FROM labels ORDER BY path").fetchall()
        prefix = str(under).rstrip("/") + "/" if under else ""
        rows = [(_from_db(r[0]), r[1], r[2]) for r in rows]
        return iter([r for r in rows if r[0].startswith(prefix)])
