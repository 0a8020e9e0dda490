"""Bad input and safety: a library of good files and many kinds of bad ones, and a fuzz test."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import numpy as np
import pytest

import badcorpus
from audio import make_track
from conftest import file_hash
from tagger.tags import read_genres

ANY = ("--min-confidence", "0", "-q")
VANISHING = "vanishing.ogg"


@pytest.fixture
def corpus(tmp_path):
    root = tmp_path / "library"
    cases = badcorpus.build(root)
    yield root, cases
    badcorpus.restore_permissions(root)


@pytest.fixture
def vanish_before_write(monkeypatch):
    """Delete ``vanishing.ogg`` just before the tagger writes it (as if another program removed it)."""
    import tagger.batch

    real = tagger.batch.replace_genre_fields

    def replace(path, *args, **kwargs):
        if Path(path).name == VANISHING:
            os.unlink(path)
        return real(path, *args, **kwargs)

    monkeypatch.setattr(tagger.batch, "replace_genre_fields", replace)


def read_report(path: Path) -> dict[str, dict]:
    return {row["path"]: row for row in json.loads(path.read_text(encoding="utf-8"))["files"]}


@pytest.mark.timeout(180)
def test_bad_input_corpus(corpus, run_cli, vanish_before_write, tmp_path):
    root, cases = corpus
    # The FLAC with garbage in the middle still decodes; its damaged audio must be left as it is.
    cases = [badcorpus.Case(c.path, "tagged", "", False) if c.status == "MIDFLAC" else c for c in cases]
    assert len([c for c in cases if not c.path.name.startswith("good.")]) >= 20  # kinds of bad input
    before = {c.path: c.path.read_bytes() for c in cases if c.path.is_file() and not c.path.is_symlink()}
    report = tmp_path / "report.json"

    result = run_cli(root, *ANY, "--report", report)

    assert result.code == 1
    assert "Traceback" not in result.out + result.err
    rows = read_report(report)
    assert sorted(rows) == sorted(str(c.path) for c in cases), "every file once, nothing else"
    for case in cases:
        row = rows[str(case.path)]
        assert row["status"] == case.status, (case.path.name, row)
        assert "\n" not in row["message"] and len(row["message"]) < 300
        if case.status == "tagged":
            assert row["message"] == ""
            assert read_genres(case.path) == [row["genre"]], case.path.name
        else:
            assert re.search(case.message, row["message"]), (case.path.name, row["message"])
        if case.status in ("error", "skipped"):
            assert f"{case.status}: {case.path}: {row['message']}" in result.err
        if case.untouched and case.path in before:
            assert case.path.read_bytes() == before[case.path], case.path.name
    mid = root / "garbage_middle.flac"
    assert mid.read_bytes()[-100_000:] == before[mid][-100_000:]
    assert not (root / VANISHING).exists()
    leftovers = [p for p in root.rglob(".*") if p.name != ".hidden.flac"]
    assert leftovers == [], "temporary copies left behind"
    assert "\u2013" in str(next(p for p in rows if "Björk" in p))

    # A second run over the same library: nothing new breaks, nothing bad is touched.
    result = run_cli(root, *ANY, "--report", report)
    assert result.code == 1 and "Traceback" not in result.out + result.err
    rows = read_report(report)
    for case in cases:
        if case.path.name == VANISHING:
            continue
        # Genres the first run wrote are the tagger's own and still as predicted.
        expected = "unchanged" if case.status == "tagged" else case.status
        assert rows[str(case.path)]["status"] == expected, case.path.name
        if case.untouched and case.path in before:
            assert case.path.read_bytes() == before[case.path], case.path.name


def test_non_utf8_name_round_trip_through_report_and_undo(tmp_path, run_cli):
    root = tmp_path / "lib"
    root.mkdir()
    raw = os.path.join(os.fsencode(root), b"caf\xe9.flac")
    os.rename(make_track(root / "x.flac", seconds=5, channels=1), raw)
    path = Path(os.fsdecode(raw))
    for name in ("r.csv", "r.json"):
        result = run_cli(root, *ANY, "--overwrite", "--rescan", "--report", tmp_path / name)
        assert result.code == 0, result.err
        assert (tmp_path / name).stat().st_size > 0
    assert read_genres(path)
    result = run_cli("--undo")
    assert result.code == 0, result.err
    assert read_genres(path) == []


def test_very_long_file_name_is_tagged(tmp_path, run_cli):
    root = tmp_path / "lib"
    root.mkdir()
    path = make_track(root / ("L" * 240 + ".flac"), seconds=5, channels=1)
    result = run_cli(root, *ANY)
    assert result.code == 0, result.err
    assert read_genres(path)


# -- fuzzing -------------------------------------------------------------------------------------
FUZZ_FORMATS = ("mp3", "flac", "ogg", "opus", "m4a", "wav", "aiff")
FUZZ_PER_FORMAT = 40  # 280 mutated files


def mutate(data: bytes, rng: np.random.Generator) -> bytes:
    """Flip, overwrite, truncate or insert bytes, 1-3 times."""
    out = bytearray(data)
    for _ in range(int(rng.integers(1, 4))):
        kind = rng.integers(0, 5)
        n = len(out)
        if n < 8:
            break
        # Headers and tags live at the start: aim there half the time.
        where = int(rng.integers(0, min(n, 4096))) if rng.random() < 0.5 else int(rng.integers(0, n))
        if kind == 0:  # flip bits
            for i in rng.integers(0, n, size=int(rng.integers(1, 32))):
                out[int(i)] ^= 1 << int(rng.integers(0, 8))
        elif kind == 1:  # overwrite a run with random bytes
            size = int(rng.integers(1, 2048))
            out[where:where + size] = rng.bytes(min(size, n - where))
        elif kind == 2:  # truncate
            del out[int(rng.integers(1, n)):]
        elif kind == 3:  # insert random bytes
            out[where:where] = rng.bytes(int(rng.integers(1, 512)))
        else:  # overwrite with 0x00 / 0xff runs (sizes and lengths become 0 or huge)
            size = int(rng.integers(1, 16))
            out[where:where + size] = bytes([0xFF if rng.random() < 0.5 else 0]) * min(size, n - where)
    return bytes(out)


@pytest.mark.timeout(300)
def test_fuzzed_files(tmp_path, genre_model, state):
    from tagger.batch import BatchRun
    from tagger.policy import Policy

    (tmp_path / "src").mkdir()
    sources = {ext: make_track(tmp_path / "src" / f"s.{ext}", seconds=3, channels=1, seed=i).read_bytes()
               for i, ext in enumerate(FUZZ_FORMATS)}
    rng = np.random.default_rng(20240601)
    outcomes = {}
    hashes = {}
    total = 0
    for batch_no in range(4):  # in batches, so a hang or crash points at few files
        folder = tmp_path / f"fuzz{batch_no}"
        folder.mkdir()
        for ext, data in sources.items():
            for k in range(FUZZ_PER_FORMAT // 4):
                path = folder / f"{ext}_{k}.{ext}"
                path.write_bytes(mutate(data, rng))
                hashes[path] = file_hash(path)
                total += 1
        run = BatchRun(folder, genre_model, state, Policy(min_confidence=0.0, overwrite=True), workers=2)
        for outcome in run.run():
            assert outcome.path not in outcomes
            outcomes[outcome.path] = outcome
    assert total == len(FUZZ_FORMATS) * FUZZ_PER_FORMAT
    assert set(outcomes) == set(hashes), "every file has an outcome"
    statuses = {o.status for o in outcomes.values()}
    assert statuses <= {"tagged", "unchanged", "uncertain", "error"}
    assert "error" in statuses and "tagged" in statuses
    for path, outcome in outcomes.items():
        assert "\n" not in outcome.message
        if outcome.status == "error":
            assert outcome.message, path
            assert file_hash(path) == hashes[path], f"{path.name} errored but was changed"
        elif outcome.status == "tagged":
            assert read_genres(path), path.name
        else:
            assert file_hash(path) == hashes[path], path.name
    assert not [p for p in tmp_path.rglob(".*")], "temporary copies left behind"
