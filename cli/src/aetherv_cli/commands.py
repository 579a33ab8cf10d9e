"""The command groups: ``vms`` (with the day-2 changes), ``jobs``, ``hosts`` and ``ip-pools``.

Each command is one API call (see the README's route table); writes that answer ``202`` with a job take ``--wait``.
A VM argument is its id or its exact name: a name is looked up in the inventory first (one more call), and a name
that several VMs share is refused with their ids.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import quote

import click

from aetherv_cli.errors import CliError
from aetherv_cli.requests import read_document
from aetherv_cli.session import Session, output_option, pass_session, wait_options

__all__ = ["register"]


def _q(value: str) -> str:
    return quote(value, safe="")


def _vm(session: Session, ref: str) -> str:
    """The id (quoted for a path) of the VM ``ref`` names: an id as given, else the one VM with that exact name."""
    try:
        uuid.UUID(ref)
    except ValueError:
        pass
    else:
        return _q(ref)
    named = [vm for vm in _every(session, "/api/v1/vms", {"name_prefix": ref}) if vm.get("name") == ref]
    if len(named) == 1:
        return _q(str(named[0]["id"]))
    if not named:
        raise CliError(f"no VM in the inventory has the id or name {ref!r}")
    lines = [f"{vm['id']}  {vm.get('name')} on {vm.get('host')}" for vm in named]
    raise CliError(f"{len(named)} VMs are named {ref!r}: give the id of one", lines)


def _every(session: Session, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
    """Every item of a list route, page after page."""
    items: list[dict[str, Any]] = []
    query = {**params, "limit": "500"}
    while True:
        page = session.client.call("GET", path, params=query)
        items += [item for item in page.get("items", []) if isinstance(item, dict)]
        if not page.get("continuation"):
            return items
        query["continuation"] = str(page["continuation"])


def _params(**values: Any) -> dict[str, str]:
    return {
        key: str(value).lower() if isinstance(value, bool) else str(value)
        for key, value in values.items()
        if value is not None
    }


def _page(session: Session, path: str, kind: str, params: dict[str, str]) -> None:
    session.printer.items(session.client.call("GET", path, params=params), kind)


# -- vms ----------------------------------------------------------------------------------------------------------


@click.group()
def vms() -> None:
    """List, create, change, power and delete VMs."""


@vms.command("list")
@click.option("--host", default=None, help="Only this host's VMs.")
@click.option("--state", default=None, help="Running, Off, Saved, Paused …")
@click.option("--name-prefix", default=None, help="Names starting with this.")
@click.option("--stale/--no-stale", default=None, help="Only stale (or only fresh) VMs.")
@click.option("--expiring-within-hours", type=float, default=None, help="Leases expiring within this many hours.")
@click.option("--limit", type=click.IntRange(1, 500), default=None, help="Page size.")
@click.option("--continuation", default=None, help="The next page's token.")
@output_option
@pass_session
def vms_list(session: Session, **filters: Any) -> None:
    """VMs from the inventory."""
    _page(session, "/api/v1/vms", "vm", _params(**filters))


@vms.command("show")
@click.argument("vm_id", metavar="VM")
@output_option
@pass_session
def vms_show(session: Session, vm_id: str) -> None:
    """One VM: disks, NICs, IPs, OS, uptime, notes, lease."""
    session.printer.document(session.client.call("GET", f"/api/v1/vms/{_vm(session, vm_id)}"))


@vms.command("create")
@click.option("-f", "--file", "path", required=True, help="The request: the API's JSON body, or YAML (- for stdin).")
@click.option("--dry-run", is_flag=True, help="Only validate against the server: nothing is created.")
@click.option("--idempotency-key", default=None, help="Repeat-safe key (Idempotency-Key header).")
@wait_options
@pass_session
def vms_create(session: Session, path: str, dry_run: bool, idempotency_key: str | None, wait: bool) -> None:
    """Create a VM from a request file."""
    body = read_document(path)
    if dry_run:
        answer = session.client.call("POST", "/api/v1/vms", body=body, params={"dry_run": "true"})
        session.printer.document(answer)
        return
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    session.submitted(session.client.submit("POST", "/api/v1/vms", body=body, headers=headers), wait)


@vms.command("delete")
@click.argument("vm_id", metavar="VM")
@wait_options
@pass_session
def vms_delete(session: Session, vm_id: str, wait: bool) -> None:
    """Delete a VM with its disks and folder."""
    session.submitted(session.client.submit("DELETE", f"/api/v1/vms/{_vm(session, vm_id)}"), wait)


def _power(action: str, summary: str) -> None:
    @vms.command(action, help=summary)
    @click.argument("vm_id", metavar="VM")
    @wait_options
    @pass_session
    def command(session: Session, vm_id: str, wait: bool, **options: Any) -> None:
        body = {k: v for k, v in options.items() if v is not None} or None
        session.submitted(session.client.submit("POST", f"/api/v1/vms/{_vm(session, vm_id)}/{action}", body=body), wait)

    if action == "shutdown":
        click.option("--timeout-seconds", type=click.IntRange(10, 3600), default=None, help="Wait for the guest.")(
            command
        )
        click.option("--force/--no-force", default=None, help="Turn it off when the guest did not stop in time.")(
            command
        )


_power("start", "Start a VM.")
_power("stop", "Turn a VM off (no guest shutdown).")
_power("shutdown", "Shut the guest down.")
_power("restart", "Restart a VM.")


@vms.command("update")
@click.argument("vm_id", metavar="VM")
@click.option("--cpu-cores", type=int, default=None, help="Virtual processors.")
@click.option("--memory-gb", type=int, default=None, help="Startup memory in GB.")
@click.option("--notes", default=None, help="The VM's notes.")
@click.option("--allow-restart", is_flag=True, default=None, help="A running VM may be restarted for a resize.")
@wait_options
@pass_session
def vms_update(session: Session, vm_id: str, wait: bool, **fields: Any) -> None:
    """Resize a VM (cpu, memory) and set its notes."""
    body = {k: v for k, v in fields.items() if v is not None}
    session.submitted(session.client.submit("PATCH", f"/api/v1/vms/{_vm(session, vm_id)}", body=body), wait)


vms.add_command(vms_update, "resize")


@vms.command("migrate")
@click.argument("vm_id", metavar="VM")
@click.option("--host", required=True, help="The destination host.")
@click.option("--storage-path", default=None, help="Where a stand-alone VM's files go.")
@wait_options
@pass_session
def vms_migrate(session: Session, vm_id: str, host: str, storage_path: str | None, wait: bool) -> None:
    """Live-migrate a VM to another host."""
    body = {"host": host, **({"storage_path": storage_path} if storage_path else {})}
    session.submitted(session.client.submit("POST", f"/api/v1/vms/{_vm(session, vm_id)}/migrate", body=body), wait)


@vms.group("disks")
def disks() -> None:
    """Add, expand and remove a VM's data disks."""


@disks.command("add")
@click.argument("vm_id", metavar="VM")
@click.option("--size-gb", type=int, required=True)
@wait_options
@pass_session
def disks_add(session: Session, vm_id: str, size_gb: int, wait: bool) -> None:
    """Add a data disk."""
    path = f"/api/v1/vms/{_vm(session, vm_id)}/disks"
    session.submitted(session.client.submit("POST", path, body={"size_gb": size_gb}), wait)


@disks.command("expand")
@click.argument("vm_id", metavar="VM")
@click.argument("disk_id")
@click.option("--size-gb", type=int, required=True, help="The new, larger size.")
@wait_options
@pass_session
def disks_expand(session: Session, vm_id: str, disk_id: str, size_gb: int, wait: bool) -> None:
    """Grow a disk."""
    path = f"/api/v1/vms/{_vm(session, vm_id)}/disks/{_q(disk_id)}/expand"
    session.submitted(session.client.submit("POST", path, body={"size_gb": size_gb}), wait)


@disks.command("remove")
@click.argument("vm_id", metavar="VM")
@click.argument("disk_id")
@wait_options
@pass_session
def disks_remove(session: Session, vm_id: str, disk_id: str, wait: bool) -> None:
    """Detach and delete a data disk (never the boot disk)."""
    session.submitted(session.client.submit("DELETE", f"/api/v1/vms/{_vm(session, vm_id)}/disks/{_q(disk_id)}"), wait)


@vms.group("nics")
def nics() -> None:
    """Add, change and remove a VM's network adapters."""


@nics.command("add")
@click.argument("vm_id", metavar="VM")
@click.option("--network", required=True, help="A virtual switch of the VM's host.")
@click.option("--vlan-id", type=int, default=None)
@wait_options
@pass_session
def nics_add(session: Session, vm_id: str, network: str, vlan_id: int | None, wait: bool) -> None:
    """Add a network adapter."""
    body = {"network": network, **({"vlan_id": vlan_id} if vlan_id is not None else {})}
    session.submitted(session.client.submit("POST", f"/api/v1/vms/{_vm(session, vm_id)}/nics", body=body), wait)


@nics.command("update")
@click.argument("vm_id", metavar="VM")
@click.argument("nic_id")
@click.option("--network", default=None, help="Reconnect to this switch.")
@click.option("--vlan-id", type=int, default=None, help="The access VLAN.")
@click.option("--untagged", is_flag=True, help="Remove the VLAN.")
@wait_options
@pass_session
def nics_update(
    session: Session, *, vm_id: str, nic_id: str, network: str | None, vlan_id: int | None, untagged: bool, wait: bool
) -> None:
    """Reconnect an adapter or change its VLAN."""
    body: dict[str, Any] = {"network": network} if network else {}
    if untagged:
        body["vlan_id"] = None
    elif vlan_id is not None:
        body["vlan_id"] = vlan_id
    session.submitted(
        session.client.submit("PATCH", f"/api/v1/vms/{_vm(session, vm_id)}/nics/{_q(nic_id)}", body=body), wait
    )


@nics.command("remove")
@click.argument("vm_id", metavar="VM")
@click.argument("nic_id")
@wait_options
@pass_session
def nics_remove(session: Session, vm_id: str, nic_id: str, wait: bool) -> None:
    """Remove an adapter (never the last)."""
    session.submitted(session.client.submit("DELETE", f"/api/v1/vms/{_vm(session, vm_id)}/nics/{_q(nic_id)}"), wait)


@vms.group("checkpoints")
def checkpoints() -> None:
    """List, create, apply and remove a VM's checkpoints."""


@checkpoints.command("list")
@click.argument("vm_id", metavar="VM")
@output_option
@pass_session
def checkpoints_list(session: Session, vm_id: str) -> None:
    """The VM's checkpoints (read from its host)."""
    _page(session, f"/api/v1/vms/{_vm(session, vm_id)}/checkpoints", "checkpoint", {})


@checkpoints.command("create")
@click.argument("vm_id", metavar="VM")
@click.option("--name", required=True)
@wait_options
@pass_session
def checkpoints_create(session: Session, vm_id: str, name: str, wait: bool) -> None:
    """Make a production checkpoint."""
    path = f"/api/v1/vms/{_vm(session, vm_id)}/checkpoints"
    session.submitted(session.client.submit("POST", path, body={"name": name}), wait)


@checkpoints.command("apply")
@click.argument("vm_id", metavar="VM")
@click.argument("checkpoint_id")
@click.option("--allow-restart", is_flag=True, help="A running VM may be restarted.")
@wait_options
@pass_session
def checkpoints_apply(session: Session, vm_id: str, checkpoint_id: str, allow_restart: bool, wait: bool) -> None:
    """Revert the VM to a checkpoint."""
    path = f"/api/v1/vms/{_vm(session, vm_id)}/checkpoints/{_q(checkpoint_id)}/apply"
    body = {"allow_restart": True} if allow_restart else None
    session.submitted(session.client.submit("POST", path, body=body), wait)


@checkpoints.command("remove")
@click.argument("vm_id", metavar="VM")
@click.argument("checkpoint_id")
@wait_options
@pass_session
def checkpoints_remove(session: Session, vm_id: str, checkpoint_id: str, wait: bool) -> None:
    """Delete a checkpoint."""
    path = f"/api/v1/vms/{_vm(session, vm_id)}/checkpoints/{_q(checkpoint_id)}"
    session.submitted(session.client.submit("DELETE", path), wait)


@vms.group("lease")
def lease() -> None:
    """A VM's lease (it is deleted when the lease expires)."""


@lease.command("set")
@click.argument("vm_id", metavar="VM")
@click.option("--hours", type=float, default=None, help="Expire this many hours from now.")
@click.option("--expires-at", default=None, help="Expire at this moment (ISO 8601).")
@click.option("--clear", is_flag=True, help="Remove the lease.")
@output_option
@pass_session
def lease_set(session: Session, vm_id: str, hours: float | None, expires_at: str | None, clear: bool) -> None:
    """Set, extend or clear the lease (exactly one of --hours, --expires-at, --clear)."""
    if sum((hours is not None, expires_at is not None, clear)) != 1:
        raise click.UsageError("give exactly one of --hours, --expires-at, --clear")
    body: dict[str, Any] = {"expires_at": None} if clear else {"hours": hours} if hours is not None else {}
    if expires_at is not None:
        body = {"expires_at": expires_at}
    session.printer.document(session.client.call("PUT", f"/api/v1/vms/{_vm(session, vm_id)}/lease", body=body))


# -- jobs ---------------------------------------------------------------------------------------------------------


@click.group()
def jobs() -> None:
    """List, show, watch, cancel and decide on jobs."""


@jobs.command("list")
@click.option("--status", default=None, help="Pending, AwaitingApproval, Running, Succeeded, Failed, Canceled.")
@click.option("--kind", default=None, help="create_vm, delete_vm, power_vm …")
@click.option("--vm-id", default=None)
@click.option("--requested-by", default=None)
@click.option("--limit", type=click.IntRange(1, 500), default=None)
@click.option("--continuation", default=None)
@output_option
@pass_session
def jobs_list(session: Session, **filters: Any) -> None:
    """Jobs, newest first."""
    _page(session, "/api/v1/jobs", "job", _params(**filters))


@jobs.command("show")
@click.argument("job_id")
@output_option
@pass_session
def jobs_show(session: Session, job_id: str) -> None:
    """One job (whatever its status)."""
    session.printer.document(session.client.job(_q(job_id)).job)


@jobs.command("watch")
@click.argument("job_id")
@output_option
@pass_session
def jobs_watch(session: Session, job_id: str) -> None:
    """Follow a job to its end; exit 0 succeeded, 1 failed, 2 canceled."""
    session.follow(_q(job_id))


@jobs.command("cancel")
@click.argument("job_id")
@wait_options
@pass_session
def jobs_cancel(session: Session, job_id: str, wait: bool) -> None:
    """Cancel a running job (what it created is removed)."""
    session.submitted(session.client.submit("POST", f"/api/v1/jobs/{_q(job_id)}/cancel"), wait)


@jobs.command("approve")
@click.argument("job_id")
@wait_options
@pass_session
def jobs_approve(session: Session, job_id: str, wait: bool) -> None:
    """Approve a create awaiting approval (Admin, not its requester)."""
    session.submitted(session.client.submit("POST", f"/api/v1/jobs/{_q(job_id)}/approve"), wait)


@jobs.command("reject")
@click.argument("job_id")
@click.option("--reason", required=True)
@wait_options
@pass_session
def jobs_reject(session: Session, job_id: str, reason: str, wait: bool) -> None:
    """Reject a create awaiting approval."""
    path = f"/api/v1/jobs/{_q(job_id)}/reject"
    session.submitted(session.client.submit("POST", path, body={"reason": reason}), wait)


# -- hosts and pools ----------------------------------------------------------------------------------------------


@click.group()
def hosts() -> None:
    """Hyper-V hosts: list, show, probe."""


@hosts.command("list")
@click.option("--limit", type=click.IntRange(1, 500), default=None)
@click.option("--continuation", default=None)
@output_option
@pass_session
def hosts_list(session: Session, **paging: Any) -> None:
    """Hosts with connection state and capacity."""
    _page(session, "/api/v1/hosts", "host", _params(**paging))


@hosts.command("show")
@click.argument("host")
@output_option
@pass_session
def hosts_show(session: Session, host: str) -> None:
    """One host."""
    session.printer.document(session.client.call("GET", f"/api/v1/hosts/{_q(host)}"))


@hosts.command("probe")
@click.argument("host")
@output_option
@pass_session
def hosts_probe(session: Session, host: str) -> None:
    """Each stage of reaching a host, timed; exit 1 when a stage failed."""
    report = session.client.call("POST", f"/api/v1/hosts/{_q(host)}/probe")
    session.printer.document(report)
    if isinstance(report, dict) and report.get("ok") is False:
        raise click.exceptions.Exit(1)


@click.group("ip-pools")
def ip_pools() -> None:
    """IP address pools: list, show, put, delete."""


@ip_pools.command("list")
@output_option
@pass_session
def pools_list(session: Session) -> None:
    """Pools with usage."""
    _page(session, "/api/v1/ip-pools", "pool", {})


@ip_pools.command("show")
@click.argument("pool")
@output_option
@pass_session
def pools_show(session: Session, pool: str) -> None:
    """One pool with its allocations."""
    session.printer.document(session.client.call("GET", f"/api/v1/ip-pools/{_q(pool)}"))


@ip_pools.command("put")
@click.argument("pool")
@click.option("-f", "--file", "path", required=True, help="The pool: the API's JSON body, or YAML (- for stdin).")
@output_option
@pass_session
def pools_put(session: Session, pool: str, path: str) -> None:
    """Create or replace a pool (Admin)."""
    body = read_document(path)
    session.printer.document(session.client.call("PUT", f"/api/v1/ip-pools/{_q(pool)}", body=body))


@ip_pools.command("delete")
@click.argument("pool")
@pass_session
def pools_delete(session: Session, pool: str) -> None:
    """Delete a pool (refused while an address is allocated)."""
    session.client.call("DELETE", f"/api/v1/ip-pools/{_q(pool)}")
    session.printer.message(f"deleted IP pool {pool}")


def register(root: click.Group) -> None:
    """Add the command groups to the root command."""
    for group in (vms, jobs, hosts, ip_pools):
        root.add_command(group)
