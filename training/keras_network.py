"""Keras side of a model folder (needs genre-tagger[train]): split a genre model, export its network.

Training builds whole Keras models (a network ending in a Dense softmax
layer). Saved, such a model becomes a feature network, exported to LiteRT
with its Keras source, and a :class:`tagger.head.Head` of plain arrays.
"""

from __future__ import annotations

import contextlib
import io
import json
from pathlib import Path

import keras
import numpy as np

from tagger.head import Head, softmax
from tagger.model import (
    LAYOUT_FILE, NETWORK_FILE, RUNTIME_PATTERN, ModelError, native_stderr_silenced, runtime_file,
)
from tagger.settings import ModelSettings
from tagger.training.model_folder import NetworkWriter, write_model_folder

# A layer a later head may read besides the genre head's own input (musicnn's 200-unit embedding).
EXTRA_FEATURE_LAYERS = ("penultimate",)


def final_dense(model: keras.Model) -> keras.layers.Dense:
    """The last Dense layer of a Keras model (the one producing the genre logits).

    Raises
    ------
    ModelError
        When the model has no Dense layer.
    """
    for layer in reversed(model.layers):
        if isinstance(layer, keras.layers.Dense):
            return layer
    raise ModelError(f"{model.name}: no Dense layer to put a genre head in place of")


def model_input(model: keras.Model) -> keras.KerasTensor:
    """The single input tensor of a model (a genre model takes one batch of windows)."""
    if len(model.inputs) != 1:
        raise ModelError(f"{model.name}: a genre model has one input, this one has {len(model.inputs)}")
    return model.inputs[0]


def _producer(tensor) -> str:
    """Name of the layer whose output ``tensor`` is."""
    return tensor._keras_history[0].name


def feature_network(model: keras.Model) -> tuple[keras.Model, dict[str, tuple[int, int]], str]:
    """The network under a genre model's final Dense layer, with its output layout.

    Returns
    -------
    network : keras.Model
        Input windows -> the final Dense layer's input, followed by the layers
        of :data:`EXTRA_FEATURE_LAYERS` the model has, concatenated.
    layout : dict
        Feature name -> (first, last + 1) column of the network's output.
    feature : str
        Name of the feature the genre layer reads.
    """
    head_input = final_dense(model).input
    feature = _producer(head_input)
    names = [layer.name for layer in model.layers]
    tensors = [(feature, head_input)] + [(name, model.get_layer(name).output) for name in EXTRA_FEATURE_LAYERS
                                         if name in names and name != feature]
    layout, start = {}, 0
    for name, tensor in tensors:
        layout[name] = (start, start + int(tensor.shape[-1]))
        start = layout[name][1]
    joined = tensors[0][1] if len(tensors) == 1 else keras.layers.Concatenate(name="features")([t for _, t in tensors])
    return keras.Model(model_input(model), joined, name="feature_network"), layout, feature


def head_of(model: keras.Model, feature: str, temperature: float = 1.0) -> Head:
    """The final Dense layer's weights as a head (``temperature``: what is already folded into them)."""
    kernel, bias = final_dense(model).get_weights()
    return Head(np.asarray(kernel, np.float32), np.asarray(bias, np.float32), feature, temperature)


def split_genre_model(model: keras.Model, temperature: float = 1.0) -> tuple[keras.Model, dict, Head]:
    """A whole genre model as (feature network, its layout, head); see :func:`feature_network`."""
    final = final_dense(model)
    if final is not model.layers[-1] and model.layers[-1].get_config().get("activation") != "softmax":
        raise ModelError(f"{model.name}: the layer after the final Dense layer is not a softmax")
    network, layout, feature = feature_network(model)
    return network, layout, head_of(model, feature, temperature)


def network_writer(network: keras.Model, layout: dict[str, tuple[int, int]]) -> NetworkWriter:
    """A writer for :func:`tagger.training.model_folder.write_model_folder`: network.keras, LiteRT copy, layout."""

    def write(folder: Path) -> None:
        network.save(Path(folder) / NETWORK_FILE)
        export_runtime(folder, network)
        text = json.dumps({"outputs": {name: list(columns) for name, columns in layout.items()}}, indent=2)
        (Path(folder) / LAYOUT_FILE).write_text(text + "\n", encoding="utf-8")

    return write


def export_runtime(folder: Path, network: keras.Model) -> Path:
    """Write the LiteRT copy of ``folder/network.keras`` beside it, replacing older copies."""
    target = runtime_file(folder)
    for stale in Path(folder).glob(RUNTIME_PATTERN.format("*")):
        stale.unlink()
    with contextlib.redirect_stdout(io.StringIO()), native_stderr_silenced():
        network.export(str(target), format="litert")
    return target


def genre_model(network: keras.Model, head: Head, name: str = "genre_model") -> keras.Model:
    """One Keras model again: the network's layer ``head.feature``, then the head as Dense + softmax.

    The layers are the network's own (training the result trains the network).
    """
    dense = keras.layers.Dense(head.n_genres, name="logits")
    probabilities = keras.layers.Activation("softmax", name="probabilities")(
        dense(network.get_layer(head.feature).output))
    dense.set_weights([head.weights, head.bias])
    return keras.Model(model_input(network), probabilities, name=name)


def save_genre_model(out: Path, model: keras.Model, settings: ModelSettings, facts: dict, card: str,
                     probe: np.ndarray) -> Path:
    """Save a trained Keras genre model as a model folder: its network, and its head with the temperature folded in.

    Parameters
    ----------
    out : Path
        Model folder to write (replaced once the new one is checked).
    model : keras.Model
        Ends in a Dense layer and softmax, at temperature 1.
    settings : ModelSettings
        ``settings.temperature`` is folded into the saved head.
    facts : dict
        ``training.json``.
    card : str
        ``MODEL_CARD.md``.
    probe : np.ndarray, shape (n, frames, n_mels)
        A few real input windows; the saved folder must give softmax(logits / T) of them.
    """
    network, layout, head = split_genre_model(model)
    probabilities = np.asarray(model(probe, training=False), dtype=np.float64)
    # log(softmax(z)) is z up to a constant per row, which softmax ignores.
    expected = softmax(np.log(np.maximum(probabilities, 1e-30)) / settings.temperature).astype(np.float32)
    return write_model_folder(out, network_writer(network, layout), head.folded(settings.temperature), settings,
                              facts, card, probe, expected)
