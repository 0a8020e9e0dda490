"""Load a genre model and score log-Mel windows with it.

A model folder holds:

- ``network.keras``: the frozen feature network (Keras; what training builds on);
- ``network.<hash>.tflite``: its LiteRT copy, named after the Keras file's hash,
  which tagging runs (no TensorFlow needed);
- ``network.json``: which columns of the network's output are which feature;
- ``head.npz``: the genre head, applied in NumPy (:mod:`tagger.head`);
- ``settings.json``, ``MODEL_CARD.md`` and ``training.json``.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import json
import os
import sys
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

import numpy as np

from tagger.head import HEAD_FILE, Head, HeadError
from tagger.novelty import NOVELTY_FILE, Novelty, NoveltyError, load_novelty
from tagger.settings import SETTINGS_FILE, ModelSettings

if TYPE_CHECKING:  # the Keras runtime is optional (genre-tagger[train])
    import keras

NETWORK_FILE = "network.keras"
# LiteRT copy of network.keras, named after the Keras file's hash so a stale copy is never used.
RUNTIME_PATTERN = "network.{}.tflite"
LAYOUT_FILE = "network.json"
CARD_FILE = "MODEL_CARD.md"
# A whole Keras model with its genre layer inside: what genre-tagger 0.1 saved before heads were split off.
LEGACY_FILE = "model.keras"
DEFAULT_MODEL = "default"
TRAIN_EXTRA = "pip install 'genre-tagger[train]'"


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


def file_sha256(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def network_fingerprint(path: Path) -> str:
    """Hex SHA-256 of what a saved Keras network computes: its configuration and its weights.

    Two saves of one network differ in their bytes: ``metadata.json`` holds the
    save time, and ``config.json`` marks settings objects that layers shared
    in memory with ``shared_object_id`` (a memory address, absent once the file
    is loaded and saved again). Neither changes what the network computes, so
    the fingerprint hashes the weights and the configuration without those
    marks: identical builds get one fingerprint, and a rebuilt model keeps its
    id, the results cached under it, and the models learned on its network.
    A file that is not a Keras archive is hashed as bytes.
    """
    try:
        with zipfile.ZipFile(path) as archive:
            config = json.loads(archive.read("config.json"))
            weights = archive.read("model.weights.h5")
    except (zipfile.BadZipFile, KeyError, ValueError):
        return file_sha256(path)

    def unmarked(node: object) -> object:
        if isinstance(node, dict):
            return {key: unmarked(value) for key, value in node.items() if key != "shared_object_id"}
        return [unmarked(value) for value in node] if isinstance(node, list) else node

    digest = hashlib.sha256(json.dumps(unmarked(config), sort_keys=True).encode())
    digest.update(weights)
    return digest.hexdigest()


def runtime_file(model_dir: Path) -> Path:
    """Where the LiteRT copy of ``model_dir/network.keras`` belongs (it may not exist)."""
    return Path(model_dir) / RUNTIME_PATTERN.format(file_sha256(Path(model_dir) / NETWORK_FILE)[:16])


def read_layout(model_dir: Path) -> dict[str, slice]:
    """Feature name -> columns of the network's output, from ``network.json``.

    Raises
    ------
    ModelError
        When the file is missing or malformed.
    """
    path = Path(model_dir) / LAYOUT_FILE
    try:
        outputs = json.loads(path.read_text(encoding="utf-8"))["outputs"]
        return {str(name): slice(int(start), int(stop)) for name, (start, stop) in outputs.items()}
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"{path}: unreadable network layout ({exc})") from None


class _KerasRuntime:
    """Runs the Keras network itself (imports TensorFlow: seconds of start-up)."""

    def __init__(self, path: Path, threads: int | None) -> None:
        self.model = load_keras_model(path, threads)
        self.n_outputs = int(self.model.output_shape[-1])

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        return np.asarray(self.model(windows, training=False), dtype=np.float32)


class _LiteRtRuntime:
    """Runs the network with LiteRT: starts in a fraction of a second, runs faster on CPU.

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
            raise ModelError(f"{path}: not a loadable LiteRT network ({exc})") from None
        self.n_outputs = int(self._output["shape"][-1])

    def __call__(self, windows: np.ndarray) -> np.ndarray:
        out = np.empty((len(windows), self.n_outputs), dtype=np.float32)
        for i, window in enumerate(np.asarray(windows, dtype=np.float32)):
            self._interpreter.set_tensor(self._input["index"], window[np.newaxis])
            self._interpreter.invoke()
            out[i] = self._interpreter.get_tensor(self._output["index"])[0]
        return out


def _importable(module: str) -> bool:
    """Whether ``module`` is installed, without importing it (Keras would start TensorFlow)."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


def _network_runtime(model_dir: Path, threads: int | None, runtime: str | None) -> _KerasRuntime | _LiteRtRuntime:
    """The runtime that runs the folder's network: LiteRT when it can, else Keras.

    Raises
    ------
    ModelError
        When the asked-for runtime cannot run here; the message names what to install or run.
    """
    keras_file = model_dir / NETWORK_FILE
    if not keras_file.is_file():
        raise ModelError(f"{keras_file}: network file missing")
    lite_file = runtime_file(model_dir)
    has_litert = _importable("ai_edge_litert")
    if runtime is None:
        runtime = "litert" if lite_file.is_file() and has_litert else "keras"
    if runtime == "litert":
        if not lite_file.is_file():
            raise ModelError(f"{model_dir}: no LiteRT copy of this network (run `tagger-train export {model_dir}`)")
        if not has_litert:
            raise ModelError(f"LiteRT is not installed (it has no wheel for this platform): {TRAIN_EXTRA} "
                             "to tag with the Keras runtime instead")
        return _LiteRtRuntime(lite_file, threads)
    if not _importable("keras"):
        reason = "its LiteRT copy is missing" if has_litert else "LiteRT has no wheel for this platform"
        raise ModelError(f"{model_dir}: {reason}, and the Keras runtime is not installed: {TRAIN_EXTRA}")
    return _KerasRuntime(keras_file, threads)


def _check_format(model_dir: Path) -> None:
    """Refuse a folder saved by genre-tagger 0.1 (one whole Keras model), saying how to convert it."""
    if (model_dir / LEGACY_FILE).is_file() and not (model_dir / HEAD_FILE).is_file():
        raise ModelError(f"{model_dir}: saved by an older genre-tagger; convert it once with "
                         f"`tagger-train export {model_dir}` (needs {TRAIN_EXTRA})")


def _load_head(model_dir: Path, layout: dict[str, slice], n_genres: int) -> tuple[Head, slice]:
    """The folder's head and the columns of the network output it reads."""
    try:
        head = Head.load(model_dir)
    except HeadError as exc:
        raise ModelError(str(exc)) from None
    columns = layout.get(head.feature)
    if columns is None:
        raise ModelError(f"{model_dir}: the head reads {head.feature!r}, which the network does not output "
                         f"({', '.join(layout)})")
    if columns.stop - columns.start != head.n_features or head.n_genres != n_genres:
        raise ModelError(f"{model_dir}: the head maps {head.n_features} features to {head.n_genres} genres; "
                         f"the network gives {columns.stop - columns.start} and the settings name {n_genres}")
    return head, columns


def _load_novelty(model_dir: Path, layout: dict[str, slice]) -> Novelty | None:
    """The folder's abstain rule for unfamiliar music (None without one), checked against the network."""
    try:
        rule = load_novelty(model_dir)
    except NoveltyError as exc:
        raise ModelError(str(exc)) from None
    columns = layout.get(rule.feature) if rule else None
    if rule and (columns is None or columns.stop - columns.start != len(rule.centre)):
        raise ModelError(f"{model_dir}: {NOVELTY_FILE} reads {len(rule.centre)} features of {rule.feature!r}, "
                         "which the network does not output")
    return rule


@dataclass
class GenreModel:
    """A loaded model: network runtime, head and settings.

    Attributes
    ----------
    name : str
        Folder name of the model.
    path : Path
        Model folder.
    settings : ModelSettings
    model_id : str
        Fingerprint of the network, head and settings; results are cached under it.
    network_id : str
        Fingerprint of the network alone (:func:`network_fingerprint`); features are cached under it.
    runtime : str
        "litert" when the network's LiteRT copy runs, else "keras".
    head : Head
    layout : dict
        Feature name -> columns of the network's output.
    novelty : Novelty or None
        Abstain rule for music unlike the training files (learned models; ``novelty.npz``).
    """

    name: str
    path: Path
    settings: ModelSettings
    model_id: str
    network_id: str
    runtime: str
    head: Head
    layout: dict[str, slice]
    _network: object
    novelty: Novelty | None = None

    @classmethod
    def load(cls, name_or_path: str = DEFAULT_MODEL, threads: int | None = None,
             runtime: str | None = None) -> "GenreModel":
        """Load a model by name or folder; no code stored in a model file ever runs.

        Parameters
        ----------
        name_or_path : str
            See :func:`resolve_model`.
        threads : int, optional
            CPU threads one network call may use.
        runtime : {"litert", "keras"}, optional
            Force one runtime (default: LiteRT when installed and the folder has
            an up-to-date LiteRT copy, else Keras).

        Raises
        ------
        ModelError
            When the model is missing, corrupt, not a genre model, or cannot run here.
        """
        path = resolve_model(name_or_path)
        _check_format(path)
        try:
            settings = ModelSettings.load(path)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ModelError(f"{path}: unreadable model settings ({exc})") from None
        layout = read_layout(path)
        head, columns = _load_head(path, layout, len(settings.genres))
        network = _network_runtime(path, threads, runtime)
        if network.n_outputs != max(c.stop for c in layout.values()):
            raise ModelError(f"{path}: the network has {network.n_outputs} outputs; {LAYOUT_FILE} describes "
                             f"{max(c.stop for c in layout.values())}")
        network_id = network_fingerprint(path / NETWORK_FILE)[:16]
        novelty = _load_novelty(path, layout)
        hashed = (HEAD_FILE, SETTINGS_FILE) + ((NOVELTY_FILE,) if novelty else ())
        parts = [network_id] + [file_sha256(path / name) for name in hashed]
        model_id = hashlib.sha256("".join(parts).encode()).hexdigest()[:16]
        runtime_name = "keras" if isinstance(network, _KerasRuntime) else "litert"
        return cls(path.name, path, settings, model_id, network_id, runtime_name, head, layout, network, novelty)

    @property
    def card_path(self) -> Path:
        return self.path / CARD_FILE

    def features(self, windows: np.ndarray) -> np.ndarray:
        """The network's outputs for each window, float32, shape (n, width); see :attr:`layout`."""
        width = max(c.stop for c in self.layout.values())
        if len(windows) == 0:
            return np.zeros((0, width), dtype=np.float32)
        return self._network(np.ascontiguousarray(windows, dtype=np.float32))

    def predict(self, windows: np.ndarray) -> np.ndarray:
        """Genre probabilities of each window.

        Parameters
        ----------
        windows : np.ndarray, shape (n, window_frames, n_mels)
            Log-Mel windows from :func:`tagger.features.track_windows`.

        Returns
        -------
        np.ndarray, shape (n, n_genres)
            float32 probabilities; each row sums to 1. Windows a learned model's abstain rule finds
            unlike its training files get uniform rows (:mod:`tagger.novelty`).
        """
        if len(windows) == 0:
            return np.zeros((0, len(self.settings.genres)), dtype=np.float32)
        return self.probabilities(self.features(windows))

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        """Genre probabilities (n, n_genres) of the network's outputs (n, width); see :meth:`predict`."""
        probs = self.head.apply(features[:, self.layout[self.head.feature]])
        if self.novelty is None:
            return probs
        return self.novelty.apply(features[:, self.layout[self.novelty.feature]], probs)


@contextlib.contextmanager
def native_stderr_silenced() -> Iterator[None]:
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


def quiet_import(module: str) -> ModuleType:
    """Import ``module`` (one that starts TensorFlow) with TensorFlow's C++ start-up chatter hidden.

    Raises
    ------
    ModelError
        When TensorFlow or Keras is not installed, naming the extra that brings them.
    """
    try:
        with native_stderr_silenced():
            return importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name not in ("keras", "tensorflow"):
            raise
        raise ModelError(f"this command trains networks with TensorFlow, which is not installed: {TRAIN_EXTRA}") from None


def load_keras_model(path: Path, threads: int | None = None) -> keras.Model:
    """Load a ``.keras`` file in safe mode, with a user-facing error when that fails.

    Raises
    ------
    ModelError
        When Keras is not installed (naming the extra), the file is missing or not a Keras model.
    """
    if not _importable("keras"):
        raise ModelError(f"{path}: reading a Keras file needs TensorFlow: {TRAIN_EXTRA}")
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
