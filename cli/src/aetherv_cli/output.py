"""How results are printed: ``-o table`` (rich tables, the default), ``-o json`` or ``-o yaml``, and errors.

JSON and YAML print the API's documents as they came, so they round-trip; an error prints each field problem on
its own line.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import yaml
from rich.console import Console
from rich.table import Table

__all__ = ["COLUMNS", "FORMATS", "Printer", "consoles"]

FORMATS = ("table", "json", "yaml")

Column = tuple[str, str]
"""(heading, dotted path into the document)."""

COLUMNS: dict[str, Sequence[Column]] = {
    "vm": (
        ("ID", "id"),
        ("NAME", "name"),
        ("HOST", "host"),
        ("STATE", "state"),
        ("CPU", "cpu_cores"),
        ("MEMORY GB", "memory_gb"),
        ("IP", "ip_addresses"),
        ("STALE", "stale"),
    ),
    "job": (
        ("ID", "id"),
        ("KIND", "kind"),
        ("STATUS", "status"),
        ("STEP", "current_step"),
        ("VM", "name"),
        ("HOST", "host"),
        ("CREATED", "created"),
    ),
    "host": (
        ("NAME", "name"),
        ("CONNECTED", "connected"),
        ("CLUSTER", "cluster"),
        ("VMS", "vm_count"),
        ("FREE MEMORY GB", "free_memory_gb"),
        ("LAST SEEN", "last_seen"),
        ("ERROR", "error"),
    ),
    "pool": (
        ("NAME", "name"),
        ("NETWORK", "network"),
        ("VLAN", "vlan_id"),
        ("TOTAL", "usage.total"),
        ("ALLOCATED", "usage.allocated"),
        ("FREE", "usage.free"),
    ),
    "checkpoint": (("ID", "id"), ("NAME", "name"), ("CREATED", "created"), ("PARENT", "parent")),
}


def consoles() -> tuple[Console, Console]:
    """Consoles for stdout and stderr; stdout that is not a terminal gets 240 columns, so tables keep their rows."""
    out = Console(highlight=False)
    if not out.is_terminal:
        out = Console(highlight=False, width=240)
    return out, Console(stderr=True, highlight=False, soft_wrap=True)


def pick(document: Any, path: str) -> Any:
    """The value at a dotted ``path`` of ``document`` (``None`` where it is missing)."""
    value = document
    for part in path.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def flattened(document: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """The fields of a document with nested objects spelled out as dotted keys (``request.guest.ipv4``)."""
    rows: list[tuple[str, Any]] = []
    for key, value in document.items():
        if isinstance(value, dict) and value:
            rows.extend(flattened(value, f"{prefix}{key}."))
        else:
            rows.append((f"{prefix}{key}", value))
    return rows


def cell(value: Any) -> str:
    """A value as a table cell: lists joined, nested documents as compact JSON, nothing for null."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(cell(item) for item in value)
    if isinstance(value, dict):
        return json.dumps(value, separators=(",", ":"), default=str)
    return str(value)


@dataclass
class Printer:
    """Prints documents in the chosen format to ``out``, and messages and errors to ``err``."""

    format: str
    out: Console
    err: Console

    def document(self, document: Any, kind: str | None = None) -> None:
        """One document: a field/value table, or the document itself as JSON or YAML."""
        if self.format != "table":
            self.raw(document)
            return
        if not isinstance(document, dict):
            self.out.print(cell(document), markup=False, highlight=False)
            return
        table = Table(show_header=False, box=None, pad_edge=False)
        table.add_column(style="bold")
        table.add_column(overflow="fold")
        for key, value in flattened(document):
            table.add_row(key, cell(value))
        self._emit(table)

    def items(self, page: Any, kind: str) -> None:
        """A list answer (``{"items": [...], "continuation": ...}``): a table of the kind's columns, or the raw page."""
        if self.format != "table":
            self.raw(page)
            return
        rows = page.get("items", []) if isinstance(page, dict) else page
        table = Table(box=None, pad_edge=False, header_style="bold")
        columns = COLUMNS[kind]
        for heading, path in columns:
            table.add_column(heading, overflow="fold", no_wrap=path == "id")
        for row in rows:
            table.add_row(*(cell(pick(row, path)) for _, path in columns))
        self._emit(table)
        continuation = page.get("continuation") if isinstance(page, dict) else None
        if continuation:
            self.err.print(f"more: --continuation {continuation}", markup=False, highlight=False)

    def inventory(self, summary: Any) -> None:
        """The inventory summary: its totals, then a table of its hosts (``-o json|yaml``: the document)."""
        if self.format != "table" or not isinstance(summary, dict):
            self.raw(summary)
            return
        self.document({k: v for k, v in summary.items() if not isinstance(v, list | dict)})
        self.out.file.write("\n")
        self.items({"items": summary.get("hosts") or []}, "host")

    def _emit(self, renderable: Any) -> None:
        """Print a rich renderable to ``out`` without the padding rich leaves at the ends of lines."""
        with self.out.capture() as captured:
            self.out.print(renderable)
        lines = [line.rstrip() for line in captured.get().splitlines()]
        self.out.file.write("".join(line + "\n" for line in lines))
        self.out.file.flush()

    def raw(self, document: Any) -> None:
        """The document as JSON (indented) or YAML (block style, keys in the API's order)."""
        if self.format == "yaml":
            text = yaml.safe_dump(document, sort_keys=False, allow_unicode=True, default_flow_style=False)
        else:
            text = json.dumps(document, indent=2, ensure_ascii=False)
        self.out.file.write(text.rstrip("\n") + "\n")
        self.out.file.flush()

    def message(self, text: str) -> None:
        """A line for people (to stderr, so ``-o json`` stays parseable)."""
        self.err.print(text, markup=False, highlight=False)

    def error(self, message: str, lines: Sequence[str] = ()) -> None:
        """An error and its field problems, one per line."""
        self.err.print(f"Error: {message}", markup=False, highlight=False, style="red")
        for line in lines:
            self.err.print(line, markup=False, highlight=False)
