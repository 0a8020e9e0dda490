"""The beets plugin, through the real ``beet`` command on a beets library made in a temporary folder.

Each test writes a beets config (BEETSDIR), imports tracks made at test time
with ``beet import -A``, runs ``beet genretag`` and reads the genres back from
beets' database and from the files' own tags.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

pytest.importorskip("beets", reason="the [beets] extra is not installed")

from audio import make_track, music, write_audio  # noqa: E402
from conftest import file_hash, test_model_name  # noqa: E402
from mutagen.id3 import ID3  # noqa: E402

from beetsplug.genretagger.fields import MULTI_VALUED, library_values, names_in  # noqa: E402
from tagger.tags import read_genres  # noqa: E402

BEET = Path(sys.executable).parent / "beet"


@dataclass
class BeetsLibrary:
    """A beets config folder, its library database and a folder of music to import."""

    root: Path

    @property
    def config_dir(self) -> Path:
        return self.root / "beets"

    @property
    def database(self) -> Path:
        return self.config_dir / "library.db"

    @property
    def music(self) -> Path:
        return self.root / "music"

    def configure(self, plugin: str = "", top: str = "", write: bool = True) -> None:
        """Write beets' config.yaml: the plugin on, files left in place.

        ``plugin`` is appended under ``genretagger:``, ``top`` at the top level; ``write`` is ``import.write``.
        """
        self.config_dir.mkdir(parents=True, exist_ok=True)
        (self.config_dir / "config.yaml").write_text(
            f"directory: {self.root / 'managed'}\nlibrary: {self.database}\nplugins: genretagger\n{top}"
            f"import:\n  copy: no\n  write: {'yes' if write else 'no'}\n"
            f"genretagger:\n  model: {test_model_name()}\n{plugin}", encoding="utf-8")

    def track(self, name: str, seed: int, seconds: float = 6.0, **tags) -> Path:
        """A tagged mono track in the music folder, titled after its file name."""
        self.music.mkdir(parents=True, exist_ok=True)
        return make_track(self.music / name, seconds=seconds, channels=1, seed=seed, title=Path(name).stem,
                          artist="Artist", album="Album", **tags)

    def beet(self, *args: str) -> subprocess.CompletedProcess:
        """Run ``beet`` with this config; the test's private XDG folders hold the tagger's state."""
        env = dict(os.environ, BEETSDIR=str(self.config_dir))
        return subprocess.run([str(BEET), *args], env=env, capture_output=True, text=True, timeout=300)

    def import_music(self) -> subprocess.CompletedProcess:
        done = self.beet("import", "-A", "-q", str(self.music))
        assert done.returncode == 0, done.stderr
        return done

    def genres(self) -> dict[str, list[str]]:
        """{file name: genre values} as beets' database holds them."""
        from beets.library import Library

        library = Library(str(self.database))
        try:
            return {Path(os.fsdecode(item.path)).name: library_values(item) for item in library.items()}
        finally:
            library._close()


def file_genres(folder: Path) -> dict[str, list[str]]:
    """{file name: genres in the file's own tags}."""
    return {path.name: read_genres(path) for path in sorted(folder.iterdir())}


def hashes(folder: Path) -> dict[str, str]:
    return {path.name: file_hash(path) for path in sorted(folder.iterdir())}


@pytest.fixture
def beets_library(tmp_path: Path) -> BeetsLibrary:
    library = BeetsLibrary(tmp_path)
    library.configure()
    return library


def assert_clean(done: subprocess.CompletedProcess) -> None:
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr + done.stdout


def test_pretend_prints_old_and_new_and_changes_neither_files_nor_database(beets_library):
    beets_library.track("one.flac", seed=1)
    beets_library.track("two.mp3", seed=2, genre="Polka")
    beets_library.import_music()
    files_before, db_before = hashes(beets_library.music), file_hash(beets_library.database)

    done = beets_library.beet("genretag", "-p", "-f", "--min-confidence", "0")

    assert_clean(done)
    assert "Artist - Album - one: (none) -> " in done.stdout
    assert "Artist - Album - two: Polka -> " in done.stdout
    assert "2 items: would-tag 2 (pretend: nothing changed)" in done.stdout
    assert hashes(beets_library.music) == files_before
    assert file_hash(beets_library.database) == db_before


def test_a_plain_run_fills_empty_genres_in_database_and_files_and_keeps_existing_ones(beets_library):
    beets_library.track("empty.flac", seed=1)
    beets_library.track("empty.m4a", seed=2)
    beets_library.track("jazz.mp3", seed=3, genre="Jazz")
    beets_library.import_music()

    done = beets_library.beet("genretag", "--min-confidence", "0")

    assert_clean(done)
    in_db, in_files = beets_library.genres(), file_genres(beets_library.music)
    assert in_db == in_files
    assert in_db["empty.flac"] and in_db["empty.m4a"]
    assert in_db["jazz.mp3"] == ["Jazz"]
    assert "3 items: kept-existing 1, tagged 2" in done.stdout


def test_force_replaces_existing_genres_with_the_predicted_ones(beets_library):
    beets_library.track("polka.ogg", seed=4, genre="Polka")
    beets_library.import_music()
    predicted = beets_library.beet("genretag", "-p", "-f", "--min-confidence", "0").stdout

    done = beets_library.beet("genretag", "--force", "--min-confidence", "0")

    assert_clean(done)
    genre = file_genres(beets_library.music)["polka.ogg"]
    assert beets_library.genres()["polka.ogg"] == genre != ["Polka"]
    assert f"Polka -> {genre[0]} (" in predicted


def test_force_in_the_config_replaces_and_no_force_on_the_command_line_keeps(beets_library):
    beets_library.configure(plugin="  force: yes\n  min_confidence: 0\n")
    beets_library.track("polka.flac", seed=5, genre="Polka")
    beets_library.import_music()

    kept = beets_library.beet("genretag", "-F")
    assert_clean(kept)
    assert beets_library.genres()["polka.flac"] == ["Polka"]

    assert_clean(beets_library.beet("genretag"))
    assert beets_library.genres()["polka.flac"] == file_genres(beets_library.music)["polka.flac"] != ["Polka"]


def test_a_threshold_above_every_confidence_writes_nothing(beets_library):
    beets_library.track("one.flac", seed=1)
    beets_library.import_music()
    before = hashes(beets_library.music)

    done = beets_library.beet("genretag", "--min-confidence", "1")

    assert_clean(done)
    assert "1 items: uncertain 1" in done.stdout
    assert beets_library.genres() == {"one.flac": []}
    assert hashes(beets_library.music) == before


def test_auto_tags_newly_imported_items_with_count_and_genre_names(beets_library, genre_model):
    renames = "\n".join(f"    {genre}: My {genre}" for genre in genre_model.settings.genres)
    beets_library.configure(
        plugin=f"  auto: yes\n  min_confidence: 0\n  count: 2\n  separator: ' | '\n  genre_names:\n{renames}\n")
    beets_library.track("one.flac", seed=1)
    beets_library.track("two.mp3", seed=2)

    beets_library.import_music()

    in_db = beets_library.genres()
    assert in_db == file_genres(beets_library.music)
    for values in in_db.values():
        # Up to two values (a second only at >= TOP_K_SHARE of the top one's probability), or in beets
        # with a single genre string, the names joined by the separator.
        names = names_in(values, " | ")
        assert 1 <= len(names) <= 2 and all(name.startswith("My ") for name in names)


def test_a_damaged_file_is_logged_and_skipped_and_the_others_are_tagged(beets_library):
    beets_library.track("good.flac", seed=1)
    whole = beets_library.track("cut.flac", seed=2, seconds=20)
    whole.write_bytes(whole.read_bytes()[: whole.stat().st_size // 8])
    beets_library.import_music()
    assert set(beets_library.genres()) == {"good.flac", "cut.flac"}
    damaged = file_hash(whole)

    done = beets_library.beet("genretag", "--min-confidence", "0")

    assert_clean(done)
    assert "cut: skipped: truncated or corrupt file" in done.stderr
    assert "2 items: error 1, tagged 1" in done.stdout
    assert file_hash(whole) == damaged
    assert beets_library.genres()["cut.flac"] == []
    assert beets_library.genres()["good.flac"] == file_genres(beets_library.music)["good.flac"] != []


def test_an_item_without_artist_or_title_is_named_by_its_file(beets_library):
    beets_library.music.mkdir(parents=True, exist_ok=True)
    untagged = write_audio(beets_library.music / "untagged.flac", music(6.0, 44100, 1, seed=3), 44100)
    beets_library.import_music()

    done = beets_library.beet("genretag", "-p", "--min-confidence", "0")

    assert_clean(done)
    assert f"{untagged}: (none) -> " in done.stdout


def test_undo_puts_the_last_runs_genres_back_in_files_and_database(beets_library):
    beets_library.track("polka.mp3", seed=1, genre="Polka")
    beets_library.track("empty.flac", seed=2)
    beets_library.import_music()
    assert_clean(beets_library.beet("genretag", "-f", "--min-confidence", "0"))
    assert beets_library.genres()["empty.flac"]

    done = beets_library.beet("genretag", "--undo")

    assert_clean(done)
    assert "restored 2" in done.stdout
    expected = {"polka.mp3": ["Polka"], "empty.flac": []}
    assert beets_library.genres() == expected
    assert file_genres(beets_library.music) == expected
    again = beets_library.beet("genretag", "--undo")
    assert again.returncode == 1
    assert again.stderr.strip() == ("error: genretagger: nothing to undo: "
                                    "no genretag run has changed genres in this library")


def test_undo_leaves_an_item_whose_genre_was_changed_since_alone(beets_library):
    beets_library.track("one.flac", seed=1)
    beets_library.import_music()
    assert_clean(beets_library.beet("genretag", "--min-confidence", "0"))
    field = "genres" if MULTI_VALUED else "genre"
    assert_clean(beets_library.beet("modify", "-y", f"{field}=Polka"))

    done = beets_library.beet("genretag", "--undo")

    assert_clean(done)
    assert "its genre changed since that run" in done.stderr
    assert beets_library.genres() == {"one.flac": ["Polka"]}
    assert file_genres(beets_library.music) == {"one.flac": ["Polka"]}


def test_beets_id3v23_setting_is_honoured(beets_library):
    beets_library.configure(top="id3v23: yes\n")
    beets_library.track("one.mp3", seed=1)
    beets_library.import_music()

    assert_clean(beets_library.beet("genretag", "--min-confidence", "0"))

    assert ID3(beets_library.music / "one.mp3").version[:2] == (2, 3)
    assert file_genres(beets_library.music)["one.mp3"] == beets_library.genres()["one.mp3"] != []


def test_with_write_off_only_the_database_changes(beets_library):
    beets_library.configure(write=False)
    beets_library.track("one.flac", seed=1)
    beets_library.import_music()
    before = hashes(beets_library.music)

    assert_clean(beets_library.beet("genretag", "--min-confidence", "0"))

    assert beets_library.genres()["one.flac"] != []
    assert hashes(beets_library.music) == before


def test_a_bad_setting_is_one_line_error(beets_library):
    beets_library.configure(plugin="  count: 0\n")

    done = beets_library.beet("genretag")

    assert done.returncode == 1
    assert done.stderr.strip() == "error: genretagger: count must be a whole number of at least 1, not 0"
