"""Retrain on the user's own labels: ``tagger-train retrain LIBRARY --name NAME --from-tags``.

The user's genre names become the model's genres:

1. gather the labelled files (genre tags under LIBRARY, or the review
   window's labels), merge spellings, drop genres with too few files;
2. hold out validation tracks (whole artists, every genre represented);
3. run the base model's frozen network (LiteRT) on every analysis window and
   keep the feature its head reads (cached per file);
4. learn a new class-balanced softmax head on those features in NumPy
   (:mod:`tagger.training.heads`); with ``--fine-tune`` (genre-tagger[train])
   also train the network's last block in Keras;
5. score the held-out tracks as the tagger does (window probabilities
   averaged), fit a temperature, choose ``min_confidence``;
6. learn the head again on all files, fold the temperature in and save the
   base's network (or the tuned one) with the new head, ``settings.json``,
   ``training.json`` and ``MODEL_CARD.md``, as a user model.

Without ``--fine-tune`` no TensorFlow is needed.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sys
import threading
import time
from typing import TYPE_CHECKING
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tagger.head import Head
from tagger.model import (
    DEFAULT_MODEL, TRAIN_EXTRA, GenreModel, ModelError, quiet_import, shipped_models_dir, user_models_dir,
)
from tagger.novelty import Novelty
from tagger.settings import ModelSettings
from tagger.training import heads
from tagger.training import labels as labelling
from tagger.training.heads import Cancelled
from tagger.training.labels import LabelError, LabelSet
from tagger.training.model_folder import copy_network, now, write_model_folder
from tagger.training.novelty_fit import KEEP_PERCENTILE, fit_novelty, measure_out_of_vocabulary, track_probs

if TYPE_CHECKING:  # embeddings imports the audio front end (SciPy's FFT): not for tagger-train --help
    from tagger.training.embeddings import FileEmbeddings

NAME = "retrain"
HELP = "train a model on your own labelled files, so the tagger writes your genre names"

EXIT_ERROR = 2
# L-BFGS iterations of the head (each a pass over every training window).
DEFAULT_EPOCHS = 200
HEAD_DROPOUT = 0.25
HEAD_L2 = 1e-3
VALID_FRACTION = 0.25
TEMPERATURE_RANGE = (0.5, 10.0)
# Held-out tracks needed before the temperature may sharpen the model's confidence (T below 1).
MIN_TRACKS_TO_SHARPEN = 20
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$")


class RetrainError(Exception):
    """Retraining cannot go on; the message says why, for the user."""


@dataclass
class RetrainOptions:
    """What to retrain on and how.

    Attributes
    ----------
    library : Path
        Folder whose labelled files are used.
    name : str
        Name of the new model (a folder in the user's models).
    source : str
        ``"tags"`` (genre tags of the files) or ``"reviews"`` (labels from the review window).
    base : str
        Model whose convolutional part is reused (name or folder).
    min_per_genre : int
        Genres with fewer files are left out.
    epochs : int
        Most L-BFGS iterations of head training.
    fine_tune : bool
        Also train the base's last block, at a low learning rate.
    force : bool
        Replace an existing user model of that name.
    seed : int
    workers : int or None
        Decode threads (default: one per core).
    use_cache : bool
        Use and fill the embedding cache.
    exclude : frozenset of Path
        Files not to learn from whatever their labels (genres the tagger wrote itself).
    """

    library: Path
    name: str
    source: str = "tags"
    base: str = DEFAULT_MODEL
    min_per_genre: int = 3
    epochs: int = DEFAULT_EPOCHS
    fine_tune: bool = False
    force: bool = False
    seed: int = 0
    workers: int | None = None
    use_cache: bool = True
    exclude: frozenset[Path] = frozenset()


@dataclass
class GenreScore:
    """Validation result of one genre: held-out tracks and how many were right."""

    name: str
    right: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.total if self.total else None

    @property
    def text(self) -> str:
        """``"Loud: 83% of 6 held-out tracks (95% interval ...)"``, or too few to measure."""
        from tagger.training.metrics import accuracy_text

        return f"{self.name}: {accuracy_text(self.right, self.total)}"


@dataclass
class RetrainResult:
    """What a retrain produced.

    Attributes
    ----------
    path : Path
        The saved model folder.
    genres : list of str
        The user's genre names, in output order.
    files_used, train_files, valid_files : int
    accuracy : float or None
        Track accuracy on held-out tracks (None when none could be held out).
    per_genre : list of GenreScore
    confusion : str
        Confusion table of the held-out tracks ("" without any).
    temperature, min_confidence : float
    skipped : list of (Path, str)
        Unreadable files, with the reason.
    dropped : dict
        Genre name -> number of files, for genres with too few files.
    cached_files : int
        Files whose embeddings came from the cache.
    seconds : float
    """

    path: Path
    genres: list[str]
    files_used: int
    train_files: int
    valid_files: int
    accuracy: float | None
    per_genre: list[GenreScore]
    confusion: str
    temperature: float
    min_confidence: float
    threshold_note: str = ""
    out_of_vocabulary: str = ""
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    cached_files: int = 0
    seconds: float = 0.0

    def summary(self) -> str:
        """Validation figures as plain text."""
        lines = []
        if self.accuracy is None:
            lines.append("no held-out tracks (each genre needs 3 or more files, of 2 or more artists): "
                         "validation accuracy unknown")
        else:
            lines.append(f"validation (tracks of artists held out, mean of window probabilities per track): "
                         f"{self.accuracy_text}")
            lines += [f"  {score.text}" for score in self.per_genre]
            lines.append("confusion (rows true, columns predicted):")
            lines.append(self.confusion)
        lines.append(f"temperature {self.temperature:.3g}, min_confidence {self.min_confidence:.2f}: "
                     f"{self.threshold_note}")
        if self.out_of_vocabulary:
            lines.append(self.out_of_vocabulary)
        return "\n".join(lines)

    @property
    def accuracy_text(self) -> str:
        """Track accuracy with the number of held-out tracks and its 95% interval."""
        from tagger.training.metrics import accuracy_text

        return accuracy_text(sum(s.right for s in self.per_genre), self.valid_files)


# ---------------------------------------------------------------------------
# Model names and folders
# ---------------------------------------------------------------------------

def shipped_model_names() -> set[str]:
    base = shipped_models_dir()
    return {p.name for p in base.iterdir() if p.is_dir()} if base.is_dir() else set()


def check_name(name: str, force: bool) -> Path:
    """Folder the model ``name`` will be saved in; refuses bad, shipped and (without force) taken names."""
    if not _NAME_PATTERN.match(name or "") or name.endswith((" ", ".")):
        raise RetrainError(f"bad model name {name!r}: use letters, digits, spaces, '.', '_', '+' or '-' "
                           "(at most 64, starting with a letter or digit)")
    if name in shipped_model_names():
        raise RetrainError(f"{name!r} is a model shipped with the tagger: choose another name")
    target = user_models_dir() / name
    if target.exists() and not force:
        raise RetrainError(f"a model called {name!r} exists already ({target}): use --force to replace it")
    return target


# ---------------------------------------------------------------------------
# The run, step by step
# ---------------------------------------------------------------------------

Log = Callable[[str], None]
Progress = Callable[[str, int, int, dict], None]


def _no_progress(stage: str, done: int, total: int, info: dict) -> None:
    """Progress sink when the caller wants none."""


def _stage(report: Progress, stage: str) -> Callable[[int, int], None]:
    """``report`` bound to one stage, as the head trainer and the fine-tuner call it."""
    return lambda done, total: report(stage, done, total, {})


def _check_cancel(cancel: threading.Event | None) -> None:
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def check_options(options: RetrainOptions) -> Path:
    """The model's target folder, once the options are known to be usable."""
    target = check_name(options.name, options.force)
    if options.min_per_genre < 1:
        raise RetrainError("--min-per-genre must be at least 1")
    if options.epochs < 1:
        raise RetrainError("--epochs must be at least 1")
    if options.fine_tune and importlib.util.find_spec("keras") is None:
        raise RetrainError(f"--fine-tune trains the network with TensorFlow: {TRAIN_EXTRA}")
    return target


def gather(options: RetrainOptions, log: Log) -> LabelSet:
    """Labelled files of the chosen source, spellings merged, small genres dropped."""
    library = Path(options.library).expanduser()
    if not library.exists():
        raise RetrainError(f"no such folder: {library}")
    if options.source == "tags":
        found, skipped = labelling.from_tags(library)
        found = [label for label in found if label.path not in options.exclude]
        source = f"files with a genre tag under {library}"
    elif options.source == "reviews":
        found, skipped = labelling.from_reviews(library), []
        source = f"review labels for files under {library} (label files in the review window first)"
    else:
        raise RetrainError(f"unknown label source {options.source!r}")
    try:
        labels = labelling.prepare(found, options.min_per_genre, skipped, source)
    except LabelError as exc:
        raise RetrainError(str(exc)) from None
    for path, reason in skipped:
        log(f"skipped (tags unreadable): {path}: {reason}")
    _log_drops(labels, log, options.min_per_genre)
    return labels


def _log_drops(labels: LabelSet, log: Log, min_per_genre: int) -> None:
    for genre, n in sorted(labels.dropped.items()):
        log(f"left out {labels.spellings.get(genre, genre)!r}: {n} file{'s' * (n != 1)}, "
            f"fewer than --min-per-genre {min_per_genre}")


def embed_labels(base: GenreModel, labels: LabelSet, options: RetrainOptions, log: Log, report: Progress,
                 cancel: threading.Event | None) -> dict[Path, FileEmbeddings]:
    """Features of every labelled file that could be read; unreadable ones are logged and dropped."""
    from tagger.training.embeddings import Embedder, embed_all

    embedder = Embedder(base, workers=options.workers, use_cache=options.use_cache)
    log(f"{len(labels.labels)} labelled files in {len(labels.genres)} genres; "
        f"base model {base.name!r} ({base.head.n_features} features per window: {base.head.feature})")
    _check_cancel(cancel)
    results = embed_all(embedder, [label.path for label in labels.labels], keep_mels=options.fine_tune,
                        progress=_stage(report, "embedding"), cancel=cancel)
    _check_cancel(cancel)
    bad = [(r.path, r.error) for r in results if r.embeddings is None]
    for path, reason in bad:
        log(f"skipped (unreadable): {path}: {reason}")
    if len(bad) == len(results):
        raise RetrainError(f"none of the {len(results)} labelled files could be read "
                           f"(first: {bad[0][0]}: {bad[0][1]})")
    labels.skipped += bad
    good = {r.path: r for r in results if r.embeddings is not None}
    labels.labels = [label for label in labels.labels if label.path in good]
    _drop_unreadable_genres(labels, options.min_per_genre, len(bad), log)
    return good


def _drop_unreadable_genres(labels: LabelSet, min_per_genre: int, n_bad: int, log: Log) -> None:
    before = set(labels.dropped)
    try:
        labelling.drop_small(labels, min_per_genre)
    except LabelError as exc:
        raise RetrainError(f"{exc} (after leaving out {n_bad} unreadable files)") from None
    for genre in sorted(set(labels.dropped) - before):
        n = labels.dropped[genre]
        log(f"left out {labels.spellings.get(genre, genre)!r}: only {n} readable file{'s' * (n != 1)}")


@dataclass
class TrainingData:
    """The labelled tracks as arrays.

    Attributes
    ----------
    items : list of Label
    genres, names : list of str
        Genre keys and the user's spellings, in output order.
    track_labels : np.ndarray, shape (n_tracks,)
    features : list of np.ndarray
        Per track, (n_windows, n_features) float32: the base network's feature the head reads.
    mels : list of np.ndarray or None
        Per track, the input windows (only for fine-tuning).
    held : np.ndarray of bool, shape (n_tracks,)
        Held-out tracks.
    cached : int
        Tracks whose features came from the cache.
    """

    items: list
    genres: list[str]
    names: list[str]
    track_labels: np.ndarray
    features: list[np.ndarray]
    mels: list[np.ndarray] | None
    held: np.ndarray
    cached: int

    def windows_of(self, indices: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Features, labels and balancing weights of every window of the given tracks."""
        x = np.concatenate([self.features[i] for i in indices])
        y = np.concatenate([np.full(len(self.features[i]), self.track_labels[i]) for i in indices])
        tracks = np.concatenate([np.full(len(self.features[i]), i) for i in indices])
        return x, y, heads.balanced_weights(y, tracks)


def training_data(base: GenreModel, labels: LabelSet, good: dict, options: RetrainOptions, log: Log) -> TrainingData:
    """Arrays of the readable labelled files, and which are held out (whole artists, every genre)."""
    genres, items = labels.genres, labels.labels
    columns = base.layout[base.head.feature]
    data = TrainingData(
        items=items, genres=genres, names=[labels.spellings[g] for g in genres],
        track_labels=np.asarray([genres.index(label.genre) for label in items]),
        features=[good[label.path].embeddings[:, columns] for label in items],
        mels=[good[label.path].mels for label in items] if options.fine_tune else None,
        held=np.asarray(labelling.hold_out(items, VALID_FRACTION, options.seed), dtype=bool),
        cached=sum(good[label.path].cached for label in items))
    log(f"{len(items)} files ({data.cached} embeddings cached): {int((~data.held).sum())} for training, "
        f"{int(data.held.sum())} held out for validation")
    for g, name in enumerate(data.names):
        mine = data.track_labels == g
        log(f"  {name}: {int(mine.sum())} files ({int((mine & data.held).sum())} held out)")
    return data


@dataclass
class Trained:
    """A head learned on the base's features, or (fine-tuned) a new network and head in Keras."""

    head: Head
    network: object = None
    layout: dict | None = None
    novelty: Novelty | None = None

    def logits(self, data: TrainingData, i: int) -> np.ndarray:
        """Pre-softmax outputs of every window of track ``i``."""
        if self.network is None:
            return self.head.logits(data.features[i])
        start, stop = self.layout[self.head.feature]
        return self.head.logits(np.asarray(self.network(data.mels[i], training=False))[:, start:stop])


def train(data: TrainingData, indices: np.ndarray, options: RetrainOptions, base: GenreModel, stage: str,
          report: Progress, cancel: threading.Event | None) -> Trained:
    """A head on the frozen features of the given tracks; with fine-tuning, then the network's last block too."""
    x, y, w = data.windows_of(indices)
    head = heads.train_softmax_head(x, y, w, len(data.genres), base.head.feature, l2=HEAD_L2, dropout=HEAD_DROPOUT,
                                    max_iterations=options.epochs, progress=_stage(report, stage), cancel=cancel)
    if not options.fine_tune:
        # A tuned network moves the features, so only a frozen one gets the abstain rule.
        groups = [labelling.group_key(data.items[i]) for i in indices]
        return Trained(head, novelty=fit_novelty([data.features[i] for i in indices], groups, head.feature))
    mels = np.concatenate([data.mels[i] for i in indices])
    fine_tune = quiet_import("tagger.training.fine_tune").fine_tune
    network, layout, tuned = fine_tune(base.path, head, mels, y, w, options.seed, _stage(report, "fine-tuning"), cancel)
    return Trained(tuned, network, layout)


def _head_and_rule(trained: Trained) -> tuple[Head, Novelty]:
    return trained.head, trained.novelty


@dataclass
class Validation:
    """What the held-out tracks say of a head trained without them."""

    temperature: float = 1.0
    min_confidence: float = 0.0
    accuracy: float | None = None
    per_genre: list[GenreScore] = field(default_factory=list)
    confusion: str = ""
    threshold_note: str = ""


def validate(data: TrainingData, options: RetrainOptions, base: GenreModel, report: Progress,
             cancel: threading.Event | None) -> Validation:
    """Train without the held-out tracks, score them as the tagger does, fit T and ``min_confidence``."""
    from tagger.training import metrics

    valid = np.nonzero(data.held)[0]
    if not len(valid):
        n = len(data.genres)
        min_confidence, note = choose_threshold(np.zeros(0, dtype=int), np.zeros((0, n)), n)
        return Validation(min_confidence=min_confidence, threshold_note=note)
    trained = train(data, np.nonzero(~data.held)[0], options, base, "validation", report, cancel)
    logits = [trained.logits(data, i) for i in valid]
    y_valid = data.track_labels[valid]
    # A few held-out tracks cannot pin T down: keep it in a range that stays sane. When a handful
    # all come out right, the fit sharpens as far as it may, and the model then says 1.0 on files
    # it gets wrong; so with few of them T only ever softens.
    lowest = TEMPERATURE_RANGE[0] if len(valid) >= MIN_TRACKS_TO_SHARPEN else 1.0
    temperature = float(np.clip(metrics.fit_temperature(logits, y_valid), lowest, TEMPERATURE_RANGE[1]))
    probs = metrics.track_probs(logits, temperature)
    if trained.novelty is not None:  # scored as the saved model will tag: unfamiliar windows abstain
        probs = track_probs(trained.head.folded(temperature), [data.features[i] for i in valid], trained.novelty)
    predicted = probs.argmax(axis=1)
    matrix = metrics.confusion_matrix(y_valid, predicted, len(data.genres))
    min_confidence, note = choose_threshold(y_valid, probs, len(data.genres))
    return Validation(
        temperature=temperature, min_confidence=min_confidence, threshold_note=note,
        accuracy=float((predicted == y_valid).mean()),
        per_genre=[GenreScore(name, int(matrix[g, g]), int(matrix[g].sum())) for g, name in enumerate(data.names)],
        confusion=metrics.confusion_text(matrix, data.names))


# Share of written genres that should be right, where enough held-out tracks can tell.
WRITTEN_RIGHT_TARGET = 0.9


def choose_threshold(labels: np.ndarray, probs: np.ndarray, n_genres: int) -> tuple[float, str]:
    """``min_confidence`` from calibrated held-out track probabilities, and a line saying how it was chosen.

    With :data:`MIN_TRACKS_TO_SHARPEN` or more held-out tracks: the lowest threshold at which
    :data:`WRITTEN_RIGHT_TARGET` of the tracks written are right (keeping half of them written).
    Either way never above halfway from chance to certainty, which is also the conservative
    threshold taken when the held-out tracks are too few to choose one.
    """
    from tagger.training import metrics

    halfway = float(np.floor((1 + 1 / n_genres) / 2 * 100) / 100)
    if len(labels) < MIN_TRACKS_TO_SHARPEN:
        how = (f"too few held-out files ({len(labels)}, under {MIN_TRACKS_TO_SHARPEN}) to choose it for "
               f"{WRITTEN_RIGHT_TARGET:.0%} right: conservative threshold, halfway from chance to certainty")
        threshold = halfway
    else:
        threshold = min(metrics.choose_min_confidence(labels, probs, WRITTEN_RIGHT_TARGET), halfway)
        how = f"chosen so that {WRITTEN_RIGHT_TARGET:.0%} of written genres are right (at most halfway from chance)"
    return threshold, f"{how}; {metrics.written_precision_text(labels, probs, threshold)}"


def retrain(options: RetrainOptions, log: Log = print, progress: Progress | None = None,
            cancel: threading.Event | None = None) -> RetrainResult:
    """Run the whole retraining; see the module docstring.

    Parameters
    ----------
    options : RetrainOptions
    log : callable
        Receives one line of news at a time.
    progress : callable, optional
        ``progress(stage, done, total, info)``: stage is ``"embedding"``,
        ``"validation"``, ``"training"`` or ``"fine-tuning"``.
    cancel : threading.Event, optional
        When set, the run stops with :class:`Cancelled` at the next step.

    Raises
    ------
    RetrainError, ModelError
        With a message for the user.
    """
    started = time.perf_counter()
    report = progress or _no_progress
    target = check_options(options)
    labels = gather(options, log)
    from tagger.engine import default_workers

    options.workers = options.workers or default_workers()
    base = GenreModel.load(options.base, threads=options.workers)
    data = training_data(base, labels, embed_labels(base, labels, options, log, report, cancel), options, log)
    validation = validate(data, options, base, report, cancel)
    _check_cancel(cancel)
    # The saved model learns from every file.
    trained = train(data, np.arange(len(data.items)), options, base, "training", report, cancel)
    trained.head = trained.head.folded(validation.temperature)
    out_of_vocabulary = "" if options.fine_tune else measure_out_of_vocabulary(
        data.features, data.track_labels, data.names,
        lambda indices: _head_and_rule(train(data, indices, options, base, "out-of-vocabulary", report, cancel)),
        validation.temperature, validation.min_confidence)
    _check_cancel(cancel)
    result = RetrainResult(
        path=target, genres=data.names, files_used=len(data.items), train_files=int((~data.held).sum()),
        valid_files=int(data.held.sum()), accuracy=validation.accuracy, per_genre=validation.per_genre,
        confusion=validation.confusion, temperature=validation.temperature,
        min_confidence=validation.min_confidence, threshold_note=validation.threshold_note,
        out_of_vocabulary=out_of_vocabulary and out_of_vocabulary.text(), skipped=labels.skipped,
        dropped={labels.spellings.get(g, g): n for g, n in labels.dropped.items()}, cached_files=data.cached)
    result.seconds = time.perf_counter() - started
    save(trained, data, options, base, result, out_of_vocabulary and out_of_vocabulary.facts())
    result.seconds = time.perf_counter() - started
    return result


def _probe(base: GenreModel, data: TrainingData) -> np.ndarray:
    """A few real input windows, to check the saved model predicts what the trained one does."""
    if data.mels:
        return data.mels[0][:4]
    from tagger.features import file_windows

    return file_windows(data.items[0].path, base.settings.features).mels[:4]


def save(trained: Trained, data: TrainingData, options: RetrainOptions, base: GenreModel,
         result: RetrainResult, out_of_vocabulary: dict | None = None) -> None:
    """Write the model folder (staged, reloaded and checked before it replaces anything)."""
    settings = ModelSettings(genres=tuple(data.genres), features=base.settings.features,
                             display_names=dict(zip(data.genres, data.names)),
                             min_confidence=result.min_confidence, temperature=result.temperature)
    probe = _probe(base, data)
    if trained.network is None:
        writer = with_novelty(copy_network(base.path), trained.novelty)
        features = base.features(probe)[:, base.layout[trained.head.feature]]
        expected = trained.novelty.apply(features, trained.head.apply(features))
    else:
        from tagger.training import keras_network

        writer = keras_network.network_writer(trained.network, trained.layout)
        expected = np.asarray(keras_network.genre_model(trained.network, trained.head)(probe, training=False))
    facts = {
        "kind": "retrained", "created": now(), "base": base.name, "base_id": base.model_id,
        "source": options.source, "library": str(Path(options.library).expanduser().resolve()),
        "genres": result.genres, "files_used": result.files_used, "train_files": result.train_files,
        "valid_files": result.valid_files, "validation_accuracy": result.accuracy,
        "validation_right": sum(s.right for s in result.per_genre), "min_confidence_rule": result.threshold_note,
        "per_genre": {s.name: [s.right, s.total] for s in result.per_genre},
        "fine_tune": options.fine_tune, "epochs": options.epochs, "seconds": round(result.seconds, 1),
        "out_of_vocabulary": out_of_vocabulary or None,
        "abstain_rule": None if trained.novelty is None else {
            "feature": trained.novelty.feature, "threshold": trained.novelty.threshold,
            "reference_windows": len(trained.novelty.reference), "keep_percentile": KEEP_PERCENTILE},
    }
    card = card_text(facts, result, data.items, settings)
    try:
        write_model_folder(result.path, writer, trained.head, settings, facts, card, probe, expected)
    except ModelError as exc:
        raise RetrainError(str(exc)) from None


def with_novelty(write_network: Callable[[Path], None], rule: Novelty) -> Callable[[Path], None]:
    """A model-folder network writer that also saves the abstain rule beside the network."""

    def write(folder: Path) -> None:
        write_network(folder)
        rule.save(folder)

    return write


def card_text(facts: dict, result: RetrainResult, items, settings: ModelSettings) -> str:
    """MODEL_CARD.md of a retrained model, rendered from its ``training.json`` facts."""
    files = "\n".join(f"- `{label.path}`: {settings.display_names[label.genre]}" for label in items)
    accuracy = "unknown (no held-out tracks)" if result.accuracy is None else result.accuracy_text
    return f"""# {result.path.name}

Retrained from the user's own labels on {facts['created']}. Predicts one of
{len(result.genres)} genres: {", ".join(result.genres)}.

- Base model: `{facts['base']}` (fingerprint {facts['base_id']}), its network
  {"with the last block fine-tuned" if facts['fine_tune'] else "frozen"}; new softmax head on its
  features (L2, class-balanced, at most {facts['epochs']} L-BFGS iterations).
- Labels: {"genre tags" if facts['source'] == "tags" else "review-window labels"} of files under
  `{facts['library']}`; {result.files_used} files used.
- Validation: {result.valid_files} held-out tracks (whole artists), track accuracy {accuracy}
  (window probabilities averaged per track, as the tagger does). The saved head was then
  trained again on all {result.files_used} files.
- Temperature {result.temperature:.3g} folded into the head; default
  `min_confidence` {result.min_confidence:.2f}: {result.threshold_note}.
- Music unlike the training files: {_abstain_text(facts)}

## Validation

```
{result.summary()}
```

## Files used

{files}
"""


def _abstain_text(facts: dict) -> str:
    """The card's line on the abstain rule and the out-of-vocabulary rate it was measured to give."""
    rule, rates = facts.get("abstain_rule"), facts.get("out_of_vocabulary")
    if rule is None:
        return "no abstain rule (the fine-tuned network's features differ from the frozen ones it would read)."
    text = (f"a window farther than {rule['threshold']:.3g} (standardised distance) from all "
            f"{rule['reference_windows']} training windows counts as no genre; the threshold lets "
            f"{rule['keep_percentile']:g}% of training windows of artists held out through.")
    if rates and rates["files"]:
        n = rates["files"]
        text += (f" Files of a genre left out of training ({', '.join(rates['genres_left_out'])}, {n} files) "
                 f"answered at `min_confidence` or above: {rates['confident_without_rule']} of {n} without the "
                 f"rule, {rates['confident_with_rule']} of {n} with it.")
    return text


# ---------------------------------------------------------------------------
# The command
# ---------------------------------------------------------------------------

def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("library", type=Path, metavar="LIBRARY", help="folder holding the labelled files")
    parser.add_argument("--name", required=True, help="name of the new model (use it with tagger-batch --model NAME)")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--from-tags", dest="source", action="store_const", const="tags",
                        help="labels are the genre tags of the files")
    source.add_argument("--from-reviews", dest="source", action="store_const", const="reviews",
                        help="labels are those stored by the review window")
    parser.add_argument("--base", default=DEFAULT_MODEL, metavar="MODEL",
                        help="model whose features are reused (default: %(default)s)")
    parser.add_argument("--min-per-genre", type=int, default=3, metavar="N",
                        help="leave out genres with fewer files (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=DEFAULT_EPOCHS, metavar="N",
                        help="most L-BFGS iterations of head training, each a pass over all windows "
                             "(default: %(default)s)")
    parser.add_argument("--fine-tune", action="store_true",
                        help="also train the base model's last block, a few epochs at a low learning rate "
                             "(needs genre-tagger[train])")
    parser.add_argument("--force", action="store_true", help="replace an existing model of that name")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--no-cache", dest="use_cache", action="store_false",
                        help="compute every embedding again, ignoring the cache")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bars")


STAGE_NAMES = {
    "embedding": "reading files",
    "validation": "training without held-out files",
    "training": "training on all files",
    "fine-tuning": "fine-tuning",
    "out-of-vocabulary": "measuring answers on genres left out",
}


class _Bars:
    """tqdm bars on stderr, one per stage."""

    def __init__(self, quiet: bool) -> None:
        self.quiet, self.bar, self.stage = quiet, None, None

    def __call__(self, stage: str, done: int, total: int, info: dict) -> None:
        if self.quiet:
            return
        from tqdm import tqdm

        if stage != self.stage:
            self.close()
            unit = "file" if stage == "embedding" else "epoch"
            self.bar = tqdm(total=total, desc=STAGE_NAMES.get(stage, stage), unit=unit, file=sys.stderr,
                            leave=False)
            self.stage = stage
        self.bar.n = done
        if info:
            self.bar.set_postfix({k: f"{v:.3f}" for k, v in info.items() if isinstance(v, float)}, refresh=False)
        self.bar.refresh()
        if done >= total:
            self.close()

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
        self.bar, self.stage = None, None


def run(args: argparse.Namespace) -> int:
    options = RetrainOptions(library=args.library, name=args.name, source=args.source, base=args.base,
                             min_per_genre=args.min_per_genre, epochs=args.epochs, fine_tune=args.fine_tune,
                             force=args.force, seed=args.seed, use_cache=args.use_cache)
    bars = _Bars(args.quiet)

    def log(line: str) -> None:
        bars.close()
        print(line, flush=True)

    try:
        result = retrain(options, log=log, progress=bars)
    except (RetrainError, ModelError) as exc:
        bars.close()
        print(f"tagger-train: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    bars.close()
    print(result.summary())
    if result.skipped:
        print(f"{len(result.skipped)} unreadable file(s) skipped (listed above)")
    print(f"saved model {result.path.name!r} in {result.path} ({result.seconds:.0f} s); "
          f"tag with: tagger-batch FOLDER --model {_quoted(result.path.name)}")
    return 0


def _quoted(name: str) -> str:
    import shlex

    return shlex.quote(name)


def main(argv: Sequence[str] | None = None) -> int:  # pragma: no cover - convenience
    from tagger.training.cli import main as cli_main

    return cli_main(["retrain", *(argv or [])])
