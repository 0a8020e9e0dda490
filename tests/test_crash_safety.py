"""Kill a real tagger-batch at random moments: no file is ever damaged, and a rerun finishes the job."""

from __future__ import annotations

import os
import random
import shutil
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


def _inode(path: Path) -> int | None:
    try:
        return path.stat().st_ino
    except FileNotFoundError:
        return None


def tagger_batch(*args: str, env: dict[str, str]) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "tagger.cli", "--min-confidence", "0", *args], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


@pytest.fixture()
def library(tmp_path: Path) -> Path:
    root = tmp_path / "library"
    root.mkdir()
    for i in range(21):
        ext = FORMATS[i % len(FORMATS)]
        make_track(root / f"track{i:02d}.{ext}", seconds=5.0, seed=i, title=f"Title {i}", artist=f"Artist {i % 4}")
    return root


def test_sigkill_at_random_moments_never_damages_a_file(tmp_path: Path) -> None:
    env = dict(os.environ, XDG_DATA_HOME=str(tmp_path / "data"), XDG_CONFIG_HOME=str(tmp_path / "config"))
    pristine = tmp_path / "pristine"
    pristine.mkdir()
    for i in range(24):
        ext = FORMATS[i % len(FORMATS)]
        make_track(pristine / f"track{i:02d}.{ext}", seconds=30.0, seed=i, title=f"Title {i}",
                   artist=f"Artist {i % 4}")
    before = {p.name: (p.read_bytes(), all_tags(p), audio_bytes_hash(p)) for p in pristine.iterdir()}
    library = tmp_path / "library"

    state, analysed_state = tmp_path / "data", tmp_path / "data-analysed"

    def restore() -> None:
        # The library as it was, and the state as it was after analysing it: each run finds its
        # stored results (same path, size and mtime) and goes straight to writing.
        shutil.rmtree(library, ignore_errors=True)
        shutil.copytree(pristine, library)
        if analysed_state.is_dir():
            shutil.rmtree(state, ignore_errors=True)
            shutil.copytree(analysed_state, state)

    restore()
    assert tagger_batch(str(library), "--quiet", "--dry-run", env=env).wait(timeout=300) == 0
    shutil.copytree(state, analysed_state)

    rng = random.Random(7)
    outcomes = []
    for attempt in range(KILLS):
        restore()
        inodes = {p.name: p.stat().st_ino for p in library.iterdir()}
        # Kill once a chosen number of files has been replaced (each write swaps in a new inode),
        # so kills land between and during writes whatever the machine's speed.
        kill_after = rng.randint(1, len(inodes) - 1)
        process = tagger_batch(str(library), "--quiet", env=env)
        while process.poll() is None:
            replaced = sum(_inode(library / name) != ino for name, ino in inodes.items())
            if replaced >= kill_after:
                process.send_signal(signal.SIGKILL)
                break
            time.sleep(0.001)
        process.wait()
        written = 0
        for name, (data, tags, audio) in before.items():
            path = library / name
            if path.read_bytes() == data:
                continue
            # Not as before, so it must be exactly as after: a genre, every other tag and the audio as they were.
            assert read_genres(path), f"kill {attempt}: {name} changed but has no genre"
            assert all_tags(path) == tags, f"kill {attempt}: tags of {name} changed"
            assert audio_bytes_hash(path) == audio, f"kill {attempt}: audio of {name} changed"
            written += 1
        outcomes.append(written)
    print(f"files written when each of {KILLS} kills landed: {outcomes} of {len(before)}")
    assert any(0 < n < len(before) for n in outcomes), "no kill landed between writes"

    # Resume: the killed run is finished by running again, and nothing is left behind.
    finished = tagger_batch(str(library), "--quiet", env=env)
    out, err = finished.communicate(timeout=300)
    assert finished.returncode == 0, err.decode()
    assert b"Traceback" not in err
    for name, (_, tags, audio) in before.items():
        assert read_genres(library / name), f"{name} has no genre after the rerun"
    assert [p.name for p in library.iterdir() if p.name.startswith(".")] == []


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


