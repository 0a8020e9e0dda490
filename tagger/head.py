"""A genre head: one softmax layer applied in NumPy to the features a model's network outputs.

A model folder holds a network (LiteRT, with its Keras source) whose outputs
are frozen features, and a head stored as plain arrays in ``head.npz``. Tagging
and learning a head therefore need NumPy and LiteRT only, never TensorFlow.
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

HEAD_FILE = "head.npz"


class HeadError(Exception):
    """A head file is missing or malformed; the message says why, for the user."""


@dataclass(frozen=True)
class Head:
    """Softmax head: probabilities = softmax(features @ weights + bias).

    Attributes
    ----------
    weights : np.ndarray, shape (n_features, n_genres)
        float32; the temperature is already folded in (divided out).
    bias : np.ndarray, shape (n_genres,)
        float32; the temperature is already folded in.
    feature : str
        Name of the network output the head reads (a key of the network's layout).
    temperature : float
        Softmax temperature folded into ``weights`` and ``bias``, for the record.
    """

    weights: np.ndarray
    bias: np.ndarray
    feature: str
    temperature: float = 1.0

    @property
    def n_features(self) -> int:
        """Width of the feature block the head reads."""
        return int(self.weights.shape[0])

    @property
    def n_genres(self) -> int:
        """Number of genre outputs."""
        return int(self.weights.shape[1])

    def logits(self, features: np.ndarray) -> np.ndarray:
        """Pre-softmax outputs, float64, shape (n, n_genres), of features shaped (n, n_features)."""
        return np.asarray(features, dtype=np.float64) @ self.weights.astype(np.float64) + self.bias

    def apply(self, features: np.ndarray) -> np.ndarray:
        """Genre probabilities, float32, shape (n, n_genres); each row sums to 1."""
        return softmax(self.logits(features)).astype(np.float32)

    def folded(self, temperature: float) -> "Head":
        """This head with softmax(z / ``temperature``) folded into its weights and bias."""
        return Head((self.weights / temperature).astype(np.float32), (self.bias / temperature).astype(np.float32),
                    self.feature, self.temperature * temperature)

    def save(self, model_dir: Path) -> Path:
        """Write ``head.npz`` into ``model_dir``; returns its path."""
        path = Path(model_dir) / HEAD_FILE
        with open(path, "wb") as handle:  # a file object: np.savez would append .npz to a bare name
            np.savez(handle, weights=self.weights.astype(np.float32), bias=self.bias.astype(np.float32),
                     feature=np.str_(self.feature), temperature=np.float64(self.temperature))
        return path

    @classmethod
    def load(cls, model_dir: Path) -> "Head":
        """Read ``head.npz`` from ``model_dir`` (no pickled objects are ever loaded).

        Raises
        ------
        HeadError
            When the file is missing, unreadable or its arrays do not fit together.
        """
        path = Path(model_dir) / HEAD_FILE
        try:
            with np.load(path, allow_pickle=False) as data:
                head = cls(np.asarray(data["weights"], np.float32), np.asarray(data["bias"], np.float32),
                           str(data["feature"]), float(data["temperature"]))
        except FileNotFoundError:
            raise HeadError(f"{path}: head file missing") from None
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as exc:
            raise HeadError(f"{path}: not a readable head file ({exc})") from None
        if head.weights.ndim != 2 or head.bias.shape != (head.n_genres,):
            raise HeadError(f"{path}: weights {head.weights.shape} and bias {head.bias.shape} do not fit together")
        return head


def softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, float64."""
    z = np.asarray(logits, dtype=np.float64)
    z = np.exp(z - z.max(axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)
