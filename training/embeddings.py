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
from concurrent.futures import ThreadPoolExecutor
from dataclasses import astuple, dataclass
from pathlib import Path

import numpy as np

from tagger.decode import DecodeError
from tagger.features import file_windows
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

    Parameters
    ----------
    base : GenreModel
    workers : int
        Decode threads.
    use_cache : bool
    """

    def __init__(self, base: GenreModel, workers: int = 2, use_cache: bool = True) -> None:
        self.base = base
        self.dim = max(columns.stop for columns in base.layout.values())
        self.workers = max(1, workers)
        self.use_cache = use_cache
        self._cache = cache_dir(base.network_id)

    # -- cache ---------------------------------------------------------------------------------
    def _cache_file(self, path: Path) -> Path:
        return self._cache / (hashlib.sha1(str(path).encode("utf-8", "surrogatepass")).hexdigest() + ".npz")

    def _load_cached(self, path: Path) -> np.ndarray | None:
        if not self.use_cache:
            return None
        try:
            size, mtime = astuple(FileStamp.of(path))
            with np.load(self._cache_file(path), allow_pickle=False) as data:
                if (int(data["format"]) == CACHE_FORMAT and str(data["path"]) == str(path)
                        and int(data["size"]) == size and int(data["mtime_ns"]) == mtime):
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
    def _featurize(self, path: Path) -> tuple[tuple[int, int], np.ndarray]:
        stamp = astuple(FileStamp.of(path))
        settings = self.base.settings.features
        return stamp, file_windows(path, settings).mels

    def embed(self, mels: np.ndarray) -> np.ndarray:
        """The network's outputs for model input windows, (n, dim) float32."""
        return self.base.features(mels)

    def run(self, paths: Sequence[Path], keep_mels: bool = False,
            cancel: threading.Event | None = None) -> Iterator[FileEmbeddings]:
        """Embeddings of each path, in order; unreadable files come back with ``error`` set.

        With ``keep_mels`` every file is decoded (the mels are needed), but
        cached embeddings are still used.
        """
        paths = [Path(p) for p in paths]
        cached = {i: self._load_cached(p) for i, p in enumerate(paths)}
        todo = [i for i in range(len(paths)) if keep_mels or cached[i] is None]
        with ThreadPoolExecutor(self.workers, thread_name_prefix="embed") as pool:
            futures = {}
            ahead = self.workers * 2
            for i in todo[:ahead]:
                futures[i] = pool.submit(self._featurize, paths[i])
            next_todo = ahead
            for i, path in enumerate(paths):
                if cancel is not None and cancel.is_set():
                    for future in futures.values():
                        future.cancel()
                    return
                if i not in futures:
                    yield FileEmbeddings(path, cached[i], cached=True)
                    continue
                future = futures.pop(i)
                if next_todo < len(todo):
                    j = todo[next_todo]
                    futures[j] = pool.submit(self._featurize, paths[j])
                    next_todo += 1
                try:
                    stamp, mels = future.result()
                except DecodeError as exc:
                    yield FileEmbeddings(path, None, error=str(exc))
                    continue
                except OSError as exc:
                    yield FileEmbeddings(path, None, error=f"cannot read file: {exc.strerror or exc}")
                    continue
                except MemoryError:
                    yield FileEmbeddings(path, None, error="not enough memory to analyse this file")
                    continue
                except Exception as exc:  # noqa: BLE001 - one bad file must not end the run
                    yield FileEmbeddings(path, None, error=f"cannot analyse: {type(exc).__name__}: {exc}")
                    continue
                emb = cached[i]
                was_cached = emb is not None and len(emb) == len(mels)
                if not was_cached:
                    emb = self.embed(mels)
                    self._store(path, stamp, emb)
                yield FileEmbeddings(path, emb, mels if keep_mels else None, cached=was_cached)


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
