"""The simulator's rooms: imports among ``tools.hvsim`` modules point one way, and no module grows unreadable.

Every ``import`` statement counts — at module level, inside functions and under ``TYPE_CHECKING`` alike — so a
cycle cannot hide behind a late import. ``from package import name`` counts as importing ``package.name`` when
that is a module, else ``package`` itself (its ``__init__``), which is how a submodule importing from its own
package's ``__init__`` shows up as the cycle it is.
"""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
PACKAGE = ROOT / "tools" / "hvsim"
MAX_LINES = 600


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(path): path for path in sorted(PACKAGE.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
    """The ``tools.hvsim`` modules that module ``name`` imports, anywhere in its body."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, *([base] if base else [])])
            targets = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in known else base for alias in node.names]
        else:
            continue
        found.update(target for target in targets if target in known and target != name)
    return found


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    known = set(modules)
    return {name: _imports(name, path, known) for name, path in modules.items()}


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan's algorithm)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                components.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return components


def test_the_import_graph_sees_the_rooms() -> None:
    graph = _graph()
    assert "tools.hvsim.models.vms" in graph["tools.hvsim.models.hosts"]
    assert "tools.hvsim.guest" in graph["tools.hvsim.models.guest_os"]
    assert "tools.hvsim.routes" in graph["tools.hvsim.lab"]
    assert "tools.hvsim.operations.power" in graph["tools.hvsim.operations.registry"]


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


def test_no_import_cycles_among_hvsim_modules() -> None:
    assert _cycles(_graph()) == []


def test_dependencies_point_one_way() -> None:
    graph = _graph()

    def reaches(start: str, prefix: str) -> bool:
        seen: set[str] = set()
        pending = [start]
        while pending:
            node = pending.pop()
            if node in seen:
                continue
            seen.add(node)
            if node != start and node.startswith(prefix):
                return True
            pending.extend(graph[node])
        return False

    guest_modules = [name for name in graph if name.startswith("tools.hvsim.guest")]
    assert not any(reaches(name, "tools.hvsim.models") for name in guest_modules)  # the guest is independent
    assert not any(reaches(name, "tools.hvsim.operations") for name in graph if name.startswith("tools.hvsim.models"))
    assert not any(reaches(name, "tools.hvsim.lab") for name in graph if name.startswith("tools.hvsim.protocol"))


def test_no_module_loads_another_by_name() -> None:
    offenders = [name for name, path in _modules().items() if "importlib" in path.read_text(encoding="utf-8")]
    assert offenders == []


def test_no_module_is_over_the_size_limit() -> None:
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in _modules().items()}
    assert {name: lines for name, lines in sizes.items() if lines > MAX_LINES} == {}
