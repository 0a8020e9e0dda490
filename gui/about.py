"""Text of the About box, with the accuracy the model card reports."""

from __future__ import annotations

import html
import re
from pathlib import Path

from tagger import __version__
from tagger.model import GenreModel


def card_accuracy_lines(card_path: Path) -> list[str]:
    """Lines of a model card (MODEL_CARD.md) that state an accuracy figure, without Markdown markup."""
    try:
        text = card_path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return []
    lines = []
    for line in text.splitlines():
        if "accura" not in line.casefold() or not re.search(r"\d", line):
            continue  # prose that mentions accuracy without a figure is no summary
        plain = re.sub(r"[*_`#>]", "", line).strip()
        if plain.startswith("|"):  # a table row: keep its cells, readable on one line
            plain = " · ".join(cell.strip() for cell in plain.strip("|").split("|") if cell.strip())
        if plain and not set(plain) <= set("-: |·"):
            lines.append(plain)
    return lines


def about_html(model: GenreModel | None, model_name: str) -> str:
    """The About box: version, the model in use and what its card says about accuracy."""
    parts = [f"<h3>Genre Tagger {html.escape(__version__)}</h3>",
             "<p>Suggests a genre for every track of a music library and writes the ones you accept "
             "into the tags. Every write can be undone.</p>"]
    if model is None:
        parts.append(f"<p>Model <b>{html.escape(model_name)}</b> (not loaded yet).</p>")
        return "".join(parts)
    parts.append(f"<p>Model <b>{html.escape(model.name)}</b>: {len(model.settings.genres)} genres.</p>")
    lines = card_accuracy_lines(model.card_path)
    if lines:
        parts.append("<p>From its model card:</p><ul>" +
                     "".join(f"<li>{html.escape(line)}</li>" for line in lines[:6]) + "</ul>")
    else:
        parts.append("<p>This model has no model card with an accuracy figure.</p>")
    return "".join(parts)
