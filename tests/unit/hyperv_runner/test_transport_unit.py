"""Transport configuration and the one-place translation of pywinrm/requests errors (fake protocol, no network)."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import requests
import winrm.exceptions
import winrm.protocol

from functions.hyperv import errors, transport
from functions.hyperv.errors import AuthenticationFailed, HostUnreachable
from functions.hyperv.transport import ConnectionOptions, WinRMTransport, build_protocol
from functions.settings import HostEndpoint, Secret, load_settings

BASE_ENV = {
    "AzureWebJobsStorage": "UseDevelopmentStorage=true",
    "AETHERV_AUTH_MODE": "none",
    "AETHERV_SEAL_KEY": "ZGV2LW9ubHktc2VhbC1rZXktZG8tbm90LXVzZS0wMDA=",
    "AETHERV_HOSTS": "hv01.lab.example,hv02.lab.example:15986",
    "AETHERV_WINRM_USERNAME": "LAB\\svc",
    "AETHERV_WINRM_PASSWORD": "pw-secret",
}


def test_options_from_settings_default_https_and_port_override() -> None:
    settings = load_settings(BASE_ENV)
    first, second = settings.hosts
    a = ConnectionOptions.from_settings(settings.winrm, first)
    b = ConnectionOptions.from_settings(settings.winrm, second)
    assert a.endpoint == "https://hv01.lab.example:5986/wsman"
    assert b.endpoint == "https://hv02.lab.example:15986/wsman"
    assert a.transport == "ntlm"
    assert a.verify_tls
    assert a.is_https
    assert (a.connect_timeout, a.operation_timeout, a.read_timeout) == (10, 20, 30)
    assert a.password == Secret("pw-secret")
    assert "pw-secret" not in repr(a)


def test_options_http_uses_port_5985() -> None:
    settings = load_settings({**BASE_ENV, "AETHERV_WINRM_SCHEME": "http"})
    options = ConnectionOptions.from_settings(settings.winrm, HostEndpoint("hv01.lab.example"))
    assert options.endpoint == "http://hv01.lab.example:5985/wsman"


@pytest.mark.parametrize("auth", ["basic", "certificate"])
def test_http_without_message_encryption_is_refused(auth: Any) -> None:
    with pytest.raises(ValueError, match="cannot encrypt"):
        ConnectionOptions(host="h", endpoint="http://h:5985/wsman", transport=auth)


def test_read_timeout_must_exceed_operation_timeout() -> None:
    with pytest.raises(ValueError, match="read timeout"):
        ConnectionOptions(host="h", endpoint="https://h:5986/wsman", operation_timeout=30, read_timeout=30)


def test_build_protocol_https_validates_with_the_ca_bundle(tmp_path: Any) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("x")
    options = ConnectionOptions(
        host="h",
        endpoint="https://h:5986/wsman",
        username="u",
        password=Secret("p"),
        ca_trust_path=str(bundle),
        connect_timeout=3,
    )
    protocol = build_protocol(options)
    assert protocol.transport.server_cert_validation == "validate"
    assert protocol.transport.ca_trust_path == str(bundle)
    assert protocol.transport.message_encryption == "never"
    assert protocol.transport.read_timeout_sec == (3, 30)  # (connect, read) for requests
    assert protocol.operation_timeout_sec == 20


def test_build_protocol_http_always_encrypts() -> None:
    options = ConnectionOptions(host="h", endpoint="http://h:5985/wsman", username="u", password=Secret("p"))
    assert build_protocol(options).transport.message_encryption == "always"


def test_disabled_tls_validation_is_logged_once(caplog: pytest.LogCaptureFixture, monkeypatch: Any) -> None:
    monkeypatch.setattr(transport, "_insecure_warned", False)
    options = ConnectionOptions(
        host="h", endpoint="https://h:5986/wsman", username="u", password=Secret("p"), verify_tls=False
    )
    with caplog.at_level(logging.WARNING, logger="functions.hyperv.transport"):
        assert build_protocol(options).transport.server_cert_validation == "ignore"
        build_protocol(options)
    warnings = [r for r in caplog.records if "validation is disabled" in r.getMessage()]
    assert len(warnings) == 1


class FakeProtocol:
    """Raises ``error`` from the first call; records calls otherwise."""

    max_env_sz = 153600

    def __init__(self, error: BaseException | None = None) -> None:
        self.error = error
        self.calls: list[str] = []
        self.transport = self
        self.timeouts = 0
        self.console_modes: list[bool] = []

    def close_session(self) -> None:
        self.calls.append("close_session")

    def open_shell(self, **kwargs: Any) -> str:
        self.calls.append("open_shell")
        if self.error:
            raise self.error
        return "SHELL"

    def run_command(self, shell_id: str, command: str, console_mode_stdin: bool = True) -> str:
        self.calls.append("run_command")
        self.console_modes.append(console_mode_stdin)
        return "CMD"

    def send_command_input(self, shell_id: str, command_id: str, data: bytes, end: bool = False) -> None:
        self.calls.append(f"send:{len(data)}:{end}")

    def get_command_output_raw(self, shell_id: str, command_id: str) -> tuple[bytes, bytes, int, bool]:
        self.calls.append("receive")
        if self.timeouts:
            self.timeouts -= 1
            raise winrm.exceptions.WinRMOperationTimeoutError()
        return b"out", b"", 0, True

    def cleanup_command(self, shell_id: str, command_id: str) -> None:
        self.calls.append("signal")

    def close_shell(self, shell_id: str, close_session: bool = True) -> None:
        self.calls.append("close_shell")


OPTIONS = ConnectionOptions(host="hv01", endpoint="https://hv01:5986/wsman", username="u", password=Secret("pw"))


def _fault(code: int, subcode: str) -> winrm.exceptions.WSManFaultError:
    return winrm.exceptions.WSManFaultError(500, "m", "<xml/>", "reason text", "s:Sender", subcode, code)


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (requests.exceptions.ConnectTimeout("connect timed out"), errors.HostUnreachable),
        (requests.exceptions.ConnectionError("refused"), errors.HostUnreachable),
        (requests.exceptions.SSLError("certificate verify failed"), errors.HostUnreachable),
        (requests.exceptions.ReadTimeout("read timed out"), errors.OperationTimeout),
        (winrm.exceptions.InvalidCredentialsError("rejected"), errors.AuthenticationFailed),
        (winrm.exceptions.WinRMTransportError("http", 401, ""), errors.AuthenticationFailed),
        (winrm.exceptions.WinRMTransportError("http", 503, "busy"), errors.ProtocolError),
        (_fault(2150858843, "w:InvalidSelectors"), errors.ProtocolError),
        (winrm.exceptions.WinRMOperationTimeoutError(), errors.OperationTimeout),
        (winrm.exceptions.WinRMError("kerberos is not installed"), errors.ProtocolError),
        (
            PermissionError("Access denied: Server did not respond with NTLM challenge token"),
            errors.AuthenticationFailed,
        ),
        (StopIteration(), errors.ProtocolError),
    ],
)
def test_errors_are_translated_once(error: BaseException, expected: type[errors.HyperVError]) -> None:
    fake = FakeProtocol(error)
    with pytest.raises(expected) as info:
        WinRMTransport(OPTIONS, protocol_factory=lambda _: fake).execute("cmd", b"in")
    assert info.value.__cause__ is error
    assert info.value.host == "hv01"
    assert "pw" not in info.value.message.split()


def test_fault_code_is_kept() -> None:
    fake = FakeProtocol(_fault(2150859173, "w:QuotaLimit"))
    with pytest.raises(errors.ProtocolError) as info:
        WinRMTransport(OPTIONS, protocol_factory=lambda _: fake).execute("cmd")
    assert info.value.fault_code == "2150859173"
    assert "w:QuotaLimit" in info.value.message


def test_execute_sequence_and_operation_timeouts_are_retried() -> None:
    fake = FakeProtocol()
    fake.timeouts = 3
    with WinRMTransport(OPTIONS, protocol_factory=lambda _: fake) as t:
        result = t.execute("cmd", b"x" * 10)
        assert (result.stdout, result.exit_code) == (b"out", 0)
        t.execute("cmd", b"y")
    assert fake.calls == [
        "open_shell",
        "run_command",
        "send:10:True",
        "receive",
        "receive",
        "receive",
        "receive",
        "signal",
        "run_command",
        "send:1:True",
        "receive",
        "signal",
        "close_shell",
        "close_session",
    ]


def test_stdin_is_chunked_under_the_envelope_size() -> None:
    fake = FakeProtocol()
    fake.max_env_sz = 20_000
    with WinRMTransport(OPTIONS, protocol_factory=lambda _: fake) as t:
        t.execute("cmd", b"z" * 50_000)
    sends = [call for call in fake.calls if call.startswith("send:")]
    sizes = [int(call.split(":")[1]) for call in sends]
    assert sum(sizes) == 50_000
    assert all(size * 4 / 3 + 8192 <= 20_000 for size in sizes)
    assert [call.endswith("True") for call in sends] == [False] * (len(sends) - 1) + [True]


def test_piped_input_turns_console_mode_stdin_off() -> None:
    """Input goes through a pipe (WINRS_CONSOLEMODE_STDIN=FALSE); a command without input keeps console mode."""
    fake = FakeProtocol()
    with WinRMTransport(OPTIONS, protocol_factory=lambda _: fake) as t:
        t.execute("powershell.exe -EncodedCommand AAAA", b'{"operation":"ping"}')
        t.execute("hostname")
    assert fake.console_modes == [False, True]
    assert [call for call in fake.calls if call.startswith("send:")] == ["send:20:True"]


def test_pywinrm_writes_the_stdin_mode_into_the_command_request() -> None:
    """What the transport relies on: pywinrm's run_command puts WINRS_CONSOLEMODE_STDIN in the Command's options."""
    sent: list[str] = []

    class Recording(winrm.protocol.Protocol):
        def send_message(self, message: str | bytes) -> bytes:
            sent.append(message if isinstance(message, str) else message.decode())
            return b'<s:Envelope xmlns:s="x"><s:Body><CommandId>C1</CommandId></s:Body></s:Envelope>'

    protocol = Recording("https://hv01:5986/wsman", username="u", password="p", proxy=None, ca_trust_path=None)
    recording = WinRMTransport(OPTIONS, protocol_factory=lambda _: protocol)
    assert recording.run_command("S1", "powershell.exe", console_mode_stdin=False) == "C1"
    assert '<w:Option Name="WINRS_CONSOLEMODE_STDIN">FALSE</w:Option>' in sent[0]


class StaleOnce(FakeProtocol):
    """A protocol whose connection the host dropped: ``failures`` requests of the given kind fail first."""

    def __init__(self, fail_on: str, error: BaseException, failures: int = 1) -> None:
        super().__init__()
        self.fail_on = fail_on
        self.stale_error = error
        self.failures = failures

    def _maybe_fail(self, name: str) -> None:
        if name == self.fail_on and self.failures:
            self.failures -= 1
            raise self.stale_error

    def run_command(self, shell_id: str, command: str, console_mode_stdin: bool = True) -> str:
        self._maybe_fail("run_command")
        return super().run_command(shell_id, command, console_mode_stdin)

    def get_command_output_raw(self, shell_id: str, command_id: str) -> tuple[bytes, bytes, int, bool]:
        self._maybe_fail("receive")
        return super().get_command_output_raw(shell_id, command_id)


def _factory(protocols: list[FakeProtocol]) -> Any:
    built: list[FakeProtocol] = []

    def build(_: ConnectionOptions) -> FakeProtocol:
        built.append(protocols[len(built)])
        return built[-1]

    build.built = built  # type: ignore[attr-defined]
    return build


def test_a_stale_connection_on_the_first_request_reconnects_once_with_the_same_shell() -> None:
    stale = StaleOnce("run_command", winrm.exceptions.InvalidCredentialsError("rejected"), failures=0)
    fresh = FakeProtocol()
    factory = _factory([stale, fresh])
    transport = WinRMTransport(OPTIONS, protocol_factory=factory)
    transport.execute("cmd", b"in")  # works: the session is known good
    stale.failures = 1  # the host closed the idle connection; NTLM answers 401 on the new one

    assert transport.execute("cmd", b"in").stdout == b"out"
    assert factory.built == [stale, fresh]
    assert "close_session" in stale.calls
    assert "open_shell" not in fresh.calls  # the same shell, on a new HTTP session
    assert transport.reusable


def test_a_failure_after_the_command_started_is_never_resent() -> None:
    reset = requests.exceptions.ConnectionError("reset")
    stale = StaleOnce("receive", reset, failures=0)
    factory = _factory([stale, FakeProtocol()])
    transport = WinRMTransport(OPTIONS, protocol_factory=factory)
    transport.execute("cmd", b"in")
    stale.failures = 1

    with pytest.raises(HostUnreachable):
        transport.execute("cmd", b"in")
    assert factory.built == [stale]
    assert stale.calls.count("run_command") == 2  # once per execute: the started command was not sent again
    assert not transport.reusable


def test_a_new_session_that_fails_authentication_is_not_retried() -> None:
    rejected = StaleOnce("run_command", winrm.exceptions.InvalidCredentialsError("rejected"))
    factory = _factory([rejected])
    transport = WinRMTransport(OPTIONS, protocol_factory=factory)
    with pytest.raises(AuthenticationFailed):
        transport.execute("cmd", b"in")  # nothing has worked on it yet: wrong credentials, not a stale connection
    assert factory.built == [rejected]
    assert not transport.reusable
