"""Decode the parts of an audio file that the model analyses.

Only the analysed spans are decoded and resampled: a long track costs about
what a 30 s clip costs. libsndfile (through soundfile) reads WAV, AIFF, FLAC,
Ogg Vorbis/Opus and MP3 and seeks in all of them; FFmpeg (through PyAV, whose
wheels carry their own FFmpeg) reads everything else, M4A/AAC and WMA above all.
Which is tried first on a file is declared by the format registry (:mod:`tagger.formats`).
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

import mutagen
import numpy as np
import soundfile
import soxr

from tagger.formats import Decoder, first_decoder
from tagger.settings import FeatureSettings

# Containers whose header states their length, which libsndfile does not check: it reads a WAV or
# AIFF cut off mid-download to where it stops, without a word.
_DECLARED_LENGTH = frozenset({"WAV", "WAVEX", "AIFF"})
# Audio this much shorter than its header says is a cut-off file, not rounding in the header (s).
_TRUNCATION_SLACK = 0.5
# A streamed WAV gives its data size as 0xFFFFFFFF, "until the end of the file": no length at all.
_STREAMED_DATA_SIZE = 0xFFFFFFFF

# Native samples decoded (and dropped) before a seek target: the first frame a codec
# like AAC decodes after a seek lacks its overlap with the frame before, so it is wrong.
_PREROLL = 4096


class DecodeError(Exception):
    """A file could not be decoded; the message says why, for the user."""


class CutOffError(DecodeError):
    """The header promises more audio than the file holds: no other reader would find the rest."""


@dataclass(frozen=True)
class Segment:
    """A stretch of mono audio at the model's rate.

    Attributes
    ----------
    start : float
        Where the stretch starts in the track, in seconds.
    audio : np.ndarray
        float32 samples, with ``n_fft // 2`` samples of context on each side
        so that spectrogram frames at the edges see the same audio they would
        in a whole-track transform.
    """

    start: float
    audio: np.ndarray


@dataclass(frozen=True)
class DecodedTrack:
    """The analysed parts of one track.

    Attributes
    ----------
    duration : float
        Length of the whole track, in seconds.
    segments : list of Segment
        One segment holding the whole track when it fits in ``max_windows``
        windows, else one segment per window, spread evenly over the track.
    """

    duration: float
    segments: list[Segment]


def window_starts(n_samples: int, settings: FeatureSettings) -> np.ndarray:
    """Start sample of each analysis window of a track.

    Parameters
    ----------
    n_samples : int
        Track length, in samples at ``settings.sample_rate``.
    settings : FeatureSettings

    Returns
    -------
    np.ndarray
        int64 start samples: every ``window_hop_samples`` when that gives at
        most ``max_windows`` windows, else ``max_windows`` starts spread
        evenly from the beginning to the last full window.
    """
    size, hop = settings.window_samples, settings.window_hop_samples
    if n_samples <= size:
        return np.zeros(1, dtype=np.int64)
    n_windows = 1 + (n_samples - size) // hop
    if n_windows <= settings.max_windows:
        return np.arange(n_windows, dtype=np.int64) * hop
    return np.linspace(0, n_samples - size, settings.max_windows).round().astype(np.int64)


def _check_readable(path: Path) -> os.stat_result:
    try:
        st = path.stat()
    except FileNotFoundError:
        raise DecodeError("file not found (dangling link or removed during the run)") from None
    except OSError as exc:
        raise DecodeError(f"cannot read file: {exc.strerror}") from None
    # Root ignores permission bits; a file nobody may read is still treated as unreadable.
    if not os.access(path, os.R_OK) or not st.st_mode & (stat.S_IRUSR | stat.S_IRGRP | stat.S_IROTH):
        raise DecodeError("permission denied: the file is not readable")
    if st.st_size == 0:
        raise DecodeError("empty file (0 bytes)")
    return st


def decode_track(path: Path, settings: FeatureSettings) -> DecodedTrack:
    """Decode the analysed spans of ``path`` as mono float32 at the model's rate.

    Parameters
    ----------
    path : Path
        Audio file.
    settings : FeatureSettings
        Sample rate and window layout of the model.

    Returns
    -------
    DecodedTrack

    Raises
    ------
    DecodeError
        With a one-line reason when the file cannot be read, holds no audio
        stream, or is shorter than ``settings.min_seconds``.
    """
    path = Path(path)
    _check_readable(path)
    errors = []
    readers = (_read_sndfile, _read_ffmpeg) if _libsndfile_may_read(path) else (_read_ffmpeg,)
    for reader in readers:
        try:
            return reader(path, settings)
        except CutOffError:
            raise  # FFmpeg would read the same cut-off audio, and a write into the file would fail its check
        except DecodeError as exc:
            errors.append(str(exc))
        except MemoryError:
            raise DecodeError("not enough memory to decode this file") from None
        except Exception as exc:  # noqa: BLE001 - decoder libraries raise many kinds
            errors.append(_describe(exc))
    # The last reader's reason is the most specific; a too-short file says so first.
    short = [e for e in errors if e.startswith("too short")]
    raise DecodeError(short[0] if short else errors[-1])


def _libsndfile_may_read(path: Path) -> bool:
    """Whether to try libsndfile on ``path`` before FFmpeg."""
    decoder = first_decoder(path)
    if decoder is Decoder.FFMPEG:
        return False
    if decoder is Decoder.LIBSNDFILE_IF_MPEG:
        # mpg123 prints "Note: Illegal Audio-MPEG-Header" lines on the user's terminal for a
        # file that is no MPEG audio. Only a file that opens with an ID3 tag or a frame sync goes
        # there; FFmpeg reads the rest (RIFF-wrapped MP3, leading junk) or fails quietly.
        try:
            with open(path, "rb") as file:
                head = file.read(3)
        except OSError:
            return True  # the readers will say why it cannot be read
        return head == b"ID3" or (len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0)
    return True


def declared_seconds(path: Path) -> float | None:
    """Length the WAV or AIFF header of ``path`` declares, in seconds; None where it declares none.

    Parameters
    ----------
    path : Path
        A WAV or AIFF file.

    Returns
    -------
    float or None
        Seconds of audio the header promises, or None for a streamed WAV (data
        size 0xFFFFFFFF) or a header mutagen cannot read (libsndfile read it).
    """
    try:
        info = mutagen.File(str(path)).info
    except (mutagen.MutagenError, OSError, AttributeError):
        return None
    frame_bytes = info.channels * info.bits_per_sample / 8
    if round(info.length * info.sample_rate * frame_bytes) >= _STREAMED_DATA_SIZE - frame_bytes:
        return None
    return float(info.length)


def _truncated(duration: float) -> DecodeError:
    # Both readers say this once the header has been read, so it is what the user sees for a cut-off download.
    return DecodeError(f"truncated or corrupt file: the audio stops before the {duration:.0f} s its header gives")


def _describe(exc: Exception) -> str:
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    lowered = text.lower()
    if "format not recognised" in lowered or "invalid data" in lowered or "not recognized" in lowered:
        return "not a readable audio file (unknown or corrupt format)"
    return f"cannot decode: {text}"


def _plan(n_native: int, native_rate: int, settings: FeatureSettings) -> tuple[float, list[tuple[int, int, float]]]:
    """Spans to decode, in native samples: (first, count, start seconds)."""
    duration = n_native / native_rate
    if duration < settings.min_seconds:
        raise DecodeError(f"too short to analyse ({duration:.2f} s; at least {settings.min_seconds:g} s needed)")
    n_model = int(round(duration * settings.sample_rate))
    starts = window_starts(n_model, settings)
    margin = settings.n_fft // 2
    if len(starts) == 1 or starts[1] - starts[0] == settings.window_hop_samples:
        return duration, [(0, n_native, 0.0)]
    spans = []
    for start in starts:
        first = int((start - margin) * native_rate / settings.sample_rate)
        count = int(np.ceil((settings.window_samples + 2 * margin) * native_rate / settings.sample_rate)) + 1
        spans.append((first, count, start / settings.sample_rate))
    return duration, spans


def _to_segment(mono: np.ndarray, first: int, native_rate: int, start: float, whole: bool,
                settings: FeatureSettings) -> Segment:
    """Resample one decoded span and give it its spectrogram context."""
    audio = mono.astype(np.float32, copy=False)
    if native_rate != settings.sample_rate:
        audio = soxr.resample(audio, native_rate, settings.sample_rate).astype(np.float32, copy=False)
    margin = settings.n_fft // 2
    if whole:
        audio = np.pad(audio, margin)
    else:
        # Spans are decoded from margin samples before the window; the track's
        # first window has nothing there, so it gets the zeros a whole-track
        # transform would see.
        missing = max(0, -first)
        if missing:
            audio = np.pad(audio, (int(round(missing * settings.sample_rate / native_rate)), 0))
        wanted = settings.window_samples + 2 * margin
        audio = np.pad(audio[:wanted], (0, max(0, wanted - len(audio))))
    if not np.all(np.isfinite(audio)):
        audio = np.nan_to_num(audio, nan=0.0, posinf=0.0, neginf=0.0)
    return Segment(start=start, audio=audio)


def channel_mean(block: np.ndarray) -> np.ndarray:
    """Mono mix: the mean of the channels, the same rule for every decoder.

    Parameters
    ----------
    block : np.ndarray, shape (n_samples, n_channels)
        float32 samples: libsndfile's interleaved frames, or FFmpeg's planes transposed.

    Returns
    -------
    np.ndarray, shape (n_samples,)
        float32; for one or two channels exactly ``block.mean(axis=1)``.
    """
    # A channel at a time: numpy's mean over a short last axis costs about 4 ms per
    # 4 s of stereo, a third of decoding a 4-minute song's analysed spans.
    mono = np.array(block[:, 0], dtype=np.float32)
    for channel in range(1, block.shape[1]):
        mono += block[:, channel]
    if block.shape[1] > 1:
        mono *= np.float32(1 / block.shape[1])
    return mono


def _read_sndfile(path: Path, settings: FeatureSettings) -> DecodedTrack:
    with soundfile.SoundFile(str(path)) as sf:
        native_rate, n_native = sf.samplerate, sf.frames
        if native_rate <= 0:
            raise DecodeError("no audio stream")
        if sf.format in _DECLARED_LENGTH:
            declared = declared_seconds(path)
            if declared is not None and declared - n_native / native_rate > _TRUNCATION_SLACK:
                raise CutOffError(_truncated(declared))
        duration, spans = _plan(n_native, native_rate, settings)
        whole = len(spans) == 1
        segments = []
        for first, count, start in spans:
            try:
                sf.seek(max(0, first))
                block = sf.read(count - max(0, -first), dtype="float32", always_2d=True)
            except soundfile.LibsndfileError:
                raise _truncated(duration) from None
            if block.size == 0:
                raise _truncated(duration)
            segments.append(_to_segment(channel_mean(block), first, native_rate, start, whole, settings))
    return DecodedTrack(duration=duration, segments=segments)


def _read_ffmpeg(path: Path, settings: FeatureSettings) -> DecodedTrack:
    import av  # imported here: most libraries never need FFmpeg

    try:
        container = av.open(str(path), metadata_errors="ignore")
    except av.error.InvalidDataError:
        raise DecodeError("not a readable audio file (unknown or corrupt format)") from None
    with container:
        if not container.streams.audio:
            raise DecodeError("no audio stream in this file")
        stream = container.streams.audio[0]
        native_rate = stream.codec_context.sample_rate or stream.rate
        if not native_rate:
            raise DecodeError("no audio stream in this file")
        if stream.duration is not None and stream.time_base is not None:
            seconds = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            seconds = container.duration / 1_000_000
        else:
            seconds = None
        if seconds is None:
            mono = _ffmpeg_read(container, stream, native_rate, 0, None)
            seconds = len(mono) / native_rate
            duration, spans = _plan(len(mono), native_rate, settings)
            if len(spans) == 1:
                return DecodedTrack(duration, [_to_segment(mono, 0, native_rate, 0.0, True, settings)])
            segments = [_to_segment(mono[max(0, f):max(0, f) + c], f, native_rate, s, False, settings)
                        for f, c, s in spans]
            return DecodedTrack(duration, segments)
        duration, spans = _plan(int(round(seconds * native_rate)), native_rate, settings)
        whole = len(spans) == 1
        origin = 0.0 if whole else _first_frame_time(path)
        segments = []
        for first, count, start in spans:
            try:
                mono = _ffmpeg_read(container, stream, native_rate, max(0, first), None if whole else count, origin)
            except av.error.InvalidDataError:
                raise _truncated(duration) from None
            if mono.size == 0:
                raise _truncated(duration)
            segments.append(_to_segment(mono, first, native_rate, start, whole, settings))
    return DecodedTrack(duration=duration, segments=segments)


def _first_frame_time(path: Path) -> float:
    """Timestamp, in seconds, of the first decoded frame: where sample 0 of a whole-file decode is.

    Streams do not all start at timestamp 0: FFmpeg's MP3 decoder starts after the encoder
    delay, and a WMA stream's first frame carries the timestamp of the packet after the codec's
    delay (93 ms into the timeline). A span placed by raw timestamps would then hold audio from
    93 ms away from the same stretch of a whole-file decode. Read from a container of its own:
    a decoder rewound after use does not give back the first frames a fresh one gives.
    """
    import av

    with av.open(str(path), metadata_errors="ignore") as container:
        for frame in container.decode(audio=0):
            return float(frame.pts * frame.time_base) if frame.pts is not None else 0.0
    return 0.0


def _ffmpeg_read(container, stream, native_rate: int, first: int, count: int | None,
                 origin: float = 0.0) -> np.ndarray:
    """Decode ``count`` mono samples from native sample ``first`` (None: to the end).

    ``origin`` is the timestamp, in seconds, of sample 0 (see :func:`_first_frame_time`).
    """
    import av

    # Keep the channels and average them here, as the libsndfile path does: FFmpeg's own
    # downmix to mono sums stereo at -3 dB each, which is 1.41x louder than the mean.
    resampler = av.AudioResampler(format="fltp", rate=native_rate)
    if first > 0:
        target = max(0, first - _PREROLL) / native_rate + origin
        container.seek(int(target / stream.time_base), stream=stream, backward=True)
    chunks: list[np.ndarray] = []
    have = 0
    position = None
    for packet in container.demux(stream):
        for frame in packet.decode():
            if position is None:
                position = (int(round((float(frame.pts * frame.time_base) - origin) * native_rate))
                            if frame.pts is not None else first)
            for out in resampler.resample(frame):
                data = channel_mean(out.to_ndarray().T)  # planar (channels, samples) -> (samples, channels)
                skip = max(0, first - position)
                position += len(data)
                if skip >= len(data):
                    continue
                chunks.append(data[skip:])
                have += len(data) - skip
        if count is not None and have >= count:
            break
    mono = np.concatenate(chunks) if chunks else np.zeros(0, dtype=np.float32)
    return mono if count is None else mono[:count]
