"""One host's store failing (faults injected on the wire to Azurite) never costs the other hosts their sync."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
from azure.core.exceptions import ServiceRequestError
from azure.core.pipeline.transport import HttpRequest, HttpResponse, RequestsTransport
from azure.data.tables import TableServiceClient

from functions.events.emitters import EventEmitter
from functions.events.outbox import EventOutbox
from functions.hyperv.connector import HostConnector
from functions.hyperv.models import HostFacts, HostInventory, VmInfo
from functions.inventory.repository import InventoryRepository
from functions.inventory.sync import HostSync
from functions.settings import HostEndpoint, load_settings
from tools.azurite import Azurite

HOSTS = ("hv01", "hv02", "hv03")
SETTINGS = load_settings(
    {
        "AzureWebJobsStorage": "UseDevelopmentStorage=true",
        "AETHERV_AUTH_MODE": "none",
        "AETHERV_SEAL_KEY": "ZGV2LW9ubHktc2VhbC1rZXktZG8tbm90LXVzZS0wMDA=",
        "AETHERV_HOSTS": ",".join(HOSTS),
        "AETHERV_WINRM_USERNAME": "LAB\\svc",
        "AETHERV_WINRM_PASSWORD": "pw",
    }
)


class PartitionFaults(RequestsTransport):
    """The SDK's transport, failing every write that touches ``failing`` hosts' rows (as an outage would)."""

    def __init__(self) -> None:
        super().__init__()
        self.failing: set[str] = set()

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        if request.method != "GET":
            body = request.body.decode("utf-8", "replace") if isinstance(request.body, bytes) else str(request.body)
            text = f"{request.url} {body}"
            if any(marker in text for marker in self.failing):
                raise ServiceRequestError(f"injected: the store of {sorted(self.failing)} is down")
        return super().send(request, **kwargs)


def inventory(host: str, count: int) -> HostInventory:
    facts = HostFacts(computer_name=host, logical_processors=16, total_memory_gb=128, free_memory_gb=64)
    vms = [
        VmInfo(
            id=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{host}-{i}")),
            name=f"{host}-vm{i}",
            state="Off",
            startup_memory_gb=2,
            memory_gb=2,
            processor_count=2,
        )
        for i in range(count)
    ]
    return HostInventory(host=facts, vms=vms, collected_at=datetime.now(UTC))


@pytest.fixture
def faults() -> PartitionFaults:
    return PartitionFaults()


@pytest.fixture
def repo(azurite: Azurite, faults: PartitionFaults) -> InventoryRepository:
    service = TableServiceClient.from_connection_string(azurite.connection_string, transport=faults, retry_total=0)
    repository = InventoryRepository(service, "t" + uuid.uuid4().hex[:10])
    repository.ensure_tables()
    return repository


def test_a_store_failure_on_one_host_leaves_the_others_synced(repo: InventoryRepository, faults: Any) -> None:
    connector = HostConnector(SETTINGS.winrm, tuple(HostEndpoint(h) for h in HOSTS))
    sync = HostSync(connector, repo, collect=lambda host: inventory(host, 3), sleep=lambda _: None)
    for host in HOSTS:
        assert sync.collect_and_store(host).ok
    faults.failing = {"hv02"}  # every write that names the host: its entity and its VM rows
    sync = HostSync(connector, repo, collect=lambda host: inventory(host, 5), sleep=lambda _: None)
    summaries = {host: sync.collect_and_store(host) for host in HOSTS}
    assert summaries["hv01"].ok and summaries["hv03"].ok
    assert not summaries["hv02"].ok
    assert summaries["hv02"].error == "storage: ServiceRequestError"
    assert len(list(repo.iter_vms(host="hv01"))) == 5
    assert len(list(repo.iter_vms(host="hv03"))) == 5
    assert len(list(repo.iter_vms(host="hv02"))) == 3  # as last stored: nothing half-written
    faults.failing = set()
    assert sync.collect_and_store("hv02").ok
    assert len(list(repo.iter_vms(host="hv02"))) == 5


def test_a_host_whose_vm_rows_cannot_be_written_says_so_and_recovers_at_once(
    repo: InventoryRepository, faults: Any
) -> None:
    connector = HostConnector(SETTINGS.winrm, tuple(HostEndpoint(h) for h in HOSTS))
    sync = HostSync(connector, repo, collect=lambda host: inventory(host, 2), sleep=lambda _: None)
    assert sync.collect_and_store("hv02").ok
    faults.failing = {"PartitionKey='hv02'"}  # the VM rows only: the host's own entity can still be written
    sync = HostSync(connector, repo, collect=lambda host: inventory(host, 4), sleep=lambda _: None)
    summary = sync.collect_and_store("hv02")
    assert not summary.ok
    record = repo.get_host("hv02")
    assert record is not None
    assert record.error == "storage: ServiceRequestError"
    assert record.last_attempt is not None and record.last_attempt > str(record.last_seen)
    faults.failing = set()
    started = datetime.now(UTC)
    again = sync.collect_and_store("hv02")
    assert again.ok and again.skipped is None  # the failed writer gave its lease back: no wait, no skip
    assert (datetime.now(UTC) - started).total_seconds() < 10
    record = repo.get_host("hv02")
    assert record is not None and record.error is None
    assert len(list(repo.iter_vms(host="hv02"))) == 4


class FlakyOutbox(RequestsTransport):
    """The SDK's transport, failing the next ``failures`` writes to the events outbox (a short outage)."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    def send(self, request: HttpRequest, **kwargs: Any) -> HttpResponse:  # type: ignore[override]
        if request.method == "POST" and "Events" in request.url and "Tables" not in request.url and self.failures:
            self.failures -= 1
            raise ServiceRequestError("injected: the outbox is down")
        return super().send(request, **kwargs)


@pytest.mark.parametrize(("failures", "stored"), [(2, True), (3, False)])
def test_a_short_outbox_outage_does_not_lose_the_events_of_a_sync(
    azurite: Azurite, repo: InventoryRepository, failures: int, stored: bool
) -> None:
    flaky = FlakyOutbox(0)
    service = TableServiceClient.from_connection_string(azurite.connection_string, transport=flaky, retry_total=0)
    outbox = EventOutbox(service, "t" + uuid.uuid4().hex[:10])
    emitter = EventEmitter(outbox, lambda: ["webhook:receiver.example"])
    connector = HostConnector(SETTINGS.winrm, tuple(HostEndpoint(h) for h in HOSTS))
    pauses: list[float] = []
    first = inventory("hv01", 2)
    sync = HostSync(connector, repo, collect=lambda _: first, sleep=pauses.append, emit=emitter.emit)
    assert sync.collect_and_store("hv01").ok
    outbox.due()  # the tables exist before the outage starts
    vms = [first.vms[0].model_copy(update={"state": "Running"}), first.vms[1]]
    running = first.model_copy(update={"vms": vms, "collected_at": datetime.now(UTC)})
    flaky.failures = failures
    sync = HostSync(connector, repo, collect=lambda _: running, sleep=pauses.append, emit=emitter.emit)
    assert sync.collect_and_store("hv01").ok  # the snapshot is stored whatever happens to its events
    assert [vm.state for vm in repo.iter_vms(host="hv01") if vm.id == first.vms[0].id] == ["Running"]
    changed = [item.event for item in outbox.due() if item.event.type.endswith("vm.state_changed")]
    assert len(changed) == (1 if stored else 0)
    assert pauses == [1.0, 2.0]  # retried twice, 1 and 2 s apart, either way
