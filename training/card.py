"""MODEL_CARD.md: what a model was trained on and how well it does on tracks it never saw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
import numpy as np

from tagger.training import metrics
from tagger.training.model_folder import now

SPLIT_PROTOCOL = """\
Training tracks are the `train` side of the manifest's split (the artist-filtered
split of Kereliuk, Sturm & Larsen 2015), all kinds (30 s clips, 15 s classical cuts,
2-3 s excerpts). Held-out tracks are the `valid` side's 30 s clips and 15 s cuts:
artist-disjoint from training. Each held-out track is scored as the tagger scores it
(4 s windows every 2 s, window probabilities averaged). The valid side only holds
blues, classical, country, disco and metal, so these figures say nothing about
hiphop, jazz, pop, reggae or rock. Temperature and `min_confidence` are fitted on
the same held-out tracks, so the calibration figure is optimistic; accuracy is not
affected by the temperature."""


# How `tagger-train fit` balances and augments (the default data note).
CROP_SAMPLING = """Classes are balanced by sampling: every genre is drawn equally often,
whatever its number of tracks. Augmentation: random 4 s crops (time shifts), random gain
of +-6 dB and, for half of the crops, mixing with a second track of the same genre."""


@dataclass(frozen=True)
class CardFacts:
    """Everything the card states.

    Attributes
    ----------
    title : str
    genres : list of str
    evaluation : object
        Has ``labels`` (n,) and ``probs`` (n, n_genres) of held-out tracks.
    temperature : float
    min_confidence : float
    n_train : int
        Training tracks.
    minutes : float
        Wall-clock training time, in minutes.
    n_params : int
    command : str
        Command that rebuilds the model.
    architecture : str
    protocol : str
        How the held-out tracks were chosen and what that guarantees.
    extra : str
        Markdown table of other protocols and baselines, if any.
    data_note : str
        How the training data was balanced and augmented.
    more_results : sequence of (str, object)
        Further held-out results, each a heading and an evaluation like ``evaluation``.
    """

    title: str
    genres: Sequence[str]
    evaluation: object
    temperature: float
    min_confidence: float
    n_train: int
    minutes: float
    n_params: int
    command: str
    architecture: str
    protocol: str = SPLIT_PROTOCOL
    extra: str = ""
    data_note: str = CROP_SAMPLING
    more_results: Sequence[tuple[str, object]] = ()


def summary_text(genres: Sequence[str], evaluation) -> str:
    """Accuracy with intervals, per-genre recall and confusion matrix, as plain text."""
    labels, probs = evaluation.labels, evaluation.probs
    hits = metrics.top_k_hits(labels, probs, 1)
    low, high = metrics.wilson_interval(int(hits.sum()), len(hits))
    bal = metrics.balanced_accuracy(labels, probs)
    blow, bhigh = metrics.bootstrap_interval(labels, probs)
    top3 = metrics.balanced_accuracy(labels, probs, k=3)
    matrix = metrics.confusion_matrix(labels, probs.argmax(axis=1), len(genres))
    recall = metrics.per_class_recall(matrix)
    present = sorted(set(np.asarray(labels).tolist()))
    lines = [
        f"held-out tracks: {len(labels)} ({len(present)} genres)",
        f"track accuracy: {hits.mean():.1%} (95% Wilson {low:.1%}-{high:.1%})",
        f"genre-balanced accuracy: {bal:.1%} (95% bootstrap {blow:.1%}-{bhigh:.1%}); top-3 {top3:.1%}",
        f"expected calibration error (10 bins): {metrics.expected_calibration_error(labels, probs):.3f}",
        "per-genre recall: " + ", ".join(
            f"{genres[c]} {recall[c]:.0%} ({matrix[c, c]}/{matrix[c].sum()})" for c in present),
        "confusion matrix (rows true, columns predicted):",
        metrics.confusion_text(matrix, genres),
    ]
    return "\n".join(lines)


def training_facts(kind: str, facts: CardFacts) -> dict:
    """The card's facts as ``training.json`` holds them (what ``tagger-train list`` shows)."""
    hits = metrics.top_k_hits(facts.evaluation.labels, facts.evaluation.probs, 1)
    return {"kind": kind, "created": now(), "title": facts.title, "genres": list(facts.genres),
            "files_used": facts.n_train, "valid_files": len(hits), "validation_accuracy": float(hits.mean()),
            "temperature": facts.temperature, "min_confidence": facts.min_confidence,
            "minutes": round(facts.minutes, 1), "n_params": facts.n_params, "command": facts.command}


def card_text(facts: CardFacts) -> str:
    """``MODEL_CARD.md`` rendered from ``facts``."""
    extra = f"## Protocols and baselines side by side\n\n{facts.extra}\n\n" if facts.extra else ""
    more = "".join(f"## {heading}\n\n```\n{summary_text(facts.genres, evaluation)}\n```\n\n"
                   for heading, evaluation in facts.more_results)
    text = f"""# {facts.title}

Predicts one of {len(facts.genres)} genres ({", ".join(facts.genres)}) for each 4 s
log-Mel window (16 kHz, 96 Mel bands, `log10(1 + 10000 * power)`); the tagger averages
the window probabilities over a track.

## Architecture

{facts.architecture}

Softmax temperature T = {facts.temperature:.3g} is folded into the genre head
(weights and bias divided by T). Default `min_confidence` = {facts.min_confidence:.2f}:
the lowest threshold at which held-out tracks kept are right at least 90% of the time,
but never one leaving fewer than half of them tagged.

## Data

GTZAN subset (`../shared/data/gtzan`, research use only, not shipped): {facts.n_train}
training tracks. {facts.data_note}

## Evaluation protocol

{facts.protocol}

## Results (held-out tracks)

```
{summary_text(facts.genres, facts.evaluation)}
```

{more}{extra}Published artist-disjoint GTZAN results for comparison: MFCC + SVM 53%, OpenL3 75%,
musicnn 77%, VGGish 78% track accuracy (on all 10 genres; not the same tracks).

## Rebuild

Trained in {facts.minutes:.1f} min on 2 CPU cores ({facts.n_params:,} parameters):

```
{facts.command}
```
"""
    return text
