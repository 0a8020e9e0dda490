"""The Keras port of musicnn against a NumPy re-implementation of the original TF1 graph.

Needs the musicnn checkpoint (see training/musicnn_port.py for the pip
download command); set MUSICNN_CHECKPOINT to its MSD_musicnn folder, else
/tmp/musicnn/musicnn/MSD_musicnn is tried and the test is skipped without it.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

CHECKPOINT = Path(os.environ.get("MUSICNN_CHECKPOINT", "/tmp/musicnn/musicnn/MSD_musicnn"))
pytestmark = pytest.mark.skipif(not (CHECKPOINT / ".index").is_file(), reason="musicnn checkpoint not available")


def _bn(x, v, name):
    return (x - v[f"{name}/moving_mean"]) / np.sqrt(v[f"{name}/moving_variance"] + 1e-3) * v[f"{name}/gamma"] \
        + v[f"{name}/beta"]


def _conv_valid(x, kernel, bias):
    """'valid' 2-D correlation of x (T, F, Cin) with kernel (kt, kf, Cin, Cout), then ReLU."""
    kt, kf = kernel.shape[:2]
    patches = np.lib.stride_tricks.sliding_window_view(x, (kt, kf), axis=(0, 1))  # (T', F', Cin, kt, kf)
    return np.maximum(np.einsum("tfcab,abco->tfo", patches, kernel, optimize=True) + bias, 0)


def _reference(mel, v):
    """musicnn.models.build_musicnn, inference mode, for one window (T, 96) -> 50 logits."""
    x = _bn(mel[:, :, None], v, "batch_normalization")
    branches = []
    for conv, bn, pad in (("conv2d", "batch_normalization_1", (3, 3)), ("conv2d_1", "batch_normalization_2", (3, 3)),
                          ("conv2d_2", "batch_normalization_3", (63, 64)),
                          ("conv2d_3", "batch_normalization_4", (31, 32)),
                          ("conv2d_4", "batch_normalization_5", (15, 16))):
        padded = np.pad(x, (pad, (0, 0), (0, 0)))  # TF "same" puts the odd extra row at the end
        y = _bn(_conv_valid(padded, v[f"{conv}/kernel"], v[f"{conv}/bias"]), v, bn)
        branches.append(y.max(axis=1))
    front = np.concatenate(branches, axis=1)
    outs, x = [front], front
    for i, (conv, bn) in enumerate((("conv2d_5", "batch_normalization_6"), ("conv2d_6", "batch_normalization_7"),
                                    ("conv2d_7", "batch_normalization_8"))):
        y = _conv_valid(np.pad(x, ((3, 3), (0, 0)))[:, :, None], v[f"{conv}/kernel"], v[f"{conv}/bias"])[:, 0, :]
        y = _bn(y, v, bn)
        x = y if i == 0 else y + x
        outs.append(x)
    feats = np.concatenate(outs, axis=1)
    flat = np.stack([feats.max(axis=0), feats.mean(axis=0)], axis=1).reshape(-1)  # tf.concat(..., 2) + flatten
    h = _bn(flat, v, "batch_normalization_9")
    h = _bn(np.maximum(h @ v["dense/kernel"] + v["dense/bias"], 0), v, "batch_normalization_10")
    return h @ v["dense_1/kernel"] + v["dense_1/bias"]


def test_port_matches_numpy_reference():
    from tagger.training.musicnn_port import load_musicnn, read_checkpoint

    frames = 120
    model = load_musicnn(CHECKPOINT, frames=frames)
    rng = np.random.default_rng(0)
    mels = rng.gamma(2.0, 1.0, size=(2, frames, 96)).astype(np.float32)
    ported = np.asarray(model(mels, training=False))
    variables = read_checkpoint(CHECKPOINT)
    reference = np.stack([_reference(m.astype(np.float64), variables) for m in mels])
    np.testing.assert_allclose(ported, reference, rtol=1e-3, atol=1e-3)
