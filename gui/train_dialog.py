"""Tools > Train from My Labels: retrain a model on the user's labelled files, in a background thread.

The dialog only collects the options and shows progress; the work is
:func:`tagger.training.retrain.retrain`, run in a :class:`TrainWorker`
(QThread) whose signals Qt queues to the dialog.
"""

from __future__ import annotations

import threading
from pathlib import Path

from PySide6.QtCore import QThread, Signal
from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import (QButtonGroup, QCheckBox, QComboBox, QDialog, QDialogButtonBox, QFileDialog,
                               QFormLayout, QHBoxLayout, QLabel, QLineEdit, QMessageBox, QPlainTextEdit,
                               QProgressBar, QPushButton, QRadioButton, QSpinBox, QVBoxLayout, QWidget)

from tagger.model import DEFAULT_MODEL, ModelError, list_model_names

STAGE_TEXT = {
    "embedding": "Reading files",
    "validation": "Training without the held-out files",
    "training": "Training on all files",
    "fine-tuning": "Fine-tuning",
}


def progress_text(stage: str, done: int, total: int) -> str:
    """``"Reading files: 3 of 18"``: a training stage and how far it is, for a progress label."""
    return f"{STAGE_TEXT.get(stage, stage)}: {done} of {total}"


class TrainWorker(QThread):
    """Run one retrain.

    Signals
    -------
    progress(str, int, int)
        Stage, steps done, steps in the stage.
    message(str)
        One line of news (skipped files, split, dropped genres).
    succeeded(object)
        The :class:`tagger.training.retrain.RetrainResult`.
    failed(str)
        Why the model could not be made (one line), or "cancelled".
    """

    progress = Signal(str, int, int)
    message = Signal(str)
    succeeded = Signal(object)
    failed = Signal(str)

    def __init__(self, options, parent=None) -> None:
        super().__init__(parent)
        self.options = options
        self.cancel_event = threading.Event()

    def cancel(self) -> None:
        self.cancel_event.set()

    def run(self) -> None:
        from tagger.training.retrain import Cancelled, RetrainError, retrain

        try:
            result = retrain(self.options, log=self.message.emit,
                             progress=lambda stage, done, total, _info: self.progress.emit(stage, done, total),
                             cancel=self.cancel_event)
        except Cancelled:
            self.failed.emit("cancelled")
        except (RetrainError, ModelError, OSError) as exc:
            self.failed.emit(str(exc))
        except Exception as exc:  # noqa: BLE001 - shown in the dialog instead of killing the thread
            self.failed.emit(f"unexpected error: {type(exc).__name__}: {exc}")
        else:
            result.model = None  # the Keras graph stays in this thread
            self.succeeded.emit(result)


def result_text(result) -> str:
    """Validation accuracy with held-out counts and 95% intervals, per genre, and the threshold rule."""
    if result.accuracy is None:
        head = "No files could be held out to check the model (each genre needs 3 or more files)."
    else:
        head = f"Accuracy: {result.accuracy_text}"
    lines = [f"Model “{result.path.name}” is ready: {', '.join(result.genres)}.", "", head]
    lines += [f"    {score.text}" for score in result.per_genre]
    lines.append(f"Writes nothing below confidence {result.min_confidence:.2f}: {result.threshold_note}")
    if result.skipped:
        lines += ["", f"{len(result.skipped)} unreadable file(s) were skipped."]
    if result.dropped:
        lines += ["", "Left out (too few files): " + ", ".join(f"{g} ({n})" for g, n in result.dropped.items())]
    lines += ["", "Choose it under Tools > Settings > Model to tag with it."]
    return "\n".join(lines)


class TrainDialog(QDialog):
    """Options, progress and result of one retrain.

    Signals
    -------
    trained(object)
        A model was saved; carries the RetrainResult.
    run_ended(bool)
        A run ended (True when it saved a model) and the dialog is idle again.
    """

    trained = Signal(object)
    run_ended = Signal(bool)

    def __init__(self, folder: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Train from My Labels")
        self.worker: TrainWorker | None = None
        self.result = None

        self.stage_label = QLabel("")
        self.progress_bar = QProgressBar()
        self.progress_bar.setVisible(False)
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setFont(QFont("monospace"))
        self.log_view.setMinimumHeight(140)

        layout = QVBoxLayout(self)
        layout.addLayout(self._build_form(folder))
        layout.addWidget(self.stage_label)
        layout.addWidget(self.progress_bar)
        layout.addWidget(self.log_view, 1)
        layout.addWidget(self._build_buttons())
        self.resize(620, 520)

    def _build_form(self, folder: Path | None) -> QFormLayout:
        """The options: folder, model name, where the labels come from, base model, limits."""
        self.folder_edit = QLineEdit(str(folder) if folder else "")
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse)
        folder_row = QHBoxLayout()
        folder_row.addWidget(self.folder_edit, 1)
        folder_row.addWidget(browse)

        self.name_edit = QLineEdit()
        self.name_edit.setPlaceholderText("e.g. My Genres")
        self.tags_radio = QRadioButton("Genre tags of the files")
        self.reviews_radio = QRadioButton("Genres I accepted or corrected in this window")
        self.tags_radio.setChecked(True)
        self._source_group = QButtonGroup(self)
        for button in (self.tags_radio, self.reviews_radio):
            self._source_group.addButton(button)
        source = QVBoxLayout()
        source.addWidget(self.tags_radio)
        source.addWidget(self.reviews_radio)

        self.base_combo = QComboBox()
        names = list_model_names() or [DEFAULT_MODEL]
        self.base_combo.addItems(names)
        if DEFAULT_MODEL in names:
            self.base_combo.setCurrentText(DEFAULT_MODEL)
        self.min_spin = QSpinBox()
        self.min_spin.setRange(1, 1000)
        self.min_spin.setValue(3)
        self.fine_tune_check = QCheckBox("Also adjust the base model's last block (slower)")
        self.replace_check = QCheckBox("Replace a model of that name")

        form = QFormLayout()
        form.addRow("Music folder:", folder_row)
        form.addRow("Model name:", self.name_edit)
        form.addRow("Labels:", source)
        form.addRow("Base model:", self.base_combo)
        form.addRow("Fewest files per genre:", self.min_spin)
        form.addRow("", self.fine_tune_check)
        form.addRow("", self.replace_check)
        return form

    def _build_buttons(self) -> QDialogButtonBox:
        """Train, Cancel (a run) and Close."""
        self.buttons = QDialogButtonBox()
        self.train_button = self.buttons.addButton("Train", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.train_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.close_button.clicked.connect(self.reject)
        self.cancel_button.setEnabled(False)
        return self.buttons

    def _browse(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder with labelled music", self.folder_edit.text())
        if folder:
            self.folder_edit.setText(folder)

    def options(self):
        from tagger.training.retrain import RetrainOptions

        return RetrainOptions(
            library=Path(self.folder_edit.text().strip()).expanduser(), name=self.name_edit.text().strip(),
            source="reviews" if self.reviews_radio.isChecked() else "tags", base=self.base_combo.currentText(),
            min_per_genre=self.min_spin.value(), fine_tune=self.fine_tune_check.isChecked(),
            force=self.replace_check.isChecked())

    def start(self) -> None:
        if self.worker is not None:
            return
        if not self.folder_edit.text().strip() or not self.name_edit.text().strip():
            QMessageBox.warning(self, "Train from My Labels", "Choose a music folder and a name for the model.")
            return
        self.log_view.clear()
        self.result = None
        self.worker = TrainWorker(self.options(), self)
        self.worker.progress.connect(self._progress)
        self.worker.message.connect(self.log_view.appendPlainText)
        self.worker.succeeded.connect(self._succeeded)
        self.worker.failed.connect(self._failed)
        self.worker.finished.connect(self._finished)
        self._set_running(True)
        self.stage_label.setText("Loading the base model…")
        self.worker.start()

    def cancel(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.stage_label.setText("Stopping…")

    def _set_running(self, running: bool) -> None:
        self.train_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.close_button.setEnabled(not running)
        self.progress_bar.setVisible(running)
        for widget in (self.folder_edit, self.name_edit, self.tags_radio, self.reviews_radio, self.base_combo,
                       self.min_spin, self.fine_tune_check, self.replace_check):
            widget.setEnabled(not running)

    def _progress(self, stage: str, done: int, total: int) -> None:
        self.stage_label.setText(progress_text(stage, done, total))
        self.progress_bar.setRange(0, max(1, total))
        self.progress_bar.setValue(done)

    def _succeeded(self, result) -> None:
        self.result = result
        self.log_view.appendPlainText(result.summary())
        self.stage_label.setText(f"Saved “{result.path.name}” ({result.seconds:.0f} s)")
        self.trained.emit(result)
        if self.isVisible():
            QMessageBox.information(self, "Model trained", result_text(result))

    def _failed(self, message: str) -> None:
        self.stage_label.setText("Cancelled" if message == "cancelled" else "Not trained")
        if message != "cancelled":
            self.log_view.appendPlainText(f"error: {message}")
            if self.isVisible():
                QMessageBox.warning(self, "Train from My Labels", message)

    def _finished(self) -> None:
        self.worker = None
        self._set_running(False)
        self.run_ended.emit(self.result is not None)

    def reject(self) -> None:
        if self.worker is not None:  # closing while training: stop it first
            self.cancel()
            self.worker.wait()
        super().reject()


def add_train_action(window) -> QAction:
    """Put "Train from My Labels…" into the window's Tools menu; the dialog starts at its open folder."""
    action = QAction("&Train from My Labels…", window)
    action.setStatusTip("Make a model from your own labelled files, so it writes your genre names")

    def open_dialog() -> None:
        dialog = TrainDialog(getattr(window, "folder", None), window)
        dialog.exec()

    action.triggered.connect(open_dialog)
    window.tools_menu.addAction(action)
    window.train_action = action
    return action
