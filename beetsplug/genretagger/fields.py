"""An item's genres in beets' database, whichever beets 2.x holds them.

Newer beets keep a multi-valued ``genres`` field (one value per genre, written
to the file as several values); older ones keep one ``genre`` string, where
several genres are joined by the plugin's ``separator``. The *values* are what
the database (and so the file) holds; the *names* are the genres they stand for.
"""

from __future__ import annotations

from beets.library import Item

MULTI_VALUED = "genres" in Item._fields


def library_values(item: Item) -> list[str]:
    """The genre values of ``item`` exactly as beets' database holds them."""
    if MULTI_VALUED:
        return list(item.get("genres") or [])
    genre = item.get("genre") or ""
    return [genre] if genre else []


def set_library_values(item: Item, values: list[str]) -> None:
    """Set the genre values of ``item`` (in memory; the caller stores and writes)."""
    if MULTI_VALUED:
        item.genres = list(values)
    else:
        item.genre = values[0] if values else ""


def values_for(names: list[str], separator: str) -> list[str]:
    """The database values that hold the genres ``names``."""
    if MULTI_VALUED or not names:
        return list(names)
    return [separator.join(names)]


def names_in(values: list[str], separator: str) -> list[str]:
    """The genres held in database ``values``."""
    if MULTI_VALUED:
        return [v for v in values if v.strip()]
    return [name.strip() for value in values for name in value.split(separator) if name.strip()]
