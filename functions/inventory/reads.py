"""The read side of the inventory tables: hosts, VM pages, a VM by id, clusters and the summary.

Reads are lean: a VM page is one query of the VMs table that selects only the columns a record shows
(:data:`~functions.inventory.vm_entity.VM_COLUMNS`), and the states of the page's hosts (cluster, connection, last
collection: :data:`~functions.inventory.vm_entity.HOST_STATE_COLUMNS`) are read at the same time in a thread, never
cached: a VM is ``stale`` exactly when its host's entity says the host is disconnected, whichever instance wrote it.

A VM is found by id through its host's entity, which lists the ids of the VMs its last snapshot held
(``vm_ids``: 32 hex characters each, in properties of at most 32,000 characters). The ids of every host are read in
one query of the hosts partition and cached for a few seconds, so a lookup by id is one point read in the common case
(and one of its host's state), and no index has to be written beside the VM rows. (Earlier builds kept a
``<prefix>VmIndex`` table; it is no longer read or written.)
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, cast

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient

from functions.errors import NotFound
from functions.inventory.host_entity import HOST_FIELDS, VM_IDS_PROPERTIES, host_record, vm_ids_of
from functions.inventory.keys import decode_key, encode_key
from functions.inventory.page_query import query_page
from functions.inventory.vm_entity import HOST_STATE_COLUMNS, VM_COLUMNS, vm_clauses, vm_from_entity
from functions.models.inventory import ClusterRecord, HostRecord, InventorySummary, VmRecord
from functions.models.json import JsonObject
from functions.models.paging import Page
from functions.storage import Tables, decode_continuation, encode_continuation

__all__ = ["HOSTS_PARTITION", "ID_CACHE_SECONDS", "InventoryReads"]

HOSTS_PARTITION = "hosts"
ID_CACHE_SECONDS = 5.0
_HOST_VM_COLUMNS = tuple(name for name in VM_COLUMNS if name != "PartitionKey")


def _first_partition(token: Mapping[str, str] | None) -> str | None:
    """The partition a page starts at (the host of its first VM, as a key), when a continuation token names one.

    Only a legal key counts (a token is the caller's to tamper with): otherwise every host is read.
    """
    start = token.get("PartitionKey") if token else None
    return start if start and encode_key(decode_key(start)) == start else None


class InventoryReads:
    """Reads of hosts and VMs (the repository adds the writes). Thread-safe (the SDK clients are)."""

    def __init__(self, service: TableServiceClient, prefix: str) -> None:
        self._service = service
        self.hosts_table = f"{prefix}Hosts"
        self.vms_table = f"{prefix}Vms"
        self._tables = Tables(service, self.hosts_table, self.vms_table)
        self._ids_lock = threading.Lock()
        self._ids: dict[str, list[str]] = {}  # VM row key -> hosts listing it, newest snapshot first
        self._ids_read_at = -ID_CACHE_SECONDS
        self._ids_complete = True  # every host entity lists its VMs (False: some were written by an earlier build)
        # Reads beside a page's query (its hosts' states); threads start on first use and end with the repository.
        self._beside = ThreadPoolExecutor(max_workers=16, thread_name_prefix="inventory-read")

    def _table(self, name: str) -> TableClient:
        return self._tables.client(name)

    def ensure_tables(self) -> None:
        """Create the tables if they do not exist (idempotent)."""
        self._tables.ensure()

    def _get_host_with_etag(self, host: str) -> tuple[JsonObject | None, str | None]:
        try:
            entity = self._table(self.hosts_table).get_entity(HOSTS_PARTITION, encode_key(host))
        except ResourceNotFoundError:
            return None, None
        return dict(entity), str(entity.metadata["etag"])

    def list_hosts(self) -> list[HostRecord]:
        """Every host with its connection state and facts, sorted by name."""
        entities = self._table(self.hosts_table).query_entities("PartitionKey eq 'hosts'", select=list(HOST_FIELDS))
        return sorted((host_record(e) for e in entities), key=lambda h: h.name.lower())

    def page_hosts(self, *, page_size: int = 100, continuation: str | None = None) -> Page[HostRecord]:
        """A page of hosts in key order (host names), and the token for the next one."""
        token = decode_continuation(continuation) if continuation else None
        pager: Any = (
            self._table(self.hosts_table)
            .query_entities("PartitionKey eq 'hosts'", results_per_page=page_size, select=list(HOST_FIELDS))
            .by_page(continuation_token=cast(Any, token))
        )
        items = [host_record(entity) for entity in next(pager, iter(()))]
        next_token = pager.continuation_token
        return Page(items=items, continuation=encode_continuation(next_token) if next_token else None)

    def get_host(self, name: str) -> HostRecord | None:
        """One host, or ``None``."""
        entity, _ = self._get_host_with_etag(name)
        return host_record(entity) if entity else None

    def _host_state(self, name: str) -> dict[str, HostRecord]:
        """The state of one host (a point read of :data:`HOST_STATE_COLUMNS`) by name; empty if it is unknown."""
        try:
            entity = self._table(self.hosts_table).get_entity(
                HOSTS_PARTITION, encode_key(name), select=list(HOST_STATE_COLUMNS)
            )
        except ResourceNotFoundError:
            return {}
        record = host_record(entity)
        return {record.name: record}

    def _host_states(self, start: str | None = None) -> dict[str, HostRecord]:
        """The state of every host by name (one query of :data:`HOST_STATE_COLUMNS`), from key ``start`` on."""
        query_filter, parameters = "PartitionKey eq @pk", {"pk": HOSTS_PARTITION}
        if start:
            query_filter, parameters = query_filter + " and RowKey ge @start", parameters | {"start": start}
        entities = self._table(self.hosts_table).query_entities(
            query_filter, parameters=parameters, select=list(HOST_STATE_COLUMNS)
        )
        return {record.name: record for record in map(host_record, entities)}

    def list_vms(
        self,
        *,
        host: str | None = None,
        state: str | None = None,
        name_prefix: str | None = None,
        stale: bool | None = None,
        page_size: int = 100,
        continuation: str | None = None,
        require_host: bool = False,
        expiring_before: str | None = None,
    ) -> Page[VmRecord]:
        """A page of VMs, filtered; pass ``continuation`` from the previous page to continue.

        One query of the VMs table per page, of :data:`VM_COLUMNS` only. The states of the page's hosts are read at
        the same time, in a thread: the one host's entity with ``host``, else the hosts from the page's first
        partition on. With ``stale`` they choose the partitions, so they are read first. An unknown ``host`` lists
        no VMs, or raises :class:`NotFound` with ``require_host``.
        """
        token = decode_continuation(continuation) if continuation else None  # the SDK takes its own dict token
        clauses, parameters = vm_clauses(state=state, name_prefix=name_prefix, expiring_before=expiring_before)
        if host is not None:
            clauses.insert(0, "PartitionKey eq @host")
            parameters["host"] = encode_key(host)
        hosts: dict[str, HostRecord] = {}
        reading: Future[dict[str, HostRecord]] | None = None
        if stale is not None:
            hosts = self._host_state(host) if host is not None else self._host_states()
            if require_host and host is not None and not hosts:
                raise NotFound(f"host {host} is not in the inventory")
            chosen = [name for name, record in hosts.items() if record.connected is not stale]
            if not chosen:
                return Page(items=[])
            alternatives = []
            for position, name in enumerate(chosen):
                alternatives.append(f"PartitionKey eq @h{position}")
                parameters[f"h{position}"] = encode_key(name)
            clauses.append("( " + " or ".join(alternatives) + " )")  # the SDK finds @names between spaces
        elif host is not None:
            reading = self._beside.submit(self._host_state, host)
        else:
            reading = self._beside.submit(self._host_states, _first_partition(token))
        columns = _HOST_VM_COLUMNS if host is not None else VM_COLUMNS  # a host's partition is its name
        entities, next_token = query_page(
            self._table(self.vms_table),
            " and ".join(clauses) or "PartitionKey ne ''",
            parameters=parameters,
            select=columns,
            page_size=page_size,
            continuation=token,
        )
        if reading is not None:
            hosts = reading.result()
        if require_host and host is not None and not hosts:
            raise NotFound(f"host {host} is not in the inventory")
        items = [vm_from_entity(entity, hosts, host=host) for entity in entities]
        return Page(items=items, continuation=encode_continuation(next_token) if next_token else None)

    def iter_vms(
        self,
        *,
        host: str | None = None,
        state: str | None = None,
        name_prefix: str | None = None,
        stale: bool | None = None,
    ) -> Iterator[VmRecord]:
        """Every VM matching the filters (all pages)."""
        continuation: str | None = None
        while True:
            page = self.list_vms(
                host=host, state=state, name_prefix=name_prefix, stale=stale, continuation=continuation, page_size=1000
            )
            yield from page.items
            if page.continuation is None:
                return
            continuation = page.continuation

    def _vm_on_host(self, entity: Mapping[str, Any]) -> VmRecord:
        """The record of a VM entity read alone, with its host's state."""
        return vm_from_entity(entity, self._host_state(decode_key(str(entity["PartitionKey"]))))

    def get_vm(self, vm_id: str) -> VmRecord | None:
        """One VM by id, or ``None``: its host from the hosts' id lists (cached briefly), then one point read.

        A miss reads the lists again (a sync may just have added the VM); hosts written by earlier builds, which list
        no ids, are searched by a query on the id.
        """
        key = encode_key(vm_id.lower())
        for fresh in (False, True):
            for host in self._hosts_listing(key, fresh=fresh):
                try:
                    entity = self._table(self.vms_table).get_entity(encode_key(host), key, select=list(VM_COLUMNS))
                except ResourceNotFoundError:
                    continue
                return self._vm_on_host(entity)
        if self._ids_complete:
            return None
        entity = self._find_vm_row(key)
        return None if entity is None else self._vm_on_host(entity)

    def _hosts_listing(self, row_key: str, *, fresh: bool) -> list[str]:
        """The hosts whose last snapshot listed the VM (newest first); ``fresh`` re-reads the lists first."""
        with self._ids_lock:
            expired = time.monotonic() - self._ids_read_at >= ID_CACHE_SECONDS
            if fresh or expired:
                self._read_id_lists()
            return list(self._ids.get(row_key, ()))

    def _read_id_lists(self) -> None:
        """Read every host's id list (one query of the hosts partition, only the needed properties)."""
        select = ["RowKey", "name", "last_seen", *VM_IDS_PROPERTIES]
        seen: dict[str, list[tuple[str, str]]] = {}
        complete = True
        for entity in self._table(self.hosts_table).query_entities("PartitionKey eq 'hosts'", select=select):
            ids = vm_ids_of(entity)
            if ids is None:
                complete = False
                continue
            host = str(entity.get("name") or decode_key(entity["RowKey"]))
            for key in ids:
                seen.setdefault(key, []).append((str(entity.get("last_seen") or ""), host))
        self._ids = {key: [h for _, h in sorted(hosts, reverse=True)] for key, hosts in seen.items()}
        self._ids_complete = complete
        self._ids_read_at = time.monotonic()

    def _find_vm_row(self, key: str) -> Any:
        """The VM row with RowKey ``key`` in any host's partition (a query across partitions), or ``None``.

        Only for hosts whose entity an earlier build wrote (they list no ids); a VM listed by two hosts (moved between
        their syncs) is taken from the host seen last.
        """
        rows = list(
            self._table(self.vms_table).query_entities("RowKey eq @rk", parameters={"rk": key}, select=list(VM_COLUMNS))
        )
        if not rows:
            return None

        def seen(row: Any) -> str:
            record = self.get_host(decode_key(str(row["PartitionKey"])))
            return str(record.last_seen or "") if record else ""

        return max(rows, key=seen) if len(rows) > 1 else rows[0]

    @staticmethod
    def _clusters(hosts: Sequence[HostRecord]) -> list[ClusterRecord]:
        groups: dict[str, list[HostRecord]] = {}
        for record in hosts:
            groups.setdefault(record.cluster, []).append(record)
        return [
            ClusterRecord(
                name=name,
                hosts=tuple(h.name for h in members),
                connected_hosts=sum(1 for h in members if h.connected),
                vm_count=sum(h.vm_count for h in members),
            )
            for name, members in sorted(groups.items())
        ]

    def clusters(self) -> list[ClusterRecord]:
        """Clusters derived from host membership (stand-alone hosts form the ``Default`` group)."""
        return self._clusters(self.list_hosts())

    def summary(self) -> InventorySummary:
        """Totals, clusters, hosts (connected and not) and the last successful sync per host."""
        hosts = self.list_hosts()
        return InventorySummary(hosts=tuple(hosts), clusters=tuple(self._clusters(hosts)))
