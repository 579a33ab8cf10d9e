"""WinRM operation spans and metrics against the simulated host: round trips checked on hvsim's own counters."""

from __future__ import annotations

import pytest

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import VmNotFound
from functions.telemetry import job_scope, names
from tests.support.telemetry import capture
from tools.hvsim.lab import LabHost

MISSING_VM = "00000000-0000-0000-0000-00000000beef"


def http_round_trips(host: LabHost) -> int:
    return int(host.server.counters.snapshot()["http_round_trips"])


def test_each_operation_is_a_span_with_the_round_trips_the_host_counted(hv: HyperVClient, standalone: LabHost) -> None:
    sink = capture()
    hv.collect_inventory()  # opens the session (NTLM and the shell), so the next operation runs warm
    sink.exporter.clear()
    before_trips = sink.total(names.WINRM_ROUND_TRIPS, host=standalone.name, operation="list_switches")
    counted = http_round_trips(standalone)
    with job_scope("job-winrm-1"):
        hv.list_switches()
    host_trips = http_round_trips(standalone) - counted

    [span] = sink.spans(names.SPAN_WINRM)
    assert span.name == "winrm list_switches"
    assert span.attributes is not None
    assert span.attributes[names.HOST] == standalone.name
    assert span.attributes[names.OPERATION] == "list_switches"
    assert span.attributes[names.JOB_ID] == "job-winrm-1"
    assert span.attributes[names.OUTCOME] == "ok"
    assert span.attributes[names.ROUND_TRIPS] == host_trips  # command, send, receive(s), signal: as hvsim saw them
    assert host_trips >= 4
    after_trips = sink.total(names.WINRM_ROUND_TRIPS, host=standalone.name, operation="list_switches")
    assert after_trips - before_trips == host_trips
    assert sink.total(names.WINRM_DURATION, host=standalone.name, operation="list_switches", outcome="ok") >= 1


def test_a_failed_operation_is_marked_with_its_category_and_counted(hv: HyperVClient, standalone: LabHost) -> None:
    sink = capture()
    sink.exporter.clear()
    errors = sink.total(names.WINRM_ERRORS, host=standalone.name, operation="get_vm", category="VmNotFound")
    with pytest.raises(VmNotFound):
        hv.get_vm(MISSING_VM)
    [span] = sink.spans(names.SPAN_WINRM)
    assert span.attributes is not None
    assert span.attributes[names.ERROR_CATEGORY] == "VmNotFound"
    assert span.attributes[names.OUTCOME] == "error"
    assert not span.status.is_ok
    after = sink.total(names.WINRM_ERRORS, host=standalone.name, operation="get_vm", category="VmNotFound")
    assert after - errors == 1
