"""Real WinRM authentication for the simulated hosts: NTLM (pyspnego acceptor), Basic, and NTLM sealing.

- **NTLM** is connection-bound, as with HTTP.sys: the client's first request gets ``401`` with
  ``WWW-Authenticate: Negotiate``; ``Negotiate <NTLM NEGOTIATE>`` gets the CHALLENGE; the request carrying the
  AUTHENTICATE message is processed, and later requests on the same TCP connection need no header. Over HTTPS the
  acceptor checks the client's channel bindings (``tls-server-end-point``) like ``CbtHardeningLevel=Strict``.
- **Basic** is accepted over HTTPS only, per request.
- **Message encryption** (HTTP): :class:`ConnectionAuth` seals and unseals ``multipart/encrypted`` bodies with
  ``application/HTTP-SPNEGO-session-encrypted`` exactly as pywinrm's ``winrm/encryption.py`` builds and parses them.

pyspnego's NTLM acceptor reads accounts from the file named by ``NTLM_USER_FILE``. :class:`NTLMAccountStore`
keeps one such file per process (every live host's account, NT-hashed) and points the variable at it; each host
then checks that the authenticated principal is *its* account. Two live hosts may share an account name only
with the same password.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import os
import re
import struct
import tempfile
import threading
from dataclasses import dataclass

import spnego
import spnego.exceptions
from spnego._ntlm_raw.crypto import ntowfv1  # pinned pyspnego: NT hash for the acceptor's credential file
from spnego.channel_bindings import GssChannelBindings

__all__ = [
    "ENCRYPTED_PROTOCOL",
    "Account",
    "AuthOutcome",
    "ConnectionAuth",
    "NTLMAccountStore",
    "decrypt_body",
    "encrypt_body",
]

ENCRYPTED_PROTOCOL = "application/HTTP-SPNEGO-session-encrypted"
_BOUNDARY = b"--Encrypted Boundary"
_NTLM_SIGNATURE = b"NTLMSSP\x00"
_LENGTH = re.compile(rb"Length=(\d+)")


@dataclass(frozen=True)
class Account:
    r"""A local account of a simulated host: ``DOMAIN\\user`` or ``user``, and its password."""

    username: str
    password: str

    @property
    def domain(self) -> str:
        """The NetBIOS domain part (empty for a local user)."""
        return self.username.split("\\", 1)[0] if "\\" in self.username else ""

    @property
    def user(self) -> str:
        """The user part."""
        return self.username.split("\\", 1)[1] if "\\" in self.username else self.username

    def matches_principal(self, principal: str) -> bool:
        r"""Whether an authenticated ``DOMAIN\\user`` / ``user`` principal is this account (case-insensitive)."""
        domain, _, user = principal.rpartition("\\")
        return user.lower() == self.user.lower() and domain.lower() == self.domain.lower()

    def matches_password(self, username: str, password: str) -> bool:
        """Constant-time check of Basic credentials."""
        same_user = hmac.compare_digest(username.lower().encode(), self.username.lower().encode())
        same_password = hmac.compare_digest(password.encode(), self.password.encode())
        return same_user and same_password


class NTLMAccountStore:
    """The process-wide NTLM credential file for pyspnego's acceptor (``NTLM_USER_FILE``), reference-counted."""

    _instance: NTLMAccountStore | None = None
    _instance_lock = threading.Lock()

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._accounts: dict[tuple[str, str], tuple[str, int]] = {}
        self._directory = tempfile.mkdtemp(prefix="hvsim-ntlm-")
        self.path = os.path.join(self._directory, "ntlm_users")
        self._write()

    @classmethod
    def shared(cls) -> NTLMAccountStore:
        """The process's store (created on first use)."""
        with cls._instance_lock:
            if cls._instance is None:
                cls._instance = cls()
            return cls._instance

    def add(self, account: Account) -> None:
        """Make ``account`` known to the NTLM acceptor (refused if a live host has the name with another password)."""
        key = (account.domain.lower(), account.user.lower())
        with self._lock:
            existing = self._accounts.get(key)
            if existing and existing[0] != account.password:
                raise ValueError(
                    f"NTLM account {account.username!r} is already used by another simulated host with a different "
                    "password; simulated hosts in one process must agree on the password of a shared account name"
                )
            self._accounts[key] = (account.password, (existing[1] if existing else 0) + 1)
            self._write()

    def remove(self, account: Account) -> None:
        """Forget one registration of ``account``."""
        key = (account.domain.lower(), account.user.lower())
        with self._lock:
            existing = self._accounts.get(key)
            if existing is None:
                return
            if existing[1] <= 1:
                del self._accounts[key]
            else:
                self._accounts[key] = (existing[0], existing[1] - 1)
            self._write()

    def _write(self) -> None:
        # smbpasswd format (USER:UID:LM:NT:FLAGS:LCT) so passwords may contain any character.
        lines = []
        for (domain, user), (password, _count) in sorted(self._accounts.items()):
            name = f"{domain}\\{user}" if domain else user
            lines.append(f"{name}:1000:{'0' * 32}:{ntowfv1(password).hex().upper()}:[U]:LCT-00000000\n")
        temporary = self.path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as handle:
            handle.write("".join(lines) or "\n")
        os.replace(temporary, self.path)
        os.environ["NTLM_USER_FILE"] = self.path


@dataclass(frozen=True)
class AuthOutcome:
    """The result of checking one request's credentials: proceed, or answer 401 with these challenges."""

    ok: bool
    challenges: tuple[str, ...] = ()
    completed_handshake: bool = False
    failed: bool = False


class ConnectionAuth:
    """Authentication state of one TCP connection to a simulated host."""

    def __init__(self, account: Account, *, allow_basic: bool, channel_binding_hash: bytes | None) -> None:
        self.account = account
        self.allow_basic = allow_basic
        self._bindings = (
            GssChannelBindings(application_data=b"tls-server-end-point:" + channel_binding_hash)
            if channel_binding_hash
            else None
        )
        self._context: spnego.ContextProxy | None = None
        self._scheme = "Negotiate"
        self.principal: str | None = None

    @property
    def ntlm_authenticated(self) -> bool:
        """Whether NTLM completed on this connection (it then also provides message sealing)."""
        return self.principal is not None and self._context is not None and self._context.complete

    def _challenge_headers(self) -> tuple[str, ...]:
        return ("Negotiate", 'Basic realm="WSMAN"') if self.allow_basic else ("Negotiate",)

    def check(self, authorization: str | None, *, reject: bool = False) -> AuthOutcome:
        """Check a request's ``Authorization`` header; ``reject`` refuses even valid credentials (a fault)."""
        if not authorization:
            if self.ntlm_authenticated and not reject:
                return AuthOutcome(ok=True)
            return AuthOutcome(ok=False, challenges=self._challenge_headers())
        scheme, _, token_text = authorization.strip().partition(" ")
        scheme_lower = scheme.lower()
        if scheme_lower in ("negotiate", "ntlm"):
            return self._step_ntlm(scheme, token_text.strip(), reject)
        if scheme_lower == "basic" and self.allow_basic:
            return self._check_basic(token_text.strip(), reject)
        return AuthOutcome(ok=False, challenges=self._challenge_headers(), failed=True)

    def _check_basic(self, token_text: str, reject: bool) -> AuthOutcome:
        try:
            raw = base64.b64decode(token_text, validate=True)
        except binascii.Error:
            return AuthOutcome(ok=False, challenges=self._challenge_headers(), failed=True)
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            text = raw.decode("latin-1")  # requests encodes Basic credentials as Latin-1, Windows as its ANSI page
        username, _, password = text.partition(":")
        if reject or not self.account.matches_password(username, password):
            return AuthOutcome(ok=False, challenges=self._challenge_headers(), failed=True)
        return AuthOutcome(ok=True)

    def _step_ntlm(self, scheme: str, token_text: str, reject: bool) -> AuthOutcome:
        try:
            token = base64.b64decode(token_text, validate=True)
        except binascii.Error:
            token = b""
        if not token.startswith(_NTLM_SIGNATURE) or len(token) < 12:
            # Only raw NTLM inside Negotiate is simulated (what pywinrm sends); no Kerberos or SPNEGO wrapping.
            self._reset()
            return AuthOutcome(ok=False, challenges=self._challenge_headers(), failed=True)
        message_type = struct.unpack("<I", token[8:12])[0]
        try:
            if message_type == 1:
                self._reset()
                self._scheme = scheme
                self._context = spnego.server(protocol="ntlm", channel_bindings=self._bindings)
                challenge = self._context.step(token) or b""
                return AuthOutcome(ok=False, challenges=(f"{scheme} {base64.b64encode(challenge).decode()}",))
            if message_type == 3 and self._context is not None and not self._context.complete:
                self._context.step(token)
                principal = str(self._context.client_principal or "")
                if reject or not _is_complete(self._context) or not self.account.matches_principal(principal):
                    self._reset()
                    return AuthOutcome(ok=False, challenges=self._challenge_headers(), failed=True)
                self.principal = principal
                return AuthOutcome(ok=True, completed_handshake=True)
        except spnego.exceptions.SpnegoError:
            self._reset()
            return AuthOutcome(ok=False, challenges=self._challenge_headers(), failed=True)
        self._reset()
        return AuthOutcome(ok=False, challenges=self._challenge_headers(), failed=True)

    def _reset(self) -> None:
        self._context = None
        self.principal = None

    # -- message encryption --------------------------------------------------------------------------------------

    def unseal(self, signature: bytes, sealed: bytes) -> bytes:
        """Decrypt and verify one sealed message from the client."""
        if self._context is None:
            raise ValueError("no NTLM security context on this connection")
        return bytes(self._context.unwrap(signature + sealed).data)

    def seal(self, message: bytes) -> tuple[bytes, bytes]:
        """Encrypt and sign a message for the client: ``(signature, sealed)``."""
        if self._context is None:
            raise ValueError("no NTLM security context on this connection")
        data = bytes(self._context.wrap(message, encrypt=True).data)
        return data[:16], data[16:]


def _is_complete(context: spnego.ContextProxy) -> bool:
    return bool(context.complete)


def decrypt_body(auth: ConnectionAuth, body: bytes) -> bytes:
    """The SOAP bytes of a ``multipart/encrypted`` body (raises ``ValueError`` when malformed or tampered)."""
    parts = [part for part in body.split(_BOUNDARY + b"\r\n") if part]
    message = b""
    for index in range(0, len(parts) - 1, 2):
        header, payload = parts[index], parts[index + 1]
        length_match = _LENGTH.search(header)
        if ENCRYPTED_PROTOCOL.encode() not in header or not length_match:
            raise ValueError("unexpected encrypted part header")
        if payload.endswith(_BOUNDARY + b"--\r\n"):
            payload = payload[: -len(_BOUNDARY + b"--\r\n")]
        prefix = b"\tContent-Type: application/octet-stream\r\n"
        if not payload.startswith(prefix):
            raise ValueError("unexpected encrypted payload header")
        encrypted = payload[len(prefix) :]
        signature_length = struct.unpack("<i", encrypted[:4])[0]
        signature = encrypted[4 : 4 + signature_length]
        clear = auth.unseal(signature, encrypted[4 + signature_length :])
        if len(clear) != int(length_match.group(1)):
            raise ValueError("encrypted length does not match")
        message += clear
    if not parts:
        raise ValueError("empty encrypted body")
    return message


def encrypt_body(auth: ConnectionAuth, message: bytes) -> tuple[bytes, str]:
    """``(body, content_type)`` of a sealed reply, the mirror image of pywinrm's request encryption."""
    signature, sealed = auth.seal(message)
    body = (
        _BOUNDARY + b"\r\n"
        b"\tContent-Type: " + ENCRYPTED_PROTOCOL.encode() + b"\r\n"
        b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
        + str(len(message)).encode()
        + b"\r\n"
        + _BOUNDARY
        + b"\r\n"
        b"\tContent-Type: application/octet-stream\r\n"
        + struct.pack("<i", len(signature))
        + signature
        + sealed
        + _BOUNDARY
        + b"--\r\n"
    )
    content_type = f'multipart/encrypted;protocol="{ENCRYPTED_PROTOCOL}";boundary="Encrypted Boundary"'
    return body, content_type
