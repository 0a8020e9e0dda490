"""The review window: open a library, watch it being classified, review, write, undo."""

from __future__ import annotations

import math
import time
from pathlib import Path

from PySide6.QtCore import QModelIndex, QSettings, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QDragEnterEvent, QDropEvent, QFont, QFontMetrics, QIcon, QKeySequence
from PySide6.QtWidgets import (QAbstractItemView, QComboBox, QFileDialog, QHBoxLayout, QHeaderView, QLabel,
                               QLineEdit, QMainWindow, QMessageBox, QProgressBar, QPushButton, QSlider,
                               QSplitter, QStackedWidget, QStyle, QTableView, QToolButton, QVBoxLayout, QWidget)

from tagger.config import Config, ConfigError, load_config, save_config
from tagger.features import load_front_end
from tagger.genres import display_name
from tagger.model import GenreModel
from tagger.state import State

from tagger.gui.about import about_html
from tagger.gui.delegates import GenreDelegate, SentenceDelegate
from tagger.gui.details import DetailsPane
from tagger.gui.review import (UndoSummary, WriteResult, policy_for, undo_last_write, unreadable_folder_reason,
                               write_rows)
from tagger.gui.settings_dialog import SettingsDialog
from tagger.gui.table_model import (COL_ACCEPT, COL_ARTIST, COL_FILE, COL_NOTE, COL_SUGGESTED, COL_TITLE, ERROR, NEW,
                                    ROW_ROLE, STATUSES, WRITTEN, TrackFilter, TrackRow, TrackTableModel)
from tagger.gui.worker import ClassifyWorker, TaskWorker

APP_TITLE = "Genre Tagger"
# Rows, from the top of the table as sorted, whose text the columns are fitted to.
FIT_ROWS = 200
MAX_RECENT = 8


class MainWindow(QMainWindow):
    """The main window.

    Signals
    -------
    run_finished(bool)
        A classification run ended (True when cancelled) and its rows are in the table.
    write_finished()
        "Write accepted" or "Undo last write" ended and the rows show the result.
    """

    run_finished = Signal(bool)
    write_finished = Signal()

    def __init__(self, state: State | None = None, settings: QSettings | None = None,
                 icon: QIcon | None = None) -> None:
        super().__init__()
        # Done here, not by the first decode in the worker: that import would freeze the window for ~1 s.
        load_front_end()
        self.state = state or State()
        self.settings = settings or QSettings()
        self.config = self._load_config()
        self.folder: Path | None = None
        self.model: GenreModel | None = None
        self._model_name: str | None = None  # the config value self.model was loaded for
        self.worker: ClassifyWorker | None = None
        self._task: TaskWorker | None = None
        self._pending_open: tuple[Path, bool] | None = None
        self._total = 0
        self._done = 0
        self._started = 0.0

        self.setWindowTitle(APP_TITLE)
        if icon is not None:
            self.setWindowIcon(icon)
        self.setAcceptDrops(True)

        self.table_model = TrackTableModel(self)
        self.table_model.acceptance_changed.connect(self._store_labels)
        self.proxy = TrackFilter(self)
        self.proxy.setSourceModel(self.table_model)

        self._build_actions()
        self._build_menus()
        self._build_central()
        self._build_status_bar()
        self._set_busy(None)
        self.restoreGeometry(self.settings.value("geometry", b""))
        if not self.settings.value("geometry"):
            self.resize(1400, 820)

    # -- construction ----------------------------------------------------------------------------
    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut=None, tip: str = "") -> QAction:
            act = QAction(text, self)
            act.triggered.connect(slot)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.setStatusTip(tip)
            act.setToolTip(f"{tip} ({act.shortcut().toString()})" if shortcut and tip else tip or text)
            return act

        self.open_action = action("&Open Folder…", self.choose_folder, QKeySequence.StandardKey.Open,
                                  "Open a music folder and suggest genres for it")
        self.rescan_action = action("&Analyse Again", lambda: self.open_folder(self.folder, rescan=True),
                                    "F5", "Analyse every file again instead of using stored results")
        self.write_action = action("&Write Accepted", self.write_accepted, QKeySequence.StandardKey.Save,
                                   "Write the accepted genres into the files")
        self.undo_action = action("&Undo Last Write", self.undo_last_write, None,
                                  "Put back the genres the last write replaced")
        self.accept_action = action("&Accept Selected", lambda: self._accept_selected(True), "A",
                                    "Accept the suggestions of the selected rows")
        self.reject_action = action("&Reject Selected", lambda: self._accept_selected(False), "R",
                                    "Do not write the selected rows")
        self.toggle_action = action("Toggle Accept", self._toggle_selected, "Space",
                                    "Accept or reject the selected rows")
        self.settings_action = action("&Settings…", self.edit_settings, QKeySequence.StandardKey.Preferences,
                                      "Model, minimum confidence, genre names")
        self.about_action = action("&About Genre Tagger", self.show_about)
        self.quit_action = action("&Quit", self.close, QKeySequence.StandardKey.Quit)

    def _build_menus(self) -> None:
        file_menu = self.menuBar().addMenu("&File")
        file_menu.addAction(self.open_action)
        self.recent_menu = file_menu.addMenu("Open &Recent")
        self._rebuild_recent_menu()
        file_menu.addAction(self.rescan_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        review_menu = self.menuBar().addMenu("&Review")
        for act in (self.accept_action, self.reject_action, self.toggle_action, None, self.write_action,
                    self.undo_action):
            review_menu.addSeparator() if act is None else review_menu.addAction(act)
        # Tools: "Train from my labels" (training code, added separately) belongs here, beside Settings.
        self.tools_menu = self.menuBar().addMenu("&Tools")
        self.tools_menu.addAction(self.settings_action)
        from tagger.gui.train_dialog import add_train_action

        add_train_action(self)
        help_menu = self.menuBar().addMenu("&Help")
        help_menu.addAction(self.about_action)

        toolbar = self.addToolBar("Main")
        toolbar.setObjectName("main-toolbar")
        toolbar.setMovable(False)
        toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for act in (self.open_action, self.rescan_action, None, self.write_action, self.undo_action, None,
                    self.settings_action):
            toolbar.addSeparator() if act is None else toolbar.addAction(act)

    def _build_central(self) -> None:
        self.stack = QStackedWidget()
        placeholder = QLabel("<h2>Open a music folder to start</h2>"
                             "<p>File ▸ Open Folder (Ctrl+O), a recent folder, or drop a folder on this window.</p>")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(placeholder)

        self.search = QLineEdit()
        self.search.setPlaceholderText("Filter by file, artist or title")
        self.search.setClearButtonEnabled(True)
        self.search.textChanged.connect(self.proxy.set_text)
        self.status_filter = QComboBox()
        self.status_filter.addItem("All statuses", "")
        for status in STATUSES:
            self.status_filter.addItem(status, status)
        self.status_filter.currentIndexChanged.connect(
            lambda: self.proxy.set_status(self.status_filter.currentData()))
        self.genre_filter = QComboBox()
        self.genre_filter.setMinimumContentsLength(12)
        self.genre_filter.addItem("All genres", "")
        self.genre_filter.currentIndexChanged.connect(lambda: self.proxy.set_genre(self.genre_filter.currentData()))
        filters = QHBoxLayout()
        filters.addWidget(self.search, 1)
        filters.addWidget(self.status_filter)
        filters.addWidget(self.genre_filter)

        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_FILE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)  # keeps a path's file name in view
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked |
                                   QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.genre_delegate = GenreDelegate(self.table)
        self.table.setItemDelegateForColumn(COL_SUGGESTED, self.genre_delegate)
        self.note_delegate = SentenceDelegate(self.table)
        self.table.setItemDelegateForColumn(COL_NOTE, self.note_delegate)
        for act in (self.accept_action, self.reject_action, self.toggle_action):
            act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # Space and letters stay normal elsewhere
            self.table.addAction(act)
        self._size_columns()
        self._user_sized_columns = False
        self._fitting = False
        self.table.horizontalHeader().sectionResized.connect(self._column_resized)
        self.table.selectionModel().currentRowChanged.connect(self._show_current)
        self.table_model.dataChanged.connect(self._refresh_details)

        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setValue(70)
        self.threshold.setFixedWidth(160)
        self.threshold_button = QPushButton()
        self.threshold_button.setToolTip("Accept every row shown in the table whose confidence is at least this")
        self.threshold.valueChanged.connect(
            lambda v: self.threshold_button.setText(f"Accept shown ≥ {v} %"))
        self.threshold.valueChanged.emit(self.threshold.value())
        self.threshold_button.clicked.connect(self.accept_above_threshold)
        accept_button, reject_button, write_button = QPushButton("Accept"), QPushButton("Reject"), QPushButton()
        accept_button.clicked.connect(self.accept_action.trigger)
        reject_button.clicked.connect(self.reject_action.trigger)
        write_button.setText("Write Accepted…")
        write_button.clicked.connect(self.write_action.trigger)
        self.write_action.enabledChanged.connect(write_button.setEnabled)  # looks disabled when it is
        self.summary = QLabel()
        review = QHBoxLayout()
        review.addWidget(accept_button)
        review.addWidget(reject_button)
        review.addSpacing(16)
        review.addWidget(QLabel("Confidence:"))
        review.addWidget(self.threshold)
        review.addWidget(self.threshold_button)
        review.addStretch(1)
        review.addWidget(self.summary)
        review.addSpacing(16)
        review.addWidget(write_button)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(filters)
        left_layout.addWidget(self.table, 1)
        left_layout.addLayout(review)

        self.details = DetailsPane()
        self.splitter = QSplitter()
        self.splitter.addWidget(left)
        self.splitter.addWidget(self.details)
        self.splitter.setStretchFactor(0, 1)
        self.splitter.setStretchFactor(1, 0)
        self.splitter.setSizes([1040, 360])
        self.stack.addWidget(self.splitter)
        self.setCentralWidget(self.stack)
        self.table_model.rowsInserted.connect(lambda: self.stack.setCurrentIndex(1))

    def _size_columns(self) -> None:
        """Starting widths that fit each header title, before any row is there."""
        metrics = self.fontMetrics()
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(True)
        for col in range(self.table_model.columnCount()):
            header.resizeSection(col, self._header_width(col))
        header.resizeSection(COL_FILE, 24 * metrics.horizontalAdvance("M"))

    def _header_width(self, col: int) -> int:
        """Room for a column's title plus the sort arrow and margins, so no title is clipped."""
        metrics = self.fontMetrics()
        title = self.table_model.headerData(col, Qt.Orientation.Horizontal)
        return metrics.horizontalAdvance(title) + 2 * metrics.horizontalAdvance("M")

    def _fit_columns(self) -> None:
        """Fit the columns to the rows so far, unless the user sized them, without a horizontal scroll bar.

        When everything does not fit, the free-text columns (file, artist, title) give up width in
        proportion; their text is elided in the middle and the full value is in the tooltip.
        """
        if self._user_sized_columns:
            return
        em = self.fontMetrics().horizontalAdvance("M")
        self._fitting = True
        content = self._content_widths()
        widths = {}
        for col in range(self.table_model.columnCount() - 1):  # the last (Note) stretches
            widths[col] = max(self._header_width(col), content[col] + em)
        note = min(max(6 * em, content[COL_NOTE] + em), self.table.viewport().width() // 4)
        overflow = sum(widths.values()) + note - self.table.viewport().width()
        shrinkable = {c: widths[c] - self._header_width(c) for c in (COL_FILE, COL_ARTIST, COL_TITLE)}
        if overflow > 0 and sum(shrinkable.values()) > 0:
            share = min(1.0, overflow / sum(shrinkable.values()))
            for col, spare in shrinkable.items():
                widths[col] -= int(spare * share)
        for col, width in widths.items():
            self.table.setColumnWidth(col, width)
        self._fitting = False

    def _content_widths(self) -> dict[int, int]:
        """Room for the widest text of each column among the first FIT_ROWS rows shown, in pixels.

        Measured with the table's fonts directly: QTableView.sizeHintForColumn asks the
        model for every role of every cell through Python, which froze the window for
        about 100 ms each time a run refitted the columns.
        """
        plain = QFontMetrics(self.table.font())
        italic_font = QFont(self.table.font())
        italic_font.setItalic(True)
        italic = QFontMetrics(italic_font)
        shown = self.proxy.source_rows(range(min(FIT_ROWS, self.proxy.rowCount())))
        rows = [self.table_model.row(number) for number in shown]
        # A cell's text sits inside the focus frame's margin on each side, as the item delegate draws it.
        margin = 2 * (self.table.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin) + 1)
        widths = {COL_ACCEPT: margin + self.table.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth)}
        for col in range(COL_ACCEPT + 1, self.table_model.columnCount()):
            widths[col] = margin + max(
                ((italic if TrackTableModel.cell_is_italic(row, col) else plain)
                 .horizontalAdvance(TrackTableModel.cell_text(row, col)) for row in rows), default=0)
        return widths

    def _column_resized(self, column: int) -> None:
        # The last column follows the window's width; only a drag of another one is the user's choice.
        if not self._fitting and column != COL_NOTE and self.table_model.rowCount():
            self._user_sized_columns = True

    def _build_status_bar(self) -> None:
        self.progress_label = QLabel()
        self.progress = QProgressBar()
        self.progress.setFixedWidth(220)
        self.cancel_button = QToolButton()
        self.cancel_button.setText("Cancel")
        self.cancel_button.clicked.connect(self.cancel_run)
        for widget in (self.progress_label, self.progress, self.cancel_button):
            self.statusBar().addPermanentWidget(widget)
        self.statusBar().showMessage("Open a music folder to start.")

    # -- opening and classifying -----------------------------------------------------------------
    def choose_folder(self) -> None:
        start = str(self.folder or self.settings.value("last_dir", str(Path.home())))
        folder = QFileDialog.getExistingDirectory(self, "Open Music Folder", start)
        if folder:
            self.open_folder(Path(folder))

    def open_folder(self, folder: Path | None, rescan: bool = False) -> None:
        """Show ``folder`` in the table and classify it in the background (a dry run: nothing is written)."""
        if folder is None:
            return
        folder = folder.expanduser().absolute()
        reason = unreadable_folder_reason(folder)
        if reason:
            self.show_error("Cannot open folder", reason)
            return
        if self._task is not None:
            self.statusBar().showMessage("Wait for the write to finish before opening another folder.")
            return
        if self.worker is not None:  # open it once the current run has wound down
            self._pending_open = (folder, rescan)
            self.worker.cancel()
            return
        self.folder = folder
        self._remember_recent(folder)
        self.setWindowTitle(f"{folder.name or folder} — {APP_TITLE}")
        self.table_model.clear()
        self.details.show_row(None)
        self.stack.setCurrentIndex(1)
        self.table.setFocus()  # arrows, Space and Ctrl+S work at once
        model = self.model if self._model_name == self.config["model"] else None
        self.worker = ClassifyWorker(folder, self.config, self.state, model, rescan, self)
        self.worker.model_ready.connect(self.set_model)
        self.worker.scanned.connect(self._scanned)
        self.worker.rows_ready.connect(self._rows_ready)
        self.worker.failed.connect(lambda message: self.show_error("Cannot analyse the folder", message))
        self.worker.done.connect(self._run_done)
        self._total = self._done = 0
        self.statusBar().showMessage(f"Analysing {folder}…")
        self._set_busy("Loading the model…" if model is None else "Looking for audio files…")
        self.worker.start()

    def cancel_run(self) -> None:
        """Stop classifying: files already in progress finish and are shown, no new ones start."""
        if self.worker is not None:
            self.worker.cancel()
            self.progress_label.setText("Cancelling…")

    def set_model(self, model: GenreModel) -> None:
        """Use ``model`` for the next analysis (loaded by a run, or handed in by whoever already has it)."""
        self.model, self._model_name = model, self.config["model"]
        names = [self._genre_name(g) for g in model.settings.genres]
        self.details.set_model(model.settings.genres, self._genre_name, model.settings.features.window_seconds)
        self.genre_delegate.genre_names = sorted(set(names) | set(self.config.genre_names.values()))
        self.genre_filter.blockSignals(True)
        while self.genre_filter.count() > 1:
            self.genre_filter.removeItem(1)
        for name in sorted(names):
            self.genre_filter.addItem(name, name)
        self.genre_filter.blockSignals(False)
        # Bulk accept starts where the suggestions turn uncertain, so it never ticks an uncertain row.
        self.threshold.setValue(math.ceil(100 * policy_for(self.config, model).min_confidence - 1e-9))
        self.progress_label.setText("Looking for audio files…")

    def _genre_name(self, genre_id: str) -> str:
        display_names = self.model.settings.display_names if self.model else {}
        return display_name(genre_id, display_names, self.config.genre_names)

    def _scanned(self, total: int) -> None:
        self._total = total
        self._started = time.monotonic()
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self.progress_label.setText(f"0 / {total} files")

    def _rows_ready(self, rows: list[TrackRow]) -> None:
        before = self.table_model.rowCount()
        self.table_model.append_rows(rows)
        # Refit as the first rows come in (the first batch alone can be a handful of short names).
        if any(before < n <= self.table_model.rowCount() for n in (1, 20, 100)):
            self._fit_columns()
        self._done += len(rows)
        self.progress.setValue(self._done)
        elapsed = time.monotonic() - self._started
        rate = self._done / elapsed if elapsed > 0 else 0.0
        text = f"{self._done} / {self._total} files"
        if elapsed > 3 and self._done >= 3:  # earlier estimates swing too much to be useful
            left = (self._total - self._done) / rate
            text += f" · {rate:.1f} files/s · {_duration(left)} left"
        self.progress_label.setText(text)
        if self.table.currentIndex().row() < 0 and self.proxy.rowCount():
            self.table.setCurrentIndex(self.proxy.index(0, COL_FILE))
        self._update_summary()

    def _run_done(self, cancelled: bool) -> None:
        self.worker.wait()
        self.worker.deleteLater()
        self.worker = None
        self._set_busy(None)
        self._fit_columns()
        if self._pending_open is not None:
            folder, rescan = self._pending_open
            self._pending_open = None
            self.open_folder(folder, rescan)
            return
        if cancelled:
            self.statusBar().showMessage(
                f"Cancelled: {self._done} of {self._total} files analysed. Analyse again to finish the rest.")
        elif self._done:
            self.statusBar().showMessage(f"Analysed {self._done} files. Review the suggestions, then Write Accepted.")
        self.run_finished.emit(cancelled)

    # -- reviewing -------------------------------------------------------------------------------
    def selected_source_rows(self) -> list[int]:
        return self.proxy.source_rows(sorted({i.row() for i in self.table.selectionModel().selectedRows()}))

    def _accept_selected(self, accept: bool) -> None:
        self.table_model.set_accepted(self.selected_source_rows(), accept)

    def _toggle_selected(self) -> None:
        self.table_model.toggle_accepted(self.selected_source_rows())

    def accept_above_threshold(self) -> None:
        """Accept the rows shown (after filtering) whose confidence reaches the slider's value."""
        threshold = self.threshold.value() / 100
        rows = [n for n in self.proxy.visible_source_rows()
                if (c := self.table_model.row(n).confidence) is not None and c >= threshold]
        changed = self.table_model.set_accepted(rows, True)
        self.statusBar().showMessage(f"Accepted {changed} more rows with confidence ≥ {threshold:.0%}.")

    def _store_labels(self, rows: list[TrackRow]) -> None:
        """Accepted and corrected genres are the user's labels (for retraining); a rejection withdraws one."""
        for row in rows:
            if row.accepted:
                self.state.set_label(row.path, "; ".join(row.genres_to_write), source="review")
            else:
                self.state.remove_label(row.path)
        self.state.commit()
        self._update_summary()

    def _update_summary(self) -> None:
        rows = self.table_model.rows()
        accepted = sum(r.accepted for r in rows)
        errors = sum(r.status == ERROR for r in rows)
        self.summary.setText(f"{len(rows)} file{'s' * (len(rows) != 1)} · {accepted} accepted" + (f" · {errors} errors" if errors else ""))

    def _show_current(self, current: QModelIndex, _previous: QModelIndex = QModelIndex()) -> None:
        self.details.show_row(current.data(ROW_ROLE) if current.isValid() else None)

    def _refresh_details(self, top_left: QModelIndex, _bottom_right: QModelIndex) -> None:
        current = self.proxy.mapToSource(self.table.currentIndex())
        if current.isValid() and current.row() == top_left.row():
            self._show_current(self.table.currentIndex())

    # -- writing and undoing ---------------------------------------------------------------------
    def write_accepted(self) -> None:
        """Ask, then write every accepted row as one undoable run."""
        if self.worker is not None or self._task is not None or self.folder is None:
            self.statusBar().showMessage("Wait for the analysis to finish before writing.")
            return
        rows = [r for r in self.table_model.rows() if r.accepted and r.can_accept]
        if not rows:
            self.statusBar().showMessage("Nothing accepted to write.")
            return
        replacing = sum(bool(r.current) for r in rows)
        text = f"Write genres into {len(rows)} files?"
        if replacing:
            text += f"\n{replacing} of them already have a genre, which will be replaced."
        text += "\n\nUndo Last Write puts the previous genres back."
        if not self._confirm("Write Accepted", text):
            return
        jobs = [(r.path, r.genres_to_write, r.stamp) for r in rows]
        folder, model_id, keep_mtime = self.folder, self.model.model_id if self.model else None, self.config[
            "keep_mtime"]
        self._start_task(f"Writing {len(jobs)} files…", len(jobs),
                         lambda progress: write_rows(self.state, folder, jobs, model_id, bool(keep_mtime), progress),
                         self._written)

    def _written(self, result: tuple[int, list[WriteResult]]) -> None:
        _, results = result
        failures = [r for r in results if not r.written]
        for res in results:
            row = self._row_at(res.path)
            if row is None:
                continue
            if res.written:
                # The status already says "written"; the note keeps what the write replaced.
                row.message = f"replaced {'; '.join(row.current)}" if row.current else ""
                row.current, row.status, row.accepted, row.stamp = res.genres, WRITTEN, False, res.stamp
            else:
                row.message = f"not written: {res.message}"
        self.table_model.update_rows(self._row_at(r.path) for r in results if self._row_at(r.path))
        self._update_summary()
        message = f"Wrote {len(results) - len(failures)} files."
        if failures:
            message += f" {len(failures)} could not be written (see the Note column)."
            self.show_error("Some files were not written", message,
                            "\n".join(f"{r.path}: {r.message}" for r in failures))
        self.statusBar().showMessage(message)

    def undo_last_write(self) -> None:
        if self.worker is not None or self._task is not None:
            self.statusBar().showMessage("Wait for the current work to finish before undoing.")
            return
        where = f" in {self.folder}" if self.folder else ""
        if not self._confirm("Undo Last Write", f"Put back the genres that the last write{where} replaced?"):
            return
        self._start_task("Undoing the last write…", 0, lambda progress: undo_last_write(self.state, self.folder),
                         self._undone)

    def _undone(self, summary: UndoSummary) -> None:
        for res in summary.restored:
            row = self._row_at(res.path)
            if row is not None:
                row.current, row.stamp, row.accepted = res.genres, res.stamp, False
                row.status = NEW  # recomputed from the restored genre below
                row.refresh_status()
                row.message = res.message or "genre put back by undo"
        for res in summary.not_restored:
            row = self._row_at(res.path)
            if row is not None:
                row.message = f"not undone: {res.message}"
        paths = [r.path for r in summary.restored + summary.not_restored]
        self.table_model.update_rows(row for p in paths if (row := self._row_at(p)) is not None)
        self._update_summary()
        message = f"Undid run {summary.undone_run}: {len(summary.restored)} files put back."
        if summary.not_restored:
            message += f" {len(summary.not_restored)} left as they are."
            self.show_error("Some files were not put back", message,
                            "\n".join(f"{r.path}: {r.message}" for r in summary.not_restored))
        self.statusBar().showMessage(message)

    def _row_at(self, path: Path) -> TrackRow | None:
        number = self.table_model.row_for(Path(path))
        return None if number is None else self.table_model.row(number)

    def _start_task(self, label: str, total: int, function, on_success) -> None:
        self._task = TaskWorker(function, self)
        self._task.progress.connect(lambda _: self.progress.setValue(self.progress.value() + 1))
        self._task.succeeded.connect(on_success)
        self._task.failed.connect(lambda message: self.show_error(label.rstrip("…"), message))
        self._task.finished.connect(self._task_done)
        self._set_busy(label, cancellable=False)
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self._task.start()

    def _task_done(self) -> None:
        self._task.deleteLater()
        self._task = None
        self._set_busy(None)
        self.write_finished.emit()

    # -- settings, about, errors -----------------------------------------------------------------
    def _load_config(self) -> Config:
        try:
            return load_config()
        except ConfigError as exc:
            # Python unbinds ``exc`` when the except block ends; the deferred call needs the text.
            message = f"{exc}\nUsing the defaults."
            QTimer.singleShot(0, lambda: self.show_error("Bad settings file", message))
            return Config()

    def edit_settings(self) -> None:
        dialog = SettingsDialog(self.config, self, self.model.settings.min_confidence if self.model else None)
        if dialog.exec() == SettingsDialog.DialogCode.Accepted:
            self.apply_settings(dialog.result_config())

    def apply_settings(self, config: Config) -> None:
        """Save ``config`` to the file both front ends read; the next analysis uses it."""
        try:
            path = save_config(config)
        except OSError as exc:
            self.show_error("Settings not saved", f"cannot write the settings file: {exc}")
            return
        self.config = config
        if self.model is not None:
            self.set_model(self.model)  # genre names may have changed
        self.statusBar().showMessage(f"Settings saved to {path}. Analyse Again (F5) to apply them to the table.")

    def show_about(self) -> None:
        QMessageBox.about(self, f"About {APP_TITLE}", about_html(self.model, self.config["model"]))

    def show_error(self, title: str, message: str, details: str = "") -> None:
        """Show an error in the status bar and in a message box that does not block the window."""
        self.statusBar().showMessage(message.splitlines()[0] if message else title)
        box = QMessageBox(QMessageBox.Icon.Warning, title, message, QMessageBox.StandardButton.Ok, self)
        if details:
            box.setDetailedText(details)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()

    def _confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self, title, text, QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.Cancel,
                                      QMessageBox.StandardButton.Yes)
        return answer == QMessageBox.StandardButton.Yes

    def _set_busy(self, label: str | None, cancellable: bool = True) -> None:
        """Show the progress widgets while ``label`` is going on; None when idle."""
        busy = label is not None
        for widget in (self.progress_label, self.progress):
            widget.setVisible(busy)
        self.cancel_button.setVisible(busy and cancellable)
        if busy:
            self.progress_label.setText(label)
            self.progress.setRange(0, 0)  # "busy" until the number of files is known
        self.write_action.setEnabled(not busy)
        self.undo_action.setEnabled(not busy)
        self.rescan_action.setEnabled(not busy and self.folder is not None)

    # -- recent folders, drag and drop, closing --------------------------------------------------
    def _recent_folders(self) -> list[str]:
        value = self.settings.value("recent_folders", [])
        return [value] if isinstance(value, str) else list(value or [])

    def _remember_recent(self, folder: Path) -> None:
        recent = [str(folder)] + [f for f in self._recent_folders() if f != str(folder)]
        self.settings.setValue("recent_folders", recent[:MAX_RECENT])
        self.settings.setValue("last_dir", str(folder.parent))
        self._rebuild_recent_menu()

    def _rebuild_recent_menu(self) -> None:
        self.recent_menu.clear()
        for folder in self._recent_folders():
            self.recent_menu.addAction(folder, lambda f=folder: self.open_folder(Path(f)))
        self.recent_menu.setEnabled(bool(self.recent_menu.actions()))

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        urls = event.mimeData().urls()
        if urls and urls[0].isLocalFile() and Path(urls[0].toLocalFile()).is_dir():
            event.acceptProposedAction()

    def dropEvent(self, event: QDropEvent) -> None:
        self.open_folder(Path(event.mimeData().urls()[0].toLocalFile()))

    def closeEvent(self, event: QCloseEvent) -> None:
        # Threads must end before their QThread objects go away; a write in progress finishes its file.
        self._pending_open = None
        for worker in (self.worker, self._task):
            if worker is not None:
                if isinstance(worker, ClassifyWorker):
                    worker.cancel()
                worker.wait()
        self.settings.setValue("geometry", self.saveGeometry())
        self.state.close()
        super().closeEvent(event)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
