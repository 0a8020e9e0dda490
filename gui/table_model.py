"""The review table: one row per file, its suggestion and whether the user accepts it.

Rows live in a plain list and are appended in batches, and the view sorts and
filters through :class:`TrackFilter`, so 20,000 rows stay smooth: no widget per
row, and the filter looks at row fields directly instead of formatted text.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont

from tagger.decision import Decision, shown_confidence
from tagger.genres import genre_key
from tagger.policy import Verdict, genre_verdict
from tagger.writer import FileStamp

# Review statuses, in the order the status filter lists them.
NEW, SAME, DIFFERS, UNCERTAIN, ERROR, WRITTEN = "new", "same as current", "differs", "uncertain", "error", "written"
# Deliberately left alone (read-only, changed since analysed), as tagger-batch reports it: not an error.
SKIPPED = "skipped"
STATUSES = (NEW, SAME, DIFFERS, UNCERTAIN, SKIPPED, ERROR, WRITTEN)

# The accept checkbox comes first: it is what the review is about, and stays in view however wide the rest.
COLUMNS = ("Accept", "File", "Artist", "Title", "Current", "Suggested", "Confidence", "Status", "Note")
_HEADER_TIPS = ("Write this row's suggestion (Space toggles)", "Path inside the library", "", "",
                "Genre in the file's tags now", "Genre to write; double-click to correct it",
                "The model's probability for its suggestion", "", "Why a file is uncertain, failed or was written")
(COL_ACCEPT, COL_FILE, COL_ARTIST, COL_TITLE, COL_CURRENT, COL_SUGGESTED, COL_CONFIDENCE, COL_STATUS,
 COL_NOTE) = range(len(COLUMNS))

SORT_ROLE = Qt.ItemDataRole.UserRole + 1
ROW_ROLE = Qt.ItemDataRole.UserRole + 2

# tagger.policy's status rule, in the review's words.
_REVIEW_STATUS = {Verdict.UNCHANGED: SAME, Verdict.UNCERTAIN: UNCERTAIN, Verdict.FILL: NEW, Verdict.REPLACE: DIFFERS}

# The Note of a row whose genre the user typed or picked: the model's confidence is not about it.
USER_CHOICE = "your choice"

_STATUS_COLOURS = {NEW: "#2e7d32", DIFFERS: "#b26a00", UNCERTAIN: "#757575", ERROR: "#c62828", SKIPPED: "#6d4c41",
                  WRITTEN: "#1565c0"}


@dataclass
class TrackRow:
    """One file under review.

    Attributes
    ----------
    suggestion : str
        Genre name that "Write accepted" writes: the model's, or the user's correction.
    model_suggestion : str
        What the model proposed, to tell a correction from an accepted suggestion.
    model_note : str
        What the model's verdict needs said ("below 63%"); a correction makes it moot.
    message : str
        What happened to the file (an error, a write); shown before the model's note.
    stamp : FileStamp, optional
        Size and mtime when the file was analysed; a file changed since is not written.
    """

    path: Path
    relpath: str
    artist: str = ""
    title: str = ""
    current: list[str] = field(default_factory=list)
    suggestion: str = ""
    model_suggestion: str = ""
    confidence: float | None = None
    status: str = NEW
    accepted: bool = False
    message: str = ""
    model_note: str = ""
    decision: Decision | None = None
    stamp: FileStamp | None = None
    below_threshold: bool = False

    @property
    def current_text(self) -> str:
        return "; ".join(self.current)

    @property
    def genres_to_write(self) -> list[str]:
        """The suggestion as genre names; several may be given separated by ";"."""
        return [g.strip() for g in self.suggestion.split(";") if g.strip()]

    @property
    def corrected(self) -> bool:
        return bool(self.suggestion) and genre_key(self.suggestion) != genre_key(self.model_suggestion)

    @property
    def note(self) -> str:
        """The Note column: what happened to the file, else whose genre the suggestion is."""
        if self.message:
            return self.message
        return USER_CHOICE if self.corrected else self.model_note

    @property
    def can_accept(self) -> bool:
        """Errors have nothing to write, skipped files are not to be written, written rows are done."""
        return self.status not in (ERROR, SKIPPED, WRITTEN) and bool(self.suggestion)

    def refresh_status(self) -> None:
        """Status after the suggestion or the current genre changed."""
        if self.status in (ERROR, SKIPPED, WRITTEN):
            return
        verdict = genre_verdict(self.current, self.genres_to_write, not self.below_threshold or self.corrected)
        self.status = _REVIEW_STATUS[verdict]


class TrackTableModel(QAbstractTableModel):
    """Rows of :class:`TrackRow`; the accept column is a checkbox and the suggestion is editable.

    Signals
    -------
    acceptance_changed(list)
        Rows whose accept flag or suggestion the user changed, so the window can store labels.
    """

    acceptance_changed = Signal(list)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[TrackRow] = []
        self._index_of: dict[Path, int] = {}

    # -- reading ---------------------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.ToolTipRole:
            return _HEADER_TIPS[section] or None
        return None

    def row(self, row: int) -> TrackRow:
        return self._rows[row]

    def rows(self) -> Sequence[TrackRow]:
        return self._rows

    def row_for(self, path: Path) -> int | None:
        return self._index_of.get(path)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        col = index.column()
        if role == ROW_ROLE:
            return row
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
            return self.cell_text(row, col)
        if role == SORT_ROLE:
            if col == COL_CONFIDENCE:
                return -1.0 if row.confidence is None else row.confidence
            if col == COL_ACCEPT:
                return int(row.accepted)
            if col == COL_STATUS:
                return STATUSES.index(row.status)
            return self.cell_text(row, col).casefold()
        if role == Qt.ItemDataRole.CheckStateRole and col == COL_ACCEPT:
            return Qt.CheckState.Checked if row.accepted else Qt.CheckState.Unchecked
        if role == Qt.ItemDataRole.ForegroundRole and col == COL_STATUS and row.status in _STATUS_COLOURS:
            return QBrush(QColor(_STATUS_COLOURS[row.status]))
        if role == Qt.ItemDataRole.FontRole and self.cell_is_italic(row, col):
            font = QFont()
            font.setItalic(True)
            return font
        if role == Qt.ItemDataRole.TextAlignmentRole and col == COL_CONFIDENCE:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        if role == Qt.ItemDataRole.ToolTipRole:
            if col == COL_FILE:
                return str(row.path)
            if col in (COL_STATUS, COL_NOTE) and row.note:
                return row.note
            if col == COL_SUGGESTED and row.corrected:
                return f"corrected by you; the model said {row.model_suggestion}"
        return None

    @staticmethod
    def cell_is_italic(row: TrackRow, col: int) -> bool:
        """Whether a cell's text is in italics: a correction stands out from what the model said."""
        return col == COL_SUGGESTED and row.corrected

    @staticmethod
    def cell_text(row: TrackRow, col: int) -> str:
        """The text a cell shows."""
        if col == COL_FILE:
            return row.relpath
        if col == COL_ARTIST:
            return row.artist
        if col == COL_TITLE:
            return row.title
        if col == COL_CURRENT:
            return row.current_text
        if col == COL_SUGGESTED:
            return row.suggestion
        if col == COL_CONFIDENCE:  # the model's confidence says nothing about the user's own genre
            return "" if row.confidence is None or row.corrected else f"{shown_confidence(row.confidence):.0%}"
        if col == COL_STATUS:
            return row.status
        if col == COL_NOTE:
            return row.note
        return ""

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        flags = super().flags(index)
        if not index.isValid():
            return flags
        row = self._rows[index.row()]
        if index.column() == COL_ACCEPT and row.can_accept:
            flags |= Qt.ItemFlag.ItemIsUserCheckable
        if index.column() == COL_SUGGESTED and row.status not in (ERROR, WRITTEN):
            flags |= Qt.ItemFlag.ItemIsEditable
        return flags

    # -- editing ---------------------------------------------------------------------------------
    def setData(self, index: QModelIndex | QPersistentModelIndex, value, role: int = Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid():
            return False
        row = self._rows[index.row()]
        if index.column() == COL_ACCEPT and role == Qt.ItemDataRole.CheckStateRole:
            self.set_accepted([index.row()], Qt.CheckState(value) == Qt.CheckState.Checked)
            return True
        if index.column() == COL_SUGGESTED and role == Qt.ItemDataRole.EditRole:
            text = str(value).strip()
            if not text or row.status in (ERROR, WRITTEN):
                return False
            row.suggestion = text
            row.accepted = True  # correcting a suggestion means "write this instead"
            row.refresh_status()
            self._changed(index.row())
            self.acceptance_changed.emit([row])
            return True
        return False

    def set_accepted(self, rows: Iterable[int], accepted: bool) -> int:
        """Accept or reject rows (by source row number); returns how many changed."""
        changed = []
        for number in rows:
            row = self._rows[number]
            if row.can_accept and row.accepted != accepted:
                row.accepted = accepted
                changed.append(number)
                self._changed(number)
        if changed:
            self.acceptance_changed.emit([self._rows[n] for n in changed])
        return len(changed)

    def toggle_accepted(self, rows: Sequence[int]) -> None:
        """Space: accept the rows if any of them is not accepted yet, else reject them all."""
        accept = any(not self._rows[n].accepted for n in rows if self._rows[n].can_accept)
        self.set_accepted(rows, accept)

    def update_rows(self, rows: Iterable[TrackRow]) -> None:
        """Repaint rows whose fields were changed outside the model (after a write or an undo)."""
        for row in rows:
            number = self._index_of.get(row.path)
            if number is not None:
                self._changed(number)

    def _changed(self, number: int) -> None:
        self.dataChanged.emit(self.index(number, 0), self.index(number, len(COLUMNS) - 1))

    # -- filling ---------------------------------------------------------------------------------
    def append_rows(self, rows: Sequence[TrackRow]) -> None:
        """Add a batch of rows with one insert notification (one re-sort and re-filter per batch)."""
        if not rows:
            return
        first = len(self._rows)
        self.beginInsertRows(QModelIndex(), first, first + len(rows) - 1)
        for offset, row in enumerate(rows):
            self._index_of[row.path] = first + offset
        self._rows.extend(rows)
        self.endInsertRows()

    def clear(self) -> None:
        self.beginResetModel()
        self._rows = []
        self._index_of = {}
        self.endResetModel()


class TrackFilter(QSortFilterProxyModel):
    """Sorts by each column's natural order and keeps the rows matching status, genre and text."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.setSortRole(SORT_ROLE)
        self.setDynamicSortFilter(True)
        self._status = ""
        self._genre_key = ""
        self._text = ""

    def set_status(self, status: str) -> None:
        """Only rows with this status ("" for all)."""
        self._refilter(lambda: setattr(self, "_status", status))

    def set_genre(self, genre: str) -> None:
        """Only rows whose suggested or current genre is ``genre`` ("" for all)."""
        self._refilter(lambda: setattr(self, "_genre_key", genre_key(genre) if genre else ""))

    def set_text(self, text: str) -> None:
        """Only rows whose file, artist or title contains ``text`` (any case)."""
        self._refilter(lambda: setattr(self, "_text", text.strip().casefold()))

    def _refilter(self, change: Callable[[], None]) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt >= 6.10; invalidateFilter() is deprecated there
            self.beginFilterChange()
            change()
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            change()
            self.invalidateFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: QModelIndex | QPersistentModelIndex) -> bool:
        row: TrackRow = self.sourceModel().row(source_row)
        if self._status and row.status != self._status:
            return False
        if self._genre_key and self._genre_key not in (genre_key(g) for g in row.genres_to_write + row.current):
            return False
        if self._text and not any(self._text in s.casefold() for s in (row.relpath, row.artist, row.title)):
            return False
        return True

    def source_rows(self, proxy_rows: Iterable[int]) -> list[int]:
        return [self.mapToSource(self.index(r, 0)).row() for r in proxy_rows]

    def visible_source_rows(self) -> list[int]:
        return self.source_rows(range(self.rowCount()))
