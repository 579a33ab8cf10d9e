"""Instances in flight survive an upgrade: histories recorded by an earlier build replay on this build unchanged.

``recorded/*.json`` are real task-hub histories (the devhost's store) of every workflow, recorded on the local stack
by ``recorded/record.py`` at the commit each file names. The Durable extension replays an instance's whole history
through the *new* code after a deployment, and fails it as non-deterministic when the actions differ from what the
history recorded (same check as DTFx: kind and name, in order). This test does what the extension does, with the
real SDK, over every recorded history:

- the actions this build's orchestrator emits match the recorded ones, one for one;
- it ends the same way (same output, same custom status, or the same failure);
- every recorded activity input and result still parses with this build's typed payloads and serialises back to
  the same JSON, so activities of the new build accept work scheduled by the old one.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import azure.functions as func
import pytest

from tests.conftest import sample_values

RECORDED = Path(__file__).parent / "recorded"
FILES = sorted(RECORDED.glob("*.json"))

# DTFx event types (durable-functions.md B4) and the SDK's action types.
TASK_SCHEDULED, TASK_COMPLETED, SUB_ORCHESTRATION_CREATED, TIMER_CREATED, EVENT_SENT = 4, 5, 7, 10, 14
CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY, CALL_SUB_ORCHESTRATOR, CREATE_TIMER, WAIT_FOR_EVENT, CALL_ENTITY = (
    0,
    1,
    2,
    5,
    6,
    7,
)


def _orchestrators(monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    for name, value in sample_values().items():
        monkeypatch.setenv(name, value)
    from functions.app import create_app

    app = create_app()
    return {
        f.get_function_name(): f.get_user_function()
        for f in app.get_functions()
        if any(b.type == "orchestrationTrigger" for b in f.get_bindings())
    }


def _flatten(actions: list[Any]) -> Iterator[dict[str, Any]]:
    for action in actions:
        if isinstance(action, list):
            yield from _flatten(action)
        elif "compoundActions" in action:
            yield from _flatten(action["compoundActions"])
        else:
            yield action


def _recorded_actions(history: list[dict[str, Any]]) -> list[tuple[str, str]]:
    kinds = {
        TASK_SCHEDULED: "activity",
        SUB_ORCHESTRATION_CREATED: "orchestration",
        TIMER_CREATED: "timer",
        EVENT_SENT: "entity",
    }
    out = []
    for event in history:
        kind = kinds.get(event["EventType"])
        if kind in ("activity", "orchestration"):
            out.append((kind, str(event["Name"])))
        elif kind == "timer":
            out.append((kind, ""))
        elif kind == "entity":
            out.append((kind, str(json.loads(event["Input"])["op"])))
    return out


def _emitted_actions(actions: list[Any]) -> list[tuple[str, str]]:
    out = []
    for action in _flatten(actions):
        kind = action["actionType"]
        if kind in (CALL_ACTIVITY, CALL_ACTIVITY_WITH_RETRY):  # a retry policy is the orchestrator's, not history's
            out.append(("activity", str(action["functionName"])))
        elif kind == CALL_SUB_ORCHESTRATOR:
            out.append(("orchestration", str(action["functionName"])))
        elif kind == CREATE_TIMER:
            out.append(("timer", ""))
        elif kind == CALL_ENTITY:
            out.append(("entity", str(action["operation"])))
        elif kind != WAIT_FOR_EVENT:
            raise AssertionError(f"unexpected action type {kind}")
    return out


def _replay(handle: Any, document: dict[str, Any]) -> dict[str, Any]:
    context = {
        "history": document["history"],
        "input": json.dumps(document["input"]),
        "instanceId": document["instance_id"],
        "isReplaying": True,
        "parentInstanceId": None,
        "upperSchemaVersion": 1,
        "upperSchemaVersionNew": 2,
    }
    try:
        state: dict[str, Any] = json.loads(handle(func.OrchestrationContext(json.dumps(context))))
    except Exception as exc:
        label = "\n\n$OutOfProcData$:"
        text = str(exc)
        if label not in text:
            raise
        state = json.loads(text.split(label, 1)[1])
        state["error"] = text.split(label, 1)[0]
    return state


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_a_recorded_history_replays_unchanged(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    document = json.loads(path.read_text(encoding="utf-8"))
    handle = _orchestrators(monkeypatch)[document["orchestrator"]]
    state = _replay(handle, document)
    assert _emitted_actions(state.get("actions", [])) == _recorded_actions(document["history"])
    if document["runtime_status"] == "Completed":
        assert state.get("error") is None
        assert state.get("isDone")
        assert state.get("output") == document["output"]
    else:
        assert state.get("error"), "the recorded instance failed; the replay must fail too"
        recorded = str(document["output"])
        assert str(state["error"]).split("\n")[0] in recorded
    assert state.get("customStatus") == document["custom_status"]


def test_every_workflow_has_a_recorded_history() -> None:
    names = {json.loads(p.read_text(encoding="utf-8"))["orchestrator"] for p in FILES}
    assert {"create_vm", "delete_vm", "power_vm", "inventory_sync"} <= names


def _activity_events(document: dict[str, Any]) -> Iterator[tuple[str, str, Any]]:
    """(activity name, "payload" | "result", JSON value) of every activity input and result in the history."""
    names: dict[int, str] = {}
    for event in document["history"]:
        if event["EventType"] == TASK_SCHEDULED:
            names[event["EventId"]] = event["Name"]
            yield event["Name"], "payload", json.loads(event["Input"])
        elif event["EventType"] == TASK_COMPLETED:
            yield names[event["TaskScheduledId"]], "result", json.loads(event["Result"])


@pytest.mark.parametrize("path", FILES, ids=[p.stem for p in FILES])
def test_recorded_payloads_and_results_load_and_keep_their_shape(path: Path) -> None:
    from functions.provisioning.contracts import ACTIVITIES, ORCHESTRATIONS

    document = json.loads(path.read_text(encoding="utf-8"))
    activities = {activity.name: activity for activity in ACTIVITIES}
    seen = 0
    for name, part, value in _activity_events(document):
        codec = getattr(activities[name], part)
        assert codec.dump(codec.load(value)) == value, f"{name} {part} changed shape"
        seen += 1
    assert seen > 0
    orchestration = {o.name: o for o in ORCHESTRATIONS}[document["orchestrator"]]
    loaded = orchestration.input.load(document["input"])
    assert orchestration.input.load(orchestration.input.dump(loaded)) == loaded
