"""Kill a real tagger-batch at random moments: no file is ever damaged, and a rerun finishes the job."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audio import all_tags, audio_bytes_hash, make_track
from tagger.tags import read_genres

FORMATS = ("mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff")
KILLS = 8


def tagger_batch(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tagger.cli", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    root.mkdir()
    for i in range(21):
        ext = FORMATS[i % len(FORMATS)]
        # Some long files make each write take a while, so kills land mid-write too.
        make_track(root / f"track{i:02d}.{ext}", seconds=40.0 if i % 3 == 0 else 5.0, seed=i,
                   title=f"Title {i}", artist=f"Artist {i % 4}")
    return root


def test_sigkill_at_random_moments_never_damages_a_file(library: Path, tmp_path: Path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    pristine = {p: (all_tags(p), audio_bytes_hash(p)) for p in sorted(library.iterdir())}
    rng = random.Random(7)
    killed_mid_run = 0
    for attempt in range(KILLS):
        process = tagger_batch(str(library), "--quiet", "--workers", "1", "--overwrite", env=env)
        # TensorFlow takes a few seconds to start; the first kills land in start-up or decoding, later ones while writing.
        time.sleep(rng.uniform(2.0, 9.0))
        if process.poll() is None:
            process.send_signal(signal.SIGKILL)
            killed_mid_run += 1
        process.wait()
        for path, (tags, audio) in pristine.items():
            assert all_tags(path) == tags, f"kill {attempt}: tags of {path.name} changed"
            assert audio_bytes_hash(path) == audio, f"kill {attempt}: audio of {path.name} changed"
            assert len(read_genres(path)) <= 1
    assert killed_mid_run >= KILLS // 2

    finished = tagger_batch(str(library), "--quiet", env=env)
    out, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err.decode()
    assert b"Traceback" not in err
    for path, (tags, audio) in pristine.items():
        assert read_genres(path), f"{path.name} has no genre after the rerun"
        assert all_tags(path) == tags
        assert audio_bytes_hash(path) == audio
    leftovers = [p.name for p in library.iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_undo_after_a_killed_run_restores_what_landed(library: Path, tmp_path: Path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    process = tagger_batch(str(library), "--quiet", "--workers", "1", env=env)
    deadline = time.monotonic() + 120
    # Kill once some files carry a genre but not all.
    while time.monotonic() < deadline and process.poll() is None:
        tagged = sum(bool(read_genres(p)) for p in library.iterdir() if not p.name.startswith("."))
        if tagged >= 3:
            process.send_signal(signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait()
    undo = subprocess.run([sys.executable, "-m", "tagger.cli", "--undo"], env=env, capture_output=True, timeout=120)
    assert undo.returncode == 0, undo.stderr.decode()
    assert all(read_genres(p) == [] for p in library.iterdir() if not p.name.startswith("."))


def test_copy_is_removed_when_the_disk_fills(library: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from tagger import writer

    path = library / "track01.flac"
    before = path.read_bytes()

    def full_disk(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(writer, "write_snapshot", full_disk)
    with pytest.raises(writer.WriteError, match="No space left on device"):
        writer.replace_genre_fields(path, {"GENRE": ["Rock"]})
    assert path.read_bytes() == before
    assert [p for p in library.iterdir() if p.name.startswith(".")] == []


