"""Load a genre model and score log-Mel windows with it."""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import sys
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from tagger.settings import SETTINGS_FILE, ModelSettings

MODEL_FILE = "model.keras"
# LiteRT copy of model.keras, named after the Keras file's hash so a stale copy is never used.
RUNTIME_PATTERN = "model.{}.tflite"
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
    raise ModelError(f"unknown model {name_or_path!r} (models: {', '.join(list_model_names()) or 'none installed'})")


def list_model_names() -> list[str]:
    """Names of the user's and the shipped models."""
    names = []
    for base in (user_models_dir(), shipped_models_dir()):
        if base.is_dir():
            names += sorted(p.name for p in base.iterdir() if (p / SETTINGS_FILE).is_file())
    return names


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class _KerasRuntime:
    """Scores windows with the Keras model itself (imports TensorFlow: seconds of start-up)."""

    def __init__(self, path: Path, threads: int | None) -> None:
        self.model = load_keras_model(path, threads)
        self.n_outputs = int(self.model.output_shape[-1])

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(windows, training=False), dtype=np.float32)


class _LiteRtRuntime:
    """Scores windows with LiteRT: starts in a fraction of a second, runs faster on CPU.

    One window per call: a window costs milliseconds against microseconds per
    call, and a fixed larger batch padded the engine's small batches (a few
    short files at a time) with wasted windows: 2.6x slower on 3 s files.
    """

    def __init__(self, path: Path, threads: int | None) -> None:
        from ai_edge_litert.interpreter import Interpreter

        try:
            self._interpreter = Interpreter(model_path=str(path), num_threads=threads or None)
            self._input = self._interpreter.get_input_details()[0]
            self._output = self._interpreter.get_output_details()[0]
            self._interpreter.resize_tensor_input(self._input["index"], [1, *self._input["shape"][1:]])
            with native_stderr_silenced():  # LiteRT announces its CPU delegate on the first call
                self._interpreter.allocate_tensors()
                self._interpreter.invoke()
        except (ValueError, RuntimeError) as exc:
            raise ModelError(f"{path}: not a loadable LiteRT model ({exc})") from None
        self.n_outputs = int(self._output["shape"][-1])

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        out = np.empty((len(windows), self.n_outputs), dtype=np.float32)
        for i, window in enumerate(np.asarray(windows, dtype=np.float32)):
            self._interpreter.set_tensor(self._input["index"], window[np.newaxis])
            self._interpreter.invoke()
            out[i] = self._interpreter.get_tensor(self._output["index"])[0]
        return out


def _litert_available() -> bool:
    try:
        import ai_edge_litert.interpreter  # noqa: F401
    except ImportError:
        return False
    return True


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
    runtime : str
        "litert" when a LiteRT copy of the model is used, else "keras".
    """

    name: str
    path: Path
    settings: ModelSettings
    model_id: str
    runtime: str
    _score: object

    @classmethod
    def load(cls, name_or_path: str = DEFAULT_MODEL, threads: int | None = None,
             runtime: str | None = None) -> "GenreModel":
        """Load a model by name or folder; no code stored in a model file ever runs.

        The Keras file is loaded in Keras safe mode. When the folder also holds
        a LiteRT copy made from that very Keras file (see :func:`export_runtime`)
        and LiteRT is installed, the copy is used instead: same outputs, faster
        start and inference.

        Parameters
        ----------
        name_or_path : str
            See :func:`resolve_model`.
        threads : int, optional
            CPU threads one model call may use.
        runtime : {"litert", "keras"}, optional
            Force one runtime (default: LiteRT when available).

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
        keras_file = path / MODEL_FILE
        if not keras_file.is_file():
            raise ModelError(f"{keras_file}: model file missing")
        keras_hash = _sha256(keras_file)
        lite_file = path / RUNTIME_PATTERN.format(keras_hash[:16])
        use_lite = runtime == "litert" or (runtime is None and lite_file.is_file() and _litert_available())
        if use_lite and not lite_file.is_file():
            raise ModelError(f"{path}: no LiteRT copy of this model (run `tagger-train export {path}`)")
        score = _LiteRtRuntime(lite_file, threads) if use_lite else _KerasRuntime(keras_file, threads)
        if score.n_outputs != len(settings.genres):
            raise ModelError(f"{path}: the model has {score.n_outputs} outputs for {len(settings.genres)} genres")
        settings_hash = hashlib.sha256((path / SETTINGS_FILE).read_bytes()).hexdigest()
        model_id = hashlib.sha256((keras_hash + settings_hash).encode()).hexdigest()[:16]
        return cls(path.name, path, settings, model_id, "litert" if use_lite else "keras", score)

    @property
    def card_path(self) -> Path:
        return self.path / CARD_FILE

    def keras_model(self):
        """The Keras model itself (for training on top of it), loaded in safe mode."""
        if isinstance(self._score, _KerasRuntime):
            return self._score.model
        return load_keras_model(self.path / MODEL_FILE)

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
        return self._score(np.ascontiguousarray(windows, dtype=np.float32))


def export_runtime(model_dir: Path, keras_model=None) -> Path:
    """Write the LiteRT copy of ``model_dir/model.keras`` beside it, replacing older copies.

    Every tool that saves a model calls this, so tagging starts fast.
    """
    model_dir = Path(model_dir)
    keras_file = model_dir / MODEL_FILE
    if keras_model is None:
        keras_model = load_keras_model(keras_file)
    target = model_dir / RUNTIME_PATTERN.format(_sha256(keras_file)[:16])
    for stale in model_dir.glob(RUNTIME_PATTERN.format("*")):
        stale.unlink()
    with contextlib.redirect_stdout(io.StringIO()), native_stderr_silenced():
        keras_model.export(str(target), format="litert")
    return target


@contextlib.contextmanager
def native_stderr_silenced():
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
    with native_stderr_silenced():
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
