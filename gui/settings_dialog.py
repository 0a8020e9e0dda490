"""Settings dialog: edits the config file that ``tagger-batch`` reads too."""

from __future__ import annotations

import copy

from PySide6.QtWidgets import (QAbstractItemView, QCheckBox, QComboBox, QDialog, QDialogButtonBox,
                               QDoubleSpinBox, QFormLayout, QGroupBox, QHBoxLayout, QHeaderView, QPushButton,
                               QSpinBox, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget)

from tagger.config import Config, config_path
from tagger.engine import default_workers
from tagger.genres import DISPLAY_NAMES
from tagger.model import list_model_names


class SettingsDialog(QDialog):
    """Model, minimum confidence, keep/overwrite, top-k, workers, keep mtime and the genre-name map.

    ``model_threshold`` is the loaded model's own minimum confidence, shown while it is in force.
    :meth:`result_config` gives the edited copy; the caller saves it.
    """

    def __init__(self, config: Config, parent: QWidget | None = None,
                 model_threshold: float | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self._config = copy.deepcopy(config)

        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        buttons.setToolTip(f"Saved to {config_path()}")

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_form(config, model_threshold))
        layout.addWidget(self._build_names(config), 1)
        layout.addWidget(buttons)
        self.resize(520, 560)

    def _build_form(self, config: Config, model_threshold: float | None) -> QFormLayout:
        """Model, threshold, existing genres, top-k, threads and modification times."""
        self.model = QComboBox()
        self.model.setEditable(True)  # a model folder path is accepted too, as on the command line
        self.model.addItems(list_model_names())
        self.model.setCurrentText(config["model"])

        self.existing = QComboBox()
        self.existing.addItems(["Keep them (fill only empty genres)", "Overwrite them"])
        self.existing.setCurrentIndex(int(bool(config["overwrite"])))

        self.top_k = QSpinBox()
        self.top_k.setRange(1, 5)
        self.top_k.setValue(config["top_k"] or 1)
        self.top_k.setToolTip("Write this many of the most likely genres, as several values")

        self.workers = QSpinBox()
        self.workers.setRange(0, 64)
        self.workers.setSpecialValueText(f"one per core ({default_workers()})")
        self.workers.setValue(config["workers"] or 0)

        self.keep_mtime = QCheckBox("Give written files back their modification time")
        self.keep_mtime.setChecked(bool(config["keep_mtime"]))

        form = QFormLayout()
        form.addRow("Model:", self.model)
        form.addRow("Minimum confidence:", self._threshold_row(config, model_threshold))
        form.addRow("Existing genres:", self.existing)
        form.addRow("Genres written per file:", self.top_k)
        form.addRow("Decoding threads:", self.workers)
        form.addRow("", self.keep_mtime)
        return form

    def _threshold_row(self, config: Config, model_threshold: float | None) -> QHBoxLayout:
        """The minimum confidence, or the model's own."""
        self.use_model_threshold = QCheckBox("Use the model's own threshold")
        self.min_confidence = QDoubleSpinBox()
        self.min_confidence.setRange(0.0, 1.0)
        self.min_confidence.setSingleStep(0.05)
        self.min_confidence.setDecimals(2)
        self.use_model_threshold.toggled.connect(lambda on: self.min_confidence.setEnabled(not on))
        self.use_model_threshold.setChecked(config["min_confidence"] is None)
        # With the model's threshold in force, show its value rather than a meaningless 0.
        shown = config["min_confidence"] if config["min_confidence"] is not None else model_threshold
        self.min_confidence.setValue(shown or 0.0)
        self.min_confidence.setEnabled(config["min_confidence"] is not None)
        threshold = QHBoxLayout()
        threshold.addWidget(self.min_confidence)
        threshold.addWidget(self.use_model_threshold, 1)
        return threshold

    def _build_names(self, config: Config) -> QGroupBox:
        """The genre-name map: each genre id and the name written for it, built-in ones included."""
        names_box = QGroupBox("Genre names written into tags")
        self.names = QTableWidget(0, 2)
        self.names.setHorizontalHeaderLabels(["Genre", "Written as"])
        self.names.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.names.verticalHeader().hide()
        self.names.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        # The built-in spellings are listed too, so changing "Hip-Hop" is an edit, not a guess at its id.
        for genre, name in sorted((DISPLAY_NAMES | config.genre_names).items()):
            self._add_name(genre, name)
        add, remove = QPushButton("Add"), QPushButton("Remove")
        add.clicked.connect(lambda: self._add_name("", ""))
        remove.clicked.connect(self._remove_selected_names)
        buttons_row = QHBoxLayout()
        buttons_row.addWidget(add)
        buttons_row.addWidget(remove)
        buttons_row.addStretch(1)
        names_layout = QVBoxLayout(names_box)
        names_layout.addWidget(self.names)
        names_layout.addLayout(buttons_row)
        return names_box

    def _add_name(self, genre: str, name: str) -> None:
        row = self.names.rowCount()
        self.names.insertRow(row)
        self.names.setItem(row, 0, QTableWidgetItem(genre))
        self.names.setItem(row, 1, QTableWidgetItem(name))
        if not genre:
            self.names.editItem(self.names.item(row, 0))

    def _remove_selected_names(self) -> None:
        for row in sorted({i.row() for i in self.names.selectedIndexes()}, reverse=True):
            self.names.removeRow(row)

    def result_config(self) -> Config:
        """The settings as edited; rows of the name map with an empty side, or as built in, are dropped."""
        config = self._config
        source = str(config_path())
        config.set("model", self.model.currentText().strip() or "default", source)
        config.set("min_confidence", None if self.use_model_threshold.isChecked() else self.min_confidence.value(),
                   source)
        config.set("overwrite", self.existing.currentIndex() == 1, source)
        config.set("top_k", self.top_k.value(), source)
        config.set("workers", self.workers.value() or None, source)
        config.set("keep_mtime", self.keep_mtime.isChecked(), source)
        names = {}
        for row in range(self.names.rowCount()):
            genre, name = (self.names.item(row, c).text().strip() if self.names.item(row, c) else "" for c in (0, 1))
            if genre and name and DISPLAY_NAMES.get(genre) != name:
                names[genre] = name
        config.genre_names = names
        return config
