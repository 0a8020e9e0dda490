"""A plain (non-editable) install carries the shipped model, its LiteRT network, the window's assets and
every library the code imports; the base install needs no TensorFlow."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
import tomllib
import zipfile
from importlib.metadata import packages_distributions
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_holds_the_shipped_model_and_assets(tmp_path: Path) -> None:
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("genre_tagger-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    model = "tagger/resources/models/default/"
    for required in ("network.keras", "network.json", "head.npz", "settings.json", "MODEL_CARD.md", "training.json"):
        assert model + required in names
    assert any(n.startswith(model + "network.") and n.endswith(".tflite") for n in names)
    assert model + "model.keras" not in names
    for asset in ("icon.png", "icon.svg", "genre-tagger.desktop"):
        assert "tagger/resources/" + asset in names
    for module in ("tagger/cli.py", "tagger/gui/app.py", "tagger/training/cli.py",
                   "beetsplug/genretagger/__init__.py"):
        assert module in names
    # beets finds plugins in its namespace package `beetsplug`, which must stay one: no __init__.py of ours.
    assert "beetsplug/__init__.py" not in names
    entry_points = next(n for n in names if n.endswith("entry_points.txt"))
    scripts = zipfile.ZipFile(wheel).read(entry_points).decode()
    for script in ("tagger-batch", "tagger-gui", "tagger-train"):
        assert script in scripts


def _third_party_imports(folder: Path) -> set[str]:
    names = set()
    for source in folder.rglob("*.py"):
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name.split(".")[0] for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "tagger"}


def _declared(requirements: list[str]) -> set[str]:
    return {re.split(r"[<>=!~;\[ ]", r, maxsplit=1)[0].lower().replace("_", "-") for r in requirements}


# The engine's Keras runtime, for platforms without a LiteRT wheel: it comes with [train], and
# tagger/model.py checks for it and names that extra instead of failing on the import.
OPTIONAL_IN_ENGINE = {"keras", "tensorflow"}


@pytest.mark.parametrize("folder,extras", [("tagger", ()), ("gui", ("gui",)), ("training", ("train",)),
                                            ("beetsplug", ("beets",))])
def test_every_imported_library_is_declared(folder: str, extras: tuple[str, ...]) -> None:
    """A library that only arrives as another's dependency breaks the install when that one goes."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = _declared(project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]])
    distributions = packages_distributions()
    optional = OPTIONAL_IN_ENGINE if folder == "tagger" else set()
    for module in sorted(_third_party_imports(ROOT / folder) - optional):
        providers = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        assert providers & declared, f"{folder}/ imports {module}, which no declared requirement provides"


def test_the_base_install_has_no_tensorflow_and_train_adds_it() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert not _declared(project["dependencies"]) & {"tensorflow", "tensorflow-cpu", "keras"}
    assert {"tensorflow", "tensorflow-cpu", "keras"} <= _declared(project["optional-dependencies"]["train"])


LEAN_IMPORTS = """
import sys
from tagger.training.cli import build_parser
build_parser()  # every subcommand's module: what --help, list and delete import before running
import tagger.cli, tagger.engine, tagger.training.retrain, tagger.training.user_models  # noqa: E401
heavy = sorted(m for m in ("tensorflow", "keras", "matplotlib", "sklearn") if m in sys.modules)
print(" ".join(heavy))
"""


def test_tagging_and_the_train_command_line_import_no_tensorflow() -> None:
    """tagger-train --help, list and delete answer at once: nothing heavy is imported before a command runs."""
    run = subprocess.run([sys.executable, "-c", LEAN_IMPORTS], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == ""


@pytest.mark.parametrize("command", [["fit", "DATA", "--out", "OUT"], ["distil", "DATA", "--out", "OUT"],
                                     ["export", "default"]])
def test_a_training_command_without_tensorflow_names_the_extra(command, tmp_path, monkeypatch, capsys) -> None:
    from audio import make_toy_dataset
    from tagger.training.cli import main

    make_toy_dataset(tmp_path / "data")
    for name in ("keras", "tensorflow"):
        monkeypatch.setitem(sys.modules, name, None)  # as in an install without genre-tagger[train]
    for module in ("tagger.training.fit", "tagger.training.transfer", "tagger.training.distil",
                   "tagger.training.keras_network"):
        monkeypatch.delitem(sys.modules, module, raising=False)
    args = [str(tmp_path / "data") if a == "DATA" else str(tmp_path / "out") if a == "OUT" else a for a in command]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "genre-tagger[train]" in err
