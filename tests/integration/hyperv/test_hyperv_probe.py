"""The host probe against simulated hosts: real sockets, real TLS with the lab's CA, pywinrm with NTLM, the runner.

Each failure is made on the peer (a refused listener, a certificate for other names, a slow script) or by the app's
own settings (a wrong password, no CA bundle, a name that does not resolve), and the report is checked against what
the simulated host saw: its certificate, its counters, the operations it received.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from functions.errors import HostNotConfigured
from functions.hyperv.connector import HostConnector
from functions.hyperv.probe import probe_host
from functions.hyperv.probe_report import ProbeReport
from functions.settings import HostEndpoint, Secret, WinRMSettings
from tools.hvsim.lab import Lab, LabHost
from tools.hvsim.protocol.server import WinRMHostServer
from tools.hvsim.protocol.tls import CertificateAuthority, HostCertificate

STAGES = ["name_resolution", "tcp", "tls", "authentication", "powershell"]
LOOPBACK = "127.0.0.1"


def probe(lab: Lab, host: LabHost | WinRMHostServer | HostEndpoint, settings: WinRMSettings, **options: Any) -> Any:
    endpoint = host if isinstance(host, HostEndpoint) else HostEndpoint(host.name, _port(host))
    options.setdefault("address", lab.addresses.get(endpoint.name))
    return probe_host(endpoint, settings=settings, **options)


def _port(host: LabHost | WinRMHostServer) -> int:
    port = host.port if isinstance(host, LabHost) else host.https_port
    assert port is not None
    return port


def statuses(report: ProbeReport) -> dict[str, str]:
    return {stage.name: stage.status for stage in report.stages}


def stage(report: ProbeReport, name: str) -> Any:
    return next(item for item in report.stages if item.name == name)


def assert_skipped_after(report: ProbeReport, failed: str) -> None:
    later = STAGES[STAGES.index(failed) + 1 :]
    for name in later:
        item = stage(report, name)
        assert item.status == "skipped" and not item.ok and item.duration_ms is None, item
    assert report.failed_stage == failed
    assert not report.ok
    assert stage(report, failed).status == "failed"
    assert report.summary.startswith(stage(report, failed).title + ": ")


@pytest.fixture
def secrets_logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    caplog.set_level(logging.DEBUG)
    return caplog


def test_every_stage_passes_and_the_report_carries_the_hosts_certificate(
    lab: Lab, standalone: LabHost, winrm_settings: WinRMSettings
) -> None:
    report = probe(lab, standalone, winrm_settings)

    assert report.ok and report.failed_stage is None, report.summary
    assert [s.name for s in report.stages] == STAGES
    assert all(s.status == "ok" and s.ok for s in report.stages)
    assert all(isinstance(s.duration_ms, int) and s.duration_ms >= 0 for s in report.stages)
    assert report.duration_ms >= sum(s.duration_ms or 0 for s in report.stages) - len(STAGES)
    assert report.summary.startswith(f"{standalone.name} passed every stage")
    assert report.endpoint == f"https://{standalone.name}:{standalone.port}/wsman"
    assert report.address == LOOPBACK
    assert (
        stage(report, "name_resolution").detail
        == f"{standalone.name} → {LOOPBACK} (AETHERV_HOST_ADDRESSES override; no DNS lookup)"
    )
    # The certificate the simulated host presents, as the lab's CA issued it.
    served = standalone.server.certificate
    assert served is not None
    cert = report.certificate
    assert cert is not None
    assert cert.subject == f"CN={standalone.name}"
    assert cert.issuer == "CN=Aether-V hvsim lab CA"
    assert cert.sha256_fingerprint == hashlib.sha256(served.der).digest().hex(":").upper()
    assert set(cert.names) == {standalone.name, "localhost", LOOPBACK}
    assert cert.not_before < report.probed_at < cert.not_after
    assert 28 <= cert.expires_in_days <= 30  # the lab issues for 30 days
    assert cert.trusted and cert.trust_error is None and cert.name_matches
    assert cert.checked_name == LOOPBACK  # the transport connects to the override and checks that
    assert cert.trust_store.startswith(f"the CA bundle {lab.ca.ca_pem_path}")
    assert cert.tls_version in ("TLSv1.2", "TLSv1.3")
    # The script ran through the runner with its parameters as data, and the host answered as itself.
    assert report.computer_name == standalone.name.upper()
    assert report.powershell_version == "5.1.20348.2849"
    received = standalone.server.received_operations("ping")
    assert len(received) == 1
    assert list(received[0].params) == ["probe"] and len(received[0].params["probe"]) == 16
    counters = standalone.server.counters.snapshot()
    assert counters["shells_opened"] == counters["shells_deleted"] == 1  # the probe closes what it opened
    assert counters["auth_failures"] == 0


def test_a_refused_connection_fails_at_tcp_in_plain_words(
    lab: Lab, standalone: LabHost, winrm_settings: WinRMSettings
) -> None:
    standalone.server.faults.update({"refuse_connections": True})
    report = probe(lab, standalone, winrm_settings)

    assert_skipped_after(report, "tcp")
    assert statuses(report)["name_resolution"] == "ok"
    where = f"{standalone.name}:{standalone.port} ({LOOPBACK})"
    assert report.summary == (
        f"TCP: connection refused on {where} — is the WinRM HTTPS listener running and the firewall open?"
    )
    assert report.certificate is None and report.computer_name is None
    assert standalone.server.counters["http_round_trips"] == 0


def test_a_wrong_password_fails_at_authentication_and_appears_nowhere(
    lab: Lab, standalone: LabHost, winrm_settings: WinRMSettings, secrets_logged: pytest.LogCaptureFixture
) -> None:
    wrong = "Wr0ng-Passw0rd-" + "x" * 8
    settings = dataclasses.replace(winrm_settings, password=Secret(wrong))
    report = probe(lab, standalone, settings)

    assert_skipped_after(report, "authentication")
    assert statuses(report)["tls"] == "ok" and report.certificate is not None
    assert f"{lab.username} was not accepted (NTLM)" in report.summary
    assert "AETHERV_WINRM_PASSWORD" in report.summary
    assert standalone.server.counters["auth_failures"] >= 1
    assert standalone.server.received_operations("ping") == []
    document = json.dumps(report.model_dump(mode="json"))
    for secret in (wrong, lab.password):
        assert secret not in document
        assert secret not in secrets_logged.text


def test_a_name_that_does_not_resolve_fails_at_name_resolution(lab: Lab, winrm_settings: WinRMSettings) -> None:
    report = probe(lab, HostEndpoint("hv-missing.invalid", 5986), winrm_settings)

    assert_skipped_after(report, "name_resolution")
    assert report.summary.startswith("Name resolution: hv-missing.invalid does not resolve (")
    assert "AETHERV_HOSTS" in report.summary
    assert report.address is None


def test_an_override_that_does_not_resolve_names_the_setting(
    lab: Lab, standalone: LabHost, winrm_settings: WinRMSettings
) -> None:
    report = probe(lab, standalone, winrm_settings, address="nowhere.invalid")

    assert_skipped_after(report, "name_resolution")
    assert f"nowhere.invalid, the AETHERV_HOST_ADDRESSES override of {standalone.name}" in report.summary


def test_an_untrusted_certificate_fails_at_tls_and_is_still_described(
    lab: Lab, standalone: LabHost, winrm_settings: WinRMSettings
) -> None:
    settings = dataclasses.replace(winrm_settings, ca_bundle=None)  # the HTTP client's default bundle
    report = probe(lab, standalone, settings)

    assert_skipped_after(report, "tls")
    cert = report.certificate
    assert cert is not None
    assert cert.subject == f"CN={standalone.name}" and cert.issuer == "CN=Aether-V hvsim lab CA"
    assert not cert.trusted and cert.trust_error
    assert cert.name_matches  # the name is fine; the issuer is unknown
    assert "is not trusted" in report.summary and "set AETHERV_WINRM_CA_BUNDLE" in report.summary
    assert "AETHERV_WINRM_CA_BUNDLE is not set" in cert.trust_store
    assert standalone.server.counters["http_round_trips"] == 0  # no WS-Management request was sent


def test_without_tls_verification_an_untrusted_certificate_passes_with_a_warning(
    lab: Lab, standalone: LabHost, winrm_settings: WinRMSettings
) -> None:
    settings = dataclasses.replace(winrm_settings, ca_bundle=None, verify_tls=False)
    report = probe(lab, standalone, settings)

    assert report.ok, report.summary
    assert "AETHERV_WINRM_VERIFY_TLS=false" in report.summary
    tls = stage(report, "tls")
    assert "Not verified (AETHERV_WINRM_VERIFY_TLS=false); it is not trusted" in tls.detail
    assert report.certificate is not None and not report.certificate.trusted


@pytest.fixture
def other_names_host(lab: Lab) -> Iterator[WinRMHostServer]:
    """A host whose certificate names it and 127.0.0.2 (and localhost), but not 127.0.0.1 where it listens."""

    class OtherAddress:
        def __init__(self, ca: CertificateAuthority) -> None:
            self.ca_pem_path = ca.ca_pem_path

        def issue(self, host_name: str) -> HostCertificate:
            return lab.ca.issue(host_name, ip_addresses=("127.0.0.2",))

    server = WinRMHostServer("hv09", object(), lab.username, lab.password, OtherAddress(lab.ca))  # type: ignore[arg-type]
    server.start()
    yield server
    server.stop()


def test_a_certificate_for_other_names_fails_at_tls(
    lab: Lab, other_names_host: WinRMHostServer, winrm_settings: WinRMSettings
) -> None:
    report = probe(lab, other_names_host, winrm_settings, address=LOOPBACK)

    assert_skipped_after(report, "tls")
    cert = report.certificate
    assert cert is not None and cert.trusted and not cert.name_matches
    assert cert.checked_name == LOOPBACK
    assert f"is not valid for {LOOPBACK}: it names hv09, localhost, 127.0.0.2" in report.summary


@pytest.fixture
def http_host(lab: Lab) -> Iterator[WinRMHostServer]:
    """A host with both listeners (HTTP with NTLM message encryption, and HTTPS)."""
    server = WinRMHostServer("hv08", object(), lab.username, lab.password, lab.ca, http=True)
    server.start()
    yield server
    server.stop()


def test_over_http_tls_is_skipped_and_the_other_stages_pass(
    lab: Lab, http_host: WinRMHostServer, winrm_settings: WinRMSettings
) -> None:
    settings = dataclasses.replace(winrm_settings, scheme="http")
    assert http_host.http_port is not None
    report = probe(lab, HostEndpoint(http_host.name, http_host.http_port), settings, address=LOOPBACK)

    assert report.ok, report.summary
    assert statuses(report) == {name: "skipped" if name == "tls" else "ok" for name in STAGES}
    assert "the scheme is http" in stage(report, "tls").detail
    assert report.certificate is None
    assert report.computer_name == "HV08"


def test_https_against_a_plain_http_listener_fails_at_tls(
    lab: Lab, http_host: WinRMHostServer, winrm_settings: WinRMSettings
) -> None:
    assert http_host.http_port is not None
    report = probe(lab, HostEndpoint(http_host.name, http_host.http_port), winrm_settings, address=LOOPBACK)

    assert_skipped_after(report, "tls")
    assert report.certificate is None
    assert "TLS handshake" in report.summary and "HTTPS listener" in report.summary


def test_the_whole_probe_stops_at_its_time_limit(lab: Lab, standalone: LabHost, winrm_settings: WinRMSettings) -> None:
    standalone.server.faults.set_slow_operation("ping", 3000)
    began = time.monotonic()
    report = probe(lab, standalone, winrm_settings, time_limit=1.5)
    took = time.monotonic() - began

    assert took < 2.5, took
    assert_skipped_after(report, "powershell")
    assert "no result within the probe's limit of 1.5 s" in report.summary
    assert report.time_limit_seconds == 1.5
    # The abandoned stage ends within its own timeouts, and the probe's worker then closes the shell it opened.
    deadline = time.monotonic() + 15
    while any(thread.name.startswith(f"probe-{standalone.name}") for thread in threading.enumerate()):
        assert time.monotonic() < deadline, "the probe's worker did not finish"
        time.sleep(0.05)
    counters = standalone.server.counters.snapshot()
    assert counters["shells_opened"] == counters["shells_deleted"] == 1


def test_the_connector_probes_only_configured_hosts(
    lab: Lab, standalone: LabHost, winrm_settings: WinRMSettings
) -> None:
    connector = HostConnector(winrm_settings, (standalone.endpoint_setting,), lab.addresses)
    report = connector.probe(standalone.name.upper())  # names are case-insensitive; the address override applies
    assert report.ok and report.address == LOOPBACK
    with pytest.raises(HostNotConfigured):
        connector.probe("hv-elsewhere.example")
    assert lab.host("hv01").server.counters["http_round_trips"] == 0
