"""The code's structure, measured: import graphs, cycles, layer violations, module sizes, untyped dicts.

``python -m tools.structure`` prints the figures for ``functions/`` and ``tools/`` (the same ones the structure
tests assert): import cycles, modules that import from a layer above their own, files over the size limit, and
the count of ``dict[str, Any]`` annotations in ``functions/``.

Imports are read from the source (every ``import`` statement: module level, inside functions, under
``TYPE_CHECKING``), so a cycle cannot hide behind a late import. ``from package import name`` counts as importing
``package.name`` when that is a module, else ``package`` itself (its ``__init__``).
"""

from __future__ import annotations

import ast
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

__all__ = ["FUNCTION_LAYERS", "MAX_LINES", "cycles", "import_graph", "layer_of", "layer_violations", "oversized"]

ROOT = Path(__file__).resolve().parent.parent
MAX_LINES = 600

FUNCTION_LAYERS: Sequence[tuple[str, ...]] = (
    ("functions.settings",),
    ("functions.models", "functions.errors", "functions.telemetry"),
    (
        "functions.hyperv",
        "functions.guest",
        "functions.sealing",
        "functions.auth",
        "functions.storage",
        "functions.audit",
        "functions.events",
        "functions.joblog",
    ),
    ("functions.inventory", "functions.jobs", "functions.ippools", "functions.leases"),
    ("functions.provisioning",),
    ("functions.services",),
    ("functions.workflows", "functions.api", "functions.dashboard"),
    ("functions.app",),
)
"""The app's layers, lowest first: a module may import its own layer and those below, never one above."""


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(package: str) -> dict[str, Path]:
    """Every module of ``package`` (a dotted name under the repository root) and its file."""
    folder = ROOT.joinpath(*package.split("."))
    return {_module_name(path): path for path in sorted(folder.rglob("*.py"))}


def _imports(name: str, path: Path, known: set[str]) -> set[str]:
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
        for dotted in targets:
            target = dotted
            while target and target not in known:  # a name inside a module: the module
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
    return found


def import_graph(package: str) -> dict[str, set[str]]:
    """Module → the modules of the same package it imports."""
    found = modules(package)
    known = set(found)
    return {name: _imports(name, path, known) for name, path in found.items()}


def cycles(graph: Mapping[str, set[str]]) -> list[list[str]]:
    """Every strongly connected component with more than one module (Tarjan's algorithm), sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    components: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph.get(node, ())):
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
    return sorted(components)


def layer_of(module: str, layers: Sequence[tuple[str, ...]] = FUNCTION_LAYERS) -> int | None:
    """The layer ``module`` belongs to (its longest matching prefix), or ``None``."""
    best: tuple[int, int] | None = None
    for level, prefixes in enumerate(layers):
        for prefix in prefixes:
            if module == prefix or module.startswith(prefix + "."):
                candidate = (len(prefix), level)
                best = candidate if best is None or candidate > best else best
    return None if best is None else best[1]


def layer_violations(
    graph: Mapping[str, set[str]], layers: Sequence[tuple[str, ...]] = FUNCTION_LAYERS
) -> list[tuple[str, str]]:
    """(module, imported module) pairs where the import reaches a higher layer."""
    found = []
    for module, targets in sorted(graph.items()):
        own = layer_of(module, layers)
        for target in sorted(targets):
            other = layer_of(target, layers)
            if own is not None and other is not None and other > own:
                found.append((module, target))
    return found


def oversized(package: str, limit: int = MAX_LINES) -> dict[str, int]:
    """Modules of ``package`` longer than ``limit`` lines."""
    sizes = {name: len(path.read_text(encoding="utf-8").splitlines()) for name, path in modules(package).items()}
    return {name: lines for name, lines in sizes.items() if lines > limit}


def untyped_dicts(package: str = "functions") -> int:
    """How many ``dict[str, Any]`` annotations the package's source spells out."""
    return sum(path.read_text(encoding="utf-8").count("dict[str, Any]") for path in modules(package).values())


def main() -> int:
    """Print the figures; exit 1 when a cycle, a layer violation or an oversized module is found."""
    bad = False
    for package in ("functions", "tools"):
        graph = import_graph(package)
        found_cycles = cycles(graph)
        big = oversized(package)
        print(
            f"{package}: {len(graph)} modules, {len(found_cycles)} import cycle(s), {len(big)} over {MAX_LINES} lines"
        )
        for component in found_cycles:
            print("  cycle:", " -> ".join(component))
        for name, lines in big.items():
            print(f"  {name}: {lines} lines")
        bad = bad or bool(found_cycles or big)
    violations = layer_violations(import_graph("functions"))
    print(f"functions: {len(violations)} import(s) from a higher layer")
    for module, target in violations:
        print(f"  {module} -> {target}")
    print(f"functions: {untyped_dicts()} `dict[str, Any]` annotation(s)")
    return 1 if bad or violations else 0


if __name__ == "__main__":
    sys.exit(main())
