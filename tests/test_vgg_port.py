"""The Keras port of MSD_vgg against a NumPy re-implementation of musicnn's TF1 ``models.vgg``.

Needs the musicnn checkpoint (see training/musicnn_port.py for the pip
download command); set MUSICNN_VGG_CHECKPOINT to its MSD_vgg folder, else
/tmp/musicnn/musicnn/MSD_vgg is tried and the test is skipped without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
# The TF1 batch norm and 'valid' convolution, re-implemented in NumPy for the musicnn port's test.
from test_musicnn_port import _bn, _conv_valid

CHECKPOINT = Path(os.environ.get("MUSICNN_VGG_CHECKPOINT", "/tmp/musicnn/musicnn/MSD_vgg"))
pytestmark = pytest.mark.skipif(not (CHECKPOINT / ".index").is_file(), reason="MSD_vgg checkpoint not available")


def _conv_same_relu(x, kernel, bias):
    """3 x 3 'same' correlation of x (T, F, Cin) with kernel (3, 3, Cin, Cout), then ReLU."""
    return _conv_valid(np.pad(x, ((1, 1), (1, 1), (0, 0))), kernel, bias)


def _max_pool(x, pool, strides):
    """'valid' max pooling of x (T, F, C)."""
    windows = np.lib.stride_tricks.sliding_window_view(x, pool, axis=(0, 1))
    return windows[::strides[0], ::strides[1]].max(axis=(-2, -1))


def _reference(mel, v):
    """musicnn.models.vgg (128 filters), inference mode, for one patch (187, 96) -> 50 logits."""
    x = _bn(mel[:, :, None], v, "batch_normalization")
    pools = (((4, 1), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((2, 2), (2, 2)), ((4, 4), (4, 4)))
    for i, (pool, strides) in enumerate(pools):
        x = _bn(_conv_same_relu(x, v[f"{i + 1}CNN/kernel"], v[f"{i + 1}CNN/bias"]), v, f"batch_normalization_{i + 1}")
        x = _max_pool(x, pool, strides)
    assert x.shape == (2, 1, 128)  # pool5 of a 3 s patch, flattened by tf.layers.flatten in this order
    return x.reshape(-1) @ v["dense/kernel"] + v["dense/bias"]


def test_port_matches_numpy_reference():
    from tagger.training.vgg_port import VGG_FRAMES, load_vgg, read_checkpoint

    model = load_vgg(CHECKPOINT)
    rng = np.random.default_rng(0)
    mels = rng.gamma(2.0, 1.0, size=(2, VGG_FRAMES, 96)).astype(np.float32)
    ported = np.asarray(model(mels, training=False))
    variables = read_checkpoint(CHECKPOINT)
    reference = np.stack([_reference(m.astype(np.float64), variables) for m in mels])
    np.testing.assert_allclose(ported, reference, rtol=1e-3, atol=1e-3)


def test_embedding_network_reads_centre_patches_of_tagger_windows():
    from tagger.training.vgg_port import VGG_FRAMES, centre_patches, embedding_network, load_vgg

    vgg = load_vgg(CHECKPOINT)
    windows = np.random.default_rng(1).gamma(2.0, 1.0, size=(3, 250, 96)).astype(np.float32)
    patches = centre_patches(windows)
    np.testing.assert_array_equal(patches, windows[:, 31:31 + VGG_FRAMES])
    embedding = np.asarray(embedding_network(vgg)(patches, training=False))
    assert embedding.shape == (3, 256 + 50)
    logits = np.asarray(vgg(patches, training=False))
    np.testing.assert_allclose(embedding[:, 256:], 1 / (1 + np.exp(-logits)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="shorter than"):
        centre_patches(windows[:, :100])
