"""musicnn's MSD-trained CNN (Pons & Serra 2019) as a Keras 3 model of built-in layers.

The weights come from the ``musicnn`` PyPI package (ISC licence, Music
Technology Group, Universitat Pompeu Fabra), which is not a dependency: fetch
it once and point this module at its TF1 checkpoint folder::

    pip download musicnn==0.1.0 --no-deps -d /tmp/musicnn
    cd /tmp/musicnn && unzip -q musicnn-0.1.0-py3-none-any.whl
    python -m tagger.training.musicnn_port /tmp/musicnn/musicnn/MSD_musicnn --out /tmp/msd_musicnn.keras

Architecture (musicnn ``models.build_musicnn`` with the MSD settings): batch
norm on the input; timbral convs (7 x 38) and (7 x 67), 204 filters, and
temporal convs (128 x 1), (64 x 1), (32 x 1), 51 filters, each ReLU + batch
norm + max over frequency; a mid-end of three 7-frame 1-D convs (64 filters,
ReLU + batch norm, residual); max and mean over time; batch norm, a 200-unit
ReLU dense layer + batch norm ("penultimate"), and 50 MSD tag logits.

Its input is exactly :func:`tagger.features.log_mel` (the package computes it in
float16, which overflows on loud audio; we always feed float32 features).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NamedTuple

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from keras import layers  # noqa: E402

MSD_TAGS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s",
    "alternative rock", "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock",
    "soul", "indie rock", "Mellow", "electronica", "80s", "folk", "90s", "chill", "instrumental",
    "punk", "oldies", "blues", "hard rock", "ambient", "acoustic", "experimental", "female vocalist",
    "guitar", "Hip-Hop", "70s", "party", "country", "easy listening", "sexy", "catchy", "funk",
    "electro", "heavy metal", "Progressive rock", "60s", "rnb", "indie pop", "sad", "House", "happy",
)
# TF1 layers.batch_normalization default; Keras would use the same, stated for clarity.
BN_EPSILON = 1e-3
MIDEND_FILTERS = 64



class FrontendBranch(NamedTuple):
    """One front-end convolution of musicnn and the checkpoint variables it is loaded from."""

    checkpoint_conv: str
    checkpoint_bn: str
    kernel: tuple[int, int]  # (time frames, Mel bands)
    filters: int
    name: str


FRONTEND_BRANCHES = (
    FrontendBranch("conv2d", "batch_normalization_1", (7, 38), 204, "timbral_38"),
    FrontendBranch("conv2d_1", "batch_normalization_2", (7, 67), 204, "timbral_67"),
    FrontendBranch("conv2d_2", "batch_normalization_3", (128, 1), 51, "temporal_128"),
    FrontendBranch("conv2d_3", "batch_normalization_4", (64, 1), 51, "temporal_64"),
    FrontendBranch("conv2d_4", "batch_normalization_5", (32, 1), 51, "temporal_32"),
)
FULL_FILTERS = tuple(branch.filters for branch in FRONTEND_BRANCHES)
_MIDEND = (("conv2d_5", "batch_normalization_6"), ("conv2d_6", "batch_normalization_7"),
           ("conv2d_7", "batch_normalization_8"))


def read_checkpoint(checkpoint: Path) -> dict[str, np.ndarray]:
    """All non-optimiser variables of a musicnn TF1 checkpoint folder, by name.

    The package's checkpoint files have an empty name prefix
    (``MSD_musicnn/.index``), so the folder path with a trailing slash is the
    checkpoint prefix; its ``checkpoint`` file points at the author's machine
    and is ignored.
    """
    import tensorflow as tf

    prefix = str(Path(checkpoint)) + os.sep
    if not Path(prefix + ".index").is_file():
        raise FileNotFoundError(f"{checkpoint}: no musicnn checkpoint (.index file) in this folder")
    reader = tf.compat.v1.train.NewCheckpointReader(prefix)
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if "Adam" not in name and not name.endswith("_power")}


def _bn(name: str) -> layers.BatchNormalization:
    return layers.BatchNormalization(epsilon=BN_EPSILON, name=name)


def build_musicnn(frames: int, n_mels: int = 96, n_tags: int = len(MSD_TAGS),
                  filters: Sequence[int] = FULL_FILTERS, timbral_rank: int | None = None,
                  frequency_stride: int = 1, time_stride: int = 1,
                  temporal_frequency_stride: int | None = None) -> keras.Model:
    """musicnn's graph, uninitialised; outputs MSD tag logits.

    Layer names tie each layer to its checkpoint variables (see
    :func:`load_weights`); the ``penultimate`` and ``pooled`` layers are the
    embeddings used for transfer. ``filters`` gives each front-end branch's
    filter count (fewer than musicnn's for a pruned copy, see
    :mod:`tagger.training.musicnn_prune`); with ``timbral_rank``, each timbral
    convolution is a ``timbral_rank``-filter convolution (``<name>_basis``)
    followed by a 1x1 convolution (``<name>``). With ``frequency_stride`` s,
    the front-end convolutions are evaluated at every s-th Mel band only (their
    maximum over frequency then looks at 1/s of the positions): weights keep
    their shapes, so any musicnn's weights load into it. With ``time_stride`` t,
    they are evaluated at every t-th frame, and the mid-end runs on 1/t of the
    frames. ``temporal_frequency_stride`` sets the Mel-band stride of the
    temporal branches alone (default: ``frequency_stride``).
    """
    inputs = keras.Input((frames, n_mels))
    x = layers.Reshape((frames, n_mels, 1))(inputs)
    x = _bn("input_bn")(x)
    branches = []
    for (_, _, kernel, _, name), count in zip(FRONTEND_BRANCHES, filters):
        # Timbral branches pad time by 3 and convolve "valid" in frequency, as musicnn does;
        # temporal branches use TF "same" padding (Keras pads the same way).
        if kernel[1] > 1:
            branch = layers.ZeroPadding2D(((3, 3), (0, 0)))(x)
            strides = (time_stride, frequency_stride)
            if timbral_rank:
                branch = layers.Conv2D(min(timbral_rank, count), kernel, strides=strides, use_bias=False,
                                       name=f"{name}_basis")(branch)
                kernel, strides = (1, 1), (1, 1)
            branch = layers.Conv2D(count, kernel, strides=strides, activation="relu", name=name)(branch)
        else:
            branch = layers.Conv2D(count, kernel, strides=(time_stride, temporal_frequency_stride or frequency_stride),
                                   padding="same", activation="relu", name=name)(x)
        branch = _bn(f"{name}_bn")(branch)
        branch = layers.MaxPooling2D((1, branch.shape[2]))(branch)
        branches.append(layers.Reshape((branch.shape[1], count))(branch))
    front = layers.Concatenate(name="frontend")(branches)

    # A (7 x width) conv over the whole feature axis is a 1-D conv with 7 taps.
    mids, x = [front], front
    for i, _ in enumerate(_MIDEND):
        y = layers.Conv1D(MIDEND_FILTERS, 7, padding="same", activation="relu", name=f"midend_{i}")(x)
        y = _bn(f"midend_{i}_bn")(y)
        x = y if i == 0 else layers.Add()([y, x])
        mids.append(x)
    features = layers.Concatenate(name="midend")(mids)

    pooled = layers.Concatenate(name="pooled")([layers.GlobalMaxPooling1D(name="max_pool")(features),
                                                layers.GlobalAveragePooling1D(name="mean_pool")(features)])
    x = _bn("pooled_bn")(pooled)
    x = layers.Dense(200, activation="relu", name="dense")(x)
    penultimate = _bn("penultimate")(x)
    logits = layers.Dense(n_tags, name="tag_logits")(penultimate)
    return keras.Model(inputs, logits, name="msd_musicnn")


def _bn_weights(variables: dict[str, np.ndarray], name: str, order: np.ndarray | None = None) -> list[np.ndarray]:
    weights = [variables[f"{name}/{part}"] for part in ("gamma", "beta", "moving_mean", "moving_variance")]
    return [w[order] for w in weights] if order is not None else weights


def load_weights(model: keras.Model, variables: dict[str, np.ndarray]) -> None:
    """Copy checkpoint variables into the layers of :func:`build_musicnn`."""
    model.get_layer("input_bn").set_weights(_bn_weights(variables, "batch_normalization"))
    for conv, bn, _, _, name in FRONTEND_BRANCHES:
        model.get_layer(name).set_weights([variables[f"{conv}/kernel"], variables[f"{conv}/bias"]])
        model.get_layer(f"{name}_bn").set_weights(_bn_weights(variables, bn))
    for i, (conv, bn) in enumerate(_MIDEND):
        kernel = variables[f"{conv}/kernel"]  # (7, width, 1, filters) -> Conv1D (7, width, filters)
        model.get_layer(f"midend_{i}").set_weights([kernel[:, :, 0, :], variables[f"{conv}/bias"]])
        model.get_layer(f"midend_{i}_bn").set_weights(_bn_weights(variables, bn))
    # musicnn flattens (features, [max, mean]) so its 1506 inputs interleave max and mean;
    # we concatenate [all max, all mean], so reorder the weights that read them.
    width = model.get_layer("midend").output.shape[-1]
    order = np.concatenate([2 * np.arange(width), 2 * np.arange(width) + 1])
    model.get_layer("pooled_bn").set_weights(_bn_weights(variables, "batch_normalization_9", order))
    model.get_layer("dense").set_weights([variables["dense/kernel"][order], variables["dense/bias"]])
    model.get_layer("penultimate").set_weights(_bn_weights(variables, "batch_normalization_10"))
    model.get_layer("tag_logits").set_weights([variables["dense_1/kernel"], variables["dense_1/bias"]])


def load_musicnn(checkpoint: Path, frames: int = 250, n_mels: int = 96) -> keras.Model:
    """The MSD musicnn with its trained weights, for ``frames``-long log-Mel windows."""
    model = build_musicnn(frames, n_mels)
    load_weights(model, read_checkpoint(checkpoint))
    return model


def main(argv: list[str] | None = None) -> int:
    """Port a checkpoint folder to a ``.keras`` file."""
    parser = argparse.ArgumentParser(description="Port musicnn's MSD checkpoint to a Keras 3 model.")
    parser.add_argument("checkpoint", type=Path, help="musicnn/MSD_musicnn folder of the musicnn package")
    parser.add_argument("--out", type=Path, required=True, help=".keras file to write")
    parser.add_argument("--frames", type=int, default=250, help="window length in frames (default 250 = 4 s)")
    args = parser.parse_args(argv)
    try:
        load_musicnn(args.checkpoint, args.frames).save(args.out)
    except (OSError, KeyError, ValueError) as exc:
        print(f"musicnn_port: error: {exc}", file=sys.stderr)
        return 2
    print(f"saved {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
