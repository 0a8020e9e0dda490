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
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator, Sequence
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


def failure_text(exc: BaseException) -> str:
    """One line saying why a file could not be decoded or featurized."""
    if isinstance(exc, DecodeError):
        return str(exc)
    if isinstance(exc, OSError):
        return f"cannot read file: {exc.strerror or exc}"
    if isinstance(exc, MemoryError):
        return "not enough memory to analyse this file"
    return f"cannot analyse: {type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class Featurized:
    """One file's model windows, or why there are none.

    Attributes
    ----------
    path : Path
    windows : TrackWindows or None
        None when the file failed or was given up.
    error : str or None
        One-line reason there are no windows.
    """

    path: Path
    windows: TrackWindows | None
    error: str | None = None


@dataclass
class _Job:
    """One file handed to a worker; ``started`` (time.monotonic(), s) is set when a worker takes it up."""

    path: Path
    started: float | None = None


class FeaturizePool:
    """Decode and featurize files in worker threads; a file that takes too long is given up.

    Python cannot interrupt a thread stuck in a decoder's C code, so a file
    past ``timeout`` is reported as skipped and its thread is left behind
    (counted in ``abandoned``); only a bounded number of files are in flight.

    Parameters
    ----------
    featurize : callable
        Path -> TrackWindows, run in the workers.
    workers : int
        Threads.
    timeout : float
        Seconds one file may take from the moment a worker takes it up.
    """

    def __init__(self, featurize: Callable[[Path], TrackWindows], workers: int, timeout: float) -> None:
        self.featurize = featurize
        self.workers = workers
        self.timeout = timeout
        self.abandoned = 0
        self._pool = ThreadPoolExecutor(workers, thread_name_prefix="decode")
        self._in_flight: dict[Future, _Job] = {}

    def __enter__(self) -> FeaturizePool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Drop the files not yet started; wait for the running ones unless a worker is hung."""
        self._pool.shutdown(wait=not self.abandoned, cancel_futures=True)

    @property
    def idle(self) -> bool:
        """Whether no file is in flight."""
        return not self._in_flight

    def fill(self, todo: Iterator[Path], held: int = 0, cancel: threading.Event | None = None,
             on_started: Callable[[Path], None] | None = None) -> bool:
        """Start files from ``todo`` up to the in-flight limit; False once ``todo`` is exhausted.

        ``held`` counts finished files the caller still keeps in memory: they
        take the place of files in flight, so memory stays bounded.
        """
        # A hung decoder keeps its thread; it no longer counts towards the files in flight.
        limit = max(1, self.workers - self.abandoned) * 4 - held
        while len(self._in_flight) < limit and not (cancel and cancel.is_set()):
            path = next(todo, None)
            if path is None:
                return False
            if on_started:
                on_started(path)
            job = _Job(path)
            self._in_flight[self._pool.submit(self._run, job)] = job
        return True

    def _run(self, job: _Job) -> TrackWindows:
        job.started = time.monotonic()
        return self.featurize(job.path)

    def collect(self, block: bool) -> list[Featurized]:
        """The files finished or given up since the last call.

        With ``block``, wait until one finishes or the oldest running one
        reaches its timeout; otherwise return at once.
        """
        if not self._in_flight:
            return []
        timeout = self._next_deadline() if block else 0
        done, _ = wait(self._in_flight, timeout=timeout, return_when=FIRST_COMPLETED)
        finished = [self._outcome(future) for future in done]
        return finished + self._expire()

    def ordered(self, paths: Sequence[Path], cancel: threading.Event | None = None) -> Iterator[Featurized]:
        """Featurize ``paths``, yielding the outcomes in the order of ``paths``; ends early on ``cancel``."""
        todo = iter(paths)
        finished: dict[Path, list[Featurized]] = defaultdict(list)
        held, more = 0, True
        for path in paths:
            while not finished[path]:
                if more:
                    more = self.fill(todo, held, cancel)
                if self.idle:
                    return  # cancelled before this file was started
                for outcome in self.collect(block=True):
                    finished[outcome.path].append(outcome)
                    held += 1
            held -= 1
            yield finished[path].pop(0)

    def _outcome(self, future: Future) -> Featurized:
        path = self._in_flight.pop(future).path
        try:
            return Featurized(path, future.result())
        except Exception as exc:  # noqa: BLE001 - one bad file must not end the run
            return Featurized(path, None, failure_text(exc))

    def _next_deadline(self) -> float:
        running = [job.started for job in self._in_flight.values() if job.started is not None]
        if not running:
            return self.timeout
        return max(0.0, min(running) + self.timeout - time.monotonic())

    def _expire(self) -> list[Featurized]:
        now = time.monotonic()
        given_up = []
        for future, job in list(self._in_flight.items()):
            if job.started is not None and now - job.started > self.timeout and not future.done():
                del self._in_flight[future]
                self.abandoned += 1
                given_up.append(Featurized(job.path, None, f"decoding took longer than {self.timeout:g} s: skipped"))
        return given_up


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
        ready: list[Featurized] = []
        more = True
        pool = FeaturizePool(self.featurize, self.workers, self.timeout)
        try:
            while True:
                if more:
                    more = pool.fill(todo, cancel=cancel, on_started=on_started)
                if pool.idle and not ready:
                    return
                # Block only when there is nothing to score: otherwise the model works while files decode.
                finished = pool.collect(block=not ready)
                yield from (Classification(f.path, None, error=f.error) for f in finished if f.error)
                ready += [f for f in finished if not f.error]
                if ready and (sum(len(f.windows.mels) for f in ready) >= BATCH_WINDOWS
                              or not finished or pool.idle):
                    yield from self._score(ready)
                    ready = []
        finally:
            pool.close()
            self.abandoned += pool.abandoned

    def _score(self, ready: list[Featurized]) -> Iterator[Classification]:
        probs = self.model.predict(np.concatenate([f.windows.mels for f in ready]))
        offset = 0
        for featurized in ready:
            windows = featurized.windows
            n = len(windows.mels)
            yield Classification(featurized.path, self.decide(windows, probs[offset:offset + n]), windows.duration)
            offset += n
