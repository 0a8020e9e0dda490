"""Shared fixtures for the whole test suite.

- every test runs with its own XDG data/config/cache folders (autouse), so the
  state database, config file, locks and user models never touch the real ones;
- ``genre_model``: the shipped model, loaded once per session (TensorFlow start-up
  is the slowest thing the suite does). ``TAGGER_TEST_MODEL=/path/to/model`` points
  the suite at another model folder while developing;
- ``run_cli``: ``tagger-batch`` in-process, with the session model;
- ``make_library``: a folder of real tagged tracks, one per format.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from audio import FORMATS, make_track  # noqa: E402

MODEL_ENV = "TAGGER_TEST_MODEL"


def test_model_name() -> str:
    """Model the suite runs with: the shipped ``default`` unless overridden for development."""
    return os.environ.get(MODEL_ENV) or "default"


test_model_name.__test__ = False  # a helper, not a test


# -- isolation -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class UserDirs:
    data: Path
    config: Path
    cache: Path

    @property
    def config_file(self) -> Path:
        from tagger.config import config_path

        return config_path()

    def write_config(self, text: str) -> Path:
        path = self.config_file
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        return path


@pytest.fixture(autouse=True)
def user_dirs(tmp_path_factory, monkeypatch) -> UserDirs:
    """Private XDG folders for every test."""
    base = tmp_path_factory.mktemp("xdg")
    dirs = UserDirs(base / "data", base / "config", base / "cache")
    monkeypatch.setenv("XDG_DATA_HOME", str(dirs.data))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(dirs.config))
    monkeypatch.setenv("XDG_CACHE_HOME", str(dirs.cache))
    return dirs


# -- model ---------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def genre_model():
    """The model the suite tests with, loaded once."""
    from tagger.model import GenreModel

    return GenreModel.load(test_model_name(), threads=2)


@pytest.fixture(scope="session")
def settings(genre_model):
    """Feature settings of the session model."""
    return genre_model.settings.features


# -- running the engine and the command ----------------------------------------------------------
@pytest.fixture
def state():
    """A state database in the test's own data folder."""
    from tagger.state import State

    db = State()
    yield db
    try:
        db.close()
    except Exception:  # noqa: BLE001 - already closed by the test
        pass


@pytest.fixture
def batch(genre_model, state):
    """``batch(folder, **policy)`` runs a BatchRun in-process and returns {path: FileOutcome}."""
    from tagger.batch import BatchRun
    from tagger.policy import Policy

    def run(folder: Path, workers: int = 2, rescan: bool = False, **policy) -> dict:
        policy.setdefault("min_confidence", 0.0)
        job = BatchRun(folder, genre_model, state, Policy(**policy), workers=workers, rescan=rescan)
        return {o.path: o for o in job.run()}

    return run


@pytest.fixture
def hang_on():
    """``hang_on(featurize, stuck)``: ``featurize`` that blocks on the path ``stuck`` until the test ends.

    As a decoder stuck in a C library does: Python cannot interrupt the thread.
    """
    release = threading.Event()

    def wrap(featurize: Callable[[Path], object], stuck: Path) -> Callable[[Path], object]:
        def featurize_or_hang(path: Path) -> object:
            if path == stuck:
                release.wait(30)
            return featurize(path)

        return featurize_or_hang

    yield wrap
    release.set()


@dataclass
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture
def run_cli(genre_model, capsys, monkeypatch):
    """``run_cli(*args)`` runs ``tagger-batch`` in-process; the model named "default" is the session model.

    Other model names go through the real loader, so unknown models still fail as they should.
    """
    from tagger import cli
    from tagger.model import GenreModel

    original = GenreModel.load.__func__

    def load(cls, name_or_path: str = "default", *args, **kwargs):
        if name_or_path in ("default", test_model_name()):
            return genre_model
        return original(cls, name_or_path, *args, **kwargs)

    monkeypatch.setattr(GenreModel, "load", classmethod(load))

    def run(*args) -> CliResult:
        capsys.readouterr()
        code = cli.main([str(a) for a in args])
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


def cli_command() -> list[str]:
    """The installed ``tagger-batch`` console script (next to the interpreter running the tests)."""
    script = Path(sys.executable).parent / "tagger-batch"
    return [str(script)] if script.exists() else [sys.executable, "-m", "tagger.cli"]


def run_subprocess(*args, env_extra: dict | None = None, timeout: int = 240) -> subprocess.CompletedProcess:
    """Run ``tagger-batch`` as a separate process with this test's XDG folders."""
    env = dict(os.environ, **(env_extra or {}))
    extra = ["--model", os.environ[MODEL_ENV]] if os.environ.get(MODEL_ENV) else []
    return subprocess.run(cli_command() + [str(a) for a in args] + extra, env=env, capture_output=True,
                          text=True, timeout=timeout)


def remember_prediction(state, model, path: Path, probabilities: dict[str, float]) -> None:
    """Store a result for ``path`` as if ``model`` had analysed it, so runs take these genre probabilities.

    ``probabilities`` maps genre ids to a probability (0-1; genres left out get 0); the cache keeps
    them as float32, as a fresh analysis gives them.
    """
    import numpy as np

    from tagger.decision import decide
    from tagger.writer import FileStamp

    genres = model.settings.genres
    window = np.array([[probabilities.get(genre, 0.0) for genre in genres]], dtype=np.float32)
    stamp = FileStamp.of(path)
    state.store_result(path, model.model_id, stamp.size, stamp.mtime_ns, 6.0, decide(window, genres, np.zeros(1)))
    state.commit()


# -- libraries of real files ---------------------------------------------------------------------
def file_hash(path: Path) -> str:
    """Hash of every byte of a file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_hashes(folder: Path) -> dict[Path, str]:
    """{path: hash} of every regular file under ``folder`` (links and unreadable files skipped)."""
    out = {}
    for root, _, names in os.walk(folder):
        for name in names:
            path = Path(root) / name
            if path.is_file() and not path.is_symlink():
                out[path] = file_hash(path)
    return out


@pytest.fixture
def make_library(tmp_path):
    """``make_library(name="lib", formats=FORMATS, seconds=6, **tags)`` -> (folder, {ext: path}).

    One real, tagged track per format (title, artist, album, cover; ``genre=`` to give
    them a genre, ``id3_version=3`` for ID3v2.3). Tracks are mono and short to keep the
    suite fast; each gets a different seed.
    """

    def make(name: str = "lib", formats=FORMATS, seconds: float = 6.0, channels: int = 1, **tags):
        folder = tmp_path / name
        folder.mkdir(parents=True, exist_ok=True)
        paths = {}
        for seed, ext in enumerate(formats):
            paths[ext] = make_track(folder / f"track_{ext}.{ext}", seconds=seconds, channels=channels, seed=seed,
                                    title=f"Title {ext}", artist="Artist", album="Album", **tags)
        return folder, paths

    return make
