"""`tagger-batch` with the network's scores replaced by a constant: what the rest of the command costs.

bench.py runs it beside the real command to show the ceiling that decoding, features,
decisions, tag writing and start-up leave for any network. It writes the constant's
genre into the files it is given, so bench.py gives it fresh copies.

Usage: python benchmarks/without_network.py FOLDER [tagger-batch options]
"""

from __future__ import annotations

import sys

import numpy as np

from tagger.cli import main
from tagger.model import GenreModel


def constant_scores(model: GenreModel, windows: np.ndarray) -> np.ndarray:
    """Every window gets the same probabilities, sure of the first genre (so every file is tagged)."""
    n_genres = len(model.settings.genres)
    probs = np.full((len(windows), n_genres), 0.01, dtype=np.float32)
    probs[:, 0] = 1 - 0.01 * (n_genres - 1)
    return probs


if __name__ == "__main__":
    GenreModel.predict = constant_scores
    sys.exit(main())
