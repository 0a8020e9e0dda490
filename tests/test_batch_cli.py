"""``tagger-batch`` end to end on real files in all seven formats (tagger.cli, tagger.batch)."""

from __future__ import annotations

import csv
import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

from audio import all_tags, audio_bytes_hash, make_damaged_mp3, make_track
from conftest import file_hash, run_subprocess, tree_hashes
from tagger.genres import display_name
from tagger.tags import read_genres, read_snapshot

TOP3 = re.compile(r"^[a-z0-9_\-]+:[01]\.\d\d(;[a-z0-9_\-]+:[01]\.\d\d){2}$")
# Tag whatever the model thinks, however unsure: these tests are about what is written, not how well.
ANY = ("--min-confidence", "0", "-q")


def stamps(folder: Path) -> dict[Path, tuple[str, int]]:
    return {p: (h, p.stat().st_mtime_ns) for p, h in tree_hashes(folder).items()}


def read_csv(path: Path) -> dict[str, dict]:
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == ("path", "status", "genre", "confidence", "top3", "previous_genre",
                                            "message")
        return {row["path"]: row for row in reader}


def read_json(path: Path) -> dict[str, dict]:
    data = json.loads(path.read_text(encoding="utf-8"))
    assert set(data) == {"summary", "files"}
    for row in data["files"]:
        assert set(row) == {"path", "status", "genre", "confidence", "top3", "previous_genre", "message"}
    return {row["path"]: row for row in data["files"]}


def expected_name(genre_model, top3: str) -> str:
    genre = top3.split(";")[0].split(":")[0]
    return display_name(genre, genre_model.settings.display_names)


def test_tags_every_format_and_keeps_everything_else(make_library, run_cli, genre_model, tmp_path):
    folder, paths = make_library()
    before = {p: (all_tags(p), audio_bytes_hash(p)) for p in paths.values()}
    report = tmp_path / "report.csv"

    result = run_cli(folder, *ANY, "--report", report)
    assert result.code == 0, result.err
    assert "Traceback" not in result.out + result.err
    rows = read_csv(report)
    assert set(rows) == {str(p) for p in paths.values()}
    for ext, path in paths.items():
        row = rows[str(path)]
        assert Path(row["path"]).is_absolute()
        assert row["status"] == "tagged", (ext, row)
        assert TOP3.match(row["top3"]), row["top3"]
        assert 0 < float(row["confidence"]) <= 1
        assert row["confidence"] == f"{float(row['confidence']):g}" or float(row["confidence"]) == pytest.approx(
            float(row["top3"].split(";")[0].split(":")[1]), abs=0.006)
        assert row["genre"] == expected_name(genre_model, row["top3"])
        assert row["previous_genre"] == "" and row["message"] == ""
        assert read_genres(path) == [row["genre"]], ext
        assert all_tags(path) == before[path][0], ext
        assert audio_bytes_hash(path) == before[path][1], ext
    assert "7 files" in result.err and "tagged 7" in result.err


def test_existing_genre_kept_by_default_and_replaced_with_overwrite(make_library, run_cli, tmp_path):
    folder, paths = make_library(genre="Polka")
    before = tree_hashes(folder)
    report = tmp_path / "r.json"

    result = run_cli(folder, *ANY, "--report", report)
    assert result.code == 0
    rows = read_json(report)
    assert {r["status"] for r in rows.values()} == {"kept-existing"}
    assert all(r["previous_genre"] == "Polka" and "--overwrite" in r["message"] for r in rows.values())
    assert tree_hashes(folder) == before

    result = run_cli(folder, *ANY, "--overwrite", "--report", report)
    assert result.code == 0
    rows = read_json(report)
    for path in paths.values():
        row = rows[str(path)]
        assert row["status"] == "tagged" and row["previous_genre"] == "Polka"
        assert read_genres(path) == [row["genre"]] != ["Polka"]


def test_dry_run_changes_no_byte(make_library, run_cli, tmp_path, user_dirs):
    folder, paths = make_library()
    before = stamps(folder)
    report = tmp_path / "dry.csv"
    result = run_cli(folder, *ANY, "--dry-run", "--report", report)
    assert result.code == 0
    assert stamps(folder) == before
    rows = read_csv(report)
    assert {r["status"] for r in rows.values()} == {"would-tag"}
    assert all(r["genre"] and TOP3.match(r["top3"]) for r in rows.values())
    # A dry run is not a run that can be undone.
    assert run_cli("--undo").code == 2


def test_report_json_rows_and_summary(make_library, run_cli, tmp_path):
    folder, paths = make_library(formats=("flac", "mp3", "m4a"))
    (folder / "broken.ogg").write_bytes(b"OggS not really")
    report = tmp_path / "out.JSON"
    result = run_cli(folder, *ANY, "--report", report)
    assert result.code == 1
    data = json.loads(report.read_text(encoding="utf-8"))
    assert data["summary"]["files"] == 4
    assert data["summary"]["counts"] == {"error": 1, "tagged": 3}
    rows = read_json(report)
    assert [r["path"] for r in data["files"]] == sorted(rows)
    broken = rows[str(folder / "broken.ogg")]
    assert broken["status"] == "error" and broken["message"] and "\n" not in broken["message"]
    assert broken["confidence"] is None and broken["genre"] == ""
    for path in paths.values():
        row = rows[str(path)]
        assert row["status"] == "tagged" and isinstance(row["confidence"], float)
        assert row["top3"].split(";")[0].split(":")[1] == f"{row['confidence']:.2f}"


def test_rerun_rewrites_nothing_and_uses_the_cache(make_library, run_cli, tmp_path, monkeypatch):
    import tagger.features

    folder, paths = make_library()
    assert run_cli(folder, *ANY).code == 0
    after_first = stamps(folder)

    def no_decoding(*args, **kwargs):
        raise AssertionError("decoded again although the file did not change")

    monkeypatch.setattr(tagger.features, "decode_track", no_decoding)
    report = tmp_path / "again.csv"
    result = run_cli(folder, *ANY, "--report", report)
    assert result.code == 0, result.err
    assert {r["status"] for r in read_csv(report).values()} == {"kept-existing"}
    result = run_cli(folder, *ANY, "--overwrite", "--report", report)
    assert result.code == 0, result.err
    assert {r["status"] for r in read_csv(report).values()} == {"unchanged"}
    assert stamps(folder) == after_first


def test_rescan_decodes_again_and_changed_files_are_decoded(make_library, run_cli, monkeypatch):
    import tagger.features

    folder, paths = make_library(formats=("flac", "m4a", "mp3"))
    assert run_cli(folder, *ANY).code == 0
    calls = []
    real = tagger.features.decode_track

    def counting(path, settings):
        calls.append(Path(path))
        return real(path, settings)

    monkeypatch.setattr(tagger.features, "decode_track", counting)
    assert run_cli(folder, *ANY).code == 0
    assert calls == []
    assert run_cli(folder, *ANY, "--rescan").code == 0
    assert sorted(calls) == sorted(paths.values())
    calls.clear()
    os.utime(paths["flac"], ns=(1, 10**18))  # touched by another program: analysed again
    assert run_cli(folder, *ANY).code == 0
    assert calls == [paths["flac"]]


def test_top_k_writes_several_genres_in_each_format(make_library, run_cli, genre_model, tmp_path):
    folder, paths = make_library()
    report = tmp_path / "k.csv"
    assert run_cli(folder, *ANY, "--top-k", "2", "--report", report).code == 0
    rows = read_csv(report)
    for ext, path in paths.items():
        top = [g.split(":")[0] for g in rows[str(path)]["top3"].split(";")][:2]
        names = [display_name(g, genre_model.settings.display_names) for g in top]
        assert read_genres(path) == names, ext


def test_min_confidence_one_makes_everything_uncertain(make_library, run_cli, tmp_path):
    folder, _ = make_library()
    before = stamps(folder)
    report = tmp_path / "u.csv"
    result = run_cli(folder, "-q", "--min-confidence", "1.0", "--report", report)
    assert result.code == 0
    rows = read_csv(report)
    assert {r["status"] for r in rows.values()} == {"uncertain"}
    assert all("below" in r["message"] for r in rows.values())
    assert stamps(folder) == before


def marker_config(genre_model, extra: str = "") -> str:
    names = "\n".join(f'{genre} = "Marker {genre.upper()}"' for genre in genre_model.settings.genres)
    return f"[tagger]\nmin_confidence = 0.0\ntop_k = 2\n{extra}\n[genre_names]\n{names}\n"


def test_config_file_is_honoured_and_command_line_wins(make_library, run_cli, genre_model, user_dirs, tmp_path):
    folder, paths = make_library(formats=("mp3", "flac", "m4a"), genre="Polka")
    user_dirs.write_config(marker_config(genre_model, "overwrite = true"))
    report = tmp_path / "c.csv"
    assert run_cli(folder, "-q", "--report", report).code == 0
    rows = read_csv(report)
    for path in paths.values():
        top = [g.split(":")[0] for g in rows[str(path)]["top3"].split(";")][:2]
        assert read_genres(path) == [f"Marker {g.upper()}" for g in top]
        assert rows[str(path)]["previous_genre"] == "Polka"

    assert run_cli(folder, "-q", "--top-k", "1", "--rescan").code == 0
    for path in paths.values():
        genres = read_genres(path)
        assert len(genres) == 1 and genres[0].startswith("Marker ")
    assert run_cli(folder, "-q", "--keep-existing", "--report", report).code == 0
    assert {r["status"] for r in read_csv(report).values()} == {"kept-existing"}


def test_genre_name_mapping_matches_any_spelling(make_library, run_cli, genre_model, user_dirs, tmp_path):
    """``hiphop = "Hip Hop"`` style: keys are matched whatever their case or punctuation."""
    folder, paths = make_library(formats=("flac",))
    names = "\n".join(f'"{g.upper().replace("HOP", "-HOP")}" = "Custom {g}"' for g in genre_model.settings.genres)
    user_dirs.write_config(f"[genre_names]\n{names}\n")
    report = tmp_path / "n.csv"
    assert run_cli(folder, *ANY, "--report", report).code == 0
    row = read_csv(report)[str(paths["flac"])]
    assert read_genres(paths["flac"]) == [f"Custom {row['top3'].split(':')[0]}"]


def test_print_config_shows_sources(run_cli, user_dirs, genre_model):
    path = user_dirs.write_config(marker_config(genre_model))
    result = run_cli("--print-config", "--top-k", "3")
    assert result.code == 0
    lines = result.out.splitlines()
    assert f"config file: {path}" in lines[0]
    assert any(re.match(r"top_k = 3\s+\(command line\)", line) for line in lines)
    assert any(re.match(rf"min_confidence = 0\.0\s+\({re.escape(str(path))}\)", line) for line in lines)
    assert any(re.match(r"overwrite = False\s+\(default\)", line) for line in lines)
    assert any(line.startswith(f"genre_names.{genre_model.settings.genres[0]} = ") for line in lines)


def test_print_config_without_a_file(run_cli, user_dirs):
    result = run_cli("--print-config")
    assert result.code == 0
    assert "(not present)" in result.out.splitlines()[0]
    assert re.search(r"model = default\s+\(default\)", result.out)


# -- exit codes ----------------------------------------------------------------------------------
def test_exit_2_for_no_such_folder(run_cli, tmp_path):
    result = run_cli(tmp_path / "nope", "-q")
    assert result.code == 2 and "no such folder" in result.err
    assert "Traceback" not in result.err


@pytest.mark.parametrize("args", [["--top-k", "0"], ["--min-confidence", "2"], ["--min-confidence", "x"],
                                  ["--no-such-option"], ["--workers", "-1"]])
def test_exit_2_for_bad_options(run_cli, tmp_path, args, capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli(tmp_path, *args)
    assert exc.value.code == 2
    assert "Traceback" not in capsys.readouterr().err


def test_exit_2_for_bad_report_name_and_unknown_model(make_library, run_cli, tmp_path):
    folder, _ = make_library(formats=("flac",))
    before = tree_hashes(folder)
    result = run_cli(folder, "-q", "--report", tmp_path / "r.txt")
    assert result.code == 2 and "--report" in result.err
    result = run_cli(folder, "-q", "--model", "no-such-model")
    assert result.code == 2 and "unknown model" in result.err
    result = run_cli(folder, "-q", "--model", str(tmp_path / "not" / "a" / "model"))
    assert result.code == 2 and "not a model folder" in result.err
    assert tree_hashes(folder) == before


@pytest.mark.parametrize("text,message", [
    ("[tagger\nmodel = 1", "bad config file"),
    ("[tagger]\ncolour = 'blue'\n", "unknown option"),
    ("[tagger]\ntop_k = 'two'\n", "must be int"),
    ("[tagger]\noverwrite = 1\n", "must be bool"),
    ("[genre_names]\nrock = 5\n", "must be strings"),
])
def test_exit_2_for_bad_config_file(make_library, run_cli, user_dirs, text, message):
    folder, _ = make_library(formats=("flac",))
    before = tree_hashes(folder)
    user_dirs.write_config(text)
    result = run_cli(folder, "-q")
    assert result.code == 2 and message in result.err and "Traceback" not in result.err
    assert tree_hashes(folder) == before


def test_exit_1_when_some_files_fail_others_still_tagged(make_library, run_cli, tmp_path):
    folder, paths = make_library(formats=("flac", "m4a", "wav"))
    bad = folder / "bad.mp3"
    bad.write_bytes(b"this is not audio\n" * 50)
    bad_bytes = bad.read_bytes()
    result = run_cli(folder, *ANY)
    assert result.code == 1
    assert f"error: {bad}:" in result.err and "Traceback" not in result.err
    assert bad.read_bytes() == bad_bytes
    assert all(read_genres(p) for p in paths.values())


def test_empty_folder_is_fine(run_cli, tmp_path):
    (tmp_path / "empty").mkdir()
    result = run_cli(tmp_path / "empty", "-q")
    assert result.code == 0 and "no audio files" in result.err


# -- history and undo ----------------------------------------------------------------------------
def test_history_and_undo_round_trip(make_library, run_cli, tmp_path):
    folder, plain = make_library("lib", formats=("mp3", "flac", "m4a", "opus"))
    _, genred = make_library("lib/old", formats=("wav", "ogg", "aiff", "mp3"), genre="Polka")
    everything = list(plain.values()) + list(genred.values())
    original = {p: read_snapshot(p) for p in everything}
    original_hash = {p: file_hash(p) for p in everything}

    result = run_cli(folder, *ANY, "--overwrite")
    assert result.code == 0
    assert all(read_genres(p) and read_genres(p) != ["Polka"] for p in everything)

    # One file is changed by hand after the run: undo must leave it alone.
    from tagger.tags import snapshot_for
    from tagger.writer import replace_genre_fields

    hand = genred["ogg"]
    replace_genre_fields(hand, snapshot_for(hand, ["Hand Picked"]))

    history = run_cli("--history")
    assert history.code == 0
    assert re.search(rf"^\s*1\s.*\btag\b.*{re.escape(str(folder))}.*tagged 8", history.out, re.M)

    result = run_cli("--undo")
    assert result.code == 1
    assert f"not restored: {hand}: genre changed since that run" in result.err
    assert "7 restored, 1 not restored" in result.out
    for path in everything:
        if path == hand:
            assert read_genres(path) == ["Hand Picked"]
        else:
            assert read_snapshot(path) == original[path], path
    # MP3, FLAC and M4A without a genre had no genre field at all before; they have none again.
    assert all(read_snapshot(p) == {} for p in plain.values())

    history = run_cli("--history")
    assert re.search(r"^\s*1\s.*\(undone by run 2\)", history.out, re.M)
    assert re.search(r"^\s*2\s.*\bundo\b.*\(undoes run 1\)", history.out, re.M)
    result = run_cli("--undo", "1")
    assert result.code == 2 and "already undone" in result.err
    assert run_cli("--undo", "99").code == 2
    # The undo is a journaled run too: undoing it by number puts the tagger's genres back.
    result = run_cli("--undo", "2")
    assert result.code == 0, result.err
    assert all(read_genres(p) != ["Polka"] and read_genres(p) for p in everything if p != hand)
    assert sum(file_hash(p) == original_hash[p] for p in everything) == 0


def test_nothing_to_undo(run_cli):
    result = run_cli("--undo")
    assert result.code == 2 and "nothing to undo" in result.err
    assert run_cli("--history").out.strip() == "no runs yet"


@pytest.mark.parametrize("id3_version", [3, 4])
def test_undo_restores_each_format_exactly(make_library, run_cli, id3_version):
    folder, plain = make_library("lib", id3_version=id3_version)
    _, genred = make_library("lib/genred", genre="Ska Punk", id3_version=id3_version)
    everything = list(plain.values()) + list(genred.values())
    original = {p: read_snapshot(p) for p in everything}
    tags = {p: all_tags(p) for p in everything}
    assert run_cli(folder, *ANY, "--overwrite", "--top-k", "2").code == 0
    assert all(len(read_genres(p)) == (2 if id3_version == 4 or p.suffix not in (".mp3", ".wav", ".aiff") else 1)
               for p in everything)
    result = run_cli("--undo")
    assert result.code == 0, result.err
    assert "14 restored, 0 not restored" in result.out
    for path in everything:
        assert read_snapshot(path) == original[path], path
        assert all_tags(path) == tags[path], path
    assert all(read_snapshot(p) == {} for p in plain.values())
    assert all(read_genres(p) == ["Ska Punk"] for p in genred.values())


# -- as a separate process -----------------------------------------------------------------------
def test_decoder_chatter_about_a_damaged_mp3_stays_off_the_terminal(tmp_path):
    """mpg123 (inside libsndfile) prints resync notes on fd 2; they go to a log the summary names."""
    folder = tmp_path / "lib"
    folder.mkdir()
    make_damaged_mp3(folder / "damaged.mp3")
    make_track(folder / "fine.flac", seconds=10, channels=1)
    result = run_subprocess(folder, "--dry-run", "--min-confidence", "0")
    assert result.returncode in (0, 1), result.stderr
    assert "Note:" not in result.stderr and "Illegal" not in result.stderr, result.stderr
    log = Path(os.environ["XDG_DATA_HOME"]) / "genre-tagger" / "decoder-messages.log"
    assert "Illegal Audio-MPEG-Header" in log.read_text()
    assert f"the audio decoders' own messages about damaged files: {log}" in result.stderr
    assert "2 files in" in result.stderr


def test_console_script_end_to_end(make_library, tmp_path):
    folder, paths = make_library()
    (folder / "notes.txt").write_text("not music")
    broken = folder / "broken.flac"
    broken.write_bytes(b"fLaC" + bytes(100))
    before = {p: (all_tags(p), audio_bytes_hash(p)) for p in paths.values()}
    report = tmp_path / "report.json"
    result = run_subprocess(folder, "--min-confidence", "0", "--report", report)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert f"error: {broken}:" in result.stderr
    rows = read_json(report)
    assert set(rows) == {str(p) for p in paths.values()} | {str(broken)}
    for path in paths.values():
        assert rows[str(path)]["status"] == "tagged"
        assert read_genres(path) == [rows[str(path)]["genre"]]
        assert (all_tags(path), audio_bytes_hash(path)) == before[path]
    assert broken.read_bytes() == b"fLaC" + bytes(100)


def test_a_confidence_just_below_the_threshold_never_reads_as_reaching_it():
    import numpy as np

    from tagger.batch import Policy, choose_status
    from tagger.decision import decide

    decision = decide(np.array([[0.7156, 0.2844]]), ("pop", "rock"), np.zeros(1))
    status, message = choose_status(decision, [], ["Pop"], Policy(min_confidence=0.72))
    assert status == "uncertain" and message.startswith("confidence 0.71 below 0.72")
