"""The state database's schema version and migrations (tagger.state)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import tagger.state as state_module
from conftest import file_hash
from tagger.paths import data_dir
from tagger.state import State, StateError

# Made by the State of commit 05ccc56, before schema versions (see make_state_v0.py beside it).
TODAYS_DATABASE = Path(__file__).parent / "data" / "state_v0.sqlite3"
TABLES = ("results", "runs", "journal", "labels")
ODD_NAME = os.fsdecode(b"/music/caf\xe9.mp3")


def rows(path: Path) -> dict[str, list[tuple]]:
    """Every row of every table, as SQLite holds them."""
    with sqlite3.connect(path) as db:
        return {table: db.execute(f"SELECT * FROM {table} ORDER BY rowid").fetchall() for table in TABLES}


def user_version(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return db.execute("PRAGMA user_version").fetchone()[0]


@pytest.fixture
def todays_database(tmp_path) -> Path:
    path = tmp_path / "state.sqlite3"
    shutil.copyfile(TODAYS_DATABASE, path)
    assert user_version(path) == 0
    return path


def test_todays_database_is_upgraded_in_place_and_keeps_everything(todays_database):
    before = rows(todays_database)
    assert all(before[table] for table in TABLES)

    state = State(todays_database)
    cached = state.cached_result(Path("/music/a.flac"), "model0123456789a", 1234, 1_700_000_000_000_000_000)
    np.testing.assert_allclose(cached.window_probs, [[0.1, 0.2, 0.7], [0.2, 0.2, 0.6]], atol=1e-3)
    assert cached.window_starts.tolist() == [0.0, 2.0] and cached.duration == 31.5
    assert state.cached_result(Path(ODD_NAME), "model0123456789a", 99, 5) is not None
    runs = state.runs()
    assert [(r.id, r.kind, r.folder, r.counts, r.undoes, r.undone_by) for r in runs] == [
        (1, "tag", "/music", {"error": 0, "tagged": 1}, None, 2), (2, "undo", "/music", {"restored": 1}, 1, None)]
    assert [(e.path, e.before, e.after, e.state, e.size) for e in state.journal(1)] == [
        ("/music/a.flac", {}, {"GENRE": ["Rock"]}, "done", 1300),
        (ODD_NAME, {"TCON": ["Jazz"]}, {"TCON": ["Rock"]}, "pending", None)]
    assert [e.path for e in state.pending_entries()] == [ODD_NAME]
    assert list(state.labels()) == [("/music/a.flac", "Rock", "accepted"), ("/music/b.m4a", "Hip Hop", "corrected")]
    # The upgraded database is written to as any other.
    assert state.start_run("tag", Path("/music")) == 3
    state.close()

    assert user_version(todays_database) == state_module.MIGRATIONS[-1][0]
    after = rows(todays_database)
    kept = [table for table in TABLES if table != "results"]
    assert {table: after[table][:len(before[table])] for table in kept} == {table: before[table] for table in kept}
    # Version 2 widened the stored window probabilities from float16 to float32, exactly; nothing else changed.
    assert len(after["results"]) == len(before["results"])
    for old, new in zip(before["results"], after["results"]):
        assert old[:6] + old[7:] == new[:6] + new[7:]
        assert np.array_equal(np.frombuffer(old[6], np.float16).astype(np.float32), np.frombuffer(new[6], np.float32))


def test_a_stored_result_reads_back_exactly_so_a_cached_verdict_equals_a_fresh_one(tmp_path):
    from tagger.decision import decide

    # 0.9999 was stored as 1.0 in float16: shown 1.00 on a rerun where the first run showed 0.99.
    probs = np.array([[0.9999, 0.0001, 0.0], [0.6199, 0.3801, 0.0]], dtype=np.float32)
    decision = decide(probs, ("a", "b", "c"), np.array([0.0, 2.0], dtype=np.float32))
    state = State(tmp_path / "state.sqlite3")
    state.store_result(Path("/music/x.flac"), "model", 10, 20, 4.0, decision)
    cached = state.cached_result(Path("/music/x.flac"), "model", 10, 20)
    state.close()
    assert np.array_equal(cached.window_probs, probs)


def test_a_new_database_gets_the_latest_version_and_reopens_unchanged(tmp_path):
    path = tmp_path / "new.sqlite3"
    State(path).close()
    assert user_version(path) == state_module.MIGRATIONS[-1][0] >= 1
    state = State(path)
    assert state.runs() == [] and list(state.labels()) == []
    state.close()


def test_migrations_run_in_order_once(todays_database, monkeypatch):
    ran = []

    def add_note_column(db: sqlite3.Connection) -> None:
        ran.append(2)
        db.execute("ALTER TABLE runs ADD COLUMN note TEXT")
        db.execute("UPDATE runs SET note = 'from ' || kind")

    monkeypatch.setattr(state_module, "MIGRATIONS", state_module.MIGRATIONS + [(2, add_note_column)])
    State(todays_database).close()
    State(todays_database).close()
    assert ran == [2] and user_version(todays_database) == 2
    with sqlite3.connect(todays_database) as db:
        assert db.execute("SELECT note FROM runs ORDER BY id").fetchall() == [("from tag",), ("from undo",)]


def test_a_failing_migration_leaves_the_database_as_it_was(todays_database, monkeypatch):
    before = file_hash(todays_database)

    def half_done(db: sqlite3.Connection) -> None:
        db.execute("DROP TABLE labels")
        db.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr(state_module, "MIGRATIONS", state_module.MIGRATIONS + [(2, half_done)])
    with pytest.raises(StateError, match=r"could not upgrade the state database to version 2 \(.*no_such_table\); "
                                         r"it is unchanged$"):
        State(todays_database)
    assert file_hash(todays_database) == before and user_version(todays_database) == 0


def newer_database(path: Path) -> Path:
    State(path).close()
    with sqlite3.connect(path) as db:
        db.execute(f"PRAGMA user_version = {state_module.MIGRATIONS[-1][0] + 1}")
    return path


def test_a_newer_database_is_refused_untouched(tmp_path):
    path = newer_database(tmp_path / "state.sqlite3")
    before = file_hash(path)
    with pytest.raises(StateError, match=r"is from a newer genre-tagger .*update genre-tagger to use it$"):
        State(path)
    assert file_hash(path) == before


def test_tagger_batch_refuses_a_newer_database_in_one_line(run_cli):
    data_dir().mkdir(parents=True, exist_ok=True)
    path = newer_database(data_dir() / "state.sqlite3")
    latest = state_module.MIGRATIONS[-1][0]
    result = run_cli("--history")
    assert result.code == 2
    assert result.err.strip().splitlines() == [
        f"tagger-batch: error: {path}: state database version {latest + 1} is from a newer genre-tagger "
        f"(this one reads up to {latest}); update genre-tagger to use it"]
