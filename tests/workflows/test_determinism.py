"""Orchestrator modules stay deterministic: no clock, random ids, settings, environment or I/O imports.

They may import the contracts with the activities (``functions.provisioning.contracts`` and ``.payloads``: names
and data types only), never the steps behind them.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
ORCHESTRATOR_MODULES = [
    "functions/workflows/create_vm.py",
    "functions/workflows/guest_wait.py",
    "functions/workflows/lifecycle.py",
    "functions/workflows/change_vm.py",
    "functions/workflows/approval_wait.py",
    "functions/workflows/flow.py",
    "functions/workflows/host_operations.py",
    "functions/workflows/inventory.py",
    "functions/workflows/throttle.py",
    "functions/workflows/lease.py",
    "functions/workflows/events.py",
]
FORBIDDEN_MODULES = {
    "os",
    "time",
    "random",
    "uuid",
    "secrets",
    "socket",
    "requests",
    "urllib",
    "aiohttp",
    "winrm",
    "logging",
    "azure.data",
    "azure.identity",
    "functions.settings",
    "functions.storage",
    "functions.hyperv",
    "functions.inventory",
    "functions.jobs",
    "functions.provisioning.steps",
    "functions.sealing",
    "functions.telemetry",
}
FORBIDDEN_ATTRIBUTES = {"now", "utcnow", "today", "uuid4", "environ", "getenv", "get_settings", "sleep"}


def imported_modules(tree: ast.AST) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", ORCHESTRATOR_MODULES)
def test_orchestrator_modules_do_no_io_and_read_no_clock(path: str) -> None:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    for module in imported_modules(tree):
        assert not any(module == bad or module.startswith(bad + ".") for bad in FORBIDDEN_MODULES), (path, module)
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            assert node.attr not in FORBIDDEN_ATTRIBUTES, (path, node.attr, node.lineno)
        if isinstance(node, ast.Name):
            assert node.id not in FORBIDDEN_ATTRIBUTES | {"open", "print"}, (path, node.id, node.lineno)


def test_the_check_catches_a_clock_read(tmp_path: Path) -> None:
    bad = "from datetime import datetime\n\ndef orchestrator(context):\n    return datetime.now()\n"
    tree = ast.parse(bad)
    assert any(isinstance(n, ast.Attribute) and n.attr in FORBIDDEN_ATTRIBUTES for n in ast.walk(tree))
