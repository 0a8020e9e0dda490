"""musicnn's MSD-trained VGG (``MSD_vgg``, Pons & Serra 2019) as a Keras 3 model of built-in layers.

The weights come from the ``musicnn`` PyPI package (ISC licence, Music
Technology Group, Universitat Pompeu Fabra), which is not a dependency: fetch
it once (see :mod:`tagger.training.musicnn_port`) and point this module at its
``MSD_vgg`` checkpoint folder (``load_vgg(Path("/tmp/musicnn/musicnn/MSD_vgg"))``).
It was measured as a feature extractor for the genre head and not shipped:
docs/experiments/2026-12-03-msd-vgg.md.

Architecture (musicnn ``models.vgg`` with 128 filters): batch norm on the
input; five 3 x 3 convolutions ("same", ReLU, batch norm), each followed by
max pooling: (4 x 1) with strides 2 after the first (time x Mel bands),
(2 x 2) after the next three, (4 x 4) after the last ("pool5"); pool5
flattened (2 time steps x 1 band x 128 = 256 values for the 187-frame, 3 s
patches it was trained on) and a Dense layer to the 50 MSD tag logits
(:data:`tagger.training.musicnn_port.MSD_TAGS`).

Its input is :func:`tagger.features.log_mel` (16 kHz, 512-point FFT, hop 256,
96 Mel bands, ``log10(1 + 10000 * power)``), always float32 (the package
computes it in float16, which overflows on loud audio).
"""

from __future__ import annotations

import os
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

from tagger.training.musicnn_port import BN_EPSILON, MSD_TAGS, _bn_weights, read_checkpoint  # noqa: E402

# The patch length MSD_vgg was trained on: 187 frames of hop 256 at 16 kHz, 3.0 s.
VGG_FRAMES = 187
VGG_FILTERS = 128
# Max pooling after each convolution: (pool size, strides), in (time frames, Mel bands).
_POOLS = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))
# Checkpoint names of each convolution and of the batch norm after it.
_CONVS = tuple((f"{i + 1}CNN", f"batch_normalization_{i + 1}") for i in range(len(_POOLS)))


def build_vgg(frames: int = VGG_FRAMES, n_mels: int = 96, n_tags: int = len(MSD_TAGS)) -> keras.Model:
    """MSD_vgg's graph, uninitialised; outputs the MSD tag logits, with ``pool5`` (flattened) the embedding.

    Parameters
    ----------
    frames : int
        Patch length in log-Mel frames (16 ms each); the tag layer's input
        width depends on it, so only :data:`VGG_FRAMES` loads the trained weights.
    n_mels : int
        Mel bands of the input.
    n_tags : int
        Outputs of the tag layer.
    """
    inputs = keras.Input((frames, n_mels))
    x = layers.Reshape((frames, n_mels, 1))(inputs)
    x = layers.BatchNormalization(epsilon=BN_EPSILON, name="input_bn")(x)
    for i, (pool, strides) in enumerate(_POOLS):
        x = layers.Conv2D(VGG_FILTERS, (3, 3), padding="same", activation="relu", name=f"conv{i + 1}")(x)
        x = layers.BatchNormalization(epsilon=BN_EPSILON, name=f"conv{i + 1}_bn")(x)
        x = layers.MaxPooling2D(pool, strides=strides, name=f"pool{i + 1}_max")(x)
    # NHWC flattened row-major, as tf.layers.flatten does: index = (time * bands + band) * 128 + filter.
    pool5 = layers.Flatten(name="pool5")(x)
    logits = layers.Dense(n_tags, name="tag_logits")(pool5)
    return keras.Model(inputs, logits, name="msd_vgg")


def load_weights(model: keras.Model, variables: dict[str, np.ndarray]) -> None:
    """Copy ``MSD_vgg`` checkpoint variables into the layers of :func:`build_vgg`."""
    model.get_layer("input_bn").set_weights(_bn_weights(variables, "batch_normalization"))
    for i, (conv, bn) in enumerate(_CONVS):
        model.get_layer(f"conv{i + 1}").set_weights([variables[f"{conv}/kernel"], variables[f"{conv}/bias"]])
        model.get_layer(f"conv{i + 1}_bn").set_weights(_bn_weights(variables, bn))
    model.get_layer("tag_logits").set_weights([variables["dense/kernel"], variables["dense/bias"]])


def load_vgg(checkpoint: Path) -> keras.Model:
    """MSD_vgg with its trained weights, for :data:`VGG_FRAMES`-long log-Mel patches."""
    model = build_vgg()
    load_weights(model, read_checkpoint(checkpoint))
    return model


def embedding_network(vgg: keras.Model) -> keras.Model:
    """The network a genre head reads: pool5 (256 values) then the 50 MSD tag probabilities."""
    tags = layers.Activation("sigmoid", name="tag_probabilities")(vgg.get_layer("tag_logits").output)
    return keras.Model(vgg.input, layers.Concatenate(name="embedding")([vgg.get_layer("pool5").output, tags]))


def centre_patches(mels: np.ndarray, frames: int = VGG_FRAMES) -> np.ndarray:
    """The middle ``frames`` frames of each log-Mel window, (n, window_frames, n_mels) -> (n, frames, n_mels).

    The tagger's 4 s windows are longer than the 3 s patches MSD_vgg was
    trained on; the centre patch keeps one embedding per tagger window.
    """
    start = (mels.shape[1] - frames) // 2
    if start < 0:
        raise ValueError(f"windows of {mels.shape[1]} frames are shorter than MSD_vgg's {frames}")
    return mels[:, start:start + frames]
