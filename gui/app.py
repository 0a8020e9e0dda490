"""``tagger-gui [FOLDER]``: start the review window."""

from __future__ import annotations

import argparse
import sys
import traceback
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QCoreApplication
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication, QMessageBox

from tagger import __version__
from tagger.native_log import native_stderr_to
from tagger.paths import data_dir

ERROR_LOG = "gui-errors.log"
# In the data folder: what C libraries (decoders, Qt multimedia) printed while the window ran (see tagger.native_log).
DECODER_LOG = "gui-decoder-messages.log"


def app_icon() -> QIcon:
    """The application icon shipped in ``tagger.resources`` (the SVG scales, the PNG is the fallback)."""
    base = Path(str(resources.files("tagger.resources")))
    icon = QIcon()
    for name in ("icon.svg", "icon.png"):
        if (base / name).is_file():
            icon.addFile(str(base / name))
    return icon


def install_excepthook() -> None:
    """Show an unexpected error in a dialog (and log it) instead of printing a traceback or quitting.

    Qt calls Python slots from its event loop; an exception escaping one would
    otherwise be printed on the terminal the user may not even have.
    """

    def hook(kind: type[BaseException], value: BaseException, tb: TracebackType | None) -> None:
        if issubclass(kind, KeyboardInterrupt):
            QApplication.quit()
            return
        details = "".join(traceback.format_exception(kind, value, tb))
        log = data_dir() / ERROR_LOG
        try:
            with log.open("a", encoding="utf-8") as out:
                out.write(f"--- {datetime.now().isoformat(timespec='seconds')}\n{details}")
        except OSError:
            log = None
        box = QMessageBox(QMessageBox.Icon.Critical, "Unexpected error",
                          f"Something went wrong: {kind.__name__}: {value}\n\n"
                          "The window keeps running; your files were not changed by this error."
                          + (f"\nDetails were saved to {log}." if log else ""),
                          QMessageBox.StandardButton.Ok, QApplication.activeWindow())
        box.setDetailedText(details)
        box.exec()

    sys.excepthook = hook


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="tagger-gui",
                                     description="Review the genres suggested for a music library and write them.")
    parser.add_argument("folder", nargs="?", type=Path, help="music folder to open")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    QCoreApplication.setOrganizationName("genre-tagger")
    QCoreApplication.setApplicationName("tagger-gui")
    app = QApplication.instance() or QApplication(sys.argv[:1])
    app.setApplicationDisplayName("Genre Tagger")
    app.setDesktopFileName("genre-tagger")  # Wayland and docks match the window to the .desktop entry
    icon = app_icon()
    app.setWindowIcon(icon)
    install_excepthook()

    # Qt has started (its own start-up errors reached the terminal); from here on, what C libraries print
    # goes to a log: Qt multimedia's notes on missing backends ("Couldn't load pipewire-0.3", printed when
    # QtMultimedia is imported) and the decoders' notes on damaged files, whose reasons the window shows.
    with native_stderr_to(data_dir() / DECODER_LOG):
        from tagger.gui.main_window import MainWindow  # after QApplication: widgets need it

        window = MainWindow(icon=icon)
        window.show()
        if args.folder is not None:
            window.open_folder(args.folder)
        return app.exec()


if __name__ == "__main__":
    sys.exit(main())
