"""Structured pruning of musicnn's front end: the same network with fewer filters, no retraining.

The front end (timbral and temporal convolutions) is about 95% of musicnn's
1.9 GMAC per 4 s window, and most of its 561 channels carry little that the
layers above use. Pruning keeps, in each front-end branch, the channels that
move the frozen layers downstream the most, and replaces every dropped
channel by its average activation, folded into the biases of the two layers
that read the channels: the mid-end's first convolution and the dense layer
over the pooled features. The kept weights are musicnn's own; only the genre
head on top is trained, as for the whole network.

The kept timbral filters are then factorised: their outputs on real input
patches span few dimensions (neighbouring Mel bands of a 512-point FFT at
16 kHz are near copies), so each timbral convolution becomes ``rank`` basis
filters followed by a 1x1 convolution, projected onto the principal
directions of its outputs (their mean folded into the bias).

Channel importance, for channel ``c`` with activation spread ``std_c`` over a
sample of windows (unitless: each part is a share of its layer's total)::

    std_c * |W_midend[:, c, :]|  /  sum over channels
    + sum over c's max- and mean-pooled features j of
      std_j * bn_scale_j * |W_dense[j, :]|  /  sum over channels
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import keras
import numpy as np

from tagger.training.musicnn_port import BN_EPSILON, FRONTEND_BRANCHES, MIDEND_FILTERS, build_musicnn

PATCH_BATCH = 8
PATCH_FRAME_STEP = 3
STATS_BATCH = 64
STATS_FRAME_STEP = 7  # every 7th frame: neighbouring frames are near copies, and all of them would take GBs


@dataclass(frozen=True)
class ChannelStats:
    """Activation statistics of musicnn's front-end channels and pooled features.

    Attributes
    ----------
    front_mean, front_std : np.ndarray, shape (561,)
        Per front-end channel (after batch norm and the max over frequency), over frames and windows.
    pooled_mean, pooled_std : np.ndarray, shape (1506,)
        Per pooled feature (max over time, then mean over time, of each mid-end feature), over windows.
    """

    front_mean: np.ndarray
    front_std: np.ndarray
    pooled_mean: np.ndarray
    pooled_std: np.ndarray


def channel_statistics(model: keras.Model, windows: np.ndarray) -> ChannelStats:
    """Front-end and pooled activation statistics of ``model`` over log-Mel ``windows`` (n, frames, n_mels)."""
    probe = keras.Model(model.input, [model.get_layer("frontend").output, model.get_layer("pooled").output])
    fronts, pooled = [], []
    for start in range(0, len(windows), STATS_BATCH):
        front, pool = probe(windows[start:start + STATS_BATCH], training=False)
        front = np.asarray(front)
        fronts.append(front.reshape(-1, front.shape[-1])[::STATS_FRAME_STEP])
        pooled.append(np.asarray(pool))
    front, pool = np.concatenate(fronts), np.concatenate(pooled)
    return ChannelStats(front.mean(axis=0), front.std(axis=0), pool.mean(axis=0), pool.std(axis=0))


def _bn_affine(layer: keras.layers.Layer) -> tuple[np.ndarray, np.ndarray]:
    """Scale and offset of an inference-mode batch norm: ``y = scale * x + offset``."""
    gamma, beta, mean, variance = layer.get_weights()
    scale = gamma / np.sqrt(variance + BN_EPSILON)
    return scale, beta - scale * mean


def channel_importance(model: keras.Model, stats: ChannelStats) -> np.ndarray:
    """Importance of each front-end channel to the layers above it, shape (561,), see the module docstring."""
    n_front = stats.front_mean.shape[0]
    width = stats.pooled_mean.shape[0] // 2
    midend_kernel = model.get_layer("midend_0").get_weights()[0]  # (7, n_front, 64)
    dense_kernel = model.get_layer("dense").get_weights()[0]      # (2 * width, 200)
    scale, _ = _bn_affine(model.get_layer("pooled_bn"))
    to_midend = stats.front_std * np.linalg.norm(midend_kernel, axis=(0, 2))
    to_dense = stats.pooled_std * np.abs(scale) * np.linalg.norm(dense_kernel, axis=1)
    to_dense = to_dense[:n_front] + to_dense[width:width + n_front]
    return to_midend / to_midend.sum() + to_dense / to_dense.sum()


def patch_moments(model: keras.Model, windows: np.ndarray, kernel: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Mean and covariance of the (time x Mel) input patches a timbral convolution reads, float64.

    Returns
    -------
    mean : np.ndarray, shape (kernel[0] * kernel[1],)
    covariance : np.ndarray, shape (kernel[0] * kernel[1], kernel[0] * kernel[1])
    """
    time_taps, freq_taps = kernel
    probe = keras.Model(model.input, model.get_layer("input_bn").output)
    size = time_taps * freq_taps
    total, outer, count = np.zeros(size), np.zeros((size, size)), 0
    for start in range(0, len(windows), PATCH_BATCH):
        x = np.asarray(probe(windows[start:start + PATCH_BATCH], training=False))[..., 0]
        x = np.pad(x, ((0, 0), (time_taps // 2, time_taps // 2), (0, 0)))  # the branch's own time padding
        patches = np.lib.stride_tricks.sliding_window_view(x, kernel, axis=(1, 2))[:, ::PATCH_FRAME_STEP]
        patches = patches.reshape(-1, size).astype(np.float64)
        total += patches.sum(axis=0)
        outer += patches.T @ patches
        count += len(patches)
    mean = total / count
    return mean, outer / count - np.outer(mean, mean)


def factorise_timbral(kernel: np.ndarray, bias: np.ndarray, patch_mean: np.ndarray, patch_cov: np.ndarray,
                      rank: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A timbral convolution as ``rank`` basis filters and a 1x1 convolution, keeping its outputs' main directions.

    Parameters
    ----------
    kernel : np.ndarray, shape (time_taps, freq_taps, 1, filters)
    bias : np.ndarray, shape (filters,)
    patch_mean, patch_cov : np.ndarray
        From :func:`patch_moments`.
    rank : int

    Returns
    -------
    basis : np.ndarray, shape (time_taps, freq_taps, 1, rank)
    mixing : np.ndarray, shape (1, 1, rank, filters)
    bias : np.ndarray, shape (filters,)
        float32 each. ``rank >= filters`` reproduces the convolution exactly.
    """
    time_taps, freq_taps, _, filters = kernel.shape
    weights = kernel.reshape(time_taps * freq_taps, filters).astype(np.float64)
    _, vectors = np.linalg.eigh(weights.T @ patch_cov @ weights)  # covariance of the outputs
    directions = vectors[:, ::-1][:, :rank]
    # Outputs are kept along ``directions``; the part dropped is replaced by its mean.
    new_bias = bias + patch_mean @ weights @ (np.eye(filters) - directions @ directions.T)
    return ((weights @ directions).reshape(time_taps, freq_taps, 1, -1).astype(np.float32),
            directions.T.reshape(1, 1, -1, filters).astype(np.float32), new_bias.astype(np.float32))


def prune_musicnn(model: keras.Model, filters: Sequence[int], windows: np.ndarray,
                  timbral_rank: int | None = None) -> keras.Model:
    """musicnn with ``filters[i]`` channels kept in front-end branch ``i``, dropped ones folded into biases.

    Parameters
    ----------
    model : keras.Model
        The whole network of :func:`tagger.training.musicnn_port.load_musicnn`.
    filters : sequence of int
        Channels to keep per branch, in the order of ``FRONTEND_BRANCHES``
        (timbral 7x38, timbral 7x67, temporal 128x1, 64x1, 32x1).
    windows : np.ndarray, shape (n, frames, n_mels)
        Log-Mel windows to measure activations on (a few hundred is plenty);
        keep held-out tracks out of them.
    timbral_rank : int, optional
        Factorise the kept timbral filters to this many basis filters
        (:func:`factorise_timbral`); None keeps them whole.

    Returns
    -------
    keras.Model
        Same layer names and outputs as ``model``, fewer multiply-adds.
    """
    if len(filters) != len(FRONTEND_BRANCHES):
        raise ValueError(f"need {len(FRONTEND_BRANCHES)} filter counts, got {len(filters)}")
    stats = channel_statistics(model, windows)
    importance = channel_importance(model, stats)
    frames, n_mels = model.input.shape[1:]
    pruned = build_musicnn(frames, n_mels, model.output.shape[-1], filters, timbral_rank)

    kept, offset = [], 0
    for branch, count in zip(FRONTEND_BRANCHES, filters):
        if not 0 < count <= branch.filters:
            raise ValueError(f"{branch.name}: keep between 1 and {branch.filters} filters, not {count}")
        order = np.sort(np.argsort(-importance[offset:offset + branch.filters], kind="stable")[:count])
        kernel, bias = model.get_layer(branch.name).get_weights()
        kernel, bias = kernel[..., order], bias[order]
        if timbral_rank and branch.kernel[1] > 1:
            basis, kernel, bias = factorise_timbral(kernel, bias, *patch_moments(model, windows, branch.kernel),
                                                    timbral_rank)
            pruned.get_layer(f"{branch.name}_basis").set_weights([basis])
        pruned.get_layer(branch.name).set_weights([kernel, bias])
        bn = f"{branch.name}_bn"
        pruned.get_layer(bn).set_weights([w[order] for w in model.get_layer(bn).get_weights()])
        kept.append(order + offset)
        offset += branch.filters
    kept_front = np.concatenate(kept)
    dropped_front = np.setdiff1d(np.arange(offset), kept_front)

    # A dropped channel held at its mean adds a constant to the mid-end conv (edge padding aside).
    kernel, bias = model.get_layer("midend_0").get_weights()
    bias = bias + np.einsum("c,tcf->f", stats.front_mean[dropped_front], kernel[:, dropped_front, :])
    pruned.get_layer("midend_0").set_weights([kernel[:, kept_front, :], bias])

    width = stats.pooled_mean.shape[0] // 2
    kept_features = np.concatenate([kept_front, np.arange(offset, width)])  # mid-end outputs are all kept
    kept_pooled = np.concatenate([kept_features, kept_features + width])
    dropped_pooled = np.setdiff1d(np.arange(2 * width), kept_pooled)
    bn_weights = model.get_layer("pooled_bn").get_weights()
    pruned.get_layer("pooled_bn").set_weights([w[kept_pooled] for w in bn_weights])
    scale, shift = _bn_affine(model.get_layer("pooled_bn"))
    held_constant = scale[dropped_pooled] * stats.pooled_mean[dropped_pooled] + shift[dropped_pooled]
    kernel, bias = model.get_layer("dense").get_weights()
    pruned.get_layer("dense").set_weights([kernel[kept_pooled], bias + held_constant @ kernel[dropped_pooled]])

    unchanged = {"input_bn", "midend_0_bn", "midend_1", "midend_1_bn", "midend_2", "midend_2_bn",
                 "penultimate", "tag_logits"}
    for name in unchanged:
        pruned.get_layer(name).set_weights(model.get_layer(name).get_weights())
    return pruned


def multiply_adds(frames: int, n_mels: int, filters: Sequence[int], timbral_rank: int | None = None,
                  frequency_stride: int = 1, time_stride: int = 1,
                  temporal_frequency_stride: int | None = None) -> int:
    """Multiply-adds of one window through musicnn's convolutions with these front-end filter counts."""
    total = 0
    frames = -(-frames // time_stride)
    for branch, count in zip(FRONTEND_BRANCHES, filters):
        time_taps, freq_taps = branch.kernel
        band_stride = frequency_stride if freq_taps > 1 else temporal_frequency_stride or frequency_stride
        positions = frames * -(-(n_mels - freq_taps + 1) // band_stride)
        if timbral_rank and freq_taps > 1:
            total += positions * min(timbral_rank, count) * (time_taps * freq_taps + count)
        else:
            total += positions * count * time_taps * freq_taps
    width = sum(filters)
    total += frames * 7 * (width * MIDEND_FILTERS + 2 * MIDEND_FILTERS * MIDEND_FILTERS)
    return total
