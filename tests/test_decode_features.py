"""Decoding the analysed spans and cutting them into log-Mel windows (tagger.decode, tagger.features)."""

from __future__ import annotations

import os
import subprocess
import sys
import wave
from pathlib import Path

import av
import numpy as np
import pytest
import soundfile
import soxr

from audio import FFMPEG_WRITTEN, make_track, music, write_audio
from tagger.decode import DecodeError, channel_mean, decode_track, window_starts
from tagger.features import log_mel, mel_filterbank, track_windows
from tagger.settings import FeatureSettings

S = FeatureSettings()
MARGIN = S.n_fft // 2
SPAN = S.window_samples + 2 * MARGIN
# Longest track analysed as one whole segment: max_windows windows at the regular hop.
WHOLE_LIMIT = S.window_samples + (S.max_windows - 1) * S.window_hop_samples


def write_chunked(path: Path, audio: np.ndarray, rate: int) -> Path:
    """Write with libsndfile block by block (one huge Vorbis write crashes libsndfile 1.2)."""
    ext = path.suffix.lower()
    if ext.lstrip(".") in FFMPEG_WRITTEN:
        return write_audio(path, audio, rate)
    fmt, subtype = {".ogg": ("OGG", "VORBIS"), ".opus": ("OGG", "OPUS"), ".flac": ("FLAC", "PCM_16"),
                    ".wav": ("WAV", "PCM_16"), ".mp3": ("MP3", "MPEG_LAYER_III"),
                    ".aiff": ("AIFF", "PCM_16")}[ext]
    with soundfile.SoundFile(str(path), "w", rate, audio.shape[1], format=fmt, subtype=subtype) as out:
        for start in range(0, len(audio), 16384):
            out.write(audio[start:start + 16384])
    return path


def whole_decode(path: Path) -> tuple[np.ndarray, int]:
    """Every sample of ``path``, mono (channel mean), at its own rate: the reference."""
    if path.suffix.lower().lstrip(".") in FFMPEG_WRITTEN:
        with av.open(str(path)) as container:
            rate = container.streams.audio[0].rate
            frames = [f.to_ndarray() for f in container.decode(audio=0)]
        return np.concatenate(frames, axis=1).mean(axis=0).astype(np.float32), rate
    data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    return data.mean(axis=1), rate


# -- window layout -------------------------------------------------------------------------------
def test_window_starts_short_track_has_one_window():
    for n in (1, S.window_samples // 2, S.window_samples):
        assert window_starts(n, S).tolist() == [0]


def test_window_starts_every_hop_up_to_max_windows():
    for k in range(1, S.max_windows):
        starts = window_starts(S.window_samples + k * S.window_hop_samples, S)
        assert starts.tolist() == [i * S.window_hop_samples for i in range(k + 1)]
    # A remainder shorter than a hop adds no window.
    assert len(window_starts(S.window_samples + S.window_hop_samples - 1, S)) == 1
    assert len(window_starts(WHOLE_LIMIT, S)) == S.max_windows
    assert np.all(np.diff(window_starts(WHOLE_LIMIT, S)) == S.window_hop_samples)


@pytest.mark.parametrize("seconds", [34, 60, 300, 1200, 36000])
def test_window_starts_long_track_exactly_max_windows_spread_evenly(seconds):
    n = int(seconds * S.sample_rate)
    starts = window_starts(n, S)
    assert starts.dtype == np.int64
    assert len(starts) == S.max_windows
    assert starts[0] == 0 and starts[-1] == n - S.window_samples
    gaps = np.diff(starts)
    assert np.all(gaps > 0) and gaps.max() - gaps.min() <= 1


# -- odd rates and channel counts ----------------------------------------------------------------
@pytest.mark.parametrize("ext,rate,channels", [
    ("wav", 8000, 1), ("flac", 11025, 2), ("wav", 96000, 2), ("flac", 96000, 1), ("aiff", 11025, 2),
    ("wav", 44100, 8), ("flac", 48000, 8), ("mp3", 44100, 2), ("mp3", 22050, 1), ("ogg", 22050, 1),
    ("ogg", 44100, 2), ("opus", 48000, 2), ("opus", 8000, 1), ("m4a", 44100, 2), ("m4a", 22050, 1),
    ("wma", 44100, 2), ("wma", 22050, 1),
])
def test_mono_float32_at_model_rate(tmp_path, ext, rate, channels):
    seconds = 5.0
    path = write_chunked(tmp_path / f"x.{ext}", music(seconds, rate, channels, seed=3), rate)
    track = decode_track(path, S)
    assert track.duration == pytest.approx(seconds, abs=0.08)
    assert len(track.segments) == 1
    segment = track.segments[0]
    assert segment.start == 0.0
    assert segment.audio.dtype == np.float32 and segment.audio.ndim == 1
    # The whole track at the model's rate, with its spectrogram context on each side.
    expected = seconds * S.sample_rate + 2 * MARGIN
    assert abs(len(segment.audio) - expected) <= 0.08 * S.sample_rate
    assert np.all(segment.audio[:MARGIN] == 0) and np.isfinite(segment.audio).all()
    assert 0.05 < np.abs(segment.audio).max() < 1.5
    windows = track_windows(track, S)
    assert windows.mels.shape == (1 + int((seconds - S.window_seconds) // S.window_hop_seconds),
                                  S.window_frames, S.n_mels)
    assert windows.mels.dtype == np.float32


def test_channels_are_averaged(tmp_path):
    """Eight different channels decode to their mean (no resampling at the model rate)."""
    rate = S.sample_rate
    audio = np.stack([music(3, rate, 1, seed=c)[:, 0] * (c + 1) / 10 for c in range(8)], axis=1)
    for ext in ("wav", "flac"):
        path = write_chunked(tmp_path / f"eight.{ext}", audio, rate)
        reference, _ = whole_decode(path)
        segment = decode_track(path, S).segments[0]
        np.testing.assert_allclose(segment.audio[MARGIN:-MARGIN], reference, atol=1e-6)


@pytest.mark.parametrize("channels", [1, 2, 6])
def test_channel_mean_is_the_mean_of_the_channels(channels):
    block = np.random.default_rng(channels).standard_normal((1000, channels)).astype(np.float32)
    mono = channel_mean(block)
    assert mono.dtype == np.float32 and mono.shape == (1000,)
    if channels <= 2:  # exactly what training features were computed with before
        np.testing.assert_array_equal(mono, block.mean(axis=1))
    np.testing.assert_allclose(mono, block.mean(axis=1), atol=1e-6)


def test_stereo_level_is_the_same_through_ffmpeg_and_libsndfile(tmp_path):
    """M4A goes through FFmpeg, FLAC through libsndfile: the same audio must give the same level."""
    audio = music(5, S.sample_rate, 2, seed=4)
    audio[:, 1] *= 0.25
    levels = {}
    for ext in ("flac", "m4a"):
        path = write_audio(tmp_path / f"x.{ext}", audio, S.sample_rate)
        levels[ext] = float(np.sqrt(np.mean(decode_track(path, S).segments[0].audio ** 2)))
    assert levels["m4a"] == pytest.approx(levels["flac"], rel=0.05)


# -- long files: only the analysed spans are decoded ---------------------------------------------
@pytest.mark.timeout(60)
def test_twenty_minute_file_decodes_only_fifteen_spans(tmp_path, monkeypatch):
    rate, seconds = 8000, 20 * 60
    path = tmp_path / "long.wav"
    rng = np.random.default_rng(0)
    with wave.open(str(path), "wb") as out:  # 19 MB of 8 kHz 16-bit noise, written cheaply
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        block = (rng.standard_normal(rate * 60) * 3000).astype("<i2").tobytes()
        for _ in range(seconds // 60):
            out.writeframes(block)

    frames_read = []
    real_read = soundfile.SoundFile.read

    def counting_read(self, frames=-1, *args, **kwargs):
        data = real_read(self, frames, *args, **kwargs)
        frames_read.append(len(data))
        return data

    monkeypatch.setattr(soundfile.SoundFile, "read", counting_read)
    track = decode_track(path, S)
    assert track.duration == pytest.approx(seconds)
    assert len(track.segments) == S.max_windows
    assert all(len(seg.audio) == SPAN and seg.audio.dtype == np.float32 for seg in track.segments)
    assert sum(seg.audio.nbytes for seg in track.segments) == S.max_windows * SPAN * 4
    span_native = SPAN * rate / S.sample_rate + 2
    assert len(frames_read) == S.max_windows and max(frames_read) <= span_native
    starts = window_starts(seconds * S.sample_rate, S) / S.sample_rate
    np.testing.assert_allclose([seg.start for seg in track.segments], starts, atol=1e-6)
    windows = track_windows(track, S)
    assert windows.mels.shape == (S.max_windows, S.window_frames, S.n_mels)
    np.testing.assert_allclose(windows.starts, starts, atol=1e-3)


@pytest.mark.parametrize("ext", ["wav", "m4a"])
def test_spans_equal_slices_of_whole_decoding_exactly_at_model_rate(tmp_path, ext):
    path = write_chunked(tmp_path / f"x.{ext}", music(45, S.sample_rate, 2, seed=5), S.sample_rate)
    track = decode_track(path, S)
    assert len(track.segments) == S.max_windows
    whole, _ = whole_decode(path)
    padded = np.pad(whole, MARGIN)
    starts = window_starts(int(round(track.duration * S.sample_rate)), S)
    for segment, start in zip(track.segments, starts):
        np.testing.assert_allclose(segment.audio, padded[start:start + SPAN], atol=1e-6)


@pytest.mark.parametrize("ext,rate", [("wav", 44100), ("flac", 22050), ("ogg", 44100), ("mp3", 44100),
                                      ("opus", 48000), ("m4a", 44100)])
def test_span_features_match_whole_file_features(tmp_path, ext, rate):
    """Seek-decoded windows give the log-Mel spectra of the same stretch of a whole-file decode."""
    path = write_chunked(tmp_path / f"x.{ext}", music(40, rate, 2, seed=6), rate)
    track = decode_track(path, S)
    assert len(track.segments) == S.max_windows
    whole, native = whole_decode(path)
    reference = np.pad(soxr.resample(whole, native, S.sample_rate).astype(np.float32), MARGIN)
    starts = window_starts(int(round(track.duration * S.sample_rate)), S)
    for segment, start in zip(track.segments, starts):
        ours = log_mel(segment.audio, S)
        theirs = log_mel(reference[start:start + SPAN], S)
        assert ours.shape == theirs.shape == (S.window_frames + 1, S.n_mels)
        # A seek may land a fraction of a native sample off: spectra agree closely, not bit for bit.
        assert np.abs(ours - theirs).mean() < 0.02 * theirs.mean()
        assert np.abs(ours[4:-4] - theirs[4:-4]).max() < 0.25 * theirs.max()


def test_wma_spans_land_within_a_millisecond_of_a_whole_decode(tmp_path):
    """WMA timestamps are whole milliseconds and its first frame's is not 0 (the codec's delay):
    each seek-decoded span still holds the audio a whole-file decode has there."""
    path = write_audio(tmp_path / "x.wma", music(40, 44100, 2, seed=6, kind="noise"), 44100)
    track = decode_track(path, S)
    assert len(track.segments) == S.max_windows
    whole, native = whole_decode(path)
    reference = np.pad(soxr.resample(whole, native, S.sample_rate).astype(np.float32), MARGIN)
    starts = window_starts(int(round(track.duration * S.sample_rate)), S)
    search = S.sample_rate // 10  # 100 ms either way
    checked = 0
    for segment, start in zip(track.segments, starts):
        if start < search or start + SPAN + search > len(reference):
            continue  # no room to search around it in the reference
        scores = np.correlate(reference[start - search:start + SPAN + search], segment.audio, mode="valid")
        assert abs(int(np.argmax(scores)) - search) <= S.sample_rate // 1000, start
        checked += 1
    assert checked >= S.max_windows - 2


def test_whole_track_windows_are_slices_of_one_transform(tmp_path):
    path = write_chunked(tmp_path / "x.wav", music(12, S.sample_rate, 1, seed=7), S.sample_rate)
    track = decode_track(path, S)
    windows = track_windows(track, S)
    assert len(windows.mels) == 1 + (12 - 4) // 2
    padded = np.pad(whole_decode(path)[0], MARGIN)
    for k, mel in enumerate(windows.mels):
        start = k * S.window_hop_samples
        np.testing.assert_allclose(mel, log_mel(padded[start:start + SPAN], S)[:S.window_frames], atol=1e-4)
    np.testing.assert_allclose(windows.starts, np.arange(len(windows.mels)) * S.window_hop_seconds)


@pytest.mark.parametrize("rate,n_fft,n_mels,fmin,fmax", [(16000, 512, 96, 0.0, 8000.0), (22050, 2048, 128, 0.0, None),
                                                    (44100, 1024, 40, 30.0, 11000.0)])
def test_mel_filters_equal_librosas(rate, n_fft, n_mels, fmin, fmax):
    import librosa

    theirs = librosa.filters.mel(sr=rate, n_fft=n_fft, n_mels=n_mels, fmin=fmin, fmax=fmax, dtype=np.float32)
    np.testing.assert_allclose(mel_filterbank(rate, n_fft, n_mels, fmin, fmax), theirs, rtol=1e-5, atol=1e-8)


def test_log_mel_is_librosas_mel_power_spectrogram():
    import librosa

    audio = music(3, S.sample_rate, 1, seed=8)[:, 0]
    power = librosa.feature.melspectrogram(y=audio, sr=S.sample_rate, n_fft=S.n_fft, hop_length=S.hop_length,
                                           center=False, n_mels=S.n_mels, fmin=S.fmin, fmax=S.fmax)
    np.testing.assert_allclose(log_mel(audio, S), np.log10(1 + 10000 * power.T), rtol=1e-4, atol=1e-4)


def test_tagging_does_not_import_librosa(tmp_path):
    """librosa's import (SciPy's signal and stats, numba) cost most of the start-up."""
    path = write_chunked(tmp_path / "x.flac", music(5, 22050, 2, seed=9), 22050)
    code = ("import sys; from tagger.features import file_windows; from tagger.settings import FeatureSettings; "
            f"file_windows({str(path)!r}, FeatureSettings()); print(sorted(m for m in sys.modules if 'librosa' in m))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


# -- too short, empty, unreadable, silent --------------------------------------------------------
def test_one_sample_file_is_too_short(tmp_path):
    path = write_audio(tmp_path / "one.wav", np.zeros((1, 1), dtype=np.float32) + 0.1, 44100)
    with pytest.raises(DecodeError, match="^too short"):
        decode_track(path, S)


@pytest.mark.parametrize("ext", ["flac", "m4a"])
def test_half_second_is_too_short(tmp_path, ext):
    path = write_audio(tmp_path / f"half.{ext}", music(0.5, 44100, 1), 44100)
    with pytest.raises(DecodeError, match="^too short"):
        decode_track(path, S)


def test_shortest_accepted_track_fills_one_window(tmp_path):
    path = write_audio(tmp_path / "short.wav", music(S.min_seconds + 0.01, S.sample_rate, 1, seed=2), S.sample_rate)
    windows = track_windows(decode_track(path, S), S)
    assert windows.mels.shape == (1, S.window_frames, S.n_mels)
    # The music is repeated to fill the window, not padded with silence.
    assert windows.mels[0, -20:].max() > 0.1


def test_empty_and_unreadable_files(tmp_path):
    empty = tmp_path / "empty.flac"
    empty.write_bytes(b"")
    with pytest.raises(DecodeError, match="empty file"):
        decode_track(empty, S)
    locked = make_track(tmp_path / "locked.flac", seconds=2, channels=1)
    os.chmod(locked, 0)
    with pytest.raises(DecodeError, match="not readable"):
        decode_track(locked, S)
    with pytest.raises(DecodeError, match="not found"):
        decode_track(tmp_path / "missing.flac", S)


def test_text_named_mp3_fails_quietly(tmp_path, capfd):
    """libsndfile's mpg123 printed resync notes on the terminal for files that are no MPEG audio."""
    path = tmp_path / "notes.mp3"
    path.write_text("not audio\n")
    with pytest.raises(DecodeError, match="not a readable audio file"):
        decode_track(path, S)
    assert capfd.readouterr().err == ""


def test_mp3_behind_leading_junk_still_decodes(tmp_path):
    clean = make_track(tmp_path / "clean.mp3", seconds=5, channels=2)
    junk = tmp_path / "junk.mp3"
    junk.write_bytes(b"\0" * 4000 + clean.read_bytes())
    # FFmpeg estimates the length from the bit rate when the tag sits behind junk.
    assert decode_track(junk, S).duration == pytest.approx(decode_track(clean, S).duration, abs=0.5)


@pytest.mark.parametrize("ext", ["flac", "mp3"])
def test_a_cut_off_download_is_called_truncated(tmp_path, ext):
    """Its header promises a minute; the spans past the cut cannot be read by either decoder."""
    whole = make_track(tmp_path / f"whole.{ext}", seconds=60, channels=2).read_bytes()
    cut = tmp_path / f"cut.{ext}"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DecodeError, match="^truncated or corrupt file: the audio stops before the 60 s its header gives$"):
        decode_track(cut, S)


def test_zero_frame_wav_is_too_short(tmp_path):
    path = tmp_path / "zero.wav"
    with wave.open(str(path), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
    with pytest.raises(DecodeError, match="too short|no audio"):
        decode_track(path, S)


def test_silence_is_flagged_silent(tmp_path, genre_model):
    from tagger.engine import Classifier

    silent = make_track(tmp_path / "silent.flac", seconds=6, channels=1, kind="silence")
    quiet_music = write_audio(tmp_path / "music.flac", music(6, 44100, 1, seed=1) * 0.1, 44100)
    results = {r.path.name: r for r in Classifier(genre_model, workers=1).classify([silent, quiet_music])}
    assert results["silent.flac"].error is None and results["silent.flac"].decision.silent
    assert results["music.flac"].error is None and not results["music.flac"].decision.silent


def test_non_finite_samples_are_zeroed(tmp_path):
    audio = music(3, S.sample_rate, 1, seed=1)
    audio[1000:2000] = np.nan
    audio[5000] = np.inf
    path = tmp_path / "nan.wav"
    soundfile.write(str(path), audio, S.sample_rate, subtype="FLOAT")
    segment = decode_track(path, S).segments[0]
    assert np.isfinite(segment.audio).all()
    assert np.isfinite(track_windows(decode_track(path, S), S).mels).all()
