"""Which genre each file under an evaluation folder is, in a model's terms (``tagger-train evaluate``).

A file's genre is its genre tag, else the name of the folder it lies in directly
under the evaluation folder (``DIR/Chill Stuff/a.flac``); either is matched to
the model's genres in any spelling the tagger merges ("Hip Hop", "hip-hop",
"hiphop") and by the names the model writes (a learned model's "Chill Stuff").
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

from tagger.genres import display_name, genre_key
from tagger.scan import scan_library
from tagger.settings import ModelSettings
from tagger.tags import TagError, read_info
from tagger.training.dataset import DatasetError, LabelledTrack, id_group, read_manifest, select
from tagger.training.protocols import EVAL_KINDS

NO_GENRE = "(no genre tag, not in a genre folder)"


def genre_lookup(settings: ModelSettings) -> dict[str, str]:
    """Merged spelling (:func:`genre_key`) of each genre id and written name -> the model's genre id."""
    lookup = {genre_key(genre): genre for genre in settings.genres}
    lookup.update({genre_key(display_name(genre, settings.display_names)): genre for genre in settings.genres})
    return lookup


def file_genre_name(path: Path, data_dir: Path) -> str | None:
    """The genre a file is labelled with: its first genre tag, else its top folder under ``data_dir``."""
    try:
        tagged = [g.strip() for g in read_info(path).genres if g.strip()]
    except TagError:
        tagged = []
    if tagged:
        return tagged[0]
    parts = path.relative_to(data_dir).parts
    return parts[0] if len(parts) > 1 else None


def tracks_for_model(data_dir: Path, settings: ModelSettings, split: str | None = None
                     ) -> tuple[list[LabelledTrack], Counter[str]]:
    """The files under ``data_dir`` labelled with one of the model's genres.

    Parameters
    ----------
    data_dir : Path
    settings : ModelSettings
        The model's genres and the names it writes.
    split : {"valid", "train", "all"} or None
        Manifest split to keep; None: ``"valid"`` where ``MANIFEST.tsv`` exists, else every file.

    Returns
    -------
    tracks : list of LabelledTrack
        ``genre`` is the model's genre id.
    unknown : Counter
        Labels the model does not know -> number of files left out for them.

    Raises
    ------
    DatasetError
        When ``data_dir`` is not a folder.
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DatasetError(f"{data_dir}: no such folder")
    manifest, lookup = read_manifest(data_dir), genre_lookup(settings)
    tracks, unknown = [], Counter()
    for path in scan_library(data_dir):
        name = file_genre_name(path, data_dir)
        genre = lookup.get(genre_key(name)) if name else None
        if genre is None:
            unknown[name or NO_GENRE] += 1
            continue
        row = manifest.get(path.relative_to(data_dir).as_posix(), {})
        tracks.append(LabelledTrack(path, genre, row.get("split", "train"), row.get("kind", "full"),
                                    id_group(genre, path.stem)))
    if split is None:
        split = "valid" if manifest else "all"
    return select(tracks, None if split == "all" else [split], EVAL_KINDS), unknown
