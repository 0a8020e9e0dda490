"""WMA end to end: a Windows Media file is classified, tagged and put back (the registry's ASF class)."""

from __future__ import annotations

import csv

from audio import all_tags, audio_bytes_hash, make_track
from tagger.formats import Asf, format_of_snapshot
from tagger.policy import TOP_K_SHARE
from tagger.tags import read_info, read_snapshot


def test_wma_is_classified_tagged_and_undone(run_cli, tmp_path):
    folder = tmp_path / "lib"
    folder.mkdir()
    path = make_track(folder / "song.wma", seconds=30, channels=2, title="Tïtle", artist="Ärtist",
                      album="Album ✓", genre="Polka")
    tags_before, audio_before = all_tags(path), audio_bytes_hash(path)
    assert "WM/Picture" in tags_before and read_snapshot(path) == {"WM/Genre": ["Polka"]}
    report = tmp_path / "report.csv"

    result = run_cli(folder, "--min-confidence", "0", "--overwrite", "--top-k", "2", "-q", "--report", report)
    assert result.code == 0, result.err
    with report.open(newline="", encoding="utf-8") as handle:
        (row,) = csv.DictReader(handle)
    assert (row["path"], row["status"], row["previous_genre"]) == (str(path), "tagged", "Polka")
    # The 30 s track was analysed (all its windows), not rejected: a top-3 with real probabilities.
    assert len(row["top3"].split(";")) == 3 and 0 < float(row["confidence"]) <= 1
    written = read_snapshot(path)["WM/Genre"]
    # --top-k 2 writes the second genre only at >= TOP_K_SHARE of the top one's probability.
    ranked = [(name, float(p)) for name, p in (pair.split(":") for pair in row["top3"].split(";"))]
    expected = [name for name, p in ranked[:2] if p >= TOP_K_SHARE * ranked[0][1]]
    assert written == expected and written[0] == row["genre"] and "Polka" not in written
    assert isinstance(format_of_snapshot(read_snapshot(path)), Asf)
    info = read_info(path)
    assert (info.title, info.artist, info.album, info.genres) == ("Tïtle", "Ärtist", "Album ✓", written)
    assert all_tags(path) == tags_before
    assert audio_bytes_hash(path) == audio_before

    result = run_cli("--undo")
    assert result.code == 0, result.err
    assert read_snapshot(path) == {"WM/Genre": ["Polka"]}
    assert all_tags(path) == tags_before
    assert audio_bytes_hash(path) == audio_before
