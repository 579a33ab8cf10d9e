"""History and replay: the orchestration context, the orchestrator's answer, and non-determinism.

An episode hands the orchestrator handle the extension's context JSON (the whole history with
``IsPlayed`` on past events, schema V3, the Azure Storage long-timer settings;
``durable-functions.md`` B3) and reads back its ``OrchestratorState`` (B7) or the
``$OutOfProcData$`` failure (B14). The cumulative action list is flattened depth-first (B10) and
what was recorded before is compared with the replay by kind and target name, like DTFx; a
mismatch is the ``Non-Deterministic workflow detected`` failure.

Custom status is limited to 16 KB, measured as the extension measures it: the compact JSON text
(Json.NET ``JToken.ToString(Formatting.None)``), its UTF-16 byte count, divided by 1024 and
truncated to an integer, must not exceed 16 (``MessagePayloadDataConverter.Serialize(value,
maxSizeInKB)`` called from ``DurableOrchestrationContext.SetCustomStatus``, Azure/azure-functions-
durable-extension ``src/WebJobs.Extensions.DurableTask/MessagePayloadDataConverter.cs`` and
``ContextImplementations/DurableOrchestrationContext.cs``;
https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-custom-orchestration-status).
``OutOfProcOrchestrationShim.ScheduleDurableTaskEvents`` sets the custom status *before* it
replays the episode's actions, so an oversized status fails the orchestration with the
``ArgumentException`` and none of that episode's actions are carried out
(``TaskOrchestrationShim.InvokeUserCodeAndHandleResults`` wraps it as
``Orchestrator function '<name>' failed: <message>``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from typing import Any

import azure.functions as func

from .discovery import AppSpec
from .history import Event
from .invoke import Invoker
from .taskhub import Runtime
from .timeouts import FunctionTimeout

OOP_LABEL = "\n\n$OutOfProcData$:"
MAX_CUSTOM_STATUS_KB = 16
ARGUMENT_EXCEPTION = "System.ArgumentException"
LONG_TIMER_INTERVAL = "3.00:00:00"
MAX_SHORT_TIMER = "6.00:00:00"

_ACTION_KIND = {
    0: "activity",
    1: "activity",
    2: "sub-orchestration",
    3: "sub-orchestration",
    4: "continue-as-new",
    5: "timer",
    6: "external event wait",
    7: "entity call",
    8: "HTTP call",
    9: "entity signal",
}


def flatten(actions: Any) -> Iterator[dict[str, Any]]:
    """Depth-first flattening of the (possibly nested compound) action list."""
    for item in actions or []:
        if isinstance(item, list):
            yield from flatten(item)
        elif isinstance(item, dict):
            if item.get("actionType") in (11, 12):
                yield from flatten(item.get("compoundActions"))
            else:
                yield item


def signature(action: dict[str, Any]) -> str:
    """What DTFx compares on replay: the kind of action and its target name."""
    kind = int(action.get("actionType", -1))
    target = {
        0: action.get("functionName"),
        1: action.get("functionName"),
        2: action.get("functionName"),
        3: action.get("functionName"),
        6: action.get("externalEventName"),
        7: f"{action.get('instanceId')}:{action.get('operation')}",
        9: f"{action.get('instanceId')}:{action.get('operation')}",
    }.get(kind)
    label = _ACTION_KIND.get(kind, f"action {kind}")
    return f"{label} '{target}'" if target is not None else label


def check_determinism(recorded: list[str], actions: list[dict[str, Any]]) -> str | None:
    """Compare the recorded action signatures with the replay's; the failure message or ``None``."""
    for position, previous in enumerate(recorded):
        current = signature(actions[position]) if position < len(actions) else None
        if current != previous:
            now_text = f"scheduled {current}" if current else "did not schedule anything"
            return (
                "Non-Deterministic workflow detected: a previous execution of this orchestration "
                f"scheduled {previous} at position {position}, but the current replay execution "
                f"{now_text} there. Was a change made to the orchestrator code after this instance "
                "had already started running?"
            )
    return None


def custom_status_error(value: Any) -> str | None:
    """The extension's ``ArgumentException`` message when a custom status is over 16 KB, else ``None``."""
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    size_kb = int(len(text.encode("utf-16-le")) / 1024.0)
    if size_kb <= MAX_CUSTOM_STATUS_KB:
        return None
    return (
        f"The UTF-16 size of the JSON-serialized payload must not exceed {MAX_CUSTOM_STATUS_KB:,} KB. "
        f"The current payload size is {size_kb:,} KB."
    )


def context_json(runtime: Runtime, new_events: list[Event]) -> str:
    """The orchestration trigger's input: played history plus the episode's new events."""
    row = runtime.row
    parent = json.loads(row.parent)["instance"] if row.parent else None
    history = ",".join([*runtime.history, *(json.dumps(e) for e in new_events)])
    fields = {
        "input": row.input,
        "instanceId": row.instance_id,
        "isReplaying": bool(runtime.history),
        "parentInstanceId": parent,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
        "longRunningTimerIntervalDuration": LONG_TIMER_INTERVAL,
        "maximumShortTimerDuration": MAX_SHORT_TIMER,
        "defaultHttpAsyncRequestSleepTimeMillseconds": 30000,
    }
    return '{"history":[' + history + "]," + json.dumps(fields)[1:]


def parse_failure(exc: Exception) -> tuple[dict[str, Any], str]:
    """The state and error carried by an orchestrator's exception (``$OutOfProcData$``, B14)."""
    text = str(exc)
    head, label, tail = text.partition(OOP_LABEL)
    state: dict[str, Any] = {}
    if label:
        try:
            state = json.loads(tail)
        except ValueError:
            state = {}
        return state, str(state.get("error") or head or f"{type(exc).__name__}: {exc}")
    return state, f"{type(exc).__name__}: {exc}"


class Replayer:
    """Runs orchestrator episodes on the worker: context in, ``OrchestratorState`` (or an error) out."""

    def __init__(self, spec: AppSpec, invoker: Invoker) -> None:
        """Replay the orchestrators of ``spec`` through ``invoker``."""
        self.spec = spec
        self.invoker = invoker
        self.episodes = 0

    async def invoke(self, runtime: Runtime, new_events: list[Event]) -> tuple[dict[str, Any], str | None]:
        """Call the orchestrator; returns its state and the error that fails the instance, if any.

        A :class:`~tools.devhost.timeouts.FunctionTimeout` is raised, not returned: the extension
        aborts a timed-out episode and retries it rather than failing the instance.
        """
        info = self.spec.orchestrators.get(runtime.row.name)
        if info is None:
            known = ", ".join(sorted(self.spec.orchestrators)) or "none"
            return {}, (
                f"The function '{runtime.row.name}' doesn't exist, is disabled, or is not an orchestrator "
                f"function. Known orchestrator functions: {known}."
            )
        context = func.OrchestrationContext(context_json(runtime, new_events))
        self.episodes += 1
        try:
            output = await self.invoker.run(
                info, functools.partial(info.handler, context), instance_id=runtime.row.instance_id, quiet=True
            )
            state = json.loads(output)
        except FunctionTimeout:
            raise
        except Exception as exc:
            return parse_failure(exc)
        return state, None
