"""Genre model on top of musicnn's MSD CNN: ``tagger-train fit DATA_DIR --base musicnn --checkpoint DIR``.

The ported musicnn (:mod:`tagger.training.musicnn_port`) stays frozen, so its
embeddings are computed once per window and a new softmax head is learned on
them (NumPy): that keeps cross-validation and the final fit within minutes on 2 cores.
Its front end is first pruned to ``--timbral-filters`` / ``--temporal-filters``
channels per branch and its timbral convolutions factorised to ``--timbral-rank``
basis filters (:mod:`tagger.training.musicnn_prune`, statistics from one window
of each ``train``-list track): a seventh of the multiply-adds, and under both
protocols below no less accurate than the whole network (within one track).
With ``--frequency-stride 2`` that front end is then evaluated at every other
Mel band and fine-tuned to reproduce its own full-resolution embedding
(:mod:`tagger.training.musicnn_stride`): 2.4x faster again, the head is trained
on the strided network's embeddings.

1. Every track is cut into the tagger's own 4 s windows (``track_windows``),
   and ``CROPS_PER_TRACK`` augmented random crops (gain, time shift, mixing
   with a track of the same genre *and the same fold*, so no audio crosses a
   fold boundary) are added for training.
2. Each window goes through musicnn once; the embedding is the frozen,
   batch-normalised max+mean pooled mid-end features joined with the
   200-unit penultimate layer. The head reads musicnn's MSD tag
   probabilities, its own tag layer applied to the penultimate part.
3. Held-out figures, two protocols:
   * artist-disjoint: the manifest's artist-filtered ``train`` and ``valid``
     lists, each in turn the training side, each scored by a head that never
     heard its artists (:func:`artist_disjoint_splits`; the 5 genres that are
     on both lists);
   * ``cv``: 5-fold cross-validation over all tracks, each fold a contiguous
     range of GTZAN ids within each genre and list (artist runs are
     consecutive ids, so only artists straddling a fold edge can leak).
   Also, for comparison only, a random window-level split (what a chunk-level
   protocol would claim), and the "embeddings + logistic regression" baseline
   under both protocols.
4. Temperature: per CV fold, fitted on the other folds' out-of-fold
   predictions, and per artist-disjoint direction on the other direction's
   (so no ECE reported is fitted on its own tracks); the shipped T is fitted
   on all artist-disjoint predictions, and ``min_confidence`` chosen on them.
5. The shipped head (NumPy, :func:`tagger.training.protocols.train_head`) is
   trained on all tracks; the model folder holds the network (up to its tag
   probabilities and penultimate layer) and the head, with T folded in.

How the recipe's numbers were chosen: docs/experiments/.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

from tagger.features import file_windows
from tagger.head import Head
from tagger.settings import FeatureSettings, ModelSettings
from tagger.training import card, coverage, metrics, musicnn_stride
from tagger.training.evaluate import windows_per_second
from tagger.training.dataset import (
    MANIFEST_FILE, DatasetError, LabelledTrack, genres_of, list_tracks, write_trained_on,
)
from tagger.training.fit import augmented_crop, mel_power
from tagger.training.keras_network import save_genre_model
from tagger.training.protocols import (
    EVAL_KINDS, TAG_FEATURE, Embedded, Evaluation, artist_disjoint_splits, contiguous_folds, cross_fitted_probs,
    cross_validate, cv_splits, logistic_baseline, random_window_accuracy, split_of, split_protocol, train_head,
    training_set,
)
from tagger.training.musicnn_port import FRONTEND_BRANCHES, FULL_FILTERS, load_musicnn
from tagger.training.musicnn_prune import multiply_adds, prune_musicnn

CROPS_PER_TRACK = 4
DATA_NOTE = f"""The head sees every 4 s window of every track plus {CROPS_PER_TRACK} augmented random crops
per track (time shift, random gain of +-6 dB, mixing with another track of the same genre and
fold). Classes are balanced by sample weights inversely proportional to each genre's number of
windows (classical is over-represented)."""
EMBED_BATCH = 64
EMBEDDING_LAYERS = ("pooled_bn", "penultimate")
# The head reads musicnn's own 50 MSD tag probabilities (its tag layer, as trained on the Million
# Song Dataset, applied to the penultimate layer), not the penultimate layer itself: on artists it
# never heard, that head was right on 7 more of 113 tracks (8 more than one on the whole embedding),
# though it was picked among 14 heads on those very tracks (docs/experiments/ has them all).
TAG_LAYER = "tag_logits"
# The embedding layer that TAG_LAYER reads in musicnn's graph.
TAG_INPUT = "penultimate"


# ---------------------------------------------------------------------------
# Embeddings
# ---------------------------------------------------------------------------

def embedding_model(base: keras.Model) -> keras.Model:
    """The frozen musicnn up to the joined embedding layers."""
    outputs = [base.get_layer(name).output for name in EMBEDDING_LAYERS]
    return keras.Model(base.input, layers.Concatenate(name="embedding")(outputs))


def embed(model: keras.Model, mels: np.ndarray) -> np.ndarray:
    """Embeddings of log-Mel windows (n, frames, n_mels) -> (n, dim), float32, in batches."""
    return np.concatenate([np.asarray(model(mels[i:i + EMBED_BATCH], training=False))
                           for i in range(0, len(mels), EMBED_BATCH)])


def track_inputs(tracks: Sequence[LabelledTrack], folds: np.ndarray, settings: FeatureSettings, seed: int,
                 crops_per_track: int = CROPS_PER_TRACK) -> list[tuple[np.ndarray, np.ndarray]]:
    """Each track's tagger windows and its augmented crops (partners from the same genre, list and fold).

    Returns
    -------
    list of (windows, crops)
        Per track, log-Mel arrays of shape (n_windows, frames, n_mels) and
        (crops_per_track, frames, n_mels), float32.
    """
    rng = np.random.default_rng(seed)
    powers = [mel_power(t, settings) for t in tracks]
    out = []
    for i, track in enumerate(tracks):
        mels = file_windows(track.path, settings).mels
        partners = [j for j, t in enumerate(tracks)
                    if t.genre == track.genre and t.split == track.split and folds[j] == folds[i]]
        augmented = np.stack([augmented_crop(powers[i], powers[rng.choice(partners)], settings.window_frames, rng)
                              for _ in range(crops_per_track)])
        out.append((mels, augmented))
    return out


def embed_inputs(model: keras.Model, inputs: Sequence[tuple[np.ndarray, np.ndarray]]) -> Embedded:
    """Embeddings of each track's windows and crops, as made by :func:`track_inputs`."""
    windows, crops = [], []
    for mels, augmented in inputs:
        both = embed(model, np.concatenate([mels, augmented]))
        windows.append(both[:len(mels)])
        crops.append(both[len(mels):])
    return Embedded(windows, crops)


def save_embeddings(path: Path, data: Embedded, tracks: Sequence[LabelledTrack], base: str = "") -> None:
    """Cache embeddings (np.savez) keyed by the track paths and a description of the ``base`` network."""
    np.savez(path, names=np.asarray([str(t.path) for t in tracks]), base=np.asarray(base),
             counts=np.asarray([len(w) for w in data.windows]),
             windows=np.concatenate(data.windows), crops=np.stack(data.crops))


def load_embeddings(path: Path, tracks: Sequence[LabelledTrack], base: str = "") -> Embedded | None:
    """Cached embeddings when ``path`` holds them for exactly these tracks and ``base``, else None."""
    if not Path(path).is_file():
        return None
    data = np.load(path)
    if data["names"].tolist() != [str(t.path) for t in tracks] or str(data.get("base", "")) != base:
        return None
    bounds = np.cumsum(data["counts"])[:-1]
    return Embedded(np.split(data["windows"], bounds), list(data["crops"]))


# ---------------------------------------------------------------------------
# Head
# ---------------------------------------------------------------------------

def tag_probabilities(base: keras.Model, data: Embedded) -> Embedded:
    """musicnn's MSD tag probabilities of each window and crop, from the penultimate columns of ``data``."""
    kernel, bias = base.get_layer(TAG_LAYER).get_weights()
    columns = head_columns(base)

    def probabilities(rows: np.ndarray) -> np.ndarray:
        return (1.0 / (1.0 + np.exp(-(rows[:, columns] @ kernel + bias)))).astype(np.float32)

    return Embedded([probabilities(w) for w in data.windows], [probabilities(c) for c in data.crops])


# ---------------------------------------------------------------------------
# The shipped model
# ---------------------------------------------------------------------------

def assemble(base: keras.Model, head: Head) -> keras.Model:
    """One model: musicnn up to its MSD tag probabilities, then the head's logits and softmax."""
    tags = layers.Activation("sigmoid", name=TAG_FEATURE)(base.get_layer(TAG_LAYER).output)
    logits_layer = layers.Dense(head.n_genres, name="logits")
    logits = logits_layer(tags)
    logits_layer.set_weights([head.weights, head.bias])
    outputs = layers.Activation("softmax", name="probabilities")(logits)
    return keras.Model(base.input, outputs, name="musicnn_genre")


def head_columns(base: keras.Model) -> slice:
    """Where :data:`TAG_INPUT`'s units (what the tag layer reads) sit in :func:`embedding_model`'s rows."""
    start = 0
    for name in EMBEDDING_LAYERS:
        width = base.get_layer(name).output.shape[-1]
        if name == TAG_INPUT:
            return slice(start, start + width)
        start += width
    raise ValueError(f"{TAG_INPUT} is not one of the embedding layers {EMBEDDING_LAYERS}")


def strided_base(base: keras.Model, filters: Sequence[int], rank: int | None, stride: int, time_stride: int,
                 inputs: Sequence[tuple[np.ndarray, np.ndarray]], full: Embedded,
                 seed: int, temporal_frequency_stride: int | None = None) -> tuple[keras.Model, Embedded, float]:
    """``base`` at front-end strides ``stride`` (Mel bands; ``temporal_frequency_stride`` for the temporal
    branches when given) and ``time_stride`` (frames), fine-tuned to give ``full``'s embeddings of ``inputs``.

    Returns the strided network, its own embeddings of ``inputs`` (what the
    head is trained on) and their mean correlation with ``full``'s.
    """
    student = musicnn_stride.strided_copy(base, stride, filters, rank, time_stride, temporal_frequency_stride)
    mels = np.concatenate([np.concatenate(pair) for pair in inputs])
    targets = full.rows()
    musicnn_stride.fine_tune_embedding(embedding_model(student), mels, targets, seed)
    data = embed_inputs(embedding_model(student), inputs)
    return student, data, musicnn_stride.embedding_agreement(data.rows(), targets)


def statistics_windows(tracks: Sequence[LabelledTrack], settings: FeatureSettings) -> np.ndarray:
    """The middle window of each ``train``-list track: what pruning measures channels on, shape (n, frames, n_mels)."""
    windows = []
    for track in tracks:
        if track.split == "train":
            mels = file_windows(track.path, settings).mels
            windows.append(mels[len(mels) // 2])
    return np.stack(windows)


def front_filters(args: argparse.Namespace) -> tuple[int, ...]:
    """Filters kept per front-end branch, from ``--timbral-filters`` and ``--temporal-filters``."""
    return tuple(args.timbral_filters if branch.kernel[1] > 1 else args.temporal_filters
                 for branch in FRONTEND_BRANCHES)


@dataclass
class Data:
    """The labelled tracks and how the protocols split them."""

    tracks: list[LabelledTrack]
    genres: list[str]
    labels: np.ndarray
    folds: np.ndarray
    evaluable: np.ndarray
    disjoint: list[tuple[np.ndarray, np.ndarray]]


def read_data(data_dir: Path) -> Data:
    """Tracks, labels, CV folds and the artist-disjoint splits of ``data_dir``."""
    tracks = list_tracks(data_dir)
    genres = list(genres_of(tracks))
    labels = np.asarray([genres.index(t.genre) for t in tracks])
    evaluable = np.asarray([t.kind in EVAL_KINDS for t in tracks])
    disjoint = artist_disjoint_splits(tracks, labels, evaluable)
    if not disjoint:
        raise DatasetError(f"{data_dir}: no artist-filtered valid list in its {MANIFEST_FILE} "
                           "(--base musicnn measures the model on artists it never heard)")
    return Data(tracks, genres, labels, contiguous_folds(tracks), evaluable, disjoint)


def build_network(args: argparse.Namespace, data: Data, settings: FeatureSettings,
                  started: float) -> tuple[keras.Model, Embedded]:
    """musicnn pruned, factorised and strided as ``args`` say, and its embeddings of every window and crop."""
    filters, rank = front_filters(args), args.timbral_rank or None
    base = load_musicnn(args.checkpoint, settings.window_frames, settings.n_mels)
    if filters != FULL_FILTERS or rank:
        base = prune_musicnn(base, filters, statistics_windows(data.tracks, settings), rank)
    base_key = f"musicnn front-end filters {filters}, timbral rank {rank}, seed {args.seed}"
    embedded = load_embeddings(args.cache, data.tracks, base_key) if args.cache else None
    inputs = None
    if embedded is None:
        inputs = track_inputs(data.tracks, data.folds, settings, args.seed)
        embedded = embed_inputs(embedding_model(base), inputs)
        if args.cache:
            save_embeddings(args.cache, embedded, data.tracks, base_key)
    print(f"embedded {len(data.tracks)} tracks in {(time.perf_counter() - started) / 60:.1f} min")
    temporal_frequency_stride = args.temporal_frequency_stride or args.frequency_stride
    if max(args.frequency_stride, args.time_stride, temporal_frequency_stride) > 1:
        inputs = inputs or track_inputs(data.tracks, data.folds, settings, args.seed)
        base, embedded, agreement = strided_base(base, filters, rank, args.frequency_stride, args.time_stride,
                                                 inputs, embedded, args.seed, temporal_frequency_stride)
        print(f"strides {args.frequency_stride} (Mel bands; temporal branches {temporal_frequency_stride}), "
              f"{args.time_stride} (frames): embedding correlation with full resolution {agreement:.3f} "
              f"after {(time.perf_counter() - started) / 60:.1f} min")
    return base, embedded


@dataclass
class Scores:
    """The recipe scored under both protocols, with the calibration the shipped model takes."""

    cv: Evaluation
    disjoint: Evaluation
    on_valid_list: np.ndarray
    temperature: float
    min_confidence: float
    report: str
    written: str


def score_recipe(data: Data, base: keras.Model, embedded: Embedded, head_data: Embedded, seed: int) -> Scores:
    """CV and artist-disjoint figures of the head recipe, the baselines, the temperature and threshold."""
    names = [t.path.name for t in data.tracks]
    oof = cross_validate(head_data, data.labels, data.folds, len(data.genres))
    cv_idx = np.nonzero(data.evaluable)[0]
    cv_eval = Evaluation(data.labels[cv_idx], cross_fitted_probs(oof, data.labels, data.folds)[cv_idx],
                         [names[i] for i in cv_idx])
    held, held_logits = split_protocol(head_data, data.labels, data.disjoint, len(data.genres))
    directions = split_of(held, data.disjoint)
    # Users' music is by artists the model never heard. CV folds can share an artist, which makes
    # their out-of-fold predictions more confident than new artists warrant; so the shipped temperature
    # and threshold come from the artist-disjoint predictions, and the figures reported for those use,
    # in each direction, the temperature fitted on the other.
    if len(data.disjoint) > 1:
        temperature = metrics.fit_temperature(held_logits, data.labels[held])
        held_probs = cross_fitted_probs(held_logits, data.labels[held], directions)
    else:
        temperature = metrics.fit_temperature([oof[i] for i in cv_idx], data.labels[cv_idx])
        held_probs = metrics.track_probs(held_logits, temperature)
    disjoint_eval = Evaluation(data.labels[held], held_probs, [names[i] for i in held])
    on_valid_list = np.asarray([data.tracks[i].split == "valid" for i in held])
    min_confidence = metrics.choose_min_confidence(disjoint_eval.labels, disjoint_eval.probs)
    report = comparison_text(cv_eval, disjoint_eval, on_valid_list, baselines(data, base, embedded, cv_idx, held),
                             random_window_accuracy(head_data, data.labels, data.evaluable, len(data.genres), seed))
    written = written_report(data.genres, (cv_eval, data.folds[cv_idx]), (disjoint_eval, directions),
                             min_confidence)
    return Scores(cv_eval, disjoint_eval, on_valid_list, temperature, min_confidence, report, written)


def written_report(genres: Sequence[str], cv: tuple[Evaluation, np.ndarray], disjoint: tuple[Evaluation, np.ndarray],
                   min_confidence: float) -> str:
    """What the tagger writes at its default threshold under both protocols, per genre.

    ``cv`` and ``disjoint`` pair each protocol's evaluation with the split
    that scored each of its tracks, so that a threshold can be chosen on the
    other splits only (a data set with one artist-disjoint direction has no
    other, so that figure is left out).
    """
    (cv_eval, cv_groups), (held_eval, held_groups) = cv, disjoint
    parts = [("artist-disjoint tracks at the shipped threshold (chosen on these very predictions, so flattering)",
              held_eval, min_confidence)]
    if len(np.unique(held_groups)) > 1:
        parts.append(("artist-disjoint tracks, each direction at the threshold chosen on the other",
                      held_eval, coverage.cross_fitted_thresholds(held_eval.labels, held_eval.probs, held_groups)))
    parts.append(("CV tracks, each fold at the threshold chosen on the other folds",
                  cv_eval, coverage.cross_fitted_thresholds(cv_eval.labels, cv_eval.probs, cv_groups)))
    body = "\n\n".join(f"{title}:\n{coverage.written_text(genres, e.labels, e.probs, threshold)}"
                        for title, e, threshold in parts)
    return ("A track gets its top genre written when that genre's probability reaches the threshold; "
            "a genre's coverage is the share of its tracks that get a genre written, and the "
            f"genre-balanced coverage is their mean over genres.\n\n```\n{body}\n```")


def baselines(data: Data, base: keras.Model, embedded: Embedded, cv_idx: np.ndarray,
              held: np.ndarray) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Logistic regression on two embedding parts, under the CV and the artist-disjoint split."""
    penultimate = head_columns(base)
    dim_pooled = base.get_layer("pooled_bn").output.shape[-1]
    parts = {f"penultimate ({penultimate.stop - penultimate.start})": penultimate,
             f"mean_pool ({dim_pooled // 2})": slice(dim_pooled // 2, dim_pooled)}
    cv = cv_splits(data.folds, data.evaluable)
    return {name: (logistic_baseline(embedded, data.labels, cv, part)[cv_idx],
                   logistic_baseline(embedded, data.labels, data.disjoint, part)[held])
            for name, part in parts.items()}


def card_facts(args: argparse.Namespace, data: Data, scores: Scores, model: keras.Model, settings: FeatureSettings,
               minutes: float) -> card.CardFacts:
    """What the card of the built model says, speed and the rebuild command included."""
    temporal_frequency_stride = args.temporal_frequency_stride or args.frequency_stride
    filters, rank = front_filters(args), args.timbral_rank or None
    speed = windows_per_second(lambda x: model(x, training=False), settings.window_frames, settings.n_mels)
    gmac = multiply_adds(settings.window_frames, settings.n_mels, filters, rank, args.frequency_stride,
                         args.time_stride, temporal_frequency_stride) / 1e9
    full = multiply_adds(settings.window_frames, settings.n_mels, FULL_FILTERS) / 1e9
    return card.CardFacts(
        data_note=DATA_NOTE, title="musicnn (MSD) transfer genre model", genres=data.genres, evaluation=scores.cv,
        temperature=scores.temperature, min_confidence=scores.min_confidence, n_train=len(data.tracks),
        minutes=minutes, n_params=model.count_params(),
        command=(f"{CHECKPOINT_STEPS}\nnice -n 10 tagger-train fit {args.data_dir} --base musicnn "
                 f"--checkpoint {args.checkpoint} --timbral-filters {args.timbral_filters} "
                 f"--temporal-filters {args.temporal_filters} --timbral-rank {args.timbral_rank} "
                 f"--frequency-stride {args.frequency_stride} --time-stride {args.time_stride} "
                 f"--temporal-frequency-stride {temporal_frequency_stride} "
                 f"--out {args.out} --seed {args.seed}"),
        architecture=(ARCHITECTURE.format(timbral=args.timbral_filters, temporal=args.temporal_filters,
                                          rank=args.timbral_rank)
                      + stride_text(args.frequency_stride, args.time_stride, temporal_frequency_stride)),
        protocol=CV_PROTOCOL,
        extra=(scores.report + SPEED_NOTE.format(speed=speed, track=14 / speed, gmac=gmac, full=full)
               + f"\n\n## What it writes at its default threshold\n\n{scores.written}"),
        more_results=[("Results on artists it never heard (artist-disjoint, both ways)", scores.disjoint)])


def run(args: argparse.Namespace) -> int:
    """Score the recipe under both protocols, train the shipped head on all tracks, save the model folder."""
    started = time.perf_counter()
    settings = FeatureSettings()
    data = read_data(args.data_dir)
    base, embedded = build_network(args, data, settings, started)
    head_data = tag_probabilities(base, embedded)
    scores = score_recipe(data, base, embedded, head_data, args.seed)
    head = train_head(*training_set(head_data, data.labels, np.arange(len(data.tracks))), len(data.genres))
    model = assemble(base, head)
    minutes = (time.perf_counter() - started) / 60
    facts = card_facts(args, data, scores, model, settings, minutes)
    model_settings = ModelSettings(genres=tuple(data.genres), features=settings,
                                   min_confidence=scores.min_confidence, temperature=scores.temperature)
    probe = file_windows(data.tracks[0].path, settings).mels[:4]
    save_genre_model(args.out, model, model_settings, card.training_facts("transfer", facts), card.card_text(facts),
                     probe)
    write_trained_on(args.out, data.tracks)
    print(card.summary_text(data.genres, scores.cv))
    print("artist-disjoint, both ways:")
    print(card.summary_text(data.genres, scores.disjoint))
    print(scores.report)
    print(scores.written)
    print(f"saved {args.out} ({minutes:.1f} min)")
    return 0


TABLE_HEADER = ("| protocol / model | tracks | accuracy (95% Wilson) | genre-balanced (95% bootstrap) | top-3 balanced |",
                "|---|---|---|---|---|")


def table_row(name: str, labels: np.ndarray, probs: np.ndarray) -> str:
    """One row of the protocols table: track accuracy, genre-balanced accuracy with intervals, top-3."""
    hits = metrics.top_k_hits(labels, probs)
    low, high = metrics.wilson_interval(int(hits.sum()), len(hits))
    blow, bhigh = metrics.bootstrap_interval(labels, probs)
    return (f"| {name} | {len(labels)} | {hits.mean():.1%} ({low:.1%}-{high:.1%}) | "
            f"{metrics.balanced_accuracy(labels, probs):.1%} ({blow:.1%}-{bhigh:.1%}) | "
            f"{metrics.balanced_accuracy(labels, probs, 3):.1%} |")


def comparison_text(cv_eval: Evaluation, disjoint_eval: Evaluation, on_valid_list: np.ndarray,
                    baselines: dict[str, tuple[np.ndarray, np.ndarray]], chunk_accuracy: float) -> str:
    """Protocols and baselines side by side, as plain text.

    ``baselines`` maps an embedding part to its logistic-regression track
    probabilities under the CV and under the artist-disjoint split (rows as in
    ``cv_eval`` and ``disjoint_eval``); ``on_valid_list`` marks the rows of
    ``disjoint_eval`` that are valid-list tracks.
    """
    lines = list(TABLE_HEADER)
    n_genres = len(np.unique(disjoint_eval.labels))
    cv_labels, held_labels = cv_eval.labels, disjoint_eval.labels

    def row(name: str, labels: np.ndarray, probs: np.ndarray) -> None:
        lines.append(table_row(name, labels, probs))

    row("contiguous-id 5-fold CV, musicnn + dense head", cv_labels, cv_eval.probs)
    for name, (cv_probs, _) in baselines.items():
        row(f"contiguous-id 5-fold CV, logistic regression on {name}", cv_labels, cv_probs)
    row(f"**artist-disjoint, both ways ({n_genres} genres), musicnn + dense head**", held_labels, disjoint_eval.probs)
    row("- of which valid-list tracks (head trained on the train list)", held_labels[on_valid_list],
        disjoint_eval.probs[on_valid_list])
    row("- of which train-list tracks (head trained on the valid list)", held_labels[~on_valid_list],
        disjoint_eval.probs[~on_valid_list])
    for name, (_, held_probs) in baselines.items():
        row(f"artist-disjoint, both ways, logistic regression on {name}", held_labels, held_probs)
    lines.append(f"| random window-level 5-fold split (chunks, not tracks) | windows | {chunk_accuracy:.1%} | - | - |")
    return "\n".join(lines)


ARCHITECTURE = """\
musicnn (Pons & Serra 2019) trained on the Million Song Dataset's 50 top tags, ported to
Keras 3 built-in layers by `tagger.training.musicnn_port`: input batch norm,
timbral (7x38, 7x67) and temporal (128x1, 64x1, 32x1) convolutions each max-pooled over
frequency, three residual 1-D convolutions (64 filters), max and mean pooling over time.
Its front end is pruned from 204 to {timbral} filters per timbral branch and from 51 to
{temporal} per temporal branch (`tagger.training.musicnn_prune`: the channels that move the
layers above them most are kept, each dropped one is replaced by its mean activation folded
into the biases; the kept weights are musicnn's own), and each timbral convolution is
factorised into {rank} basis filters and a 1x1 convolution (0: not factorised) along the
principal directions of its outputs on the training windows. A new head reads musicnn's own
50 MSD tag probabilities (its tag layer on the 200-unit penultimate layer, kept as trained:
rock, pop, jazz, blues, country, metal, Hip-Hop, dance, ...): softmax layer with L2 1e-3 and
the stand-in for dropout 0.5 on its inputs (`tagger.training.heads`), run in NumPy after the
network. Weights of the musicnn part: ISC licence, Music Technology Group,
Universitat Pompeu Fabra (https://github.com/jordipons/musicnn)."""

def stride_text(stride: int, time_stride: int = 1, temporal_frequency_stride: int | None = None) -> str:
    """What the card says of ``--frequency-stride``, ``--time-stride`` and ``--temporal-frequency-stride``."""
    temporal_frequency_stride = temporal_frequency_stride or stride
    if stride == 1 and time_stride == 1 and temporal_frequency_stride == 1:
        return "\n\nThe musicnn part stays frozen: only the head is trained."

    def every(n: int, unit: str) -> str:
        return f"every {n}{ {2: 'nd', 3: 'rd'}.get(n, 'th') } {unit}"

    if temporal_frequency_stride == stride:
        bands = every(stride, "Mel band") if stride > 1 else ""
    elif stride == 1:
        bands = f"{every(temporal_frequency_stride, 'Mel band')} in the temporal branches"
    else:
        bands = f"{every(stride, 'Mel band')} ({every(temporal_frequency_stride, 'one')} in the temporal branches)"
    where = " and ".join(part for part in (bands, every(time_stride, "frame") if time_stride > 1 else "") if part)
    return (f"\n\nThe front-end convolutions are then evaluated at {where} "
            f"only (`tagger.training.musicnn_stride`), and the musicnn part fine-tuned "
            f"({musicnn_stride.EPOCHS} epochs, batch norms frozen, no labels) to reproduce its own "
            "full-resolution embedding on the windows and crops of all tracks; the head is trained on the "
            "strided network's embeddings.")


CV_PROTOCOL = """\
Main figure: 5-fold cross-validation over all tracks of the data set. Within each genre and
each list of the artist-filtered split (Kereliuk, Sturm & Larsen 2015), tracks sorted by
GTZAN id are cut into 5 contiguous runs, one per fold; training crops are only mixed with
tracks of their own fold. GTZAN clips of one artist are mostly consecutive ids, so a fold
holds whole artist runs except where a run straddles a fold edge: this protocol does NOT
guarantee artist-disjointness. The artist-disjoint figure beside it does: the artist-filtered
train and valid lists each train a head that scores the other list's tracks, so each track is
scored by a head that never heard its artist; it covers the 5 genres on both lists (blues,
classical, country, disco, metal), with little training data on either side. Scored tracks are 30 s clips and 15 s classical cuts, each
scored as the tagger scores it (4 s windows every 2 s, probabilities averaged); the 2-3 s
excerpts are trained on but not scored. No calibration figure is fitted on its own tracks:
each CV fold's temperature is fitted on the other folds' out-of-fold predictions, and each
artist-disjoint direction's on the other direction's predictions. The shipped temperature
and `min_confidence` come from the artist-disjoint predictions (the temperature fitted on
both directions together, the threshold chosen on the figures below): a user's music is by
artists the model never heard, and on those the CV's temperature left the shown confidence
too high. musicnn itself was trained on MSD, which may hold some GTZAN songs or artists."""

CHECKPOINT_STEPS = """\
pip download musicnn==0.1.0 --no-deps -d /tmp/musicnn
(cd /tmp/musicnn && unzip -q musicnn-0.1.0-py3-none-any.whl)"""

SPEED_NOTE = """

Inference: {gmac:.2f} GMAC per 4 s window ({full:.2f} for the whole musicnn); {speed:.0f}
windows/s through the Keras model (batch 128, 2 CPU cores, `model(x, training=False)`),
{track:.2f} s per 30 s track (14 windows). The tagger runs the LiteRT copy (about as fast,
without TensorFlow's start-up; whole-command figures in benchmarks/RESULTS.md)."""
