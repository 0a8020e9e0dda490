"""Machine-readable run reports: CSV or JSON, chosen by the file's extension."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

from tagger.batch import FileOutcome

COLUMNS = ("path", "status", "genre", "confidence", "top3", "previous_genre", "message")
FORMATS = (".csv", ".json")


def write_report(path: Path, outcomes: Iterable[FileOutcome], summary: dict[str, object]) -> None:
    """Write one row per file, sorted by path; JSON also carries the run summary."""
    rows = sorted((o.report_row() for o in outcomes), key=lambda r: r["path"])
    path = Path(path)
    if path.suffix.lower() == ".json":
        # A file name that is not UTF-8 holds lone surrogates: written as \udcXX escapes, which
        # JSON readers turn back into the same string.
        path.write_text(json.dumps({"summary": summary, "files": rows}, indent=2, ensure_ascii=False) + "\n",
                        encoding="utf-8", errors="backslashreplace")
        return
    with path.open("w", newline="", encoding="utf-8", errors="backslashreplace") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
