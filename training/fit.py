"""Train a small chunk-level CNN genre model: ``tagger-train fit DATA_DIR --out DIR``.

Reads top to bottom like a Keras example:

1. list the labelled tracks and split them into train / held-out tracks
   (the manifest's artist-filtered split, else whole id-groups per genre);
2. turn every training track into a Mel power spectrogram once;
3. draw random 4 s crops each epoch, genre-balanced, with random gain and
   same-genre mixing applied in the Mel power domain;
4. train a conv / batchnorm / max-pool CNN on the crops;
5. score held-out tracks window by window with the tagger's own
   ``file_windows`` and average per track;
6. fit a softmax temperature on the held-out tracks (folded into the saved
   head), choose the default ``min_confidence``;
7. save the model folder (network, LiteRT copy, head, settings, card).
"""

from __future__ import annotations

import argparse
import os
import time
from collections.abc import Sequence

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from tagger.decode import decode_track  # noqa: E402
from tagger.features import file_windows, log_mel  # noqa: E402
from tagger.settings import FeatureSettings, ModelSettings  # noqa: E402
from tagger.training import card, metrics  # noqa: E402
from tagger.training.recipe import STEPS_PER_EPOCH  # noqa: E402
from tagger.training.keras_network import save_genre_model  # noqa: E402
from tagger.training.dataset import LabelledTrack, genres_of, list_tracks, write_trained_on  # noqa: E402
from tagger.training.protocols import Evaluation, held_out_split  # noqa: E402

BATCH_SIZE = 32
LEARNING_RATE = 1e-3
GAIN_DB = 6.0           # random gain range, +- dB
MIX_PROBABILITY = 0.5   # share of crops mixed with a second clip of the same genre
LOG_SCALE = 10000.0     # log_mel computes log10(1 + LOG_SCALE * mel power)


# ---------------------------------------------------------------------------
# Data: Mel power spectrograms of the training tracks, and a crop sampler
# ---------------------------------------------------------------------------

def mel_power(track: LabelledTrack, settings: FeatureSettings) -> np.ndarray:
    """Mel power spectrogram of a whole track, shape (frames, n_mels), float32.

    Kept in the power domain so that gain and mixing are a multiply and an
    add; crops are log-compressed exactly as ``log_mel`` does afterwards.
    Long tracks decode as separate windows: their frames are concatenated.
    """
    decoded = decode_track(track.path, settings)
    spec = np.concatenate([log_mel(s.audio, settings) for s in decoded.segments])
    return ((10.0 ** spec - 1.0) / LOG_SCALE).astype(np.float32)


def crop(power: np.ndarray, offset: int, frames: int) -> np.ndarray:
    """``frames`` consecutive frames from ``offset``, wrapping round short clips (as the tagger tiles them)."""
    return power[(offset + np.arange(frames)) % len(power)]


def random_crop(power: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """A crop at a random offset: the time-shift augmentation."""
    span = len(power) - frames if len(power) >= frames else len(power) - 1
    return crop(power, int(rng.integers(span + 1)), frames)


def augmented_crop(power: np.ndarray, partner: np.ndarray, frames: int, rng: np.random.Generator) -> np.ndarray:
    """Log-Mel crop of ``power`` with random offset and gain, mixed with ``partner`` at random.

    Parameters
    ----------
    power, partner : np.ndarray, shape (frames_in_track, n_mels)
        Mel power of the track and of another track of the same genre.
    frames : int
        Crop length, in spectrogram frames.
    rng : np.random.Generator

    Returns
    -------
    np.ndarray, shape (frames, n_mels)
        ``log10(1 + 10000 * power)`` of the augmented crop, float32.
    """
    window = random_crop(power, frames, rng) * 10 ** (rng.uniform(-GAIN_DB, GAIN_DB) / 10)
    if rng.random() < MIX_PROBABILITY:
        weight = rng.uniform(0.2, 0.5)
        window = (1 - weight) * window + weight * random_crop(partner, frames, rng)
    return np.log10(1.0 + LOG_SCALE * window, dtype=np.float32)


class CropSampler(keras.utils.PyDataset):
    """Endless genre-balanced batches of augmented log-Mel crops.

    Each crop: a uniformly drawn genre, a uniformly drawn track of it, a
    random offset (time shift), a random gain, and with ``MIX_PROBABILITY``
    a second track of the same genre added at a random level.
    """

    def __init__(self, powers: Sequence[np.ndarray], labels: np.ndarray, frames: int, seed: int,
                 steps: int = STEPS_PER_EPOCH, batch_size: int = BATCH_SIZE):
        super().__init__()
        self.powers, self.labels, self.frames = powers, np.asarray(labels), frames
        self.by_genre = [np.nonzero(self.labels == g)[0] for g in range(self.labels.max() + 1)]
        self.by_genre = [idx for idx in self.by_genre if len(idx)]
        self.steps, self.batch_size, self.seed = steps, batch_size, seed
        self.epoch = 0

    def __len__(self) -> int:
        return self.steps

    def on_epoch_end(self) -> None:
        self.epoch += 1

    def _one(self, rng: np.random.Generator) -> tuple[np.ndarray, int]:
        members = self.by_genre[rng.integers(len(self.by_genre))]
        first, partner = self.powers[rng.choice(members)], self.powers[rng.choice(members)]
        return augmented_crop(first, partner, self.frames, rng), int(self.labels[members[0]])

    def __getitem__(self, index: int) -> tuple[np.ndarray, np.ndarray]:
        # Seeded by (seed, epoch, batch): the same run gives the same crops.
        rng = np.random.default_rng([self.seed, self.epoch, index])
        xs, ys = zip(*(self._one(rng) for _ in range(self.batch_size)))
        return np.stack(xs), np.asarray(ys)


# ---------------------------------------------------------------------------
# Model: a small CNN over (time, frequency), softmax over genres
# ---------------------------------------------------------------------------

def build_cnn(n_genres: int, settings: FeatureSettings, filters: Sequence[int] = (16, 32, 64, 96)) -> keras.Model:
    """Chunk-level CNN: input (frames, n_mels) log-Mel, output genre probabilities.

    The input BatchNormalization learns the feature scaling (as musicnn
    does), so the model takes the tagger's raw ``log_mel`` values. The last
    Dense layer (``logits``) becomes the saved NumPy head.
    """
    inputs = keras.Input((settings.window_frames, settings.n_mels))
    x = layers.Reshape((settings.window_frames, settings.n_mels, 1))(inputs)
    x = layers.BatchNormalization(name="input_norm")(x)
    for n in filters:
        x = layers.Conv2D(n, 3, padding="same", use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        x = layers.Activation("relu")(x)
        x = layers.MaxPooling2D(2)(x)
    x = layers.Concatenate()([layers.GlobalMaxPooling2D()(x), layers.GlobalAveragePooling2D()(x)])
    x = layers.Dropout(0.3)(x)
    logits = layers.Dense(n_genres, name="logits")(x)
    outputs = layers.Activation("softmax", name="probabilities")(logits)
    return keras.Model(inputs, outputs, name="genre_cnn")


def train_cnn(tracks: Sequence[LabelledTrack], genres: Sequence[str], settings: FeatureSettings,
              epochs: int, seed: int, verbose: int = 2) -> keras.Model:
    """Train :func:`build_cnn` on random crops of ``tracks``; returns the trained model."""
    keras.utils.set_random_seed(seed)
    powers = [mel_power(t, settings) for t in tracks]
    labels = np.asarray([genres.index(t.genre) for t in tracks])
    model = build_cnn(len(genres), settings)
    schedule = keras.optimizers.schedules.CosineDecay(LEARNING_RATE, max(1, epochs * STEPS_PER_EPOCH))
    model.compile(optimizer=keras.optimizers.Adam(schedule),
                  loss=keras.losses.SparseCategoricalCrossentropy(), metrics=["accuracy"])
    model.fit(CropSampler(powers, labels, settings.window_frames, seed), epochs=epochs, verbose=verbose)
    return model


# ---------------------------------------------------------------------------
# Track-level evaluation, temperature, confidence threshold
# ---------------------------------------------------------------------------

def window_logits(model: keras.Model, tracks: Sequence[LabelledTrack], settings: FeatureSettings,
                  layer: str = "logits") -> list[np.ndarray]:
    """Pre-softmax outputs of every analysis window of each track, as the tagger cuts them."""
    logit_model = keras.Model(model.input, model.get_layer(layer).output)
    out = []
    for track in tracks:
        mels = file_windows(track.path, settings).mels
        out.append(np.asarray(logit_model(mels, training=False), dtype=np.float64))
    return out


def run(args: argparse.Namespace) -> int:
    """Train the small CNN (``tagger-train fit`` without ``--base musicnn``), score it, save it with its card."""
    started = time.perf_counter()
    settings = FeatureSettings()
    tracks = list_tracks(args.data_dir)
    genres = list(genres_of(tracks))
    train, held = held_out_split(tracks)
    print(f"{len(train)} training tracks, {len(held)} held-out tracks, {len(genres)} genres")

    model = train_cnn(train, genres, settings, args.epochs, args.seed)

    logits = window_logits(model, held, settings)
    labels = np.asarray([genres.index(t.genre) for t in held])
    temperature = metrics.fit_temperature(logits, labels)
    probs = metrics.track_probs(logits, temperature)
    min_confidence = metrics.choose_min_confidence(labels, probs)

    model_settings = ModelSettings(genres=tuple(genres), features=settings,
                                   min_confidence=min_confidence, temperature=temperature)
    evaluation = Evaluation(labels, probs, [t.path.name for t in held])
    minutes = (time.perf_counter() - started) / 60
    facts = card.CardFacts(
        title="Small CNN genre model", genres=genres, evaluation=evaluation, temperature=temperature,
        min_confidence=min_confidence, n_train=len(train), minutes=minutes,
        n_params=model.count_params(), command=f"nice -n 10 tagger-train fit {args.data_dir} --out {args.out} "
                                              f"--epochs {args.epochs} --seed {args.seed}",
        architecture=architecture_text(model))
    probe = file_windows(held[0].path, settings).mels[:4]
    save_genre_model(args.out, model, model_settings, card.training_facts("fit", facts), card.card_text(facts), probe)
    write_trained_on(args.out, train)
    print(card.summary_text(genres, evaluation))
    print(f"saved {args.out} ({minutes:.1f} min)")
    return 0


def architecture_text(model: keras.Model) -> str:
    """One line per layer kind with its count, for the model card."""
    convs = [layer.filters for layer in model.layers if isinstance(layer, layers.Conv2D)]
    return (f"input BatchNormalization; {len(convs)} blocks of 3x3 Conv2D ({', '.join(map(str, convs))} filters) + "
            f"BatchNormalization + ReLU + 2x2 MaxPooling; global max and mean pooling; dropout 0.3; "
            f"Dense softmax ({model.count_params():,} parameters)")
