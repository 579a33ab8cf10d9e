"""The project's transport and PowerShell runner against simulated hosts: ping, errors, faults and limits."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from functions.hyperv import errors
from functions.hyperv.runner import PowerShellRunner, load_script
from functions.hyperv.transport import WinRMTransport, build_protocol
from tests.hvsim_protocol.conftest import PASSWORD
from tools.hvsim.protocol import dispatch
from tools.hvsim.protocol.dispatch import OperationContext, register, unregister
from tools.hvsim.protocol.errors import ScriptError
from tools.hvsim.protocol.server import WinRMHostServer
from tools.hvsim.protocol.tls import CertificateAuthority

NASTY = {
    "quote": 'it\'s "quoted"',
    "subexpr": "$(Remove-Item C:\\ -Recurse)",
    "backtick": "`n`t``",
    "separators": "a; b | c & d && e || f",
    "newlines": "line1\nline2\r\nline3",
    "lookalikes": "Аdmin ＄(x) ‘quote’ “dq” \u202eevil\u200b",
    "emoji": "💾 disk",
    "format": "{0} {name} %s %(x)s",
    "nested": {"list": [1, 2.5, True, None, "x"], "empty": {}},
}


@pytest.fixture
def runner(host: WinRMHostServer, options: Any) -> Iterator[PowerShellRunner]:
    with WinRMTransport(options(host)) as transport:
        yield PowerShellRunner(transport)


def test_ping_round_trips_parameters_exactly(host: WinRMHostServer, runner: PowerShellRunner) -> None:
    result = runner.run("ping", NASTY)
    assert result == {"computer_name": "HV01", "ps_version": "5.1.20348.2849", "echo": NASTY}
    assert host.received_operations() == [dispatch_record("ping", NASTY)]


def dispatch_record(operation: str, params: dict[str, Any]) -> Any:
    from tools.hvsim.protocol.server import ReceivedOperation

    return ReceivedOperation(operation, params)


def test_round_trips_per_run(host: WinRMHostServer, options: Any) -> None:
    transport = WinRMTransport(options(host))
    runner = PowerShellRunner(transport)
    runner.run("ping", {})
    first = host.counters.snapshot()
    # 401 + NTLM challenge + shell create, then command, send, receive, signal.
    assert first["http_round_trips"] == 7
    runner.run("ping", {})
    second = host.counters.snapshot()
    assert second["http_round_trips"] - first["http_round_trips"] == 4  # the shell and the connection are reused
    assert second["ntlm_handshakes"] == 1
    assert second["shells_opened"] == 1
    transport.close()
    assert host.counters.snapshot()["shells_deleted"] == 1


def test_ping_over_http_with_message_encryption(host: WinRMHostServer, options: Any) -> None:
    with WinRMTransport(options(host, http=True)) as transport:
        assert PowerShellRunner(transport).run("ping", NASTY)["echo"] == NASTY
    assert host.received_operations("ping")[0].params == NASTY


@pytest.mark.parametrize("category", sorted(errors.ERROR_CATEGORIES))
def test_script_error_maps_to_its_exception(host: WinRMHostServer, runner: PowerShellRunner, category: str) -> None:
    host.faults.set_script_error("ping", category, f"simulated {category}")
    with pytest.raises(errors.HyperVError) as info:
        runner.run("ping", {})
    assert type(info.value) is errors.ERROR_CATEGORIES[category]
    assert info.value.message == f"simulated {category}"
    assert info.value.host == "hv01"


def test_unknown_category_is_script_failed(host: WinRMHostServer, runner: PowerShellRunner) -> None:
    host.faults.set_script_error("ping", "DiskOnFire", "smoke")
    with pytest.raises(errors.ScriptFailed, match="smoke"):
        runner.run("ping", {})


def test_handler_script_error_and_missing_handler(host: WinRMHostServer, options: Any) -> None:
    @register("test.fails")
    def fails(ctx: OperationContext, params: dict[str, Any]) -> Any:
        assert ctx.received == params
        raise ScriptError("VmNotFound", f"VM '{params['name']}' was not found")

    scripts = {"test.fails": "param($Params)\nFail-AetherV 'VmNotFound' 'x'\n", "test.nohandler": "param($P)\n"}
    try:
        with WinRMTransport(options(host)) as transport:
            _with_scripts(host, scripts)
            runner = PowerShellRunner(transport, scripts=_loader(scripts))
            with pytest.raises(errors.VmNotFound, match="VM 'web01' was not found"):
                runner.run("test.fails", {"name": "web01"})
            with pytest.raises(errors.ScriptFailed, match="no handler"):
                runner.run("test.nohandler", {})
    finally:
        unregister("test.fails")


def _loader(extra: dict[str, str]) -> Any:
    return lambda name: extra[name] if name in extra else load_script(name)


def _with_scripts(host: WinRMHostServer, extra: dict[str, str]) -> None:
    host.scripts = lambda name: extra[name].encode() if name in extra else dispatch.project_script(name)


def test_script_that_differs_from_the_project_file_is_refused(host: WinRMHostServer, options: Any) -> None:
    altered = {"ping": load_script("ping") + "\n# changed\n"}
    with WinRMTransport(options(host)) as transport:
        runner = PowerShellRunner(transport, scripts=_loader(altered))
        with pytest.raises(errors.ProtocolError, match="not byte-identical"):
            runner.run("ping", {})
    assert host.received_operations() == []


def test_several_megabytes_of_parameters_round_trip(host: WinRMHostServer, runner: PowerShellRunner) -> None:
    """A 5 MB envelope goes down a piped stdin in many Sends and comes back whole through many Receives."""
    params = {
        "blob": "".join(f"{i:08d}-ü\n" for i in range(400_000)),  # 4.4 MB of text with newlines and non-ASCII
        "nasty": NASTY,
    }
    assert runner.run("ping", params)["echo"] == params
    [received] = host.received_operations("ping")
    assert received.params == params
    counters = host.counters.snapshot()
    assert counters["sends"] >= 40  # pywinrm's 150 kB envelopes: about 109 kB of stdin each
    assert counters["receives"] >= 30
    assert counters["faults"] == 0


def test_twenty_kilobyte_script_travels_on_stdin(host: WinRMHostServer, options: Any) -> None:
    big = "param($Params)\n" + "".join(f"# filler line {i:05d} {'x' * 60}\n" for i in range(300)) + "return 42\n"
    assert len(big) > 20_000

    @register("test.big")
    def handler(ctx: OperationContext, params: dict[str, Any]) -> Any:
        return {"size": params["n"]}

    try:
        _with_scripts(host, {"test.big": big})
        with WinRMTransport(options(host)) as transport:
            assert PowerShellRunner(transport, scripts=_loader({"test.big": big})).run("test.big", {"n": 1}) == {
                "size": 1
            }
    finally:
        unregister("test.big")


def test_stdin_is_chunked_below_the_envelope_limit(make_host: Any, options: Any) -> None:
    server = make_host("hv-small", max_envelope_size=16_384)
    big = "param($Params)\n" + "# " + "y" * 40_000 + "\n"

    @register("test.chunked")
    def handler(ctx: OperationContext, params: dict[str, Any]) -> Any:
        return "ok"

    def small_envelopes(opts: Any) -> Any:
        protocol = build_protocol(opts)
        protocol.max_env_sz = 16_384
        return protocol

    try:
        _with_scripts(server, {"test.chunked": big})
        with WinRMTransport(options(server), protocol_factory=small_envelopes) as transport:
            assert PowerShellRunner(transport, scripts=_loader({"test.chunked": big})).run("test.chunked", {}) == "ok"
        assert server.counters["sends"] >= 5
        assert server.counters["faults"] == 0
    finally:
        unregister("test.chunked")


def test_a_host_with_a_smaller_envelope_limit_refuses_the_request_with_413(make_host: Any, options: Any) -> None:
    server = make_host("hv-tight", max_envelope_size=16_384)
    big = "param($Params)\n" + "# " + "y" * 40_000 + "\n"

    @register("test.tight")
    def handler(ctx: OperationContext, params: dict[str, Any]) -> Any:
        return "ok"

    try:
        _with_scripts(server, {"test.tight": big})
        # pywinrm's own 150 KiB pieces are above this host's limit
        with (
            WinRMTransport(options(server)) as transport,
            pytest.raises(errors.ProtocolError, match="MaxEnvelopeSizekb") as info,
        ):
            PowerShellRunner(transport, scripts=_loader({"test.tight": big})).run("test.tight", {})
        assert info.value.fault_code == "413"
        assert server.counters["requests_too_large"] == 1
        assert server.received_operations() == []
    finally:
        unregister("test.tight")


def test_large_output_is_split_across_receives(host: WinRMHostServer, runner: PowerShellRunner) -> None:
    @register("test.large")
    def handler(ctx: OperationContext, params: dict[str, Any]) -> Any:
        return "z" * 400_000

    try:
        _with_scripts(host, {"test.large": "param($Params)\n"})
        runner.scripts = _loader({"test.large": "param($Params)\n"})
        assert runner.run("test.large", {}) == "z" * 400_000
        assert host.counters["receives"] >= 3  # pywinrm asks for at most 153600-byte envelopes
    finally:
        unregister("test.large")


def test_slow_operation_rides_over_operation_timeouts(host: WinRMHostServer, options: Any) -> None:
    host.faults.set_slow_operation("ping", 2300)
    with WinRMTransport(options(host, operation_timeout=1, read_timeout=3)) as transport:
        assert PowerShellRunner(transport).run("ping", {"a": 1})["echo"] == {"a": 1}
    assert host.counters["operation_timeouts"] >= 2


def test_overall_timeout_of_a_run(host: WinRMHostServer, options: Any) -> None:
    host.faults.set_slow_operation("ping", 3000)
    transport = WinRMTransport(options(host, operation_timeout=1, read_timeout=3))
    with transport, pytest.raises(errors.OperationTimeout):
        PowerShellRunner(transport, timeout=1.5).run("ping", {})


def test_wrong_password_is_authentication_failed(host: WinRMHostServer, options: Any) -> None:
    transport = WinRMTransport(options(host, password="not-the-password"))
    with transport, pytest.raises(errors.AuthenticationFailed) as info:
        PowerShellRunner(transport).run("ping", {})
    assert "not-the-password" not in str(info.value)
    assert PASSWORD not in str(info.value)
    assert host.counters["auth_failures"] == 1


def test_injected_auth_failure_rejects_valid_credentials(host: WinRMHostServer, options: Any) -> None:
    host.faults.update({"reject_auth": True})
    with WinRMTransport(options(host)) as transport, pytest.raises(errors.AuthenticationFailed):
        PowerShellRunner(transport).run("ping", {})


def test_refused_connection_is_host_unreachable(host: WinRMHostServer, options: Any) -> None:
    host.faults.update({"refuse_connections": True})
    start = time.monotonic()
    transport = WinRMTransport(options(host, connect_timeout=1))
    with transport, pytest.raises(errors.HostUnreachable) as info:
        PowerShellRunner(transport).run("ping", {})
    assert time.monotonic() - start < 1.5
    assert info.value.transient
    host.faults.update({"refuse_connections": False})  # the host comes back on the same port
    with WinRMTransport(options(host)) as transport:
        assert PowerShellRunner(transport).run("ping", {})["computer_name"] == "HV01"


# CPython's ssl module does not close a socket reset before the TLS handshake (the ENOTCONN path of
# SSLSocket._create); the client's socket is then only reclaimed by the garbage collector.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_reset_connections_is_host_unreachable(host: WinRMHostServer, options: Any) -> None:
    host.faults.update({"reset_connections": True})
    with WinRMTransport(options(host)) as transport, pytest.raises(errors.HostUnreachable):
        PowerShellRunner(transport).run("ping", {})


def test_blackholed_host_fails_within_the_connect_timeout(ca: CertificateAuthority, options: Any, host: Any) -> None:
    # A listener that never accepts: once its accept queue is full, further SYNs are dropped (a black hole).
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    time.sleep(0.1)
    opts = options(host, connect_timeout=1)
    blackholed = type(opts)(**{**opts.__dict__, "endpoint": f"https://127.0.0.1:{port}/wsman"})
    start = time.monotonic()
    try:
        with WinRMTransport(blackholed) as transport, pytest.raises(errors.HostUnreachable, match="within 1 s"):
            PowerShellRunner(transport).run("ping", {})
        assert time.monotonic() - start < 4
    finally:
        for filler in fillers:
            filler.close()
        listener.close()


def test_silent_tls_peer_fails_within_the_connect_timeout(options: Any, host: Any) -> None:
    # Accepts TCP but never answers the TLS handshake.
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    accepted: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    opts = options(host, connect_timeout=1)
    silent = type(opts)(**{**opts.__dict__, "endpoint": f"https://127.0.0.1:{listener.getsockname()[1]}/wsman"})
    start = time.monotonic()
    try:
        with WinRMTransport(silent) as transport, pytest.raises(errors.HostUnreachable):
            PowerShellRunner(transport).run("ping", {})
        assert time.monotonic() - start < 4
    finally:
        stop.set()
        thread.join()
        for conn in accepted:
            conn.close()
        listener.close()


def test_untrusted_certificate_is_host_unreachable(host: WinRMHostServer, options: Any, tmp_path: Any) -> None:
    other = CertificateAuthority(tmp_path)
    opts = options(host)
    untrusted = type(opts)(**{**opts.__dict__, "ca_trust_path": str(other.ca_pem_path)})
    with WinRMTransport(untrusted) as transport, pytest.raises(errors.HostUnreachable, match="TLS"):
        PowerShellRunner(transport).run("ping", {})


def test_latency_is_added_to_every_round_trip(host: WinRMHostServer, options: Any) -> None:
    host.faults.update({"latency_ms": 60})
    start = time.monotonic()
    with WinRMTransport(options(host)) as transport:
        PowerShellRunner(transport).run("ping", {})
    elapsed = time.monotonic() - start
    round_trips = host.counters["http_round_trips"]
    assert round_trips == 8  # including the shell delete on close
    assert elapsed >= round_trips * 0.060
    assert elapsed < round_trips * 0.060 + 5  # generous: the latency is the dominant cost


def test_expired_shell_is_reopened_transparently(make_host: Any, options: Any) -> None:
    server = make_host("hv-idle", idle_timeout=0.3)
    with WinRMTransport(options(server)) as transport:
        runner = PowerShellRunner(transport)
        runner.run("ping", {})
        time.sleep(0.5)
        assert runner.run("ping", {"again": True})["echo"] == {"again": True}
    assert server.counters["shells_opened"] == 2


def test_transport_refuses_a_second_thread(host: WinRMHostServer, options: Any) -> None:
    with WinRMTransport(options(host)) as transport:
        PowerShellRunner(transport).run("ping", {})
        failure: list[BaseException] = []

        def other() -> None:
            try:
                transport.execute("whoami")
            except BaseException as exc:
                failure.append(exc)

        thread = threading.Thread(target=other)
        thread.start()
        thread.join()
    assert len(failure) == 1
    assert isinstance(failure[0], RuntimeError)


def test_fifty_hosts_start_quickly(ca: CertificateAuthority, options: Any) -> None:
    start = time.monotonic()
    servers = [WinRMHostServer(f"hv{i:02d}", None, "aether", "pw", ca, http=True).start() for i in range(50)]
    try:
        assert time.monotonic() - start < 5
        assert len({server.endpoint for server in servers}) == 50
    finally:
        stop_start = time.monotonic()
        for server in servers:
            server.stop()
        assert time.monotonic() - stop_start < 5
