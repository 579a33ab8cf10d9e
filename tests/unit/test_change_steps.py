"""The migration step's answers when the host does not (a stub client: the timing cannot be waited for in a test)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from functions.errors import StepError
from functions.hyperv.errors import OperationTimeout, VmNotFound
from functions.provisioning.change_steps import MIGRATION_SECONDS, run_change
from functions.provisioning.changes import ChangePayload

VM_ID = "5f0c3d6e-1111-2222-3333-444455556666"


class Client:
    """Answers ``migrate_vm`` with ``error`` and ``get_vm`` with the VM when it is on the host."""

    def __init__(self, error: Exception | None, has_vm: bool) -> None:
        self.error, self.has_vm = error, has_vm

    def migrate_vm(self, vm_id: str, **_: Any) -> Any:
        raise self.error or AssertionError("unexpected")

    def get_vm(self, vm_id: str) -> Any:
        if not self.has_vm:
            raise VmNotFound("gone", host="hv02")
        return type("Vm", (), {"id": vm_id})()


class Connector:
    def __init__(self, clients: dict[str, Client]) -> None:
        self.clients = clients
        self.timeouts: dict[str, float | None] = {}

    @contextmanager
    def open(self, name: str, *, timeout: float | None = None) -> Iterator[Client]:
        self.timeouts[name] = timeout
        yield self.clients[name]


def payload(clustered: bool) -> ChangePayload:
    params = {"destination": "hv02", "clustered": clustered}
    return ChangePayload(job_id="job-1", host="hv01", vm_id=VM_ID, kind="migrate_vm", params=params)


def test_a_shared_nothing_move_that_outlasts_the_step_is_reported_unconfirmed_not_retried() -> None:
    connector = Connector({"hv01": Client(OperationTimeout("no answer", host="hv01"), True)})
    with pytest.raises(StepError) as caught:
        run_change(connector, payload(clustered=False))  # type: ignore[arg-type]
    assert caught.value.category == "MigrationUnconfirmed" and not caught.value.transient
    assert "may still be under way" in caught.value.message
    assert connector.timeouts["hv01"] == MIGRATION_SECONDS


def test_a_cluster_move_still_under_way_is_retried() -> None:
    connector = Connector({"hv01": Client(OperationTimeout("still moving", host="hv01"), True)})
    with pytest.raises(OperationTimeout):
        run_change(connector, payload(clustered=True))  # type: ignore[arg-type]


def test_a_rerun_after_the_move_finds_the_vm_on_the_destination() -> None:
    connector = Connector({"hv01": Client(VmNotFound("not here", host="hv01"), False), "hv02": Client(None, True)})
    result = run_change(connector, payload(clustered=False))  # type: ignore[arg-type]
    assert result.host == "hv02" and result.result["found"] is True


def test_a_vm_on_neither_host_is_not_found() -> None:
    connector = Connector({"hv01": Client(VmNotFound("not here", host="hv01"), False), "hv02": Client(None, False)})
    with pytest.raises(VmNotFound):
        run_change(connector, payload(clustered=False))  # type: ignore[arg-type]
