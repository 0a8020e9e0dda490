"""``tagger-batch --learn --fallback default``: genres the user has too few files of keep the default model's answer.

A learned model knows only the genres with ``--min-per-genre`` files or more.
When the user asks, the genres left out that the default model also knows
("Blues" with two files) are added back with the default model's judgement.
Both models read the same network, so one network call serves both, and per
window::

    p(left-out genre g) = p_default(g)
    p(learned genre k)  = (1 - sum of p_default over the left-out genres) * p_learned(k)

which sums to 1: whatever the default model gives the left-out genres is theirs,
the rest is shared out as the learned model says.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from tagger.genres import genre_key
from tagger.model import GenreModel, ModelError
from tagger.training.eval_labels import genre_lookup


@dataclass
class FallbackModel(GenreModel):
    """A learned model with some of the default model's genres added back (see the module docstring).

    Attributes
    ----------
    fallback : GenreModel
        The default model (same network).
    fallback_columns : tuple of int
        Its genres that are added, by index in its genre list; they follow the learned genres.
    """

    fallback: GenreModel | None = None
    fallback_columns: tuple[int, ...] = ()

    def probabilities(self, features: np.ndarray) -> np.ndarray:
        learned = super().probabilities(features)
        added = self.fallback.probabilities(features)[:, list(self.fallback_columns)]
        share = added.sum(axis=1, keepdims=True)
        return np.concatenate([learned * (1 - share), added], axis=1).astype(np.float32)


def split_left_out(left_out: Mapping[str, int], default: GenreModel) -> tuple[dict[str, str], list[str]]:
    """Which left-out genres the default model knows.

    Parameters
    ----------
    left_out : mapping
        The user's spelling of each genre left out -> its number of files.
    default : GenreModel

    Returns
    -------
    known : dict
        User spelling -> the default model's genre id.
    unknown : list of str
        User spellings of the genres no model here knows.
    """
    lookup = genre_lookup(default.settings)
    known = {name: lookup[genre_key(name)] for name in left_out if genre_key(name) in lookup}
    return known, sorted(set(left_out) - set(known))


def with_fallback(learned: GenreModel, default: GenreModel, known: Mapping[str, str]) -> GenreModel:
    """``learned`` with the genres of ``known`` (user spelling -> default genre id) answered by ``default``.

    Raises
    ------
    ModelError
        When the two models do not share a network (a learned model made from another base).
    """
    if not known:
        return learned
    if default.network_id != learned.network_id:
        raise ModelError(f"--fallback {default.name} needs a model learned on {default.name!r}'s network")
    added = sorted(set(known.values()), key=default.settings.genres.index)
    columns = tuple(default.settings.genres.index(g) for g in added)
    spelling = {genre: name for name, genre in known.items()}
    settings = dataclasses.replace(learned.settings, genres=tuple(learned.settings.genres) + tuple(added),
                                   display_names={**learned.settings.display_names, **spelling})
    model_id = hashlib.sha256(f"{learned.model_id}+{default.model_id}:{columns}".encode()).hexdigest()[:16]
    fields = {f.name: getattr(learned, f.name) for f in dataclasses.fields(GenreModel)}
    fields.update(name=f"{learned.name} + {default.name}", settings=settings, model_id=model_id)
    return FallbackModel(**fields, fallback=default, fallback_columns=columns)
