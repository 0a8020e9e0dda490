"""Distil a genre model into a small fast CNN: ``tagger-train distil DATA_DIR --teacher default --out DIR``.

The shipped default model (pruned, strided musicnn + dense head) is accurate but
costs ~0.14 GMAC per 4 s window; the student is the small CNN of ``tagger-train
fit`` (~0.1 GMAC), trained to copy the teacher's window probabilities.

1. Split the tracks as ``fit`` does (the manifest's artist-filtered ``valid``
   list is held out). Every training track is cut into the tagger's 4 s
   windows plus ``--crops`` augmented random crops (time shift, gain,
   same-genre mixing: :func:`transfer.track_inputs`).
2. Teacher features: the input of the teacher's ``logits`` Dense layer, for
   every window and crop, computed once (the expensive step; ``--cache``).
3. Teacher head: a fresh head trained on the *training* tracks' features only
   (the recipe of :mod:`transfer`), so no held-out track reaches the student
   through the teacher. The teacher's own base stays as it was.
4. Soft targets: softmax(teacher logits / ``DISTIL_TEMPERATURE``). Student
   loss: T^2 * KL(teacher || student at T) + ``HARD_WEIGHT`` * cross-entropy
   to the genre label, genre-balanced weights.
5. Held-out tracks are scored as the tagger scores them; temperature and
   ``min_confidence`` are fitted on them (as ``fit`` does), the temperature
   is folded into the saved head; save network, LiteRT copy, head, settings, card.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import keras
import numpy as np
from keras import ops

from tagger.features import file_windows
from tagger.model import GenreModel
from tagger.settings import ModelSettings
from tagger.training import card, metrics, transfer
from tagger.training.dataset import DatasetError, LabelledTrack, genres_of, list_tracks, write_trained_on
from tagger.training.evaluate import windows_per_second
from tagger.training.fit import architecture_text, build_cnn
from tagger.training.keras_network import save_genre_model
from tagger.training.protocols import Embedded, Evaluation, held_out_split, train_head, training_set

STUDENT_FILTERS = (16, 32, 64, 128)  # widest first block that still runs > 400 windows/s with LiteRT on 2 threads
DISTIL_TEMPERATURE = 2.0  # softens the teacher so the student also learns its ranking of the wrong genres
HARD_WEIGHT = 0.1
BATCH_SIZE = 64
LEARNING_RATE = 2e-3


# ---------------------------------------------------------------------------
# Teacher
# ---------------------------------------------------------------------------

def feature_model(teacher: GenreModel) -> Callable[..., np.ndarray]:
    """The feature the teacher's head reads (musicnn: its MSD tag probabilities), from its LiteRT network."""
    columns = teacher.layout[teacher.head.feature]
    return lambda windows, training=False: teacher.features(windows)[:, columns]


def teacher_features(teacher: GenreModel, windows: Sequence[np.ndarray], crops: Sequence[np.ndarray],
                     cache: Path | None, tracks: Sequence[LabelledTrack], key: str) -> Embedded:
    """Teacher features of each track's windows and crops, from ``cache`` when it holds these tracks and ``key``.

    ``key`` names what made the crops and features (teacher, seed, crops per track).
    """
    data = transfer.load_embeddings(cache, tracks, key) if cache else None
    if data is not None:
        return data
    data = transfer.embed_inputs(feature_model(teacher), list(zip(windows, crops)))
    if cache:
        transfer.save_embeddings(cache, data, tracks, key)
    return data


def soft_targets(logits: np.ndarray, temperature: float = DISTIL_TEMPERATURE) -> np.ndarray:
    """Teacher probabilities at ``temperature``, shape (n, n_genres), float32."""
    return metrics.softmax(logits / temperature).astype(np.float32)


# ---------------------------------------------------------------------------
# Student
# ---------------------------------------------------------------------------

def distillation_loss(n_genres: int, temperature: float = DISTIL_TEMPERATURE, hard_weight: float = HARD_WEIGHT):
    """Keras loss over student logits; ``y_true`` is [soft targets at T, one-hot label], shape (n, 2 * n_genres).

    The KL term is scaled by T^2 so its gradients keep the size of the hard
    term's whatever T (Hinton et al. 2015).
    """
    def loss(y_true, logits):
        soft, hard = y_true[:, :n_genres], y_true[:, n_genres:]
        log_student = ops.log_softmax(logits / temperature, axis=-1)
        kl = ops.sum(soft * (ops.log(soft + 1e-8) - log_student), axis=-1)
        ce = -ops.sum(hard * ops.log_softmax(logits, axis=-1), axis=-1)
        return temperature ** 2 * kl + hard_weight * ce

    return loss


def train_student(x: np.ndarray, soft: np.ndarray, labels: np.ndarray, weights: np.ndarray, n_genres: int,
                  settings, epochs: int, seed: int) -> keras.Model:
    """Fit the small CNN of ``fit`` to the teacher's soft targets.

    Parameters
    ----------
    x : np.ndarray, shape (n, frames, n_mels)
        Log-Mel windows and crops.
    soft : np.ndarray, shape (n, n_genres)
        Teacher probabilities at ``DISTIL_TEMPERATURE``.
    labels, weights : np.ndarray, shape (n,)
        Genre index and genre-balancing sample weight of each row.
    """
    keras.utils.set_random_seed(seed)
    student = build_cnn(n_genres, settings, STUDENT_FILTERS)
    trainer = keras.Model(student.input, student.get_layer("logits").output)
    steps = epochs * int(np.ceil(len(x) / BATCH_SIZE))
    trainer.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)),
                    loss=distillation_loss(n_genres))
    targets = np.concatenate([soft, np.eye(n_genres, dtype=np.float32)[labels]], axis=1)
    trainer.fit(x, targets, sample_weight=weights, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=2)
    return student


def student_logits(student: keras.Model, windows: Sequence[np.ndarray]) -> list[np.ndarray]:
    """Pre-softmax outputs of the student for each track's windows."""
    logit_model = keras.Model(student.input, student.get_layer("logits").output)
    return [np.asarray(logit_model(w, training=False), dtype=np.float64) for w in windows]


def litert_windows_per_second(model_dir: Path) -> float:
    """Windows/s of the saved model through its LiteRT copy on 2 threads (batch 128), as the tagger runs it."""
    lite = GenreModel.load(str(model_dir), threads=2)
    settings = lite.settings.features
    return windows_per_second(lite.predict, settings.window_frames, settings.n_mels, repeats=5)


def run(args: argparse.Namespace) -> int:
    """Distil, score the student and the teacher on held-out tracks, save the student and its card."""
    started = time.perf_counter()
    teacher_model = GenreModel.load(args.teacher)
    settings = teacher_model.settings.features
    genres = list(teacher_model.settings.genres)
    tracks = list_tracks(args.data_dir)
    if list(genres_of(tracks)) != genres:
        raise DatasetError(f"the data's genres {list(genres_of(tracks))} are not the teacher's {genres}")
    train, held = held_out_split(tracks)
    labels = np.asarray([genres.index(t.genre) for t in train])
    held_labels = np.asarray([genres.index(t.genre) for t in held])
    print(f"{len(train)} training tracks, {len(held)} held-out tracks, {len(genres)} genres")

    inputs = transfer.track_inputs(train, np.zeros(len(train), dtype=np.int64), settings, args.seed, args.crops)
    windows, crops = [w for w, _ in inputs], [c for _, c in inputs]
    held_windows = [file_windows(t.path, settings).mels for t in held]
    key = f"teacher {teacher_model.model_id}, seed {args.seed}, {args.crops} crops per track"
    features = teacher_features(teacher_model, windows, crops, args.cache, train, key)
    held_features = transfer.embed(feature_model(teacher_model), np.concatenate(held_windows))
    print(f"teacher features of {sum(map(len, windows)) + sum(map(len, crops))} windows and crops "
          f"in {(time.perf_counter() - started) / 60:.1f} min")

    everything = np.arange(len(train))
    feature_x, feature_y, weights = training_set(features, labels, everything)
    head = train_head(feature_x, feature_y, weights, len(genres))
    soft = soft_targets(head.logits(feature_x))
    mels_x, _, _ = training_set(Embedded(windows, crops), labels, everything)
    student = train_student(mels_x, soft, feature_y, weights, len(genres), settings, args.epochs, args.seed)

    bounds = np.cumsum([len(w) for w in held_windows])[:-1]
    teacher_logits = [head.logits(w) for w in np.split(held_features, bounds)]
    logits = student_logits(student, held_windows)
    temperature = metrics.fit_temperature(logits, held_labels)
    probs = metrics.track_probs(logits, temperature)
    min_confidence = metrics.choose_min_confidence(held_labels, probs)
    names = [t.path.name for t in held]
    evaluation = Evaluation(held_labels, probs, names)
    teacher_eval = Evaluation(held_labels, metrics.track_probs(
        teacher_logits, metrics.fit_temperature(teacher_logits, held_labels)), names)

    model_settings = ModelSettings(genres=tuple(genres), features=settings, min_confidence=min_confidence,
                                   temperature=temperature)
    minutes = (time.perf_counter() - started) / 60
    facts = card_facts(args, student, model_settings, evaluation, teacher_eval, len(train), len(mels_x), minutes)
    save_genre_model(args.out, student, model_settings, card.training_facts("distil", facts), card.card_text(facts),
                     held_windows[0][:4])
    write_trained_on(args.out, train)
    print(f"inference: {litert_windows_per_second(args.out):.0f} windows/s through the LiteRT copy "
          "(batch 128, 2 threads)")
    print(card.summary_text(genres, evaluation))
    print("teacher on the same tracks:\n" + card.summary_text(genres, teacher_eval))
    print(facts.extra)
    print(f"saved {args.out} ({minutes:.1f} min)")
    return 0


def card_facts(args: argparse.Namespace, student: keras.Model, settings: ModelSettings, evaluation: Evaluation,
               teacher_eval: Evaluation, n_train: int, n_windows: int, minutes: float) -> card.CardFacts:
    """The student's card: its held-out figures beside the teacher's, and how it was distilled."""
    report = "\n".join([*transfer.TABLE_HEADER,
                        transfer.table_row("held-out tracks, student (this model)", evaluation.labels,
                                           evaluation.probs),
                        transfer.table_row(f"held-out tracks, teacher ({args.teacher} base, head on training tracks)",
                                           teacher_eval.labels, teacher_eval.probs)])
    return card.CardFacts(
        title=f"Fast genre model (small CNN distilled from {args.teacher})", genres=list(settings.genres),
        evaluation=evaluation, temperature=settings.temperature, min_confidence=settings.min_confidence,
        n_train=n_train, minutes=minutes,
        n_params=student.count_params(), architecture=architecture_text(student),
        command=(f"nice -n 10 tagger-train distil {args.data_dir} --teacher {args.teacher} --out {args.out} "
                 f"--crops {args.crops} --epochs {args.epochs} --seed {args.seed}"),
        extra=report + DISTIL_NOTE.format(teacher=args.teacher, n=n_windows, crops=args.crops,
                                          t=DISTIL_TEMPERATURE, hard=HARD_WEIGHT, epochs=args.epochs))


DISTIL_NOTE = """

Distillation: teacher = the `{teacher}` model's layers up to its last Dense layer (for the
shipped default: the frozen MSD musicnn), with a fresh head trained (recipe of
`tagger.training.transfer`) on the training tracks only, so no held-out track reaches the
student through the teacher. The student was trained for {epochs} epochs on {n} log-Mel
windows and crops of the training tracks (their tagger windows plus {crops} augmented crops
each) with loss T^2 KL(teacher || student) at T = {t:g} plus {hard:g} x cross-entropy to the
genre label. The teacher row's temperature is fitted on the held-out tracks like the
student's."""
