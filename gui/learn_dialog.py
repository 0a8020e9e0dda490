"""Tools > Learn from This Library's Genres: learn the open library's own genre tags, show the figures, then use it.

The learning is :func:`tagger.training.learn.learn_library` (what ``tagger-batch LIB --learn``
runs), done in the window's background task with its progress and Cancel. Nothing is written:
the figures are shown first, and "Use this model" only analyses the library again with the
learned model (a dry run, as every analysis in the window), so the user still reviews and
writes with Write Accepted.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtGui import QAction, QFont
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QLabel, QPlainTextEdit, QVBoxLayout, QWidget

from tagger.model import DEFAULT_MODEL, ModelError

from tagger.gui.review import review_labels
from tagger.gui.train_dialog import progress_text

# Genres with fewer tagged files are left out, as `tagger-batch --learn` does by default.
MIN_PER_GENRE = 3
# Where the config says the learned model came from (``--print-config`` style).
CONFIG_SOURCE = "Learn from This Library's Genres"


@dataclass
class LearnOutcome:
    """How one learn ended: a model, a one-line reason it could not be made, or a cancel.

    Attributes
    ----------
    learned : Learned or None
        The model (:class:`tagger.training.learn.Learned`) when one was made or reused.
    error : str
        One line for the user when no model was made ("" otherwise, and on cancel).
    notes : list of str
        The lines learning logged (files left out, unreadable files...), in order.
    """

    learned: object | None = None
    error: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def cancelled(self) -> bool:
        return self.learned is None and not self.error


def learn(library: Path, progress: Callable[[object], None], cancel: threading.Event,
          base: str = DEFAULT_MODEL) -> LearnOutcome:
    """Learn (or reuse) ``library``'s model; run off the GUI thread.

    Parameters
    ----------
    library : Path
        The open music folder.
    progress : callable
        Receives ``(stage, done, total)`` as learning goes (stages: :data:`tagger.gui.train_dialog.STAGE_TEXT`).
    cancel : threading.Event
        Set to stop at the next step; the outcome is then :attr:`LearnOutcome.cancelled`.
    base : str
        Model whose frozen network gives the features (the shipped one, as ``--learn`` uses).

    Returns
    -------
    LearnOutcome
        Errors the user can act on (too few tagged files, one genre...) come back as one line.
    """
    from tagger.training.learn import learn_library
    from tagger.training.retrain import Cancelled, RetrainError

    outcome = LearnOutcome()
    try:
        outcome.learned = learn_library(library, MIN_PER_GENRE, base, log=outcome.notes.append, cancel=cancel,
                                        progress=lambda stage, done, total, _info: progress((stage, done, total)))
    except Cancelled:
        pass
    except (RetrainError, ModelError, OSError) as exc:
        outcome.error = f"cannot learn from {library}: {exc}"
    return outcome


def figures_text(learned, notes: list[str]) -> str:
    """What the figures dialog says: the model, its validation figures, and what learning left out.

    Parameters
    ----------
    learned : tagger.training.learn.Learned
    notes : list of str
        Lines learning logged (files not learned from, unreadable files).
    """
    lines = [f"Model “{learned.name}” ({'reused' if learned.reused else 'learned now'})", "", learned.figures]
    if notes:
        lines += ["", *notes]
    return "\n".join(lines)


class LearnFiguresDialog(QDialog):
    """The learned model's figures, shown before anything is written; "Use this model" or "Cancel".

    Accepted (``accepted``) means: analyse the library again with this model.
    """

    def __init__(self, learned, notes: list[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.learned = learned
        self.setWindowTitle("Learned from This Library's Genres")
        intro = QLabel("How well the learned model did on files of artists it was not trained on. "
                       "Nothing has been written.")
        intro.setWordWrap(True)
        self.figures_view = QPlainTextEdit(figures_text(learned, notes))
        self.figures_view.setReadOnly(True)
        # Monospace so the confusion table lines up; long lines wrap so no figure is cut off at the edge.
        self.figures_view.setFont(QFont("monospace"))
        after = QLabel("“Use this model” analyses the library again with it: files without a genre get its "
                       "suggestions, files with a genre keep theirs unless overwriting is on in Settings, "
                       "and nothing is written until Write Accepted.")
        after.setWordWrap(True)
        buttons = QDialogButtonBox()
        self.use_button = buttons.addButton("Use this model", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = buttons.addButton(QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout = QVBoxLayout(self)
        for widget in (intro, self.figures_view, after, buttons):
            layout.addWidget(widget, 1 if widget is self.figures_view else 0)
        self.resize(960, 600)


def start_learning(window) -> None:
    """Learn the open library's genres in the window's background task, then show the figures."""
    if window.folder is None or window.worker is not None or window._task is not None:
        window.statusBar().showMessage("Open a library and wait for the current work to finish first.")
        return
    folder = window.folder
    cancel = threading.Event()
    window._start_task("Learning this library's genres…", 0, lambda progress: learn(folder, progress, cancel),
                       lambda outcome: _learned(window, outcome), cancel=cancel,
                       on_progress=lambda step: _show_progress(window, *step))


def _show_progress(window, stage: str, done: int, total: int) -> None:
    window.progress_label.setText(progress_text(stage, done, total))
    window.progress.setRange(0, max(1, total))
    window.progress.setValue(done)


def _learned(window, outcome: LearnOutcome) -> None:
    """Show the figures (or why there are none); the model is used only if the user says so."""
    if outcome.cancelled:
        window.statusBar().showMessage("Learning cancelled: nothing changed.")
        return
    if outcome.error:
        window.show_error("Cannot learn this library's genres", outcome.error)
        return
    dialog = LearnFiguresDialog(outcome.learned, outcome.notes, window)
    dialog.accepted.connect(lambda: use_learned_model(window, outcome.learned.path))
    dialog.rejected.connect(lambda: window.statusBar().showMessage("The learned model was not used: nothing changed."))
    window.learn_dialog = dialog
    dialog.open()


def use_learned_model(window, model_path: Path) -> None:
    """Analyse the open library again with the model in ``model_path`` (for this session; Settings can keep it)."""
    drop_suggestions_of_the_old_model(window)
    window.config.set("model", str(model_path), CONFIG_SOURCE)
    window.open_folder(window.folder)


def drop_suggestions_of_the_old_model(window) -> None:
    """Un-tick the rows ticked only because the model being replaced suggested them.

    Otherwise analysing again would ask to write them first, and "Write" would write the
    old model's genres. Rows the user accepted or corrected (kept as review labels) stay,
    so leaving still asks about those.
    """
    chosen = review_labels(window.state, window.folder)
    window.table_model.set_accepted([number for number, row in enumerate(window.table_model.rows())
                                     if row.accepted and str(row.path) not in chosen], False)


def add_learn_action(window) -> QAction:
    """Put "Learn from This Library's Genres…" into the window's Tools menu (enabled by the window when idle)."""
    action = QAction("&Learn from This Library's Genres…", window)
    action.setStatusTip("Learn a model from the genres the open library's files carry, see how good it is, "
                        "then suggest those genres for the files without one")
    action.triggered.connect(lambda: start_learning(window))
    window.tools_menu.addAction(action)
    window.learn_action = action
    return action
