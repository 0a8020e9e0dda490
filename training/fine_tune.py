"""``retrain --fine-tune``: train a network's last block with its head, in Keras (needs genre-tagger[train])."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path

import keras
import numpy as np

from tagger.head import Head
from tagger.model import NETWORK_FILE, load_keras_model
from tagger.training import keras_network
from tagger.training.heads import Cancelled

EPOCHS = 5
LEARNING_RATE = 1e-4
BATCH_SIZE = 32


class _EpochProgress(keras.callbacks.Callback):
    """Reports each finished epoch and honours a cancel event."""

    def __init__(self, report: Callable[[int, int], None] | None, total: int,
                 cancel: threading.Event | None) -> None:
        super().__init__()
        self.report, self.total, self.cancel = report, total, cancel

    def on_epoch_end(self, epoch: int, logs: dict | None = None) -> None:
        if self.report:
            self.report(epoch + 1, self.total)
        if self.cancel is not None and self.cancel.is_set():
            self.model.stop_training = True


def last_block_layers(network: keras.Model) -> list:
    """Layers of the network to unfreeze: its last layer with a kernel (conv or dense).

    BatchNormalization layers stay frozen (in inference mode): batches of a few
    user files would wreck their statistics.
    """
    kernels = [layer for layer in network.layers if hasattr(layer, "kernel") and layer.trainable_weights]
    return kernels[-1:]


def fine_tune(base_dir: Path, head: Head, mels: np.ndarray, labels: np.ndarray, weights: np.ndarray, seed: int,
              report: Callable[[int, int], None] | None = None,
              cancel: threading.Event | None = None) -> tuple[keras.Model, dict, Head]:
    """Train the base network's last block and ``head`` together at a low learning rate.

    Parameters
    ----------
    base_dir : Path
        Model folder whose ``network.keras`` is tuned (a fresh copy is loaded on every call).
    head : Head
        Head trained on the frozen features, the starting point.
    mels : np.ndarray, shape (n, frames, n_mels)
    labels, weights : np.ndarray, shape (n,)
    seed : int

    Returns
    -------
    (network, layout, head)
        The tuned network, its output layout and the tuned head (see :func:`keras_network.split_genre_model`).
    """
    keras.utils.set_random_seed(seed + 1)
    network = load_keras_model(Path(base_dir) / NETWORK_FILE)
    last_block = last_block_layers(network)  # before freezing: it looks at trainable weights
    for layer in network.layers:
        layer.trainable = False
    for layer in last_block:
        layer.trainable = True
    full = keras_network.genre_model(network, head)
    full.compile(optimizer=keras.optimizers.Adam(LEARNING_RATE), loss=keras.losses.SparseCategoricalCrossentropy())
    full.fit(mels, labels, sample_weight=weights, batch_size=BATCH_SIZE, epochs=EPOCHS, shuffle=True, verbose=0,
             callbacks=[_EpochProgress(report, EPOCHS, cancel)])
    if cancel is not None and cancel.is_set():
        raise Cancelled()
    return keras_network.split_genre_model(full)
