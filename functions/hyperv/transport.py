"""WinRM transport: the only module that imports pywinrm, and the one place its errors are translated.

:class:`WinRMTransport` talks WS-Management (shell create, command, send, receive, signal, delete) to one Hyper-V
host through pywinrm's :class:`winrm.protocol.Protocol`, configured from :class:`ConnectionOptions` (built from the
app's :class:`~functions.settings.WinRMSettings` and a :class:`~functions.settings.HostEndpoint`).

- **Security defaults.** https on 5986 with certificate validation (the CA bundle setting becomes pywinrm's
  ``ca_trust_path``); ``verify_tls=False`` is honoured but logged once per process as a warning. http on 5985 is
  only allowed with NTLM, and then always with WinRM message encryption. Basic and certificate
  authentication need https.
- **Timeouts.** pywinrm has one HTTP timeout; the transport hands requests a ``(connect, read)`` pair instead, so a
  refused or black-holed host fails within the connect timeout while a long Receive may wait for the read timeout.
  The WS-Management operation timeout bounds one Receive; pywinrm's ``WinRMOperationTimeoutError`` (no output yet)
  is normal and simply repeated until the command is done or the optional overall ``timeout`` passes.
- **Errors.** Every pywinrm, requests and pyspnego exception is translated once, here, into
  :mod:`functions.hyperv.errors` (``raise … from exc``): refused/DNS/TLS/connect timeout → ``HostUnreachable``;
  HTTP 401 → ``AuthenticationFailed``; read timeout → ``OperationTimeout``; WS-Management fault → ``ProtocolError``
  with the fault code; HTTP 413 (a request above the host's ``MaxEnvelopeSizekb``) → ``ProtocolError`` with fault
  code ``413``. Stdin is sent in pieces that keep every envelope under pywinrm's ``max_env_sz`` (150 KiB, below
  Windows' default of 500 KiB), so only a host configured below 150 KiB can answer 413.
- **Sessions and threads.** One transport holds one HTTP session (NTLM authenticates the connection once) and
  lazily one remote shell, reused for every command; :meth:`WinRMTransport.close` deletes the shell. A transport
  belongs to one thread at a time: the first thread that uses it, or the one it is handed to
  (:meth:`WinRMTransport.adopt`, :meth:`WinRMTransport.release`: how :mod:`functions.hyperv.pool` lends a session to
  one activity after another). Calls from any other thread raise ``RuntimeError``.
- **Health.** A command that fails in the transport (any error, or a timeout) marks the transport unhealthy
  (:attr:`WinRMTransport.reusable` is then false): the pool replaces it rather than lending it again. A command on a
  transport that has worked before, whose *first* request fails because the HTTP connection went stale (the host
  closed the idle connection, so NTLM answers 401 on the new one, or the connection was reset), is retried once on
  a new HTTP session with the same shell: nothing had started on the host.
- **Stdin is a pipe.** A command that is given input is started with ``WINRS_CONSOLEMODE_STDIN=FALSE``; one without
  input keeps WinRS's console mode. See "Why stdin is piped" below.

Why stdin is piped
------------------

Every operation sends its JSON envelope to ``powershell.exe`` on stdin (see :mod:`functions.hyperv.runner`). The
[MS-WSMV] Command request (§3.1.4.11, https://learn.microsoft.com/en-us/openspecs/windows_protocols/ms-wsmv/
c793e333-c409-43c6-a2eb-6ae2489c7ef4) carries an option set with ``WINRS_CONSOLEMODE_STDIN``: TRUE makes the
command's stdin a console, FALSE a pipe. pywinrm's ``Protocol.run_command(shell_id, command, arguments=(),
console_mode_stdin=True, skip_cmd_shell=False)`` (``winrm/protocol.py``, pywinrm 0.5.0) writes that option as TRUE
unless told otherwise. That suits interactive programs, not data: with a console for stdin, ``powershell.exe`` does
not see redirected input, so a script's pipeline input (``$input``) stays empty and the end of the input is no
end-of-file.

We follow what Ansible's WinRM connection has run against real Windows hosts for a decade
(``ansible/ansible``, ``lib/ansible/plugins/connection/winrm.py``, ``_winrm_exec``): it starts each command with
``console_mode_stdin=(stdin_iterator is None)`` — a pipe exactly when it sends input — then sends the input with
``Send`` requests, the last one with ``End="true"``. With pipelining, its command line is only the encoded
``bootstrap_wrapper.ps1`` (``lib/ansible/plugins/shell/powershell.py``, ``build_module_command``: ``powershell
-NoProfile -NonInteractive -ExecutionPolicy ... -EncodedCommand <b64>``), and that wrapper reads the whole payload
from the pipeline, ``$input`` (``lib/ansible/executor/powershell/bootstrap_wrapper.ps1``). Our bootstrap does the
same (``scripts/_bootstrap.ps1``). pywinrm's own discussion of ``send_command_input`` (diyan/pywinrm#271) makes the
same point about ``End``: without it, a ``powershell.exe`` reading stdin waits forever for the rest.

The simulator holds us to this: ``tools/hvsim`` refuses the bootstrap when it is started with console-mode stdin
or under any command line but the exact encoded one (``tools/hvsim/protocol/commands.py``).
"""

from __future__ import annotations

import contextlib
import logging
import os
import ssl
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Literal

import requests
import requests.utils
import winrm.exceptions
import winrm.protocol
from urllib3.util.ssl_ import create_urllib3_context

from functions.hyperv.errors import (
    AuthenticationFailed,
    HostUnreachable,
    HyperVError,
    OperationTimeout,
    ProtocolError,
)
from functions.settings import HostEndpoint, Secret, WinRMSettings

__all__ = [
    "CommandResult",
    "CommandTransport",
    "ConnectionOptions",
    "WinRMTransport",
    "tls_client_context",
]

log = logging.getLogger(__name__)

AuthTransport = Literal["ntlm", "basic", "certificate"]

# WSManFault code for "the shell was not found" (e.g. deleted by the host's idle timeout): reopen and retry once.
_SHELL_NOT_FOUND = 2150858843
# Codepage 65001 (UTF-8) for the remote console; the bootstrap reads and writes raw UTF-8 bytes anyway.
_UTF8_CODEPAGE = 65001
# Room left in each Send envelope for the SOAP header when stdin is chunked under pywinrm's MaxEnvelopeSize.
_ENVELOPE_OVERHEAD = 8192
_MESSAGE_EXCERPT = 200

_insecure_warned = False
_insecure_lock = threading.Lock()


@dataclass(frozen=True)
class CommandResult:
    """What a finished remote command produced: raw stdout/stderr bytes and the process exit code."""

    stdout: bytes
    stderr: bytes
    exit_code: int


class CommandTransport:
    """The seam the PowerShell runner uses: run one command line with stdin and collect its output.

    :class:`WinRMTransport` is the real implementation; tests may pass any object with the same two members.
    """

    host: str

    def execute(self, command_line: str, stdin: bytes = b"", *, timeout: float | None = None) -> CommandResult:
        """Run ``command_line``, feed ``stdin`` (closing it), wait for the end and return the output.

        Non-empty ``stdin`` reaches the command through a pipe, all of it, then end-of-file: a PowerShell script
        reads it as pipeline input (``$input``).
        """
        raise NotImplementedError


@dataclass(frozen=True)
class ConnectionOptions:
    """Everything needed to connect to one host; :meth:`from_settings` builds it from the app's settings."""

    host: str
    endpoint: str
    transport: AuthTransport = "ntlm"
    username: str = ""
    password: Secret = field(default_factory=lambda: Secret(""))
    ca_trust_path: str | None = None
    verify_tls: bool = True
    cert_pem: str | None = None
    cert_key_pem: str | None = None
    connect_timeout: float = 10.0
    operation_timeout: float = 20.0
    read_timeout: float = 30.0

    def __post_init__(self) -> None:
        scheme = self.endpoint.split(":", 1)[0].lower()
        if scheme not in ("http", "https"):
            raise ValueError(f"WinRM endpoint must be an http(s) URL, got scheme '{scheme}'")
        if scheme == "http" and self.transport != "ntlm":
            raise ValueError(f"WinRM transport '{self.transport}' cannot encrypt messages over http; use https")
        if self.read_timeout <= self.operation_timeout:
            raise ValueError("the WinRM read timeout must be greater than the operation timeout")
        if self.operation_timeout < 1 or self.connect_timeout <= 0:
            raise ValueError("WinRM timeouts must be positive (operation timeout at least 1 s)")

    @property
    def is_https(self) -> bool:
        """Whether the endpoint uses TLS."""
        return self.endpoint.lower().startswith("https:")

    @classmethod
    def from_settings(cls, settings: WinRMSettings, host: HostEndpoint) -> ConnectionOptions:
        """Options for ``host``: its port override or the default, the scheme, credentials and timeouts."""
        port = settings.port_for(host)
        return cls(
            host=host.name,
            endpoint=f"{settings.scheme}://{host.name}:{port}/wsman",
            transport=settings.transport,
            username=settings.username,
            password=settings.password,
            ca_trust_path=settings.ca_bundle,
            verify_tls=settings.verify_tls,
            cert_pem=settings.cert_pem,
            cert_key_pem=settings.cert_key_pem,
            connect_timeout=settings.connect_timeout,
            operation_timeout=settings.operation_timeout,
            read_timeout=settings.read_timeout,
        )


def _warn_insecure_once(host: str) -> None:
    global _insecure_warned  # noqa: PLW0603 - one warning per process is the documented behaviour
    with _insecure_lock:
        if _insecure_warned:
            return
        _insecure_warned = True
    log.warning(
        "WinRM TLS certificate validation is disabled (AETHERV_WINRM_VERIFY_TLS=false), first used for host %s; "
        "use it only in labs",
        host,
    )


def build_protocol(options: ConnectionOptions) -> winrm.protocol.Protocol:
    """A pywinrm ``Protocol`` for ``options`` (no network I/O until the first request)."""
    if not options.verify_tls and options.is_https:
        _warn_insecure_once(options.host)
    certificate = options.transport == "certificate"
    protocol = winrm.protocol.Protocol(
        endpoint=options.endpoint,
        transport=options.transport,
        username=None if certificate else options.username,
        password=None if certificate else options.password.reveal(),
        # None selects the default CA bundle and skips pywinrm's environment lookup (its annotation omits None).
        ca_trust_path=options.ca_trust_path,  # type: ignore[arg-type]
        cert_pem=options.cert_pem,
        cert_key_pem=options.cert_key_pem,
        server_cert_validation="validate" if options.verify_tls else "ignore",
        read_timeout_sec=max(int(options.read_timeout), int(options.operation_timeout) + 1),
        operation_timeout_sec=int(options.operation_timeout),
        message_encryption="never" if options.is_https else "always",
        proxy=None,  # Hybrid Connections and labs connect directly; ignore proxy environment variables
    )
    # requests accepts a (connect, read) pair wherever pywinrm passes its single read timeout.
    protocol.transport.read_timeout_sec = (options.connect_timeout, options.read_timeout)  # type: ignore[assignment]
    return protocol


def tls_client_context(options: ConnectionOptions) -> tuple[ssl.SSLContext, str]:
    """A TLS client context that trusts what the transport's HTTPS requests trust, and where that trust comes from.

    pywinrm hands requests ``verify=ca_trust_path``; requests then loads that file (or directory), or without one
    its own default bundle (``requests.utils.DEFAULT_CA_BUNDLE_PATH``, certifi's), into a urllib3 context
    (``requests/adapters.py``, ``cert_verify``). This builds the same context — urllib3's defaults: certificate
    required, host name checked against the subject alternative names only — for the host probe
    (:mod:`functions.hyperv.probe`), which shakes hands itself to report each stage. Raises ``OSError`` when the
    configured bundle cannot be read.
    """
    location = options.ca_trust_path or requests.utils.DEFAULT_CA_BUNDLE_PATH
    context = create_urllib3_context()
    if os.path.isdir(location):
        context.load_verify_locations(capath=location)
    else:
        context.load_verify_locations(cafile=location)
    if options.transport == "certificate" and options.cert_pem:
        context.load_cert_chain(options.cert_pem, options.cert_key_pem)
    return context, location


def _stale_connection(exc: HyperVError) -> bool:
    """Whether ``exc`` is what a request on a stale keep-alive connection gets (worth one retry on a new session).

    A 401 (the new TCP connection is not NTLM-authenticated; with message encryption pywinrm cannot re-authenticate
    by itself) or a connection reset/refused/aborted; never a connect timeout (a host that does not answer would
    only cost a second timeout).
    """
    cause = exc.__cause__
    if isinstance(exc, AuthenticationFailed):
        return True
    return isinstance(cause, requests.exceptions.ConnectionError) and not isinstance(
        cause, requests.exceptions.ConnectTimeout | requests.exceptions.SSLError
    )


def _excerpt(text: object) -> str:
    flat = " ".join(str(text).split())
    return flat if len(flat) <= _MESSAGE_EXCERPT else flat[: _MESSAGE_EXCERPT - 1] + "…"


def _in_tls_handshake(exc: BaseException) -> bool:
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if "handshake" in str(current):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


@contextlib.contextmanager
def _translated(options: ConnectionOptions, action: str) -> Iterator[None]:
    """Translate pywinrm/requests/pyspnego errors raised while doing ``action`` into the HyperVError hierarchy."""
    host = options.host
    try:
        yield
    except HyperVError:
        raise
    except winrm.exceptions.WinRMOperationTimeoutError as exc:
        raise OperationTimeout(f"{action}: WS-Management operation timeout", host=host) from exc
    except winrm.exceptions.AuthenticationError as exc:  # InvalidCredentialsError, BasicAuthDisabledError
        raise AuthenticationFailed(f"{action}: the host rejected the credentials (HTTP 401)", host=host) from exc
    except winrm.exceptions.WSManFaultError as exc:
        code = str(exc.wsman_fault_code) if exc.wsman_fault_code is not None else exc.fault_subcode
        raise ProtocolError(
            f"{action}: WS-Management fault {exc.fault_subcode or exc.fault_code} "
            f"(code {exc.wsman_fault_code}): {_excerpt(exc.reason)}",
            host=host,
            fault_code=code,
        ) from exc
    except winrm.exceptions.WinRMTransportError as exc:
        if exc.code == 401:
            raise AuthenticationFailed(f"{action}: the host rejected the credentials (HTTP 401)", host=host) from exc
        if exc.code == 413:  # WinRM refuses a request envelope above its MaxEnvelopeSizekb this way
            raise ProtocolError(
                f"{action}: the host refused a request larger than its MaxEnvelopeSizekb (HTTP 413)",
                host=host,
                fault_code="413",
            ) from exc
        raise ProtocolError(f"{action}: unexpected HTTP status {exc.code}", host=host) from exc
    except requests.exceptions.ConnectTimeout as exc:
        raise HostUnreachable(
            f"{action}: no connection to {options.endpoint} within {options.connect_timeout:g} s", host=host
        ) from exc
    except requests.exceptions.ReadTimeout as exc:
        if _in_tls_handshake(exc):  # urllib3 reports a TLS handshake that timed out as a read timeout
            raise HostUnreachable(
                f"{action}: no TLS handshake with {options.endpoint} within {options.connect_timeout:g} s", host=host
            ) from exc
        raise OperationTimeout(f"{action}: no answer within {options.read_timeout:g} s", host=host) from exc
    except requests.exceptions.SSLError as exc:
        raise HostUnreachable(f"{action}: TLS connection failed: {_excerpt(exc)}", host=host) from exc
    except requests.exceptions.ConnectionError as exc:
        raise HostUnreachable(f"{action}: cannot connect to {options.endpoint}: {_excerpt(exc)}", host=host) from exc
    except requests.exceptions.RequestException as exc:
        raise ProtocolError(f"{action}: HTTP request failed: {_excerpt(exc)}", host=host) from exc
    except PermissionError as exc:  # requests_ntlm: the server answered 401 without an NTLM challenge
        raise AuthenticationFailed(f"{action}: authentication failed: {_excerpt(exc)}", host=host) from exc
    except winrm.exceptions.WinRMError as exc:
        raise ProtocolError(f"{action}: {_excerpt(exc)}", host=host) from exc
    except (ET.ParseError, StopIteration, AssertionError, ValueError, KeyError) as exc:
        raise ProtocolError(f"{action}: malformed WS-Management reply ({type(exc).__name__})", host=host) from exc
    except Exception as exc:
        # pyspnego raises its own SpnegoError family while authenticating; keep the import out of the hot path.
        if type(exc).__module__.startswith("spnego"):
            raise AuthenticationFailed(f"{action}: authentication failed: {_excerpt(exc)}", host=host) from exc
        raise


class WinRMTransport(CommandTransport):
    """WS-Management shell operations against one host, with a lazily opened shell reused across commands.

    Not thread-safe by design: the first thread that calls it owns it; any other thread gets ``RuntimeError``.
    ``protocol_factory`` builds the pywinrm ``Protocol`` (tests may inject one).
    """

    def __init__(
        self,
        options: ConnectionOptions,
        *,
        protocol_factory: Callable[[ConnectionOptions], Any] = build_protocol,
    ) -> None:
        self.options = options
        self.host = options.host
        self._protocol_factory = protocol_factory
        self._protocol: Any = None
        self._shell_id: str | None = None
        self._owner: int | None = None
        self._healthy = True
        self._worked = False  # a command has completed on this transport
        self.round_trips = 0
        """WS-Management requests sent so far (each one HTTP round trip; NTLM's handshake aside): telemetry reads it."""

    @classmethod
    def from_settings(cls, settings: WinRMSettings, host: HostEndpoint) -> WinRMTransport:
        """A transport for ``host`` configured from the app's WinRM settings."""
        return cls(ConnectionOptions.from_settings(settings, host))

    def __enter__(self) -> WinRMTransport:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    # -- ownership and health --------------------------------------------------------------------------------------

    def adopt(self) -> None:
        """Make the calling thread the owner (a transport handed over by its last owner; see :meth:`release`)."""
        me = threading.get_ident()
        if self._owner not in (None, me):
            raise RuntimeError(f"WinRMTransport for host {self.host} is in use by another thread")
        self._owner = me

    def release(self) -> None:
        """Give up ownership so that another thread may :meth:`adopt` the transport (called by its owner)."""
        if self._owner not in (None, threading.get_ident()):
            raise RuntimeError(f"WinRMTransport for host {self.host} is owned by another thread")
        self._owner = None

    @property
    def reusable(self) -> bool:
        """Whether the transport may run more commands: opened, and no command has failed in the transport."""
        return self._healthy and self._protocol is not None

    def _claim(self) -> Any:
        me = threading.get_ident()
        if self._owner is None:
            self._owner = me
        elif self._owner != me:
            raise RuntimeError(
                f"WinRMTransport for host {self.host} is owned by another thread; create one per activity"
            )
        if self._protocol is None:
            self._protocol = self._protocol_factory(self.options)
        return self._protocol

    # -- WS-Management operations ----------------------------------------------------------------------------------

    def connect(self) -> str:
        """Open the reused shell now unless it is open (the first authenticated round trip); returns its id."""
        if self._shell_id is None:
            self._shell_id = self.open_shell()
        return self._shell_id

    def open_shell(self) -> str:
        """Create a remote shell (cmd resource URI, UTF-8 codepage, no profile) and return its id."""
        protocol = self._claim()
        self.round_trips += 1
        with _translated(self.options, "open shell"):
            return str(protocol.open_shell(noprofile=True, codepage=_UTF8_CODEPAGE))

    def run_command(self, shell_id: str, command_line: str, *, console_mode_stdin: bool = True) -> str:
        """Start ``command_line`` in the shell and return the command id.

        ``console_mode_stdin=False`` gives the command a pipe for stdin (``WINRS_CONSOLEMODE_STDIN=FALSE``); pass it
        whenever input will be sent (see the module docstring).
        """
        protocol = self._claim()
        self.round_trips += 1
        with _translated(self.options, "start command"):
            return str(protocol.run_command(shell_id, command_line, console_mode_stdin=console_mode_stdin))

    def send_input(self, shell_id: str, command_id: str, data: bytes, *, end: bool = True) -> None:
        """Send ``data`` to the command's stdin in chunks that keep every envelope under MaxEnvelopeSize."""
        protocol = self._claim()
        chunk = self._stdin_chunk_size(protocol)
        pieces = [data[i : i + chunk] for i in range(0, len(data), chunk)] or [b""]
        with _translated(self.options, "send input"):
            for index, piece in enumerate(pieces):
                self.round_trips += 1
                protocol.send_command_input(shell_id, command_id, piece, end=end and index == len(pieces) - 1)

    def receive(self, shell_id: str, command_id: str, *, timeout: float | None = None) -> CommandResult:
        """Collect output until the command is done; operation-timeout faults are normal and repeated.

        With ``timeout`` (seconds), raise :class:`OperationTimeout` once that much time passed without the command
        finishing (the command is then signalled to terminate).
        """
        protocol = self._claim()
        stdout: list[bytes] = []
        stderr: list[bytes] = []
        deadline = None if timeout is None else time.monotonic() + timeout
        with _translated(self.options, "receive output"):
            while True:
                self.round_trips += 1
                try:
                    out, err, exit_code, done = protocol.get_command_output_raw(shell_id, command_id)
                except winrm.exceptions.WinRMOperationTimeoutError:
                    out, err, exit_code, done = b"", b"", -1, False
                stdout.append(out)
                stderr.append(err)
                if done:
                    return CommandResult(b"".join(stdout), b"".join(stderr), int(exit_code))
                if deadline is not None and time.monotonic() >= deadline:
                    with contextlib.suppress(Exception):
                        protocol.cleanup_command(shell_id, command_id)
                    raise OperationTimeout(f"command did not finish within {timeout:g} s", host=self.host)

    def signal_terminate(self, shell_id: str, command_id: str) -> None:
        """Signal the command to terminate (releases it on the host; normal after it is done)."""
        protocol = self._claim()
        self.round_trips += 1
        with _translated(self.options, "signal command"):
            protocol.cleanup_command(shell_id, command_id)

    def close_shell(self, shell_id: str) -> None:
        """Delete the remote shell."""
        protocol = self._claim()
        self.round_trips += 1
        with _translated(self.options, "delete shell"):
            protocol.close_shell(shell_id, close_session=False)

    # -- the runner's seam -----------------------------------------------------------------------------------------

    def execute(self, command_line: str, stdin: bytes = b"", *, timeout: float | None = None) -> CommandResult:
        """Run one command in the (reused) shell: start it (stdin piped when given), send stdin, receive, signal."""
        try:
            result = self._execute_retrying(command_line, stdin, timeout)
        except BaseException:
            self._healthy = False  # the command's state on the host is unknown: never lend this session again
            raise
        self._worked = True
        return result

    def _execute_retrying(self, command_line: str, stdin: bytes, timeout: float | None) -> CommandResult:
        started: list[bool] = []
        try:
            return self._execute_in_shell(command_line, stdin, timeout, started)
        except (AuthenticationFailed, HostUnreachable) as exc:
            if started or not self._worked or not _stale_connection(exc):
                raise
            log.info("WinRM connection to %s went stale (%s); reconnecting with the same shell", self.host, exc)
            self._reconnect()
            return self._execute_in_shell(command_line, stdin, timeout, [])

    def _execute_in_shell(
        self, command_line: str, stdin: bytes, timeout: float | None, started: list[bool]
    ) -> CommandResult:
        try:
            return self._execute_once(command_line, stdin, timeout, started)
        except ProtocolError as exc:
            if exc.fault_code != str(_SHELL_NOT_FOUND):
                raise
            log.info("WinRM shell on %s is gone (idle timeout?); opening a new one", self.host)
            self._shell_id = None
            return self._execute_once(command_line, stdin, timeout, started)

    def _reconnect(self) -> None:
        """A new HTTP session (a new NTLM handshake on the next request); the shell id is kept."""
        protocol, self._protocol = self._protocol, None
        if protocol is not None:
            with contextlib.suppress(Exception):
                protocol.transport.close_session()

    def _execute_once(
        self, command_line: str, stdin: bytes, timeout: float | None, started: list[bool]
    ) -> CommandResult:
        shell_id = self.connect()
        # Input goes through a pipe, console mode only without input: as Ansible's _winrm_exec does.
        command_id = self.run_command(shell_id, command_line, console_mode_stdin=not stdin)
        started.append(True)
        if stdin:
            self.send_input(shell_id, command_id, stdin, end=True)
        result = self.receive(shell_id, command_id, timeout=timeout)
        self.signal_terminate(shell_id, command_id)
        return result

    def close(self) -> None:
        """Delete the shell (best effort) and close the HTTP session. Safe to call more than once."""
        if self._protocol is None:
            return
        protocol = self._claim()
        shell_id, self._shell_id = self._shell_id, None
        try:
            if shell_id is not None:
                with contextlib.suppress(HyperVError):
                    self.close_shell(shell_id)
        finally:
            protocol.transport.close_session()

    @staticmethod
    def _stdin_chunk_size(protocol: Any) -> int:
        max_envelope = int(getattr(protocol, "max_env_sz", winrm.protocol.Protocol.DEFAULT_MAX_ENV_SIZE))
        return max(1024, (max_envelope - _ENVELOPE_OVERHEAD) // 4 * 3)
