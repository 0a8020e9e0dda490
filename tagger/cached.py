"""Classify files, reusing the stored result of every file unchanged since it was analysed.

The one way every front end (tagger-batch and the window through
:class:`tagger.batch.BatchRun`, the beets plugin) meets the results cache of
:mod:`tagger.state`: it is keyed by path, size, modification time and model,
so a file is decoded again only when it changed or the model did.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

from tagger.decision import decide
from tagger.engine import Classification, Classifier
from tagger.state import State
from tagger.writer import FileStamp


def classify_cached(classifier: Classifier, state: State, paths: Iterable[Path], rescan: bool = False,
                    cancel: threading.Event | None = None) -> Iterator[tuple[Classification, FileStamp | None]]:
    """Classify ``paths``: stored results first, then the rest through the classifier's thread pool.

    Parameters
    ----------
    classifier : Classifier
        Its model names the cached results that count.
    state : State
        Where results are looked up and new ones stored.
    paths : iterable of Path
    rescan : bool
        Analyse every file again, ignoring stored results.
    cancel : threading.Event, optional
        Passed on to :meth:`Classifier.classify`.

    Yields
    ------
    (Classification, FileStamp or None)
        One per path, in no set order, with the size and modification time it was analysed at
        (a later write checks the file is still that one); a file that cannot even be stat'ed
        gets an error outcome and no stamp.
    """
    model = classifier.model
    to_classify = []
    stamps: dict[Path, FileStamp] = {}
    for path in paths:
        if cancel and cancel.is_set():
            break
        try:
            stamps[path] = stamp = FileStamp.of(path)
        except OSError as exc:
            yield Classification(path, None, error=stat_reason(exc)), None
            continue
        cached = None if rescan else state.cached_result(path, model.model_id, stamp.size, stamp.mtime_ns)
        if cached is None:
            to_classify.append(path)
            continue
        decision = decide(cached.window_probs, model.settings.genres, cached.window_starts, cached.silent)
        yield Classification(path, decision, cached.duration), stamp
    for result in classifier.classify(to_classify, cancel):
        stamp = stamps[result.path]
        if result.decision is not None:
            state.store_result(result.path, model.model_id, stamp.size, stamp.mtime_ns, result.duration,
                               result.decision)
        yield result, stamp
    state.commit()


def stat_reason(exc: OSError) -> str:
    """Why a file could not even be stat'ed, in one line for the user."""
    if isinstance(exc, FileNotFoundError):
        return "file not found (dangling link or removed during the run)"
    return f"cannot read file: {exc.strerror or exc}"
