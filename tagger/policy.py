"""What a run may write, and how a file's genre compares with the prediction: one rule for every front end.

``tagger-batch`` and the review window both build their :class:`Policy` with
:func:`policy_from_config` and judge each file with :func:`genre_verdict`, so the
two never disagree about a threshold, a genre name or whether a file already
holds what would be written.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from tagger.config import Config
from tagger.decision import Decision, confidence_text
from tagger.genres import display_name, genre_key
from tagger.settings import ModelSettings

# With --top-k N, a genre after the first is written only when its probability is at least this
# share of the top genre's: "Blues; Jazz; Rock" for blues 0.99, jazz 0.01, rock 0.00 would state
# two genres the model all but ruled out.
TOP_K_SHARE = 0.25


@dataclass(frozen=True)
class Policy:
    """What a run may write.

    Attributes
    ----------
    overwrite : bool
        Replace genres that are already there (default: only fill empty ones).
    dry_run : bool
        Write nothing; report what would be written.
    min_confidence : float
        Below this probability (0-1) a file is ``uncertain`` and left alone.
    top_k : int
        Most genres to write; see :data:`TOP_K_SHARE`.
    genre_names : mapping
        Genre id -> name to write, from the user's config; wins over ``model_names``.
    model_names : mapping
        Genre id -> name to write, from the model's settings; wins over the built-in names.
    keep_mtime : bool
        Give written files back their modification time.
    """

    overwrite: bool = False
    dry_run: bool = False
    min_confidence: float = 0.0
    top_k: int = 1
    genre_names: Mapping[str, str] = field(default_factory=dict)
    model_names: Mapping[str, str] = field(default_factory=dict)
    keep_mtime: bool = False


def policy_from_config(config: Config, settings: ModelSettings, dry_run: bool = False) -> Policy:
    """The policy in force: the settings ``config`` holds, the model's threshold where the config has none.

    Parameters
    ----------
    config : Config
        Settings from the config file and the command line.
    settings : ModelSettings
        Settings of the model that classifies (its ``min_confidence`` and genre names).
    dry_run : bool
        Write nothing.
    """
    min_confidence = config["min_confidence"]
    return Policy(overwrite=bool(config["overwrite"]), dry_run=dry_run,
                  min_confidence=settings.min_confidence if min_confidence is None else min_confidence,
                  top_k=config["top_k"], genre_names=config.genre_names, model_names=settings.display_names,
                  keep_mtime=bool(config["keep_mtime"]))


def genre_name(genre: str, policy: Policy) -> str:
    """Name written into tags (and shown) for the model genre id ``genre``."""
    return display_name(genre, policy.model_names, policy.genre_names)


def names_to_write(decision: Decision, policy: Policy) -> list[str]:
    """Names of the genres a decision writes.

    The ``policy.top_k`` most likely, each with at least :data:`TOP_K_SHARE` of the
    top genre's probability; the top genre is always one of them.
    """
    floor = TOP_K_SHARE * decision.confidence
    return [genre_name(genre, policy) for genre, probability in decision.top(max(1, policy.top_k))
            if probability >= floor]


def top_text(decision: Decision, policy: Policy, k: int = 3) -> str:
    """``"Hip-Hop:0.71;Rock:0.20;Blues:0.05"``: the ``k`` most likely genres as reports show them."""
    return ";".join(f"{genre_name(g, policy)}:{confidence_text(p)}" for g, p in decision.top(k))


class Verdict(Enum):
    """How the genres a file holds compare with those a prediction would write."""

    UNCHANGED = "unchanged"  # the file already holds them: nothing to write
    UNCERTAIN = "uncertain"  # the prediction is below the confidence floor: nothing to write
    FILL = "fill"  # the file has no genre: it gets one
    REPLACE = "replace"  # the file holds other genres: replaced only when overwriting


def genre_verdict(existing: Sequence[str], new: Sequence[str], confident: bool) -> Verdict:
    """The status rule both front ends apply to one file.

    Parameters
    ----------
    existing : sequence of str
        Genres in the file's tags now.
    new : sequence of str
        Genres that would be written.
    confident : bool
        Whether the prediction reaches the policy's ``min_confidence`` (or the
        user chose ``new`` themselves).
    """
    if existing and same_genres(existing, new):
        return Verdict.UNCHANGED
    if not confident:
        return Verdict.UNCERTAIN
    return Verdict.REPLACE if existing else Verdict.FILL


def same_genres(first: Sequence[str], second: Sequence[str]) -> bool:
    """Whether two lists of genre names say the same, whatever the spelling and the multi-value convention.

    An ID3v2.3 tag holds several genres as one "Rock/Jazz" value, so each value
    is split at "/" before comparing: ``["Rock/Jazz"]`` equals ``["Rock", "Jazz"]``.
    """
    return _genre_keys(first) == _genre_keys(second)


def _genre_keys(values: Sequence[str]) -> list[str]:
    return [genre_key(part) for value in values for part in value.split("/")]


def threshold_text(min_confidence: float) -> str:
    """A threshold (0-1) as messages show it: every digit it has ("0.625").

    Confidences are shown rounded down, so one shown beside it never seems to reach it.
    """
    return f"{min_confidence:g}"

