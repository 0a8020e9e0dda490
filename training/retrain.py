"""Retrain on the user's own labels: ``tagger-train retrain LIBRARY --name NAME --from-tags``.

The user's genre names become the model's genres:

1. gather the labelled files (genre tags under LIBRARY, or the review
   window's labels), merge spellings, drop genres with too few files;
2. hold out validation tracks (whole artists, every genre represented);
3. embed every analysis window with the base model cut before its final
   Dense layer (frozen; embeddings cached per file);
4. train a new class-balanced softmax head on the embeddings (optionally
   fine-tune the base's last block too);
5. score the held-out tracks as the tagger does (window probabilities
   averaged), fit a temperature, choose ``min_confidence``;
6. train the head again on all files, fold the temperature in, join base and
   head into one Keras model of built-in layers and save it, with
   ``settings.json`` and ``MODEL_CARD.md``, as a user model.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tagger.model import (
    CARD_FILE, DEFAULT_MODEL, MODEL_FILE, GenreModel, ModelError, export_runtime, load_keras_model,
)
from tagger.model import shipped_models_dir, user_models_dir
from tagger.settings import ModelSettings
from tagger.training import labels as labelling
from tagger.training.labels import LabelError, LabelSet

NAME = "retrain"
HELP = "train a model on your own labelled files, so the tagger writes your genre names"

from tagger.training.user_models import TRAINING_FILE  # noqa: E402
EXIT_ERROR = 2
DEFAULT_EPOCHS = 60
BATCH_SIZE = 64
HEAD_LEARNING_RATE = 1e-2
HEAD_DROPOUT = 0.25
HEAD_L2 = 1e-3
FINE_TUNE_EPOCHS = 5
FINE_TUNE_LEARNING_RATE = 1e-4
VALID_FRACTION = 0.25
TEMPERATURE_RANGE = (0.5, 10.0)
# Held-out tracks needed before the temperature may sharpen the model's confidence (T below 1).
MIN_TRACKS_TO_SHARPEN = 20
_NAME_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.+-]{0,63}$")


class RetrainError(Exception):
    """Retraining cannot go on; the message says why, for the user."""


class Cancelled(Exception):
    """The user stopped the run."""


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
        Epochs of head training.
    fine_tune : bool
        Also train the base's last block, at a low learning rate.
    force : bool
        Replace an existing user model of that name.
    seed : int
    workers : int or None
        Decode threads (default: one per core).
    use_cache : bool
        Use and fill the embedding cache.
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


@dataclass
class GenreScore:
    """Validation result of one genre: held-out tracks and how many were right."""

    name: str
    right: int
    total: int

    @property
    def accuracy(self) -> float | None:
        return self.right / self.total if self.total else None


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
    model : keras.Model
        The trained model as saved (in memory).
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
    skipped: list[tuple[Path, str]] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    cached_files: int = 0
    seconds: float = 0.0
    model: object = field(default=None, repr=False, compare=False)

    def summary(self) -> str:
        """Validation figures as plain text."""
        lines = []
        if self.accuracy is None:
            lines.append("no held-out tracks (each genre needs 3 or more files, of 2 or more artists): "
                         "validation accuracy unknown")
        else:
            lines.append(f"validation: {self.valid_files} held-out tracks, track accuracy {self.accuracy:.0%} "
                         f"(mean of window probabilities per track)")
            for score in self.per_genre:
                acc = "-" if score.accuracy is None else f"{score.accuracy:.0%}"
                lines.append(f"  {score.name}: {acc} ({score.right}/{score.total})")
            lines.append("confusion (rows true, columns predicted):")
            lines.append(self.confusion)
        lines.append(f"temperature {self.temperature:.3g}, min_confidence {self.min_confidence:.2f}")
        return "\n".join(lines)


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
# Head training
# ---------------------------------------------------------------------------

def balanced_weights(window_labels: np.ndarray, window_tracks: np.ndarray) -> np.ndarray:
    """Sample weight per window: every genre weighs the same, every track of a genre the same."""
    weights = np.zeros(len(window_labels), dtype=np.float32)
    genres = np.unique(window_labels)
    for g in genres:
        in_genre = window_labels == g
        tracks = np.unique(window_tracks[in_genre])
        for t in tracks:
            mine = window_tracks == t
            weights[mine] = 1.0 / (len(tracks) * mine.sum())
    return weights * len(window_labels) / weights.sum()


class _EpochProgress:
    """Keras callback reporting each finished epoch and honouring a cancel event."""

    def __new__(cls, *args, **kwargs):
        import keras

        class Callback(keras.callbacks.Callback):
            def __init__(self, report, total, cancel):
                super().__init__()
                self.report, self.total, self.cancel = report, total, cancel

            def on_epoch_end(self, epoch, logs=None):
                if self.report:
                    self.report(epoch + 1, self.total, dict(logs or {}))
                if self.cancel is not None and self.cancel.is_set():
                    self.model.stop_training = True

        return Callback(*args, **kwargs)


@dataclass
class Head:
    """A trained softmax head: its layers, in order, and the index of its Dense layer."""

    layers: list
    dense: object
    logits: object = None

    def apply(self, tensor):
        """Apply the head to a tensor; ``self.logits`` is then the Dense output of this application."""
        for layer in self.layers:
            tensor = layer(tensor)
            if layer is self.dense:
                self.logits = tensor
        return tensor


def train_head(embeddings: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_genres: int, epochs: int,
               seed: int, tag: str, report=None, cancel=None) -> Head:
    """Train Normalization -> Dropout -> Dense -> softmax on window embeddings."""
    import keras
    from keras import layers

    keras.utils.set_random_seed(seed)
    norm = layers.Normalization(name=f"{tag}_norm")
    norm.adapt(embeddings)
    dense = layers.Dense(n_genres, name=f"{tag}_logits", kernel_regularizer=keras.regularizers.L2(HEAD_L2))
    head = Head([norm, layers.Dropout(HEAD_DROPOUT, name=f"{tag}_dropout"), dense,
                 layers.Activation("softmax", name=f"{tag}_probabilities")], dense)
    inputs = keras.Input((embeddings.shape[1],))
    model = keras.Model(inputs, head.apply(inputs))
    model.compile(optimizer=keras.optimizers.Adam(HEAD_LEARNING_RATE),
                  loss=keras.losses.SparseCategoricalCrossentropy(), weighted_metrics=["accuracy"])
    # Few labels make few windows: smaller batches keep several steps per epoch.
    batch_size = int(min(BATCH_SIZE, max(8, len(embeddings) // 8)))
    model.fit(embeddings, labels, sample_weight=weights, batch_size=batch_size, epochs=epochs, shuffle=True,
              verbose=0, callbacks=[_EpochProgress(report, epochs, cancel)])
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    return head


def assemble(base_keras, head: Head, name: str = "retrained_genre_model"):
    """One Keras model: base up to the input of its final Dense layer, then the new head."""
    import keras

    from tagger.training.embeddings import feature_tensor, model_input

    return keras.Model(model_input(base_keras), head.apply(feature_tensor(base_keras)), name=name)


def last_block_layers(feature_part) -> list:
    """Layers of the base to unfreeze for fine-tuning: its last layer with a kernel (conv or dense).

    BatchNormalization layers stay frozen (in inference mode): batches of a few
    user files would wreck their statistics.
    """
    kernels = [layer for layer in feature_part.layers if hasattr(layer, "kernel") and layer.trainable_weights]
    return kernels[-1:]


def fine_tune(full, base_keras, mels: np.ndarray, labels: np.ndarray, weights: np.ndarray, seed: int,
              report=None, cancel=None) -> None:
    """Train the base's last block and the head together at a low learning rate."""
    import keras

    from tagger.training.embeddings import feature_model

    keras.utils.set_random_seed(seed + 1)
    last_block = last_block_layers(feature_model(base_keras))  # before freezing: it looks at trainable weights
    for layer in base_keras.layers:
        layer.trainable = False
    for layer in last_block:
        layer.trainable = True
    full.compile(optimizer=keras.optimizers.Adam(FINE_TUNE_LEARNING_RATE),
                 loss=keras.losses.SparseCategoricalCrossentropy(), weighted_metrics=["accuracy"])
    full.fit(mels, labels, sample_weight=weights, batch_size=32, epochs=FINE_TUNE_EPOCHS, shuffle=True,
             verbose=0, callbacks=[_EpochProgress(report, FINE_TUNE_EPOCHS, cancel)])
    if cancel is not None and cancel.is_set():
        raise Cancelled()


def fold_temperature(dense, temperature: float) -> None:
    """softmax(z / T) with built-in layers: divide the Dense kernel and bias by T."""
    kernel, bias = dense.get_weights()
    dense.set_weights([kernel / temperature, bias / temperature])


# ---------------------------------------------------------------------------
# The run
# ---------------------------------------------------------------------------

Log = Callable[[str], None]
Progress = Callable[[str, int, int, dict], None]


def gather(options: RetrainOptions, log: Log) -> LabelSet:
    """Labelled files of the chosen source, spellings merged, small genres dropped."""
    library = Path(options.library).expanduser()
    if not library.exists():
        raise RetrainError(f"no such folder: {library}")
    if options.source == "tags":
        found, skipped = labelling.from_tags(library)
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
    report = progress or (lambda *a: None)

    def check_cancel():
        if cancel is not None and cancel.is_set():
            raise Cancelled()

    target = check_name(options.name, options.force)
    if options.min_per_genre < 1:
        raise RetrainError("--min-per-genre must be at least 1")
    if options.epochs < 1:
        raise RetrainError("--epochs must be at least 1")
    labels = gather(options, log)
    from tagger.engine import default_workers

    workers = options.workers or default_workers()
    base = GenreModel.load(options.base, threads=workers)
    from tagger.training.embeddings import Embedder, embed_all

    embedder = Embedder(base, workers=workers, use_cache=options.use_cache)
    log(f"{len(labels.labels)} labelled files in {len(labels.genres)} genres; "
        f"base model {base.name!r} ({embedder.dim}-dim window features)")
    check_cancel()
    results = embed_all(embedder, [label.path for label in labels.labels], keep_mels=options.fine_tune,
                        progress=lambda done, total: report("embedding", done, total, {}), cancel=cancel)
    check_cancel()
    bad = [(r.path, r.error) for r in results if r.embeddings is None]
    for path, reason in bad:
        log(f"skipped (unreadable): {path}: {reason}")
    if len(bad) == len(results):
        raise RetrainError(f"none of the {len(results)} labelled files could be read "
                           f"(first: {bad[0][0]}: {bad[0][1]})")
    good = {r.path: r for r in results if r.embeddings is not None}
    labels.skipped += bad
    labels.labels = [label for label in labels.labels if label.path in good]
    before = set(labels.dropped)
    try:
        labelling.drop_small(labels, options.min_per_genre)
    except LabelError as exc:
        raise RetrainError(f"{exc} (after leaving out {len(bad)} unreadable files)") from None
    for genre in sorted(set(labels.dropped) - before):
        n = labels.dropped[genre]
        log(f"left out {labels.spellings.get(genre, genre)!r}: only {n} readable file{'s' * (n != 1)}")

    genres = labels.genres
    names = [labels.spellings[g] for g in genres]
    items = labels.labels
    track_labels = np.asarray([genres.index(label.genre) for label in items])
    embeddings = [good[label.path].embeddings for label in items]
    mels = [good[label.path].mels for label in items] if options.fine_tune else None
    held = np.asarray(labelling.hold_out(items, VALID_FRACTION, options.seed))
    cached = sum(good[label.path].cached for label in items)
    log(f"{len(items)} files ({cached} embeddings cached): {int((~held).sum())} for training, "
        f"{int(held.sum())} held out for validation")
    for genre, name in zip(genres, names):
        mine = track_labels == genres.index(genre)
        log(f"  {name}: {int(mine.sum())} files ({int((mine & held).sum())} held out)")

    def windows_of(indices):
        x = np.concatenate([embeddings[i] for i in indices])
        y = np.concatenate([np.full(len(embeddings[i]), track_labels[i]) for i in indices])
        t = np.concatenate([np.full(len(embeddings[i]), i) for i in indices])
        return x, y, balanced_weights(y, t)

    tag = "head_" + datetime.now().strftime("%Y%m%d%H%M%S")

    def train(indices, stage):
        x, y, w = windows_of(indices)
        head = train_head(x, y, w, len(genres), options.epochs, options.seed, tag,
                          report=lambda done, total, info: report(stage, done, total, info), cancel=cancel)
        base_keras = embedder.keras_model
        if options.fine_tune:
            base_keras = load_keras_model(base.path / MODEL_FILE)  # fresh weights for each fine-tuning
        full = assemble(base_keras, head)
        if options.fine_tune:
            m = np.concatenate([mels[i] for i in indices])
            fine_tune(full, base_keras, m, y, w, options.seed,
                      report=lambda done, total, info: report("fine-tuning", done, total, info), cancel=cancel)
        return head, full

    # Validation: a head trained without the held-out tracks.
    temperature, min_confidence, accuracy, per_genre, confusion = 1.0, 0.0, None, [], ""
    valid = np.nonzero(held)[0]
    train_idx = np.nonzero(~held)[0]
    if len(valid):
        from tagger.training import metrics

        head, full = train(train_idx, "validation")
        logits = window_logits(full, head, embeddings, mels, valid, options.fine_tune)
        y_valid = track_labels[valid]
        # A few held-out tracks cannot pin T down: keep it in a range that stays sane. When a handful
        # all come out right, the fit sharpens as far as it may, and the model then says 1.0 on files
        # it gets wrong; so with few of them T only ever softens.
        lowest = TEMPERATURE_RANGE[0] if len(valid) >= MIN_TRACKS_TO_SHARPEN else 1.0
        temperature = float(np.clip(metrics.fit_temperature(logits, y_valid), lowest, TEMPERATURE_RANGE[1]))
        probs = metrics.track_probs(logits, temperature)
        predicted = probs.argmax(axis=1)
        accuracy = float((predicted == y_valid).mean())
        matrix = metrics.confusion_matrix(y_valid, predicted, len(genres))
        per_genre = [GenreScore(name, int(matrix[g, g]), int(matrix[g].sum())) for g, name in enumerate(names)]
        confusion = metrics.confusion_text(matrix, names)
        # Never above halfway from chance to certainty: a threshold fitted on a handful
        # of tracks would otherwise leave most new files untagged.
        min_confidence = min(metrics.choose_min_confidence(y_valid, probs), round((1 + 1 / len(genres)) / 2, 2))
    check_cancel()

    # The saved model learns from every file.
    head, full = train(np.arange(len(items)), "training")
    fold_temperature(head.dense, temperature)
    check_cancel()

    result = RetrainResult(
        path=target, genres=names, files_used=len(items), train_files=len(train_idx), valid_files=len(valid),
        accuracy=accuracy, per_genre=per_genre, confusion=confusion, temperature=temperature,
        min_confidence=min_confidence, skipped=labels.skipped,
        dropped={labels.spellings.get(g, g): n for g, n in labels.dropped.items()}, cached_files=cached,
        model=full)
    settings = ModelSettings(genres=tuple(genres), features=base.settings.features,
                             display_names=dict(zip(genres, names)), min_confidence=min_confidence,
                             temperature=temperature)
    probe = mels[0][:4] if mels else _probe_windows(base, items)
    result.seconds = time.perf_counter() - started
    save_model(full, settings, target, options, base, result, items, probe)
    result.seconds = time.perf_counter() - started
    return result


def window_logits(full, head: Head, embeddings, mels, indices, fine_tuned: bool) -> list[np.ndarray]:
    """Pre-softmax outputs of every window of the given tracks."""
    import keras

    if fine_tuned:
        logit_model = keras.Model(full.input, head.logits)  # the Dense output inside the full model
        return [np.asarray(logit_model(mels[i], training=False), dtype=np.float64) for i in indices]
    inputs = keras.Input((embeddings[0].shape[1],))
    x = inputs
    for layer in head.layers[:-1]:
        x = layer(x)
    logit_model = keras.Model(inputs, x)
    return [np.asarray(logit_model(embeddings[i], training=False), dtype=np.float64) for i in indices]


def _probe_windows(base: GenreModel, items) -> np.ndarray:
    """A few real input windows, to check the saved model predicts what the trained one does."""
    from tagger.features import file_windows

    settings = base.settings.features
    return file_windows(items[0].path, settings).mels[:4]


def save_model(full, settings: ModelSettings, target: Path, options: RetrainOptions, base: GenreModel,
               result: RetrainResult, items, probe: np.ndarray) -> None:
    """Write model.keras, settings.json, MODEL_CARD.md and training.json, then move the folder in place.

    The saved file is loaded back in safe mode and must predict what the
    trained model does before anything replaces an existing model.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        full.save(staging / MODEL_FILE)
        settings.save(staging)
        reloaded = load_keras_model(staging / MODEL_FILE)
        before = np.asarray(full(probe, training=False))
        after = np.asarray(reloaded(probe, training=False))
        if not np.allclose(before, after, atol=1e-5):
            raise RetrainError("the saved model does not predict what the trained one did; nothing was saved")
        created = datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")
        facts = {
            "kind": "retrained", "created": created, "base": base.name, "base_id": base.model_id,
            "source": options.source, "library": str(Path(options.library).expanduser().resolve()),
            "genres": result.genres, "files_used": result.files_used, "train_files": result.train_files,
            "valid_files": result.valid_files, "validation_accuracy": result.accuracy,
            "per_genre": {s.name: [s.right, s.total] for s in result.per_genre},
            "fine_tune": options.fine_tune, "epochs": options.epochs, "seconds": round(result.seconds, 1),
        }
        (staging / TRAINING_FILE).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
        write_card(staging / CARD_FILE, facts, result, items, settings)
        _export_runtime(staging, full)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{os.getpid()}"
            os.replace(target, old)
        os.replace(staging, target)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _export_runtime(model_dir: Path, keras_model) -> None:
    """Write the LiteRT copy the tagger starts fast with; without it the tagger uses the Keras file."""
    try:
        export_runtime(model_dir, keras_model)
    except Exception:  # noqa: BLE001 - the copy only speeds start-up; the Keras file is the model
        for stale in model_dir.glob("*.tflite"):
            stale.unlink(missing_ok=True)


def write_card(path: Path, facts: dict, result: RetrainResult, items, settings: ModelSettings) -> None:
    files = "\n".join(f"- `{label.path}`: {settings.display_names[label.genre]}" for label in items)
    accuracy = "unknown (no held-out tracks)" if result.accuracy is None else f"{result.accuracy:.0%}"
    text = f"""# {result.path.name}

Retrained from the user's own labels on {facts['created']}. Predicts one of
{len(result.genres)} genres: {", ".join(result.genres)}.

- Base model: `{facts['base']}` (fingerprint {facts['base_id']}), cut before its final Dense
  layer{"; its last block fine-tuned" if facts['fine_tune'] else " and frozen"}; new softmax head
  ({facts['epochs']} epochs, class-balanced).
- Labels: {"genre tags" if facts['source'] == "tags" else "review-window labels"} of files under
  `{facts['library']}`; {result.files_used} files used.
- Validation: {result.valid_files} held-out tracks (whole artists), track accuracy {accuracy}
  (window probabilities averaged per track, as the tagger does). The saved head was then
  trained again on all {result.files_used} files.
- Temperature {result.temperature:.3g} folded into the last Dense layer; default
  `min_confidence` {result.min_confidence:.2f}.

## Validation

```
{result.summary()}
```

## Files used

{files}
"""
    path.write_text(text, encoding="utf-8")


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
                        help="epochs of head training (default: %(default)s)")
    parser.add_argument("--fine-tune", action="store_true",
                        help=f"also train the base model's last block ({FINE_TUNE_EPOCHS} epochs, low learning rate)")
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
