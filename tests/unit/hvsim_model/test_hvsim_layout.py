"""The simulator's rooms: imports among ``tools.hvsim`` modules point one way, and no module grows unreadable.

Every ``import`` statement counts — at module level, inside functions and under ``TYPE_CHECKING`` alike — so a
cycle cannot hide behind a late import. ``from package import name`` counts as importing ``package.name`` when
that is a module, else ``package`` itself (its ``__init__``), which is how a submodule importing from its own
package's ``__init__`` shows up as the cycle it is.
"""

from __future__ import annotations

from tools.structure import cycles, import_graph, modules, oversized

PACKAGE = "tools.hvsim"


def _graph() -> dict[str, set[str]]:
    return import_graph(PACKAGE)


def test_the_import_graph_sees_the_rooms() -> None:
    graph = _graph()
    assert "tools.hvsim.models.vms" in graph["tools.hvsim.models.hosts"]
    assert "tools.hvsim.guest" in graph["tools.hvsim.models.guest_os"]
    assert "tools.hvsim.routes" in graph["tools.hvsim.lab"]
    assert "tools.hvsim.operations.power" in graph["tools.hvsim.operations.registry"]


def test_no_import_cycles_among_hvsim_modules() -> None:
    assert cycles(_graph()) == []


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
    offenders = [name for name, path in modules(PACKAGE).items() if "importlib" in path.read_text(encoding="utf-8")]
    assert offenders == []


def test_no_module_is_over_the_size_limit() -> None:
    assert oversized(PACKAGE) == {}
