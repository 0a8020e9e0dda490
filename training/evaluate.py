"""``tagger-train evaluate MODEL DATA_DIR``: score a model on labelled tracks as the tagger would.

Prints track-level accuracy (95% Wilson interval), genre-balanced accuracy
(95% bootstrap interval), top-3, expected calibration error, per-genre recall
and the confusion matrix, what the model would write at its own
``min_confidence`` (genre-balanced coverage, written precision, per genre:
:mod:`tagger.training.coverage`), next to the window-level (chunk) accuracy of the
same predictions; writes a confusion-matrix PNG and a reliability diagram
(those need matplotlib, from genre-tagger[train]; without it the figures are
printed and the plots skipped).
Figures are honest only on tracks the model was not trained on: see the
model's MODEL_CARD.md for which those are.
"""

from __future__ import annotations

import argparse
import importlib.util
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from tagger.genres import display_name
from tagger.model import GenreModel
from tagger.training import card, coverage, metrics
from tagger.training.dataset import DatasetError, read_trained_on, track_key
from tagger.training.eval_labels import tracks_for_model
from tagger.training.protocols import Evaluation

NAME = "evaluate"
HELP = "score a model on files labelled by genre tag or DATA_DIR/<genre>/ folder: accuracy with intervals, plots"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", metavar="MODEL", help="model name or folder")
    parser.add_argument("data_dir", type=Path, metavar="DATA_DIR",
                        help="folder of audio files labelled by their genre tags, or else by the name of the "
                             "subfolder they are in (any spelling of the model's genres)")
    parser.add_argument("--split", choices=("valid", "train", "all"), default=None,
                        help="manifest split to score (default: valid with a MANIFEST.tsv, else every file)")
    parser.add_argument("--plots", type=Path, default=Path("evaluation"), metavar="DIR",
                        help="folder for confusion.png and reliability.png (default ./evaluation)")


def score_tracks(model: GenreModel, paths: Sequence[Path]) -> list[np.ndarray]:
    """Window probabilities, (n_windows, n_genres), of each track."""
    from tagger.features import file_windows  # SciPy's FFT: not for tagger-train --help

    features = model.settings.features
    return [model.predict(file_windows(p, features).mels) for p in paths]


def windows_per_second(predict: Callable[[np.ndarray], object], frames: int, n_mels: int, batch: int = 128,
                       repeats: int = 3) -> float:
    """Inference speed: log-Mel windows per second through ``predict(windows)``.

    Best of ``repeats`` timed calls after one warm-up call (the first call
    builds graphs and kernels), on random log-Mel-like input.
    """
    import time

    x = np.random.default_rng(0).uniform(0, 3, size=(batch, frames, n_mels)).astype(np.float32)
    predict(x)
    best = np.inf
    for _ in range(repeats):
        started = time.perf_counter()
        predict(x)
        best = min(best, time.perf_counter() - started)
    return batch / best


def plot_confusion(matrix: np.ndarray, genres: Sequence[str], path: Path) -> None:
    """Confusion matrix PNG, rows true genre, columns predicted, counts in the cells."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    ax.imshow(matrix, cmap="Blues")
    ax.set_xticks(range(len(genres)), genres, rotation=45, ha="right")
    ax.set_yticks(range(len(genres)), genres)
    for (r, c), v in np.ndenumerate(matrix):
        if v:
            ax.text(c, r, str(v), ha="center", va="center", color="white" if v > matrix.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def plot_reliability(labels: np.ndarray, probs: np.ndarray, path: Path, n_bins: int = 10) -> None:
    """Reliability diagram PNG: accuracy against top-1 confidence per bin, with bin counts."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    confidence = probs.max(axis=1)
    correct = probs.argmax(axis=1) == labels
    bins = np.minimum((confidence * n_bins).astype(int), n_bins - 1)
    centres = (np.arange(n_bins) + 0.5) / n_bins
    counts = np.bincount(bins, minlength=n_bins)
    accuracy = np.bincount(bins, weights=correct, minlength=n_bins) / np.maximum(counts, 1)
    fig, ax = plt.subplots(figsize=(5, 5))
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfect calibration")
    ax.bar(centres[counts > 0], accuracy[counts > 0], width=1 / n_bins, edgecolor="black", alpha=0.7,
           label="track accuracy")
    for x, a, n in zip(centres, accuracy, counts):
        if n:
            ax.text(x, a + 0.02, str(n), ha="center", fontsize=8)
    ece = metrics.expected_calibration_error(labels, probs, n_bins)
    ax.set(xlim=(0, 1), ylim=(0, 1.08), xlabel="confidence (top-1 probability)", ylabel="accuracy",
           title=f"Reliability (ECE {ece:.3f}; numbers = tracks)")
    # Below the axes: inside, any corner can sit over a bar and its count.
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.13), ncol=2, frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    model = GenreModel.load(args.model)
    genres = list(model.settings.genres)
    tracks, unknown = tracks_for_model(args.data_dir, model.settings, args.split)
    written = [display_name(g, model.settings.display_names) for g in genres]
    if unknown:
        print("left out, genres the model does not know: "
              + ", ".join(f"{name} ({n})" for name, n in sorted(unknown.items())))
    if not tracks:
        raise DatasetError(f"{args.data_dir}: no files labelled (by genre tag or folder name) with the model's "
                           f"genres: {', '.join(written)}" + (f" in the {args.split} split" if args.split else ""))
    window_probs = score_tracks(model, [t.path for t in tracks])
    labels = np.asarray([genres.index(t.genre) for t in tracks])
    evaluation = Evaluation(labels, np.stack([w.mean(axis=0) for w in window_probs]), [t.path.name for t in tracks])
    window_labels = np.concatenate([np.full(len(w), y) for w, y in zip(window_probs, labels)])
    window_hits = np.concatenate(window_probs).argmax(axis=1) == window_labels
    low, high = metrics.wilson_interval(int(window_hits.sum()), len(window_hits))

    split = f", {args.split} split" if args.split else ""
    print(f"model {model.name} ({model.path}); files of {args.data_dir} labelled by genre tag or folder{split}")
    seen = read_trained_on(model.path) & {track_key(t) for t in tracks}
    if seen:
        print(f"warning: {len(seen)} of these {len(tracks)} tracks were used to train this model, so the figures "
              "below are not held-out; its MODEL_CARD.md gives held-out figures")
    print(card.summary_text(written, evaluation))
    print(coverage.written_text(written, labels, evaluation.probs, model.settings.min_confidence))
    print(f"window (chunk) accuracy of the same predictions: {window_hits.mean():.1%} "
          f"(95% Wilson {low:.1%}-{high:.1%}, {len(window_hits)} windows, not independent)")
    features = model.settings.features
    speed = windows_per_second(model.predict, features.window_frames, features.n_mels)
    print(f"speed: {speed:.0f} windows/s ({model.runtime} runtime, batch 128)")
    write_plots(labels, evaluation.probs, written, args.plots)
    return 0


def write_plots(labels: np.ndarray, probs: np.ndarray, genres: Sequence[str], folder: Path) -> None:
    """The confusion matrix and reliability diagram PNGs, or a line saying what to install for them."""
    if importlib.util.find_spec("matplotlib") is None:
        print("plots skipped: they need matplotlib (pip install 'genre-tagger[train]')")
        return
    folder.mkdir(parents=True, exist_ok=True)
    matrix = metrics.confusion_matrix(labels, probs.argmax(axis=1), len(genres))
    plot_confusion(matrix, genres, folder / "confusion.png")
    plot_reliability(labels, probs, folder / "reliability.png")
    print(f"plots: {folder / 'confusion.png'}, {folder / 'reliability.png'}")

