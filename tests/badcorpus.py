"""A library of good files and many kinds of bad input, made at test time."""

from __future__ import annotations

import os
import wave
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from mutagen.id3 import APIC, ID3

from audio import make_track, write_audio


@dataclass(frozen=True)
class Case:
    """One file of the corpus and what the tagger must make of it.

    ``status``: expected status; ``message``: regex its one-line message must match;
    ``untouched``: the file must keep every byte.
    """

    path: Path
    status: str
    message: str
    untouched: bool


class Corpus:
    """The folder being filled and the cases recorded so far."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.rng = np.random.default_rng(8)
        self.cases: list[Case] = []

    def add(self, path, status: str, message: str = "", untouched: bool | None = None) -> Path:
        """Record what the run must report for ``path``; untouched unless it is to be tagged."""
        self.cases.append(Case(Path(path), status, message, status != "tagged" if untouched is None else untouched))
        return Path(path)

    def track(self, name: str, **kw) -> Path:
        """A short mono track at ``root / name``."""
        kw.setdefault("seconds", 5)
        kw.setdefault("channels", 1)
        return make_track(self.root / name, **kw)


def build(root: Path) -> list[Case]:
    """Fill ``root`` with the corpus; returns one Case per file the run must report."""
    root.mkdir(parents=True, exist_ok=True)
    corpus = Corpus(root)
    # Good files, which must still be tagged.
    for ext in ("flac", "mp3", "m4a", "ogg"):
        corpus.add(corpus.track(f"good.{ext}", seed=len(ext)), "tagged")
    for make in (_not_audio, _damaged_audio, _odd_but_valid, _names_and_links, _permissions):
        make(corpus)
    # Ignored: not audio, hidden
    (root / "notes.txt").write_text("hello")
    (root / "cover.jpg").write_bytes(corpus.rng.bytes(1000))
    (root / ".hidden.flac").write_bytes(b"")
    return corpus.cases


def _not_audio(corpus: Corpus) -> None:
    root, rng, add = corpus.root, corpus.rng, corpus.add
    # 1 empty file
    (root / "empty.mp3").write_bytes(b"")
    add(root / "empty.mp3", "error", "empty file")
    # 2 text renamed to .mp3
    (root / "text.mp3").write_text("These are the liner notes, not music.\n" * 40)
    add(root / "text.mp3", "error", "not a readable audio file|cannot decode")
    # 4 random bytes named .ogg
    (root / "random.ogg").write_bytes(rng.bytes(50_000))
    add(root / "random.ogg", "error", "not a readable audio file|cannot decode")
    # 21 random bytes named .m4a (FFmpeg's path)
    (root / "random.m4a").write_bytes(b"\x00\x00\x00\x18ftypM4A " + rng.bytes(30_000))
    add(root / "random.m4a", "error", "not a readable audio file|cannot decode|no audio")


def _damaged_audio(corpus: Corpus) -> None:
    root, rng, add, track = corpus.root, corpus.rng, corpus.add, corpus.track
    # 3 truncated FLAC: the header and a little audio, the rest cut off
    full = track("truncated.flac", seconds=5).read_bytes()
    (root / "truncated.flac").write_bytes(full[: len(full) // 8])
    add(root / "truncated.flac", "error", "^truncated or corrupt file")
    # 3b a WAV and an AIFF cut off: libsndfile reads them to where they stop without a word
    for ext in ("wav", "aiff"):
        whole = track(f"truncated.{ext}", seconds=6).read_bytes()
        (root / f"truncated.{ext}").write_bytes(whole[: len(whole) // 3])
        add(root / f"truncated.{ext}", "error", "^truncated or corrupt file: the audio stops before the 6 s")
    # 6 a single sample
    add(write_audio(root / "one_sample.wav", np.full((1, 1), 0.1, np.float32), 44100), "error", "too short")
    # 14 a FLAC named .mp3: decodes, but its tags are read as MP3 and fail, so it is left alone
    os.replace(track("flac_in_disguise.flac"), root / "flac_in_disguise.mp3")
    add(root / "flac_in_disguise.mp3", "error", "cannot read tags")
    # 15 random bytes in the middle of a valid file
    mid = track("garbage_middle.wav", seconds=5)
    data = bytearray(mid.read_bytes())
    data[len(data) // 3: len(data) // 3 + 4000] = rng.bytes(4000)
    mid.write_bytes(bytes(data))
    add(mid, "tagged")  # PCM garbage is just noise: still a valid file
    mid = track("garbage_middle.flac", seconds=5)
    data = bytearray(mid.read_bytes())
    data[len(data) // 2: len(data) // 2 + 4000] = rng.bytes(4000)
    mid.write_bytes(bytes(data))
    add(mid, "MIDFLAC")
    # 16 a WAV header with zero frames
    with wave.open(str(root / "zero_frames.wav"), "wb") as out:
        out.setnchannels(2)
        out.setsampwidth(2)
        out.setframerate(44100)
    add(root / "zero_frames.wav", "error", "too short|no audio")


def _odd_but_valid(corpus: Corpus) -> None:
    add, track = corpus.add, corpus.track
    # 7 silence
    add(track("silence.flac", kind="silence"), "uncertain", "silent")
    # 8 eight channels, 9 96 kHz: unusual but valid
    add(track("eight_channels.wav", channels=8), "tagged")
    add(track("hires.flac", rate=96000, channels=2), "tagged")
    # 17 a 20 MB cover picture
    huge = track("huge_cover.mp3")
    tags = ID3(str(huge))
    tags.add(APIC(encoding=3, mime="image/png", type=0, desc="huge", data=corpus.rng.bytes(20 * 1024 * 1024)))
    tags.save()
    add(huge, "tagged")
    # 20 a file removed just before its write (the test arranges the removal)
    add(track("vanishing.ogg"), "error", "vanished|not found", untouched=False)


def _names_and_links(corpus: Corpus) -> None:
    root, add, track = corpus.root, corpus.add, corpus.track
    # 10 non-ASCII folder and file name
    (root / "Música").mkdir()
    add(make_track(root / "Música" / "Björk – Jóga ñ 日本.flac", seconds=5, channels=1), "tagged")
    # 11 a file name that is not UTF-8
    raw = os.path.join(os.fsencode(root), b"caf\xe9.flac")
    os.rename(track("cafe.flac"), raw)
    add(os.fsdecode(raw), "tagged")
    # 12 symbolic link loops: a file link to itself, and folders linking back
    os.symlink(root / "loop.mp3", root / "loop.mp3")
    add(root / "loop.mp3", "error", "symbolic links|cannot read")
    (root / "sub").mkdir()
    os.symlink(root, root / "sub" / "up")
    # 13 dangling link
    os.symlink(root / "gone.flac", root / "dangling.flac")
    add(root / "dangling.flac", "error", "not found")


def _permissions(corpus: Corpus) -> None:
    root, add, track = corpus.root, corpus.add, corpus.track
    # 5 unreadable file
    locked = track("unreadable.flac")
    os.chmod(locked, 0)
    add(locked, "error", "permission denied")
    # 18 read-only file
    ro = track("read_only.mp3")
    os.chmod(ro, 0o444)
    add(ro, "skipped", "read-only file")
    # 19 read-only folder holding a good file
    (root / "ro_folder").mkdir()
    add(make_track(root / "ro_folder" / "good_in_ro.flac", seconds=5, channels=1), "skipped", "read-only folder")
    os.chmod(root / "ro_folder", 0o555)


def restore_permissions(root: Path) -> None:
    """Let pytest clean the corpus up."""
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if not os.path.islink(path):
                os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
