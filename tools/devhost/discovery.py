"""Discovery: load app settings and host.json, import ``function_app.py`` and index its functions.

Functions are read from the v2 programming model (``FunctionRegister.get_functions()`` and
each function's raw binding JSON), as the Python worker's indexer does. Settings come from the
environment and from ``local.settings.json`` ``Values`` (the environment wins, as with Core
Tools); ``%NAME%`` references in host.json and in timer schedules are resolved from them.

An app whose import raises gets no functions at all on Azure, and says so nowhere but in a
host log line ("0 functions found"): every route answers 404 and no orchestration, activity or
timer runs (Azure/azure-functions-python-worker#1262, #1338; Azure/azure-functions-host#10342).
The devhost refuses to start instead, with the exception, the traceback of the app's frames and
that explanation.
"""

from __future__ import annotations

import importlib.util
import inspect
import json
import os
import re
import sys
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from types import ModuleType
from typing import Any

import azure.functions as func

from .routing import RouteError, Router
from .timeouts import DEFAULT_FUNCTION_TIMEOUT, TimeoutConfigError, format_timespan, parse_timespan
from .timers import Schedule, ScheduleError, parse_schedule

SUPPORTED_BINDINGS = {
    "httpTrigger",
    "http",
    "timerTrigger",
    "orchestrationTrigger",
    "activityTrigger",
    "entityTrigger",
    "durableClient",
}
_SETTING_REF = re.compile(r"%([^%]+)%")
_HUB_NAME = re.compile(r"[A-Za-z][A-Za-z0-9]{2,44}")
FUNCTION_TIMEOUT_OVERRIDE = "AzureFunctionsJobHost__functionTimeout"
"""The app setting that overrides host.json ``functionTimeout`` (see :func:`_timeout_override`)."""
ZERO_FUNCTIONS = (
    "On Azure this app would start with ZERO functions: the Python worker cannot index an app whose "
    "import raises, the host only logs '0 functions found', every route answers 404 and no "
    "orchestration, activity or timer runs. Make the import succeed (report bad settings when "
    "functions run, e.g. from a readiness route, instead of raising at import)."
)


class DiscoveryError(Exception):
    """The app cannot be hosted (bad host.json, unsupported binding, import error …)."""


@dataclass
class HostConfig:
    """The host.json values the devhost uses."""

    route_prefix: str
    hub_name: str
    max_activities: int
    raw: dict[str, Any]
    max_orchestrators: int = 10
    function_timeout: timedelta | None = DEFAULT_FUNCTION_TIMEOUT


@dataclass
class FunctionInfo:
    """One indexed function."""

    name: str
    kind: str
    handler: Callable[..., Any]
    trigger: dict[str, Any]
    client_bindings: list[str]
    parameters: frozenset[str]
    is_async: bool

    @property
    def wants_context(self) -> bool:
        """Whether the function declares a ``context`` parameter that is not a binding."""
        return "context" in self.parameters and self.trigger.get("name") != "context"


@dataclass
class AppSpec:
    """Everything the devhost knows about the app."""

    app_dir: Path
    module: ModuleType
    config: HostConfig
    settings: dict[str, str]
    functions: list[FunctionInfo] = field(default_factory=list)
    router: Router[FunctionInfo] = field(default_factory=Router)
    timers: list[tuple[FunctionInfo, Schedule]] = field(default_factory=list)
    orchestrators: dict[str, FunctionInfo] = field(default_factory=dict)
    activities: dict[str, FunctionInfo] = field(default_factory=dict)
    entities: dict[str, FunctionInfo] = field(default_factory=dict)


def load_settings(app_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """App settings: ``local.settings.json`` ``Values`` overlaid by the environment."""
    env = os.environ if environ is None else environ
    values: dict[str, str] = {}
    local = app_dir / "local.settings.json"
    if local.is_file():
        try:
            data = json.loads(local.read_text(encoding="utf-8-sig"))
        except ValueError as exc:
            raise DiscoveryError(f"{local}: not valid JSON: {exc}") from exc
        for key, value in (data.get("Values") or {}).items():
            values[str(key)] = "" if value is None else str(value)
    values.update(env)
    return values


def apply_settings(settings: Mapping[str, str]) -> None:
    """Export settings missing from the environment, as the host does for its worker."""
    for key, value in settings.items():
        os.environ.setdefault(key, value)


def resolve(value: str, settings: Mapping[str, str], where: str) -> str:
    """Replace ``%NAME%`` references with app settings."""

    def lookup(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in settings:
            raise DiscoveryError(f"{where}: app setting '{name}' (referenced as %{name}%) is not set")
        return settings[name]

    return _SETTING_REF.sub(lookup, value)


def _resolve_tree(node: Any, settings: Mapping[str, str], where: str) -> Any:
    if isinstance(node, str):
        return resolve(node, settings, where)
    if isinstance(node, list):
        return [_resolve_tree(item, settings, where) for item in node]
    if isinstance(node, dict):
        return {key: _resolve_tree(item, settings, f"{where}.{key}") for key, item in node.items()}
    return node


def load_host_config(app_dir: Path, settings: Mapping[str, str]) -> HostConfig:
    """Read host.json (``%NAME%`` values resolved)."""
    path = app_dir / "host.json"
    if not path.is_file():
        raise DiscoveryError(f"{app_dir}: no host.json")
    try:
        raw = json.loads(path.read_text(encoding="utf-8-sig"))
    except ValueError as exc:
        raise DiscoveryError(f"{path}: not valid JSON: {exc}") from exc
    data: dict[str, Any] = _resolve_tree(raw, settings, "host.json")
    extensions = data.get("extensions") or {}
    prefix = (extensions.get("http") or {}).get("routePrefix", "api")
    durable = extensions.get("durableTask") or {}
    hub = str(durable.get("hubName") or "TestHubName")
    if not _HUB_NAME.fullmatch(hub):
        raise DiscoveryError(
            f"host.json: task hub name '{hub}' is invalid (3-45 letters or digits, starting with a letter)"
        )
    # Defaults off the Consumption plan: 10 x cores (extension Options/DurableTaskOptions.cs).
    default_limit = 10 * (os.cpu_count() or 1)
    max_activities = int(durable.get("maxConcurrentActivityFunctions") or default_limit)
    max_orchestrators = int(durable.get("maxConcurrentOrchestratorFunctions") or default_limit)
    timeout: timedelta | None = DEFAULT_FUNCTION_TIMEOUT
    if data.get("functionTimeout") is not None:
        try:
            timeout = parse_timespan(str(data["functionTimeout"]))
        except TimeoutConfigError as exc:
            raise DiscoveryError(f"host.json: {exc}") from exc
    timeout = _timeout_override(timeout, settings)
    return HostConfig(str(prefix).strip("/"), hub, max(1, max_activities), data, max(1, max_orchestrators), timeout)


def _timeout_override(configured: timedelta | None, settings: Mapping[str, str]) -> timedelta | None:
    """host.json ``functionTimeout`` as overridden by the app setting ``AzureFunctionsJobHost__functionTimeout``.

    The Functions host reads an app setting named ``AzureFunctionsJobHost__<path>`` (``__`` separating levels) as
    an override of the host.json value at that path, in Azure and under Core Tools alike
    (https://learn.microsoft.com/azure/azure-functions/functions-host-json#override-hostjson-values). The devhost
    honours the override only to make the limit stricter (tests run long host work against a short timeout): a
    longer one, or ``-1`` under a finite host.json value, would let the app pass here with what the deployed
    host.json forbids, so the devhost refuses to start instead.
    """
    text = settings.get(FUNCTION_TIMEOUT_OVERRIDE)
    if text is None or not text.strip():
        return configured
    try:
        override = parse_timespan(text)
    except TimeoutConfigError as exc:
        raise DiscoveryError(f"app setting {FUNCTION_TIMEOUT_OVERRIDE}: {exc}") from exc
    if configured is not None and (override is None or override > configured):
        raise DiscoveryError(
            f"app setting {FUNCTION_TIMEOUT_OVERRIDE} '{text}' is more lenient than host.json's functionTimeout "
            f"({format_timespan(configured)}); the devhost only accepts an override that shortens it"
        )
    return override


def _app_traceback(exc: BaseException, app_dir: Path) -> str:
    """The traceback lines of the app's own frames (the import machinery is left out)."""
    frames = [
        f
        for f in traceback.extract_tb(exc.__traceback__)
        if f.filename.startswith(str(app_dir))
        and "site-packages" not in f.filename
        and not f.filename.startswith(str(Path(__file__).parent))
    ]
    return "".join(traceback.format_list(frames)).rstrip()


def import_app(app_dir: Path) -> ModuleType:
    """Import ``function_app.py`` from the app directory as module ``function_app``."""
    path = app_dir / "function_app.py"
    if not path.is_file():
        raise DiscoveryError(f"{app_dir}: no function_app.py")
    if str(app_dir) not in sys.path:
        sys.path.insert(0, str(app_dir))
    spec = importlib.util.spec_from_file_location("function_app", path)
    if spec is None or spec.loader is None:
        raise DiscoveryError(f"{path}: cannot be imported")
    module = importlib.util.module_from_spec(spec)
    sys.modules["function_app"] = module
    try:
        spec.loader.exec_module(module)
    except Exception as exc:
        trace = _app_traceback(exc, app_dir)
        raise DiscoveryError(f"{path}: import failed: {type(exc).__name__}: {exc}\n{trace}\n{ZERO_FUNCTIONS}") from exc
    return module


def _find_register(module: ModuleType) -> func.FunctionRegister:
    found = [value for value in vars(module).values() if isinstance(value, func.FunctionRegister)]
    if len(found) != 1:
        raise DiscoveryError(
            f"function_app.py must define exactly one FunctionApp/DFApp at module level (found {len(found)})"
        )
    return found[0]


def _index(function: Any, settings: Mapping[str, str]) -> tuple[FunctionInfo, Schedule | None]:
    name = str(function.get_function_name())
    bindings = [json.loads(raw) for raw in function.get_raw_bindings()]
    for binding in bindings:
        if binding.get("type") not in SUPPORTED_BINDINGS:
            raise DiscoveryError(
                f"function '{name}': binding type '{binding.get('type')}' "
                f"(parameter '{binding.get('name')}') is not supported by the devhost"
            )
    triggers = [b for b in bindings if str(b.get("type", "")).endswith("Trigger")]
    if len(triggers) != 1:
        raise DiscoveryError(f"function '{name}': expected exactly one trigger, found {len(triggers)}")
    trigger = triggers[0]
    handler = function.get_user_function()
    try:
        parameters = frozenset(inspect.signature(handler).parameters)
    except (TypeError, ValueError):
        parameters = frozenset()
    kind = {
        "httpTrigger": "http",
        "timerTrigger": "timer",
        "orchestrationTrigger": "orchestrator",
        "activityTrigger": "activity",
        "entityTrigger": "entity",
    }[trigger["type"]]
    info = FunctionInfo(
        name=name,
        kind=kind,
        handler=handler,
        trigger=trigger,
        client_bindings=[str(b["name"]) for b in bindings if b.get("type") == "durableClient"],
        parameters=parameters,
        is_async=inspect.iscoroutinefunction(handler),
    )
    schedule = None
    if kind == "timer":
        expression = resolve(str(trigger.get("schedule", "")), settings, f"function '{name}' schedule")
        try:
            schedule = parse_schedule(expression)
        except ScheduleError as exc:
            raise DiscoveryError(f"function '{name}': {exc}") from exc
    return info, schedule


def discover(app_dir: Path, settings: dict[str, str] | None = None) -> AppSpec:
    """Load settings and host.json, import the app and index its functions."""
    app_dir = app_dir.resolve()
    settings = load_settings(app_dir) if settings is None else settings
    apply_settings(settings)
    config = load_host_config(app_dir, settings)
    module = import_app(app_dir)
    register = _find_register(module)
    try:
        functions = register.get_functions()
    except Exception as exc:
        raise DiscoveryError(f"indexing failed: {type(exc).__name__}: {exc}\n{ZERO_FUNCTIONS}") from exc
    spec = AppSpec(app_dir, module, config, settings)
    for function in functions:
        info, schedule = _index(function, settings)
        spec.functions.append(info)
        trigger = info.trigger
        if info.kind == "http":
            route = str(trigger.get("route") or info.name)
            template = f"{config.route_prefix}/{route}" if config.route_prefix else route
            try:
                spec.router.add(template, trigger.get("methods"), info)
            except RouteError as exc:
                raise DiscoveryError(f"function '{info.name}': {exc}") from exc
        elif info.kind == "timer" and schedule is not None:
            spec.timers.append((info, schedule))
        elif info.kind == "orchestrator":
            spec.orchestrators[str(trigger.get("orchestration") or info.name)] = info
        elif info.kind == "activity":
            spec.activities[str(trigger.get("activity") or info.name)] = info
        elif info.kind == "entity":
            spec.entities[str(trigger.get("entityName") or info.name).lower()] = info
    return spec
