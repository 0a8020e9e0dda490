"""A plain (non-editable) install carries the shipped model, its LiteRT copy, the window's assets and
every library the code imports."""

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
    for required in ("model.keras", "settings.json", "MODEL_CARD.md"):
        assert model + required in names
    assert any(n.startswith(model + "model.") and n.endswith(".tflite") for n in names)
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


@pytest.mark.parametrize("folder,extras", [("tagger", ()), ("gui", ("gui",)), ("training", ("train",)),
                                            ("beetsplug", ("beets",))])
def test_every_imported_library_is_declared(folder: str, extras: tuple[str, ...]) -> None:
    """A library that only arrives as another's dependency breaks the install when that one goes."""
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = _declared(project["dependencies"] + [r for e in extras for r in project["optional-dependencies"][e]])
    distributions = packages_distributions()
    for module in sorted(_third_party_imports(ROOT / folder)):
        providers = {d.lower().replace("_", "-") for d in distributions.get(module, [module])}
        assert providers & declared, f"{folder}/ imports {module}, which no declared requirement provides"
