"""Make ``state_v0.sqlite3``: a state database as the tagger wrote it before schema versions.

Run once, at commit 05ccc56 (the last state.py without ``PRAGMA user_version``), from the
repository root: ``.venv/bin/python tests/data/make_state_v0.py tests/data/state_v0.sqlite3``.
It is kept to say how the fixture was made; run today it would make a database of today's schema.
"""

from __future__ import annotations

import os
import sqlite3
import sys
from pathlib import Path

import numpy as np

from tagger.decision import decide
from tagger.state import State

GENRES = ("blues", "jazz", "rock")


def main(out: Path) -> None:
    state = State(out)
    probs = np.array([[0.1, 0.2, 0.7], [0.2, 0.2, 0.6]], dtype=np.float32)
    decision = decide(probs, GENRES, np.array([0.0, 2.0], dtype=np.float32))
    state.store_result(Path("/music/a.flac"), "model0123456789a", 1234, 1_700_000_000_000_000_000, 31.5, decision)
    # A file name that is not UTF-8 is stored as its raw bytes.
    odd = Path(os.fsdecode(b"/music/caf\xe9.mp3"))
    state.store_result(odd, "model0123456789a", 99, 5, 12.0, decision)
    run = state.start_run("tag", Path("/music"))
    done = state.journal_intent(run, Path("/music/a.flac"), {}, {"GENRE": ["Rock"]})
    state.journal_done(done, {}, 1300, 1_700_000_000_000_000_001)
    state.journal_intent(run, odd, {"TCON": ["Jazz"]}, {"TCON": ["Rock"]})
    state.finish_run(run, {"tagged": 1, "error": 0})
    undo = state.start_run("undo", Path("/music"), undoes=run)
    state.finish_run(undo, {"restored": 1})
    state.mark_undone(run, undo)
    state.set_label(Path("/music/a.flac"), "Rock", "accepted")
    state.set_label(Path("/music/b.m4a"), "Hip Hop", "corrected")
    state.close()
    # One file, no WAL beside it: the fixture is a single small file.
    with sqlite3.connect(out) as db:
        db.execute("PRAGMA journal_mode=DELETE")


if __name__ == "__main__":
    main(Path(sys.argv[1]))
