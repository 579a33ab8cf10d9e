"""HTTP route templates as the Functions host understands them (ASP.NET Core syntax).

Supports literal segments (matched case-insensitively), ``{name}``, ``{name?}``,
``{name=default}``, inline constraints (``{n:int}``, ``{id:guid}``, ``{x:alpha}``,
``{v:min(1)}``, ``{s:regex(^a+$)}`` …) and a trailing catch-all ``{*rest}``. Routes are tried in
ASP.NET precedence order: literals before constrained parameters before plain parameters
before catch-alls.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")

_PARAM = re.compile(r"\{([^{}]*(?:\([^)]*\)[^{}]*)*)\}")


class RouteError(ValueError):
    """A route template the devhost cannot understand."""


def _int_in(bits: int) -> Callable[[str], bool]:
    low, high = -(2 ** (bits - 1)), 2 ** (bits - 1) - 1

    def check(value: str) -> bool:
        return re.fullmatch(r"-?\d+", value) is not None and low <= int(value) <= high

    return check


def _is_float(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return value.strip().lower() not in {"nan", "inf", "-inf", "infinity", "-infinity"}


def _is_guid(value: str) -> bool:
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return True


def _is_datetime(value: str) -> bool:
    try:
        datetime.fromisoformat(value)
    except ValueError:
        return False
    return True


_SIMPLE: dict[str, Callable[[str], bool]] = {
    "int": _int_in(32),
    "long": _int_in(64),
    "bool": lambda v: v.lower() in {"true", "false"},
    "alpha": lambda v: re.fullmatch(r"[A-Za-z]+", v) is not None,
    "guid": _is_guid,
    "decimal": _is_float,
    "double": _is_float,
    "float": _is_float,
    "datetime": _is_datetime,
}


def _split_constraints(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    current = ""
    for char in text:
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
        if char == ":" and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    parts.append(current)
    return parts


def _constraint(spec: str, template: str) -> Callable[[str], bool]:
    if spec in _SIMPLE:
        return _SIMPLE[spec]
    match = re.fullmatch(r"(\w+)\((.*)\)", spec, flags=re.DOTALL)
    if match is None:
        raise RouteError(f"route '{template}': unsupported constraint '{spec}'")
    name, arg = match.group(1), match.group(2)
    try:
        if name == "regex":
            pattern = re.compile(arg, flags=re.IGNORECASE)
            return lambda v: pattern.search(v) is not None
        numbers = [int(a) for a in arg.split(",")]
    except (ValueError, re.error) as exc:
        raise RouteError(f"route '{template}': bad constraint '{spec}': {exc}") from exc
    checks: dict[str, Callable[[str], bool]] = {
        "min": lambda v: _int_in(64)(v) and int(v) >= numbers[0],
        "max": lambda v: _int_in(64)(v) and int(v) <= numbers[0],
        "range": lambda v: _int_in(64)(v) and numbers[0] <= int(v) <= numbers[-1],
        "length": lambda v: len(v) == numbers[0] if len(numbers) == 1 else numbers[0] <= len(v) <= numbers[1],
        "minlength": lambda v: len(v) >= numbers[0],
        "maxlength": lambda v: len(v) <= numbers[0],
    }
    if name not in checks:
        raise RouteError(f"route '{template}': unsupported constraint '{spec}'")
    return checks[name]


@dataclass
class _Param:
    name: str
    group: str
    checks: list[Callable[[str], bool]]
    optional: bool
    default: str | None
    catch_all: bool


@dataclass
class RouteTemplate:
    """A compiled route template."""

    template: str
    regex: re.Pattern[str]
    params: list[_Param]
    precedence: tuple[int, ...]

    def match(self, path: str) -> dict[str, str] | None:
        """Match a path (without the route prefix and leading slash); return route values."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        values: dict[str, str] = {}
        for param in self.params:
            value = found.group(param.group)
            if value is None or value == "":
                if param.default is not None:
                    values[param.name] = param.default
                elif param.catch_all or param.optional:
                    continue
                else:
                    return None
                continue
            if not all(check(value) for check in param.checks):
                return None
            values[param.name] = value
        return values


def compile_route(template: str) -> RouteTemplate:
    """Compile a route template (leading/trailing slashes are ignored)."""
    text = template.strip().strip("/")
    segments = text.split("/") if text else []
    pattern = ""
    params: list[_Param] = []
    precedence: list[int] = []
    for index, segment in enumerate(segments):
        sep = "/" if index else ""
        pieces = _PARAM.split(segment)
        literal_parts, param_specs = pieces[0::2], pieces[1::2]
        if not param_specs:
            if "{" in segment or "}" in segment:
                raise RouteError(f"route '{template}': malformed segment '{segment}'")
            pattern += sep + re.escape(segment)
            precedence.append(1)
            continue
        inner = ""
        rank = 2 if len(pieces) > 3 or any(literal_parts) else 4
        optional_segment = False
        for position, spec in enumerate(param_specs):
            inner += re.escape(literal_parts[position])
            catch_all = spec.startswith("*")
            name_part, _, default = spec.lstrip("*").partition("=")
            name, *constraint_specs = _split_constraints(name_part)
            optional = name.endswith("?")
            name = name.rstrip("?")
            if not re.fullmatch(r"\w+", name):
                raise RouteError(f"route '{template}': bad parameter name '{name}'")
            if catch_all and index != len(segments) - 1:
                raise RouteError(f"route '{template}': a catch-all must be the last segment")
            checks = [_constraint(c, template) for c in constraint_specs]
            group = f"p{len(params)}"
            params.append(_Param(name, group, checks, optional, default or None, catch_all))
            inner += f"(?P<{group}>.*)" if catch_all else f"(?P<{group}>[^/]+)"
            if rank == 4:
                rank = 5 if catch_all else (3 if checks else 4)
            optional_segment = (
                len(param_specs) == 1 and not any(literal_parts) and (optional or catch_all or bool(default))
            )
        inner += re.escape(literal_parts[-1])
        if optional_segment:
            inner = inner.replace(">[^/]+)", ">[^/]*)")
            pattern += f"(?:{sep}{inner})?"
        else:
            pattern += sep + inner
        precedence.append(rank)
    return RouteTemplate(template, re.compile(pattern, flags=re.IGNORECASE | re.DOTALL), params, tuple(precedence))


@dataclass
class Route(Generic[T]):
    """A compiled route bound to a target, with its allowed methods (``None`` = any)."""

    template: RouteTemplate
    methods: frozenset[str] | None
    target: T


@dataclass
class Router(Generic[T]):
    """Routes tried in precedence order."""

    routes: list[Route[T]] = field(default_factory=list)

    def add(self, template: str, methods: Sequence[str] | None, target: T) -> None:
        """Add a route."""
        allowed = frozenset(m.upper() for m in methods) if methods else None
        self.routes.append(Route(compile_route(template), allowed, target))
        self.routes.sort(key=lambda r: (r.template.precedence, r.template.template.lower()))

    def resolve(self, method: str, path: str) -> tuple[T, dict[str, str]] | None:
        """Find the target for a method and path; ``None`` if no route accepts both.

        Like the Functions host, a path that matches only with another method is "not found".
        """
        clean = path.strip("/")
        for route in self.routes:
            if route.methods is not None and method.upper() not in route.methods:
                continue
            values = route.template.match(clean)
            if values is not None:
                return route.target, values
        return None
