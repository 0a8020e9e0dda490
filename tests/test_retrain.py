"""Retraining on the user's own labels (issue 6): tagger-train retrain / list / delete.

Made-up genres on audio generated here that a model can tell apart ("Calm
Stuff" = soft chords, "Noise Wall" = noise bursts, "Low End" = bass tones), a
small random-weight CNN as the base model (its features separate these sounds;
the shipped model is not needed), few epochs.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")  # before pytest-qt creates the QApplication

from audio import make_track  # noqa: E402

GENRES = {"Calm Stuff": "chords", "Noise Wall": "noise", "Low End": "bass"}
PER_GENRE = 7
EPOCHS = "25"
NAME = "My Genres"


@pytest.fixture(autouse=True)
def own_xdg(tmp_path, monkeypatch):
    """Private user folders (models, embedding cache, state) for each test."""
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg-data"))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg-config"))


def make_library(folder: Path, per_genre: int = PER_GENRE, genres=GENRES, seed0: int = 0, tagged: bool = True,
                 odd_spelling: bool = True) -> dict[Path, str]:
    """Tracks of each made-up genre, FLAC and MP3, 5-8 s, two to three artists per genre.

    One file per genre carries another spelling of its genre ("calm-stuff"),
    so the user's most frequent spelling must win. Returns {path: genre}.
    """
    folder.mkdir(parents=True, exist_ok=True)
    truth = {}
    for g, (genre, kind) in enumerate(genres.items()):
        for i in range(per_genre):
            ext = "flac" if i % 2 else "mp3"
            spelling = genre.lower().replace(" ", "-") if odd_spelling and i == 2 else genre
            path = make_track(folder / f"{kind}_{seed0 + i:02d}.{ext}", seconds=5 + (i % 4), rate=22050, channels=1,
                              seed=seed0 + 100 * g + i, kind=kind, title=f"{kind} {i}",
                              artist=f"{kind} band {i // 3}", genre=spelling if tagged else None)
            truth[path] = genre
    return truth


def corrupt(path: Path) -> Path:
    """Keep a FLAC file's tags but cut off all its audio frames."""
    data = path.read_bytes()
    pos = data.index(b"fLaC") + 4
    while True:
        last, length = data[pos] & 0x80, int.from_bytes(data[pos + 1:pos + 4], "big")
        pos += 4 + length
        if last:
            break
    path.write_bytes(data[:pos])
    return path


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> Path:
    """A small CNN with fixed random weights, saved as a genre model folder (4 dummy genres)."""
    import keras

    from tagger.settings import ModelSettings
    from tagger.training.keras_network import save_genre_model

    keras.utils.set_random_seed(3)
    folder = tmp_path_factory.mktemp("base") / "base"
    inputs = keras.Input((250, 96))
    x = keras.layers.Reshape((250, 96, 1))(inputs)
    x = keras.layers.Conv2D(16, (3, 5), activation="relu")(x)
    x = keras.layers.MaxPooling2D(3)(x)
    x = keras.layers.Conv2D(24, 3, activation="relu")(x)
    x = keras.layers.Concatenate()([keras.layers.GlobalAveragePooling2D()(x), keras.layers.GlobalMaxPooling2D()(x)])
    outputs = keras.layers.Dense(4, activation="softmax")(x)
    probe = np.random.default_rng(0).uniform(0, 4, (3, 250, 96)).astype(np.float32)
    save_genre_model(folder, keras.Model(inputs, outputs), ModelSettings(genres=("a", "b", "c", "d")),
                     {"kind": "test"}, "# test base\n", probe)
    return folder


@pytest.fixture(scope="module")
def trained(base_model, tmp_path_factory):
    """One retrain through the Python API, shared by the tests that only look at its result."""
    from tagger.training.retrain import RetrainOptions, retrain

    root = tmp_path_factory.mktemp("trained")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("XDG_DATA_HOME", str(root / "xdg-data"))
        mp.setenv("XDG_CONFIG_HOME", str(root / "xdg-config"))
        truth = make_library(root / "library")
        lines = []
        result = retrain(RetrainOptions(root / "library", NAME, "tags", base=str(base_model), epochs=int(EPOCHS)),
                         log=lines.append)
    return result, lines, truth


def install(trained) -> Path:
    """Copy the module's trained model into this test's user models folder."""
    from tagger.model import user_models_dir

    target = user_models_dir() / NAME
    shutil.copytree(trained[0].path, target)
    return target


def train_cli(*args, capsys=None) -> tuple[int, str, str]:
    from tagger.training.cli import main

    if capsys:
        capsys.readouterr()
    code = main([str(a) for a in args])
    out, err = capsys.readouterr() if capsys else ("", "")
    return code, out, err


# -- the trained model ---------------------------------------------------------------------------
def test_retrained_model_tags_unseen_files_with_the_users_genre_names(trained, tmp_path, capsys):
    from tagger.cli import main
    from tagger.tags import read_genres

    install(trained)
    truth = make_library(tmp_path / "new", per_genre=4, seed0=50, tagged=False)
    code = main([str(tmp_path / "new"), "--model", NAME, "--quiet", "--min-confidence", "0"])
    assert code == 0, capsys.readouterr()
    written = {path: read_genres(path) for path in truth}
    right = sum(genres == [truth[path]] for path, genres in written.items())
    assert right >= 0.75 * len(truth), written  # chance is 1/3
    # Only the user's preferred spellings are ever written (never "calm-stuff" nor the key "calmstuff").
    assert {g for genres in written.values() for g in genres} <= set(GENRES)


def test_result_settings_card_and_validation(trained, base_model):
    from tagger.settings import ModelSettings
    from tagger.training.retrain import MIN_TRACKS_TO_SHARPEN

    result, lines, truth = trained
    assert result.genres == sorted(GENRES)
    assert result.files_used == len(truth) and result.valid_files >= 3
    assert {s.name for s in result.per_genre} == set(GENRES) and all(s.total >= 1 for s in result.per_genre)
    assert result.accuracy is not None and result.accuracy >= 0.6
    # Fewer than MIN_TRACKS_TO_SHARPEN held-out files: the temperature may soften confidence, never sharpen it.
    assert result.valid_files < MIN_TRACKS_TO_SHARPEN
    assert 1.0 <= result.temperature <= 10 and 0 <= result.min_confidence < 1
    summary = result.summary()
    assert "Calm Stuff" in summary and "confusion" in summary
    settings = ModelSettings.load(result.path)
    assert set(settings.display_names.values()) == set(GENRES)
    assert [settings.display_names[g] for g in settings.genres] == result.genres
    assert settings.features == ModelSettings.load(base_model).features
    card = (result.path / "MODEL_CARD.md").read_text()
    assert "Calm Stuff" in card and str(len(truth)) in card and "base" in card.lower()
    facts = json.loads((result.path / "training.json").read_text())
    assert facts["files_used"] == len(truth) and facts["validation_accuracy"] == result.accuracy
    assert any("held out" in line for line in lines)


def test_saved_model_is_the_base_network_with_the_new_head(trained, base_model):
    from tagger.features import file_windows
    from tagger.head import Head
    from tagger.model import GenreModel

    result, _, truth = trained
    model, base = GenreModel.load(str(result.path)), GenreModel.load(str(base_model))
    assert model.network_id == base.network_id and model.runtime == "litert"
    windows = np.concatenate([file_windows(p, model.settings.features).mels for p in list(truth)[:4]])
    head = Head.load(result.path)
    assert head.feature == base.head.feature and head.temperature == pytest.approx(result.temperature)
    expected = head.apply(base.features(windows)[:, base.layout[head.feature]])
    np.testing.assert_allclose(model.predict(windows), expected, atol=1e-6)
    np.testing.assert_allclose(model.predict(windows).sum(axis=1), 1.0, atol=1e-5)


LEAN_RUN = """
import sys
sys.modules["tensorflow"] = None  # as in an install without genre-tagger[train]: importing it fails
sys.modules["keras"] = None
from tagger.training.cli import main
code = main(sys.argv[1:])
assert "tensorflow" not in [m for m, v in sys.modules.items() if v is not None]
sys.exit(code)
"""


def test_a_model_learned_without_tensorflow_predicts_like_one_learned_with_it(trained, base_model, tmp_path):
    """The lean install (no TensorFlow) and the full one build the same model: the head is NumPy in both."""
    import subprocess

    from tagger.features import file_windows
    from tagger.model import GenreModel

    result, _, truth = trained
    library = next(iter(truth)).parent
    env = {**os.environ, "XDG_DATA_HOME": str(tmp_path / "lean-data")}
    run = subprocess.run([sys.executable, "-c", LEAN_RUN, "retrain", str(library), "--name", "Lean", "--from-tags",
                          "--base", str(base_model), "--epochs", EPOCHS, "--quiet", "--no-cache"],
                         env=env, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    (lean_folder,) = (tmp_path / "lean-data").rglob("Lean")
    lean = GenreModel.load(str(lean_folder))
    full = GenreModel.load(str(result.path))
    windows = np.concatenate([file_windows(p, full.settings.features).mels for p in list(truth)[::3]])
    np.testing.assert_allclose(lean.predict(windows), full.predict(windows), atol=1e-5)
    assert lean.settings == full.settings


# -- list and delete -----------------------------------------------------------------------------
@pytest.fixture
def shipped(tmp_path, base_model, monkeypatch):
    """A shipped-models folder holding a model called "default"."""
    import tagger.model
    import tagger.training.retrain
    import tagger.training.user_models

    folder = tmp_path / "shipped"
    shutil.copytree(base_model, folder / "default")
    for module in (tagger.model, tagger.training.user_models, tagger.training.retrain):
        monkeypatch.setattr(module, "shipped_models_dir", lambda: folder)
    return folder


def test_list_and_delete(trained, shipped, capsys):
    install(trained)
    code, out, _ = train_cli("list", capsys=capsys)
    assert code == 0
    row = next(line for line in out.splitlines() if line.startswith(NAME))
    assert "Calm Stuff, Low End, Noise Wall" in row and str(trained[0].files_used) in row and "%" in row
    assert any(line.startswith("default") and "shipped" in line for line in out.splitlines())

    code, _, err = train_cli("delete", "default", capsys=capsys)
    assert code == 2 and "shipped" in err and len(err.strip().splitlines()) == 1
    assert (shipped / "default" / "head.npz").exists()
    code, out, _ = train_cli("delete", NAME, capsys=capsys)
    assert code == 0 and "deleted" in out
    code, _, err = train_cli("delete", NAME, capsys=capsys)
    assert code == 2 and "no user model" in err
    code, out, _ = train_cli("list", capsys=capsys)
    assert NAME not in out


def test_refuses_shipped_names_and_existing_models_without_force(trained, shipped, tmp_path, capsys):
    make_library(tmp_path / "lib", per_genre=3)
    code, _, err = train_cli("retrain", tmp_path / "lib", "--name", "default", "--from-tags", capsys=capsys)
    assert code == 2 and "shipped" in err
    install(trained)
    code, _, err = train_cli("retrain", tmp_path / "lib", "--name", NAME, "--from-tags", capsys=capsys)
    assert code == 2 and "--force" in err


# -- the command, reviews, cache, unreadable files -----------------------------------------------
def test_cli_from_reviews_skips_unreadable_files_and_caches_embeddings(base_model, tmp_path, capsys):
    from tagger.model import GenreModel
    from tagger.state import State

    library = tmp_path / "lib"
    truth = make_library(library, per_genre=4, tagged=False)
    broken = [corrupt(library / "chords_01.flac"), corrupt(library / "noise_01.flac")]  # 3 good files left each
    state = State()
    for path, genre in truth.items():
        state.set_label(path, genre, "corrected")
    state.set_label(tmp_path / "elsewhere" / "x.flac", "Noise Wall", "corrected")  # not under the library
    state.close()

    args = ("retrain", library, "--name", "From Reviews", "--from-reviews", "--base", base_model,
            "--epochs", "5", "--quiet")
    code, out, err = train_cli(*args, capsys=capsys)
    assert code == 0, err
    for path in broken:
        assert f"skipped (unreadable): {path}" in out
    assert "2 unreadable file(s) skipped" in out
    assert "Calm Stuff" in out and "confusion" in out
    model = GenreModel.load("From Reviews")
    assert sorted(model.settings.display_names.values()) == sorted(GENRES)

    code, out, err = train_cli(*args, "--force", capsys=capsys)
    assert code == 0, err
    assert f"({len(truth) - len(broken)} embeddings cached)" in out


def test_fine_tune_trains_the_last_block_too(base_model, tmp_path, capsys):
    import keras

    from tagger.training.fine_tune import last_block_layers

    make_library(tmp_path / "lib", per_genre=4)
    code, out, err = train_cli("retrain", tmp_path / "lib", "--name", "Tuned", "--from-tags", "--base", base_model,
                               "--epochs", "5", "--fine-tune", "--quiet", capsys=capsys)
    assert code == 0, err
    from tagger.model import GenreModel, user_models_dir

    base = keras.saving.load_model(base_model / "network.keras", safe_mode=True, compile=False)
    tuned = keras.saving.load_model(user_models_dir() / "Tuned" / "network.keras", safe_mode=True, compile=False)
    last = last_block_layers(base)[0]
    kept = {layer.name for layer in tuned.layers}
    changed = [layer.name for layer in base.layers if layer.get_weights() and layer.name in kept and not all(
        np.array_equal(a, b) for a, b in zip(layer.get_weights(), tuned.get_layer(layer.name).get_weights()))]
    assert changed == [last.name]  # only the last block moved; the rest of the base stayed frozen
    assert GenreModel.load("Tuned").runtime == "litert"  # the tuned network got its own LiteRT copy


def test_fine_tune_without_tensorflow_names_the_extra(base_model, tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "keras", None)
    make_library(tmp_path / "lib", per_genre=3)
    code, _, err = train_cli("retrain", tmp_path / "lib", "--name", "T", "--from-tags", "--base", base_model,
                             "--fine-tune", capsys=capsys)
    assert code == 2 and "genre-tagger[train]" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("case", ["no labels", "one genre", "one genre after dropping", "all unreadable"])
def test_bad_input_is_one_line_and_exit_2(case, base_model, tmp_path, capsys):
    library = tmp_path / "lib"
    if case == "no labels":
        make_library(library, per_genre=2, tagged=False)
        expected = "no files with a genre tag"
    elif case == "one genre":
        make_library(library, per_genre=4, genres={"Noise Wall": "noise"})
        expected = "only one genre"
    elif case == "one genre after dropping":
        make_library(library, per_genre=4, genres={"Noise Wall": "noise"})
        make_library(library, per_genre=2, genres={"Low End": "bass"}, seed0=20)
        expected = "Low End (2)"
    else:
        library.mkdir()
        for i in range(6):
            genre, kind = [("Noise Wall", "noise"), ("Low End", "bass")][i % 2]
            corrupt(make_track(library / f"{kind}{i}.flac", seconds=5, rate=22050, channels=1, seed=i, kind=kind,
                               genre=genre))
        expected = "could be read"
    code, out, err = train_cli("retrain", library, "--name", "X", "--from-tags", "--base", base_model,
                               "--min-per-genre", "3", "--quiet", capsys=capsys)
    assert code == 2
    assert len(err.strip().splitlines()) == 1 and expected in err, err
    assert "Traceback" not in err
    from tagger.model import user_models_dir

    assert not (user_models_dir() / "X").exists()


def test_corrupt_base_model_is_a_clear_error(base_model, tmp_path, capsys):
    broken = tmp_path / "broken"
    shutil.copytree(base_model, broken)
    (broken / "network.keras").write_bytes(b"not a keras file")
    make_library(tmp_path / "lib", per_genre=3)
    code, _, err = train_cli("retrain", tmp_path / "lib", "--name", "X", "--from-tags", "--base", broken,
                             capsys=capsys)
    assert code == 2 and "not a loadable genre model" in err and len(err.strip().splitlines()) == 1


# -- the window's "Train from My Labels" dialog --------------------------------------------------
def _train_dialog(qtbot, library, name: str, base_model):
    """The Train from my labels dialog on ``library``, set to train ``name`` on ``base_model``."""
    from tagger.gui.train_dialog import TrainDialog

    dialog = TrainDialog(library)
    qtbot.addWidget(dialog)
    dialog.name_edit.setText(name)
    dialog.base_combo.addItem(str(base_model))
    dialog.base_combo.setCurrentText(str(base_model))
    return dialog


def test_train_dialog_trains_in_a_thread_and_shows_per_genre_accuracy(qtbot, base_model, tmp_path):
    pytest.importorskip("PySide6")
    from tagger.gui.train_dialog import result_text
    from tagger.model import user_models_dir

    make_library(tmp_path / "lib", per_genre=4)
    dialog = _train_dialog(qtbot, tmp_path / "lib", "Dialog Model", base_model)
    with qtbot.waitSignal(dialog.trained, timeout=120_000) as signal:
        dialog.train_button.click()
        assert not dialog.train_button.isEnabled() and dialog.cancel_button.isEnabled()
    qtbot.waitUntil(lambda: dialog.worker is None, timeout=10_000)
    result = signal.args[0]
    assert (user_models_dir() / "Dialog Model" / "head.npz").is_file()
    text = result_text(result)
    assert "Calm Stuff" in text and "Low End" in text and "held-out" in text
    assert "95% interval" in text or "too few held-out files to measure" in text
    assert dialog.train_button.isEnabled()


def test_train_dialog_reports_bad_input(qtbot, base_model, tmp_path):
    pytest.importorskip("PySide6")
    make_library(tmp_path / "lib", per_genre=2, tagged=False)
    dialog = _train_dialog(qtbot, tmp_path / "lib", "Nothing", base_model)
    with qtbot.waitSignal(dialog.run_ended, timeout=60_000) as signal:
        dialog.train_button.click()
    assert signal.args == [False]
    assert "no files with a genre tag" in dialog.log_view.toPlainText()
    assert dialog.stage_label.text() == "Not trained" and dialog.train_button.isEnabled()


def test_main_window_tools_menu_has_the_train_action(qtbot, tmp_path):
    pytest.importorskip("PySide6")
    from PySide6.QtCore import QSettings

    from tagger.gui.main_window import MainWindow
    from tagger.state import State

    window = MainWindow(State(), QSettings(str(tmp_path / "gui.ini"), QSettings.Format.IniFormat))
    qtbot.addWidget(window)
    assert window.train_action in window.tools_menu.actions()
