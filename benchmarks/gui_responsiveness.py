"""How long the review window's event loop ever stalls while it classifies a library.

Opens the real MainWindow (offscreen unless a display is set) on N short files, ticks a 10 ms
timer throughout the run, and prints the longest gap between ticks, the 99th percentile, and the
run's duration. A stall above ~100 ms is what a user notices as a frozen window.

Usage: python benchmarks/gui_responsiveness.py [--files 1000] [--work DIR]
"""

from __future__ import annotations

import argparse
import os
import shutil
import tempfile
import time
from pathlib import Path

import tagger  # noqa: F401 - first, as in tagger-gui: it sets the BLAS thread count before NumPy loads

import numpy as np
import soundfile


def make_library(folder: Path, n_files: int) -> Path:
    if folder.is_dir() and sum(1 for _ in folder.rglob("*.flac")) == n_files:
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    rng = np.random.default_rng(0)
    for i in range(n_files):
        sub = folder / f"album{i // 50:03d}"
        sub.mkdir(parents=True, exist_ok=True)
        t = np.arange(int(8 * 22050)) / 22050
        tone = 0.3 * np.sin(2 * np.pi * rng.uniform(100, 800) * t) + 0.05 * rng.standard_normal(len(t))
        soundfile.write(sub / f"track{i % 50:02d}.flac", tone.astype(np.float32), 22050)
    return folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--files", type=int, default=1000)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "genre-tagger-gui-bench")
    args = parser.parse_args()
    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    state_dir = Path(tempfile.mkdtemp())
    os.environ["XDG_DATA_HOME"] = str(state_dir / "data")
    os.environ["XDG_CONFIG_HOME"] = str(state_dir / "config")
    library = make_library(args.work / f"library{args.files}", args.files)

    from PySide6.QtCore import QSettings, QTimer
    from PySide6.QtWidgets import QApplication

    from tagger.gui.main_window import MainWindow

    app = QApplication([])
    window = MainWindow(settings=QSettings(str(state_dir / "gui.ini"), QSettings.Format.IniFormat))
    window.resize(1400, 900)
    window.show()
    ticks: list[float] = []
    timer = QTimer()
    timer.setInterval(10)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    window.run_finished.connect(lambda cancelled: app.quit())
    started = time.perf_counter()
    timer.start()
    window.open_folder(library)
    app.exec()
    duration = time.perf_counter() - started
    gaps = np.diff(ticks) * 1000
    rows = window.table_model.rowCount()
    worst = np.argsort(gaps)[-3:][::-1]
    where = ", ".join(f"{gaps[i]:.0f} ms at {ticks[i] - started:.1f} s" for i in worst)
    print(f"{rows} files classified in the window in {duration:.1f} s ({rows / duration:.1f} files/s); "
          f"event loop: longest stall {gaps.max():.0f} ms, 99th percentile {np.percentile(gaps, 99):.0f} ms, "
          f"median tick {np.median(gaps):.0f} ms; worst: {where}")


if __name__ == "__main__":
    main()
