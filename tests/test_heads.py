"""The NumPy head library: a head learned without TensorFlow predicts like the same head learned in Keras.

Features are the shipped network's tag probabilities of audio made here
(soft chords, noise bursts, bass tones), as retrain sees them.
"""

from __future__ import annotations

import numpy as np
import pytest

from audio import make_track
from tagger.features import file_windows
from tagger.head import Head
from tagger.training import heads

KINDS = ("chords", "noise", "bass")
# Largest difference of genre probabilities between the NumPy head (L-BFGS, converged) and the same
# objective minimised by Keras (Adam, full batch, 400 epochs): both near one convex optimum (measured
# 4.9e-4 on these 30 windows).
KERAS_TOLERANCE = 5e-3


@pytest.fixture(scope="module")
def features(genre_model, tmp_path_factory):
    """Tag-probability features of 4 tracks per kind: (x, labels, track of each window)."""
    folder = tmp_path_factory.mktemp("heads")
    x, y, tracks = [], [], []
    for k, kind in enumerate(KINDS):
        for i in range(4):
            path = make_track(folder / f"{kind}{i}.flac", seconds=6 + i, seed=10 * k + i, kind=kind)
            rows = genre_model.features(file_windows(path, genre_model.settings.features).mels)
            x.append(rows[:, genre_model.layout["tag_probabilities"]])
            y += [k] * len(rows)
            tracks += [4 * k + i] * len(rows)
    return np.concatenate(x), np.asarray(y), np.asarray(tracks)


def _keras_head(x, y, weights, l2):
    """The same objective in Keras: standardized inputs, Dense with L2, weighted cross-entropy, full batch."""
    keras = pytest.importorskip("keras")
    keras.utils.set_random_seed(0)
    norm = keras.layers.Normalization()
    norm.adapt(x)
    inputs = keras.Input((x.shape[1],))
    outputs = keras.layers.Dense(len(KINDS), activation="softmax", kernel_regularizer=keras.regularizers.L2(l2))(
        norm(inputs))
    model = keras.Model(inputs, outputs)
    model.compile(optimizer=keras.optimizers.Adam(0.05), loss=keras.losses.SparseCategoricalCrossentropy())
    model.fit(x, y, sample_weight=weights, batch_size=len(x), epochs=400, verbose=0)
    return model


def test_a_head_learned_in_numpy_predicts_like_the_same_head_learned_in_keras(features):
    x, y, tracks = features
    weights = heads.balanced_weights(y, tracks)
    head = heads.train_softmax_head(x, y, weights, len(KINDS), "tag_probabilities", l2=1e-3)
    keras_probs = np.asarray(_keras_head(x, y, weights, 1e-3)(x, training=False))
    assert np.abs(head.apply(x) - keras_probs).max() < KERAS_TOLERANCE
    assert (head.apply(x).argmax(axis=1) == y).mean() > 0.9  # the kinds are easy to tell apart


def test_balancing_weights_give_every_genre_and_every_track_of_a_genre_the_same_weight():
    labels = np.asarray([0] * 10 + [1] * 2 + [1] * 4)
    tracks = np.asarray([0] * 10 + [1] * 2 + [2] * 4)
    weights = heads.balanced_weights(labels, tracks)
    assert weights.mean() == pytest.approx(1.0)
    assert weights[labels == 0].sum() == pytest.approx(weights[labels == 1].sum())
    assert weights[tracks == 1].sum() == pytest.approx(weights[tracks == 2].sum())


def test_dropout_shrinks_the_weights_like_a_stronger_l2(features):
    x, y, tracks = features
    weights = heads.balanced_weights(y, tracks)
    assert not heads.dropout_penalty(x, weights, 0.0).any()
    norms = [np.linalg.norm(heads.train_softmax_head(x, y, weights, len(KINDS), "f", dropout=rate).weights)
             for rate in (0.0, 0.25, 0.5)]
    assert norms[0] > norms[1] > norms[2]
    with pytest.raises(ValueError):
        heads.dropout_penalty(x, weights, 1.0)


def test_a_folded_temperature_is_softmax_of_logits_over_t(features, tmp_path):
    x, y, tracks = features
    head = heads.train_softmax_head(x, y, heads.balanced_weights(y, tracks), len(KINDS), "tag_probabilities")
    folded = head.folded(2.5)
    logits = head.logits(x) / 2.5
    expected = np.exp(logits - logits.max(axis=1, keepdims=True))
    np.testing.assert_allclose(folded.apply(x), expected / expected.sum(axis=1, keepdims=True), atol=1e-5)
    folded.save(tmp_path)
    reloaded = Head.load(tmp_path)
    assert reloaded.temperature == pytest.approx(2.5) and reloaded.feature == "tag_probabilities"
    np.testing.assert_array_equal(reloaded.weights, folded.weights)
