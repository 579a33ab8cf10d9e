"""The devhost's rooms: no import cycles, nothing but the entry points reaches the whole host, no giant modules.

The import graph is :mod:`tools.structure`'s (read from the source, late and ``TYPE_CHECKING`` imports included).
"""

from __future__ import annotations

from tools.structure import cycles, import_graph, oversized

PACKAGE = "tools.devhost"


def test_no_import_cycles_among_devhost_modules() -> None:
    graph = import_graph(PACKAGE)
    assert {f"{PACKAGE}.{name}" for name in ("engine", "host", "asgi", "management")} <= set(graph)
    assert cycles(graph) == []


def test_only_the_entry_points_import_the_host() -> None:
    importers = sorted(name for name, targets in import_graph(PACKAGE).items() if f"{PACKAGE}.host" in targets)
    assert importers == [PACKAGE, f"{PACKAGE}.__main__"]


def test_no_devhost_module_is_over_600_lines() -> None:
    assert oversized(PACKAGE) == {}
