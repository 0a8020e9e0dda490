"""The one model-folder writer: stage the folder, reload it, check its predictions, then move it in place.

Every tool that makes a model (fit, distil, retrain, export) saves through
:func:`write_model_folder`, with a ``training.json`` of facts beside the card
that was rendered from them (``tagger-train list`` reads the facts, never the card).
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from tagger.head import Head
from tagger.model import CARD_FILE, LAYOUT_FILE, NETWORK_FILE, GenreModel, ModelError, runtime_file
from tagger.settings import SETTINGS_FILE, ModelSettings

TRAINING_FILE = "training.json"
# Largest difference of a reloaded model's probabilities from the trained one's (LiteRT vs Keras float32).
RELOAD_TOLERANCE = 1e-4

NetworkWriter = Callable[[Path], None]


def copy_network(source: Path) -> NetworkWriter:
    """A writer that copies the network of the model folder ``source`` (a head learned on its features)."""

    def write(folder: Path) -> None:
        for name in (NETWORK_FILE, LAYOUT_FILE):
            shutil.copy2(Path(source) / name, folder / name)
        lite = runtime_file(source)
        if lite.is_file():
            shutil.copy2(lite, folder / lite.name)

    return write


def now() -> str:
    """The local time, ISO 8601 to the second, for ``training.json``."""
    return datetime.now(timezone.utc).astimezone().isoformat(timespec="seconds")


def read_facts(model_dir: Path) -> dict:
    """``training.json`` of a model folder ({} when it has none or it is unreadable)."""
    try:
        facts = json.loads((Path(model_dir) / TRAINING_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return facts if isinstance(facts, dict) else {}


def write_model_folder(target: Path, write_network: NetworkWriter, head: Head, settings: ModelSettings,
                       facts: dict, card: str, probe: np.ndarray, expected: np.ndarray) -> Path:
    """Write a whole model folder at ``target``, replacing one there only once the new one is checked.

    Parameters
    ----------
    target : Path
        Model folder to create or replace.
    write_network : callable
        Writes ``network.keras``, its LiteRT copy and ``network.json`` into the staging folder.
    head : Head
    settings : ModelSettings
    facts : dict
        What the training did, JSON-serialisable; saved as ``training.json``.
    card : str
        ``MODEL_CARD.md``, rendered from ``facts``.
    probe : np.ndarray, shape (n, frames, n_mels)
        A few real input windows.
    expected : np.ndarray, shape (n, n_genres)
        The trained model's probabilities of ``probe``; the reloaded folder must give them.

    Raises
    ------
    ModelError
        When ``target`` holds something other than a model, or the saved folder does not load or does
        not predict what was trained; nothing is replaced then.
    """
    target = Path(target)
    check_replaceable(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    staging = target.parent / f".{target.name}.partial-{os.getpid()}"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir()
    try:
        write_network(staging)
        head.save(staging)
        settings.save(staging)
        (staging / TRAINING_FILE).write_text(json.dumps(facts, indent=2) + "\n", encoding="utf-8")
        (staging / CARD_FILE).write_text(card, encoding="utf-8")
        try:
            check_predictions(staging, probe, expected)
        except ModelError as exc:
            raise ModelError(f"{exc}; nothing was saved") from None
        _replace(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def check_replaceable(target: Path) -> None:
    """Only a model folder (or an empty one) is ever replaced: ``--out ~/Music`` must not take the music."""
    if target.exists() and not (target / SETTINGS_FILE).is_file() and (not target.is_dir() or any(target.iterdir())):
        raise ModelError(f"{target} exists and is not a model folder: choose a new folder for the model")


def check_predictions(folder: Path, probe: np.ndarray, expected: np.ndarray) -> None:
    """The folder, loaded as the tagger loads it, must predict ``expected`` for ``probe``.

    Raises
    ------
    ModelError
        When a probability differs by more than ``RELOAD_TOLERANCE``.
    """
    reloaded = GenreModel.load(str(folder)).predict(probe)
    difference = float(np.max(np.abs(reloaded - expected))) if len(probe) else 0.0
    if not difference <= RELOAD_TOLERANCE:
        raise ModelError(f"the saved model does not predict what the trained one did (difference {difference:.2g})")


def _replace(staging: Path, target: Path) -> None:
    """Move ``staging`` to ``target``; an older folder there goes only after the new one is in place."""
    old = None
    if target.exists():
        old = target.parent / f".{target.name}.old-{os.getpid()}"
        os.replace(target, old)
    os.replace(staging, target)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
