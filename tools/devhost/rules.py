"""Which of Azure's rules the devhost enforces: all of them, unless told to relax some.

Strict is the default. An app that breaks a rule Azure enforces should fail here the way it
would fail there, so the tests see it. While an app is being brought in line, a rule can be
relaxed with ``--lenient RULE[,RULE]`` or the app setting ``DEVHOST_LENIENT`` (environment or
``local.settings.json``); a relaxed rule is reported loudly at start-up. Only rules that the
project's own app currently breaks can be relaxed (see the README, "Azure rules it enforces").
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

log = logging.getLogger("devhost")

LENIENT_SETTING = "DEVHOST_LENIENT"
RESERVED_ROUTES = "reserved-routes"
RELAXABLE = {
    RESERVED_ROUTES: "an HTTP route that can match a host-owned path (/runtime/..., /admin/...) is only logged",
}


class RuleError(ValueError):
    """An unknown rule name in ``--lenient`` / ``DEVHOST_LENIENT``."""


@dataclass(frozen=True)
class Strictness:
    """The rules relaxed for this run (none by default)."""

    relaxed: frozenset[str] = frozenset()

    def enforces(self, rule: str) -> bool:
        """Whether ``rule`` is enforced."""
        return rule not in self.relaxed

    def describe(self) -> list[str]:
        """Start-up lines naming every relaxed rule."""
        return [f"LENIENT: {rule}: {RELAXABLE[rule]} (Azure enforces it)" for rule in sorted(self.relaxed)]


def parse_rules(values: Iterable[str]) -> frozenset[str]:
    """Rule names from comma-separated values; ``all`` relaxes every relaxable rule."""
    names: set[str] = set()
    for value in values:
        for item in value.split(","):
            name = item.strip().lower()
            if not name:
                continue
            if name == "all":
                names.update(RELAXABLE)
            elif name in RELAXABLE:
                names.add(name)
            else:
                known = ", ".join(sorted(RELAXABLE))
                raise RuleError(f"unknown rule '{item.strip()}' to relax (known: {known}, or all)")
    return frozenset(names)


def strictness(lenient: Iterable[str] | None, settings: Mapping[str, str]) -> Strictness:
    """The run's strictness from the option and the ``DEVHOST_LENIENT`` setting."""
    relaxed = parse_rules([*(lenient or []), settings.get(LENIENT_SETTING, "")])
    result = Strictness(relaxed)
    for line in result.describe():
        log.warning("%s", line)
    return result
