"""Genre names: the one place that maps model genre ids to the names in tags."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping

# GTZAN ids -> the names most players and tag databases use.
DISPLAY_NAMES: dict[str, str] = {
    "blues": "Blues",
    "classical": "Classical",
    "country": "Country",
    "disco": "Disco",
    "hiphop": "Hip-Hop",
    "jazz": "Jazz",
    "metal": "Metal",
    "pop": "Pop",
    "reggae": "Reggae",
    "rock": "Rock",
}


def genre_key(name: str) -> str:
    """Spelling-independent key of a genre name.

    Case, spaces, hyphens, underscores, slashes and ampersand spellings do not
    matter: "Hip Hop", "Hip-Hop" and "hiphop" all give ``"hiphop"``;
    "R&B" and "R and B" both give ``"randb"``.
    """
    key = name.casefold().replace("&", "and")
    return re.sub(r"[\s\-_/.']+", "", key)


def display_name(genre: str, *overrides: Mapping[str, str]) -> str:
    """Name to write into tags for a model genre id.

    Later mappings in ``overrides`` win over earlier ones, and all of them over
    the built-in names; keys are compared by :func:`genre_key`.
    """
    key = genre_key(genre)
    for mapping in reversed(overrides):
        for name, shown in mapping.items():
            if genre_key(name) == key:
                return shown
    return DISPLAY_NAMES.get(key, genre)


def preferred_spellings(names: Iterable[str]) -> dict[str, str]:
    """Map each genre key to its most frequent spelling in ``names``.

    Ties go to the spelling seen first.
    """
    counts: dict[str, Counter[str]] = {}
    for name in names:
        counts.setdefault(genre_key(name), Counter())[name.strip()] += 1
    return {key: spellings.most_common(1)[0][0] for key, spellings in counts.items()}
