"""``tagger-batch``: tag a music library from the terminal."""

from __future__ import annotations

import argparse
import dataclasses
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from tagger import __version__
from tagger.batch import BatchRun, FileOutcome
from tagger.config import OPTIONS, Config, ConfigError, config_path, load_config
from tagger.policy import TOP_K_SHARE, policy_from_config
from tagger.report import FORMATS, write_report
from tagger.scan import is_audio_path

if TYPE_CHECKING:  # loading a model pulls in its runtime: not for --help
    from tagger.model import GenreModel

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
# --learn leaves out genres with fewer files than this (as tagger-train retrain does).
MIN_PER_GENRE = 3

# In the data folder: what C libraries printed during the last run (see tagger.native_log).
DECODER_LOG = "decoder-messages.log"


class UsageError(Exception):
    """Bad invocation: exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagger-batch", formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Predict a genre for every audio file under FOLDER and write it into the file's tags.",
        epilog=_epilog())
    parser.add_argument("folder", nargs="?", type=Path, help="music folder (or a single file) to tag")
    parser.add_argument("--dry-run", action="store_true", help="write nothing; report what would be written")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--overwrite", action="store_true", default=None,
                      help="replace genres that are already there (default: only fill empty ones)")
    mode.add_argument("--keep-existing", dest="overwrite", action="store_false",
                      help="only fill empty genres (the default unless the config file says otherwise)")
    parser.add_argument("--report", type=Path, metavar="FILE", help="write a per-file report (.csv or .json)")
    parser.add_argument("--rescan", action="store_true", help="analyse every file again, ignoring stored results")
    parser.add_argument("--model", metavar="NAME_OR_PATH", help="model to use (default: the shipped one)")
    parser.add_argument("--learn", action="store_true",
                        help="learn a model from the files under FOLDER that have a genre (validated on held-out "
                             "artists, figures printed), then tag the files without one with it")
    parser.add_argument("--min-per-genre", type=_positive_int, metavar="N",
                        help=f"with --learn: leave out genres with fewer files (default: {MIN_PER_GENRE})")
    parser.add_argument("--fallback", choices=("default",),
                        help="with --learn: genres left out for too few files that the default model knows "
                             "get its answer (default: they are reported and left alone)")
    parser.add_argument("--workers", type=_positive_int, metavar="N", help="decoding threads (default: one per core)")
    parser.add_argument("--min-confidence", type=_probability, metavar="P",
                        help="leave files whose top genre is less likely than P (0-1) alone (default: the model's)")
    parser.add_argument("--top-k", type=_positive_int, metavar="N",
                        help=f"write up to N genres as several values: the N most likely, each at least "
                             f"{TOP_K_SHARE * 100:g}%% as likely as the top one (default 1)")
    parser.add_argument("--keep-mtime", action="store_true", default=None,
                        help="give written files back their modification time")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.add_argument("--print-config", action="store_true", help="show the settings in force and where each comes from")
    parser.add_argument("--history", action="store_true", help="list past runs")
    parser.add_argument("--undo", nargs="?", type=_run_number, const=0, metavar="RUN",
                        help="put back the genres a run replaced (default: the last run not yet undone)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _epilog() -> str:
    return f"""Defaults come from {config_path()} when it exists; options given here win.

examples:
  tagger-batch ~/Music --dry-run --report plan.csv   see what would be written, change nothing
  tagger-batch ~/Music                               fill in the missing genres
  tagger-batch ~/Music --learn                       learn the genres you tagged, fill in the others
  tagger-batch --undo                                put back what the last run changed

exit status:
  0    every file handled (tagged, kept, unchanged, uncertain or skipped as read-only)
  1    some files could not be read or written (each named on stderr; the others were done)
  2    usage error: bad option, no such folder, unknown model, bad config file, library busy
  130  interrupted (Ctrl-C): run the same command again to finish"""


def _positive_int(text: str) -> int:
    """``--workers`` and ``--top-k``: argparse names a failed ``type`` in its message, so it says the rule instead."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _probability(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be a number from 0 to 1, not {text!r}")
    return value


def _run_number(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"must be a run number as --history lists them, not {text!r}")
    return int(text)


def settings_in_force(args: argparse.Namespace, file_config: Config | None = None) -> Config:
    """Defaults, overridden by the config file (``file_config``, else read now), overridden by the command line."""
    config = load_config() if file_config is None else file_config
    for key in OPTIONS:
        value = getattr(args, key, None)
        if value is not None:
            config.set(key, value, "command line")
    return config


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from tagger.state import StateError  # after parsing: --help and --version need no state

    try:
        return _dispatch(parser, args)
    except (UsageError, StateError) as exc:
        print(f"tagger-batch: error: {exc}", file=sys.stderr)
        return EXIT_USAGE


def _dispatch(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    tagging = not (args.print_config or args.history or args.undo is not None)
    try:
        config = settings_in_force(args)
    except ConfigError as exc:
        if tagging:
            raise UsageError(f"bad config file: {exc}") from None
        # The history, undo and the settings listing need no config: a broken file must not lock the user out.
        print(f"tagger-batch: warning: bad config file, its settings are ignored: {exc}", file=sys.stderr)
        config = settings_in_force(args, Config())
    if args.print_config:
        print_config(config)
        return EXIT_OK
    if args.history:
        return print_history()
    if args.undo is not None:
        return undo(args.undo or None)
    if args.folder is None:
        parser.print_usage(sys.stderr)
        raise UsageError("a FOLDER to tag is required")
    return tag_folder(args, config)


def print_config(config: Config) -> None:
    from tagger.model import ModelError, resolve_model
    from tagger.settings import ModelSettings

    print(f"config file: {config_path()}{'' if config_path().is_file() else ' (not present)'}")
    for key in OPTIONS:
        value, source = config[key], config.sources[key]
        if value is None and key == "min_confidence":
            try:
                value = policy_from_config(config, ModelSettings.load(resolve_model(config["model"]))).min_confidence
                source = f"model {config['model']!r}"
            except (ModelError, OSError, ValueError) as exc:
                value, source = "?", f"model unreadable: {exc}"
        elif value is None and key == "workers":
            from tagger.engine import default_workers

            value, source = default_workers(), "one per core"
        print(f"{key} = {value}    ({source})")
    for genre, name in sorted(config.genre_names.items()):
        print(f"genre_names.{genre} = {name!r}    ({config.genre_names_source})")


def print_history() -> int:
    from tagger.state import State

    state = State()
    runs = state.runs()
    if not runs:
        print("no runs yet")
    for run in runs:
        when = datetime.fromtimestamp(run.started).strftime("%Y-%m-%d %H:%M:%S")
        counts = ", ".join(f"{k} {v}" for k, v in sorted(run.counts.items())) or "interrupted"
        note = f" (undoes run {run.undoes})" if run.undoes else ""
        note += f" (undone by run {run.undone_by})" if run.undone_by else ""
        print(f"{run.id:>4}  {when}  {run.kind:<4}  {run.folder}  {counts}{note}")
    state.close()
    return EXIT_OK


def undo(run_id: int | None) -> int:
    from tagger.lock import LibraryBusy, LibraryLock
    from tagger.state import State
    from tagger.undo import UndoError, undo_run, undoable_run

    state = State()
    try:
        target = undoable_run(state, run_id)
        folder = Path(next(r.folder for r in state.runs() if r.id == target))
        with LibraryLock(folder):
            undo_id, outcomes = undo_run(state, target)
    except (UndoError, LibraryBusy) as exc:
        raise UsageError(str(exc)) from None
    finally:
        state.close()
    failed = [o for o in outcomes if not o.restored]
    for outcome in failed:
        print(f"not restored: {outcome.path}: {outcome.message}", file=sys.stderr)
    print(f"undo of run {target} (run {undo_id}): {len(outcomes) - len(failed)} restored, {len(failed)} not restored")
    return EXIT_FAILURES if failed else EXIT_OK


def tag_folder(args: argparse.Namespace, config: Config) -> int:
    folder: Path = args.folder.expanduser()
    if not folder.exists():
        raise UsageError(f"no such folder: {folder}")
    if folder.is_file() and not is_audio_path(folder):
        raise UsageError(f"not an audio file the tagger reads: {folder}")
    if args.report and args.report.suffix.lower() not in FORMATS:
        raise UsageError(f"--report must end in {' or '.join(FORMATS)}: {args.report}")
    from tagger.native_log import native_stderr_to
    from tagger.paths import data_dir

    for option, value in (("--fallback", args.fallback), ("--min-per-genre", args.min_per_genre)):
        if value is not None and not args.learn:
            raise UsageError(f"{option} goes with --learn")
    left_out = learn_model(folder, args, config) if args.learn else {}
    with native_stderr_to(data_dir() / DECODER_LOG) as log:
        return _tag(folder, args, config, log, left_out)


def learn_model(folder: Path, args: argparse.Namespace, config: Config) -> dict[str, int]:
    """``--learn``: learn (or reuse) ``folder``'s model and make it the model in force; figures on stdout.

    Returns the genres left out for too few files (the user's spelling -> number of files).
    """
    from tagger.model import ModelError
    from tagger.training.learn import learn_library
    from tagger.training.retrain import RetrainError

    if folder.is_file():
        raise UsageError("--learn needs a folder: it learns from the files there that have a genre")
    if args.model:
        raise UsageError("--learn makes its own model from the folder: leave out --model")
    try:
        learned = learn_library(folder, args.min_per_genre or MIN_PER_GENRE, workers=config["workers"])
    except (RetrainError, ModelError) as exc:
        raise UsageError(f"cannot learn from {folder}: {exc}") from None
    print(learned.figures)
    print(f"model {learned.name!r} ({'reused, library unchanged' if learned.reused else 'saved'}): {learned.path}")
    config.set("model", str(learned.path), "--learn")
    return learned.left_out


def _tag(folder: Path, args: argparse.Namespace, config: Config, log: Path | None, left_out: dict[str, int]) -> int:
    from tagger.engine import default_workers
    from tagger.lock import LibraryBusy, LibraryLock
    from tagger.model import GenreModel, ModelError
    from tagger.state import State

    try:
        model = GenreModel.load(config["model"], threads=default_workers())
        model = _fall_back(model, left_out, args.fallback) if left_out else model
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    policy = policy_from_config(config, model.settings, dry_run=args.dry_run)
    state = State()
    cancel = threading.Event()
    try:
        with LibraryLock(folder):
            run = BatchRun(folder, model, state, policy, workers=config["workers"] or default_workers(),
                           rescan=args.rescan)
            files = run.files()
            if not files:
                print(f"nothing to do: no audio files under {folder}", file=sys.stderr)
                return EXIT_OK
            started = time.monotonic()
            outcomes = _run_with_progress(run, files, cancel, args.quiet)
            elapsed = time.monotonic() - started
    except LibraryBusy as exc:
        raise UsageError(str(exc)) from None
    finally:
        state.close()
    rate = round(len(outcomes) / elapsed, 2) if elapsed > 0 else None
    if args.report:
        write_report(args.report, outcomes, {
            "files": len(outcomes), "seconds": round(elapsed, 2), "files_per_second": rate,
            "counts": dict(sorted(run.counts.items())), "model": model.name, "run": run.run_id,
            "interrupted": cancel.is_set()})
    _print_summary(run, len(files), len(outcomes), elapsed, rate, log, cancel.is_set())
    status = EXIT_INTERRUPTED if cancel.is_set() else EXIT_FAILURES if run.counts.get("error") else EXIT_OK
    if run.classifier.abandoned:
        # A decoder thread that never returned would keep the process alive at exit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


def _fall_back(learned: GenreModel, left_out: dict[str, int], fallback: str | None) -> GenreModel:
    """The learned model, with the left-out genres the fallback model knows added back when asked; says which."""
    from tagger.engine import default_workers
    from tagger.model import DEFAULT_MODEL, GenreModel
    from tagger.training.fallback import split_left_out, with_fallback

    default = GenreModel.load(fallback or DEFAULT_MODEL, threads=default_workers())
    known, unknown = split_left_out(left_out, default)
    if fallback and known:
        print(f"too few files to learn, answered by model {fallback!r}: {', '.join(sorted(known))}")
    elif known:
        print(f"too few files to learn, left alone: {', '.join(sorted(known))} "
              f"(--fallback default lets the default model answer them)")
    if unknown:
        print(f"too few files to learn, and no model here knows them, left alone: {', '.join(unknown)}")
    return with_fallback(learned, default, known) if fallback else learned


def _run_with_progress(run: BatchRun, files: list[Path], cancel: threading.Event, quiet: bool) -> list[FileOutcome]:
    """Run the batch under a progress bar, naming each failed or skipped file; Ctrl-C sets ``cancel``."""
    from tqdm import tqdm

    outcomes = []
    previous_handler = signal.signal(signal.SIGINT, lambda *_: cancel.set())
    try:
        with tqdm(total=len(files), unit="file", file=sys.stderr, disable=quiet or None, dynamic_ncols=True) as bar:
            for outcome in run.run(files, cancel):
                # The report needs no window probabilities: memory stays flat on huge libraries.
                outcomes.append(dataclasses.replace(outcome, decision=None))
                if outcome.status in ("error", "skipped"):
                    bar.write(f"{outcome.status}: {outcome.path}: {outcome.message}", file=sys.stderr)
                bar.update()
    finally:
        signal.signal(signal.SIGINT, previous_handler)
    return outcomes


def _print_summary(run: BatchRun, n_files: int, n_done: int, elapsed: float, rate: float | None,
                   log: Path | None, interrupted: bool) -> None:
    """The closing lines on stderr: counts per status, where the decoders' messages went, what is left."""
    counts = ", ".join(f"{status} {n}" for status, n in sorted(run.counts.items())) or "none done"
    shown_rate = f" ({rate} files/s)" if rate else ""
    print(f"{_plural(n_done, 'file')} in {elapsed:.1f} s{shown_rate}: {counts}", file=sys.stderr)
    if log and log.stat().st_size:
        print(f"the audio decoders' own messages about damaged files: {log}", file=sys.stderr)
    if interrupted:
        print(f"interrupted: {_plural(n_files - n_done, 'file')} not done; run the same command again to finish",
              file=sys.stderr)


def _plural(count: int, noun: str) -> str:
    """``"1 file"``, ``"2 files"``."""
    return f"{count} {noun}{'' if count == 1 else 's'}"


if __name__ == "__main__":
    sys.exit(main())
