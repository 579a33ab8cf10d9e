"""Event delivery against Azurite and real receivers: the outbox, backoff, the horizon, dead letters, replays.

The sinks are the real ones: :class:`WebhookSink` posting to a local receiver (tests/support/receiver.py), and the
Event Grid SDK's publisher posting to a local endpoint that answers as Event Grid's publish API does (the key
credential stands in for the managed identity, which azure-core only sends over https). Time is a test clock.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.data.tables import TableServiceClient
from standardwebhooks import Webhook

from functions.events.catalog import EventType, OutgoingEvent, job_events
from functions.events.delivery import MAX_BACKOFF, EventDelivery
from functions.events.emitters import EventEmitter, JobEvents
from functions.events.outbox import EventOutbox
from functions.events.sinks import EventGridSink, WebhookSink
from functions.jobs.records import JobStore
from functions.models.jobs import JobPatch, JobStatus, JobTarget, Requester
from tests.support.receiver import Receiver
from tools.azurite import Azurite

SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def outbox(azurite: Azurite, clock: Clock) -> EventOutbox:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return EventOutbox(service, "e" + uuid.uuid4().hex[:10], clock=clock)


@pytest.fixture
def made() -> Iterator[list[EventDelivery]]:
    """The deliveries a test makes, closed after it (their sinks' connections)."""
    deliveries: list[EventDelivery] = []
    yield deliveries
    for delivery in deliveries:
        delivery.close()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    receiver = Receiver()
    yield receiver
    receiver.release()
    receiver.stop()


def event(key: str = "job-1") -> OutgoingEvent:
    return OutgoingEvent.build(EventType.JOB_FAILED, key, f"/jobs/{key}", {"job": {"id": key}}, T0)


def test_an_event_reaches_a_webhook_signed_and_leaves_the_outbox(
    outbox: EventOutbox, receiver: Receiver, made: list[EventDelivery]
) -> None:
    sink = WebhookSink(receiver.url, SECRET)
    delivery = EventDelivery(outbox, [sink], horizon=60)
    made.append(delivery)
    assert outbox.add([event()], delivery.sink_ids()) == 1
    assert outbox.add([event()], delivery.sink_ids()) == 0  # the same event again: kept once
    report = delivery.run()
    assert report.delivered == 1
    [got] = receiver.received()
    assert Webhook(SECRET).verify(got.body, got.headers)["id"] == event().id
    assert got.headers["webhook-id"] == event().id
    assert outbox.due() == [] and outbox.next_due() is None


def test_a_failing_sink_backs_off_then_dead_letters_and_a_retry_delivers(
    outbox: EventOutbox, receiver: Receiver, clock: Clock, made: list[EventDelivery]
) -> None:
    receiver.mode = "fail"
    delivery = EventDelivery(outbox, [WebhookSink(receiver.url, SECRET)], horizon=10, clock=clock)
    made.append(delivery)
    outbox.add([event()], delivery.sink_ids())
    waits = []
    while True:
        report = delivery.run()
        if report.dead_lettered:
            break
        [pending] = outbox.due(limit=10) or [_only(outbox)]
        waits.append((pending.due - clock.now).total_seconds())
        assert delivery.run().delivered == 0  # not due yet: nothing is tried
        clock.now = pending.due
    assert waits == [1, 2, 4]  # exponential backoff; the next (8 s) would end past the 10 s horizon
    assert len(receiver.received()) == 4
    assert len({d.headers["webhook-id"] for d in receiver.received()}) == 1
    [failed], _ = outbox.failed()
    assert failed.event.id == event().id and failed.attempts == 4
    assert failed.last_error == "webhook 127.0.0.1: HTTP 500"
    document = failed.to_json(delivery.label)
    assert document["sinks"] == ["webhook 127.0.0.1"] and receiver.url not in json.dumps(document)

    receiver.mode = "ok"
    assert outbox.retry(event().id) is not None
    assert outbox.failed()[0] == []
    assert delivery.run().delivered == 1
    assert receiver.received()[-1].headers["webhook-id"] == event().id


def _only(outbox: EventOutbox) -> Any:
    """The one pending event, due or not."""
    rows = list(outbox._table(outbox.outbox_table).query_entities("PartitionKey eq 'out'"))
    assert len(rows) == 1
    saved = outbox._clock
    outbox._clock = lambda: datetime(2100, 1, 1, tzinfo=UTC)
    try:
        [item] = outbox.due()
    finally:
        outbox._clock = saved
    return item


def test_backoff_is_capped(outbox: EventOutbox, clock: Clock, made: list[EventDelivery]) -> None:
    delivery = EventDelivery(outbox, [WebhookSink("http://127.0.0.1:9/none", SECRET)], horizon=86400, clock=clock)
    made.append(delivery)
    outbox.add([event()], delivery.sink_ids())
    for _ in range(12):
        delivery.run()
        item = _only(outbox)
        clock.now = item.due
    assert item.attempts == 12
    delivery.run()
    assert (_only(outbox).due - clock.now).total_seconds() == MAX_BACKOFF


def test_each_sink_gets_the_event_once_though_another_fails(
    outbox: EventOutbox, receiver: Receiver, clock: Clock, made: list[EventDelivery]
) -> None:
    down = Receiver()
    down.mode = "fail"
    try:
        sinks = [WebhookSink(receiver.url, SECRET), WebhookSink(down.url, SECRET)]
        delivery = EventDelivery(outbox, sinks, horizon=60, clock=clock)
        made.append(delivery)
        outbox.add([event()], delivery.sink_ids())
        delivery.run()
        down.mode = "ok"
        clock.now += timedelta(seconds=5)
        delivery.run()
    finally:
        down.stop()
    assert len(receiver.received()) == 1  # the healthy one was not sent it again
    assert [d.answered for d in down.received()] == [500, 204]


class _EventGridEndpoint:
    """A local endpoint answering as Event Grid's publish API (``POST /api/events``), keeping what it got."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, dict[str, str], bytes]] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length", "0")))
                endpoint.requests.append((self.path, dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/api/events"


def test_event_grid_gets_the_same_cloud_event(outbox: EventOutbox, made: list[EventDelivery]) -> None:
    endpoint = _EventGridEndpoint()
    try:
        sink = EventGridSink(endpoint.url, AzureKeyCredential("local-test-key"))
        delivery = EventDelivery(outbox, [sink], horizon=60)
        made.append(delivery)
        outbox.add([event()], delivery.sink_ids())
        assert delivery.run().delivered == 1
    finally:
        endpoint.server.shutdown()
        endpoint.server.server_close()
    [(path, headers, body)] = endpoint.requests
    assert path.startswith("/api/events?api-version=")
    assert headers["Content-Type"].startswith("application/cloudevents-batch+json")
    [published] = json.loads(body)
    original = json.loads(event().body)
    assert {k: published[k] for k in ("id", "source", "type", "subject", "data", "specversion")} == {
        k: original[k] for k in ("id", "source", "type", "subject", "data", "specversion")
    }


def test_the_job_store_announces_creation_and_outcome_once_each(azurite: Azurite, outbox: EventOutbox) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    emitter = EventEmitter(outbox, lambda: ["webhook:x"])
    store = JobStore(service, "k" + uuid.uuid4().hex[:10], observers=[JobEvents(emitter)])
    job = store.create(
        store.new_job(
            id="create-vm-1",
            kind="create_vm",
            target=JobTarget(host="hv01", name="web01"),
            requested_by=Requester(id="alice", name="Alice", type="user"),
        )
    )
    store.update(job.id, JobPatch(status=JobStatus.RUNNING, current_step="preflight"))
    store.update(job.id, JobPatch(status=JobStatus.RUNNING, current_step="create_vm"))
    done = JobPatch(status=JobStatus.SUCCEEDED, target=JobTarget(host="hv01", name="web01", vm_id="vm-1"))
    final = store.update(job.id, done)
    store.update(job.id, done)  # the activity ran twice
    assert final is not None
    pending = _all(outbox)
    assert sorted(item.event.type for item in pending) == [
        "io.aetherv.job.created",
        "io.aetherv.job.succeeded",
        "io.aetherv.vm.created",
    ]
    assert {item.event.id for item in pending} == {e.id for e in job_events(final, created=True)}


def test_scheduled_syncs_are_not_announced(azurite: Azurite, outbox: EventOutbox) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    store = JobStore(service, "q" + uuid.uuid4().hex[:10], observers=[JobEvents(EventEmitter(outbox, lambda: ["x"]))])
    requester = Requester(id="system:inventory-schedule", name="inventory schedule", type="system")
    job = store.create(store.new_job(id="sync-1", kind="inventory_sync", requested_by=requester))
    store.update(job.id, JobPatch(status=JobStatus.SUCCEEDED))
    assert _all(outbox) == []


def _all(outbox: EventOutbox) -> list[Any]:
    saved = outbox._clock
    outbox._clock = lambda: datetime(2100, 1, 1, tzinfo=UTC)
    try:
        return outbox.due()
    finally:
        outbox._clock = saved
