"""Table cells drawn or edited otherwise than the table's defaults."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFontMetrics
from PySide6.QtWidgets import QApplication, QComboBox, QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget


class GenreDelegate(QStyledItemDelegate):
    """The editor lists ``genre_names`` (set when a model is loaded); any other name can be typed."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.genre_names: list[str] = []

    def createEditor(self, parent: QWidget, option: QStyleOptionViewItem,
                     index: QModelIndex | QPersistentModelIndex) -> QWidget:
        editor = QComboBox(parent)
        editor.setEditable(True)
        editor.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        editor.addItems(self.genre_names)
        return editor

    def setEditorData(self, editor: QWidget, index: QModelIndex | QPersistentModelIndex) -> None:
        editor.setCurrentText(str(index.data(Qt.ItemDataRole.EditRole) or ""))

    def setModelData(self, editor: QWidget, model: QAbstractItemModel,
                     index: QModelIndex | QPersistentModelIndex) -> None:
        model.setData(index, editor.currentText(), Qt.ItemDataRole.EditRole)


class SentenceDelegate(QStyledItemDelegate):
    """Cuts text that does not fit at its end, where it matters least: names and sentences are read from the start."""

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.textElideMode = Qt.TextElideMode.ElideRight


class FileNameDelegate(SentenceDelegate):
    """Cuts a path that does not fit in its folders first, then before its extension: the name and format stay in view.

    "Live Sets – Ün…/Classic Rock Anthem (Remastered 2011).flac", "Bill Evans Trio – Wal….flac".
    """

    def initStyleOption(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> None:
        super().initStyleOption(option, index)
        option.text = elide_path(option.text, option.fontMetrics, _text_width(option))


def elide_path(text: str, metrics: QFontMetrics, width: int) -> str:
    """``text`` (a relative path) cut to fit ``width`` pixels: its folders first, then its file name's stem.

    Parameters
    ----------
    width : int
        Room for the text, in pixels.
    """
    if width <= 0 or metrics.horizontalAdvance(text) <= width:
        return text
    folders, slash, name = text.rpartition("/")
    if not slash:
        return _elide_stem(name, metrics, width)
    folder_room = width - metrics.horizontalAdvance(slash + name)
    if metrics.horizontalAdvance("…") < folder_room:
        return metrics.elidedText(folders, Qt.TextElideMode.ElideRight, folder_room) + slash + name
    return "…/" + _elide_stem(name, metrics, width - metrics.horizontalAdvance("…/"))


def _elide_stem(name: str, metrics: QFontMetrics, width: int) -> str:
    # A name that fits comes back whole: elidedText leaves text that fits as it is.
    stem, dot, extension = name.rpartition(".")
    if not dot or len(extension) > 5:  # no extension to keep
        return metrics.elidedText(name, Qt.TextElideMode.ElideRight, width)
    stem_room = width - metrics.horizontalAdvance(dot + extension)
    return metrics.elidedText(stem, Qt.TextElideMode.ElideRight, stem_room) + dot + extension


def _text_width(option: QStyleOptionViewItem) -> int:
    """Pixels the item view has for a cell's text, as the style lays the cell out."""
    style = option.widget.style() if option.widget else QApplication.style()
    text_rect = style.subElementRect(QStyle.SubElement.SE_ItemViewItemText, option, option.widget)
    # The style draws the text inside that rectangle less the focus frame's margin (plus one pixel) on each side.
    margin = style.pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, option, option.widget) + 1
    return text_rect.width() - 2 * margin
