"""The ``aetherv`` command line against the whole local stack: it creates, watches and deletes a VM and ends each
command with the documented exit code (0 succeeded, 1 failed or refused, 2 canceled, 3 usage or auth).

The CLI runs in the test process (click's runner) and talks HTTP to the devhost; outcomes are checked on the peers'
own state: hvsim's hosts and guests, the job, pool and audit tables in Azurite.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from aetherv_cli.main import cli
from aetherv_cli.session import Overrides
from azure.data.tables import TableServiceClient
from click.testing import CliRunner, Result

from functions.audit.log import AuditLog
from functions.ippools.store import POOL_ROW, PoolStore
from tests.e2e.test_ip_pools import pool_document
from tests.e2e.test_vm_changes import refresh
from tests.e2e.test_vm_workflows import linux
from tools.azurite import Azurite
from tools.stack import Stack


def aetherv(stack: Stack, tmp_path: Path, *args: str, stdin: str | None = None) -> Result:
    """Run ``aetherv --url <stack> ARGS`` in-process (no sign-in saved: the config directory is empty)."""
    runner = CliRunner()
    env = {"AETHERV_CONFIG_DIR": str(tmp_path / "config"), "AETHERV_URL": None, "AETHERV_SCOPE": None}
    return runner.invoke(cli, ["--url", stack.base_url, *args], obj=Overrides(poll_interval=0.2), env=env, input=stdin)


def request_file(tmp_path: Path, name: str, payload: dict[str, Any], suffix: str = ".yaml") -> str:
    path = tmp_path / f"{name}{suffix}"
    text = json.dumps(payload) if suffix == ".json" else yaml.safe_dump(payload, sort_keys=False)
    path.write_text(text, encoding="utf-8")
    return str(path)


def lab_vms(stack: Stack, name: str) -> list[Any]:
    return [vm for host in stack.lab.hosts for vm in host.model.vms.values() if vm.name == name]


def jobs_for(stack: Stack, name: str) -> list[Any]:
    page = stack.jobs.list(kind="create_vm", page_size=500)
    return [job for job in page.items if (job.name or "") == name]


def test_create_watch_and_delete_a_vm(synced: Stack, tmp_path: Path) -> None:
    stack = synced
    created = aetherv(stack, tmp_path, "vms", "create", "-f", request_file(tmp_path, "vm", linux("cli-e2e01")))
    assert created.exit_code == 0, created.output
    match = re.fullmatch(r"job (\S+) Pending: (\S+)\n", created.stdout)
    assert match, created.stdout
    job_id, location = match.groups()
    assert location == f"{stack.base_url}/api/v1/jobs/{job_id}"

    watched = aetherv(stack, tmp_path, "-o", "json", "jobs", "watch", job_id)
    assert watched.exit_code == 0, watched.output
    job = json.loads(watched.stdout)
    assert job["status"] == "Succeeded"
    for step in ("preflight", "create_vm", "wait_for_apply"):
        assert re.search(rf"^✓ {step} Succeeded", watched.stderr, re.MULTILINE), watched.stderr
    # the job's log follows: its steps, the host's own lines, the guest's states (GET /api/v1/jobs/{id}/log)
    assert re.search(r"info +hv0\d: create_vm cli-e2e01 requested by", watched.stderr), watched.stderr
    assert "step create_vm started" not in watched.stderr  # the step lines above say it once
    assert re.search(r"info +vm_create hv0\d: create_vm: created VM cli-e2e01", watched.stderr), watched.stderr
    # the last state change, from the last state a poll could read (a poll that reads none is no news)
    assert re.search(r"guest state: \S+ → provisioningapplied$", watched.stderr, re.MULTILINE), watched.stderr
    stored = stack.jobs.get(job_id)
    assert stored is not None
    assert stored.status == "Succeeded"
    vm_id = job["result"]["vm_id"]
    [model] = lab_vms(stack, "cli-e2e01")
    assert model.guest.agent.applied.hostname == "cli-e2e01"

    shown = aetherv(stack, tmp_path, "vms", "show", vm_id, "-o", "yaml")
    assert shown.exit_code == 0, shown.output
    assert yaml.safe_load(shown.stdout) == stack.request("GET", f"/api/v1/vms/{vm_id}")[2]
    listed = aetherv(stack, tmp_path, "vms", "list", "--name-prefix", "cli-e2e01")
    assert listed.exit_code == 0
    assert re.search(rf"^{vm_id}\s+cli-e2e01\s+hv03\s+Running", listed.stdout, re.MULTILINE), listed.stdout

    deleted = aetherv(stack, tmp_path, "vms", "delete", vm_id, "--wait")
    assert deleted.exit_code == 0, deleted.output
    assert "Succeeded" in deleted.stdout
    assert lab_vms(stack, "cli-e2e01") == []
    assert stack.repo.get_vm(vm_id) is None


def test_a_failed_create_exits_1_and_a_canceled_one_2(synced: Stack, tmp_path: Path) -> None:
    stack = synced
    control = stack.lab.control.url
    stack.request_to(
        control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"fail_module": "mod_net", "poll_interval": 0.1}
    )
    try:
        path = request_file(tmp_path, "bad", linux("cli-fail01", host="hv02"), ".json")
        failed = aetherv(stack, tmp_path, "vms", "create", "-f", path, "--wait")
    finally:
        stack.request_to(control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"poll_interval": 0.1})
    assert failed.exit_code == 1, failed.output
    assert re.search(r"^status\s+Failed$", failed.stdout, re.MULTILINE), failed.stdout
    assert "GuestProvisioningFailed" in failed.stdout
    [job] = jobs_for(stack, "cli-fail01")
    assert job.status == "Failed"
    assert lab_vms(stack, "cli-fail01") == []  # compensated

    stack.request_to(control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"silent": True, "poll_interval": 0.1})
    try:
        path = request_file(tmp_path, "cancel", linux("cli-cancel01", host="hv02"))
        created = aetherv(stack, tmp_path, "-o", "json", "vms", "create", "-f", path)
        assert created.exit_code == 0, created.output
        job_id = json.loads(created.stdout)["id"]
        stack.wait(job_id, 60, until=lambda s: (s.get("customStatus") or {}).get("step") == "wait_for_key")
        canceled = aetherv(stack, tmp_path, "jobs", "cancel", job_id, "--wait")
    finally:
        stack.request_to(control, "PUT", "/hvsim/hosts/hv02/guest-behaviour", {"poll_interval": 0.1})
    assert canceled.exit_code == 2, canceled.output
    assert re.search(r"^status\s+Canceled$", canceled.stdout, re.MULTILINE), canceled.stdout
    stored = stack.jobs.get(job_id)
    assert stored is not None
    assert stored.status == "Canceled"
    assert lab_vms(stack, "cli-cancel01") == []
    again = aetherv(stack, tmp_path, "jobs", "watch", job_id)
    assert again.exit_code == 2


def test_a_bad_request_file_exits_1_with_each_field_error_on_its_own_line(synced: Stack, tmp_path: Path) -> None:
    bad = {"name": "1234", "cpu_cores": 0, "memory_gb": "x", "image": "Ubuntu 24.04 LTS"}
    for dry_run in ((), ("--dry-run",)):
        result = aetherv(synced, tmp_path, "vms", "create", "-f", request_file(tmp_path, "bad", bad), *dry_run)
        assert result.exit_code == 1, result.output
        lines = result.stderr.splitlines()
        assert lines[0].startswith("Error: The request is invalid (422)")
        assert "name: must not be all digits" in lines
        assert "cpu_cores: Input should be greater than or equal to 1" in lines
        assert any(line.startswith("memory_gb: ") for line in lines)
        assert any(line.startswith("guest: ") for line in lines)  # an image needs the guest section
    assert jobs_for(synced, "1234") == []
    not_yaml = tmp_path / "broken.yaml"
    not_yaml.write_text("name: [unclosed\n", encoding="utf-8")
    broken = aetherv(synced, tmp_path, "vms", "create", "-f", str(not_yaml))
    assert broken.exit_code == 1
    assert "is not valid YAML" in broken.stderr
    missing = aetherv(synced, tmp_path, "vms", "show", "0d6c1f2e-0000-4000-8000-000000000000")
    assert missing.exit_code == 1
    assert "Not found (404)" in missing.stderr  # an id goes to the server as it is


def test_usage_errors_exit_3(synced: Stack, tmp_path: Path) -> None:
    for args in (("vms", "create"), ("vms", "frobnicate"), ("--output", "xml", "vms", "list"), ("jobs", "watch")):
        result = aetherv(synced, tmp_path, *args)
        assert result.exit_code == 3, (args, result.output)
    assert aetherv(synced, tmp_path, "vms", "lease", "set", "x", "--hours", "2", "--clear").exit_code == 3
    assert aetherv(synced, tmp_path, "--help").exit_code == 0


@pytest.fixture
def pool_rows(stack: Stack, azurite: Azurite) -> Any:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    store = PoolStore(service, stack.repo.hosts_table.removesuffix("Hosts"))

    def rows(pool: str) -> list[str]:
        client = service.get_table_client(store.table_name)
        found = client.query_entities("PartitionKey eq @p", parameters={"p": pool})
        return [str(row["RowKey"]) for row in found if row["RowKey"] != POOL_ROW]

    return rows


def test_a_dry_run_checks_everything_and_creates_nothing(
    synced: Stack, tmp_path: Path, azurite: Azurite, pool_rows: Any
) -> None:
    stack = synced
    pool = request_file(tmp_path, "pool", pool_document("10.77.0", 10, 20), ".yaml")
    put = aetherv(stack, tmp_path, "-o", "json", "ip-pools", "put", "cli-pool", "-f", pool)
    assert put.exit_code == 0, put.output
    assert json.loads(put.stdout)["name"] == "cli-pool"
    payload = linux("cli-dry01", host="hv03")
    payload.pop("network")
    payload["guest"]["ipv4"] = {"pool": "cli-pool"}
    path = request_file(tmp_path, "dry", payload)

    checked = aetherv(stack, tmp_path, "-o", "json", "vms", "create", "-f", path, "--dry-run")
    assert checked.exit_code == 0, checked.output
    answer = json.loads(checked.stdout)
    assert answer["valid"] is True
    assert (answer["host"], answer["ip_pool"], answer["requires_approval"]) == ("hv03", "cli-pool", False)
    assert answer["request"]["network"] == "External"  # the pool's
    assert answer["request"]["vlan_id"] == 120
    assert answer["request"]["guest"]["admin_password"] == "**********"
    assert "correct horse" not in checked.stdout

    del payload["host"]  # placed automatically: the host placement would pick now
    placed = aetherv(
        stack, tmp_path, "-o", "yaml", "vms", "create", "-f", request_file(tmp_path, "p", payload), "--dry-run"
    )
    assert placed.exit_code == 0, placed.output
    assert yaml.safe_load(placed.stdout)["host"] in [host.name for host in stack.lab.hosts]

    # nothing happened anywhere: no job, no VM on any host, no address allocated, no audit record
    assert jobs_for(stack, "cli-dry01") == []
    assert lab_vms(stack, "cli-dry01") == []
    assert pool_rows("cli-pool") == []
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    audit = AuditLog(service, stack.repo.hosts_table.removesuffix("Hosts")).list(page_size=1000).items
    assert [r for r in audit if r.target.get("name") == "cli-dry01"] == []
    assert [r.action for r in audit if r.target.get("pool") == "cli-pool"] == ["put_ip_pool"]

    full = pool_document("10.78.0", 10, 11, reserved=["10.78.0.10", "10.78.0.11"])  # nothing to hand out
    assert (
        aetherv(stack, tmp_path, "ip-pools", "put", "cli-full", "-f", request_file(tmp_path, "f", full)).exit_code == 0
    )
    payload["guest"]["ipv4"] = {"pool": "cli-full"}
    exhausted = aetherv(stack, tmp_path, "vms", "create", "-f", request_file(tmp_path, "x", payload), "--dry-run")
    assert exhausted.exit_code == 1, exhausted.output
    assert "Conflict (409): IP pool cli-full has no free address" in exhausted.stderr
    for name in ("cli-pool", "cli-full"):
        assert aetherv(stack, tmp_path, "ip-pools", "delete", name).exit_code == 0
    assert aetherv(stack, tmp_path, "ip-pools", "show", "cli-pool").exit_code == 1


def test_json_and_yaml_round_trip_the_api_documents(synced: Stack, tmp_path: Path) -> None:
    stack = synced
    for args, path in ((("hosts", "list"), "/api/v1/hosts"), (("hosts", "show", "hv01"), "/api/v1/hosts/hv01")):
        as_json = aetherv(stack, tmp_path, "-o", "json", *args)
        as_yaml = aetherv(stack, tmp_path, *args, "-o", "yaml")
        assert as_json.exit_code == as_yaml.exit_code == 0
        expected = stack.request("GET", path)[2]
        documents = [expected, json.loads(as_json.stdout), yaml.safe_load(as_yaml.stdout)]
        for document in documents:
            for item in document.get("items", [document]):
                for volatile in ("last_seen", "last_attempt", "facts", "free_memory_gb"):  # a sync may run between
                    item.pop(volatile, None)
        assert documents[1] == documents[0]
        assert documents[2] == documents[0]
    table = aetherv(stack, tmp_path, "hosts", "list")
    assert re.search(r"^hv01\s+yes\s+hvclu01", table.stdout, re.MULTILINE), table.stdout
    inventory = aetherv(stack, tmp_path, "inventory")
    assert re.search(r"^total_hosts\s+3$", inventory.stdout, re.MULTILINE), inventory.stdout


def test_a_dry_run_says_when_a_create_would_wait_for_approval(approving: Stack, tmp_path: Path) -> None:
    payload = linux("cli-appr01", host="hv02")
    result = aetherv(
        approving, tmp_path, "-o", "json", "vms", "create", "-f", request_file(tmp_path, "a", payload), "--dry-run"
    )
    assert result.exit_code == 0, result.output
    answer = json.loads(result.stdout)
    assert (answer["host"], answer["requires_approval"]) == ("hv02", True)
    assert "hv02" in answer["approval_required_by"]
    payload["host"] = "hv01"
    free = aetherv(
        approving, tmp_path, "-o", "json", "vms", "create", "-f", request_file(tmp_path, "b", payload), "--dry-run"
    )
    assert json.loads(free.stdout)["requires_approval"] is False
    assert jobs_for(approving, "cli-appr01") == []


def test_a_vm_is_named_by_its_id_or_its_exact_name(synced: Stack, tmp_path: Path) -> None:
    stack, control = synced, synced.lab.control.url
    twins = [stack.request_to(control, "POST", f"/hvsim/hosts/{h}/vms", {"name": "cli-twin"}) for h in ("hv01", "hv02")]
    single = stack.request_to(control, "POST", "/hvsim/hosts/hv03/vms", {"name": "cli-named", "state": "Off"})
    assert all(answer[0] == 200 for answer in [*twins, single]), [*twins, single]
    for host in ("hv01", "hv02", "hv03"):
        refresh(stack, host)
    [named] = lab_vms(stack, "cli-named")

    shown = aetherv(stack, tmp_path, "-o", "json", "vms", "show", "cli-named")
    assert shown.exit_code == 0, shown.output
    assert json.loads(shown.stdout)["id"] == named.id
    started = aetherv(stack, tmp_path, "vms", "start", "cli-named", "--wait")
    assert started.exit_code == 0, started.output
    assert named.state == "Running"  # on the host itself

    before = {twin.id: twin.state for twin in lab_vms(stack, "cli-twin")}
    ambiguous = aetherv(stack, tmp_path, "vms", "stop", "cli-twin", "--wait")
    assert ambiguous.exit_code == 1, ambiguous.output
    assert "2 VMs are named 'cli-twin': give the id of one" in ambiguous.stderr
    assert all(vm_id in ambiguous.stderr for vm_id in before)
    assert {twin.id: twin.state for twin in lab_vms(stack, "cli-twin")} == before  # nothing was asked of a host
    missing = aetherv(stack, tmp_path, "vms", "delete", "cli-nobody")
    assert missing.exit_code == 1 and "no VM in the inventory has the id or name 'cli-nobody'" in missing.stderr
