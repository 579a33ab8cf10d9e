"""Switches and NICs: ``list_switches`` (adapters are configured by ``create_vm``, reported by the inventory)."""

from __future__ import annotations

from typing import Any

from tools.hvsim.models import FakeHost

__all__ = ["list_switches", "switch_records"]


def switch_records(host: FakeHost) -> list[dict[str, Any]]:
    """The switches as ``list_switches`` and ``collect_inventory`` report them."""
    return [
        {"name": switch.name, "id": switch.id.lower(), "type": switch.type, "notes": switch.notes}
        for switch in host.switches
    ]


def list_switches(host: FakeHost, params: dict[str, Any]) -> Any:
    """``list_switches.ps1``."""
    return {"switches": switch_records(host)}
