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
from conftest import file_hash, remember_prediction, run_subprocess, tree_hashes
from tagger.decision import confidence_text
from tagger.genres import display_name
from tagger.state import State
from tagger.tags import read_genres, read_snapshot, write_genres

# Three genres in the names written into tags ("Hip-Hop:0.71;Rock:0.20;Blues:0.05").
TOP3 = re.compile(r"^[^:;]+:[01]\.\d\d(;[^:;]+:[01]\.\d\d){2}$")
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


def top3_pairs(top3: str) -> list[tuple[str, str]]:
    """``"Hip-Hop:0.71;Rock:0.20"`` -> ``[("Hip-Hop", "0.71"), ("Rock", "0.20")]``."""
    return [tuple(item.rsplit(":", 1)) for item in top3.split(";")]


def test_tags_every_format_and_keeps_everything_else(make_library, run_cli, genre_model, tmp_path):
    folder, paths = make_library()
    before = {p: (all_tags(p), audio_bytes_hash(p)) for p in paths.values()}
    report = tmp_path / "report.csv"

    result = run_cli(folder, *ANY, "--report", report)
    assert result.code == 0, result.err
    assert "Traceback" not in result.out + result.err
    rows = read_csv(report)
    assert set(rows) == {str(p) for p in paths.values()}
    model_names = {display_name(g, genre_model.settings.display_names) for g in genre_model.settings.genres}
    for ext, path in paths.items():
        row = rows[str(path)]
        assert Path(row["path"]).is_absolute()
        assert row["status"] == "tagged", (ext, row)
        assert TOP3.match(row["top3"]), row["top3"]
        assert 0 < float(row["confidence"]) <= 1
        # One rounding rule: the top3's first probability is the row's confidence rounded down to two places.
        first_name, first_probability = top3_pairs(row["top3"])[0]
        assert first_probability == confidence_text(float(row["confidence"]))
        # top3 speaks the names written into tags, spelled as the genre column spells them.
        assert first_name == row["genre"] in model_names
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
        assert top3_pairs(row["top3"])[0] == (row["genre"], confidence_text(row["confidence"]))


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
    # The tagger's own genres from the first run, still as predicted: unchanged, with or without --overwrite.
    assert {r["status"] for r in read_csv(report).values()} == {"unchanged"}
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


def test_min_confidence_one_makes_everything_uncertain(make_library, run_cli, tmp_path):
    folder, _ = make_library()
    before = stamps(folder)
    report = tmp_path / "u.csv"
    result = run_cli(folder, "-q", "--min-confidence", "1.0", "--report", report)
    assert result.code == 0
    rows = read_csv(report)
    assert {r["status"] for r in rows.values()} == {"uncertain"}
    # The message shows the confidence as the top3 column does, and the threshold with all its digits.
    assert all(r["message"] == f"confidence {top3_pairs(r['top3'])[0][1]} below 1: not written" for r in rows.values())
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
        row = rows[str(path)]
        genres = read_genres(path)
        assert genres[0] == row["genre"] == top3_pairs(row["top3"])[0][0] and 1 <= len(genres) <= 2
        assert all(g.startswith("Marker ") for g in genres) and row["previous_genre"] == "Polka"

    assert run_cli(folder, "-q", "--top-k", "1", "--rescan").code == 0
    for path in paths.values():
        genres = read_genres(path)
        assert len(genres) == 1 and genres[0].startswith("Marker ")
        write_genres(path, ["Polka"])
    assert run_cli(folder, "-q", "--keep-existing", "--report", report).code == 0
    assert {r["status"] for r in read_csv(report).values()} == {"kept-existing"}
    assert all(read_genres(p) == ["Polka"] for p in paths.values())


def test_genre_name_mapping_matches_any_spelling(make_library, run_cli, genre_model, user_dirs, tmp_path):
    """``hiphop = "Hip Hop"`` style: keys are matched whatever their case or punctuation."""
    folder, paths = make_library(formats=("flac",))
    names = "\n".join(f'"{g.upper().replace("HOP", "-HOP")}" = "Custom {g}"' for g in genre_model.settings.genres)
    user_dirs.write_config(f"[genre_names]\n{names}\n")
    report = tmp_path / "n.csv"
    assert run_cli(folder, *ANY, "--report", report).code == 0
    row = read_csv(report)[str(paths["flac"])]
    assert read_genres(paths["flac"]) == [row["genre"]] and row["genre"].startswith("Custom ")
    assert top3_pairs(row["top3"])[0][0] == row["genre"]


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


@pytest.mark.parametrize("args,message", [
    (["--top-k", "0"], "argument --top-k: must be a whole number of at least 1, not '0'"),
    (["--workers", "abc"], "argument --workers: must be a whole number of at least 1, not 'abc'"),
    (["--workers", "-1"], "argument --workers: must be a whole number of at least 1, not '-1'"),
    (["--min-confidence", "2"], "argument --min-confidence: must be a number from 0 to 1, not '2'"),
    (["--min-confidence", "x"], "argument --min-confidence: must be a number from 0 to 1, not 'x'"),
    (["--undo", "last"], "argument --undo: must be a run number as --history lists them, not 'last'"),
    (["--no-such-option"], "unrecognized arguments: --no-such-option"),
])
def test_exit_2_for_bad_options_in_plain_words(run_cli, tmp_path, args, message, capsys):
    with pytest.raises(SystemExit) as exc:
        run_cli(tmp_path, *args)
    assert exc.value.code == 2
    # No Python function or type name ("invalid _positive_int value"), no traceback: the rule, in words.
    assert capsys.readouterr().err.splitlines()[-1] == f"tagger-batch: error: {message}"


def test_exit_2_for_bad_report_name_and_unknown_model(make_library, run_cli, tmp_path):
    folder, _ = make_library(formats=("flac",))
    before = tree_hashes(folder)
    result = run_cli(folder, "-q", "--report", tmp_path / "r.txt")
    assert result.code == 2 and "--report" in result.err
    result = run_cli(folder, "-q", "--model", "no-such-model")
    assert result.code == 2 and result.err == "tagger-batch: error: unknown model 'no-such-model' (models: default)\n"
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


def test_history_undo_and_print_config_work_with_a_broken_config_file(make_library, run_cli, user_dirs):
    folder, paths = make_library(formats=("flac", "mp3"))
    assert run_cli(folder, *ANY).code == 0
    config = user_dirs.write_config("[tagger\nmodel = 1")
    warning = f"tagger-batch: warning: bad config file, its settings are ignored: {config}: "

    history = run_cli("--history")
    assert history.code == 0 and re.search(r"^\s*1\s.*\btag\b.*tagged 2", history.out, re.M)
    assert history.err.startswith(warning) and len(history.err.splitlines()) == 1
    shown = run_cli("--print-config")
    assert shown.code == 0 and shown.err.startswith(warning)
    assert re.search(r"^model = default\s+\(default\)$", shown.out, re.M)
    undone = run_cli("--undo")
    assert undone.code == 0 and undone.err.startswith(warning) and "2 restored, 0 not restored" in undone.out
    assert all(read_snapshot(p) == {} for p in paths.values())
    # Tagging needs the settings: there the broken file is an error.
    tagging = run_cli(folder, *ANY)
    assert tagging.code == 2 and tagging.err.startswith(f"tagger-batch: error: bad config file: {config}: ")
    assert all(read_snapshot(p) == {} for p in paths.values())


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
    assert result.code == 0 and result.err == f"nothing to do: no audio files under {tmp_path / 'empty'}\n"


def test_a_single_file_is_one_file_and_a_file_that_is_not_audio_is_a_usage_error(make_library, run_cli):
    folder, paths = make_library(formats=("flac",))
    result = run_cli(paths["flac"], *ANY)
    assert result.code == 0, result.err
    assert re.fullmatch(r"1 file in \d+\.\d s( \([\d.]+ files/s\))?: tagged 1\n", result.err), result.err
    notes = folder / "notes.txt"
    notes.write_text("not music")
    result = run_cli(notes, *ANY)
    assert result.code == 2 and result.err == f"tagger-batch: error: not an audio file the tagger reads: {notes}\n"


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
def test_undo_restores_each_format_exactly(make_library, run_cli, genre_model, state, id3_version):
    folder, plain = make_library("lib", id3_version=id3_version)
    _, genred = make_library("lib/genred", genre="Ska Punk", id3_version=id3_version)
    everything = list(plain.values()) + list(genred.values())
    for path in everything:  # two genres likely enough that --top-k 2 writes both
        remember_prediction(state, genre_model, path, dict(zip(genre_model.settings.genres, (0.5, 0.25))))
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


def test_undo_from_the_terminal_drops_the_review_labels_of_what_it_put_back(make_library, run_cli, state):
    """A genre accepted in the window and then undone with tagger-batch must not be learnt from reviews."""
    folder, files = make_library("lib", formats=("flac", "mp3"))
    kept = make_library("other", formats=("ogg",))[1]["ogg"]
    for path in [*files.values(), kept]:
        state.set_label(path, "Blues", "review")
    state.commit()
    assert run_cli(folder, *ANY).code == 0

    assert run_cli("--undo").code == 0

    assert [path for path, _, _ in State().labels()] == [str(kept)]


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


# -- statuses that mean what they say ------------------------------------------------------------
def test_read_only_files_and_folders_are_skipped_and_the_run_exits_0(make_library, run_cli, tmp_path):
    folder, paths = make_library()
    locked_file = paths["ogg"]
    locked_folder = folder / "locked"
    locked_folder.mkdir()
    inside = make_track(locked_folder / "inside.flac", seconds=6, channels=1, seed=9)
    os.chmod(locked_file, 0o444)
    os.chmod(locked_folder, 0o555)
    try:
        before = tree_hashes(folder)
        report = tmp_path / "r.csv"
        for args, written in (["--dry-run"], "would-tag"), ([], "tagged"):
            result = run_cli(folder, *ANY, *args, "--report", report)
            assert result.code == 0, result.err
            rows = read_csv(report)
            assert rows.pop(str(locked_file))["message"] == "read-only file: not written"
            assert rows.pop(str(inside))["message"].startswith("read-only folder: not written")
            assert {r["status"] for r in rows.values()} == {written}
            assert f"skipped: {locked_file}: read-only file: not written" in result.err
            assert "error" not in result.err and f"skipped 2, {written} 6" in result.err
        assert file_hash(locked_file) == before[locked_file] and file_hash(inside) == before[inside]
    finally:
        os.chmod(locked_folder, 0o755)
        os.chmod(locked_file, 0o644)


def test_a_file_changed_since_its_analysis_is_skipped(make_library, batch, monkeypatch):
    import tagger.batch

    folder, paths = make_library(formats=("flac", "mp3"))
    read_before_writing = tagger.batch.read_snapshot

    def saved_by_another_program_meanwhile(path):
        os.utime(path, ns=(1, 10**18))
        return read_before_writing(path)

    monkeypatch.setattr(tagger.batch, "read_snapshot", saved_by_another_program_meanwhile)
    outcomes = batch(folder)
    assert {o.status for o in outcomes.values()} == {"skipped"}
    assert {o.message for o in outcomes.values()} == {"file changed since it was analysed: not written"}
    assert all(read_snapshot(p) == {} for p in paths.values())


def test_a_rerun_tells_the_taggers_own_genres_from_the_users(make_library, run_cli, genre_model, user_dirs, tmp_path):
    folder, ours = make_library("lib", formats=("mp3", "flac", "m4a"))
    _, theirs = make_library("lib/mine", formats=("ogg",), genre="Polka")
    assert run_cli(folder, *ANY).code == 0  # run 1 fills the empty genres
    write_genres(ours["m4a"], ["Hand Picked"])  # a genre the tagger wrote, since changed by hand
    # The model now says otherwise: every genre gets another name.
    names = "\n".join(f'{genre} = "Marker {genre}"' for genre in genre_model.settings.genres)
    user_dirs.write_config(f"[genre_names]\n{names}\n")
    before = stamps(folder)
    report = tmp_path / "r.csv"

    assert run_cli(folder, *ANY, "--report", report).code == 0
    rows = read_csv(report)
    for path in (ours["mp3"], ours["flac"]):
        row = rows[str(path)]
        assert row["status"] == "kept-existing"
        assert row["message"] == (f"the tagger's own genre from run 1, but the model now says {row['genre']} "
                                  "(use --overwrite to re-tag)")
    for path in (ours["m4a"], theirs["ogg"]):
        assert rows[str(path)]["message"] == "has a genre already (use --overwrite to replace it)"
    assert stamps(folder) == before

    assert run_cli(folder, *ANY, "--overwrite", "--dry-run", "--report", report).code == 0
    rows = read_csv(report)
    assert {rows[str(p)]["message"] for p in (ours["mp3"], ours["flac"])} == {
        "dry run: nothing written, would re-tag the tagger's own genre from run 1"}
    assert stamps(folder) == before

    assert run_cli(folder, *ANY, "--overwrite", "--report", report).code == 0
    rows = read_csv(report)
    for path in list(ours.values()) + list(theirs.values()):
        row = rows[str(path)]
        assert row["status"] == "tagged" and read_genres(path) == [row["genre"]]
        own = path in (ours["mp3"], ours["flac"])
        assert row["message"] == ("re-tagged: the genre was the tagger's own, from run 1" if own else "")


@pytest.mark.parametrize("id3_version", [3, 4])
def test_top_k_writes_only_genres_near_the_top_one_in_each_format(make_library, run_cli, genre_model, state,
                                                                   tmp_path, id3_version):
    folder, paths = make_library(id3_version=id3_version)
    first, second, third = genre_model.settings.genres[:3]
    names = [display_name(g, genre_model.settings.display_names) for g in (first, second, third)]
    # The second genre has 28% of the top one's probability and is written; the third, 23%, is not.
    for path in paths.values():
        remember_prediction(state, genre_model, path, {first: 0.5, second: 0.140625, third: 0.1171875})
    report = tmp_path / "k.csv"
    assert run_cli(folder, *ANY, "--top-k", "3", "--report", report).code == 0
    rows = read_csv(report)
    written = names[:2]
    for ext, path in paths.items():
        assert rows[str(path)]["top3"] == f"{names[0]}:0.50;{names[1]}:0.14;{names[2]}:0.11"
        if ext == "m4a":
            expected = {"\xa9gen": written}
        elif ext in ("mp3", "wav", "aiff"):
            # ID3v2.4 stores separate values; ID3v2.3 one value joined by "/", as mutagen and Picard write it.
            expected = {"TCON": written if id3_version == 4 else ["/".join(written)]}
        else:
            expected = {"GENRE": written}
        assert read_snapshot(path) == expected, ext
