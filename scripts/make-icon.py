"""Render resources/icon.svg to resources/icon.png (256 px), for desktops that want a bitmap icon.

Run after changing the SVG:  .venv/bin/python scripts/make-icon.py
"""

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtGui import QGuiApplication, QImage, QPainter  # noqa: E402
from PySide6.QtSvg import QSvgRenderer  # noqa: E402

SIZE = 256


def main() -> int:
    resources = Path(__file__).resolve().parent.parent / "resources"
    app = QGuiApplication(sys.argv[:1])  # noqa: F841 - QPainter needs an application
    renderer = QSvgRenderer(str(resources / "icon.svg"))
    if not renderer.isValid():
        print("icon.svg is not a valid SVG", file=sys.stderr)
        return 1
    image = QImage(SIZE, SIZE, QImage.Format.Format_ARGB32)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    renderer.render(painter)
    painter.end()
    image.save(str(resources / "icon.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
