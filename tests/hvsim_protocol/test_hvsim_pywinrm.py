"""The real pywinrm client against the simulated WS-Management server: auth, encryption, limits and faults."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import pytest
import winrm
import winrm.exceptions

from functions.hyperv.runner import load_script
from tests.hvsim_protocol.conftest import PASSWORD, USERNAME
from tools.hvsim.protocol.server import WinRMHostServer
from tools.hvsim.protocol.tls import CertificateAuthority

_opened: list[Any] = []


@pytest.fixture(autouse=True)
def _close_clients() -> Iterator[None]:
    yield
    while _opened:
        _opened.pop().transport.close_session()


def _session(endpoint: str, **kwargs: Any) -> winrm.Session:
    # Explicit CA (or none) and no proxy, so pywinrm never consults REQUESTS_CA_BUNDLE / *_PROXY variables.
    kwargs.setdefault("ca_trust_path", None)
    session = winrm.Session(endpoint, proxy=None, **kwargs)
    _opened.append(session.protocol)
    return session


def test_ntlm_over_https_authenticates_and_runs_a_command(host: WinRMHostServer, ca: CertificateAuthority) -> None:
    session = _session(
        host.endpoint,
        auth=(USERNAME, PASSWORD),
        transport="ntlm",
        server_cert_validation="validate",
        ca_trust_path=str(ca.ca_pem_path),
    )
    response = session.run_ps("Get-VM | Select-Object Name")
    # Arbitrary PowerShell is not simulated: the host answers like PowerShell does, with an error record.
    assert response.status_code == 1
    assert b"hvsim simulates only the Aether-V bootstrap" in response.std_err
    counters = host.counters.snapshot()
    assert counters["ntlm_handshakes"] == 1
    assert counters["shells_opened"] == counters["shells_deleted"] == 1
    assert counters["auth_failures"] == 0


def test_cmd_command_is_not_recognized(host: WinRMHostServer, ca: CertificateAuthority) -> None:
    session = _session(host.endpoint, auth=(USERNAME, PASSWORD), transport="ntlm", ca_trust_path=str(ca.ca_pem_path))
    response = session.run_cmd("ipconfig", ["/all"])
    assert response.status_code == 1
    assert response.std_err.startswith(b"'ipconfig' is not recognized")


def test_basic_over_https(host: WinRMHostServer, ca: CertificateAuthority) -> None:
    session = _session(host.endpoint, auth=(USERNAME, PASSWORD), transport="basic", ca_trust_path=str(ca.ca_pem_path))
    assert session.run_cmd("hostname").status_code == 1
    assert host.counters["ntlm_handshakes"] == 0


def test_basic_with_wrong_password_is_rejected(host: WinRMHostServer, ca: CertificateAuthority) -> None:
    session = _session(host.endpoint, auth=(USERNAME, "wrong"), transport="basic", ca_trust_path=str(ca.ca_pem_path))
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        session.run_cmd("hostname")
    assert host.counters["auth_failures"] == 1


def test_ntlm_with_message_encryption_over_http(host: WinRMHostServer) -> None:
    assert host.http_endpoint is not None
    session = _session(host.http_endpoint, auth=(USERNAME, PASSWORD), transport="ntlm", message_encryption="always")
    response = session.run_cmd("whoami")
    assert response.status_code == 1
    assert b"not recognized" in response.std_err


def test_plaintext_soap_over_http_is_refused(host: WinRMHostServer) -> None:
    assert host.http_endpoint is not None
    session = _session(host.http_endpoint, auth=(USERNAME, PASSWORD), transport="ntlm", message_encryption="never")
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        session.run_cmd("whoami")


def test_basic_over_http_is_refused(host: WinRMHostServer) -> None:
    assert host.http_endpoint is not None
    session = _session(host.http_endpoint, auth=(USERNAME, PASSWORD), transport="basic")
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        session.run_cmd("whoami")


def _protocol(host: WinRMHostServer, ca: CertificateAuthority) -> Any:
    protocol = winrm.protocol.Protocol(
        host.endpoint,
        proxy=None,
        transport="ntlm",
        username=USERNAME,
        password=PASSWORD,
        ca_trust_path=str(ca.ca_pem_path),
        read_timeout_sec=10,
        operation_timeout_sec=1,
    )
    _opened.append(protocol)
    return protocol


def test_command_line_over_8191_characters_is_a_fault(host: WinRMHostServer, ca: CertificateAuthority) -> None:
    protocol = _protocol(host, ca)
    shell = protocol.open_shell()
    protocol.run_command(shell, "x" * 8191)  # at the limit: accepted
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        protocol.run_command(shell, "x" * 8192)
    assert info.value.fault_subcode == "w:InvalidParameter"
    protocol.close_shell(shell)


def _bootstrap_line(host: WinRMHostServer) -> str:
    """The bootstrap's command line, built here from the script the host knows (not through the runner)."""
    bootstrap = host.scripts("_bootstrap")
    assert bootstrap is not None
    encoded = base64.b64encode(bootstrap.decode().encode("utf-16-le")).decode()
    return "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -EncodedCommand " + encoded


def test_envelope_above_max_envelope_size_is_refused_with_http_413(
    host: WinRMHostServer, ca: CertificateAuthority
) -> None:
    protocol = _protocol(host, ca)
    shell = protocol.open_shell()
    command = protocol.run_command(shell, _bootstrap_line(host), console_mode_stdin=False)
    with pytest.raises(winrm.exceptions.WinRMTransportError) as info:
        protocol.send_command_input(shell, command, b"x" * 400_000, end=True)  # ~533 kB of base64
    assert not isinstance(info.value, winrm.exceptions.WSManFaultError)  # no SOAP fault, as from Windows
    assert info.value.code == 413
    assert host.counters["requests_too_large"] == 1
    assert host.counters["faults"] == 0
    protocol.send_command_input(shell, command, b"x" * 100_000, end=True)  # the shell and command are still there
    protocol.close_shell(shell)


def test_receive_without_output_gets_the_operation_timeout_fault(
    host: WinRMHostServer, ca: CertificateAuthority
) -> None:
    protocol = _protocol(host, ca)
    shell = protocol.open_shell()
    command = protocol.run_command(shell, _bootstrap_line(host), console_mode_stdin=False)
    # The bootstrap waits for the end of its piped stdin, so there is no output within the 1 s OperationTimeout.
    with pytest.raises(winrm.exceptions.WinRMOperationTimeoutError):
        protocol.get_command_output_raw(shell, command)
    assert host.counters["operation_timeouts"] == 1
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)


def test_bootstrap_with_console_mode_stdin_is_refused(host: WinRMHostServer, ca: CertificateAuthority) -> None:
    """pywinrm's default (WINRS_CONSOLEMODE_STDIN=TRUE) would leave the bootstrap's $input empty on a real host."""
    protocol = _protocol(host, ca)
    shell = protocol.open_shell()
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        protocol.run_command(shell, _bootstrap_line(host))  # console_mode_stdin defaults to True
    assert info.value.fault_subcode == "w:InvalidOptions"
    assert info.value.wsman_fault_code == 2150858809
    assert "WINRS_CONSOLEMODE_STDIN" in str(info.value.reason)
    assert host.counters["commands"] == 0
    assert host.received_operations() == []
    protocol.close_shell(shell)


def test_bootstrap_with_a_pipe_for_stdin_runs(host: WinRMHostServer, ca: CertificateAuthority) -> None:
    protocol = _protocol(host, ca)
    shell = protocol.open_shell()
    command = protocol.run_command(shell, _bootstrap_line(host), console_mode_stdin=False)
    envelope = {"operation": "ping", "script": load_script("ping"), "params": base64.b64encode(b'{"n":1}').decode()}
    # Piped lines are what PowerShell's $input sees; the trailing CRLF adds no empty line.
    protocol.send_command_input(shell, command, json.dumps(envelope).encode() + b"\r\n", end=True)
    stdout, stderr, exit_code = protocol.get_command_output(shell, command)
    assert (exit_code, stderr) == (0, b"")
    assert json.loads(stdout)["result"]["echo"] == {"n": 1}
    protocol.cleanup_command(shell, command)
    protocol.close_shell(shell)


@pytest.mark.parametrize(
    ("flags", "difference"),
    [
        ("-EncodedCommand", "word 2 is '-EncodedCommand', expected '-NoLogo'"),
        ("-NoLogo -NoProfile -ExecutionPolicy Bypass -EncodedCommand", "word 4 is '-ExecutionPolicy'"),
        ("-NoLogo -NoProfile -NonInteractive -ExecutionPolicy Bypass -enc", "word 7 is '-enc'"),
    ],
)
def test_bootstrap_under_another_command_line_is_refused(
    host: WinRMHostServer, ca: CertificateAuthority, flags: str, difference: str
) -> None:
    encoded = _bootstrap_line(host).rsplit(" ", 1)[1]
    protocol = _protocol(host, ca)
    shell = protocol.open_shell()
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        protocol.run_command(shell, f"powershell.exe {flags} {encoded}", console_mode_stdin=False)
    assert info.value.fault_subcode == "w:InvalidParameter"
    assert info.value.wsman_fault_code == 2150858810
    assert difference in str(info.value.reason)
    protocol.close_shell(shell)


def test_unknown_shell_is_a_fault(host: WinRMHostServer, ca: CertificateAuthority) -> None:
    protocol = _protocol(host, ca)
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        protocol.run_command("00000000-0000-0000-0000-000000000000", "whoami")
    assert info.value.wsman_fault_code == 2150858843


def test_shell_quota_per_user(make_host: Any, ca: CertificateAuthority) -> None:
    server = make_host("hv-quota", max_shells_per_user=2)
    protocol = _protocol(server, ca)
    protocol.open_shell()
    protocol.open_shell()
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        protocol.open_shell()
    assert info.value.fault_subcode == "w:QuotaLimit"
    assert info.value.wsman_fault_code == 2150859173
