"""The musicnn transfer head: which embedding columns it reads, and the one model it is assembled into."""

from __future__ import annotations

import numpy as np
import pytest

keras = pytest.importorskip("keras")

from tagger.training import transfer  # noqa: E402


def small_base() -> keras.Model:
    """A stand-in with the layer names the head code looks for (musicnn's checkpoint is not at hand)."""
    keras.utils.set_random_seed(0)
    inputs = keras.Input((8, 4))
    pooled = keras.layers.Dense(6, name="pooled_bn")(keras.layers.Flatten()(inputs))
    penultimate = keras.layers.Dense(3, activation="relu", name="penultimate")(pooled)
    return keras.Model(inputs, keras.layers.Dense(5, name="tag_logits")(penultimate))


def test_head_reads_the_penultimate_columns_of_the_embedding():
    base = small_base()
    x = np.random.default_rng(0).standard_normal((10, 8, 4)).astype(np.float32)
    embedding = np.asarray(transfer.embedding_model(base)(x))
    penultimate = np.asarray(keras.Model(base.input, base.get_layer("penultimate").output)(x))
    np.testing.assert_allclose(embedding[:, transfer.head_columns(base)], penultimate, rtol=1e-6)


def tag_probabilities_of(base: keras.Model, x: np.ndarray) -> np.ndarray:
    return np.asarray(keras.ops.sigmoid(keras.Model(base.input, base.get_layer("tag_logits").output)(x)))


def test_head_features_are_the_bases_own_tag_probabilities():
    base = small_base()
    x = np.random.default_rng(3).standard_normal((12, 8, 4)).astype(np.float32)
    data = transfer.Embedded([np.asarray(transfer.embedding_model(base)(x))], [np.zeros((0, 9), np.float32)])
    probabilities = transfer.tag_probabilities(base, data)
    np.testing.assert_allclose(probabilities.windows[0], tag_probabilities_of(base, x), rtol=1e-5, atol=1e-6)
    assert probabilities.crops[0].shape == (0, 5)


def test_the_saved_model_folder_scores_windows_as_the_head_does(tmp_path):
    """assemble + the writer: a network whose tag probabilities the NumPy head reads, checked on reload."""
    from tagger.model import GenreModel
    from tagger.settings import FeatureSettings, ModelSettings
    from tagger.training.keras_network import save_genre_model

    base = small_base()
    rng = np.random.default_rng(1)
    x = rng.standard_normal((40, 8, 4)).astype(np.float32)
    features = tag_probabilities_of(base, x)
    labels = (features[:, 0] > np.median(features[:, 0])).astype(np.int64)
    head = transfer.train_head(features, labels, np.ones(len(x), np.float32), 2)
    assert (head.apply(features).argmax(axis=1) == labels).mean() > 0.7  # a split on one input: learnable
    model = transfer.assemble(base, head)
    np.testing.assert_allclose(np.asarray(model(x, training=False)), head.apply(features), rtol=1e-5, atol=1e-6)
    expected = head.folded(0.5).apply(features)  # the temperature of the settings is folded in when saved
    settings = ModelSettings(genres=("a", "b"), features=FeatureSettings(), temperature=0.5)
    save_genre_model(tmp_path / "m", model, settings, {"kind": "test"}, "# m\n", x[:4])
    saved = GenreModel.load(str(tmp_path / "m"))
    assert saved.head.feature == "tag_probabilities" and set(saved.layout) == {"tag_probabilities", "penultimate"}
    np.testing.assert_allclose(saved.predict(x), expected, atol=1e-5)
