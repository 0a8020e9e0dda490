"""musicnn's front end at every other Mel band and frame, fine-tuned to give the same embedding.

The front-end convolutions are most of musicnn's cost, and each is followed by
a maximum over frequency: evaluating them at every ``stride``-th band only
divides their cost by ``stride``, and the maximum over the remaining positions
is close to the maximum over all. Evaluating them at every other 16 ms frame
halves them again, and the mid-end with them (it runs on the front end's
frames); its 7-frame convolutions then span twice the time. What is lost is
won back by fine-tuning the strided copy (initialised with the full-resolution
weights, which keep their shapes) to reproduce the full-resolution network's
embedding on the training windows and crops: a regression on features, so it
needs no labels and no more data than the head does.
"""

from __future__ import annotations

from collections.abc import Sequence

import keras
import numpy as np

from tagger.training.musicnn_port import build_musicnn

EPOCHS = 20
BATCH_SIZE = 32
LEARNING_RATE = 3e-4


def strided_copy(base: keras.Model, stride: int, filters: Sequence[int], timbral_rank: int | None,
                 time_stride: int = 1, temporal_frequency_stride: int | None = None) -> keras.Model:
    """``base`` (same filters and rank) rebuilt with front-end strides ``stride`` (Mel bands; the
    temporal branches' ``temporal_frequency_stride`` when given) and ``time_stride`` (frames), weights copied."""
    frames, n_mels = base.input.shape[1:]
    student = build_musicnn(frames, n_mels, base.output.shape[-1], filters, timbral_rank, stride, time_stride,
                            temporal_frequency_stride)
    for layer in student.layers:
        if layer.weights:
            layer.set_weights(base.get_layer(layer.name).get_weights())
    return student


def fine_tune_embedding(student_embedding: keras.Model, mels: np.ndarray, targets: np.ndarray, seed: int,
                        epochs: int = EPOCHS) -> None:
    """Train ``student_embedding`` (in place) to output ``targets`` for ``mels``.

    Parameters
    ----------
    student_embedding : keras.Model
        Maps (frames, n_mels) log-Mel windows to embeddings; its batch
        normalisation layers stay in inference mode (their statistics are the
        full-resolution network's).
    mels : np.ndarray, shape (n, frames, n_mels)
    targets : np.ndarray, shape (n, dim)
        The full-resolution network's embeddings of ``mels``.

    The loss is the mean squared error of the standardised embedding, so every
    dimension counts alike whatever its scale; dimensions that hardly vary
    (channels that rarely fire) are scaled as if they varied a tenth as much as
    the median one, rather than blown up to dominate the loss.
    """
    keras.utils.set_random_seed(seed)
    for layer in student_embedding.layers:
        if isinstance(layer, keras.layers.BatchNormalization):
            layer.trainable = False
    mean, std = targets.mean(axis=0), targets.std(axis=0)
    std = np.maximum(std, 0.1 * np.median(std) + 1e-6)
    standardised = keras.Sequential([student_embedding, keras.layers.Rescaling(1 / std, -mean / std)])
    steps = epochs * int(np.ceil(len(mels) / BATCH_SIZE))
    standardised.compile(optimizer=keras.optimizers.Adam(keras.optimizers.schedules.CosineDecay(LEARNING_RATE, steps)),
                         loss="mse")
    standardised.fit(mels, (targets - mean) / std, batch_size=BATCH_SIZE, epochs=epochs, shuffle=True, verbose=2)


def embedding_agreement(student: np.ndarray, teacher: np.ndarray) -> float:
    """Correlation between two embeddings of the same windows, shape (n, dim), averaged over dimensions.

    Dimensions constant in ``teacher`` carry nothing to agree on and are left out.
    """
    s, t = np.asarray(student, dtype=np.float64), np.asarray(teacher, dtype=np.float64)
    s, t = s - s.mean(axis=0), t - t.mean(axis=0)
    s_std, t_std = s.std(axis=0), t.std(axis=0)
    varying = t_std > 1e-6 * (np.abs(teacher).mean(axis=0) + 1.0)
    return float(((s[:, varying] / (s_std[varying] + 1e-12)) * (t[:, varying] / t_std[varying])).mean(axis=0).mean())
