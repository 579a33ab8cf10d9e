"""Rule: one worker thread pool for every sync function, one worker event loop for every async one.

Source: Azure/azure-functions-python-worker ``azure_functions_worker/dispatcher.py``
(``_handle__invocation_request``: ``async def`` functions run on the worker's loop, the others via
``run_in_executor(self._sync_call_tp, ...)``; ``_get_sync_tp_max_workers``), the pool size
``PYTHON_THREADPOOL_THREAD_COUNT`` set by Azure/azure-functions-host
``src/WebJobs.Script/Workers/ProcessManagement/DefaultWorkerProcessFactory.cs``
(``ApplyWorkerConcurrencyLimits``: 1000 when the app setting is empty), and
https://learn.microsoft.com/azure/azure-functions/python-scale-performance-reference.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from tools.devhost import DevHost
from tools.devhost.worker import DEFAULT_THREAD_COUNT, thread_count

from .conftest import APPS, Reply, request, start_orchestration, wait_for, wait_until


@pytest.fixture
def pool_host() -> Iterator[DevHost]:
    host = DevHost(APPS / "pool", memory=True, port=0, settings={"PYTHON_THREADPOOL_THREAD_COUNT": "2"})
    try:
        with host:
            yield host
    finally:
        host.module.RELEASE.set()
        host.module.RELEASE_LOOP.set()


def in_background(url: str) -> tuple[threading.Thread, list[Reply]]:
    replies: list[Reply] = []
    thread = threading.Thread(target=lambda: replies.append(request("GET", url)))
    thread.start()
    return thread, replies


def test_the_pool_size_is_the_app_setting_or_what_the_host_passes_when_unset() -> None:
    """``ApplyWorkerConcurrencyLimits`` (DefaultWorkerProcessFactory.cs) passes 1000 when unset."""
    assert DEFAULT_THREAD_COUNT == 1000
    assert thread_count({}) == 1000
    assert thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": "4"}) == 4
    assert thread_count({"PYTHON_THREADPOOL_THREAD_COUNT": "zero"}) == 1000


def test_http_handlers_and_orchestrations_share_one_pool(pool_host: DevHost) -> None:
    """dispatcher.py runs every sync function, whatever its trigger, in the one ``_sync_call_tp``."""
    base = pool_host.base_url
    worker = pool_host.worker
    holds = [in_background(f"{base}/api/hold") for _ in range(2)]
    wait_until(lambda: worker.running == 2, what="both pool threads busy")

    status_url = start_orchestration(base, "greet", "pool")  # the host still answers
    wait_until(lambda: worker.queued == 1, what="the orchestrator episode waiting for a thread")
    quick, quick_replies = in_background(f"{base}/api/quick")
    wait_until(lambda: worker.queued == 2, what="the HTTP handler waiting behind it")
    status = request("GET", status_url)
    assert status.status == 202
    assert status.json()["runtimeStatus"] == "Pending"  # its first episode has not run
    assert pool_host.module.EVENTS == []

    pool_host.module.RELEASE.set()
    for thread, _ in [*holds, (quick, quick_replies)]:
        thread.join(10)
    assert [r.status for _, replies in holds for r in replies] == [200, 200]
    assert quick_replies[0].body == b"quick"
    assert wait_for(status_url)["output"] == "Hello pool!"


def test_a_blocking_async_function_stalls_the_app_but_not_the_host(
    pool_host: DevHost, caplog: pytest.LogCaptureFixture
) -> None:
    """Async functions share the worker's single event loop; the host (management API) is another process."""
    base = pool_host.base_url
    app = pool_host.module
    blocker, blocked_replies = in_background(f"{base}/api/block")
    assert app.LOOP_BLOCKED.wait(10)

    callers = [in_background(f"{base}/api/aquick"), in_background(f"{base}/api/quick")]
    wait_until(lambda: pool_host.worker.waiting == 2, what="both calls waiting for the worker loop")
    listing = request("GET", f"{base}/runtime/webhooks/durabletask/instances/")
    assert listing.status == 200  # the management API is served by the host, not the worker
    assert app.EVENTS == ["block-start"]

    app.RELEASE_LOOP.set()
    for thread, _ in [(blocker, blocked_replies), *callers]:
        thread.join(10)
    assert blocked_replies[0].body == b"unblocked"
    assert sorted(r.body for _, replies in callers for r in replies) == [b"aquick", b"quick"]
    assert app.EVENTS[:2] == ["block-start", "block-end"]
    assert sorted(app.EVENTS[2:]) == ["aquick", "quick"]
    # The devhost names the function that held the loop (asyncio's 0.1 s slow-callback threshold).
    assert set(pool_host.worker.blocked) == {"block"}
    assert "Function 'block' is async def but held the worker's event loop" in caplog.text
