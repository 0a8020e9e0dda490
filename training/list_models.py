"""``tagger-train list``: the shipped models and the user's own."""

from __future__ import annotations

import argparse

NAME = "list"
HELP = "list the models: name, genres, date, files used, validation accuracy"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    from tagger.model import user_models_dir
    from tagger.training.user_models import format_table, list_models

    models = list_models()
    if not models:
        print(f"no models (user models live in {user_models_dir()})")
        return 0
    print(format_table(models))
    return 0
