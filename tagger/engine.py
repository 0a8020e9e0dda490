"""The classification pipeline: decode and featurize in worker threads, score in batches.

Workers decode and cut windows for several files at once while the model
scores the windows of files already done; windows of many files go through one
model call. Only a bounded number of files are in flight, so memory stays flat
however large the library.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from tagger.decision import Decision, decide
from tagger.decode import DecodeError
from tagger.features import TrackWindows, file_windows
from tagger.model import GenreModel

# Loudest log-Mel value (log10(1 + 10000 * power)) below which a track counts as silence (about -60 dB).
SILENCE_LEVEL = 0.01

# Seconds one file may take to decode and featurize: far beyond any healthy file (15 short spans).
DECODE_TIMEOUT = 120.0

# Most windows per model call; fewer go through whenever the decoders have nothing new, so the
# first results come at once and the model never waits for a batch to fill.
BATCH_WINDOWS = 256


@dataclass(frozen=True)
class Classification:
    """The outcome of classifying one file.

    Attributes
    ----------
    path : Path
    decision : Decision or None
        None when the file could not be analysed.
    duration : float
        Track length in seconds (0 when unknown).
    error : str or None
        One-line reason the file could not be analysed.
    """

    path: Path
    decision: Decision | None
    duration: float = 0.0
    error: str | None = None


def default_workers() -> int:
    """Decode threads to use when the user does not say: one per core."""
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)


class Classifier:
    """Classify files with one loaded model.

    Parameters
    ----------
    model : GenreModel
    workers : int
        Threads that decode and compute features.
    timeout : float
        Seconds one file may spend decoding before it is given up.
    """

    def __init__(self, model: GenreModel, workers: int | None = None, timeout: float = DECODE_TIMEOUT) -> None:
        self.model = model
        self.workers = workers or default_workers()
        self.timeout = timeout
        # Worker threads stuck in a decoder that never returned; Python cannot stop them.
        self.abandoned = 0

    def featurize(self, path: Path) -> TrackWindows:
        """Decode ``path`` and cut it into model windows (runs in a worker)."""
        return file_windows(path, self.model.settings.features)

    def decide(self, windows: TrackWindows, window_probs: np.ndarray) -> Decision:
        return decide(window_probs, self.model.settings.genres, windows.starts,
                      silent=bool(windows.mels.max() < SILENCE_LEVEL))

    def classify(self, paths: Iterable[Path], cancel: threading.Event | None = None,
                 on_started: Callable[[Path], None] | None = None) -> Iterator[Classification]:
        """Classify each path; results come in the order files finish.

        Parameters
        ----------
        paths : iterable of Path
            Consumed lazily.
        cancel : threading.Event, optional
            When set, no new file is started and the generator ends after the
            files in flight are scored.
        on_started : callable, optional
            Called with each path as its decoding is queued.
        """
        todo = iter(paths)
        in_flight: dict[Future, Path] = {}
        started: dict[Path, float] = {}
        ready: list[tuple[Path, TrackWindows]] = []
        ready_windows = 0
        pool = ThreadPoolExecutor(self.workers, thread_name_prefix="decode")

        def featurize_timed(path: Path) -> TrackWindows:
            started[path] = time.monotonic()
            return self.featurize(path)

        try:
            exhausted = False
            while True:
                # A hung decoder keeps its thread; it no longer counts towards the files in flight.
                limit = max(1, self.workers - self.abandoned) * 4
                while not exhausted and len(in_flight) < limit and not (cancel and cancel.is_set()):
                    path = next(todo, None)
                    if path is None:
                        exhausted = True
                        break
                    if on_started:
                        on_started(path)
                    in_flight[pool.submit(featurize_timed, path)] = path
                if not in_flight and not ready:
                    return
                done = ()
                if in_flight:
                    # Block only when there is nothing to score: otherwise the model works while files decode.
                    timeout = 0 if ready else self._next_deadline(in_flight, started)
                    done, _ = wait(in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
                    for future in done:
                        path = in_flight.pop(future)
                        started.pop(path, None)
                        windows = yield from self._collect(path, future)
                        if windows is not None:
                            ready.append((path, windows))
                            ready_windows += len(windows.mels)
                    yield from self._expire(in_flight, started)
                if ready and (ready_windows >= BATCH_WINDOWS or not done or not in_flight):
                    yield from self._score(ready)
                    ready, ready_windows = [], 0
        finally:
            pool.shutdown(wait=not self.abandoned, cancel_futures=True)

    def _collect(self, path: Path, future: Future) -> Iterator[Classification]:
        """Yield an error outcome for a failed file; return its windows otherwise."""
        try:
            return future.result()
        except DecodeError as exc:
            yield Classification(path, None, error=str(exc))
        except MemoryError:
            yield Classification(path, None, error="not enough memory to analyse this file")
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the run
            yield Classification(path, None, error=f"cannot analyse: {type(exc).__name__}: {exc}")
        return None

    def _next_deadline(self, in_flight: dict[Future, Path], started: dict[Path, float]) -> float | None:
        running = [started[p] for p in in_flight.values() if p in started]
        if not running:
            return self.timeout
        return max(0.0, min(running) + self.timeout - time.monotonic())

    def _expire(self, in_flight: dict[Future, Path], started: dict[Path, float]) -> Iterator[Classification]:
        now = time.monotonic()
        for future, path in list(in_flight.items()):
            if path in started and now - started[path] > self.timeout and not future.done():
                del in_flight[future]
                del started[path]
                self.abandoned += 1
                yield Classification(path, None, error=f"decoding took longer than {self.timeout:g} s: skipped")

    def _score(self, ready: list[tuple[Path, TrackWindows]]) -> Iterator[Classification]:
        probs = self.model.predict(np.concatenate([w.mels for _, w in ready]))
        offset = 0
        for path, windows in ready:
            n = len(windows.mels)
            yield Classification(path, self.decide(windows, probs[offset:offset + n]), windows.duration)
            offset += n
