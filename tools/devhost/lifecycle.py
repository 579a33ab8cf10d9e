"""An instance's beginnings and endings: create, finish (complete, fail, terminate), continue as new.

Each function adds its rows and in-memory changes to a :class:`~tools.devhost.taskhub.Step`;
the caller commits. A finished sub-orchestration answers its parent here, with
``SubOrchestrationInstanceCompleted`` or ``…Failed``. Instance ids follow the extension's rules
(:func:`validate_instance_id`).

Ending or restarting an execution drops its queued messages (timers, events) but not the
activity work it scheduled: that still runs, as on Azure, and its result is discarded when it
arrives ("Instance termination doesn't currently propagate. Activity functions and
sub-orchestrations run to completion",
https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-instance-management#terminate-instances).
"""

from __future__ import annotations

import json
import uuid
from datetime import datetime
from typing import Any

from . import history as h
from .history import EventType
from .store import InstanceRow
from .taskhub import Runtime, Step, TaskHub, new_state


def validate_instance_id(instance_id: str) -> str | None:
    """The extension's instance-id rules; returns the error message or ``None``."""
    if not instance_id:
        return "Instance ID must not be empty."
    if len(instance_id) > 256:
        return f"Instance ID '{instance_id[:40]}...' exceeds 256 characters."
    if instance_id.startswith("@"):
        return f"Instance ID '{instance_id}' must not start with '@' (reserved for entities)."
    for char in instance_id:
        if char in "/\\#?" or ord(char) < 32 or 127 <= ord(char) < 160:
            return f"Instance ID '{instance_id}' contains the invalid character {char!r}."
    return None


def _parent_instance(parent: dict[str, Any] | None) -> dict[str, Any] | None:
    """``ExecutionStarted.ParentInstance`` for a sub-orchestration."""
    if not parent:
        return None
    return {
        "Name": parent["name"],
        "Version": "",
        "TaskScheduleId": parent["task"],
        "OrchestrationInstance": {"InstanceId": parent["instance"], "ExecutionId": parent["exec"]},
    }


class Lifecycle:
    """Starts, ends and restarts executions of orchestration instances."""

    def __init__(self, hub: TaskHub) -> None:
        """Work on ``hub``."""
        self.hub = hub

    def create(
        self,
        step: Step,
        *,
        name: str,
        instance_id: str,
        input_text: str | None,
        version: str,
        now: datetime,
        parent: dict[str, Any] | None = None,
    ) -> InstanceRow:
        """Create (or overwrite a finished) instance and queue its ``ExecutionStarted``."""
        hub = self.hub
        execution_id = uuid.uuid4().hex
        row = InstanceRow(
            instance_id=instance_id,
            name=name,
            version=version,
            execution_id=execution_id,
            status="Pending",
            input=input_text,
            output=None,
            custom_status=None,
            created=h.iso(now),
            updated=h.iso(now),
            parent=json.dumps(parent) if parent else None,
            state=json.dumps(new_state()),
        )
        batch = step.batch
        batch.reset_history.append(instance_id)
        batch.drop_messages_for.append(instance_id)
        batch.instances.append(row)
        started = h.execution_started(
            now,
            name=name,
            version=version,
            input_text=input_text,
            instance_id=instance_id,
            execution_id=execution_id,
            parent=_parent_instance(parent),
        )

        def install() -> None:
            hub.drop_messages(instance_id)
            hub.cache[instance_id] = Runtime(row, [], new_state())

        step.after.append(install)
        hub.message(step, instance_id, {"type": "start", "exec": execution_id, "event": started})
        return row

    def finish(
        self,
        runtime: Runtime,
        status: str,
        output: Any,
        now: datetime,
        step: Step,
        *,
        error_type: str = "Exception",
    ) -> None:
        """End the execution as Completed, Failed or Terminated and tell a parent orchestration."""
        hub = self.hub
        row = runtime.row
        iid = row.instance_id
        code = {
            "Completed": h.OrchestrationStatus.COMPLETED,
            "Failed": h.OrchestrationStatus.FAILED,
            "Terminated": h.OrchestrationStatus.TERMINATED,
        }[status]
        try:
            output_text = json.dumps(output)
        except (TypeError, ValueError) as exc:
            status, code = "Failed", h.OrchestrationStatus.FAILED
            output_text = json.dumps(f"Orchestrator function '{row.name}' failed: {exc}")
        failure = None
        if status == "Failed":
            failure = {"ErrorType": error_type, "ErrorMessage": str(output), "StackTrace": None}
        completed = h.event(
            EventType.EXECUTION_COMPLETED,
            now,
            OrchestrationStatus=int(code),
            Result=output_text,
            FailureDetails=failure,
        )
        hub.append(step, runtime, [completed])
        row.status = status
        row.output = output_text
        hub.save(step, runtime, now)
        step.batch.drop_messages_for.append(iid)

        def forget() -> None:
            hub.drop_messages(iid)
            hub.cache.pop(iid, None)

        step.after.append(forget)
        if row.parent:
            parent = json.loads(row.parent)
            if status == "Completed":
                reply = h.event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_COMPLETED,
                    now,
                    TaskScheduledId=parent["task"],
                    Result=output_text,
                )
            else:
                reason = output if isinstance(output, str) else output_text
                reply = h.event(
                    EventType.SUB_ORCHESTRATION_INSTANCE_FAILED,
                    now,
                    TaskScheduledId=parent["task"],
                    **h.task_failure_fields(str(reason), f"Sub-orchestration '{iid}' {status.lower()}.", error_type),
                )
            hub.message(step, parent["instance"], {"type": "event", "exec": parent["exec"], "event": reply})

    def continue_as_new(self, runtime: Runtime, input_text: Any, now: datetime, step: Step) -> None:
        """Start a new execution of the same instance with a fresh history."""
        hub = self.hub
        row = runtime.row
        iid = row.instance_id
        row.execution_id = uuid.uuid4().hex
        row.input = input_text
        row.status = "ContinuedAsNew"
        runtime.history = []
        runtime.state = new_state()
        step.batch.reset_history.append(iid)
        step.batch.drop_messages_for.append(iid)
        hub.save(step, runtime, now)
        started = h.execution_started(
            now,
            name=row.name,
            version=row.version,
            input_text=input_text,
            instance_id=iid,
            execution_id=row.execution_id,
            parent=_parent_instance(json.loads(row.parent) if row.parent else None),
        )

        step.after.append(lambda: hub.drop_messages(iid))
        hub.message(step, iid, {"type": "start", "exec": row.execution_id, "event": started})
