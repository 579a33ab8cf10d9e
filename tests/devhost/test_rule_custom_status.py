"""Rule: a custom status over 16 KB (UTF-16 of its JSON, truncated to whole KB) fails the orchestration.

Sources: Azure/azure-functions-durable-extension
``src/WebJobs.Extensions.DurableTask/ContextImplementations/DurableOrchestrationContext.cs``
(``SetCustomStatus``: ``MaxCustomStatusPayloadSizeInKB = 16``),
``src/WebJobs.Extensions.DurableTask/MessagePayloadDataConverter.cs`` (``(int)(Encoding.Unicode.
GetByteCount(json) / 1024.0) > maxSizeInKB`` → ``ArgumentException("The UTF-16 size of the
JSON-serialized payload must not exceed 16 KB. The current payload size is N KB.")``),
``Listener/OutOfProcOrchestrationShim.cs`` (the status is set before the actions are replayed) and
``Listener/TaskOrchestrationShim.cs`` (``Orchestrator function '<name>' failed: <message>``);
https://learn.microsoft.com/azure/azure-functions/durable/durable-functions-custom-orchestration-status.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tools.devhost import DevHost
from tools.devhost.replay import custom_status_error

from .conftest import APPS, history, start_orchestration, wait_for

TOO_BIG = (
    "Orchestrator function 'sized_status' failed: The UTF-16 size of the JSON-serialized payload "
    "must not exceed 16 KB. The current payload size is 17 KB."
)


@pytest.fixture(scope="module")
def status_host() -> Iterator[DevHost]:
    with DevHost(APPS / "status", memory=True, port=0, settings={}) as host:
        yield host


def test_the_size_is_utf16_of_compact_json_truncated_to_whole_kb() -> None:
    """MessagePayloadDataConverter.cs: ``(int)(UTF-16 bytes / 1024.0) > 16``."""
    assert custom_status_error("a" * 8701) is None  # "…" is 8703 chars = 17406 bytes: 16.99 KB → 16
    assert custom_status_error("a" * 8702) is not None  # 17408 bytes = 17 KB
    assert custom_status_error("中" * 8000) is None  # 23 KB in UTF-8, but 15.6 KB in UTF-16
    # Json.NET writes compact JSON: 8,607 chars here (Python's default ", " separators would give 10,757).
    assert custom_status_error({"k": ["x"] * 2150}) is None
    assert custom_status_error({"k": ["x"] * 2200}) is not None


def test_a_status_under_the_limit_is_kept(status_host: DevHost) -> None:
    status = wait_for(start_orchestration(status_host.base_url, "sized_status", {"text": "a", "count": 8701}))
    assert status["runtimeStatus"] == "Completed"
    assert status["customStatus"] == "a" * 8701


def test_a_status_over_the_limit_fails_the_orchestration_before_its_actions(status_host: DevHost) -> None:
    """OutOfProcOrchestrationShim.cs sets the status first: the episode's new activity is never scheduled."""
    status = wait_for(start_orchestration(status_host.base_url, "sized_status", {"text": "a", "count": 8702}))
    assert status["runtimeStatus"] == "Failed"
    assert status["output"] == TOO_BIG
    assert status["customStatus"] == {"step": "small"}  # the oversized status was never stored
    events = history(status_host, status["instanceId"])
    assert [e["Input"] for e in events if e["EventType"] == 4] == ["1"]  # echo(2) was not scheduled
    failure = events[-1]["FailureDetails"]
    assert (failure["ErrorType"], failure["ErrorMessage"]) == ("System.ArgumentException", TOO_BIG)


def test_a_wide_character_status_is_measured_in_utf16_not_utf8(status_host: DevHost) -> None:
    status = wait_for(start_orchestration(status_host.base_url, "sized_status", {"text": "中", "count": 8000}))
    assert status["runtimeStatus"] == "Completed"
