"""The details pane: why the model suggests what it suggests for the selected track."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import QRectF, QSize, Qt, QUrl
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import (QFormLayout, QGridLayout, QGroupBox, QHBoxLayout, QLabel, QProgressBar,
                               QPushButton, QSizePolicy, QVBoxLayout, QWidget)

from tagger.decision import shown_confidence
from tagger.gui.table_model import TrackRow

try:  # PySide6-Essentials builds without QtMultimedia exist: then there is no play button.
    from PySide6.QtMultimedia import QAudioOutput, QMediaPlayer
except ImportError:
    QMediaPlayer = None

# One colour per genre, in the model's output order (Tableau 10 with its grey replaced: grey reads as "empty").
# Qualitative: the timeline draws them solid, so no two genres meet at any confidence.
PALETTE = ("#4e79a7", "#f28e2b", "#e15759", "#76b7b2", "#59a14f", "#edc948", "#b07aa1", "#ff9da7", "#9c755f",
           "#1b3a6b")


def genre_colour(index: int) -> QColor:
    return QColor(PALETTE[index % len(PALETTE)])


class Timeline(QWidget):
    """A strip with one bar per analysed window, coloured by that window's most likely genre.

    The bar's height follows the window's confidence, so a track that changes
    style half way, or one the model is unsure about, shows at a glance; the
    colour stays solid, so each genre keeps its own colour at every confidence
    (a pale red would read as the pink of another genre).
    """

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._starts = np.zeros(0)
        self._top = np.zeros(0, dtype=int)
        self._confidence = np.zeros(0)
        self._window_seconds = 0.0
        self.setMinimumHeight(36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def sizeHint(self) -> QSize:
        return QSize(240, 36)

    def set_windows(self, window_probs: np.ndarray, window_starts: np.ndarray, window_seconds: float) -> None:
        self._starts = np.asarray(window_starts, dtype=float)
        self._top = np.argmax(window_probs, axis=1) if len(window_probs) else np.zeros(0, dtype=int)
        self._confidence = np.max(window_probs, axis=1) if len(window_probs) else np.zeros(0)
        self._window_seconds = window_seconds
        self.update()

    def clear(self) -> None:
        self.set_windows(np.zeros((0, 0)), np.zeros(0), 0.0)

    def top_genres(self) -> list[int]:
        """Output indices of the genres that appear in the strip, for its legend."""
        return sorted(set(int(i) for i in self._top))

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5)
        painter.setPen(self.palette().mid().color())
        painter.setBrush(self.palette().base())
        painter.drawRect(rect)
        if not len(self._starts):
            return
        # Windows overlap (hop < length); each cell covers its window's share of the track's time axis.
        end = float(self._starts[-1]) + self._window_seconds
        scale = rect.width() / end if end > 0 else 0.0
        painter.setPen(Qt.PenStyle.NoPen)
        full_height = rect.height() - 2
        for i, start in enumerate(self._starts):
            right = self._starts[i + 1] if i + 1 < len(self._starts) else end
            painter.setBrush(genre_colour(int(self._top[i])))
            # Whole pixels, so neighbouring bars meet without anti-aliased seams; a bar stands on the bottom edge.
            left = round(rect.left() + start * scale)
            height = max(2, round(full_height * float(self._confidence[i])))
            painter.drawRect(QRectF(left, rect.bottom() - 1 - height, round(rect.left() + right * scale) - left,
                                    height))


class DetailsPane(QWidget):
    """Top-3 genres with probability bars, the window timeline with a legend, and playback."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._genre_ids: tuple[str, ...] = ()
        self._name_of: Callable[[str], str] = str
        self._window_seconds = 4.0
        self._path: Path | None = None
        self._player = None

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_header())
        layout.addWidget(self.subtitle)
        layout.addWidget(self._build_info())
        layout.addWidget(self._build_top_genres())
        layout.addWidget(self._build_timeline())
        layout.addStretch(1)
        self.show_row(None)

    def _build_header(self) -> QHBoxLayout:
        """The track's title beside the play button, and the artist and path below (``self.subtitle``)."""
        self.title = QLabel("No track selected")
        self.title.setWordWrap(True)
        font = self.title.font()
        font.setPointSizeF(font.pointSizeF() * 1.2)
        font.setBold(True)
        self.title.setFont(font)
        self.subtitle = QLabel()
        self.subtitle.setWordWrap(True)
        self.subtitle.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.play_button = QPushButton("Play")
        self.play_button.setCheckable(True)
        self.play_button.toggled.connect(self._play)
        self.play_button.setVisible(QMediaPlayer is not None)

        header = QHBoxLayout()
        header.addWidget(self.title, 1)
        header.addWidget(self.play_button, 0, Qt.AlignmentFlag.AlignTop)
        return header

    def _build_top_genres(self) -> QGroupBox:
        """Three genre names with probability bars."""
        self.top_box = top_box = QGroupBox("Most likely genres")
        self._bars = QGridLayout(top_box)
        self._bar_labels: list[QLabel] = []
        self._bar_values: list[QProgressBar] = []
        for i in range(3):
            label, bar = QLabel(), QProgressBar()
            bar.setRange(0, 1000)
            bar.setTextVisible(True)
            self._bars.addWidget(label, i, 0)
            self._bars.addWidget(bar, i, 1)
            self._bar_labels.append(label)
            self._bar_values.append(bar)
        self._bars.setColumnStretch(1, 1)
        return top_box

    def _build_timeline(self) -> QGroupBox:
        """The per-window strip, its caption and its legend."""
        self.timeline_box = timeline_box = QGroupBox("Prediction along the track")
        timeline_layout = QVBoxLayout(timeline_box)
        self.timeline = Timeline()
        self.timeline_caption = QLabel()
        self.timeline_caption.setWordWrap(True)
        self.legend = QLabel()
        self.legend.setWordWrap(True)
        self.legend.setTextFormat(Qt.TextFormat.RichText)
        timeline_layout.addWidget(self.timeline)
        timeline_layout.addWidget(self.timeline_caption)
        timeline_layout.addWidget(self.legend)
        return timeline_box

    def _build_info(self) -> QWidget:
        """The file's current genre and its review status."""
        self.info_widget = QWidget()
        self.info = QFormLayout(self.info_widget)
        self.info.setContentsMargins(0, 0, 0, 0)
        self.info_current = QLabel()
        self.info_status = QLabel()
        self.info_status.setWordWrap(True)
        self.info.addRow("Current genre:", self.info_current)
        self.info.addRow("Status:", self.info_status)
        return self.info_widget

    def set_model(self, genre_ids: tuple[str, ...], name_of: Callable[[str], str], window_seconds: float) -> None:
        """Genres in output order (for colours), how to name them, and the analysis window length."""
        self._genre_ids = genre_ids
        self._name_of = name_of
        self._window_seconds = window_seconds

    def show_row(self, row: TrackRow | None) -> None:
        self._stop()
        self._path = row.path if row else None
        self.play_button.setEnabled(row is not None)
        self.info_widget.setVisible(row is not None)
        if row is None:
            self.title.setText("No track selected")
            self.subtitle.setText("Select a row to see why the model suggests its genre.")
            self.info_current.setText("")
            self.info_status.setText("")
            self._show_ranked([])
            self.timeline.clear()
            self.timeline_caption.setText("")
            self.legend.setText("")
            return
        self.title.setText(row.title or row.path.name)
        self.subtitle.setText(" · ".join(s for s in (row.artist, row.relpath) if s))
        self.info_current.setText(row.current_text or "(none)")
        self.info_status.setText(f"{row.status}: {row.note}" if row.note else row.status)
        decision = row.decision
        if decision is None:
            self._show_ranked([])
            self.timeline.clear()
            self.timeline_caption.setText("")
            self.legend.setText("")
            return
        self._show_ranked(decision.top(3))
        self.timeline.set_windows(decision.window_probs, decision.window_starts, self._window_seconds)
        n = len(decision.window_starts)
        span = float(decision.window_starts[-1]) + self._window_seconds if n else 0.0
        self.timeline_caption.setText(f"{n} windows over {span:.0f} s; lower = less sure")
        self.legend.setText("  ".join(
            f'<span style="color:{genre_colour(i).name()}">&#9632;</span>&nbsp;{self._name_of(self._genre_ids[i])}'
            for i in self.timeline.top_genres() if i < len(self._genre_ids)))

    def _show_ranked(self, ranked: list[tuple[str, float]]) -> None:
        # Empty boxes look broken: without a verdict (nothing selected, file not analysed) they go away.
        self.top_box.setVisible(bool(ranked))
        self.timeline_box.setVisible(bool(ranked))
        for i, (label, bar) in enumerate(zip(self._bar_labels, self._bar_values)):
            visible = i < len(ranked)
            label.setVisible(visible)
            bar.setVisible(visible)
            if visible:
                genre, probability = ranked[i]
                label.setText(self._name_of(genre))
                bar.setValue(round(probability * 1000))
                bar.setFormat(f"{shown_confidence(probability):.0%}")

    # -- playback ------------------------------------------------------------------------------
    def _play(self, on: bool) -> None:
        if QMediaPlayer is None or self._path is None:
            return
        if not on:
            if self._player is not None:
                self._player.pause()
            self.play_button.setText("Play")
            return
        if self._player is None:  # created on first use: starting the media backend is slow
            self._player = QMediaPlayer(self)
            self._audio = QAudioOutput(self)
            self._player.setAudioOutput(self._audio)
            self._player.mediaStatusChanged.connect(self._on_media_status)
        if self._player.source() != QUrl.fromLocalFile(str(self._path)):
            self._player.setSource(QUrl.fromLocalFile(str(self._path)))
        self._player.play()
        self.play_button.setText("Pause")

    def _on_media_status(self, status) -> None:
        if status == QMediaPlayer.MediaStatus.EndOfMedia:
            self._stop()

    def _stop(self) -> None:
        if self._player is not None:
            self._player.stop()
        self.play_button.blockSignals(True)
        self.play_button.setChecked(False)
        self.play_button.setText("Play")
        self.play_button.blockSignals(False)
