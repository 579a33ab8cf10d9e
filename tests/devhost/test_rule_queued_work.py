"""Rule: activity work still queued when its instance ends still runs; its result is discarded.

Sources: https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-instance-management#terminate-instances
("Instance termination doesn't currently propagate. Activity functions and sub-orchestrations run
to completion, regardless of whether you've terminated the orchestration instance that called
them.") and Azure/durabletask ``src/DurableTask.AzureStorage/AzureStorageOrchestrationService.cs``
(``IsExecutableInstance``: messages for an instance that is no longer Running/Pending are
discarded, "Instance is Completed"); a result for an earlier execution (continue-as-new) is
discarded the same way.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.devhost import DevHost

from .conftest import APPS, history, request, start_orchestration, wait_for, wait_until

TASK_COMPLETED = 5


@pytest.fixture(scope="module")
def queued_host() -> Iterator[DevHost]:
    host = DevHost(APPS / "queued", memory=True, port=0, settings={})
    try:
        with host:
            yield host
    finally:
        for gate in list(host.module.GATES.values()):
            gate.set()


def settled(host: DevHost) -> bool:
    """No work item left and nothing queued for any instance."""
    return not host.store.work() and not any(host.engine.inbox.values())


def test_an_activity_still_running_when_the_orchestration_completes_runs_on(queued_host: DevHost) -> None:
    app = queued_host.module
    status = wait_for(start_orchestration(queued_host.base_url, "race", "race-1"))
    assert (status["runtimeStatus"], status["output"]) == ("Completed", "timer")
    assert app.STARTED.count("race-1") == 1
    before = history(queued_host, status["instanceId"])

    app.GATES["race-1"].set()
    wait_until(lambda: "race-1" in app.FINISHED and settled(queued_host), what="the activity to finish")
    assert history(queued_host, status["instanceId"]) == before  # its TaskCompleted was discarded
    assert not any(e["EventType"] == TASK_COMPLETED for e in before)


def test_terminate_does_not_stop_running_or_queued_activities(queued_host: DevHost) -> None:
    """With maxConcurrentActivityFunctions 1, 'fan-b' is still queued behind 'fan-a' when it is terminated."""
    app = queued_host.module
    status_url = start_orchestration(queued_host.base_url, "fan", ["fan-a", "fan-b"])
    wait_until(lambda: "fan-a" in app.STARTED, what="the first activity to start")
    instance_id = status_url.split("/instances/")[1].split("?")[0]
    assert request("POST", f"{queued_host.base_url}/durabletask/instances/{instance_id}/terminate").status == 202
    assert wait_for(status_url)["runtimeStatus"] == "Terminated"
    before = history(queued_host, instance_id)

    app.GATES["fan-a"].set()
    app.GATES["fan-b"].set()
    wait_until(lambda: {"fan-a", "fan-b"} <= set(app.FINISHED) and settled(queued_host), what="both activities")
    assert app.FINISHED.index("fan-a") < app.FINISHED.index("fan-b")
    assert history(queued_host, instance_id) == before


def test_a_result_for_the_execution_before_continue_as_new_is_discarded(queued_host: DevHost) -> None:
    app = queued_host.module
    status = wait_for(start_orchestration(queued_host.base_url, "again", {"round": 0, "gate": "again-1"}))
    assert (status["runtimeStatus"], status["output"]) == ("Completed", "second execution")
    before = history(queued_host, status["instanceId"])

    app.GATES["again-1"].set()
    wait_until(lambda: "again-1" in app.FINISHED and settled(queued_host), what="the old execution's activity")
    assert history(queued_host, status["instanceId"]) == before
    assert not any(e["EventType"] == TASK_COMPLETED for e in before)
