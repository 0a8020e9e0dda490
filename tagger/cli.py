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

from tagger import __version__
from tagger.config import OPTIONS, Config, ConfigError, config_path, load_config
from tagger.report import FORMATS, write_report

EXIT_OK, EXIT_FAILURES, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130

# In the data folder: what C libraries printed during the last run (see tagger.native_log).
DECODER_LOG = "decoder-messages.log"


class UsageError(Exception):
    """Bad invocation: exit status 2."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="tagger-batch",
        description="Predict a genre for every audio file under FOLDER and write it into the file's tags.",
        epilog=f"Defaults come from {config_path()} when it exists; options given here win.")
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
    parser.add_argument("--workers", type=_positive_int, metavar="N", help="decoding threads (default: one per core)")
    parser.add_argument("--min-confidence", type=_probability, metavar="P",
                        help="leave files whose top genre is less likely than P (0-1) alone (default: the model's)")
    parser.add_argument("--top-k", type=_positive_int, metavar="N",
                        help="write the N most likely genres as several values (default 1)")
    parser.add_argument("--keep-mtime", action="store_true", default=None,
                        help="give written files back their modification time")
    parser.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    parser.add_argument("--print-config", action="store_true", help="show the settings in force and where each comes from")
    parser.add_argument("--history", action="store_true", help="list past runs")
    parser.add_argument("--undo", nargs="?", type=int, const=0, metavar="RUN",
                        help="put back the genres a run replaced (default: the last run not yet undone)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {value}")
    return value


def _probability(text: str) -> float:
    value = float(text)
    if not 0.0 <= value <= 1.0:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, not {value}")
    return value


def settings_in_force(args: argparse.Namespace) -> Config:
    """Defaults, overridden by the config file, overridden by the command line."""
    config = load_config()
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
    try:
        config = settings_in_force(args)
    except ConfigError as exc:
        raise UsageError(f"bad config file: {exc}") from None
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
                value = ModelSettings.load(resolve_model(config["model"])).min_confidence
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
    if args.report and args.report.suffix.lower() not in FORMATS:
        raise UsageError(f"--report must end in {' or '.join(FORMATS)}: {args.report}")
    from tagger.native_log import native_stderr_to
    from tagger.paths import data_dir

    with native_stderr_to(data_dir() / DECODER_LOG) as log:
        return _tag(folder, args, config, log)


def _tag(folder: Path, args: argparse.Namespace, config: Config, log: Path | None) -> int:
    from tqdm import tqdm

    from tagger.batch import BatchRun, Policy
    from tagger.engine import default_workers
    from tagger.lock import LibraryBusy, LibraryLock
    from tagger.model import GenreModel, ModelError
    from tagger.state import State

    workers = config["workers"] or default_workers()
    try:
        model = GenreModel.load(config["model"], threads=default_workers())
    except ModelError as exc:
        raise UsageError(str(exc)) from None
    min_confidence = config["min_confidence"]
    policy = Policy(
        overwrite=bool(config["overwrite"]), dry_run=args.dry_run,
        min_confidence=model.settings.min_confidence if min_confidence is None else min_confidence,
        top_k=config["top_k"], genre_names=config.genre_names, keep_mtime=bool(config["keep_mtime"]))
    state = State()
    cancel = threading.Event()
    outcomes = []
    try:
        with LibraryLock(folder):
            run = BatchRun(folder, model, state, policy, workers=workers, rescan=args.rescan)
            files = run.files()
            if not files:
                print(f"no audio files found under {folder}", file=sys.stderr)
            started = time.monotonic()
            previous_handler = signal.signal(signal.SIGINT, lambda *_: cancel.set())
            try:
                with tqdm(total=len(files), unit="file", file=sys.stderr, disable=args.quiet or None,
                          dynamic_ncols=True) as bar:
                    for outcome in run.run(files, cancel):
                        # The report needs no window probabilities: memory stays flat on huge libraries.
                        outcomes.append(dataclasses.replace(outcome, decision=None))
                        if outcome.status == "error":
                            bar.write(f"error: {outcome.path}: {outcome.message}", file=sys.stderr)
                        bar.update()
            finally:
                signal.signal(signal.SIGINT, previous_handler)
            elapsed = time.monotonic() - started
    except LibraryBusy as exc:
        raise UsageError(str(exc)) from None
    finally:
        state.close()
    summary = {"files": len(outcomes), "seconds": round(elapsed, 2),
               "files_per_second": round(len(outcomes) / elapsed, 2) if elapsed > 0 else None,
               "counts": dict(sorted(run.counts.items())), "model": model.name, "run": run.run_id,
               "interrupted": cancel.is_set()}
    if args.report:
        write_report(args.report, outcomes, summary)
    counts = ", ".join(f"{status} {n}" for status, n in sorted(run.counts.items())) or "nothing to do"
    rate = f"{summary['files_per_second']} files/s" if summary["files_per_second"] else ""
    print(f"{len(outcomes)} files in {elapsed:.1f} s ({rate}): {counts}", file=sys.stderr)
    if log and log.stat().st_size:
        print(f"the audio decoders' own messages about damaged files: {log}", file=sys.stderr)
    if cancel.is_set():
        print(f"interrupted: {len(files) - len(outcomes)} files not done; run the same command again to finish",
              file=sys.stderr)
        status = EXIT_INTERRUPTED
    else:
        status = EXIT_FAILURES if run.counts.get("error") else EXIT_OK
    if run.classifier.abandoned:
        # A decoder thread that never returned would keep the process alive at exit.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(status)
    return status


if __name__ == "__main__":
    sys.exit(main())
