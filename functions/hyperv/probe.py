"""The host probe: each stage of reaching one configured Hyper-V host, timed and told in plain words.

An operator runs it first, before the inventory or a workflow has to (``POST /api/v1/hosts/{host}/probe``, through
:meth:`functions.hyperv.connector.HostConnector.probe`). :func:`probe_host` walks the stages in order; a stage runs
only when every stage before it passed, the rest are reported ``skipped``:

1. ``name_resolution`` — the name the transport connects to: the configured name, or its ``AETHERV_HOST_ADDRESSES``
   override (:func:`functions.hyperv.factory.connection_options`; an IP literal needs no lookup).
2. ``tcp`` — a TCP connection to the WinRM port, to each resolved address in turn as the HTTP client tries them.
3. ``tls`` (https only; ``skipped`` for http) — a handshake that trusts what the transport trusts
   (:func:`functions.hyperv.transport.tls_client_context`). The certificate's subject, issuer, validity, names and
   fingerprint are reported even when it is not trusted. The name checked is the one the transport checks: the
   override address when there is one, else the configured name; matching follows RFC 6125 as urllib3 does
   (subject alternative names only, a wildcard only as the whole left-most label, IP addresses against IP SANs).
4. ``authentication`` — the transport opens its shell: the first authenticated WS-Management round trip (NTLM,
   basic or a client certificate, as ``AETHERV_WINRM_TRANSPORT`` says).
5. ``powershell`` — ``scripts/ping.ps1`` through the project's PowerShell runner in that shell, with a random token
   as its parameters (data, never script text). The host's computer name and PowerShell version come back, and the
   token must come back unchanged.

**Time.** Each stage is bounded by the WinRM settings: the connect timeout for the TCP connection and the TLS
handshake, the transport's connect/read timeouts for the WS-Management round trips, and the script run by what is
left of the limit. The whole probe is bounded by ``time_limit`` (:data:`PROBE_TIME_LIMIT`, far below both
``functionTimeout`` and the 230 s an HTTP-triggered function may take to answer on Azure): the stages run one after
another on one worker thread (the transport belongs to the thread that uses it), and the caller stops waiting at
the deadline and reports the stage that was still running as failed. A stage left running finishes within its own
timeouts and the worker then closes what the probe opened.

**Secrets.** Only the transport sees the password. Details quote the Hyper-V layer's translated messages (which
never carry credentials), operating-system error texts and certificate fields, never a raw client-library error.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import ipaddress
import logging
import secrets
import socket
import ssl
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes

from functions.hyperv.client import HyperVClient
from functions.hyperv.errors import (
    AuthenticationFailed,
    HostUnreachable,
    HyperVError,
    OperationTimeout,
    ProtocolError,
)
from functions.hyperv.factory import connection_options
from functions.hyperv.models import PingResult
from functions.hyperv.probe_report import STAGE_TITLES, ProbeCertificate, ProbeReport, ProbeStage, StageName
from functions.hyperv.runner import PowerShellRunner
from functions.hyperv.transport import WinRMTransport, tls_client_context
from functions.settings import HostEndpoint, WinRMSettings

__all__ = ["PROBE_TIME_LIMIT", "name_matches", "probe_host"]

log = logging.getLogger(__name__)

PROBE_TIME_LIMIT = 60.0
"""Seconds a whole probe may take (Azure answers an HTTP-triggered function after at most 230 s)."""

EXPIRY_WARNING_DAYS = 14
"""A trusted certificate that expires sooner than this is still ``ok``, with a warning in the details."""

_CLOSE_WAIT = 5.0


class _StageFailed(Exception):  # noqa: N818 - a stage outcome, not an error of the probe
    """A stage failed: what happened (``detail``) and what to check (``hint``), both in plain words."""

    def __init__(self, detail: str, hint: str) -> None:
        super().__init__(detail)
        self.detail = detail
        self.hint = hint


class _StageNotUsed(Exception):  # noqa: N818 - a stage outcome, not an error of the probe
    """The stage does not apply to this host (TLS over http)."""


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _os_error(exc: OSError) -> str:
    if isinstance(exc, ConnectionRefusedError):
        return "connection refused"
    return exc.strerror or str(exc) or type(exc).__name__


def name_matches(name: str, dns_names: list[str], ip_addresses: list[str]) -> bool:
    """Whether a certificate with these subject alternative names is valid for ``name`` (RFC 6125, as urllib3)."""
    if _is_ip(name):
        wanted = ipaddress.ip_address(name)
        return any(ipaddress.ip_address(ip) == wanted for ip in ip_addresses)
    host = name.rstrip(".").lower()
    for pattern in (dns.rstrip(".").lower() for dns in dns_names):
        if pattern == host:
            return True
        label, _, rest = host.partition(".")
        if pattern.startswith("*.") and pattern.count(".") >= 2 and label and rest == pattern[2:]:
            return True
    return False


class _Probe:
    """The stages against one host; every method runs on the probe's worker thread."""

    def __init__(self, endpoint: HostEndpoint, settings: WinRMSettings, address: str | None, deadline: float) -> None:
        self.host = endpoint.name
        self.settings = settings
        self.address = address
        self.port = settings.port_for(endpoint)
        self.options = connection_options(settings, endpoint, address=address)
        self.target = address or endpoint.name
        self.where = f"{self.host}:{self.port}" + (f" ({address})" if address else "")
        self.deadline = deadline
        self.candidates: list[tuple[socket.AddressFamily, tuple[object, ...]]] = []
        self.peer: tuple[socket.AddressFamily, tuple[object, ...]] | None = None
        self.sock: socket.socket | None = None
        self.transport: WinRMTransport | None = None
        self.certificate: ProbeCertificate | None = None
        self.answer: PingResult | None = None

    def stages(self) -> list[tuple[StageName, Callable[[], str]]]:
        return [
            ("name_resolution", self.name_resolution),
            ("tcp", self.tcp),
            ("tls", self.tls),
            ("authentication", self.authentication),
            ("powershell", self.powershell),
        ]

    def _connect_timeout(self) -> float:
        return max(0.05, min(self.settings.connect_timeout, self.deadline - time.monotonic()))

    @property
    def _listener(self) -> str:
        return "HTTPS" if self.options.is_https else "HTTP"

    # -- 1. name resolution ----------------------------------------------------------------------------------------

    def name_resolution(self) -> str:
        try:
            found = socket.getaddrinfo(self.target, self.port, type=socket.SOCK_STREAM)
        except (socket.gaierror, UnicodeError) as exc:
            reason = exc.strerror if isinstance(exc, socket.gaierror) else "not a valid host name"
            if self.address:
                raise _StageFailed(
                    f"{self.address}, the AETHERV_HOST_ADDRESSES override of {self.host}, does not resolve ({reason})",
                    "correct the address in AETHERV_HOST_ADDRESSES",
                ) from None
            raise _StageFailed(
                f"{self.host} does not resolve ({reason})",
                "check the name in AETHERV_HOSTS and the DNS the app uses (with Hybrid Connections, the endpoint "
                "must be this exact name), or map the name to an address in AETHERV_HOST_ADDRESSES",
            ) from None
        self.candidates = list(dict.fromkeys((family, sockaddr) for family, _, _, _, sockaddr in found))
        addresses = ", ".join(dict.fromkeys(str(sockaddr[0]) for _, sockaddr in self.candidates))
        if self.address is None:
            return f"{self.host} resolves to {addresses}"
        if _is_ip(self.address):
            return f"{self.host} → {self.address} (AETHERV_HOST_ADDRESSES override; no DNS lookup)"
        return f"{self.host} → {self.address} (AETHERV_HOST_ADDRESSES override), which resolves to {addresses}"

    # -- 2. TCP ----------------------------------------------------------------------------------------------------

    def _open(self, family: socket.AddressFamily, sockaddr: tuple[object, ...]) -> socket.socket:
        sock = socket.socket(family, socket.SOCK_STREAM)
        timeout = self._connect_timeout()
        sock.settimeout(timeout)
        try:
            sock.connect(sockaddr)
        except TimeoutError:
            sock.close()
            raise TimeoutError(f"no answer within {timeout:g} s") from None
        except OSError:
            sock.close()
            raise
        return sock

    def tcp(self) -> str:
        problems: list[tuple[str, OSError]] = []
        for family, sockaddr in self.candidates:
            try:
                self.sock = self._open(family, sockaddr)
            except OSError as exc:
                problems.append((str(sockaddr[0]), exc))
                continue
            self.peer = (family, sockaddr)
            tried = f" (after {len(problems)} address(es) that did not answer)" if problems else ""
            return f"connected to {sockaddr[0]} port {self.port}{tried}"
        if len(problems) == 1:
            problem = problems[0][1]
            detail = (
                f"connection refused on {self.where}"
                if isinstance(problem, ConnectionRefusedError)
                else f"no connection to {self.where}: {_os_error(problem)}"
            )
        else:
            tried = "; ".join(f"{address}: {_os_error(exc)}" for address, exc in problems)
            detail = f"no connection to {self.where} at any of its addresses ({tried})"
        if all(isinstance(exc, ConnectionRefusedError) for _, exc in problems):
            hint = f"is the WinRM {self._listener} listener running and the firewall open?"
        elif all(isinstance(exc, TimeoutError) for _, exc in problems):
            hint = (
                "is the host up? A firewall may drop the packets; with Hybrid Connections, check that the Hybrid "
                "Connection Manager shows this endpoint as connected"
            )
        else:
            hint = "check the network path between the app and the host"
        raise _StageFailed(detail, hint)

    # -- 3. TLS ----------------------------------------------------------------------------------------------------

    def _trust_store(self, location: str) -> str:
        if self.options.ca_trust_path:
            return f"the CA bundle {location} (AETHERV_WINRM_CA_BUNDLE)"
        return f"the HTTP client's default CA bundle, {location} (AETHERV_WINRM_CA_BUNDLE is not set)"

    def _unverified_certificate(self) -> tuple[bytes | None, str | None]:
        """The certificate read over a second connection that checks nothing (after verification refused it)."""
        if self.peer is None:
            return None, None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        try:
            with (
                self._open(*self.peer) as raw,
                context.wrap_socket(raw, server_hostname=self.target) as tls,
            ):
                return tls.getpeercert(binary_form=True), tls.version()
        except (OSError, ssl.SSLError):
            return None, None

    def tls(self) -> str:
        if not self.options.is_https:
            raise _StageNotUsed("not used: the scheme is http, where WinRM encrypts each message itself")
        try:
            context, location = tls_client_context(self.options)
        except (OSError, ssl.SSLError) as exc:
            raise _StageFailed(
                f"the CA bundle {self.options.ca_trust_path} cannot be loaded ({_os_error(exc)})",
                "point AETHERV_WINRM_CA_BUNDLE at a readable PEM file of the CA that signs the hosts' certificates",
            ) from None
        store = self._trust_store(location)
        context.check_hostname = False  # the name is checked below, so a report has both answers
        sock, self.sock = self.sock, None
        assert sock is not None
        handshake_timeout = self._connect_timeout()
        sock.settimeout(handshake_timeout)
        trust_error: str | None = None
        try:
            with context.wrap_socket(sock, server_hostname=self.target) as tls:
                der, version = tls.getpeercert(binary_form=True), tls.version()
        except ssl.SSLCertVerificationError as exc:
            trust_error = str(exc.verify_message or exc.reason or "the certificate does not verify")
            der, version = self._unverified_certificate()
        except ssl.SSLError as exc:
            raise _StageFailed(
                f"the TLS handshake with {self.where} failed ({exc.reason or type(exc).__name__})",
                f"is port {self.port} a WinRM HTTPS listener with a certificate bound? An HTTP listener does not "
                "speak TLS (`winrm enumerate winrm/config/listener` on the host lists them)",
            ) from None
        except TimeoutError:
            raise _StageFailed(
                f"no TLS handshake with {self.where} within {handshake_timeout:g} s",
                f"is port {self.port} a WinRM HTTPS listener? Something accepted the connection but does not answer",
            ) from None
        except OSError as exc:
            raise _StageFailed(
                f"the connection to {self.where} broke during the TLS handshake ({_os_error(exc)})",
                "check that nothing between the app and the host intercepts TLS, and the host's listener",
            ) from None
        finally:
            sock.close()
        if der is None:
            raise _StageFailed(
                f"the certificate of {self.where} is not trusted ({trust_error}) and could not be read",
                f"check the listener's certificate; trust comes from {store}",
            )
        return self._judge(self._certificate(der, version, store, trust_error), store)

    def _certificate(self, der: bytes, version: str | None, store: str, trust_error: str | None) -> ProbeCertificate:
        cert = x509.load_der_x509_certificate(der)
        try:
            sans = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
            dns_names = [str(name) for name in sans.get_values_for_type(x509.DNSName)]
            ip_names = [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)]
        except x509.ExtensionNotFound:
            dns_names, ip_names = [], []
        until = cert.not_valid_after_utc - datetime.now(UTC)
        self.certificate = ProbeCertificate(
            subject=cert.subject.rfc4514_string() or "(empty)",
            issuer=cert.issuer.rfc4514_string() or "(empty)",
            not_before=cert.not_valid_before_utc,
            not_after=cert.not_valid_after_utc,
            expires_in_days=until // timedelta(days=1),
            names=dns_names + ip_names,
            sha256_fingerprint=cert.fingerprint(hashes.SHA256()).hex(":").upper(),
            trusted=trust_error is None,
            trust_store=store,
            trust_error=trust_error,
            checked_name=self.target,
            name_matches=name_matches(self.target, dns_names, ip_names),
            tls_version=version,
        )
        return self.certificate

    def _judge(self, cert: ProbeCertificate, store: str) -> str:
        until = cert.not_after.date().isoformat()
        described = f"certificate {cert.subject}, issued by {cert.issuer}, valid until {until}"
        names = ", ".join(cert.names) or "no subject alternative names"
        problem: str | None = None
        if not cert.trusted:
            problem = f"is not trusted: {cert.trust_error}"
            if cert.expires_in_days < 0:
                hint = f"renew the WinRM listener's certificate (it expired on {until})"
            elif cert.not_before > datetime.now(UTC):
                hint = "check the clocks of the host and the app: the certificate is not valid yet"
            else:
                hint = (
                    "set AETHERV_WINRM_CA_BUNDLE to a PEM file of the CA that signs the hosts' WinRM certificates; "
                    f"trust now comes from {store}"
                )
        elif not cert.name_matches:
            problem = f"is not valid for {cert.checked_name}: it names {names}"
            hint = (
                "issue the listener a certificate that carries this name among its subject alternative names, or "
                "connect by a name it carries (AETHERV_HOSTS, AETHERV_HOST_ADDRESSES)"
            )
        version = cert.tls_version or "TLS"
        if problem is not None:
            if self.settings.verify_tls:
                raise _StageFailed(f"the {described}, {problem}", hint)
            return f"{version}; {described}. Not verified (AETHERV_WINRM_VERIFY_TLS=false); it {problem}"
        text = f"{version}; {described} ({cert.expires_in_days} days left); trusted by {store}"
        text += f"; valid for {cert.checked_name}"
        if not self.settings.verify_tls:
            text += " (AETHERV_WINRM_VERIFY_TLS=false: the transport does not check it)"
        if cert.expires_in_days < EXPIRY_WARNING_DAYS:
            text += f". It expires in {cert.expires_in_days} days: renew it soon"
        return text

    # -- 4. authentication -----------------------------------------------------------------------------------------

    @property
    def _account(self) -> str:
        if self.options.transport == "certificate":
            return "the client certificate (AETHERV_WINRM_CERT_PEM)"
        return self.options.username or "(no AETHERV_WINRM_USERNAME)"

    def authentication(self) -> str:
        self.transport = WinRMTransport(self.options)
        try:
            self.transport.connect()
        except AuthenticationFailed as exc:
            reason = exc.message.removeprefix("open shell: ")
            raise _StageFailed(
                f"{self._account} was not accepted ({self.options.transport.upper()}): {reason}",
                "check AETHERV_WINRM_USERNAME and AETHERV_WINRM_PASSWORD, and that the account may use WinRM on the "
                "host (a member of its Administrators or Remote Management Users group)",
            ) from None
        except HyperVError as exc:
            raise _StageFailed(exc.message, _hint_for(exc, self.port)) from None
        return (
            f"authenticated as {self._account} with {self.options.transport.upper()}: "
            "the host opened a WinRM shell for the account"
        )

    # -- 5. PowerShell ---------------------------------------------------------------------------------------------

    def powershell(self) -> str:
        assert self.transport is not None
        token = secrets.token_hex(8)
        runner = PowerShellRunner(self.transport, timeout=max(1.0, self.deadline - time.monotonic()))
        try:
            answer = HyperVClient(runner, host=self.host).ping({"probe": token})
        except HyperVError as exc:
            raise _StageFailed(
                f"the test script failed: {exc.category}: {exc.message}", _hint_for(exc, self.port)
            ) from None
        if answer.echo != {"probe": token}:
            raise _StageFailed(
                "the test script ran, but the parameters it was sent did not come back unchanged",
                "something on the host alters the data the runner sends; check the host's PowerShell profile and "
                "any proxy in between",
            )
        self.answer = answer
        return (
            f"ran a test script through the PowerShell runner: the host answered as {answer.computer_name}, "
            f"PowerShell {answer.ps_version}, and sent its parameters back unchanged"
        )

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
        if self.transport is not None:
            with contextlib.suppress(Exception):
                self.transport.close()


def _hint_for(exc: HyperVError, port: int) -> str:
    if isinstance(exc, OperationTimeout):
        return "the host accepted the connection but answered too slowly; check its load and the WinRM service"
    if isinstance(exc, HostUnreachable):
        return "the connection failed after the earlier stages passed; probe again, and check the network path"
    if isinstance(exc, ProtocolError):
        return (
            f"is port {port} the WinRM listener (`winrm enumerate winrm/config/listener` on the host), and is the "
            "WinRM service running?"
        )
    return "check that Windows PowerShell 5.1 runs for the account on the host"


def _skipped(name: StageName, detail: str) -> ProbeStage:
    return ProbeStage(name=name, title=STAGE_TITLES[name], status="skipped", ok=False, duration_ms=None, detail=detail)


def _ms(seconds: float) -> int:
    return max(0, round(seconds * 1000))


def probe_host(
    endpoint: HostEndpoint,
    *,
    settings: WinRMSettings,
    address: str | None = None,
    time_limit: float = PROBE_TIME_LIMIT,
) -> ProbeReport:
    """Probe ``endpoint`` stage by stage (see the module docstring); never raises for what the host does.

    ``address`` is the host's ``AETHERV_HOST_ADDRESSES`` override; ``time_limit`` bounds the whole probe.
    """
    probed_at = datetime.now(UTC)
    start = time.monotonic()
    deadline = start + time_limit
    probe = _Probe(endpoint, settings, address, deadline)
    stages: list[ProbeStage] = []
    failed: StageName | None = None
    summary = ""
    abandoned = False
    worker = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"probe-{endpoint.name}")
    try:
        for name, run in probe.stages():
            title = STAGE_TITLES[name]
            if failed is not None:
                stages.append(_skipped(name, f"not run: {STAGE_TITLES[failed]} failed"))
                continue
            began = time.monotonic()
            future = worker.submit(run)
            concurrent.futures.wait([future], timeout=max(0.0, deadline - began))
            took = _ms(time.monotonic() - began)
            if not future.done():
                abandoned = True
                detail = f"no result within the probe's limit of {time_limit:g} s"
                hint = "the host or the network is too slow to answer; check the host's load and the network path"
                failed, summary = name, f"{title}: {detail} — {hint}"
                stages.append(
                    ProbeStage(
                        name=name, title=title, status="failed", ok=False, duration_ms=took, detail=f"{detail} — {hint}"
                    )
                )
                continue
            try:
                text = future.result()
            except _StageNotUsed as exc:
                stages.append(
                    ProbeStage(name=name, title=title, status="skipped", ok=False, duration_ms=None, detail=str(exc))
                )
                continue
            except _StageFailed as exc:
                failed, summary = name, f"{title}: {exc.detail} — {exc.hint}"
                text = f"{exc.detail} — {exc.hint}"
            except Exception as exc:  # a defect, not the host's doing: report it without its message, log it
                log.warning("probe of %s: stage %s raised %s", endpoint.name, name, type(exc).__name__, exc_info=exc)
                detail = f"the probe itself failed ({type(exc).__name__})"
                failed, summary = name, f"{title}: {detail} — see the app's log"
                text = f"{detail} — see the app's log"
            stages.append(
                ProbeStage(
                    name=name,
                    title=title,
                    status="failed" if failed == name else "ok",
                    ok=failed != name,
                    duration_ms=took,
                    detail=text,
                )
            )
    finally:
        closing = worker.submit(probe.close)
        worker.shutdown(wait=False)  # an abandoned stage ends within its own timeouts; the close runs after it
        if not abandoned:
            concurrent.futures.wait([closing], timeout=max(0.0, min(_CLOSE_WAIT, deadline - time.monotonic())))
    duration = _ms(time.monotonic() - start)
    answer = probe.answer
    if failed is None:
        summary = _success(endpoint.name, duration, answer, probe.certificate, settings)
    log.info("probe of %s: %s", endpoint.name, summary)
    return ProbeReport(
        host=endpoint.name,
        endpoint=connection_options(settings, endpoint).endpoint,
        address=address,
        auth_transport=settings.transport,
        ok=failed is None,
        failed_stage=failed,
        summary=summary,
        duration_ms=duration,
        time_limit_seconds=time_limit,
        probed_at=probed_at,
        stages=stages,
        certificate=probe.certificate,
        computer_name=answer.computer_name if answer else None,
        powershell_version=answer.ps_version if answer else None,
    )


def _success(
    host: str, duration: int, answer: PingResult | None, cert: ProbeCertificate | None, settings: WinRMSettings
) -> str:
    who = f" as {answer.computer_name} (PowerShell {answer.ps_version})" if answer else ""
    text = f"{host} passed every stage in {duration} ms and answered{who}."
    if cert is not None:
        if not settings.verify_tls:
            text += " TLS certificates are not verified (AETHERV_WINRM_VERIFY_TLS=false)."
        elif cert.expires_in_days < EXPIRY_WARNING_DAYS:
            text += f" Its certificate expires in {cert.expires_in_days} days: renew it soon."
    else:
        text += " The connection is http: WinRM encrypts each message."
    return text
