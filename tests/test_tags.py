"""Genre tags in all eight formats (tagger.formats, tagger.tags, tagger.writer)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import mutagen
import pytest
from mutagen.asf import ASF
from mutagen.id3 import ID3
from mutagen.mp4 import MP4

from audio import FORMATS, all_tags, audio_bytes_hash, make_track
from conftest import file_hash
from tagger.formats import TAG_FORMATS, format_of
from tagger.tags import genres_in, read_genres, read_info, read_snapshot, snapshot_for
from tagger.writer import FileStamp, WriteError, replace_genre_fields

# The library-wide formats and WMA, which only the tag layer's tests need in every case.
TAGGED_FORMATS = FORMATS + ("wma",)
ID3_FORMATS = ("mp3", "wav", "aiff")
VORBIS_FORMATS = ("flac", "ogg", "opus")


def track(tmp_path: Path, ext: str, **tags) -> Path:
    return make_track(tmp_path / f"song.{ext}", seconds=2, channels=1, title="Tïtle", artist="Ärtist",
                      album="Album ✓", **tags)


def genre_fields(path: Path) -> list:
    """The raw genre values of a file, in its own tag system's terms."""
    audio = mutagen.File(str(path))
    if audio.tags is None:
        return []
    if isinstance(audio, MP4):
        return list(audio.tags.get("\xa9gen", []))
    if isinstance(audio, ASF):
        return [str(value) for value in audio.tags.get("WM/Genre", [])]
    if isinstance(audio.tags, ID3):
        frame = audio.tags.get("TCON")
        return list(frame.text) if frame else []
    return list(audio.tags.get("genre", []))


@pytest.mark.parametrize("ext", TAGGED_FORMATS)
def test_write_read_back_keeps_everything_else(tmp_path, ext):
    path = track(tmp_path, ext)
    tags_before, audio_before = all_tags(path), audio_bytes_hash(path)
    assert read_genres(path) == []

    previous, stamp = replace_genre_fields(path, snapshot_for(path, ["Rock"]))
    assert previous == {}
    assert stamp == FileStamp.of(path)
    assert read_genres(path) == ["Rock"]
    assert genre_fields(path) == ["Rock"]
    assert all_tags(path) == tags_before
    assert audio_bytes_hash(path) == audio_before
    info = read_info(path)
    assert (info.title, info.artist, info.album, info.genres) == ("Tïtle", "Ärtist", "Album ✓", ["Rock"])
    assert not [p for p in path.parent.iterdir() if p.name.startswith(".")], "temporary copy left behind"


@pytest.mark.parametrize("ext", TAGGED_FORMATS)
def test_replace_and_remove_existing_genre(tmp_path, ext):
    path = track(tmp_path, ext, genre="Polka")
    tags_before, audio_before = all_tags(path), audio_bytes_hash(path)
    assert read_genres(path) == ["Polka"]
    previous, _ = replace_genre_fields(path, snapshot_for(path, ["Jazz"]))
    assert genres_in(previous) == ["Polka"]
    assert read_genres(path) == ["Jazz"]
    previous, _ = replace_genre_fields(path, {})
    assert genres_in(previous) == ["Jazz"]
    assert read_genres(path) == [] and read_snapshot(path) == {} and genre_fields(path) == []
    assert all_tags(path) == tags_before
    assert audio_bytes_hash(path) == audio_before


@pytest.mark.parametrize("ext", TAGGED_FORMATS)
def test_snapshot_round_trip_is_exact(tmp_path, ext):
    path = track(tmp_path, ext, genre="Música Popular Brasileira")
    original = read_snapshot(path)
    replace_genre_fields(path, snapshot_for(path, ["日本", "Hip-Hop"]))
    replace_genre_fields(path, original)
    assert read_snapshot(path) == original
    assert read_genres(path) == ["Música Popular Brasileira"]


@pytest.mark.parametrize("ext", ID3_FORMATS)
@pytest.mark.parametrize("version", [3, 4])
def test_id3_version_is_kept(tmp_path, ext, version):
    path = track(tmp_path, ext, id3_version=version)
    assert mutagen.File(str(path)).tags.version[:2] == (2, version)
    replace_genre_fields(path, snapshot_for(path, ["Blues"]))
    assert mutagen.File(str(path)).tags.version[:2] == (2, version)
    if ext == "mp3":
        assert ID3(str(path)).version[:2] == (2, version)
    assert read_genres(path) == ["Blues"]


@pytest.mark.parametrize("ext", ID3_FORMATS)
def test_id3v24_several_genres_are_separate_values(tmp_path, ext):
    path = track(tmp_path, ext, id3_version=4)
    tags_before = all_tags(path)
    replace_genre_fields(path, snapshot_for(path, ["Rock", "Metal"]))
    assert genre_fields(path) == ["Rock", "Metal"]
    assert read_genres(path) == ["Rock", "Metal"]
    assert mutagen.File(str(path)).tags.version[:2] == (2, 4)
    assert all_tags(path) == tags_before


@pytest.mark.parametrize("ext", ID3_FORMATS)
def test_id3v23_several_genres_are_joined_and_stay_v23(tmp_path, ext):
    path = track(tmp_path, ext, id3_version=3)
    tags_before = all_tags(path)
    replace_genre_fields(path, snapshot_for(path, ["Rock", "Metal"]))
    assert mutagen.File(str(path)).tags.version[:2] == (2, 3)
    assert genre_fields(path) == ["Rock/Metal"]
    assert all_tags(path) == tags_before


@pytest.mark.parametrize("ext", VORBIS_FORMATS)
def test_vorbis_several_genres_are_repeated_fields(tmp_path, ext):
    path = track(tmp_path, ext, genre="Old")
    replace_genre_fields(path, snapshot_for(path, ["Rock", "Metal", "Blues"]))
    assert genre_fields(path) == ["Rock", "Metal", "Blues"]
    assert read_snapshot(path) == {"GENRE": ["Rock", "Metal", "Blues"]}


def test_mp4_several_genres_are_several_values(tmp_path):
    path = track(tmp_path, "m4a")
    replace_genre_fields(path, snapshot_for(path, ["Rock", "Metal"]))
    assert list(MP4(str(path)).tags["\xa9gen"]) == ["Rock", "Metal"]


def test_wma_several_genres_are_separate_attributes(tmp_path):
    path = track(tmp_path, "wma", genre="Old")
    tags_before = all_tags(path)
    replace_genre_fields(path, snapshot_for(path, ["Rock", "Metal"]))
    assert [str(value) for value in ASF(str(path)).tags["WM/Genre"]] == ["Rock", "Metal"]
    assert read_snapshot(path) == {"WM/Genre": ["Rock", "Metal"]}
    assert read_genres(path) == ["Rock", "Metal"]
    assert all_tags(path) == tags_before


@pytest.mark.parametrize("ext", TAGGED_FORMATS)
def test_each_format_is_handled_by_the_tag_system_that_declares_its_extension(tmp_path, ext):
    path = track(tmp_path, ext)
    declaring = [tag_format for tag_format in TAG_FORMATS if path.suffix in tag_format.extensions]
    assert len(declaring) == 1 and format_of(mutagen.File(str(path))) is declaring[0]
    assert declaring[0].owns(snapshot_for(path, ["Rock"]))


def test_every_registered_extension_belongs_to_one_tag_system():
    declared = [ext for tag_format in TAG_FORMATS for ext in tag_format.extensions]
    assert len(declared) == len(set(declared))
    assert all(ext == ext.lower() and ext.startswith(".") for ext in declared)


def give_numeric_gnre(path: Path, number: int) -> None:
    """Turn a file's ``©gen`` atom into iTunes' numeric ``gnre`` atom (mutagen cannot write one)."""
    audio = MP4(str(path))
    audio["\xa9gen"] = ["QZ"]
    audio.save()
    data = path.read_bytes()
    pattern = re.compile(rb"\xa9gen(....)data\x00\x00\x00\x01\x00\x00\x00\x00QZ", re.S)
    assert len(pattern.findall(data)) == 1
    path.write_bytes(pattern.sub(lambda m: b"gnre" + m.group(1) + b"data" + bytes(8) + number.to_bytes(2, "big"),
                                 data))


def test_m4a_numeric_gnre_is_read_as_a_name_and_replaced(tmp_path):
    path = track(tmp_path, "m4a")
    give_numeric_gnre(path, 18)  # ID3v1 genre 17 (+1): Rock
    assert b"gnre" in path.read_bytes()
    tags_before, audio_before = all_tags(path), audio_bytes_hash(path)
    assert read_genres(path) == ["Rock"]
    previous, _ = replace_genre_fields(path, snapshot_for(path, ["Jazz"]))
    assert genres_in(previous) == ["Rock"]
    assert read_genres(path) == ["Jazz"]
    assert b"gnre" not in path.read_bytes()
    assert all_tags(path) == tags_before
    assert audio_bytes_hash(path) == audio_before


def test_id3_numeric_genre_reference_is_read_as_a_name(tmp_path):
    path = track(tmp_path, "mp3", genre="(17)")
    assert read_genres(path) == ["Rock"]


@pytest.mark.parametrize("ext", ["mp3", "wav", "aiff", "flac", "m4a", "wma"])
def test_file_without_any_tags_gets_a_genre(tmp_path, ext):
    from audio import music, write_audio

    path = write_audio(tmp_path / f"bare.{ext}", music(2, 44100, 1), 44100)
    audio_before = audio_bytes_hash(path)
    assert read_genres(path) == []
    replace_genre_fields(path, snapshot_for(path, ["Reggae"]))
    assert read_genres(path) == ["Reggae"]
    assert audio_bytes_hash(path) == audio_before


@pytest.mark.parametrize("ext", TAGGED_FORMATS)
def test_keep_mtime(tmp_path, ext):
    path = track(tmp_path, ext)
    os.utime(path, ns=(1_000_000_000_000_000_000, 1_000_000_000_000_000_000))
    replace_genre_fields(path, snapshot_for(path, ["Pop"]), keep_mtime=True)
    assert path.stat().st_mtime_ns == 1_000_000_000_000_000_000
    assert read_genres(path) == ["Pop"]


def test_changed_since_analysis_is_not_written(tmp_path):
    path = track(tmp_path, "flac")
    stamp = FileStamp.of(path)
    os.utime(path, ns=(stamp.mtime_ns + 10**9, stamp.mtime_ns + 10**9))
    before = file_hash(path)
    with pytest.raises(WriteError, match="changed since"):
        replace_genre_fields(path, snapshot_for(path, ["Pop"]), expected=stamp)
    assert file_hash(path) == before


def test_symlink_target_is_written_and_link_kept(tmp_path):
    path = track(tmp_path, "ogg")
    link = tmp_path / "link.ogg"
    os.symlink(path, link)
    replace_genre_fields(link, snapshot_for(link, ["Disco"]))
    assert link.is_symlink() and os.readlink(link) == str(path)
    assert read_genres(path) == ["Disco"]


@pytest.mark.parametrize("mode,folder_mode,message", [(0o444, 0o755, "read-only file"),
                                                      (0o644, 0o555, "read-only folder")])
def test_read_only_file_or_folder_is_left_alone(tmp_path, mode, folder_mode, message):
    folder = tmp_path / "ro"
    folder.mkdir()
    path = make_track(folder / "song.mp3", seconds=2, channels=1)
    before = file_hash(path)
    os.chmod(path, mode)
    os.chmod(folder, folder_mode)
    try:
        with pytest.raises(WriteError, match=message):
            replace_genre_fields(path, snapshot_for(path, ["Rock"]))
        assert sorted(p.name for p in folder.iterdir()) == ["song.mp3"]
    finally:
        os.chmod(folder, 0o755)
        os.chmod(path, 0o644)
    assert file_hash(path) == before


def test_copies_left_by_a_killed_tagger_are_removed_and_nothing_else(tmp_path):
    path = track(tmp_path, "flac")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    dead, living = int(gone.stdout), os.getppid()
    left_by_killed = tmp_path / f".tagger-0123456789ab-{dead}.tmp"
    in_use = tmp_path / f".tagger-0123456789ab-{living}.tmp"
    users_own = tmp_path / ".tagger-notes.tmp"
    for copy in (left_by_killed, in_use, users_own):
        copy.write_bytes(b"partial copy")
    replace_genre_fields(path, snapshot_for(path, ["Rock"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([path.name, in_use.name, users_own.name])
