"""musicnn at coarser front-end strides: same weights, fewer positions, fine-tuned back towards the full embedding.

Runs on the architecture with Keras's initial weights (no checkpoint needed).
"""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from tagger.training.musicnn_port import FRONTEND_BRANCHES, build_musicnn  # noqa: E402
from tagger.training.musicnn_prune import multiply_adds  # noqa: E402
from tagger.training.musicnn_stride import embedding_agreement, fine_tune_embedding, strided_copy  # noqa: E402
from tagger.training.transfer import embed_inputs, embedding_model, strided_base  # noqa: E402

FRAMES, MELS = 40, 96
FILTERS = (12, 12, 4, 4, 4)
RANK = 6


@pytest.fixture(scope="module")
def network() -> keras.Model:
    keras.utils.set_random_seed(0)
    return build_musicnn(FRAMES, MELS, filters=FILTERS, timbral_rank=RANK)


@pytest.fixture(scope="module")
def windows() -> np.ndarray:
    # Smooth spectra (a few partials with random levels), so neighbouring Mel bands look alike as in music.
    rng = np.random.default_rng(1)
    bands = np.arange(MELS)
    centres = rng.uniform(0, MELS, size=(48, 1, 6, 1))
    levels = rng.uniform(0.5, 3, size=(48, FRAMES, 6, 1))
    return (levels * np.exp(-0.5 * ((bands - centres) / 4.0) ** 2)).sum(axis=2).astype(np.float32)


def embeddings(model: keras.Model, windows: np.ndarray) -> np.ndarray:
    return np.asarray(embedding_model(model)(windows, training=False))


def test_stride_one_is_the_same_network(network, windows):
    copy = strided_copy(network, 1, FILTERS, RANK)
    np.testing.assert_allclose(embeddings(copy, windows), embeddings(network, windows), rtol=1e-5, atol=1e-5)


def test_stride_two_keeps_the_weights_and_halves_the_front_end(network, windows):
    copy = strided_copy(network, 2, FILTERS, RANK)
    assert [layer.name for layer in copy.layers if layer.weights] == \
           [layer.name for layer in network.layers if layer.weights]
    np.testing.assert_array_equal(copy.get_layer("timbral_38_basis").get_weights()[0],
                                  network.get_layer("timbral_38_basis").get_weights()[0])
    assert copy.get_layer("temporal_128").output.shape[2] == MELS // 2
    assert copy.get_layer("timbral_38_basis").output.shape[2] == (MELS - 38 + 1 + 1) // 2
    assert embeddings(copy, windows).shape == embeddings(network, windows).shape
    front_full = multiply_adds(FRAMES, MELS, FILTERS, RANK) - multiply_adds(FRAMES, MELS, (0,) * 5)
    front_half = multiply_adds(FRAMES, MELS, FILTERS, RANK, 2) - multiply_adds(FRAMES, MELS, (0,) * 5, None, 2)
    assert front_half < 0.55 * front_full


def test_time_stride_two_halves_the_frames_of_the_front_end_and_mid_end(network, windows):
    copy = strided_copy(network, 2, FILTERS, RANK, time_stride=2)
    for name in ("timbral_38", "timbral_67", "temporal_128", "temporal_32"):
        assert copy.get_layer(name).output.shape[1] == FRAMES // 2
    assert copy.get_layer("midend").output.shape[1] == FRAMES // 2
    assert embeddings(copy, windows).shape == embeddings(network, windows).shape
    both = multiply_adds(FRAMES, MELS, FILTERS, RANK, 2, 2)
    assert both == pytest.approx(multiply_adds(FRAMES, MELS, FILTERS, RANK, 2) / 2)


def test_temporal_branches_can_take_a_coarser_band_stride_than_the_timbral_ones(network, windows):
    copy = strided_copy(network, 2, FILTERS, RANK, time_stride=2, temporal_frequency_stride=4)
    for name in ("temporal_128", "temporal_64", "temporal_32"):
        assert copy.get_layer(name).output.shape[2] == MELS // 4
    assert copy.get_layer("timbral_38_basis").output.shape[2] == (MELS - 38 + 1 + 1) // 2
    assert embeddings(copy, windows).shape == embeddings(network, windows).shape
    saved = sum((FRAMES // 2) * (MELS // 2 - MELS // 4) * count * branch.kernel[0]
                for branch, count in zip(FRONTEND_BRANCHES, FILTERS) if branch.kernel[1] == 1)
    assert multiply_adds(FRAMES, MELS, FILTERS, RANK, 2, 2) - multiply_adds(FRAMES, MELS, FILTERS, RANK, 2, 2, 4) == saved
    assert multiply_adds(FRAMES, MELS, FILTERS, RANK, 2, 2, 2) == multiply_adds(FRAMES, MELS, FILTERS, RANK, 2, 2)


def test_fine_tuning_brings_the_strided_embedding_closer_to_the_full_one(network):
    # Rough spectra, on which every third band alone is a poor stand-in for all of them.
    windows = np.random.default_rng(2).uniform(0, 3, size=(64, FRAMES, MELS)).astype(np.float32)
    target = embeddings(network, windows)
    copy = strided_copy(network, 3, FILTERS, RANK)
    before = embedding_agreement(embeddings(copy, windows), target)
    fine_tune_embedding(embedding_model(copy), windows, target, seed=0, epochs=80)
    after = embedding_agreement(embeddings(copy, windows), target)
    assert after > before, (before, after)
    assert embedding_agreement(target, target) == pytest.approx(1.0)


def test_strided_base_trains_on_every_window_and_crop_and_returns_its_own_embeddings(network, windows):
    inputs = [(windows[:5], windows[5:7]), (windows[7:10], windows[10:12])]
    full = embed_inputs(embedding_model(network), inputs)
    student, data, agreement = strided_base(network, FILTERS, RANK, 2, 1, inputs, full, seed=0)
    assert student.get_layer("temporal_128").output.shape[2] == MELS // 2
    assert [len(w) for w in data.windows] == [5, 3] and [len(c) for c in data.crops] == [2, 2]
    np.testing.assert_allclose(data.rows(), embeddings(student, np.concatenate([np.concatenate(p) for p in inputs])),
                               rtol=1e-4, atol=1e-4)
    assert 0.5 < agreement <= 1.0
