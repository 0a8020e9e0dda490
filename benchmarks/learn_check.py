"""Issue 22's "done when" check: `tagger-batch LIB --learn` on three made-up genres from GTZAN clips.

Builds, in a temporary folder (never in the data folder), a library of GTZAN's full 30 s clips:
"Loud" = metal + rock, "Chill Stuff" = classical + jazz, "Groove" = disco + hiphop + reggae,
artist = genre and block of three GTZAN ids (clips of one artist mostly have consecutive ids),
about a third of each genre's clips untagged, taken by whole artist. Runs `tagger-batch LIB
--learn` with fresh user folders and prints: how many untagged clips got their right genre,
whether any tagged file changed (SHA-256), and how many blues / country / pop clips (genres never
labelled) the learned model answers with confidence, with and without its abstain rule.

Usage: python benchmarks/learn_check.py [--data ../shared/data/gtzan]
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

USER_GENRES = {"Loud": ["metal", "rock"], "Chill Stuff": ["classical", "jazz"],
               "Groove": ["disco", "hiphop", "reggae"]}
NEVER_LABELLED = ["blues", "country", "pop"]
IDS_PER_ARTIST = 3
DEFAULT_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "gtzan"


def full_clips(data: Path) -> list[dict[str, str]]:
    """MANIFEST.tsv rows of the whole 30 s clips."""
    with (data / "MANIFEST.tsv").open(newline="", encoding="utf-8") as handle:
        return [row for row in csv.DictReader(handle, delimiter="\t") if row["kind"] == "full"]


def artist_of(row: dict[str, str]) -> str:
    """Made-up artist of a clip: its GTZAN genre and block of consecutive ids."""
    return f"{row['genre']} group {int(row['gtzan_id'].split('.')[1]) // IDS_PER_ARTIST}"


def untagged_artists(rows: list[dict[str, str]]) -> set[str]:
    """Whole artists making up about a third of these clips (every third artist first)."""
    artists = sorted({artist_of(r) for r in rows})
    chosen, count = set(), 0
    for artist in artists[1::3] + artists[0::3] + artists[2::3]:
        size = sum(artist_of(r) == artist for r in rows)
        if count + size <= round(len(rows) / 3):
            chosen.add(artist)
            count += size
    return chosen


def build_library(data: Path, library: Path) -> dict[Path, str]:
    """Copy and tag the clips; returns {untagged path: its right user genre}."""
    from mutagen.flac import FLAC

    rows, truth = full_clips(data), {}
    for user_genre, sources in USER_GENRES.items():
        mine = [r for r in rows if r["genre"] in sources]
        hidden = untagged_artists(mine)
        for row in mine:
            tagged = artist_of(row) not in hidden
            path = library / ("tagged" if tagged else "untagged") / f"{row['gtzan_id']}.flac"
            path.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(data / row["file"], path)
            tags = FLAC(path)
            tags.delete()
            tags.update({"artist": artist_of(row), "title": row["gtzan_id"]})
            if tagged:
                tags["genre"] = user_genre
            tags.save()
            if not tagged:
                truth[path] = user_genre
    return truth


def hashes(folder: Path) -> dict[Path, str]:
    """SHA-256 of every file under ``folder``."""
    return {p: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def confident_share(model: Path, clips: list[Path]) -> int:
    """How many of ``clips`` the model answers at its own min_confidence or above."""
    from tagger.decision import decide
    from tagger.features import file_windows
    from tagger.model import GenreModel

    loaded = GenreModel.load(str(model))
    count = 0
    for clip in clips:
        windows = file_windows(clip, loaded.settings.features)
        decision = decide(loaded.predict(windows.mels), loaded.settings.genres, windows.starts)
        count += decision.confidence >= loaded.settings.min_confidence
    return count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the GTZAN folder (read only)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        os.environ.update(XDG_DATA_HOME=str(root / "data"), XDG_CONFIG_HOME=str(root / "config"))
        truth = build_library(args.data, root / "LIB")
        before = hashes(root / "LIB" / "tagged")
        batch = Path(sys.executable).parent / "tagger-batch"
        subprocess.run([str(batch), str(root / "LIB"), "--learn", "--quiet"], check=True)
        from tagger.model import user_models_dir
        from tagger.novelty import NOVELTY_FILE
        from tagger.tags import read_genres
        from tagger.training.learn import learned_model_name

        right = sum(read_genres(path) == [genre] for path, genre in truth.items())
        print(f"untagged clips given their right genre: {right} of {len(truth)} ({right / len(truth):.0%})")
        print(f"tagged files changed: {sum(before[p] != h for p, h in hashes(root / 'LIB' / 'tagged').items())}")
        model = user_models_dir() / learned_model_name(root / "LIB")
        plain = root / "without-rule"
        shutil.copytree(model, plain)
        (plain / NOVELTY_FILE).unlink()
        oov = [args.data / r["file"] for r in full_clips(args.data) if r["genre"] in NEVER_LABELLED]
        print(f"{', '.join(NEVER_LABELLED)} clips answered with confidence: {confident_share(model, oov)} of "
              f"{len(oov)} with the abstain rule, {confident_share(plain, oov)} without it")
    return 0


if __name__ == "__main__":
    sys.exit(main())
