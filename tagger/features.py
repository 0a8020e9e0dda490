"""Log-Mel spectrogram windows: the model's input."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np
import scipy.fft

from tagger.decode import DecodedTrack, decode_track
from tagger.settings import FeatureSettings

# Slaney's Mel scale (librosa's default, htk=False): linear below 1 kHz, logarithmic above.
_MEL_LINEAR_HZ = 200.0 / 3
_MEL_LOG_HZ = 1000.0
_MEL_LOG_STEP = np.log(6.4) / 27.0
_MEL_AT_LOG_HZ = _MEL_LOG_HZ / _MEL_LINEAR_HZ


def _hz_to_mel(hz: np.ndarray) -> np.ndarray:
    """Slaney Mel value of frequencies ``hz`` (in Hz), as ``librosa.hz_to_mel``."""
    hz = np.asarray(hz, dtype=np.float64)
    logarithmic = _MEL_AT_LOG_HZ + np.log(np.maximum(hz, _MEL_LOG_HZ) / _MEL_LOG_HZ) / _MEL_LOG_STEP
    return np.where(hz >= _MEL_LOG_HZ, logarithmic, hz / _MEL_LINEAR_HZ)


def _mel_to_hz(mel: np.ndarray) -> np.ndarray:
    """Frequencies in Hz of Slaney Mel values ``mel``, as ``librosa.mel_to_hz``."""
    mel = np.asarray(mel, dtype=np.float64)
    return np.where(mel >= _MEL_AT_LOG_HZ, _MEL_LOG_HZ * np.exp(_MEL_LOG_STEP * (mel - _MEL_AT_LOG_HZ)),
                    _MEL_LINEAR_HZ * mel)


def mel_filterbank(sample_rate: int, n_fft: int, n_mels: int, fmin: float = 0.0,
                   fmax: float | None = None) -> np.ndarray:
    """Slaney-normalised triangular Mel filters, equal to ``librosa.filters.mel``'s defaults.

    Written out here because importing librosa (SciPy's signal and stats
    packages, numba) took about 0.9 s of the tagger's 1.6 s start-up, and
    this was the only thing the tagger used it for. librosa stays the
    reference: a test holds the two equal.

    Parameters
    ----------
    sample_rate : int
        Audio sample rate, in Hz.
    n_fft : int
        FFT length, in samples.
    n_mels : int
        Number of Mel bands.
    fmin, fmax : float
        Lowest and highest filter edge, in Hz (``fmax`` None: ``sample_rate / 2``).

    Returns
    -------
    np.ndarray, shape (n_mels, 1 + n_fft // 2)
        float32 weights; each filter has unit area in Hz.
    """
    fmax = sample_rate / 2 if fmax is None else fmax
    fft_hz = np.fft.rfftfreq(n_fft, 1.0 / sample_rate)
    edges = _mel_to_hz(np.linspace(_hz_to_mel(fmin), _hz_to_mel(fmax), n_mels + 2))
    widths = np.diff(edges)
    ramps = edges[:, np.newaxis] - fft_hz
    rising = -ramps[:-2] / widths[:-1, np.newaxis]
    falling = ramps[2:] / widths[1:, np.newaxis]
    weights = np.maximum(0.0, np.minimum(rising, falling)) * (2.0 / (edges[2:] - edges[:-2]))[:, np.newaxis]
    return weights.astype(np.float32)


@lru_cache(maxsize=8)
def _mel_basis(settings: FeatureSettings) -> np.ndarray:
    return mel_filterbank(settings.sample_rate, settings.n_fft, settings.n_mels, settings.fmin, settings.fmax or None)


def load_front_end(settings: FeatureSettings = FeatureSettings()) -> None:
    """Build the Mel filters :func:`log_mel` needs now, in this thread.

    Otherwise the first decoder thread builds them while holding the GIL, which
    an interactive main thread feels; calling this first keeps that cost where a
    program starts.
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
