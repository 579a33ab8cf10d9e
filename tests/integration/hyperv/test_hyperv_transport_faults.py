"""Faults and hostile input through the real client stack: timeouts, unreachable hosts, an injection corpus."""

from __future__ import annotations

import json
import time
import urllib.request

import pytest

from functions.hyperv.errors import HostUnreachable, InvalidParameters, OperationTimeout
from functions.hyperv.models import CreateVmSpec, PreflightSpec, PrepareDiskSpec
from tools.hvsim.lab import Lab, LabHost

from .conftest import ClientFactory

# Strings that would break (or subvert) a script that pasted parameters into its text.
CORPUS = [
    "it's",
    'say "hi"',
    "$(Remove-Item C:\\ -Recurse)",
    "${env:COMPUTERNAME}",
    "`$x`n",
    "a; Stop-Computer -Force",
    "a | Out-Null",
    "line1\nline2\r\n",
    "@'\nhere-string\n'@",
    "\u0430pp\u0440rod",  # Cyrillic а and р: looks like "appprod"
    "\u201csmart quotes\u201d \u2018x\u2019",
    "emoji \U0001f680 and CJK \u4f60\u597d",
    "tab\there & <xml/> %PATH% !x!",
    "",
]
FOLDER_SAFE = [value for value in CORPUS if value and not set(value) & set('"<>|:*?\\/\n\r\t')]


def test_operation_timeout_against_a_slow_host(lab: Lab, connect: ClientFactory, standalone: LabHost) -> None:
    standalone.server.faults.set_slow_operation("collect_inventory", 4000)
    settings = lab.winrm_settings(connect_timeout=2, operation_timeout=1, read_timeout=3)
    started = time.monotonic()
    with connect("hv03", settings=settings, timeout=1.5) as hv, pytest.raises(OperationTimeout) as caught:
        hv.collect_inventory()
    assert time.monotonic() - started < 3.5
    assert caught.value.transient
    assert caught.value.host == "hv03"


def test_read_timeout_when_every_round_trip_is_slow(lab: Lab, connect: ClientFactory, standalone: LabHost) -> None:
    standalone.server.faults.update({"latency_ms": 2500})
    settings = lab.winrm_settings(connect_timeout=2, operation_timeout=1, read_timeout=1.5)
    started = time.monotonic()
    with connect("hv03", settings=settings) as hv, pytest.raises(OperationTimeout):
        hv.list_switches()
    assert time.monotonic() - started < 2.5


def test_latency_is_added_per_round_trip(lab: Lab, connect: ClientFactory, standalone: LabHost) -> None:
    with connect("hv03") as hv:
        hv.list_switches()  # authenticate and open the shell first
        standalone.server.counters.reset()
        standalone.server.faults.update({"latency_ms": 100})
        started = time.monotonic()
        hv.list_switches()
        elapsed = time.monotonic() - started
        trips = standalone.server.counters.snapshot()["http_round_trips"]
    assert trips >= 3
    assert elapsed >= trips * 0.1


def test_refused_connection_is_host_unreachable_within_the_connect_timeout(lab: Lab, connect: ClientFactory) -> None:
    request = urllib.request.Request(f"{lab.control.url}/hvsim/hosts/hv02/down", data=b"{}", method="POST")
    with urllib.request.urlopen(request, timeout=5) as response:
        assert json.loads(response.read())["refuse_connections"] is True
    settings = lab.winrm_settings(connect_timeout=2)
    started = time.monotonic()
    with connect("hv02", settings=settings) as hv, pytest.raises(HostUnreachable) as caught:
        hv.collect_inventory()
    assert time.monotonic() - started < 2
    assert caught.value.transient
    assert caught.value.host == "hv02"
    request = urllib.request.Request(f"{lab.control.url}/hvsim/hosts/hv02/up", data=b"{}", method="POST")
    urllib.request.urlopen(request, timeout=5).close()
    with connect("hv02") as hv:
        assert hv.collect_inventory().host.computer_name == "HV02"


def test_injection_corpus_reaches_kvp_verbatim(connect: ClientFactory, standalone: LabHost) -> None:
    vm_id = next(iter(standalone.model.vms))
    items = {f"corpus.{index}": value for index, value in enumerate(CORPUS)}
    items.update({f"name {value}"[:100]: "x" for value in CORPUS if value})
    with connect("hv03") as hv:
        hv.write_host_kvp(vm_id, items, remove_prefix="$(", remove=["a; b", "`n"])
    assert standalone.model.vm(vm_id).host_items == items
    received = standalone.server.received_operations("write_host_kvp")[-1].params
    assert [item["name"] for item in received["items"]] == list(items)
    assert [item["data"] for item in received["items"]] == list(items.values())
    assert received["remove"] == ["a; b", "`n"]
    assert received["remove_prefix"] == "$("


@pytest.mark.parametrize("name", [value for value in CORPUS if value])
def test_injection_corpus_as_vm_names(connect: ClientFactory, standalone: LabHost, name: str) -> None:
    with connect("hv03") as hv:
        report = hv.preflight_create(PreflightSpec(name=name, memory_gb=1))
        name_check = report.checks[0]
        assert standalone.server.received_operations("preflight_create")[-1].params["name"] == name
        if name not in FOLDER_SAFE:
            assert not name_check.ok
            assert name in name_check.message
            with pytest.raises(InvalidParameters) as caught:
                hv.prepare_disk(PrepareDiskSpec(vm_name=name, job_id="job-x", disk_gb=10))
            assert name in caught.value.message
            return
        assert name_check.ok
        disk = hv.prepare_disk(PrepareDiskSpec(vm_name=name, job_id="job-x", image_name="Debian 12"))
        vm = hv.create_vm(
            CreateVmSpec(name=name, job_id="job-x", disk_path=disk.path, cpu_count=1, memory_gb=1, os_family="linux")
        )
        assert vm.name == name
        assert disk.path == f"C:\\Hyper-V\\{name}\\{name}.vhdx"
        assert hv.preflight_create(PreflightSpec(name=name, memory_gb=1)).checks[0].ok is False
        assert hv.remove_vm(vm.id).folder_removed
    for operation in standalone.server.received_operations():
        for key in ("name", "vm_name"):
            if key in operation.params:
                assert operation.params[key] == name
