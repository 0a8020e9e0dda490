"""Window features of a base model: its frozen network's outputs, cached per file.

Whatever the base architecture (small CNN, ported musicnn), its network
outputs the features a head reads (see :attr:`tagger.model.GenreModel.layout`);
a new head is trained on them. They are computed with the runtime the tagger
uses (LiteRT) and cached in the user's data folder, keyed by the file's path,
size and modification time and by the network's fingerprint, so a second
retrain on the same files decodes nothing.
"""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from tagger.engine import DECODE_TIMEOUT, FeaturizePool, Featurized, failure_text
from tagger.features import TrackWindows, file_windows
from tagger.writer import FileStamp
from tagger.model import GenreModel

# 2: every column of the network's output (1 held the input of a whole model's last Dense layer).
CACHE_FORMAT = 2


def cache_dir(network_id: str) -> Path:
    """Folder of the cached features of one network."""
    from tagger.paths import data_dir

    return data_dir() / "embeddings" / network_id


@dataclass(frozen=True)
class FileEmbeddings:
    """Embeddings of one file.

    Attributes
    ----------
    path : Path
    embeddings : np.ndarray or None
        (n_windows, dim) float32; None when the file could not be read.
    mels : np.ndarray or None
        (n_windows, frames, n_mels) model input, only when asked for.
    error : str or None
        Why the file could not be read.
    cached : bool
        Whether the embeddings came from the cache.
    """

    path: Path
    embeddings: np.ndarray | None
    mels: np.ndarray | None = None
    error: str | None = None
    cached: bool = False


class Embedder:
    """Compute (or load cached) window embeddings of files with a base model.

    Files are decoded in the engine's pool (:class:`tagger.engine.FeaturizePool`),
    so a file whose decoder hangs is given up after ``timeout`` as in tagging.

    Parameters
    ----------
    base : GenreModel
    workers : int
        Decode threads.
    use_cache : bool
    timeout : float
        Seconds one file may spend decoding before it is given up.
    """

    def __init__(self, base: GenreModel, workers: int = 2, use_cache: bool = True,
                 timeout: float = DECODE_TIMEOUT) -> None:
        self.base = base
        self.dim = max(columns.stop for columns in base.layout.values())
        self.workers = max(1, workers)
        self.use_cache = use_cache
        self.timeout = timeout
        self._cache = cache_dir(base.network_id)

    # -- cache ---------------------------------------------------------------------------------
    def _cache_file(self, path: Path) -> Path:
        return self._cache / (hashlib.sha1(str(path).encode("utf-8", "surrogatepass")).hexdigest() + ".npz")

    def _load_cached(self, path: Path, stamp: tuple[int, int]) -> np.ndarray | None:
        if not self.use_cache:
            return None
        try:
            with np.load(self._cache_file(path), allow_pickle=False) as data:
                if (int(data["format"]) == CACHE_FORMAT and str(data["path"]) == str(path)
                        and (int(data["size"]), int(data["mtime_ns"])) == stamp):
                    emb = np.asarray(data["embeddings"], dtype=np.float32)
                    return emb if emb.ndim == 2 and emb.shape[1] == self.dim and len(emb) else None
        except (OSError, KeyError, ValueError, EOFError):
            return None
        return None

    def _store(self, path: Path, stamp: tuple[int, int], emb: np.ndarray) -> None:
        if not self.use_cache:
            return
        try:
            self._cache.mkdir(parents=True, exist_ok=True)
            target = self._cache_file(path)
            tmp = target.with_name(f"{target.stem}.{os.getpid()}.{threading.get_ident()}.tmp.npz")
            np.savez(tmp, format=CACHE_FORMAT, path=str(path), size=stamp[0], mtime_ns=stamp[1], embeddings=emb)
            os.replace(tmp, target)
        except OSError:
            pass  # a cache that cannot be written only costs time next run

    # -- computing -----------------------------------------------------------------------------
    def _featurize(self, path: Path) -> TrackWindows:
        return file_windows(path, self.base.settings.features)

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """The network's outputs for model input windows, (n, dim) float32."""
        return self.base.features(mels)

    def run(self, paths: Sequence[Path], keep_mels: bool = False,
            cancel: threading.Event | None = None) -> Iterator[FileEmbeddings]:
        """Embeddings of each path, in order; unreadable files come back with ``error`` set.

        With ``keep_mels`` every file is decoded (the mels are needed), but
        cached embeddings are still used. A file that fails or hangs while
        decoding is reported and the others go on.
        """
        paths = [Path(p) for p in paths]
        # Stamped before decoding: a file changed meanwhile is cached under its old stamp, so it is redone next run.
        stamps = {path: _stamp(path) for path in paths}
        cached = {path: self._load_cached(path, stamp) for path, stamp in stamps.items() if isinstance(stamp, tuple)}
        to_decode = [p for p in paths if isinstance(stamps[p], tuple) and (keep_mels or cached[p] is None)]
        with FeaturizePool(self._featurize, self.workers, self.timeout) as pool:
            decoded = pool.ordered(to_decode, cancel)
            for path in paths:
                if cancel is not None and cancel.is_set():
                    return
                if isinstance(stamps[path], str):
                    yield FileEmbeddings(path, None, error=stamps[path])
                elif keep_mels or cached[path] is None:
                    featurized = next(decoded, None)
                    if featurized is None:
                        return  # cancelled
                    yield self._embedded(featurized, stamps[path], cached[path], keep_mels)
                else:
                    yield FileEmbeddings(path, cached[path], cached=True)

    def _embedded(self, featurized: Featurized, stamp: tuple[int, int], cached: np.ndarray | None,
                  keep_mels: bool) -> FileEmbeddings:
        """The embeddings of a decoded file: its cached ones when they match its windows, else computed and cached."""
        if featurized.windows is None:
            return FileEmbeddings(featurized.path, None, error=featurized.error)
        mels = featurized.windows.mels
        was_cached = cached is not None and len(cached) == len(mels)
        emb = cached if was_cached else self.embed(mels)
        if not was_cached:
            self._store(featurized.path, stamp, emb)
        return FileEmbeddings(featurized.path, emb, mels if keep_mels else None, cached=was_cached)


def _stamp(path: Path) -> tuple[int, int] | str:
    """(size in bytes, modification time in ns) of ``path``, or why it cannot be read."""
    try:
        return astuple(FileStamp.of(path))
    except OSError as exc:
        return failure_text(exc)


def embed_all(embedder: Embedder, paths: Sequence[Path], keep_mels: bool = False,
              progress: Callable[[int, int], None] | None = None,
              cancel: threading.Event | None = None) -> list[FileEmbeddings]:
    """All of :meth:`Embedder.run`, calling ``progress(done, total)`` after each file."""
    out = []
    for result in embedder.run(paths, keep_mels, cancel):
        out.append(result)
        if progress:
            progress(len(out), len(paths))
    return out
