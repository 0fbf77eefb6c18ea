"""The package keeps its layers: no import cycles, and no import of a higher layer.

Imports are read with ``ast`` from every module of ``gitxp/``: top-level ones, those inside
functions and those under ``TYPE_CHECKING`` alike, since each is a dependency a reader has
to follow. docs/architecture.md describes the same layers.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "gitxp"

# Bottom first. A unit is a subpackage or a top-level module of gitxp; a unit may import
# units of a lower rank, and modules of its own package, never a unit of its own or a
# higher rank.
LAYERS: list[tuple[str, ...]] = [
    ("errors",),
    ("git",),
    ("machine", "configuration"),
    ("store",),
    ("api", "query"),
    ("share",),
    ("supervise",),
    ("experiment", "reproduce", "sacred", "sweep"),
    ("board",),
    ("cli",),
    ("config", "ingredient", "observers", "utils"),  # Sacred's import paths: thin shims
    ("__init__", "__main__"),
]
RANK = {unit: rank for rank, units in enumerate(LAYERS) for unit in units}


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    if parts[-1] == "__init__" and len(parts) > 1:
        parts = parts[:-1]
    return ".".join(parts)


def all_modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported_modules(name: str, path: Path, known: set[str]) -> set[str]:
    """Every gitxp module that ``name`` imports, wherever in the file the import stands."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [
                f"{base}.{a.name}" if f"{base}.{a.name}" in known else base for a in node.names
            ]
        else:
            continue
        found.update(t for t in targets if t in known and t != name)
    return found


def unit_of(module: str) -> str:
    parts = module.split(".")
    return "__init__" if len(parts) == 1 else parts[1]


def import_graph() -> dict[str, set[str]]:
    modules = all_modules()
    known = set(modules)
    return {name: imported_modules(name, path, known) for name, path in modules.items()}


def strongly_connected(graph: dict[str, set[str]]) -> list[list[str]]:
    """Tarjan's algorithm, iteratively: the groups of modules that reach each other."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    groups.append(sorted(group))
    return groups


def test_every_unit_has_a_layer() -> None:
    units = {unit_of(m) for m in all_modules()}
    assert units <= set(RANK), f"give these a layer in LAYERS: {sorted(units - set(RANK))}"


def test_no_import_cycles() -> None:
    cycles = strongly_connected(import_graph())
    assert not cycles, "modules that import each other: " + "; ".join(
        " <-> ".join(c) for c in cycles
    )


def test_layers_import_only_downwards() -> None:
    upward = []
    for module, targets in import_graph().items():
        source = unit_of(module)
        for target in sorted(targets):
            dest = unit_of(target)
            if dest != source and RANK[dest] >= RANK[source]:
                upward.append(f"{module} -> {target}")
    assert not upward, "imports of a layer not below: " + ", ".join(upward)


def test_the_checker_sees_cycles_and_upward_imports(tmp_path: Path) -> None:
    graph = {"gitxp.a.x": {"gitxp.a.y"}, "gitxp.a.y": {"gitxp.a.x"}, "gitxp.b": set()}
    assert strongly_connected(graph) == [["gitxp.a.x", "gitxp.a.y"]]
    fake = tmp_path / "m.py"
    fake.write_text(
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    from gitxp.cli.main import main\n"
        "def f():\n    from gitxp.store import record\n"
    )
    known = {"gitxp.cli.main", "gitxp.store", "gitxp.store.record"}
    assert imported_modules("gitxp.store.runs", fake, known) == {
        "gitxp.cli.main",
        "gitxp.store.record",
    }


@pytest.mark.parametrize("library", ["pygit2", "dulwich"])
def test_git_libraries_stay_behind_their_fence(library: str) -> None:
    home = {"pygit2": ("git",), "dulwich": ("share.transport",)}[library]
    outside = []
    for name, path in all_modules().items():
        inside = any(name.startswith(f"gitxp.{h}") for h in home)
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = (
                [a.name for a in node.names]
                if isinstance(node, ast.Import)
                else [node.module or ""]
                if isinstance(node, ast.ImportFrom)
                else []
            )
            if any(n.split(".")[0] == library for n in names) and not inside:
                outside.append(name)
    assert not outside, f"{library} imported outside its home: {sorted(set(outside))}"
