"""The review window: open a library, watch it being classified, review, write, undo."""

from __future__ import annotations

import html
import math
import threading
import time
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QEvent, QModelIndex, QObject, QSettings, Qt, QTimer, Signal
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
from tagger.gui.delegates import FileNameDelegate, GenreDelegate, SentenceDelegate
from tagger.gui.details import DetailsPane
from tagger.gui.review import (REVIEW_SOURCE, UndoSummary, WriteCounts, WriteResult, bulk_accepts, policy_for,
                               review_labels, undo_last_write, unreadable_folder_reason, write_rows)
from tagger.gui.settings_dialog import SettingsDialog
from tagger.gui.table_model import (COL_ACCEPT, COL_ARTIST, COL_CURRENT, COL_FILE, COL_NOTE, COL_STATUS, COL_SUGGESTED,
                                    COL_TITLE, DIFFERS, ERROR, NEW, ROW_ROLE, SAME, SKIPPED, STATUSES, WRITTEN,
                                    TrackFilter, TrackRow, TrackTableModel)
from tagger.gui.worker import ClassifyWorker, TaskWorker

APP_TITLE = "Genre Tagger"
# Rows, from the top of the table as sorted, whose text the columns are fitted to.
FIT_ROWS = 200
# The free-text columns: they share the width the others leave.
NAME_COLUMNS = (COL_FILE, COL_ARTIST, COL_TITLE)
# Widest a short column is fitted to, in em; longer genres and notes are elided (full text in the tooltip).
_MAX_WIDTH_EM = {COL_CURRENT: 14, COL_SUGGESTED: 14, COL_NOTE: 20}
# Width a file name, an artist and a title usually need, in em (the columns are fitted to the first rows).
_USUAL_NAME_EM = {COL_FILE: 30, COL_ARTIST: 12, COL_TITLE: 14}
# Where the column widths the user chose are remembered (QSettings key).
COLUMN_WIDTHS_KEY = "column_widths"
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
        self.state: State | None = state or State()  # None once the window is closed
        self.settings = settings or QSettings()
        self.config = self._load_config()
        self.folder: Path | None = None
        self.model: GenreModel | None = None
        self._model_name: str | None = None  # the config value self.model was loaded for
        self.worker: ClassifyWorker | None = None
        self._task: TaskWorker | None = None
        self._task_cancel: threading.Event | None = None  # set by Cancel when the running task can stop
        self._pending_open: tuple[Path, bool] | None = None
        self._after_write: Callable[[], object] | None = None  # what to do once a write asked for on leaving ends
        self._labels_at_open: dict[str, str] = {}  # the library's review labels before this visit changed them
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
        self.bulk_accept_action = action("Accept &Shown Above Confidence", self.accept_above_threshold,
                                         "Ctrl+Shift+A", "Accept the rows shown whose suggestion fills an empty "
                                         "genre, at the slider's confidence or more")
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
        for act in (self.accept_action, self.reject_action, self.toggle_action, self.bulk_accept_action, None,
                    self.write_action, self.undo_action):
            review_menu.addSeparator() if act is None else review_menu.addAction(act)
        # Tools: "Train from my labels" (training code, added separately) belongs here, beside Settings.
        self.tools_menu = self.menuBar().addMenu("&Tools")
        self.tools_menu.addAction(self.settings_action)
        from tagger.gui.learn_dialog import add_learn_action
        from tagger.gui.train_dialog import add_train_action

        add_train_action(self)
        add_learn_action(self)
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
        """The placeholder shown before a folder is open, then the table beside the details pane."""
        self.stack = QStackedWidget()
        placeholder = QLabel("<h2>Open a music folder to start</h2>"
                             "<p>File ▸ Open Folder (Ctrl+O), a recent folder, or drop a folder on this window.</p>")
        placeholder.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.stack.addWidget(placeholder)

        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addLayout(self._build_filters())
        left_layout.addWidget(self._build_table(), 1)
        left_layout.addLayout(self._build_review_bar())

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

    def _build_filters(self) -> QHBoxLayout:
        """The text, status and genre filters above the table."""
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
        return filters

    def _build_table(self) -> QTableView:
        """The review table, its delegates, its row shortcuts and its column widths."""
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(COL_FILE, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.DoubleClicked |
                                   QAbstractItemView.EditTrigger.EditKeyPressed)
        self.table.verticalHeader().hide()
        self.table.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 8)
        self.genre_delegate = GenreDelegate(self.table)
        self.table.setItemDelegateForColumn(COL_SUGGESTED, self.genre_delegate)
        # Names are read from their start; a file name keeps its extension in view however narrow.
        self.table.setItemDelegateForColumn(COL_FILE, FileNameDelegate(self.table))
        self.text_delegate = SentenceDelegate(self.table)
        for col in (COL_ARTIST, COL_TITLE, COL_CURRENT, COL_NOTE):
            self.table.setItemDelegateForColumn(col, self.text_delegate)
        for act in (self.accept_action, self.reject_action, self.toggle_action):
            act.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)  # Space and letters stay normal elsewhere
            self.table.addAction(act)
        self._fitting = False
        self._fixed_widths: dict[int, int] = {}
        self._name_wanted: dict[int, int] = {}
        self._user_sized_columns = self._restore_column_widths()
        self.table.horizontalHeader().sectionResized.connect(self._column_resized)
        self.table.viewport().installEventFilter(self)
        self.table.selectionModel().currentRowChanged.connect(self._show_current)
        self.table_model.dataChanged.connect(self._refresh_details)
        return self.table

    def _build_review_bar(self) -> QHBoxLayout:
        """Accept and reject, the confidence slider with bulk accept, the summary and Write Accepted."""
        self.threshold = QSlider(Qt.Orientation.Horizontal)
        self.threshold.setRange(0, 100)
        self.threshold.setValue(70)
        self.threshold.setFixedWidth(160)
        self.threshold_button = QPushButton()
        self.threshold_button.setToolTip(
            "Accept the rows shown whose suggestion fills an empty genre, at this confidence or more "
            f"({self.bulk_accept_action.shortcut().toString()}). Rows that would replace a genre join when "
            "Settings overwrite existing genres, or when the status filter shows only 'differs'.")
        self.threshold.valueChanged.connect(
            lambda v: self.threshold_button.setText(f"Accept shown ≥ {v} %"))
        self.threshold.valueChanged.emit(self.threshold.value())
        self.threshold_button.clicked.connect(self.bulk_accept_action.trigger)
        accept_button, reject_button, write_button = (QPushButton("Accept"), QPushButton("Reject"),
                                                      QPushButton("Write Accepted…"))
        accept_button.clicked.connect(self.accept_action.trigger)
        reject_button.clicked.connect(self.reject_action.trigger)
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
        return review

    # -- column widths ---------------------------------------------------------------------------
    def _restore_column_widths(self) -> bool:
        """Put back the column widths the user last chose; False when there are none to put back."""
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        header.setStretchLastSection(False)  # the spare width goes to the names, not to the Note
        for col in range(self.table_model.columnCount()):
            header.resizeSection(col, self._header_width(col))
        saved = self.settings.value(COLUMN_WIDTHS_KEY)
        if not saved:
            return False
        widths = [int(w) for w in (saved if isinstance(saved, list) else [saved])]
        if len(widths) != self.table_model.columnCount():
            return False  # saved by a version with other columns
        for col, width in enumerate(widths):
            header.resizeSection(col, width)
        return True

    def _header_width(self, col: int) -> int:
        """Room for a column's title plus the sort arrow and margins, so no title is clipped."""
        metrics = self.fontMetrics()
        title = self.table_model.headerData(col, Qt.Orientation.Horizontal)
        return metrics.horizontalAdvance(title) + 2 * metrics.horizontalAdvance("M")

    def _fit_columns(self) -> None:
        """Fit the columns to the first rows shown, unless the user sized them; kept while the rest load.

        The short columns get their content's width, and at least what their usual values
        need (any status, any genre the model names, a short note) so that later rows fit
        too, up to a limit; File, Artist and Title share what is left (see :meth:`_share_name_width`).
        """
        if self._user_sized_columns or not self.table_model.rowCount():
            return
        em = self.fontMetrics().horizontalAdvance("M")
        content = self._content_widths()
        usual = self._usual_widths()
        self._fixed_widths = {col: max(self._header_width(col), min(max(content[col], usual.get(col, 0)) + em,
                                                                    _MAX_WIDTH_EM.get(col, 1000) * em))
                              for col in range(self.table_model.columnCount()) if col not in NAME_COLUMNS}
        # The first rows can be a handful of short names: each name column wants at least a usual width.
        self._name_wanted = {col: max(content[col] + em, _USUAL_NAME_EM[col] * em) for col in NAME_COLUMNS}
        self._share_name_width()

    def _usual_widths(self) -> dict[int, int]:
        """Room for values any row may show later: every status, every genre offered, a short note; in pixels."""
        metrics = QFontMetrics(self.table.font())

        def widest(texts: list[str] | tuple[str, ...]) -> int:
            return max((metrics.horizontalAdvance(text) for text in texts), default=0)

        genres = widest(self.genre_delegate.genre_names)
        return {COL_STATUS: widest(STATUSES), COL_SUGGESTED: genres, COL_CURRENT: genres,
                COL_NOTE: widest(["replaced Hip-Hop", "genre put back by undo"])}

    def _share_name_width(self) -> None:
        """Give File, Artist and Title the width the short columns leave (see :func:`share_width`).

        So no horizontal scroll bar appears and no width is left empty; text that does not fit
        is elided at its end (the full value is in the tooltip).
        """
        if self._user_sized_columns or not self._name_wanted:
            return
        spare = self.table.viewport().width() - sum(self._fixed_widths.values())
        widths = self._fixed_widths | {col: max(self._header_width(col), width)
                                       for col, width in share_width(spare, self._name_wanted).items()}
        self._fitting = True
        for col, width in widths.items():
            self.table.setColumnWidth(col, width)
        self._fitting = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        # The table's width changes with the window, the splitter and the vertical scroll bar.
        if watched is self.table.viewport() and event.type() == QEvent.Type.Resize:
            self._share_name_width()
        return super().eventFilter(watched, event)

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
        # Widths set by the window are its own; a drag is the user's choice, kept from now on.
        if not self._fitting and self.table_model.rowCount():
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
        if not self._leave_library(lambda: self.open_folder(folder, rescan)):
            return
        if self.worker is not None:  # open it once the current run has wound down
            self._pending_open = (folder, rescan)
            self.worker.cancel()
            return
        self._classify(folder, rescan)

    def _classify(self, folder: Path, rescan: bool) -> None:
        """Empty the table and start the background run that fills it with ``folder``'s files."""
        self.folder = folder
        self._remember_recent(folder)
        self.setWindowTitle(f"{folder.name or folder} — {APP_TITLE}")
        self.table_model.clear()
        self.details.show_row(None)
        self.stack.setCurrentIndex(1)
        self.table.setFocus()  # arrows, Space and Ctrl+S work at once
        self._fixed_widths, self._name_wanted = {}, {}  # fitted again to this library's first rows
        self._labels_at_open = review_labels(self.state, folder)
        model = self.model if self._model_name == self.config["model"] else None
        self.worker = ClassifyWorker(folder, self.config, self.state, model, rescan, self,
                                     user_genres=self._labels_at_open)
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
        """Stop classifying (files already in progress finish and are shown, no new ones start) or learning."""
        if self.worker is not None:
            self.worker.cancel()
        elif self._task_cancel is not None:
            self._task_cancel.set()
        else:
            return
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
        if not before:  # fitted once: widths that jump while the rest loads are hard to read
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
        """Accept the rows shown whose confidence reaches the slider's value and whose write the policy allows.

        As ``tagger-batch`` does, only empty genres are filled unless the overwrite setting
        is on; with the status filter on "differs" the user asks for replacements explicitly.
        """
        threshold = self.threshold.value() / 100
        may_replace = bool(self.config["overwrite"]) or self.status_filter.currentData() == DIFFERS
        shown = [(n, self.table_model.row(n)) for n in self.proxy.visible_source_rows()]
        changed = self.table_model.set_accepted([n for n, row in shown if bulk_accepts(row, threshold, may_replace)],
                                                True)
        held_back = sum(bulk_accepts(row, threshold, True) and not row.accepted for _, row in shown)
        message = f"Accepted {changed} more row{'s' * (changed != 1)} with confidence ≥ {threshold:.0%}."
        if held_back:
            message += (f" {held_back} would replace a genre already there: filter to 'differs' to accept "
                        "them, or turn on overwriting in Settings.")
        self.statusBar().showMessage(message)

    def _store_labels(self, rows: list[TrackRow]) -> None:
        """Accepted and corrected genres are the user's labels (for retraining); a rejection withdraws one."""
        for row in rows:
            if row.accepted:
                self.state.set_label(row.path, "; ".join(row.genres_to_write), source=REVIEW_SOURCE)
            else:
                self.state.remove_label(row.path)
        self.state.commit()
        self._update_summary()

    def unsaved_rows(self) -> list[TrackRow]:
        """Accepted rows whose genre is not in their file yet: what leaving the library would lose."""
        return [r for r in self.table_model.rows() if r.accepted and r.can_accept and r.status != SAME]

    def _discard_unsaved(self) -> None:
        """Forget the unwritten acceptances: their labels go back to what they were when the library was opened."""
        for row in self.unsaved_rows():
            row.accepted = False
            earlier = self._labels_at_open.get(str(row.path))
            if earlier is None:
                self.state.remove_label(row.path)
            else:
                self.state.set_label(row.path, earlier, source=REVIEW_SOURCE)
        self.state.commit()

    def _leave_library(self, then: Callable[[], object]) -> bool:
        """Whether the library may be left now; asks first when accepted rows are not written.

        "Write" writes them and calls ``then`` once every file is written; "Discard" drops
        them and their labels; "Cancel" stays.
        """
        unsaved = self.unsaved_rows()
        if not unsaved:
            return True
        answer = self._ask_unsaved(WriteCounts.of((r.current, r.genres_to_write) for r in unsaved))
        if answer == QMessageBox.StandardButton.Discard:
            self._discard_unsaved()
            return True
        if answer == QMessageBox.StandardButton.Save and self._start_write(unsaved):
            self._after_write = then
        return False

    def _ask_unsaved(self, counts: WriteCounts) -> QMessageBox.StandardButton:
        """Write / Discard / Cancel, for leaving a library with accepted rows not written."""
        box = QMessageBox(QMessageBox.Icon.Question, "Accepted genres not written",
                          f"Accepted genres are not written yet: {counts.describe()}.\n\nWrite them before leaving?",
                          QMessageBox.StandardButton.Save | QMessageBox.StandardButton.Discard |
                          QMessageBox.StandardButton.Cancel, self)
        box.button(QMessageBox.StandardButton.Save).setText("Write")
        box.setDefaultButton(QMessageBox.StandardButton.Save)
        box.setEscapeButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.standardButton(box.clickedButton())

    def _update_summary(self) -> None:
        rows = self.table_model.rows()
        accepted = sum(r.accepted for r in rows)
        errors = sum(r.status == ERROR for r in rows)
        errors_text = f" · {errors} error{'s' * (errors != 1)}" if errors else ""
        self.summary.setText(f"{_files(len(rows))} · {accepted} accepted{errors_text}")

    def _show_current(self, current: QModelIndex, _previous: QModelIndex = QModelIndex()) -> None:
        self.details.show_row(current.data(ROW_ROLE) if current.isValid() else None)

    def _refresh_details(self, top_left: QModelIndex, _bottom_right: QModelIndex) -> None:
        current = self.proxy.mapToSource(self.table.currentIndex())
        if current.isValid() and current.row() == top_left.row():
            self._show_current(self.table.currentIndex())

    # -- writing and undoing ---------------------------------------------------------------------
    def write_accepted(self) -> None:
        """Ask, then write every accepted row as one undoable run."""
        rows = [r for r in self.table_model.rows() if r.accepted and r.can_accept]
        if not rows:
            self.statusBar().showMessage("Nothing accepted to write.")
            return
        counts = WriteCounts.of((r.current, r.genres_to_write) for r in rows)
        if not counts.new and not counts.replaced:
            self.statusBar().showMessage(f"Nothing to write: {counts.describe()}.")
            return
        text = (f"Write genres into {_files(counts.new + len(counts.replaced))}?\n{counts.describe()}."
                "\n\nUndo Last Write puts the previous genres back.")
        if self._confirm("Write Accepted", text):
            self._start_write(rows)

    def _start_write(self, rows: list[TrackRow]) -> bool:
        """Write ``rows`` in the background (files already right are skipped); False when that cannot start now."""
        if self.worker is not None or self._task is not None or self.folder is None:
            self.statusBar().showMessage("Wait for the analysis to finish before writing.")
            return False
        jobs = [(r.path, r.genres_to_write, r.stamp) for r in rows]
        folder, model_id, keep_mtime = self.folder, self.model.model_id if self.model else None, self.config[
            "keep_mtime"]
        self._start_task(f"Writing {len(jobs)} files…", len(jobs),
                         lambda progress: write_rows(self.state, folder, jobs, model_id, bool(keep_mtime), progress),
                         self._written)
        return True

    def _written(self, result: tuple[int, list[WriteResult]]) -> None:
        _, results = result
        for res in results:
            row = self._row_at(res.path)
            if row is not None:
                _show_write_result(row, res)
        self.table_model.update_rows(self._row_at(r.path) for r in results if self._row_at(r.path))
        self._update_summary()
        counts = WriteCounts.of((r.previous, r.genres) for r in results if r.written or r.already_right)
        failures = [r for r in results if not r.written and not r.already_right and not r.left_alone]
        message = f"Wrote {_files(counts.new + len(counts.replaced))}: {counts.describe()}."
        left_alone = sum(r.left_alone for r in results)
        if left_alone:
            message += f" {left_alone} skipped: read-only, or changed since analysed (see the Note column)."
        if failures:
            message += f" {len(failures)} could not be written (see the Note column)."
            self.show_error("Some files were not written", message,
                            "\n".join(f"{r.path}: {r.message}" for r in failures))
        self.statusBar().showMessage(message)
        then, self._after_write = self._after_write, None
        if then is not None and not failures:  # the user asked to leave once everything is written
            QTimer.singleShot(0, then)

    def undo_last_write(self) -> None:
        if self.worker is not None or self._task is not None:
            self.statusBar().showMessage("Wait for the current work to finish before undoing.")
            return
        question = "Put back the genres that the last write replaced?"
        if self.folder:  # a path is not broken across lines: it would read as two
            question = ("<p>Put back the genres that the last write in</p>"
                        f"<p style='white-space:pre'>{html.escape(str(self.folder))}</p><p>replaced?</p>")
        if not self._confirm("Undo Last Write", question):
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

    def _start_task(self, label: str, total: int, function, on_success, cancel: threading.Event | None = None,
                    on_progress: Callable[[object], None] | None = None) -> None:
        """Run ``function(progress)`` in a :class:`TaskWorker`, then ``on_success(its result)``.

        Each ``progress`` report advances the bar by one item unless ``on_progress`` shows it;
        with ``cancel`` the Cancel button is shown and sets it.
        """
        self._task = TaskWorker(function, self)
        self._task_cancel = cancel
        self._task.progress.connect(on_progress or (lambda _: self.progress.setValue(self.progress.value() + 1)))
        self._task.succeeded.connect(on_success)
        self._task.failed.connect(lambda message: self.show_error(label.rstrip("…"), message))
        self._task.finished.connect(self._task_done)
        self._set_busy(label, cancellable=cancel is not None)
        self.progress.setRange(0, total)
        self.progress.setValue(0)
        self._task.start()

    def _task_done(self) -> None:
        self._task.deleteLater()
        self._task, self._task_cancel = None, None
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
        self.learn_action.setEnabled(not busy and self.folder is not None)

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
        if self.state is None:  # closed already (Qt may be asked twice)
            super().closeEvent(event)
            return
        if self._task is None and not self._leave_library(self.close):
            event.ignore()
            return
        self._shut_down()
        super().closeEvent(event)

    def _shut_down(self) -> None:
        """End the background threads, remember the window's geometry and column widths, close the state."""
        # Threads must end before their QThread objects go away; a write in progress finishes its file.
        self._pending_open = None
        for worker in (self.worker, self._task):
            if worker is not None:
                if isinstance(worker, ClassifyWorker):
                    worker.cancel()
                worker.wait()
        self.settings.setValue("geometry", self.saveGeometry())
        if self._user_sized_columns:
            self.settings.setValue(COLUMN_WIDTHS_KEY, [self.table.columnWidth(c)
                                                       for c in range(self.table_model.columnCount())])
        self.state.close()
        self.state = None


def _show_write_result(row: TrackRow, result: WriteResult) -> None:
    """Update a row after its file was written, found already right, or failed."""
    if result.written:
        # The status already says "written"; the note keeps what the write replaced.
        row.message = f"replaced {'; '.join(result.previous)}" if result.previous else ""
        row.current, row.status, row.accepted, row.stamp = result.genres, WRITTEN, False, result.stamp
    elif result.already_right:
        row.current, row.status, row.accepted, row.message = result.genres, SAME, False, result.message
    else:
        # Writing it again would be refused the same way: the row leaves the accepted set, so leaving the
        # library does not ask to write it (Analyse Again re-reads it once it is fixed).
        row.status = SKIPPED if result.left_alone else ERROR
        row.accepted = False
        row.message = result.message if result.left_alone else f"not written: {result.message}"


def share_width(spare: int, wanted: dict[int, int]) -> dict[int, int]:
    """Split ``spare`` pixels among columns that want ``wanted`` pixels each (column -> width).

    A column that wants less than an equal share gets what it wants, and the rest
    share what remains equally: a short artist name is shown whole rather than the
    long file names taking everything. Width nobody needs is shared in proportion
    to what each wants (rounding's pixels go to the first column).
    """
    widths: dict[int, int] = {}
    waiting = sorted(wanted, key=wanted.get)
    while waiting and wanted[waiting[0]] <= spare // len(waiting):
        col = waiting.pop(0)
        widths[col] = wanted[col]
        spare -= wanted[col]
    for col in waiting:
        widths[col] = spare // len(waiting)
    if not waiting:
        total = sum(wanted.values())
        shares = {col: spare * wanted[col] // total for col in wanted}
        shares[next(iter(wanted))] += spare - sum(shares.values())
        widths = {col: widths[col] + shares[col] for col in wanted}
    return widths


def _files(count: int) -> str:
    return f"{count} file{'s' * (count != 1)}"


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}" if seconds >= 60 else f"{seconds} s"
