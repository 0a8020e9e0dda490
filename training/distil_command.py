"""``tagger-train distil DATA_DIR --out DIR``: the command line of distillation (needs genre-tagger[train]).

The arguments are read here, without TensorFlow; the work is :mod:`tagger.training.distil`.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tagger.model import quiet_import
from tagger.training.dataset import DatasetError
from tagger.training.model_folder import check_replaceable

NAME = "distil"
HELP = "distil a genre model (default: the shipped one) into a small fast CNN (needs genre-tagger[train])"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="folder with one subfolder of audio per genre")
    parser.add_argument("--teacher", default="default", metavar="MODEL",
                        help="model to distil, name or folder; its last Dense layer must be named logits")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="model folder to write")
    parser.add_argument("--crops", type=int, default=30, help="augmented crops per training track (default 30)")
    parser.add_argument("--epochs", type=int, default=12, help="student training epochs (default 12)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--cache", type=Path, metavar="FILE",
                        help=".npz file to reuse / store the teacher features (recomputed when the tracks, "
                             "teacher, seed or --crops differ)")




def run(args: argparse.Namespace) -> int:
    """Check the arguments, then distil."""
    if args.epochs < 1 or args.crops < 1:
        raise DatasetError("--epochs and --crops must be at least 1")
    check_replaceable(args.out)  # before hours of training, not after
    return quiet_import("tagger.training.distil").run(args)
