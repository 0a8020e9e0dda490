"""``tagger-train delete NAME``: remove a model made by ``tagger-train retrain``."""

from __future__ import annotations

import argparse

NAME = "delete"
HELP = "delete one of your own models (shipped models cannot be deleted)"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("name", metavar="NAME", help="model to delete")


def run(args: argparse.Namespace) -> int:
    from tagger.training.user_models import delete_model

    path = delete_model(args.name)  # ModelError: one line and exit 2 from the CLI
    print(f"deleted model {args.name!r} ({path})")
    return 0
