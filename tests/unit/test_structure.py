"""The app's rooms: no import cycles, no module importing from a layer above its own, no giant modules.

The layers and the measurements are :mod:`tools.structure`'s (``python -m tools.structure`` prints them).
"""

from __future__ import annotations

from tools.structure import FUNCTION_LAYERS, cycles, import_graph, layer_of, layer_violations, oversized


def test_the_cycle_finder_finds_a_cycle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []


def test_the_import_graph_sees_the_rooms() -> None:
    graph = import_graph("functions")
    assert "functions.services.vms" in graph["functions.app"]
    assert "functions.errors" in graph["functions.provisioning.steps"]
    assert "functions.models.jobs" in graph["functions.jobs.records"]


def test_every_module_of_the_app_has_a_layer() -> None:
    assert [name for name in import_graph("functions") if layer_of(name) is None] == ["functions"]


def test_a_layer_violation_is_found() -> None:
    graph = {"functions.jobs.records": {"functions.services.vms"}, "functions.services.vms": set()}
    assert layer_violations(graph, FUNCTION_LAYERS) == [("functions.jobs.records", "functions.services.vms")]


def test_no_import_cycles_in_the_app_or_the_tools() -> None:
    assert cycles(import_graph("functions")) == []
    assert cycles(import_graph("tools")) == []


def test_no_module_imports_from_a_layer_above_its_own() -> None:
    assert layer_violations(import_graph("functions")) == []


def test_provisioning_never_imports_the_workflows() -> None:
    graph = import_graph("functions")
    assert not [
        (m, t) for m, ts in graph.items() if m.startswith("functions.provisioning") for t in ts if ".workflows" in t
    ]


def test_no_module_is_over_600_lines() -> None:
    assert oversized("functions") == {}
    assert oversized("tools") == {}
    assert oversized("cli.src.aetherv_cli") == {}
