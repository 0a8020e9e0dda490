"""Speed and memory of the whole `tagger-batch` command, against the seed's way, in one run.

Builds its inputs (real 30 s clips from ../shared/data/gtzan when present, else synthetic;
4-minute 44.1 kHz stereo MP3 and FLAC songs; a library of many short files), runs
`tagger-batch` and benchmarks/seed_baseline.py on them as subprocesses (fresh state each time),
and prints one table: clips/s, songs/s, seconds per hour of audio, peak RSS, start-up time to
the first result, and the ratio to the baseline; then the same command with the network's
scores replaced by a constant, the ceiling that the rest of the command leaves. With
--results, appends the table and the machine's details to benchmarks/RESULTS.md; with --plot,
draws cost against song length and library size into benchmarks/scaling.png.

Usage: python benchmarks/bench.py [--clips 40] [--songs 6] [--library 10000] [--results] [--plot]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import soundfile
import soxr

HERE = Path(__file__).resolve().parent
SHARED = HERE.parent.parent / "shared" / "data" / "gtzan"
BIN = Path(sys.executable).parent


@dataclass
class Measure:
    files: int
    audio_seconds: float
    wall: float
    peak_rss_mb: float

    @property
    def files_per_second(self) -> float:
        return self.files / self.wall

    @property
    def seconds_per_audio_hour(self) -> float:
        return self.wall / (self.audio_seconds / 3600)


def run_measured(command: list[str], env: dict[str, str]) -> tuple[float, float, str]:
    """Wall seconds, peak RSS (MB) and stderr of a child process."""
    started = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    err = process.stderr.read().decode(errors="replace")
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode not in (0, 1):
        raise SystemExit(f"{command[0]} failed ({process.returncode}):\n{err[-2000:]}")
    return wall, usage.ru_maxrss / 1024, err


def real_clips() -> list[Path]:
    manifest = SHARED / "MANIFEST.tsv"
    if not manifest.is_file():
        return []
    rows = [line.split("\t") for line in manifest.read_text().splitlines()[1:]]
    return [SHARED / r[0] for r in rows if r[4] == "full" and r[7] == "22050"]


def make_inputs(work: Path, n_clips: int, n_songs: int, n_library: int) -> dict[str, Path]:
    """Create (once) the benchmark folders under ``work``."""
    rng = np.random.default_rng(0)
    sources = real_clips()
    clips = work / "clips"
    if not clips.is_dir():
        clips.mkdir(parents=True)
        for i in range(n_clips):
            if sources:
                audio, rate = soundfile.read(sources[i % len(sources)], dtype="float32")
            else:
                rate = 22050
                audio = (0.1 * rng.standard_normal(30 * rate)).astype(np.float32)
            soundfile.write(clips / f"clip{i:03d}.flac", audio, rate)
    songs = work / "songs"
    if not songs.is_dir():
        songs.mkdir()
        for i in range(n_songs):
            parts = []
            for k in range(8):
                if sources:
                    audio, rate = soundfile.read(sources[(i * 8 + k) % len(sources)], dtype="float32")
                    audio = soxr.resample(audio, rate, 44100)
                else:
                    audio = (0.1 * rng.standard_normal(30 * 44100)).astype(np.float32)
                parts.append(audio)
            song = np.concatenate(parts)
            stereo = np.stack([song, np.roll(song, 441)], axis=1)
            ext, fmt, subtype = (("mp3", "MP3", "MPEG_LAYER_III") if i % 2 else ("flac", "FLAC", "PCM_16"))
            soundfile.write(songs / f"song{i:02d}.{ext}", stereo, 44100, format=fmt, subtype=subtype)
    library = work / f"library{n_library}"
    if not library.is_dir():
        library.mkdir()
        template = work / "short.flac"
        t = np.arange(3 * 22050) / 22050
        soundfile.write(template, (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32), 22050)
        for i in range(n_library):
            folder = library / f"album{i // 100:03d}"
            folder.mkdir(exist_ok=True)
            shutil.copyfile(template, folder / f"track{i % 100:02d}.flac")
    return {"clips": clips, "songs": songs, "library": library}


def make_inputs_apart(work: Path, n_clips: int, n_songs: int, n_library: int) -> dict[str, Path]:
    """:func:`make_inputs` in a process of its own.

    Linux counts the memory a child had before it started its program in that child's peak
    RSS, so the hundreds of MB of audio that building songs leaves in this process would read
    as tagger-batch's.
    """
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        return pool.apply(make_inputs, (work, n_clips, n_songs, n_library))


def audio_seconds(folder: Path) -> float:
    total = 0.0
    for path in folder.rglob("*"):
        if path.is_file() and path.suffix in (".flac", ".mp3"):
            total += soundfile.info(str(path)).duration
    return total


def fresh_copy(folder: Path, scratch: Path) -> Path:
    target = scratch / folder.name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(folder, target)
    return target


MODEL = "default"


def engine(folder: Path, scratch: Path, network: bool = True) -> Measure:
    """The whole `tagger-batch` command on a fresh copy, with fresh state.

    With ``network`` False, the network's scores are replaced by a constant
    (benchmarks/without_network.py): the cost of everything else.
    """
    target = fresh_copy(folder, scratch)
    state = Path(tempfile.mkdtemp(dir=scratch))
    env = dict(os.environ, XDG_DATA_HOME=str(state / "data"), XDG_CONFIG_HOME=str(state / "config"))
    command = [str(BIN / "tagger-batch")] if network else [sys.executable, str(HERE / "without_network.py")]
    wall, rss, _ = run_measured([*command, str(target), "--quiet", "--model", MODEL], env)
    n = sum(1 for p in target.rglob("*") if p.is_file())
    return Measure(n, audio_seconds(target), wall, rss)


def baseline(folder: Path, scratch: Path) -> Measure:
    target = fresh_copy(folder, scratch)
    wall, rss, _ = run_measured([sys.executable, str(HERE / "seed_baseline.py"), str(target)], dict(os.environ))
    n = sum(1 for p in target.rglob("*") if p.is_file())
    return Measure(n, audio_seconds(target), wall, rss)


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text().splitlines()
                if line.startswith("model name")), platform.processor())
    import tensorflow as tf

    return (f"{cpu}; {len(os.sched_getaffinity(0))} cores usable; Python {platform.python_version()}; "
            f"TensorFlow {tf.__version__}; {platform.platform()}")


def table(rows: list[tuple[str, Measure, Measure | None]], startup: float) -> str:
    lines = ["| input | tagger files/s | s per hour of audio | peak RSS MB | seed files/s | speed-up |",
             "|---|---|---|---|---|---|"]
    for name, ours, seed in rows:
        ratio = f"{ours.files_per_second / seed.files_per_second:.1f}x" if seed else "-"
        seed_rate = f"{seed.files_per_second:.2f}" if seed else "-"
        lines.append(f"| {name} ({ours.files} files) | {ours.files_per_second:.2f} | {ours.seconds_per_audio_hour:.1f} "
                     f"| {ours.peak_rss_mb:.0f} | {seed_rate} | {ratio} |")
    lines.append(f"\nStart-up to the first result (`tagger-batch` on one 30 s clip, whole command): {startup:.2f} s")
    return "\n".join(lines)


def length_sweep(scratch: Path) -> tuple[list[float], list[float]]:
    """Seconds to classify one file against its length, in-process (model loaded once)."""
    from tagger.engine import Classifier
    from tagger.model import GenreModel

    classifier = Classifier(GenreModel.load(MODEL), workers=1)
    minutes = [0.5, 1, 2, 4, 8, 16]
    costs = []
    rng = np.random.default_rng(1)
    for m in minutes:
        path = scratch / f"len{m}.flac"
        audio = (0.1 * rng.standard_normal(int(m * 60 * 44100))).astype(np.float32)
        soundfile.write(path, np.stack([audio, audio], axis=1), 44100)
        list(classifier.classify([path]))
        started = time.perf_counter()
        for _ in range(3):
            list(classifier.classify([path]))
        costs.append((time.perf_counter() - started) / 3)
        path.unlink()
    return minutes, costs


def main() -> None:
    global MODEL
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "genre-tagger-bench")
    parser.add_argument("--clips", type=int, default=40)
    parser.add_argument("--songs", type=int, default=6)
    parser.add_argument("--library", type=int, default=10000)
    parser.add_argument("--model", default="default", help="model name or folder (default: the shipped one)")
    parser.add_argument("--no-baseline", action="store_true", help="skip the seed-style runs")
    parser.add_argument("--results", action="store_true", help="append to benchmarks/RESULTS.md")
    parser.add_argument("--plot", action="store_true", help="draw benchmarks/scaling.png")
    args = parser.parse_args()
    MODEL = args.model

    inputs = make_inputs_apart(args.work, args.clips, args.songs, args.library)
    scratch = args.work / "scratch"
    scratch.mkdir(exist_ok=True)
    one = args.work / "one"
    one.mkdir(exist_ok=True)
    shutil.copy(next(inputs["clips"].iterdir()), one / "clip.flac")
    startup = engine(one, scratch).wall

    rows, ceilings = [], []
    for name in ("clips", "songs"):
        ours = engine(inputs[name], scratch)
        seed = None if args.no_baseline else baseline(inputs[name], scratch)
        rows.append((f"30 s clips" if name == "clips" else "4-min 44.1 kHz stereo songs", ours, seed))
        ceilings.append((name, engine(inputs[name], scratch, network=False)))
        print(f"{name}: {json.dumps(ours.__dict__)} seed: {json.dumps(seed.__dict__) if seed else '-'}",
              file=sys.stderr)
    sizes = sorted({min(100, args.library), min(1000, args.library), args.library})
    library_runs = []
    for size in sizes:
        folder = inputs["library"] if size == args.library else make_inputs_apart(args.work, 0, 0, size)["library"]
        library_runs.append((size, engine(folder, scratch)))
    rows.append((f"library of short files", library_runs[-1][1], None))
    report = table(rows, startup)
    report += "\n\nLibrary size vs cost: " + ", ".join(
        f"{size} files: {m.files_per_second:.1f} files/s, peak RSS {m.peak_rss_mb:.0f} MB" for size, m in library_runs)
    report += ("\n\nWithout the network (its scores replaced by a constant; decoding, features, decisions, "
               "tag writes and start-up as above): " + ", ".join(
                   f"{name} {m.files_per_second:.2f} files/s" for name, m in ceilings))
    print(report)

    if args.plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        minutes, costs = length_sweep(scratch)
        fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
        left.plot(minutes, costs, marker="o")
        left.set(xscale="log", xlabel="song length (min)", ylabel="seconds per file (1 thread)",
                 title="Cost against song length", ylim=(0, None))
        right.plot([s for s, _ in library_runs], [m.wall for _, m in library_runs], marker="o", label="wall s")
        right.set(xscale="log", yscale="log", xlabel="files in library", ylabel="seconds (whole command)",
                  title="Cost against library size")
        twin = right.twinx()
        twin.plot([s for s, _ in library_runs], [m.peak_rss_mb for _, m in library_runs], "r--", marker="s")
        twin.set_ylabel("peak RSS (MB)", color="r")
        twin.set_ylim(0, 1.2 * max(m.peak_rss_mb for _, m in library_runs))  # from 0: flat should look flat
        fig.tight_layout()
        fig.savefig(HERE / "scaling.png", dpi=100)
        report += "\n\nCost against song length (one thread): " + ", ".join(
            f"{m} min: {c:.3f} s" for m, c in zip(minutes, costs))
    if args.results:
        stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
        with (HERE / "RESULTS.md").open("a", encoding="utf-8") as handle:
            handle.write(f"\n## {stamp}\n\nMachine: {machine()}\n\n{report}\n")


if __name__ == "__main__":
    main()
