"""The devhost's rooms: no import cycles, nothing but the entry points reaches the whole host, no giant modules.

Imports are read from the source (every ``import``/``from`` statement, including those under
``TYPE_CHECKING`` and inside functions), so a cycle hidden from the interpreter still counts.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "tools" / "devhost"
PREFIX = "tools.devhost"
MAX_LINES = 600


def _modules() -> dict[str, Path]:
    return {path.stem: path for path in sorted(PACKAGE.glob("*.py"))}


def _imports(path: Path, known: set[str]) -> set[str]:
    """The sibling modules ``path`` imports."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom):
            if node.level == 1:
                base = node.module or ""
            elif node.level == 0 and node.module and (node.module + ".").startswith(PREFIX + "."):
                base = node.module[len(PREFIX) + 1 :]
            else:
                continue
            if base:
                found.add(base.split(".")[0])
            else:
                found.update(alias.name for alias in node.names if alias.name in known)
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name.startswith(PREFIX + "."):
                    found.add(alias.name[len(PREFIX) + 1 :].split(".")[0])
    return found & known


def import_graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: _imports(path, set(modules)) - {name} for name, path in modules.items()}


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """A cycle as a list of module names (first repeated at the end), or ``None``."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for target in sorted(graph[node]):
            if state.get(target) == 1:
                return [*stack[stack.index(target) :], target]
            if target not in state:
                found = visit(target)
                if found:
                    return found
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state:
            found = visit(node)
            if found:
                return found
    return None


def test_the_cycle_finder_finds_cycles() -> None:
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set(), "c": {"a", "b"}}) is None


def test_no_import_cycles_among_devhost_modules() -> None:
    graph = import_graph()
    assert {"engine", "host", "asgi", "management"} <= set(graph)
    assert find_cycle(graph) is None


def test_only_the_entry_points_import_the_host() -> None:
    importers = sorted(name for name, targets in import_graph().items() if "host" in targets)
    assert importers == ["__init__", "__main__"]


def test_no_devhost_module_is_over_600_lines() -> None:
    sizes = {path.name: len(path.read_text(encoding="utf-8").splitlines()) for path in PACKAGE.glob("*.py")}
    assert {name: size for name, size in sizes.items() if size > MAX_LINES} == {}
