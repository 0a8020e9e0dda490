"""Load a genre model and score log-Mel windows with it."""

from __future__ import annotations

import contextlib
import hashlib
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from tagger.settings import SETTINGS_FILE, ModelSettings

MODEL_FILE = "model.keras"
CARD_FILE = "MODEL_CARD.md"
DEFAULT_MODEL = "default"


class ModelError(Exception):
    """A model could not be found or loaded; the message says why, for the user."""


def shipped_models_dir() -> Path:
    """Folder of the models that ship with the package."""
    return Path(str(resources.files("tagger.resources"))) / "models"


def user_models_dir() -> Path:
    """Folder of the models the user trained (``tagger-train retrain``)."""
    from tagger.paths import data_dir

    return data_dir() / "models"


def resolve_model(name_or_path: str) -> Path:
    """Folder of the model called ``name_or_path``.

    A path to a model folder is taken as it is; a bare name is looked up among
    the user's models first, then the shipped ones ("default").

    Raises
    ------
    ModelError
        When no such model exists.
    """
    candidate = Path(name_or_path).expanduser()
    if os.sep in name_or_path or candidate.is_dir():
        if (candidate / SETTINGS_FILE).is_file():
            return candidate.resolve()
        raise ModelError(f"{name_or_path}: not a model folder (no {SETTINGS_FILE} in it)")
    for base in (user_models_dir(), shipped_models_dir()):
        if (base / name_or_path / SETTINGS_FILE).is_file():
            return base / name_or_path
    raise ModelError(f"unknown model {name_or_path!r}: {list_model_names() or 'no models installed'} exist")


def list_model_names() -> list[str]:
    """Names of the user's and the shipped models."""
    names = []
    for base in (user_models_dir(), shipped_models_dir()):
        if base.is_dir():
            names += sorted(p.name for p in base.iterdir() if (p / SETTINGS_FILE).is_file())
    return names


def _fingerprint(model_dir: Path) -> str:
    digest = hashlib.sha256()
    for name in (MODEL_FILE, SETTINGS_FILE):
        digest.update((model_dir / name).read_bytes())
    return digest.hexdigest()[:16]


@dataclass
class GenreModel:
    """A loaded model with its settings.

    Attributes
    ----------
    name : str
        Folder name of the model.
    path : Path
        Model folder.
    settings : ModelSettings
    model_id : str
        Fingerprint of the weights and settings; results are cached under it.
    """

    name: str
    path: Path
    settings: ModelSettings
    model_id: str
    _keras_model: object

    @classmethod
    def load(cls, name_or_path: str = DEFAULT_MODEL, threads: int | None = None) -> "GenreModel":
        """Load a model by name or folder, in Keras safe mode (no code runs from the file).

        Parameters
        ----------
        name_or_path : str
            See :func:`resolve_model`.
        threads : int, optional
            CPU threads TensorFlow may use for one model call.

        Raises
        ------
        ModelError
            When the model is missing, corrupt or not a genre model.
        """
        path = resolve_model(name_or_path)
        try:
            settings = ModelSettings.load(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: unreadable model settings ({exc})") from None
        keras_model = load_keras_model(path / MODEL_FILE, threads)
        n_outputs = keras_model.output_shape[-1]
        if n_outputs != len(settings.genres):
            raise ModelError(f"{path}: the model has {n_outputs} outputs for {len(settings.genres)} genres")
        return cls(path.name, path, settings, _fingerprint(path), keras_model)

    @property
    def card_path(self) -> Path:
        return self.path / CARD_FILE

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Genre probabilities of each window.

        Parameters
        ----------
        windows : np.ndarray, shape (n, window_frames, n_mels)
            Log-Mel windows from :func:`tagger.features.track_windows`.

        Returns
        -------
        np.ndarray, shape (n, n_genres)
            float32 probabilities; each row sums to 1.
        """
        if len(windows) == 0:
            return np.zeros((0, len(self.settings.genres)), dtype=np.float32)
        return np.asarray(self._keras_model(windows, training=False), dtype=np.float32)


@contextlib.contextmanager
def _native_stderr_silenced():
    """Hide what TensorFlow's C++ start-up prints on file descriptor 2 (log noise, not errors)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)


def load_keras_model(path: Path, threads: int | None = None):
    """Load a ``.keras`` file in safe mode, with a user-facing error when that fails."""
    with _native_stderr_silenced():
        import keras
        import tensorflow as tf

    if threads:
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(1)
        except RuntimeError:
            pass  # TensorFlow already started in this process: its pools stay as they are.
    if not Path(path).is_file():
        raise ModelError(f"{path}: model file missing")
    try:
        return keras.saving.load_model(path, compile=False, safe_mode=True)
    except Exception as exc:  # noqa: BLE001 - Keras raises many kinds for foreign files
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ModelError(f"{path}: not a loadable genre model ({reason[:200]})") from None
