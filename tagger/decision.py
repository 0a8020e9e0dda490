"""Turn window probabilities into a track's genre."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Decision:
    """The model's verdict on one track.

    Attributes
    ----------
    genre : str
        Most likely genre id.
    confidence : float
        Its probability, 0-1.
    ranked : list of (str, float)
        Every genre with its probability, most likely first.
    window_probs : np.ndarray, shape (n_windows, n_genres)
        Probabilities of each analysed window, for explaining the verdict.
    window_starts : np.ndarray, shape (n_windows,)
        Start of each window, in seconds.
    silent : bool
        The analysed audio was silence: the genre means nothing.
    """

    genre: str
    confidence: float
    ranked: list[tuple[str, float]]
    window_probs: np.ndarray
    window_starts: np.ndarray
    silent: bool = False

    def top(self, k: int) -> list[tuple[str, float]]:
        """The ``k`` most likely genres with their probabilities."""
        return self.ranked[:k]


def shown_confidence(confidence: float, decimals: int = 2) -> float:
    """``confidence`` (0-1) rounded down to ``decimals`` places, for display.

    Rounded to nearest, 0.716 would show as 0.72 beside a 0.72 threshold it is
    below; rounded down, a value shown never reaches a threshold it misses.
    """
    scale = 10**decimals
    # The nudge keeps 0.29 (28.999999999999996 when scaled) at 0.29; only values within 1e-9 of
    # the next step round up.
    return math.floor(confidence * scale + 1e-9) / scale


def confidence_text(confidence: float) -> str:
    """``confidence`` (0-1) as every report and message shows it: two decimals, rounded down ("0.55")."""
    return f"{shown_confidence(confidence):.2f}"


def decide(window_probs: np.ndarray, genres: tuple[str, ...], window_starts: np.ndarray,
           silent: bool = False) -> Decision:
    """Average the window probabilities of a track and rank the genres.

    Parameters
    ----------
    window_probs : np.ndarray, shape (n_windows, n_genres)
    genres : tuple of str
        Genre ids in the model's output order.
    window_starts : np.ndarray, shape (n_windows,)
        Start of each window, in seconds.
    silent : bool
        Whether the analysed audio was silence.
    """
    track = np.asarray(window_probs, dtype=np.float64).mean(axis=0)
    order = np.argsort(-track, kind="stable")
    ranked = [(genres[i], float(track[i])) for i in order]
    return Decision(ranked[0][0], ranked[0][1], ranked, np.asarray(window_probs, dtype=np.float32),
                    np.asarray(window_starts, dtype=np.float32), silent)
