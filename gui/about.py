"""Text of the About box, with the accuracy the model's training facts (``training.json``) record."""

from __future__ import annotations

import html
from pathlib import Path

from tagger import __version__
from tagger.model import GenreModel
from tagger.training.model_folder import read_facts


def accuracy_lines(model_dir: Path) -> list[str]:
    """What the model folder's ``training.json`` says of its accuracy (none when it has no such figure)."""
    facts = read_facts(model_dir)
    accuracy, held_out = facts.get("validation_accuracy"), facts.get("valid_files")
    if not isinstance(accuracy, (int, float)):
        return []
    on = f" on {held_out} held-out files" if isinstance(held_out, int) else ""
    protocol = facts.get("validation_protocol")
    return [f"Accuracy{on}: {accuracy:.1%}" + (f" ({protocol})" if isinstance(protocol, str) else "")]


def about_html(model: GenreModel | None, model_name: str) -> str:
    """The About box: version, the model in use and the accuracy its training recorded."""
    parts = [f"<h3>Genre Tagger {html.escape(__version__)}</h3>",
             "<p>Suggests a genre for every track of a music library and writes the ones you accept "
             "into the tags. Every write can be undone.</p>"]
    if model is None:
        parts.append(f"<p>Model <b>{html.escape(model_name)}</b> (not loaded yet).</p>")
        return "".join(parts)
    parts.append(f"<p>Model <b>{html.escape(model.name)}</b>: {len(model.settings.genres)} genres.</p>")
    lines = accuracy_lines(model.path)
    if lines:
        parts.append("<p>From its training:</p><ul>" +
                     "".join(f"<li>{html.escape(line)}</li>" for line in lines[:6]) + "</ul>")
    else:
        parts.append("<p>This model has no recorded accuracy figure.</p>")
    return "".join(parts)
