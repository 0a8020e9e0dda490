"""Settings that training and tagging must share, stored beside each model.

A model is only ever fed features computed with the settings it was trained
with, so every number below travels with the model in ``settings.json``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path

SETTINGS_FILE = "settings.json"


class SettingsError(ValueError):
    """A model's settings cannot be used as they are; the message says why, in one line."""


def _reject_unknown(data: dict, known: Iterable[str], prefix: str = "") -> None:
    """Raise :class:`SettingsError` naming the first key of ``data`` that is not in ``known``.

    A key the code does not know is a setting the model was made with that would be
    silently ignored here (a typo, or a model from a newer tagger): features computed
    without it would not be the features the model was trained on.
    """
    unknown = sorted(set(data) - set(known))
    if unknown:
        raise SettingsError(f"unknown key {prefix + unknown[0]!r} in {SETTINGS_FILE}")


@dataclass(frozen=True)
class FeatureSettings:
    """Audio front end and window layout of one model.

    Attributes
    ----------
    sample_rate : int
        Rate, in Hz, the audio is resampled to before analysis.
    n_fft : int
        STFT frame length, in samples.
    hop_length : int
        STFT hop, in samples.
    n_mels : int
        Number of Mel bands.
    fmin, fmax : float
        Lowest and highest Mel band edge, in Hz (``fmax`` 0 means Nyquist).
    window_seconds : float
        Length of one analysis window, in seconds.
    window_hop_seconds : float
        Distance between the starts of consecutive windows, in seconds.
    max_windows : int
        Most windows analysed per track; longer tracks get this many windows
        spread evenly over their length.
    min_seconds : float
        Shortest track, in seconds, that is analysed at all.
    """

    sample_rate: int = 16000
    n_fft: int = 512
    hop_length: int = 256
    n_mels: int = 96
    fmin: float = 0.0
    fmax: float = 8000.0
    window_seconds: float = 4.0
    window_hop_seconds: float = 2.0
    max_windows: int = 15
    min_seconds: float = 1.0

    @property
    def window_samples(self) -> int:
        """Samples in one analysis window."""
        return int(round(self.window_seconds * self.sample_rate))

    @property
    def window_hop_samples(self) -> int:
        """Samples between the starts of consecutive windows."""
        return int(round(self.window_hop_seconds * self.sample_rate))

    @property
    def window_frames(self) -> int:
        """Spectrogram frames in one analysis window."""
        return self.window_samples // self.hop_length

    @property
    def window_hop_frames(self) -> int:
        """Spectrogram frames between the starts of consecutive windows."""
        return self.window_hop_samples // self.hop_length


@dataclass(frozen=True)
class ModelSettings:
    """Everything a model needs besides its weights.

    Attributes
    ----------
    genres : tuple of str
        Genre identifiers, in the order of the model's outputs.
    features : FeatureSettings
        The audio front end the model was trained with.
    display_names : dict
        Genre identifier -> name written into tags, where it differs from the
        built-in display names (retrained models keep the user's spelling).
    min_confidence : float
        Default confidence below which a prediction is not written, chosen on
        validation data when the model was trained.
    temperature : float
        Softmax temperature already folded into the model's outputs; recorded
        for the model card.
    """

    genres: tuple[str, ...]
    features: FeatureSettings = field(default_factory=FeatureSettings)
    display_names: dict[str, str] = field(default_factory=dict)
    min_confidence: float = 0.0
    temperature: float = 1.0

    def to_json(self) -> str:
        data = asdict(self)
        data["genres"] = list(self.genres)
        return json.dumps(data, indent=2, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> "ModelSettings":
        """Settings from the text of a ``settings.json``.

        Raises
        ------
        SettingsError
            When a key, at the top or under ``features``, is not a setting this code knows.
        ValueError, KeyError, TypeError
            When the text is not JSON, or ``genres`` is missing or a value has the wrong type.
        """
        data = json.loads(text)
        _reject_unknown(data, (f.name for f in fields(cls)))
        _reject_unknown(data.get("features", {}), (f.name for f in fields(FeatureSettings)), prefix="features.")
        features = FeatureSettings(**data.get("features", {}))
        return cls(
            genres=tuple(data["genres"]),
            features=features,
            display_names=dict(data.get("display_names", {})),
            min_confidence=float(data.get("min_confidence", 0.0)),
            temperature=float(data.get("temperature", 1.0)),
        )

    def save(self, model_dir: Path) -> None:
        (Path(model_dir) / SETTINGS_FILE).write_text(self.to_json() + "\n", encoding="utf-8")

    @classmethod
    def load(cls, model_dir: Path) -> "ModelSettings":
        return cls.from_json((Path(model_dir) / SETTINGS_FILE).read_text(encoding="utf-8"))
