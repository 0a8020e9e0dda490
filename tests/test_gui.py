"""The review window (tagger-gui), driven through its widgets and signals with pytest-qt, off screen."""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt creates the QApplication

import subprocess  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

pytest.importorskip("PySide6")

from PySide6.QtCore import QSettings, Qt, QTimer  # noqa: E402
from PySide6.QtGui import QStandardItem, QStandardItemModel  # noqa: E402
from PySide6.QtWidgets import QApplication, QMessageBox, QStyleOptionViewItem  # noqa: E402

from audio import LEARN_GENRES, make_damaged_mp3, make_learn_library, make_track  # noqa: E402
from conftest import MODEL_ENV, file_hash, tree_hashes  # noqa: E402
from tagger.config import Config, load_config  # noqa: E402
from tagger.genres import DISPLAY_NAMES  # noqa: E402
from tagger.model import GenreModel  # noqa: E402
from tagger.state import State  # noqa: E402
from tagger.tags import read_genres, read_snapshot, write_genres  # noqa: E402

from tagger.gui.about import about_html  # noqa: E402
from tagger.gui.main_window import MainWindow  # noqa: E402
from tagger.gui.review import WriteCounts, write_rows  # noqa: E402
from tagger.gui.settings_dialog import SettingsDialog  # noqa: E402
from tagger.gui.table_model import (COL_ARTIST, COL_CONFIDENCE, COL_FILE, COL_NOTE, COL_SUGGESTED, COL_TITLE,  # noqa: E402
                                    DIFFERS, ERROR, NEW, SAME, UNCERTAIN, USER_CHOICE, WRITTEN)

WAIT_MS = 90_000


@pytest.fixture(scope="session")
def model_dir() -> Path:
    """The model the suite tests with (the shipped one unless overridden)."""
    return Path(os.environ[MODEL_ENV]) if os.environ.get(MODEL_ENV) else GenreModel.load("default").path


@pytest.fixture(scope="session")
def loaded_model(model_dir) -> GenreModel:
    return GenreModel.load(str(model_dir), threads=2)


@pytest.fixture
def window(qtbot, user_dirs, tmp_path, model_dir, loaded_model):
    """The main window with its own state, settings file and config (threshold 0, so nothing is uncertain)."""
    user_dirs.write_config(f'[tagger]\nmodel = "{model_dir}"\nmin_confidence = 0.0\nworkers = 2\n')
    win = MainWindow(State(), QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    win.set_model(loaded_model)
    # Leaving with unwritten rows asks in a modal box; tests that are not about it discard them.
    win._ask_unsaved = lambda counts: QMessageBox.StandardButton.Discard
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()


def open_and_wait(qtbot, win: MainWindow, folder: Path) -> bool:
    with qtbot.waitSignal(win.run_finished, timeout=WAIT_MS) as blocker:
        win.open_folder(folder)
    return blocker.args[0]


def rows_by_name(win: MainWindow) -> dict:
    return {row.path.name: row for row in win.table_model.rows()}


def select(qtbot, win: MainWindow, name: str) -> None:
    """Make the row of file ``name`` the current, only selected row of the view."""
    for proxy_row in range(win.proxy.rowCount()):
        index = win.proxy.index(proxy_row, COL_FILE)
        if index.data().endswith(name):
            win.table.setFocus()
            win.table.selectRow(proxy_row)
            win.table.setCurrentIndex(index)
            return
    raise AssertionError(f"{name} not shown")


@pytest.fixture
def library(tmp_path) -> Path:
    """Files in five formats without a genre, one with a genre, and one that is not audio at all."""
    folder = tmp_path / "Music"
    (folder / "sub").mkdir(parents=True)
    for seed, ext in enumerate(("mp3", "flac", "ogg", "m4a", "wav")):
        make_track(folder / f"new_{ext}.{ext}", seconds=5, channels=1, seed=seed, title=f"Song {ext}",
                   artist="Band")
    make_track(folder / "sub" / "tagged.flac", seconds=5, channels=1, seed=9, title="Old", artist="Band",
               genre="Polka")
    (folder / "broken.mp3").write_bytes(b"this is not an mp3 file" * 50)
    return folder


def test_review_write_and_undo(qtbot, window, library, monkeypatch):
    assert open_and_wait(qtbot, window, library) is False
    rows = rows_by_name(window)
    assert len(rows) == 7
    assert window.windowTitle().startswith("Music")

    # A file that cannot be analysed is a row with status "error" and a reason, not an exception.
    assert rows["broken.mp3"].status == ERROR and rows["broken.mp3"].message
    assert not rows["broken.mp3"].accepted
    # Files without a genre start accepted (what tagger-batch would write); one with a genre does not.
    for ext in ("mp3", "flac", "ogg", "m4a", "wav"):
        row = rows[f"new_{ext}.{ext}"]
        assert row.status == NEW and row.accepted and row.suggestion and 0 < row.confidence <= 1
    assert rows["tagged.flac"].status == DIFFERS and rows["tagged.flac"].current == ["Polka"]
    assert not rows["tagged.flac"].accepted

    # Details pane: top-3 bars and one timeline cell per analysed window.
    select(qtbot, window, "new_mp3.mp3")
    assert window.details.title.text() == "Song mp3"
    assert window.details._bar_labels[0].text() == rows["new_mp3.mp3"].suggestion
    # The top bar reads as the table's confidence cell does (both rounded down).
    confidence_cell = window.table_model.index(window.table_model.row_for(rows["new_mp3.mp3"].path), COL_CONFIDENCE)
    assert window.details._bar_values[0].format() == confidence_cell.data()
    assert len(window.details.timeline._starts) == len(rows["new_mp3.mp3"].decision.window_starts) > 0

    # Reject with the action, toggle with Space, correct with free text in the editable column.
    select(qtbot, window, "new_wav.wav")
    window.reject_action.trigger()
    assert not rows["new_wav.wav"].accepted
    select(qtbot, window, "tagged.flac")
    qtbot.keyClick(window.table, Qt.Key.Key_Space)
    assert rows["tagged.flac"].accepted
    ogg_row = window.proxy.mapFromSource(window.table_model.index(window.table_model.row_for(
        rows["new_ogg.ogg"].path), COL_SUGGESTED))
    assert window.proxy.setData(ogg_row, "Shoegaze")
    assert rows["new_ogg.ogg"].corrected and rows["new_ogg.ogg"].accepted

    state = window.state
    labels = {Path(p).name: (g, s) for p, g, s in state.labels()}
    assert labels["new_ogg.ogg"] == ("Shoegaze", "review")
    assert labels["tagged.flac"] == (rows["tagged.flac"].suggestion, "review")
    assert "new_wav.wav" not in labels

    # Filters: status and text.
    window.status_filter.setCurrentIndex(window.status_filter.findData(ERROR))
    assert window.proxy.rowCount() == 1
    window.status_filter.setCurrentIndex(0)
    window.search.setText("sub/")
    assert window.proxy.rowCount() == 1
    window.search.clear()

    # Write accepted (confirmation answered yes): tags read back, rows updated, rejected file untouched.
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.write_finished, timeout=WAIT_MS):
        qtbot.keyClick(window.table, Qt.Key.Key_S, Qt.KeyboardModifier.ControlModifier)
    assert "5 files" in asked[0] and f"4 new, 1 replaced (Polka -> {rows['tagged.flac'].suggestion})" in asked[0]
    assert read_genres(library / "new_ogg.ogg") == ["Shoegaze"]
    assert read_genres(library / "new_mp3.mp3") == [rows["new_mp3.mp3"].suggestion]
    assert read_genres(library / "sub" / "tagged.flac") == [rows["tagged.flac"].suggestion]
    assert read_genres(library / "new_wav.wav") == []
    assert rows["new_ogg.ogg"].status == WRITTEN and rows["new_ogg.ogg"].current == ["Shoegaze"]
    assert rows["new_ogg.ogg"].message == "" and rows["tagged.flac"].message == "replaced Polka"
    assert rows["new_wav.wav"].status == NEW and rows["broken.mp3"].status == ERROR
    assert {Path(p).name for p, _, _ in state.labels()} >= {"new_mp3.mp3", "new_m4a.m4a", "new_flac.flac"}

    # Undo puts every previous genre back and the rows show it.
    with qtbot.waitSignal(window.write_finished, timeout=WAIT_MS):
        window.undo_action.trigger()
    assert str(library) in asked[-1]  # the question names the library it undoes in
    assert read_genres(library / "new_ogg.ogg") == []
    assert read_genres(library / "sub" / "tagged.flac") == ["Polka"]
    assert rows["tagged.flac"].current == ["Polka"] and rows["tagged.flac"].status == DIFFERS
    assert rows["new_ogg.ogg"].status == NEW and rows["new_ogg.ogg"].current == []
    assert "put back" in window.statusBar().currentMessage()
    # The user took those genres back: retraining from reviews no longer learns them.
    assert {Path(p).name for p, _, _ in state.labels()} == set()


def own_genre_library(folder: Path) -> Path:
    """Two files without a genre and two with the user's own genre ("Chill Stuff")."""
    folder.mkdir()
    for seed in range(2):
        make_track(folder / f"empty{seed}.flac", seconds=5, channels=1, seed=seed)
        make_track(folder / f"own{seed}.flac", seconds=5, channels=1, seed=seed + 2, genre="Chill Stuff")
    return folder


def accepted_names(win: MainWindow) -> set[str]:
    return {name for name, row in rows_by_name(win).items() if row.accepted}


def test_bulk_accept_fills_empty_genres_and_replaces_only_when_asked(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, own_genre_library(tmp_path / "lib"))
    window.table.selectAll()
    window.reject_action.trigger()
    assert accepted_names(window) == set()
    window.threshold.setValue(0)
    qtbot.keyClick(window.table, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
    # The user's own genres stay as they are: overwriting is off, as tagger-batch's default.
    assert accepted_names(window) == {"empty0.flac", "empty1.flac"}
    assert "2 would replace a genre" in window.statusBar().currentMessage()

    # Shown only the "differs" rows, the user asks for the replacements explicitly.
    window.status_filter.setCurrentIndex(window.status_filter.findData(DIFFERS))
    window.bulk_accept_action.trigger()
    assert accepted_names(window) == set(rows_by_name(window))


def test_bulk_accept_replaces_genres_when_overwriting_is_on(qtbot, window, user_dirs, model_dir, tmp_path):
    user_dirs.write_config(f'[tagger]\nmodel = "{model_dir}"\nmin_confidence = 0.0\noverwrite = true\n')
    window.config = load_config()
    open_and_wait(qtbot, window, own_genre_library(tmp_path / "lib"))
    window.table.selectAll()
    window.reject_action.trigger()
    window.threshold.setValue(0)
    window.bulk_accept_action.trigger()
    assert accepted_names(window) == set(rows_by_name(window))


def reopen_with_one_file_already_right(qtbot, win: MainWindow, folder: Path, name: str) -> str:
    """Give file ``name`` the genre the model suggests for it, then open ``folder`` again; returns that genre."""
    open_and_wait(qtbot, win, folder)
    genre = rows_by_name(win)[name].suggestion
    write_genres(folder / name, [genre])
    open_and_wait(qtbot, win, folder)
    return genre


def test_files_already_right_are_never_rewritten(qtbot, window, tmp_path, monkeypatch):
    folder = tmp_path / "lib"
    folder.mkdir()
    for seed in range(2):
        make_track(folder / f"t{seed}.flac", seconds=5, channels=1, seed=seed)
    genre = reopen_with_one_file_already_right(qtbot, window, folder, "t0.flac")
    right = rows_by_name(window)["t0.flac"]
    assert right.status == SAME and not right.accepted
    before = (file_hash(folder / "t0.flac"), (folder / "t0.flac").stat().st_mtime_ns)

    # Bulk accept passes it by; accepted by hand, the write still leaves it alone and says so.
    window.threshold.setValue(0)
    window.bulk_accept_action.trigger()
    assert not right.accepted
    select(qtbot, window, "t0.flac")
    window.accept_action.trigger()
    asked = []
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.write_finished, timeout=WAIT_MS):
        window.write_accepted()
    assert "1 new, 0 replaced, 1 skipped as already right" in asked[0]
    assert (file_hash(folder / "t0.flac"), (folder / "t0.flac").stat().st_mtime_ns) == before
    assert read_genres(folder / "t1.flac") == [rows_by_name(window)["t1.flac"].suggestion]
    assert right.status == SAME and right.note == f"already {genre}: not rewritten"
    assert "Wrote 1 file: 1 new, 0 replaced, 1 skipped as already right" in window.statusBar().currentMessage()


def test_write_rows_skips_a_file_holding_the_genre_already(tmp_path, state):
    """Whatever the table thought, the file's own tags decide: the same genre (any spelling) is not rewritten."""
    path = make_track(tmp_path / "a.mp3", seconds=3, channels=1, genre="Hip-Hop")
    before = (file_hash(path), path.stat().st_mtime_ns)
    _, [result] = write_rows(state, tmp_path, [(path, ["hip hop"], None)], None, False)
    assert result.already_right and not result.written and result.previous == ["Hip-Hop"]
    assert (file_hash(path), path.stat().st_mtime_ns) == before
    assert WriteCounts.of([(result.previous, result.genres)]).already_right == 1


def test_write_counts_name_the_first_replacements():
    counts = WriteCounts.of([([], ["Jazz"]), (["Chill Stuff"], ["Jazz"]), (["Loud"], ["Metal"]), (["A"], ["B"]),
                             (["C"], ["D"]), (["Rock"], ["rock"])])
    assert counts.describe() == ("1 new, 4 replaced (Chill Stuff -> Jazz, Loud -> Metal, A -> B, and 1 more), "
                                 "1 skipped as already right")


def correct(win: MainWindow, name: str, genre: str) -> None:
    """Type ``genre`` into the Suggested cell of file ``name``, as the user does."""
    index = win.table_model.index(win.table_model.row_for(rows_by_name(win)[name].path), COL_SUGGESTED)
    assert win.table_model.setData(index, genre)


def labels_by_name(state: State) -> dict[str, str]:
    return {Path(path).name: genre for path, genre, _ in state.labels()}


def test_a_correction_is_shown_as_the_users_choice_and_survives_a_reopen(qtbot, window, user_dirs, model_dir,
                                                                       tmp_path, monkeypatch):
    # Every suggestion is below a 99% threshold: uncertain, with the threshold in the Note.
    user_dirs.write_config(f'[tagger]\nmodel = "{model_dir}"\nmin_confidence = 0.99\n')
    window.config = load_config()
    folder = own_genre_library(tmp_path / "lib")
    open_and_wait(qtbot, window, folder)
    row = rows_by_name(window)["empty0.flac"]
    number = window.table_model.row_for(row.path)
    assert row.status == UNCERTAIN and window.table_model.index(number, COL_NOTE).data() == "below 99%"

    correct(window, "empty0.flac", "Americana")
    assert row.status == NEW and row.accepted
    assert window.table_model.index(number, COL_CONFIDENCE).data() == ""  # the model's % is not about this genre
    assert window.table_model.index(number, COL_NOTE).data() == USER_CHOICE

    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.write_finished, timeout=WAIT_MS):
        window.write_accepted()
    open_and_wait(qtbot, window, folder)
    again = rows_by_name(window)["empty0.flac"]
    assert again.suggestion == "Americana" and again.corrected and again.status == SAME
    assert window.table_model.index(window.table_model.row_for(again.path), COL_NOTE).data() == USER_CHOICE


def test_leaving_with_unwritten_rows_asks_and_discard_drops_their_labels(qtbot, window, tmp_path):
    folder = own_genre_library(tmp_path / "lib")
    open_and_wait(qtbot, window, folder)
    correct(window, "own0.flac", "Americana")
    assert labels_by_name(window.state) == {"own0.flac": "Americana"}
    asked = []

    def answer(button):
        def ask(counts):
            asked.append(counts)
            return button
        return ask

    window._ask_unsaved = answer(QMessageBox.StandardButton.Cancel)
    window.close()
    assert window.isVisible() and asked[-1].new == 2 and asked[-1].replaced == [("Chill Stuff", "Americana")]
    window._ask_unsaved = answer(QMessageBox.StandardButton.Discard)
    open_and_wait(qtbot, window, folder)  # opening a folder asks too
    assert len(asked) == 2 and labels_by_name(window.state) == {}
    assert all(read_genres(folder / name) in ([], ["Chill Stuff"]) for name in rows_by_name(window))
    assert rows_by_name(window)["own0.flac"].suggestion != "Americana"  # dropped: the model's suggestion again


def test_write_when_leaving_writes_then_closes(qtbot, window, tmp_path):
    folder = own_genre_library(tmp_path / "lib")
    open_and_wait(qtbot, window, folder)
    window._ask_unsaved = lambda counts: QMessageBox.StandardButton.Save
    with qtbot.waitSignal(window.write_finished, timeout=WAIT_MS):
        window.close()
    qtbot.waitUntil(lambda: not window.isVisible(), timeout=5_000)
    assert all(read_genres(folder / f"empty{i}.flac") for i in range(2))
    assert read_genres(folder / "own0.flac") == ["Chill Stuff"]


def test_the_unsaved_question_offers_write_discard_and_cancel(qtbot, window, tmp_path):
    open_and_wait(qtbot, window, own_genre_library(tmp_path / "lib"))
    seen = {}

    def press_cancel():
        box = QApplication.activeModalWidget()
        seen["buttons"] = sorted(b.text().replace("&", "") for b in box.buttons())
        seen["text"] = box.text()
        box.button(QMessageBox.StandardButton.Cancel).click()

    del window._ask_unsaved  # the fixture's stand-in: this test answers the real question
    QTimer.singleShot(200, press_cancel)
    window.close()
    window._ask_unsaved = lambda counts: QMessageBox.StandardButton.Discard
    assert seen["buttons"] == ["Cancel", "Discard", "Write"] and "2 new, 0 replaced" in seen["text"]
    assert window.isVisible()


def test_quitting_with_everything_written_closes_at_once(qtbot, window, tmp_path, monkeypatch):
    open_and_wait(qtbot, window, own_genre_library(tmp_path / "lib"))
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    with qtbot.waitSignal(window.write_finished, timeout=WAIT_MS):
        window.write_accepted()
    window._ask_unsaved = lambda counts: pytest.fail("asked although everything accepted is written")
    window.close()
    assert not window.isVisible()


def test_a_file_made_read_only_before_the_write_is_skipped_and_leaving_does_not_ask(qtbot, window, tmp_path,
                                                                                 monkeypatch):
    folder = own_genre_library(tmp_path / "lib")
    open_and_wait(qtbot, window, folder)
    locked = folder / "empty0.flac"
    assert rows_by_name(window)["empty0.flac"].accepted
    locked.chmod(0o444)  # made read-only after the analysis: the write itself fails
    monkeypatch.setattr(QMessageBox, "question", lambda *a, **k: QMessageBox.StandardButton.Yes)
    monkeypatch.setattr(window, "show_error", lambda *a, **k: pytest.fail("a skipped file shown as a failure"))
    with qtbot.waitSignal(window.write_finished, timeout=WAIT_MS):
        window.write_accepted()
    assert "1 skipped: read-only" in window.statusBar().currentMessage()
    row = rows_by_name(window)["empty0.flac"]
    assert (row.status, row.accepted) == ("skipped", False) and row.message == "read-only file: not written"
    assert read_genres(locked) == []
    window._ask_unsaved = lambda counts: pytest.fail("asked to write a file that cannot be written")
    window.close()
    assert not window.isVisible()


def test_cancel_halfway(qtbot, window, user_dirs, tmp_path):
    # One decode thread and 30-second tracks: the engine scores files in batches of about 19, so the
    # first rows arrive while most files are still to do.
    user_dirs.write_config(f'[tagger]\nmodel = "{window.config["model"]}"\nmin_confidence = 0.0\nworkers = 1\n')
    window.config = load_config()
    folder = tmp_path / "big"
    folder.mkdir()
    for seed in range(40):
        make_track(folder / f"track{seed:02d}.wav", seconds=30, rate=16000, channels=1, seed=seed)
    with qtbot.waitSignal(window.table_model.rowsInserted, timeout=WAIT_MS):
        window.open_folder(folder)
    with qtbot.waitSignal(window.run_finished, timeout=WAIT_MS) as finished:
        window.cancel_button.click()
    assert finished.args == [True]
    assert 0 < window.table_model.rowCount() < 40
    assert window.worker is None and not window.cancel_button.isVisible()
    assert window.statusBar().currentMessage().startswith("Cancelled")


def test_settings_round_trip(qtbot, window, user_dirs):
    dialog = SettingsDialog(window.config, window)
    qtbot.addWidget(dialog)
    dialog.use_model_threshold.setChecked(False)
    dialog.min_confidence.setValue(0.55)
    dialog.existing.setCurrentIndex(1)
    dialog.workers.setValue(3)
    dialog.top_k.setValue(2)
    dialog.keep_mtime.setChecked(True)
    dialog._add_name("hiphop", "Hip Hop")
    dialog._add_name("", "ignored: no genre")
    window.apply_settings(dialog.result_config())

    data = tomllib.loads(user_dirs.config_file.read_text(encoding="utf-8"))
    assert data["tagger"]["min_confidence"] == 0.55 and data["tagger"]["overwrite"] is True
    assert data["tagger"]["workers"] == 3 and data["tagger"]["keep_mtime"] is True
    assert data["tagger"]["top_k"] == 2
    assert data["genre_names"] == {"hiphop": "Hip Hop"}  # the built-in spellings left as they were are not saved
    config = load_config()
    assert config["min_confidence"] == 0.55 and config.genre_names == {"hiphop": "Hip Hop"}
    # The new name is offered when correcting a suggestion.
    assert "Hip Hop" in window.genre_delegate.genre_names

    again = SettingsDialog(config, window)
    qtbot.addWidget(again)
    assert again.min_confidence.value() == 0.55 and again.existing.currentIndex() == 1
    assert again.workers.value() == 3 and again.top_k.value() == 2
    shown = {again.names.item(r, 0).text(): again.names.item(r, 1).text() for r in range(again.names.rowCount())}
    assert shown == DISPLAY_NAMES | {"hiphop": "Hip Hop"}
    again.use_model_threshold.setChecked(True)
    window.apply_settings(again.result_config())
    assert load_config()["min_confidence"] is None


def test_errors_are_shown_not_raised(qtbot, window, user_dirs, tmp_path):
    window.open_folder(tmp_path / "does-not-exist")
    assert "does not exist" in window.statusBar().currentMessage()
    assert window.worker is None

    empty = tmp_path / "empty"
    empty.mkdir()
    (empty / "notes.txt").write_text("no audio here")
    open_and_wait(qtbot, window, empty)
    assert "no audio files found" in window.statusBar().currentMessage()

    # A model that does not exist: the run ends with the loader's message in the window.
    user_dirs.write_config('[tagger]\nmodel = "no-such-model"\n')
    window.config = load_config()
    folder = tmp_path / "one"
    folder.mkdir()
    make_track(folder / "a.flac", seconds=3, channels=1)
    open_and_wait(qtbot, window, folder)
    assert "no-such-model" in window.statusBar().currentMessage()
    assert window.table_model.rowCount() == 0


def test_unreadable_files_show_the_engines_reason(qtbot, window, tmp_path):
    """The tag reader's own words ("file said 4 bytes, read 0 bytes") said less than the engine's."""
    folder = tmp_path / "lib"
    folder.mkdir()
    (folder / "empty.flac").write_bytes(b"")
    (folder / "notes.mp3").write_text("not audio")
    make_track(folder / "fine.flac", seconds=3, channels=1)
    open_and_wait(qtbot, window, folder)
    rows = rows_by_name(window)
    assert rows["empty.flac"].status == rows["notes.mp3"].status == "error"
    assert rows["empty.flac"].message == "empty file (0 bytes)"
    assert rows["notes.mp3"].message == "not a readable audio file (unknown or corrupt format)"
    assert rows["fine.flac"].status != "error"


def test_bad_settings_file_is_shown_and_defaults_used(qtbot, user_dirs, tmp_path):
    user_dirs.write_config("[tagger]\nmin_confidence = 'high'\n")
    win = MainWindow(State(), QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(win)
    assert win.config.values == Config().values
    qtbot.waitUntil(lambda: "min_confidence must be float" in win.statusBar().currentMessage(), timeout=5_000)
    win.close()


def test_about_shows_model_card_accuracy(window, loaded_model):
    text = about_html(loaded_model, "default")
    assert loaded_model.name in text
    if "accura" in loaded_model.card_path.read_text(encoding="utf-8").casefold():
        assert "ccuracy" in text
    assert "not loaded" in about_html(None, "default")
    assert isinstance(window.config, Config)


def test_twenty_thousand_rows_stay_fast(window):
    """Rows arrive in batches; appending, sorting and filtering 20,000 of them takes seconds, not minutes."""
    import time

    from tagger.gui.table_model import COL_CONFIDENCE, TrackRow

    rows = [TrackRow(Path(f"/music/a{i:05d}.flac"), f"a{i:05d}.flac", artist=f"Artist {i % 97}",
                     title=f"Song {i}", suggestion="Rock", model_suggestion="Rock", confidence=(i % 100) / 100)
            for i in range(20_000)]
    started = time.monotonic()
    for start in range(0, len(rows), 500):
        window.table_model.append_rows(rows[start:start + 500])
    window.table.sortByColumn(COL_CONFIDENCE, Qt.SortOrder.DescendingOrder)
    window.search.setText("Artist 5")
    elapsed = time.monotonic() - started
    assert window.proxy.rowCount() == sum(1 for r in rows if "artist 5" in r.artist.casefold())
    assert window.proxy.index(0, COL_CONFIDENCE).data() == "99%"
    assert elapsed < 15, f"{elapsed:.1f} s"


def test_play_and_pause_the_selected_track(qtbot, window, library):
    from tagger.gui import details

    if details.QMediaPlayer is None:
        pytest.skip("this PySide6 has no QtMultimedia (install the gui extra: PySide6-Addons)")
    open_and_wait(qtbot, window, library)
    select(qtbot, window, "new_flac.flac")
    button = window.details.play_button
    assert button.isVisible() and button.isEnabled()
    button.click()
    assert button.text() == "Pause"
    qtbot.waitUntil(lambda: window.details._player.position() > 200, timeout=10_000)
    button.click()
    assert button.text() == "Play"
    paused_at = window.details._player.position()
    qtbot.wait(300)
    assert window.details._player.position() == paused_at


def test_columns_fit_the_text_of_the_rows_shown(window):
    """Fitted columns give each cell room for its text, as Qt's own measure would, corrections (italic) included."""
    from tagger.gui.table_model import TrackRow

    rows = [TrackRow(Path(f"/music/{i}.flac"), f"{i}.flac", artist="Ünïcode Artist " * (1 + i % 3),
                     title=f"T{i}", suggestion="Reggae", model_suggestion="Rock", confidence=0.9)
            for i in range(30)]
    window.table_model.append_rows(rows)
    window.table_model.setData(window.table_model.index(0, COL_SUGGESTED), "Drum and Bass")
    widths = window._content_widths()
    window.table.horizontalHeader().setResizeContentsPrecision(-1)
    for col in (COL_FILE, COL_ARTIST, COL_TITLE, COL_SUGGESTED):
        assert abs(widths[col] - window.table.sizeHintForColumn(col)) <= 2, col


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread niceness is Linux's")
def test_background_threads_run_at_lower_priority_than_the_window():
    import threading

    from tagger.gui.worker import BACKGROUND_NICENESS, lower_thread_priority

    before = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    seen = {}

    def background():
        lower_thread_priority()
        seen["worker"] = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
        child = threading.Thread(target=lambda: seen.setdefault("child", os.getpriority(
            os.PRIO_PROCESS, threading.get_native_id())))
        child.start()
        child.join()

    thread = threading.Thread(target=background)
    thread.start()
    thread.join()
    assert seen["worker"] == min(19, before + BACKGROUND_NICENESS)
    assert seen["child"] == seen["worker"]  # threads it starts (decoders, the model's pool) inherit it
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == before


def test_undo_in_one_library_leaves_another_alone(make_library, batch, state):
    """The window's Undo Last Write is about the library it shows, even if another was tagged since."""
    from tagger.gui.review import undo_last_write
    from tagger.undo import UndoError

    first, first_files = make_library("first", formats=("flac", "mp3"))
    second, second_files = make_library("second", formats=("ogg", "wav"))
    batch(first)
    batch(second)
    assert all(read_genres(p) for p in [*first_files.values(), *second_files.values()])

    summary = undo_last_write(state, first)
    assert sorted(r.path for r in summary.restored) == sorted(first_files.values())
    assert all(read_snapshot(p) == {} for p in first_files.values())
    assert all(read_genres(p) for p in second_files.values())
    with pytest.raises(UndoError, match="nothing to undo.*first"):
        undo_last_write(state, first)
    assert undo_last_write(state).restored  # without a library: the newest run of any, the second's
    assert all(read_snapshot(p) == {} for p in second_files.values())


def test_the_confidence_column_rounds_down_so_an_uncertain_row_never_shows_the_threshold():
    from tagger.gui.table_model import TrackRow, TrackTableModel

    row = TrackRow(Path("a.flac"), "a.flac", confidence=0.7156)
    assert TrackTableModel.cell_text(row, COL_CONFIDENCE) == "71%"
    assert TrackTableModel.cell_text(TrackRow(Path("b.flac"), "b.flac", confidence=0.29), COL_CONFIDENCE) == "29%"


def test_bulk_accept_starts_at_the_threshold_the_suggestions_use(qtbot, window, user_dirs, model_dir, loaded_model):
    assert window.threshold.value() == 0  # the fixture's config: min_confidence = 0.0
    user_dirs.write_config(f'[tagger]\nmodel = "{model_dir}"\n')
    window.config = load_config()
    window.set_model(loaded_model)
    expected = loaded_model.settings.min_confidence
    assert window.threshold.value() / 100 >= expected > (window.threshold.value() - 1) / 100
    assert f"≥ {window.threshold.value()} %" in window.threshold_button.text()


def test_names_and_notes_are_cut_at_their_end(window):
    cells = QStandardItemModel(1, 1)
    cells.setItem(0, 0, QStandardItem("truncated or corrupt file: the audio stops before the 240 s its header gives"))
    option = QStyleOptionViewItem()
    option.textElideMode = window.table.textElideMode()
    window.table.itemDelegateForColumn(COL_NOTE).initStyleOption(option, cells.index(0, 0))
    assert option.textElideMode == Qt.TextElideMode.ElideRight
    for col in (COL_FILE, COL_ARTIST, COL_TITLE):  # "Bill ...artet" could not be read; "Bill Evans Qu…" can
        option = QStyleOptionViewItem()
        window.table.itemDelegateForColumn(col).initStyleOption(option, cells.index(0, 0))
        assert option.textElideMode == Qt.TextElideMode.ElideRight


def test_file_names_are_cut_in_their_folders_then_before_their_extension(window):
    from tagger.gui.delegates import elide_path

    metrics = window.table.fontMetrics()
    name = "Bill Evans Trio – Waltz for Debby (Take 2) 日本語.flac"
    width = metrics.horizontalAdvance(name) // 2
    cut = elide_path(name, metrics, width)
    assert cut.startswith("Bill Evans") and cut.endswith("….flac") and metrics.horizontalAdvance(cut) <= width
    assert elide_path(name, metrics, 10 * width) == name
    path = "Live Sets – Ünïcode Ordner/Classic Rock Anthem (Remastered 2011).flac"
    cut = elide_path(path, metrics, metrics.horizontalAdvance(path) - 40)
    assert cut.startswith("Live Sets") and cut.endswith("…/Classic Rock Anthem (Remastered 2011).flac")
    narrow = elide_path(path, metrics, metrics.horizontalAdvance("…/Classic Rock….flac") + 2)
    assert narrow.startswith("…/Classic") and narrow.endswith("….flac")


def long_rows(count: int, start: int = 0, artist: str = "Ünïcode Artist") -> list:
    from tagger.gui.table_model import TrackRow

    return [TrackRow(Path(f"/music/{i}.flac"), f"Quartet {i} – a rather long file name of a live set {i}.flac",
                     artist=artist, title=f"Title {i}", suggestion="Jazz", model_suggestion="Jazz", confidence=0.9,
                     model_note="below 63%" if i % 2 else "")
            for i in range(start, start + count)]


def test_columns_keep_their_widths_while_rows_load_and_fill_the_width(window):
    from tagger.gui.main_window import NAME_COLUMNS

    window.resize(1400, 820)
    window._total, window._started = 40, time.monotonic()
    window._rows_ready(long_rows(5))
    widths = [window.table.columnWidth(c) for c in range(window.table_model.columnCount())]
    window._rows_ready(long_rows(30, start=5, artist="A far longer artist name than any of the first five " * 2))
    assert [window.table.columnWidth(c) for c in range(window.table_model.columnCount())] == widths
    # No horizontal scroll bar, and the names take the width the others leave.
    assert sum(widths) <= window.table.viewport().width()
    assert sum(widths) >= window.table.viewport().width() - len(NAME_COLUMNS)


def test_short_names_are_shown_whole_and_long_ones_share_the_rest():
    from tagger.gui.main_window import share_width

    # File wants 900 px, Artist 120, Title 300, in 700 px: artist whole, the other two halves of the rest.
    assert share_width(700, {1: 900, 2: 120, 3: 300}) == {2: 120, 1: 290, 3: 290}
    # Room for all: the 80 px left over are shared in proportion.
    assert share_width(700, {1: 400, 2: 120, 3: 100}) == {1: 453, 2: 135, 3: 112}


def test_a_long_note_is_cut_at_a_limit(window):
    rows = long_rows(3)
    rows[0].message = "not written: the file changed since it was analysed; analyse again to write it " * 3
    window._total, window._started = 3, time.monotonic()
    window._rows_ready(rows)
    assert window.table.columnWidth(COL_NOTE) <= 21 * window.fontMetrics().horizontalAdvance("M")


def test_column_widths_the_user_chose_are_remembered(qtbot, window, tmp_path, user_dirs, model_dir):
    window._total, window._started = 3, time.monotonic()
    window._rows_ready(long_rows(3))
    window.table.horizontalHeader().resizeSection(COL_FILE, 333)  # as a drag of the column's edge does
    window.close()
    again = MainWindow(State(), QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(again)
    again._total, again._started = 3, time.monotonic()
    again._rows_ready(long_rows(3))
    assert again.table.columnWidth(COL_FILE) == 333
    again.close()


def test_the_timeline_keeps_each_genres_colour_and_shows_confidence_by_height(qtbot):
    import numpy as np

    from tagger.gui.details import Timeline, genre_colour

    timeline = Timeline()
    qtbot.addWidget(timeline)
    timeline.resize(200, 40)
    # Two windows: country (index 2) at 30% and pop (index 7) at 95%.
    probs = np.zeros((2, 10))
    probs[0, 2], probs[1, 7] = 0.3, 0.95
    timeline.set_windows(probs, np.array([0.0, 4.0]), 4.0)
    image = timeline.grab().toImage()
    column_height = {}
    for x, genre in ((50, 2), (150, 7)):
        painted = [y for y in range(40) if image.pixelColor(x, y).name() == genre_colour(genre).name()]
        assert painted, f"genre {genre} not drawn in its own colour"
        column_height[genre] = len(painted)
    assert column_height[2] < column_height[7] / 2


# -- as a separate process -----------------------------------------------------------------------
def test_decoder_chatter_about_a_damaged_mp3_goes_to_a_log_not_the_terminal(tmp_path):
    """mpg123 (inside libsndfile) prints resync notes on fd 2 while the window analyses a damaged MP3."""
    folder = tmp_path / "lib"
    folder.mkdir()
    make_damaged_mp3(folder / "damaged.mp3")
    log = Path(os.environ["XDG_DATA_HOME"]) / "genre-tagger" / "gui-decoder-messages.log"
    window = subprocess.Popen([sys.executable, "-m", "tagger.gui.app", str(folder)],
                              env=dict(os.environ, QT_QPA_PLATFORM="offscreen"),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and window.poll() is None and not (
                log.is_file() and "Illegal Audio-MPEG-Header" in log.read_text(errors="replace")):
            time.sleep(0.2)
    finally:
        window.terminate()
        _, err = window.communicate(timeout=60)
    assert "Illegal Audio-MPEG-Header" in log.read_text(errors="replace")
    assert "Note:" not in err and "Illegal" not in err, err
    assert "qt.multimedia" not in err and "pipewire" not in err, err  # Qt multimedia's notes go to the log too


# -- Tools > Learn from This Library's Genres (issue 22) -----------------------------------------
LEARN_WAIT_MS = 300_000


def learn_and_wait(qtbot, win: MainWindow):
    """Trigger the learn action and wait until its figures dialog is shown and the task has ended."""
    win.learn_dialog = None
    win.learn_action.trigger()
    qtbot.waitUntil(lambda: win.learn_dialog is not None and win.learn_dialog.isVisible() and win._task is None,
                    timeout=LEARN_WAIT_MS)
    return win.learn_dialog


def test_learn_shows_honest_figures_first_and_use_suggests_the_users_genres(qtbot, window, tmp_path):
    truth = make_learn_library(tmp_path / "lib", untagged_per_genre=2)
    before = tree_hashes(tmp_path / "lib")
    assert not window.learn_action.isEnabled()  # no library open yet
    open_and_wait(qtbot, window, tmp_path / "lib")
    assert window.learn_action.isEnabled()
    dialog = learn_and_wait(qtbot, window)
    figures = dialog.figures_view.toPlainText()
    assert "held-out tracks" in figures and "min_confidence" in figures, figures
    assert "95% interval" in figures or "too few held-out files to measure" in figures
    # Cancel: the window keeps its model and nothing is written.
    dialog.cancel_button.click()
    assert window.config["model"] != str(dialog.learned.path) and window.model.path != dialog.learned.path
    assert tree_hashes(tmp_path / "lib") == before
    # Again: the library is unchanged, so the model is reused; Use analyses again with it.
    dialog = learn_and_wait(qtbot, window)
    assert "reused" in dialog.figures_view.toPlainText()
    # The default model's suggestions ticked before are dropped, not offered for writing on the way.
    window._ask_unsaved = lambda counts: pytest.fail(f"asked to write the old model's suggestions: {counts}")
    with qtbot.waitSignal(window.run_finished, timeout=WAIT_MS):
        dialog.use_button.click()
    window._ask_unsaved = lambda counts: QMessageBox.StandardButton.Discard
    assert window.model.path == dialog.learned.path
    rows = {row.path: row for row in window.table_model.rows()}
    untagged = [path for path in truth if "untagged" in path.parts]
    right = sum(rows[path].suggestion == truth[path] for path in untagged)
    assert right >= 0.75 * len(untagged), {p.name: rows[p].suggestion for p in untagged}
    assert all(rows[path].suggestion in LEARN_GENRES for path in untagged)
    # Files with a genre keep it (overwriting is off); nothing is written until Write Accepted.
    assert not any(rows[path].accepted for path in truth if "untagged" not in path.parts)
    assert tree_hashes(tmp_path / "lib") == before


def test_learn_can_be_cancelled_while_it_runs(qtbot, window, tmp_path):
    make_learn_library(tmp_path / "lib", untagged_per_genre=0)
    open_and_wait(qtbot, window, tmp_path / "lib")
    model = window.model
    window.learn_dialog = None
    window.learn_action.trigger()
    assert window.cancel_button.isVisibleTo(window) and not window.learn_action.isEnabled()
    window.cancel_button.click()
    qtbot.waitUntil(lambda: window._task is None, timeout=LEARN_WAIT_MS)
    assert window.learn_dialog is None and window.model is model
    assert "cancelled" in window.statusBar().currentMessage()
    assert window.learn_action.isEnabled()


def test_learn_from_too_few_tagged_files_is_a_one_line_error(qtbot, window, tmp_path, monkeypatch):
    make_learn_library(tmp_path / "lib", tagged_per_genre=3, untagged_per_genre=1, genres={"Calm Stuff": "chords"})
    open_and_wait(qtbot, window, tmp_path / "lib")
    errors = []
    monkeypatch.setattr(window, "show_error", lambda title, message, details="": errors.append(message))
    window.learn_dialog = None
    window.learn_action.trigger()
    qtbot.waitUntil(lambda: window._task is None, timeout=LEARN_WAIT_MS)
    assert window.learn_dialog is None
    assert len(errors) == 1 and "\n" not in errors[0] and "only one genre (Calm Stuff)" in errors[0], errors
    assert "Traceback" not in errors[0]
