"""What a host's sync asks Table Storage for (on Azurite): cleanup debts only when a VM carries a job's mark, and
many threads share the table client's pooled connections instead of opening and discarding their own."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from functions.hyperv.connector import HostConnector
from functions.hyperv.models import HostFacts, HostInventory, VmInfo
from functions.inventory.repository import InventoryRepository
from functions.inventory.sync import HostSync
from functions.jobs.debts import CleanupDebt, CleanupDebts
from functions.settings import HostEndpoint, load_settings
from functions.storage import TABLE_CONNECTIONS, build_table_service
from tests.conftest import sample_values
from tools.azurite import Azurite

HOST = "hv01"


class CountingDebts(CleanupDebts):
    """The cleanup-debt table, counting how often a host's pending debts are read."""

    reads = 0

    def pending(self, host: str) -> list[CleanupDebt]:
        self.reads += 1
        return super().pending(host)


def snapshot(notes: str = "") -> HostInventory:
    facts = HostFacts(computer_name=HOST, logical_processors=8, total_memory_gb=64, free_memory_gb=32)
    vms = [
        VmInfo(
            id=str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{HOST}-{n}")),
            name=f"vm{n}",
            state="Off",
            startup_memory_gb=2,
            memory_gb=2,
            processor_count=2,
            notes=notes if n == 0 else "",
        )
        for n in range(3)
    ]
    return HostInventory(host=facts, vms=vms, collected_at=datetime.now(UTC))


@pytest.fixture
def parts(azurite: Azurite) -> tuple[InventoryRepository, CountingDebts, HostConnector]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    prefix = "t" + uuid.uuid4().hex[:10]
    host_settings = {"AETHERV_HOSTS": HOST, "AETHERV_WINRM_USERNAME": "LAB\\svc", "AETHERV_WINRM_PASSWORD": "pw"}
    settings = load_settings({**sample_values(), **host_settings})
    return (
        InventoryRepository(service, prefix),
        CountingDebts(service, prefix),
        HostConnector(settings.winrm, (HostEndpoint(HOST),)),
    )


def test_a_snapshot_without_job_marks_reads_no_cleanup_debts(
    parts: tuple[InventoryRepository, CountingDebts, HostConnector],
) -> None:
    repo, debts, connector = parts
    sync = HostSync(connector, repo, debts=debts, collect=lambda host: snapshot())
    assert sync.collect_and_store(HOST).ok
    assert debts.reads == 0
    assert len(list(repo.iter_vms(host=HOST))) == 3


def test_a_vm_marked_by_a_job_with_a_pending_debt_is_stored_as_orphaned(
    parts: tuple[InventoryRepository, CountingDebts, HostConnector],
) -> None:
    repo, debts, connector = parts
    debts.record(HOST, "job-7", "vm0", None, "host unreachable during the compensation")
    sync = HostSync(connector, repo, debts=debts, collect=lambda host: snapshot("made by\naetherv-job: job-7\n"))
    assert sync.collect_and_store(HOST).ok
    assert debts.reads == 1
    marked = {vm.name: vm.details.get("orphaned_by_job") for vm in repo.iter_vms(host=HOST)}
    assert marked == {"vm0": "job-7", "vm1": None, "vm2": None}


def test_concurrent_table_requests_reuse_the_pooled_connections(
    azurite: Azurite, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings({**sample_values(), "AzureWebJobsStorage": azurite.connection_string})
    service = build_table_service(settings.storage)
    table = service.create_table("t" + uuid.uuid4().hex[:10])
    threads = 40
    assert threads <= TABLE_CONNECTIONS
    together = threading.Barrier(threads, timeout=30)
    errors: list[BaseException] = []

    def query() -> None:
        try:
            together.wait()
            for _ in range(3):
                list(table.query_entities("PartitionKey eq 'none'"))
        except BaseException as exc:  # reported below
            errors.append(exc)

    with caplog.at_level(logging.WARNING, logger="urllib3.connectionpool"):
        workers = [threading.Thread(target=query) for _ in range(threads)]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(60)
    assert not errors
    assert not [r for r in caplog.records if "pool is full" in r.getMessage()]
