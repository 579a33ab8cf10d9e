"""The inventory repository against Azurite: diff-based batched writes, staleness, paging, keys, concurrency."""

from __future__ import annotations

import threading
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from azure.data.tables import UpdateMode
from hypothesis import given
from hypothesis import strategies as st

from functions.errors import InvalidQuery
from functions.inventory.keys import decode_key, encode_key
from functions.inventory.repository import InventoryRepository, WriteStats
from tests.integration.inventory.conftest import RequestCounter

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def vm(
    name: str, *, state: str = "Running", cpu: int = 2, ips: list[str] | None = None, **extra: Any
) -> dict[str, Any]:
    vm_id = str(uuid.uuid5(uuid.NAMESPACE_URL, name))
    return {
        "id": vm_id,
        "name": name,
        "state": state,
        "cpu_cores": cpu,
        "memory_gb": 4.0,
        "ip_addresses": ips or [],
        "disks": [{"path": f"C:\\VMs\\{name}\\disk.vhdx", "capacity_gb": 64}],
        **extra,
    }


def facts(cluster: str | None = None) -> dict[str, Any]:
    return {"cluster": cluster, "total_cpu_cores": 32, "total_memory_gb": 256.0, "free_memory_gb": 128.0}


def names(repo: InventoryRepository, **filters: Any) -> list[str]:
    return sorted(v.name for v in repo.iter_vms(**filters))


def test_full_sync_of_several_hosts(repo: InventoryRepository) -> None:
    repo.apply_snapshot("hv01", facts("clu1"), [vm("a1"), vm("a2", state="Off")], T0)
    repo.apply_snapshot("hv02", facts("clu1"), [vm("b1")], T0)
    repo.apply_snapshot("hv03", facts(), [], T0)
    assert names(repo) == ["a1", "a2", "b1"]
    hosts = {h.name: h for h in repo.list_hosts()}
    assert set(hosts) == {"hv01", "hv02", "hv03"}
    assert hosts["hv01"].connected and hosts["hv01"].vm_count == 2
    assert hosts["hv01"].facts["total_memory_gb"] == 256.0
    one = repo.get_vm(vm("a2")["id"].upper())
    assert one is not None
    assert (one.name, one.host, one.state, one.stale) == ("a2", "hv01", "Off", False)
    assert one.last_seen == "2026-11-01T12:00:00.000000Z"
    assert one.details["disks"] == [{"path": "C:\\VMs\\a2\\disk.vhdx", "capacity_gb": 64}]
    clusters = {c.name: c for c in repo.clusters()}
    assert clusters["clu1"].hosts == ("hv01", "hv02")
    assert clusters["Default"].hosts == ("hv03",)
    summary = repo.summary().totals()
    assert (summary["total_hosts"], summary["total_vms"], summary["total_clusters"]) == (3, 3, 1)


def test_out_of_band_changes_appear_change_and_disappear(repo: InventoryRepository, counter: RequestCounter) -> None:
    repo.apply_snapshot("hv01", facts(), [vm("a1"), vm("a2"), vm("a3")], T0)
    counter.reset()
    stats = repo.apply_snapshot("hv01", facts(), [vm("a1"), vm("a2", state="Off"), vm("a4")], T0 + timedelta(minutes=2))
    assert names(repo) == ["a1", "a2", "a4"]
    assert repo.get_vm(vm("a2")["id"]).state == "Off"  # type: ignore[union-attr]
    assert repo.get_vm(vm("a3")["id"]) is None
    assert repo.get_vm(vm("a4")["id"]) is not None
    # a2 changed and a4 added (one upsert batch), a3 deleted (same batch), host leased and released
    assert (stats.entities_written, stats.entities_deleted) == (4, 1)
    assert counter.writes == 3  # the lease, one transaction, the host entity


def test_no_change_resync_writes_one_entity_per_host(repo: InventoryRepository, counter: RequestCounter) -> None:
    snapshot = {f"hv0{i}": [vm(f"h{i}-vm{j}", uptime_seconds=3600 + j) for j in range(30)] for i in range(1, 4)}
    for host, vms in snapshot.items():
        repo.apply_snapshot(host, facts(), vms, T0)
    counter.reset()
    later = T0 + timedelta(minutes=2)
    for host, vms in snapshot.items():
        aged = [{**v, "uptime_seconds": v["uptime_seconds"] + 120} for v in vms]
        stats = repo.apply_snapshot(host, facts(), aged, later)
        assert stats.entities_written == 1
    assert counter.writes == 3
    assert {h.last_seen for h in repo.list_hosts()} == {"2026-11-01T12:02:00.000000Z"}


def test_a_reboot_is_seen_through_started_at(repo: InventoryRepository) -> None:
    repo.apply_snapshot("hv01", facts(), [vm("a1", uptime_seconds=86400)], T0)
    before = repo.get_vm(vm("a1")["id"])
    stats = repo.apply_snapshot("hv01", facts(), [vm("a1", uptime_seconds=30)], T0 + timedelta(minutes=2))
    after = repo.get_vm(vm("a1")["id"])
    assert stats.entities_written == 3
    assert before is not None
    assert after is not None
    assert after.started_at == "2026-11-01T12:01:30.000000Z" != before.started_at


def test_unreachable_host_keeps_its_vms_as_stale_then_reconnects(repo: InventoryRepository) -> None:
    repo.apply_snapshot("hv01", facts(), [vm("a1"), vm("a2")], T0)
    repo.apply_snapshot("hv02", facts(), [vm("b1")], T0)
    down = T0 + timedelta(minutes=2)
    stats = repo.mark_unreachable("hv01", "HostUnreachable: connection refused", down)
    assert stats.entities_written == 1
    host = repo.get_host("hv01")
    assert host is not None
    assert (host.connected, host.error) == (False, "HostUnreachable: connection refused")
    assert host.disconnected_since == "2026-11-01T12:02:00.000000Z"
    stale = list(repo.iter_vms(stale=True))
    assert sorted(v.name for v in stale) == ["a1", "a2"]
    assert {v.last_seen for v in stale} == {"2026-11-01T12:00:00.000000Z"}
    assert names(repo, stale=False) == ["b1"]
    repo.mark_unreachable("hv01", "HostUnreachable: connection refused", down + timedelta(minutes=2))
    assert repo.get_host("hv01").disconnected_since == "2026-11-01T12:02:00.000000Z"  # type: ignore[union-attr]
    repo.apply_snapshot("hv01", facts(), [vm("a1"), vm("a2")], down + timedelta(minutes=4))
    host = repo.get_host("hv01")
    assert host is not None
    assert (host.connected, host.error, host.disconnected_since) == (True, None, None)
    assert names(repo, stale=True) == []


def test_batches_hold_at_most_100_operations_of_one_partition(repo: InventoryRepository) -> None:
    operations: list[list[tuple[Any, ...]]] = []
    original = repo._submit

    def spy(table: Any, ops: list[tuple[Any, ...]], stats: Any) -> None:
        operations.append(list(ops))
        original(table, ops, stats)

    repo._submit = spy  # type: ignore[method-assign]
    stats = repo.apply_snapshot("hv01", facts(), [vm(f"vm{i:03}") for i in range(250)], T0)
    assert stats.transactions == 3  # 3 batches of VM rows, nothing else beside them
    vm_ops = [op for ops in operations for op in ops if "content_hash" in op[1]]
    assert len(vm_ops) == 250
    assert len(names(repo)) == 250


def test_paging_returns_each_vm_exactly_once(repo: InventoryRepository) -> None:
    expected = []
    for i in range(1, 4):
        vms = [vm(f"h{i}-{j:04}") for j in range(367)]
        expected += [v["name"] for v in vms]
        repo.apply_snapshot(f"hv0{i}", facts(), vms, T0)
    seen: list[str] = []
    continuation = None
    pages = 0
    while True:
        page = repo.list_vms(page_size=100, continuation=continuation)
        seen += [v.name for v in page.items]
        pages += 1
        continuation = page.continuation
        if continuation is None:
            break
    assert len(seen) == 1101
    assert sorted(seen) == sorted(expected)
    assert pages >= 12


def test_filters(repo: InventoryRepository) -> None:
    repo.apply_snapshot("hv01", facts(), [vm("web01"), vm("web02", state="Off"), vm("db01")], T0)
    repo.apply_snapshot("hv02", facts(), [vm("web03"), vm("app01", state="Off")], T0)
    assert names(repo, host="hv02") == ["app01", "web03"]
    assert names(repo, state="Off") == ["app01", "web02"]
    assert names(repo, name_prefix="web") == ["web01", "web02", "web03"]
    assert names(repo, name_prefix="web", state="Running", host="hv01") == ["web01"]
    assert names(repo, host="nope") == []


def test_key_edge_cases_are_encoded_not_rejected(repo: InventoryRepository) -> None:
    odd = ["a/b", "c\\d", "e#f", "g?h", "tab\there", "per%cent", "quote'o", "ünï"]
    vms = [{**vm(name), "id": f"id-{name}"} for name in odd]
    repo.apply_snapshot("CORP\\hv/01#x?", facts(), vms, T0)
    assert names(repo, host="CORP\\hv/01#x?") == sorted(odd)
    for name in odd:
        found = repo.get_vm(f"id-{name}")
        assert found is not None
        assert (found.name, found.host) == (name, "CORP\\hv/01#x?")
    assert repo.get_host("CORP\\hv/01#x?") is not None
    repo.remove_vm("CORP\\hv/01#x?", "id-a/b")
    assert repo.get_vm("id-a/b") is None


@given(st.text())
def test_key_encoding_round_trips_and_is_legal(value: str) -> None:
    key = encode_key(value)
    assert decode_key(key) == value
    assert not any(ch in key for ch in "/\\#?")
    assert not any(ord(ch) < 0x20 or 0x7F <= ord(ch) <= 0x9F for ch in key)


def test_older_snapshots_are_dropped(repo: InventoryRepository) -> None:
    repo.apply_snapshot("hv01", facts(), [vm("new")], T0 + timedelta(minutes=5))
    stats = repo.apply_snapshot("hv01", facts(), [vm("old")], T0)
    assert stats.skipped
    assert names(repo) == ["new"]


def test_concurrent_writers_converge_on_the_newest_snapshot(make_repo: Any) -> None:
    first, second = make_repo(), make_repo()
    base = [vm(f"base{i}") for i in range(150)]
    first.apply_snapshot("hv01", facts(), base, T0)
    older = [*base[:100], *(vm(f"older{i}") for i in range(60))]
    newer = [*base[50:], *(vm(f"newer{i}") for i in range(60))]
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def write(repo: InventoryRepository, vms: list[dict[str, Any]], at: datetime) -> None:
        try:
            barrier.wait()
            repo.apply_snapshot("hv01", facts(), vms, at)
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=write, args=(first, older, T0 + timedelta(minutes=1))),
        threading.Thread(target=write, args=(second, newer, T0 + timedelta(minutes=2))),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert names(first) == sorted(v["name"] for v in newer)
    assert first.get_host("hv01").last_seen == "2026-11-01T12:02:00.000000Z"  # type: ignore[union-attr]


def test_a_crash_mid_write_is_repaired_by_the_next_sync(make_repo: Any) -> None:
    clock = {"now": T0}
    repo = make_repo(clock=lambda: clock["now"])
    repo.apply_snapshot("hv01", facts(), [vm(f"v{i}") for i in range(120)], T0)

    def crash(*_: Any) -> None:
        raise RuntimeError("worker died")

    original = repo._apply_diff
    repo._apply_diff = crash  # type: ignore[method-assign]
    with pytest.raises(RuntimeError):
        repo.apply_snapshot("hv01", facts(), [vm(f"w{i}") for i in range(10)], T0 + timedelta(minutes=2))
    repo._apply_diff = original  # type: ignore[method-assign]
    clock["now"] = T0 + timedelta(minutes=5)  # the dead writer's lease has expired
    repo.apply_snapshot("hv01", facts(), [vm(f"w{i}") for i in range(10)], T0 + timedelta(minutes=4))
    assert names(repo) == sorted(f"w{i}" for i in range(10))


def test_pruning_removes_unconfigured_hosts_and_their_vms(repo: InventoryRepository) -> None:
    repo.apply_snapshot("hv01", facts(), [vm("a1")], T0)
    repo.apply_snapshot("hv02", facts(), [vm("b1"), vm("b2")], T0)
    stats = repo.prune_hosts(["HV01"])
    assert stats.entities_deleted == 3  # hv02's two VM rows and its entity
    assert [h.name for h in repo.list_hosts()] == ["hv01"]
    assert names(repo) == ["a1"]
    assert repo.get_vm(vm("b1")["id"]) is None


def test_tampered_continuation_is_rejected(repo: InventoryRepository) -> None:
    with pytest.raises(InvalidQuery):
        repo.list_vms(continuation="not-a-token")


def test_rows_another_writer_already_deleted_are_not_an_error(make_repo: Any) -> None:
    """Two prunes (the timer's sync and an API refresh) delete the same rows: both succeed, nothing is left."""
    first, second = make_repo(), make_repo()
    first.apply_snapshot("hv01", facts(), [vm("a1")], T0)
    first.apply_snapshot("gone", facts(), [vm(f"g{i}") for i in range(150)], T0)
    rows = first._vm_rows("gone")  # what the first writer read, before the second deleted 60 of them
    deletes = [("delete", {"PartitionKey": "gone", "RowKey": key}) for key in list(rows)[:60]]
    second._submit(second._table(second.vms_table), deletes, WriteStats())
    first._vm_rows = lambda host: rows  # type: ignore[method-assign]
    stats = first.prune_hosts(["hv01"])  # its batches find 60 rows already gone
    assert stats.entities_deleted >= 90
    assert names(first) == ["a1"]
    assert [h.name for h in first.list_hosts()] == ["hv01"]
    again = second.prune_hosts(["hv01"])
    assert again.entities_deleted == 0


def test_two_prunes_at_once_both_succeed(make_repo: Any) -> None:
    repos = [make_repo() for _ in range(3)]
    for i in range(4):
        repos[0].apply_snapshot(f"old{i}", facts(), [vm(f"o{i}-{j}") for j in range(120)], T0)
    repos[0].apply_snapshot("hv01", facts(), [vm("keep")], T0)
    barrier = threading.Barrier(3)
    errors: list[BaseException] = []

    def prune(repo: InventoryRepository) -> None:
        try:
            barrier.wait()
            repo.prune_hosts(["hv01"])
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=prune, args=(repo,)) for repo in repos]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert names(repos[0]) == ["keep"]


def test_a_vm_that_moved_away_and_back_between_syncs_is_still_found_by_id(repo: InventoryRepository) -> None:
    """hv01 → hv02 (only hv02 synced) → hv01: hv01's row never changed while the VM was away."""
    moving = vm("mover")
    repo.apply_snapshot("hv01", facts(), [moving], T0)
    repo.apply_snapshot("hv02", facts(), [moving], T0 + timedelta(minutes=1))  # a refresh of hv02 alone
    repo.apply_snapshot("hv01", facts(), [moving], T0 + timedelta(minutes=2))  # back home: nothing to write
    repo.apply_snapshot("hv02", facts(), [], T0 + timedelta(minutes=3))
    found = repo.get_vm(moving["id"])
    assert found is not None and found.host == "hv01"  # hv01's entity lists it; hv02's no longer does


def test_a_first_sync_is_one_transaction_per_100_vms_and_the_host_entity(
    repo: InventoryRepository, counter: RequestCounter
) -> None:
    counter.reset()
    stats = repo.apply_snapshot("hv01", facts(), [vm(f"first{i:03}") for i in range(40)], T0)
    assert counter.writes == 2 and stats.transactions == 1
    counter.reset()
    repo.apply_snapshot("hv02", facts(), [vm(f"second{i:03}") for i in range(240)], T0)
    assert counter.writes == 3 + 1
    found = repo.get_vm(vm("second199")["id"])
    assert found is not None and found.host == "hv02"


def test_a_vm_is_found_by_id_with_one_point_read_once_the_lists_are_cached(
    repo: InventoryRepository, counter: RequestCounter
) -> None:
    repo.apply_snapshot("hv01", facts(), [vm(f"c{i}") for i in range(30)], T0)
    repo.get_vm(vm("c0")["id"])  # reads the hosts' lists
    counter.reset()
    for i in range(1, 30):
        assert repo.get_vm(vm(f"c{i}")["id"]) is not None
    assert counter.counts["GET"] <= 29 * 2 + 1  # the VM row and its host's facts, no index


def test_a_vm_synced_by_another_process_is_found_at_once(make_repo: Any) -> None:
    reader, writer = make_repo(), make_repo()
    writer.apply_snapshot("hv01", facts(), [vm("early")], T0)
    assert reader.get_vm(vm("early")["id"]) is not None  # the reader's lists are now cached
    writer.apply_snapshot("hv01", facts(), [vm("early"), vm("late")], T0 + timedelta(minutes=1))
    assert reader.get_vm(vm("late")["id"]) is not None  # a miss reads the lists again


def test_hosts_written_by_an_earlier_build_are_still_searched(repo: InventoryRepository) -> None:
    repo.apply_snapshot("hv01", facts(), [vm("legacy")], T0)
    entity = dict(repo._table(repo.hosts_table).get_entity("hosts", "hv01"))
    for name in ("vm_ids", "vm_ids_1", "vm_ids_2", "vm_ids_3"):
        entity.pop(name, None)
    repo._table(repo.hosts_table).upsert_entity(entity, mode=UpdateMode.REPLACE)
    fresh = type(repo)(repo._service, repo.hosts_table.removesuffix("Hosts"))
    found = fresh.get_vm(vm("legacy")["id"])
    assert found is not None and found.name == "legacy"


def test_a_host_with_more_vms_than_its_entity_can_name_still_finds_each_by_id() -> None:
    from functions.inventory.host_entity import vm_ids_of, vm_ids_properties

    keys = [f"{i:08x}-0000-4000-8000-000000000000" for i in range(4000)]
    properties = vm_ids_properties(keys)
    assert properties["vm_ids_overflow"] is True
    assert vm_ids_of(properties) is None  # so lookups query the rows instead of trusting a partial list
    few = vm_ids_properties(keys[:900])
    assert few["vm_ids_overflow"] is False
    assert vm_ids_of(few) == keys[:900]
    assert all(len(value) <= 32_000 for name, value in few.items() if name != "vm_ids_overflow")
