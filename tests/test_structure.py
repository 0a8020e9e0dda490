"""The package's modules import each other without a cycle, lazy imports (inside functions) included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Package name -> source folder, as pyproject.toml's package-dir maps them.
PACKAGES = {"tagger": ROOT / "tagger", "tagger.training": ROOT / "training", "tagger.gui": ROOT / "gui",
            "beetsplug.genretagger": ROOT / "beetsplug" / "genretagger"}


def project_modules() -> dict[str, Path]:
    """Dotted module name -> source file, for every module of the packages."""
    modules = {}
    for package, folder in PACKAGES.items():
        for source in folder.glob("*.py"):
            modules[package if source.stem == "__init__" else f"{package}.{source.stem}"] = source
    return modules


def imported_names(module: str, source: Path) -> set[str]:
    """Every dotted name ``source`` imports anywhere in its body (absolute, with relative imports resolved)."""
    is_package = source.stem == "__init__"
    names = set()
    for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join(parent + ([base] if base else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def import_graph(modules: dict[str, Path]) -> dict[str, set[str]]:
    """Module -> the modules of ``modules`` it imports."""
    return {module: {name for name in imported_names(module, source) if name in modules and name != module}
            for module, source in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle of ``graph`` as a list of modules (first repeated at the end), or None."""
    done: set[str] = set()
    for start in sorted(graph):
        path, on_path, stack = [start], {start}, [(start, iter(sorted(graph[start])))]
        while stack:
            node, targets = stack[-1]
            target = next(targets, None)
            if target is None:
                stack.pop()
                on_path.discard(path.pop())
                done.add(node)
            elif target in on_path:
                return path[path.index(target):] + [target]
            elif target not in done:
                stack.append((target, iter(sorted(graph[target]))))
                on_path.add(target)
                path.append(target)
    return None


def test_no_import_cycle_lazy_imports_included() -> None:
    graph = import_graph(project_modules())
    assert len(graph) > 50 and "tagger.engine" in graph["tagger.training.embeddings"]
    assert find_cycle(graph) is None, " -> ".join(find_cycle(graph))


def test_the_cycle_finder_finds_a_lazy_cycle(tmp_path: Path) -> None:
    """A cycle closed by an import inside a function, as fit -> transfer -> fit once was, is found."""
    (tmp_path / "fit.py").write_text("def run():\n    from tagger.training import transfer\n")
    (tmp_path / "transfer.py").write_text("from .fit import run\n")
    graph = import_graph({"tagger.training.fit": tmp_path / "fit.py", "tagger.training.transfer": tmp_path / "transfer.py"})
    assert find_cycle(graph) == ["tagger.training.fit", "tagger.training.transfer", "tagger.training.fit"]
