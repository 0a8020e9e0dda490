"""Finding the audio files of a library (tagger.scan)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tagger.scan import is_audio_path, scan_library


def touch(path: Path, data: bytes = b"x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def names(paths) -> list[str]:
    return [str(Path(p)) for p in paths]


@pytest.mark.parametrize("name", ["a.mp3", "a.MP3", "a.Flac", "a.OGG", "a.oga", "a.opus", "a.M4A", "a.mp4",
                                  "a.WaV", "a.aif", "a.AIFF", "a.wma", "a.WMA"])
def test_audio_extensions_in_any_case(name):
    assert is_audio_path(Path(name))


@pytest.mark.parametrize("name", ["a.txt", "a.jpg", "cover.png", "a.mp3.part", "mp3", "a.cue", "a.m3u", "a"])
def test_non_audio_names(name):
    assert not is_audio_path(Path(name))


def test_recursion_hidden_and_non_audio(tmp_path):
    root = tmp_path / "lib"
    expected = [
        touch(root / "a.mp3"),
        touch(root / "B.FLAC"),
        touch(root / "artist" / "album" / "01.Ogg"),
        touch(root / "artist" / "album" / "02.m4a"),
        touch(root / "artist" / "z.wav"),
        touch(root / "deep" / "er" / "and" / "deeper" / "x.aiff"),
    ]
    touch(root / "notes.txt")
    touch(root / "cover.jpg")
    touch(root / "artist" / "album" / "folder.png")
    touch(root / ".hidden.mp3")
    touch(root / ".hidden_dir" / "secret.flac")
    touch(root / "artist" / ".AppleDouble" / "01.Ogg")
    (root / "emptydir").mkdir()
    (root / "dir.mp3").mkdir()  # a folder with an audio name is walked, not yielded
    touch(root / "dir.mp3" / "inside.opus")
    expected.append(root / "dir.mp3" / "inside.opus")

    found = list(scan_library(root))
    assert sorted(found) == sorted(expected)
    assert all(p.is_absolute() for p in found)


def test_order_is_deterministic_and_sorted(tmp_path):
    root = tmp_path / "lib"
    for name in ["c.mp3", "a.mp3", "b/z.flac", "b/a.flac", "B.mp3", "d/e/f.ogg"]:
        touch(root / name)
    first = list(scan_library(root))
    assert first == list(scan_library(root))
    # Depth first, each folder's entries in sorted (byte) order.
    rel = [p.relative_to(root).as_posix() for p in first]
    assert rel == ["B.mp3", "a.mp3", "b/a.flac", "b/z.flac", "c.mp3", "d/e/f.ogg"]


def test_relative_root_gives_absolute_paths(tmp_path, monkeypatch):
    touch(tmp_path / "lib" / "a.mp3")
    monkeypatch.chdir(tmp_path)
    assert list(scan_library(Path("lib"))) == [tmp_path / "lib" / "a.mp3"]


def test_single_file_root(tmp_path):
    song = touch(tmp_path / "song.flac")
    assert list(scan_library(song)) == [song]
    assert list(scan_library(touch(tmp_path / "notes.txt"))) == []


def test_missing_root_yields_nothing(tmp_path):
    assert list(scan_library(tmp_path / "nope")) == []


@pytest.mark.timeout(30)
def test_symlink_loop_terminates(tmp_path):
    root = tmp_path / "lib"
    touch(root / "a" / "song.mp3")
    os.symlink(root, root / "a" / "back_to_root")  # a -> root -> a -> ...
    os.symlink(root / "a", root / "a" / "self")
    loop = root / "loop1"
    os.symlink(root / "loop2", loop)  # two links pointing at each other
    os.symlink(loop, root / "loop2")

    found = list(scan_library(root))
    assert found.count(root / "a" / "song.mp3") == 1
    assert len(found) == len(set(found))
    assert all("back_to_root" not in p.parts and "self" not in p.parts for p in found)


def test_symlinked_folder_outside_is_followed_once(tmp_path):
    outside = tmp_path / "elsewhere"
    touch(outside / "x.flac")
    root = tmp_path / "lib"
    touch(root / "y.flac")
    os.symlink(outside, root / "linked")
    assert list(scan_library(root)) == [root / "linked" / "x.flac", root / "y.flac"]


def test_dangling_audio_link_is_reported_not_hidden(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    os.symlink(tmp_path / "gone.mp3", root / "dangling.mp3")
    os.symlink(tmp_path / "gone.txt", root / "dangling.txt")
    assert list(scan_library(root)) == [root / "dangling.mp3"]


def test_unreadable_subfolder_is_skipped(tmp_path, monkeypatch):
    root = tmp_path / "lib"
    touch(root / "ok.mp3")
    touch(root / "locked" / "x.mp3")
    real_scandir = os.scandir

    def scandir(path):
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert list(scan_library(root)) == [root / "ok.mp3"]


def test_non_utf8_name_is_found(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    raw = os.path.join(os.fsencode(root), b"caf\xe9.flac")
    with open(raw, "wb") as handle:
        handle.write(b"x")
    found = list(scan_library(root))
    assert len(found) == 1 and os.fsencode(found[0]) == raw


def test_file_link_loop_is_reported_like_a_dangling_link(tmp_path):
    root = tmp_path / "lib"
    root.mkdir()
    os.symlink(root / "loop.mp3", root / "loop.mp3")
    os.symlink(root / "b.flac", root / "a.flac")
    os.symlink(root / "a.flac", root / "b.flac")
    assert list(scan_library(root)) == [root / "a.flac", root / "b.flac", root / "loop.mp3"]
