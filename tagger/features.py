"""Log-Mel spectrogram windows: the model's input."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import librosa
import numpy as np
import scipy.fft

from tagger.decode import DecodedTrack, decode_track
from tagger.settings import FeatureSettings


@lru_cache(maxsize=8)
def _mel_basis(settings: FeatureSettings) -> np.ndarray:
    return librosa.filters.mel(
        sr=settings.sample_rate, n_fft=settings.n_fft, n_mels=settings.n_mels,
        fmin=settings.fmin, fmax=settings.fmax or None, dtype=np.float32,
    )


def load_front_end(settings: FeatureSettings = FeatureSettings()) -> None:
    """Import what :func:`log_mel` needs (librosa's filters pull in SciPy: about 1 s) in this thread, now.

    An import in a worker thread holds the GIL throughout, freezing an interactive
    main thread; calling this first keeps that cost where a program starts.
    """
    _mel_basis(settings)


@lru_cache(maxsize=8)
def _hann(n_fft: int) -> np.ndarray:
    """Periodic Hann window, as librosa and scipy use for spectra."""
    return (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(n_fft) / n_fft)).astype(np.float32)


def log_mel(audio: np.ndarray, settings: FeatureSettings) -> np.ndarray:
    """Log-compressed Mel power spectrogram.

    Frames are not centred: frame ``i`` covers samples
    ``[i * hop_length, i * hop_length + n_fft)``; callers add the context.
    Computed in float32 throughout (float16 overflows on loud audio).

    Parameters
    ----------
    audio : np.ndarray, shape (..., n_samples)
        Mono audio at ``settings.sample_rate``.
    settings : FeatureSettings

    Returns
    -------
    np.ndarray, shape (..., n_frames, n_mels)
        ``log10(1 + 10000 * mel_power)``, float32.
    """
    frames = np.lib.stride_tricks.sliding_window_view(np.asarray(audio, dtype=np.float32), settings.n_fft, axis=-1)
    frames = frames[..., :: settings.hop_length, :] * _hann(settings.n_fft)
    # scipy's FFT keeps float32 and is about 3x faster here than numpy's.
    spectrum = scipy.fft.rfft(frames, axis=-1)
    power = (spectrum.real**2 + spectrum.imag**2).astype(np.float32)
    mel = power @ _mel_basis(settings).T
    return np.log10(1.0 + 10000.0 * mel, dtype=np.float32)


@dataclass(frozen=True)
class TrackWindows:
    """The model's input for one track.

    Attributes
    ----------
    mels : np.ndarray, shape (n_windows, window_frames, n_mels)
        Log-Mel spectrogram of each analysis window, float32.
    starts : np.ndarray, shape (n_windows,)
        Start of each window in the track, in seconds.
    duration : float
        Length of the whole track, in seconds.
    """

    mels: np.ndarray
    starts: np.ndarray
    duration: float


def file_windows(path: Path, settings: FeatureSettings) -> TrackWindows:
    """Decode the analysed spans of ``path`` and cut them into model windows.

    Raises
    ------
    tagger.decode.DecodeError
        When the file cannot be decoded.
    """
    return track_windows(decode_track(path, settings), settings)


def track_windows(track: DecodedTrack, settings: FeatureSettings) -> TrackWindows:
    """Cut a decoded track into the log-Mel windows the model scores.

    A track shorter than one window is repeated to fill it, so the model sees
    music rather than padding.
    """
    frames, hop = settings.window_frames, settings.window_hop_frames
    context = settings.n_fft // 2
    mels, starts = [], []
    for segment in track.segments:
        audio = segment.audio
        needed = settings.window_samples + 2 * context
        if len(audio) < needed:
            music = audio[context:len(audio) - context] if len(audio) > 2 * context else audio
            audio = np.pad(np.resize(music, settings.window_samples), context)
        spec = log_mel(audio, settings)
        count = 1 + max(0, (spec.shape[0] - frames) // hop)
        for k in range(count):
            mels.append(spec[k * hop:k * hop + frames])
            starts.append(segment.start + k * settings.window_hop_seconds)
    return TrackWindows(mels=np.stack(mels), starts=np.asarray(starts, dtype=np.float32), duration=track.duration)
