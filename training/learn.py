"""Learn a library's own genres in one step: ``tagger-batch LIB --learn`` (and the window's "Learn").

The files under LIB that carry a genre train a model (:func:`tagger.training.retrain.retrain`:
spellings merged, small genres left out, held-out artists validate it); the model is saved as a
user model named after the folder and then tags the files without a genre. A second learn on an
unchanged library reuses the saved model: what it was learned from is fingerprinted (labelled
files' paths, sizes, modification times and genres, the options and the base network) and the
fingerprint kept beside the model in ``learned.json``.
"""

from __future__ import annotations

import hashlib
import json
import re
import threading
from dataclasses import dataclass
from pathlib import Path

from tagger.genres import genre_key
from tagger.model import DEFAULT_MODEL, GenreModel, ModelError, user_models_dir
from tagger.training import labels as labelling
from tagger.training.retrain import Log, Progress, RetrainError, RetrainOptions, retrain

# Beside the model: the fingerprint of what it was learned from, and its figures as printed.
LEARNED_FILE = "learned.json"
# Part of the fingerprint: raise it when learning changes what a model holds, so older ones are relearned.
RECIPE_VERSION = 1
_UNSAFE = re.compile(r"[^A-Za-z0-9_.+-]+")


@dataclass(frozen=True)
class Learned:
    """A model learned from a library (or reused from an earlier learn).

    Attributes
    ----------
    name : str
        User model name (``tagger-train list``, ``tagger-batch --model NAME``).
    path : Path
        Its folder.
    reused : bool
        True when the library was unchanged and the earlier model was kept.
    figures : str
        Validation figures as text: accuracy with held-out counts and intervals, per genre, threshold.
    left_out : dict
        Genres with too few files to learn (the user's spelling -> number of files).
    """

    name: str
    path: Path
    reused: bool
    figures: str
    left_out: dict[str, int]


def learned_model_name(library: Path) -> str:
    """User model name for ``library``: its folder name made safe, plus a short hash of its full path.

    The hash keeps two folders of one name (``~/a/Music``, ``~/b/Music``) from replacing each other's model.
    """
    resolved = Path(library).expanduser().resolve()
    slug = _UNSAFE.sub("-", resolved.name).strip("-.")[:40] or "library"
    digest = hashlib.sha256(str(resolved).encode()).hexdigest()[:6]
    return f"{slug}-learned-{digest}"


def own_genres(labels: list[labelling.Label]) -> frozenset[Path]:
    """Files whose genre the tagger wrote itself (its journal says so): predictions, not the user's labels."""
    from tagger.state import State
    from tagger.tags import genres_in

    state = State()
    try:
        writes = state.last_writes()
    finally:
        state.close()
    own = set()
    for label in labels:
        _, kind, written = writes.get(str(label.path), (None, None, None))
        names = genres_in(written) if kind == "tag" else []
        if names and genre_key(names[0]) == label.genre:
            own.add(label.path)
    return frozenset(own)


def library_labels(library: Path) -> tuple[list[labelling.Label], list[tuple[Path, str]], frozenset[Path]]:
    """The genre-tagged files under ``library``, those whose tag could not be read, and the tagger's own.

    Raises
    ------
    RetrainError
        When the folder does not exist.
    """
    library = Path(library).expanduser()
    if not library.exists():
        raise RetrainError(f"no such folder: {library}")
    found, skipped = labelling.from_tags(library)
    return found, skipped, own_genres(found)


def library_fingerprint(found: list[labelling.Label], skipped: list[tuple[Path, str]], min_per_genre: int,
                        base: GenreModel) -> str:
    """What a learned model depends on, hashed: every labelled file's path, size, mtime, genre and artist."""
    rows = sorted([str(label.path), *_stamp(label.path), label.name, label.artist] for label in found)
    rows.append(sorted(str(path) for path, _ in skipped))
    facts = {"recipe": RECIPE_VERSION, "files": rows, "min_per_genre": min_per_genre,
             "base_network": base.network_id, "base": base.model_id}
    return hashlib.sha256(json.dumps(facts, sort_keys=True).encode()).hexdigest()


def _stamp(path: Path) -> tuple[int, int]:
    """Size (bytes) and modification time (ns) of a file."""
    stat = path.stat()
    return stat.st_size, stat.st_mtime_ns


def reusable(folder: Path, fingerprint: str) -> dict | None:
    """What ``learned.json`` says of the model in ``folder`` if it was learned from exactly ``fingerprint``."""
    try:
        record = json.loads((folder / LEARNED_FILE).read_text(encoding="utf-8"))
        GenreModel.load(str(folder))
    except (OSError, ValueError, ModelError):
        return None
    if not isinstance(record, dict) or record.get("fingerprint") != fingerprint:
        return None
    return record


def left_out_lines(left_out: dict[str, int], min_per_genre: int) -> list[str]:
    """One line per genre left out for too few files, for the figures shown on every (re)use."""
    return [f"left out {genre!r}: {n} file{'s' * (n != 1)}, fewer than --min-per-genre {min_per_genre}"
            for genre, n in sorted(left_out.items())]


def learn_library(library: Path, min_per_genre: int = 3, base: str = DEFAULT_MODEL, workers: int | None = None,
                  log: Log = print, progress: Progress | None = None,
                  cancel: threading.Event | None = None) -> Learned:
    """Train (or reuse) the model of ``library``'s genre-tagged files; the window calls this too.

    Parameters
    ----------
    library : Path
        Music folder; its files with a genre tag are the labels.
    min_per_genre : int
        Genres with fewer files are left out (and reported through ``log``).
    base : str
        Model whose frozen network gives the features.
    workers : int, optional
        Decode threads (default one per core).
    log, progress, cancel
        As :func:`tagger.training.retrain.retrain` takes them.

    Raises
    ------
    RetrainError, ModelError
        With one line for the user (no labelled files, a single genre, an unreadable base...).
    """
    name = learned_model_name(library)
    folder = user_models_dir() / name
    found, skipped, own = library_labels(library)
    if own:
        log(f"not learned from: {len(own)} file{'s' * (len(own) != 1)} whose genre the tagger wrote itself")
    fingerprint = library_fingerprint([label for label in found if label.path not in own], skipped, min_per_genre,
                                      GenreModel.load(base))
    record = reusable(folder, fingerprint)
    if record is not None:
        log(f"the library's genre tags are unchanged since model {name!r} was learned: reusing it")
        return Learned(name, folder, True, str(record.get("figures", "")), dict(record.get("left_out", {})))
    options = RetrainOptions(library=Path(library), name=name, source="tags", base=base,
                             min_per_genre=min_per_genre, force=True, workers=workers, exclude=own)
    result = retrain(options, log=log, progress=progress, cancel=cancel)
    figures = "\n".join([result.summary(), *left_out_lines(result.dropped, min_per_genre)])
    record = {"fingerprint": fingerprint, "library": str(Path(library).expanduser().resolve()), "figures": figures,
              "left_out": result.dropped}
    (result.path / LEARNED_FILE).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    return Learned(name, result.path, False, figures, result.dropped)
