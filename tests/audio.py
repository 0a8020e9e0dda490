"""Make real audio files, in every supported format, with tags and a cover, at test time."""

from __future__ import annotations

from pathlib import Path

import av
import mutagen
import numpy as np
import soundfile
from mutagen.asf import ASF, ASFByteArrayAttribute
from mutagen.flac import Picture
from mutagen.id3 import APIC, ID3, TALB, TCON, TIT2, TPE1
from mutagen.mp4 import MP4, MP4Cover

FORMATS = ("mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff")

# soundfile (libsndfile) writes all of these; M4A/AAC and WMA come from PyAV's bundled FFmpeg.
_SNDFILE = {"mp3": ("MP3", "MPEG_LAYER_III"), "flac": ("FLAC", "PCM_16"), "ogg": ("OGG", "VORBIS"),
            "opus": ("OGG", "OPUS"), "wav": ("WAV", "PCM_16"), "aiff": ("AIFF", "PCM_16")}
# Extension -> (FFmpeg muxer, encoder) for the formats libsndfile cannot write.
FFMPEG_WRITTEN = {"m4a": ("mp4", "aac"), "mp4": ("mp4", "aac"), "wma": ("asf", "wmav2")}
COVER_PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000001e221bc330000000049454e44ae426082")


def music(seconds: float, rate: int = 22050, channels: int = 1, seed: int = 0, kind: str = "chords") -> np.ndarray:
    """A few seconds of synthetic music-like audio, float32, shape (samples, channels).

    ``kind``: "chords" (harmonic tones with a beat), "noise" (bright noise bursts),
    "bass" (low tones), or "silence".
    """
    n = max(1, int(seconds * rate))
    t = np.arange(n) / rate
    rng = np.random.default_rng(seed)
    if kind == "silence":
        mono = np.zeros(n)
    elif kind == "noise":
        envelope = (np.sin(2 * np.pi * 4 * t) > 0).astype(float)
        mono = 0.3 * rng.standard_normal(n) * envelope
    elif kind == "bass":
        mono = 0.5 * np.sin(2 * np.pi * 55 * t) + 0.3 * np.sin(2 * np.pi * 82.5 * t)
    else:
        base = 220 * 2 ** (rng.integers(0, 12) / 12)
        mono = sum(0.2 * np.sin(2 * np.pi * base * r * t) for r in (1, 1.25, 1.5))
        mono = mono * (0.6 + 0.4 * (np.sin(2 * np.pi * 2 * t) > 0)) + 0.02 * rng.standard_normal(n)
    audio = np.repeat(mono[:, None], channels, axis=1).astype(np.float32)
    return audio


def write_audio(path: Path, audio: np.ndarray, rate: int) -> Path:
    """Write ``audio`` (samples, channels) in the format named by the path's extension."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext in FFMPEG_WRITTEN:
        _write_ffmpeg(path, audio, rate, *FFMPEG_WRITTEN[ext])
    else:
        fmt, subtype = _SNDFILE["aiff" if ext == "aif" else ext]
        if subtype == "OPUS" and rate not in (8000, 12000, 16000, 24000, 48000):
            raise ValueError("Opus needs 8, 12, 16, 24 or 48 kHz")
        channels = 1 if audio.ndim == 1 else audio.shape[1]
        with soundfile.SoundFile(str(path), "w", rate, channels, subtype, format=fmt) as out:
            # One write of a minute of stereo crashes libsndfile's Vorbis encoder (a segfault); a second at a time does not.
            for start in range(0, len(audio), rate):
                out.write(audio[start:start + rate])
    return path


def _write_ffmpeg(path: Path, audio: np.ndarray, rate: int, muxer: str, encoder: str) -> None:
    layout = "mono" if audio.shape[1] == 1 else "stereo"
    with av.open(str(path), "w", format=muxer) as container:
        stream = container.add_stream(encoder, rate=rate, layout=layout)
        stream.bit_rate = 128_000  # wmav2 will not open without one
        stream.codec_context.open()
        step = stream.codec_context.frame_size or 1024  # wmav2 takes frames of exactly its size
        planar = np.ascontiguousarray(audio.T)
        for start in range(0, planar.shape[1], step):
            frame = av.AudioFrame.from_ndarray(planar[:, start:start + step], format="fltp", layout=layout)
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)


def add_tags(path: Path, title: str = "Song", artist: str = "Artist", album: str = "Album",
             genre: str | None = None, cover: bool = True, id3_version: int = 4) -> None:
    """Give ``path`` title, artist, album, optionally a genre, and a front cover."""
    path = Path(path)
    ext = path.suffix.lower().lstrip(".")
    if ext in ("mp3", "wav", "aiff", "aif"):
        audio = mutagen.File(str(path))
        if audio.tags is None:
            audio.add_tags()
        tags: ID3 = audio.tags
        tags.add(TIT2(encoding=3, text=title))
        tags.add(TPE1(encoding=3, text=artist))
        tags.add(TALB(encoding=3, text=album))
        if genre:
            tags.add(TCON(encoding=3, text=genre))
        if cover:
            tags.add(APIC(encoding=3, mime="image/png", type=3, desc="cover", data=COVER_PNG))
        audio.save(v2_version=id3_version)
    elif ext in ("m4a", "mp4"):
        audio = MP4(str(path))
        audio["\xa9nam"], audio["\xa9ART"], audio["\xa9alb"] = [title], [artist], [album]
        if genre:
            audio["\xa9gen"] = [genre]
        if cover:
            audio["covr"] = [MP4Cover(COVER_PNG, imageformat=MP4Cover.FORMAT_PNG)]
        audio.save()
    elif ext == "wma":
        _add_asf_tags(path, title, artist, album, genre, cover)
    else:
        audio = mutagen.File(str(path))
        audio["title"], audio["artist"], audio["album"] = title, artist, album
        if genre:
            audio["genre"] = genre
        if cover:
            picture = Picture()
            picture.type, picture.mime, picture.data = 3, "image/png", COVER_PNG
            if ext == "flac":
                audio.add_picture(picture)
            else:
                import base64

                audio["metadata_block_picture"] = [base64.b64encode(picture.write()).decode("ascii")]
        audio.save()


def _add_asf_tags(path: Path, title: str, artist: str, album: str, genre: str | None, cover: bool) -> None:
    audio = ASF(str(path))
    audio["Title"], audio["Author"], audio["WM/AlbumTitle"] = [title], [artist], [album]
    if genre:
        audio["WM/Genre"] = [genre]
    if cover:
        # WM/Picture: picture type, data length, UTF-16 MIME type and description, then the image.
        mime, description = "image/png\0".encode("utf-16-le"), "cover\0".encode("utf-16-le")
        picture = bytes([3]) + len(COVER_PNG).to_bytes(4, "little") + mime + description + COVER_PNG
        audio["WM/Picture"] = [ASFByteArrayAttribute(picture)]
    audio.save()


def make_track(path: Path, seconds: float = 10.0, rate: int | None = None, channels: int = 2, seed: int = 0,
               kind: str = "chords", **tags) -> Path:
    """Write a tagged track; the rate defaults to one every format accepts."""
    ext = Path(path).suffix.lower().lstrip(".")
    rate = rate or (48000 if ext == "opus" else 44100)
    write_audio(path, music(seconds, rate, channels, seed, kind), rate)
    add_tags(path, **tags)
    return Path(path)


def make_damaged_mp3(path: Path) -> Path:
    """A 30 s stereo MP3 with bursts of noise through its middle half: mpg123 prints resync notes on it."""
    make_track(path, seconds=30, channels=2)
    data = bytearray(path.read_bytes())
    rng = np.random.default_rng(0)
    for offset in range(len(data) // 4, len(data) * 3 // 4, 4000):
        data[offset:offset + 64] = rng.integers(0, 256, 64, dtype=np.uint8).tobytes()
    path.write_bytes(bytes(data))
    return path


def all_tags(path: Path) -> dict:
    """Every tag of ``path`` except the genre, as comparable data (covers included)."""
    audio = mutagen.File(str(path))
    if audio.tags is None:
        return {}
    out = {}
    for key, value in audio.tags.items():
        if str(key).upper().startswith(("TCON", "GENRE", "\xa9GEN", "GNRE", "WM/GENRE")) or key in ("\xa9gen", "gnre"):
            continue
        out[str(key)] = repr(value)
    return out


def decoded(path: Path) -> np.ndarray:
    """The decoded audio of ``path`` (for checking that a write left it alone)."""
    if Path(path).suffix.lower().lstrip(".") in FFMPEG_WRITTEN:
        with av.open(str(path)) as container:
            return np.concatenate([f.to_ndarray().ravel() for f in container.decode(audio=0)])
    data, _ = soundfile.read(str(path), dtype="float32")
    return data


def audio_bytes_hash(path: Path) -> str:
    """Hash of the decoded audio."""
    import hashlib

    return hashlib.sha256(decoded(path).tobytes()).hexdigest()


TOY_GENRES = ("clicks", "noise", "tones")


def make_toy_dataset(root: Path, per_genre: int = 4, rate: int = 16000, seconds: float = 5.0) -> None:
    """``root/<genre>/*.wav`` for three made-up genres any model tells apart: tones, noise, clicks."""
    rng = np.random.default_rng(0)
    t = np.arange(int(rate * seconds)) / rate
    for genre in TOY_GENRES:
        (Path(root) / genre).mkdir(parents=True)
        for i in range(per_genre):
            if genre == "tones":
                sound = 0.3 * np.sin(2 * np.pi * rng.uniform(200, 800) * t)
            elif genre == "noise":
                sound = 0.1 * rng.standard_normal(len(t))
            else:
                sound = np.zeros(len(t))
                sound[:: rate // 4] = 0.9
            soundfile.write(Path(root) / genre / f"{genre}_{i}.wav", sound.astype(np.float32), rate)


# Made-up genres (user genre -> make_track kind) that the shipped network's features tell apart.
LEARN_GENRES = {"Calm Stuff": "chords", "Noise Wall": "noise", "Low End": "bass"}


def make_learn_library(folder: Path, tagged_per_genre: int = 6, untagged_per_genre: int = 3,
                       genres: dict[str, str] = LEARN_GENRES) -> dict[Path, str]:
    """Tagged and untagged tracks of each made-up genre (FLAC and MP3, 5-7 s); returns {path: true genre}."""
    truth = {}
    for g, (genre, kind) in enumerate(genres.items()):
        for i in range(tagged_per_genre + untagged_per_genre):
            tagged = i < tagged_per_genre
            path = folder / ("tagged" if tagged else "untagged") / f"{kind}_{i:02d}.{'flac' if i % 2 else 'mp3'}"
            path.parent.mkdir(parents=True, exist_ok=True)
            truth[make_track(path, seconds=5 + i % 3, rate=22050, channels=1, seed=100 * g + i, kind=kind,
                             title=f"{kind} {i}", artist=f"{kind} band {i // 2}",
                             genre=genre if tagged else None)] = genre
    return truth


__all__ = ["FFMPEG_WRITTEN", "FORMATS", "LEARN_GENRES", "make_learn_library", "TOY_GENRES", "make_toy_dataset", "add_tags", "all_tags", "audio_bytes_hash", "decoded", "make_track", "music", "write_audio"]
