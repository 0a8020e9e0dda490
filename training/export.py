"""``tagger-train export FOLDER``: write a model folder's LiteRT network and NumPy head again.

Converts a folder saved by genre-tagger 0.1 (one whole ``model.keras``) into
today's form (``network.keras``, its LiteRT copy, ``network.json``,
``head.npz``), or re-exports a stale or missing LiteRT copy. Needs
genre-tagger[train] (TensorFlow reads the Keras files).
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np

from tagger.training.model_folder import NetworkWriter

NAME = "export"
HELP = "convert a model folder to a LiteRT network + NumPy head, or re-export its LiteRT copy (needs [train])"
PROBE_WINDOWS = 8


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", type=Path, metavar="FOLDER", help="model folder to convert in place")


def probe_windows(settings, seed: int = 0) -> np.ndarray:
    """Log-Mel-like windows (values 0-4, as log10(1 + 10000 power) gives) to check the conversion on."""
    features = settings.features
    shape = (PROBE_WINDOWS, features.window_frames, features.n_mels)
    return np.random.default_rng(seed).uniform(0.0, 4.0, shape).astype(np.float32)


def _parts(folder: Path, settings):
    """(network, layout, head, the whole Keras model) of a folder in either form."""
    from tagger.head import Head
    from tagger.model import LEGACY_FILE, NETWORK_FILE, load_keras_model, read_layout
    from tagger.training import keras_network

    if (folder / LEGACY_FILE).is_file():
        whole = load_keras_model(folder / LEGACY_FILE)
        network, layout, head = keras_network.split_genre_model(whole, settings.temperature)
        return network, layout, head, whole
    network = load_keras_model(folder / NETWORK_FILE)
    layout = {name: (c.start, c.stop) for name, c in read_layout(folder).items()}
    head = Head.load(folder)
    return network, layout, head, keras_network.genre_model(network, head)


def _keeping_other_files(folder: Path, write_network: NetworkWriter) -> NetworkWriter:
    """A network writer that also carries over the folder's files the writer does not make (trained_on.txt)."""
    from tagger.head import HEAD_FILE
    from tagger.model import CARD_FILE, LEGACY_FILE
    from tagger.settings import SETTINGS_FILE
    from tagger.training.model_folder import TRAINING_FILE

    made = {HEAD_FILE, CARD_FILE, LEGACY_FILE, SETTINGS_FILE, TRAINING_FILE}

    def write(staging: Path) -> None:
        write_network(staging)
        for path in folder.iterdir():
            written = (staging / path.name).exists()
            if path.is_file() and path.name not in made and path.suffix != ".tflite" and not written:
                shutil.copy2(path, staging / path.name)

    return write


def export(folder: Path) -> Path:
    """Convert or re-export ``folder`` in place; see the module docstring.

    Raises
    ------
    ModelError
        When the folder is no genre model, or the written one does not predict what the old one did.
    """
    from tagger.model import CARD_FILE, ModelError, quiet_import, resolve_model
    from tagger.settings import ModelSettings
    from tagger.training.model_folder import now, read_facts, write_model_folder

    keras_network = quiet_import("tagger.training.keras_network")
    folder = resolve_model(str(folder))
    try:
        settings = ModelSettings.load(folder)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{folder}: unreadable model settings ({exc})") from None
    network, layout, head, whole = _parts(folder, settings)
    probe = probe_windows(settings)
    expected = np.asarray(whole(probe, training=False), dtype=np.float32)
    facts = read_facts(folder) or {"kind": "converted", "created": now()}
    card = (folder / CARD_FILE).read_text(encoding="utf-8") if (folder / CARD_FILE).is_file() else f"# {folder.name}\n"
    writer = _keeping_other_files(folder, keras_network.network_writer(network, layout))
    return write_model_folder(folder, writer, head, settings, facts, card, probe, expected)


def run(args: argparse.Namespace) -> int:
    folder = export(args.folder)
    print(f"exported {folder}: network.keras, its LiteRT copy and head.npz")
    return 0
