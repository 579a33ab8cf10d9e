r"""The WS-Management server of one simulated Hyper-V host: HTTPS (and optionally HTTP) on loopback, ``/wsman``.

Assemble a lab with::

    ca = CertificateAuthority()                                   # ca.ca_pem_path → AETHERV_WINRM_CA_BUNDLE
    server = WinRMHostServer("hv01", backend, "LAB\\aether", "secret", ca, http=True)
    server.start()
    server.endpoint                                               # https://127.0.0.1:<port>/wsman
    server.faults.set_script_error("vm.get", "VmNotFound", "…")   # or latency_ms, refuse_connections, …
    server.counters.snapshot()                                    # round trips, shells, commands, bytes, …
    server.received                                               # every operation with its decoded params
    server.stop()

Threads, not processes: one accept thread per listener and one thread per TCP connection (pywinrm keeps its
connection alive, so NTLM authenticates once per connection), plus one short-lived thread per command.

Limits, as a default Windows Server configures WinRM: a request envelope above ``MaxEnvelopeSizekb`` (500 KiB) is
refused with HTTP 413 and no SOAP body; command lines above 8191 characters get a fault (and the bootstrap anything
but its exact command line with a piped stdin: :mod:`tools.hvsim.protocol.commands`); more than 30 shells per user a
``w:QuotaLimit`` fault; shells idle for 7200 s are deleted; a keep-alive connection idle for 120 s is closed (the
HTTP Server API's default ``IdleConnection`` timer, "Server Timeouts Property",
https://learn.microsoft.com/en-us/windows/win32/http/server-timeouts-property; the NTLM authentication of that
connection ends with it); a Receive with no output within the request's
``OperationTimeout`` (capped at ``MaxTimeoutms``, 60 s) gets the ``w:TimedOut`` fault (2150858793) pywinrm retries.
Replies respect the client's ``MaxEnvelopeSize`` by splitting output across Receives.

The envelope rule: [MS-WSMV] §2.2.4.10 (``ConfigType``) defines ``MaxEnvelopeSizekb`` ("Maximum SOAP data in
kilobytes … The default value SHOULD be 500 but MAY be 150") and uses it "to limit the size of client request
packets that are processed" as well as replies (§3.1.4.1.7). What a client sees when a request is too large is HTTP
413 with no SOAP fault: pywinrm raises ``WinRMTransportError`` code 413 ("Bad HTTP response returned from server.
Code 413") against Windows Server 2019/2022 at the default 500 KiB (ansible-collections/ansible.windows#391, #620,
where the maintainer explains the 413 as the WinRM service refusing data larger than ``MaxEnvelopeSizekb``), and
Windows' own WinRM client reports it as "the request size exceeded the configured MaxEnvelopeSize quota".
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import copy
import json
import logging
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, ClassVar, cast
from xml.sax.saxutils import escape

from tools.hvsim.protocol import commands, dispatch, wsman
from tools.hvsim.protocol.auth import Account, ConnectionAuth, NTLMAccountStore, decrypt_body, encrypt_body
from tools.hvsim.protocol.commands import MAX_COMMAND_LINE
from tools.hvsim.protocol.dispatch import CommandOutcome, OperationContext
from tools.hvsim.protocol.errors import WSManFault
from tools.hvsim.protocol.faults import HostCounters, HostFaults
from tools.hvsim.protocol.shells import Command, ShellTable
from tools.hvsim.protocol.tls import CertificateAuthority, HostCertificate

__all__ = ["MAX_COMMAND_LINE", "ReceivedOperation", "WinRMHostServer"]

log = logging.getLogger(__name__)

DEFAULT_MAX_ENVELOPE_SIZE = 512000
_REPLY_OVERHEAD = 4096
_MESSAGE_ID = re.compile(rb"<a:MessageID>([^<]{1,100})</a:MessageID>")
_SOAP_CONTENT_TYPE = "application/soap+xml;charset=UTF-8"


@dataclass(frozen=True)
class ReceivedOperation:
    """One operation a host received: its name and the parameters exactly as decoded from the envelope."""

    operation: str
    params: dict[str, Any]


class _Listener:
    """One listening socket (TLS or plain) with its accept thread; can be closed and reopened on the same port."""

    def __init__(self, host: WinRMHostServer, bind: str, port: int, tls: ssl.SSLContext | None) -> None:
        self.host = host
        self.bind = bind
        self.port = port
        self.tls = tls
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    def open(self) -> None:
        if self._socket is not None:
            return
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.bind, self.port))
        sock.listen(64)
        self.port = sock.getsockname()[1]
        self._socket = sock
        self._thread = threading.Thread(
            target=self._accept_loop, args=(sock,), name=f"hvsim-{self.host.name}-{self.scheme}", daemon=True
        )
        self._thread.start()

    def close(self) -> None:
        sock, self._socket = self._socket, None
        if sock is None:
            return
        with contextlib.suppress(OSError):
            sock.shutdown(socket.SHUT_RDWR)
        sock.close()
        if self._thread is not None:
            self._thread.join(timeout=2)

    def _accept_loop(self, sock: socket.socket) -> None:
        while True:
            try:
                conn, address = sock.accept()
            except OSError:
                return
            if self.host.faults.reset_connections:
                conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                conn.close()
                continue
            threading.Thread(
                target=self.host._serve_connection,
                args=(conn, address, self),
                name=f"hvsim-{self.host.name}-conn",
                daemon=True,
            ).start()


class _Connection:
    """Per-connection state handed to the request handler (as its ``server``)."""

    def __init__(self, host: WinRMHostServer, listener: _Listener, auth: ConnectionAuth) -> None:
        self.host = host
        self.listener = listener
        self.auth = auth


class _WSManHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = 120.0  # the idle connection limit (per server: ``idle_connection_timeout``)

    def do_POST(self) -> None:
        connection = cast(_Connection, self.server)
        connection.host._handle_post(self, connection)

    def _not_allowed(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_GET(self) -> None:
        self._not_allowed()

    def do_PUT(self) -> None:
        self._not_allowed()

    def do_DELETE(self) -> None:
        self._not_allowed()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("hvsim %s: " + format, cast(_Connection, self.server).host.name, *args)


class WinRMHostServer:
    """One simulated host's WinRM service. ``backend`` is the host model handed to operation handlers."""

    def __init__(
        self,
        name: str,
        backend: object,
        username: str,
        password: str,
        ca: CertificateAuthority,
        *,
        http: bool = False,
        https: bool = True,
        latency_ms: float = 0,
        bind: str = "127.0.0.1",
        https_port: int = 0,
        http_port: int = 0,
        allow_basic: bool = True,
        max_envelope_size: int = DEFAULT_MAX_ENVELOPE_SIZE,
        max_shells_per_user: int = 30,
        idle_timeout: float = 7200.0,
        idle_connection_timeout: float = 120.0,
        max_operation_timeout: float = 60.0,
        scripts: dispatch.ScriptSource = dispatch.project_script,
    ) -> None:
        if not (http or https):
            raise ValueError("a simulated host needs at least one listener (http or https)")
        self.name = name
        self.backend = backend
        self.account = Account(username, password)
        self.ca = ca
        self.allow_basic = allow_basic
        self.max_envelope_size = max_envelope_size
        self.max_operation_timeout = max_operation_timeout
        self.scripts = scripts
        self.faults = HostFaults()
        self.faults.latency_ms = latency_ms
        self.faults.on_change.append(self._faults_changed)
        self.counters = HostCounters()
        self.shells = ShellTable(max_shells_per_user=max_shells_per_user, idle_timeout=idle_timeout)
        self._handler = type("_IdleLimitedHandler", (_WSManHandler,), {"timeout": idle_connection_timeout})
        self.received: list[ReceivedOperation] = []
        self._received_lock = threading.Lock()
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        self._state_lock = threading.Lock()
        self._running = False
        self.certificate: HostCertificate | None = ca.issue(name) if https else None
        self._listeners: list[_Listener] = []
        if self.certificate is not None:
            self._https = _Listener(self, bind, https_port, self.certificate.server_context())
            self._listeners.append(self._https)
        if http:
            self._http = _Listener(self, bind, http_port, None)
            self._listeners.append(self._http)

    # -- lifecycle ------------------------------------------------------------------------------------------------

    def start(self) -> WinRMHostServer:
        """Open the listeners (ports are chosen at the first start and kept across restarts)."""
        with self._state_lock:
            if self._running:
                return self
            NTLMAccountStore.shared().add(self.account)
            self._running = True
            if not self.faults.refuse_connections:
                for listener in self._listeners:
                    listener.open()
        return self

    def stop(self) -> None:
        """Close the listeners and every open connection, and drop all shells."""
        with self._state_lock:
            if not self._running:
                return
            self._running = False
            for listener in self._listeners:
                listener.close()
            self._drop_connections()
            self.shells.clear()
            NTLMAccountStore.shared().remove(self.account)

    def __enter__(self) -> WinRMHostServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def reset(self) -> None:
        """Clear faults, counters, received operations and shells (the backend is the lab's to reset)."""
        self.faults.clear()
        self.counters.reset()
        with self._received_lock:
            self.received.clear()
        self.shells.clear()

    # -- addresses ------------------------------------------------------------------------------------------------

    @property
    def https_port(self) -> int | None:
        """The HTTPS port (``None`` without HTTPS)."""
        return self._https.port if self.certificate is not None else None

    @property
    def http_port(self) -> int | None:
        """The HTTP port (``None`` without HTTP)."""
        listener = getattr(self, "_http", None)
        return listener.port if listener is not None else None

    @property
    def endpoint(self) -> str:
        """The WinRM endpoint URL: HTTPS when enabled, else HTTP."""
        listener = self._listeners[0]
        return f"{listener.scheme}://{listener.bind}:{listener.port}/wsman"

    @property
    def http_endpoint(self) -> str | None:
        """The HTTP endpoint URL (message encryption required), if enabled."""
        port = self.http_port
        return None if port is None else f"http://{self._listeners[-1].bind}:{port}/wsman"

    def received_operations(self, operation: str | None = None) -> list[ReceivedOperation]:
        """A copy of the received operations, optionally only those named ``operation``."""
        with self._received_lock:
            return [item for item in self.received if operation is None or item.operation == operation]

    def describe(self) -> dict[str, Any]:
        """The host as JSON (for the control plane)."""
        return {
            "name": self.name,
            "endpoint": self.endpoint,
            "http_endpoint": self.http_endpoint,
            "ca_pem_path": str(self.ca.ca_pem_path),
            "running": self._running,
        }

    # -- faults ---------------------------------------------------------------------------------------------------

    def _faults_changed(self, faults: HostFaults) -> None:
        with self._state_lock:
            if not self._running:
                return
            for listener in self._listeners:
                if faults.refuse_connections:
                    listener.close()
                else:
                    listener.open()
            if faults.refuse_connections or faults.reset_connections:
                self._drop_connections()

    def close_connections(self) -> None:
        """Close every open TCP connection (as HTTP.sys does with idle ones); shells and NTLM accounts stay."""
        self._drop_connections()

    def _drop_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
            self._connections.clear()
        for conn in connections:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)

    # -- connections ----------------------------------------------------------------------------------------------

    def _serve_connection(self, conn: socket.socket, address: Any, listener: _Listener) -> None:
        binding_hash = None
        conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # headers and body go out as separate writes
        try:
            if listener.tls is not None:
                conn.settimeout(10)
                conn = listener.tls.wrap_socket(conn, server_side=True)
                conn.settimeout(None)
                assert self.certificate is not None
                binding_hash = self.certificate.channel_binding_hash()
        except (OSError, ssl.SSLError) as exc:
            log.debug("hvsim %s: TLS handshake failed: %s", self.name, exc)
            conn.close()
            return
        with self._connections_lock:
            self._connections.add(conn)
        auth = ConnectionAuth(
            self.account,
            allow_basic=self.allow_basic and listener.tls is not None,
            channel_binding_hash=binding_hash,
        )
        try:
            self._handler(conn, address, cast(Any, _Connection(self, listener, auth)))
        except (OSError, ssl.SSLError) as exc:
            log.debug("hvsim %s: connection ended: %s", self.name, exc)
        finally:
            with self._connections_lock:
                self._connections.discard(conn)
            with contextlib.suppress(OSError):
                conn.close()

    def _handle_post(self, request: _WSManHandler, connection: _Connection) -> None:
        self.counters.add("http_round_trips")
        latency = self.faults.latency_ms
        if latency:
            time.sleep(latency / 1000)
        length = int(request.headers.get("Content-Length") or 0)
        body = request.rfile.read(length) if length > 0 else b""
        self.counters.add("bytes_in", len(body))
        if request.path.split("?", 1)[0].lower() != "/wsman":
            self._send(request, 404, b"", _SOAP_CONTENT_TYPE)
            return
        auth = connection.auth
        outcome = auth.check(request.headers.get("Authorization"), reject=self.faults.reject_auth)
        if outcome.completed_handshake:
            self.counters.add("ntlm_handshakes")
        if not outcome.ok:
            if outcome.failed:
                self.counters.add("auth_failures")
            self._send_unauthorized(request, outcome.challenges)
            return
        principal = auth.principal or self.account.username
        content_type = request.headers.get("Content-Type", "")
        encrypted = content_type.lower().startswith("multipart/encrypted")
        if encrypted:
            if not auth.ntlm_authenticated:
                self._send(request, 400, b"", _SOAP_CONTENT_TYPE)
                return
            try:
                soap = decrypt_body(auth, body)
            except (ValueError, struct.error) as exc:
                log.debug("hvsim %s: cannot decrypt request: %s", self.name, exc)
                self._send(request, 400, b"", _SOAP_CONTENT_TYPE)
                return
        elif body and connection.listener.tls is None:
            # AllowUnencrypted=false: plain SOAP over HTTP is refused.
            self.counters.add("auth_failures")
            self._send_unauthorized(request, ("Negotiate",))
            return
        else:
            soap = body
        if not soap:
            self._send(request, 200, b"", _SOAP_CONTENT_TYPE)  # pywinrm's empty request that sets up encryption
            return
        status, reply = self._process(soap, principal)
        if encrypted and reply:
            payload, reply_type = encrypt_body(auth, reply)
            self._send(request, status, payload, reply_type)
        else:
            self._send(request, status, reply, _SOAP_CONTENT_TYPE)

    def _send(self, request: _WSManHandler, status: int, payload: bytes, content_type: str) -> None:
        request.send_response(status)
        if payload:
            request.send_header("Content-Type", content_type)
        request.send_header("Content-Length", str(len(payload)))
        request.end_headers()
        request.wfile.write(payload)
        request.wfile.flush()
        self.counters.add("bytes_out", len(payload))

    def _send_unauthorized(self, request: _WSManHandler, challenges: tuple[str, ...]) -> None:
        request.send_response(401)
        for challenge in challenges:
            request.send_header("WWW-Authenticate", challenge)
        request.send_header("Content-Length", "0")
        request.end_headers()
        request.wfile.flush()

    # -- WS-Management actions ------------------------------------------------------------------------------------

    def _process(self, soap: bytes, principal: str) -> tuple[int, bytes]:
        if len(soap) > self.max_envelope_size:  # HTTP 413, no fault body (module docstring)
            self.counters.add("requests_too_large")
            return 413, b""
        match = _MESSAGE_ID.search(soap)
        relates_to = match.group(1).decode("ascii", "replace") if match else ""
        try:
            request = wsman.parse_request(soap)
            relates_to = request.message_id
            if request.resource_uri.lower() != wsman.RESOURCE_CMD:
                raise WSManFault.action_not_supported(request.resource_uri or request.action)
            action = self._actions.get(request.action)
            if action is None:
                raise WSManFault.action_not_supported(request.action)
            return 200, wsman.render_reply(request, action(self, request, principal))
        except WSManFault as fault:
            self.counters.add("faults")
            return 500, wsman.render_fault(fault, relates_to, self.name)

    def _create(self, request: wsman.WSManRequest, principal: str) -> str:
        shell = self.shells.create(principal)
        self.counters.add("shells_opened")
        address = escape(self.endpoint)
        return (
            f"<x:ResourceCreated><a:Address>{address}</a:Address><a:ReferenceParameters>"
            f"<w:ResourceURI>{wsman.RESOURCE_CMD}</w:ResourceURI>"
            f'<w:SelectorSet><w:Selector Name="ShellId">{shell.id}</w:Selector></w:SelectorSet>'
            "</a:ReferenceParameters></x:ResourceCreated>"
            f"<rsp:Shell><rsp:ShellId>{shell.id}</rsp:ShellId><rsp:ResourceUri>{wsman.RESOURCE_CMD}</rsp:ResourceUri>"
            f"<rsp:Owner>{escape(principal)}</rsp:Owner><rsp:ClientIP>127.0.0.1</rsp:ClientIP>"
            f"<rsp:IdleTimeOut>PT{self.shells.idle_timeout:.3f}S</rsp:IdleTimeOut>"
            "<rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
            "</rsp:Shell>"
        )

    def _delete(self, request: wsman.WSManRequest, principal: str) -> str:
        self.shells.delete(request.shell_id, principal)
        self.counters.add("shells_deleted")
        return ""

    def _command(self, request: wsman.WSManRequest, principal: str) -> str:
        shell = self.shells.get(request.shell_id, principal)
        start = commands.parse_command(request)
        kind, outcome = commands.choose_program(start, self.scripts)
        self.counters.add("commands")
        program: Callable[[bytes], CommandOutcome]
        if outcome is None:
            program = self._run_bootstrap
        else:
            fixed = outcome
            program = lambda _stdin: fixed  # noqa: E731
        command = Command(start.command_line, program, wants_stdin=kind == commands.ProgramKind.BOOTSTRAP)
        if start.command_id:
            command.id = start.command_id.upper()
        shell.commands[command.id] = command
        return f"<rsp:CommandResponse><rsp:CommandId>{command.id}</rsp:CommandId></rsp:CommandResponse>"

    def _command_of(self, request: wsman.WSManRequest, principal: str, command_id: str | None) -> Command:
        shell = self.shells.get(request.shell_id, principal)
        command = shell.commands.get((command_id or "").upper())
        if command is None:
            raise WSManFault.command_not_found(command_id or "")
        return command

    def _send_input(self, request: wsman.WSManRequest, principal: str) -> str:
        stream = request.find("rsp:Send/rsp:Stream")
        if stream is None:
            raise WSManFault.invalid_request("missing rsp:Send/rsp:Stream")
        command = self._command_of(request, principal, stream.get("CommandId"))
        try:
            data = base64.b64decode((stream.text or "").strip(), validate=True)
        except binascii.Error:
            raise WSManFault.invalid_request("stdin is not base64") from None
        self.counters.add("sends")
        command.feed(data, end=stream.get("End", "false").lower() in ("true", "1"))
        return "<rsp:SendResponse/>"

    def _receive(self, request: wsman.WSManRequest, principal: str) -> str:
        desired = request.find("rsp:Receive/rsp:DesiredStream")
        if desired is None:
            raise WSManFault.invalid_request("missing rsp:Receive/rsp:DesiredStream")
        command = self._command_of(request, principal, desired.get("CommandId"))
        self.counters.add("receives")
        timeout = min(request.operation_timeout or self.max_operation_timeout, self.max_operation_timeout)
        envelope_limit = min(request.max_envelope_size or self.max_envelope_size, self.max_envelope_size)
        max_bytes = max(1024, (envelope_limit - _REPLY_OVERHEAD) // 4 * 3)
        chunk = command.receive(timeout, max_bytes)
        if chunk is None:
            self.counters.add("operation_timeouts")
            raise WSManFault.operation_timeout()
        streams = []
        if chunk.stdout or chunk.done:
            streams.append(wsman.stream_element("stdout", command.id, chunk.stdout))
        if chunk.stderr:
            streams.append(wsman.stream_element("stderr", command.id, chunk.stderr))
        if chunk.done:
            streams.append(wsman.stream_element("stdout", command.id, b"", end=True))
            streams.append(wsman.stream_element("stderr", command.id, b"", end=True))
        state = wsman.command_state(command.id, done=chunk.done, exit_code=chunk.exit_code)
        return f"<rsp:ReceiveResponse>{''.join(streams)}{state}</rsp:ReceiveResponse>"

    def _signal(self, request: wsman.WSManRequest, principal: str) -> str:
        signal = request.find("rsp:Signal")
        if signal is None:
            raise WSManFault.invalid_request("missing rsp:Signal")
        command = self._command_of(request, principal, signal.get("CommandId"))
        command.terminate()
        shell = self.shells.get(request.shell_id, principal)
        shell.commands.pop(command.id, None)
        return "<rsp:SignalResponse/>"

    _actions: ClassVar[dict[str, Callable[[WinRMHostServer, wsman.WSManRequest, str], str]]] = {
        wsman.ACTION_CREATE: _create,
        wsman.ACTION_DELETE: _delete,
        wsman.ACTION_COMMAND: _command,
        wsman.ACTION_SEND: _send_input,
        wsman.ACTION_RECEIVE: _receive,
        wsman.ACTION_SIGNAL: _signal,
    }

    # -- the bootstrap ----------------------------------------------------------------------------------------------

    def _run_bootstrap(self, stdin: bytes) -> CommandOutcome:
        with dispatch.collecting_log():  # one process: the lines of every step end up in its output
            return self._run_parsed(stdin)

    def _run_parsed(self, stdin: bytes) -> CommandOutcome:
        parsed = dispatch.parse_envelope(stdin, self.scripts)
        if isinstance(parsed, CommandOutcome):
            return parsed
        if isinstance(parsed, dispatch.ParsedEnvelope):
            return self._run_operation(parsed)
        results: list[Any] = []
        for step in parsed.steps:  # in order in one process; the first failure is the batch's output
            outcome = self._run_operation(step)
            if outcome.exit_code != 0:
                return outcome
            results.append(json.loads(outcome.stdout)["result"])
        return dispatch.render_success(results)

    def _run_operation(self, parsed: dispatch.ParsedEnvelope) -> CommandOutcome:
        with self._received_lock:
            self.received.append(ReceivedOperation(parsed.operation, copy.deepcopy(parsed.params)))
        self.counters.add_operation(parsed.operation)
        delay_ms = self.faults.slow_operations.get(parsed.operation, 0)
        if delay_ms:
            time.sleep(delay_ms / 1000)
        injected = self.faults.script_errors.get(parsed.operation)
        if injected is not None:
            return dispatch.render_failure(injected.category, injected.message)
        context = OperationContext(self.name, self.backend, copy.deepcopy(parsed.params))
        outcome = dispatch.run_envelope(parsed, context)
        after = self.faults.failures_after.get(parsed.operation)
        if after is not None:  # the handler's changes stay on the host, as when a script fails half-way
            return dispatch.render_failure(after.category, after.message)
        return outcome
