"""``tagger-train fit DATA_DIR --out DIR``: the command line of model building (needs genre-tagger[train]).

The arguments are read here, without TensorFlow; the training itself is
:mod:`tagger.training.fit` (the small CNN) or :mod:`tagger.training.transfer`
(``--base musicnn``: the shipped model's recipe).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tagger.model import quiet_import
from tagger.training.dataset import DatasetError
from tagger.training.model_folder import check_replaceable
from tagger.training.recipe import (
    DEFAULT_FREQUENCY_STRIDE, DEFAULT_TEMPORAL_FILTERS, DEFAULT_TIMBRAL_FILTERS, DEFAULT_TIMBRAL_RANK,
    DEFAULT_TIME_STRIDE, STEPS_PER_EPOCH,
)

# The integer options of the musicnn recipe: flag, default, what it sets, the value that turns it off.
MUSICNN_OPTIONS = (
    ("--timbral-filters", DEFAULT_TIMBRAL_FILTERS, "filters kept per timbral branch", "204 keeps all"),
    ("--temporal-filters", DEFAULT_TEMPORAL_FILTERS, "filters kept per temporal branch", "51 keeps all"),
    ("--timbral-rank", DEFAULT_TIMBRAL_RANK, "basis filters of each factorised timbral convolution",
     "0 keeps them whole"),
    ("--frequency-stride", DEFAULT_FREQUENCY_STRIDE, "evaluate the front end at every N-th Mel band, fine-tuned to "
     "reproduce the full-resolution embedding", "1: off"),
    ("--time-stride", DEFAULT_TIME_STRIDE, "evaluate the front end at every N-th frame, fine-tuned like "
     "--frequency-stride", "1: off"),
)

NAME = "fit"
HELP = "train a genre model on DATA_DIR/<genre>/ audio files (needs genre-tagger[train])"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR", help="folder with one subfolder of audio per genre")
    parser.add_argument("--out", type=Path, required=True, metavar="DIR", help="model folder to write")
    parser.add_argument("--epochs", type=int, default=20, help="training epochs of %d batches (default 20)"
                        % STEPS_PER_EPOCH)
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--base", choices=("cnn", "musicnn"), default="cnn",
                        help="cnn: train the small CNN from scratch; musicnn: a new head on musicnn's MSD CNN")
    parser.add_argument("--checkpoint", type=Path, metavar="DIR",
                        help="musicnn/MSD_musicnn folder of the musicnn package (for --base musicnn)")
    parser.add_argument("--cache", type=Path, metavar="FILE",
                        help="with --base musicnn: .npz file to reuse / store the window embeddings")
    for flag, default, what, off in MUSICNN_OPTIONS:
        parser.add_argument(flag, type=int, default=default, metavar="N",
                            help=f"with --base musicnn: {what} (default {default}; {off})")
    parser.add_argument("--temporal-frequency-stride", type=int, metavar="N",
                        help="with --base musicnn: Mel-band stride of the temporal branches alone "
                             "(default: --frequency-stride)")


def run(args: argparse.Namespace) -> int:
    """Check the arguments, then train with the recipe ``--base`` names."""
    if args.epochs < 1:
        raise DatasetError("--epochs must be at least 1")
    strides = (args.frequency_stride, args.time_stride, args.temporal_frequency_stride)
    if min(stride for stride in strides if stride is not None) < 1:
        raise DatasetError("--frequency-stride, --time-stride and --temporal-frequency-stride must be at least 1")
    if args.base == "musicnn" and args.checkpoint is None:
        raise DatasetError("--base musicnn needs --checkpoint DIR (see training/musicnn_port.py)")
    check_replaceable(args.out)  # before hours of training, not after
    recipe = "tagger.training.transfer" if args.base == "musicnn" else "tagger.training.fit"
    return quiet_import(recipe).run(args)
