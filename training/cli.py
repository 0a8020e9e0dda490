"""``tagger-train``: train, evaluate and manage genre models.

Each subcommand is a module with ``NAME``, ``HELP``, ``add_arguments(parser)``
and ``run(args) -> int``; adding one is one line in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Command modules import nothing heavy at the top: TensorFlow loads only inside the commands that train
# networks (fit, distil, export, retrain --fine-tune), so --help, list and delete answer at once.
COMMANDS = (
    "tagger.training.fit_command",
    "tagger.training.distil_command",
    "tagger.training.evaluate",
    "tagger.training.retrain",
    "tagger.training.export",
    "tagger.training.list_models",
    "tagger.training.delete_model",
)

EXIT_ERROR = 2


def build_parser() -> argparse.ArgumentParser:
    """Parser with one subcommand per module of ``COMMANDS``."""
    parser = argparse.ArgumentParser(prog="tagger-train", description=__doc__.splitlines()[0].split(": ", 1)[1])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module_name in COMMANDS:
        module = importlib.import_module(module_name)
        command = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(command)
        command.set_defaults(run=module.run)
    return parser


def _user_errors() -> tuple[type[BaseException], ...]:
    """Exceptions whose message is meant for the user as it is."""
    from tagger.decode import DecodeError
    from tagger.model import ModelError
    from tagger.training.dataset import DatasetError

    return DatasetError, DecodeError, ModelError, OSError


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``tagger-train`` subcommand; errors are one line on stderr and exit status 2."""
    try:
        args = build_parser().parse_args(argv)
        return int(args.run(args) or 0)
    except KeyboardInterrupt:
        print("tagger-train: interrupted", file=sys.stderr)
        return 130
    except _user_errors() as exc:
        print(f"tagger-train: error: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - the promise is one line, never a traceback
        print(f"tagger-train: error: {type(exc).__name__}: {_one_line(exc)}", file=sys.stderr)
        return EXIT_ERROR


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, OSError) and exc.strerror:
        text = f"{exc.filename}: {exc.strerror}" if exc.filename else exc.strerror
    return text.splitlines()[0] if text else type(exc).__name__


if __name__ == "__main__":
    sys.exit(main())
