"""The layers hold: who may import whom, read from the source (no module is run).

- ``cluster`` (the compute side) never imports ``rptui`` (the user's side);
- the UI-free parts of ``rptui`` (``store``, ``session``, ``folders``, ``bench``) never
  import Textual;
- the app's screens and widgets reach ``cluster`` only through the seam (``cluster.api``)
  and its file readers (``cluster.io``), and never import a command module;
- no two modules import each other, directly or in a longer circle (imports inside
  functions count too: a lazy import that closes a circle is still a circle).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("cluster", "rptui")
UI_FREE = ("rptui.store", "rptui.session", "rptui.folders", "rptui.bench")
VIEWS = ("rptui.tui.screens", "rptui.tui.widgets")
VIEWS_MAY_USE = ("cluster.api", "cluster.io")


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _modules() -> dict[str, Path]:
    return {
        _module_name(path): path
        for package in PACKAGES
        for path in sorted((ROOT / package).rglob("*.py"))
    }


MODULES = _modules()


def _imports(module: str) -> Iterator[str]:
    """Every module ``module`` imports, anywhere in its source, as absolute names."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    is_package = MODULES[module].name == "__init__.py"
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")[: len(module.split(".")) - node.level + is_package]
                base = ".".join([*anchor, base] if base else anchor)
            yield base
            # ``from package import module`` imports the module too
            yield from (f"{base}.{alias.name}" for alias in node.names)


def _within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def _internal(name: str) -> str | None:
    """The project module that an imported name refers to (its longest known prefix)."""
    parts = name.split(".")
    for end in range(len(parts), 0, -1):
        candidate = ".".join(parts[:end])
        if candidate in MODULES:
            return candidate
    return None


def test_the_compute_side_never_imports_the_users_side() -> None:
    offenders = {
        f"{module} imports {name}"
        for module in MODULES
        if _within(module, ("cluster",))
        for name in _imports(module)
        if _within(name, ("rptui",))
    }
    assert not offenders, sorted(offenders)


def test_the_ui_free_parts_never_import_textual() -> None:
    offenders = {
        f"{module} imports {name}"
        for module in MODULES
        if _within(module, UI_FREE)
        for name in _imports(module)
        if _within(name, ("textual", "rich"))
    }
    assert not offenders, sorted(offenders)


def test_views_reach_the_compute_side_only_through_the_seam_and_io() -> None:
    offenders = {
        f"{module} imports {name}"
        for module in MODULES
        if _within(module, VIEWS)
        for name in _imports(module)
        if (_within(name, ("cluster",)) and not _within(name, VIEWS_MAY_USE))
        or _within(name, ("rptui.commands", "rptui.cli"))
    }
    assert not offenders, sorted(offenders)


def _import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module in MODULES:
        targets = {_internal(name) for name in _imports(module)}
        graph[module] = {t for t in targets if t is not None and t != module}
    # a package's __init__ is imported by every module under it: leave those edges out,
    # they are Python's doing, not the code's
    for module, targets in graph.items():
        graph[module] = {t for t in targets if not module.startswith(t + ".")}
    return graph


def _find_circle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        path.append(node)
        for target in sorted(graph.get(node, ())):
            if state.get(target) == 1:
                return [*path[path.index(target) :], target]
            if target not in state and (circle := visit(target)) is not None:
                return circle
        path.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (circle := visit(node)) is not None:
            return circle
    return None


def test_no_module_imports_itself_through_others() -> None:
    circle = _find_circle(_import_graph())
    assert circle is None, " -> ".join(circle or [])


@pytest.mark.parametrize("package", PACKAGES)
def test_every_package_folder_is_a_package(package: str) -> None:
    folders = {path.parent for path in (ROOT / package).rglob("*.py")}
    missing = sorted(str(f.relative_to(ROOT)) for f in folders if not (f / "__init__.py").is_file())
    assert not missing, missing
